/* tests/ref/test_ref_numerics.c - every op of the reference plugin against the naive double
 * oracle of naive.c, on random inputs at several shapes (odd, size 1, strided), with the
 * tolerance of ref_harness.h (about one fp32 ulp; see tol_ratio). Output buffers start as NaN
 * so an element the op forgets to write fails, and regions outside the output are checked to
 * be left as they were. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "naive.h"
#include "ref_harness.h"

TestSuite(ref_numerics, .init = ref_setup, .fini = ref_teardown);

/* ---------------------------------------------------------------- linear */

static void check_linear(size_t m, size_t n, size_t k, int with_bias, uint32_t flags)
{
    float *x = rand_array(m * k, -1, 1), *w = rand_array(n * k, -1, 1), *b = rand_array(n, -1, 1);
    vitcl_buffer *X = buf_new(x, m * k, "X"), *W = buf_new(w, n * k, "W");
    vitcl_buffer *B = buf_new(b, n, "b"), *Y = buf_new(NULL, m * n, "Y"), *P = NULL;
    if (flags & VITCL_LINEAR_PACKED_W)
        cr_assert_eq(H.ops->linear_pack_weight(H.ctx, W, 0, n, k, "W packed", &P), VITCL_OK, "%s",
                     H.desc->last_error(H.ctx));
    vitcl_status st = H.ops->linear(H.ctx, X, 0, P != NULL ? P : W, 0, with_bias ? B : NULL, 0, Y,
                                    0, m, n, k, flags);
    cr_assert_eq(st, VITCL_OK, "linear %zux%zux%zu: %s", m, n, k, H.desc->last_error(H.ctx));
    double *want = malloc(m * n * sizeof *want), *mag = malloc(m * n * sizeof *mag);
    naive_linear(x, w, with_bias ? b : NULL, m, n, k, (flags & VITCL_LINEAR_GELU) != 0, want, mag);
    float *y = buf_get(Y, m * n);
    /* k products, the bias and (with GELU) erf and a few multiplications: k + 8 terms. */
    assert_close("linear", y, want, mag, (double)k + 8, m * n);
    free(y), free(want), free(mag), free(x), free(w), free(b);
    buf_free(P), buf_free(X), buf_free(W), buf_free(B), buf_free(Y);
}

Test(ref_numerics, linear_shapes)
{
    static const size_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {197, 12, 31}, {2, 1, 129}};
    rng_seed(1);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int bias = 0; bias < 2; bias++)
            for (uint32_t f = 0; f < 4; f++)
                check_linear(shapes[s][0], shapes[s][1], shapes[s][2], bias, f);
}

Test(ref_numerics, linear_packed_equals_unpacked)
{
    const size_t m = 9, n = 13, k = 37;
    rng_seed(2);
    float *x = rand_array(m * k, -2, 2), *w = rand_array(n * k, -2, 2), *b = rand_array(n, -1, 1);
    vitcl_buffer *X = buf_new(x, m * k, "X"), *W = buf_new(w, n * k, "W"), *B = buf_new(b, n, "b");
    vitcl_buffer *Y1 = buf_new(NULL, m * n, "Y1"), *Y2 = buf_new(NULL, m * n, "Y2"), *P = NULL;
    cr_assert_eq(H.ops->linear_pack_weight(H.ctx, W, 0, n, k, "packed", &P), VITCL_OK);
    for (uint32_t gelu = 0; gelu <= VITCL_LINEAR_GELU; gelu += VITCL_LINEAR_GELU) {
        cr_assert_eq(H.ops->linear(H.ctx, X, 0, W, 0, B, 0, Y1, 0, m, n, k, gelu), VITCL_OK);
        cr_assert_eq(H.ops->linear(H.ctx, X, 0, P, 0, B, 0, Y2, 0, m, n, k,
                                   gelu | VITCL_LINEAR_PACKED_W),
                     VITCL_OK, "%s", H.desc->last_error(H.ctx));
        float *y1 = buf_get(Y1, m * n), *y2 = buf_get(Y2, m * n);
        /* Both paths sum the same products in the same order in double: identical bits. */
        cr_assert(memcmp(y1, y2, m * n * sizeof *y1) == 0, "packed linear differs from unpacked");
        free(y1), free(y2);
    }
    free(x), free(w), free(b);
    buf_free(P), buf_free(X), buf_free(W), buf_free(B), buf_free(Y1), buf_free(Y2);
}

