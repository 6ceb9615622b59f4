/* loader/fault_inject.c - the VITCL_FAULT_INJECT shim between the host and a plugin context
 * (see fault_inject.h). Each shim entry point counts the call, fails it when its kind's counter
 * reaches the requested N, and otherwise forwards to the plugin with the plugin's own context. */
#include "fault_inject.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static const char *const kind_names[LOADER_FAULT_KINDS_] = {"alloc", "write", "enqueue"};
/* Kinds a plugin counts itself; accepted so one variable can drive both sides. */
static const char *const plugin_kinds[] = {"build", "cl_alloc", "cl_enqueue"};

typedef struct fault_ctx {
    vitcl_backend_desc desc;  /* the plugin's descriptor with the shim's entry points */
    vitcl_op_table ops;       /* likewise for the ops */
    const vitcl_backend_desc *real;
    const vitcl_op_table *real_ops;
    vitcl_context *inner;     /* the plugin's context */
    uint64_t fail_at[LOADER_FAULT_KINDS_]; /* 0: never */
    loader_fault_stats stats;
    int injected_last;        /* the last failed call on this context was injected */
    char msg[512];
} fault_ctx;

static fault_ctx *F(vitcl_context *ctx)
{
    return (fault_ctx *)(void *)ctx;
}

/* Counts a call of `kind`; 1 (and the message set) when it must fail. */
static int hit(fault_ctx *f, loader_fault_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int hit(fault_ctx *f, loader_fault_kind kind, const char *fmt, ...)
{
    uint64_t n = ++f->stats.calls[kind];
    if (f->fail_at[kind] == 0 || n != f->fail_at[kind])
        return 0;
    int used = snprintf(f->msg, sizeof f->msg, "injected fault %s:%llu (VITCL_FAULT_INJECT): ",
                        kind_names[kind], (unsigned long long)n);
    if (used > 0 && (size_t)used < sizeof f->msg) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->msg + used, sizeof f->msg - (size_t)used, fmt, ap);
        va_end(ap);
    }
    f->stats.injected++;
    f->injected_last = 1;
    return 1;
}

/* Records a forwarded call's status: a real failure replaces an injected message. */
static vitcl_status fwd(fault_ctx *f, vitcl_status st)
{
    if (st != VITCL_OK)
        f->injected_last = 0;
    return st;
}

/* ------------------------------------------------------------------ descriptor entries */

static void s_context_destroy(vitcl_context *ctx)
{
    if (!ctx)
        return;
    fault_ctx *f = F(ctx);
    f->real->context_destroy(f->inner);
    free(f);
}

static const char *s_last_error(vitcl_context *ctx)
{
    fault_ctx *f = F(ctx);
    return f->injected_last ? f->msg : f->real->last_error(f->inner);
}

static vitcl_status s_synchronize(vitcl_context *ctx)
{
    fault_ctx *f = F(ctx);
    return fwd(f, f->real->synchronize(f->inner));
}

static vitcl_status s_buffer_alloc(vitcl_context *ctx, size_t bytes, const char *label,
                                   vitcl_buffer **out)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ALLOC, "buffer_alloc of %zu bytes for '%s' refused", bytes,
            label ? label : "(no label)"))
        return VITCL_ERR_OUT_OF_MEMORY;
    vitcl_status st = fwd(f, f->real->buffer_alloc(f->inner, bytes, label, out));
    if (st == VITCL_OK)
        f->stats.live_buffers++;
    return st;
}

static void s_buffer_free(vitcl_context *ctx, vitcl_buffer *buf)
{
    fault_ctx *f = F(ctx);
    if (buf)
        f->stats.live_buffers--;
    f->real->buffer_free(f->inner, buf);
}

static vitcl_status s_buffer_write(vitcl_context *ctx, vitcl_buffer *buf, size_t offset,
                                   const void *src, size_t bytes)
{
    fault_ctx *f = F(ctx);
    /* Counted under both kinds, so each kind's count covers every buffer_write. */
    int w = hit(f, LOADER_FAULT_WRITE, "buffer_write of %zu bytes at offset %zu refused", bytes,
                offset);
    int e = hit(f, LOADER_FAULT_ENQUEUE, "buffer_write of %zu bytes at offset %zu refused", bytes,
                offset);
    if (w || e)
        return VITCL_ERR_DEVICE;
    return fwd(f, f->real->buffer_write(f->inner, buf, offset, src, bytes));
}

