/* plugins/cpu/cpu_internal.h - what the files of the cpu plugin share.
 *
 * The cpu backend runs every op synchronously on the calling thread: attention's products run
 * on the plugin's own micro-kernels where the CPU has AVX-512F or AVX2+FMA (cpu_gemm_avx512.c /
 * cpu_gemm_avx2.c), linear and patch_embed on its own GEMM driver (cpu_gemm.c) where the CPU has
 * AVX-512F, and on OpenBLAS (cblas_sgemm) elsewhere, as measured per machine kind
 * (docs/performance.md; VITCL_CPU_GEMM overrides); gemm_batched always goes to OpenBLAS, and everything else runs on a small persistent thread pool owned by the context
 * (cpu_pool.h). Buffers are 64-byte aligned host memory, or the caller's own read-only memory
 * for buffer_wrap_host (zero copy).
 *
 * Threads: a context owns `nthreads` threads in all (the caller plus nthreads-1 pool workers;
 * online cores, or VITCL_CPU_THREADS). OpenBLAS keeps its own pthread pool; the context sets it
 * to the same count (openblas_set_num_threads). The two pools never compute at the same time: an
 * op calls OpenBLAS from the caller thread while the pool workers wait (spinning at most 0.2 ms,
 * then asleep on a condition variable, cpu_pool.c), and the pool runs only between GEMMs. With
 * the own GEMM a forward pass calls no OpenBLAS at all (only gemm_batched and the fallback path
 * do). OpenBLAS's thread count is process-wide: the last context created sets it. oneDNN
 * (cpu_gemm_onednn.c) never starts threads of its own: each pool thread runs single-threaded
 * primitives on its chunks of a linear.
 *
 * A context is used by one thread at a time (backend.h); plugin-wide state is read-only after
 * init, so contexts need no locks between them.
 */
#ifndef VITCL_CPU_INTERNAL_H
#define VITCL_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "plugin_size.h"
#include "vitcl/backend.h"
#include "cpu_gemm_kernels.h"
#include "cpu_pool.h"

#if defined(__GNUC__)
#define CPU_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CPU_PRINTF(a, b)
#endif

#define CPU_ALIGN 64
#define CPU_ERR_MAX 512
#define CPU_LABEL_MAX 96
#define CPU_PROFILE_MAX 8192
#define CPU_MAX_THREADS 256

/* A buffer: `bytes` of host memory at `data`, owned (aligned allocation) or aliasing the
 * caller's read-only memory (buffer_wrap_host). A linear weight built by pack_weight_host
 * (cpu_pack_host.c) is marked `packed`: W [rows, cols] row-major, its elements in `precision`
 * (FP32: floats; BF16, FP16: 16 bits each, cpu_half.h), or, with `amx`, bf16 in the AMX tile
 * layout (cpu_gemm_amx_put_row). Only linear with VITCL_LINEAR_PACKED_W takes such a buffer
 * as W. */
struct vitcl_buffer {
    vitcl_context *owner;
    unsigned char *data;
    size_t bytes;
    int owned;     /* data was allocated here and is freed with the buffer */
    int read_only; /* wraps caller memory: ops and writes may not modify it */
    int packed;    /* a packed linear weight (pack_weight_host) */
    uint32_t precision; /* packed: the vitcl_precision its elements are stored in */
    int amx;            /* packed bf16 in the AMX tile layout (cpu_gemm_uses_amx_layout) */
    size_t rows, cols;  /* packed: n and k */
    char label[CPU_LABEL_MAX];
};

/* Per-thread scratch, grown by the caller before a parallel region (workers never allocate). */
typedef struct cpu_scratch {
    float *data;
    size_t floats;
    uint64_t tag_call; /* attention: the call (ctx->call_seq) whose head is packed, 0 = none */
    size_t tag_head;   /* attention: which image·head of that call is packed */
} cpu_scratch;

/* ---- cpu_cache.c */

