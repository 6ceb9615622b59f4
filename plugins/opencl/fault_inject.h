/* plugins/opencl/fault_inject.h - VITCL_FAULT_INJECT inside the OpenCL plugin, for hardening
 * tests: makes the Nth program build, buffer creation or kernel enqueue of a context fail as if
 * the OpenCL call had failed, so the plugin's own error paths (released programs, kernels and
 * buffers, messages naming the op and device) are exercised on a real driver.
 *
 * The variable holds comma-separated KIND:N items (loader/fault_inject.h counts the host-side
 * kinds alloc, write and enqueue); the plugin reads build:N, cl_alloc:N and cl_enqueue:N and
 * ignores the rest. N = 0 only counts. Counters are per context: ocl_fault_init at context
 * creation, then one ocl_fault_hit before each clBuildProgram, clCreateBuffer and enqueue (every
 * clEnqueue* and every CLBlast routine, which enqueues kernels) the plugin makes. A context is
 * used by one thread at a time (backend.h), so no locking is needed. Without the variable every
 * call returns 0 at the cost of one compare. */
#ifndef VITCL_OPENCL_FAULT_INJECT_H
#define VITCL_OPENCL_FAULT_INJECT_H

#include <stddef.h>
#include <stdint.h>

typedef enum ocl_fault_kind {
    OCL_FAULT_BUILD = 0,   /* "build:N": clBuildProgram (CL_BUILD_PROGRAM_FAILURE) */
    OCL_FAULT_ALLOC = 1,   /* "cl_alloc:N": clCreateBuffer (CL_MEM_OBJECT_ALLOCATION_FAILURE) */
    OCL_FAULT_ENQUEUE = 2, /* "cl_enqueue:N": clEnqueue* and CLBlast routines
                              (CL_OUT_OF_RESOURCES) */
    OCL_FAULT_KINDS_ = 3
} ocl_fault_kind;

typedef struct ocl_fault {
    uint64_t fail_at[OCL_FAULT_KINDS_]; /* 0: never */
    uint64_t calls[OCL_FAULT_KINDS_];
    uint64_t injected;                  /* failures injected so far */
    int active;                         /* some item names a plugin kind (counting is on) */
    char note[64]; /* "injected fault KIND:N (VITCL_FAULT_INJECT)" until the next counted call
                      or until a failure message takes it; "" otherwise */
} ocl_fault;

/* Reads VITCL_FAULT_INJECT into *f (all zero when unset or when no item names a plugin kind;
 * malformed items are ignored here: the loader refuses them before any context exists). */
void ocl_fault_init(ocl_fault *f);

/* Counts one call of `kind`; 1 when this call must fail (the caller then takes the same path as
 * a real OpenCL failure, with ocl_fault_status(kind) as the cl_int, and the failure message
 * formatted next takes f->note, see ocl_fail). Any counted call clears a pending note. */
int ocl_fault_hit(ocl_fault *f, ocl_fault_kind kind);

/* The cl_int error a real failure of `kind` would return (as an int, so this header needs no
 * OpenCL headers). */
int ocl_fault_status(ocl_fault_kind kind);

/* Writes "build:N,cl_alloc:N,cl_enqueue:N injected=N" (calls counted so far) into buf, for the
 * statistics line tests read; "" when counting is off. */
void ocl_fault_describe(const ocl_fault *f, char *buf, size_t len);

#endif
