/* plugins/ref/ref_dense.c - the matrix-product ops of the reference backend: linear,
 * linear_pack_weight, pack_weight_host and gemm_batched, each dot product accumulated in
 * double. In bf16 and fp16 (a weight packed by pack_weight_host in that precision) ref emulates
 * the format: the weight was rounded to it when packed, and the products (exact in double) are
 * summed in double as in fp32. X stays fp32, as the cpu and opencl plugins keep it, unless the
 * context has round_inputs (VITCL_REF_ROUND_INPUTS=1): then linear rounds every element of X to
 * the format too, as a kernel computing in bf16 or fp16 would. */
#include <math.h>
#include <string.h>

#include "plugin_half.h"
#include "ref_internal.h"

vitcl_status ref_linear(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                        const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b, size_t b_off,
                        vitcl_buffer *Y, size_t y_off, size_t m, size_t n, size_t k,
                        uint32_t flags)
{
    static const char op[] = "linear";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = ref_now_ns();
    const size_t sizes[] = {m, n, k};
    vitcl_status st = ref_check_sizes(ctx, op, "m,n,k", sizes, 3);
    if (st != VITCL_OK)
        return st;
    if (flags & ~(uint32_t)REF_LINEAR_FLAGS)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "unknown flags 0x%x",
                        (unsigned)(flags & ~(uint32_t)REF_LINEAR_FLAGS));
    int packed = (flags & VITCL_LINEAR_PACKED_W) != 0;
    if ((st = ref_check_span(ctx, op, "X", X, x_off, plugin_size_extent(1, 0, m, k, k), 0)) ||
        (st = ref_check_span(ctx, op, "W", W, w_off, plugin_size_extent(1, 0, n, k, k), 0)) ||
        (b != NULL && (st = ref_check_span(ctx, op, "b", b, b_off, n, 0))) ||
        (st = ref_check_span(ctx, op, "Y", Y, y_off, plugin_size_extent(1, 0, m, n, n), 1)))
        return st;
    if (packed && (!W->packed || W->pack_n != n || W->pack_k != k || w_off != 0))
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "VITCL_LINEAR_PACKED_W: W ('%s') is not a buffer packed by "
                        "linear_pack_weight or pack_weight_host for n=%zu, k=%zu at offset 0",
                        W->label, n, k);
    if (!packed && W->packed)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "W ('%s') is a packed weight; pass VITCL_LINEAR_PACKED_W",
                        W->label);

    const float *x = ref_floats(X, x_off);
    const float *w = ref_floats(W, w_off);
    const float *bias = b != NULL ? ref_floats(b, b_off) : NULL;
    float *y = ref_floats(Y, y_off);
    /* X is rounded to the weight's precision only in a round_inputs context (FP32: unchanged). */
    uint32_t prec = packed && ctx->round_inputs ? W->precision : VITCL_PRECISION_FP32;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (size_t p = 0; p < k; p++) {
                /* Packed W is stored transposed: element (j, p) of W lives at p·n + j. */
                double wv = packed ? w[p * n + j] : w[j * k + p];
                acc += (double)plugin_precision_round(x[i * k + p], prec) * wv;
            }
            if (bias != NULL)
                acc += bias[j];
            if (flags & VITCL_LINEAR_GELU)
                acc = ref_gelu(acc);
            /* The residual is added to the result rounded to fp32, as linear then add. */
            if (flags & VITCL_LINEAR_RESIDUAL)
                y[i * n + j] += (float)acc;
            else
                y[i * n + j] = (float)acc;
        }
    }
    ref_record(ctx, op, t0);
    return VITCL_OK;
}

vitcl_status ref_linear_pack_weight(vitcl_context *ctx, const vitcl_buffer *W, size_t w_off,
                                    size_t n, size_t k, const char *label, vitcl_buffer **out)
{
    static const char op[] = "linear_pack_weight";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = ref_now_ns();
    const size_t sizes[] = {n, k};
    vitcl_status st = ref_check_sizes(ctx, op, "n,k", sizes, 2);
    if (st != VITCL_OK)
        return st;
    if (out == NULL)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "out is NULL");
    size_t count = plugin_size_extent(1, 0, n, k, k), bytes = 0;
    if ((st = ref_check_span(ctx, op, "W", W, w_off, count, 0)))
        return st;
    if (W->packed)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "W ('%s') is already packed",
                        W->label);
    if (!plugin_size_mul(count, sizeof(float), &bytes))
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "W: the size overflows");
    vitcl_buffer *buf = NULL;
    if ((st = ref_buffer_new(ctx, op, bytes, label, &buf)))
        return st;
    const float *w = ref_floats(W, w_off);
    float *t = ref_floats(buf, 0);
    for (size_t j = 0; j < n; j++)
        for (size_t p = 0; p < k; p++)
            t[p * n + j] = w[j * k + p];
    buf->packed = 1;
    buf->pack_n = n;
    buf->pack_k = k;
    buf->precision = VITCL_PRECISION_FP32;
    *out = buf;
    ref_record(ctx, op, t0);
    return VITCL_OK;
}

