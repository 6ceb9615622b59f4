/* plugins/ref/ref_internal.h - what the files of the reference plugin share.
 *
 * The reference backend runs every op synchronously on the calling thread in plain C, with
 * every dot product and reduction accumulated in double and fp32 only at the edges. Buffers
 * are host memory. A context holds nothing but its last error message and its profiling
 * records, so contexts are independent and need no locks; the plugin-wide state is read-only
 * after init.
 */
#ifndef VITCL_REF_INTERNAL_H
#define VITCL_REF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "plugin_size.h"
#include "vitcl/backend.h"

#if defined(__GNUC__)
#define REF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define REF_PRINTF(a, b)
#endif

#define REF_DEVICE_NAME "reference (plain C, double accumulation)"
#define REF_ERR_MAX 512
#define REF_LABEL_MAX 96
#define REF_PROFILE_MAX 4096

/* A buffer: `bytes` of host memory at `data`, owned (malloc'ed) or aliasing the caller's
 * read-only memory (buffer_wrap_host). A buffer made by linear_pack_weight or pack_weight_host
 * holds W^T [k, n] as floats and remembers n and k so linear can check it is used for the shape
 * it was packed for, and the precision it was packed in: in bf16 and fp16 every float holds a
 * value of that format (rounded to nearest even); linear rounds X to it as well only in a
 * context with round_inputs. */
struct vitcl_buffer {
    vitcl_context *owner;
    unsigned char *data;
    size_t bytes;
    int owned;     /* data was allocated here and is freed with the buffer */
    int read_only; /* wraps caller memory: ops and writes may not modify it */
    int packed;    /* made by linear_pack_weight or pack_weight_host */
    size_t pack_n, pack_k;
    uint32_t precision; /* vitcl_precision of a packed weight; FP32 for linear_pack_weight */
    char label[REF_LABEL_MAX];
};

/* The minor ABI version of the host, given to the entry function (ref_plugin.c) before init
 * and read-only afterwards: supports() reads vitcl_op_shape's 1.1 fields only when it is >= 1. */
extern uint32_t ref_host_abi_minor;

/* Plugin-wide state, made by init: read-only afterwards, so contexts may share it freely. */
typedef struct ref_state {
    uint64_t mem_bytes; /* physical memory, the largest allocation we attempt; 0 if unknown */
} ref_state;

struct vitcl_context {
    int device_index;
    uint64_t max_alloc; /* from ref_state.mem_bytes; 0 means no limit known */
    char err[REF_ERR_MAX];
    int profiling;
    /* bf16/fp16 linear also rounds X to the weight's format (VITCL_REF_ROUND_INPUTS=1 at
     * context creation): what a kernel computing in that format (AMX, AVX512-BF16) does. Off by
     * default, where ref computes as the cpu and opencl plugins do (weights rounded, X fp32). */
    int round_inputs;
    size_t n_timings;
    vitcl_op_timing timings[REF_PROFILE_MAX];
};

/* ---- ref_context.c: errors and profiling */

/* Formats "<op> (ref device N): <cause>" into ctx's last error and returns status. ctx may be
 * NULL (the message is then lost). */
vitcl_status ref_fail(vitcl_context *ctx, vitcl_status status, const char *op, const char *fmt,
                      ...) REF_PRINTF(4, 5);

/* Monotonic wall-clock time in nanoseconds (CLOCK_MONOTONIC). */
uint64_t ref_now_ns(void);

/* Appends one timing record when profiling is on; records beyond REF_PROFILE_MAX are dropped. */
void ref_record(vitcl_context *ctx, const char *op, uint64_t start_ns);

/* ---- ref_check.c: argument validation shared by the ops */

/* Size arithmetic: plugin_size_mul, plugin_size_add, plugin_size_extent (plugin_size.h). */

/* Checks that `buf` is a buffer of ctx and that floats [off, off + extent) lie inside it;
 * `what` names the argument in the message ("X", "W"). With `writable`, also that the buffer
 * is not a read-only wrap. extent == 0 means the size computation overflowed. */
vitcl_status ref_check_span(vitcl_context *ctx, const char *op, const char *what,
                            const vitcl_buffer *buf, size_t off, size_t extent, int writable);

/* Reports VITCL_ERR_INVALID_ARGUMENT when any of the `count` sizes is zero; `names` is a
 * comma-separated list naming them in order ("m,n,k"). */
vitcl_status ref_check_sizes(vitcl_context *ctx, const char *op, const char *names,
                             const size_t *sizes, size_t count);

/* Float pointer to element `off` of a buffer already checked with ref_check_span. */
float *ref_floats(const vitcl_buffer *buf, size_t off);

/* gelu(x) = 0.5·x·(1 + erf(x/sqrt(2))) in double. */
double ref_gelu(double x);

/* ---- ref_buffer.c */
vitcl_status ref_buffer_alloc(vitcl_context *ctx, size_t bytes, const char *label,
                              vitcl_buffer **out);
/* Makes an owned buffer; used by buffer_alloc and linear_pack_weight. `op` names the caller
 * in an allocation failure. */
