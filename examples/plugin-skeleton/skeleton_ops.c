/* skeleton_ops.c - the seven required ops of the skeleton plugin as plain C loops with fp32
 * accumulation. Each op first checks its buffers (a buffer of this context, the region inside
 * it, every size product free of overflow), then computes, exactly as vitcl/backend.h
 * specifies. Straightforward and slow on purpose: replace the loops, keep the checks. */
#include <math.h>
#include <stdint.h>

#include "skeleton.h"

#define SK_SQRT1_2 0.70710678118654752440f

/* ------------------------------------------------------------------ checks */

/* a·b into *out; returns 0 on overflow. */
static int mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

/* Floats spanned by `rows` rows of `cols` floats, `ld` apart, repeated `batch` times `stride`
 * apart: (batch-1)·stride + (rows-1)·ld + cols. 0 when a size is 0 or the sum overflows. */
static size_t extent(size_t batch, size_t stride, size_t rows, size_t ld, size_t cols)
{
    size_t a, b;
    if (batch == 0 || rows == 0 || cols == 0 || !mul_ok(batch - 1, stride, &a) ||
        !mul_ok(rows - 1, ld, &b) || b > SIZE_MAX - a || cols > SIZE_MAX - a - b)
        return 0;
    return a + b + cols;
}

/* Checks that floats [off, off + count) of buf lie inside it and that buf belongs to ctx.
 * count == 0 means the caller's size computation overflowed. `what` names the argument. */
static vitcl_status check(vitcl_context *ctx, const char *op, const char *what,
                          const vitcl_buffer *buf, size_t off, size_t count)
{
    if (buf == NULL)
        return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "%s is a NULL buffer", what);
    if (buf->owner != ctx)
        return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                       "%s (buffer '%s') belongs to another context", what, buf->label);
    size_t have = buf->bytes / sizeof(float);
    if (count == 0)
        return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                       "%s (buffer '%s'): a size is zero or the region's size overflows", what,
                       buf->label);
    if (off > have || count > have - off)
        return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                       "%s (buffer '%s'): floats [%zu, +%zu) lie beyond its end (%zu floats)",
                       what, buf->label, off, count, have);
    return VITCL_OK;
}

/* gelu(x) = 0.5·x·(1 + erf(x/sqrt(2))) = 0.5·x·erfc(-x/sqrt(2)); the erfc form does not cancel
 * for large negative x. */
static float gelu1(float x)
{
    return 0.5f * x * erfcf(-x * SK_SQRT1_2);
}

/* ------------------------------------------------------------------ matrix products */

vitcl_status sk_linear(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                       const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b, size_t b_off,
                       vitcl_buffer *Y, size_t y_off, size_t m, size_t n, size_t k,
                       uint32_t flags)
{
    static const char op[] = "linear";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    /* Without linear_pack_weight the host never sets VITCL_LINEAR_PACKED_W; an unknown flag may
     * change the meaning of the op, so refuse rather than guess. */
    if (flags & ~(uint32_t)VITCL_LINEAR_GELU)
        return sk_fail(ctx, VITCL_ERR_UNSUPPORTED, op, "flags 0x%x are not supported",
                       (unsigned)(flags & ~(uint32_t)VITCL_LINEAR_GELU));
    vitcl_status st;
    if ((st = check(ctx, op, "X", X, x_off, extent(1, 0, m, k, k))) ||
        (st = check(ctx, op, "W", W, w_off, extent(1, 0, n, k, k))) ||
        (b != NULL && (st = check(ctx, op, "b", b, b_off, n))) ||
        (st = check(ctx, op, "Y", Y, y_off, extent(1, 0, m, n, n))))
        return st;
    const float *x = X->data + x_off, *w = W->data + w_off;
    const float *bias = b != NULL ? b->data + b_off : NULL;
    float *y = Y->data + y_off;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float acc = 0.0f;
            for (size_t p = 0; p < k; p++)
                acc += x[i * k + p] * w[j * k + p]; /* W is [n, k]: row j is output j */
            if (bias != NULL)
                acc += bias[j];
            y[i * n + j] = (flags & VITCL_LINEAR_GELU) ? gelu1(acc) : acc;
        }
    return VITCL_OK;
}