Test(ref_numerics, linear_with_offsets)
{
    /* Operands at non-zero offsets inside larger buffers; the guard floats stay untouched. */
    const size_t m = 4, n = 3, k = 5, off = 7;
    rng_seed(3);
    float *x = rand_array(off + m * k, -1, 1), *w = rand_array(off + n * k, -1, 1);
    float *b = rand_array(off + n, -1, 1), *y0 = rand_array(2 * off + m * n, 100, 200);
    vitcl_buffer *X = buf_new(x, off + m * k, "X"), *W = buf_new(w, off + n * k, "W");
    vitcl_buffer *B = buf_new(b, off + n, "b"), *Y = buf_new(y0, 2 * off + m * n, "Y");
    cr_assert_eq(H.ops->linear(H.ctx, X, off, W, off, B, off, Y, off, m, n, k, 0), VITCL_OK);
    double want[12], mag[12];
    naive_linear(x + off, w + off, b + off, m, n, k, 0, want, mag);
    float *y = buf_get(Y, 2 * off + m * n);
    assert_close("linear at offsets", y + off, want, mag, (double)k + 8, m * n);
    for (size_t i = 0; i < off; i++) {
        cr_assert_eq(y[i], y0[i], "guard before Y written at %zu", i);
        cr_assert_eq(y[off + m * n + i], y0[off + m * n + i], "guard after Y written at %zu", i);
    }
    free(x), free(w), free(b), free(y0), free(y);
    buf_free(X), buf_free(W), buf_free(B), buf_free(Y);
}

/* ---------------------------------------------------------------- gemm_batched */

static void check_gemm(int ta, int tb, size_t m, size_t n, size_t k, size_t batch, float alpha,
                       float beta)
{
    /* Leading dimensions larger than the stored rows, batch strides larger than one matrix. */
    size_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    size_t lda = a_cols + 3, ldb = b_cols + 2, ldc = n + 5;
    size_t sa = a_rows * lda + 4, sb = b_rows * ldb + 1, sc = m * ldc + 6;
    size_t na = batch * sa, nb = batch * sb, nc = batch * sc;
    float *a = rand_array(na, -1, 1), *b = rand_array(nb, -1, 1), *c = rand_array(nc, -1, 1);
    if (beta == 0.0f)
        for (size_t i = 0; i < nc; i++)
            c[i] = NAN; /* beta == 0: C must not be read, so NaN there must not propagate */
    vitcl_buffer *A = buf_new(a, na, "A"), *B = buf_new(b, nb, "B"), *C = buf_new(c, nc, "C");
    vitcl_status st = H.ops->gemm_batched(H.ctx, ta, tb, m, n, k, alpha, A, 0, lda, sa, B, 0, ldb,
                                          sb, beta, C, 0, ldc, sc, batch);
    cr_assert_eq(st, VITCL_OK, "gemm %d%d: %s", ta, tb, H.desc->last_error(H.ctx));
    float *got = buf_get(C, nc), *dense = malloc(m * n * sizeof *dense);
    double *want = malloc(m * n * sizeof *want), *mag = malloc(m * n * sizeof *mag);
    for (size_t p = 0; p < batch; p++) {
        naive_gemm(ta, tb, m, n, k, alpha, a + p * sa, lda, b + p * sb, ldb, beta, c + p * sc, ldc,
                   want, mag);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                dense[i * n + j] = got[p * sc + i * ldc + j];
        assert_close("gemm_batched", dense, want, mag, (double)k + 4, m * n);
        /* Everything of C outside the m x n window of this batch is untouched. */
        for (size_t e = 0; e < sc; e++) {
            size_t i = e / ldc, j = e % ldc;
            if (i < m && j < n)
                continue;
            float before = c[p * sc + e], after = got[p * sc + e];
            cr_assert(memcmp(&before, &after, sizeof before) == 0,
                      "gemm %d%d wrote outside C at batch %zu, float %zu", ta, tb, p, e);
        }
    }
    free(a), free(b), free(c), free(got), free(dense), free(want), free(mag);
    buf_free(A), buf_free(B), buf_free(C);
}

