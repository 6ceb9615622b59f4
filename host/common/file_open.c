/* host/common/file_open.c - open user-named files without blocking on special files. */
#include "file_open.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

static const char *kind_of(mode_t m)
{
    return S_ISFIFO(m)   ? "a FIFO"
           : S_ISDIR(m)  ? "a directory"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

vitcl_status vitcl_file_open_regular(const char *path, int *fd, uint64_t *size)
{
    *fd = -1;
    if (size)
        *size = 0;
    /* O_NONBLOCK: opening a FIFO that has no writer returns at once instead of waiting. */
    int d = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (d < 0) {
        int e = errno;
        return vitcl_fail(e == ENOENT ? VITCL_ERR_NOT_FOUND : VITCL_ERR_IO, "%s: cannot open: %s",
                          path, strerror(e));
    }
    struct stat st;
    if (fstat(d, &st) != 0) {
        int e = errno;
        close(d);
        return vitcl_fail(VITCL_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(d);
        return vitcl_fail(VITCL_ERR_IO, "%s: is %s, not a regular file; vitcl reads only "
                          "regular files", path, kind_of(st.st_mode));
    }
    int flags = fcntl(d, F_GETFL);
    if (flags < 0 || fcntl(d, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(d);
        return vitcl_fail(VITCL_ERR_IO, "%s: cannot set blocking mode: %s", path, strerror(e));
    }
    if (size)
        *size = st.st_size < 0 ? 0 : (uint64_t)st.st_size;
    *fd = d;
    return VITCL_OK;
}

vitcl_status vitcl_file_read_all(const char *path, size_t max_bytes, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd;
    uint64_t size;
    vitcl_status st = vitcl_file_open_regular(path, &fd, &size);
    if (st != VITCL_OK)
        return st;
    if (size > max_bytes || size >= SIZE_MAX) {
        close(fd);
        return vitcl_fail(VITCL_ERR_LIMIT, "%s: %llu bytes, larger than the limit of %zu bytes",
                          path, (unsigned long long)size, max_bytes);
    }
    size_t n = (size_t)size;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes to read it",
                          path, n + 1);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            free(buf);
            return vitcl_fail(VITCL_ERR_IO, "%s: read %zu of %zu bytes%s%s", path, got, n,
                              e ? ": " : " (the file shrank)", e ? strerror(e) : "");
        }
        got += (size_t)r;
    }
    /* A file that grew since fstat: refuse rather than read a size we did not check. */
    char extra;
    ssize_t more = read(fd, &extra, 1);
    close(fd);
    if (more > 0) {
        free(buf);
        return vitcl_fail(VITCL_ERR_IO, "%s: the file grew while it was read", path);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return VITCL_OK;
}
