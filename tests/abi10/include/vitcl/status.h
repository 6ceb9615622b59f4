/* vitcl/status.h - status codes shared by the public API and the plugin ABI.
 *
 * Every vitcl function that can fail returns a vitcl_status. VITCL_OK is zero, every
 * error is non-zero, and the numeric values are part of the ABI: they never change and
 * new codes are only appended. A status says what kind of failure happened; the
 * accompanying message (vitcl_last_error() for the API, vitcl_backend_desc.last_error
 * for plugins) says which file, tensor or device it concerns.
 */
#ifndef VITCL_STATUS_H
#define VITCL_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the library's public functions; everything else in libvitcl is hidden. */
#if defined(_WIN32)
#define VITCL_API
#else
#define VITCL_API __attribute__((visibility("default")))
#endif

typedef enum vitcl_status {
    VITCL_OK = 0,
    VITCL_ERR_INVALID_ARGUMENT = 1, /* a caller passed a NULL, a zero size, an inconsistent shape */
    VITCL_ERR_OUT_OF_MEMORY = 2,    /* host or device allocation failed */
    VITCL_ERR_IO = 3,               /* a file could not be opened, read, mapped or written */
    VITCL_ERR_FORMAT = 4,           /* a file is malformed, truncated or hostile */
    VITCL_ERR_UNSUPPORTED = 5,      /* valid request that this build, backend or model cannot do */
    VITCL_ERR_NOT_FOUND = 6,        /* no such plugin, device, file or tensor */
    VITCL_ERR_PLUGIN = 7,           /* a plugin could not be loaded or was refused */
    VITCL_ERR_DEVICE = 8,           /* the device or its driver failed (kernel build, enqueue, ...) */
    VITCL_ERR_LIMIT = 9,            /* a configured safety limit was exceeded (size, count, pixels) */
    VITCL_ERR_INTERNAL = 10         /* a bug in vitcl: please report it */
} vitcl_status;

/* Returns a static, human-readable name for a status ("VITCL_ERR_FORMAT"); never NULL.
 * Thread-safe; the string is owned by the library. */
VITCL_API const char *vitcl_status_name(vitcl_status status);

#ifdef __cplusplus
}
#endif
#endif
