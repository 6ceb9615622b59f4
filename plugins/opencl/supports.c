/* plugins/opencl/supports.c - which shapes this plugin's ops take (the op table's supports). */
#include <stddef.h>
#include <stdint.h>

#include "ocl.h"

/* The precision a shape asks for: its ABI 1.1 field when the host has it, else fp32. */
static uint32_t shape_precision(const vitcl_op_shape *shape)
{
    if (!shape || ocl_host_minor() < 1 ||
        shape->struct_size < offsetof(vitcl_op_shape, precision) + sizeof shape->precision)
        return VITCL_PRECISION_FP32;
    return shape->precision;
}

/* A known precision this context has not refused (self-check). */
static int precision_usable(const vitcl_context *ctx, uint32_t prec)
{
    return prec < VITCL_PRECISION_COUNT_ &&
           !(ctx && (ctx->prec_refused & VITCL_PRECISION_BIT(prec)));
}

int ocl_supports(vitcl_context *ctx, vitcl_op op, const vitcl_op_shape *shape)
{
    switch (op) {
    case VITCL_OP_ATTENTION:
        return shape && shape->head_dim > 0 && shape->head_dim <= OCL_MAX_HEAD_DIM;
    case VITCL_OP_LINEAR:
    case VITCL_OP_LINEAR_PACK_WEIGHT: {
        if (shape && (shape->flags & ~(uint32_t)OCL_LINEAR_FLAGS))
            return 0; /* a flag of a later ABI: refused, never ignored */
        if (op == VITCL_OP_LINEAR_PACK_WEIGHT && shape && (shape->flags & VITCL_LINEAR_RESIDUAL))
            return 0;
        uint32_t prec = shape_precision(shape);
        if (op == VITCL_OP_LINEAR && prec != VITCL_PRECISION_FP32 &&
            (!precision_usable(ctx, prec) || !(shape->flags & VITCL_LINEAR_PACKED_W)))
            return 0;
        /* Packed weights go through kernels with 32-bit sizes. */
        return !shape || (shape->flags & VITCL_LINEAR_PACKED_W) == 0 ||
               (shape->m <= UINT32_MAX && shape->n <= UINT32_MAX && shape->k <= UINT32_MAX);
    }
    case VITCL_OP_PACK_WEIGHT_HOST: {
        if (!shape || ocl_host_minor() < 1 ||
            shape->struct_size < offsetof(vitcl_op_shape, dtype) + sizeof shape->dtype ||
            shape->dtype >= VITCL_DTYPE_COUNT_ || !precision_usable(ctx, shape->precision) ||
            shape->n > UINT32_MAX || shape->k > UINT32_MAX)
            return 0;
        /* fp32 from an F32 file: declined, so the host keeps the ABI 1.0 path (wrap and
         * linear_pack_weight); F16 and BF16 files are widened here instead of on the host. */
        return shape->precision != VITCL_PRECISION_FP32 || shape->dtype != VITCL_DTYPE_F32;
    }
    case VITCL_OP_GEMM_BATCHED:
    case VITCL_OP_LAYERNORM:
    case VITCL_OP_GELU:
    case VITCL_OP_ADD:
    case VITCL_OP_SOFTMAX:
    case VITCL_OP_PATCH_EMBED:
        return 1;
    default:
        return 0;
    }
}
