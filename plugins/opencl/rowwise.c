/* plugins/opencl/rowwise.c - layernorm and softmax: one work-group of ctx->row_wg items per
 * row (kernels in layernorm.cl and softmax.cl, reductions in reduce.cl). */
#include <stdint.h>

#include "ocl.h"

static vitcl_status row_shape(vitcl_context *ctx, const char *op, size_t rows, size_t cols,
                              size_t *total, size_t *global)
{
    if (rows == 0 || cols == 0 || cols > SIZE_MAX / rows)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "opencl %s on %s: invalid shape %zu x %zu",
                        op, ctx->dev->info.name, rows, cols);
    *total = rows * cols;
    if (rows > SIZE_MAX / ctx->row_wg)
        return ocl_fail(ctx, VITCL_ERR_LIMIT, "opencl %s on %s: %zu rows are too many", op,
                        ctx->dev->info.name, rows);
    *global = rows * ctx->row_wg;
    return VITCL_OK;
}

vitcl_status ocl_layernorm(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                           const vitcl_buffer *gamma, size_t g_off, const vitcl_buffer *beta,
                           size_t b_off, vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols,
                           float eps)
{
    const char *op = "layernorm";
    size_t total = 0, global = 0;
    vitcl_status s;
    if ((s = row_shape(ctx, op, rows, cols, &total, &global)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "X", X, x_off, total)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "gamma", gamma, g_off, cols)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "beta", beta, b_off, cols)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "Y", Y, y_off, total)) != VITCL_OK)
        return s;
    cl_ulong xo = x_off, go = g_off, bo = b_off, yo = y_off, nc = cols;
    ocl_args a;
    ocl_args_begin(&a, ctx->kernels[OCL_K_LAYERNORM]);
    OCL_ARG(&a, X->mem);
    OCL_ARG(&a, xo);
    OCL_ARG(&a, gamma->mem);
    OCL_ARG(&a, go);
    OCL_ARG(&a, beta->mem);
    OCL_ARG(&a, bo);
    OCL_ARG(&a, Y->mem);
    OCL_ARG(&a, yo);
    OCL_ARG(&a, nc);
    OCL_ARG(&a, eps);
    ocl_arg(&a, ctx->row_wg * sizeof(float), NULL);
    size_t local = ctx->row_wg;
    return ocl_launch(ctx, op, &a, 1, &global, &local);
}

vitcl_status ocl_softmax(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                         vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols, float scale)
{
    const char *op = "softmax";
    size_t total = 0, global = 0;
    vitcl_status s;
    if ((s = row_shape(ctx, op, rows, cols, &total, &global)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "X", X, x_off, total)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "Y", Y, y_off, total)) != VITCL_OK)
        return s;
    cl_ulong xo = x_off, yo = y_off, nc = cols;
    ocl_args a;
    ocl_args_begin(&a, ctx->kernels[OCL_K_SOFTMAX]);
    OCL_ARG(&a, X->mem);
    OCL_ARG(&a, xo);
    OCL_ARG(&a, Y->mem);
    OCL_ARG(&a, yo);
    OCL_ARG(&a, nc);
    OCL_ARG(&a, scale);
    ocl_arg(&a, ctx->row_wg * sizeof(float), NULL);
    size_t local = ctx->row_wg;
    return ocl_launch(ctx, op, &a, 1, &global, &local);
}
