/* clkernels/patch_embed.cl - ViT patch embedding: a convolution with kernel = stride = patch.
 *
 * One work-item per output value (image b, token n = r * gw + c, feature d), decoded from a 1-D
 * global id. Remainder rows and columns (beyond gh * patch, gw * patch) are never read. Needs
 * common.cl.
 */
__kernel void patch_embed(__global const float *px, ulong p_off, __global const float *w,
                          ulong w_off, __global const float *bias, ulong bias_off,
                          __global float *y, ulong y_off, ulong y_batch_stride, ulong total,
                          uint channels, uint height, uint width, uint patch, uint dim, uint gw,
                          uint ntok)
{
    const size_t gid = get_global_id(0);
    if (gid >= total)
        return;
    const size_t d = gid % dim;
    const size_t n = (gid / dim) % ntok;
    const size_t b = gid / ((size_t)dim * ntok);
    const size_t r = n / gw, c = n % gw;

    acc_t s = 0.0f;
    __global const float *wd = w + w_off + d * (size_t)channels * patch * patch;
    for (uint ch = 0; ch < channels; ch++) {
        __global const float *plane =
            px + p_off + (b * channels + ch) * (size_t)height * width + r * patch * (size_t)width +
            c * patch;
        __global const float *wc = wd + (size_t)ch * patch * patch;
        for (uint i = 0; i < patch; i++)
            for (uint j = 0; j < patch; j++)
                s += wc[i * patch + j] * plane[(size_t)i * width + j];
    }
    y[y_off + b * y_batch_stride + n * dim + d] = s + bias[bias_off + d];
}

/* Unfolds patches for the GEMM path: row (b * ntok + n) of xcol holds the patch of token n of
 * image b in the weight's order (channel, row, column), so patch_embed becomes
 * Y = xcol * W^T + bias with W [dim, channels * patch * patch]. One work-item per element. */
__kernel void patch_unfold(__global const float *px, ulong p_off, __global float *xcol,
                           ulong total, uint channels, uint height, uint width, uint patch,
                           uint gw, uint ntok)
{
    const size_t gid = get_global_id(0);
    if (gid >= total)
        return;
    const size_t kdim = (size_t)channels * patch * patch;
    const size_t e = gid % kdim, row = gid / kdim;
    const size_t n = row % ntok, b = row / ntok;
    const size_t ch = e / ((size_t)patch * patch), i = (e / patch) % patch, j = e % patch;
    const size_t r = n / gw, c = n % gw;
    xcol[gid] = px[p_off + ((b * channels + ch) * height + r * patch + i) * (size_t)width +
                   c * patch + j];
}