/* Data cache sizes in bytes (L1 data, L2, L3 as one core sees them) and where each came from
 * ("sysconf", "sysfs" or "fallback"; static strings). */
typedef struct cpu_caches {
    size_t l1d, l2, l3;
    const char *source[3];
} cpu_caches;

/* Fills *out from sysconf, else sysfs, else small fallbacks (cpu_cache.c). Thread-safe. */
void cpu_cache_sizes(cpu_caches *out);

/* The own GEMM of a context: its kernels (NULL: OpenBLAS for linear and patch_embed, and the
 * plain attention kernels), whether linear and patch_embed use them too (`linear`; else only
 * attention's products do, and linear goes to OpenBLAS), the caches its blocking is derived
 * from and the depth block kc. */
typedef struct cpu_gemm_plan {
    const cpu_gemm_isa *isa;
    int linear;
    int race; /* VITCL_CPU_GEMM=auto: each large fp32 linear takes the GEMM (own, OpenBLAS or
                 oneDNN) that won its shape class's race (cpu_gemm_race.c) */
    int onednn; /* VITCL_CPU_GEMM=onednn: every fp32 linear, and the bf16 products of linears
                   on a row-major bf16 weight, on oneDNN (cpu_gemm_onednn.c) */
    cpu_caches caches;
    size_t kc;
    /* The fp32 depth block forced for this context's next calls (the race's runs), 0: none. */
    size_t kc_force;
    /* linear on a bf16 weight: the bf16 kernels (NULL: W is widened to fp32 and isa's kernels
     * run), how X is packed for them (bf16_x, CPU_BF16_X_*) and the depth blocks of each X
     * packing (kc_bf16[CPU_BF16_X_ROUND], [CPU_BF16_X_SPLIT]). */
    const cpu_gemm_bf16 *bf16;
    int bf16_x;
    size_t kc_bf16[3];
    /* With bf16 set: the AMX block kernel (NULL: the AVX512-BF16 kernels), on bf16's packers
     * and depth blocks (measured on the Intel machine: depth blocks of 256 to 1024 ran slower
     * than the whole of k = 1024 and 4096). */
    const cpu_gemm_amx *amx;
} cpu_gemm_plan;

/* How a linear on a bf16 weight takes X (VITCL_CPU_BF16): per linear by its shape
 * (cpu_gemm_bf16_x_for), rounded to bf16 or split into hi + lo for the bf16 kernels, or in fp32
 * against the widened weight on isa's kernels (WIDEN: what auto picks for some shapes; the
 * setting widen instead leaves plan->bf16 NULL). */
#define CPU_BF16_X_AUTO 0
#define CPU_BF16_X_ROUND 1
#define CPU_BF16_X_SPLIT 2
#define CPU_BF16_X_WIDEN 3

#define CPU_GEMM_TB_MAX 512 /* tokens per block of the own GEMM, at most */

typedef struct cpu_dnnl cpu_dnnl; /* a context's oneDNN engine, streams and primitives */

struct vitcl_context {
    int device_index;
    int nthreads;
    cpu_pool *pool;
    cpu_scratch scratch[CPU_MAX_THREADS];
    float *shared;        /* caller-side scratch (patch_embed im2col) */
    size_t shared_floats;
    float *packed_x;      /* the own GEMM's packed activations (cpu_gemm.c) */
    size_t packed_x_floats;
    float *wide;          /* linear on a 16-bit weight via OpenBLAS: a block of W in fp32 */
    size_t wide_floats;
    uint64_t call_seq;    /* counts attention calls, to key scratch contents */
    cpu_gemm_plan gemm;   /* the own GEMM (gemm.isa NULL: OpenBLAS), see VITCL_CPU_GEMM */
    cpu_dnnl *dnnl;       /* made on the first oneDNN linear (cpu_gemm_onednn.c), or NULL */
    char err[CPU_ERR_MAX];
    int profiling;
    size_t n_timings;
    vitcl_op_timing timings[CPU_PROFILE_MAX];
};

/* ---- cpu_context.c: errors, profiling, scratch */

