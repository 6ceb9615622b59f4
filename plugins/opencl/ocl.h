/* plugins/opencl/ocl.h - types and internal functions shared by the OpenCL plugin's files.
 *
 * Layout of the plugin (one job per file):
 *   plugin.c        the descriptor, entry point, init/shutdown and device queries
 *   devices.c       enumeration of every platform and device the ICD loader offers
 *   context.c       contexts: queue, programs, kernels, last_error, synchronize
 *   buffers.c       buffer alloc/free/read/write/copy and buffer_wrap_host
 *   profiling.c     per-op event timestamps (profiling / profile_drain)
 *   launch.c        kernel argument setting and enqueueing shared by the ops
 *   errors.c        names of OpenCL and CLBlast status codes, the context error message
 *   hash.c          SHA-256 (OpenSSL libcrypto) and hex keys
 *   disk_cache.c    the on-disk cache directory: entries with header + checksum, markers
 *   programs.c      kernel sources (embedded or VITCL_CL_KERNEL_DIR) and cached program builds
 *   gemm.c          linear (dispatch) and gemm_batched through CLBlast; VITCL_CL_CLBLAST
 *   gemm_general.c  linear on an unpacked W and gemm_batched without CLBlast (gemm_general.cl)
 *   gemm_packed.c   linear_pack_weight and linear on packed weights (clkernels/gemm.cl)
 *   gemm_tune.c     per-device choice between CLBlast and gemm.cl tiles, cached on disk
 *   weight_pack.c   pack_weight_host: linear weights from host memory in fp32, bf16 or fp16
 *   elementwise.c   gelu and add
 *   rowwise.c       layernorm and softmax
 *   attention.c     fused attention
 *   patch_embed.c   patch embedding
 *   selfcheck.c     the first-use correctness check of a device
 *   fault_inject.c  VITCL_FAULT_INJECT counters (build, cl_alloc, cl_enqueue) for hardening tests
 * Nothing here is exported from the shared module except vitcl_plugin_entry.
 */
#ifndef VITCL_OCL_H
#define VITCL_OCL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>

#include "fault_inject.h"
#include "plugin_size.h"
#include "vitcl/backend.h"

#if defined(__GNUC__)
#define OCL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define OCL_PRINTF(a, b)
#endif

#define OCL_ERR_MAX 4096
#define OCL_LABEL_MAX 128
#define OCL_PATH_MAX 4096

/* One OpenCL device as found at init; read-only after init, shared by all contexts. */
typedef struct ocl_device {
    cl_platform_id platform;
    cl_device_id id;
    vitcl_device_info info;       /* complete, struct_size = sizeof(vitcl_device_info) */
    char device_version[128];     /* CL_DEVICE_VERSION */
    char platform_name[128];      /* CL_PLATFORM_NAME */
    char platform_version[128];   /* CL_PLATFORM_VERSION */
    int unified;                  /* host-unified memory (or a CPU device) */
    int profiling_ok;             /* CL_QUEUE_PROFILING_ENABLE is supported */
    int fp16;                     /* cl_khr_fp16 */
    /* The extension that gives the subgroup built-ins (get_sub_group_*, sub_group_reduce_*):
     * "cl_intel_subgroups" (any OpenCL C version) or "cl_khr_subgroups" (OpenCL C 2.0 or
     * later, built with sg_options' -cl-std), NULL when the device reports neither. */
    const char *subgroups;
    char sg_options[16];
    size_t max_wg;                /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    size_t max_items[3];          /* CL_DEVICE_MAX_WORK_ITEM_SIZES (per dimension) */
    cl_ulong local_mem;           /* CL_DEVICE_LOCAL_MEM_SIZE */
} ocl_device;

/* Bit of ocl_state.refused set when a self-check found CLBlast unusable on the device. */
#define OCL_REFUSED_CLBLAST (1u << 31)

/* Plugin-wide state made by init. */
typedef struct ocl_state {
    ocl_device *devices;
    /* Per device: VITCL_PRECISION_BIT set of precisions a context's self-check refused; device_info
     * leaves them out of `precisions` from then on (atomic: contexts run on any thread). Bit
     * OCL_REFUSED_CLBLAST: a context's self-check found CLBlast unusable (device_info's extra
     * says so). */
    _Atomic uint32_t *refused;
    int count;
} ocl_state;

