/* plugins/cpu/cpu_patch_embed.c - the cpu plugin's patch embedding: per image, the patches are
 * gathered into rows (im2col, [tokens, channels·patch·patch], threaded over tokens on the pool)
 * and multiplied by W^T straight into the output rows: by the own GEMM with the bias in its
 * epilogue (cpu_gemm_avx512.c) where linear uses it, else by cblas_sgemm and the shared bias
 * epilogue. */
#include <cblas.h>
#include <string.h>

#include "cpu_internal.h"
#include "cpu_rowwise.h"

typedef struct im2col_args {
    const float *img; /* one image [channels, height, width] */
    float *cols;      /* [gh·gw, channels·patch·patch] */
    size_t channels, height, width, patch, gw;
} im2col_args;

static void im2col_task(void *arg, size_t begin, size_t end, int thread)
{
    const im2col_args *a = arg;
    (void)thread;
    size_t pp = a->patch * a->patch, kk = a->channels * pp;
    for (size_t tok = begin; tok < end; tok++) {
        size_t r = tok / a->gw, c = tok % a->gw;
        float *dst = a->cols + tok * kk;
        for (size_t ch = 0; ch < a->channels; ch++)
            for (size_t i = 0; i < a->patch; i++)
                memcpy(dst + ch * pp + i * a->patch,
                       a->img + (ch * a->height + r * a->patch + i) * a->width + c * a->patch,
                       a->patch * sizeof(float));
    }
}

vitcl_status cpu_patch_embed(vitcl_context *ctx, const vitcl_buffer *pixels, size_t p_off,
                             const vitcl_buffer *W, size_t w_off, const vitcl_buffer *bias,
                             size_t bias_off, vitcl_buffer *Y, size_t y_off,
                             size_t y_batch_stride, size_t batch, size_t channels, size_t height,
                             size_t width, size_t patch, size_t dim)
{
    static const char op[] = "patch_embed";
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = cpu_now_ns();
    if (batch == 0 || channels == 0 || height == 0 || width == 0 || patch == 0 || dim == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "zero size (batch %zu, channels %zu, height %zu, width %zu, patch %zu, "
                        "dim %zu)",
                        batch, channels, height, width, patch, dim);
    if (height < patch || width < patch)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "image %zux%zu is smaller than one %zux%zu patch", width, height, patch,
                        patch);
    size_t gh = height / patch, gw = width / patch;
    size_t tokens, kk, img, pix_ext, w_ext, y_need;
    if (!plugin_size_mul(gh, gw, &tokens) || !plugin_size_mul(patch, patch, &kk) ||
        !plugin_size_mul(kk, channels, &kk) || !plugin_size_mul(channels, height, &img) ||
        !plugin_size_mul(img, width, &img) || !plugin_size_mul(img, batch, &pix_ext) ||
        !plugin_size_mul(dim, kk, &w_ext) || !plugin_size_mul(tokens, dim, &y_need))
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "sizes overflow");
    if (y_batch_stride < y_need)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "y_batch_stride %zu is below tokens·dim = %zu", y_batch_stride, y_need);
    size_t y_ext = plugin_size_extent(batch, y_batch_stride, tokens, dim, dim);
    const cpu_span in[3] = {{"pixels", pixels, p_off, pix_ext, 0}, {"W", W, w_off, w_ext, 0},
                            {"bias", bias, bias_off, dim, 0}};
    const cpu_span out = {"Y", Y, y_off, y_ext, 0};
    vitcl_status st = cpu_check_operands(ctx, op, &out, in, 3);
    if (st == VITCL_OK)
        st = cpu_check_blas_dims(ctx, op, tokens, dim, kk, 1);
    if (st != VITCL_OK)
        return st;
    size_t cols_floats;
    if (!plugin_size_mul(tokens, kk, &cols_floats))
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "sizes overflow");
    st = cpu_shared_reserve(ctx, op, cols_floats);
    if (st != VITCL_OK)
        return st;

    const float *w = cpu_f(W, w_off), *b = cpu_f(bias, bias_off);
    for (size_t n = 0; n < batch; n++) {
        im2col_args a = {.img = cpu_f(pixels, p_off + n * img), .cols = ctx->shared,
                         .channels = channels, .height = height, .width = width,
                         .patch = patch, .gw = gw};
        cpu_pool_run(ctx->pool, tokens, 16, im2col_task, &a);
        float *y = cpu_f(Y, y_off + n * y_batch_stride);
        if (ctx->gemm.linear) {
            st = cpu_gemm_linear(ctx, op, ctx->shared, kk, w, kk, b, y, dim, tokens, dim, kk, 0);
            if (st != VITCL_OK)
                return st;
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)tokens, (int)dim, (int)kk,
                    1.0f, ctx->shared, (int)kk, w, (int)kk, 0.0f, y, (int)dim);
        cpu_bias_gelu_rows(ctx, y, tokens, dim, dim, b, 0);
    }
    cpu_record(ctx, op, t0);
    return VITCL_OK;
}
