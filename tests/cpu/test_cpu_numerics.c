/* tests/cpu/test_cpu_numerics.c - every op of the cpu plugin against the reference plugin (which
 * accumulates in double and rounds once), at many shapes: size 1, odd sizes, ViT shapes,
 * attention at sequence lengths 197, 1025 and 3137, and large magnitudes.
 *
 * Tolerances are error bounds derived from how the cpu plugin computes, never from observed
 * output: an fp32 dot product of k terms is within about k·u·Σ|terms| of the exact one
 * (u = 2^-24, the classic gamma_k bound; we allow (k + 4)·u). Any real bug (a wrong index, a
 * missing term, a lost bias) is orders of magnitude outside them. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_harness.h"

TestSuite(cpu_numerics, .init = harness_setup, .fini = harness_teardown, .timeout = 240);

/* ------------------------------------------------------------------ linear */

static void check_linear(size_t m, size_t n, size_t k, int bias, uint32_t flags, float mag)
{
    float *x = rand_array(m * k, -mag, mag), *w = rand_array(n * k, -1, 1);
    float *b = rand_array(n, -mag, mag);
    pair X = pair_new(x, m * k, "X"), W = pair_new(w, n * k, "W"), B = pair_new(b, n, "b");
    pair Y = pair_new(NULL, m * n, "Y");
    vitcl_buffer *wc = W.c, *wr = W.r;
    cr_assert_eq(CPU.ops->linear(CPU.ctx, X.c, 0, wc, 0, bias ? B.c : NULL, 0, Y.c, 0, m, n, k,
                                 flags),
                 VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
    cr_assert_eq(REF.ops->linear(REF.ctx, X.r, 0, wr, 0, bias ? B.r : NULL, 0, Y.r, 0, m, n, k,
                                 flags),
                 VITCL_OK, "%s", REF.desc->last_error(REF.ctx));
    /* (k+4)·u·(Σ|x||w| + |b|) for the sum; GELU's slope is at most 1.13 (x1.2), and its
     * approximation (cpu_vmath.h) adds at most 1e-6·|pre-activation| <= 1e-6·the same mass. */
    double *bound = malloc(m * n * sizeof(double));
    cr_assert(bound);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = bias ? fabs(b[j]) : 0;
            for (size_t l = 0; l < k; l++)
                s += fabs((double)x[i * k + l] * w[j * k + l]);
            double e = (double)(k + 4) * U32 * s;
            bound[i * n + j] = (flags & VITCL_LINEAR_GELU) ? 1.2 * e + 1e-6 * s + 1e-37 : e + 1e-37;
        }
    char what[96];
    snprintf(what, sizeof what, "linear m%zu n%zu k%zu bias%d flags%u", m, n, k, bias,
             (unsigned)flags);
    assert_pair_close(what, Y, bound, 0, 0);
    free(bound);
    pair_free(X);
    pair_free(W);
    pair_free(B);
    pair_free(Y);
    free(x);
    free(w);
    free(b);
}

/* W, X, b and Y at nonzero offsets inside larger buffers (a fused weight's slices, a row block
 * of activations): every path must read W from w_off, not from the buffer's start. */
