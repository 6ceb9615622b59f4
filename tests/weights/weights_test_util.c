/* tests/weights/weights_test_util.c - see weights_test_util.h. */
#include "weights_test_util.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zip.h>
#include <zlib.h>

#include "vitcl/vitcl.h"

const char *wt_data(const char *rel)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/tests/weights/data/%s", VITCL_SOURCE_ROOT, rel);
    return path;
}

char *wt_tmpdir(void)
{
    char *dir = strdup("/tmp/vitcl-weights-XXXXXX");
    cr_assert_not_null(dir);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp failed");
    return dir;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void wt_tmpdir_remove(char *dir)
{
    if (!dir)
        return;
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

char *wt_dir;

void wt_setup(void)
{
    wt_dir = wt_tmpdir();
}

void wt_teardown(void)
{
    wt_tmpdir_remove(wt_dir);
    wt_dir = NULL;
}

void wt_expect_error(vitcl_status got, const vitcl_weights *w, vitcl_status want,
                     const char *file, const char *a, const char *b)
{
    const char *m = vitcl_last_error();
    cr_assert_eq(got, want, "status %s, expected %s (%s)", vitcl_status_name(got),
                 vitcl_status_name(want), m);
    cr_assert_null(w);
    cr_assert(strstr(m, file) != NULL, "message does not name %s: %s", file, m);
    cr_assert(strstr(m, a) != NULL, "message lacks '%s': %s", a, m);
    cr_assert(!b || strstr(m, b) != NULL, "message lacks '%s': %s", b, m);
}

char *wt_write(const char *dir, const char *name, const void *data, size_t len)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    cr_assert_not_null(path);
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    if (len)
        cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

char *wt_write_safetensors(const char *dir, const char *name, const char *header,
                           const void *data, size_t data_len)
{
    size_t hl = strlen(header);
    uint8_t *buf = calloc(1, 8 + hl + data_len + 1);
    cr_assert_not_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    if (data)
        memcpy(buf + 8 + hl, data, data_len);
    char *path = wt_write(dir, name, buf, 8 + hl + data_len);
    free(buf);
    return path;
}

uint8_t *wt_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ------------------------------------------------------------------ zip writers */

/* One entry waiting to be written; data is malloc'd and owned by the list. */
typedef struct zentry {
    char *name;
    uint8_t *data;
    size_t len;
} zentry;

typedef struct zlist {
    zentry e[64];
    size_t n;
} zlist;

static void zlist_add(zlist *l, const char *name, uint8_t *data, size_t len)
{
    cr_assert_lt(l->n, sizeof l->e / sizeof l->e[0]);
    l->e[l->n].name = strdup(name);
    cr_assert_not_null(l->e[l->n].name);
    l->e[l->n].data = data;
    l->e[l->n].len = len;
    l->n++;
}

static void put16(FILE *f, unsigned v)
{
    fputc((int)(v & 0xFF), f);
    fputc((int)((v >> 8) & 0xFF), f);
}

static void put32(FILE *f, uint32_t v)
{
    put16(f, v & 0xFFFF);
    put16(f, v >> 16);
}

/* Writes l deflated, through libzip. */
static void write_deflated(const char *dst, zlist *l)
{
    int err = 0;
    zip_t *out = zip_open(dst, ZIP_CREATE | ZIP_TRUNCATE, &err);
    cr_assert_not_null(out);
    for (size_t i = 0; i < l->n; i++) {
        zip_source_t *s = zip_source_buffer(out, l->e[i].len ? l->e[i].data : NULL, l->e[i].len,
                                            l->e[i].len != 0);
        cr_assert_not_null(s);
        if (l->e[i].len == 0)
            free(l->e[i].data);
        l->e[i].data = NULL; /* libzip owns it now */
        zip_int64_t idx = zip_file_add(out, l->e[i].name, s, ZIP_FL_ENC_UTF_8);
        cr_assert(idx >= 0, "zip_file_add %s", l->e[i].name);
        /* Asked explicitly, libzip deflates even data that does not shrink. */
        cr_assert_eq(zip_set_file_compression(out, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 9), 0);
    }
    cr_assert_eq(zip_close(out), 0, "zip_close %s", dst);
}

/* Writes l stored (uncompressed) the way torch.save does: every entry's data starts on a 64-byte
 * boundary of the file, padded by an extra field in the local header; misalign shifts the data
 * of storage records ("/data/" in the name) that many bytes past the boundary; encrypt sets the
 * storage records' "encrypted" flag (their bytes stay plain). */
static void write_stored(const char *dst, const zlist *l, unsigned misalign, int encrypt)
{
    FILE *f = fopen(dst, "wb");
    cr_assert_not_null(f, "cannot write %s", dst);
    uint32_t offsets[64], crcs[64];
    for (size_t i = 0; i < l->n; i++) {
        const zentry *e = &l->e[i];
        long at = ftell(f);
        offsets[i] = (uint32_t)at;
        crcs[i] = (uint32_t)crc32(0, e->data, (uInt)e->len);
        size_t nlen = strlen(e->name);
        size_t data_at = (size_t)at + 30 + nlen + 4;
        size_t pad = (64 - data_at % 64) % 64;
        if (strstr(e->name, "/data/"))
            pad += misalign;
        unsigned flags = encrypt && strstr(e->name, "/data/") ? 1u : 0u;
        put32(f, 0x04034b50u);
        put16(f, 20);
        put16(f, flags);
        put16(f, 0); /* stored */
        put16(f, 0);
        put16(f, 0x21); /* 1980-01-01 */
        put32(f, crcs[i]);
        put32(f, (uint32_t)e->len);
        put32(f, (uint32_t)e->len);
        put16(f, (unsigned)nlen);
        put16(f, (unsigned)(4 + pad));
        fwrite(e->name, 1, nlen, f);
        put16(f, 0x4246); /* padding field, as torch.save's writer uses */
        put16(f, (unsigned)pad);
        for (size_t k = 0; k < pad; k++)
            fputc('Z', f);
        if (e->len)
            fwrite(e->data, 1, e->len, f);
    }
    long cd = ftell(f);
    for (size_t i = 0; i < l->n; i++) {
        const zentry *e = &l->e[i];
        size_t nlen = strlen(e->name);
        put32(f, 0x02014b50u);
        put16(f, 20);
        put16(f, 20);
        put16(f, encrypt && strstr(e->name, "/data/") ? 1u : 0u);
        put16(f, 0);
        put16(f, 0);
        put16(f, 0x21);
        put32(f, crcs[i]);
        put32(f, (uint32_t)e->len);
        put32(f, (uint32_t)e->len);
        put16(f, (unsigned)nlen);
        put16(f, 0);
        put16(f, 0);
        put16(f, 0);
        put16(f, 0);
        put32(f, 0);
        put32(f, offsets[i]);
        fwrite(e->name, 1, nlen, f);
    }
    long cd_end = ftell(f);
    put32(f, 0x06054b50u);
    put16(f, 0);
    put16(f, 0);
    put16(f, (unsigned)l->n);
    put16(f, (unsigned)l->n);
    put32(f, (uint32_t)(cd_end - cd));
    put32(f, (uint32_t)cd);
    put16(f, 0);
    cr_assert_eq(fclose(f), 0);
}

static char *write_zlist(const char *dir, zlist *l, const wt_zip_style *style)
{
    char *dst = malloc(strlen(dir) + 32);
    cr_assert_not_null(dst);
    sprintf(dst, "%s/pytorch_model.bin", dir);
    if (style && style->deflate)
        write_deflated(dst, l);
    else
        write_stored(dst, l, style ? style->misalign : 0, style ? style->encrypt : 0);
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].name);
        free(l->e[i].data);
    }
    l->n = 0;
    return dst;
}

