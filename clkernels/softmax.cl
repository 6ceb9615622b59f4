/* clkernels/softmax.cl - row-wise softmax of scale * x with row-maximum subtraction.
 *
 * One work-group per row: a max reduction, exponentials written to y and summed, then a second
 * pass divides by the sum. y may be the same buffer and offset as x (every element is handled by
 * one work-item in every pass). Needs common.cl and reduce.cl.
 */
__kernel void softmax(__global const float *x, ulong x_off, __global float *y, ulong y_off,
                      ulong cols, float scale, __local acc_t *scratch)
{
    const size_t row = get_group_id(0);
    const size_t lid = get_local_id(0);
    const size_t lsz = get_local_size(0);
    __global const float *xr = x + x_off + row * cols;
    __global float *yr = y + y_off + row * cols;

    acc_t m = -INFINITY;
    for (size_t j = lid; j < cols; j += lsz)
        m = fmax(m, scale * xr[j]);
    m = wg_reduce_max(m, scratch);

    acc_t s = 0.0f;
    for (size_t j = lid; j < cols; j += lsz) {
        const acc_t e = exp(scale * xr[j] - m);
        yr[j] = e;
        s += e;
    }
    const acc_t inv = 1.0f / wg_reduce_sum(s, scratch);

    for (size_t j = lid; j < cols; j += lsz)
        yr[j] = yr[j] * inv;
}