/* Programs, one per kernel family (clkernels/<name>.cl plus shared headers). */
typedef enum ocl_program_id {
    OCL_P_LAYERNORM,
    OCL_P_SOFTMAX,
    OCL_P_BIAS_GELU,
    OCL_P_ADD,
    OCL_P_ATTENTION,
    OCL_P_PATCH_EMBED,
    OCL_P_GEMM_PACK,
    OCL_P_GEMM_MB6,
    OCL_P_GEMM_MB8,
    OCL_P_GEMM_MB12,
    OCL_P_GEMM_T64,   /* gemm_tiled.cl, 8 x 8 work-group */
    OCL_P_GEMM_T256,  /* gemm_tiled.cl, 16 x 16 work-group */
    /* The same five with bf16 weights (-DVITCL_WEIGHT_BF16), then with fp16 weights. */
    OCL_P_GEMM_BF16_MB6, OCL_P_GEMM_BF16_MB8, OCL_P_GEMM_BF16_MB12, OCL_P_GEMM_BF16_T64,
    OCL_P_GEMM_BF16_T256,
    OCL_P_GEMM_F16_MB6, OCL_P_GEMM_F16_MB8, OCL_P_GEMM_F16_MB12, OCL_P_GEMM_F16_T64,
    OCL_P_GEMM_F16_T256,
    OCL_P_ATT_T64,    /* attention_tiled.cl for head_dim 64 */
    OCL_P_ATT_T128,   /* attention_tiled.cl for any head_dim <= 128 */
    OCL_P_GEMM_GEN,   /* gemm_general.cl: linear / gemm_batched where CLBlast is unusable */
    OCL_P_COUNT
} ocl_program_id;

typedef enum ocl_kernel_id {
    OCL_K_LAYERNORM,
    OCL_K_SOFTMAX,
    OCL_K_BIAS_ACT,
    OCL_K_GELU,
    OCL_K_ADD,
    OCL_K_ATTENTION,
    OCL_K_PATCH_EMBED,
    OCL_K_PATCH_UNFOLD,
    OCL_K_ATT_KT,
    OCL_K_ATT64,
    OCL_K_PACK_W,
    OCL_K_GEMM_MB6,
    OCL_K_GEMM_MB8,
    OCL_K_GEMM_MB12,
    OCL_K_GEMM_T64,
    OCL_K_GEMM_T256,
    OCL_K_GEMM_BF16_MB6, OCL_K_GEMM_BF16_MB8, OCL_K_GEMM_BF16_MB12, OCL_K_GEMM_BF16_T64,
    OCL_K_GEMM_BF16_T256,
    OCL_K_GEMM_F16_MB6, OCL_K_GEMM_F16_MB8, OCL_K_GEMM_F16_MB12, OCL_K_GEMM_F16_T64,
    OCL_K_GEMM_F16_T256,
    OCL_K_ATT_T64,
    OCL_K_ATT_T128,
    OCL_K_GEMM_GEN,
    OCL_K_COUNT
} ocl_kernel_id;

/* Storage format of a packed linear weight; the values are those of vitcl_precision (device.h). */
typedef enum ocl_wfmt {
    OCL_W_F32 = 0,
    OCL_W_BF16 = 1, /* 16 bits, widened in-kernel by a shift */
    OCL_W_F16 = 2,  /* IEEE binary16, read with vload_half */
    OCL_W_COUNT = 3
} ocl_wfmt;

/* The GEMM kernels on panel-packed weights: gemm_packed at three tile heights (CPU-shaped, one
 * work-item per work-group) and gemm_tiled with 64 and 256 work-items per group (GPU-shaped),
 * in this order (gemm_tune.c's candidate names follow it), once per weight format (fp32, bf16,
 * fp16, the order of ocl_wfmt). */
#define OCL_GEMM_VARIANTS 5
#define ocl_gemm_kernel(fmt, v) \
    ((ocl_kernel_id)(OCL_K_GEMM_MB6 + (int)(fmt) * OCL_GEMM_VARIANTS + (int)(v)))
#define ocl_kernel_is_gemm(k) \
    ((int)(k) >= OCL_K_GEMM_MB6 && (int)(k) < OCL_K_GEMM_MB6 + OCL_W_COUNT * OCL_GEMM_VARIANTS)
/* The variant (0..4: mb6, mb8, mb12, t64, t256) and the weight format of a GEMM kernel. */
#define ocl_gemm_variant(k) (((int)(k) - OCL_K_GEMM_MB6) % OCL_GEMM_VARIANTS)
#define ocl_gemm_format(k) ((ocl_wfmt)(((int)(k) - OCL_K_GEMM_MB6) / OCL_GEMM_VARIANTS))
/* Kernels that must run with exactly their compiled work-group size (reqd_work_group_size). */
#define ocl_kernel_is_tiled(k) ((ocl_kernel_is_gemm(k) && ocl_gemm_variant(k) >= 3) || \
                                (k) == OCL_K_ATT_T64 || (k) == OCL_K_ATT_T128)
