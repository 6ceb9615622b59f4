/* host/model/precision.c - vitcl_precision_name, vitcl_precision_parse and the list form. */
#include "precision.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "escape.h"
#include "vitcl/vitcl.h"

static const char *const names[VITCL_PRECISION_COUNT_] = {
    [VITCL_PRECISION_FP32] = "fp32",
    [VITCL_PRECISION_BF16] = "bf16",
    [VITCL_PRECISION_FP16] = "fp16",
};

const char *vitcl_precision_name(int precision)
{
    if (precision < 0 || precision >= VITCL_PRECISION_COUNT_)
        return NULL;
    return names[precision];
}

char *vitcl_precision_list(uint32_t bits, char *buf, size_t len)
{
    if (!len)
        return buf;
    buf[0] = '\0';
    bits |= VITCL_PRECISION_BIT(VITCL_PRECISION_FP32);
    size_t o = 0;
    for (int p = 0; p < VITCL_PRECISION_COUNT_ && o < len; p++)
        if (bits & VITCL_PRECISION_BIT(p)) {
            int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", names[p]);
            if (w < 0)
                break;
            o += (size_t)w;
        }
    return buf;
}

vitcl_status vitcl_precision_parse(const char *name, int *out)
{
    char valid[32];
    vitcl_precision_list(VITCL_PRECISION_BIT(VITCL_PRECISION_COUNT_) - 1u, valid, sizeof valid);
    if (!name || !out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_precision_parse: NULL argument");
    for (int p = 0; p < VITCL_PRECISION_COUNT_; p++)
        if (!strcmp(name, names[p])) {
            *out = p;
            return VITCL_OK;
        }
    char shown[40];
    vitcl_escape(shown, sizeof shown, name, strlen(name));
    return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "unknown precision '%s' (valid: %s)", shown,
                      valid);
}