/* Formats "<op> (cpu device N): <cause>" into ctx's last error and returns status. ctx may be
 * NULL (the message is then lost). */
vitcl_status cpu_fail(vitcl_context *ctx, vitcl_status status, const char *op, const char *fmt,
                      ...) CPU_PRINTF(4, 5);

/* Monotonic wall-clock time in nanoseconds (CLOCK_MONOTONIC). */
uint64_t cpu_now_ns(void);

/* Appends one timing record [start_ns, now] when profiling is on; records beyond
 * CPU_PROFILE_MAX are dropped. */
void cpu_record(vitcl_context *ctx, const char *op, uint64_t start_ns);

/* Makes every thread's scratch hold at least `floats` floats (64-byte aligned). On failure
 * sets ctx's error naming `op` and returns VITCL_ERR_OUT_OF_MEMORY. */
vitcl_status cpu_scratch_reserve(vitcl_context *ctx, const char *op, size_t floats);

/* Makes ctx->shared hold at least `floats` floats; errors as cpu_scratch_reserve. */
vitcl_status cpu_shared_reserve(vitcl_context *ctx, const char *op, size_t floats);

/* Makes ctx->packed_x hold at least `floats` floats; errors as cpu_scratch_reserve. */
vitcl_status cpu_packed_x_reserve(vitcl_context *ctx, const char *op, size_t floats);

/* Makes ctx->wide hold at least `floats` floats; errors as cpu_scratch_reserve. */
vitcl_status cpu_wide_reserve(vitcl_context *ctx, const char *op, size_t floats);

/* ---- cpu_check.c: argument validation shared by the ops */

/* Size arithmetic: plugin_size_mul, plugin_size_add, plugin_size_extent (plugin_size.h). */

/* Checks that `buf` is a buffer of ctx and that floats [off, off + extent) lie inside it;
 * `what` names the argument ("X", "W"). With `writable`, also that the buffer is not a
 * read-only wrap. extent == 0 means the size computation overflowed. */
vitcl_status cpu_check_span(vitcl_context *ctx, const char *op, const char *what,
                            const vitcl_buffer *buf, size_t off, size_t extent, int writable);

/* Fails when the float ranges [a_off, a_off+a_ext) of a and [b_off, b_off+b_ext) of b overlap
 * (same buffer or same memory); `what` names the pair ("Y and X"). */
vitcl_status cpu_check_disjoint(vitcl_context *ctx, const char *op, const char *what,
                                const vitcl_buffer *a, size_t a_off, size_t a_ext,
                                const vitcl_buffer *b, size_t b_off, size_t b_ext);

/* One operand of an op: the argument's name ("X"), its buffer and its float span. With
 * `optional`, a NULL buffer is skipped (a bias the op may go without). */
typedef struct cpu_span {
    const char *what;
    const vitcl_buffer *buf;
    size_t off, ext;
    int optional;
} cpu_span;

/* The checks of an op that reads the n_in spans `in` and writes `out`: each input in order
 * (cpu_check_span), then the output as writable, then that the output overlaps none of them
 * (cpu_check_disjoint, "Y and X"). The first failure is returned, with its message in ctx. */
vitcl_status cpu_check_operands(vitcl_context *ctx, const char *op, const cpu_span *out,
                                const cpu_span *in, size_t n_in);

/* The checks of an op that reads X and writes Y, both `extent` floats, in place or not: X lies
 * in a buffer of ctx, Y in a writable one, and the two are either exactly the same floats or do
 * not overlap. */
vitcl_status cpu_check_x_to_y(vitcl_context *ctx, const char *op, const vitcl_buffer *X,
                              size_t x_off, const vitcl_buffer *Y, size_t y_off, size_t extent);

/* Fails unless every value fits OpenBLAS's int-sized dimensions. */
vitcl_status cpu_check_blas_dims(vitcl_context *ctx, const char *op, size_t a, size_t b,
                                 size_t c, size_t d);

