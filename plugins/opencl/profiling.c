/* plugins/opencl/profiling.c - per-op timings from OpenCL event timestamps.
 *
 * Off by default: ops then pass no event to the driver. profiling(ctx, 1) finishes the queue
 * and replaces it by one created with CL_QUEUE_PROFILING_ENABLE (when the device offers it);
 * every op then keeps the events of its first and last enqueue, and profile_drain reads their
 * CL_PROFILING_COMMAND_START / _END (device nanoseconds). At most OCL_MAX_TIMINGS records are
 * kept; later ones are dropped until drained.
 */
#include <stdlib.h>

#include "plugin_timing.h"
#include "ocl.h"

static vitcl_status swap_queue(vitcl_context *ctx, int profiling)
{
    if (ctx->queue_profiling == profiling)
        return VITCL_OK;
    cl_int e = clFinish(ctx->queue);
    if (e != CL_SUCCESS)
        return ocl_fail_cl(ctx, "profiling", "clFinish", e);
    cl_command_queue q = clCreateCommandQueue(
        ctx->cl, ctx->dev->id, profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &e);
    if (!q || e != CL_SUCCESS)
        return ocl_fail_cl(ctx, "profiling", "clCreateCommandQueue", e);
    clReleaseCommandQueue(ctx->queue);
    ctx->queue = q;
    ctx->queue_profiling = profiling;
    return VITCL_OK;
}

vitcl_status ocl_profiling(vitcl_context *ctx, int enable)
{
    if (enable && !ctx->dev->profiling_ok)
        return ocl_fail(ctx, VITCL_ERR_UNSUPPORTED,
                        "opencl profiling on %s: the device has no queue profiling",
                        ctx->dev->info.name);
    vitcl_status s = swap_queue(ctx, enable ? 1 : 0);
    if (s != VITCL_OK)
        return s;
    ctx->profiling = enable ? 1 : 0;
    return VITCL_OK;
}

cl_event *ocl_prof_event(vitcl_context *ctx)
{
    if (!ctx->profiling)
        return NULL;
    ctx->prof_tmp = NULL;
    return &ctx->prof_tmp;
}

void ocl_prof_step(vitcl_context *ctx)
{
    if (!ctx->profiling || !ctx->prof_tmp)
        return;
    if (!ctx->prof_first) {
        ctx->prof_first = ctx->prof_tmp;
    } else {
        if (ctx->prof_last)
            clReleaseEvent(ctx->prof_last);
        ctx->prof_last = ctx->prof_tmp;
    }
    ctx->prof_tmp = NULL;
}

static void drop_pending(vitcl_context *ctx)
{
    if (ctx->prof_first)
        clReleaseEvent(ctx->prof_first);
    if (ctx->prof_last)
        clReleaseEvent(ctx->prof_last);
    if (ctx->prof_tmp)
        clReleaseEvent(ctx->prof_tmp);
    ctx->prof_first = ctx->prof_last = ctx->prof_tmp = NULL;
}

void ocl_prof_end(vitcl_context *ctx, const char *op)
{
    if (!ctx->prof_first) {
        drop_pending(ctx);
        return;
    }
    if (ctx->n_timings == ctx->cap_timings) {
        size_t cap = ctx->cap_timings ? ctx->cap_timings * 2 : 256;
        ocl_timing_rec *t = NULL;
        if (ctx->cap_timings < OCL_MAX_TIMINGS) {
            if (cap > OCL_MAX_TIMINGS)
                cap = OCL_MAX_TIMINGS;
            t = realloc(ctx->timings, cap * sizeof *t);
        }
        if (!t) {
            drop_pending(ctx);
            return;
        }
        ctx->timings = t;
        ctx->cap_timings = cap;
    }
    ocl_timing_rec *r = &ctx->timings[ctx->n_timings++];
    r->op = op;
    r->first = ctx->prof_first;
    r->last = ctx->prof_last;
    ctx->prof_first = ctx->prof_last = NULL;
}

size_t ocl_profile_drain(vitcl_context *ctx, vitcl_op_timing *out, size_t max)
{
    size_t n = ctx->n_timings < max ? ctx->n_timings : max;
    size_t moved = 0;
    for (size_t i = 0; i < n; i++) {
        ocl_timing_rec *r = &ctx->timings[i];
        cl_ulong t0 = 0, t1 = 0;
        cl_event last = r->last ? r->last : r->first;
        cl_int e1 = clGetEventProfilingInfo(r->first, CL_PROFILING_COMMAND_START, sizeof t0,
                                            &t0, NULL);
        cl_int e2 =
            clGetEventProfilingInfo(last, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        if (e1 == CL_SUCCESS && e2 == CL_SUCCESS && out) {
            plugin_timing_put(out, moved, r->op, t0, t1 >= t0 ? t1 : t0);
            moved++;
        }
        clReleaseEvent(r->first);
        if (r->last)
            clReleaseEvent(r->last);
    }
    for (size_t i = n; i < ctx->n_timings; i++)
        ctx->timings[i - n] = ctx->timings[i];
    ctx->n_timings -= n;
    return moved;
}

void ocl_prof_clear(vitcl_context *ctx)
{
    drop_pending(ctx);
    for (size_t i = 0; i < ctx->n_timings; i++) {
        clReleaseEvent(ctx->timings[i].first);
        if (ctx->timings[i].last)
            clReleaseEvent(ctx->timings[i].last);
    }
    ctx->n_timings = 0;
}
