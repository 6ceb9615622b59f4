/* plugins/opencl/kernel_sources.h - the kernel texts of clkernels/ embedded at build time.
 *
 * embed_kernels.c (a build-time helper) writes a C file defining this table from the files in
 * clkernels/. The strings are static, NUL-terminated and live as long as the plugin.
 */
#ifndef VITCL_OCL_KERNEL_SOURCES_H
#define VITCL_OCL_KERNEL_SOURCES_H

#include <stddef.h>

typedef struct ocl_embedded_source {
    const char *name; /* file name, e.g. "layernorm.cl" */
    const char *text; /* the file's bytes plus a NUL */
    size_t len;       /* strlen(text) */
} ocl_embedded_source;

extern const ocl_embedded_source ocl_embedded_sources[];
extern const size_t ocl_embedded_source_count;

#endif
