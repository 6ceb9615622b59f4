/* tests/cpu/bench_cpu_gemm.c - by-hand throughput check of the cpu plugin (not a test).
 *
 * Times, at ViT-L/16 shapes for batches of 1 and 8 (M = 197 and 1576 rows), plain OpenBLAS
 * cblas_sgemm with W as stored ([n,k], transposed by the BLAS), the plugin's linear op as the
 * model calls it (bias; bias + GELU for fc1) with the GEMM VITCL_CPU_GEMM selects (default:
 * the plugin's choice for this CPU; VITCL_CPU_GEMM=avx2 or avx512 times the own kernels) and
 * with VITCL_CPU_GEMM=openblas, interleaved, then the fused attention op (patch embedding's
 * GEMM is timed as a linear of k = 768).
 * Where oneDNN (Debian libdnnl-dev) was found at build time it also times oneDNN's fp32 matmul
 * with the same epilogue (bias, GELU as a post-op) and W as stored ([n,k], read through strides:
 * no reordered copy, like the plugin), and prints the implementation oneDNN chose.
 * Prints the median and the best GFLOP/s of several runs (on a loaded machine the best is the
 * steadier figure), and the own GEMM's kernels and blocking (the device's extra text).
 * With a second argument "precision" it times instead the plugin's linear with an fp32 weight
 * against the same weight packed by pack_weight_host in bf16 and in fp16 (ABI 1.1), the three
 * alternating run by run, at the ViT-L linear shapes (docs/performance.md, "Reduced-precision
 * weights"), on the default context (VITCL_CPU_GEMM picks its GEMM).
 * With "attention" it times only the fused attention op.
 * With "bf16" instead it times linear on a bf16 weight in each VITCL_CPU_BF16 setting (the
 * default rule, widen, round, split: one context each) against the fp32 weight, alternating run
 * by run (where the CPU lacks AVX512-BF16 only fp32, default and widen run).
 *
 *   ninja -C build tests/cpu/bench_cpu_gemm && build/tests/cpu/bench_cpu_gemm [reps] [precision|bf16]
 *   VITCL_CPU_GEMM=avx2 BENCH_CLOCK=cpu VITCL_CPU_THREADS=1 OPENBLAS_NUM_THREADS=1 \
 *     OMP_NUM_THREADS=1 build/tests/cpu/bench_cpu_gemm 3     (one core, by CPU time)
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

#if HAVE_DNNL
#include <dnnl.h>
#endif

/* BENCH_CLOCK=cpu times by the process's CPU time (all its threads) instead of the wall clock:
 * GFLOP/s then reads "per second of CPU time the process got", which a busy shared machine
 * lowers far less than the wall-clock figure (spinning threads count against their library). */
static clockid_t CLOCK = CLOCK_MONOTONIC;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#if HAVE_DNNL

static dnnl_engine_t ENG;
static dnnl_stream_t STREAM;

static void dnnl_ok(dnnl_status_t st, const char *what)
{
    if (st != dnnl_success) {
        fprintf(stderr, "bench: oneDNN %s failed (status %d)\n", what, (int)st);
        exit(1);
    }
}

static dnnl_memory_t dnnl_mem_dt(int64_t rows, int64_t cols, int64_t s0, int64_t s1, void *data,
                                 dnnl_data_type_t dt, dnnl_memory_desc_t *md)
{
    dnnl_dims_t dims = {rows, cols}, strides = {s0, s1};
    dnnl_memory_t mem;
    dnnl_ok(dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides), "memory desc");
    dnnl_ok(dnnl_memory_create(&mem, md, ENG, data), "memory");
    return mem;
}

static dnnl_memory_t dnnl_mem(int64_t rows, int64_t cols, int64_t s0, int64_t s1, void *data,
                              dnnl_memory_desc_t *md)
{
    return dnnl_mem_dt(rows, cols, s0, s1, data, dnnl_f32, md);
}

