/* plugins/opencl/gemm_packed.c - linear_pack_weight and linear on panel-packed weights.
 *
 * In OCL_GEMM_PANELS mode (chosen per device by gemm_tune.c) a weight W [n,k] is rewritten once
 * at load into 32-column k-major panels (pack_w_panels in clkernels/gemm.cl) and linear runs the
 * register-tiled gemm_packed kernel with bias and GELU applied in its epilogue. In
 * OCL_GEMM_CLBLAST mode the "packed" weight is a plain device copy and linear uses CLBlast.
 *
 * Memory: packing copies. On host-unified devices a weight wrapped from a mapped file is then
 * held twice until the host drops the mapping's pages; the host frees the unpacked buffer right
 * after packing (host/model/model_load.c).
 */
#include <stdint.h>

#include "ocl.h"

static vitcl_status pack_alloc(vitcl_context *ctx, size_t n, size_t k, size_t cols,
                               const char *label, vitcl_buffer **out)
{
    size_t floats, bytes;
    if (!plugin_size_mul(cols, k, &floats) || !plugin_size_mul(floats, sizeof(float), &bytes))
        return ocl_fail(ctx, VITCL_ERR_LIMIT,
                        "opencl linear_pack_weight on %s: '%s' [%zu, %zu] is too large", 
                        ctx->dev->info.name, label ? label : "(unnamed)", n, k);
    vitcl_status s = ocl_buffer_alloc_for(ctx, "linear_pack_weight", bytes, label, out);
    if (s != VITCL_OK)
        return s;
    (*out)->pack_n = n;
    (*out)->pack_k = k;
    return VITCL_OK;
}

static vitcl_status check_pack_args(vitcl_context *ctx, const vitcl_buffer *W, size_t w_off,
                                    size_t n, size_t k, const char *label, vitcl_buffer **out)
{
    size_t nk;
    if (!out || n == 0 || k == 0 || !plugin_size_mul(n, k, &nk))
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl linear_pack_weight on %s: invalid shape n=%zu k=%zu for '%s'",
                        ctx->dev->info.name, n, k, label ? label : "(unnamed)");
    if (n > UINT32_MAX || k > UINT32_MAX)
        return ocl_fail(ctx, VITCL_ERR_LIMIT,
                        "opencl linear_pack_weight on %s: '%s' [%zu, %zu] exceeds the kernel's "
                        "32-bit sizes",
                        ctx->dev->info.name, label ? label : "(unnamed)", n, k);
    return ocl_check_range(ctx, "linear_pack_weight", "W", W, w_off, nk);
}

vitcl_status ocl_pack_panels_mem(vitcl_context *ctx, const char *op, cl_mem w, size_t w_off,
                                 size_t n, size_t k, cl_mem dst)
{
    size_t panels = n / OCL_GEMM_PANEL + (n % OCL_GEMM_PANEL != 0);
    cl_ulong wo = w_off;
    cl_uint nn = (cl_uint)n, kk = (cl_uint)k;
    ocl_args a;
    ocl_args_begin(&a, ctx->kernels[OCL_K_PACK_W]);
    OCL_ARG(&a, w);
    OCL_ARG(&a, wo);
    OCL_ARG(&a, dst);
    OCL_ARG(&a, nn);
    OCL_ARG(&a, kk);
    size_t local[2] = {ctx->group[OCL_K_PACK_W], 1};
    size_t global[2] = {ocl_round_up(k, local[0]), panels};
    return ocl_launch(ctx, op, &a, 2, global, local);
}

vitcl_status ocl_pack_panels(vitcl_context *ctx, const vitcl_buffer *W, size_t w_off, size_t n,
                             size_t k, const char *label, vitcl_buffer **out)
{
    vitcl_status s = check_pack_args(ctx, W, w_off, n, k, label, out);
    if (s != VITCL_OK)
        return s;
    size_t panels = n / OCL_GEMM_PANEL + (n % OCL_GEMM_PANEL != 0);
    vitcl_buffer *P = NULL;
    if ((s = pack_alloc(ctx, n, k, panels * OCL_GEMM_PANEL, label, &P)) != VITCL_OK)
        return s;
    if ((s = ocl_pack_panels_mem(ctx, "linear_pack_weight", W->mem, w_off, n, k, P->mem)) != VITCL_OK) {
        ocl_buffer_free(ctx, P);
        return s;
    }
    P->pack = OCL_PACK_PANELS;
    *out = P;
    return VITCL_OK;
}

