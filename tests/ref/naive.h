/* tests/ref/naive.h - independent, deliberately naive double-precision versions of every op,
 * written from backend.h's formulas (not from the plugin's code) and formulated differently
 * where that is natural (log-sum-exp softmax, Welford variance, attention through an explicit
 * score matrix, patch embedding through im2col). Each fills `want` and, where the tolerance
 * needs it, `mag`: the sum of absolute values of the terms summed for that element. Arrays are
 * caller-allocated and dense unless a stride is given. */
#ifndef VITCL_TEST_NAIVE_H
#define VITCL_TEST_NAIVE_H

#include <stddef.h>

/* Y[m,n] = X[m,k]·W[n,k]^T + b (b may be NULL), then GELU when gelu != 0. */
void naive_linear(const float *X, const float *W, const float *b, size_t m, size_t n, size_t k,
                  int gelu, double *want, double *mag);

/* One batch entry of gemm_batched with the ABI's leading dimensions; want/mag are [m,n] dense.
 * C (ldc) is read only when beta != 0. */
void naive_gemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *A,
                size_t lda, const float *B, size_t ldb, float beta, const float *C, size_t ldc,
                double *want, double *mag);

/* Row-wise layernorm; mag[i] bounds the cancellation error (|x| max of the row scaled). */
void naive_layernorm(const float *X, const float *gamma, const float *beta, size_t rows,
                     size_t cols, float eps, double *want, double *mag);

/* Row-wise softmax of scale·X via log-sum-exp; mag as described in the harness tolerance. */
void naive_softmax(const float *X, size_t rows, size_t cols, float scale, double *want,
                   double *mag);

double naive_gelu(double x);

/* Attention with the ABI's strides; want/mag have the layout of O (ldo, batch·seq rows). */
void naive_attention(const float *Q, size_t ldq, const float *K, size_t ldk, const float *V,
                     size_t ldv, size_t ldo, size_t batch, size_t seq, size_t heads,
                     size_t head_dim, float scale, double *want, double *mag);

/* Patch embedding into want/mag laid out as Y (y_batch_stride per image); untouched elements
 * of want are left as they were. */
void naive_patch_embed(const float *px, const float *W, const float *bias, size_t batch,
                       size_t channels, size_t height, size_t width, size_t patch, size_t dim,
                       size_t y_batch_stride, double *want, double *mag);

#endif
