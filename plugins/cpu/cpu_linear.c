/* plugins/cpu/cpu_linear.c - the cpu plugin's linear op (Y = X·W^T + b, optionally GELU).
 *
 * On CPUs with AVX-512 (or with VITCL_CPU_GEMM=avx2 / own) the GEMM is the plugin's own
 * (cpu_gemm.c): it reads W where it lies (the memory-mapped checkpoint, zero copy), fuses the
 * bias and GELU into its epilogue, and does not depend on which OpenBLAS kernel
 * OPENBLAS_CORETYPE selects; with VITCL_CPU_GEMM=auto, large fp32 linears go to OpenBLAS
 * (without GELU) or oneDNN (cpu_gemm_onednn.c, bias and GELU fused) instead in the shape
 * classes where that one won the process's race (cpu_gemm_race.c); a oneDNN failure falls
 * back to the default GEMM, which overwrites Y.
 * Elsewhere (AVX2 machines by default: there OpenBLAS's Haswell/Zen
 * kernel measured 1.5-2x the own AVX2 kernels, docs/performance.md), or with
 * VITCL_CPU_GEMM=openblas, it is one cblas_sgemm over all of M (W [n,k] transposed by the
 * BLAS): Y is first filled with the broadcast bias and the sgemm runs with beta = 1, then GELU
 * is one threaded pass. (Row panels with the epilogue per panel ran 10-25% slower because
 * OpenBLAS repacks all of W for every call.)
 *
 * The plugin has no linear_pack_weight: a packed copy of W doubled the resident memory (the
 * mapped checkpoint stays resident next to the copy) and timed the same within noise with
 * OpenBLAS, and the own GEMM packs small W panels per call at a cost of 1/m of its work.
 *
 * A weight from pack_weight_host (ABI 1.1, cpu_pack_host.c; flag VITCL_LINEAR_PACKED_W) is
 * W [n,k] in fp32, bf16 or fp16 (bf16 in the AMX tile layout where AMX runs it). fp32 runs as
 * above. A bf16 W on the own GEMM with AVX512-BF16 or AMX is multiplied in bf16, X rounded to
 * bf16 except for fused-QKV shapes (cpu_gemm_bf16_x_for, VITCL_CPU_BF16): on the own bf16
 * kernels, or, for a row-major bf16 W (not the AMX layout) with X rounded, on oneDNN's bf16
 * matmul where the bf16 race gave oneDNN the shape class (VITCL_CPU_GEMM=onednn: always;
 * cpu_onednn_linear_bf16, the own kernels when it fails).
 * Otherwise a 16-bit W is widened to fp32 and the products run in fp32 (X is
 * not rounded), on oneDNN where an fp32 W of that shape class runs there (its race's winner,
 * or forced), which widens each chunk of rows into its thread's scratch (cpu_gemm_onednn.c),
 * else on the context's default: the own GEMM widens the rows it packs anyway
 * (cpu_gemm_linear_fmt), and the OpenBLAS path widens W in blocks of rows into ctx->wide, a
 * block sized to a quarter of L3 (so OpenBLAS reads it back from cache), one sgemm per block
 * into Y's columns of that block. Widening a block costs one pass over it, which the block's
 * 2·m FLOPs per element hide (docs/performance.md, "Reduced-precision weights").
 */
#include <cblas.h>

#include "cpu_half.h"
#include "cpu_internal.h"
#include "cpu_rowwise.h"

typedef struct widen_args {
    const uint16_t *w;
    uint32_t fmt;
    size_t k;
    float *dst;
} widen_args;

/* Rows [begin, end) of the block at w into dst. */
static void widen_task(void *arg, size_t begin, size_t end, int thread)
{
    const widen_args *a = arg;
    (void)thread;
    cpu_half_widen(a->w + begin * a->k, a->fmt, a->dst + begin * a->k, (end - begin) * a->k);
}

/* Rows of W per widened block: a quarter of L3 in fp32, a multiple of 16 rows, at least 16. */
static size_t wide_rows(const vitcl_context *ctx, size_t n, size_t k)
{
    cpu_caches caches;
    if (ctx->gemm.isa)
        caches = ctx->gemm.caches;
    else
        cpu_cache_sizes(&caches);
    size_t rows = caches.l3 / 4 / (k * sizeof(float)) / 16 * 16;
    rows = rows < 16 ? 16 : rows;
    return rows < n ? rows : n;
}

