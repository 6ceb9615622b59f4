/* host/weights/torch_zip.c - reads pytorch_model.bin as torch.save writes it since PyTorch 1.6:
 * a zip archive with one top-level folder holding data.pkl (the state dict, read by pickle.c),
 * data/<key> storage records and optionally byteorder and version. libzip reads and checks the
 * directory (and data.pkl); the file is memory-mapped and each storage record's bytes are served
 * from the mapping at the record's data offset (zip_layout.c), so nothing is copied: a record
 * must be stored (not compressed), unencrypted and aligned to its element size, as torch.save
 * writes it (64-byte aligned). Storage bytes are not CRC-checked, as safetensors data is not. */
#include "weights_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zip.h>

#include "error.h"
#include "file_open.h"
#include "pickle.h"
#include "zip_layout.h"

typedef struct tz {
    vitcl_weights *w;
    const char *path;
    zip_t *za;
    const uint8_t *file; /* the whole file, mapped */
    size_t file_size;
    zip_layout layout;
    char prefix[256]; /* "archive/" */
} tz;

static vitcl_status zip_status(const tz *z, const char *what)
{
    return vitcl_fail(VITCL_ERR_FORMAT, "%s: %s: %s", z->path, what,
                      zip_error_strerror(zip_get_error(z->za)));
}

/* Reads entry `index`, "<prefix>name" (of `size` bytes, already checked against limits), into
 * buf. */
static vitcl_status read_entry(tz *z, zip_int64_t index, const char *name, void *buf,
                               uint64_t size)
{
    zip_file_t *f = zip_fopen_index(z->za, (zip_uint64_t)index, 0);
    if (!f)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: cannot open archive entry '%s%s': %s", z->path,
                          z->prefix, name, zip_error_strerror(zip_get_error(z->za)));
    uint64_t got = 0;
    vitcl_status st = VITCL_OK;
    while (got < size) {
        zip_int64_t n = zip_fread(f, (char *)buf + got, size - got);
        if (n < 0) {
            st = vitcl_fail(VITCL_ERR_FORMAT, "%s: cannot read archive entry '%s%s': %s", z->path,
                            z->prefix, name, zip_error_strerror(zip_file_get_error(f)));
            break;
        }
        if (n == 0) {
            st = vitcl_fail(VITCL_ERR_FORMAT,
                            "%s: archive entry '%s%s' ends after %llu of its %llu bytes",
                            z->path, z->prefix, name, (unsigned long long)got,
                            (unsigned long long)size);
            break;
        }
        got += (uint64_t)n;
    }
    /* Reading to the end lets libzip verify the CRC. */
    char extra;
    if (st == VITCL_OK && zip_fread(f, &extra, 1) != 0)
        st = vitcl_fail(VITCL_ERR_FORMAT,
                        "%s: archive entry '%s%s' is longer than its %llu bytes or fails its CRC",
                        z->path, z->prefix, name, (unsigned long long)size);
    zip_fclose(f);
    return st;
}

/* Finds "<prefix>name"; returns its index and size, or -1 when absent. */
static zip_int64_t locate(tz *z, const char *name, uint64_t *size)
{
    char full[512];
    int n = snprintf(full, sizeof full, "%s%s", z->prefix, name);
    if (n < 0 || (size_t)n >= sizeof full)
        return -1;
    zip_int64_t i = zip_name_locate(z->za, full, ZIP_FL_ENC_RAW);
    if (i < 0)
        return -1;
    zip_stat_t s;
    zip_stat_init(&s);
    if (zip_stat_index(z->za, (zip_uint64_t)i, 0, &s) != 0 || !(s.valid & ZIP_STAT_SIZE))
        return -1;
    *size = s.size;
    return i;
}