Test(ref_numerics, gemm_batched_transposes_and_strides)
{
    static const size_t shapes[][4] = {{1, 1, 1, 1}, {5, 7, 3, 3}, {13, 9, 17, 2}, {1, 11, 64, 4}};
    rng_seed(4);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                check_gemm(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], 0.7f,
                           0.0f);
                check_gemm(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], -1.25f,
                           0.5f);
            }
}

/* ---------------------------------------------------------------- layernorm */

static void check_layernorm(size_t rows, size_t cols, float center, float eps, int in_place)
{
    float *x = rand_array(rows * cols, center - 1, center + 1);
    float *g = rand_array(cols, 0.5f, 1.5f), *bt = rand_array(cols, -0.5f, 0.5f);
    vitcl_buffer *X = buf_new(x, rows * cols, "X"), *G = buf_new(g, cols, "gamma");
    vitcl_buffer *Bt = buf_new(bt, cols, "beta");
    vitcl_buffer *Y = in_place ? X : buf_new(NULL, rows * cols, "Y");
    cr_assert_eq(H.ops->layernorm(H.ctx, X, 0, G, 0, Bt, 0, Y, 0, rows, cols, eps), VITCL_OK,
                 "%s", H.desc->last_error(H.ctx));
    double *want = malloc(rows * cols * sizeof *want), *mag = malloc(rows * cols * sizeof *mag);
    naive_layernorm(x, g, bt, rows, cols, eps, want, mag);
    float *y = buf_get(Y, rows * cols);
    /* mag already carries the cols·|x|max/sd amplification; 8 covers sqrt and the divisions. */
    assert_close(in_place ? "layernorm in place" : "layernorm", y, want, mag, 8, rows * cols);
    free(x), free(g), free(bt), free(y), free(want), free(mag);
    if (!in_place)
        buf_free(Y);
    buf_free(X), buf_free(G), buf_free(Bt);
}

Test(ref_numerics, layernorm_large_mean_and_odd_rows)
{
    rng_seed(5);
    static const size_t cols[] = {1, 2, 5, 768, 4099};
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
        check_layernorm(3, cols[c], 0.0f, 1e-6f, 0);
        /* Mean 1e4 with noise of 1: a one-pass E[x^2] - E[x]^2 in fp32 would lose everything. */
        check_layernorm(4, cols[c], 1e4f, 1e-12f, 0);
        check_layernorm(2, cols[c], 1e4f, 1e-5f, 1);
    }
}

/* ---------------------------------------------------------------- softmax */

static void check_softmax(size_t rows, size_t cols, float range, float scale, int in_place)
{
    float *x = rand_array(rows * cols, -range, range);
    vitcl_buffer *X = buf_new(x, rows * cols, "X");
    vitcl_buffer *Y = in_place ? X : buf_new(NULL, rows * cols, "Y");
    cr_assert_eq(H.ops->softmax(H.ctx, X, 0, Y, 0, rows, cols, scale), VITCL_OK, "%s",
                 H.desc->last_error(H.ctx));
    double *want = malloc(rows * cols * sizeof *want), *mag = malloc(rows * cols * sizeof *mag);
    naive_softmax(x, rows, cols, scale, want, mag);
    float *y = buf_get(Y, rows * cols);
    assert_close("softmax", y, want, mag, 1, rows * cols);
    free(x), free(y), free(want), free(mag);
    if (!in_place)
        buf_free(Y);
    buf_free(X);
}

Test(ref_numerics, softmax_large_magnitudes)
{
    rng_seed(6);
    static const size_t cols[] = {1, 3, 197, 4096};
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
        check_softmax(3, cols[c], 4.0f, 1.0f, 0);
        /* |x| up to 1e4: exp without max-subtraction overflows to inf. */
        check_softmax(2, cols[c], 1e4f, 1.0f, 0);
        check_softmax(2, cols[c], 1e4f, 0.125f, 1);
    }
}

/* ---------------------------------------------------------------- gelu and add */