/* Float pointer at `off` floats into buf. */
static inline float *cpu_f(const vitcl_buffer *buf, size_t off)
{
    return (float *)(void *)buf->data + off;
}

/* ---- the ops (cpu_linear.c, cpu_gemm_batched.c, cpu_rowwise.c, cpu_attention.c,
 * cpu_patch_embed.c), with the signatures of vitcl_op_table */

vitcl_status cpu_linear(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                        const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b, size_t b_off,
                        vitcl_buffer *Y, size_t y_off, size_t m, size_t n, size_t k,
                        uint32_t flags);
vitcl_status cpu_gemm_batched(vitcl_context *ctx, int trans_a, int trans_b, size_t m, size_t n,
                              size_t k, float alpha, const vitcl_buffer *A, size_t a_off,
                              size_t lda, size_t stride_a, const vitcl_buffer *B, size_t b_off,
                              size_t ldb, size_t stride_b, float beta, vitcl_buffer *C,
                              size_t c_off, size_t ldc, size_t stride_c, size_t batch);
vitcl_status cpu_layernorm(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                           const vitcl_buffer *gamma, size_t g_off, const vitcl_buffer *beta,
                           size_t b_off, vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols,
                           float eps);
vitcl_status cpu_gelu(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off, vitcl_buffer *Y,
                      size_t y_off, size_t n);
vitcl_status cpu_add_op(vitcl_context *ctx, const vitcl_buffer *A, size_t a_off,
                        const vitcl_buffer *B, size_t b_off, vitcl_buffer *Y, size_t y_off,
                        size_t n, size_t b_period);
vitcl_status cpu_softmax(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off, vitcl_buffer *Y,
                         size_t y_off, size_t rows, size_t cols, float scale);
vitcl_status cpu_attention(vitcl_context *ctx, const vitcl_buffer *Q, size_t q_off, size_t ldq,
                           const vitcl_buffer *K, size_t k_off, size_t ldk, const vitcl_buffer *V,
                           size_t v_off, size_t ldv, vitcl_buffer *O, size_t o_off, size_t ldo,
                           size_t batch, size_t seq, size_t heads, size_t head_dim, float scale);
vitcl_status cpu_patch_embed(vitcl_context *ctx, const vitcl_buffer *pixels, size_t p_off,
                             const vitcl_buffer *W, size_t w_off, const vitcl_buffer *bias,
                             size_t bias_off, vitcl_buffer *Y, size_t y_off,
                             size_t y_batch_stride, size_t batch, size_t channels, size_t height,
                             size_t width, size_t patch, size_t dim);

/* ---- cpu_gemm.c: the plugin's own GEMM */

/* Sets plan's kernels to isa (not NULL) and derives its blocking from caches; no bf16 kernels. */
void cpu_gemm_plan_make(cpu_gemm_plan *plan, const cpu_gemm_isa *isa, const cpu_caches *caches);

/* Gives plan (made by cpu_gemm_plan_make) the bf16 kernels bf16 (not NULL), X taken as bf16_x
 * (CPU_BF16_X_*), the AMX kernel amx (NULL: none; its packers are bf16's), and their depth
 * blocks from plan's caches. */
void cpu_gemm_plan_bf16(cpu_gemm_plan *plan, const cpu_gemm_bf16 *bf16, int bf16_x,
                        const cpu_gemm_amx *amx);

/* How the X of a linear of this shape on a bf16 weight is taken when plan has bf16 kernels:
 * CPU_BF16_X_ROUND, _SPLIT or _WIDEN (plan->bf16_x when that forces one; else the shape's
 * rule, cpu_gemm.c). */
int cpu_gemm_bf16_x_for(const cpu_gemm_plan *plan, size_t m, size_t n, size_t k, int gelu);