/* Columns per packed panel (GEMM_PANEL in gemm.cl). */
#define OCL_GEMM_PANEL 32

/* How linear runs on a context, decided by gemm_tune.c. */
typedef enum ocl_gemm_mode {
    OCL_GEMM_UNDECIDED = 0, /* not tuned yet */
    OCL_GEMM_CLBLAST,       /* packed weights keep the [n,k] layout; CLBlast + bias_act */
    OCL_GEMM_PANELS         /* packed weights in 32-column panels; gemm_packed kernel */
} ocl_gemm_mode;

/* VITCL_CL_CLBLAST: on (unset), broken (the first element of every CLBlast result is overwritten
 * with NaN after the call) or off (CLBlast is never called; the self-check finds it unusable). */
typedef enum ocl_clblast_mode {
    OCL_CLBLAST_ON = 0,
    OCL_CLBLAST_BROKEN,
    OCL_CLBLAST_OFF
} ocl_clblast_mode;

/* Layout of a buffer made by linear_pack_weight. */
typedef enum ocl_pack_layout {
    OCL_PACK_NONE = 0,  /* an ordinary buffer */
    OCL_PACK_PLAIN,     /* a copy of W [n,k] as stored (CLBlast mode) */
    OCL_PACK_PANELS     /* 32-column k-major panels (gemm.cl) */
} ocl_pack_layout;

/* Largest head_dim the attention kernel takes (private arrays of this many floats). */
#define OCL_MAX_HEAD_DIM 128
/* The linear flags this plugin knows (ABI 1.2); supports() and linear refuse any other bit. */
#define OCL_LINEAR_FLAGS (VITCL_LINEAR_GELU | VITCL_LINEAR_PACKED_W | VITCL_LINEAR_RESIDUAL)

/* Scratch buffers a context keeps between ops (ocl_scratch). */
typedef enum ocl_scratch_id {
    OCL_SCRATCH_KT,     /* attention: K transposed per head */
    OCL_SCRATCH_PATCH,  /* patch_embed: unfolded patches */
    OCL_SCRATCH_PATCH_W, /* patch_embed: panel-packed weight */
    OCL_SCRATCH_COUNT
} ocl_scratch_id;

/* Counters a test reads through VITCL_CL_STATS_FILE (see context.c). */
typedef struct ocl_stats {
    unsigned builds;       /* programs compiled from source */
    unsigned cache_hits;   /* programs loaded from a valid disk cache entry */
    unsigned cache_rejected; /* entries found but corrupt, truncated, foreign or refused */
    const char *selfcheck; /* "ran", "cached" */
} ocl_stats;

typedef struct ocl_timing_rec {
    const char *op;
    cl_event first, last; /* last may equal first (one reference each) */
} ocl_timing_rec;

#define OCL_MAX_TIMINGS 65536

struct vitcl_context {
    const ocl_device *dev;
    cl_context cl;
    cl_command_queue queue;
    int queue_profiling; /* the queue was created with CL_QUEUE_PROFILING_ENABLE */
    cl_program programs[OCL_P_COUNT];
    cl_kernel kernels[OCL_K_COUNT];
    size_t row_wg; /* work-group size of the row-wise kernels (power of two) */
    /* The device's CL_DEVICE_MAX_WORK_GROUP_SIZE and CL_DEVICE_LOCAL_MEM_SIZE, lowered by
     * VITCL_CL_LIMIT_GROUP / VITCL_CL_LIMIT_LOCAL (tests only: a small device simulated on any
     * device); limits_note is "" or says which variable lowered them (for messages). */
    size_t max_wg;
    cl_ulong local_mem;
    const char *limits_note;
    /* Fixed work-group size per kernel (power of two). A fixed size matters on PoCL, which
     * compiles a kernel once per distinct local size. */
    size_t group[OCL_K_COUNT];

