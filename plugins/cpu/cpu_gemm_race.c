/* plugins/cpu/cpu_gemm_race.c - which GEMM runs a large fp32 linear, per shape class, on
 * this machine: the own AVX-512 kernels (cpu_gemm.c), OpenBLAS (cpu_linear.c) or oneDNN
 * (cpu_gemm_onednn.c, where the plugin was built with it).
 *
 * None wins everywhere, and which one does is a property of the machine, not of its vendor:
 * on the AMD Zen 5 machine the own kernels ran at about 90% of FMA peak and ahead of OpenBLAS
 * at every ViT shape; on the Intel Xeon with AMX, OpenBLAS's SkylakeX kernel ran 20-40% faster
 * at batch 8 and at fc2's depth (k = 4096); on the Intel Xeon without AMX (model 207) OpenBLAS
 * 0.3.21 does not know the CPU and runs its Prescott (SSE3) kernel at a sixth of the others,
 * and oneDNN's brgemm ran 15-70% ahead of the own kernels (docs/performance.md). So with
 * VITCL_CPU_GEMM=auto the first large fp32 linear of the process (at least RACE_MIN
 * multiply-adds; the test fixtures stay far below and never race) races the contestants on
 * its context's pool, once, at one shape per class (tokens up to or above 512, depth up to or
 * above 2048; 1024 outputs, as a ViT-L projection: with fewer, the X packing the own GEMM
 * does once per call weighs more and biases the race). Each contestant runs once (oneDNN
 * after an untimed call that compiles its primitives), those within 30% of the best once
 * more, and the best of each counts. A challenger takes a class
 * from the default (the own kernels where the context runs linear on them, else OpenBLAS)
 * only when it was at least 10% faster. Linears with GELU go to oneDNN when it beat the
 * default by that margin (it fuses GELU as the own kernels do), else to the default (OpenBLAS
 * would need a second pass over Y).
 *
 * One verdict per process, shared by every context afterwards: two contexts never run the
 * same linear on different code, so outputs stay bit-identical across threads and contexts
 * of a process (tests/hardening compares them byte for byte); another process may decide
 * otherwise when the contestants are within noise of each other, which changes results only
 * by the rounding each path is allowed (the cpu suite checks each path against ref with
 * VITCL_CPU_GEMM=own, =openblas and =onednn). The race costs well under a second once (2
 * cores) and 30 MB for its duration; a contestant that cannot run (no memory for its
 * scratch, oneDNN refusing the shape) is left out.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_half.h"
#include "cpu_internal.h"
#include "cpu_rowwise.h"

#define RACE_CLASSES 4
#define RACE_PATHS 3 /* CPU_PATH_OWN, _BLAS, _DNNL */
#define RACE_N 1024
#define RACE_MIN ((size_t)1 << 27) /* multiply-adds of a linear worth racing for */

static pthread_mutex_t race_lock = PTHREAD_MUTEX_INITIALIZER;
static int race_done;                          /* these under race_lock */
static int race_win[RACE_CLASSES][2];          /* class, gelu -> CPU_PATH_* */
static double race_ms[RACE_CLASSES][RACE_PATHS]; /* best time of each; 0: did not run */
/* The bf16 race (AVX512-BF16 products against the widened weight on the fp32 kernels), run
 * separately, at the first large linear on a bf16 weight; also under race_lock. */
static int bf16_done;
static int bf16_widen[RACE_CLASSES];     /* class -> widening won */
static double bf16_ms[RACE_CLASSES][2]; /* best bf16 products, best widened */

static int race_class(size_t m, size_t k)
{
    return (m > 512 ? 2 : 0) + (k > 2048 ? 1 : 0);
}

/* The shape raced for class c. */
static void race_shape(int c, size_t *m, size_t *k)
{
    *m = c & 2 ? 768 : 197;
    *k = c & 1 ? 4096 : 1024;
}

static double elapsed_ms(uint64_t t0)
{
    return (double)(cpu_now_ns() - t0) / 1e6;
}

/* One run of contestant `path` at this shape; returns ms, or a negative value when it
 * could not run. */
static double race_run(vitcl_context *ctx, int path, const float *x, const float *w,
                       const float *b, float *y, size_t m, size_t k)
{
    uint64_t t0 = cpu_now_ns();
    if (path == CPU_PATH_OWN) {
        if (cpu_gemm_linear(ctx, "gemm race", x, k, w, k, b, y, RACE_N, m, RACE_N, k, 0) !=
            VITCL_OK)
            return -1.0;
    } else if (path == CPU_PATH_BLAS) {
        cpu_linear_openblas(ctx, x, w, b, y, m, RACE_N, k);
    } else if (cpu_onednn_linear(ctx, "gemm race", x, w, b, y, m, RACE_N, k, 0) != VITCL_OK) {
        return -1.0;
    }
    return elapsed_ms(t0);
}