static void check_linear_offsets(size_t m, size_t n, size_t k)
{
    size_t xo = 3, wo = 5, bo = 7, yo = 11;
    float *x = rand_array(xo + m * k, -1, 1), *w = rand_array(wo + n * k + 9, -1, 1);
    float *b = rand_array(bo + n, -1, 1);
    pair X = pair_new(x, xo + m * k, "X"), W = pair_new(w, wo + n * k + 9, "W");
    pair B = pair_new(b, bo + n, "b"), Y = pair_new(NULL, yo + m * n, "Y");
    cr_assert_eq(CPU.ops->linear(CPU.ctx, X.c, xo, W.c, wo, B.c, bo, Y.c, yo, m, n, k, 0),
                 VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
    cr_assert_eq(REF.ops->linear(REF.ctx, X.r, xo, W.r, wo, B.r, bo, Y.r, yo, m, n, k, 0),
                 VITCL_OK, "%s", REF.desc->last_error(REF.ctx));
    float *got = buf_get(&CPU, Y.c, yo + m * n), *want = buf_get(&REF, Y.r, yo + m * n);
    /* (k+4)·u·(Σ|x||w| + |b|) <= (k+4)·u·(k + 1) with every value in [-1, 1] */
    assert_close("linear at offsets", got + yo, want + yo, NULL, (double)(k + 4) * U32 * (k + 1),
                 0, m * n);
    free(got);
    free(want);
    pair_free(X);
    pair_free(W);
    pair_free(B);
    pair_free(Y);
    free(x);
    free(w);
    free(b);
}

Test(cpu_numerics, linear_small_and_odd)
{
    check_linear_offsets(37, 29, 65);
    static const size_t shapes[][3] = {{1, 1, 1}, {1, 7, 3}, {3, 5, 7}, {17, 33, 65}, {130, 9, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (uint32_t f = 0; f < 2; f++) /* 0 and VITCL_LINEAR_GELU */
            for (int bias = 0; bias < 2; bias++)
                check_linear(shapes[s][0], shapes[s][1], shapes[s][2], bias, f, 1.0f);
}

Test(cpu_numerics, linear_vit_shapes)
{
    /* 197 tokens: several epilogue panels and an uneven last one. */
    check_linear(197, 384, 384, 1, 0, 1.0f);
    check_linear(197, 1536, 384, 1, VITCL_LINEAR_GELU, 1.0f);
    check_linear(394, 768, 200, 1, VITCL_LINEAR_GELU, 1.0f);
}

/* The blocking of the own GEMM (cpu_gemm.c), whose sizes come from this machine's caches:
 * depth blocks of at most 4096 (k 8200: at least three, the last partial, accumulated through
 * Y), token blocks of at most 512 whose packed X fits half of L2 (m 530: at least two, token
 * panels of 32 with a last one of 18 and of <= 16 live tokens), feature blocks of 12 (n 37 and 13: a partial last one). */
Test(cpu_numerics, linear_gemm_blocking)
{
    check_linear(530, 37, 2100, 1, VITCL_LINEAR_GELU, 1.0f);
    check_linear(40, 13, 8200, 1, VITCL_LINEAR_GELU, 1.0f);
    check_linear(273, 25, 1024, 0, 0, 1.0f);
    check_linear(16, 12, 1025, 1, 0, 1.0f);
}

Test(cpu_numerics, linear_large_magnitudes)
{
    check_linear(33, 47, 129, 1, 0, 1e4f);
    check_linear(33, 47, 129, 1, VITCL_LINEAR_GELU, 1e3f);
}

/* ------------------------------------------------------------------ gemm_batched */

static void check_gemm(int ta, int tb, size_t m, size_t n, size_t k, size_t batch, size_t pad,
                       float alpha, float beta)
{
    size_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    size_t lda = a_cols + pad, ldb = b_cols + 2 * pad, ldc = n + pad;
    size_t sa = a_rows * lda + pad, sb = b_rows * ldb, sc = m * ldc + 3;
    float *a = rand_array(sa * batch, -1, 1), *b = rand_array(sb * batch, -1, 1);
    float *c = rand_array(sc * batch, -1, 1);
    if (beta == 0.0f)
        for (size_t i = 0; i < sc * batch; i++)
            c[i] = NAN; /* beta == 0 must not read C */
    pair A = pair_new(a, sa * batch, "A"), B = pair_new(b, sb * batch, "B");
    pair C = pair_new(c, sc * batch, "C");
    cr_assert_eq(CPU.ops->gemm_batched(CPU.ctx, ta, tb, m, n, k, alpha, A.c, 0, lda, sa, B.c, 0,
                                       ldb, sb, beta, C.c, 0, ldc, sc, batch),
                 VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
    cr_assert_eq(REF.ops->gemm_batched(REF.ctx, ta, tb, m, n, k, alpha, A.r, 0, lda, sa, B.r, 0,
                                       ldb, sb, beta, C.r, 0, ldc, sc, batch),
                 VITCL_OK, "%s", REF.desc->last_error(REF.ctx));
    float *got = buf_get(&CPU, C.c, sc * batch), *want = buf_get(&REF, C.r, sc * batch);
    /* Compare only C's m x n entries; (k+4)·u·(|alpha|·Σ|a||b| + |beta·c|). */
    for (size_t p = 0; p < batch; p++)
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t l = 0; l < k; l++) {
                    double av = a[p * sa + (ta ? l * lda + i : i * lda + l)];
                    double bv = b[p * sb + (tb ? j * ldb + l : l * ldb + j)];
                    s += fabs(av * bv);
                }
                s = fabs(alpha) * s + (beta != 0.0f ? fabs(beta * c[p * sc + i * ldc + j]) : 0);
                size_t at = p * sc + i * ldc + j;
                char what[128];
                snprintf(what, sizeof what, "gemm ta%d tb%d m%zu n%zu k%zu batch %zu (%zu,%zu,%zu)",
                         ta, tb, m, n, k, batch, p, i, j);
                double bound = (double)(k + 4) * U32 * s + 1e-37;
                cr_assert(fabs((double)got[at] - want[at]) <= bound, "%s: got %.9g want %.9g",
                          what, (double)got[at], (double)want[at]);
            }
    free(got);
    free(want);
    pair_free(A);
    pair_free(B);
    pair_free(C);
    free(a);
    free(b);
    free(c);
}

Test(cpu_numerics, gemm_batched_all_transposes)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_gemm(ta, tb, 1, 1, 1, 1, 0, 1.0f, 0.0f);
            check_gemm(ta, tb, 7, 9, 5, 3, 2, 0.5f, 1.5f);
            check_gemm(ta, tb, 13, 1, 17, 2, 1, -2.0f, 0.0f);
        }
}

