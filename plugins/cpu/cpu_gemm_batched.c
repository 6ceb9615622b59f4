/* plugins/cpu/cpu_gemm_batched.c - the cpu plugin's gemm_batched op: one cblas_sgemm per batch
 * entry with the caller's leading dimensions (OpenBLAS 0.3.21 has no cblas_sgemm_batch), each
 * threaded by OpenBLAS. beta == 0 never reads C: C is cleared first, so NaN in C cannot leak
 * through a BLAS that computes 0·C. */
#include <cblas.h>
#include <string.h>

#include "cpu_internal.h"

vitcl_status cpu_gemm_batched(vitcl_context *ctx, int trans_a, int trans_b, size_t m, size_t n,
                              size_t k, float alpha, const vitcl_buffer *A, size_t a_off,
                              size_t lda, size_t stride_a, const vitcl_buffer *B, size_t b_off,
                              size_t ldb, size_t stride_b, float beta, vitcl_buffer *C,
                              size_t c_off, size_t ldc, size_t stride_c, size_t batch)
{
    static const char op[] = "gemm_batched";
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = cpu_now_ns();
    if (m == 0 || n == 0 || k == 0 || batch == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "zero size (m %zu, n %zu, k %zu, batch %zu)", m, n, k, batch);
    /* Stored shapes: A is [m,k] or, transposed, [k,m]; B is [k,n] or [n,k]; C is [m,n]. */
    size_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
    size_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
    if (lda < a_cols || ldb < b_cols || ldc < n)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "leading dimension too small (lda %zu < %zu, ldb %zu < %zu or ldc %zu "
                        "< %zu)",
                        lda, a_cols, ldb, b_cols, ldc, n);
    size_t a_ext = plugin_size_extent(batch, stride_a, a_rows, lda, a_cols);
    size_t b_ext = plugin_size_extent(batch, stride_b, b_rows, ldb, b_cols);
    size_t c_ext = plugin_size_extent(batch, stride_c, m, ldc, n);
    const cpu_span in[2] = {{"A", A, a_off, a_ext, 0}, {"B", B, b_off, b_ext, 0}};
    const cpu_span out = {"C", C, c_off, c_ext, 0};
    vitcl_status st = cpu_check_operands(ctx, op, &out, in, 2);
    if (st == VITCL_OK) /* after the span checks: sizes that fit their buffers but not an int */
        st = cpu_check_blas_dims(ctx, op, m, n, k, lda);
    if (st == VITCL_OK)
        st = cpu_check_blas_dims(ctx, op, ldb, ldc, 1, 1);
    if (st != VITCL_OK)
        return st;

    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    for (size_t p = 0; p < batch; p++) {
        const float *a = cpu_f(A, a_off + p * stride_a);
        const float *bm = cpu_f(B, b_off + p * stride_b);
        float *c = cpu_f(C, c_off + p * stride_c);
        if (beta == 0.0f)
            for (size_t i = 0; i < m; i++)
                memset(c + i * ldc, 0, n * sizeof(float));
        cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, alpha, a, (int)lda, bm,
                    (int)ldb, beta, c, (int)ldc);
    }
    cpu_record(ctx, op, t0);
    return VITCL_OK;
}
