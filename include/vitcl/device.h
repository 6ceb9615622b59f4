/* vitcl/device.h - what users and plugins both see of a device: its type, capabilities and
 * info, and per-op timings. The user API (vitcl.h) includes this, not the plugin ABI
 * (backend.h), so programs that use vitcl never see the plugin's descriptor, op table, contexts
 * or buffers; backend.h includes this header too, so both sides share one definition.
 * Plain data: no functions, no ownership beyond what each field says.
 */
#ifndef VITCL_DEVICE_H
#define VITCL_DEVICE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vitcl_device_type {
    VITCL_DEVICE_CPU = 0,
    VITCL_DEVICE_GPU = 1,
    VITCL_DEVICE_ACCELERATOR = 2,
    VITCL_DEVICE_OTHER = 3
} vitcl_device_type;

/* Capability bits of vitcl_device_info.caps. */
#define VITCL_CAP_FP16 (1u << 0)           /* half-precision arithmetic (cl_khr_fp16) */
#define VITCL_CAP_FP64 (1u << 1)           /* double-precision arithmetic */
#define VITCL_CAP_HOST_UNIFIED (1u << 2)   /* device memory is host memory (CPU, integrated GPU) */
#define VITCL_CAP_ZERO_COPY_WRAP (1u << 3) /* buffer_wrap_host aliases host memory without copying */
#define VITCL_CAP_PROFILING (1u << 4)      /* per-op device timings are available */
#define VITCL_CAP_BF16 (1u << 5)           /* ABI 1.1: bf16 dot products in hardware (AVX512-BF16,
                                              AMX-BF16, a GPU's bf16 units) */

/* Precisions a model's linear weights can run in (ABI 1.1). fp32 is the default and the only
 * precision of ABI 1.0; it keeps the 1e-4 contract with transformers. In bf16 and fp16 the
 * linear layers' weights are stored rounded to that format (round to nearest even) and their
 * inputs may be rounded to it too; products accumulate in fp32 and every other op (attention,
 * layernorm, softmax, GELU, adds, patch embedding) stays fp32. docs/accuracy.md gives the
 * measured contract of each. The numeric values are part of the ABI. */
typedef enum vitcl_precision {
    VITCL_PRECISION_FP32 = 0,
    VITCL_PRECISION_BF16 = 1,
    VITCL_PRECISION_FP16 = 2,
    VITCL_PRECISION_COUNT_ = 3
} vitcl_precision;

/* The bit of precision p in vitcl_device_info.precisions. */
#define VITCL_PRECISION_BIT(p) (1u << (unsigned)(p))

typedef struct vitcl_device_info {
    uint32_t struct_size;      /* set by the host to sizeof(vitcl_device_info) */
    vitcl_device_type type;
    char name[128];            /* e.g. "pthread-skylake-avx512-AMD EPYC 9B45" */
    char vendor[128];
    char driver[128];          /* driver or library version, used to key caches */
    char platform[128];        /* e.g. "Portable Computing Language / OpenCL 3.0 PoCL 3.1" */
    uint64_t global_mem_bytes; /* 0 if unknown */
    uint64_t max_alloc_bytes;  /* largest single buffer; 0 if unknown */
    uint32_t compute_units;    /* cores or compute units; 0 if unknown */
    uint32_t caps;             /* VITCL_CAP_* bits */
    char extra[512];           /* free text shown by `vitcl devices` (versions, extensions) */
    /* ABI 1.1; a plugin writes these only when the host's struct_size covers them, and the host
     * reads them only from plugins of minor >= 1 (0 and "" otherwise). */
    uint32_t precisions;       /* VITCL_PRECISION_BIT set the device accepts; 0 means fp32 only */
    char precision_notes[256]; /* how each reduced precision runs here, for `vitcl devices`, e.g.
                                  "bf16: weights stored bf16, products in fp32 (no AVX512-BF16)" */
} vitcl_device_info;

/* One timed op, from the device's clock (OpenCL event profiling) or the wall clock.
 * ABI 1.1 appended struct_size: whoever provides an array of these sets struct_size in every
 * element to sizeof as it was built, and whoever fills it steps through the array by that size
 * and writes only the fields it covers (backend.h, profile_drain). */
typedef struct vitcl_op_timing {
    const char *op;    /* static string: "linear", "attention", "layernorm", ... */
    uint64_t start_ns; /* on a clock of the plugin's choice, consistent within a context */
    uint64_t end_ns;
    uint32_t struct_size; /* ABI 1.1: sizeof(vitcl_op_timing) as the array's owner was built */
} vitcl_op_timing;

#ifdef __cplusplus
}
#endif
#endif
