/* plugins/opencl/gemm_general.c - vitcl's own GEMM for what CLBlast does, where it cannot.
 *
 * When the self-check finds CLBlast unusable on a device (wrong results or failed calls;
 * selfcheck.c), linear on an unpacked W and gemm_batched run the gemm_general kernel
 * (clkernels/gemm_general.cl) instead: one launch per call, batches in the third dimension, the
 * bias and GELU of linear in its epilogue. The self-check checks this path on every device, so
 * it is known good before it is needed.
 *
 * The arguments are checked here the way the ABI states them (backend.h): leading dimensions at
 * least the stored row width and every addressed element inside its buffer, since unlike CLBlast
 * the kernel does no bounds checking of its own.
 */
#include <stdint.h>

#include "ocl.h"

vitcl_status ocl_gemm_general(vitcl_context *ctx, const char *op, int trans_a, int trans_b,
                              size_t m, size_t n, size_t k, float alpha, const vitcl_buffer *A,
                              size_t a_off, size_t lda, size_t stride_a, const vitcl_buffer *B,
                              size_t b_off, size_t ldb, size_t stride_b, float beta,
                              vitcl_buffer *C, size_t c_off, size_t ldc, size_t stride_c,
                              size_t batch, const vitcl_buffer *bias, size_t bias_off,
                              uint32_t epi)
{
    const char *dev = ctx->dev->info.name;
    if ((epi & VITCL_LINEAR_RESIDUAL) && beta != 0.0f)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl %s on %s: a residual add needs beta 0 (got %g)", op, dev,
                        (double)beta);
    if (!A || !B || !C || m == 0 || n == 0 || k == 0 || batch == 0)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl %s on %s: invalid arguments (m=%zu n=%zu k=%zu batch=%zu)", op,
                        dev, m, n, k, batch);
    if (m > UINT32_MAX || n > UINT32_MAX || k > UINT32_MAX)
        return ocl_fail(ctx, VITCL_ERR_LIMIT,
                        "opencl %s on %s: m=%zu n=%zu k=%zu exceed gemm_general's 32-bit sizes", op,
                        dev, m, n, k);
    size_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
    size_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
    if (lda < a_cols || ldb < b_cols || ldc < n)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl %s on %s: leading dimension too small (lda %zu < %zu, ldb %zu < "
                        "%zu or ldc %zu < %zu)",
                        op, dev, lda, a_cols, ldb, b_cols, ldc, n);
    size_t a_ext = plugin_size_extent(batch, stride_a, a_rows, lda, a_cols);
    size_t b_ext = plugin_size_extent(batch, stride_b, b_rows, ldb, b_cols);
    size_t c_ext = plugin_size_extent(batch, stride_c, m, ldc, n);
    if (a_ext == 0 || b_ext == 0 || c_ext == 0)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl %s on %s: the extent of A, B or C overflows size_t", op, dev);
    vitcl_status s;
    if ((s = ocl_check_range(ctx, op, "A", A, a_off, a_ext)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "B", B, b_off, b_ext)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "C", C, c_off, c_ext)) != VITCL_OK ||
        (bias && (s = ocl_check_range(ctx, op, "bias", bias, bias_off, n)) != VITCL_OK))
        return s;
    enum { T = 4 }; /* GG_T in gemm_general.cl */
    size_t local[3] = {ctx->group[OCL_K_GEMM_GEN], 1, 1};
    size_t global[3] = {ocl_round_up(n / T + (n % T != 0), local[0]), m / T + (m % T != 0), batch};
    cl_ulong ao = a_off, ald = lda, asd = stride_a, bo = b_off, bld = ldb, bsd = stride_b;
    cl_ulong co = c_off, cld = ldc, csd = stride_c, biaso = bias_off;
    cl_uint mm = (cl_uint)m, nn = (cl_uint)n, kk = (cl_uint)k;
    cl_int ta = trans_a != 0, tb = trans_b != 0, has_bias = bias != NULL;
    cl_int act = (epi & VITCL_LINEAR_GELU) != 0, add_y = (epi & VITCL_LINEAR_RESIDUAL) != 0;
    cl_mem bmem = bias ? bias->mem : C->mem; /* unused when has_bias == 0 */
    ocl_args a;
    ocl_args_begin(&a, ctx->kernels[OCL_K_GEMM_GEN]);
    OCL_ARG(&a, A->mem);
    OCL_ARG(&a, ao);
    OCL_ARG(&a, ald);
    OCL_ARG(&a, asd);
    OCL_ARG(&a, B->mem);
    OCL_ARG(&a, bo);
    OCL_ARG(&a, bld);
    OCL_ARG(&a, bsd);
    OCL_ARG(&a, C->mem);
    OCL_ARG(&a, co);
    OCL_ARG(&a, cld);
    OCL_ARG(&a, csd);
    OCL_ARG(&a, mm);
    OCL_ARG(&a, nn);
    OCL_ARG(&a, kk);
    OCL_ARG(&a, ta);
    OCL_ARG(&a, tb);
    OCL_ARG(&a, alpha);
    OCL_ARG(&a, beta);
    OCL_ARG(&a, bmem);
    OCL_ARG(&a, biaso);
    OCL_ARG(&a, has_bias);
    OCL_ARG(&a, act);
    OCL_ARG(&a, add_y);
    return ocl_launch(ctx, op, &a, 3, global, local);
}

vitcl_status ocl_linear_general(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b,
                                size_t b_off, vitcl_buffer *Y, size_t y_off, size_t m, size_t n,
                                size_t k, uint32_t epi)
{
    /* Y [m,n] = X [m,k] * (W [n,k])^T: B is W transposed, ldb = k. */
    return ocl_gemm_general(ctx, "linear", 0, 1, m, n, k, 1.0f, X, x_off, k, 0, W, w_off, k, 0,
                            0.0f, Y, y_off, n, 0, 1, b, b_off, epi);
}
