/* tests/opencl/test_vs_ref.c - every op of the OpenCL plugin against the ref plugin
 * (plugins/ref/vitcl_ref.so, plain C with double accumulation) on identical inputs.
 *
 * Each case uploads the same data to both plugins, runs the op on both and compares the whole
 * output buffer, which starts as NaN on both sides outside the op's inputs, so elements an op
 * must not touch are compared too. Tolerances (fp32 device vs double-accumulating reference):
 * GEMM-like ops 1e-4 relative + 1e-4*sqrt(k) absolute (fp32 accumulation error grows like
 * sqrt(k)); layernorm 1e-4; softmax 1e-6 absolute + 1e-4 relative; gelu 1e-6 + 1e-5 (OpenCL erf
 * may be 16 ulp off); add exact to 1e-6; attention 2e-5 + 1e-4 (convex combinations of |v| <= 1).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static harness CL, REF;

static void setup(void)
{
    harness_open(&CL);
    harness_load_path(&REF, VITCL_BUILD_ROOT "/plugins/ref/vitcl_ref.so");
    char err[1024] = "";
    cr_assert_eq(REF.desc->context_create(REF.state, 0, &REF.ctx, err, sizeof err), VITCL_OK,
                 "ref context_create: %s", err);
}

static void teardown(void)
{
    harness_close(&CL);
    harness_close(&REF);
}

TestSuite(opencl_vs_ref, .init = setup, .fini = teardown, .timeout = 600);

/* One tensor on both sides. */
typedef struct pbuf {
    vitcl_buffer *cl, *ref;
    size_t n;
} pbuf;

static pbuf pb(const float *data, size_t n)
{
    float *tmp = NULL;
    if (!data) {
        tmp = malloc(n * sizeof *tmp);
        cr_assert_not_null(tmp);
        for (size_t i = 0; i < n; i++)
            tmp[i] = NAN;
        data = tmp;
    }
    pbuf b = {h_upload(&CL, data, n), h_upload(&REF, data, n), n};
    free(tmp);
    return b;
}

static void pb_free(pbuf b)
{
    h_free(&CL, b.cl);
    h_free(&REF, b.ref);
}

/* Compares the two sides' contents of b. */
static void pb_compare(const char *what, pbuf b, double atol, double rtol)
{
    float *got = malloc(b.n * sizeof *got), *want = malloc(b.n * sizeof *want);
    double *wd = malloc(b.n * sizeof *wd);
    cr_assert(got && want && wd);
    cr_assert_eq(CL.desc->synchronize(CL.ctx), VITCL_OK, "%s", CL.desc->last_error(CL.ctx));
    h_download(&CL, b.cl, 0, got, b.n);
    h_download(&REF, b.ref, 0, want, b.n);
    for (size_t i = 0; i < b.n; i++) {
        if (isnan(want[i])) {
            cr_expect(isnan(got[i]), "%s: element %zu must stay untouched", what, i);
            got[i] = 0.0f;
            want[i] = 0.0f;
        }
        wd[i] = want[i];
    }
    h_expect_close(what, got, wd, b.n, atol, rtol);
    free(got), free(want), free(wd);
}

#define BOTH(call_cl, call_ref)                                                              \
    do {                                                                                      \
        vitcl_status s_cl = (call_cl), s_ref = (call_ref);                                   \
        cr_assert_eq(s_ref, VITCL_OK, "ref: %s", REF.desc->last_error(REF.ctx));            \
        cr_assert_eq(s_cl, VITCL_OK, "opencl: %s", CL.desc->last_error(CL.ctx));            \
    } while (0)

