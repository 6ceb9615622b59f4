/* host/common/error.h - the per-thread error message behind vitcl_last_error().
 *
 * Library code reports a failure with `return vitcl_fail(VITCL_ERR_FORMAT, "%s: ...", path);`:
 * the message is formatted into thread-local storage and the status is passed through.
 * vitcl_fail_prefix adds context to the current message (e.g. the caller prefixes the file).
 * Both replace control characters in the result (vitcl_defuse_controls, escape.h), so bytes
 * from a hostile file cannot reach a terminal as escape sequences; quote file-derived names
 * with vitcl_escape as well, which also shows newlines and the bytes' values.
 */
#ifndef VITCL_HOST_ERROR_H
#define VITCL_HOST_ERROR_H

#include "vitcl/status.h"

#if defined(__GNUC__)
#define VITCL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VITCL_PRINTF(a, b)
#endif

/* Sets this thread's message (truncated to 4 KiB) and returns status. Thread-safe. */
vitcl_status vitcl_fail(vitcl_status status, const char *fmt, ...) VITCL_PRINTF(2, 3);

/* Prefixes this thread's current message with a formatted string and returns status. */
vitcl_status vitcl_fail_prefix(vitcl_status status, const char *fmt, ...) VITCL_PRINTF(2, 3);

/* Clears this thread's message. */
void vitcl_clear_error(void);

#endif