vitcl_status ocl_linear_pack_weight(vitcl_context *ctx, const vitcl_buffer *W, size_t w_off,
                                    size_t n, size_t k, const char *label, vitcl_buffer **out)
{
    vitcl_status s = check_pack_args(ctx, W, w_off, n, k, label, out);
    if (s != VITCL_OK || (s = ocl_gemm_tune(ctx)) != VITCL_OK)
        return s;
    if (ctx->gemm_mode == OCL_GEMM_PANELS)
        return ocl_pack_panels(ctx, W, w_off, n, k, label, out);
    /* CLBlast mode: a plain copy, so linear can tell packed from unpacked weights. */
    vitcl_buffer *P = NULL;
    if ((s = pack_alloc(ctx, n, k, n, label, &P)) != VITCL_OK)
        return s;
    if ((s = ocl_buffer_copy(ctx, P, 0, W, w_off * sizeof(float), n * k * sizeof(float))) !=
        VITCL_OK) {
        ocl_buffer_free(ctx, P);
        return s;
    }
    P->pack = OCL_PACK_PLAIN;
    *out = P;
    return VITCL_OK;
}

vitcl_status ocl_linear_panels(vitcl_context *ctx, ocl_kernel_id kernel, const vitcl_buffer *X,
                               size_t x_off, const vitcl_buffer *Wp, const vitcl_buffer *b,
                               size_t b_off, vitcl_buffer *Y, size_t y_off, size_t m, size_t n,
                               size_t k, uint32_t epi)
{
    /* Rows and columns of Y per work-group, per variant (gemm.cl, gemm_tiled.cl). */
    static const size_t rows[OCL_GEMM_VARIANTS] = {6, 8, 12, 32, 64};
    static const size_t cols[OCL_GEMM_VARIANTS] = {32, 32, 32, 32, 64};
    if (!ocl_kernel_is_gemm(kernel) || m > UINT32_MAX || n > UINT32_MAX || k > UINT32_MAX)
        return ocl_fail(ctx, VITCL_ERR_LIMIT,
                        "opencl linear on %s: m=%zu n=%zu k=%zu exceed the packed kernel's "
                        "32-bit sizes",
                        ctx->dev->info.name, m, n, k);
    if (ctx->unfit[kernel][0])
        return ocl_fail(ctx, VITCL_ERR_UNSUPPORTED, "opencl linear on %s: %s",
                        ctx->dev->info.name, ctx->unfit[kernel]);
    size_t mb = rows[ocl_gemm_variant(kernel)], nb = cols[ocl_gemm_variant(kernel)];
    cl_ulong xo = x_off, bo = b_off, yo = y_off;
    cl_uint mm = (cl_uint)m, nn = (cl_uint)n, kk = (cl_uint)k;
    cl_int has_bias = b != NULL, act = (epi & VITCL_LINEAR_GELU) != 0;
    cl_int add_y = (epi & VITCL_LINEAR_RESIDUAL) != 0;
    cl_mem bmem = b ? b->mem : Y->mem; /* unused when has_bias == 0 */
    ocl_args a;
    ocl_args_begin(&a, ctx->kernels[kernel]);
    OCL_ARG(&a, X->mem);
    OCL_ARG(&a, xo);
    OCL_ARG(&a, Wp->mem);
    OCL_ARG(&a, bmem);
    OCL_ARG(&a, bo);
    OCL_ARG(&a, Y->mem);
    OCL_ARG(&a, yo);
    OCL_ARG(&a, mm);
    OCL_ARG(&a, nn);
    OCL_ARG(&a, kk);
    OCL_ARG(&a, has_bias);
    OCL_ARG(&a, act);
    OCL_ARG(&a, add_y);
    size_t local[2];
    ocl_kernel_group(ctx, kernel, local);
    size_t global[2] = {(n / nb + (n % nb != 0)) * local[0], (m / mb + (m % mb != 0)) * local[1]};
    return ocl_launch(ctx, "linear", &a, 2, global, local);
}
