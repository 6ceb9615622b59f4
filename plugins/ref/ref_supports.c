/* plugins/ref/ref_supports.c - supports() of the reference backend: every valid shape is
 * supported; a shape with a zero size, an unknown flag, an unknown op or sizes whose product
 * overflows is not. */
#include "ref_internal.h"

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
        const size_t v[] = {s->m, s->n, s->k};
        return all_positive(v, 3) &&
               (s->flags & ~(uint32_t)(VITCL_LINEAR_GELU | VITCL_LINEAR_PACKED_W)) == 0;
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
    case VITCL_OP_PACK_WEIGHT_HOST: /* not yet: the host widens and uses the 1.0 path */
    case VITCL_OP_COUNT_:
        break;
    }
    return 0;
}