Test(ref_numerics, gelu_values_and_in_place)
{
    const size_t n = 1001;
    rng_seed(7);
    float *x = rand_array(n, -10, 10);
    x[0] = 0.0f, x[1] = -0.0f, x[2] = 1e-30f, x[3] = -1e-40f /* subnormal */, x[4] = 80.0f;
    double *want = malloc(n * sizeof *want), *mag = malloc(n * sizeof *mag);
    for (size_t i = 0; i < n; i++) {
        want[i] = naive_gelu(x[i]);
        /* The erf form 0.5·x·(1 + erf(x/sqrt 2)) that backend.h prescribes cancels for x << 0:
         * 1 + erf is known to about 2^-53 absolute, so the error is relative to |x|, not to the
         * (tiny) result. naive_gelu uses erfc, which does not cancel. */
        mag[i] = fabs(x[i]);
    }
    for (int in_place = 0; in_place < 2; in_place++) {
        vitcl_buffer *X = buf_new(x, n, "X"), *Y = in_place ? X : buf_new(NULL, n, "Y");
        cr_assert_eq(H.ops->gelu(H.ctx, X, 0, Y, 0, n), VITCL_OK);
        float *y = buf_get(Y, n);
        /* erf and three multiplications in double: 8 terms of |x| is ample. */
        assert_close("gelu", y, want, mag, 8, n);
        free(y);
        if (!in_place)
            buf_free(Y);
        buf_free(X);
    }
    free(x), free(want), free(mag);
}

Test(ref_numerics, add_broadcast_and_in_place)
{
    static const size_t cases[][2] = {{1, 1}, {7, 7}, {12, 4}, {12, 1}, {197 * 3, 197}};
    rng_seed(8);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int in_place = 0; in_place < 2; in_place++) {
            size_t n = cases[c][0], period = cases[c][1];
            float *a = rand_array(n, -1e3f, 1e3f), *b = rand_array(period, -1, 1);
            vitcl_buffer *A = buf_new(a, n, "A"), *B = buf_new(b, period, "B");
            vitcl_buffer *Y = in_place ? A : buf_new(NULL, n, "Y");
            cr_assert_eq(H.ops->add(H.ctx, A, 0, B, 0, Y, 0, n, period), VITCL_OK, "%s",
                         H.desc->last_error(H.ctx));
            double *want = malloc(n * sizeof *want), *mag = malloc(n * sizeof *mag);
            for (size_t i = 0; i < n; i++) {
                want[i] = (double)a[i] + b[i % period];
                mag[i] = fabs(a[i]) + fabs(b[i % period]);
            }
            float *y = buf_get(Y, n);
            /* A single rounded addition: the fp32 rounding bound alone (terms = 1). */
            assert_close("add", y, want, mag, 1, n);
            free(a), free(b), free(want), free(mag), free(y);
            if (!in_place)
                buf_free(Y);
            buf_free(A), buf_free(B);
        }
}

/* ---------------------------------------------------------------- attention */

/* Runs attention with Q, K, V in one fused [B·seq, 3·D + pad] buffer (fused != 0) or in three
 * buffers with leading dimensions D + 3, and O with ldo = D + 2; Q and K are uniform in
 * [-qk, qk]. */
static void check_attention(size_t batch, size_t seq, size_t heads, size_t hd, int fused,
                            float qk)
{
    size_t D = heads * hd, rows = batch * seq, ldo = D + 2;
    size_t ld = fused ? 3 * D + 1 : D + 3;
    float scale = 1.0f / sqrtf((float)hd);
    size_t nq = rows * ld, no = rows * ldo;
    float *q = rand_array(nq, -qk, qk), *kk = rand_array(nq, -qk, qk), *v = rand_array(nq, -1, 1);
    float *o0 = rand_array(no, 50, 60);
    vitcl_buffer *Q = buf_new(q, nq, "Q"), *K = Q, *V = Q;
    size_t qo = 0, ko = fused ? D : 0, vo = fused ? 2 * D : 0;
    const float *kh = fused ? q : kk, *vh = fused ? q : v;
    if (!fused) {
        K = buf_new(kk, nq, "K");
        V = buf_new(v, nq, "V");
    }
    vitcl_buffer *O = buf_new(o0, no, "O");
    cr_assert_eq(H.ops->attention(H.ctx, Q, qo, ld, K, ko, ld, V, vo, ld, O, 0, ldo, batch, seq,
                                  heads, hd, scale),
                 VITCL_OK, "%s", H.desc->last_error(H.ctx));
    double *want = malloc(no * sizeof *want), *mag = malloc(no * sizeof *mag);
    naive_attention(q + qo, ld, kh + ko, ld, vh + vo, ld, ldo, batch, seq, heads, hd, scale, want,
                    mag);
    float *o = buf_get(O, no);
    for (size_t r = 0; r < rows; r++) {
        assert_close("attention", o + r * ldo, want + r * ldo, mag + r * ldo, 1, D);
        for (size_t j = D; j < ldo; j++)
            cr_assert_eq(o[r * ldo + j], o0[r * ldo + j], "attention wrote the pad of row %zu", r);
    }
    free(q), free(kk), free(v), free(o0), free(o), free(want), free(mag);
    if (!fused)
        buf_free(K), buf_free(V);
    buf_free(Q), buf_free(O);
}

