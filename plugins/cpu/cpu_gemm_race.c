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
 * its context's pool, once, at one ViT-L shape per class (tokens up to or above 512: 197 or
 * 768; depth up to or above 2048: QKV's 3072 x 1024 or fc2's 1024 x 4096), the own kernels
 * also at the split depth block in the deep classes (cpu_gemm_kc_split). They run in turn,
 * RACE_ROUNDS times (more, up to RACE_ROUNDS_MAX, while a contestant's best time has no second
 * within 15% of it), W evicted from the caches before each run as a forward reads it from
 * memory, and the best time of each counts (oneDNN after an untimed call that compiles its
 * primitive); one more than 1.5x behind after the first round stops, and one more than 3x
 * behind is left out of the later classes. A challenger takes a class from the incumbent
 * (oneDNN where it is built in, else the own kernels where the context runs linear on them,
 * else OpenBLAS) only when it was at least 10% faster; linears with GELU follow the same
 * rule without OpenBLAS where the own kernels can run (OpenBLAS would need a second pass
 * over Y). It costs 0.5-2 s of the first model load on 2 cores (most of it OpenBLAS's
 * Prescott kernel where OpenBLAS does not know the CPU); VITCL_CPU_GEMM=onednn, own or
 * openblas skip it.
 *
 * One verdict per process, shared by every context afterwards: two contexts never run the
 * same linear on different code, so outputs stay bit-identical across threads and contexts
 * of a process (tests/hardening compares them byte for byte); another process may decide
 * otherwise when the contestants are within noise of each other, which changes results only
 * by the rounding each path is allowed (the cpu suite checks each path against ref with
 * VITCL_CPU_GEMM=own, =openblas and =onednn). The race takes about 40 MB for its duration;
 * a contestant that cannot run (no memory for its scratch, oneDNN refusing the shape) is
 * left out.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_half.h"
#include "cpu_internal.h"
#include "cpu_rowwise.h"

#define RACE_CLASSES 4
#define RACE_PATHS 3 /* CPU_PATH_OWN, _BLAS, _DNNL */
#define RACE_NMAX 3072                       /* outputs of the widest raced shape */
#define RACE_WMAX ((size_t)1024 * 4096)       /* elements of the largest raced W */
#define RACE_MIN ((size_t)1 << 27) /* multiply-adds of a linear worth racing for */
#define RACE_ROUNDS 2     /* rounds each contestant runs at least */
#define RACE_ROUNDS_MAX 4 /* at most: while a best time is not confirmed (confirmed) */
#define RACE_CONFIRM 1.15 /* a best time is confirmed by a second one within this factor */

static pthread_mutex_t race_lock = PTHREAD_MUTEX_INITIALIZER;
static int race_done;                          /* these under race_lock */
static int race_win[RACE_CLASSES][2];          /* class, gelu -> CPU_PATH_* */
static double race_ms[RACE_CLASSES][RACE_PATHS]; /* best time of each; 0: did not run */
/* The own kernels in the deep classes (k > 2048) at the split depth block too: */
static int race_split[RACE_CLASSES];     /* class -> the split depth block won */
static double race_split_ms[RACE_CLASSES]; /* its best time; 0: not run */
/* The bf16 race (AVX512-BF16 products on the own kernels and on oneDNN against the widened
 * weight on the fp32 race's winner), run after the fp32 race, at the first large linear on a
 * bf16 weight; also under race_lock. */
static int bf16_done;
static int bf16_widen[RACE_CLASSES];     /* class -> widening won */
static int bf16_wide_path[RACE_CLASSES]; /* class -> CPU_PATH_* the widened weight ran on */
static int bf16_dnnl[RACE_CLASSES];      /* class -> oneDNN's bf16 products beat the own */
/* best own bf16 products, best widened, best oneDNN bf16 products (0: did not run) */
static double bf16_ms[RACE_CLASSES][3];

static int race_class(size_t m, size_t k)
{
    return (m > 512 ? 2 : 0) + (k > 2048 ? 1 : 0);
}

/* The shape raced for class c: ViT-L's fused QKV (3072 x 1024) at depth 1024, its fc2
 * (1024 x 4096) at depth 4096; 197 tokens (one image) or 768. With 1024 outputs at depth
 * 1024 (the projection) the own kernels and oneDNN ran even, while on QKV and fc1 in the
 * forward oneDNN ran 14-16% ahead on the Intel Xeon without AMX: the width counts. */
