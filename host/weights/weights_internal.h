/* host/weights/weights_internal.h - what the format readers share: the weights object they fill.
 *
 * Each reader (safetensors.c, safetensors_index.c, torch_zip.c) appends tensor entries to a
 * vitcl_weights through weights_add_entry and hands every resource it creates (names, paths,
 * mappings, storage copies) to the object, so vitcl_weights_close frees everything whether the
 * open succeeded or failed halfway. Internal to host/weights; not thread-safe (one open at a time
 * per object).
 */
#ifndef VITCL_HOST_WEIGHTS_INTERNAL_H
#define VITCL_HOST_WEIGHTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "weights.h"

/* Defaults of vitcl_weights_limits. */
#define VITCL_WEIGHTS_DEFAULT_MAX_HEADER 100000000ull
#define VITCL_WEIGHTS_DEFAULT_MAX_TENSORS 100000ull
#define VITCL_WEIGHTS_DEFAULT_MAX_TOTAL (64ull << 30)

typedef struct weights_mapping {
    void *addr;
    size_t length;
} weights_mapping;

struct vitcl_weights {
    const char *format;          /* static string */
    vitcl_weights_limits limits; /* with defaults filled in */
    vitcl_tensor_entry *entries;
    size_t count, cap;
    const vitcl_tensor_entry **by_name; /* entries sorted by name, built once reading ends */
    uint64_t total_bytes;        /* sum of tensor byte sizes */
    void **blocks;               /* malloc'd memory owned by the object */
    size_t nblocks, cap_blocks;
    weights_mapping *maps;       /* read-only file mappings owned by the object */
    size_t nmaps, cap_maps;
};

/* Takes ownership of block (freed at close); on failure frees it and returns
 * VITCL_ERR_OUT_OF_MEMORY. */
vitcl_status weights_keep(vitcl_weights *w, void *block);
/* An owned copy of the len bytes at s plus a NUL; NULL (message set) when out of memory. */
char *weights_strndup(vitcl_weights *w, const char *s, size_t len);
/* An owned path "dir/name"; NULL (message set) when out of memory. */
char *weights_path_join(vitcl_weights *w, const char *dir, const char *name);

/* Memory-maps path read-only (the mapping is owned by w). A zero-length file gives *data = NULL
 * and *size = 0 without mapping. Errors: VITCL_ERR_NOT_FOUND when the file does not exist,
 * VITCL_ERR_IO otherwise, naming the file. */
vitcl_status weights_map_file(vitcl_weights *w, const char *path, const uint8_t **data,
                              size_t *size);

/* Appends a copy of *e (whose name and file must already be owned by w). Enforces the tensor
 * count and total size limits (VITCL_ERR_LIMIT naming the file and tensor). */
vitcl_status weights_add_entry(vitcl_weights *w, const vitcl_tensor_entry *e);

/* Checks that the n shape entries multiply to a count that, times elem_size bytes, fits in
 * uint64_t and size_t; stores both. VITCL_ERR_FORMAT naming file and tensor otherwise. */
vitcl_status weights_shape_bytes(const char *file, const char *tensor, const uint64_t *shape,
                                 size_t ndim, size_t elem_size, uint64_t *numel, uint64_t *bytes);

/* Frees everything w owns except w itself (vitcl_weights_close). */
void weights_release(vitcl_weights *w);

/* Readers: append the tensors of one file to w. */
typedef vitcl_status (*weights_reader)(vitcl_weights *w, const char *path);
vitcl_status weights_read_safetensors(vitcl_weights *w, const char *path);
vitcl_status weights_read_torch_zip(vitcl_weights *w, const char *path);
/* Appends the tensors of a sharded checkpoint: index_path (model.safetensors.index.json or
 * pytorch_model.bin.index.json) maps every tensor to a shard in dir, each read by `read` and
 * checked to hold exactly the tensors mapped to it. */
vitcl_status weights_read_index(vitcl_weights *w, const char *dir, const char *index_path,
                                weights_reader read);

/* Validates a UTF-8 byte string (no overlong forms, surrogates or code points past U+10FFFF). */
int weights_utf8_valid(const uint8_t *s, size_t len);

#endif
