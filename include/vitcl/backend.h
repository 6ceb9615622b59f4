/* vitcl/backend.h - the plugin ABI: what a backend plugin exports and implements.
 *
 * A plugin is a shared object that exports one C function, VITCL_PLUGIN_ENTRY_SYMBOL
 * ("vitcl_plugin_entry"), of type vitcl_plugin_entry_fn. It returns a pointer to a static
 * vitcl_backend_desc: the plugin's name and ABI version, its device enumeration, per-device
 * contexts, backend-owned buffers and a table of ops. The loader (loader/) dlopens plugins,
 * checks the descriptor and refuses a plugin whose ABI major differs or whose descriptor lacks
 * a required entry. docs/writing-a-backend.md teaches this contract step by step.
 *
 * Conventions for every op
 * - All activations are fp32. Weights are fp32 too, except a linear weight packed by
 *   pack_weight_host (ABI 1.1) in a reduced precision (vitcl_precision, device.h). Row-major (C order), densely packed unless a leading dimension
 *   ("ld*") or a stride says otherwise.
 * - A tensor argument is a (vitcl_buffer *, offset) pair; the offset is counted in floats from
 *   the start of the buffer. The host guarantees that every element an op reads or writes lies
 *   inside its buffer.
 * - Ops may be asynchronous: they are queued on the context in call order and later ops and
 *   buffer reads observe the results of earlier ones. buffer_read and synchronize block.
 * - Unless an op says "may alias", output regions never overlap input regions.
 * - Sizes are size_t and at least 1 unless stated; the host never calls an op with a zero size.
 * - An op returns VITCL_OK or an error status and then sets the context's last error message
 *   (last_error) naming the op, the device and the cause. An op that fails leaves its output
 *   undefined but the context usable.
 *
 * Versioning
 * - VITCL_ABI_MAJOR changes only when existing fields change meaning or move: the loader refuses
 *   plugins of another major.
 * - VITCL_ABI_MINOR grows when fields or ops are appended to the end of a struct. Every
 *   extensible struct starts with struct_size; the host reads a field only when struct_size covers
 *   it, so a plugin built against an older minor keeps working (the newer entries count as absent).
 *   A plugin reads fields of host-filled structs (vitcl_device_info) only up to the size the host
 *   passed in.
 * - The entry function tells the plugin the host's version. A plugin must not read a field the
 *   host's minor does not have (e.g. vitcl_op_shape's precision from a 1.0 host), and the host
 *   never calls a plugin of minor 0 with anything ABI 1.0 did not have: such a plugin runs
 *   fp32 only, and a model load that asks it for bf16 or fp16 is refused with a message that
 *   names the plugin and its ABI version.
 * - A plugin refuses what it does not know, never ignores it: supports() answers 0, and an op
 *   or pack entry returns VITCL_ERR_UNSUPPORTED with a message, for an unknown flag bit, dtype
 *   or precision. (A plugin that ignored a later minor's flag would silently compute something
 *   else.)
 *
 * ABI history
 * - 1.0: fp32 only.
 * - 1.1: vitcl_precision and VITCL_CAP_BF16 (device.h); vitcl_device_info.precisions and
 *   precision_notes; vitcl_op_shape.struct_size, precision and dtype; vitcl_op_timing.struct_size;
 *   vitcl_dtype; the op VITCL_OP_PACK_WEIGHT_HOST and its entry pack_weight_host, which takes a
 *   linear weight in its stored dtype straight from host memory (the mapped checkpoint) and
 *   stores it in the requested precision. docs/architecture.md tells the versioning story.
 * - 1.2: the linear flag VITCL_LINEAR_RESIDUAL (the residual add in the GEMM's epilogue).
 *
 * Threading
 * - The entry function, init, shutdown, device_count and device_info are called by the loader
 *   from one thread at a time.
 * - A context (vitcl_context) is used by one thread at a time; the host serialises calls on one
 *   context. Different contexts, even on the same device, may be used concurrently from
 *   different threads, so a plugin protects any state shared between contexts.
 *
 * Ownership
 * - The descriptor and the op table are static data of the plugin and live until dlclose.
 * - Buffers belong to the context that allocated them; the host frees every buffer before it
 *   destroys the context. Strings returned by last_error stay valid until the next call on that
 *   context.
 */
#ifndef VITCL_BACKEND_H
#define VITCL_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "vitcl/device.h"
#include "vitcl/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VITCL_ABI_MAJOR 1
#define VITCL_ABI_MINOR 2