Test(cpu_numerics, gemm_batched_attention_shapes)
{
    /* Q·K^T and P·V of 197-token heads of 64, with the fused-QKV leading dimension slack. */
    check_gemm(0, 1, 197, 197, 64, 3, 128, 0.125f, 0.0f);
    check_gemm(0, 0, 197, 64, 197, 3, 64, 1.0f, 0.0f);
}

/* ------------------------------------------------------------------ layernorm */

static void check_layernorm(size_t rows, size_t cols, float offset, float spread, float eps,
                            int in_place)
{
    float *x = rand_array(rows * cols, -spread, spread);
    for (size_t i = 0; i < rows * cols; i++)
        x[i] += offset;
    float *g = rand_array(cols, -2, 2), *b = rand_array(cols, -1, 1);
    pair X = pair_new(x, rows * cols, "X"), G = pair_new(g, cols, "gamma");
    pair B = pair_new(b, cols, "beta"), Y = pair_new(NULL, rows * cols, "Y");
    pair out = in_place ? X : Y;
    cr_assert_eq(CPU.ops->layernorm(CPU.ctx, X.c, 0, G.c, 0, B.c, 0, out.c, 0, rows, cols, eps),
                 VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
    cr_assert_eq(REF.ops->layernorm(REF.ctx, X.r, 0, G.r, 0, B.r, 0, out.r, 0, rows, cols, eps),
                 VITCL_OK);
    /* The plugin accumulates in double, so only its last steps round in fp32-ish ways: allow
     * 16·u·(|gamma·normalised| + |beta|), the magnitude of what the output sums. */
    double *bound = malloc(rows * cols * sizeof(double));
    cr_assert(bound);
    for (size_t r = 0; r < rows; r++) {
        double mean = 0, var = 0;
        for (size_t j = 0; j < cols; j++)
            mean += x[r * cols + j];
        mean /= (double)cols;
        for (size_t j = 0; j < cols; j++)
            var += (x[r * cols + j] - mean) * (x[r * cols + j] - mean);
        double inv = 1.0 / sqrt(var / (double)cols + eps);
        for (size_t j = 0; j < cols; j++)
            bound[r * cols + j] =
                16 * U32 * (fabs(g[j] * (x[r * cols + j] - mean) * inv) + fabs(b[j])) + 1e-37;
    }
    char what[96];
    snprintf(what, sizeof what, "layernorm %zux%zu offset %g in_place %d", rows, cols,
             (double)offset, in_place);
    assert_pair_close(what, out, bound, 0, 0);
    free(bound);
    pair_free(X);
    pair_free(G);
    pair_free(B);
    pair_free(Y);
    free(x);
    free(g);
    free(b);
}

Test(cpu_numerics, layernorm_shapes)
{
    check_layernorm(1, 1, 0, 1, 1e-12f, 0);
    check_layernorm(3, 7, 0, 1, 1e-6f, 0);
    check_layernorm(5, 9, 0, 1, 1e-6f, 1);
    check_layernorm(197, 768, 0, 3, 1e-12f, 0);
    check_layernorm(33, 1024, 0, 1, 1e-6f, 1);
}

Test(cpu_numerics, layernorm_large_offset)
{
    /* A row at 1e4 with unit spread: E[x²]-E[x]² or fp32 sums would lose the spread. */
    check_layernorm(17, 1024, 1e4f, 1, 1e-12f, 0);
    check_layernorm(4, 384, -3e3f, 1e3f, 1e-6f, 0);
}

/* ------------------------------------------------------------------ gelu */

static void check_gelu(const float *x, size_t n, int in_place)
{
    pair X = pair_new(x, n, "X"), Y = pair_new(NULL, n, "Y");
    pair out = in_place ? X : Y;
    cr_assert_eq(CPU.ops->gelu(CPU.ctx, X.c, 0, out.c, 0, n), VITCL_OK, "%s",
                 CPU.desc->last_error(CPU.ctx));
    cr_assert_eq(REF.ops->gelu(REF.ctx, X.r, 0, out.r, 0, n), VITCL_OK);
    /* cpu_vmath.h's GELU: erfc from a fit with relative error < 1.2e-7, evaluated in fp32, plus
     * the rounding of the exponent -z² (relative error of exp grows like 2·z²·u, z = x/√2):
     * |error| <= |want|·(1e-6 + 2·x²·u) + 4e-7·|x|. */
    double *bound = malloc(n * sizeof(double));
    cr_assert(bound);
    float *want = buf_get(&REF, out.r, n);
    for (size_t i = 0; i < n; i++)
        bound[i] = fabs(want[i]) * (1e-6 + 2.0 * (double)x[i] * x[i] * U32) +
                   4e-7 * fabs(x[i]) + 1e-38;
    free(want);
    assert_pair_close("gelu", out, bound, 0, 0);
    free(bound);
    pair_free(X);
    pair_free(Y);
}

Test(cpu_numerics, gelu_ranges)
{
    static const size_t sizes[] = {1, 7, 8, 9, 1000, 100003};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        float *x = rand_array(sizes[s], -8, 8);
        check_gelu(x, sizes[s], s % 2);
        free(x);
    }
    static const float special[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-5f, -1e-5f, 0.5f, -0.5f,
                                    1.0f, -1.0f, 3.0f, -3.0f, 5.0f, -5.0f, 9.0f, -9.0f,
                                    12.0f, -12.0f, 20.0f, -20.0f, 1e4f, -1e4f, 3e38f, -3e38f};
    check_gelu(special, sizeof special / sizeof special[0], 0);
    float *wide = rand_array(4099, -1e4f, 1e4f);
    check_gelu(wide, 4099, 0);
    free(wide);
}

