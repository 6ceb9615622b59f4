/* host/weights/safetensors.c - reads one .safetensors file: maps it and checks every rule of the
 * format (spec section 4) before indexing its tensors. */
#include "weights_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "json_doc.h"

/* Largest integer a JSON number may hold here: cJSON keeps numbers as doubles, exact up to 2^53. */
#define ST_MAX_JSON_INT 9007199254740992.0
#define ST_MAX_DIGITS 15

typedef struct st_item {
    const char *name; /* points into the cJSON tree */
    vitcl_dtype dtype;
    size_t ndim;
    uint64_t shape[VITCL_WEIGHTS_MAX_DIMS];
    uint64_t begin, end;
} st_item;

static uint64_t read_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Every number in a safetensors header is a size or an offset: plain unsigned digits. Refuses
 * fractions, exponents, signs and numbers too long to be exact in cJSON's double. */
static vitcl_status check_numbers(const char *path, const uint8_t *h, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = h[i];
        if (c == '"') {
            for (i++; i < n && h[i] != '"'; i++)
                if (h[i] == '\\')
                    i++;
            i++;
        } else if (c == '-') {
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: safetensors header holds a negative number at byte %zu; sizes "
                              "and offsets are unsigned", path, i + 8);
        } else if (c >= '0' && c <= '9') {
            size_t start = i;
            while (i < n && h[i] >= '0' && h[i] <= '9')
                i++;
            if (i < n && (h[i] == '.' || h[i] == 'e' || h[i] == 'E'))
                return vitcl_fail(VITCL_ERR_FORMAT,
                                  "%s: safetensors header holds a non-integer number at byte %zu",
                                  path, start + 8);
            if (i - start > ST_MAX_DIGITS)
                return vitcl_fail(VITCL_ERR_FORMAT,
                                  "%s: safetensors header holds a number of %zu digits at byte "
                                  "%zu, too large for any size or offset", path, i - start,
                                  start + 8);
        } else {
            i++;
        }
    }
    return VITCL_OK;
}

static int as_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return 0;
    double d = j->valuedouble;
    if (!(d >= 0.0) || d > ST_MAX_JSON_INT || d != (double)(uint64_t)d)
        return 0;
    *out = (uint64_t)d;
    return 1;
}

static int cmp_offsets(const void *a, const void *b)
{
    const st_item *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

static vitcl_status check_metadata(const char *path, const cJSON *meta)
{
    if (!cJSON_IsObject(meta))
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: \"__metadata__\" must be an object of strings",
                          path);
    for (const cJSON *m = meta->child; m; m = m->next)
        if (!cJSON_IsString(m))
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: \"__metadata__\" entry '%s' is not a string", path,
                              m->string ? m->string : "");
    return VITCL_OK;
}

/* Fills it from the JSON object j describing tensor it->name. */
static vitcl_status parse_item(const char *path, const cJSON *j, st_item *it)
{
    const char *name = it->name;
    if (!cJSON_IsObject(j))
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", path,
                          name);
    const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (const cJSON *f = j->child; f; f = f->next) {
        const cJSON **slot = !strcmp(f->string, "dtype")          ? &dtype
                             : !strcmp(f->string, "shape")        ? &shape
                             : !strcmp(f->string, "data_offsets") ? &offsets
                                                                  : NULL;
        if (slot && *slot)
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: tensor '%s': field \"%s\" appears twice",
                              path, name, f->string);
        if (slot)
            *slot = f;
    }
    if (!cJSON_IsString(dtype))
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: tensor '%s': \"dtype\" missing or not a string",
                          path, name);
    const char *d = dtype->valuestring;
    if (!strcmp(d, "F32")) {
        it->dtype = VITCL_DTYPE_F32;
    } else if (!strcmp(d, "F16")) {
        it->dtype = VITCL_DTYPE_F16;
    } else if (!strcmp(d, "BF16")) {
        it->dtype = VITCL_DTYPE_BF16;
    } else {
        static const char *const known[] = {
            "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
            "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "I32", "U32", "C64", "F64", "I64", "U64"};
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (!strcmp(d, known[k]))
                return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                                  "%s: tensor '%s' has dtype %s; vitcl reads F32, F16, BF16",
                                  path, name, d);
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%.64s'", path,
                          name, d);
    }
    if (!cJSON_IsArray(shape))
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: tensor '%s': \"shape\" missing or not an array",
                          path, name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > VITCL_WEIGHTS_MAX_DIMS)
        return vitcl_fail(VITCL_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dimensions; at most %d",
                          path, name, nd, VITCL_WEIGHTS_MAX_DIMS);
    it->ndim = 0;
    for (const cJSON *s = shape->child; s; s = s->next)
        if (!as_uint(s, &it->shape[it->ndim++]))
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: tensor '%s': shape entries must be non-negative integers",
                              path, name);
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !as_uint(offsets->child, &it->begin) || !as_uint(offsets->child->next, &it->end))
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: tensor '%s': \"data_offsets\" must be two non-negative integers",
                          path, name);
    return VITCL_OK;
}

