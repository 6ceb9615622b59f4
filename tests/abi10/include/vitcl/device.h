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
} vitcl_device_info;

/* One timed op, from the device's clock (OpenCL event profiling) or the wall clock. */
typedef struct vitcl_op_timing {
    const char *op;    /* static string: "linear", "attention", "layernorm", ... */
    uint64_t start_ns; /* on a clock of the plugin's choice, consistent within a context */
    uint64_t end_ns;
} vitcl_op_timing;

#ifdef __cplusplus
}
#endif
#endif