static vitcl_status s_buffer_read(vitcl_context *ctx, const vitcl_buffer *buf, size_t offset,
                                  void *dst, size_t bytes)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ENQUEUE, "buffer_read of %zu bytes at offset %zu refused", bytes,
            offset))
        return VITCL_ERR_DEVICE;
    return fwd(f, f->real->buffer_read(f->inner, buf, offset, dst, bytes));
}

static vitcl_status s_buffer_copy(vitcl_context *ctx, vitcl_buffer *dst, size_t dst_offset,
                                  const vitcl_buffer *src, size_t src_offset, size_t bytes)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ENQUEUE, "buffer_copy of %zu bytes refused", bytes))
        return VITCL_ERR_DEVICE;
    return fwd(f, f->real->buffer_copy(f->inner, dst, dst_offset, src, src_offset, bytes));
}

static vitcl_status s_buffer_wrap_host(vitcl_context *ctx, const void *host, size_t bytes,
                                       const char *label, vitcl_buffer **out)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ALLOC, "buffer_wrap_host of %zu bytes for '%s' refused", bytes,
            label ? label : "(no label)"))
        return VITCL_ERR_OUT_OF_MEMORY;
    vitcl_status st = fwd(f, f->real->buffer_wrap_host(f->inner, host, bytes, label, out));
    if (st == VITCL_OK)
        f->stats.live_buffers++;
    return st;
}

static vitcl_status s_profiling(vitcl_context *ctx, int enable)
{
    fault_ctx *f = F(ctx);
    return fwd(f, f->real->profiling(f->inner, enable));
}

static size_t s_profile_drain(vitcl_context *ctx, vitcl_op_timing *out, size_t max)
{
    fault_ctx *f = F(ctx);
    return f->real->profile_drain(f->inner, out, max);
}

/* ------------------------------------------------------------------ ops */

static vitcl_status s_linear(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                             const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b,
                             size_t b_off, vitcl_buffer *Y, size_t y_off, size_t m, size_t n,
                             size_t k, uint32_t flags)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ENQUEUE, "linear m=%zu n=%zu k=%zu refused", m, n, k))
        return VITCL_ERR_DEVICE;
    return fwd(f, f->real_ops->linear(f->inner, X, x_off, W, w_off, b, b_off, Y, y_off, m, n, k,
                                      flags));
}

static vitcl_status s_gemm_batched(vitcl_context *ctx, int trans_a, int trans_b, size_t m,
                                   size_t n, size_t k, float alpha, const vitcl_buffer *A,
                                   size_t a_off, size_t lda, size_t stride_a,
                                   const vitcl_buffer *B, size_t b_off, size_t ldb,
                                   size_t stride_b, float beta, vitcl_buffer *C, size_t c_off,
                                   size_t ldc, size_t stride_c, size_t batch)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ENQUEUE, "gemm_batched m=%zu n=%zu k=%zu batch=%zu refused", m, n, k,
            batch))
        return VITCL_ERR_DEVICE;
    return fwd(f, f->real_ops->gemm_batched(f->inner, trans_a, trans_b, m, n, k, alpha, A, a_off,
                                            lda, stride_a, B, b_off, ldb, stride_b, beta, C,
                                            c_off, ldc, stride_c, batch));
}

static vitcl_status s_layernorm(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                const vitcl_buffer *gamma, size_t g_off,
                                const vitcl_buffer *beta, size_t b_off, vitcl_buffer *Y,
                                size_t y_off, size_t rows, size_t cols, float eps)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ENQUEUE, "layernorm rows=%zu cols=%zu refused", rows, cols))
        return VITCL_ERR_DEVICE;
    return fwd(f, f->real_ops->layernorm(f->inner, X, x_off, gamma, g_off, beta, b_off, Y, y_off,
                                         rows, cols, eps));
}

static vitcl_status s_gelu(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                           vitcl_buffer *Y, size_t y_off, size_t n)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ENQUEUE, "gelu n=%zu refused", n))
        return VITCL_ERR_DEVICE;
    return fwd(f, f->real_ops->gelu(f->inner, X, x_off, Y, y_off, n));
}

