/* plugins/opencl/launch.c - setting kernel arguments and enqueueing kernels for the ops. */
#include <stdint.h>

#include "ocl.h"

void ocl_args_begin(ocl_args *a, cl_kernel kernel)
{
    a->kernel = kernel;
    a->next = 0;
    a->err = CL_SUCCESS;
}

void ocl_arg(ocl_args *a, size_t size, const void *value)
{
    cl_int e = clSetKernelArg(a->kernel, a->next++, size, value);
    if (a->err == CL_SUCCESS)
        a->err = e;
}

vitcl_status ocl_launch(vitcl_context *ctx, const char *op, const ocl_args *a, cl_uint dims,
                        const size_t *global, const size_t *local)
{
    if (a->err != CL_SUCCESS)
        return ocl_fail_cl(ctx, op, "clSetKernelArg", a->err);
    for (cl_uint d = 0; d < dims; d++)
        if (global[d] == 0)
            return ocl_fail(ctx, VITCL_ERR_LIMIT,
                            "opencl %s on %s: the work size does not fit in size_t", op,
                            ctx->dev->info.name);
    cl_int e = ocl_fault_hit(&ctx->fault, OCL_FAULT_ENQUEUE)
                   ? (cl_int)ocl_fault_status(OCL_FAULT_ENQUEUE)
                   : clEnqueueNDRangeKernel(ctx->queue, a->kernel, dims, NULL, global, local, 0,
                                            NULL, ocl_prof_event(ctx));
    ocl_prof_step(ctx);
    ocl_prof_end(ctx, op);
    if (e != CL_SUCCESS)
        return ocl_fail_cl(ctx, op, "clEnqueueNDRangeKernel", e);
    return VITCL_OK;
}

vitcl_status ocl_launch_1d(vitcl_context *ctx, const char *op, const ocl_args *a,
                           ocl_kernel_id kernel, size_t n)
{
    size_t local = ctx->group[kernel];
    size_t global = ocl_round_up(n, local);
    return ocl_launch(ctx, op, a, 1, &global, &local);
}

size_t ocl_round_up(size_t n, size_t m)
{
    size_t r = n % m;
    if (r == 0)
        return n;
    if (n > SIZE_MAX - (m - r))
        return 0;
    return n + (m - r);
}