vitcl_status sk_gemm_batched(vitcl_context *ctx, int trans_a, int trans_b, size_t m, size_t n,
                             size_t k, float alpha, const vitcl_buffer *A, size_t a_off,
                             size_t lda, size_t stride_a, const vitcl_buffer *B, size_t b_off,
                             size_t ldb, size_t stride_b, float beta, vitcl_buffer *C,
                             size_t c_off, size_t ldc, size_t stride_c, size_t batch)
{
    static const char op[] = "gemm_batched";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    /* As stored: A is [m, k] or, transposed, [k, m]; B is [k, n] or [n, k]. */
    size_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
    size_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
    vitcl_status st;
    if ((st = check(ctx, op, "A", A, a_off, extent(batch, stride_a, a_rows, lda, a_cols))) ||
        (st = check(ctx, op, "B", B, b_off, extent(batch, stride_b, b_rows, ldb, b_cols))) ||
        (st = check(ctx, op, "C", C, c_off, extent(batch, stride_c, m, ldc, n))))
        return st;
    for (size_t p = 0; p < batch; p++) {
        const float *a = A->data + a_off + p * stride_a;
        const float *bm = B->data + b_off + p * stride_b;
        float *c = C->data + c_off + p * stride_c;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                float acc = 0.0f;
                for (size_t q = 0; q < k; q++) {
                    float av = trans_a ? a[q * lda + i] : a[i * lda + q];
                    float bv = trans_b ? bm[j * ldb + q] : bm[q * ldb + j];
                    acc += av * bv;
                }
                float *cij = &c[i * ldc + j];
                /* beta == 0: C is not read, so NaN or garbage in C must not propagate. */
                *cij = beta == 0.0f ? alpha * acc : alpha * acc + beta * *cij;
            }
    }
    return VITCL_OK;
}

/* ------------------------------------------------------------------ row-wise and element-wise */

vitcl_status sk_layernorm(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                          const vitcl_buffer *gamma, size_t g_off, const vitcl_buffer *beta,
                          size_t b_off, vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols,
                          float eps)
{
    static const char op[] = "layernorm";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_status st;
    if ((st = check(ctx, op, "X", X, x_off, extent(1, 0, rows, cols, cols))) ||
        (st = check(ctx, op, "gamma", gamma, g_off, cols)) ||
        (st = check(ctx, op, "beta", beta, b_off, cols)) ||
        (st = check(ctx, op, "Y", Y, y_off, extent(1, 0, rows, cols, cols))))
        return st;
    const float *g = gamma->data + g_off, *bt = beta->data + b_off;
    for (size_t r = 0; r < rows; r++) {
        const float *x = X->data + x_off + r * cols;
        float *y = Y->data + y_off + r * cols; /* may be x itself: each x[j] is read first */
        /* Two passes: the mean, then the variance around it. The one-pass E[x²] - E[x]² loses
         * every digit when the mean is large against the spread (the suite checks that). */
        float sum = 0.0f;
        for (size_t j = 0; j < cols; j++)
            sum += x[j];
        float mean = sum / (float)cols, var = 0.0f;
        for (size_t j = 0; j < cols; j++)
            var += (x[j] - mean) * (x[j] - mean);
        float inv = 1.0f / sqrtf(var / (float)cols + eps);
        for (size_t j = 0; j < cols; j++)
            y[j] = (x[j] - mean) * inv * g[j] + bt[j];
    }
    return VITCL_OK;
}

vitcl_status sk_softmax(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                        vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols, float scale)
{
    static const char op[] = "softmax";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_status st;
    if ((st = check(ctx, op, "X", X, x_off, extent(1, 0, rows, cols, cols))) ||
        (st = check(ctx, op, "Y", Y, y_off, extent(1, 0, rows, cols, cols))))
        return st;
    for (size_t r = 0; r < rows; r++) {
        const float *x = X->data + x_off + r * cols;
        float *y = Y->data + y_off + r * cols; /* may be x itself */
        float mx = -INFINITY;
        for (size_t j = 0; j < cols; j++)
            mx = fmaxf(mx, scale * x[j]);
        /* Subtracting the maximum keeps exp's argument <= 0: no overflow for |x| up to 1e4. */
        float sum = 0.0f;
        for (size_t j = 0; j < cols; j++) {
            y[j] = expf(scale * x[j] - mx);
            sum += y[j];
        }
        for (size_t j = 0; j < cols; j++)
            y[j] /= sum;
    }
    return VITCL_OK;
}