/* ------------------------------------------------------------------ add */

static void check_add(size_t n, size_t period, int in_place)
{
    float *a = rand_array(n, -1e3f, 1e3f), *b = rand_array(period, -1, 1);
    pair A = pair_new(a, n, "A"), B = pair_new(b, period, "B"), Y = pair_new(NULL, n, "Y");
    pair out = in_place ? A : Y;
    cr_assert_eq(CPU.ops->add(CPU.ctx, A.c, 0, B.c, 0, out.c, 0, n, period), VITCL_OK, "%s",
                 CPU.desc->last_error(CPU.ctx));
    cr_assert_eq(REF.ops->add(REF.ctx, A.r, 0, B.r, 0, out.r, 0, n, period), VITCL_OK);
    /* One fp32 addition: the correctly rounded sum (2u allows for double rounding in ref). */
    char what[64];
    snprintf(what, sizeof what, "add n%zu period %zu", n, period);
    assert_pair_close(what, out, NULL, 1e-37, 2 * U32);
    pair_free(A);
    pair_free(B);
    pair_free(Y);
    free(a);
    free(b);
}

Test(cpu_numerics, add_periods)
{
    check_add(1, 1, 0);
    check_add(7, 7, 1);
    check_add(12, 3, 0);
    check_add(12, 1, 1);
    check_add(197 * 768 * 2 + 0, 197 * 768, 0);
    check_add(100003, 100003, 1);
    check_add(5 * 7 * 4099, 7 * 4099, 1);
}

