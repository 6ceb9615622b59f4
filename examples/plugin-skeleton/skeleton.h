/* skeleton.h - what the two files of the skeleton plugin share.
 *
 * The skeleton is the smallest complete vitcl backend: one CPU "device", buffers in host memory,
 * every op a plain C loop that runs to completion before it returns (so there is no queue and
 * synchronize has nothing to wait for). It fills in only the REQUIRED entries of the plugin ABI
 * (vitcl/backend.h); the optional ones stay NULL and the host falls back as the ABI describes.
 * Copy this folder, rename "skeleton", and replace the loops with your device's code.
 *
 * Threading: a context holds only its last error, and the plugin has no global state, so
 * different contexts never share anything and need no locks. The host serialises the calls on
 * one context.
 */
#ifndef SKELETON_H
#define SKELETON_H

#include <stddef.h>
#include <stdint.h>

#include "vitcl/backend.h"

#define SKELETON_VERSION "0.1.0"
#define SKELETON_ERR_MAX 512
#define SKELETON_LABEL_MAX 96

/* A buffer: `bytes` of host memory, owned by the buffer, allocated for context `owner`. */
struct vitcl_buffer {
    vitcl_context *owner;
    float *data;
    size_t bytes;
    char label[SKELETON_LABEL_MAX];
};

/* A context: the device it runs on and the message of its last failed call. */
struct vitcl_context {
    int device_index;
    char err[SKELETON_ERR_MAX];
};

/* ---- skeleton_plugin.c */

/* Writes "skeleton <what> (device N): <cause>" into ctx's last error and returns status, so an
 * op can `return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "gelu", "...", ...);`. */
vitcl_status sk_fail(vitcl_context *ctx, vitcl_status status, const char *what, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* ---- skeleton_ops.c: the seven required ops, with the signatures of vitcl_op_table. */

vitcl_status sk_linear(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                       const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b, size_t b_off,
                       vitcl_buffer *Y, size_t y_off, size_t m, size_t n, size_t k,
                       uint32_t flags);
vitcl_status sk_gemm_batched(vitcl_context *ctx, int trans_a, int trans_b, size_t m, size_t n,
                             size_t k, float alpha, const vitcl_buffer *A, size_t a_off,
                             size_t lda, size_t stride_a, const vitcl_buffer *B, size_t b_off,
                             size_t ldb, size_t stride_b, float beta, vitcl_buffer *C,
                             size_t c_off, size_t ldc, size_t stride_c, size_t batch);
vitcl_status sk_layernorm(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                          const vitcl_buffer *gamma, size_t g_off, const vitcl_buffer *beta,
                          size_t b_off, vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols,
                          float eps);
vitcl_status sk_gelu(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off, vitcl_buffer *Y,
                     size_t y_off, size_t n);
vitcl_status sk_add(vitcl_context *ctx, const vitcl_buffer *A, size_t a_off,
                    const vitcl_buffer *B, size_t b_off, vitcl_buffer *Y, size_t y_off, size_t n,
                    size_t b_period);
vitcl_status sk_softmax(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                        vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols, float scale);
vitcl_status sk_patch_embed(vitcl_context *ctx, const vitcl_buffer *pixels, size_t p_off,
                            const vitcl_buffer *W, size_t w_off, const vitcl_buffer *bias,
                            size_t bias_off, vitcl_buffer *Y, size_t y_off,
                            size_t y_batch_stride, size_t batch, size_t channels, size_t height,
                            size_t width, size_t patch, size_t dim);

#endif
