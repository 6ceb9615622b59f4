/* host/common/file_open.h - the one way vitcl opens a file named by a user for reading.
 *
 * A path from a user (config.json, preprocessor_config.json, a weight file or shard, an image,
 * an .npy) may name a FIFO, a character device or a directory. A plain open() of a FIFO with no
 * writer blocks forever, and reading a device may never end. These helpers open with O_NONBLOCK
 * (which never blocks on a FIFO), check with fstat that the result is a regular file, and only
 * then clear O_NONBLOCK and hand the descriptor out, so a special file is refused at once with a
 * message that names the path and what it is.
 */
#ifndef VITCL_HOST_FILE_OPEN_H
#define VITCL_HOST_FILE_OPEN_H

#include <stddef.h>
#include <stdint.h>

#include "vitcl/status.h"

/* Opens path read-only (close-on-exec) and returns its descriptor in *fd and its size in *size
 * (size may be NULL). The caller owns *fd (close()).
 * Errors, with a message naming path: VITCL_ERR_NOT_FOUND (no such file), VITCL_ERR_IO (cannot
 * open or stat; not a regular file, the message says which kind: "a FIFO", "a directory", ...).
 * *fd is -1 on error. Thread-safe. */
vitcl_status vitcl_file_open_regular(const char *path, int *fd, uint64_t *size);

/* Reads the whole regular file at path into a new buffer with a NUL byte after the data
 * (*data, owned by the caller: free()) and its length (without the NUL) in *len.
 * VITCL_ERR_LIMIT when the file is larger than max_bytes; the errors of
 * vitcl_file_open_regular; VITCL_ERR_IO on a read error or short read; VITCL_ERR_OUT_OF_MEMORY.
 * On error *data is NULL and *len 0. Thread-safe. */
vitcl_status vitcl_file_read_all(const char *path, size_t max_bytes, char **data, size_t *len);

#endif
