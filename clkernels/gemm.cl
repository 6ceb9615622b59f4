/* clkernels/gemm.cl - linear for CPU-like devices: Y = X * W^T + b, optional GELU, with W packed.
 *
 * pack_w_panels rewrites W [n, k] (row-major, as PyTorch stores nn.Linear weights) into panels of
 * GEMM_PANEL = 32 output columns, k-major: wp[(j * k + t) * 32 + c] = W[j * 32 + c, t], zero for
 * columns past n. gemm_packed then gives each work-item a tile of GEMM_MB rows x 32 columns held
 * in 2 * GEMM_MB float16 registers: per step t it loads 32 weights as two vectors and multiplies
 * them by GEMM_MB scalars of X (broadcast), so no local memory and no barriers are needed (both
 * are slow on PoCL) and the compiler keeps the whole tile in vector registers. Bias and GELU are
 * applied to the registers before the one store (no second pass over Y); with add_y the store
 * adds the result to the Y already there (the residual add of linear's VITCL_LINEAR_RESIDUAL).
 *
 * The panels hold wstore_t (common.cl): fp32, or 16-bit weights widened by WLOAD16 as they are
 * read (build option VITCL_WEIGHT_FP16 / VITCL_WEIGHT_BF16); the arithmetic is fp32 either way.
 *
 * GEMM_MB (rows per work-item) is a build option: 4, 6, 8 or 12; the plugin builds one program per
 * value and picks one per device by timing (gemm_tune.c). Launch with local size (1, 1) and
 * global size (ceil(n / 32), ceil(m / GEMM_MB)). Without GEMM_MB only pack_w_panels is compiled.
 * Needs common.cl.
 */
#define GEMM_PANEL 32

/* One work-item per (t, panel j): the 32 weights of columns j*32.. at step t. */
__kernel void pack_w_panels(__global const float *w, ulong w_off, __global float *wp, uint n,
                            uint k)
{
    const size_t t = get_global_id(0), j = get_global_id(1);
    if (t >= k)
        return;
    __global float *dst = wp + (j * k + t) * GEMM_PANEL;
    for (uint c = 0; c < GEMM_PANEL; c++) {
        const size_t col = j * GEMM_PANEL + c;
        dst[c] = col < n ? w[w_off + col * k + t] : 0.0f;
    }
}

#ifdef GEMM_MB
#if GEMM_MB == 4
#define GEMM_ROWS(X) X(0) X(1) X(2) X(3)
#elif GEMM_MB == 6
#define GEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#elif GEMM_MB == 8
#define GEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#elif GEMM_MB == 12
#define GEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#else
#error "GEMM_MB must be 4, 6, 8 or 12"
#endif

/* Adds the bias, applies GELU when asked and stores the first `cols` (<= 32) values of a row,
 * added to the row's values when add_y (after the bias and GELU). */
inline void gemm_store_row(__global float *dst, float16 lo, float16 hi, float16 blo, float16 bhi,
                           uint cols, int apply_gelu, int add_y)
{
    lo += blo;
    hi += bhi;
    if (apply_gelu) {
        lo = 0.5f * lo * (1.0f + erf(lo * M_SQRT1_2_F));
        hi = 0.5f * hi * (1.0f + erf(hi * M_SQRT1_2_F));
    }
    if (cols == GEMM_PANEL) {
        if (add_y) {
            lo = vload16(0, dst) + lo;
            hi = vload16(1, dst) + hi;
        }
        vstore16(lo, 0, dst);
        vstore16(hi, 1, dst);
        return;
    }
    float t[GEMM_PANEL];
    vstore16(lo, 0, t);
    vstore16(hi, 1, t);
    for (uint c = 0; c < cols; c++)
        dst[c] = add_y ? dst[c] + t[c] : t[c];
}

__kernel void gemm_packed(__global const float *x, ulong x_off, __global const wstore_t *wp,
                          __global const float *bias, ulong b_off, __global float *y, ulong y_off,
                          uint m, uint n, uint k, int has_bias, int apply_gelu, int add_y)
{
    const size_t j = get_global_id(0), i = get_global_id(1);
    const size_t m0 = i * GEMM_MB, n0 = j * GEMM_PANEL;
    if (m0 >= m || n0 >= n)
        return;
    __global const wstore_t *wa = wp + j * (size_t)k * GEMM_PANEL;
    /* Rows past m repeat the last row (valid memory); their results are never stored. */
#define GEMM_DECL(r)                                                                            \
    float16 lo##r = 0.0f, hi##r = 0.0f;                                                         \
    __global const float *x##r = x + x_off + min(m0 + r, (size_t)m - 1) * k;
    GEMM_ROWS(GEMM_DECL)
    for (uint t = 0; t < k; t++) {
        const float16 w0 = WLOAD16(2 * t, wa), w1 = WLOAD16(2 * t + 1, wa);
#define GEMM_STEP(r)                                                                            \
    {                                                                                           \
        const float16 xb = (float16)(x##r[t]);                                                  \
        lo##r = fma(xb, w0, lo##r);                                                             \
        hi##r = fma(xb, w1, hi##r);                                                             \
    }
        GEMM_ROWS(GEMM_STEP)
    }
    const uint cols = (uint)min((size_t)GEMM_PANEL, n - n0);
    float16 blo = 0.0f, bhi = 0.0f;
    if (has_bias) {
        if (cols == GEMM_PANEL) {
            blo = vload16(0, bias + b_off + n0);
            bhi = vload16(1, bias + b_off + n0);
        } else {
            float t[GEMM_PANEL];
            for (uint c = 0; c < GEMM_PANEL; c++)
                t[c] = c < cols ? bias[b_off + n0 + c] : 0.0f;
            blo = vload16(0, t);
            bhi = vload16(1, t);
        }
    }
    __global float *yr = y + y_off + m0 * n + n0;
#define GEMM_OUT(r)                                                                             \
    if (m0 + r < m)                                                                             \
        gemm_store_row(yr + (size_t)r * n, lo##r, hi##r, blo, bhi, cols, apply_gelu, add_y);
    GEMM_ROWS(GEMM_OUT)
}
#endif