/* Y = X·W^T (+ Y when accumulate) with W [n,k] in 16-bit `fmt`, by OpenBLAS on widened blocks
 * of W's rows; ctx->wide must hold wide_rows(ctx, n, k)·k floats. */
static void blas_on_half(vitcl_context *ctx, const float *x, const uint16_t *w, uint32_t fmt,
                         float *y, size_t m, size_t n, size_t k, int accumulate)
{
    size_t rows = wide_rows(ctx, n, k);
    widen_args a = {.fmt = fmt, .k = k, .dst = ctx->wide};
    for (size_t j0 = 0; j0 < n; j0 += rows) {
        size_t nb = n - j0 < rows ? n - j0 : rows;
        a.w = w + j0 * k;
        cpu_pool_run(ctx->pool, nb, (nb + 15) / 16, widen_task, &a);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)nb, (int)k, 1.0f, x,
                    (int)k, ctx->wide, (int)k, accumulate ? 1.0f : 0.0f, y + j0, (int)n);
    }
}

void cpu_linear_openblas(vitcl_context *ctx, const float *x, const float *w, const float *bias,
                         float *y, size_t m, size_t n, size_t k)
{
    if (bias)
        cpu_fill_rows(ctx, y, m, n, bias);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, x, (int)k,
                w, (int)k, bias ? 1.0f : 0.0f, y, (int)n);
}

/* Checks a packed W (pack_weight_host) against the call: flag, shape and offset. */
static vitcl_status check_packed(vitcl_context *ctx, const char *op, const vitcl_buffer *W,
                                 size_t w_off, size_t n, size_t k, uint32_t flags)
{
    if (!W)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "W is NULL");
    if (W->owner != ctx)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "W (buffer '%s') belongs to another context", W->label);
    if (!(flags & VITCL_LINEAR_PACKED_W) && W->packed)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "W (buffer '%s') is a packed weight: pass VITCL_LINEAR_PACKED_W",
                        W->label);
    if (!(flags & VITCL_LINEAR_PACKED_W))
        return VITCL_OK;
    if (!W->packed)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "flag VITCL_LINEAR_PACKED_W but W (buffer '%s') was not made by "
                        "pack_weight_host",
                        W->label);
    if (w_off != 0 || W->rows != n || W->cols != k)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "packed W (buffer '%s') is [%zu, %zu] at offset 0, called as [%zu, %zu] "
                        "at offset %zu",
                        W->label, W->rows, W->cols, n, k, w_off);
    return VITCL_OK;
}

