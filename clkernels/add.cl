/* clkernels/add.cl - elementwise add with a broadcast period: y[i] = a[i] + b[i mod period].
 *
 * period == n is the residual add; period < n broadcasts b (position embeddings over a batch).
 * y may be the same buffer and offset as a. Needs common.cl.
 */
__kernel void add_bcast(__global const float *a, ulong a_off, __global const float *b,
                        ulong b_off, __global float *y, ulong y_off, ulong n, ulong period)
{
    const size_t i = get_global_id(0);
    if (i >= n)
        return;
    STORE(y, y_off + i, LOAD(a, a_off + i) + LOAD(b, b_off + i % period));
}