/* Finds the single top-level folder that holds data.pkl. */
static vitcl_status find_prefix(tz *z)
{
    zip_int64_t n = zip_get_num_entries(z->za, 0);
    int found = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(z->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!name)
            return zip_status(z, "cannot read an entry name");
        const char *slash = strchr(name, '/');
        if (!slash || strcmp(slash + 1, "data.pkl") != 0)
            continue;
        size_t plen = (size_t)(slash - name) + 1;
        if (found)
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: archive holds more than one data.pkl ('%s%s' and '%s')",
                              z->path, z->prefix, "data.pkl", name);
        if (plen >= sizeof z->prefix)
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: archive folder name too long", z->path);
        memcpy(z->prefix, name, plen);
        z->prefix[plen] = '\0';
        found = 1;
    }
    if (!found)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: no <folder>/data.pkl in the archive; not a torch.save file",
                          z->path);
    return VITCL_OK;
}

static vitcl_status check_byteorder(tz *z)
{
    uint64_t size;
    zip_int64_t i = locate(z, "byteorder", &size);
    if (i < 0)
        return VITCL_OK; /* older writers leave it out: little-endian */
    char text[16] = {0};
    if (size >= sizeof text)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: byteorder record of %llu bytes", z->path,
                          (unsigned long long)size);
    vitcl_status st = read_entry(z, i, "byteorder", text, size);
    if (st != VITCL_OK)
        return st;
    if (strcmp(text, "little") != 0)
        return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                          "%s: byteorder is '%s'; vitcl reads little-endian checkpoints only",
                          z->path, strcmp(text, "big") == 0 ? "big" : "unknown");
    return VITCL_OK;
}

static vitcl_status read_pickle(tz *z, char *label, size_t label_size, torch_pickle_result *res)
{
    uint64_t size;
    zip_int64_t i = locate(z, "data.pkl", &size);
    if (i < 0)
        return zip_status(z, "cannot stat data.pkl");
    if (size > z->w->limits.max_header_bytes)
        return vitcl_fail(VITCL_ERR_LIMIT, "%s: data.pkl of %llu bytes is over the limit of %llu",
                          z->path, (unsigned long long)size,
                          (unsigned long long)z->w->limits.max_header_bytes);
    uint8_t *buf = malloc(size ? (size_t)size : 1);
    if (!buf)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory for data.pkl", z->path);
    vitcl_status st = read_entry(z, i, "data.pkl", buf, size);
    snprintf(label, label_size, "%s (%sdata.pkl)", z->path, z->prefix);
    if (st == VITCL_OK)
        st = torch_pickle_read(buf, (size_t)size, label, z->w->limits.max_tensors, res);
    free(buf);
    return st;
}

typedef struct storage_use {
    size_t tensor; /* index into the pickle result */
    const char *key;
} storage_use;

static int cmp_use(const void *a, const void *b)
{
    const storage_use *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->tensor < y->tensor ? -1 : x->tensor > y->tensor);
}

/* Points *data at the bytes of storage record `rec` (entry idx) inside the mapping, after
 * checking that the record is stored as is, unencrypted, and starts on an element boundary. */
