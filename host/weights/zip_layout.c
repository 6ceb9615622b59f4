/* host/weights/zip_layout.c - finds each zip member's local header and data in a mapped file and
 * checks that members lie inside the file, before the central directory, without overlapping.
 * Field offsets follow the PKWARE APPNOTE (local file header, central directory file header,
 * end of central directory record, ZIP64 locator, end record and extended information field). */
#include "zip_layout.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u

static uint16_t u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t u64(const uint8_t *p)
{
    return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32;
}

/* Where the central directory is and how many records it holds. */
typedef struct zip_dir {
    uint64_t offset, size, count;
    uint64_t end; /* offset of the (ZIP64) end record: the directory must stop before it */
} zip_dir;

static vitcl_status find_directory(const char *path, const uint8_t *f, size_t size, zip_dir *d)
{
    if (size < 22)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: too short for a zip end record", path);
    size_t lowest = size - 22 > 65535 ? size - 22 - 65535 : 0;
    size_t pos = size - 22 + 1;
    int found = 0;
    while (pos-- > lowest) {
        if (u32(f + pos) == SIG_END && pos + 22 + u16(f + pos + 20) <= size) {
            found = 1;
            break;
        }
    }
    if (!found)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: no zip end-of-directory record", path);
    d->count = u16(f + pos + 10);
    d->size = u32(f + pos + 12);
    d->offset = u32(f + pos + 16);
    d->end = pos;
    if (pos >= 20 && u32(f + pos - 20) == SIG_LOCATOR64) {
        uint64_t at = u64(f + pos - 20 + 8);
        if (at > pos - 20 || pos - 20 - at < 56 || u32(f + at) != SIG_END64)
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: broken ZIP64 end record locator", path);
        d->count = u64(f + at + 32);
        d->size = u64(f + at + 40);
        d->offset = u64(f + at + 48);
        d->end = at;
    }
    if (d->offset > d->end || d->size > d->end - d->offset)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: zip central directory lies outside the file",
                          path);
    return VITCL_OK;
}

/* Replaces saturated 32-bit fields of a central record by their ZIP64 extra-field values. */
static int apply_zip64(const uint8_t *extra, size_t len, uint32_t usize32, uint32_t csize32,
                       uint32_t off32, uint64_t *csize, uint64_t *offset)
{
    size_t i = 0;
    while (i + 4 <= len) {
        uint16_t id = u16(extra + i), n = u16(extra + i + 2);
        if (i + 4 + n > len)
            return 0;
        if (id == 0x0001) {
            const uint8_t *v = extra + i + 4;
            size_t k = 0;
            if (usize32 == 0xFFFFFFFFu)
                k += 8;
            if (csize32 == 0xFFFFFFFFu) {
                if (k + 8 > n)
                    return 0;
                *csize = u64(v + k);
                k += 8;
            }
            if (off32 == 0xFFFFFFFFu) {
                if (k + 8 > n)
                    return 0;
                *offset = u64(v + k);
            }
            return 1;
        }
        i += 4 + (size_t)n;
    }
    /* No ZIP64 field: a saturated value must then be literal. */
    return 1;
}

typedef struct order {
    uint64_t header;
    size_t index;
} order;

static int cmp_order(const void *a, const void *b)
{
    const order *x = a, *y = b;
    return x->header < y->header ? -1 : x->header > y->header;
}

/* Reads central record i at *at, its local header, and fills span. */
static vitcl_status read_member(const char *path, const uint8_t *f, const zip_dir *d,
                                zip_t *za, uint64_t i, uint64_t *at, zip_member_span *span)
{
    uint64_t p = *at, dir_end = d->offset + d->size;
    if (dir_end - p < 46 || u32(f + p) != SIG_CENTRAL)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: zip central record %llu is broken", path,
                          (unsigned long long)i);
    uint32_t csize32 = u32(f + p + 20), usize32 = u32(f + p + 24), off32 = u32(f + p + 42);
    size_t nlen = u16(f + p + 28), xlen = u16(f + p + 30), clen = u16(f + p + 32);
    if (dir_end - p - 46 < (uint64_t)nlen + xlen + clen)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: zip central record %llu runs past the directory",
                          path, (unsigned long long)i);
    const uint8_t *name = f + p + 46;
    const char *zname = zip_get_name(za, i, ZIP_FL_ENC_RAW);
    if (!zname || strlen(zname) != nlen || memcmp(zname, name, nlen) != 0)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: zip central record %llu does not match the archive directory",
                          path, (unsigned long long)i);
    uint64_t csize = csize32, off = off32;
    if (!apply_zip64(name + nlen, xlen, usize32, csize32, off32, &csize, &off))
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: entry '%s' has a broken ZIP64 extra field",
                          path, zname);
    *at = p + 46 + nlen + xlen + clen;
    if (off > d->offset || d->offset - off < 30 || u32(f + off) != SIG_LOCAL)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: entry '%s' has no local header at byte %llu", path, zname,
                          (unsigned long long)off);
    size_t lnlen = u16(f + off + 26), lxlen = u16(f + off + 28);
    uint64_t data = off + 30 + lnlen + lxlen;
    if (lnlen != nlen || memcmp(f + off + 30, name, nlen) != 0)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: entry '%s': local header names another entry", path, zname);
    if (data > d->offset || csize > d->offset - data)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: entry '%s' (%llu bytes at byte %llu) runs into the zip directory "
                          "or past the end of the file", path, zname,
                          (unsigned long long)csize, (unsigned long long)data);
    span->header = off;
    span->data = data;
    span->comp_size = csize;
    return VITCL_OK;
}

vitcl_status zip_layout_read(const char *path, const uint8_t *file, size_t size, zip_t *za,
                             zip_layout *out)
{
    memset(out, 0, sizeof *out);
    zip_dir d;
    memset(&d, 0, sizeof d);
    vitcl_status st = find_directory(path, file, size, &d);
    if (st != VITCL_OK)
        return st;
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n < 0 || (uint64_t)n != d.count)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: zip directory holds %llu records, the archive %lld entries", path,
                          (unsigned long long)d.count, (long long)n);
    if (n == 0)
        return VITCL_OK;
    zip_member_span *m = calloc((size_t)n, sizeof *m);
    order *o = calloc((size_t)n, sizeof *o);
    if (!m || !o) {
        free(m);
        free(o);
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    uint64_t at = d.offset;
    for (zip_int64_t i = 0; i < n && st == VITCL_OK; i++) {
        st = read_member(path, file, &d, za, (uint64_t)i, &at, &m[i]);
        o[i].header = m[i].header;
        o[i].index = (size_t)i;
    }
    if (st == VITCL_OK) {
        qsort(o, (size_t)n, sizeof *o, cmp_order);
        for (zip_int64_t k = 1; k < n && st == VITCL_OK; k++) {
            const zip_member_span *a = &m[o[k - 1].index];
            if (a->data + a->comp_size > o[k].header)
                st = vitcl_fail(VITCL_ERR_FORMAT, "%s: entries '%s' and '%s' overlap", path,
                                zip_get_name(za, o[k - 1].index, ZIP_FL_ENC_RAW),
                                zip_get_name(za, o[k].index, ZIP_FL_ENC_RAW));
        }
    }
    free(o);
    if (st != VITCL_OK) {
        free(m);
        return st;
    }
    out->members = m;
    out->count = (size_t)n;
    return VITCL_OK;
}

void zip_layout_free(zip_layout *l)
{
    free(l->members);
    l->members = NULL;
    l->count = 0;
}
