/* host/weights/weights.c - picks the weight file of a model folder, dispatches to the format
 * readers, looks tensors up by name and widens them to fp32. */
#include "file_open.h"
#include "weights_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

static vitcl_status weights_new(const vitcl_weights_limits *limits, vitcl_weights **out)
{
    vitcl_weights *w = calloc(1, sizeof *w);
    if (!w)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "weights: out of memory");
    if (limits)
        w->limits = *limits;
    if (!w->limits.max_header_bytes)
        w->limits.max_header_bytes = VITCL_WEIGHTS_DEFAULT_MAX_HEADER;
    if (!w->limits.max_tensors)
        w->limits.max_tensors = VITCL_WEIGHTS_DEFAULT_MAX_TENSORS;
    if (!w->limits.max_total_bytes)
        w->limits.max_total_bytes = VITCL_WEIGHTS_DEFAULT_MAX_TOTAL;
    *out = w;
    return VITCL_OK;
}

static int cmp_entries(const void *a, const void *b)
{
    return strcmp((*(const vitcl_tensor_entry *const *)a)->name,
                  (*(const vitcl_tensor_entry *const *)b)->name);
}

/* Builds the by-name index and refuses a name that appears twice (e.g. in two shards). */
static vitcl_status weights_finish(vitcl_weights *w)
{
    w->by_name = malloc((w->count ? w->count : 1) * sizeof *w->by_name);
    if (!w->by_name)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "weights: out of memory indexing %zu tensors",
                          w->count);
    for (size_t i = 0; i < w->count; i++)
        w->by_name[i] = &w->entries[i];
    qsort(w->by_name, w->count, sizeof *w->by_name, cmp_entries);
    for (size_t i = 1; i < w->count; i++) {
        const vitcl_tensor_entry *a = w->by_name[i - 1];
        const vitcl_tensor_entry *b = w->by_name[i];
        if (!strcmp(a->name, b->name))
            return vitcl_fail(VITCL_ERR_FORMAT, "tensor '%s' appears twice (in %s and in %s)",
                              a->name, a->file, b->file);
    }
    return VITCL_OK;
}

/* Ends an open: builds the index on success, hands w to the caller or frees it. */
static vitcl_status open_done(vitcl_weights *w, vitcl_status st, vitcl_weights **out)
{
    if (st == VITCL_OK)
        st = weights_finish(w);
    if (st != VITCL_OK) {
        vitcl_weights_close(w);
        return st;
    }
    *out = w;
    return VITCL_OK;
}

/* True when the file starts with the zip local-header or empty-archive signature. */
static vitcl_status sniff_zip(const char *path, int *is_zip, int *is_legacy)
{
    *is_zip = *is_legacy = 0;
    int fd;
    vitcl_status st = vitcl_file_open_regular(path, &fd, NULL);
    if (st != VITCL_OK)
        return st;
    unsigned char m[4] = {0};
    ssize_t n;
    do
        n = read(fd, m, sizeof m);
    while (n < 0 && errno == EINTR);
    close(fd);
    *is_zip = n == 4 && m[0] == 'P' && m[1] == 'K' &&
              ((m[2] == 3 && m[3] == 4) || (m[2] == 5 && m[3] == 6));
    /* torch.save before 1.6: a bare pickle starting with PROTO 2 and the LONG1 magic number. */
    *is_legacy = n == 4 && m[0] == 0x80 && m[1] == 0x02 && m[2] == 0x8a;
    return VITCL_OK;
}

/* Reads a file by its content: a zip is a torch.save archive, anything else must be safetensors
 * unless must_be_torch (pytorch_model.bin), where a non-zip gets the zip reader's error. */
static vitcl_status open_into(vitcl_weights *w, const char *path, int must_be_torch)
{
    int is_zip, is_legacy;
    vitcl_status st = sniff_zip(path, &is_zip, &is_legacy);
    if (st != VITCL_OK)
        return st;
    if (is_legacy)
        return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                          "%s: legacy torch.save format (before PyTorch 1.6); re-save it with a "
                          "current PyTorch or convert it to safetensors", path);
    if (is_zip || must_be_torch) {
        w->format = "pytorch_model.bin";
        return weights_read_torch_zip(w, path);
    }
    w->format = "safetensors";
    return weights_read_safetensors(w, path);
}