vitcl_status ref_pack_weight_host(vitcl_context *ctx, const void *w, uint32_t dtype, size_t n,
                                  size_t k, uint32_t precision, const char *label,
                                  vitcl_buffer **out)
{
    static const char op[] = "pack_weight_host";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = ref_now_ns();
    const char *name = label != NULL ? label : "(unnamed)";
    if (plugin_dtype_size(dtype) == 0)
        return ref_fail(ctx, VITCL_ERR_UNSUPPORTED, op,
                        "weight '%s': dtype %u is not one this plugin knows (F32, F16, BF16)",
                        name, (unsigned)dtype);
    if (plugin_precision_name(precision) == NULL)
        return ref_fail(ctx, VITCL_ERR_UNSUPPORTED, op,
                        "weight '%s': precision %u is not one this plugin knows (fp32, bf16, "
                        "fp16)",
                        name, (unsigned)precision);
    const size_t sizes[] = {n, k};
    vitcl_status st = ref_check_sizes(ctx, op, "n,k", sizes, 2);
    if (st != VITCL_OK)
        return st;
    if (out == NULL || w == NULL)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "weight '%s': %s is NULL", name,
                        out == NULL ? "out" : "the host weight");
    size_t count = 0, bytes = 0;
    if (!plugin_size_mul(n, k, &count) || !plugin_size_mul(count, sizeof(float), &bytes))
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "weight '%s': n=%zu x k=%zu overflows", name, n, k);
    vitcl_buffer *buf = NULL;
    if ((st = ref_buffer_new(ctx, op, bytes, label, &buf)))
        return st;
    float *t = ref_floats(buf, 0);
    for (size_t j = 0; j < n; j++)
        for (size_t p = 0; p < k; p++) {
            float v = plugin_dtype_load(w, dtype, j * k + p);
            float r = plugin_precision_round(v, precision);
            if (isinf(r) && isfinite(v)) { /* as the cpu plugin does: never a silent inf */
                ref_buffer_free(ctx, buf);
                return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                                "weight '%s' (%s): element [%zu, %zu] = %g is finite but beyond "
                                "%s's range",
                                name, plugin_dtype_name(dtype), j, p, (double)v,
                                plugin_precision_name(precision));
            }
            t[p * n + j] = r;
        }
    buf->packed = 1;
    buf->pack_n = n;
    buf->pack_k = k;
    buf->precision = precision;
    *out = buf;
    ref_record(ctx, op, t0);
    return VITCL_OK;
}

/* Checks one gemm operand: op(X) is [rows, cols]; stored [rows, cols] with ld >= cols, or
 * transposed, stored [cols, rows] with ld >= rows. */
static vitcl_status check_operand(vitcl_context *ctx, const char *what, const vitcl_buffer *buf,
                                  size_t off, size_t ld, size_t stride, size_t batch, int trans,
                                  size_t rows, size_t cols, int writable)
{
    size_t srows = trans ? cols : rows, scols = trans ? rows : cols;
    if (ld < scols)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "gemm_batched",
                        "ld%s = %zu is smaller than the %zu columns of stored %s", what, ld,
                        scols, what);
    return ref_check_span(ctx, "gemm_batched", what, buf, off,
                          plugin_size_extent(batch, stride, srows, ld, scols), writable);
}

vitcl_status ref_gemm_batched(vitcl_context *ctx, int trans_a, int trans_b, size_t m, size_t n,
                              size_t k, float alpha, const vitcl_buffer *A, size_t a_off,
                              size_t lda, size_t stride_a, const vitcl_buffer *B, size_t b_off,
                              size_t ldb, size_t stride_b, float beta, vitcl_buffer *C,
                              size_t c_off, size_t ldc, size_t stride_c, size_t batch)
{
    static const char op[] = "gemm_batched";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = ref_now_ns();
    const size_t sizes[] = {m, n, k, batch};
    vitcl_status st = ref_check_sizes(ctx, op, "m,n,k,batch", sizes, 4);
    if (st != VITCL_OK)
        return st;
    if ((st = check_operand(ctx, "A", A, a_off, lda, stride_a, batch, trans_a, m, k, 0)) ||
        (st = check_operand(ctx, "B", B, b_off, ldb, stride_b, batch, trans_b, k, n, 0)) ||
        (st = check_operand(ctx, "C", C, c_off, ldc, stride_c, batch, 0, m, n, 1)))
        return st;

    for (size_t p = 0; p < batch; p++) {
        const float *a = ref_floats(A, a_off + p * stride_a);
        const float *bm = ref_floats(B, b_off + p * stride_b);
        float *c = ref_floats(C, c_off + p * stride_c);
        for (size_t i = 0; i < m; i++) {
            for (size_t j = 0; j < n; j++) {
                double acc = 0.0;
                for (size_t l = 0; l < k; l++) {
                    double av = trans_a ? a[l * lda + i] : a[i * lda + l];
                    double bv = trans_b ? bm[j * ldb + l] : bm[l * ldb + j];
                    acc += av * bv;
                }
                double r = (double)alpha * acc;
                /* beta == 0 must not read C, so NaN or garbage there does not propagate. */
                if (beta != 0.0f)
                    r += (double)beta * c[i * ldc + j];
                c[i * ldc + j] = (float)r;
            }
        }
    }
    ref_record(ctx, op, t0);
    return VITCL_OK;
}
