/* clkernels/bias_gelu.cl - GELU (erf form) and the bias + optional GELU epilogue of linear.
 *
 * gelu(x) = 0.5 * x * (1 + erf(x / sqrt(2))), with OpenCL's erf. Both kernels are elementwise
 * and may run in place (y == x). Needs common.cl.
 */
inline real gelu_erf(real v)
{
    return (real)0.5f * v * ((real)1.0f + erf(v * (real)M_SQRT1_2_F));
}

/* y[i] = act(x[i] + bias[i mod cols]) over `total` elements of a [rows, cols] matrix, added to
 * y[i] when add_y (linear's VITCL_LINEAR_RESIDUAL); x may be y (in place) unless add_y. */
__kernel void bias_act(__global const float *x, ulong x_off, __global float *y, ulong y_off,
                       __global const float *bias, ulong b_off, ulong cols, ulong total,
                       int has_bias, int apply_gelu, int add_y)
{
    const size_t i = get_global_id(0);
    if (i >= total)
        return;
    real v = LOAD(x, x_off + i);
    if (has_bias)
        v += LOAD(bias, b_off + i % cols);
    if (apply_gelu)
        v = gelu_erf(v);
    if (add_y)
        v = LOAD(y, y_off + i) + v;
    STORE(y, y_off + i, v);
}

/* y[i] = gelu(x[i]) for i < n. */
__kernel void gelu(__global const float *x, ulong x_off, __global float *y, ulong y_off, ulong n)
{
    const size_t i = get_global_id(0);
    if (i >= n)
        return;
    STORE(y, y_off + i, gelu_erf(LOAD(x, x_off + i)));
}
