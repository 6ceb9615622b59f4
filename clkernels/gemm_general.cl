/* clkernels/gemm_general.cl - a plain strided batched GEMM with an optional bias + GELU epilogue:
 * vitcl's own path for what CLBlast does where CLBlast is unusable on a device (selfcheck.c):
 * gemm_batched, and linear on an unpacked W (Y = X * W^T + b is the case trans_b = 1, alpha = 1,
 * beta = 0, batch = 1).
 *
 * For p < batch: C_p = alpha * op(A_p) * op(B_p) + beta * C_p, row-major with leading dimensions,
 * op(X) = X^T when trans_X (backend.h, gemm_batched). When beta == 0, C is not read. Then, per
 * column j, bias[bias_off + j] is added when has_bias and GELU (erf form) applied when
 * apply_gelu; with add_y (linear's VITCL_LINEAR_RESIDUAL, beta == 0) the result is then added to
 * the C already there.
 *
 * Each work-item computes a GG_T x GG_T tile of C in registers and reads A and B straight from
 * global memory: no local memory and no barriers, so it runs with any work-group size and on any
 * local memory size (the devices where CLBlast's tuned kernels fail are often those with small
 * limits). Correctness first: this path runs only where CLBlast cannot.
 *
 * Launch: global (ceil(n / GG_T) rounded up to the group, ceil(m / GG_T), batch), any local size
 * of the form (g, 1, 1). Needs common.cl (M_SQRT1_2_F).
 */
#define GG_T 4

__kernel void gemm_general(__global const float *a, ulong a_off, ulong lda, ulong stride_a,
                           __global const float *b, ulong b_off, ulong ldb, ulong stride_b,
                           __global float *c, ulong c_off, ulong ldc, ulong stride_c, uint m,
                           uint n, uint k, int trans_a, int trans_b, float alpha, float beta,
                           __global const float *bias, ulong bias_off, int has_bias,
                           int apply_gelu, int add_y)
{
    const size_t j0 = get_global_id(0) * GG_T, i0 = get_global_id(1) * GG_T;
    const size_t p = get_global_id(2);
    if (i0 >= m || j0 >= n)
        return;
    /* Element (i, t) of op(A) is a[i * a_i + t * a_t]; element (t, j) of op(B) is
     * b[t * b_t + j * b_j]. */
    const size_t a_i = trans_a ? 1 : lda, a_t = trans_a ? lda : 1;
    const size_t b_t = trans_b ? 1 : ldb, b_j = trans_b ? ldb : 1;
    __global const float *ap = a + a_off + p * stride_a;
    __global const float *bp = b + b_off + p * stride_b;
    /* Rows and columns past the edge repeat the last one (valid memory); never stored. */
    size_t ai[GG_T], bj[GG_T];
    for (int r = 0; r < GG_T; r++) {
        ai[r] = min(i0 + r, (size_t)m - 1) * a_i;
        bj[r] = min(j0 + r, (size_t)n - 1) * b_j;
    }
    float acc[GG_T][GG_T];
    for (int r = 0; r < GG_T; r++)
        for (int q = 0; q < GG_T; q++)
            acc[r][q] = 0.0f;
    for (uint t = 0; t < k; t++) {
        float av[GG_T], bv[GG_T];
        for (int r = 0; r < GG_T; r++) {
            av[r] = ap[ai[r] + t * a_t];
            bv[r] = bp[t * b_t + bj[r]];
        }
        for (int r = 0; r < GG_T; r++)
            for (int q = 0; q < GG_T; q++)
                acc[r][q] = fma(av[r], bv[q], acc[r][q]);
    }
    __global float *cp = c + c_off + p * stride_c;
    for (int r = 0; r < GG_T; r++) {
        const size_t i = i0 + r;
        if (i >= m)
            break;
        for (int q = 0; q < GG_T; q++) {
            const size_t j = j0 + q;
            if (j >= n)
                break;
            float v = alpha * acc[r][q];
            if (beta != 0.0f)
                v = fma(beta, cp[i * ldc + j], v);
            if (has_bias)
                v += bias[bias_off + j];
            if (apply_gelu)
                v = 0.5f * v * (1.0f + erf(v * M_SQRT1_2_F));
            cp[i * ldc + j] = add_y ? cp[i * ldc + j] + v : v;
        }
    }
}
