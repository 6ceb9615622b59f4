/* host/model/backend_facade.h - the one way the model code calls a backend plugin.
 *
 * forward.c, model_load.c and model_upload.c never read the plugin's descriptor or op table:
 * they call these.
 * The facade owns, in one place:
 *  - locking: bf_lock/bf_unlock around every sequence of calls on the backend's context;
 *  - error context: a failed call sets the thread's message to "<op>: <plugin> on <device>:
 *    <the plugin's message>" (vitcl_backend_fail), which callers prefix with where it happened
 *    ("layer 3 qkv: ...") through vitcl_fail_prefix;
 *  - supports(): asked before every op with the op's shape; a required op the plugin declines
 *    is VITCL_ERR_UNSUPPORTED naming op, shape, plugin and device; an optional op it declines
 *    or lacks takes its fallback (attention: the caller composes it; weight packing: the weight
 *    stays as stored; packing from host memory: the caller uploads fp32 or refuses a reduced
 *    precision; host wrapping: allocate and write);
 *  - ABI versions: entries of a later minor are called only on plugins of that minor
 *    (pack_weight_host needs abi_minor >= 1), and every shape passed to supports() carries
 *    struct_size;
 *  - backend policies: whether to run the warm-up layer after a load, and returning heap freed
 *    while uploading (malloc_trim) to the OS.
 *
 * Every function takes a backend the caller holds locked (bf_lock), except the bf_lock pair,
 * bf_can_wrap and bf_wants_warmup. Buffers belong to the backend's context and are freed with
 * bf_free before the backend closes. Internal to libvitcl.
 */
#ifndef VITCL_HOST_BACKEND_FACADE_H
#define VITCL_HOST_BACKEND_FACADE_H

#include <stddef.h>
#include <stdint.h>

#include "loader_internal.h"

void bf_lock(vitcl_backend *be);
void bf_unlock(vitcl_backend *be);

/* ---- buffers (byte sizes and offsets) ---- */

/* A new device buffer of `bytes`, labelled for messages and profiles. */
vitcl_status bf_alloc(vitcl_backend *be, size_t bytes, const char *label, vitcl_buffer **out);
/* Frees after queued work that uses it; NULL is a no-op. Cannot fail. */
void bf_free(vitcl_backend *be, vitcl_buffer *buf);
vitcl_status bf_write(vitcl_backend *be, vitcl_buffer *buf, size_t offset, const void *src,
                      size_t bytes);
/* Blocks until queued work is done. */
vitcl_status bf_read(vitcl_backend *be, const vitcl_buffer *buf, size_t offset, void *dst,
                     size_t bytes);
vitcl_status bf_copy(vitcl_backend *be, vitcl_buffer *dst, size_t dst_offset,
                     const vitcl_buffer *src, size_t src_offset, size_t bytes);
vitcl_status bf_sync(vitcl_backend *be);
/* Waits for queued work like bf_sync but ignores a failure and leaves the thread's message
 * alone (for teardown paths that may follow another error). */
void bf_drain(vitcl_backend *be);

/* 1 when bf_wrap can alias host memory (the device shares it and the plugin wraps). */
int bf_can_wrap(const vitcl_backend *be);
/* A read-only buffer over host memory the caller keeps valid until bf_free; only when
 * bf_can_wrap. */
vitcl_status bf_wrap(vitcl_backend *be, const void *host, size_t bytes, const char *label,
                     vitcl_buffer **out);

/* ---- ops (element counts, offsets in floats; see vitcl/backend.h for the math) ---- */

/* precision: the vitcl_precision of W when flags has VITCL_LINEAR_PACKED_W and W came from
 * bf_pack_host (FP32 otherwise); it goes to supports() in the shape's precision field. */
vitcl_status bf_linear(vitcl_backend *be, const vitcl_buffer *X, const vitcl_buffer *W,
                       const vitcl_buffer *b, vitcl_buffer *Y, size_t m, size_t n, size_t k,
                       uint32_t flags, uint32_t precision);
/* Y[m,n] += linear(X) (the residual add of a transformer block). With a plugin of ABI minor
 * >= 2 whose supports() takes VITCL_LINEAR_RESIDUAL at this shape, one linear call adds in
 * its epilogue; otherwise the product goes to tmp (m·n floats, clobbered) and add sums it
 * into Y. Either way Y gets the same bits: the plugin adds the fp32 result last. */
vitcl_status bf_linear_residual(vitcl_backend *be, const vitcl_buffer *X, const vitcl_buffer *W,
                                const vitcl_buffer *b, vitcl_buffer *Y, vitcl_buffer *tmp,
                                size_t m, size_t n, size_t k, uint32_t flags,
                                uint32_t precision);