/* Checks offsets of the items (sorted by offset) against their sizes and the buffer. */
static vitcl_status check_layout(const char *path, const st_item *items, size_t n,
                                 uint64_t buffer_bytes)
{
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const st_item *it = &items[i];
        if (it->end < it->begin)
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: tensor '%s': data_offsets end %llu is before begin %llu", path,
                              it->name, (unsigned long long)it->end,
                              (unsigned long long)it->begin);
        if (i == 0 && it->begin != 0)
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: tensor '%s' starts at byte %llu of the data buffer; the "
                              "first tensor must start at 0", path, it->name,
                              (unsigned long long)it->begin);
        if (i > 0 && it->begin < pos)
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap", path,
                              items[i - 1].name, (unsigned long long)items[i - 1].begin,
                              (unsigned long long)items[i - 1].end, it->name,
                              (unsigned long long)it->begin, (unsigned long long)it->end);
        if (i > 0 && it->begin > pos)
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: gap of %llu bytes between tensor '%s' (ends at %llu) and "
                              "tensor '%s' (starts at %llu)", path,
                              (unsigned long long)(it->begin - pos), items[i - 1].name,
                              (unsigned long long)pos, it->name, (unsigned long long)it->begin);
        uint64_t numel, bytes;
        vitcl_status st = weights_shape_bytes(path, it->name, it->shape, it->ndim,
                                              weights_dtype_size(it->dtype), &numel, &bytes);
        if (st != VITCL_OK)
            return st;
        if (it->end - it->begin != bytes)
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: tensor '%s': data_offsets span %llu bytes but its shape and "
                              "dtype %s need %llu", path, it->name,
                              (unsigned long long)(it->end - it->begin),
                              weights_dtype_name(it->dtype), (unsigned long long)bytes);
        pos = it->end;
    }
    if (pos != buffer_bytes)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: the tensors cover %llu bytes of a %llu-byte data buffer%s", path,
                          (unsigned long long)pos, (unsigned long long)buffer_bytes,
                          pos < buffer_bytes ? " (trailing bytes after the last tensor)"
                                             : " (file truncated)");
    return VITCL_OK;
}

/* Parses and validates the header; appends the tensors. items/names are freed by the caller. */
static vitcl_status read_header(vitcl_weights *w, const char *path, const uint8_t *base,
                                size_t size, cJSON **root_out, st_item **items_out)
{
    if (size < 8)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: file is %zu bytes, too small for a safetensors header "
                          "(HeaderTooSmall)", path, size);
    uint64_t n = read_le64(base);
    if (n > w->limits.max_header_bytes)
        return vitcl_fail(VITCL_ERR_LIMIT,
                          "%s: safetensors header length %llu is over the limit of %llu bytes "
                          "(HeaderTooLarge)", path, (unsigned long long)n,
                          (unsigned long long)w->limits.max_header_bytes);
    if (n > size - 8)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: safetensors header length %llu runs past the end of the %zu-byte "
                          "file (InvalidHeaderLength)", path, (unsigned long long)n, size);
    const uint8_t *h = base + 8;
    if (!weights_utf8_valid(h, (size_t)n))
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: safetensors header is not valid UTF-8", path);
    vitcl_status st = check_numbers(path, h, (size_t)n);
    if (st != VITCL_OK)
        return st;
    cJSON *root = NULL;
    /* Duplicates at any depth are refused (a tensor named twice, a field given twice), as are
     * escaped NULs: the reference reader would see a different name than a C string does. */
    char label[1100];
    snprintf(label, sizeof label, "%s: safetensors header", path);
    if ((st = vitcl_json_parse((const char *)h, (size_t)n, label, VITCL_JSON_REFUSE_DUPLICATES,
                               &root)) != VITCL_OK)
        return st;
    *root_out = root;
    if (!cJSON_IsObject(root))
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: safetensors header is not a JSON object", path);

    size_t count = 0, ntensors = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        count++;
        if (strcmp(c->string, "__metadata__") != 0)
            ntensors++;
    }
    if (ntensors > w->limits.max_tensors - w->count)
        return vitcl_fail(VITCL_ERR_LIMIT, "%s: %zu tensors is over the limit of %llu", path,
                          ntensors, (unsigned long long)w->limits.max_tensors);
    /* repeated keys were refused by vitcl_json_parse */

    st_item *items = calloc(ntensors ? ntensors : 1, sizeof *items);
    if (!items)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu tensors", path,
                          ntensors);
    *items_out = items;
    size_t k = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (!strcmp(c->string, "__metadata__")) {
            st = check_metadata(path, c);
        } else {
            items[k].name = c->string;
            st = parse_item(path, c, &items[k++]);
        }
        if (st != VITCL_OK)
            return st;
    }
    qsort(items, ntensors, sizeof *items, cmp_offsets);
    uint64_t buffer_bytes = (uint64_t)size - 8 - n;
    st = check_layout(path, items, ntensors, buffer_bytes);
    if (st != VITCL_OK)
        return st;

    const char *file = weights_strndup(w, path, strlen(path));
    if (!file)
        return VITCL_ERR_OUT_OF_MEMORY;
    const uint8_t *data = h + n;
    for (k = 0; k < ntensors; k++) {
        vitcl_tensor_entry e;
        memset(&e, 0, sizeof e);
        e.name = weights_strndup(w, items[k].name, strlen(items[k].name));
        if (!e.name)
            return VITCL_ERR_OUT_OF_MEMORY;
        e.dtype = items[k].dtype;
        e.ndim = items[k].ndim;
        memcpy(e.shape, items[k].shape, sizeof e.shape);
        uint64_t bytes;
        weights_shape_bytes(path, e.name, e.shape, e.ndim, weights_dtype_size(e.dtype), &e.numel,
                            &bytes);
        e.data = data + items[k].begin;
        e.file = file;
        st = weights_add_entry(w, &e);
        if (st != VITCL_OK)
            return st;
    }
    return VITCL_OK;
}

vitcl_status weights_read_safetensors(vitcl_weights *w, const char *path)
{
    const uint8_t *base;
    size_t size;
    vitcl_status st = weights_map_file(w, path, &base, &size);
    if (st != VITCL_OK)
        return st;
    cJSON *root = NULL;
    st_item *items = NULL;
    st = read_header(w, path, base, size, &root, &items);
    free(items);
    cJSON_Delete(root);
    return st;
}
