/* plugins/ref/ref_supports.c - supports() of the reference backend: every valid shape is
 * supported; a shape with a zero size, an unknown flag, dtype or precision, an unknown op or
 * sizes whose product overflows is not. */
#include <stddef.h>
#include <string.h>

#include "plugin_half.h"
#include "ref_internal.h"

/* The 1.1 fields of a shape when the host has them (minor >= 1 and struct_size covers them),
 * else 0 (FP32, F32): a 1.0 host's struct ends at flags. */
static uint32_t shape_field(const vitcl_op_shape *s, size_t offset)
{
    if (ref_host_abi_minor < 1 || s->struct_size < offset + sizeof(uint32_t))
        return 0;
    uint32_t v;
    memcpy(&v, (const char *)s + offset, sizeof v);
    return v;
}

/* 1 when every size is non-zero and their product fits in size_t. */
static int all_positive(const size_t *s, size_t count)
{
    size_t prod = 1;
    for (size_t i = 0; i < count; i++)
        if (s[i] == 0 || !plugin_size_mul(prod, s[i], &prod))
            return 0;
    return 1;
}

int ref_supports(vitcl_context *ctx, vitcl_op op, const vitcl_op_shape *s)
{
    if (ctx == NULL || s == NULL)
        return 0;
    switch (op) {
    case VITCL_OP_LINEAR: {
        /* A precision other than fp32 only for a packed weight (pack_weight_host made it). */
        const size_t v[] = {s->m, s->n, s->k};
        uint32_t prec = shape_field(s, offsetof(vitcl_op_shape, precision));
        return all_positive(v, 3) &&
               (s->flags & ~(uint32_t)REF_LINEAR_FLAGS) == 0 &&
               plugin_precision_name(prec) != NULL &&
               (prec == VITCL_PRECISION_FP32 || (s->flags & VITCL_LINEAR_PACKED_W));
    }
    case VITCL_OP_GEMM_BATCHED: {
        const size_t v[] = {s->m, s->n, s->k, s->batch};
        return all_positive(v, 4);
    }
    case VITCL_OP_LAYERNORM:
    case VITCL_OP_SOFTMAX: {
        const size_t v[] = {s->m, s->n};
        return all_positive(v, 2);
    }
    case VITCL_OP_GELU:
    case VITCL_OP_ADD:
        return s->n != 0;
    case VITCL_OP_ATTENTION: {
        const size_t v[] = {s->batch, s->seq, s->heads, s->head_dim};
        return all_positive(v, 4);
    }
    case VITCL_OP_PATCH_EMBED: {
        const size_t v[] = {s->batch, s->channels, s->height, s->width, s->patch, s->n};
        return all_positive(v, 6) && s->patch <= s->height && s->patch <= s->width;
    }
    case VITCL_OP_LINEAR_PACK_WEIGHT: {
        const size_t v[] = {s->n, s->k};
        return all_positive(v, 2);
    }
    case VITCL_OP_PACK_WEIGHT_HOST: {
        /* Only a 1.1 host asks (it is the only one that can describe the weight). */
        const size_t v[] = {s->n, s->k};
        size_t end = offsetof(vitcl_op_shape, dtype) + sizeof s->dtype, bytes = 0;
        uint32_t dtype = shape_field(s, offsetof(vitcl_op_shape, dtype));
        uint32_t prec = shape_field(s, offsetof(vitcl_op_shape, precision));
        return ref_host_abi_minor >= 1 && s->struct_size >= end && all_positive(v, 2) &&
               plugin_size_mul(s->n * s->k, sizeof(float), &bytes) &&
               plugin_dtype_size(dtype) != 0 && plugin_precision_name(prec) != NULL;
    }
    case VITCL_OP_COUNT_:
        break;
    }
    return 0;
}