    /* VITCL_CL_CLBLAST (gemm.c, tests only): CLBlast called normally, its results corrupted
     * after each call, or never called. */
    ocl_clblast_mode clblast_mode;
    /* The self-check's verdict on CLBlast (selfcheck.c): when set, linear on an unpacked W and
     * gemm_batched run gemm_general (gemm_general.c), CLBlast is no GEMM tuning candidate, and
     * clblast_note says why ("clblast unusable: ..."). */
    int clblast_unusable;
    char clblast_note[640];
    /* Set by a CLBlast routine that returned an error status of its own (not an injected
     * fault): the self-check tells a broken CLBlast from a failing device this way. */
    int clblast_failed;
    cl_mem gemm_temp; /* CLBlast's temporary buffer, grown on demand */
    size_t gemm_temp_bytes;
    cl_mem resid_temp; /* CLBlast's product before a residual add into Y, grown on demand */
    size_t resid_temp_bytes;
    cl_mem scratch[OCL_SCRATCH_COUNT]; /* per-use scratch buffers, grown on demand */
    size_t scratch_bytes[OCL_SCRATCH_COUNT];
    ocl_gemm_mode gemm_mode; /* decided at the first linear_pack_weight (gemm_tune.c) */
    ocl_kernel_id gemm_kernel; /* the gemm_packed variant used in OCL_GEMM_PANELS mode */
    /* The GEMM kernel of 16-bit weights (index OCL_W_BF16, OCL_W_F16; decided at the first
     * pack_weight_host in that format, gemm_tune.c; 0 = undecided) and how it was decided. */
    ocl_kernel_id wkernel[OCL_W_COUNT];
    const char *wtuning[OCL_W_COUNT];
    /* VITCL_PRECISION_BIT set of the reduced precisions the self-check refused on this context
     * (their 16-bit GEMM kernels computed wrongly), with the reason for each. */
    uint32_t prec_refused;
    char prec_note[OCL_W_COUNT][512];
    _Atomic uint32_t *dev_refused; /* the device's entry of ocl_state.refused */
    int att_tiled;             /* attention runs attention_tiled.cl (see attention.c) */
    /* attention_tiled.cl is built with AT_SUBGROUPS (its softmax rows reduced by subgroups):
     * VITCL_CL_SUBGROUPS=auto (where the device reports them and the build works), on (must),
     * off (never); programs.c. sg_note says why not when 0 (the stats line's subgroups=). */
    int att_sg;
    char sg_note[200];
    /* Why a kernel cannot run on this device ("" when it can): its work-group size exceeds
     * CL_DEVICE_MAX_WORK_ITEM_SIZES or CL_KERNEL_WORK_GROUP_SIZE, or CL_KERNEL_LOCAL_MEM_SIZE
     * exceeds CL_DEVICE_LOCAL_MEM_SIZE (programs.c). Such kernels are never chosen. */
    char unfit[OCL_K_COUNT][160];
    const char *gemm_tuning;   /* "ran", "cached", "not run" (stats line) */

    int profiling;
    ocl_timing_rec *timings;
    size_t n_timings, cap_timings;
    cl_event prof_first, prof_last, prof_tmp; /* the op being recorded */

    char cache_dir[OCL_PATH_MAX];
    int cache_usable;
    ocl_stats stats;
    ocl_fault fault; /* VITCL_FAULT_INJECT counters, read at context_create */
    char err[OCL_ERR_MAX];
};

struct vitcl_buffer {
    cl_mem mem;
    size_t bytes;
    int zero_copy;
    ocl_pack_layout pack;  /* set by linear_pack_weight / pack_weight_host */
    ocl_wfmt pack_fmt;     /* element format of a packed weight (OCL_W_F32 unless 16-bit) */
    size_t pack_n, pack_k; /* the W shape a packed buffer was made for */
    char label[OCL_LABEL_MAX];
};

/* ---- errors.c */
/* Static name of an OpenCL status ("CL_OUT_OF_RESOURCES"); never NULL. */
const char *ocl_cl_error_name(cl_int err);
/* Static name of a CLBlast status; never NULL. */
const char *ocl_clblast_error_name(int status);
/* Formats ctx->err and returns status. When the call that failed was an injected fault
 * (fault_inject.h), appends " [injected fault KIND:N (VITCL_FAULT_INJECT)]" and clears the note. */
vitcl_status ocl_fail(vitcl_context *ctx, vitcl_status status, const char *fmt, ...)
    OCL_PRINTF(3, 4);
/* Fails with VITCL_ERR_DEVICE naming the op, the OpenCL call and status and the device. */
vitcl_status ocl_fail_cl(vitcl_context *ctx, const char *op, const char *call, cl_int err);
/* Copies a string into a fixed buffer, truncating; dst is always NUL-terminated. */
void ocl_copy_str(char *dst, size_t dstlen, const char *src);

/* ---- devices.c */
/* Finds every device of every platform. Zero platforms is success with zero devices. On
 * failure writes err and returns non-OK; on success *out_devices is malloc'd (NULL if none). */
