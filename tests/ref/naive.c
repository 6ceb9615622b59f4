/* tests/ref/naive.c - the naive double-precision oracle of the ref tests. */
#include "naive.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

double naive_gelu(double x)
{
    return x * 0.5 * erfc(-x / sqrt(2.0)); /* 1 + erf(z) == erfc(-z) */
}

void naive_linear(const float *X, const float *W, const float *b, size_t m, size_t n, size_t k,
                  int gelu, double *want, double *mag)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = b != NULL ? b[j] : 0.0, a = b != NULL ? fabs(b[j]) : 0.0;
            for (size_t p = 0; p < k; p++) {
                double t = (double)X[i * k + p] * (double)W[j * k + p];
                s += t;
                a += fabs(t);
            }
            want[i * n + j] = gelu ? naive_gelu(s) : s;
            mag[i * n + j] = a;
        }
}

void naive_gemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *A,
                size_t lda, const float *B, size_t ldb, float beta, const float *C, size_t ldc,
                double *want, double *mag)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0.0, a = 0.0;
            for (size_t p = 0; p < k; p++) {
                double x = ta ? A[p * lda + i] : A[i * lda + p];
                double y = tb ? B[j * ldb + p] : B[p * ldb + j];
                s += x * y;
                a += fabs(x * y);
            }
            double r = alpha * s, mg = fabs((double)alpha) * a;
            if (beta != 0.0f) {
                r += (double)beta * C[i * ldc + j];
                mg += fabs((double)beta * C[i * ldc + j]);
            }
            want[i * n + j] = r;
            mag[i * n + j] = mg;
        }
}

void naive_layernorm(const float *X, const float *gamma, const float *beta, size_t rows,
                     size_t cols, float eps, double *want, double *mag)
{
    for (size_t r = 0; r < rows; r++) {
        const float *x = X + r * cols;
        /* Welford's running mean and M2. */
        double mean = 0.0, m2 = 0.0, big = 0.0;
        for (size_t j = 0; j < cols; j++) {
            double d = x[j] - mean;
            mean += d / (double)(j + 1);
            m2 += d * (x[j] - mean);
            if (fabs(x[j]) > big)
                big = fabs(x[j]);
        }
        double sd = sqrt(m2 / (double)cols + eps);
        for (size_t j = 0; j < cols; j++) {
            want[r * cols + j] = (x[j] - mean) / sd * gamma[j] + beta[j];
            /* The mean carries an error of about cols·2^-53·big, amplified by |gamma|/sd. */
            mag[r * cols + j] = (double)cols * big / sd * fabs(gamma[j]) + fabs(beta[j]);
        }
    }
}

void naive_softmax(const float *X, size_t rows, size_t cols, float scale, double *want,
                   double *mag)
{
    for (size_t r = 0; r < rows; r++) {
        const float *x = X + r * cols;
        double mx = -INFINITY, big = 0.0;
        for (size_t j = 0; j < cols; j++) {
            double v = (double)scale * x[j];
            mx = fmax(mx, v);
            big = fmax(big, fabs(v));
        }
        double s = 0.0;
        for (size_t j = 0; j < cols; j++)
            s += exp((double)scale * x[j] - mx);
        double lse = mx + log(s);
        for (size_t j = 0; j < cols; j++) {
            double p = exp((double)scale * x[j] - lse);
            want[r * cols + j] = p;
            /* Relative error of each exponent ~ |argument|·2^-53, of the sum ~ cols·2^-53. */
            mag[r * cols + j] = p * (4.0 * big + (double)cols + 8.0);
        }
    }
}

void naive_attention(const float *Q, size_t ldq, const float *K, size_t ldk, const float *V,
                     size_t ldv, size_t ldo, size_t batch, size_t seq, size_t heads,
                     size_t head_dim, float scale, double *want, double *mag)
{
    double *S = malloc(seq * seq * sizeof *S);
    cr_assert_not_null(S);
    for (size_t b = 0; b < batch; b++)
        for (size_t h = 0; h < heads; h++) {
            double qk = 0.0, vmax = 0.0;
            /* Scores, the whole [seq, seq] matrix. */
            for (size_t i = 0; i < seq; i++)
                for (size_t t = 0; t < seq; t++) {
                    double s = 0.0;
                    for (size_t j = 0; j < head_dim; j++) {
                        double a = Q[(b * seq + i) * ldq + h * head_dim + j];
                        double c = K[(b * seq + t) * ldk + h * head_dim + j];
                        s += a * c;
                        qk = fmax(qk, fabs(a * c));
                    }
                    S[i * seq + t] = scale * s;
                }
            for (size_t t = 0; t < seq; t++)
                for (size_t j = 0; j < head_dim; j++)
                    vmax = fmax(vmax, fabs(V[(b * seq + t) * ldv + h * head_dim + j]));
            /* Row softmax by log-sum-exp, then P·V. */
            for (size_t i = 0; i < seq; i++) {
                double *row = S + i * seq, mx = -INFINITY, z = 0.0;
                for (size_t t = 0; t < seq; t++)
                    mx = fmax(mx, row[t]);
                for (size_t t = 0; t < seq; t++)
                    z += exp(row[t] - mx);
                for (size_t t = 0; t < seq; t++)
                    row[t] = exp(row[t] - mx - log(z));
                for (size_t j = 0; j < head_dim; j++) {
                    double o = 0.0;
                    for (size_t t = 0; t < seq; t++)
                        o += row[t] * V[(b * seq + t) * ldv + h * head_dim + j];
                    size_t at = (b * seq + i) * ldo + h * head_dim + j;
                    want[at] = o;
                    mag[at] = vmax * (4.0 * fabs((double)scale) * (double)(head_dim * head_dim) *
                                          qk +
                                      2.0 * (double)seq + (double)head_dim);
                }
            }
        }
    free(S);
}

void naive_patch_embed(const float *px, const float *W, const float *bias, size_t batch,
                       size_t channels, size_t height, size_t width, size_t patch, size_t dim,
                       size_t y_batch_stride, double *want, double *mag)
{
    size_t gh = height / patch, gw = width / patch, kk = channels * patch * patch;
    double *col = malloc(kk * sizeof *col); /* im2col of one patch, in W's (ch, i, j) order */
    cr_assert_not_null(col);
    for (size_t b = 0; b < batch; b++)
        for (size_t r = 0; r < gh; r++)
            for (size_t c = 0; c < gw; c++) {
                size_t q = 0;
                for (size_t ch = 0; ch < channels; ch++)
                    for (size_t i = 0; i < patch; i++)
                        for (size_t j = 0; j < patch; j++)
                            col[q++] = px[((b * channels + ch) * height + r * patch + i) * width +
                                          c * patch + j];
                for (size_t d = 0; d < dim; d++) {
                    double s = bias[d], a = fabs(bias[d]);
                    for (q = 0; q < kk; q++) {
                        s += W[d * kk + q] * col[q];
                        a += fabs(W[d * kk + q] * col[q]);
                    }
                    size_t at = b * y_batch_stride + (r * gw + c) * dim + d;
                    want[at] = s;
                    mag[at] = a;
                }
            }
    free(col);
}
