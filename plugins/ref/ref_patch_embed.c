/* plugins/ref/ref_patch_embed.c - the patch-embedding convolution of the reference backend
 * (kernel = stride = patch, no padding, remainder rows and columns ignored), in double. */
#include "ref_internal.h"

vitcl_status ref_patch_embed(vitcl_context *ctx, const vitcl_buffer *pixels, size_t p_off,
                             const vitcl_buffer *W, size_t w_off, const vitcl_buffer *bias,
                             size_t bias_off, vitcl_buffer *Y, size_t y_off,
                             size_t y_batch_stride, size_t batch, size_t channels, size_t height,
                             size_t width, size_t patch, size_t dim)
{
    static const char op[] = "patch_embed";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = ref_now_ns();
    const size_t sizes[] = {batch, channels, height, width, patch, dim};
    vitcl_status st =
        ref_check_sizes(ctx, op, "batch,channels,height,width,patch,dim", sizes, 6);
    if (st != VITCL_OK)
        return st;
    if (patch > height || patch > width)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "patch %zu is larger than the %zux%zu image: no tokens", patch, height,
                        width);
    size_t gh = height / patch, gw = width / patch;
    size_t image = 0, kernel = 0, tokens = 0, out_one = 0;
    if (!plugin_size_mul(channels, height, &image) || !plugin_size_mul(image, width, &image) ||
        !plugin_size_mul(channels, patch, &kernel) || !plugin_size_mul(kernel, patch, &kernel) ||
        !plugin_size_mul(gh, gw, &tokens) || !plugin_size_mul(tokens, dim, &out_one))
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "the sizes overflow");
    if (y_batch_stride < out_one)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "y_batch_stride %zu is smaller than tokens·dim = %zu·%zu", y_batch_stride,
                        tokens, dim);
    if ((st = ref_check_span(ctx, op, "pixels", pixels, p_off,
                             plugin_size_extent(batch, image, 1, image, image), 0)) ||
        (st = ref_check_span(ctx, op, "W", W, w_off, plugin_size_extent(1, 0, dim, kernel, kernel), 0)) ||
        (st = ref_check_span(ctx, op, "bias", bias, bias_off, dim, 0)) ||
        (st = ref_check_span(ctx, op, "Y", Y, y_off,
                             plugin_size_extent(batch, y_batch_stride, 1, out_one, out_one), 1)))
        return st;

    const float *px = ref_floats(pixels, p_off), *w = ref_floats(W, w_off);
    const float *bs = ref_floats(bias, bias_off);
    for (size_t b = 0; b < batch; b++) {
        const float *img = px + b * image;
        float *y = ref_floats(Y, y_off + b * y_batch_stride);
        for (size_t r = 0; r < gh; r++) {
            for (size_t c = 0; c < gw; c++) {
                for (size_t d = 0; d < dim; d++) {
                    const float *wd = w + d * kernel;
                    double acc = bs[d];
                    for (size_t ch = 0; ch < channels; ch++)
                        for (size_t i = 0; i < patch; i++)
                            for (size_t j = 0; j < patch; j++)
                                acc += (double)wd[(ch * patch + i) * patch + j] *
                                       img[(ch * height + r * patch + i) * width + c * patch + j];
                    y[(r * gw + c) * dim + d] = (float)acc;
                }
            }
        }
    }
    ref_record(ctx, op, t0);
    return VITCL_OK;
}
