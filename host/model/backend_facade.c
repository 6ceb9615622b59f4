/* host/model/backend_facade.c - see backend_facade.h. */
#include "backend_facade.h"

#include <stdio.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h> /* malloc_trim */
#endif

#include "error.h"
#include "precision.h"

static const char *const op_name[VITCL_OP_COUNT_] = {
    "linear", "gemm_batched", "layernorm", "gelu", "add", "softmax", "attention", "patch_embed",
    "linear_pack_weight", "pack_weight_host"};

void bf_lock(vitcl_backend *be)
{
    pthread_mutex_lock(&be->lock);
}

void bf_unlock(vitcl_backend *be)
{
    pthread_mutex_unlock(&be->lock);
}

/* The plugin's answer for op at shape; 1 when it has no supports() (every present op is taken
 * to support every shape, per the ABI). */
static int supported(const vitcl_backend *be, vitcl_op op, const vitcl_op_shape *sh)
{
    if (!VITCL_HAS_FIELD(be->ops, vitcl_op_table, supports))
        return 1;
    vitcl_op_shape s = *sh;
    s.struct_size = (uint32_t)sizeof s; /* ABI 1.1: every shape the host passes says its size */
    return be->ops->supports(be->ctx, op, &s) != 0;
}

/* A required op must be supported at its shape: VITCL_ERR_UNSUPPORTED otherwise. */
static vitcl_status require(const vitcl_backend *be, vitcl_op op, const vitcl_op_shape *sh)
{
    if (supported(be, op, sh))
        return VITCL_OK;
    return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                      "%s: %s on %s does not support this shape (m %zu, n %zu, k %zu, batch %zu, "
                      "seq %zu, heads %zu, head_dim %zu, channels %zu, %zux%zu, patch %zu)",
                      op_name[op], be->desc->name, be->info.name, sh->m, sh->n, sh->k, sh->batch,
                      sh->seq, sh->heads, sh->head_dim, sh->channels, sh->height, sh->width,
                      sh->patch);
}

/* A plugin status, turned into the thread's message naming the call. */
static vitcl_status done(const vitcl_backend *be, vitcl_status st, const char *what)
{
    return st == VITCL_OK ? VITCL_OK : vitcl_backend_fail(be, st, what);
}

vitcl_status bf_alloc(vitcl_backend *be, size_t bytes, const char *label, vitcl_buffer **out)
{
    *out = NULL;
    return done(be, be->desc->buffer_alloc(be->ctx, bytes, label, out), label);
}

void bf_free(vitcl_backend *be, vitcl_buffer *buf)
{
    if (buf)
        be->desc->buffer_free(be->ctx, buf);
}

vitcl_status bf_write(vitcl_backend *be, vitcl_buffer *buf, size_t offset, const void *src,
                      size_t bytes)
{
    return done(be, be->desc->buffer_write(be->ctx, buf, offset, src, bytes), "buffer write");
}

vitcl_status bf_read(vitcl_backend *be, const vitcl_buffer *buf, size_t offset, void *dst,
                     size_t bytes)
{
    return done(be, be->desc->buffer_read(be->ctx, buf, offset, dst, bytes), "buffer read");
}

vitcl_status bf_copy(vitcl_backend *be, vitcl_buffer *dst, size_t dst_offset,
                     const vitcl_buffer *src, size_t src_offset, size_t bytes)
{
    return done(be, be->desc->buffer_copy(be->ctx, dst, dst_offset, src, src_offset, bytes),
                "buffer copy");
}

vitcl_status bf_sync(vitcl_backend *be)
{
    return done(be, be->desc->synchronize(be->ctx), "synchronize");
}

void bf_drain(vitcl_backend *be)
{
    (void)be->desc->synchronize(be->ctx);
}

int bf_can_wrap(const vitcl_backend *be)
{
    return (be->info.caps & VITCL_CAP_ZERO_COPY_WRAP) &&
           VITCL_HAS_FIELD(be->desc, vitcl_backend_desc, buffer_wrap_host);
}

vitcl_status bf_wrap(vitcl_backend *be, const void *host, size_t bytes, const char *label,
                     vitcl_buffer **out)
{
    *out = NULL;
    return done(be, be->desc->buffer_wrap_host(be->ctx, host, bytes, label, out), label);
}

vitcl_status bf_linear(vitcl_backend *be, const vitcl_buffer *X, const vitcl_buffer *W,
                       const vitcl_buffer *b, vitcl_buffer *Y, size_t m, size_t n, size_t k,
                       uint32_t flags, uint32_t precision)
{
    vitcl_op_shape sh = {.m = m, .n = n, .k = k, .flags = flags, .precision = precision};
    vitcl_status st = require(be, VITCL_OP_LINEAR, &sh);
    if (st)
        return st;
    return done(be, be->ops->linear(be->ctx, X, 0, W, 0, b, 0, Y, 0, m, n, k, flags), "linear");
}