/* The one symbol a plugin exports. */
#define VITCL_PLUGIN_ENTRY_SYMBOL "vitcl_plugin_entry"

/* Marks the entry function as exported from the shared object. */
#if defined(_WIN32)
#define VITCL_PLUGIN_EXPORT __declspec(dllexport)
#else
#define VITCL_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

typedef struct vitcl_backend_desc vitcl_backend_desc;

/* The entry point. host_abi_major/minor are the host's ABI version; a plugin may return NULL
 * when it cannot serve that host (the loader then says so). Must not allocate device resources:
 * that is init's job. */
typedef const vitcl_backend_desc *(*vitcl_plugin_entry_fn)(uint32_t host_abi_major,
                                                            uint32_t host_abi_minor);

/* Opaque handles; each plugin defines the structs behind them. */
typedef struct vitcl_context vitcl_context;
typedef struct vitcl_buffer vitcl_buffer;

/* Element types of weights in host memory (ABI 1.1; pack_weight_host). Little-endian. The
 * numeric values are part of the ABI. */
typedef enum vitcl_dtype {
    VITCL_DTYPE_F32 = 0,
    VITCL_DTYPE_F16 = 1,  /* IEEE 754 binary16 */
    VITCL_DTYPE_BF16 = 2, /* the upper 16 bits of a binary32 */
    VITCL_DTYPE_COUNT_ = 3
} vitcl_dtype;

/* Flags of the linear op. */
#define VITCL_LINEAR_GELU (1u << 0)     /* apply GELU (erf form) to the result, after the bias */
#define VITCL_LINEAR_PACKED_W (1u << 1) /* W is a buffer produced by linear_pack_weight */
/* ABI 1.2: Y = Y + r, where r is what linear stores without this flag (bias and GELU
 * included) and Y is read before the op: the residual add of a transformer block fused into
 * the GEMM's epilogue. r is computed and rounded to fp32 first and Y added last, so the sum
 * has the bits of linear followed by add(Y, r). The host sets it only for a plugin of minor
 * >= 2 whose supports() said 1 for these flags; older plugins get linear and add. */
#define VITCL_LINEAR_RESIDUAL (1u << 2)

/* Op identifiers, used by supports(). The numeric values are part of the ABI. */
typedef enum vitcl_op {
    VITCL_OP_LINEAR = 0,
    VITCL_OP_GEMM_BATCHED = 1,
    VITCL_OP_LAYERNORM = 2,
    VITCL_OP_GELU = 3,
    VITCL_OP_ADD = 4,
    VITCL_OP_SOFTMAX = 5,
    VITCL_OP_ATTENTION = 6,
    VITCL_OP_PATCH_EMBED = 7,
    VITCL_OP_LINEAR_PACK_WEIGHT = 8,
    VITCL_OP_PACK_WEIGHT_HOST = 9, /* ABI 1.1 */
    VITCL_OP_COUNT_ = 10
} vitcl_op;

/* Shape parameters passed to supports(); each op documents which fields it reads, the others
 * are zero. ABI 1.0 had no struct_size; 1.1 appends it after flags with the fields below, and a
 * plugin reads them only when the host's minor (given at entry) is >= 1 and struct_size
 * covers them. */
typedef struct vitcl_op_shape {
    size_t m, n, k;     /* linear, gemm_batched; add: n; gelu: n; layernorm/softmax: rows=m, cols=n */
    size_t batch;       /* gemm_batched: batch; attention and patch_embed: B */
    size_t seq, heads, head_dim; /* attention */
    size_t channels, height, width, patch; /* patch_embed; n = D */
    uint32_t flags;     /* linear: VITCL_LINEAR_* */
    uint32_t struct_size; /* 1.1: sizeof(vitcl_op_shape) as the host was built */
    uint32_t precision;   /* 1.1: linear with VITCL_LINEAR_PACKED_W, pack_weight_host: the
                             weight's vitcl_precision (0, fp32, elsewhere) */
    uint32_t dtype;       /* 1.1: pack_weight_host: the vitcl_dtype of the host weight */
} vitcl_op_shape;

/* The op table. Required entries must be non-NULL (the loader refuses the plugin otherwise);
 * optional entries may be NULL, in which case the host composes the op from required ones or
 * uses a plain path. */