/* Runs the race on ctx's pool and fills race_win and race_ms; race_lock is held. */
static void run_race(vitcl_context *ctx)
{
    int deflt = ctx->gemm.linear ? CPU_PATH_OWN : CPU_PATH_BLAS;
    for (int c = 0; c < RACE_CLASSES; c++)
        race_win[c][0] = race_win[c][1] = deflt;
    size_t mmax = 768, kmax = 4096;
    float *x = malloc(mmax * kmax * sizeof *x), *w = malloc((size_t)RACE_N * kmax * sizeof *w);
    float *y = malloc(mmax * RACE_N * sizeof *y), *b = malloc(RACE_N * sizeof *b);
    if (x && w && y && b) {
        for (size_t i = 0; i < mmax * kmax; i++)
            x[i] = (float)((i * 7919u) % 2001u) / 1000.0f - 1.0f;
        for (size_t i = 0; i < (size_t)RACE_N * kmax; i++)
            w[i] = (float)((i * 104729u) % 2001u) / 1000.0f - 1.0f;
        for (size_t j = 0; j < RACE_N; j++)
            b[j] = 0.01f * (float)j;
        int can[RACE_PATHS] = {ctx->gemm.linear != 0, 1, cpu_onednn_built()};
        for (int c = 0; c < RACE_CLASSES; c++) {
            size_t m, k;
            race_shape(c, &m, &k);
            double *best = race_ms[c];
            double top = 1e30;
            /* oneDNN compiles a primitive per shape on its first call: not part of the race */
            if (can[CPU_PATH_DNNL] &&
                race_run(ctx, CPU_PATH_DNNL, x, w, b, y, m, k) < 0.0)
                can[CPU_PATH_DNNL] = 0;
            for (int p = 0; p < RACE_PATHS; p++) {
                best[p] = can[p] ? race_run(ctx, p, x, w, b, y, m, k) : -1.0;
                if (best[p] < 0.0)
                    best[p] = 0.0;
                else if (best[p] < top)
                    top = best[p];
            }
            for (int p = 0; p < RACE_PATHS; p++) { /* a second run for the close ones */
                if (best[p] > 0.0 && best[p] < 1.3 * top) {
                    double t = race_run(ctx, p, x, w, b, y, m, k);
                    if (t >= 0.0 && t < best[p])
                        best[p] = t;
                }
            }
            double base = best[deflt];
            if (base <= 0.0) /* the default could not run: whichever ran */
                base = 1e30;
            int win = deflt;
            for (int p = 0; p < RACE_PATHS; p++)
                if (p != deflt && best[p] > 0.0 && best[p] < 0.9 * base &&
                    (win == deflt || best[p] < best[win]))
                    win = p;
            race_win[c][0] = win;
            double dn = best[CPU_PATH_DNNL];
            race_win[c][1] = dn > 0.0 && dn < 0.9 * base ? CPU_PATH_DNNL : deflt;
        }
    }
    free(x), free(w), free(y), free(b);
    race_done = 1;
}

int cpu_gemm_race_pick(vitcl_context *ctx, size_t m, size_t n, size_t k, int gelu)
{
    if (ctx->gemm.onednn)
        return CPU_PATH_DNNL;
    int deflt = ctx->gemm.linear ? CPU_PATH_OWN : CPU_PATH_BLAS;
    if (!ctx->gemm.race || (double)m * (double)n * (double)k < (double)RACE_MIN)
        return deflt;
    pthread_mutex_lock(&race_lock);
    if (!race_done)
        run_race(ctx);
    int win = race_win[race_class(m, k)][gelu != 0];
    pthread_mutex_unlock(&race_lock);
    /* A verdict from a context that ran linear on the own kernels means nothing to one that
     * cannot (VITCL_CPU_GEMM is read per context, the verdict is per process). */
    return win == CPU_PATH_OWN && !ctx->gemm.linear ? deflt : win;
}

/* One run of the own GEMM on bf16 weights wb with X taken as `bx` (CPU_BF16_X_ROUND: the
 * bf16 kernels; CPU_BF16_X_WIDEN: W widened while packed, fp32 kernels); ms, or < 0. */
static double bf16_run(vitcl_context *ctx, int bx, const float *x, const uint16_t *wb,
                       const float *b, float *y, size_t m, size_t k)
{
    int saved = ctx->gemm.bf16_x;
    ctx->gemm.bf16_x = bx; /* this context's thread is the only one reading it */
    uint64_t t0 = cpu_now_ns();
    vitcl_status st = cpu_gemm_linear_fmt(ctx, "bf16 race", x, k, wb, VITCL_PRECISION_BF16, k,
                                          b, y, RACE_N, m, RACE_N, k, 0);
    double t = elapsed_ms(t0);
    ctx->gemm.bf16_x = saved;
    return st == VITCL_OK ? t : -1.0;
}

