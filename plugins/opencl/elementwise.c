/* plugins/opencl/elementwise.c - the gelu and add ops (kernels in bias_gelu.cl and add.cl). */
#include "ocl.h"

vitcl_status ocl_gelu(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off, vitcl_buffer *Y,
                      size_t y_off, size_t n)
{
    const char *op = "gelu";
    vitcl_status s;
    if (n == 0)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "opencl gelu on %s: n is 0",
                        ctx->dev->info.name);
    if ((s = ocl_check_range(ctx, op, "X", X, x_off, n)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "Y", Y, y_off, n)) != VITCL_OK)
        return s;
    cl_ulong xo = x_off, yo = y_off, nn = n;
    ocl_args a;
    ocl_args_begin(&a, ctx->kernels[OCL_K_GELU]);
    OCL_ARG(&a, X->mem);
    OCL_ARG(&a, xo);
    OCL_ARG(&a, Y->mem);
    OCL_ARG(&a, yo);
    OCL_ARG(&a, nn);
    return ocl_launch_1d(ctx, op, &a, OCL_K_GELU, n);
}

vitcl_status ocl_add(vitcl_context *ctx, const vitcl_buffer *A, size_t a_off,
                     const vitcl_buffer *B, size_t b_off, vitcl_buffer *Y, size_t y_off, size_t n,
                     size_t b_period)
{
    const char *op = "add";
    vitcl_status s;
    if (n == 0 || b_period == 0 || n % b_period != 0)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl add on %s: b_period %zu must divide n %zu", ctx->dev->info.name,
                        b_period, n);
    if ((s = ocl_check_range(ctx, op, "A", A, a_off, n)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "B", B, b_off, b_period)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "Y", Y, y_off, n)) != VITCL_OK)
        return s;
    cl_ulong ao = a_off, bo = b_off, yo = y_off, nn = n, per = b_period;
    ocl_args a;
    ocl_args_begin(&a, ctx->kernels[OCL_K_ADD]);
    OCL_ARG(&a, A->mem);
    OCL_ARG(&a, ao);
    OCL_ARG(&a, B->mem);
    OCL_ARG(&a, bo);
    OCL_ARG(&a, Y->mem);
    OCL_ARG(&a, yo);
    OCL_ARG(&a, nn);
    OCL_ARG(&a, per);
    return ocl_launch_1d(ctx, op, &a, OCL_K_ADD, n);
}
