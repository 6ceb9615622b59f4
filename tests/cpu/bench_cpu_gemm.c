/* tests/cpu/bench_cpu_gemm.c - by-hand throughput check of the cpu plugin (not a test).
 *
 * Times, at ViT-L/16 shapes for a batch of 8 (M = 197·8 = 1576 rows), plain OpenBLAS
 * cblas_sgemm with W as stored ([n,k], transposed by the BLAS) and pre-transposed ([k,n]), and
 * the plugin's linear op as the model calls it (bias; bias + GELU for fc1) on stored and packed
 * weights, then the fused attention op. Prints the median GFLOP/s of several runs.
 *
 *   ninja -C build-cpu tests/cpu/bench_cpu_gemm && build-cpu/tests/cpu/bench_cpu_gemm [reps]
 *
 * Compare figures from one run only (the machine is shared); OPENBLAS_CORETYPE as set by the
 * environment is reported and left alone.
 */
#include <cblas.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vitcl/backend.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static const vitcl_backend_desc *D;
static vitcl_context *C;

static vitcl_buffer *upload(const float *data, size_t count, const char *label)
{
    vitcl_buffer *b = NULL;
    if (D->buffer_alloc(C, count * sizeof(float), label, &b) != VITCL_OK ||
        D->buffer_write(C, b, 0, data, count * sizeof(float)) != VITCL_OK) {
        fprintf(stderr, "bench: %s\n", D->last_error(C));
        exit(1);
    }
    return b;
}

static float *randoms(size_t n)
{
    float *a = malloc(n * sizeof(float));
    if (!a) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        a[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return a;
}

static void bench_linear(int m, int n, int k, uint32_t flags, int reps)
{
    float *x = randoms((size_t)m * k), *w = randoms((size_t)n * k), *b = randoms((size_t)n);
    float *wt = randoms((size_t)n * k), *y = randoms((size_t)m * n);
    double flop = 2.0 * m * n * k, t[64], g[4];
    for (int i = 0; i < reps + 1; i++) { /* first run warms up */
        double t0 = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k, 0.0f, y,
                    n);
        t[i] = now_s() - t0;
    }
    g[0] = flop / median(t + 1, reps) * 1e-9;
    for (int i = 0; i < reps + 1; i++) {
        double t0 = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, x, k, wt, n, 0.0f,
                    y, n);
        t[i] = now_s() - t0;
    }
    g[1] = flop / median(t + 1, reps) * 1e-9;
    vitcl_buffer *X = upload(x, (size_t)m * k, "x"), *W = upload(w, (size_t)n * k, "w");
    vitcl_buffer *B = upload(b, (size_t)n, "b"), *Y = upload(y, (size_t)m * n, "y"), *P = NULL;
    if (D->ops->linear_pack_weight(C, W, 0, (size_t)n, (size_t)k, "wp", &P) != VITCL_OK) {
        fprintf(stderr, "bench: %s\n", D->last_error(C));
        exit(1);
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < reps + 1; i++) {
            double t0 = now_s();
            vitcl_status st = D->ops->linear(C, X, 0, pass ? P : W, 0, B, 0, Y, 0, (size_t)m,
                                             (size_t)n, (size_t)k,
                                             flags | (pass ? VITCL_LINEAR_PACKED_W : 0));
            t[i] = now_s() - t0;
            if (st != VITCL_OK) {
                fprintf(stderr, "bench: %s\n", D->last_error(C));
                exit(1);
            }
        }
        g[2 + pass] = flop / median(t + 1, reps) * 1e-9;
    }
    printf("M=%-5d N=%-5d K=%-5d %-10s  sgemm W[n,k]^T %6.1f  sgemm W^T[k,n] %6.1f  "
           "linear %6.1f  linear packed %6.1f GFLOP/s\n",
           m, n, k, (flags & VITCL_LINEAR_GELU) ? "bias+gelu" : "bias", g[0], g[1], g[2], g[3]);
    D->buffer_free(C, X);
    D->buffer_free(C, W);
    D->buffer_free(C, B);
    D->buffer_free(C, Y);
    D->buffer_free(C, P);
    free(x);
    free(w);
    free(b);
    free(wt);
    free(y);
}

static void bench_attention(size_t batch, size_t seq, size_t heads, size_t hd, int reps)
{
    size_t d = heads * hd, rows = batch * seq;
    float *qkv = randoms(rows * 3 * d);
    vitcl_buffer *Q = upload(qkv, rows * 3 * d, "qkv"), *O = NULL;
    if (D->buffer_alloc(C, rows * d * sizeof(float), "o", &O) != VITCL_OK)
        exit(1);
    double t[64];
    for (int i = 0; i < reps + 1; i++) {
        double t0 = now_s();
        if (D->ops->attention(C, Q, 0, 3 * d, Q, d, 3 * d, Q, 2 * d, 3 * d, O, 0, d, batch, seq,
                              heads, hd, 0.125f) != VITCL_OK) {
            fprintf(stderr, "bench: %s\n", D->last_error(C));
            exit(1);
        }
        t[i] = now_s() - t0;
    }
    double s = median(t + 1, reps);
    printf("attention B=%zu S=%zu H=%zu hd=%zu: %.2f ms, %.1f GFLOP/s\n", batch, seq, heads, hd,
           s * 1e3, 4.0 * batch * heads * seq * seq * hd / s * 1e-9);
    D->buffer_free(C, Q);
    D->buffer_free(C, O);
    free(qkv);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1 || reps > 63)
        reps = 5;
    const char *root = getenv("VITCL_BUILD_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/cpu/vitcl_cpu.so", root ? root : VITCL_BUILD_ROOT);
    void *dl = dlopen(path, RTLD_NOW);
    if (!dl) {
        fprintf(stderr, "bench: %s\n", dlerror());
        return 1;
    }
    vitcl_plugin_entry_fn entry;
    *(void **)&entry = dlsym(dl, VITCL_PLUGIN_ENTRY_SYMBOL);
    D = entry ? entry(VITCL_ABI_MAJOR, VITCL_ABI_MINOR) : NULL;
    void *state = NULL;
    char err[512] = "";
    if (!D || D->init(&state, err, sizeof err) != VITCL_OK ||
        D->context_create(state, 0, &C, err, sizeof err) != VITCL_OK) {
        fprintf(stderr, "bench: cannot open the cpu plugin: %s\n", err);
        return 1;
    }
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("OpenBLAS %s, core %s (OPENBLAS_CORETYPE=%s), %d threads; median of %d runs\n",
           openblas_get_config(), openblas_get_corename(), ct ? ct : "(unset)",
           openblas_get_num_threads(), reps);
    int m = 197 * 8;
    bench_linear(m, 3072, 1024, 0, reps);                 /* QKV */
    bench_linear(m, 1024, 1024, 0, reps);                 /* attention output */
    bench_linear(m, 4096, 1024, VITCL_LINEAR_GELU, reps); /* fc1 */
    bench_linear(m, 1024, 4096, 0, reps);                 /* fc2 */
    bench_attention(8, 197, 16, 64, reps);
    bench_attention(1, 3137, 12, 64, reps > 3 ? 3 : reps);
    D->context_destroy(C);
    D->shutdown(state);
    dlclose(dl);
    return 0;
}