static void race_shape(int c, size_t *m, size_t *n, size_t *k)
{
    *m = c & 2 ? 768 : 197;
    *n = c & 1 ? 1024 : 3072;
    *k = c & 1 ? 4096 : 1024;
}

/* Evicts [p, p + bytes) from every cache level (x86 clflush; a no-op elsewhere), so that a
 * contestant reads W from memory as a forward pass does: its weights (1.2 GB for ViT-L) are
 * far past any cache, while X comes hot from the op before. Timed hot, W favoured the own
 * kernels by 10-20% against oneDNN compared with the forward (Intel Xeon without AMX). */
static void evict(const void *p, size_t bytes)
{
#if defined(__x86_64__) || defined(__i386__)
    const char *c = p;
    for (size_t i = 0; i < bytes; i += 64)
        __builtin_ia32_clflush(c + i);
    __builtin_ia32_mfence();
#else
    (void)p, (void)bytes;
#endif
}

static double elapsed_ms(uint64_t t0)
{
    return (double)(cpu_now_ns() - t0) / 1e6;
}

/* The race's operands, for the largest raced shape of each: X [768, 4096], W (RACE_WMAX
 * elements), Y [768, RACE_NMAX] and the bias, filled with fixed values in [-1, 1]. */
typedef struct race_ops {
    float *x, *w, *y, *b;
} race_ops;

#define RACE_MMAX 768
#define RACE_KMAX 4096

/* Allocates and fills ops; 0 (nothing left allocated) when memory is short. */
static int race_ops_make(race_ops *ops)
{
    ops->x = malloc((size_t)RACE_MMAX * RACE_KMAX * sizeof *ops->x);
    ops->w = malloc(RACE_WMAX * sizeof *ops->w);
    ops->y = malloc((size_t)RACE_MMAX * RACE_NMAX * sizeof *ops->y);
    ops->b = malloc(RACE_NMAX * sizeof *ops->b);
    if (!ops->x || !ops->w || !ops->y || !ops->b) {
        free(ops->x), free(ops->w), free(ops->y), free(ops->b);
        return 0;
    }
    for (size_t i = 0; i < (size_t)RACE_MMAX * RACE_KMAX; i++)
        ops->x[i] = (float)((i * 7919u) % 2001u) / 1000.0f - 1.0f;
    for (size_t i = 0; i < RACE_WMAX; i++)
        ops->w[i] = (float)((i * 104729u) % 2001u) / 1000.0f - 1.0f;
    for (size_t j = 0; j < RACE_NMAX; j++)
        ops->b[j] = 0.01f * (float)j;
    return 1;
}

static void race_ops_free(race_ops *ops)
{
    free(ops->x), free(ops->w), free(ops->y), free(ops->b);
}

/* Whether every live entry's best time (best[e]) is confirmed by a second run within
 * RACE_CONFIRM of it (second[e]): a best time alone may be the one clean run of a contestant
 * whose other runs a neighbour's burst slowed, or the others' may all have been slowed; in a
 * bf16 process right after its weights were packed, the race once gave class S to the own
 * kernels at 4.6 ms against oneDNN's 9.3 (3.6-3.7 in the fp32 processes of the same run). */
/* Takes run time t of entry e into best, second and live (t < 0: it could not run). */
static void note_time(double t, int e, double *best, double *second, int *live)
{
    if (t < 0.0) {
        live[e] = 0;
    } else if (t < best[e]) {
        second[e] = best[e];
        best[e] = t;
    } else if (t < second[e]) {
        second[e] = t;
    }
}

static int confirmed(const double *best, const double *second, const int *live, int entries)
{
    for (int e = 0; e < entries; e++)
        if (live[e] && second[e] > RACE_CONFIRM * best[e])
            return 0;
    return 1;
}

/* Whether a linear of this shape is large enough for the races to decide it. */
static int worth_racing(size_t m, size_t n, size_t k)
{
    return (double)m * (double)n * (double)k >= (double)RACE_MIN;
}

/* One run of contestant `path` at this shape; returns ms, or a negative value when it
 * could not run. */
