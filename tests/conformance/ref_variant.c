/* tests/conformance/ref_variant.c - the reference plugin with one deliberate change, chosen at
 * compile time, for proving what the conformance suite reports. Realistic bugs it must catch:
 *   WRONG_GEMM_EDGE       gemm_batched: the last row of each C stops one term short (an
 *                         off-by-one at the edge of the k loop);
 *   WRONG_SOFTMAX_NOMAX   softmax in fp32 without subtracting the row maximum;
 *   WRONG_LAYERNORM_EPS   layernorm ignores its eps and uses 1e-5;
 *   WRONG_GELU_LAST       gelu leaves the last element unwritten;
 *   WRONG_RESIDUAL_FIRST  linear with VITCL_LINEAR_RESIDUAL (ABI 1.2) adds Y before the GELU
 *                         instead of after it.
 * Reduced-precision bugs (pack_weight_host and linear with the weight it made):
 *   WRONG_BF16_TRUNC4     bf16 weights keep 4 fraction bits (truncated) instead of 7;
 *   WRONG_FP16_BF16_ROUND fp16 weights are rounded with bf16's 7 fraction bits, not 10;
 *   WRONG_F16_AS_BF16     dtype confusion: F16 host weights are read as BF16;
 *   WRONG_PACKED_NO_BIAS  linear drops the bias when its packed weight is bf16 or fp16;
 *   WRONG_X_FP8           linear rounds X to 3 fraction bits (fp8-like) with a bf16/fp16 weight;
 *   WRONG_PACK_UNTRANSPOSED pack_weight_host keeps W as [n,k] while linear reads [k,n]
 *                         (right only when n or k is 1).
 *   WRONG_FP16_SATURATE   fp16 weights beyond 65504 are clamped to ±65504 instead of refused or
 *                         stored as ±inf.
 * A correct plugin that takes the other allowed way for such weights:
 *   FP16_STORES_INF       fp16 weights beyond the range are stored as ±inf (ref refuses them).
 * And correct but smaller plugins, whose gaps must show as UNSUPPORTED or NOT_RUN, never as a
 * pass:
 *   NO_OPTIONALS          attention and linear_pack_weight are NULL, and supports() refuses
 *                         layernorm and softmax rows longer than 4096;
 *   FP32_ONLY             the device claims fp32 only (bf16 and fp16 cases are not run);
 *   ABI_1_0               descriptor and op table of ABI 1.0 (no pack_weight_host, no claims).
 * One plugin claims what it cannot do, which must fail:
 *   CLAIM_WITHOUT_PACK    claims bf16 and fp16 but has no pack_weight_host.
 * It is built together with plugins/ref's sources, whose entry point is renamed to
 * ref_wrapped_entry by the build (-Dvitcl_plugin_entry=ref_wrapped_entry); this file takes the
 * ref descriptor, renames the backend VARIANT_NAME and swaps in the one changed entry. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_half.h"
#include "ref_internal.h"

#undef vitcl_plugin_entry

const vitcl_backend_desc *ref_wrapped_entry(uint32_t host_abi_major, uint32_t host_abi_minor);
VITCL_PLUGIN_EXPORT const vitcl_backend_desc *vitcl_plugin_entry(uint32_t host_abi_major,
                                                                 uint32_t host_abi_minor);

static vitcl_backend_desc variant_desc;
static vitcl_op_table variant_ops;

#if defined(WRONG_GEMM_EDGE)
static vitcl_status wrong_gemm(vitcl_context *ctx, int ta, int tb, size_t m, size_t n, size_t k,
                               float alpha, const vitcl_buffer *A, size_t a_off, size_t lda,
                               size_t sa, const vitcl_buffer *B, size_t b_off, size_t ldb,
                               size_t sb, float beta, vitcl_buffer *C, size_t c_off, size_t ldc,
                               size_t sc, size_t batch)
{
    vitcl_status st = ref_gemm_batched(ctx, ta, tb, m, n, k, alpha, A, a_off, lda, sa, B, b_off,
                                       ldb, sb, beta, C, c_off, ldc, sc, batch);
    if (st != VITCL_OK)
        return st;
    /* Remove the last product from every element of the last row: "for l < k - 1". */
    for (size_t p = 0; p < batch; p++) {
        const float *a = ref_floats(A, a_off + p * sa), *b = ref_floats(B, b_off + p * sb);
        float *c = ref_floats(C, c_off + p * sc);
        size_t i = m - 1, l = k - 1;
        for (size_t j = 0; j < n; j++) {
            float av = ta ? a[l * lda + i] : a[i * lda + l];
            float bv = tb ? b[j * ldb + l] : b[l * ldb + j];
            c[i * ldc + j] -= alpha * av * bv;
        }
    }
    return VITCL_OK;
}
#endif

