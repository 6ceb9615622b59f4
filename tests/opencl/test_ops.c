/* tests/opencl/test_ops.c - every op of the OpenCL plugin against plain C references (double
 * accumulation) at many shapes: size 1, odd sizes, offsets and leading dimensions, in-place use,
 * and attention at sequence lengths 197, 1025 and 3137.
 *
 * Tolerances (fp32 device arithmetic against a double reference):
 * - GEMMs: 1e-4 relative + 1e-4 * sqrt(k) absolute: fp32 accumulation over k terms of size <= 1
 *   has a typical error of about sqrt(k) * 6e-8 * |terms|; a wrong kernel is off by O(1).
 * - layernorm: 1e-4 absolute + relative: two-pass fp32 mean/variance on rows of |x| <= 4.
 * - softmax: 1e-6 absolute + 1e-4 relative: outputs lie in [0, 1]; exp is within a few ulp.
 * - gelu: 1e-6 absolute + 1e-5 relative: OpenCL erf is allowed 16 ulp.
 * - add: 1e-6 relative: one fp32 addition.
 * - attention: 2e-5 absolute + 1e-4 relative: outputs are convex combinations of v in [-1, 1].
 * - patch_embed: as GEMMs with k = channels * patch^2.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static harness H;

static void setup(void)
{
    harness_open(&H);
}

static void teardown(void)
{
    harness_close(&H);
}

TestSuite(opencl_ops, .init = setup, .fini = teardown, .timeout = 300);

#define OPS (H.desc->ops)
#define ERRMSG (H.desc->last_error(H.ctx))

static double gelu_d(double x)
{
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}

/* ------------------------------------------------------------------ linear */

static void run_linear(size_t m, size_t n, size_t k, int bias, int gelu, unsigned seed)
{
    float *x = h_random(m * k, 1.0f, seed), *w = h_random(n * k, 1.0f, seed + 1);
    float *b = h_random(n, 1.0f, seed + 2), *y = malloc(m * n * sizeof *y);
    double *want = malloc(m * n * sizeof *want);
    cr_assert(y && want);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = bias ? b[j] : 0.0;
            for (size_t t = 0; t < k; t++)
                acc += (double)x[i * k + t] * w[j * k + t];
            want[i * n + j] = gelu ? gelu_d(acc) : acc;
        }
    /* X and W at non-zero offsets; Y pre-filled with NaN (it must not be read). */
    size_t xo = 3, wo = 5, bo = 1, yo = 7;
    float *xx = calloc(m * k + xo, sizeof *xx), *ww = calloc(n * k + wo, sizeof *ww);
    float *bb = calloc(n + bo, sizeof *bb), *yy = malloc((m * n + yo) * sizeof *yy);
    cr_assert(xx && ww && bb && yy);
    memcpy(xx + xo, x, m * k * sizeof *x);
    memcpy(ww + wo, w, n * k * sizeof *w);
    memcpy(bb + bo, b, n * sizeof *b);
    for (size_t i = 0; i < m * n + yo; i++)
        yy[i] = NAN;
    vitcl_buffer *X = h_upload(&H, xx, m * k + xo), *W = h_upload(&H, ww, n * k + wo);
    vitcl_buffer *B = h_upload(&H, bb, n + bo), *Y = h_upload(&H, yy, m * n + yo);
    vitcl_status s = OPS->linear(H.ctx, X, xo, W, wo, bias ? B : NULL, bo, Y, yo, m, n, k,
                                 gelu ? VITCL_LINEAR_GELU : 0);
    cr_assert_eq(s, VITCL_OK, "linear %zux%zux%zu: %s", m, n, k, ERRMSG);
    h_download(&H, Y, yo, y, m * n);
    char what[96];
    snprintf(what, sizeof what, "linear m=%zu n=%zu k=%zu bias=%d gelu=%d", m, n, k, bias, gelu);
    h_expect_close(what, y, want, m * n, 1e-4 * sqrt((double)k), 1e-4);
    h_free(&H, X), h_free(&H, W), h_free(&H, B), h_free(&H, Y);
    free(x), free(w), free(b), free(y), free(want), free(xx), free(ww), free(bb), free(yy);
}

