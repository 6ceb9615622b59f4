/* plugins/ref/ref_context.c - reference contexts: creation, last error, synchronize and the
 * wall-clock profiling records. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin_timing.h"
#include "ref_internal.h"

vitcl_status ref_fail(vitcl_context *ctx, vitcl_status status, const char *op, const char *fmt,
                      ...)
{
    if (ctx == NULL)
        return status;
    int n = snprintf(ctx->err, sizeof ctx->err, "%s (ref device %d): ", op, ctx->device_index);
    if (n < 0 || (size_t)n >= sizeof ctx->err)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err + n, sizeof ctx->err - (size_t)n, fmt, ap);
    va_end(ap);
    return status;
}

uint64_t ref_now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ref_record(vitcl_context *ctx, const char *op, uint64_t start_ns)
{
    if (!ctx->profiling || ctx->n_timings >= REF_PROFILE_MAX)
        return;
    vitcl_op_timing *t = &ctx->timings[ctx->n_timings++];
    t->op = op;
    t->start_ns = start_ns;
    t->end_ns = ref_now_ns();
}

vitcl_status ref_context_create(void *state, int device_index, vitcl_context **out, char *err,
                                size_t errlen)
{
    if (out == NULL || device_index != 0) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "ref: context_create: %s",
                     out == NULL ? "out is NULL" : "no such device (ref has device 0 only)");
        return out == NULL ? VITCL_ERR_INVALID_ARGUMENT : VITCL_ERR_NOT_FOUND;
    }
    vitcl_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "ref: context_create: out of memory (%zu bytes)", sizeof *ctx);
        return VITCL_ERR_OUT_OF_MEMORY;
    }
    ctx->device_index = device_index;
    ctx->max_alloc = state != NULL ? ((const ref_state *)state)->mem_bytes : 0;
    const char *ri = getenv("VITCL_REF_ROUND_INPUTS");
    ctx->round_inputs = ri != NULL && strcmp(ri, "1") == 0;
    *out = ctx;
    return VITCL_OK;
}

void ref_context_destroy(vitcl_context *ctx)
{
    free(ctx);
}

const char *ref_last_error(vitcl_context *ctx)
{
    if (ctx == NULL)
        return "ref: last_error called with a NULL context";
    return ctx->err;
}

vitcl_status ref_synchronize(vitcl_context *ctx)
{
    /* Every op ran to completion before returning: there is no queue and no deferred error. */
    return ctx == NULL ? VITCL_ERR_INVALID_ARGUMENT : VITCL_OK;
}

vitcl_status ref_profiling(vitcl_context *ctx, int enable)
{
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    ctx->profiling = enable != 0;
    return VITCL_OK;
}

size_t ref_profile_drain(vitcl_context *ctx, vitcl_op_timing *out, size_t max)
{
    if (ctx == NULL || out == NULL || max == 0)
        return 0;
    size_t n = ctx->n_timings < max ? ctx->n_timings : max;
    for (size_t i = 0; i < n; i++)
        plugin_timing_put(out, i, ctx->timings[i].op, ctx->timings[i].start_ns,
                          ctx->timings[i].end_ns);
    memmove(ctx->timings, ctx->timings + n, (ctx->n_timings - n) * sizeof *out);
    ctx->n_timings -= n;
    return n;
}