vitcl_status sk_gelu(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off, vitcl_buffer *Y,
                     size_t y_off, size_t n)
{
    static const char op[] = "gelu";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_status st;
    if ((st = check(ctx, op, "X", X, x_off, n)) || (st = check(ctx, op, "Y", Y, y_off, n)))
        return st;
    const float *x = X->data + x_off;
    float *y = Y->data + y_off;
    for (size_t i = 0; i < n; i++)
        y[i] = gelu1(x[i]);
    return VITCL_OK;
}

vitcl_status sk_add(vitcl_context *ctx, const vitcl_buffer *A, size_t a_off,
                    const vitcl_buffer *B, size_t b_off, vitcl_buffer *Y, size_t y_off, size_t n,
                    size_t b_period)
{
    static const char op[] = "add";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    if (b_period == 0 || n % b_period != 0)
        return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                       "b_period %zu does not divide n = %zu", b_period, n);
    vitcl_status st;
    if ((st = check(ctx, op, "A", A, a_off, n)) ||
        (st = check(ctx, op, "B", B, b_off, b_period)) || (st = check(ctx, op, "Y", Y, y_off, n)))
        return st;
    const float *a = A->data + a_off, *bv = B->data + b_off;
    float *y = Y->data + y_off;
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + bv[i % b_period];
    return VITCL_OK;
}

/* ------------------------------------------------------------------ patch embedding */

vitcl_status sk_patch_embed(vitcl_context *ctx, const vitcl_buffer *pixels, size_t p_off,
                            const vitcl_buffer *W, size_t w_off, const vitcl_buffer *bias,
                            size_t bias_off, vitcl_buffer *Y, size_t y_off,
                            size_t y_batch_stride, size_t batch, size_t channels, size_t height,
                            size_t width, size_t patch, size_t dim)
{
    static const char op[] = "patch_embed";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    if (patch == 0 || patch > height || patch > width)
        return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                       "patch %zu does not fit the %zux%zu image", patch, height, width);
    size_t gh = height / patch, gw = width / patch;
    size_t image = 0, kernel = 0, tokens = 0, per_image = 0; /* per_image = tokens·dim */
    if (!mul_ok(channels, height, &image) || !mul_ok(image, width, &image) ||
        !mul_ok(channels, patch, &kernel) || !mul_ok(kernel, patch, &kernel) ||
        !mul_ok(gh, gw, &tokens) || !mul_ok(tokens, dim, &per_image))
        return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "the sizes overflow");
    vitcl_status st;
    if ((st = check(ctx, op, "pixels", pixels, p_off, extent(batch, image, 1, image, image))) ||
        (st = check(ctx, op, "W", W, w_off, extent(1, 0, dim, kernel, kernel))) ||
        (st = check(ctx, op, "bias", bias, bias_off, dim)) ||
        (st = check(ctx, op, "Y", Y, y_off,
                    extent(batch, y_batch_stride, 1, per_image, per_image))))
        return st;
    const float *w = W->data + w_off, *bs = bias->data + bias_off;
    for (size_t b = 0; b < batch; b++) {
        const float *img = pixels->data + p_off + b * image; /* [channels, height, width] */
        float *y = Y->data + y_off + b * y_batch_stride;
        for (size_t r = 0; r < gh; r++)
            for (size_t c = 0; c < gw; c++)
                for (size_t d = 0; d < dim; d++) {
                    const float *wd = w + d * kernel; /* W[d] is [channels, patch, patch] */
                    float acc = bs[d];
                    for (size_t ch = 0; ch < channels; ch++)
                        for (size_t i = 0; i < patch; i++)
                            for (size_t j = 0; j < patch; j++)
                                acc += wd[(ch * patch + i) * patch + j] *
                                       img[(ch * height + r * patch + i) * width + c * patch + j];
                    y[(r * gw + c) * dim + d] = acc;
                }
    }
    return VITCL_OK;
}
