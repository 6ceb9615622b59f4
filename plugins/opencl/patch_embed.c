/* plugins/opencl/patch_embed.c - the patch embedding op (kernels in patch_embed.cl).
 *
 * Unless the context runs its GEMMs through CLBlast (gemm_tune.c), patch_embed is a GEMM: the
 * patches are unfolded into a scratch matrix [batch * tokens, channels * patch^2], the weight is
 * packed into 32-column panels in a second scratch buffer (about 3 MB for ViT-L, each call: the
 * ABI gives patch_embed no packed weight) and gemm_packed adds the bias per image at
 * y_batch_stride. In CLBlast mode the direct one-work-item-per-output kernel runs instead.
 */
#include <stdint.h>

#include "ocl.h"

/* The GEMM path; arguments already checked (every size fits the kernels' 32-bit ones). */
static vitcl_status patch_gemm(vitcl_context *ctx, const vitcl_buffer *pixels, size_t p_off,
                               const vitcl_buffer *W, size_t w_off, const vitcl_buffer *bias,
                               size_t bias_off, vitcl_buffer *Y, size_t y_off,
                               size_t y_batch_stride, size_t batch, size_t channels,
                               size_t height, size_t width, size_t patch, size_t dim)
{
    const char *op = "patch_embed";
    size_t gw = width / patch, ntok = (height / patch) * gw, kdim = channels * patch * patch;
    size_t rows, total, xbytes, panels = dim / OCL_GEMM_PANEL + (dim % OCL_GEMM_PANEL != 0),
                            wbytes;
    if (!plugin_size_mul(ntok, batch, &rows) || !plugin_size_mul(rows, kdim, &total) ||
        !plugin_size_mul(total, sizeof(float), &xbytes) ||
        !plugin_size_mul(panels * OCL_GEMM_PANEL, kdim, &wbytes) ||
        !plugin_size_mul(wbytes, sizeof(float), &wbytes) || kdim > UINT32_MAX || rows > UINT32_MAX)
        return ocl_fail(ctx, VITCL_ERR_LIMIT, "opencl patch_embed on %s: sizes overflow",
                        ctx->dev->info.name);
    cl_mem xcol, wp;
    vitcl_status s;
    if ((s = ocl_scratch(ctx, OCL_SCRATCH_PATCH, xbytes, op, "unfolded patches", &xcol)) !=
            VITCL_OK ||
        (s = ocl_scratch(ctx, OCL_SCRATCH_PATCH_W, wbytes, op, "packed patch weight", &wp)) !=
            VITCL_OK)
        return s;
    cl_ulong po = p_off, tot = total;
    cl_uint ch = (cl_uint)channels, hh = (cl_uint)height, ww = (cl_uint)width,
            pa = (cl_uint)patch, gwu = (cl_uint)gw, nt = (cl_uint)ntok;
    ocl_args a;
    ocl_args_begin(&a, ctx->kernels[OCL_K_PATCH_UNFOLD]);
    OCL_ARG(&a, pixels->mem);
    OCL_ARG(&a, po);
    OCL_ARG(&a, xcol);
    OCL_ARG(&a, tot);
    OCL_ARG(&a, ch);
    OCL_ARG(&a, hh);
    OCL_ARG(&a, ww);
    OCL_ARG(&a, pa);
    OCL_ARG(&a, gwu);
    OCL_ARG(&a, nt);
    if ((s = ocl_launch_1d(ctx, op, &a, OCL_K_PATCH_UNFOLD, total)) != VITCL_OK ||
        (s = ocl_pack_panels_mem(ctx, op, W->mem, w_off, dim, kdim, wp)) != VITCL_OK)
        return s;
    /* Stack views of the scratch buffers for the GEMM launcher. */
    vitcl_buffer xv = {.mem = xcol, .bytes = xbytes}, wv = {.mem = wp, .bytes = wbytes};
    ocl_kernel_id kernel = ctx->gemm_mode == OCL_GEMM_PANELS ? ctx->gemm_kernel : OCL_K_GEMM_MB8;
    if (y_batch_stride == ntok * dim || batch == 1)
        return ocl_linear_panels(ctx, kernel, &xv, 0, &wv, bias, bias_off, Y, y_off, rows, dim,
                                 kdim, 0);
    for (size_t b = 0; b < batch; b++)
        if ((s = ocl_linear_panels(ctx, kernel, &xv, b * ntok * kdim, &wv, bias, bias_off, Y,
                                   y_off + b * y_batch_stride, ntok, dim, kdim, 0)) != VITCL_OK)
            return s;
    return VITCL_OK;
}