vitcl_status ocl_enumerate(ocl_device **out_devices, int *out_count, char *err, size_t errlen);

/* ---- context.c */
vitcl_status ocl_context_create(void *state, int device_index, vitcl_context **out, char *err,
                                size_t errlen);
void ocl_context_destroy(vitcl_context *ctx);
const char *ocl_last_error(vitcl_context *ctx);
vitcl_status ocl_synchronize(vitcl_context *ctx);

/* ---- buffers.c */
vitcl_status ocl_buffer_alloc(vitcl_context *ctx, size_t bytes, const char *label,
                              vitcl_buffer **out);
/* ocl_buffer_alloc for a buffer an op makes itself: errors name `op` instead of buffer_alloc. */
vitcl_status ocl_buffer_alloc_for(vitcl_context *ctx, const char *op, size_t bytes,
                                  const char *label, vitcl_buffer **out);
void ocl_buffer_free(vitcl_context *ctx, vitcl_buffer *buf);
vitcl_status ocl_buffer_write(vitcl_context *ctx, vitcl_buffer *buf, size_t offset,
                              const void *src, size_t bytes);
vitcl_status ocl_buffer_read(vitcl_context *ctx, const vitcl_buffer *buf, size_t offset,
                             void *dst, size_t bytes);
vitcl_status ocl_buffer_copy(vitcl_context *ctx, vitcl_buffer *dst, size_t dst_offset,
                             const vitcl_buffer *src, size_t src_offset, size_t bytes);
vitcl_status ocl_buffer_wrap_host(vitcl_context *ctx, const void *host, size_t bytes,
                                  const char *label, vitcl_buffer **out);
/* Returns in *mem a context-owned buffer of at least `bytes` for scratch slot `id` (grown on
 * demand, kept until context_destroy); fails naming `op` and `label`. */
vitcl_status ocl_scratch(vitcl_context *ctx, ocl_scratch_id id, size_t bytes, const char *op,
                         const char *label, cl_mem *mem);
/* Releases every scratch buffer (context teardown). */
void ocl_scratch_release(vitcl_context *ctx);
/* Checks that floats [off, off + count) lie inside buf (overflow-safe); fails naming op. */
vitcl_status ocl_check_range(vitcl_context *ctx, const char *op, const char *what,
                             const vitcl_buffer *buf, size_t off, size_t count);

/* ---- profiling.c */
vitcl_status ocl_profiling(vitcl_context *ctx, int enable);
size_t ocl_profile_drain(vitcl_context *ctx, vitcl_op_timing *out, size_t max);
/* Where the next enqueue of the current op stores its event: NULL when profiling is off. */
cl_event *ocl_prof_event(vitcl_context *ctx);
/* After each enqueue that used ocl_prof_event: keeps the op's first and last events. */
void ocl_prof_step(vitcl_context *ctx);
/* Ends the current op: records (op, first, last) or drops them when the record is full. */
void ocl_prof_end(vitcl_context *ctx, const char *op);
/* Releases every recorded and pending event (context teardown). */
void ocl_prof_clear(vitcl_context *ctx);

/* ---- launch.c */
typedef struct ocl_args {
    cl_kernel kernel;
    cl_uint next;
    cl_int err;
} ocl_args;
void ocl_args_begin(ocl_args *a, cl_kernel kernel);
/* Sets the next argument (remembers the first failure). */
void ocl_arg(ocl_args *a, size_t size, const void *value);
#define OCL_ARG(a, v) ocl_arg((a), sizeof(v), &(v))
/* Enqueues kernel over `dims` dimensions (global already padded; local may be NULL), records
 * the event when profiling; fails naming op and device. Checks the arguments' status first. */
vitcl_status ocl_launch(vitcl_context *ctx, const char *op, const ocl_args *a, cl_uint dims,
                        const size_t *global, const size_t *local);
/* Enqueues a 1-D kernel over n items with the kernel's fixed group size (ctx->group). */
vitcl_status ocl_launch_1d(vitcl_context *ctx, const char *op, const ocl_args *a,
                           ocl_kernel_id kernel, size_t n);
/* Rounds n up to a multiple of m (m > 0); returns 0 on overflow. */
size_t ocl_round_up(size_t n, size_t m);
/* Overflow-checked sizes: plugin_size_mul and friends (plugins/common/plugin_size.h). */