Test(opencl_vs_ref, linear)
{
    const size_t shapes[][3] = {{1, 1, 1}, {5, 7, 3}, {197, 64, 96}, {33, 129, 257}};
    for (size_t c = 0; c < 4; c++)
        for (uint32_t flags = 0; flags < 2; flags++) {
            size_t m = shapes[c][0], n = shapes[c][1], k = shapes[c][2];
            float *x = h_random(m * k, 1.0f, (unsigned)c), *w = h_random(n * k, 1.0f, 7u + (unsigned)c);
            float *b = h_random(n, 1.0f, 13u + (unsigned)c);
            pbuf X = pb(x, m * k), W = pb(w, n * k), B = pb(b, n), Y = pb(NULL, m * n + 4);
            BOTH(CL.desc->ops->linear(CL.ctx, X.cl, 0, W.cl, 0, flags ? B.cl : NULL, 0, Y.cl, 2,
                                      m, n, k, flags),
                 REF.desc->ops->linear(REF.ctx, X.ref, 0, W.ref, 0, flags ? B.ref : NULL, 0,
                                       Y.ref, 2, m, n, k, flags));
            char what[64];
            snprintf(what, sizeof what, "linear %zux%zux%zu flags=%u", m, n, k, flags);
            pb_compare(what, Y, 1e-4 * sqrt((double)k), 1e-4);
            pb_free(X), pb_free(W), pb_free(B), pb_free(Y);
            free(x), free(w), free(b);
        }
}

Test(opencl_vs_ref, gemm_batched)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            const size_t m = 9, n = 6, k = 11, batch = 3, pad = 2;
            size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
            size_t sa = (ta ? k : m) * lda, sb = (tb ? n : k) * ldb, sc = m * ldc + 1;
            float *a = h_random(batch * sa, 1.0f, 1), *b = h_random(batch * sb, 1.0f, 2);
            float *c = h_random(batch * sc, 1.0f, 3);
            pbuf A = pb(a, batch * sa), B = pb(b, batch * sb), C = pb(c, batch * sc);
            BOTH(CL.desc->ops->gemm_batched(CL.ctx, ta, tb, m, n, k, 0.5f, A.cl, 0, lda, sa, B.cl,
                                            0, ldb, sb, 0.25f, C.cl, 0, ldc, sc, batch),
                 REF.desc->ops->gemm_batched(REF.ctx, ta, tb, m, n, k, 0.5f, A.ref, 0, lda, sa,
                                             B.ref, 0, ldb, sb, 0.25f, C.ref, 0, ldc, sc, batch));
            char what[64];
            snprintf(what, sizeof what, "gemm_batched ta=%d tb=%d", ta, tb);
            pb_compare(what, C, 1e-4 * sqrt((double)k), 1e-4);
            pb_free(A), pb_free(B), pb_free(C);
            free(a), free(b), free(c);
        }
}

Test(opencl_vs_ref, layernorm_softmax_gelu_add)
{
    const size_t shapes[][2] = {{1, 1}, {3, 7}, {197, 384}, {2, 3137}};
    for (size_t c = 0; c < 4; c++) {
        size_t rows = shapes[c][0], cols = shapes[c][1], n = rows * cols;
        float *x = h_random(n, 5.0f, (unsigned)c), *g = h_random(cols, 1.0f, 20u + (unsigned)c);
        float *bt = h_random(cols, 1.0f, 40u + (unsigned)c);
        pbuf X = pb(x, n), G = pb(g, cols), BT = pb(bt, cols), Y = pb(NULL, n);
        char what[64];

        BOTH(CL.desc->ops->layernorm(CL.ctx, X.cl, 0, G.cl, 0, BT.cl, 0, Y.cl, 0, rows, cols,
                                     1e-12f),
             REF.desc->ops->layernorm(REF.ctx, X.ref, 0, G.ref, 0, BT.ref, 0, Y.ref, 0, rows,
                                      cols, 1e-12f));
        snprintf(what, sizeof what, "layernorm %zux%zu", rows, cols);
        pb_compare(what, Y, 1e-4, 1e-4);

        BOTH(CL.desc->ops->softmax(CL.ctx, X.cl, 0, Y.cl, 0, rows, cols, 0.5f),
             REF.desc->ops->softmax(REF.ctx, X.ref, 0, Y.ref, 0, rows, cols, 0.5f));
        snprintf(what, sizeof what, "softmax %zux%zu", rows, cols);
        pb_compare(what, Y, 1e-6, 1e-4);

        BOTH(CL.desc->ops->gelu(CL.ctx, X.cl, 0, Y.cl, 0, n),
             REF.desc->ops->gelu(REF.ctx, X.ref, 0, Y.ref, 0, n));
        snprintf(what, sizeof what, "gelu n=%zu", n);
        pb_compare(what, Y, 1e-6, 1e-5);

        BOTH(CL.desc->ops->add(CL.ctx, X.cl, 0, G.cl, 0, Y.cl, 0, n, cols),
             REF.desc->ops->add(REF.ctx, X.ref, 0, G.ref, 0, Y.ref, 0, n, cols));
        snprintf(what, sizeof what, "add n=%zu period=%zu", n, cols);
        pb_compare(what, Y, 0.0, 1e-6);

        pb_free(X), pb_free(G), pb_free(BT), pb_free(Y);
        free(x), free(g), free(bt);
    }
}

