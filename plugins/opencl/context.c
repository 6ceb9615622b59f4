/* plugins/opencl/context.c - contexts: OpenCL context and queue, programs, self-check, stats.
 *
 * context_create makes a cl_context and an in-order queue on the device, builds (or loads from
 * the disk cache) every program, then runs the self-check (selfcheck.c) unless this device and
 * driver already passed it. Queues start without profiling; profiling.c swaps in a profiling
 * queue only when asked, so the cost stays off by default.
 *
 * VITCL_CL_STATS_FILE: when set, context_destroy appends one line
 *   "opencl device=<name> builds=N cache_hits=N cache_rejected=N gemm=<choice>
 *    attention=rows|tiled selfcheck=ran|cached|skipped
 *    tuning=ran|cached|forced|not run gemm_bf16=<choice> tuning_bf16=... gemm_fp16=<choice>
 *    tuning_fp16=... precisions=fp32[,bf16][,fp16] clblast=usable|unusable|unchecked
 *    [ faults=build:N,cl_alloc:N,cl_enqueue:N injected=N]"
 * so a test can see whether a process compiled programs or loaded them from the cache; the
 * faults field (calls counted by fault_inject.h) is there only while VITCL_FAULT_INJECT names a
 * plugin kind. clblast= is the self-check's verdict on CLBlast (unchecked when the self-check was
 * skipped); where it is unusable, "clblast unusable: <reason>" follows in quotes as note="...".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ocl.h"

static size_t pow2_floor(size_t v)
{
    size_t p = 1;
    while (p * 2 <= v)
        p *= 2;
    return p;
}

vitcl_status ocl_context_create(void *state, int device_index, vitcl_context **out, char *err,
                                size_t errlen)
{
    ocl_state *st = state;
    if (!st || !out || device_index < 0 || device_index >= st->count) {
        snprintf(err, errlen, "opencl: no device %d (the plugin has %d)", device_index,
                 st ? st->count : 0);
        return VITCL_ERR_NOT_FOUND;
    }
    vitcl_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(err, errlen, "opencl: out of memory creating a context");
        return VITCL_ERR_OUT_OF_MEMORY;
    }
    ctx->dev = &st->devices[device_index];
    ctx->dev_refused = &st->refused[device_index];
    for (int f = 0; f < OCL_W_COUNT; f++)
        ctx->wtuning[f] = "not run";
    ocl_fault_init(&ctx->fault);
    ctx->stats.selfcheck = "not run";
    ctx->gemm_tuning = "not run";

    vitcl_status s = VITCL_OK;
    cl_int e = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                     (cl_context_properties)ctx->dev->platform, 0};
    ctx->cl = clCreateContext(props, 1, &ctx->dev->id, NULL, NULL, &e);
    if (!ctx->cl || e != CL_SUCCESS) {
        s = ocl_fail_cl(ctx, "context_create", "clCreateContext", e);
        goto fail;
    }
    ctx->queue = clCreateCommandQueue(ctx->cl, ctx->dev->id, 0, &e);
    if (!ctx->queue || e != CL_SUCCESS) {
        s = ocl_fail_cl(ctx, "context_create", "clCreateCommandQueue", e);
        goto fail;
    }
    ctx->max_wg = ctx->dev->max_wg;
    ctx->local_mem = ctx->dev->local_mem;
    ctx->limits_note = "";
    const char *lim_g = getenv("VITCL_CL_LIMIT_GROUP"), *lim_l = getenv("VITCL_CL_LIMIT_LOCAL");
    unsigned long long lim;
    if (lim_g && (lim = strtoull(lim_g, NULL, 10)) > 0 && lim < ctx->max_wg) {
        ctx->max_wg = (size_t)lim;
        ctx->limits_note = " (lowered by VITCL_CL_LIMIT_GROUP)";
    }
    if (lim_l && (lim = strtoull(lim_l, NULL, 10)) > 0 && lim < ctx->local_mem) {
        ctx->local_mem = lim;
        ctx->limits_note = " (lowered by VITCL_CL_LIMIT_LOCAL)";
    }
    size_t wg = ctx->max_wg < 256 ? ctx->max_wg : 256;
    while (wg > 1 && wg * sizeof(float) > ctx->local_mem / 2)
        wg /= 2;
    ctx->row_wg = pow2_floor(wg);

    ctx->cache_usable = ocl_cache_dir(ctx->cache_dir, sizeof ctx->cache_dir);
    if ((s = ocl_clblast_mode_init(ctx)) != VITCL_OK || (s = ocl_programs_build(ctx)) != VITCL_OK)
        goto fail;
    if ((s = ocl_attention_choose(ctx)) != VITCL_OK)
        goto fail;
    if ((s = ocl_selfcheck(ctx)) != VITCL_OK)
        goto fail;
    ctx->err[0] = '\0';
    *out = ctx;
    return VITCL_OK;

fail:
    snprintf(err, errlen, "%s", ctx->err);
    ocl_context_destroy(ctx);
    return s;
}

static void write_stats(const vitcl_context *ctx)
{
    const char *path = getenv("VITCL_CL_STATS_FILE");
    if (!path || !*path)
        return;
    char line[1600], faults[160];
    ocl_fault_describe(&ctx->fault, faults, sizeof faults);
    int n = snprintf(line, sizeof line,
                     "opencl device=%s builds=%u cache_hits=%u cache_rejected=%u gemm=%s "
                     "attention=%s selfcheck=%s tuning=%s gemm_bf16=%s tuning_bf16=%s "
                     "gemm_fp16=%s tuning_fp16=%s precisions=fp32%s%s clblast=%s%s%s%s%s%s "
                     "subgroups=\"%s\"\n",
                     ctx->dev->info.name, ctx->stats.builds, ctx->stats.cache_hits,
                     ctx->stats.cache_rejected, ocl_gemm_choice_name(ctx),
                     !ctx->att_tiled ? "rows" : ctx->att_sg ? "tiled+subgroups" : "tiled",
                     ctx->stats.selfcheck, ctx->gemm_tuning,
                     ocl_gemm_choice_name_fmt(ctx, OCL_W_BF16), ctx->wtuning[OCL_W_BF16],
                     ocl_gemm_choice_name_fmt(ctx, OCL_W_F16), ctx->wtuning[OCL_W_F16],
                     ctx->prec_refused & VITCL_PRECISION_BIT(VITCL_PRECISION_BF16) ? "" : ",bf16",
                     ctx->prec_refused & VITCL_PRECISION_BIT(VITCL_PRECISION_FP16) ? "" : ",fp16",
                     ctx->clblast_unusable                 ? "unusable"
                     : !strcmp(ctx->stats.selfcheck, "ran") ||
                             !strcmp(ctx->stats.selfcheck, "cached")
                         ? "usable"
                         : "unchecked",
                     faults[0] ? " faults=" : "", faults,
                     ctx->clblast_unusable ? " note=\"" : "", ctx->clblast_note,
                     ctx->clblast_unusable ? "\"" : "",
                     ctx->att_sg ? ctx->dev->subgroups : ctx->sg_note);
    if (n <= 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    /* One write with O_APPEND: lines of concurrent processes do not interleave. */
    ssize_t w = write(fd, line, len);
    (void)w;
    close(fd);
}

void ocl_context_destroy(vitcl_context *ctx)
{
    if (!ctx)
        return;
    if (ctx->queue)
        clFinish(ctx->queue);
    write_stats(ctx);
    ocl_prof_clear(ctx);
    free(ctx->timings);
    ocl_gemm_release(ctx);
    ocl_scratch_release(ctx);
    ocl_programs_release(ctx);
    if (ctx->queue)
        clReleaseCommandQueue(ctx->queue);
    if (ctx->cl)
        clReleaseContext(ctx->cl);
    free(ctx);
}

const char *ocl_last_error(vitcl_context *ctx)
{
    return ctx ? ctx->err : "";
}

vitcl_status ocl_synchronize(vitcl_context *ctx)
{
    cl_int e = clFinish(ctx->queue);
    if (e != CL_SUCCESS)
        return ocl_fail_cl(ctx, "synchronize", "clFinish", e);
    return VITCL_OK;
}
