/* plugins/opencl/supports.c - which shapes this plugin's ops take (the op table's supports). */
#include <stdint.h>

#include "ocl.h"

int ocl_supports(vitcl_context *ctx, vitcl_op op, const vitcl_op_shape *shape)
{
    (void)ctx;
    switch (op) {
    case VITCL_OP_ATTENTION:
        return shape && shape->head_dim > 0 && shape->head_dim <= OCL_MAX_HEAD_DIM;
    case VITCL_OP_LINEAR:
    case VITCL_OP_LINEAR_PACK_WEIGHT:
        /* Packed weights go through kernels with 32-bit sizes. */
        return !shape || (shape->flags & VITCL_LINEAR_PACKED_W) == 0 ||
               (shape->m <= UINT32_MAX && shape->n <= UINT32_MAX && shape->k <= UINT32_MAX);
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