Test(opencl_vs_ref, attention)
{
    const size_t cases[][4] = {{1, 1, 1, 1}, {2, 197, 2, 64}, {1, 1025, 1, 64}, {1, 3137, 1, 64}};
    for (size_t c = 0; c < 4; c++) {
        size_t batch = cases[c][0], seq = cases[c][1], heads = cases[c][2], hd = cases[c][3];
        size_t d = heads * hd, ld = 3 * d, rows = batch * seq;
        float *qkv = h_random(rows * ld, 1.0f, (unsigned)c);
        pbuf QKV = pb(qkv, rows * ld), O = pb(NULL, rows * d);
        float scale = 1.0f / sqrtf((float)hd);
        BOTH(CL.desc->ops->attention(CL.ctx, QKV.cl, 0, ld, QKV.cl, d, ld, QKV.cl, 2 * d, ld, O.cl,
                                     0, d, batch, seq, heads, hd, scale),
             REF.desc->ops->attention(REF.ctx, QKV.ref, 0, ld, QKV.ref, d, ld, QKV.ref, 2 * d, ld,
                                      O.ref, 0, d, batch, seq, heads, hd, scale));
        char what[64];
        snprintf(what, sizeof what, "attention B=%zu S=%zu H=%zu hd=%zu", batch, seq, heads, hd);
        pb_compare(what, O, 2e-5, 1e-4);
        pb_free(QKV), pb_free(O);
        free(qkv);
    }
}

Test(opencl_vs_ref, patch_embed)
{
    const size_t batch = 2, ch = 3, hh = 35, ww = 50, p = 16, dim = 24;
    size_t ntok = (hh / p) * (ww / p), stride = (ntok + 1) * dim;
    float *px = h_random(batch * ch * hh * ww, 1.0f, 1), *w = h_random(dim * ch * p * p, 1.0f, 2);
    float *bias = h_random(dim, 1.0f, 3);
    pbuf PX = pb(px, batch * ch * hh * ww), W = pb(w, dim * ch * p * p), B = pb(bias, dim);
    pbuf Y = pb(NULL, batch * stride);
    BOTH(CL.desc->ops->patch_embed(CL.ctx, PX.cl, 0, W.cl, 0, B.cl, 0, Y.cl, dim, stride, batch,
                                   ch, hh, ww, p, dim),
         REF.desc->ops->patch_embed(REF.ctx, PX.ref, 0, W.ref, 0, B.ref, 0, Y.ref, dim, stride,
                                    batch, ch, hh, ww, p, dim));
    pb_compare("patch_embed", Y, 1e-4 * sqrt((double)(ch * p * p)), 1e-4);
    pb_free(PX), pb_free(W), pb_free(B), pb_free(Y);
    free(px), free(w), free(bias);
}
