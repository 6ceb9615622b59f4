/* tests/opencl/bench_opencl_precision.c - by-hand speed check of the opencl plugin's linear with
 * fp32 weights against 16-bit weights (fp16, bf16; pack_weight_host) at ViT-L shapes (not a
 * test: performance lives in benchmarks, docs/opencl.md has the figures).
 *
 * For each ViT-L/16 linear at batch 1 (m = 197: qkv 3072x1024, proj 1024x1024, fc1 4096x1024
 * with GELU, fc2 1024x4096) it packs one weight per precision (fp32 through linear_pack_weight,
 * the ABI 1.0 path the host keeps for fp32; bf16 and fp16 through pack_weight_host from the same
 * fp32 values), then times linear with bias, the precisions interleaved round by round, and
 * prints the best and median GFLOP/s of each and the 16-bit / fp32 speed ratio. The GEMM kernel
 * of each precision is the plugin's tuned choice (VITCL_CL_GEMM forces one for all).
 *
 *   ninja -C build tests/opencl/bench_opencl_precision
 *   build/tests/opencl/bench_opencl_precision [reps] [device]
 *   OCL_ICD_VENDORS=.venv-intel-ocl/icd-intel build/tests/opencl/bench_opencl_precision
 *
 * Compare figures from one run only (the machine is shared).
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vitcl/backend.h"

#define NPREC 3

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float *rnd(size_t n, float scale, uint32_t seed)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; p && i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = ((float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f) * scale;
    }
    return p;
}

#define CHECK(call)                                                                             \
    do {                                                                                        \
        vitcl_status st_ = (call);                                                              \
        if (st_ != VITCL_OK) {                                                                  \
            fprintf(stderr, "%s failed (%d): %s\n", #call, (int)st_, d->last_error(ctx));       \
            return 1;                                                                           \
        }                                                                                       \
    } while (0)

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7, dev = argc > 2 ? atoi(argv[2]) : 0;
    if (reps < 1)
        reps = 1;
    const char *path = VITCL_BUILD_ROOT "/plugins/opencl/vitcl_opencl.so";
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return 1;
    }
    vitcl_plugin_entry_fn entry =
        (vitcl_plugin_entry_fn)(uintptr_t)dlsym(dl, VITCL_PLUGIN_ENTRY_SYMBOL);
    const vitcl_backend_desc *d = entry ? entry(VITCL_ABI_MAJOR, VITCL_ABI_MINOR) : NULL;
    void *state = NULL;
    char err[4096] = "";
    if (!d || d->init(&state, err, sizeof err) != VITCL_OK || d->device_count(state) <= dev) {
        fprintf(stderr, "opencl plugin: no device %d %s\n", dev, err);
        return 1;
    }
    vitcl_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    d->device_info(state, dev, &info);
    vitcl_context *ctx = NULL;
    if (d->context_create(state, dev, &ctx, err, sizeof err) != VITCL_OK) {
        fprintf(stderr, "context_create: %s\n", err);
        return 1;
    }
    printf("device: %s (%s)\nprecision notes: %s\n", info.name, info.platform,
           info.precision_notes);
    static const struct {
        const char *name;
        size_t n, k;
        uint32_t flags;
    } shapes[] = {{"qkv", 3072, 1024, 0},
                  {"proj", 1024, 1024, 0},
                  {"fc1+gelu", 4096, 1024, VITCL_LINEAR_GELU},
                  {"fc2", 1024, 4096, 0}};
    const size_t m = 197;
    double total[NPREC] = {0};
    printf("%-9s %5s %5s %5s | %-22s | %-22s | %-22s | bf16/fp32 fp16/fp32\n", "linear", "m",
           "n", "k", "fp32 best/med GFLOP/s", "bf16 best/med GFLOP/s", "fp16 best/med GFLOP/s");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const size_t n = shapes[si].n, k = shapes[si].k;
        float *x = rnd(m * k, 1.0f, 1u), *w = rnd(n * k, 0.05f, 2u), *b = rnd(n, 0.1f, 3u);
        if (!x || !w || !b)
            return 1;
        vitcl_buffer *X, *B, *Y, *W, *P[NPREC];
        CHECK(d->buffer_alloc(ctx, m * k * sizeof(float), "X", &X));
        CHECK(d->buffer_write(ctx, X, 0, x, m * k * sizeof(float)));
        CHECK(d->buffer_alloc(ctx, n * sizeof(float), "b", &B));
        CHECK(d->buffer_write(ctx, B, 0, b, n * sizeof(float)));
        CHECK(d->buffer_alloc(ctx, m * n * sizeof(float), "Y", &Y));
        CHECK(d->buffer_alloc(ctx, n * k * sizeof(float), "W", &W));
        CHECK(d->buffer_write(ctx, W, 0, w, n * k * sizeof(float)));
        CHECK(d->ops->linear_pack_weight(ctx, W, 0, n, k, "W fp32", &P[0]));
        CHECK(d->ops->pack_weight_host(ctx, w, VITCL_DTYPE_F32, n, k, VITCL_PRECISION_BF16,
                                       "W bf16", &P[1]));
        CHECK(d->ops->pack_weight_host(ctx, w, VITCL_DTYPE_F32, n, k, VITCL_PRECISION_FP16,
                                       "W fp16", &P[2]));
        double *t = malloc(sizeof(double) * NPREC * (size_t)reps);
        const uint32_t flags = shapes[si].flags | VITCL_LINEAR_PACKED_W;
        for (int p = 0; p < NPREC; p++) /* warm-up: kernel compiles */
            CHECK(d->ops->linear(ctx, X, 0, P[p], 0, B, 0, Y, 0, m, n, k, flags));
        CHECK(d->synchronize(ctx));
        for (int r = 0; r < reps; r++)
            for (int p = 0; p < NPREC; p++) {
                double t0 = now_s();
                CHECK(d->ops->linear(ctx, X, 0, P[p], 0, B, 0, Y, 0, m, n, k, flags));
                CHECK(d->synchronize(ctx));
                t[p * reps + r] = now_s() - t0;
            }
        const double flop = 2.0 * (double)m * (double)n * (double)k;
        double best[NPREC], med[NPREC];
        for (int p = 0; p < NPREC; p++) {
            qsort(t + p * reps, (size_t)reps, sizeof(double), cmp_double);
            best[p] = flop / t[p * reps] * 1e-9;
            med[p] = flop / t[p * reps + reps / 2] * 1e-9;
            total[p] += t[p * reps + reps / 2];
        }
        printf("%-9s %5zu %5zu %5zu | %9.1f / %-10.1f | %9.1f / %-10.1f | %9.1f / %-10.1f | "
               "%9.2f %9.2f\n",
               shapes[si].name, m, n, k, best[0], med[0], best[1], med[1], best[2], med[2],
               med[1] / med[0], med[2] / med[0]);
        free(t);
        for (int p = 0; p < NPREC; p++)
            d->buffer_free(ctx, P[p]);
        d->buffer_free(ctx, W), d->buffer_free(ctx, Y), d->buffer_free(ctx, B);
        d->buffer_free(ctx, X);
        free(x), free(w), free(b);
    }
    printf("sum of medians (one layer's linears): fp32 %.2f ms, bf16 %.2f ms, fp16 %.2f ms\n",
           total[0] * 1e3, total[1] * 1e3, total[2] * 1e3);
    d->context_destroy(ctx);
    d->shutdown(state);
    dlclose(dl);
    return 0;
}