typedef struct vitcl_op_table {
    uint32_t struct_size; /* sizeof(vitcl_op_table) as the plugin was built */

    /* REQUIRED. Y[m,n] = X[m,k] · W[n,k]^T + b[n] (b may be NULL: no bias).
     * W is stored [out=n, in=k] as PyTorch stores nn.Linear weights. With VITCL_LINEAR_GELU,
     * Y = gelu(X·W^T + b) with gelu(x) = 0.5·x·(1 + erf(x/sqrt(2))). With VITCL_LINEAR_PACKED_W,
     * W is a buffer returned by linear_pack_weight for the same n and k and w_off is 0.
     * With VITCL_LINEAR_RESIDUAL (1.2), Y += that result (Y is read, then written once).
     * Accumulation in fp32 or better. Y never aliases X or W. */
    vitcl_status (*linear)(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                           const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b,
                           size_t b_off, vitcl_buffer *Y, size_t y_off, size_t m, size_t n,
                           size_t k, uint32_t flags);

    /* REQUIRED. For p in [0, batch): C_p = alpha · op(A_p) · op(B_p) + beta · C_p, where
     * A_p starts at a_off + p·stride_a, op(A_p) is [m,k], and op(X) = X^T when trans_X != 0.
     * Row-major with leading dimensions: element (i,j) of a non-transposed A_p is
     * A[a_off + p·stride_a + i·lda + j]; of a transposed one (stored [k,m]) A[... + j·lda + i].
     * Same for B ([k,n], or stored [n,k] when trans_b) and C ([m,n], ldc). When beta == 0, C is
     * not read (NaN in C does not propagate). Used for attention scores (Q·K^T) and context
     * (P·V) per head. C never aliases A or B. */
    vitcl_status (*gemm_batched)(vitcl_context *ctx, int trans_a, int trans_b, size_t m, size_t n,
                                 size_t k, float alpha, const vitcl_buffer *A, size_t a_off,
                                 size_t lda, size_t stride_a, const vitcl_buffer *B, size_t b_off,
                                 size_t ldb, size_t stride_b, float beta, vitcl_buffer *C,
                                 size_t c_off, size_t ldc, size_t stride_c, size_t batch);

    /* REQUIRED. For each of `rows` rows of `cols` values:
     * Y = (X - mean) / sqrt(var + eps) · gamma + beta, mean and biased var over the row
     * (PyTorch nn.LayerNorm). Y may alias X exactly (in place). */
    vitcl_status (*layernorm)(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                              const vitcl_buffer *gamma, size_t g_off, const vitcl_buffer *beta,
                              size_t b_off, vitcl_buffer *Y, size_t y_off, size_t rows,
                              size_t cols, float eps);

    /* REQUIRED. Y[i] = 0.5·X[i]·(1 + erf(X[i]/sqrt(2))) for i in [0,n). Y may alias X exactly. */
    vitcl_status (*gelu)(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off, vitcl_buffer *Y,
                         size_t y_off, size_t n);

    /* REQUIRED. Y[i] = A[i] + B[i mod b_period] for i in [0,n); b_period divides n (b_period == n
     * is the plain residual add; b_period < n broadcasts B, e.g. position embeddings over a
     * batch). Y may alias A exactly (not B unless b_period == n). */
    vitcl_status (*add)(vitcl_context *ctx, const vitcl_buffer *A, size_t a_off,
                        const vitcl_buffer *B, size_t b_off, vitcl_buffer *Y, size_t y_off,
                        size_t n, size_t b_period);

    /* REQUIRED. For each of `rows` rows of `cols` values: Y[j] = exp(s·X[j] - max_i s·X[i]) /
     * sum_i exp(s·X[i] - max_i s·X[i]) with s = scale. Must subtract the row maximum: inputs can
     * be large (|X| up to 1e4). Y may alias X exactly. */
    vitcl_status (*softmax)(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                            vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols, float scale);

    /* OPTIONAL. Multi-head self-attention without mask, all heads and images in one call:
     * for image b, head h, query i, dimension j:
     *   q(b,i,h,j) = Q[q_off + (b·seq + i)·ldq + h·head_dim + j], likewise k and v with ldk, ldv;
     *   P(b,h,i,:) = softmax_t(scale · Σ_j q(b,i,h,j)·k(b,t,h,j))
     *   O[o_off + (b·seq + i)·ldo + h·head_dim + j] = Σ_t P(b,h,i,t) · v(b,t,h,j).
     * This lets the host pass one fused [B·seq, 3·D] QKV buffer (ld = 3·D) or three separate ones.
     * O never aliases Q, K or V. When NULL the host composes it from gemm_batched and softmax. */
    vitcl_status (*attention)(vitcl_context *ctx, const vitcl_buffer *Q, size_t q_off, size_t ldq,
                              const vitcl_buffer *K, size_t k_off, size_t ldk,
                              const vitcl_buffer *V, size_t v_off, size_t ldv, vitcl_buffer *O,
                              size_t o_off, size_t ldo, size_t batch, size_t seq, size_t heads,
                              size_t head_dim, float scale);

    /* REQUIRED. Patch embedding, a convolution with kernel = stride = patch, no padding:
     * pixels [batch, channels, height, width], W [dim, channels, patch, patch], bias [dim];
     * gh = height / patch, gw = width / patch (remainder rows and columns are ignored); output
     * token n = r·gw + c of image b, feature d, is written to
     *   Y[y_off + b·y_batch_stride + n·dim + d] = bias[d] + Σ_{ch,i,j} W[d,ch,i,j] ·
     *                                             pixels[b, ch, r·patch + i, c·patch + j].
     * y_batch_stride >= gh·gw·dim lets the host leave room for the CLS row. */
    vitcl_status (*patch_embed)(vitcl_context *ctx, const vitcl_buffer *pixels, size_t p_off,
                                const vitcl_buffer *W, size_t w_off, const vitcl_buffer *bias,
                                size_t bias_off, vitcl_buffer *Y, size_t y_off,
                                size_t y_batch_stride, size_t batch, size_t channels,
                                size_t height, size_t width, size_t patch, size_t dim);

    /* OPTIONAL. Builds, once at model load, a buffer holding W [n,k] (at w_off of W) in whatever
     * layout this backend's linear prefers; the host then passes it to linear with
     * VITCL_LINEAR_PACKED_W for the same n and k. The result is owned by the caller and freed
     * with buffer_free. When NULL the host passes W as stored. */
    vitcl_status (*linear_pack_weight)(vitcl_context *ctx, const vitcl_buffer *W, size_t w_off,
                                       size_t n, size_t k, const char *label,
                                       vitcl_buffer **out);

    /* OPTIONAL. Returns 1 when this context can run `op` at the given shape, 0 when not (the
     * host then uses another path or reports the shape as unsupported). When NULL every
     * non-NULL op is taken to support every shape. Must not fail or block. */
    int (*supports)(vitcl_context *ctx, vitcl_op op, const vitcl_op_shape *shape);

    /* ---- ABI 1.1 ---- */

    /* OPTIONAL (1.1). Builds the weight of a linear layer straight from host memory: `w` holds
     * W [n,k] row-major as n·k elements of `dtype` (vitcl_dtype), aligned to the element size,
     * typically inside the memory-mapped checkpoint; it is valid only during the call (the
     * plugin copies what it needs and never keeps the pointer). The result is stored in
     * `precision` (vitcl_precision): FP32 keeps the values exactly (widening F16/BF16 is exact);
     * BF16 and FP16 round every element to nearest even, and linear may then round X to the
     * same format, accumulating in fp32. The host passes the result to linear with
     * VITCL_LINEAR_PACKED_W (w_off 0, same n and k, flags as asked of supports with this
     * precision); it is owned by the caller and freed with buffer_free. The host calls this only
     * after supports(VITCL_OP_PACK_WEIGHT_HOST, {n, k, precision, dtype}) said 1; when the entry
     * is NULL or says 0, an fp32 model widens the weight on the host and uses the 1.0 path, and
     * a bf16 or fp16 model is refused. An unknown dtype or precision: VITCL_ERR_UNSUPPORTED. */
    vitcl_status (*pack_weight_host)(vitcl_context *ctx, const void *w, uint32_t dtype, size_t n,
                                     size_t k, uint32_t precision, const char *label,
                                     vitcl_buffer **out);
} vitcl_op_table;

