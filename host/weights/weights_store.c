/* host/weights/weights_store.c - what a weights object owns: memory, file mappings, entries. */
#include "file_open.h"
#include "weights_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

size_t weights_dtype_size(vitcl_dtype dtype)
{
    return dtype == VITCL_DTYPE_F32 ? 4 : 2;
}

const char *weights_dtype_name(vitcl_dtype dtype)
{
    switch (dtype) {
    case VITCL_DTYPE_F32: return "F32";
    case VITCL_DTYPE_F16: return "F16";
    case VITCL_DTYPE_BF16: return "BF16";
    case VITCL_DTYPE_COUNT_: break;
    }
    return "?";
}

/* Grows *arr (of *cap elements of elem bytes) so that it holds at least need elements. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return 0;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem)
        return 0;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return 0;
    *arr = p;
    *cap = ncap;
    return 1;
}

vitcl_status weights_keep(vitcl_weights *w, void *block)
{
    if (!grow((void **)&w->blocks, &w->cap_blocks, w->nblocks + 1, sizeof *w->blocks)) {
        free(block);
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "weights: out of memory");
    }
    w->blocks[w->nblocks++] = block;
    return VITCL_OK;
}

char *weights_strndup(vitcl_weights *w, const char *s, size_t len)
{
    if (len == SIZE_MAX) {
        vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "weights: string too long");
        return NULL;
    }
    char *p = malloc(len + 1);
    if (!p) {
        vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "weights: out of memory copying a %zu-byte name", len);
        return NULL;
    }
    memcpy(p, s, len);
    p[len] = '\0';
    return weights_keep(w, p) == VITCL_OK ? p : NULL;
}

char *weights_path_join(vitcl_weights *w, const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    if (a > SIZE_MAX - b - 2) {
        vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "weights: path too long");
        return NULL;
    }
    char *p = malloc(a + b + 2);
    if (!p) {
        vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "weights: out of memory building a path");
        return NULL;
    }
    memcpy(p, dir, a);
    size_t n = a;
    if (n == 0 || p[n - 1] != '/')
        p[n++] = '/';
    memcpy(p + n, name, b + 1);
    return weights_keep(w, p) == VITCL_OK ? p : NULL;
}

vitcl_status weights_map_file(vitcl_weights *w, const char *path, const uint8_t **data,
                              size_t *size)
{
    *data = NULL;
    *size = 0;
    int fd;
    uint64_t fsize;
    vitcl_status os = vitcl_file_open_regular(path, &fd, &fsize);
    if (os != VITCL_OK)
        return os;
    if (fsize > SIZE_MAX) {
        close(fd);
        return vitcl_fail(VITCL_ERR_IO, "%s: file size %llu does not fit in memory", path,
                          (unsigned long long)fsize);
    }
    size_t len = (size_t)fsize;
    if (len == 0) {
        close(fd);
        return VITCL_OK;
    }
    if (!grow((void **)&w->maps, &w->cap_maps, w->nmaps + 1, sizeof *w->maps)) {
        close(fd);
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    void *addr = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (addr == MAP_FAILED)
        return vitcl_fail(VITCL_ERR_IO, "%s: cannot map %zu bytes: %s", path, len, strerror(e));
    w->maps[w->nmaps].addr = addr;
    w->maps[w->nmaps].length = len;
    w->nmaps++;
    *data = addr;
    *size = len;
    return VITCL_OK;
}

vitcl_status weights_add_entry(vitcl_weights *w, const vitcl_tensor_entry *e)
{
    if (w->count >= w->limits.max_tensors)
        return vitcl_fail(VITCL_ERR_LIMIT,
                          "%s: tensor '%s' is past the limit of %llu tensors", e->file, e->name,
                          (unsigned long long)w->limits.max_tensors);
    uint64_t bytes = e->numel * weights_dtype_size(e->dtype); /* checked by the reader */
    if (bytes > w->limits.max_total_bytes - w->total_bytes)
        return vitcl_fail(VITCL_ERR_LIMIT,
                          "%s: tensor '%s' brings the weights past the limit of %llu bytes",
                          e->file, e->name, (unsigned long long)w->limits.max_total_bytes);
    if (!grow((void **)&w->entries, &w->cap, w->count + 1, sizeof *w->entries))
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory indexing tensor '%s'",
                          e->file, e->name);
    w->entries[w->count++] = *e;
    w->total_bytes += bytes;
    return VITCL_OK;
}

vitcl_status weights_shape_bytes(const char *file, const char *tensor, const uint64_t *shape,
                                 size_t ndim, size_t elem_size, uint64_t *numel, uint64_t *bytes)
{
    uint64_t n = 1;
    for (size_t i = 0; i < ndim; i++) {
        if (shape[i] != 0 && n > UINT64_MAX / shape[i])
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: tensor '%s': the element count of its shape overflows", file,
                              tensor);
        n *= shape[i];
    }
    if (n > UINT64_MAX / elem_size || n * elem_size > SIZE_MAX)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: tensor '%s': its byte size overflows", file,
                          tensor);
    *numel = n;
    *bytes = n * elem_size;
    return VITCL_OK;
}

void weights_release(vitcl_weights *w)
{
    for (size_t i = 0; i < w->nmaps; i++)
        munmap(w->maps[i].addr, w->maps[i].length);
    for (size_t i = 0; i < w->nblocks; i++)
        free(w->blocks[i]);
    free(w->maps);
    free(w->blocks);
    free(w->entries);
    free(w->by_name);
}

int weights_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return 0;
        }
        if (len - i - 1 < n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}