/* Y[m,n] (leading dimension ldy) = X[m,k]·W[n,k]^T (+ bias[n] when bias is not NULL, then GELU
 * when gelu != 0), with leading dimensions ldx and ldw; W is read in place. Runs on ctx's pool
 * with ctx->gemm's kernels (only call it when ctx->gemm.isa is not NULL, whatever gemm.linear), using ctx->packed_x
 * and the per-thread scratch (grown here; X may lie in ctx->shared). Fails only when scratch
 * cannot be allocated (the error names `op`); Y is then untouched. */
vitcl_status cpu_gemm_linear(vitcl_context *ctx, const char *op, const float *x, size_t ldx,
                             const float *w, size_t ldw, const float *bias, float *y, size_t ldy,
                             size_t m, size_t n, size_t k, int gelu);

/* cpu_gemm_linear with W's elements in `wfmt` (a vitcl_precision: FP32 floats, BF16 or FP16
 * 16-bit values, cpu_half.h; ldw counts elements; or CPU_WFMT_BF16_AMX): each task widens its
 * rows of W to fp32 while it packs them, so a 16-bit W costs no extra pass. Same contract
 * otherwise. */
#define CPU_WFMT_BF16_AMX 0x100u /* internal: bf16 in the AMX tile layout; ldw is ignored */
vitcl_status cpu_gemm_linear_fmt(vitcl_context *ctx, const char *op, const float *x, size_t ldx,
                                 const void *w, uint32_t wfmt, size_t ldw, const float *bias,
                                 float *y, size_t ldy, size_t m, size_t n, size_t k, int gelu);

/* ---- cpu_gemm_race.c */
/* The GEMMs an fp32 linear can run on. */
#define CPU_PATH_OWN 0  /* the own kernels (cpu_gemm.c) */
#define CPU_PATH_BLAS 1 /* OpenBLAS (cpu_linear_openblas), GELU as a second pass */
#define CPU_PATH_DNNL 2 /* oneDNN (cpu_onednn_linear), bias and GELU fused */
/* Which GEMM runs an fp32 linear of m tokens, n outputs and depth k (with GELU or not) on ctx:
 * oneDNN with VITCL_CPU_GEMM=onednn; when ctx->gemm.race is set and the shape is large enough
 * to matter, the winner of its shape class's race, which the first such call of the process
 * runs on ctx's pool (about a second on 2 cores, once); else the context's default (own where
 * ctx->gemm.linear, else OpenBLAS). Thread-safe (contexts on other threads wait for the race). */
int cpu_gemm_race_pick(vitcl_context *ctx, size_t m, size_t n, size_t k, int gelu);
/* The bf16 race: where a context runs bf16 linears on the AVX512-BF16 kernels (not AMX) and
 * VITCL_CPU_BF16 is auto, the first large linear on a bf16 weight of the process times, per
 * shape class, the bf16 products on the own kernels and on oneDNN (where built in; it keeps
 * the class unless the own kernels were 10% faster) against the weight widened to fp32 on the
 * fp32 kernels (which keep X exact), and widening takes a class where it was 10% faster than
 * the bf16 products (on the Intel Xeon without AMX vdpbf16ps ran below fp32 FMA; on AMD Zen 5
 * at twice it). cpu_gemm_race_bf16 runs it when due (ctx's pool, once per process;
 * thread-safe); cpu_gemm_race_bf16_widen is the widening verdict for a shape (0 before the
 * race, for small shapes and on AMX plans), cpu_gemm_race_bf16_dnnl whether its bf16 products
 * run on oneDNN (1 with VITCL_CPU_GEMM=onednn; else 0 before the race, for small shapes and on
 * AMX plans). */
void cpu_gemm_race_bf16(vitcl_context *ctx, size_t m, size_t n, size_t k);
int cpu_gemm_race_bf16_widen(const cpu_gemm_plan *plan, size_t m, size_t n, size_t k);
int cpu_gemm_race_bf16_dnnl(const cpu_gemm_plan *plan, size_t m, size_t n, size_t k);
/* The fp32 depth block of the own GEMM for a linear of m tokens, n outputs and depth k: the
 * plan's kc (from L2: one X panel in half of it), or, in the deep shape classes where the
 * race found it faster, the split one (cpu_gemm_kc_split). 0 before the race and for shapes
 * it does not decide (then the plan's kc). */