/* The descriptor a plugin's entry function returns. */
struct vitcl_backend_desc {
    uint32_t struct_size; /* sizeof(vitcl_backend_desc) as the plugin was built */
    uint32_t abi_major;   /* VITCL_ABI_MAJOR the plugin was built against */
    uint32_t abi_minor;   /* VITCL_ABI_MINOR the plugin was built against */
    const char *name;     /* short unique backend name: "ref", "opencl", "cpu"; [a-z0-9_-] */
    const char *version;  /* the plugin's own version string */
    const char *description; /* one line for `vitcl devices` */
    /* Rank among CPU devices for "auto" selection (GPUs and accelerators always rank first):
     * higher wins. In-tree: opencl 30, cpu 20, ref 10. Third-party plugins pick their own. */
    int32_t auto_rank;

    /* REQUIRED. Called once after dlopen. Finds devices and prepares plugin-wide state
     * (*state, passed back to every plugin-level call). On failure writes a message into err
     * (errlen bytes, NUL-terminated) and returns non-OK: the loader refuses the plugin with that
     * message. A plugin with zero devices succeeds and reports device_count 0. */
    vitcl_status (*init)(void **state, char *err, size_t errlen);
    /* REQUIRED. Releases what init made. Called once, after every context is destroyed. */
    void (*shutdown)(void *state);
    /* REQUIRED. Number of devices, >= 0. */
    int (*device_count)(void *state);
    /* REQUIRED. Fills info (whose struct_size the host set) for device index in
     * [0, device_count). */
    vitcl_status (*device_info)(void *state, int index, vitcl_device_info *info);

