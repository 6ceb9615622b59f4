/* plugins/cpu/cpu_linear.c - the cpu plugin's linear op (Y = X·W^T + b, optionally GELU).
 *
 * On CPUs with AVX-512 (or with VITCL_CPU_GEMM=avx2 / own) the GEMM is the plugin's own
 * (cpu_gemm.c): it reads W where it lies (the memory-mapped checkpoint, zero copy), fuses the
 * bias and GELU into its epilogue, and does not depend on which OpenBLAS kernel
 * OPENBLAS_CORETYPE selects. Elsewhere (AVX2 machines by default: there OpenBLAS's Haswell/Zen
 * kernel measured 1.5-2x the own AVX2 kernels, docs/performance.md), or with
 * VITCL_CPU_GEMM=openblas, it is one cblas_sgemm over all of M (W [n,k] transposed by the
 * BLAS): Y is first filled with the broadcast bias and the sgemm runs with beta = 1, then GELU
 * is one threaded pass. (Row panels with the epilogue per panel ran 10-25% slower because
 * OpenBLAS repacks all of W for every call.)
 *
 * The plugin has no linear_pack_weight: a packed copy of W doubled the resident memory (the
 * mapped checkpoint stays resident next to the copy) and timed the same within noise with
 * OpenBLAS, and the own GEMM packs small W panels per call at a cost of 1/m of its work.
 */
#include <cblas.h>

#include "cpu_internal.h"
#include "cpu_rowwise.h"

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
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "unknown flags 0x%x",
                        (unsigned)flags);
    if (flags & VITCL_LINEAR_PACKED_W)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "flag VITCL_LINEAR_PACKED_W: this backend has no linear_pack_weight, so "
                        "no packed weights exist");
    vitcl_status st;
    size_t x_ext = plugin_size_extent(1, 0, m, k, k), w_ext = plugin_size_extent(1, 0, n, k, k);
    size_t y_ext = plugin_size_extent(1, 0, m, n, n);
    st = cpu_check_span(ctx, op, "X", X, x_off, x_ext, 0);
    if (st == VITCL_OK)
        st = cpu_check_span(ctx, op, "W", W, w_off, w_ext, 0);
    if (st == VITCL_OK && b)
        st = cpu_check_span(ctx, op, "b", b, b_off, n, 0);
    if (st == VITCL_OK)
        st = cpu_check_span(ctx, op, "Y", Y, y_off, y_ext, 1);
    if (st == VITCL_OK)
        st = cpu_check_disjoint(ctx, op, "Y and X", Y, y_off, y_ext, X, x_off, x_ext);
    if (st == VITCL_OK)
        st = cpu_check_disjoint(ctx, op, "Y and W", Y, y_off, y_ext, W, w_off, w_ext);
    if (st == VITCL_OK && b)
        st = cpu_check_disjoint(ctx, op, "Y and b", Y, y_off, y_ext, b, b_off, n);
    if (st == VITCL_OK) /* after the span checks: sizes that fit their buffers but not an int */
        st = cpu_check_blas_dims(ctx, op, m, n, k, 1);
    if (st != VITCL_OK)
        return st;

    const float *x = cpu_f(X, x_off), *w = cpu_f(W, w_off);
    const float *bias = b ? cpu_f(b, b_off) : NULL;
    float *y = cpu_f(Y, y_off);
    int gelu = (flags & VITCL_LINEAR_GELU) != 0;
    if (ctx->gemm.linear) {
        st = cpu_gemm_linear(ctx, op, x, k, w, k, bias, y, n, m, n, k, gelu);
        if (st == VITCL_OK)
            cpu_record(ctx, op, t0);
        return st;
    }
    /* Y starts as the broadcast bias and beta = 1 adds the product to it (or beta = 0
     * overwrites it); GELU is one threaded pass afterwards. */
    if (bias)
        cpu_fill_rows(ctx, y, m, n, bias);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, x, (int)k,
                w, (int)k, bias ? 1.0f : 0.0f, y, (int)n);
    if (gelu)
        cpu_bias_gelu_rows(ctx, y, m, n, n, NULL, 1);
    cpu_record(ctx, op, t0);
    return VITCL_OK;
}