size_t cpu_gemm_race_kc(const cpu_gemm_plan *plan, size_t m, size_t n, size_t k);
/* One line on the verdicts (or that they are still to come), for device_info's extra. */
void cpu_gemm_race_describe(char *out, size_t len);

/* ---- cpu_gemm_onednn.c */
/* Whether this plugin was built with oneDNN (libdnnl-dev found by meson). */
int cpu_onednn_built(void);
/* "oneDNN x.y.z" of the library loaded, or why there is none. */
void cpu_onednn_describe(char *out, size_t len);
/* Y[m,n] = X[m,k]·W[n,k]^T (+ bias, NULL: none; then GELU when gelu), all dense (ldx = ldw = k,
 * ldy = n), on oneDNN's matmul in chunks of Y's columns on ctx's pool, one single-threaded
 * execution per chunk. W is in `wfmt`: VITCL_PRECISION_FP32 (floats), or _BF16 / _FP16
 * (16 bits each, row-major [n,k]; each chunk's rows are widened to fp32 in its thread's
 * scratch first). Primitives are cached in ctx->dnnl. Errors (VITCL_ERR_UNSUPPORTED when not
 * built or oneDNN refuses, VITCL_ERR_OUT_OF_MEMORY, VITCL_ERR_INTERNAL for another wfmt) set
 * ctx's message naming `op`; Y may then be partly written, and the caller computes it another
 * way. */
vitcl_status cpu_onednn_linear(vitcl_context *ctx, const char *op, const float *x,
                               const void *w, uint32_t wfmt, const float *bias, float *y,
                               size_t m, size_t n, size_t k, int gelu);
/* The same with bf16 products: X rounded to bf16 first (as the own bf16 kernels round it,
 * ctx->gemm.bf16->round_x, into ctx->packed_x) and multiplied with W, bf16 [n,k] as stored,
 * sums in fp32 (oneDNN's bf16 matmul). Needs ctx->gemm.bf16 (AVX512-BF16), else
 * VITCL_ERR_UNSUPPORTED; other errors as cpu_onednn_linear. */
vitcl_status cpu_onednn_linear_bf16(vitcl_context *ctx, const char *op, const float *x,
                                    const uint16_t *w, const float *bias, float *y, size_t m,
                                    size_t n, size_t k, int gelu);
/* Frees a context's oneDNN state (NULL: nothing). */
void cpu_onednn_destroy(cpu_dnnl *d);
/* ---- cpu_linear.c */
/* Y[m,n] = X[m,k]·W[n,k]^T + bias (NULL: none) on OpenBLAS: Y filled with the bias, then one
 * sgemm with beta 1 (rows dense: ldx = ldw = k, ldy = n). */
void cpu_linear_openblas(vitcl_context *ctx, const float *x, const float *w, const float *bias,
                         float *y, size_t m, size_t n, size_t k);

/* Whether linear on this plan runs bf16 weights on AMX, so that pack_weight_host stores them
 * in the AMX tile layout: the own GEMM runs linear, has the AMX kernel and VITCL_CPU_BF16 does
 * not force widened weights. */
int cpu_gemm_uses_amx_layout(const cpu_gemm_plan *plan);

/* The AMX layout of a bf16 W [n,k] (the B tiles of cpu_gemm_kernels.h's AMX kernel): groups
 * of CPU_AMX_MR rows (features); in each group, for each step of 32 depths, two tiles (features
 * 0..15 and 16..31 of the group) of 16 rows, one per pair of depths, each row the pair of each
 * of the tile's 16 features (64 bytes); zero past n and past k. Its size in bytes: */
size_t cpu_gemm_amx_layout_bytes(size_t n, size_t k);
/* Writes row r (k bf16 values at src; NULL: a zero row past n) into its places of the layout
 * at dst. Rows are independent: threads may write different rows at once. */