    /* REQUIRED. Creates a context on a device: the queue, caches and scratch space ops need.
     * On failure writes err as init does and returns non-OK; *out is untouched. */
    vitcl_status (*context_create)(void *state, int device_index, vitcl_context **out, char *err,
                                   size_t errlen);
    /* REQUIRED. Waits for queued work and frees the context. NULL is a no-op. */
    void (*context_destroy)(vitcl_context *ctx);
    /* REQUIRED. The message of the last failed call on ctx ("" when none); never NULL. */
    const char *(*last_error)(vitcl_context *ctx);
    /* REQUIRED. Blocks until every op queued on ctx has finished; reports a deferred failure. */
    vitcl_status (*synchronize)(vitcl_context *ctx);

    /* REQUIRED. Allocates `bytes` (> 0) of device memory, contents undefined. `label` names the
     * buffer in error messages ("encoder.layer.3.mlp.fc1.weight"); an allocation failure says the
     * label, the size and the device. */
    vitcl_status (*buffer_alloc)(vitcl_context *ctx, size_t bytes, const char *label,
                                 vitcl_buffer **out);
    /* REQUIRED. Frees a buffer after queued work that uses it. NULL is a no-op. */
    void (*buffer_free)(vitcl_context *ctx, vitcl_buffer *buf);
    /* REQUIRED. Copies bytes from host memory into buf at byte offset `offset`; src may be
     * reused when the call returns. */
    vitcl_status (*buffer_write)(vitcl_context *ctx, vitcl_buffer *buf, size_t offset,
                                 const void *src, size_t bytes);
    /* REQUIRED. Copies bytes from buf at byte offset `offset` to host memory, after all queued
     * work; blocks. */
    vitcl_status (*buffer_read)(vitcl_context *ctx, const vitcl_buffer *buf, size_t offset,
                                void *dst, size_t bytes);
    /* REQUIRED. Device-side copy of bytes between (possibly the same, non-overlapping) buffers. */
    vitcl_status (*buffer_copy)(vitcl_context *ctx, vitcl_buffer *dst, size_t dst_offset,
                                const vitcl_buffer *src, size_t src_offset, size_t bytes);
    /* OPTIONAL. Makes a read-only device buffer of `bytes` at host address `host`, which the
     * caller keeps valid and unchanged until buffer_free (e.g. a memory-mapped weight file).
     * Where the device shares host memory the plugin may alias it (zero copy); otherwise it
     * copies. When NULL the host uses buffer_alloc + buffer_write. */
    vitcl_status (*buffer_wrap_host)(vitcl_context *ctx, const void *host, size_t bytes,
                                     const char *label, vitcl_buffer **out);

    /* REQUIRED. The ops. */
    const vitcl_op_table *ops;

    /* OPTIONAL. Turns per-op timing on (enable = 1) or off for ops queued afterwards. */
    vitcl_status (*profiling)(vitcl_context *ctx, int enable);
    /* OPTIONAL. After synchronize, moves up to `max` recorded timings (oldest first) into out and
     * returns how many it moved; records beyond what the plugin keeps are dropped. A host of
     * minor >= 1 sets out[i].struct_size in every element; a plugin of minor >= 1 steps through
     * out by out[0].struct_size and writes only the fields both sides have. A plugin of minor 0
     * is given an array of 1.0-sized elements (op, start_ns, end_ns) by the host. */
    size_t (*profile_drain)(vitcl_context *ctx, vitcl_op_timing *out, size_t max);
};

/* True when a struct that starts with struct_size (built by an older or newer plugin) holds
 * `field` and the field is set: the host's way to read optional and later-added entries. */
#define VITCL_HAS_FIELD(ptr, type, field)                                                   \
    ((ptr) != NULL && (ptr)->struct_size >= offsetof(type, field) + sizeof((ptr)->field) && \
     (ptr)->field)

#ifdef __cplusplus
}
#endif
#endif