vitcl_status vitcl_weights_open_file(const char *path, const vitcl_weights_limits *limits,
                                     vitcl_weights **out)
{
    if (!path || !out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_weights_open_file: NULL argument");
    *out = NULL;
    vitcl_weights *w = NULL;
    vitcl_status st = weights_new(limits, &w);
    if (st != VITCL_OK)
        return st;
    return open_done(w, open_into(w, path, 0), out);
}

/* 1 when path exists, 0 when it does not; an error status for anything else. */
static vitcl_status exists(const char *path, int *yes)
{
    struct stat s;
    if (stat(path, &s) == 0) {
        *yes = 1;
        return VITCL_OK;
    }
    *yes = 0;
    if (errno == ENOENT || errno == ENOTDIR)
        return VITCL_OK;
    return vitcl_fail(VITCL_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
}

vitcl_status vitcl_weights_open(const char *model_dir, const vitcl_weights_limits *limits,
                                vitcl_weights **out)
{
    if (!model_dir || !out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_weights_open: NULL argument");
    *out = NULL;
    struct stat s;
    if (stat(model_dir, &s) != 0)
        return vitcl_fail(errno == ENOENT || errno == ENOTDIR ? VITCL_ERR_NOT_FOUND : VITCL_ERR_IO,
                          "%s: model folder cannot be opened: %s", model_dir, strerror(errno));
    if (!S_ISDIR(s.st_mode))
        return vitcl_fail(VITCL_ERR_NOT_FOUND, "%s: not a folder", model_dir);
    vitcl_weights *w = NULL;
    vitcl_status st = weights_new(limits, &w);
    if (st != VITCL_OK)
        return st;
    /* transformers' order of preference */
    static const char *const names[] = {"model.safetensors", "model.safetensors.index.json",
                                        "pytorch_model.bin", "pytorch_model.bin.index.json"};
    int found = 0;
    for (size_t i = 0; i < 4 && st == VITCL_OK && !found; i++) {
        const char *path = weights_path_join(w, model_dir, names[i]);
        if (!path) {
            st = VITCL_ERR_OUT_OF_MEMORY;
            break;
        }
        st = exists(path, &found);
        if (st != VITCL_OK || !found)
            continue;
        if (i == 0) {
            w->format = "safetensors";
            st = weights_read_safetensors(w, path);
        } else if (i == 1) {
            w->format = "safetensors (sharded)";
            st = weights_read_index(w, model_dir, path, weights_read_safetensors);
        } else if (i == 2) {
            st = open_into(w, path, 1);
        } else {
            w->format = "pytorch_model.bin (sharded)";
            st = weights_read_index(w, model_dir, path, weights_read_torch_zip);
        }
    }
    if (st == VITCL_OK && !found)
        st = vitcl_fail(VITCL_ERR_NOT_FOUND,
                        "%s: no weights found; looked for model.safetensors, "
                        "model.safetensors.index.json, pytorch_model.bin and "
                        "pytorch_model.bin.index.json", model_dir);
    return open_done(w, st, out);
}

void vitcl_weights_close(vitcl_weights *w)
{
    if (!w)
        return;
    weights_release(w);
    free(w);
}

const char *vitcl_weights_format(const vitcl_weights *w)
{
    return w->format;
}

size_t vitcl_weights_count(const vitcl_weights *w)
{
    return w->count;
}

const vitcl_tensor_entry *vitcl_weights_at(const vitcl_weights *w, size_t index)
{
    return index < w->count ? &w->entries[index] : NULL;
}

const vitcl_tensor_entry *vitcl_weights_find(const vitcl_weights *w, const char *name)
{
    size_t lo = 0, hi = w->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const vitcl_tensor_entry *e = w->by_name[mid];
        int c = strcmp(e->name, name);
        if (c == 0)
            return e;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* fp16 bits to fp32 bits, exact: normals rebias, subnormals normalise, inf and NaN keep their
 * payload. */
static uint32_t half_to_float_bits(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    if (exp == 0x1F)
        return sign | 0x7F800000u | (man << 13);
    if (exp != 0)
        return sign | ((exp + 112u) << 23) | (man << 13);
    if (man == 0)
        return sign;
    /* subnormal: value = man * 2^-24; shift the leading one into the implicit bit */
    uint32_t e = 113;
    while (!(man & 0x400u)) {
        man <<= 1;
        e--;
    }
    return sign | (e << 23) | ((man & 0x3FFu) << 13);
}

void vitcl_tensor_to_f32(const vitcl_tensor_entry *t, float *dst)
{
    const uint8_t *p = t->data;
    for (uint64_t i = 0; i < t->numel; i++) {
        uint32_t bits;
        switch (t->dtype) {
        case VITCL_DTYPE_F32:
            bits = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                   (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            break;
        case VITCL_DTYPE_F16:
            bits = half_to_float_bits((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
            break;
        case VITCL_DTYPE_BF16:
        default:
            bits = ((uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8) << 16;
            break;
        }
        memcpy(&dst[i], &bits, sizeof bits);
    }
}

void vitcl_weights_drop_pages(const vitcl_weights *w, const vitcl_tensor_entry *t)
{
    if (!w || !t || !t->data)
        return;
    uintptr_t a = (uintptr_t)t->data;
    uintptr_t b = a + (uintptr_t)t->numel * weights_dtype_size(t->dtype);
    for (size_t i = 0; i < w->nmaps; i++) {
        uintptr_t ma = (uintptr_t)w->maps[i].addr, mb = ma + w->maps[i].length;
        if (a < ma || b > mb)
            continue;
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        uintptr_t lo = (a + page - 1) / page * page, hi = b / page * page;
        if (hi > lo)
            madvise((void *)lo, hi - lo, MADV_DONTNEED);
        return;
    }
}