#if defined(WRONG_SOFTMAX_NOMAX)
static vitcl_status wrong_softmax(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                  vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols,
                                  float scale)
{
    /* Validate (and let ref write a result) on a copy of X, since Y may alias it. */
    size_t count = plugin_size_extent(1, 0, rows, cols, cols);
    vitcl_status st = ref_check_span(ctx, "softmax", "X", X, x_off, count, 0);
    if (st != VITCL_OK)
        return st;
    float *x = malloc(count * sizeof *x);
    if (x == NULL)
        return ref_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, "softmax", "out of memory");
    memcpy(x, ref_floats(X, x_off), count * sizeof *x);
    st = ref_softmax(ctx, X, x_off, Y, y_off, rows, cols, scale);
    if (st == VITCL_OK) {
        float *y = ref_floats(Y, y_off);
        for (size_t r = 0; r < rows; r++) {
            float sum = 0.0f;
            for (size_t j = 0; j < cols; j++)
                sum += expf(scale * x[r * cols + j]);
            for (size_t j = 0; j < cols; j++)
                y[r * cols + j] = expf(scale * x[r * cols + j]) / sum;
        }
    }
    free(x);
    return st;
}
#endif

#if defined(WRONG_LAYERNORM_EPS)
static vitcl_status wrong_layernorm(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                    const vitcl_buffer *gamma, size_t g_off,
                                    const vitcl_buffer *beta, size_t b_off, vitcl_buffer *Y,
                                    size_t y_off, size_t rows, size_t cols, float eps)
{
    (void)eps;
    return ref_layernorm(ctx, X, x_off, gamma, g_off, beta, b_off, Y, y_off, rows, cols, 1e-5f);
}
#endif

#if defined(NO_OPTIONALS)
static int short_rows_only(vitcl_context *ctx, vitcl_op op, const vitcl_op_shape *shape)
{
    if ((op == VITCL_OP_LAYERNORM || op == VITCL_OP_SOFTMAX) && shape != NULL && shape->n > 4096)
        return 0;
    return ref_supports(ctx, op, shape);
}
#endif

#if defined(WRONG_GELU_LAST)
static vitcl_status wrong_gelu(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                               vitcl_buffer *Y, size_t y_off, size_t n)
{
    return ref_gelu_op(ctx, X, x_off, Y, y_off, n > 1 ? n - 1 : n);
}
#endif

#if defined(WRONG_BF16_TRUNC4) || defined(WRONG_FP16_BF16_ROUND) || defined(WRONG_F16_AS_BF16) || \
    defined(WRONG_PACK_UNTRANSPOSED)
static vitcl_status wrong_pack(vitcl_context *ctx, const void *w, uint32_t dtype, size_t n,
                               size_t k, uint32_t precision, const char *label, vitcl_buffer **out)
{
    uint32_t as_dtype = dtype, as_prec = precision;
#if defined(WRONG_F16_AS_BF16)
    if (dtype == VITCL_DTYPE_F16)
        as_dtype = VITCL_DTYPE_BF16;
#elif defined(WRONG_FP16_BF16_ROUND)
    if (precision == VITCL_PRECISION_FP16)
        as_prec = VITCL_PRECISION_BF16;
#endif
    vitcl_status st = ref_pack_weight_host(ctx, w, as_dtype, n, k, as_prec, label, out);
    if (st != VITCL_OK)
        return st;
    (*out)->precision = precision; /* linear rounds X as the precision asked for says */
    float *t = ref_floats(*out, 0);
#if defined(WRONG_BF16_TRUNC4)
    if (precision == VITCL_PRECISION_BF16)
        for (size_t i = 0; i < n * k; i++) {
            uint32_t b;
            memcpy(&b, &t[i], sizeof b);
            b &= 0xFFF80000u; /* sign, exponent and the top 4 fraction bits */
            memcpy(&t[i], &b, sizeof b);
        }
#elif defined(WRONG_PACK_UNTRANSPOSED)
    float *copy = malloc(n * k * sizeof *copy);
    if (copy == NULL) {
        ref_buffer_free(ctx, *out);
        *out = NULL;
        return ref_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, "pack_weight_host", "out of memory");
    }
    memcpy(copy, t, n * k * sizeof *copy);
    for (size_t j = 0; j < n; j++) /* ref stored W^T; write W back in the host's [n,k] order */
        for (size_t p = 0; p < k; p++)
            t[j * k + p] = copy[p * n + j];
    free(copy);