vitcl_status bf_linear_residual(vitcl_backend *be, const vitcl_buffer *X, const vitcl_buffer *W,
                                const vitcl_buffer *b, vitcl_buffer *Y, vitcl_buffer *tmp,
                                size_t m, size_t n, size_t k, uint32_t flags,
                                uint32_t precision)
{
    /* A plugin without supports() claims every shape, but a flag newer than its code would go
     * unnoticed by it: the fused form needs both the minor and an explicit yes. */
    vitcl_op_shape sh = {.m = m, .n = n, .k = k, .flags = flags | VITCL_LINEAR_RESIDUAL,
                         .precision = precision};
    if (be->desc->abi_minor >= 2 && VITCL_HAS_FIELD(be->ops, vitcl_op_table, supports) &&
        supported(be, VITCL_OP_LINEAR, &sh))
        return done(be,
                    be->ops->linear(be->ctx, X, 0, W, 0, b, 0, Y, 0, m, n, k, sh.flags),
                    "linear");
    vitcl_status st = bf_linear(be, X, W, b, tmp, m, n, k, flags, precision);
    return st ? st : bf_add(be, Y, tmp, Y, m * n, m * n);
}

vitcl_status bf_gemm_batched(vitcl_backend *be, int trans_a, int trans_b, size_t m, size_t n,
                             size_t k, float alpha, const vitcl_buffer *A, size_t a_off,
                             size_t lda, size_t stride_a, const vitcl_buffer *B, size_t b_off,
                             size_t ldb, size_t stride_b, float beta, vitcl_buffer *C,
                             size_t c_off, size_t ldc, size_t stride_c, size_t batch)
{
    vitcl_op_shape sh = {.m = m, .n = n, .k = k, .batch = batch};
    vitcl_status st = require(be, VITCL_OP_GEMM_BATCHED, &sh);
    if (st)
        return st;
    return done(be,
                be->ops->gemm_batched(be->ctx, trans_a, trans_b, m, n, k, alpha, A, a_off, lda,
                                      stride_a, B, b_off, ldb, stride_b, beta, C, c_off, ldc,
                                      stride_c, batch),
                "gemm_batched");
}

vitcl_status bf_layernorm(vitcl_backend *be, const vitcl_buffer *X, const vitcl_buffer *gamma,
                          const vitcl_buffer *beta, vitcl_buffer *Y, size_t rows, size_t cols,
                          float eps)
{
    vitcl_op_shape sh = {.m = rows, .n = cols};
    vitcl_status st = require(be, VITCL_OP_LAYERNORM, &sh);
    if (st)
        return st;
    return done(be, be->ops->layernorm(be->ctx, X, 0, gamma, 0, beta, 0, Y, 0, rows, cols, eps),
                "layernorm");
}

vitcl_status bf_add(vitcl_backend *be, const vitcl_buffer *A, const vitcl_buffer *B,
                    vitcl_buffer *Y, size_t n, size_t b_period)
{
    vitcl_op_shape sh = {.n = n};
    vitcl_status st = require(be, VITCL_OP_ADD, &sh);
    if (st)
        return st;
    return done(be, be->ops->add(be->ctx, A, 0, B, 0, Y, 0, n, b_period), "add");
}

vitcl_status bf_softmax(vitcl_backend *be, const vitcl_buffer *X, vitcl_buffer *Y, size_t rows,
                        size_t cols, float scale)
{
    vitcl_op_shape sh = {.m = rows, .n = cols};
    vitcl_status st = require(be, VITCL_OP_SOFTMAX, &sh);
    if (st)
        return st;
    return done(be, be->ops->softmax(be->ctx, X, 0, Y, 0, rows, cols, scale), "softmax");
}

vitcl_status bf_patch_embed(vitcl_backend *be, const vitcl_buffer *pixels, const vitcl_buffer *W,
                            const vitcl_buffer *bias, vitcl_buffer *Y, size_t y_off,
                            size_t y_batch_stride,
                            size_t batch, size_t channels, size_t height, size_t width,
                            size_t patch, size_t dim)
{
    vitcl_op_shape sh = {.n = dim, .batch = batch, .channels = channels, .height = height,
                         .width = width, .patch = patch};
    vitcl_status st = require(be, VITCL_OP_PATCH_EMBED, &sh);
    if (st)
        return st;
    return done(be,
                be->ops->patch_embed(be->ctx, pixels, 0, W, 0, bias, 0, Y, y_off, y_batch_stride,
                                     batch, channels, height, width, patch, dim),
                "patch_embed");
}