Test(opencl_ops, linear_small_and_odd_shapes)
{
    run_linear(1, 1, 1, 0, 0, 1);
    run_linear(1, 1, 1, 1, 1, 2);
    run_linear(3, 5, 7, 1, 0, 3);
    run_linear(17, 33, 65, 0, 1, 4);
    run_linear(1, 384, 384, 1, 1, 5);
}

Test(opencl_ops, linear_vit_like_shapes)
{
    run_linear(197, 96, 64, 1, 0, 6);
    run_linear(64, 130, 257, 1, 1, 7);
    /* Above CLBlast's direct/indirect threshold: exercises the temporary buffer path. */
    run_linear(400, 392, 384, 1, 1, 8);
}

Test(opencl_ops, linear_packed_flag_needs_a_packed_buffer)
{
    float one = 1.0f;
    vitcl_buffer *A = h_upload(&H, &one, 1), *Y = h_upload(&H, &one, 1);
    vitcl_status s = OPS->linear(H.ctx, A, 0, A, 0, NULL, 0, Y, 0, 1, 1, 1,
                                 VITCL_LINEAR_PACKED_W);
    cr_expect_eq(s, VITCL_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(ERRMSG, "linear") != NULL && strstr(ERRMSG, "not packed") != NULL,
              "message: %s", ERRMSG);
    h_free(&H, A), h_free(&H, Y);
}

/* linear on a weight from linear_pack_weight (W at an offset, X and Y at offsets, Y NaN-filled). */
static void run_linear_packed(size_t m, size_t n, size_t k, int bias, int gelu, unsigned seed)
{
    float *x = h_random(m * k, 1.0f, seed), *w = h_random(n * k + 5, 1.0f, seed + 1);
    float *b = h_random(n, 1.0f, seed + 2), *y = malloc(m * n * sizeof *y);
    float *xx = calloc(m * k + 3, sizeof *xx), *yy = malloc((m * n + 7) * sizeof *yy);
    double *want = malloc(m * n * sizeof *want);
    cr_assert(y && xx && yy && want);
    memcpy(xx + 3, x, m * k * sizeof *x);
    for (size_t i = 0; i < m * n + 7; i++)
        yy[i] = NAN;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = bias ? b[j] : 0.0;
            for (size_t t = 0; t < k; t++)
                acc += (double)x[i * k + t] * w[5 + j * k + t];
            want[i * n + j] = gelu ? gelu_d(acc) : acc;
        }
    vitcl_buffer *X = h_upload(&H, xx, m * k + 3), *W = h_upload(&H, w, n * k + 5);
    vitcl_buffer *B = h_upload(&H, b, n), *Y = h_upload(&H, yy, m * n + 7), *P = NULL;
    cr_assert_not_null(OPS->linear_pack_weight);
    vitcl_status s = OPS->linear_pack_weight(H.ctx, W, 5, n, k, "test weight", &P);
    cr_assert_eq(s, VITCL_OK, "pack %zux%zu: %s", n, k, ERRMSG);
    h_free(&H, W); /* the packed buffer must not depend on the original */
    uint32_t flags = VITCL_LINEAR_PACKED_W | (gelu ? VITCL_LINEAR_GELU : 0);
    s = OPS->linear(H.ctx, X, 3, P, 0, bias ? B : NULL, 0, Y, 7, m, n, k, flags);
    cr_assert_eq(s, VITCL_OK, "packed linear %zux%zux%zu: %s", m, n, k, ERRMSG);
    h_download(&H, Y, 7, y, m * n);
    char what[96];
    snprintf(what, sizeof what, "packed linear m=%zu n=%zu k=%zu bias=%d gelu=%d", m, n, k, bias,
             gelu);
    h_expect_close(what, y, want, m * n, 1e-4 * sqrt((double)k), 1e-4);
    /* The packed weight is only valid for its own shape. */
    if (k > 1) {
        s = OPS->linear(H.ctx, X, 3, P, 0, NULL, 0, Y, 7, m, n, k - 1, flags);
        cr_expect_eq(s, VITCL_ERR_INVALID_ARGUMENT, "a k mismatch must be refused");
    }
    h_free(&H, X), h_free(&H, B), h_free(&H, Y), h_free(&H, P);
    free(x), free(w), free(b), free(y), free(xx), free(yy), free(want);
}

