/* clkernels/reduce.cl - work-group reductions (sum, max) for row-wise kernels.
 *
 * Every work-item of the group must call these with the same `scratch` (local memory of
 * get_local_size(0) floats); the local size must be a power of two. The result is returned to
 * every work-item, and scratch may be reused right after the call.
 */
inline acc_t wg_reduce_sum(acc_t v, __local acc_t *scratch)
{
    const size_t lid = get_local_id(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = get_local_size(0) / 2; s > 0; s >>= 1) {
        if (lid < s)
            scratch[lid] += scratch[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const acc_t r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

inline acc_t wg_reduce_max(acc_t v, __local acc_t *scratch)
{
    const size_t lid = get_local_id(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = get_local_size(0) / 2; s > 0; s >>= 1) {
        if (lid < s)
            scratch[lid] = fmax(scratch[lid], scratch[lid + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const acc_t r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}