char *wt_rezip_with(const char *src, const char *dir, wt_entry_fn fn, void *ctx,
                    const wt_zip_style *style)
{
    int err = 0;
    zip_t *in = zip_open(src, ZIP_RDONLY, &err);
    cr_assert_not_null(in, "cannot open %s", src);
    static zlist l;
    zip_int64_t n = zip_get_num_entries(in, 0);
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        cr_assert_eq(zip_stat_index(in, (zip_uint64_t)i, 0, &st), 0);
        size_t len = (size_t)st.size;
        uint8_t *data = malloc(len ? len : 1);
        cr_assert_not_null(data);
        zip_file_t *f = zip_fopen_index(in, (zip_uint64_t)i, 0);
        cr_assert_not_null(f);
        cr_assert_eq(zip_fread(f, data, len), (zip_int64_t)len);
        zip_fclose(f);
        if (fn && !fn(st.name, &data, &len, ctx)) {
            free(data);
            continue;
        }
        zlist_add(&l, st.name, data, len);
    }
    zip_discard(in);
    return write_zlist(dir, &l, style);
}

char *wt_rezip(const char *src, const char *dir, wt_entry_fn fn, void *ctx)
{
    return wt_rezip_with(src, dir, fn, ctx, NULL);
}

char *wt_torch_zip(const char *dir, const uint8_t *pickle, size_t pickle_len,
                   size_t storage_len)
{
    static zlist l;
    uint8_t *p = malloc(pickle_len);
    cr_assert_not_null(p);
    memcpy(p, pickle, pickle_len);
    zlist_add(&l, "archive/data.pkl", p, pickle_len);
    zlist_add(&l, "archive/byteorder", (uint8_t *)strdup("little"), 6);
    if (storage_len) {
        uint8_t *s = calloc(1, storage_len);
        cr_assert_not_null(s);
        zlist_add(&l, "archive/data/0", s, storage_len);
    }
    return write_zlist(dir, &l, NULL);
}