int bf_has_attention(vitcl_backend *be, size_t batch, size_t seq, size_t heads, size_t head_dim)
{
    if (!VITCL_HAS_FIELD(be->ops, vitcl_op_table, attention))
        return 0;
    vitcl_op_shape sh = {.batch = batch, .seq = seq, .heads = heads, .head_dim = head_dim};
    return supported(be, VITCL_OP_ATTENTION, &sh);
}

vitcl_status bf_attention(vitcl_backend *be, const vitcl_buffer *Q, size_t q_off, size_t ldq,
                          const vitcl_buffer *K, size_t k_off, size_t ldk, const vitcl_buffer *V,
                          size_t v_off, size_t ldv, vitcl_buffer *O, size_t o_off, size_t ldo,
                          size_t batch, size_t seq, size_t heads, size_t head_dim, float scale)
{
    return done(be,
                be->ops->attention(be->ctx, Q, q_off, ldq, K, k_off, ldk, V, v_off, ldv, O,
                                   o_off, ldo, batch, seq, heads, head_dim, scale),
                "attention");
}

vitcl_status bf_pack_linear(vitcl_backend *be, const vitcl_buffer *W, size_t n, size_t k,
                            const char *label, vitcl_buffer **out)
{
    *out = NULL;
    if (!VITCL_HAS_FIELD(be->ops, vitcl_op_table, linear_pack_weight))
        return VITCL_OK;
    vitcl_op_shape sh = {.n = n, .k = k};
    if (!supported(be, VITCL_OP_LINEAR_PACK_WEIGHT, &sh))
        return VITCL_OK; /* fallback: the weight stays as stored */
    return done(be, be->ops->linear_pack_weight(be->ctx, W, 0, n, k, label, out), label);
}

int bf_has_pack_host(const vitcl_backend *be)
{
    return be->desc->abi_minor >= 1 && VITCL_HAS_FIELD(be->ops, vitcl_op_table, pack_weight_host);
}

int bf_packs_host(vitcl_backend *be, uint32_t dtype, size_t n, size_t k, uint32_t precision)
{
    if (!bf_has_pack_host(be))
        return 0;
    vitcl_op_shape sh = {.n = n, .k = k, .precision = precision, .dtype = dtype};
    return supported(be, VITCL_OP_PACK_WEIGHT_HOST, &sh);
}

vitcl_status bf_pack_host(vitcl_backend *be, const void *host, uint32_t dtype, size_t n,
                          size_t k, uint32_t precision, const char *label, vitcl_buffer **out)
{
    *out = NULL;
    if (!bf_packs_host(be, dtype, n, k, precision))
        return VITCL_OK; /* declined: the caller uploads fp32 or refuses the precision */
    vitcl_status st = be->ops->pack_weight_host(be->ctx, host, dtype, n, k, precision, label, out);
    if (st != VITCL_OK) {
        *out = NULL;
        return vitcl_backend_fail(be, st, label);
    }
    if (!*out)
        return vitcl_fail(VITCL_ERR_DEVICE, "%s: %s on %s: pack_weight_host returned no buffer",
                          label, be->desc->name, be->info.name);
    return VITCL_OK;
}

int bf_wants_warmup(const vitcl_backend *be)
{
    /* Every in-tree backend has first-call costs (OpenCL program builds and GEMM tuning, the
     * CPU thread pool, page faults on fresh buffers); paying them at load keeps the first run's
     * time honest. A plugin without them loses one layer's time at load. */
    (void)be;
    return 1;
}

void bf_after_upload(vitcl_backend *be)
{
    /* Backends that copy a wrapped tensor before packing it (PoCL does for host pointers it
     * finds misaligned) free those copies between long-lived packed buffers; glibc keeps the
     * holes, which added about 190 MB to the peak RSS of loading vit-msn-large on PoCL. Only
     * backends that wrap host memory make such copies. */
#if defined(__GLIBC__)
    if (bf_can_wrap(be))
        malloc_trim(0);
#else
    (void)be;
#endif
}

/* The refusal of a bf16/fp16 model by a backend that cannot run it: names the precision, the
 * plugin with its ABI version, the device and what the device offers. */
vitcl_status bf_refuse_precision(const vitcl_backend *be, int precision, const char *why)
{
    char offered[32];
    vitcl_precision_list(be->info.precisions, offered, sizeof offered);
    int fp32_only = !strcmp(offered, "fp32");
    return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                      "%s: plugin '%s' (ABI %u.%u) on device '%s' runs %s%s%s%s",
                      vitcl_precision_name(precision), be->desc->name,
                      (unsigned)be->desc->abi_major, (unsigned)be->desc->abi_minor, be->info.name,
                      offered, fp32_only ? " only" : "", why ? ": " : "", why ? why : "");
}
