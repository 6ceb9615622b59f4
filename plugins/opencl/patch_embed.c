/* plugins/opencl/patch_embed.c - the patch embedding op (kernel in patch_embed.cl). */
#include <stdint.h>

#include "ocl.h"

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
    if (!ocl_mul_ok(gh, gw, &ntok) || !ocl_mul_ok(height, width, &plane) ||
        !ocl_mul_ok(plane, channels, &npix) || !ocl_mul_ok(npix, batch, &npix) ||
        !ocl_mul_ok(patch, patch, &pp) || !ocl_mul_ok(pp, channels, &nw) || !ocl_mul_ok(nw, dim, &nw) ||
        !ocl_mul_ok(ntok, dim, &tokdim) || !ocl_mul_ok(tokdim, batch, &total) ||
        !ocl_mul_ok(batch - 1, y_batch_stride, &ny) || ny > SIZE_MAX - tokdim ||
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
