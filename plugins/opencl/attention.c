/* plugins/opencl/attention.c - the fused attention op (kernel in attention.cl).
 *
 * Global work size (seq rounded up to the group size, batch * heads); each work-item owns one query
 * row of one head and streams over the keys with an online softmax, so memory use does not grow
 * with seq^2. head_dim is limited to OCL_MAX_HEAD_DIM (every ViT-MSN checkpoint uses 64);
 * supports() reports larger head_dim as unsupported so the host composes the op instead.
 *
 * head_dim == 64 (every ViT-MSN checkpoint) takes the vectorised path of attention.cl: K is
 * first transposed per head into a context scratch buffer (B * heads * 64 * seq rounded up to 16
 * floats), then attention64 runs 4 queries per work-item on float16 registers.
 *
 * Those two are shaped for CPU devices (one work-item per group, large private tiles). On GPUs
 * and accelerators the op runs attention_tiled.cl instead (64 work-items per group, K/V tiles in
 * local memory; built for head_dim 64 and for any head_dim <= 128). ocl_attention_choose picks
 * the family per context: VITCL_CL_ATTENTION=rows|tiled forces one, else the device type decides,
 * and a family whose kernel does not fit the device's limits is never used.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ocl.h"

/* Elements spanned by rows*ld with the last row holding `last` values, overflow-checked. */
static int span(size_t rows, size_t ld, size_t last, size_t *out)
{
    if (rows == 0)
        return 0;
    if (ld != 0 && rows - 1 > SIZE_MAX / ld)
        return 0;
    size_t v = (rows - 1) * ld;
    if (v > SIZE_MAX - last)
        return 0;
    *out = v + last;
    return 1;
}

/* The head_dim == 64 path; arguments already checked. */
static vitcl_status attention64(vitcl_context *ctx, const vitcl_buffer *Q, size_t q_off,
                                size_t ldq, const vitcl_buffer *K, size_t k_off, size_t ldk,
                                const vitcl_buffer *V, size_t v_off, size_t ldv, vitcl_buffer *O,
                                size_t o_off, size_t ldo, size_t batch, size_t seq, size_t heads,
                                float scale)
{
    const char *op = "attention";
    size_t seq_pad = ocl_round_up(seq, 16), bh = batch * heads, floats, bytes;
    if (seq_pad == 0 || seq_pad > INT32_MAX || !plugin_size_mul(bh, 64, &floats) ||
        !plugin_size_mul(floats, seq_pad, &floats) || !plugin_size_mul(floats, sizeof(float), &bytes))
        return ocl_fail(ctx, VITCL_ERR_LIMIT, "opencl attention on %s: sizes overflow",
                        ctx->dev->info.name);
    cl_mem kt;
    vitcl_status s = ocl_scratch(ctx, OCL_SCRATCH_KT, bytes, op, "attention K^T", &kt);
    if (s != VITCL_OK)
        return s;
    cl_ulong qo = q_off, lq = ldq, ko = k_off, lk = ldk, vo = v_off, lv = ldv, oo = o_off,
             lo = ldo, sq = seq, sp = seq_pad;
    cl_uint nh = (cl_uint)heads;
    ocl_args a;
    ocl_args_begin(&a, ctx->kernels[OCL_K_ATT_KT]);
    OCL_ARG(&a, K->mem);
    OCL_ARG(&a, ko);
    OCL_ARG(&a, lk);
    OCL_ARG(&a, kt);
    OCL_ARG(&a, sq);
    OCL_ARG(&a, sp);
    OCL_ARG(&a, nh);
    size_t local3[3] = {ctx->group[OCL_K_ATT_KT], 1, 1};
    size_t global3[3] = {seq_pad, 64, bh};
    if ((s = ocl_launch(ctx, op, &a, 3, global3, local3)) != VITCL_OK)
        return s;
    ocl_args_begin(&a, ctx->kernels[OCL_K_ATT64]);
    OCL_ARG(&a, Q->mem);
    OCL_ARG(&a, qo);
    OCL_ARG(&a, lq);
    OCL_ARG(&a, kt);
    OCL_ARG(&a, V->mem);
    OCL_ARG(&a, vo);
    OCL_ARG(&a, lv);
    OCL_ARG(&a, O->mem);
    OCL_ARG(&a, oo);
    OCL_ARG(&a, lo);
    OCL_ARG(&a, sq);
    OCL_ARG(&a, sp);
    OCL_ARG(&a, nh);
    OCL_ARG(&a, scale);
    size_t local[2] = {1, 1};
    size_t global[2] = {seq / 4 + (seq % 4 != 0), bh};
    return ocl_launch(ctx, op, &a, 2, global, local);
}

