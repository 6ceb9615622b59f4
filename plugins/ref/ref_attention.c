/* plugins/ref/ref_attention.c - multi-head self-attention of the reference backend, exactly the
 * formula of backend.h with arbitrary leading dimensions: scores, a max-subtracted softmax and
 * the weighted sum of values, all in double for one (image, head, query) at a time. */
#include <math.h>
#include <stdlib.h>

#include "ref_internal.h"

static const char op_name[] = "attention";

/* Checks one of Q, K, V, O: batch·seq rows of heads·head_dim floats with leading dimension ld. */
static vitcl_status check_rows(vitcl_context *ctx, const char *what, const vitcl_buffer *buf,
                               size_t off, size_t ld, size_t rows, size_t width, int writable)
{
    if (ld < width)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op_name,
                        "ld%s = %zu is smaller than heads·head_dim = %zu", what, ld, width);
    return ref_check_span(ctx, op_name, what, buf, off, plugin_size_extent(1, 0, rows, ld, width),
                          writable);
}

vitcl_status ref_attention(vitcl_context *ctx, const vitcl_buffer *Q, size_t q_off, size_t ldq,
                           const vitcl_buffer *K, size_t k_off, size_t ldk,
                           const vitcl_buffer *V, size_t v_off, size_t ldv, vitcl_buffer *O,
                           size_t o_off, size_t ldo, size_t batch, size_t seq, size_t heads,
                           size_t head_dim, float scale)
{
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = ref_now_ns();
    const size_t sizes[] = {batch, seq, heads, head_dim};
    vitcl_status st = ref_check_sizes(ctx, op_name, "batch,seq,heads,head_dim", sizes, 4);
    if (st != VITCL_OK)
        return st;
    if (!isfinite(scale))
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op_name, "scale = %g is not finite",
                        (double)scale);
    size_t width = 0, rows = 0, bytes = 0;
    if (!plugin_size_mul(heads, head_dim, &width) || !plugin_size_mul(batch, seq, &rows) ||
        !plugin_size_mul(seq, sizeof(double), &bytes))
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op_name,
                        "batch %zu, seq %zu, heads %zu, head_dim %zu: the sizes overflow", batch,
                        seq, heads, head_dim);
    if ((st = check_rows(ctx, "Q", Q, q_off, ldq, rows, width, 0)) ||
        (st = check_rows(ctx, "K", K, k_off, ldk, rows, width, 0)) ||
        (st = check_rows(ctx, "V", V, v_off, ldv, rows, width, 0)) ||
        (st = check_rows(ctx, "O", O, o_off, ldo, rows, width, 1)))
        return st;
    double *p = malloc(bytes);
    double *acc = malloc(head_dim * sizeof *acc); /* head_dim <= width fits, as checked above */
    if (p == NULL || acc == NULL) {
        free(p);
        free(acc);
        return ref_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, op_name,
                        "no memory for %zu attention scores", seq);
    }

    const float *q = ref_floats(Q, q_off), *k = ref_floats(K, k_off), *v = ref_floats(V, v_off);
    float *o = ref_floats(O, o_off);
    for (size_t b = 0; b < batch; b++) {
        for (size_t h = 0; h < heads; h++) {
            size_t col = h * head_dim;
            for (size_t i = 0; i < seq; i++) {
                const float *qi = q + (b * seq + i) * ldq + col;
                double mx = -INFINITY, sum = 0.0;
                for (size_t t = 0; t < seq; t++) {
                    const float *kt = k + (b * seq + t) * ldk + col;
                    double dot = 0.0;
                    for (size_t j = 0; j < head_dim; j++)
                        dot += (double)qi[j] * kt[j];
                    p[t] = (double)scale * dot;
                    if (p[t] > mx)
                        mx = p[t];
                }
                for (size_t t = 0; t < seq; t++) {
                    p[t] = exp(p[t] - mx);
                    sum += p[t];
                }
                for (size_t j = 0; j < head_dim; j++)
                    acc[j] = 0.0;
                for (size_t t = 0; t < seq; t++) {
                    const float *vt = v + (b * seq + t) * ldv + col;
                    for (size_t j = 0; j < head_dim; j++)
                        acc[j] += p[t] * vt[j];
                }
                float *oi = o + (b * seq + i) * ldo + col;
                for (size_t j = 0; j < head_dim; j++)
                    oi[j] = (float)(acc[j] / sum);
            }
        }
    }
    free(p);
    free(acc);
    ref_record(ctx, op_name, t0);
    return VITCL_OK;
}