/* Fills bf16_widen and bf16_ms; race_lock is held. */
static void run_bf16_race(vitcl_context *ctx)
{
    size_t mmax = 768, kmax = 4096;
    float *x = malloc(mmax * kmax * sizeof *x), *w = malloc((size_t)RACE_N * kmax * sizeof *w);
    float *y = malloc(mmax * RACE_N * sizeof *y), *b = malloc(RACE_N * sizeof *b);
    uint16_t *wb = malloc((size_t)RACE_N * kmax * sizeof *wb);
    if (x && w && y && b && wb) {
        for (size_t i = 0; i < mmax * kmax; i++)
            x[i] = (float)((i * 7919u) % 2001u) / 1000.0f - 1.0f;
        for (size_t i = 0; i < (size_t)RACE_N * kmax; i++)
            w[i] = (float)((i * 104729u) % 2001u) / 1000.0f - 1.0f;
        cpu_half_narrow(w, VITCL_PRECISION_BF16, wb, (size_t)RACE_N * kmax);
        for (size_t j = 0; j < RACE_N; j++)
            b[j] = 0.01f * (float)j;
        static const int modes[2] = {CPU_BF16_X_ROUND, CPU_BF16_X_WIDEN};
        for (int c = 0; c < RACE_CLASSES; c++) {
            size_t m, k;
            race_shape(c, &m, &k);
            double best[2] = {1e30, 1e30};
            for (int r = 0; r < 2; r++)
                for (int i = 0; i < 2; i++) {
                    double t = bf16_run(ctx, modes[i], x, wb, b, y, m, k);
                    if (t >= 0.0 && t < best[i])
                        best[i] = t;
                }
            bf16_ms[c][0] = best[0];
            bf16_ms[c][1] = best[1];
            bf16_widen[c] = best[1] < 0.9 * best[0];
        }
    }
    free(x), free(w), free(y), free(b), free(wb);
    bf16_done = 1;
}

/* Whether ctx is one whose bf16 linears the bf16 race decides: it races, runs linear on the
 * own GEMM with the AVX512-BF16 kernels (not AMX: there the tiles won 3.5-6x, docs) and
 * VITCL_CPU_BF16 is auto. */
static int bf16_races(const vitcl_context *ctx)
{
    const cpu_gemm_plan *p = &ctx->gemm;
    return p->race && p->linear && p->bf16 && !p->amx && p->bf16_x == CPU_BF16_X_AUTO;
}

void cpu_gemm_race_bf16(vitcl_context *ctx, size_t m, size_t n, size_t k)
{
    if (!bf16_races(ctx) || (double)m * (double)n * (double)k < (double)RACE_MIN)
        return;
    pthread_mutex_lock(&race_lock);
    if (!bf16_done)
        run_bf16_race(ctx);
    pthread_mutex_unlock(&race_lock);
}

int cpu_gemm_race_bf16_widen(const cpu_gemm_plan *plan, size_t m, size_t n, size_t k)
{
    if (!plan->race || plan->amx || (double)m * (double)n * (double)k < (double)RACE_MIN)
        return 0;
    pthread_mutex_lock(&race_lock);
    int widen = bf16_done && bf16_widen[race_class(m, k)];
    pthread_mutex_unlock(&race_lock);
    return widen;
}

void cpu_gemm_race_describe(char *out, size_t len)
{
    static const char *const names[RACE_CLASSES] = {"m<=512 k<=2048", "m<=512 k>2048",
                                                    "m>512 k<=2048", "m>512 k>2048"};
    static const char *const paths[RACE_PATHS] = {"own", "OpenBLAS", "oneDNN"};
    pthread_mutex_lock(&race_lock);
    size_t used;
    if (!race_done) {
        used = (size_t)snprintf(out, len, "fp32 linear: own, OpenBLAS or oneDNN (%s) per shape "
                                          "class, raced at the first large one",
                                cpu_onednn_built() ? "built in" : "not built in");
    } else {
        used = (size_t)snprintf(out, len, "fp32 linear, raced (own/OpenBLAS/oneDNN ms; 0: did "
                                          "not run):");
        for (int c = 0; c < RACE_CLASSES && used < len; c++)
            used += (size_t)snprintf(out + used, len - used,
                                     " %s %s, GELU %s (%.2f/%.2f/%.2f)%s", names[c],
                                     paths[race_win[c][0]], paths[race_win[c][1]],
                                     race_ms[c][0], race_ms[c][1], race_ms[c][2],
                                     c + 1 < RACE_CLASSES ? ";" : "");
    }
    if (bf16_done)
        for (int c = 0; c < RACE_CLASSES && used < len; c++)
            used += (size_t)snprintf(out + used, len - used,
                                     "%s %s %s (%.2f/%.2f)", c ? ";" : "; bf16 linear, raced "
                                     "(bf16 products/widened ms):", names[c],
                                     bf16_widen[c] ? "widened" : "bf16", bf16_ms[c][0],
                                     bf16_ms[c][1]);
    pthread_mutex_unlock(&race_lock);
}