static vitcl_status s_add(vitcl_context *ctx, const vitcl_buffer *A, size_t a_off,
                          const vitcl_buffer *B, size_t b_off, vitcl_buffer *Y, size_t y_off,
                          size_t n, size_t b_period)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ENQUEUE, "add n=%zu b_period=%zu refused", n, b_period))
        return VITCL_ERR_DEVICE;
    return fwd(f, f->real_ops->add(f->inner, A, a_off, B, b_off, Y, y_off, n, b_period));
}

static vitcl_status s_softmax(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                              vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols,
                              float scale)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ENQUEUE, "softmax rows=%zu cols=%zu refused", rows, cols))
        return VITCL_ERR_DEVICE;
    return fwd(f, f->real_ops->softmax(f->inner, X, x_off, Y, y_off, rows, cols, scale));
}

static vitcl_status s_attention(vitcl_context *ctx, const vitcl_buffer *Q, size_t q_off,
                                size_t ldq, const vitcl_buffer *K, size_t k_off, size_t ldk,
                                const vitcl_buffer *V, size_t v_off, size_t ldv, vitcl_buffer *O,
                                size_t o_off, size_t ldo, size_t batch, size_t seq, size_t heads,
                                size_t head_dim, float scale)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ENQUEUE, "attention batch=%zu seq=%zu heads=%zu head_dim=%zu refused",
            batch, seq, heads, head_dim))
        return VITCL_ERR_DEVICE;
    return fwd(f, f->real_ops->attention(f->inner, Q, q_off, ldq, K, k_off, ldk, V, v_off, ldv, O,
                                         o_off, ldo, batch, seq, heads, head_dim, scale));
}

static vitcl_status s_patch_embed(vitcl_context *ctx, const vitcl_buffer *pixels, size_t p_off,
                                  const vitcl_buffer *W, size_t w_off, const vitcl_buffer *bias,
                                  size_t bias_off, vitcl_buffer *Y, size_t y_off,
                                  size_t y_batch_stride, size_t batch, size_t channels,
                                  size_t height, size_t width, size_t patch, size_t dim)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ENQUEUE, "patch_embed batch=%zu %zux%zu patch=%zu refused", batch,
            height, width, patch))
        return VITCL_ERR_DEVICE;
    return fwd(f, f->real_ops->patch_embed(f->inner, pixels, p_off, W, w_off, bias, bias_off, Y,
                                           y_off, y_batch_stride, batch, channels, height, width,
                                           patch, dim));
}

static vitcl_status s_linear_pack_weight(vitcl_context *ctx, const vitcl_buffer *W, size_t w_off,
                                         size_t n, size_t k, const char *label,
                                         vitcl_buffer **out)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ALLOC, "linear_pack_weight n=%zu k=%zu for '%s' refused", n, k,
            label ? label : "(no label)"))
        return VITCL_ERR_OUT_OF_MEMORY;
    vitcl_status st = fwd(f, f->real_ops->linear_pack_weight(f->inner, W, w_off, n, k, label, out));
    if (st == VITCL_OK)
        f->stats.live_buffers++;
    return st;
}

static vitcl_status s_pack_weight_host(vitcl_context *ctx, const void *w, uint32_t dtype,
                                       size_t n, size_t k, uint32_t precision, const char *label,
                                       vitcl_buffer **out)
{
    fault_ctx *f = F(ctx);
    if (hit(f, LOADER_FAULT_ALLOC, "pack_weight_host n=%zu k=%zu for '%s' refused", n, k,
            label ? label : "(no label)"))
        return VITCL_ERR_OUT_OF_MEMORY;
    vitcl_status st =
        fwd(f, f->real_ops->pack_weight_host(f->inner, w, dtype, n, k, precision, label, out));
    if (st == VITCL_OK)
        f->stats.live_buffers++;
    return st;
}

static int s_supports(vitcl_context *ctx, vitcl_op op, const vitcl_op_shape *shape)
{
    fault_ctx *f = F(ctx);
    return f->real_ops->supports(f->inner, op, shape);
}

/* ------------------------------------------------------------------ setup */