vitcl_status cpu_linear(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                        const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b, size_t b_off,
                        vitcl_buffer *Y, size_t y_off, size_t m, size_t n, size_t k,
                        uint32_t flags)
{
    static const char op[] = "linear";
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = cpu_now_ns();
    if (m == 0 || n == 0 || k == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "zero size (m %zu, n %zu, k %zu)", m,
                        n, k);
    if (flags & ~(uint32_t)(VITCL_LINEAR_GELU | VITCL_LINEAR_PACKED_W))
        return cpu_fail(ctx, VITCL_ERR_UNSUPPORTED, op, "unknown flags 0x%x", (unsigned)flags);
    vitcl_status st = check_packed(ctx, op, W, w_off, n, k, flags);
    if (st != VITCL_OK)
        return st;
    int packed = (flags & VITCL_LINEAR_PACKED_W) != 0;
    size_t x_ext = plugin_size_extent(1, 0, m, k, k), w_ext = plugin_size_extent(1, 0, n, k, k);
    size_t y_ext = plugin_size_extent(1, 0, m, n, n);
    if (packed) /* all of it (a whole number of floats, cpu_pack_host.c), its shape checked */
        w_ext = W->bytes / sizeof(float);
    const cpu_span in[3] = {{"X", X, x_off, x_ext, 0}, {"W", W, w_off, w_ext, 0},
                            {"b", b, b_off, n, 1}};
    const cpu_span out = {"Y", Y, y_off, y_ext, 0};
    st = cpu_check_operands(ctx, op, &out, in, 3);
    if (st == VITCL_OK) /* after the span checks: sizes that fit their buffers but not an int */
        st = cpu_check_blas_dims(ctx, op, m, n, k, 1);
    if (st != VITCL_OK)
        return st;

    const float *x = cpu_f(X, x_off), *w = cpu_f(W, w_off);
    const float *bias = b ? cpu_f(b, b_off) : NULL;
    float *y = cpu_f(Y, y_off);
    int gelu = (flags & VITCL_LINEAR_GELU) != 0;
    uint32_t fmt = !packed ? VITCL_PRECISION_FP32 : W->amx ? CPU_WFMT_BF16_AMX : W->precision;
    if (fmt == VITCL_PRECISION_BF16) /* decides how bf16 linears run, once per process */
        cpu_gemm_race_bf16(ctx, m, n, k);
    /* How a row-major bf16 W takes X (CPU_BF16_X_*): widened where the CPU has no bf16
     * kernels. */
    int bx = fmt != VITCL_PRECISION_BF16 ? 0
             : ctx->gemm.bf16           ? cpu_gemm_bf16_x_for(&ctx->gemm, m, n, k, gelu)
                                        : CPU_BF16_X_WIDEN;
    /* fp32: the GEMM that won this shape class's race (cpu_gemm_race.c), or the forced one. A
     * 16-bit W that is widened to fp32 (not multiplied in bf16) goes to oneDNN where that won
     * (or is forced), else to the context's default, as the bf16 race timed it. */
    int deflt = ctx->gemm.linear ? CPU_PATH_OWN : CPU_PATH_BLAS, path = deflt;
    if (fmt == VITCL_PRECISION_FP32) {
        path = cpu_gemm_race_pick(ctx, m, n, k, gelu);
    } else if (fmt == VITCL_PRECISION_FP16 || bx == CPU_BF16_X_WIDEN) {
        path = cpu_gemm_race_pick(ctx, m, n, k, gelu) == CPU_PATH_DNNL ? CPU_PATH_DNNL : deflt;
    }
    /* bf16 products (X rounded) on a row-major bf16 W: oneDNN's where the bf16 race gave it
     * the class (or VITCL_CPU_GEMM=onednn), else the own kernels below; a failure falls back
     * to them as for fp32. */
    if (bx == CPU_BF16_X_ROUND && ctx->gemm.linear &&
        cpu_gemm_race_bf16_dnnl(&ctx->gemm, m, n, k)) {
        if (cpu_onednn_linear_bf16(ctx, op, x, (const uint16_t *)(const void *)w, bias, y, m, n,
                                   k, gelu) == VITCL_OK) {
            cpu_record(ctx, op, t0);
            return VITCL_OK;
        }
        ctx->err[0] = '\0';
    }
    if (path == CPU_PATH_DNNL) {
        /* On a oneDNN failure the default GEMM overwrites Y; the call then succeeds, so the
         * failure's message does not stay in ctx as if it were this call's. */
        if (cpu_onednn_linear(ctx, op, x, w, fmt, bias, y, m, n, k, gelu) == VITCL_OK) {
            cpu_record(ctx, op, t0);
            return VITCL_OK;
        }
        ctx->err[0] = '\0';
        path = deflt;
    }
    if (ctx->gemm.linear && path == CPU_PATH_OWN) {
        st = cpu_gemm_linear_fmt(ctx, op, x, k, w, fmt, k, bias, y, n, m, n, k, gelu);
        if (st == VITCL_OK)
            cpu_record(ctx, op, t0);
        return st;
    }
    if (fmt != VITCL_PRECISION_FP32) { /* before Y is touched */
        st = cpu_wide_reserve(ctx, op, wide_rows(ctx, n, k) * k);
        if (st != VITCL_OK)
            return st;
    }
    /* Y starts as the broadcast bias and beta = 1 adds the product to it (or beta = 0
     * overwrites it); GELU is one threaded pass afterwards. */
    if (fmt == VITCL_PRECISION_FP32) {
        cpu_linear_openblas(ctx, x, w, bias, y, m, n, k);
    } else {
        if (bias)
            cpu_fill_rows(ctx, y, m, n, bias);
        blas_on_half(ctx, x, (const uint16_t *)(const void *)W->data, fmt, y, m, n, k,
                     bias != NULL);
    }
    if (gelu)
        cpu_bias_gelu_rows(ctx, y, m, n, n, NULL, 1);
    cpu_record(ctx, op, t0);
    return VITCL_OK;
}
