/* tests/opencl/harness.h - loads the OpenCL plugin from the build tree for the opencl suite.
 *
 * Each Criterion test runs in its own process: harness_open() dlopens vitcl_opencl.so, inits it
 * and creates a context on the test device (harness_device()); harness_close() undoes it.
 * tests/opencl/each_device.sh runs each test executable once per OpenCL device present. Helpers upload and download
 * float arrays and fill deterministic pseudo-random data. Failures end the test through
 * Criterion's asserts.
 */
#ifndef VITCL_TEST_OPENCL_HARNESS_H
#define VITCL_TEST_OPENCL_HARNESS_H

#include <stddef.h>

#include "vitcl/backend.h"

typedef struct harness {
    void *dl;
    const vitcl_backend_desc *desc;
    void *state;
    vitcl_context *ctx;
} harness;

/* Path of the plugin in the build tree. */
const char *harness_plugin_path(void);
/* Loads and inits the plugin only (no context). */
void harness_load(harness *h);
/* Loads and inits the plugin at `path` (e.g. the ref plugin) only. */
void harness_load_path(harness *h, const char *path);
/* The device under test: the index in VITCL_TEST_DEVICE (set by each_device.sh), default 0.
 * Asserts that the variable, when set, is a plain index. */
int harness_device(void);
/* harness_load plus a context on harness_device(); asserts success. */
void harness_open(harness *h);
void harness_close(harness *h);

/* New buffer holding n floats copied from data (data may be NULL: contents undefined). */
vitcl_buffer *h_upload(harness *h, const float *data, size_t n);
/* Reads n floats starting at float offset off. */
void h_download(harness *h, const vitcl_buffer *b, size_t off, float *out, size_t n);
void h_free(harness *h, vitcl_buffer *b);

/* malloc'd array of n floats uniform in [-scale, scale), from a fixed seed. */
float *h_random(size_t n, float scale, unsigned seed);

/* Asserts |got[i] - want[i]| <= atol + rtol * |want[i]| for all i (NaN fails), reporting the
 * worst element under `what`. */
void h_expect_close(const char *what, const float *got, const double *want, size_t n,
                    double atol, double rtol);

/* A new empty folder under the build tree's tests/opencl/tmp (out: its path). */
void harness_tmpdir(char *out, size_t len);
/* Copies every kernel file of clkernels/ into dir; in `file` (when not NULL) the first
 * occurrence of old, which must exist, is replaced by new_text (a deliberately broken kernel). */
void harness_copy_kernels(const char *dir, const char *file, const char *old,
                          const char *new_text);
/* Loads the plugin with kernels from kdir (VITCL_CL_KERNEL_DIR) and a fresh cache folder and
 * creates (then destroys) a context on the test device: the status, its message in err and the
 * device's name in devname. */
vitcl_status harness_create_with_kernels(const char *kdir, char *err, size_t errlen,
                                         char *devname, size_t dnlen);
/* Loads the plugin and creates (then destroys) a context on the test device with the
 * environment as it is: the status, its message in err and the device's name in devname. */
vitcl_status harness_try_create(char *err, size_t errlen, char *devname, size_t dnlen);

#endif
