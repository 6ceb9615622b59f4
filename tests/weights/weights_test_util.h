/* tests/weights/weights_test_util.h - helpers of the 'weights' suite: scratch folders, files
 * written from bytes, zips rebuilt from the real torch fixture, and the golden expectations. */
#ifndef VITCL_TESTS_WEIGHTS_UTIL_H
#define VITCL_TESTS_WEIGHTS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "weights.h"

/* Path of a fixture under tests/weights/data/ (static buffer, valid until the next call). */
const char *wt_data(const char *rel);

/* A fresh scratch folder (removed with its files by wt_tmpdir_remove). */
char *wt_tmpdir(void);
void wt_tmpdir_remove(char *dir);

/* The scratch folder of the hostile suites: wt_setup creates it, wt_teardown removes it. */
extern char *wt_dir;
void wt_setup(void);
void wt_teardown(void);

/* Asserts that an open returned `want`, left *out (w) NULL and set a message that names file
 * and contains a and b (b may be NULL). */
void wt_expect_error(vitcl_status got, const vitcl_weights *w, vitcl_status want,
                     const char *file, const char *a, const char *b);

/* Writes len bytes to dir/name and returns the malloc'd path. */
char *wt_write(const char *dir, const char *name, const void *data, size_t len);

/* Writes a safetensors file: 8-byte little-endian length, the header text, then data_len bytes
 * of data (zeros when data is NULL). Returns the malloc'd path. */
char *wt_write_safetensors(const char *dir, const char *name, const char *header,
                           const void *data, size_t data_len);

/* Reads a whole file (malloc'd; *len set). Fails the test when it cannot. */
uint8_t *wt_read(const char *path, size_t *len);

/* How wt_rezip changes an entry: called for every entry of the source archive with its name
 * (with its top-level folder) and contents; it may replace *data and *len (with memory it
 * mallocs, which wt_rezip frees) or return 0 to drop the entry. */
typedef int (*wt_entry_fn)(const char *name, uint8_t **data, size_t *len, void *ctx);

/* How wt_rezip_with writes the archive: stored with every entry's data on a 64-byte boundary of
 * the file, as torch.save does (all zero), or every entry deflated by libzip, or stored with
 * storage records ("/data/" entries) `misalign` bytes past the boundary. */
typedef struct wt_zip_style {
    int deflate;
    unsigned misalign;
    int encrypt; /* stored, with the storage records flagged encrypted (bytes left plain) */
} wt_zip_style;

/* Copies the zip at src to dir/pytorch_model.bin entry by entry through fn (NULL copies as is),
 * written as style says (NULL: like torch.save), and returns the malloc'd path. */
char *wt_rezip_with(const char *src, const char *dir, wt_entry_fn fn, void *ctx,
                    const wt_zip_style *style);
/* wt_rezip_with with style NULL. */
char *wt_rezip(const char *src, const char *dir, wt_entry_fn fn, void *ctx);

/* Builds dir/pytorch_model.bin (written like torch.save) holding archive/data.pkl = pickle and, when storage_len > 0,
 * "archive/data/0" = storage_len bytes. Returns the malloc'd path. */
char *wt_torch_zip(const char *dir, const uint8_t *pickle, size_t pickle_len,
                   size_t storage_len);

/* One tensor of expected.json. */
typedef struct wt_expected {
    char name[128];
    vitcl_dtype dtype;
    size_t ndim;
    uint64_t shape[VITCL_WEIGHTS_MAX_DIMS];
    uint64_t numel;
    uint32_t *bits; /* numel fp32 bit patterns, as torch widened them */
} wt_expected;

/* Loads the list `section` ("torch" or "safetensors") of expected.json; *n set. Free with
 * wt_expected_free. */
wt_expected *wt_expected_load(const char *section, size_t *n);
void wt_expected_free(wt_expected *e, size_t n);

/* Checks that w holds exactly the expected tensors (names, dtypes, shapes, fp32 values bit for
 * bit) and that every entry's file contains file_part. */
void wt_check_against(const vitcl_weights *w, const char *section, const char *file_part);

#endif
