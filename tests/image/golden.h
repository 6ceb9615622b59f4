/* tests/image/golden.h - reads tests/fixtures/images/: the manifest and the per-image .npz
 * goldens written by tools/make_image_fixtures.py (Pillow + transformers). */
#ifndef VITCL_TEST_IMAGE_GOLDEN_H
#define VITCL_TEST_IMAGE_GOLDEN_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Absolute path of a file under tests/fixtures/images/ (static buffer, one per call slot). */
const char *fixture_path(const char *rel);

/* The parsed manifest.json (cached for the process; do not free). */
const cJSON *fixture_manifest(void);

/* A manifest entry's string field ("" when absent) and number field (0 when absent). */
const char *str_field(const cJSON *o, const char *key);
size_t num_field(const cJSON *o, const char *key);

/* An array from an .npz: a C-order array of uint8 ('|u1') or float32 ('<f4'). */
typedef struct golden_array {
    size_t ndim, shape[4], numel;
    int is_u8;
    void *data; /* malloc'ed; golden_array_free */
} golden_array;

/* Reads member `key` (without ".npy") of the .npz at tests/fixtures/images/<rel>. Returns 0 on
 * success, -1 (with a message in err) when missing or malformed. */
int golden_read(const char *rel, const char *key, golden_array *out, char *err, size_t errlen);
void golden_array_free(golden_array *a);

#endif