/* Times oneDNN's matmul Y = X·W^T + b (then GELU) reps + 1 times into t; writes its
 * implementation name into impl. X and W are fp32, or bf16 (uint16_t arrays) when xw_dt is
 * dnnl_bf16; b and Y stay fp32. */
static void time_dnnl_dt(int m, int n, int k, int gelu, void *x, void *w, float *b, float *y,
                         dnnl_data_type_t xw_dt, int reps, double *t, char *impl,
                         size_t impl_len)
{
    dnnl_memory_desc_t xd, wd, bd, yd;
    dnnl_memory_t xm = dnnl_mem_dt(m, k, k, 1, x, xw_dt, &xd),
                  wm = dnnl_mem_dt(k, n, 1, k, w, xw_dt, &wd);
    dnnl_memory_t bm = dnnl_mem(1, n, n, 1, b, &bd), ym = dnnl_mem(m, n, n, 1, y, &yd);
    dnnl_matmul_desc_t desc;
    dnnl_ok(dnnl_matmul_desc_init(&desc, &xd, &wd, &bd, &yd), "matmul desc");
    dnnl_primitive_attr_t attr;
    dnnl_post_ops_t po;
    dnnl_ok(dnnl_primitive_attr_create(&attr), "attr");
    dnnl_ok(dnnl_post_ops_create(&po), "post ops");
    if (gelu)
        dnnl_ok(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f), "gelu");
    dnnl_ok(dnnl_primitive_attr_set_post_ops(attr, po), "set post ops");
    dnnl_primitive_desc_t pd;
    dnnl_ok(dnnl_primitive_desc_create(&pd, &desc, attr, ENG, NULL), "primitive desc");
    const char *name = NULL;
    dnnl_ok(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name), "impl query");
    snprintf(impl, impl_len, "%s", name ? name : "?");
    dnnl_primitive_t prim;
    dnnl_ok(dnnl_primitive_create(&prim, pd), "primitive");
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, bm},
                               {DNNL_ARG_DST, ym}};
    for (int i = 0; i < reps + 1; i++) {
        double t0 = now_s();
        dnnl_ok(dnnl_primitive_execute(prim, STREAM, 4, args), "execute");
        dnnl_ok(dnnl_stream_wait(STREAM), "wait");
        t[i] = now_s() - t0;
    }
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    dnnl_memory_destroy(xm);
    dnnl_memory_destroy(wm);
    dnnl_memory_destroy(bm);
    dnnl_memory_destroy(ym);
}

static void time_dnnl(int m, int n, int k, int gelu, float *x, float *w, float *b, float *y,
                      int reps, double *t, char *impl, size_t impl_len)
{
    time_dnnl_dt(m, n, k, gelu, x, w, b, y, dnnl_f32, reps, t, impl, impl_len);
}