#else
    (void)t;
#endif
    return VITCL_OK;
}
#endif

#if defined(WRONG_X_FP8)
/* x rounded to nearest with 3 fraction bits (the exponent range left alone). */
static float fp8ish(float x)
{
    if (!isfinite(x) || x == 0.0f)
        return x;
    int e = 0;
    float m = frexpf(x, &e); /* x = m·2^e, 0.5 <= |m| < 1: keep 4 significant bits */
    return ldexpf(nearbyintf(m * 16.0f) / 16.0f, e);
}
#endif

#if defined(WRONG_PACKED_NO_BIAS) || defined(WRONG_X_FP8)
static vitcl_status wrong_linear(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                 const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b,
                                 size_t b_off, vitcl_buffer *Y, size_t y_off, size_t m, size_t n,
                                 size_t k, uint32_t flags)
{
    int low = (flags & VITCL_LINEAR_PACKED_W) && W != NULL && W->packed &&
              W->precision != VITCL_PRECISION_FP32;
    if (!low)
        return ref_linear(ctx, X, x_off, W, w_off, b, b_off, Y, y_off, m, n, k, flags);
#if defined(WRONG_PACKED_NO_BIAS)
    (void)b;
    return ref_linear(ctx, X, x_off, W, w_off, NULL, 0, Y, y_off, m, n, k, flags);
#else
    size_t count = plugin_size_extent(1, 0, m, k, k);
    vitcl_status st = ref_check_span(ctx, "linear", "X", X, x_off, count, 0);
    if (st != VITCL_OK)
        return st;
    vitcl_buffer *X8 = NULL;
    if ((st = ref_buffer_new(ctx, "linear", count * sizeof(float), "X fp8", &X8)) != VITCL_OK)
        return st;
    const float *x = ref_floats(X, x_off);
    float *x8 = ref_floats(X8, 0);
    for (size_t i = 0; i < count; i++)
        x8[i] = fp8ish(x[i]);
    st = ref_linear(ctx, X8, 0, W, w_off, b, b_off, Y, y_off, m, n, k, flags);
    ref_buffer_free(ctx, X8);
    return st;
#endif
}
#endif

#if defined(WRONG_RESIDUAL_FIRST)
/* The residual goes in as if it were part of the bias: gelu(x·W^T + b + y), not y + gelu(...). */
static vitcl_status residual_first(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                   const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b,
                                   size_t b_off, vitcl_buffer *Y, size_t y_off, size_t m,
                                   size_t n, size_t k, uint32_t flags)
{
    if (!(flags & VITCL_LINEAR_RESIDUAL) || !(flags & VITCL_LINEAR_GELU))
        return ref_linear(ctx, X, x_off, W, w_off, b, b_off, Y, y_off, m, n, k, flags);
    size_t count = plugin_size_extent(1, 0, m, n, n);
    vitcl_status st = ref_check_span(ctx, "linear", "Y", Y, y_off, count, 1);
    if (st != VITCL_OK)
        return st;
    float *y = ref_floats(Y, y_off), *keep = malloc(count * sizeof *keep);
    if (keep == NULL)
        return ref_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, "linear", "out of memory");
    memcpy(keep, y, count * sizeof *keep);
    st = ref_linear(ctx, X, x_off, W, w_off, b, b_off, Y, y_off, m, n, k,
                    flags & ~(uint32_t)(VITCL_LINEAR_GELU | VITCL_LINEAR_RESIDUAL));
    for (size_t i = 0; st == VITCL_OK && i < count; i++)
        y[i] = (float)ref_gelu((double)y[i] + keep[i]);
    free(keep);
    return st;
}
#endif