/* ---- hash.c */
#define OCL_HASH_LEN 32
typedef struct ocl_hasher ocl_hasher;
/* Starts a SHA-256; returns NULL on out of memory. */
ocl_hasher *ocl_hash_begin(void);
/* Adds a length-prefixed field (so field boundaries are part of the hash). */
void ocl_hash_field(ocl_hasher *h, const void *data, size_t len);
void ocl_hash_str(ocl_hasher *h, const char *s);
/* Finishes into out and frees h; returns 0 on success. */
int ocl_hash_end(ocl_hasher *h, unsigned char out[OCL_HASH_LEN]);
/* One-shot SHA-256 of a byte range; returns 0 on success. */
int ocl_sha256(const void *data, size_t len, unsigned char out[OCL_HASH_LEN]);
/* Writes 64 hex digits and a NUL into hex. */
void ocl_hex(const unsigned char key[OCL_HASH_LEN], char hex[2 * OCL_HASH_LEN + 1]);

/* ---- disk_cache.c */
/* Resolves and creates the cache directory (VITCL_CACHE_DIR, $XDG_CACHE_HOME/vitcl,
 * ~/.cache/vitcl). Returns 1 when usable (dir filled), 0 when caching is off. Never fails. */
int ocl_cache_dir(char *dir, size_t dirlen);
/* Reads entry <dir>/<kind>-<hex key>.bin. Returns 1 with *data (malloc'd) and *len for a
 * valid entry, 0 when absent, -1 when present but invalid (the file is removed). */
int ocl_cache_read(const char *dir, const char *kind, const unsigned char key[OCL_HASH_LEN],
                   unsigned char **data, size_t *len);
/* Writes an entry atomically (temp file + rename); failures are ignored (returns 0/-1). */
int ocl_cache_write(const char *dir, const char *kind, const unsigned char key[OCL_HASH_LEN],
                    const void *data, size_t len);
/* Removes an entry (after a valid-looking binary was refused by the driver). */
void ocl_cache_remove(const char *dir, const char *kind, const unsigned char key[OCL_HASH_LEN]);

/* ---- programs.c */
/* Work-group size (dimension 0, dimension 1) kernel k is launched with on ctx. */
void ocl_kernel_group(const vitcl_context *ctx, ocl_kernel_id k, size_t local[2]);
/* Hashes the identity of a device (name, versions, driver, platform) into h. */
void ocl_hash_device(ocl_hasher *h, const ocl_device *dev);
/* Hashes every kernel source and the build options into h (for the self-check marker). On
 * failure to read a source returns non-OK with ctx->err set. */
vitcl_status ocl_hash_all_sources(vitcl_context *ctx, ocl_hasher *h);
/* Builds (or loads from the disk cache) every program and creates every kernel of ctx. */
vitcl_status ocl_programs_build(vitcl_context *ctx);
/* Releases the kernels and programs of ctx. */
void ocl_programs_release(vitcl_context *ctx);

/* ---- ops */
vitcl_status ocl_linear(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                        const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b, size_t b_off,
                        vitcl_buffer *Y, size_t y_off, size_t m, size_t n, size_t k,
                        uint32_t flags);
vitcl_status ocl_gemm_batched(vitcl_context *ctx, int trans_a, int trans_b, size_t m, size_t n,
                              size_t k, float alpha, const vitcl_buffer *A, size_t a_off,
                              size_t lda, size_t stride_a, const vitcl_buffer *B, size_t b_off,
                              size_t ldb, size_t stride_b, float beta, vitcl_buffer *C,
                              size_t c_off, size_t ldc, size_t stride_c, size_t batch);
/* gemm_batched through CLBlast whatever the self-check's verdict (the self-check itself). */
vitcl_status ocl_gemm_batched_clblast(vitcl_context *ctx, int trans_a, int trans_b, size_t m,
                                      size_t n, size_t k, float alpha, const vitcl_buffer *A,
                                      size_t a_off, size_t lda, size_t stride_a,
                                      const vitcl_buffer *B, size_t b_off, size_t ldb,
                                      size_t stride_b, float beta, vitcl_buffer *C, size_t c_off,
                                      size_t ldc, size_t stride_c, size_t batch);
void ocl_gemm_release(vitcl_context *ctx);
/* CLBlast linear on an unpacked [n,k] W (plus the bias_act pass); arguments already checked.
 * epi: VITCL_LINEAR_GELU and/or VITCL_LINEAR_RESIDUAL (then CLBlast writes a temporary the
 * bias_act pass adds into Y). */
vitcl_status ocl_linear_clblast(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b,
                                size_t b_off, vitcl_buffer *Y, size_t y_off, size_t m, size_t n,
                                size_t k, uint32_t epi);