vitcl_status ocl_attention_choose(vitcl_context *ctx)
{
    const char *force = getenv("VITCL_CL_ATTENTION");
    int tiled_fits = !ctx->unfit[OCL_K_ATT_T64][0] && !ctx->unfit[OCL_K_ATT_T128][0];
    const char *why = ctx->unfit[OCL_K_ATT_T64][0] ? ctx->unfit[OCL_K_ATT_T64]
                                                   : ctx->unfit[OCL_K_ATT_T128];
    if (force && *force) {
        if (strcmp(force, "rows") && strcmp(force, "tiled"))
            return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                            "opencl on %s: VITCL_CL_ATTENTION='%s' is not one of rows, tiled",
                            ctx->dev->info.name, force);
        ctx->att_tiled = !strcmp(force, "tiled");
        if (ctx->att_tiled && !tiled_fits)
            return ocl_fail(ctx, VITCL_ERR_UNSUPPORTED, "opencl on %s: VITCL_CL_ATTENTION=tiled: %s",
                            ctx->dev->info.name, why);
        return VITCL_OK;
    }
    /* The row kernels run with one (attention64) or up to 32 items per group, which every
     * device gives; the tiled ones need 64. */
    ctx->att_tiled = ctx->dev->info.type != VITCL_DEVICE_CPU && tiled_fits;
    return VITCL_OK;
}

/* The tiled path (attention_tiled.cl); arguments already checked. */
/* Sets the arguments shared by the general and the tiled attention kernels, in their order:
 * Q, its offset and stride, K, V and O likewise, then seq, heads, head_dim and scale. */
static void attention_args(ocl_args *a, cl_kernel kernel, const vitcl_buffer *Q, size_t q_off,
                           size_t ldq, const vitcl_buffer *K, size_t k_off, size_t ldk,
                           const vitcl_buffer *V, size_t v_off, size_t ldv, vitcl_buffer *O,
                           size_t o_off, size_t ldo, size_t seq, size_t heads, size_t head_dim,
                           float scale)
{
    cl_ulong qo = q_off, lq = ldq, ko = k_off, lk = ldk, vo = v_off, lv = ldv, oo = o_off,
             lo = ldo, sq = seq;
    cl_uint nh = (cl_uint)heads, hd = (cl_uint)head_dim;
    ocl_args_begin(a, kernel);
    OCL_ARG(a, Q->mem);
    OCL_ARG(a, qo);
    OCL_ARG(a, lq);
    OCL_ARG(a, K->mem);
    OCL_ARG(a, ko);
    OCL_ARG(a, lk);
    OCL_ARG(a, V->mem);
    OCL_ARG(a, vo);
    OCL_ARG(a, lv);
    OCL_ARG(a, O->mem);
    OCL_ARG(a, oo);
    OCL_ARG(a, lo);
    OCL_ARG(a, sq);
    OCL_ARG(a, nh);
    OCL_ARG(a, hd);
    OCL_ARG(a, scale);
}