#if defined(FP16_STORES_INF) || defined(WRONG_FP16_SATURATE)
/* fp16 packs that round every element themselves, so no element is refused. */
static vitcl_status fp16_pack(vitcl_context *ctx, const void *w, uint32_t dtype, size_t n,
                              size_t k, uint32_t precision, const char *label, vitcl_buffer **out)
{
    if (precision != VITCL_PRECISION_FP16)
        return ref_pack_weight_host(ctx, w, dtype, n, k, precision, label, out);
    vitcl_status st = ref_pack_weight_host(ctx, w, dtype, n, k, VITCL_PRECISION_FP32, label, out);
    if (st != VITCL_OK)
        return st;
    float *t = ref_floats(*out, 0);
    for (size_t i = 0; i < n * k; i++) {
        float r = plugin_round_f16(t[i]);
#if defined(WRONG_FP16_SATURATE)
        if (isinf(r) && isfinite(t[i]))
            r = copysignf(65504.0f, t[i]);
#endif
        t[i] = r;
    }
    (*out)->precision = VITCL_PRECISION_FP16;
    return VITCL_OK;
}
#endif

#if defined(FP32_ONLY) || defined(CLAIM_WITHOUT_PACK) || defined(ABI_1_0)
static vitcl_status (*ref_device_info)(void *, int, vitcl_device_info *);

static vitcl_status variant_device_info(void *state, int index, vitcl_device_info *info)
{
    vitcl_status st = ref_device_info(state, index, info);
#if defined(FP32_ONLY)
    if (st == VITCL_OK && info->struct_size >= offsetof(vitcl_device_info, precisions) +
                                                   sizeof info->precisions)
        info->precisions = VITCL_PRECISION_BIT(VITCL_PRECISION_FP32);
#endif
    return st;
}
#endif

VITCL_PLUGIN_EXPORT const vitcl_backend_desc *vitcl_plugin_entry(uint32_t host_abi_major,
                                                                 uint32_t host_abi_minor)
{
    const vitcl_backend_desc *ref = ref_wrapped_entry(host_abi_major, host_abi_minor);
    if (ref == NULL)
        return NULL;
    variant_desc = *ref;
    variant_ops = *ref->ops;
    variant_desc.name = VARIANT_NAME;
    variant_desc.description = "ref with one deliberate change (conformance test)";
    variant_desc.auto_rank = 0;
    variant_desc.ops = &variant_ops;
#if defined(WRONG_GEMM_EDGE)
    variant_ops.gemm_batched = wrong_gemm;
#elif defined(WRONG_SOFTMAX_NOMAX)
    variant_ops.softmax = wrong_softmax;
#elif defined(WRONG_LAYERNORM_EPS)
    variant_ops.layernorm = wrong_layernorm;
#elif defined(WRONG_GELU_LAST)
    variant_ops.gelu = wrong_gelu;
#elif defined(WRONG_RESIDUAL_FIRST)
    variant_ops.linear = residual_first;
#elif defined(NO_OPTIONALS)
    variant_ops.attention = NULL;
    variant_ops.linear_pack_weight = NULL;
    variant_ops.supports = short_rows_only;
#elif defined(WRONG_BF16_TRUNC4) || defined(WRONG_FP16_BF16_ROUND) || defined(WRONG_F16_AS_BF16) || \
    defined(WRONG_PACK_UNTRANSPOSED)
    variant_ops.pack_weight_host = wrong_pack;
#elif defined(WRONG_PACKED_NO_BIAS) || defined(WRONG_X_FP8)
    variant_ops.linear = wrong_linear;
#elif defined(FP16_STORES_INF) || defined(WRONG_FP16_SATURATE)
    variant_ops.pack_weight_host = fp16_pack;
#elif defined(FP32_ONLY) || defined(CLAIM_WITHOUT_PACK) || defined(ABI_1_0)
    ref_device_info = ref->device_info;
    variant_desc.device_info = variant_device_info;
#if defined(CLAIM_WITHOUT_PACK)
    variant_ops.pack_weight_host = NULL;
#elif defined(ABI_1_0)
    /* What a plugin built against the 1.0 headers hands over: the op table ends at supports,
     * and the loader reads no precisions from a minor-0 plugin. */
    variant_desc.abi_minor = 0;
    variant_ops.struct_size = (uint32_t)offsetof(vitcl_op_table, pack_weight_host);
#endif
#else
#error "define one WRONG_* bug or one of the smaller plugins"
#endif
    return &variant_desc;
}
