/* host/weights/zip_layout.h - where each member of a zip archive lies in the file's bytes.
 *
 * libzip reads and checks the archive's directory, but it does not say where a member's bytes
 * start in the file. zip_layout_read walks the central directory (ZIP64 included) of a file that
 * is already memory-mapped, ties every record to libzip's entry of the same index (same name),
 * reads each member's local header (signature, name equal to the central one) and checks that
 * every member, header and data, lies inside the file before the central directory and that no
 * two members overlap. A member's data can then be served straight from the mapping.
 *
 * Internal to host/weights. Not thread-safe for one layout; the layout does not own the mapping.
 */
#ifndef VITCL_HOST_ZIP_LAYOUT_H
#define VITCL_HOST_ZIP_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include <zip.h>

#include "vitcl/status.h"

typedef struct zip_member_span {
    uint64_t header;    /* file offset of the local header */
    uint64_t data;      /* file offset of the member's first data byte */
    uint64_t comp_size; /* bytes the member occupies after data (its stored size if stored) */
} zip_member_span;

typedef struct zip_layout {
    zip_member_span *members; /* indexed like libzip's entries */
    size_t count;
} zip_layout;

/* Fills *out for the archive `path` whose whole file is mapped at file[0..size) and open in za.
 * On failure *out is empty (nothing to free) and the status is VITCL_ERR_FORMAT (a message
 * naming the file and, where there is one, the member) or VITCL_ERR_OUT_OF_MEMORY. Free with
 * zip_layout_free. */
vitcl_status zip_layout_read(const char *path, const uint8_t *file, size_t size, zip_t *za,
                             zip_layout *out);

/* Frees the spans; the layout becomes empty. */
void zip_layout_free(zip_layout *l);

#endif
