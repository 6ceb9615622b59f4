/* plugins/opencl/disk_cache.c - the on-disk cache of compiled programs and self-check markers.
 *
 * Location: $VITCL_CACHE_DIR, else $XDG_CACHE_HOME/vitcl, else $HOME/.cache/vitcl; this plugin
 * keeps its files in the "opencl" folder below it. An entry is <kind>-<hex key>.bin:
 *   magic "VITCLCL\0" | u32 format version | u32 zero | key (32 bytes) | u64 payload length |
 *   SHA-256 of the payload (32 bytes) | payload
 * (integers little-endian). Anything that does not match - short file, other magic, other
 * version, other key, wrong length, wrong checksum - is removed and reported as invalid, never
 * trusted. Writes go to a temporary file in the same folder and are renamed into place, so a
 * reader sees either nothing or a complete entry. Every failure to write degrades to no cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocl.h"

#define ENTRY_MAGIC "VITCLCL"
#define ENTRY_VERSION 1u
#define HEADER_LEN (8 + 4 + 4 + OCL_HASH_LEN + 8 + OCL_HASH_LEN)
#define ENTRY_MAX_PAYLOAD ((uint64_t)1 << 31)

static int mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0700);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return -1;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int ocl_cache_dir(char *dir, size_t dirlen)
{
    const char *base = getenv("VITCL_CACHE_DIR");
    int n;
    if (base && *base) {
        n = snprintf(dir, dirlen, "%s/opencl", base);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME");
        const char *home = getenv("HOME");
        if (xdg && xdg[0] == '/')
            n = snprintf(dir, dirlen, "%s/vitcl/opencl", xdg);
        else if (home && *home)
            n = snprintf(dir, dirlen, "%s/.cache/vitcl/opencl", home);
        else
            return 0;
    }
    if (n < 0 || (size_t)n >= dirlen || dir[0] == '\0')
        return 0;
    if (mkdir_p(dir) != 0)
        return 0;
    return access(dir, W_OK | X_OK) == 0;
}

static int entry_path(char *path, size_t pathlen, const char *dir, const char *kind,
                      const unsigned char key[OCL_HASH_LEN])
{
    char hex[2 * OCL_HASH_LEN + 1];
    ocl_hex(key, hex);
    int n = snprintf(path, pathlen, "%s/%s-%s.bin", dir, kind, hex);
    return (n < 0 || (size_t)n >= pathlen) ? -1 : 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int read_all(int fd, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len) {
        ssize_t r = write(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* Validates an open entry; returns 1 with the payload, or -1. */
static int read_entry(int fd, const unsigned char key[OCL_HASH_LEN], unsigned char **data,
                      size_t *len)
{
    struct stat st;
    unsigned char hdr[HEADER_LEN];
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < HEADER_LEN)
        return -1;
    if (read_all(fd, hdr, sizeof hdr) != 0)
        return -1;
    if (memcmp(hdr, ENTRY_MAGIC, 8) != 0 || get_u32(hdr + 8) != ENTRY_VERSION ||
        get_u32(hdr + 12) != 0 || memcmp(hdr + 16, key, OCL_HASH_LEN) != 0)
        return -1;
    uint64_t plen = get_u64(hdr + 16 + OCL_HASH_LEN);
    if (plen > ENTRY_MAX_PAYLOAD || plen != (uint64_t)st.st_size - HEADER_LEN)
        return -1;
    unsigned char *buf = malloc(plen ? (size_t)plen : 1);
    if (!buf)
        return -1;
    unsigned char sum[OCL_HASH_LEN];
    if (read_all(fd, buf, (size_t)plen) != 0 || ocl_sha256(buf, (size_t)plen, sum) != 0 ||
        memcmp(sum, hdr + 16 + OCL_HASH_LEN + 8, OCL_HASH_LEN) != 0) {
        free(buf);
        return -1;
    }
    *data = buf;
    *len = (size_t)plen;
    return 1;
}

int ocl_cache_read(const char *dir, const char *kind, const unsigned char key[OCL_HASH_LEN],
                   unsigned char **data, size_t *len)
{
    char path[OCL_PATH_MAX];
    if (entry_path(path, sizeof path, dir, kind, key) != 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int r = read_entry(fd, key, data, len);
    close(fd);
    if (r != 1)
        unlink(path);
    return r;
}

int ocl_cache_write(const char *dir, const char *kind, const unsigned char key[OCL_HASH_LEN],
                    const void *data, size_t len)
{
    char path[OCL_PATH_MAX], tmp[OCL_PATH_MAX];
    if (entry_path(path, sizeof path, dir, kind, key) != 0)
        return -1;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    unsigned char hdr[HEADER_LEN];
    memcpy(hdr, ENTRY_MAGIC, 8);
    put_u32(hdr + 8, ENTRY_VERSION);
    put_u32(hdr + 12, 0);
    memcpy(hdr + 16, key, OCL_HASH_LEN);
    put_u64(hdr + 16 + OCL_HASH_LEN, (uint64_t)len);
    if (ocl_sha256(data, len, hdr + 16 + OCL_HASH_LEN + 8) != 0)
        return -1;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    int ok = write_all(fd, hdr, sizeof hdr) == 0 && write_all(fd, data, len) == 0;
    if (close(fd) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

void ocl_cache_remove(const char *dir, const char *kind, const unsigned char key[OCL_HASH_LEN])
{
    char path[OCL_PATH_MAX];
    if (entry_path(path, sizeof path, dir, kind, key) == 0)
        unlink(path);
}