vitcl_status ocl_patch_embed(vitcl_context *ctx, const vitcl_buffer *pixels, size_t p_off,
                             const vitcl_buffer *W, size_t w_off, const vitcl_buffer *bias,
                             size_t bias_off, vitcl_buffer *Y, size_t y_off,
                             size_t y_batch_stride, size_t batch, size_t channels, size_t height,
                             size_t width, size_t patch, size_t dim)
{
    const char *op = "patch_embed";
    if (batch == 0 || channels == 0 || patch == 0 || dim == 0 || height < patch ||
        width < patch)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl patch_embed on %s: invalid shape (batch=%zu channels=%zu "
                        "%zux%zu patch=%zu dim=%zu)",
                        ctx->dev->info.name, batch, channels, height, width, patch, dim);
    size_t gh = height / patch, gw = width / patch, ntok, plane, npix, pp, nw, tokdim, total,
           ny;
    if (!plugin_size_mul(gh, gw, &ntok) || !plugin_size_mul(height, width, &plane) ||
        !plugin_size_mul(plane, channels, &npix) || !plugin_size_mul(npix, batch, &npix) ||
        !plugin_size_mul(patch, patch, &pp) || !plugin_size_mul(pp, channels, &nw) || !plugin_size_mul(nw, dim, &nw) ||
        !plugin_size_mul(ntok, dim, &tokdim) || !plugin_size_mul(tokdim, batch, &total) ||
        !plugin_size_mul(batch - 1, y_batch_stride, &ny) || ny > SIZE_MAX - tokdim ||
        channels > UINT32_MAX || height > UINT32_MAX || width > UINT32_MAX ||
        dim > UINT32_MAX || ntok > UINT32_MAX)
        return ocl_fail(ctx, VITCL_ERR_LIMIT, "opencl patch_embed on %s: sizes overflow",
                        ctx->dev->info.name);
    if (y_batch_stride < tokdim && batch > 1)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl patch_embed on %s: y_batch_stride %zu < tokens*dim %zu",
                        ctx->dev->info.name, y_batch_stride, tokdim);
    ny += tokdim;
    vitcl_status s;
    if ((s = ocl_check_range(ctx, op, "pixels", pixels, p_off, npix)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "W", W, w_off, nw)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "bias", bias, bias_off, dim)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "Y", Y, y_off, ny)) != VITCL_OK)
        return s;
    if (ctx->gemm_mode != OCL_GEMM_CLBLAST)
        return patch_gemm(ctx, pixels, p_off, W, w_off, bias, bias_off, Y, y_off, y_batch_stride,
                          batch, channels, height, width, patch, dim);
    cl_ulong po = p_off, wo = w_off, bo = bias_off, yo = y_off, ys = y_batch_stride, tot = total;
    cl_uint ch = (cl_uint)channels, hh = (cl_uint)height, ww = (cl_uint)width,
            pa = (cl_uint)patch, dd = (cl_uint)dim, gwu = (cl_uint)gw, nt = (cl_uint)ntok;
    ocl_args a;
    ocl_args_begin(&a, ctx->kernels[OCL_K_PATCH_EMBED]);
    OCL_ARG(&a, pixels->mem);
    OCL_ARG(&a, po);
    OCL_ARG(&a, W->mem);
    OCL_ARG(&a, wo);
    OCL_ARG(&a, bias->mem);
    OCL_ARG(&a, bo);
    OCL_ARG(&a, Y->mem);
    OCL_ARG(&a, yo);
    OCL_ARG(&a, ys);
    OCL_ARG(&a, tot);
    OCL_ARG(&a, ch);
    OCL_ARG(&a, hh);
    OCL_ARG(&a, ww);
    OCL_ARG(&a, pa);
    OCL_ARG(&a, dd);
    OCL_ARG(&a, gwu);
    OCL_ARG(&a, nt);
    return ocl_launch_1d(ctx, op, &a, OCL_K_PATCH_EMBED, total);
}