vitcl_status ref_buffer_new(vitcl_context *ctx, const char *op, size_t bytes, const char *label,
                            vitcl_buffer **out);
void ref_buffer_free(vitcl_context *ctx, vitcl_buffer *buf);
vitcl_status ref_buffer_write(vitcl_context *ctx, vitcl_buffer *buf, size_t offset,
                              const void *src, size_t bytes);
vitcl_status ref_buffer_read(vitcl_context *ctx, const vitcl_buffer *buf, size_t offset,
                             void *dst, size_t bytes);
vitcl_status ref_buffer_copy(vitcl_context *ctx, vitcl_buffer *dst, size_t dst_offset,
                             const vitcl_buffer *src, size_t src_offset, size_t bytes);
vitcl_status ref_buffer_wrap_host(vitcl_context *ctx, const void *host, size_t bytes,
                                  const char *label, vitcl_buffer **out);

/* ---- ref_context.c */
vitcl_status ref_context_create(void *state, int device_index, vitcl_context **out, char *err,
                                size_t errlen);
void ref_context_destroy(vitcl_context *ctx);
const char *ref_last_error(vitcl_context *ctx);
vitcl_status ref_synchronize(vitcl_context *ctx);
vitcl_status ref_profiling(vitcl_context *ctx, int enable);
size_t ref_profile_drain(vitcl_context *ctx, vitcl_op_timing *out, size_t max);

/* ---- the ops (ref_dense.c, ref_rowwise.c, ref_attention.c, ref_patch_embed.c) */
/* Every linear flag ref knows (ABI 1.2); ref_linear and ref_supports refuse any other bit. */
#define REF_LINEAR_FLAGS (VITCL_LINEAR_GELU | VITCL_LINEAR_PACKED_W | VITCL_LINEAR_RESIDUAL)
vitcl_status ref_linear(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                        const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b, size_t b_off,
                        vitcl_buffer *Y, size_t y_off, size_t m, size_t n, size_t k,
                        uint32_t flags);
vitcl_status ref_gemm_batched(vitcl_context *ctx, int trans_a, int trans_b, size_t m, size_t n,
                              size_t k, float alpha, const vitcl_buffer *A, size_t a_off,
                              size_t lda, size_t stride_a, const vitcl_buffer *B, size_t b_off,
                              size_t ldb, size_t stride_b, float beta, vitcl_buffer *C,
                              size_t c_off, size_t ldc, size_t stride_c, size_t batch);
vitcl_status ref_linear_pack_weight(vitcl_context *ctx, const vitcl_buffer *W, size_t w_off,
                                    size_t n, size_t k, const char *label, vitcl_buffer **out);
/* pack_weight_host (ABI 1.1): W [n,k] of `dtype` in host memory, stored transposed as floats
 * rounded to `precision` (plugin_half.h). Unknown dtype or precision: VITCL_ERR_UNSUPPORTED. A
 * finite weight that the precision cannot hold (|w| >= 65520 in fp16, beyond bf16's range) is
 * refused (VITCL_ERR_INVALID_ARGUMENT naming the weight and element), as the cpu plugin does,
 * rather than stored as an infinity that would poison every output; inf and NaN stay. */
vitcl_status ref_pack_weight_host(vitcl_context *ctx, const void *w, uint32_t dtype, size_t n,
                                  size_t k, uint32_t precision, const char *label,
                                  vitcl_buffer **out);
vitcl_status ref_layernorm(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                           const vitcl_buffer *gamma, size_t g_off, const vitcl_buffer *beta,
                           size_t b_off, vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols,
                           float eps);
vitcl_status ref_gelu_op(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                         vitcl_buffer *Y, size_t y_off, size_t n);
vitcl_status ref_add_op(vitcl_context *ctx, const vitcl_buffer *A, size_t a_off,
                        const vitcl_buffer *B, size_t b_off, vitcl_buffer *Y, size_t y_off,
                        size_t n, size_t b_period);
vitcl_status ref_softmax(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                         vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols, float scale);
vitcl_status ref_attention(vitcl_context *ctx, const vitcl_buffer *Q, size_t q_off, size_t ldq,
                           const vitcl_buffer *K, size_t k_off, size_t ldk,
                           const vitcl_buffer *V, size_t v_off, size_t ldv, vitcl_buffer *O,
                           size_t o_off, size_t ldo, size_t batch, size_t seq, size_t heads,
                           size_t head_dim, float scale);
vitcl_status ref_patch_embed(vitcl_context *ctx, const vitcl_buffer *pixels, size_t p_off,
                             const vitcl_buffer *W, size_t w_off, const vitcl_buffer *bias,
                             size_t bias_off, vitcl_buffer *Y, size_t y_off,
                             size_t y_batch_stride, size_t batch, size_t channels, size_t height,
                             size_t width, size_t patch, size_t dim);

/* ---- ref_supports.c */
int ref_supports(vitcl_context *ctx, vitcl_op op, const vitcl_op_shape *shape);

#endif