/* Odd shapes: n not a multiple of the 32-column panel, m not a multiple of any tile height. */
static void packed_shapes(void)
{
    run_linear_packed(1, 1, 1, 1, 1, 11);
    run_linear_packed(5, 7, 9, 0, 0, 12);
    run_linear_packed(13, 37, 19, 1, 1, 13);
    run_linear_packed(25, 64, 33, 1, 0, 14);
    run_linear_packed(197, 96, 64, 1, 1, 15);
    run_linear_packed(31, 130, 257, 0, 1, 16);
}

Test(opencl_ops, linear_packed_tuned_choice)
{
    packed_shapes();
}

/* ------------------------------------------------------------------ gemm_batched */

static void run_gemm(int ta, int tb, size_t m, size_t n, size_t k, size_t batch, float alpha,
                     float beta, size_t pad, unsigned seed)
{
    /* Stored shapes: A [m,k] or [k,m], B [k,n] or [n,k]; every leading dimension gets `pad`
     * extra columns and every batch entry one extra row, to test ld and stride handling. */
    size_t arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
    size_t lda = acols + pad, ldb = bcols + pad, ldc = n + pad;
    size_t sa = (arows + 1) * lda, sb = (brows + 1) * ldb, sc = (m + 1) * ldc;
    size_t ao = 2, bo = 3, co = 1;
    size_t na = ao + batch * sa, nb = bo + batch * sb, nc = co + batch * sc;
    float *a = h_random(na, 1.0f, seed), *b = h_random(nb, 1.0f, seed + 1);
    float *c = h_random(nc, 1.0f, seed + 2), *got = malloc(nc * sizeof *got);
    double *want = malloc(nc * sizeof *want);
    cr_assert(got && want);
    if (beta == 0.0f)
        for (size_t i = 0; i < nc; i++)
            c[i] = NAN; /* C is not read when beta == 0 ... */
    for (size_t i = 0; i < nc; i++)
        want[i] = c[i]; /* ... and elements outside the matrices stay untouched */
    for (size_t p = 0; p < batch; p++)
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double acc = 0;
                for (size_t t = 0; t < k; t++) {
                    double av = ta ? a[ao + p * sa + t * lda + i] : a[ao + p * sa + i * lda + t];
                    double bv = tb ? b[bo + p * sb + j * ldb + t] : b[bo + p * sb + t * ldb + j];
                    acc += av * bv;
                }
                size_t ci = co + p * sc + i * ldc + j;
                want[ci] = alpha * acc + (beta == 0.0f ? 0.0 : beta * (double)c[ci]);
            }
    vitcl_buffer *A = h_upload(&H, a, na), *B = h_upload(&H, b, nb), *C = h_upload(&H, c, nc);
    vitcl_status s = OPS->gemm_batched(H.ctx, ta, tb, m, n, k, alpha, A, ao, lda, sa, B, bo, ldb,
                                       sb, beta, C, co, ldc, sc, batch);
    cr_assert_eq(s, VITCL_OK, "gemm_batched: %s", ERRMSG);
    h_download(&H, C, 0, got, nc);
    /* Compare everything; NaN outside the matrices must stay NaN. */
    for (size_t i = 0; i < nc; i++)
        if (isnan(want[i])) {
            cr_expect(isnan(got[i]), "gemm_batched touched element %zu outside C", i);
            got[i] = 0.0f;
            want[i] = 0.0;
        }
    char what[128];
    snprintf(what, sizeof what, "gemm_batched ta=%d tb=%d m=%zu n=%zu k=%zu batch=%zu beta=%g",
             ta, tb, m, n, k, batch, (double)beta);
    h_expect_close(what, got, want, nc, 1e-4 * sqrt((double)k), 1e-4);
    h_free(&H, A), h_free(&H, B), h_free(&H, C);
    free(a), free(b), free(c), free(got), free(want);
}

Test(opencl_ops, gemm_batched_transposes_and_strides)
{
    unsigned seed = 100;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            run_gemm(ta, tb, 7, 9, 13, 3, 1.0f, 0.0f, 0, seed++);
            run_gemm(ta, tb, 5, 11, 3, 4, 0.125f, 0.5f, 3, seed++);
        }
}

Test(opencl_ops, gemm_batched_attention_shapes)
{
    /* Q.K^T for 197 tokens and head_dim 64, 3 heads; then P.V. */
    run_gemm(0, 1, 197, 197, 64, 3, 0.125f, 0.0f, 0, 200);
    run_gemm(0, 0, 197, 64, 197, 3, 1.0f, 0.0f, 0, 201);
    run_gemm(0, 0, 1, 1, 1, 1, 2.0f, 0.0f, 0, 202);
}

