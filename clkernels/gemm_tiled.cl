/* clkernels/gemm_tiled.cl - linear for GPU-like devices: Y = X * W^T + b, optional GELU, on the
 * panel-packed W of gemm.cl (wp[(j * k + t) * 32 + c] = W[j * 32 + c, t], zero past n).
 *
 * A work-group of GT_LX x GT_LY items (build options; 8 x 8 = 64 or 16 x 16 = 256) computes a
 * block of GT_BM = 4 * GT_LY rows x GT_BN = 4 * GT_LX columns. Per step of GT_KT = 16 values of k
 * the group copies the X block (GT_BM x 16) and the W block (16 x GT_BN) into local memory, one
 * barrier, then each item accumulates its 4 x 4 register tile (rows ly + GT_LY * r, columns
 * lx + GT_LX * c, so neighbouring items read neighbouring local words), one barrier. Bias and
 * GELU are applied to the registers before the one store, which adds the result to the Y
 * already there when add_y (linear's VITCL_LINEAR_RESIDUAL). Private memory: 16 accumulators plus 8
 * operands per item; local memory: 16 * (GT_BM + 1 + GT_BN) floats.
 *
 * The panels hold wstore_t (common.cl: fp32, or 16-bit weights widened to float as they are
 * copied into local memory).
 *
 * Launch with local size (GT_LX, GT_LY) exactly and global size
 * (ceil(n / GT_BN) * GT_LX, ceil(m / GT_BM) * GT_LY). Needs common.cl and gemm.cl (GEMM_PANEL).
 */
#if !defined(GT_LX) || !defined(GT_LY)
#error "gemm_tiled.cl needs -DGT_LX and -DGT_LY"
#endif
#define GT_TM 4
#define GT_TN 4
#define GT_KT 16
#define GT_BM (GT_LY * GT_TM)
#define GT_BN (GT_LX * GT_TN)
#define GT_ITEMS (GT_LX * GT_LY)

__kernel __attribute__((reqd_work_group_size(GT_LX, GT_LY, 1))) void
gemm_tiled(__global const float *x, ulong x_off, __global const wstore_t *wp,
           __global const float *bias, ulong b_off, __global float *y, ulong y_off, uint m,
           uint n, uint k, int has_bias, int apply_gelu, int add_y)
{
    __local float xs[GT_KT][GT_BM + 1];
    __local float ws[GT_KT][GT_BN];
    const uint lx = get_local_id(0), ly = get_local_id(1);
    const uint lid = ly * GT_LX + lx;
    const size_t n0 = get_group_id(0) * GT_BN, m0 = get_group_id(1) * GT_BM;
    const size_t packed_n = ((size_t)n + GEMM_PANEL - 1) / GEMM_PANEL * GEMM_PANEL;
    float acc[GT_TM][GT_TN];
    for (int r = 0; r < GT_TM; r++)
        for (int c = 0; c < GT_TN; c++)
            acc[r][c] = 0.0f;

    for (uint k0 = 0; k0 < k; k0 += GT_KT) {
        for (uint e = lid; e < GT_BM * GT_KT; e += GT_ITEMS) {
            const uint r = e / GT_KT, kk = e % GT_KT;
            const size_t row = m0 + r;
            const uint t = k0 + kk;
            xs[kk][r] = row < m && t < k ? x[x_off + row * k + t] : 0.0f;
        }
        for (uint e = lid; e < GT_BN * GT_KT; e += GT_ITEMS) {
            const uint kk = e / GT_BN, c = e % GT_BN;
            const size_t col = n0 + c;
            const uint t = k0 + kk;
            ws[kk][c] = col < packed_n && t < k
                            ? WLOAD(wp, ((col / GEMM_PANEL) * k + t) * GEMM_PANEL + col % GEMM_PANEL)
                            : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < GT_KT; kk++) {
            float a[GT_TM], b[GT_TN];
            for (int r = 0; r < GT_TM; r++)
                a[r] = xs[kk][ly + GT_LY * r];
            for (int c = 0; c < GT_TN; c++)
                b[c] = ws[kk][lx + GT_LX * c];
            for (int r = 0; r < GT_TM; r++)
                for (int c = 0; c < GT_TN; c++)
                    acc[r][c] = fma(a[r], b[c], acc[r][c]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int r = 0; r < GT_TM; r++) {
        const size_t row = m0 + ly + GT_LY * r;
        if (row >= m)
            continue;
        for (int c = 0; c < GT_TN; c++) {
            const size_t col = n0 + lx + GT_LX * c;
            if (col >= n)
                continue;
            float v = acc[r][c] + (has_bias ? bias[b_off + col] : 0.0f);
            if (apply_gelu)
                v = 0.5f * v * (1.0f + erf(v * M_SQRT1_2_F));
            __global float *dst = y + y_off + row * n + col;
            *dst = add_y ? *dst + v : v;
        }
    }
}