/* ------------------------------------------------------------------ softmax */

static void check_softmax(size_t rows, size_t cols, float scale, float mag, int in_place)
{
    float *x = rand_array(rows * cols, -mag, mag);
    pair X = pair_new(x, rows * cols, "X"), Y = pair_new(NULL, rows * cols, "Y");
    pair out = in_place ? X : Y;
    cr_assert_eq(CPU.ops->softmax(CPU.ctx, X.c, 0, out.c, 0, rows, cols, scale), VITCL_OK, "%s",
                 CPU.desc->last_error(CPU.ctx));
    cr_assert_eq(REF.ops->softmax(REF.ctx, X.r, 0, out.r, 0, rows, cols, scale), VITCL_OK);
    /* Each exp is within a few ulp ((cols + 16)·u covers them and the fp32 sum), and rounding
     * scale·x in fp32 moves the exponent by up to 2·|scale·x|·u, a relative error of e^that.
     * Values below e^-87 may flush to 0: 1e-37 absolute. */
    double rel = (double)(cols + 16) * U32 + 4.0 * fabs(scale) * mag * U32;
    char what[96];
    snprintf(what, sizeof what, "softmax %zux%zu scale %g mag %g", rows, cols, (double)scale,
             (double)mag);
    assert_pair_close(what, out, NULL, 1e-37, rel);
    pair_free(X);
    pair_free(Y);
    free(x);
}

Test(cpu_numerics, softmax_shapes)
{
    check_softmax(1, 1, 1.0f, 1, 0);
    check_softmax(3, 5, 1.0f, 4, 1);
    check_softmax(7, 9, -0.5f, 10, 0);
    check_softmax(197, 197, 0.125f, 30, 0);
    check_softmax(4, 3137, 0.125f, 30, 1);
}

Test(cpu_numerics, softmax_large_magnitudes)
{
    check_softmax(5, 33, 1.0f, 1e4f, 0);
    check_softmax(3, 1025, 0.5f, 1e4f, 1);
}

/* ------------------------------------------------------------------ attention */

/* Runs attention on a fused [B·S, 3·D + pad] QKV buffer (Q, K, V side by side, as the host
 * passes it) into O with its own padding, on both plugins, and compares. */
static void check_attention(size_t batch, size_t seq, size_t heads, size_t hd, float scale,
                            float qmag)
{
    size_t d = heads * hd, ld = 3 * d + 5, ldo = d + 3, rows = batch * seq;
    float *qkv = rand_array(rows * ld, -1, 1);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < d; j++)
            qkv[r * ld + j] *= qmag; /* large magnitudes in Q make sharp softmaxes */
    pair QKV = pair_new(qkv, rows * ld, "QKV"), O = pair_new(NULL, rows * ldo, "O");
    cr_assert_eq(CPU.ops->attention(CPU.ctx, QKV.c, 0, ld, QKV.c, d, ld, QKV.c, 2 * d, ld, O.c, 0,
                                    ldo, batch, seq, heads, hd, scale),
                 VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
    cr_assert_eq(REF.ops->attention(REF.ctx, QKV.r, 0, ld, QKV.r, d, ld, QKV.r, 2 * d, ld, O.r, 0,
                                    ldo, batch, seq, heads, hd, scale),
                 VITCL_OK, "%s", REF.desc->last_error(REF.ctx));
    /* Scores are fp32 dot products: absolute error delta <= (hd+4)·u·|scale|·Σ|q||k|, which
     * perturbs each probability by a factor e^(±2·delta). The context sums seq products
     * P·v (Σ P = 1): (seq + 16)·u·max|v| more. */
    double delta = (double)(hd + 4) * U32 * fabs(scale) * (double)hd * qmag;
    double tol = (2.5 * delta + (double)(seq + hd + 16) * U32) * 1.0 + 1e-30;
    float *got = buf_get(&CPU, O.c, rows * ldo), *want = buf_get(&REF, O.r, rows * ldo);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < d; j++) {
            size_t at = r * ldo + j;
            cr_assert(fabs((double)got[at] - want[at]) <= tol,
                      "attention B%zu S%zu H%zu hd%zu: row %zu col %zu got %.9g want %.9g "
                      "(tol %.3g)",
                      batch, seq, heads, hd, r, j, (double)got[at], (double)want[at], tol);
        }
    free(got);
    free(want);
    pair_free(QKV);
    pair_free(O);
    free(qkv);
}

