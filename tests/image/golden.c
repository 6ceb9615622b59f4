/* tests/image/golden.c - .npz members (zip of .npy) read with libzip; .npy headers parsed
 * just enough for the '|u1' and '<f4' C-order arrays the fixture script writes. */
#include "golden.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#ifndef VITCL_SOURCE_ROOT
#error "VITCL_SOURCE_ROOT must be defined"
#endif

const char *fixture_path(const char *rel)
{
    static _Thread_local char buf[8][1024];
    static _Thread_local int slot;
    char *p = buf[slot++ & 7];
    snprintf(p, 1024, "%s/tests/fixtures/images/%s", VITCL_SOURCE_ROOT, rel);
    return p;
}

const cJSON *fixture_manifest(void)
{
    static cJSON *manifest;
    if (manifest)
        return manifest;
    FILE *f = fopen(fixture_path("manifest.json"), "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    if (text && fread(text, 1, (size_t)n, f) == (size_t)n) {
        text[n] = '\0';
        manifest = cJSON_Parse(text);
    }
    free(text);
    fclose(f);
    return manifest;
}

const char *str_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

size_t num_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (size_t)v->valuedouble : 0;
}

static int parse_npy(const uint8_t *b, size_t n, golden_array *out, char *err, size_t errlen)
{
    if (n < 10 || memcmp(b, "\x93NUMPY", 6) != 0) {
        snprintf(err, errlen, "not a .npy");
        return -1;
    }
    size_t hlen, off;
    if (b[6] == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        off = 10;
    } else {
        if (n < 12) {
            snprintf(err, errlen, "short .npy");
            return -1;
        }
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        off = 12;
    }
    if (hlen > n - off) {
        snprintf(err, errlen, "bad .npy header length");
        return -1;
    }
    char hdr[1024];
    snprintf(hdr, sizeof hdr, "%.*s", (int)(hlen < 1023 ? hlen : 1023), (const char *)b + off);
    if (strstr(hdr, "'descr': '|u1'"))
        out->is_u8 = 1;
    else if (strstr(hdr, "'descr': '<f4'"))
        out->is_u8 = 0;
    else {
        snprintf(err, errlen, "unexpected dtype in %s", hdr);
        return -1;
    }
    if (!strstr(hdr, "'fortran_order': False")) {
        snprintf(err, errlen, "fortran order");
        return -1;
    }
    const char *s = strstr(hdr, "'shape': (");
    if (!s) {
        snprintf(err, errlen, "no shape");
        return -1;
    }
    s += strlen("'shape': (");
    out->ndim = 0;
    out->numel = 1;
    while (*s && *s != ')' && out->ndim < 4) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s)
            break;
        out->shape[out->ndim++] = (size_t)v;
        out->numel *= (size_t)v;
        s = end;
        while (*s == ',' || *s == ' ')
            s++;
    }
    size_t bytes = out->numel * (out->is_u8 ? 1 : 4);
    if (bytes != n - off - hlen) {
        snprintf(err, errlen, "data length %zu, shape needs %zu", n - off - hlen, bytes);
        return -1;
    }
    out->data = malloc(bytes ? bytes : 1);
    if (!out->data) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(out->data, b + off + hlen, bytes);
    return 0;
}

int golden_read(const char *rel, const char *key, golden_array *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int zerr = 0;
    zip_t *z = zip_open(fixture_path(rel), ZIP_RDONLY, &zerr);
    if (!z) {
        snprintf(err, errlen, "%s: cannot open (libzip error %d)", rel, zerr);
        return -1;
    }
    char member[256];
    snprintf(member, sizeof member, "%s.npy", key);
    zip_stat_t st;
    zip_file_t *f = NULL;
    uint8_t *buf = NULL;
    int rc = -1;
    if (zip_stat(z, member, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
        snprintf(err, errlen, "%s: no member %s", rel, member);
    } else if (!(buf = malloc(st.size ? st.size : 1)) || !(f = zip_fopen(z, member, 0)) ||
               zip_fread(f, buf, st.size) != (zip_int64_t)st.size) {
        snprintf(err, errlen, "%s: cannot read %s", rel, member);
    } else {
        rc = parse_npy(buf, st.size, out, err, errlen);
    }
    if (f)
        zip_fclose(f);
    free(buf);
    zip_close(z);
    return rc;
}

void golden_array_free(golden_array *a)
{
    free(a->data);
    a->data = NULL;
}