static vitcl_status mapped_record(tz *z, zip_int64_t idx, const char *rec, size_t elem_size,
                                  const uint8_t **data)
{
    zip_stat_t s;
    zip_stat_init(&s);
    if (zip_stat_index(z->za, (zip_uint64_t)idx, 0, &s) != 0)
        return zip_status(z, "cannot stat a storage record");
    if ((s.valid & ZIP_STAT_ENCRYPTION_METHOD) && s.encryption_method != ZIP_EM_NONE)
        return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                          "%s: storage record '%s%s' is encrypted; vitcl reads storage records "
                          "only as torch.save writes them (stored, unencrypted)", z->path,
                          z->prefix, rec);
    if (!(s.valid & ZIP_STAT_COMP_METHOD) || s.comp_method != ZIP_CM_STORE)
        return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                          "%s: storage record '%s%s' is compressed (zip method %d); vitcl maps "
                          "storage records and reads them only stored, as torch.save writes "
                          "them: re-save the file with torch.save", z->path, z->prefix, rec,
                          (s.valid & ZIP_STAT_COMP_METHOD) ? (int)s.comp_method : -1);
    if ((uint64_t)idx >= z->layout.count)
        return zip_status(z, "storage record outside the directory");
    const zip_member_span *m = &z->layout.members[idx];
    if (m->comp_size != s.size)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: storage record '%s%s' occupies %llu bytes but holds %llu",
                          z->path, z->prefix, rec, (unsigned long long)m->comp_size,
                          (unsigned long long)s.size);
    if (m->data % elem_size != 0)
        return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                          "%s: storage record '%s%s' starts at byte %llu of the file, which is "
                          "misaligned for its %zu-byte elements; vitcl maps storage records and "
                          "needs them aligned, as torch.save writes them (64-byte): re-save the "
                          "file with torch.save", z->path, z->prefix, rec,
                          (unsigned long long)m->data, elem_size);
    *data = z->file + m->data;
    return VITCL_OK;
}

/* Checks every tensor of one storage (uses[0..n)) against its record, finds the record in the
 * mapping and sets tensor_data[t] for each of those tensors t. */
static vitcl_status load_storage(tz *z, const torch_pickle_result *res, const storage_use *uses,
                                 size_t n, const uint8_t **tensor_data, uint64_t *total)
{
    const torch_pickle_tensor *t0 = &res->tensors[uses[0].tensor];
    const char *key = t0->storage_key;
    if (!key[0] || strchr(key, '/') || strchr(key, '\\') || strstr(key, ".."))
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: tensor '%s' names storage '%.100s', which is not a plain record "
                          "name", z->path, t0->name, key);
    char rec[300];
    snprintf(rec, sizeof rec, "data/%.280s", key);
    uint64_t size;
    zip_int64_t idx = locate(z, rec, &size);
    if (idx < 0)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: tensor '%s' needs storage record '%s%s', which "
                          "is missing", z->path, t0->name, z->prefix, rec);
    size_t es = weights_dtype_size(t0->dtype);
    uint64_t elems = size / es;
    for (size_t k = 0; k < n; k++) {
        const torch_pickle_tensor *t = &res->tensors[uses[k].tensor];
        if (t->dtype != t0->dtype)
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: tensors '%s' (%s) and '%s' (%s) share storage '%s'", z->path,
                              t0->name, weights_dtype_name(t0->dtype), t->name,
                              weights_dtype_name(t->dtype), key);
        if (t->offset > elems || t->numel > elems - t->offset)
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: tensor '%s' needs elements [%llu, %llu) of storage record "
                              "'%s%s', which holds %llu", z->path, t->name,
                              (unsigned long long)t->offset,
                              (unsigned long long)(t->offset + t->numel), z->prefix, rec,
                              (unsigned long long)elems);
    }
    if (size % es != 0 || t0->storage_numel != elems)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: storage record '%s%s' (of tensor '%s') holds %llu bytes but the "
                          "pickle declares %llu %s elements", z->path, z->prefix, rec, t0->name,
                          (unsigned long long)size, (unsigned long long)t0->storage_numel,
                          weights_dtype_name(t0->dtype));
    if (size > z->w->limits.max_total_bytes - *total)
        return vitcl_fail(VITCL_ERR_LIMIT,
                          "%s: storage record '%s%s' brings the weights past the limit of %llu "
                          "bytes", z->path, z->prefix, rec,
                          (unsigned long long)z->w->limits.max_total_bytes);
    *total += size;
    static const uint8_t empty[8];
    const uint8_t *data = empty;
    if (size > 0) {
        vitcl_status st = mapped_record(z, idx, rec, es, &data);
        if (st != VITCL_OK)
            return st;
    }
    for (size_t k = 0; k < n; k++) {
        const torch_pickle_tensor *t = &res->tensors[uses[k].tensor];
        tensor_data[uses[k].tensor] = size ? data + t->offset * es : data;
    }
    return VITCL_OK;
}

