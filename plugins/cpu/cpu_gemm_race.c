/* plugins/cpu/cpu_gemm_race.c - which GEMM runs an fp32 linear without GELU, per shape class,
 * on this machine: the own AVX-512 kernels (cpu_gemm.c) or OpenBLAS (cpu_linear.c).
 *
 * Neither wins everywhere. On the AMD Zen 5 machine the own kernels ran at about 90% of FMA
 * peak and ahead of OpenBLAS at every ViT shape; on the Intel Xeon with AMX, OpenBLAS's
 * SkylakeX kernel ran 20-40% faster at batch 8 and at fc2's depth (k = 4096) at batch 1, the
 * own kernels ahead elsewhere (docs/performance.md). So with VITCL_CPU_GEMM=auto the first
 * large fp32 linear of the process (at least RACE_MIN multiply-adds; the test fixtures stay
 * far below and never race) races the two on its context's pool, once, at one shape per class
 * (tokens up to or above 512, depth up to or above 2048; 1024 outputs, as a ViT-L projection:
 * with fewer, the X packing the own GEMM does once per call weighs more and biases the race),
 * keeps the better of two runs of each, and gives a class to OpenBLAS only when it was at
 * least 10% faster. Linears with GELU stay on the own kernels, whose epilogue applies it
 * (OpenBLAS needs a second pass over Y), and so do 16-bit weights (OpenBLAS would widen them).
 *
 * One verdict per process, shared by every context afterwards: two contexts never run the
 * same linear on different code, so outputs stay bit-identical across threads and contexts
 * of a process (tests/hardening compares them byte for byte); another process may decide
 * otherwise when the two are within noise of each other, which changes results only by the
 * rounding both paths are allowed (the cpu suite checks each path against ref with
 * VITCL_CPU_GEMM=own and =openblas). The race costs about 150 ms once (2 cores) and 30 MB
 * for its duration; if that memory or the own GEMM's scratch cannot be had, every class stays
 * on the own kernels.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"
#include "cpu_rowwise.h"

#define RACE_CLASSES 4
#define RACE_N 1024
#define RACE_REPS 2
#define RACE_MIN ((size_t)1 << 27) /* multiply-adds of a linear worth racing for */

static pthread_mutex_t race_lock = PTHREAD_MUTEX_INITIALIZER;
static int race_done;                 /* these four under race_lock */
static int race_blas[RACE_CLASSES];   /* class -> OpenBLAS won */
static double race_ms[RACE_CLASSES][2]; /* best own, best OpenBLAS */

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

/* Runs the race on ctx's pool and fills race_blas and race_ms; race_lock is held. */
static void run_race(vitcl_context *ctx)
{
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
        for (int c = 0; c < RACE_CLASSES; c++) {
            size_t m, k;
            race_shape(c, &m, &k);
            double best[2] = {1e30, 1e30};
            int own_ran = 1;
            for (int r = 0; r < RACE_REPS && own_ran; r++) {
                uint64_t t0 = cpu_now_ns();
                own_ran = cpu_gemm_linear(ctx, "gemm race", x, k, w, k, b, y, RACE_N, m, RACE_N,
                                          k, 0) == VITCL_OK;
                double t = elapsed_ms(t0);
                best[0] = t < best[0] ? t : best[0];
                t0 = cpu_now_ns();
                cpu_linear_openblas(ctx, x, w, b, y, m, RACE_N, k);
                t = elapsed_ms(t0);
                best[1] = t < best[1] ? t : best[1];
            }
            race_ms[c][0] = best[0];
            race_ms[c][1] = best[1];
            race_blas[c] = own_ran && best[1] < 0.9 * best[0];
        }
    }
    free(x), free(w), free(y), free(b);
    race_done = 1;
}

int cpu_gemm_race_blas(vitcl_context *ctx, size_t m, size_t n, size_t k)
{
    if (!ctx->gemm.race || (double)m * (double)n * (double)k < (double)RACE_MIN)
        return 0;
    pthread_mutex_lock(&race_lock);
    if (!race_done)
        run_race(ctx);
    int blas = race_blas[race_class(m, k)];
    pthread_mutex_unlock(&race_lock);
    return blas;
}

void cpu_gemm_race_describe(char *out, size_t len)
{
    static const char *const names[RACE_CLASSES] = {"m<=512 k<=2048", "m<=512 k>2048",
                                                    "m>512 k<=2048", "m>512 k>2048"};
    pthread_mutex_lock(&race_lock);
    if (!race_done) {
        pthread_mutex_unlock(&race_lock);
        snprintf(out, len, "fp32 linear without GELU: own or OpenBLAS per shape class, raced "
                           "at the first large one");
        return;
    }
    size_t used =
        (size_t)snprintf(out, len, "fp32 linear without GELU, raced (own/OpenBLAS ms):");
    for (int c = 0; c < RACE_CLASSES && used < len; c++)
        used += (size_t)snprintf(out + used, len - used, " %s %s (%.2f/%.2f)%s", names[c],
                                 race_blas[c] ? "OpenBLAS" : "own", race_ms[c][0],
                                 race_ms[c][1], c + 1 < RACE_CLASSES ? ";" : "");
    pthread_mutex_unlock(&race_lock);
}
