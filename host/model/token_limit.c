/* host/model/token_limit.c - see token_limit.h. */
#include "token_limit.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "error.h"

vitcl_status vitcl_max_tokens(size_t *out)
{
    *out = VITCL_DEFAULT_MAX_TOKENS;
    const char *env = getenv("VITCL_MAX_TOKENS");
    if (!env || !*env)
        return VITCL_OK;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(env, &end, 10);
    if (errno || *end || v == 0 || env[0] == '-' || v > SIZE_MAX)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                          "VITCL_MAX_TOKENS=\"%.32s\" is not a positive integer", env);
    *out = (size_t)v;
    return VITCL_OK;
}

vitcl_status vitcl_check_tokens(size_t gh, size_t gw, const char *what)
{
    size_t max;
    vitcl_status st = vitcl_max_tokens(&max);
    if (st != VITCL_OK)
        return st;
    /* gh, gw < 2^32 in practice; compare without forming a product that could wrap */
    if (gw != 0 && gh > (max - 1) / gw)
        return vitcl_fail(VITCL_ERR_LIMIT,
                          "%s: a %zux%zu patch grid is %.0f tokens with CLS, more than the token "
                          "limit of %zu (set VITCL_MAX_TOKENS to raise it; attention time and "
                          "memory grow with the square of the tokens)",
                          what, gh, gw, (double)gh * (double)gw + 1.0, max);
    return VITCL_OK;
}