/* Loads every storage the tensors use, then indexes the tensors in the pickle's order. */
static vitcl_status load_tensors(tz *z, const torch_pickle_result *res)
{
    const char *file = weights_strndup(z->w, z->path, strlen(z->path));
    if (!file)
        return VITCL_ERR_OUT_OF_MEMORY;
    if (res->count == 0)
        return VITCL_OK;
    storage_use *uses = malloc(res->count * sizeof *uses);
    const uint8_t **tensor_data = calloc(res->count, sizeof *tensor_data);
    if (!uses || !tensor_data) {
        free(uses);
        free(tensor_data);
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory", z->path);
    }
    for (size_t i = 0; i < res->count; i++) {
        uses[i].tensor = i;
        uses[i].key = res->tensors[i].storage_key;
    }
    qsort(uses, res->count, sizeof *uses, cmp_use);
    vitcl_status st = VITCL_OK;
    uint64_t total = 0;
    for (size_t i = 0; i < res->count && st == VITCL_OK;) {
        size_t j = i;
        while (j < res->count && !strcmp(uses[j].key, uses[i].key))
            j++;
        st = load_storage(z, res, uses + i, j - i, tensor_data, &total);
        i = j;
    }
    for (size_t i = 0; i < res->count && st == VITCL_OK; i++) {
        const torch_pickle_tensor *t = &res->tensors[i];
        vitcl_tensor_entry e;
        memset(&e, 0, sizeof e);
        e.name = weights_strndup(z->w, t->name, strlen(t->name));
        if (!e.name) {
            st = VITCL_ERR_OUT_OF_MEMORY;
            break;
        }
        e.dtype = t->dtype;
        e.ndim = t->ndim;
        memcpy(e.shape, t->shape, sizeof e.shape);
        e.numel = t->numel;
        e.data = tensor_data[i];
        e.file = file;
        st = weights_add_entry(z->w, &e);
    }
    free(uses);
    free(tensor_data);
    return st;
}

vitcl_status weights_read_torch_zip(vitcl_weights *w, const char *path)
{
    tz z;
    memset(&z, 0, sizeof z);
    z.w = w;
    z.path = path;
    int code = 0, fd;
    vitcl_status os = vitcl_file_open_regular(path, &fd, NULL);
    if (os != VITCL_OK)
        return os;
    /* The archive owns fd once zip_fdopen succeeds; on failure it is still ours. */
    z.za = zip_fdopen(fd, ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (!z.za) {
        close(fd);
        zip_error_t err;
        zip_error_init_with_code(&err, code);
        vitcl_status kind = code == ZIP_ER_NOENT                         ? VITCL_ERR_NOT_FOUND
                            : code == ZIP_ER_OPEN || code == ZIP_ER_READ ? VITCL_ERR_IO
                                                                         : VITCL_ERR_FORMAT;
        vitcl_status st = vitcl_fail(kind, "%s: not a readable zip archive: %s", path,
                                     zip_error_strerror(&err));
        zip_error_fini(&err);
        return st;
    }
    torch_pickle_result res;
    memset(&res, 0, sizeof res);
    char label[1024];
    vitcl_status st = weights_map_file(w, path, &z.file, &z.file_size);
    if (st == VITCL_OK)
        st = zip_layout_read(path, z.file, z.file_size, z.za, &z.layout);
    if (st == VITCL_OK)
        st = find_prefix(&z);
    if (st == VITCL_OK)
        st = check_byteorder(&z);
    if (st == VITCL_OK)
        st = read_pickle(&z, label, sizeof label, &res);
    if (st == VITCL_OK)
        st = load_tensors(&z, &res);
    torch_pickle_free(&res);
    zip_layout_free(&z.layout);
    zip_discard(z.za);
    return st;
}