Test(cpu_numerics, attention_small_and_odd)
{
    check_attention(1, 1, 1, 1, 1.0f, 1);
    check_attention(2, 5, 3, 7, 0.4f, 1);
    check_attention(3, 33, 2, 16, 0.25f, 1);
    check_attention(1, 37, 1, 40, 0.158f, 1);
    /* Last query tiles of 16 and 17 live queries: the 16-query kernels and the 32 on either
     * side of the switch (scores, softmax columns and context alike). */
    check_attention(2, 16, 2, 24, 0.2f, 1);
    check_attention(2, 48, 2, 24, 0.2f, 1);
    check_attention(1, 49, 3, 64, 0.125f, 1);
}

Test(cpu_numerics, attention_vit_sequences)
{
    check_attention(2, 197, 3, 64, 0.125f, 1);  /* ViT-S/16 at 224: 197 tokens */
    check_attention(1, 1025, 2, 64, 0.125f, 1); /* patch 7: 1025 tokens */
    check_attention(1, 3137, 1, 64, 0.125f, 1); /* patch 4: 3137 tokens */
}

Test(cpu_numerics, attention_large_magnitudes)
{
    check_attention(1, 77, 2, 64, 0.125f, 300.0f);
}

/* ------------------------------------------------------------------ patch_embed */