static double race_run(vitcl_context *ctx, int path, const float *x, const float *w,
                       const float *b, float *y, size_t m, size_t n, size_t k)
{
    evict(w, n * k * sizeof *w);
    uint64_t t0 = cpu_now_ns();
    if (path == CPU_PATH_OWN) {
        /* race_lock is held: the depth block is given, not asked of cpu_gemm_race_kc */
        size_t saved = ctx->gemm.kc_force;
        ctx->gemm.kc_force = saved ? saved : ctx->gemm.kc;
        vitcl_status st =
            cpu_gemm_linear(ctx, "gemm race", x, k, w, k, b, y, n, m, n, k, 0);
        ctx->gemm.kc_force = saved;
        if (st != VITCL_OK)
            return -1.0;
    } else if (path == CPU_PATH_BLAS) {
        cpu_linear_openblas(ctx, x, w, b, y, m, n, k);
    } else if (cpu_onednn_linear(ctx, "gemm race", x, w, VITCL_PRECISION_FP32, b, y, m, n, k,
                                 0) != VITCL_OK) {
        return -1.0;
    }
    return elapsed_ms(t0);
}

/* Runs the race on ctx's pool and fills race_win and race_ms; race_lock is held. */
static void run_race(vitcl_context *ctx)
{
    /* The incumbent a challenger must beat by 10%: oneDNN where it is built in (in every
     * forward measured on the Intel Xeon without AMX it ran ahead of the own kernels, by more
     * than this race at hot shapes showed), else the context's default. */
    int deflt = cpu_onednn_built() ? CPU_PATH_DNNL
                : ctx->gemm.linear ? CPU_PATH_OWN
                                   : CPU_PATH_BLAS;
    for (int c = 0; c < RACE_CLASSES; c++) /* when the race cannot run: no challenger */
        race_win[c][0] = race_win[c][1] = ctx->gemm.linear ? CPU_PATH_OWN : CPU_PATH_BLAS;
    race_ops ops;
    if (race_ops_make(&ops)) {
        const float *x = ops.x, *w = ops.w, *b = ops.b;
        float *y = ops.y;
        int can[RACE_PATHS] = {ctx->gemm.linear != 0, 1, cpu_onednn_built()};
        for (int c = 0; c < RACE_CLASSES; c++) {
            size_t m, n, k;
            race_shape(c, &m, &n, &k);
            double *best = race_ms[c];
            /* oneDNN compiles a primitive per shape on its first call: not part of the race */
            if (can[CPU_PATH_DNNL] &&
                race_run(ctx, CPU_PATH_DNNL, x, w, b, y, m, n, k) < 0.0)
                can[CPU_PATH_DNNL] = 0;
            /* Entries: the three paths, then the own kernels at the split depth block in the
             * deep classes where it differs (X of a token block then stays in L2: on the
             * Intel Xeon without AMX 1.4-1.6x at 197 tokens and k = 4096). They run in turn,
             * RACE_ROUNDS times (the machine's noise then hits all alike), and up to
             * RACE_ROUNDS_MAX while a best time is not confirmed (confirmed); the best time of
             * each counts; one over 1.5x the best after the first round stops running. W is
             * evicted from the caches before each run (evict). */
            size_t split = ctx->gemm.isa ? cpu_gemm_kc_split(&ctx->gemm, m) : 0;
            int entries = RACE_PATHS +
                          ((c & 1) && can[CPU_PATH_OWN] && split && split < ctx->gemm.kc);
            double t_best[RACE_PATHS + 1], t_second[RACE_PATHS + 1];
            int live[RACE_PATHS + 1];
            for (int e = 0; e < entries; e++) {
                t_best[e] = t_second[e] = 1e30;
                live[e] = e < RACE_PATHS ? can[e] : 1;
            }
            for (int r = 0; r < RACE_ROUNDS_MAX; r++) {
                if (r >= RACE_ROUNDS && confirmed(t_best, t_second, live, entries))
                    break;
                double top = 1e30;
                for (int e = 0; e < entries; e++) {
                    if (!live[e])
                        continue;
                    ctx->gemm.kc_force = e == RACE_PATHS ? split : 0;
                    double t = race_run(ctx, e < RACE_PATHS ? e : CPU_PATH_OWN, x, w, b, y, m,
                                        n, k);
                    ctx->gemm.kc_force = 0;
                    note_time(t, e, t_best, t_second, live);
                    if (live[e] && t_best[e] < top)
                        top = t_best[e];
                }
                for (int e = 0; r == 0 && e < entries; e++) {
                    if (live[e] && t_best[e] > 1.5 * top)
                        live[e] = 0;
                    /* over 3x behind: a path too slow to matter (OpenBLAS's Prescott kernel
                     * on a CPU it does not know) is not run in the later classes either */
                    if (e < RACE_PATHS && t_best[e] < 1e30 && t_best[e] > 3.0 * top)
                        can[e] = 0;
                }
            }
            for (int p = 0; p < RACE_PATHS; p++)
                best[p] = t_best[p] < 1e30 ? t_best[p] : 0.0;
            race_split[c] = 0;
            race_split_ms[c] = entries > RACE_PATHS && t_best[RACE_PATHS] < 1e30
                                   ? t_best[RACE_PATHS]
                                   : 0.0;
            if (race_split_ms[c] > 0.0 &&
                (best[CPU_PATH_OWN] <= 0.0 || race_split_ms[c] < 0.95 * best[CPU_PATH_OWN])) {
                race_split[c] = 1;
                best[CPU_PATH_OWN] = race_split_ms[c]; /* the own kernels at their best */
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
            /* With GELU: the same rule without OpenBLAS where the own kernels can run (it
             * would need a second pass over Y; they and oneDNN fuse GELU). */
            int gdef = deflt == CPU_PATH_BLAS && can[CPU_PATH_OWN] ? CPU_PATH_OWN : deflt;
            double gbase = best[gdef] > 0.0 ? best[gdef] : 1e30;
            int gwin = gdef;
            for (int p = 0; p < RACE_PATHS; p++)
                if (p != gdef && !(p == CPU_PATH_BLAS && can[CPU_PATH_OWN]) && best[p] > 0.0 &&
                    best[p] < 0.9 * gbase && (gwin == gdef || best[p] < best[gwin]))
                    gwin = p;
            race_win[c][1] = gwin;
        }
        race_ops_free(&ops);
    }
    race_done = 1;
}

size_t cpu_gemm_race_kc(const cpu_gemm_plan *plan, size_t m, size_t n, size_t k)
{
    if (!plan->race || !worth_racing(m, n, k))
        return 0;
    pthread_mutex_lock(&race_lock);
    /* The fp32 race's verdict on the own fp32 kernels' depth block (the bf16 race runs it
     * first: a widened weight runs the same kernels). */
    int split = race_done && race_split[race_class(m, k)];
    pthread_mutex_unlock(&race_lock);
    return split ? cpu_gemm_kc_split(plan, m) : 0;
}

int cpu_gemm_race_pick(vitcl_context *ctx, size_t m, size_t n, size_t k, int gelu)
{
    if (ctx->gemm.onednn)
        return CPU_PATH_DNNL;
    int deflt = ctx->gemm.linear ? CPU_PATH_OWN : CPU_PATH_BLAS;
    if (!ctx->gemm.race || !worth_racing(m, n, k))
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
                       const float *b, float *y, size_t m, size_t n, size_t k, size_t kc)
{
    int saved = ctx->gemm.bf16_x;
    ctx->gemm.bf16_x = bx; /* this context's thread is the only one reading it */
    /* race_lock is held: the widened weight's depth block is given (kc, else the plan's),
     * not asked of cpu_gemm_race_kc */
    ctx->gemm.kc_force = kc ? kc : ctx->gemm.kc;
    evict(wb, n * k * sizeof *wb);
    uint64_t t0 = cpu_now_ns();
    vitcl_status st = cpu_gemm_linear_fmt(ctx, "bf16 race", x, k, wb, VITCL_PRECISION_BF16, k,
                                          b, y, n, m, n, k, 0);
    double t = elapsed_ms(t0);
    ctx->gemm.kc_force = 0;
    ctx->gemm.bf16_x = saved;
    return st == VITCL_OK ? t : -1.0;
}

/* One run of oneDNN on bf16 weights wb (each chunk widened, cpu_gemm_onednn.c); ms, or < 0. */
static double bf16_run_dnnl(vitcl_context *ctx, const float *x, const uint16_t *wb,
                            const float *b, float *y, size_t m, size_t n, size_t k)
{
    evict(wb, n * k * sizeof *wb);
    uint64_t t0 = cpu_now_ns();
    vitcl_status st = cpu_onednn_linear(ctx, "bf16 race", x, wb, VITCL_PRECISION_BF16, b, y, m,
                                        n, k, 0);
    double t = elapsed_ms(t0);
    return st == VITCL_OK ? t : -1.0;
}

/* One run of oneDNN's bf16 products (X rounded, cpu_onednn_linear_bf16); ms, or < 0. */
static double bf16_run_dnnl_dot(vitcl_context *ctx, const float *x, const uint16_t *wb,
                                const float *b, float *y, size_t m, size_t n, size_t k)
{
    evict(wb, n * k * sizeof *wb);
    uint64_t t0 = cpu_now_ns();
    vitcl_status st = cpu_onednn_linear_bf16(ctx, "bf16 race", x, wb, b, y, m, n, k, 0);
    double t = elapsed_ms(t0);
    return st == VITCL_OK ? t : -1.0;
}

/* Fills bf16_widen, bf16_wide_path, bf16_dnnl and bf16_ms; race_lock is held. The bf16
 * products run on oneDNN (its brgemm on vdpbf16ps; on the AMD Zen 5 machine 826-900 GFLOP/s
 * at the ViT-L shapes against the own kernels' 636-761, docs/performance.md) where it is
 * built in and runs, unless the own bf16 kernels were 10% faster, the rule of the fp32 race.
 * A widened weight runs where an fp32 one of its class does (cpu_linear.c), so the fp32 race
 * comes first and the widened contestant runs on its winner: oneDNN on widened chunks, else
 * the own kernels widening while they pack, at the depth block the fp32 race chose for them
 * (where OpenBLAS won fp32 too: the own kernels are what a context with the bf16 kernels
 * runs); it takes the class where it was 10% faster than the bf16 products chosen. */
static void run_bf16_race(vitcl_context *ctx)
{
    if (!race_done)
        run_race(ctx);
    race_ops ops;
    uint16_t *wb = malloc(RACE_WMAX * sizeof *wb);
    if (wb && race_ops_make(&ops)) {
        const float *x = ops.x, *b = ops.b;
        float *y = ops.y;
        cpu_half_narrow(ops.w, VITCL_PRECISION_BF16, wb, RACE_WMAX);
        for (int c = 0; c < RACE_CLASSES; c++) {
            size_t m, n, k;
            race_shape(c, &m, &n, &k);
            int dnnl = race_win[c][0] == CPU_PATH_DNNL;
            size_t kc = race_split[c] ? cpu_gemm_kc_split(&ctx->gemm, m) : 0;
            /* oneDNN compiles a primitive per shape on its first call: not part of the race */
            if (dnnl && bf16_run_dnnl(ctx, x, wb, b, y, m, n, k) < 0.0)
                dnnl = 0;
            int dot = cpu_onednn_built() && bf16_run_dnnl_dot(ctx, x, wb, b, y, m, n, k) >= 0.0;
            bf16_wide_path[c] = dnnl ? CPU_PATH_DNNL : CPU_PATH_OWN;
            double best[3] = {1e30, 1e30, 1e30}, second[3] = {1e30, 1e30, 1e30};
            int live[3] = {1, 1, dot};
            /* In turn, RACE_ROUNDS times and up to RACE_ROUNDS_MAX while a best time is not
             * confirmed, as in the fp32 race. */
            for (int r = 0; r < RACE_ROUNDS_MAX; r++) {
                if (r >= RACE_ROUNDS && confirmed(best, second, live, 3))
                    break;
                for (int i = 0; i < 3; i++) {
                    if (!live[i])
                        continue;
                    double t = i == 0 ? bf16_run(ctx, CPU_BF16_X_ROUND, x, wb, b, y, m, n, k, 0)
                               : i == 2 ? bf16_run_dnnl_dot(ctx, x, wb, b, y, m, n, k)
                               : dnnl   ? bf16_run_dnnl(ctx, x, wb, b, y, m, n, k)
                                        : bf16_run(ctx, CPU_BF16_X_WIDEN, x, wb, b, y, m, n, k, kc);
                    note_time(t, i, best, second, live);
                }
            }
            bf16_dnnl[c] = dot && best[2] < 1e30 && !(best[0] < 0.9 * best[2]);
            double products = bf16_dnnl[c] ? best[2] : best[0];
            bf16_ms[c][0] = best[0];
            bf16_ms[c][1] = best[1];
            bf16_ms[c][2] = dot ? best[2] : 0.0;
            bf16_widen[c] = best[1] < 0.9 * products;
        }
        race_ops_free(&ops);
    }
    free(wb);
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
    if (!bf16_races(ctx) || !worth_racing(m, n, k))
        return;
    pthread_mutex_lock(&race_lock);
    if (!bf16_done)
        run_bf16_race(ctx);
    pthread_mutex_unlock(&race_lock);
}

/* verdict[class] of the bf16 race for this shape; 0 where the race does not decide it. */
static int bf16_verdict(const cpu_gemm_plan *plan, size_t m, size_t n, size_t k,
                        const int verdict[RACE_CLASSES])
{
    if (!plan->race || plan->amx || !worth_racing(m, n, k))
        return 0;
    pthread_mutex_lock(&race_lock);
    int v = bf16_done && verdict[race_class(m, k)];
    pthread_mutex_unlock(&race_lock);
    return v;
}

int cpu_gemm_race_bf16_widen(const cpu_gemm_plan *plan, size_t m, size_t n, size_t k)
{
    return bf16_verdict(plan, m, n, k, bf16_widen);
}

int cpu_gemm_race_bf16_dnnl(const cpu_gemm_plan *plan, size_t m, size_t n, size_t k)
{
    return plan->onednn || bf16_verdict(plan, m, n, k, bf16_dnnl);
}

/* snprintf at out + *used, advancing *used, never past len. */
static void put(char *out, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *out, size_t len, size_t *used, const char *fmt, ...)
{
    if (*used >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *used, len - *used, fmt, ap);
    va_end(ap);
    *used = n < 0 ? len : *used + (size_t)n;
}

void cpu_gemm_race_describe(char *out, size_t len)
{
    /* Compact (device_info's extra is 512 bytes with the rest of the plugin's line): the
     * verdicts first, then the times, which are cut first when there is no room. */
    static const char *const names[RACE_CLASSES] = {"S", "Sd", "L", "Ld"};
    static const char *const paths[RACE_PATHS] = {"own", "OpenBLAS", "oneDNN"};
    size_t used = 0;
    if (len)
        out[0] = '\0';
    pthread_mutex_lock(&race_lock);
    if (!race_done && !bf16_done) {
        put(out, len, &used, "fp32 linear: own, OpenBLAS or oneDNN (%s) per shape class, raced "
                             "at the first large one",
            cpu_onednn_built() ? "built in" : "not built in");
        pthread_mutex_unlock(&race_lock);
        return;
    }
    put(out, len, &used, "races (S, L: m <= or > 512; d: k > 2048):");
    if (race_done) {
        put(out, len, &used, " fp32");
        for (int c = 0; c < RACE_CLASSES; c++) {
            put(out, len, &used, " %s %s%s", names[c], paths[race_win[c][0]],
                !race_split[c]                       ? ""
                : race_win[c][0] == CPU_PATH_OWN ? " split-k"
                                                 : " (own split-k)");
            if (race_win[c][1] != race_win[c][0])
                put(out, len, &used, " (GELU %s)", paths[race_win[c][1]]);
            put(out, len, &used, c + 1 < RACE_CLASSES ? "," : ";");
        }
    }
    if (bf16_done) {
        put(out, len, &used, " bf16");
        for (int c = 0; c < RACE_CLASSES; c++)
            put(out, len, &used, " %s %s%s", names[c],
                bf16_widen[c]   ? (bf16_wide_path[c] == CPU_PATH_DNNL ? "widened oneDNN"
                                                                        : "widened own")
                : bf16_dnnl[c] ? "bf16 oneDNN"
                                : "bf16 own",
                c + 1 < RACE_CLASSES ? "," : ";");
    }
    if (race_done) {
        put(out, len, &used, " ms own/OpenBLAS/oneDNN(/own split-k):");
        for (int c = 0; c < RACE_CLASSES; c++) {
            put(out, len, &used, " %s %.1f/%.1f/%.1f", names[c], race_ms[c][0], race_ms[c][1],
                race_ms[c][2]);
            if (race_split_ms[c] > 0.0)
                put(out, len, &used, "/%.1f", race_split_ms[c]);
        }
        put(out, len, &used, ";");
    }
    if (bf16_done) {
        put(out, len, &used, " ms bf16 own/widened/oneDNN:");
        for (int c = 0; c < RACE_CLASSES; c++)
            put(out, len, &used, " %s %.1f/%.1f/%.1f", names[c], bf16_ms[c][0], bf16_ms[c][1],
                bf16_ms[c][2]);
    }
    pthread_mutex_unlock(&race_lock);
}