/* fp32 to bf16 bits, nearest even (finite inputs). */
static uint16_t *to_bf16(const float *v, size_t n)
{
    uint16_t *o = malloc(n * sizeof *o);
    if (!o)
        exit(1);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        o[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
    return o;
}
#endif

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
static vitcl_context *C, *CB; /* the default context (own GEMM where usable) and an OpenBLAS one */

static vitcl_buffer *upload_to(vitcl_context *ctx, const float *data, size_t count,
                               const char *label)
{
    vitcl_buffer *b = NULL;
    if (D->buffer_alloc(ctx, count * sizeof(float), label, &b) != VITCL_OK ||
        D->buffer_write(ctx, b, 0, data, count * sizeof(float)) != VITCL_OK) {
        fprintf(stderr, "bench: %s\n", D->last_error(ctx));
        exit(1);
    }
    return b;
}

static vitcl_buffer *upload(const float *data, size_t count, const char *label)
{
    return upload_to(C, data, count, label);
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

static double min_of(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

/* One timed linear call on ctx; exits on failure. */
static double time_linear(vitcl_context *ctx, vitcl_buffer *const bufs[4], int m, int n, int k,
                          uint32_t flags)
{
    double t0 = now_s();
    vitcl_status st = D->ops->linear(ctx, bufs[0], 0, bufs[1], 0, bufs[2], 0, bufs[3], 0,
                                     (size_t)m, (size_t)n, (size_t)k, flags);
    double t = now_s() - t0;
    if (st != VITCL_OK) {
        fprintf(stderr, "bench: %s\n", D->last_error(ctx));
        exit(1);
    }
    return t;
}

/* The plugin's linear on the default context, plain cblas_sgemm (W as stored, transposed by the
 * BLAS) and the linear on the OpenBLAS context, each `reps` times after a warm-up run; prints the
 * median and the best GFLOP/s of each. The default context runs first, after a pause: OpenBLAS's
 * idle workers spin for a while after each call and would take a core from the plugin's pool
 * (the model's forward pass calls no OpenBLAS when the own GEMM is on). */
static void bench_linear(int m, int n, int k, uint32_t flags, int reps)
{
    float *x = randoms((size_t)m * k), *w = randoms((size_t)n * k), *b = randoms((size_t)n);
    float *y = randoms((size_t)m * n);
    double flop = 2.0 * m * n * k, t[4][64];
    vitcl_buffer *own[4] = {upload_to(C, x, (size_t)m * k, "x"),
                            upload_to(C, w, (size_t)n * k, "w"), upload_to(C, b, (size_t)n, "b"),
                            upload_to(C, y, (size_t)m * n, "y")};
    vitcl_buffer *blas[4] = {upload_to(CB, x, (size_t)m * k, "x"),
                             upload_to(CB, w, (size_t)n * k, "w"),
                             upload_to(CB, b, (size_t)n, "b"),
                             upload_to(CB, y, (size_t)m * n, "y")};
    struct timespec pause = {0, 500000000};
    nanosleep(&pause, NULL);
    for (int i = 0; i < reps + 1; i++) /* the first run warms up */
        t[1][i] = time_linear(C, own, m, n, k, flags);
    for (int i = 0; i < reps + 1; i++) {
        double t0 = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k, 0.0f, y,
                    n);
        t[0][i] = now_s() - t0;
    }
    for (int i = 0; i < reps + 1; i++)
        t[2][i] = time_linear(CB, blas, m, n, k, flags);
    int variants = 3;
    char impl[128] = "";
#if HAVE_DNNL
    time_dnnl(m, n, k, (flags & VITCL_LINEAR_GELU) != 0, x, w, b, y, reps, t[3], impl,
              sizeof impl);
    variants = 4;
#endif
    double g[4][2];
    for (int v = 0; v < variants; v++) {
        g[v][0] = flop / median(t[v] + 1, reps) * 1e-9;
        g[v][1] = flop / min_of(t[v] + 1, reps) * 1e-9;
    }
    printf("M=%-5d N=%-5d K=%-5d %-9s sgemm %6.1f (best %6.1f)  linear %6.1f (best %6.1f)  "
           "linear/OpenBLAS %6.1f (best %6.1f) GFLOP/s\n",
           m, n, k, (flags & VITCL_LINEAR_GELU) ? "bias+gelu" : "bias", g[0][0], g[0][1],
           g[1][0], g[1][1], g[2][0], g[2][1]);
    if (variants == 4)
        printf("%34s oneDNN %6.1f (best %6.1f) GFLOP/s  [%s]\n", "", g[3][0], g[3][1], impl);
    for (int i = 0; i < 4; i++) {
        D->buffer_free(C, own[i]);
        D->buffer_free(CB, blas[i]);
    }
    free(x);
    free(w);
    free(b);
    free(y);
}

/* fp32 W against W packed in bf16 and fp16 (pack_weight_host from F32), the three alternating
 * within each of reps + 1 rounds (the first warms up); prints median and best GFLOP/s and each
 * median's ratio to fp32's. */
static void bench_precision(int m, int n, int k, uint32_t flags, int reps)
{
    float *x = randoms((size_t)m * k), *w = randoms((size_t)n * k), *b = randoms((size_t)n);
    float *yinit = randoms((size_t)m * n);
    vitcl_buffer *bufs[3][4] = {{upload(x, (size_t)m * k, "x"), upload(w, (size_t)n * k, "w"),
                                 upload(b, (size_t)n, "b"), upload(yinit, (size_t)m * n, "y")}};
    static const uint32_t prec[3] = {VITCL_PRECISION_FP32, VITCL_PRECISION_BF16,
                                     VITCL_PRECISION_FP16};
    for (int p = 1; p < 3; p++) {
        bufs[p][0] = bufs[0][0];
        bufs[p][2] = bufs[0][2];
        bufs[p][3] = bufs[0][3];
        if (D->ops->pack_weight_host(C, w, VITCL_DTYPE_F32, (size_t)n, (size_t)k, prec[p], "w",
                                     &bufs[p][1]) != VITCL_OK) {
            fprintf(stderr, "bench: %s\n", D->last_error(C));
            exit(1);
        }
    }
    struct timespec pause = {0, 300000000};
    nanosleep(&pause, NULL);
    double t[3][64], flop = 2.0 * m * n * k;
    for (int i = 0; i < reps + 1; i++)
        for (int p = 0; p < 3; p++)
            t[p][i] = time_linear(C, bufs[p], m, n, k, flags | (p ? VITCL_LINEAR_PACKED_W : 0));
    double med[3], best[3];
    for (int p = 0; p < 3; p++) {
        med[p] = flop / median(t[p] + 1, reps) * 1e-9;
        best[p] = flop / min_of(t[p] + 1, reps) * 1e-9;
    }
    printf("M=%-5d N=%-5d K=%-5d %-9s fp32 %6.1f (best %6.1f)  bf16 %6.1f (best %6.1f) x%.3f  "
           "fp16 %6.1f (best %6.1f) x%.3f GFLOP/s\n",
           m, n, k, (flags & VITCL_LINEAR_GELU) ? "bias+gelu" : "bias", med[0], best[0], med[1],
           best[1], med[1] / med[0], med[2], best[2], med[2] / med[0]);
    for (int p = 1; p < 3; p++)
        D->buffer_free(C, bufs[p][1]);
    for (int i = 0; i < 4; i++)
        D->buffer_free(C, bufs[0][i]);
    free(x);
    free(w);
    free(b);
    free(yinit);
}

/* fp32 W on C against W packed in bf16 on each context of bc (NULL: not run), alternating
 * within each of reps + 1 rounds; prints median and best GFLOP/s, medians' ratio to fp32's. */
static void bench_bf16(vitcl_context *const bc[4], int m, int n, int k, uint32_t flags, int reps)
{
    static const char *const names[4] = {"default", "widen", "round", "split"};
    float *x = randoms((size_t)m * k), *w = randoms((size_t)n * k), *b = randoms((size_t)n);
    float *y = randoms((size_t)m * n);
    vitcl_buffer *bufs[5][4] = {{upload_to(C, x, (size_t)m * k, "x"),
                                 upload_to(C, w, (size_t)n * k, "w"),
                                 upload_to(C, b, (size_t)n, "b"),
                                 upload_to(C, y, (size_t)m * n, "y")}};
    for (int c = 0; c < 4; c++) {
        if (!bc[c])
            continue;
        bufs[c + 1][0] = upload_to(bc[c], x, (size_t)m * k, "x");
        bufs[c + 1][2] = upload_to(bc[c], b, (size_t)n, "b");
        bufs[c + 1][3] = upload_to(bc[c], y, (size_t)m * n, "y");
        if (D->ops->pack_weight_host(bc[c], w, VITCL_DTYPE_F32, (size_t)n, (size_t)k,
                                     VITCL_PRECISION_BF16, "w", &bufs[c + 1][1]) != VITCL_OK) {
            fprintf(stderr, "bench: %s\n", D->last_error(bc[c]));
            exit(1);
        }
    }
    struct timespec pause = {0, 300000000};
    nanosleep(&pause, NULL);
    double t[5][64], flop = 2.0 * m * n * k;
    for (int i = 0; i < reps + 1; i++)
        for (int c = 0; c < 5; c++)
            if (c == 0 || bc[c - 1])
                t[c][i] = time_linear(c ? bc[c - 1] : C, bufs[c], m, n, k,
                                      flags | (c ? VITCL_LINEAR_PACKED_W : 0));
    printf("M=%-5d N=%-5d K=%-5d %-9s", m, n, k, (flags & VITCL_LINEAR_GELU) ? "bias+gelu" : "bias");
    double f32 = flop / median(t[0] + 1, reps) * 1e-9;
    for (int c = 0; c < 5; c++) {
        if (c && !bc[c - 1])
            continue;
        double med = flop / median(t[c] + 1, reps) * 1e-9, best = flop / min_of(t[c] + 1, reps) * 1e-9;
        printf("  %s %.0f/%.0f", c ? names[c - 1] : "fp32", med, best);
        if (c)
            printf(" x%.2f", med / f32);
    }
#if HAVE_DNNL
    { /* oneDNN's bf16 matmul, X and W handed over already in bf16 (the plugin converts X) */
        uint16_t *xb = to_bf16(x, (size_t)m * k), *wb = to_bf16(w, (size_t)n * k);
        double td[64];
        char impl[128];
        time_dnnl_dt(m, n, k, (flags & VITCL_LINEAR_GELU) != 0, xb, wb, b, y, dnnl_bf16, reps,
                     td, impl, sizeof impl);
        double med = flop / median(td + 1, reps) * 1e-9, best = flop / min_of(td + 1, reps) * 1e-9;
        printf("  onednn-bf16 %.0f/%.0f x%.2f [%s]", med, best, med / f32, impl);
        free(xb);
        free(wb);
    }
#endif
    printf(" GFLOP/s (median/best)\n");
    for (int c = 0; c < 5; c++)
        for (int i = 0; i < 4 && (c == 0 || bc[c - 1]); i++)
            D->buffer_free(c ? bc[c - 1] : C, bufs[c][i]);
    free(x);
    free(w);
    free(b);
    free(y);
}

static void bench_attention(size_t batch, size_t seq, size_t heads, size_t hd, int reps)
{
    struct timespec pause = {0, 500000000};
    nanosleep(&pause, NULL);
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
    double s = median(t + 1, reps), best = min_of(t + 1, reps);
    double flop = 4.0 * batch * heads * seq * seq * hd;
    printf("attention B=%zu S=%zu H=%zu hd=%zu: %.2f ms (best %.2f), %.1f GFLOP/s (best %.1f)\n",
           batch, seq, heads, hd, s * 1e3, best * 1e3, flop / s * 1e-9, flop / best * 1e-9);
    D->buffer_free(C, Q);
    D->buffer_free(C, O);
    free(qkv);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    const char *clk = getenv("BENCH_CLOCK");
    if (clk && strcmp(clk, "cpu") == 0)
        CLOCK = CLOCK_PROCESS_CPUTIME_ID;
    printf("clock: %s\n", CLOCK == CLOCK_MONOTONIC ? "wall" : "process CPU time (BENCH_CLOCK=cpu)");
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
    const char *gemm = getenv("VITCL_CPU_GEMM");
    setenv("VITCL_CPU_GEMM", "openblas", 1);
    if (D->context_create(state, 0, &CB, err, sizeof err) != VITCL_OK) {
        fprintf(stderr, "bench: cannot open an OpenBLAS context: %s\n", err);
        return 1;
    }
    if (gemm)
        setenv("VITCL_CPU_GEMM", gemm, 1);
    else
        unsetenv("VITCL_CPU_GEMM");
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("OpenBLAS %s, core %s (OPENBLAS_CORETYPE=%s), %d threads; median and best of %d "
           "runs\n",
           openblas_get_config(), openblas_get_corename(), ct ? ct : "(unset)",
           openblas_get_num_threads(), reps);
    vitcl_device_info info = {.struct_size = sizeof info};
    if (D->device_info(state, 0, &info) == VITCL_OK)
        printf("cpu plugin: %s\n", info.extra);
#if HAVE_DNNL
    dnnl_ok(dnnl_engine_create(&ENG, dnnl_cpu, 0), "engine");
    dnnl_ok(dnnl_stream_create(&STREAM, ENG, dnnl_stream_default_flags), "stream");
    const dnnl_version_t *ver = dnnl_version();
    printf("oneDNN %d.%d.%d (cpu runtime %s)\n", ver->major, ver->minor, ver->patch,
           ver->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
#else
    printf("oneDNN: not found at build time (libdnnl-dev)\n");
#endif
    if (argc > 2 && strcmp(argv[2], "precision") == 0) {
        printf("cpu plugin precisions: %s\n", info.precision_notes);
        for (int batch = 1; batch <= 8; batch += 7) {
            int m = 197 * batch;
            bench_precision(m, 3072, 1024, 0, reps);                 /* QKV */
            bench_precision(m, 1024, 1024, 0, reps);                 /* attention output */
            bench_precision(m, 4096, 1024, VITCL_LINEAR_GELU, reps); /* fc1 */
            bench_precision(m, 1024, 4096, 0, reps);                 /* fc2 */
        }
    }
    if (argc > 2 && strcmp(argv[2], "bf16") == 0) {
        static const char *const env[4] = {NULL, "widen", "round", "split"};
        vitcl_context *bc[4] = {C, NULL, NULL, NULL};
        for (int c = 1; c < 4; c++) { /* round and split are refused without AVX512-BF16 */
            setenv("VITCL_CPU_BF16", env[c], 1);
            if (D->context_create(state, 0, &bc[c], err, sizeof err) != VITCL_OK)
                bc[c] = NULL;
        }
        unsetenv("VITCL_CPU_BF16");
        printf("cpu plugin precisions: %s\n", info.precision_notes);
        for (int batch = 1; batch <= 8; batch += 7) {
            int m = 197 * batch;
            bench_bf16(bc, m, 3072, 1024, 0, reps);                 /* QKV */
            bench_bf16(bc, m, 1024, 1024, 0, reps);                 /* attention output */
            bench_bf16(bc, m, 4096, 1024, VITCL_LINEAR_GELU, reps); /* fc1 */
            bench_bf16(bc, m, 1024, 4096, 0, reps);                 /* fc2 */
        }
        for (int c = 1; c < 4; c++)
            if (bc[c])
                D->context_destroy(bc[c]);
    }
    int att_only = argc > 2 && strcmp(argv[2], "attention") == 0;
    int gemm_mode = !(argc > 2 && (strcmp(argv[2], "precision") == 0 ||
                                   strcmp(argv[2], "bf16") == 0 || att_only));
    for (int batch = 1; gemm_mode && batch <= 8; batch += 7) {
        int m = 197 * batch;
        bench_linear(m, 1024, 768, 0, reps);                  /* patch embedding */
        bench_linear(m, 3072, 1024, 0, reps);                 /* QKV */
        bench_linear(m, 1024, 1024, 0, reps);                 /* attention output */
        bench_linear(m, 4096, 1024, VITCL_LINEAR_GELU, reps); /* fc1 */
        bench_linear(m, 1024, 4096, 0, reps);                 /* fc2 */
    }
    if (gemm_mode || att_only) {
        bench_attention(8, 197, 16, 64, reps);
        bench_attention(1, 3137, 12, 64, reps > 3 ? 3 : reps);
    }
#if HAVE_DNNL
    dnnl_stream_destroy(STREAM);
    dnnl_engine_destroy(ENG);
#endif
    D->context_destroy(CB);
    D->context_destroy(C);
    D->shutdown(state);
    dlclose(dl);
    return 0;
}
