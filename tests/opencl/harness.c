/* tests/opencl/harness.c - plugin loading and data helpers for the opencl suite. */
#include "harness.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const char *harness_plugin_path(void)
{
    return VITCL_BUILD_ROOT "/plugins/opencl/vitcl_opencl.so";
}

void harness_load(harness *h)
{
    harness_load_path(h, harness_plugin_path());
}

void harness_load_path(harness *h, const char *path)
{
    h->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h->dl, "dlopen %s: %s", path, dlerror());
    vitcl_plugin_entry_fn entry =
        (vitcl_plugin_entry_fn)(uintptr_t)dlsym(h->dl, VITCL_PLUGIN_ENTRY_SYMBOL);
    cr_assert_not_null(entry, "no %s", VITCL_PLUGIN_ENTRY_SYMBOL);
    h->desc = entry(VITCL_ABI_MAJOR, VITCL_ABI_MINOR);
    cr_assert_not_null(h->desc);
    char err[512] = "";
    cr_assert_eq(h->desc->init(&h->state, err, sizeof err), VITCL_OK, "init: %s", err);
}

int harness_device(void)
{
    const char *s = getenv("VITCL_TEST_DEVICE");
    if (!s || !*s)
        return 0;
    cr_assert(strspn(s, "0123456789") == strlen(s) && strlen(s) < 6,
              "VITCL_TEST_DEVICE must be a device index, not '%s'", s);
    return atoi(s);
}

void harness_open(harness *h)
{
    harness_load(h);
    int dev = harness_device();
    cr_assert_gt(h->desc->device_count(h->state), dev,
                 "no OpenCL device %d (an OpenCL runtime such as PoCL must be installed)", dev);
    char err[4096] = "";
    vitcl_status s = h->desc->context_create(h->state, dev, &h->ctx, err, sizeof err);
    cr_assert_eq(s, VITCL_OK, "context_create: %s", err);
}

void harness_close(harness *h)
{
    if (h->ctx)
        h->desc->context_destroy(h->ctx);
    if (h->state)
        h->desc->shutdown(h->state);
    if (h->dl)
        dlclose(h->dl);
    h->ctx = NULL;
    h->state = NULL;
    h->dl = NULL;
}

vitcl_buffer *h_upload(harness *h, const float *data, size_t n)
{
    vitcl_buffer *b = NULL;
    vitcl_status s = h->desc->buffer_alloc(h->ctx, n * sizeof(float), "test", &b);
    cr_assert_eq(s, VITCL_OK, "buffer_alloc: %s", h->desc->last_error(h->ctx));
    if (data) {
        s = h->desc->buffer_write(h->ctx, b, 0, data, n * sizeof(float));
        cr_assert_eq(s, VITCL_OK, "buffer_write: %s", h->desc->last_error(h->ctx));
    }
    return b;
}

void h_download(harness *h, const vitcl_buffer *b, size_t off, float *out, size_t n)
{
    vitcl_status s = h->desc->buffer_read(h->ctx, b, off * sizeof(float), out, n * sizeof(float));
    cr_assert_eq(s, VITCL_OK, "buffer_read: %s", h->desc->last_error(h->ctx));
}

void h_free(harness *h, vitcl_buffer *b)
{
    h->desc->buffer_free(h->ctx, b);
}

float *h_random(size_t n, float scale, unsigned seed)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    cr_assert_not_null(p);
    unsigned s = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = ((float)(s >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
    return p;
}

void h_expect_close(const char *what, const float *got, const double *want, size_t n,
                    double atol, double rtol)
{
    double worst = 0;
    size_t at = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        if (!(err <= atol + rtol * fabs(want[i]))) {
            if (bad == 0 || !(err <= worst)) {
                worst = err;
                at = i;
            }
            bad++;
        }
    }
    cr_expect_eq(bad, 0,
                 "%s: %zu of %zu values off; worst at %zu: got %.9g want %.9g (err %g, atol %g, "
                 "rtol %g)",
                 what, bad, n, at, bad ? (double)got[at] : 0.0, bad ? want[at] : 0.0, worst, atol,
                 rtol);
}

void harness_tmpdir(char *out, size_t len)
{
    char parent[1024];
    snprintf(parent, sizeof parent, "%s/tests/opencl/tmp", VITCL_BUILD_ROOT);
    mkdir(parent, 0700);
    snprintf(out, len, "%s/run-XXXXXX", parent);
    cr_assert_not_null(mkdtemp(out), "mkdtemp %s", out);
}

void harness_copy_kernels(const char *dir, const char *file, const char *old, const char *new_text)
{
    const char *files[] = {"common.cl", "reduce.cl", "layernorm.cl", "softmax.cl",
                           "bias_gelu.cl", "add.cl", "attention.cl", "patch_embed.cl",
                           "gemm.cl", "gemm_tiled.cl", "attention_tiled.cl",
                           "gemm_general.cl"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char in[1200], out[1200];
        snprintf(in, sizeof in, "%s/clkernels/%s", VITCL_SOURCE_ROOT, files[i]);
        snprintf(out, sizeof out, "%s/%s", dir, files[i]);
        FILE *f = fopen(in, "rb");
        cr_assert_not_null(f, "%s", in);
        static char text[1 << 16];
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        FILE *g = fopen(out, "wb");
        cr_assert_not_null(g);
        char *at = file && strcmp(file, files[i]) == 0 ? strstr(text, old) : NULL;
        if (file && strcmp(file, files[i]) == 0)
            cr_assert_not_null(at, "'%s' not found in %s", old, files[i]);
        if (at) {
            fwrite(text, 1, (size_t)(at - text), g);
            fputs(new_text, g);
            fputs(at + strlen(old), g);
        } else {
            fwrite(text, 1, n, g);
        }
        fclose(g);
    }
}

vitcl_status harness_create_with_kernels(const char *kdir, char *err, size_t errlen,
                                        char *devname, size_t dnlen)
{
    char cache[1024];
    harness_tmpdir(cache, sizeof cache);
    setenv("VITCL_CACHE_DIR", cache, 1);
    setenv("VITCL_CL_KERNEL_DIR", kdir, 1);
    return harness_try_create(err, errlen, devname, dnlen);
}

vitcl_status harness_try_create(char *err, size_t errlen, char *devname, size_t dnlen)
{
    harness h = {0};
    harness_load(&h);
    vitcl_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(h.desc->device_info(h.state, harness_device(), &info), VITCL_OK);
    snprintf(devname, dnlen, "%s", info.name);
    vitcl_status s = h.desc->context_create(h.state, harness_device(), &h.ctx, err, errlen);
    if (s == VITCL_OK)
        h.desc->context_destroy(h.ctx);
    h.ctx = NULL;
    harness_close(&h);
    return s;
}