/* Reads VITCL_CL_CLBLAST into ctx->clblast_mode; fails naming the value when it is not one of
 * on, broken, off. */
vitcl_status ocl_clblast_mode_init(vitcl_context *ctx);
/* "on", "broken", "off" (the self-check marker and GEMM choice keys hash it). */
const char *ocl_clblast_mode_name(ocl_clblast_mode mode);

/* Bytes of temporary buffer CLBlast asks for linear's shape (m, n, k) at offset 0: 0 when it
 * would run its direct kernel, else its indirect one (with pre/post-processing). */
vitcl_status ocl_clblast_temp_bytes(vitcl_context *ctx, size_t m, size_t n, size_t k,
                                    size_t *bytes);

/* ---- gemm_general.c */
/* C_p = alpha * op(A_p) * op(B_p) + beta * C_p for p < batch (backend.h's gemm_batched), then
 * + bias[j] when bias != NULL, GELU when epi has VITCL_LINEAR_GELU and the sum with the C
 * already there when it has VITCL_LINEAR_RESIDUAL (beta 0 only); gemm_general.cl, errors
 * naming `op`. Checks the shapes, leading dimensions and buffer ranges. */
vitcl_status ocl_gemm_general(vitcl_context *ctx, const char *op, int trans_a, int trans_b,
                              size_t m, size_t n, size_t k, float alpha, const vitcl_buffer *A,
                              size_t a_off, size_t lda, size_t stride_a, const vitcl_buffer *B,
                              size_t b_off, size_t ldb, size_t stride_b, float beta,
                              vitcl_buffer *C, size_t c_off, size_t ldc, size_t stride_c,
                              size_t batch, const vitcl_buffer *bias, size_t bias_off,
                              uint32_t epi);
/* linear (Y = X * W^T + b, epilogue bits epi as ocl_gemm_general's) on an unpacked [n,k] W
 * through ocl_gemm_general. */
vitcl_status ocl_linear_general(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b,
                                size_t b_off, vitcl_buffer *Y, size_t y_off, size_t m, size_t n,
                                size_t k, uint32_t epi);

/* ---- gemm_packed.c */
/* The op table's linear_pack_weight: tunes the context on first use (gemm_tune.c), then makes
 * a new buffer (owned by the caller) in the chosen layout. */
vitcl_status ocl_linear_pack_weight(vitcl_context *ctx, const vitcl_buffer *W, size_t w_off,
                                    size_t n, size_t k, const char *label, vitcl_buffer **out);
/* Packs W into 32-column panels in a new buffer, whatever the context's mode (tuning and tests). */
vitcl_status ocl_pack_panels(vitcl_context *ctx, const vitcl_buffer *W, size_t w_off, size_t n,
                             size_t k, const char *label, vitcl_buffer **out);
/* Enqueues pack_w_panels (timed under `op`): W [n,k] at w_off of w into dst, which holds
 * ceil(n/32)*32*k floats; n and k fit in 32 bits (callers check). */
vitcl_status ocl_pack_panels_mem(vitcl_context *ctx, const char *op, cl_mem w, size_t w_off,
                                 size_t n, size_t k, cl_mem dst);
/* Runs gemm_packed variant `kernel` on panel-packed Wp; arguments already checked. epi:
 * VITCL_LINEAR_GELU and/or VITCL_LINEAR_RESIDUAL, applied in the kernel's epilogue. */
vitcl_status ocl_linear_panels(vitcl_context *ctx, ocl_kernel_id kernel, const vitcl_buffer *X,
                               size_t x_off, const vitcl_buffer *Wp, const vitcl_buffer *b,
                               size_t b_off, vitcl_buffer *Y, size_t y_off, size_t m, size_t n,
                               size_t k, uint32_t epi);

/* ---- weight_pack.c */
/* The op table's pack_weight_host (backend.h, ABI 1.1): W [n,k] of `dtype` from host memory,
 * stored in `precision`: fp32 (only from F16/BF16, widened; the host keeps F32 weights on the
 * 1.0 path) in the context's fp32 layout, bf16 / fp16 rounded to nearest even into 16-bit
 * panels read by the 16-bit GEMM kernels. Tunes the format's GEMM on first use. */
vitcl_status ocl_pack_weight_host(vitcl_context *ctx, const void *w, uint32_t dtype, size_t n,
                                  size_t k, uint32_t precision, const char *label,
                                  vitcl_buffer **out);
/* Converts W [n,k] of `dtype` (host memory) into panels of format fmt in `dst` (ceil(n/32)*32*k
 * elements of 4 or 2 bytes, zero past n), rounding to nearest even. Used by the packer, the
 * tuning and the self-check. */
