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

/* The header is a Python dict literal that numpy reads with ast.literal_eval: a repeated key
 * keeps its last value, and the keys must then be exactly descr, fortran_order and shape. This
 * reads the literal the same way (strings in ' or ", True/False, a tuple of integers), so a
 * header numpy reads one way is never read another; what numpy refuses is refused. */
typedef struct npy_lex {
    const char *p, *name;
} npy_lex;

static void skip_ws(npy_lex *l)
{
    while (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r')
        l->p++;
}

/* A quoted string without escapes into buf; 0 when malformed. */
static int lex_string(npy_lex *l, char *buf, size_t cap)
{
    char q = *l->p;
    if (q != '\'' && q != '"')
        return 0;
    const char *e = strchr(l->p + 1, q);
    if (!e || (size_t)(e - l->p - 1) >= cap || memchr(l->p + 1, '\\', (size_t)(e - l->p - 1)))
        return 0;
    memcpy(buf, l->p + 1, (size_t)(e - l->p - 1));
    buf[e - l->p - 1] = '\0';
    l->p = e + 1;
    return 1;
}

static vitcl_status parse_header(const char *hdr, const char *name, vitcl_npy *out)
{
    npy_lex l = {hdr, name};
    char descr[32] = "", key[32];
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
    size_t shape[VITCL_NPY_MAX_DIMS], ndim = 0;
    skip_ws(&l);
    if (*l.p++ != '{')
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy header is not a dict literal", name);
    for (;;) {
        skip_ws(&l);
        if (*l.p == '}')
            break;
        if (!lex_string(&l, key, sizeof key))
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy header has a malformed key", name);
        skip_ws(&l);
        if (*l.p++ != ':')
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy header lacks ':' after '%s'", name, key);
        skip_ws(&l);
        if (!strcmp(key, "descr")) {
            if (!lex_string(&l, descr, sizeof descr))
                return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy 'descr' is not a plain dtype "
                                  "string (structured dtypes are not read)", name);
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (!strncmp(l.p, "True", 4) || !strncmp(l.p, "False", 5)) {
                fortran = *l.p == 'T';
                l.p += fortran ? 4 : 5;
            } else {
                return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy 'fortran_order' is not True or "
                                  "False", name);
            }
            have_fortran = 1;
        } else if (!strcmp(key, "shape")) {
            if (*l.p++ != '(')
                return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy 'shape' is not a tuple", name);
            ndim = 0;
            int comma = 0; /* a comma after the last element: "(3,)" is a tuple, "(3)" is 3 */
            for (;;) {
                skip_ws(&l);
                if (*l.p == ')')
                    break;
                if (*l.p < '0' || *l.p > '9')
                    return vitcl_fail(VITCL_ERR_FORMAT, "%s: malformed .npy shape", name);
                if (ndim == VITCL_NPY_MAX_DIMS)
                    return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy array has more than %d dims",
                                      name, VITCL_NPY_MAX_DIMS);
                errno = 0;
                char *end;
                unsigned long long v = strtoull(l.p, &end, 10);
                if (errno || v > SIZE_MAX)
                    return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy dimension out of range", name);
                shape[ndim++] = (size_t)v;
                l.p = end;
                skip_ws(&l);
                comma = *l.p == ',';
                if (comma)
                    l.p++;
                else if (*l.p != ')')
                    return vitcl_fail(VITCL_ERR_FORMAT, "%s: malformed .npy shape", name);
            }
            if (ndim == 1 && !comma)
                return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy 'shape' (n) is an integer, not a "
                                  "tuple (a 1-D shape is written (n,))", name);
            l.p++;
            have_shape = 1;
        } else {
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy header has the key '%.20s'; numpy "
                              "accepts only descr, fortran_order and shape", name, key);
        }
        skip_ws(&l);
        if (*l.p == ',')
            l.p++;
        else if (*l.p != '}')
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy header dict is malformed", name);
    }
    l.p++;
    skip_ws(&l);
    if (*l.p)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: data after the .npy header dict", name);
    if (!have_descr || !have_fortran || !have_shape)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy header lacks '%s'", name,
                          !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    /* the last value of each key, as numpy reads it */
    if (strcmp(descr, "<f4") != 0)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: .npy dtype is '%.10s'; vitcl reads little-endian float32 ('<f4')",
                          name, descr);
    if (fortran)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy array is not in C order (fortran_order "
                          "True); save it with numpy.ascontiguousarray", name);
    size_t numel = 1;
    for (size_t i = 0; i < ndim; i++) {
        if (shape[i] && numel > SIZE_MAX / shape[i])
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: .npy shape overflows", name);
        numel *= shape[i];
        out->shape[i] = shape[i];
    }
    out->ndim = ndim;
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