wt_expected *wt_expected_load(const char *section, size_t *n)
{
    size_t len;
    uint8_t *text = wt_read(wt_data("expected.json"), &len);
    cJSON *root = cJSON_ParseWithLength((const char *)text, len);
    free(text);
    cr_assert_not_null(root, "expected.json does not parse");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, section);
    cr_assert(cJSON_IsArray(list));
    size_t count = (size_t)cJSON_GetArraySize(list);
    wt_expected *e = calloc(count, sizeof *e);
    cr_assert_not_null(e);
    size_t i = 0;
    for (const cJSON *t = list->child; t; t = t->next, i++) {
        const char *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype")->valuestring;
        snprintf(e[i].name, sizeof e[i].name, "%s",
                 cJSON_GetObjectItemCaseSensitive(t, "name")->valuestring);
        e[i].dtype = !strcmp(dt, "F32") ? VITCL_DTYPE_F32
                     : !strcmp(dt, "F16") ? VITCL_DTYPE_F16 : VITCL_DTYPE_BF16;
        e[i].numel = 1;
        for (const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "shape")->child; s; s = s->next) {
            e[i].shape[e[i].ndim++] = (uint64_t)s->valuedouble;
            e[i].numel *= (uint64_t)s->valuedouble;
        }
        e[i].bits = calloc(e[i].numel + 1, sizeof *e[i].bits);
        cr_assert_not_null(e[i].bits);
        size_t k = 0;
        for (const cJSON *b = cJSON_GetObjectItemCaseSensitive(t, "f32_bits")->child; b;
             b = b->next)
            e[i].bits[k++] = (uint32_t)b->valuedouble;
        cr_assert_eq(k, e[i].numel, "expected.json: %s has %zu values", e[i].name, k);
    }
    cJSON_Delete(root);
    *n = count;
    return e;
}

void wt_expected_free(wt_expected *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].bits);
    free(e);
}

void wt_check_against(const vitcl_weights *w, const char *section, const char *file_part)
{
    size_t n;
    wt_expected *e = wt_expected_load(section, &n);
    cr_assert_eq(vitcl_weights_count(w), n, "holds %zu tensors, expected %zu",
                 vitcl_weights_count(w), n);
    for (size_t i = 0; i < n; i++) {
        const vitcl_tensor_entry *t = vitcl_weights_find(w, e[i].name);
        cr_assert_not_null(t, "tensor %s missing", e[i].name);
        cr_assert_str_eq(t->name, e[i].name);
        cr_assert_eq(t->dtype, e[i].dtype, "%s: dtype %d, expected %d", e[i].name, t->dtype,
                     e[i].dtype);
        cr_assert_eq(t->ndim, e[i].ndim, "%s: ndim", e[i].name);
        for (size_t d = 0; d < t->ndim; d++)
            cr_assert_eq(t->shape[d], e[i].shape[d], "%s: dim %zu", e[i].name, d);
        cr_assert_eq(t->numel, e[i].numel, "%s: numel", e[i].name);
        cr_assert(strstr(t->file, file_part) != NULL, "%s: file %s", e[i].name, t->file);
        float *f = malloc((t->numel + 1) * sizeof *f);
        cr_assert_not_null(f);
        vitcl_tensor_to_f32(t, f);
        for (uint64_t k = 0; k < t->numel; k++) {
            uint32_t got;
            memcpy(&got, &f[k], sizeof got);
            cr_assert_eq(got, e[i].bits[k], "%s[%llu]: bits 0x%08x, torch gives 0x%08x",
                         e[i].name, (unsigned long long)k, got, e[i].bits[k]);
        }
        free(f);
    }
    wt_expected_free(e, n);
}
