/* host/common/error.c - thread-local error messages and status names. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "vitcl/vitcl.h"

#define VITCL_ERRMSG_MAX 4096

static _Thread_local char tls_message[VITCL_ERRMSG_MAX];

vitcl_status vitcl_fail(vitcl_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_message, sizeof tls_message, fmt, ap);
    va_end(ap);
    vitcl_defuse_controls(tls_message); /* names from files must not drive the terminal */
    return status;
}

vitcl_status vitcl_fail_prefix(vitcl_status status, const char *fmt, ...)
{
    char old[VITCL_ERRMSG_MAX];
    memcpy(old, tls_message, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tls_message, sizeof tls_message, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof tls_message)
        snprintf(tls_message + n, sizeof tls_message - (size_t)n, "%s", old);
    vitcl_defuse_controls(tls_message);
    return status;
}

void vitcl_clear_error(void)
{
    tls_message[0] = '\0';
}

const char *vitcl_last_error(void)
{
    return tls_message;
}

const char *vitcl_status_name(vitcl_status status)
{
    switch (status) {
    case VITCL_OK: return "VITCL_OK";
    case VITCL_ERR_INVALID_ARGUMENT: return "VITCL_ERR_INVALID_ARGUMENT";
    case VITCL_ERR_OUT_OF_MEMORY: return "VITCL_ERR_OUT_OF_MEMORY";
    case VITCL_ERR_IO: return "VITCL_ERR_IO";
    case VITCL_ERR_FORMAT: return "VITCL_ERR_FORMAT";
    case VITCL_ERR_UNSUPPORTED: return "VITCL_ERR_UNSUPPORTED";
    case VITCL_ERR_NOT_FOUND: return "VITCL_ERR_NOT_FOUND";
    case VITCL_ERR_PLUGIN: return "VITCL_ERR_PLUGIN";
    case VITCL_ERR_DEVICE: return "VITCL_ERR_DEVICE";
    case VITCL_ERR_LIMIT: return "VITCL_ERR_LIMIT";
    case VITCL_ERR_INTERNAL: return "VITCL_ERR_INTERNAL";
    }
    return "VITCL_ERR_UNKNOWN";
}
