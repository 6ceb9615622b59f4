/* plugins/cpu/cpu_context.c - per-context services of the cpu plugin: the last-error message,
 * per-op wall-clock profiling and the scratch memory ops use. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_internal.h"

vitcl_status cpu_fail(vitcl_context *ctx, vitcl_status status, const char *op, const char *fmt,
                      ...)
{
    if (!ctx)
        return status;
    int used = snprintf(ctx->err, sizeof ctx->err, "%s (cpu device %d): ", op,
                        ctx->device_index);
    if (used < 0)
        used = 0;
    if ((size_t)used < sizeof ctx->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->err + used, sizeof ctx->err - (size_t)used, fmt, ap);
        va_end(ap);
    }
    return status;
}

uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cpu_record(vitcl_context *ctx, const char *op, uint64_t start_ns)
{
    if (!ctx->profiling || ctx->n_timings >= CPU_PROFILE_MAX)
        return;
    vitcl_op_timing *t = &ctx->timings[ctx->n_timings++];
    t->op = op;
    t->start_ns = start_ns;
    t->end_ns = cpu_now_ns();
}

/* 64-byte aligned allocation of `floats` floats, or NULL (also on size overflow). */
static float *alloc_floats(size_t floats)
{
    size_t bytes;
    if (!plugin_size_mul(floats, sizeof(float), &bytes) || bytes > SIZE_MAX - CPU_ALIGN)
        return NULL;
    bytes = (bytes + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;
    return aligned_alloc(CPU_ALIGN, bytes ? bytes : CPU_ALIGN);
}

vitcl_status cpu_scratch_reserve(vitcl_context *ctx, const char *op, size_t floats)
{
    for (int t = 0; t < ctx->nthreads; t++) {
        cpu_scratch *s = &ctx->scratch[t];
        if (s->floats >= floats)
            continue;
        float *p = alloc_floats(floats);
        if (!p)
            return cpu_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, op,
                            "cannot allocate %zu floats of scratch for thread %d", floats, t);
        free(s->data);
        s->data = p;
        s->floats = floats;
        s->tag_call = 0;
    }
    return VITCL_OK;
}

/* Makes *buf (holding *have floats) hold at least `floats`; contents are not kept. */
static vitcl_status grow(vitcl_context *ctx, const char *op, float **buf, size_t *have,
                         size_t floats)
{
    if (*have >= floats)
        return VITCL_OK;
    float *p = alloc_floats(floats);
    if (!p)
        return cpu_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, op, "cannot allocate %zu floats of scratch",
                        floats);
    free(*buf);
    *buf = p;
    *have = floats;
    return VITCL_OK;
}

vitcl_status cpu_shared_reserve(vitcl_context *ctx, const char *op, size_t floats)
{
    return grow(ctx, op, &ctx->shared, &ctx->shared_floats, floats);
}

vitcl_status cpu_packed_x_reserve(vitcl_context *ctx, const char *op, size_t floats)
{
    return grow(ctx, op, &ctx->packed_x, &ctx->packed_x_floats, floats);
}

vitcl_status cpu_wide_reserve(vitcl_context *ctx, const char *op, size_t floats)
{
    return grow(ctx, op, &ctx->wide, &ctx->wide_floats, floats);
}