static void check_patch(size_t batch, size_t ch, size_t h, size_t w, size_t p, size_t dim,
                        size_t extra_rows)
{
    size_t gh = h / p, gw = w / p, tokens = gh * gw, kk = ch * p * p;
    size_t stride = (tokens + extra_rows) * dim;
    float *px = rand_array(batch * ch * h * w, -2, 2), *wt = rand_array(dim * kk, -1, 1);
    float *bias = rand_array(dim, -1, 1);
    float *y0 = calloc(batch * stride, sizeof(float));
    cr_assert(y0);
    pair P = pair_new(px, batch * ch * h * w, "pixels"), W = pair_new(wt, dim * kk, "W");
    pair B = pair_new(bias, dim, "bias"), Y = pair_new(y0, batch * stride, "Y");
    /* The token rows start after `extra_rows` rows (the CLS slot the host leaves free). */
    cr_assert_eq(CPU.ops->patch_embed(CPU.ctx, P.c, 0, W.c, 0, B.c, 0, Y.c, extra_rows * dim,
                                      stride, batch, ch, h, w, p, dim),
                 VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
    cr_assert_eq(REF.ops->patch_embed(REF.ctx, P.r, 0, W.r, 0, B.r, 0, Y.r, extra_rows * dim,
                                      stride, batch, ch, h, w, p, dim),
                 VITCL_OK, "%s", REF.desc->last_error(REF.ctx));
    /* A dot product of ch·p² terms plus the bias: (kk+4)·u·(Σ|w||px| + |b|) <= (kk+4)·u·
     * (kk·2 + 1) with the ranges above. Untouched rows must stay exactly 0. */
    double bound = (double)(kk + 4) * U32 * (2.0 * (double)kk + 1.0) + 1e-37;
    char what[96];
    snprintf(what, sizeof what, "patch_embed B%zu C%zu %zux%zu p%zu dim %zu", batch, ch, h, w,
             p, dim);
    assert_pair_close(what, Y, NULL, bound, 0);
    float *got = buf_get(&CPU, Y.c, batch * stride);
    for (size_t n = 0; n < batch; n++)
        for (size_t i = 0; i < extra_rows * dim; i++)
            cr_assert_eq(got[n * stride + i], 0.0f, "%s wrote into the reserved row", what);
    free(got);
    pair_free(P);
    pair_free(W);
    pair_free(B);
    pair_free(Y);
    free(px);
    free(wt);
    free(bias);
    free(y0);
}

Test(cpu_numerics, patch_embed_shapes)
{
    check_patch(1, 1, 1, 1, 1, 1, 0);
    check_patch(1, 1, 5, 7, 2, 3, 0);    /* remainder row and column ignored */
    check_patch(2, 3, 32, 48, 16, 8, 1); /* batch stride with a CLS row */
    check_patch(1, 3, 224, 224, 16, 384, 1);
    check_patch(2, 3, 29, 29, 7, 5, 1);
}

/* ------------------------------------------------------------------ each GEMM path forced */

/* linear, attention and patch_embed through each GEMM path VITCL_CPU_GEMM can force, whatever
 * this CPU's default is: OpenBLAS with the plain register-blocked attention kernels (CPUs with
 * neither AVX-512F nor AVX2+FMA), and the own GEMM with each instruction set's micro-kernels.
 * A path whose instruction set this CPU lacks is reported as skipped, with the reason. */
static void path_checks(void)
{
    check_linear(197, 384, 384, 1, 0, 1.0f);
    check_linear(197, 1536, 384, 1, VITCL_LINEAR_GELU, 1.0f);
    check_linear(530, 37, 2100, 1, VITCL_LINEAR_GELU, 1.0f);
    check_linear(40, 13, 8200, 1, VITCL_LINEAR_GELU, 1.0f);
    check_linear(16, 12, 1025, 1, 0, 1.0f);
    check_linear(3, 5, 7, 0, 0, 1.0f);
    check_linear(33, 47, 129, 1, VITCL_LINEAR_GELU, 1e3f);
    check_linear_offsets(37, 29, 65);
    check_attention(2, 5, 3, 7, 0.4f, 1);
    check_attention(2, 197, 3, 64, 0.125f, 1);
    check_attention(1, 77, 2, 64, 0.125f, 300.0f);
    check_patch(2, 3, 32, 48, 16, 40, 1);
}

static void setup_openblas(void)
{
    setenv("VITCL_CPU_GEMM", "openblas", 1);
    harness_setup();
}

TestSuite(cpu_numerics_openblas, .init = setup_openblas, .fini = harness_teardown,
          .timeout = 240);

Test(cpu_numerics_openblas, linear_attention_patch)
{
    path_checks();
}

/* The forced instruction sets: harness_setup fails where the CPU lacks one, so the test
 * checks the CPU first and sets the variable itself. */
static void run_forced(const char *gemm, int available, const char *features)
{
    if (!available)
        cr_skip_test("this CPU lacks %s: VITCL_CPU_GEMM=%s cannot run here", features, gemm);
    setenv("VITCL_CPU_GEMM", gemm, 1);
    harness_setup();
    path_checks();
    harness_teardown();
    unsetenv("VITCL_CPU_GEMM");
}

Test(cpu_numerics_forced, avx2_kernels, .timeout = 240)
{
    __builtin_cpu_init();
    run_forced("avx2", __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"),
               "AVX2 or FMA");
}

Test(cpu_numerics_forced, avx512_kernels, .timeout = 240)
{
    __builtin_cpu_init();
    run_forced("avx512", __builtin_cpu_supports("avx512f"), "AVX-512F");
}

/* Every fp32 linear on oneDNN's matmul (cpu_gemm_onednn.c; attention and patch_embed as
 * "own"), where the plugin was built with it. */
Test(cpu_numerics_forced, onednn, .timeout = 240)
{
    if (!VITCL_HAVE_ONEDNN)
        cr_skip_test("the cpu plugin was built without oneDNN (libdnnl-dev)");
    setenv("VITCL_CPU_GEMM", "onednn", 1);
    harness_setup();
    path_checks();
    /* Large enough for chunks of Y's columns, one narrower than the rest (n = 1000), and a
     * primitive per chunk width; then tiles of rows and columns, each with a shorter last one
     * (999 x 1000: four row blocks of 250, 249 and two chunks of 512, 488), and rows alone
     * (530 x 37 in path_checks); run twice, so the second call takes them from the cache. */
    for (int rep = 0; rep < 2; rep++) {
        check_linear(197, 1000, 256, 1, VITCL_LINEAR_GELU, 1.0f);
        check_linear(999, 1000, 256, 1, VITCL_LINEAR_GELU, 1.0f);
        check_linear(64, 520, 96, 0, 0, 1.0f);
    }
    harness_teardown();
    unsetenv("VITCL_CPU_GEMM");
}
