/* clkernels/layernorm.cl - row-wise LayerNorm (PyTorch nn.LayerNorm semantics).
 *
 * One work-group per row; two passes over the row (mean, then the biased variance of x - mean),
 * each finished by a work-group reduction. y may be the same buffer and offset as x: every
 * element is read and written by the same work-item, after both reductions.
 * Needs common.cl and reduce.cl.
 */
__kernel void layernorm(__global const float *x, ulong x_off, __global const float *gamma,
                        ulong g_off, __global const float *beta, ulong b_off, __global float *y,
                        ulong y_off, ulong cols, float eps, __local acc_t *scratch)
{
    const size_t row = get_group_id(0);
    const size_t lid = get_local_id(0);
    const size_t lsz = get_local_size(0);
    __global const float *xr = x + x_off + row * cols;
    __global float *yr = y + y_off + row * cols;
    __global const float *g = gamma + g_off;
    __global const float *b = beta + b_off;

    acc_t s = 0.0f;
    for (size_t j = lid; j < cols; j += lsz)
        s += xr[j];
    const acc_t mean = wg_reduce_sum(s, scratch) / (acc_t)cols;

    acc_t v = 0.0f;
    for (size_t j = lid; j < cols; j += lsz) {
        const acc_t d = xr[j] - mean;
        v += d * d;
    }
    const acc_t var = wg_reduce_sum(v, scratch) / (acc_t)cols;
    const acc_t inv = 1.0f / sqrt(var + eps);

    for (size_t j = lid; j < cols; j += lsz) {
        const real n = (real)((xr[j] - mean) * inv);
        STORE(yr, j, n * LOAD(g, j) + LOAD(b, j));
    }
}