static vitcl_status attention_tiled(vitcl_context *ctx, const vitcl_buffer *Q, size_t q_off,
                                    size_t ldq, const vitcl_buffer *K, size_t k_off, size_t ldk,
                                    const vitcl_buffer *V, size_t v_off, size_t ldv,
                                    vitcl_buffer *O, size_t o_off, size_t ldo, size_t batch,
                                    size_t seq, size_t heads, size_t head_dim, float scale)
{
    ocl_kernel_id kid = head_dim == 64 ? OCL_K_ATT_T64 : OCL_K_ATT_T128;
    size_t bq = head_dim == 64 ? 32 : 16; /* AT_BQ in attention_tiled.cl */
    ocl_args a;
    attention_args(&a, ctx->kernels[kid], Q, q_off, ldq, K, k_off, ldk, V, v_off, ldv, O, o_off,
                   ldo, seq, heads, head_dim, scale);
    size_t local[2];
    ocl_kernel_group(ctx, kid, local);
    size_t groups = seq / bq + (seq % bq != 0);
    if (groups > SIZE_MAX / local[0])
        return ocl_fail(ctx, VITCL_ERR_LIMIT, "opencl attention on %s: sizes overflow",
                        ctx->dev->info.name);
    size_t global[2] = {groups * local[0], batch * heads};
    return ocl_launch(ctx, "attention", &a, 2, global, local);
}

vitcl_status ocl_attention(vitcl_context *ctx, const vitcl_buffer *Q, size_t q_off, size_t ldq,
                           const vitcl_buffer *K, size_t k_off, size_t ldk, const vitcl_buffer *V,
                           size_t v_off, size_t ldv, vitcl_buffer *O, size_t o_off, size_t ldo,
                           size_t batch, size_t seq, size_t heads, size_t head_dim, float scale)
{
    const char *op = "attention";
    if (batch == 0 || seq == 0 || heads == 0 || head_dim == 0)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl attention on %s: zero size (batch=%zu seq=%zu heads=%zu "
                        "head_dim=%zu)",
                        ctx->dev->info.name, batch, seq, heads, head_dim);
    if (head_dim > OCL_MAX_HEAD_DIM)
        return ocl_fail(ctx, VITCL_ERR_UNSUPPORTED,
                        "opencl attention on %s: head_dim %zu exceeds the kernel's limit %d",
                        ctx->dev->info.name, head_dim, OCL_MAX_HEAD_DIM);
    size_t width, rows, nq, nk, nv, no;
    if (heads > SIZE_MAX / head_dim || batch > SIZE_MAX / seq || heads > UINT32_MAX ||
        batch > SIZE_MAX / heads)
        return ocl_fail(ctx, VITCL_ERR_LIMIT, "opencl attention on %s: sizes overflow",
                        ctx->dev->info.name);
    width = heads * head_dim;
    rows = batch * seq;
    if (ldq < width || ldk < width || ldv < width || ldo < width)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl attention on %s: leading dimensions (%zu,%zu,%zu,%zu) must be >= "
                        "heads*head_dim %zu",
                        ctx->dev->info.name, ldq, ldk, ldv, ldo, width);
    if (!span(rows, ldq, width, &nq) || !span(rows, ldk, width, &nk) ||
        !span(rows, ldv, width, &nv) || !span(rows, ldo, width, &no))
        return ocl_fail(ctx, VITCL_ERR_LIMIT, "opencl attention on %s: sizes overflow",
                        ctx->dev->info.name);
    vitcl_status s;
    if ((s = ocl_check_range(ctx, op, "Q", Q, q_off, nq)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "K", K, k_off, nk)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "V", V, v_off, nv)) != VITCL_OK ||
        (s = ocl_check_range(ctx, op, "O", O, o_off, no)) != VITCL_OK)
        return s;

    if (ctx->att_tiled)
        return attention_tiled(ctx, Q, q_off, ldq, K, k_off, ldk, V, v_off, ldv, O, o_off, ldo,
                               batch, seq, heads, head_dim, scale);
    if (head_dim == 64)
        return attention64(ctx, Q, q_off, ldq, K, k_off, ldk, V, v_off, ldv, O, o_off, ldo, batch,
                           seq, heads, scale);

    ocl_args a;
    attention_args(&a, ctx->kernels[OCL_K_ATTENTION], Q, q_off, ldq, K, k_off, ldk, V, v_off, ldv, O, o_off,
                   ldo, seq, heads, head_dim, scale);
    size_t local[2] = {ctx->group[OCL_K_ATTENTION], 1};
    size_t global[2] = {ocl_round_up(seq, local[0]), batch * heads};
    return ocl_launch(ctx, op, &a, 2, global, local);
}