/* ------------------------------------------------------------------ layernorm */

static void run_layernorm(size_t rows, size_t cols, int in_place, unsigned seed)
{
    size_t n = rows * cols;
    float *x = h_random(n, 4.0f, seed), *g = h_random(cols, 1.0f, seed + 1);
    float *bt = h_random(cols, 1.0f, seed + 2), *y = malloc(n * sizeof *y);
    double *want = malloc(n * sizeof *want);
    cr_assert(y && want);
    for (size_t i = 0; i < n; i++)
        x[i] += 3.0f; /* a non-zero mean */
    const float eps = 1e-6f;
    for (size_t r = 0; r < rows; r++) {
        double mean = 0, var = 0;
        for (size_t j = 0; j < cols; j++)
            mean += x[r * cols + j];
        mean /= (double)cols;
        for (size_t j = 0; j < cols; j++)
            var += (x[r * cols + j] - mean) * (x[r * cols + j] - mean);
        var /= (double)cols;
        for (size_t j = 0; j < cols; j++)
            want[r * cols + j] = (x[r * cols + j] - mean) / sqrt(var + eps) * g[j] + bt[j];
    }
    vitcl_buffer *X = h_upload(&H, x, n), *G = h_upload(&H, g, cols), *BT = h_upload(&H, bt, cols);
    vitcl_buffer *Y = in_place ? X : h_upload(&H, NULL, n);
    vitcl_status s = OPS->layernorm(H.ctx, X, 0, G, 0, BT, 0, Y, 0, rows, cols, eps);
    cr_assert_eq(s, VITCL_OK, "layernorm: %s", ERRMSG);
    h_download(&H, Y, 0, y, n);
    char what[96];
    snprintf(what, sizeof what, "layernorm %zux%zu in_place=%d", rows, cols, in_place);
    h_expect_close(what, y, want, n, 1e-4, 1e-4);
    h_free(&H, X), h_free(&H, G), h_free(&H, BT);
    if (!in_place)
        h_free(&H, Y);
    free(x), free(g), free(bt), free(y), free(want);
}

Test(opencl_ops, layernorm_shapes)
{
    run_layernorm(1, 1, 0, 1);
    run_layernorm(3, 7, 0, 2);
    run_layernorm(197, 384, 0, 3);
    run_layernorm(5, 1025, 1, 4);
    run_layernorm(2, 1024, 1, 5);
}

/* ------------------------------------------------------------------ softmax */

static void run_softmax(size_t rows, size_t cols, float scale, float range, int in_place,
                        unsigned seed)
{
    size_t n = rows * cols;
    float *x = h_random(n, range, seed), *y = malloc(n * sizeof *y);
    double *want = malloc(n * sizeof *want);
    cr_assert(y && want);
    for (size_t r = 0; r < rows; r++) {
        double mx = -INFINITY, sum = 0;
        for (size_t j = 0; j < cols; j++)
            mx = fmax(mx, (double)scale * x[r * cols + j]);
        for (size_t j = 0; j < cols; j++)
            sum += exp((double)scale * x[r * cols + j] - mx);
        for (size_t j = 0; j < cols; j++)
            want[r * cols + j] = exp((double)scale * x[r * cols + j] - mx) / sum;
    }
    vitcl_buffer *X = h_upload(&H, x, n), *Y = in_place ? X : h_upload(&H, NULL, n);
    vitcl_status s = OPS->softmax(H.ctx, X, 0, Y, 0, rows, cols, scale);
    cr_assert_eq(s, VITCL_OK, "softmax: %s", ERRMSG);
    h_download(&H, Y, 0, y, n);
    char what[96];
    snprintf(what, sizeof what, "softmax %zux%zu scale=%g range=%g", rows, cols, (double)scale,
             (double)range);
    h_expect_close(what, y, want, n, 1e-6, 1e-4);
    h_free(&H, X);
    if (!in_place)
        h_free(&H, Y);
    free(x), free(y), free(want);
}

