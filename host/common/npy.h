/* host/common/npy.h - NumPy .npy files (format 1.0-3.0) of float32 arrays.
 *
 * The CLI and the tests exchange tensors with Python through .npy, so a user can compare
 * vitcl's output with transformers' directly. Only little-endian float32 in C order is read
 * or written ('<f4', fortran_order False); anything else is refused with a message naming the
 * file. Reading checks every header field and the data length; it never trusts the header's
 * shape beyond what the file holds.
 */
#ifndef VITCL_HOST_NPY_H
#define VITCL_HOST_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "vitcl/status.h"

#define VITCL_NPY_MAX_DIMS 8

typedef struct vitcl_npy {
    size_t ndim;
    size_t shape[VITCL_NPY_MAX_DIMS];
    size_t numel;
    float *data; /* owned; free with vitcl_npy_free */
} vitcl_npy;

/* Reads a float32 .npy file. On success *out holds malloc'ed data the caller frees with
 * vitcl_npy_free. Errors: VITCL_ERR_IO (open/read), VITCL_ERR_FORMAT (bad magic, header,
 * dtype, order or length), VITCL_ERR_LIMIT (more than max_bytes of data; 0 = 16 GiB). */
vitcl_status vitcl_npy_read_f32(const char *path, size_t max_bytes, vitcl_npy *out);

/* Parses a .npy image held in memory (same checks as vitcl_npy_read_f32). */
vitcl_status vitcl_npy_parse_f32(const void *bytes, size_t len, const char *name, size_t max_bytes,
                                 vitcl_npy *out);

/* Writes data (numel = product of shape) as a float32 .npy file, atomically enough for tools
 * (written to the path directly; on error the partial file is removed). */
vitcl_status vitcl_npy_write_f32(const char *path, const float *data, size_t ndim,
                                 const size_t *shape);

void vitcl_npy_free(vitcl_npy *npy);

#endif
