/* host/common/npy.c - read and write float32 NumPy .npy files. */
#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "file_open.h"

#define NPY_DEFAULT_MAX_BYTES ((size_t)16 << 30)
#define NPY_MAX_HEADER 65536

void vitcl_npy_free(vitcl_npy *npy)
{
    if (!npy)
        return;
    free(npy->data);
    npy->data = NULL;
    npy->numel = 0;
}

/* Finds "'key':" in the header dict and returns a pointer just past the colon. */
static const char *find_key(const char *hdr, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(hdr, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

static vitcl_status parse_header(const char *hdr, const char *name, vitcl_npy *out)
{
    const char *d = find_key(hdr, "descr");
    if (!d)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy header has no 'descr'", name);
    if (strncmp(d, "'<f4'", 5) != 0)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: .npy dtype is %.10s; vitcl reads little-endian float32 ('<f4')",
                          name, d);
    const char *f = find_key(hdr, "fortran_order");
    if (!f || strncmp(f, "False", 5) != 0)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy array is not in C order", name);
    const char *s = find_key(hdr, "shape");
    if (!s || *s != '(')
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy header has no shape tuple", name);
    s++;
    out->ndim = 0;
    size_t numel = 1;
    for (;;) {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == ')')
            break;
        if (*s < '0' || *s > '9')
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: malformed .npy shape", name);
        if (out->ndim == VITCL_NPY_MAX_DIMS)
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy array has more than %d dims", name,
                              VITCL_NPY_MAX_DIMS);
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || v > SIZE_MAX)
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy dimension out of range", name);
        if (v && numel > SIZE_MAX / v)
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy shape overflows", name);
        numel *= (size_t)v;
        out->shape[out->ndim++] = (size_t)v;
        s = end;
    }
    out->numel = numel;
    return VITCL_OK;
}

vitcl_status vitcl_npy_parse_f32(const void *bytes, size_t len, const char *name, size_t max_bytes,
                                 vitcl_npy *out)
{
    const unsigned char *b = bytes;
    memset(out, 0, sizeof *out);
    if (!max_bytes)
        max_bytes = NPY_DEFAULT_MAX_BYTES;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: not a .npy file (bad magic)", name);
    unsigned major = b[6];
    size_t hlen, pos;
    if (major == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        pos = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: truncated .npy header", name);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        pos = 12;
    } else {
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: unsupported .npy version %u", name, major);
    }
    if (hlen > NPY_MAX_HEADER || hlen > len - pos)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy header length %zu past the end of the file",
                          name, hlen);
    char hdr[NPY_MAX_HEADER + 1];
    memcpy(hdr, b + pos, hlen);
    hdr[hlen] = '\0';
    vitcl_status st = parse_header(hdr, name, out);
    if (st)
        return st;
    pos += hlen;
    if (out->numel > max_bytes / sizeof(float))
        return vitcl_fail(VITCL_ERR_LIMIT, "%s: .npy array of %zu floats exceeds the limit", name,
                          out->numel);
    size_t nbytes = out->numel * sizeof(float);
    if (len - pos != nbytes)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy data is %zu bytes, shape needs %zu", name,
                          len - pos, nbytes);
    out->data = malloc(nbytes ? nbytes : 1);
    if (!out->data)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu bytes", name, nbytes);
    memcpy(out->data, b + pos, nbytes);
    return VITCL_OK;
}

vitcl_status vitcl_npy_read_f32(const char *path, size_t max_bytes, vitcl_npy *out)
{
    memset(out, 0, sizeof *out);
    if (!max_bytes)
        max_bytes = NPY_DEFAULT_MAX_BYTES;
    size_t file_max = max_bytes <= SIZE_MAX - NPY_MAX_HEADER - 16 - 1
                          ? max_bytes + NPY_MAX_HEADER + 16
                          : SIZE_MAX - 1;
    char *buf = NULL;
    size_t len = 0;
    vitcl_status st = vitcl_file_read_all(path, file_max, &buf, &len);
    if (st == VITCL_OK)
        st = vitcl_npy_parse_f32(buf, len, path, max_bytes, out);
    free(buf);
    return st;
}

vitcl_status vitcl_npy_write_f32(const char *path, const float *data, size_t ndim,
                                 const size_t *shape)
{
    if (ndim > VITCL_NPY_MAX_DIMS)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "%s: too many dims for .npy", path);
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t numel = 1;
    for (size_t i = 0; i < ndim; i++) {
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%zu%s", shape[i],
                      (ndim == 1 || i + 1 < ndim) ? ", " : "");
        numel *= shape[i];
    }
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    /* Pad with spaces so magic + 4-byte-less v1 header + dict + '\n' is a multiple of 64. */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f)
        return vitcl_fail(VITCL_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    size_t hlen = (size_t)n + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)n, f) == (size_t)n;
    for (size_t i = 0; ok && i < pad; i++)
        ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    ok = ok && (numel == 0 || fwrite(data, sizeof(float), numel, f) == numel);
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        remove(path);
        return vitcl_fail(VITCL_ERR_IO, "%s: write failed", path);
    }
    return VITCL_OK;
}