static vitcl_status parse_spec(const char *spec, uint64_t fail_at[LOADER_FAULT_KINDS_])
{
    const char *p = spec;
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t klen = colon ? (size_t)(colon - p) : 0;
        if (!colon || !klen)
            return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                              "VITCL_FAULT_INJECT='%s': expected KIND:N items separated by commas "
                              "(kinds alloc, write, enqueue, build, cl_alloc, cl_enqueue)", spec);
        const char *num = colon + 1;
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(num, &end, 10);
        if (end == num || errno || (*end && *end != ',') || *num == '-' || *num == '+')
            return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                              "VITCL_FAULT_INJECT='%s': '%.*s' needs a decimal count after ':'",
                              spec, (int)klen, p);
        int known = 0;
        for (int k = 0; k < LOADER_FAULT_KINDS_; k++)
            if (strlen(kind_names[k]) == klen && !strncmp(p, kind_names[k], klen)) {
                fail_at[k] = n;
                known = 1;
            }
        for (size_t k = 0; k < sizeof plugin_kinds / sizeof plugin_kinds[0]; k++)
            if (strlen(plugin_kinds[k]) == klen && !strncmp(p, plugin_kinds[k], klen))
                known = 1;
        if (!known)
            return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                              "VITCL_FAULT_INJECT='%s': unknown kind '%.*s' (kinds alloc, write, "
                              "enqueue, build, cl_alloc, cl_enqueue)", spec, (int)klen, p);
        if (!*end)
            return VITCL_OK;
        p = end + 1; /* an empty item after a comma is refused above */
    }
}

/* Copies the first `have` bytes of a plugin struct into a zeroed host-sized one. */
static void copy_prefix(void *dst, size_t dst_size, const void *src, size_t have)
{
    memset(dst, 0, dst_size);
    memcpy(dst, src, have < dst_size ? have : dst_size);
}

vitcl_status loader_fault_wrap(vitcl_backend *be)
{
    const char *spec = getenv("VITCL_FAULT_INJECT");
    if (!spec || !*spec)
        return VITCL_OK;
    uint64_t fail_at[LOADER_FAULT_KINDS_] = {0};
    vitcl_status st = parse_spec(spec, fail_at);
    if (st != VITCL_OK)
        return st;
    fault_ctx *f = calloc(1, sizeof *f);
    if (!f)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "VITCL_FAULT_INJECT: out of memory");
    memcpy(f->fail_at, fail_at, sizeof fail_at);
    f->real = be->desc;
    f->real_ops = be->ops;
    f->inner = be->ctx;

    vitcl_backend_desc *d = &f->desc;
    copy_prefix(d, sizeof *d, be->desc, be->desc->struct_size);
    d->struct_size = (uint32_t)sizeof *d;
    d->context_destroy = s_context_destroy;
    d->last_error = s_last_error;
    d->synchronize = s_synchronize;
    d->buffer_alloc = s_buffer_alloc;
    d->buffer_free = s_buffer_free;
    d->buffer_write = s_buffer_write;
    d->buffer_read = s_buffer_read;
    d->buffer_copy = s_buffer_copy;
    if (d->buffer_wrap_host)
        d->buffer_wrap_host = s_buffer_wrap_host;
    if (d->profiling)
        d->profiling = s_profiling;
    if (d->profile_drain)
        d->profile_drain = s_profile_drain;

    vitcl_op_table *o = &f->ops;
    copy_prefix(o, sizeof *o, be->ops, be->ops->struct_size);
    o->struct_size = (uint32_t)sizeof *o;
    o->linear = s_linear;
    o->gemm_batched = s_gemm_batched;
    o->layernorm = s_layernorm;
    o->gelu = s_gelu;
    o->add = s_add;
    o->softmax = s_softmax;
    o->patch_embed = s_patch_embed;
    if (o->attention)
        o->attention = s_attention;
    if (o->linear_pack_weight)
        o->linear_pack_weight = s_linear_pack_weight;
    if (o->pack_weight_host)
        o->pack_weight_host = s_pack_weight_host;
    if (o->supports)
        o->supports = s_supports;
    d->ops = o;

    be->desc = d;
    be->ops = o;
    be->ctx = (vitcl_context *)(void *)f;
    return VITCL_OK;
}

int loader_fault_stats_get(const vitcl_backend *be, loader_fault_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!be || be->desc->context_destroy != s_context_destroy)
        return 0;
    *out = F(be->ctx)->stats;
    return 1;
}