vitcl_status bf_gemm_batched(vitcl_backend *be, int trans_a, int trans_b, size_t m, size_t n,
                             size_t k, float alpha, const vitcl_buffer *A, size_t a_off,
                             size_t lda, size_t stride_a, const vitcl_buffer *B, size_t b_off,
                             size_t ldb, size_t stride_b, float beta, vitcl_buffer *C,
                             size_t c_off, size_t ldc, size_t stride_c, size_t batch);
vitcl_status bf_layernorm(vitcl_backend *be, const vitcl_buffer *X, const vitcl_buffer *gamma,
                          const vitcl_buffer *beta, vitcl_buffer *Y, size_t rows, size_t cols,
                          float eps);
vitcl_status bf_add(vitcl_backend *be, const vitcl_buffer *A, const vitcl_buffer *B,
                    vitcl_buffer *Y, size_t n, size_t b_period);
vitcl_status bf_softmax(vitcl_backend *be, const vitcl_buffer *X, vitcl_buffer *Y, size_t rows,
                        size_t cols, float scale);
vitcl_status bf_patch_embed(vitcl_backend *be, const vitcl_buffer *pixels, const vitcl_buffer *W,
                            const vitcl_buffer *bias, vitcl_buffer *Y, size_t y_off,
                            size_t y_batch_stride,
                            size_t batch, size_t channels, size_t height, size_t width,
                            size_t patch, size_t dim);

/* 1 when the plugin has the optional fused attention op and supports this shape; 0 means the
 * caller composes attention from bf_gemm_batched and bf_softmax. */
int bf_has_attention(vitcl_backend *be, size_t batch, size_t seq, size_t heads, size_t head_dim);
/* Only after bf_has_attention said 1 for the same shape. */
vitcl_status bf_attention(vitcl_backend *be, const vitcl_buffer *Q, size_t q_off, size_t ldq,
                          const vitcl_buffer *K, size_t k_off, size_t ldk, const vitcl_buffer *V,
                          size_t v_off, size_t ldv, vitcl_buffer *O, size_t o_off, size_t ldo,
                          size_t batch, size_t seq, size_t heads, size_t head_dim, float scale);

/* The backend's packed layout of the linear weight W [n, k] in *out (owned by the caller), or
 * *out = NULL with VITCL_OK when the plugin does not pack or declines this shape (the caller
 * keeps W as stored). */
vitcl_status bf_pack_linear(vitcl_backend *be, const vitcl_buffer *W, size_t n, size_t k,
                            const char *label, vitcl_buffer **out);

/* Fails with VITCL_ERR_UNSUPPORTED and a message naming the precision, the plugin with its ABI
 * version, the device and the precisions it offers (plus `why` when not NULL): the refusal of a
 * bf16/fp16 model by a backend that cannot run it. */
vitcl_status bf_refuse_precision(const vitcl_backend *be, int precision, const char *why);

/* 1 when the plugin has the ABI 1.1 entry pack_weight_host at all (minor >= 1, entry present),
 * whatever it supports; what a reduced precision needs before any shape is asked. */
int bf_has_pack_host(const vitcl_backend *be);

/* 1 when the plugin packs linear weights from host memory (ABI 1.1 pack_weight_host): its
 * minor is >= 1, the entry is present, and supports(VITCL_OP_PACK_WEIGHT_HOST, {n, k,
 * precision, dtype}) says 1. */
int bf_packs_host(vitcl_backend *be, uint32_t dtype, size_t n, size_t k, uint32_t precision);
/* The plugin's weight for linear W [n, k] built from host memory `host` (n·k elements of the
 * vitcl_dtype `dtype`, aligned to the element size, read only during the call) and stored in
 * `precision`, in *out (owned by the caller, used with VITCL_LINEAR_PACKED_W). *out = NULL
 * with VITCL_OK when bf_packs_host says 0 for these arguments. */
vitcl_status bf_pack_host(vitcl_backend *be, const void *host, uint32_t dtype, size_t n,
                          size_t k, uint32_t precision, const char *label, vitcl_buffer **out);

/* ---- policies ---- */

/* 1 when a model load should end with one warm-up layer (first-call costs such as program
 * builds, GEMM tuning and thread start-up then land in the load, not the first run). */
int bf_wants_warmup(const vitcl_backend *be);
/* Called after each layer's upload: returns host heap freed meanwhile to the OS where the
 * backend may have made and dropped host copies of the weights. Cannot fail. */
void bf_after_upload(vitcl_backend *be);

#endif