Test(opencl_ops, softmax_shapes_and_large_inputs)
{
    run_softmax(1, 1, 1.0f, 1.0f, 0, 1);
    run_softmax(13, 197, 0.125f, 8.0f, 0, 2);
    run_softmax(4, 3137, 1.0f, 3.0f, 1, 3);
    /* |X| up to 1e4: only correct with the row maximum subtracted. */
    run_softmax(3, 77, 0.125f, 1e4f, 0, 4);
    run_softmax(2, 50, -1.0f, 1e4f, 1, 5);
}

/* ------------------------------------------------------------------ gelu, add */

Test(opencl_ops, gelu_values_and_in_place)
{
    const size_t sizes[] = {1, 63, 100003};
    for (size_t si = 0; si < 3; si++) {
        size_t n = sizes[si];
        float *x = h_random(n, 6.0f, (unsigned)si), *y = malloc(n * sizeof *y);
        double *want = malloc(n * sizeof *want);
        cr_assert(y && want);
        if (n > 10) {
            x[0] = 0.0f, x[1] = -20.0f, x[2] = 20.0f, x[3] = 1e-8f, x[4] = -3.5f;
        }
        for (size_t i = 0; i < n; i++)
            want[i] = gelu_d(x[i]);
        int in_place = si == 2;
        vitcl_buffer *X = h_upload(&H, x, n), *Y = in_place ? X : h_upload(&H, NULL, n);
        cr_assert_eq(OPS->gelu(H.ctx, X, 0, Y, 0, n), VITCL_OK, "gelu: %s", ERRMSG);
        h_download(&H, Y, 0, y, n);
        h_expect_close("gelu", y, want, n, 1e-6, 1e-5);
        h_free(&H, X);
        if (!in_place)
            h_free(&H, Y);
        free(x), free(y), free(want);
    }
}

Test(opencl_ops, add_residual_and_broadcast)
{
    const size_t cases[][2] = {{1, 1}, {1001, 1001}, {197 * 2 * 48, 197 * 48}, {35, 5}};
    for (size_t ci = 0; ci < 4; ci++) {
        size_t n = cases[ci][0], period = cases[ci][1];
        float *a = h_random(n, 1.0f, (unsigned)ci), *b = h_random(period, 1.0f, 50u + (unsigned)ci);
        float *y = malloc(n * sizeof *y);
        double *want = malloc(n * sizeof *want);
        cr_assert(y && want);
        for (size_t i = 0; i < n; i++)
            want[i] = (double)a[i] + b[i % period];
        int in_place = ci % 2;
        vitcl_buffer *A = h_upload(&H, a, n), *B = h_upload(&H, b, period);
        vitcl_buffer *Y = in_place ? A : h_upload(&H, NULL, n);
        cr_assert_eq(OPS->add(H.ctx, A, 0, B, 0, Y, 0, n, period), VITCL_OK, "add: %s", ERRMSG);
        h_download(&H, Y, 0, y, n);
        h_expect_close("add", y, want, n, 0.0, 1e-6);
        h_free(&H, A), h_free(&H, B);
        if (!in_place)
            h_free(&H, Y);
        free(a), free(b), free(y), free(want);
    }
}

/* ------------------------------------------------------------------ attention */