Test(ref_numerics, attention_fused_and_separate)
{
    rng_seed(9);
    for (int fused = 0; fused < 2; fused++) {
        check_attention(1, 1, 1, 1, fused, 2);
        check_attention(2, 5, 3, 4, fused, 2);
        check_attention(1, 17, 2, 8, fused, 2);
        check_attention(3, 7, 1, 3, fused, 2);
        /* Scores in the thousands: exp without max-subtraction overflows. */
        check_attention(1, 9, 2, 8, fused, 40);
    }
}

/* ---------------------------------------------------------------- patch_embed */

static void check_patch_embed(size_t batch, size_t ch, size_t hgt, size_t wid, size_t patch,
                              size_t dim, size_t extra)
{
    size_t tokens = (hgt / patch) * (wid / patch), ystride = tokens * dim + extra;
    size_t np = batch * ch * hgt * wid, nw = dim * ch * patch * patch, ny = batch * ystride;
    float *px = rand_array(np, -1, 1), *w = rand_array(nw, -1, 1), *b = rand_array(dim, -1, 1);
    float *y0 = rand_array(ny, 7, 8);
    vitcl_buffer *P = buf_new(px, np, "pixels"), *W = buf_new(w, nw, "W");
    vitcl_buffer *B = buf_new(b, dim, "bias"), *Y = buf_new(y0, ny, "Y");
    cr_assert_eq(H.ops->patch_embed(H.ctx, P, 0, W, 0, B, 0, Y, 0, ystride, batch, ch, hgt, wid,
                                    patch, dim),
                 VITCL_OK, "%s", H.desc->last_error(H.ctx));
    double *want = malloc(ny * sizeof *want), *mag = malloc(ny * sizeof *mag);
    for (size_t i = 0; i < ny; i++)
        want[i] = y0[i], mag[i] = 0.0; /* the gap after each image must keep its old value */
    naive_patch_embed(px, w, b, batch, ch, hgt, wid, patch, dim, ystride, want, mag);
    float *y = buf_get(Y, ny);
    assert_close("patch_embed", y, want, mag, (double)(ch * patch * patch) + 2, ny);
    for (size_t bi = 0; bi < batch; bi++)
        for (size_t e = tokens * dim; e < ystride; e++)
            cr_assert_eq(y[bi * ystride + e], y0[bi * ystride + e],
                         "patch_embed wrote the gap after image %zu", bi);
    free(px), free(w), free(b), free(y0), free(y), free(want), free(mag);
    buf_free(P), buf_free(W), buf_free(B), buf_free(Y);
}

Test(ref_numerics, patch_embed_remainders_and_strides)
{
    rng_seed(10);
    check_patch_embed(1, 1, 1, 1, 1, 1, 0);
    check_patch_embed(2, 3, 11, 9, 4, 5, 7);   /* 3 remainder rows, 1 remainder column */
    check_patch_embed(1, 3, 14, 21, 7, 6, 6);  /* odd patch size, CLS-sized gap */
    check_patch_embed(3, 2, 5, 5, 5, 3, 1);    /* one token per image */
    check_patch_embed(1, 3, 16, 16, 16, 8, 0); /* patch = image */
}