void ocl_pack_host_panels(const void *w, uint32_t dtype, size_t n, size_t k, ocl_wfmt fmt,
                          void *dst);
/* Bytes of one element of format fmt. */
size_t ocl_wfmt_bytes(ocl_wfmt fmt);
/* Uploads host panels (ocl_pack_host_panels) into a new packed buffer for (n, k) in format
 * fmt, named `label`; the caller owns it. */
vitcl_status ocl_upload_panels(vitcl_context *ctx, const void *panels, size_t n, size_t k,
                               ocl_wfmt fmt, const char *label, vitcl_buffer **out);
/* "fp32", "bf16", "fp16". */
const char *ocl_wfmt_name(ocl_wfmt fmt);

/* ---- gemm_tune.c */
/* Sets ctx->gemm_mode (and gemm_kernel) unless already set: from the disk cache when an entry
 * for this device, driver, CLBlast version and gemm.cl exists, else by timing CLBlast and each
 * gemm_packed variant on a few ViT shapes (a candidate with wrong results is discarded) and
 * storing the winner. Fails only when no candidate computes correctly or on out of memory. */
vitcl_status ocl_gemm_tune(vitcl_context *ctx);
/* The same for 16-bit weights of format fmt (OCL_W_BF16, OCL_W_F16): sets ctx->wkernel[fmt]
 * among the 16-bit variants the device can launch (CLBlast is not a candidate: its half
 * routines compute in half), from the cache or by timing; VITCL_CL_GEMM naming a variant forces
 * that variant here too. */
vitcl_status ocl_gemm_tune_fmt(vitcl_context *ctx, ocl_wfmt fmt);
/* The 16-bit choice of fmt as VITCL_CL_GEMM spells it, or "undecided"; a static string. */
const char *ocl_gemm_choice_name_fmt(const vitcl_context *ctx, ocl_wfmt fmt);
/* The context's GEMM choice as VITCL_CL_GEMM spells it, or "undecided"; a static string. */
const char *ocl_gemm_choice_name(const vitcl_context *ctx);
vitcl_status ocl_layernorm(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                           const vitcl_buffer *gamma, size_t g_off, const vitcl_buffer *beta,
                           size_t b_off, vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols,
                           float eps);
vitcl_status ocl_softmax(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                         vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols, float scale);
vitcl_status ocl_gelu(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off, vitcl_buffer *Y,
                      size_t y_off, size_t n);
vitcl_status ocl_add(vitcl_context *ctx, const vitcl_buffer *A, size_t a_off,
                     const vitcl_buffer *B, size_t b_off, vitcl_buffer *Y, size_t y_off, size_t n,
                     size_t b_period);
vitcl_status ocl_attention(vitcl_context *ctx, const vitcl_buffer *Q, size_t q_off, size_t ldq,
                           const vitcl_buffer *K, size_t k_off, size_t ldk, const vitcl_buffer *V,
                           size_t v_off, size_t ldv, vitcl_buffer *O, size_t o_off, size_t ldo,
                           size_t batch, size_t seq, size_t heads, size_t head_dim, float scale);
vitcl_status ocl_patch_embed(vitcl_context *ctx, const vitcl_buffer *pixels, size_t p_off,
                             const vitcl_buffer *W, size_t w_off, const vitcl_buffer *bias,
                             size_t bias_off, vitcl_buffer *Y, size_t y_off,
                             size_t y_batch_stride, size_t batch, size_t channels, size_t height,
                             size_t width, size_t patch, size_t dim);
int ocl_supports(vitcl_context *ctx, vitcl_op op, const vitcl_op_shape *shape);
/* The host's ABI minor as given to the entry function (plugin.c): ABI 1.1 fields of host
 * structs are read only when it is >= 1. */
uint32_t ocl_host_minor(void);

/* ---- attention.c */
/* Sets ctx->att_tiled from VITCL_CL_ATTENTION (rows | tiled), else from the device type (tiled on
 * GPUs and accelerators) and which kernels fit (ctx->unfit); fails naming the limit when no
 * attention kernel fits, or when a forced one does not. */
vitcl_status ocl_attention_choose(vitcl_context *ctx);

/* ---- selfcheck.c */
/* Runs the self-check unless a marker for this device, driver and kernel set exists; on
 * success writes the marker. Fails (ctx->err) naming the device and the op that was wrong. */
vitcl_status ocl_selfcheck(vitcl_context *ctx);

#endif