/* Q, K, V either packed in one [B*S, 3*D + extra] buffer or three buffers with their own ld. */
static void run_attention(size_t batch, size_t seq, size_t heads, size_t hd, int packed,
                          unsigned seed)
{
    size_t d = heads * hd, rows = batch * seq;
    size_t ldq = packed ? 3 * d + 1 : d + 2, ldk = packed ? ldq : d, ldv = packed ? ldq : d + 5;
    size_t qo = packed ? 0 : 3, ko = packed ? d : 0, vo = packed ? 2 * d : 1;
    size_t ldo = d + 3, oo = 2;
    size_t nq = qo + rows * ldq, nk = packed ? 0 : ko + rows * ldk,
           nv = packed ? 0 : vo + rows * ldv, no = oo + rows * ldo;
    float *q = h_random(nq, 1.0f, seed), *k = packed ? NULL : h_random(nk, 1.0f, seed + 1);
    float *v = packed ? NULL : h_random(nv, 1.0f, seed + 2);
    const float *kk = packed ? q : k, *vv = packed ? q : v;
    float *o = malloc(no * sizeof *o);
    double *want = calloc(no, sizeof *want), *p = malloc(seq * sizeof *p);
    cr_assert(o && want && p);
    const float scale = 1.0f / sqrtf((float)hd);
    for (size_t b = 0; b < batch; b++)
        for (size_t h = 0; h < heads; h++)
            for (size_t i = 0; i < seq; i++) {
                const float *qr = q + qo + (b * seq + i) * ldq + h * hd;
                double mx = -INFINITY, sum = 0;
                for (size_t t = 0; t < seq; t++) {
                    const float *kr = kk + ko + (b * seq + t) * ldk + h * hd;
                    double dot = 0;
                    for (size_t j = 0; j < hd; j++)
                        dot += (double)qr[j] * kr[j];
                    p[t] = scale * dot;
                    mx = fmax(mx, p[t]);
                }
                for (size_t t = 0; t < seq; t++)
                    sum += (p[t] = exp(p[t] - mx));
                for (size_t j = 0; j < hd; j++) {
                    double acc = 0;
                    for (size_t t = 0; t < seq; t++)
                        acc += p[t] * vv[vo + (b * seq + t) * ldv + h * hd + j];
                    want[oo + (b * seq + i) * ldo + h * hd + j] = acc / sum;
                }
            }
    vitcl_buffer *Q = h_upload(&H, q, nq);
    vitcl_buffer *K = packed ? Q : h_upload(&H, k, nk), *V = packed ? Q : h_upload(&H, v, nv);
    float *zeros = calloc(no, sizeof *zeros);
    vitcl_buffer *O = h_upload(&H, zeros, no);
    vitcl_status s = OPS->attention(H.ctx, Q, qo, ldq, K, ko, ldk, V, vo, ldv, O, oo, ldo, batch,
                                    seq, heads, hd, scale);
    cr_assert_eq(s, VITCL_OK, "attention: %s", ERRMSG);
    h_download(&H, O, 0, o, no);
    char what[96];
    snprintf(what, sizeof what, "attention B=%zu S=%zu H=%zu hd=%zu packed=%d", batch, seq, heads,
             hd, packed);
    /* Also checks that the gaps of O (ld padding, offset) stay zero. */
    h_expect_close(what, o, want, no, 2e-5, 1e-4);
    h_free(&H, Q), h_free(&H, O);
    if (!packed)
        h_free(&H, K), h_free(&H, V);
    free(q), free(k), free(v), free(o), free(want), free(p), free(zeros);
}

Test(opencl_ops, attention_small_and_odd)
{
    run_attention(1, 1, 1, 1, 0, 1);
    run_attention(3, 5, 2, 17, 0, 2);
    run_attention(2, 33, 3, 8, 1, 3);
}

Test(opencl_ops, attention_seq_197_packed_qkv)
{
    run_attention(2, 197, 3, 64, 1, 4);
}

Test(opencl_ops, attention_head_dim_64_odd_lengths)
{
    /* the vectorised head_dim 64 path: lengths around its 4-query and 16-key blocks */
    run_attention(1, 1, 1, 64, 0, 7);
    run_attention(2, 5, 2, 64, 1, 8);
    run_attention(3, 17, 3, 64, 0, 9);
    run_attention(1, 36, 2, 64, 1, 10);
}

Test(opencl_ops, attention_seq_1025)
{
    run_attention(1, 1025, 2, 64, 0, 5);
}

Test(opencl_ops, attention_seq_3137)
{
    run_attention(1, 3137, 1, 64, 1, 6);
}

/* The GPU-shaped attention (attention_tiled.cl) forced on whatever device this is: head_dim
 * 64 and the general build, lengths around its 32-query / 16-query and 32-key tiles. */
static void setup_tiled(void)
{
    cr_assert_eq(setenv("VITCL_CL_ATTENTION", "tiled", 1), 0);
    harness_open(&H);
}

TestSuite(opencl_ops_tiled, .init = setup_tiled, .fini = teardown, .timeout = 600);

Test(opencl_ops_tiled, attention_tiled_general_head_dims)
{
    run_attention(1, 1, 1, 1, 0, 21);
    run_attention(3, 5, 2, 17, 0, 22);
    run_attention(2, 33, 3, 8, 1, 23);
    run_attention(1, 47, 2, 128, 1, 24);
    run_attention(2, 16, 1, 100, 0, 25);
}

Test(opencl_ops_tiled, attention_tiled_head_dim_64)
{
    run_attention(1, 1, 1, 64, 0, 26);
    run_attention(2, 31, 2, 64, 1, 27);
    run_attention(1, 32, 2, 64, 0, 28);
    run_attention(3, 33, 3, 64, 1, 29);
}