void cpu_gemm_amx_put_row(const uint16_t *src, size_t r, size_t k, uint32_t *dst);

/* The split fp32 depth block for m tokens: the largest multiple of 256 (at least 256, at most
 * plan->kc) whose packed X for a whole token block (m rounded up to panels, at most
 * CPU_GEMM_TB_MAX tokens) fills at most half of L2, so that X stays in L2 while every feature
 * block of the token block reads it. */
size_t cpu_gemm_kc_split(const cpu_gemm_plan *plan, size_t m);

/* One tile of the interleaved layout (cpu_gemm_kernels.h) with isa's kernels, for attention:
 * ct[r][t] = Σ_kk wp[kk·CPU_GEMM_MR + r]·xp[kk·CPU_GEMM_NR + t] for r < CPU_GEMM_MR and
 * t < CPU_GEMM_NR (t < 16 only when live <= 16, the other columns of ct are then undefined). */
void cpu_gemm_micro(const cpu_gemm_isa *isa, const float *wp, const float *xp, size_t kc,
                    size_t live, float *ct);

/* ---- cpu_selfcheck.c */

/* Runs the start-up GEMM self-check on a new ctx (every OpenBLAS sgemm form the plugin uses
 * and, when ctx->gemm.isa is set, the own GEMM) against double-precision loops; under a millisecond.
 * On a mismatch writes a message naming the GEMM, the OpenBLAS core and the element into err
 * and returns VITCL_ERR_DEVICE; VITCL_ERR_OUT_OF_MEMORY when its matrices cannot be allocated. */
vitcl_status cpu_selfcheck(vitcl_context *ctx, char *err, size_t errlen);

/* ---- cpu_buffer.c */

/* Allocates an owned, 64-byte aligned buffer of `bytes` (> 0) for ctx; `op` names the caller
 * in error messages. */
vitcl_status cpu_buffer_new(vitcl_context *ctx, const char *op, size_t bytes, const char *label,
                            vitcl_buffer **out);
vitcl_status cpu_buffer_alloc(vitcl_context *ctx, size_t bytes, const char *label,
                              vitcl_buffer **out);
void cpu_buffer_free(vitcl_context *ctx, vitcl_buffer *buf);
vitcl_status cpu_buffer_write(vitcl_context *ctx, vitcl_buffer *buf, size_t offset,
                              const void *src, size_t bytes);
vitcl_status cpu_buffer_read(vitcl_context *ctx, const vitcl_buffer *buf, size_t offset,
                             void *dst, size_t bytes);
vitcl_status cpu_buffer_copy(vitcl_context *ctx, vitcl_buffer *dst, size_t dst_offset,
                             const vitcl_buffer *src, size_t src_offset, size_t bytes);
vitcl_status cpu_buffer_wrap_host(vitcl_context *ctx, const void *host, size_t bytes,
                                  const char *label, vitcl_buffer **out);

/* ---- cpu_pack_host.c (ABI 1.1) */

/* The op table's pack_weight_host (backend.h): W [n,k] in `dtype` from host memory into a new
 * packed buffer stored in `precision`. Errors: VITCL_ERR_UNSUPPORTED (unknown dtype or
 * precision, or F32 into fp32, which the host aliases in place instead), VITCL_ERR_INVALID_ARGUMENT
 * (NULL, zero or overflowing sizes; a finite value beyond fp16's or bf16's range, naming the
 * weight and the element), VITCL_ERR_OUT_OF_MEMORY; nothing is allocated on error. */
vitcl_status cpu_pack_weight_host(vitcl_context *ctx, const void *w, uint32_t dtype, size_t n,
                                  size_t k, uint32_t precision, const char *label,
                                  vitcl_buffer **out);

/* supports() for VITCL_OP_PACK_WEIGHT_HOST: 1 for F32 into bf16 or fp16 and F16 or BF16 into
 * any precision, when n·k fits; 0 otherwise. */
int cpu_pack_host_supports(size_t n, size_t k, uint32_t dtype, uint32_t precision);

#endif
