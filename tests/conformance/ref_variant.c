/* tests/conformance/ref_variant.c - the reference plugin with one deliberate change, chosen at
 * compile time, for proving what the conformance suite reports. Realistic bugs it must catch:
 *   WRONG_GEMM_EDGE       gemm_batched: the last row of each C stops one term short (an
 *                         off-by-one at the edge of the k loop);
 *   WRONG_SOFTMAX_NOMAX   softmax in fp32 without subtracting the row maximum;
 *   WRONG_LAYERNORM_EPS   layernorm ignores its eps and uses 1e-5;
 *   WRONG_GELU_LAST       gelu leaves the last element unwritten.
 * And a correct but smaller plugin, whose gaps must show as UNSUPPORTED, never as a pass:
 *   NO_OPTIONALS          attention and linear_pack_weight are NULL, and supports() refuses
 *                         layernorm and softmax rows longer than 4096.
 * It is built together with plugins/ref's sources, whose entry point is renamed to
 * ref_wrapped_entry by the build (-Dvitcl_plugin_entry=ref_wrapped_entry); this file takes the
 * ref descriptor, renames the backend VARIANT_NAME and swaps in the one changed entry. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
#elif defined(NO_OPTIONALS)
    variant_ops.attention = NULL;
    variant_ops.linear_pack_weight = NULL;
    variant_ops.supports = short_rows_only;
#else
#error "define one WRONG_* bug or NO_OPTIONALS"
#endif
    return &variant_desc;
}