Test(opencl_ops_tiled, attention_tiled_seq_197)
{
    run_attention(2, 197, 3, 64, 1, 30);
}

Test(opencl_ops_tiled, attention_tiled_seq_1025)
{
    run_attention(1, 1025, 2, 64, 0, 31);
}

Test(opencl_ops, attention_head_dim_limit)
{
    vitcl_op_shape shape = {.batch = 1, .seq = 4, .heads = 1, .head_dim = 129};
    cr_expect_eq(OPS->supports(H.ctx, VITCL_OP_ATTENTION, &shape), 0);
    shape.head_dim = 64;
    cr_expect_eq(OPS->supports(H.ctx, VITCL_OP_ATTENTION, &shape), 1);
    float *q = h_random(4 * 129, 1.0f, 9);
    vitcl_buffer *Q = h_upload(&H, q, 4 * 129), *O = h_upload(&H, NULL, 4 * 129);
    vitcl_status s =
        OPS->attention(H.ctx, Q, 0, 129, Q, 0, 129, Q, 0, 129, O, 0, 129, 1, 4, 1, 129, 1.0f);
    cr_expect_eq(s, VITCL_ERR_UNSUPPORTED);
    cr_expect(strstr(ERRMSG, "head_dim") != NULL, "message: %s", ERRMSG);
    h_free(&H, Q), h_free(&H, O);
    free(q);
}

/* ------------------------------------------------------------------ patch_embed */

static void run_patch_embed(size_t batch, size_t ch, size_t hh, size_t ww, size_t p, size_t dim,
                            size_t spare_rows, unsigned seed)
{
    size_t gh = hh / p, gw = ww / p, ntok = gh * gw, stride = (ntok + spare_rows) * dim;
    size_t npx = batch * ch * hh * ww, nw = dim * ch * p * p, ny = batch * stride;
    float *px = h_random(npx, 1.0f, seed), *w = h_random(nw, 1.0f, seed + 1);
    float *bias = h_random(dim, 1.0f, seed + 2), *y = malloc(ny * sizeof *y);
    double *want = malloc(ny * sizeof *want);
    cr_assert(y && want);
    for (size_t i = 0; i < ny; i++) {
        y[i] = 42.0f; /* spare rows must keep this */
        want[i] = 42.0;
    }
    for (size_t b = 0; b < batch; b++)
        for (size_t n = 0; n < ntok; n++)
            for (size_t d = 0; d < dim; d++) {
                size_t r = n / gw, c = n % gw;
                double acc = bias[d];
                for (size_t cc = 0; cc < ch; cc++)
                    for (size_t i = 0; i < p; i++)
                        for (size_t j = 0; j < p; j++)
                            acc += (double)w[((d * ch + cc) * p + i) * p + j] *
                                   px[((b * ch + cc) * hh + r * p + i) * ww + c * p + j];
                want[b * stride + n * dim + d] = acc;
            }
    vitcl_buffer *PX = h_upload(&H, px, npx), *W = h_upload(&H, w, nw);
    vitcl_buffer *BI = h_upload(&H, bias, dim), *Y = h_upload(&H, y, ny);
    vitcl_status s =
        OPS->patch_embed(H.ctx, PX, 0, W, 0, BI, 0, Y, 0, stride, batch, ch, hh, ww, p, dim);
    cr_assert_eq(s, VITCL_OK, "patch_embed: %s", ERRMSG);
    h_download(&H, Y, 0, y, ny);
    char what[96];
    snprintf(what, sizeof what, "patch_embed B=%zu C=%zu %zux%zu P=%zu D=%zu", batch, ch, hh, ww,
             p, dim);
    h_expect_close(what, y, want, ny, 1e-4 * sqrt((double)(ch * p * p)), 1e-4);
    h_free(&H, PX), h_free(&H, W), h_free(&H, BI), h_free(&H, Y);
    free(px), free(w), free(bias), free(y), free(want);
}

Test(opencl_ops, patch_embed_shapes)
{
    run_patch_embed(1, 1, 3, 3, 1, 2, 0, 1);
    run_patch_embed(2, 3, 37, 29, 8, 5, 1, 2);   /* remainder rows/columns, a spare row */
    run_patch_embed(1, 3, 224, 224, 16, 48, 1, 3);
}
