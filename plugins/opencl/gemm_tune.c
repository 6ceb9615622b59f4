/* plugins/opencl/gemm_tune.c - per-device choice of the linear implementation.
 *
 * Candidates: the gemm_packed kernel at each tile height (6, 8 or 12 rows x 32 columns per
 * work-item; clkernels/gemm.cl), the work-group-tiled gemm_tiled with 64 or 256 work-items per
 * group (clkernels/gemm_tiled.cl; skipped where the device's limits do not fit it) and CLBlast. At the first linear_pack_weight of a context the
 * candidates run on a few ViT-L shapes (m = 197 and 1576 tokens, n and k from 1024, 3072, 4096);
 * each result is compared with a double-precision reference at sampled elements and a wrong
 * candidate is discarded; a candidate falling 1.5x behind the best is dropped early, so the run
 * takes about a second on a 2-core CPU (plus CLBlast's first compile). The winner is stored in the
 * disk cache (kind "tune", keyed by the device identity, the CLBlast version and every kernel
 * source) so later processes skip the timing, unless an OpenCL call failed during the run (the
 * choice then holds for this context only).
 *
 * Where the self-check found CLBlast unusable (ctx->clblast_unusable, selfcheck.c) CLBlast is no
 * candidate; the verdict is part of the cache key, so a choice of CLBlast made elsewhere is never
 * read back for such a context.
 *
 * VITCL_CL_GEMM = clblast | mb6 | mb8 | mb12 | t64 | t256 forces a candidate (benchmarks, tests); the forced
 * choice is not cached. Forcing clblast where CLBlast is unusable fails naming the reason.
 *
 * 16-bit weights (bf16, fp16; pack_weight_host) are tuned the same way, separately per format, at
 * the first pack in that format, among the five variants built for it (CLBlast is not a
 * candidate: its half routines compute in half, which the fp16-storage contract does not allow).
 * The weights of the timed shapes are rounded to the format on the host first, so the double
 * reference sees exactly what the kernel reads. A forced variant applies to every format; a
 * forced clblast leaves the 16-bit formats tuned.
 */
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin_half.h"
#include "ocl.h"

#define N_CAND (OCL_GEMM_VARIANTS + 1) /* the variants, then CLBlast */
#define CAND_CLBLAST OCL_GEMM_VARIANTS
#define SAMPLES 64

static const char *const cand_names[N_CAND] = {"mb6", "mb8", "mb12", "t64", "t256", "clblast"};

typedef struct tune_shape {
    size_t m, n, k;
} tune_shape;

static const tune_shape shapes[] = {{197, 4096, 1024}, {197, 1024, 4096}, {1576, 3072, 1024}};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void set_mode(vitcl_context *ctx, int cand)
{
    if (cand == CAND_CLBLAST) {
        ctx->gemm_mode = OCL_GEMM_CLBLAST;
        return;
    }
    ctx->gemm_mode = OCL_GEMM_PANELS;
    ctx->gemm_kernel = (ocl_kernel_id)(OCL_K_GEMM_MB6 + cand);
}

static int tune_key(vitcl_context *ctx, ocl_wfmt fmt, unsigned char key[OCL_HASH_LEN])
{
    ocl_hasher *h = ocl_hash_begin();
    if (!h)
        return -1;
    char ver[64];
    snprintf(ver, sizeof ver, "CLBlast %d.%d.%d", CLBLAST_VERSION_MAJOR, CLBLAST_VERSION_MINOR,
             CLBLAST_VERSION_PATCH);
    ocl_hash_str(h, "vitcl-opencl-gemm-tune v2");
    ocl_hash_str(h, ver);
    /* A choice made with CLBlast among the candidates never serves a context without it. */
    ocl_hash_str(h, ctx->clblast_unusable ? "clblast unusable" : "clblast usable");
    ocl_hash_str(h, ocl_wfmt_name(fmt));
    ocl_hash_device(h, ctx->dev);
    if (ocl_hash_all_sources(ctx, h) != VITCL_OK) {
        unsigned char tmp[OCL_HASH_LEN];
        ocl_hash_end(h, tmp);
        return -1;
    }
    return ocl_hash_end(h, key);
}

/* Index of a candidate name, or -1. */
static int cand_index(const char *name, size_t len)
{
    for (int c = 0; c < N_CAND; c++)
        if (strlen(cand_names[c]) == len && memcmp(cand_names[c], name, len) == 0)
            return c;
    return -1;
}

typedef struct tune_run {
    vitcl_context *ctx;
    ocl_wfmt fmt; /* weight format of the candidates (CLBlast only with fp32) */
    float *x, *w, *b, *y;
    vitcl_buffer *X, *W, *Wp, *B, *Y;
} tune_run;

static void run_release(tune_run *r)
{
    vitcl_buffer **bufs[] = {&r->X, &r->W, &r->Wp, &r->B, &r->Y};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        ocl_buffer_free(r->ctx, *bufs[i]);
        *bufs[i] = NULL;
    }
    free(r->x), free(r->w), free(r->b), free(r->y);
    r->x = r->w = r->b = r->y = NULL;
}

static float tune_rand(uint32_t *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static vitcl_status run_prepare(tune_run *r, const tune_shape *sh)
{
    vitcl_context *ctx = r->ctx;
    size_t nx = sh->m * sh->k, nw = sh->n * sh->k, ny = sh->m * sh->n;
    r->x = malloc(nx * sizeof(float));
    r->w = malloc(nw * sizeof(float));
    r->b = malloc(sh->n * sizeof(float));
    r->y = malloc(ny * sizeof(float));
    if (!r->x || !r->w || !r->b || !r->y)
        return ocl_fail(ctx, VITCL_ERR_OUT_OF_MEMORY,
                        "opencl gemm tuning on %s: out of host memory", ctx->dev->info.name);
    uint32_t seed = 777u;
    for (size_t i = 0; i < nx; i++)
        r->x[i] = tune_rand(&seed);
    for (size_t i = 0; i < nw; i++) {
        float v = tune_rand(&seed) * 0.05f;
        /* 16-bit formats: the reference uses the values the kernel will read. */
        if (r->fmt == OCL_W_F16)
            v = plugin_f16_to_f32(plugin_f32_to_f16(v));
        else if (r->fmt == OCL_W_BF16)
            v = plugin_bf16_to_f32(plugin_f32_to_bf16(v));
        r->w[i] = v;
    }
    for (size_t i = 0; i < sh->n; i++)
        r->b[i] = tune_rand(&seed);
    vitcl_status s;
    if (r->fmt != OCL_W_F32) {
        void *panels = malloc((sh->n + OCL_GEMM_PANEL - 1) / OCL_GEMM_PANEL * OCL_GEMM_PANEL *
                              sh->k * ocl_wfmt_bytes(r->fmt));
        if (!panels)
            return ocl_fail(ctx, VITCL_ERR_OUT_OF_MEMORY,
                            "opencl gemm tuning on %s: out of host memory", ctx->dev->info.name);
        ocl_pack_host_panels(r->w, VITCL_DTYPE_F32, sh->n, sh->k, r->fmt, panels);
        s = ocl_upload_panels(ctx, panels, sh->n, sh->k, r->fmt, "gemm tuning W (16-bit)",
                              &r->Wp);
        free(panels);
        if (s != VITCL_OK)
            return s;
    }
    if ((s = ocl_buffer_alloc(ctx, nx * sizeof(float), "gemm tuning X", &r->X)) != VITCL_OK ||
        (s = ocl_buffer_write(ctx, r->X, 0, r->x, nx * sizeof(float))) != VITCL_OK ||
        (s = ocl_buffer_alloc(ctx, nw * sizeof(float), "gemm tuning W", &r->W)) != VITCL_OK ||
        (s = ocl_buffer_write(ctx, r->W, 0, r->w, nw * sizeof(float))) != VITCL_OK ||
        (s = ocl_buffer_alloc(ctx, sh->n * sizeof(float), "gemm tuning bias", &r->B)) !=
            VITCL_OK ||
        (s = ocl_buffer_write(ctx, r->B, 0, r->b, sh->n * sizeof(float))) != VITCL_OK ||
        (s = ocl_buffer_alloc(ctx, ny * sizeof(float), "gemm tuning Y", &r->Y)) != VITCL_OK ||
        (r->fmt == OCL_W_F32 &&
         (s = ocl_pack_panels(ctx, r->W, 0, sh->n, sh->k, "gemm tuning W (packed)", &r->Wp)) !=
             VITCL_OK))
        return s;
    return ocl_synchronize(ctx);
}

static vitcl_status run_once(tune_run *r, const tune_shape *sh, int cand, double *secs)
{
    vitcl_context *ctx = r->ctx;
    double t0 = now_s();
    vitcl_status s =
        cand == CAND_CLBLAST
            ? ocl_linear_clblast(ctx, r->X, 0, r->W, 0, r->B, 0, r->Y, 0, sh->m, sh->n, sh->k, 0)
            : ocl_linear_panels(ctx, ocl_gemm_kernel(r->fmt, cand), r->X, 0, r->Wp,
                                r->B, 0, r->Y, 0, sh->m, sh->n, sh->k, 0);
    if (s == VITCL_OK)
        s = ocl_synchronize(ctx);
    *secs = now_s() - t0;
    return s;
}

/* 1 when Y matches a double reference at SAMPLES pseudo-random elements (and the corners), 0
 * when not, -1 when Y could not be read. */
static int run_correct(tune_run *r, const tune_shape *sh)
{
    if (ocl_buffer_read(r->ctx, r->Y, 0, r->y, sh->m * sh->n * sizeof(float)) != VITCL_OK)
        return -1;
    uint32_t seed = 4242u;
    for (int s = 0; s < SAMPLES; s++) {
        seed = seed * 1664525u + 1013904223u;
        size_t i = s == 0 ? 0 : s == 1 ? sh->m - 1 : (seed >> 4) % sh->m;
        seed = seed * 1664525u + 1013904223u;
        size_t j = s == 0 ? 0 : s == 1 ? sh->n - 1 : (seed >> 4) % sh->n;
        double acc = r->b[j], mag = fabs(r->b[j]);
        for (size_t t = 0; t < sh->k; t++) {
            double p = (double)r->x[i * sh->k + t] * r->w[j * sh->k + t];
            acc += p;
            mag += fabs(p);
        }
        double got = r->y[i * sh->n + j];
        if (!(fabs(got - acc) <= 1e-5 * mag + 1e-6)) /* also catches NaN */
            return 0;
    }
    return 1;
}

/* Times every live candidate on every shape. *winner is the fastest candidate that computed
 * correctly on every shape; when the 1.5x rule and failures together left none, the correct
 * candidate dropped last for its speed; -1 when none computed correctly. *errored is set when a
 * candidate was dropped because an OpenCL call failed (rather than for a wrong result or its
 * speed): such a run may have lost the best candidate to a passing condition. The status of such
 * a failure (with its message in ctx->err) is returned when it left no candidate at all. */
static vitcl_status tune_run_all(vitcl_context *ctx, ocl_wfmt fmt, int *winner, int *errored)
{
    enum { DEAD = 0, ALIVE = 1, SLOW = 2 };
    double total[N_CAND] = {0};
    int state[N_CAND];
    size_t dropped_at[N_CAND] = {0};
    vitcl_status fail_st = VITCL_OK;
    char fail_msg[512] = "";
    *errored = 0;
    /* A variant this device cannot launch (work-group or local memory limits) never runs. */
    for (int c = 0; c < N_CAND; c++)
        state[c] = c == CAND_CLBLAST ? (fmt == OCL_W_F32 && !ctx->clblast_unusable ? ALIVE : DEAD)
                   : ctx->unfit[ocl_gemm_kernel(fmt, c)][0] ? DEAD
                                                            : ALIVE;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const tune_shape *sh = &shapes[si];
        tune_run r = {.ctx = ctx, .fmt = fmt};
        vitcl_status s = run_prepare(&r, sh);
        for (int c = 0; c < N_CAND && s == VITCL_OK; c++) {
            if (state[c] != ALIVE)
                continue;
            double t, best;
            /* The first run includes compiling the kernel; it is also the one checked. */
            vitcl_status rs = run_once(&r, sh, c, &t);
            int ok = rs == VITCL_OK ? run_correct(&r, sh) : -1;
            if (ok == 1 && ((rs = run_once(&r, sh, c, &best)) != VITCL_OK ||
                            (rs = run_once(&r, sh, c, &t)) != VITCL_OK))
                ok = -1;
            if (ok != 1) {
                state[c] = DEAD;
                if (ok < 0) {
                    *errored = 1;
                    fail_st = rs != VITCL_OK ? rs : VITCL_ERR_DEVICE;
                    ocl_copy_str(fail_msg, sizeof fail_msg, ctx->err);
                }
                continue;
            }
            total[c] += t < best ? t : best;
        }
        run_release(&r);
        if (s != VITCL_OK)
            return s;
        double lead = INFINITY;
        for (int c = 0; c < N_CAND; c++)
            if (state[c] == ALIVE && total[c] < lead)
                lead = total[c];
        for (int c = 0; c < N_CAND; c++)
            if (state[c] == ALIVE && total[c] > 1.5 * lead) {
                state[c] = SLOW;
                dropped_at[c] = si;
            }
    }
    *winner = -1;
    for (int c = 0; c < N_CAND; c++)
        if (state[c] == ALIVE && (*winner < 0 || total[c] < total[*winner]))
            *winner = c;
    /* The leader failed after the others fell behind it: take the correct one that kept up
     * longest rather than refusing a device on which a GEMM works. */
    int fallback = -1;
    for (int c = 0; *winner < 0 && c < N_CAND; c++)
        if (state[c] == SLOW &&
            (fallback < 0 || dropped_at[c] > dropped_at[fallback] ||
             (dropped_at[c] == dropped_at[fallback] && total[c] < total[fallback])))
            fallback = c;
    if (*winner < 0)
        *winner = fallback;
    if (*winner < 0 && fail_st != VITCL_OK)
        return ocl_fail(ctx, fail_st, "opencl on %s: every GEMM candidate failed; the last: %s",
                        ctx->dev->info.name, fail_msg);
    ctx->err[0] = '\0'; /* failures of discarded candidates are not the caller's error */
    return VITCL_OK;
}

const char *ocl_gemm_choice_name(const vitcl_context *ctx)
{
    if (ctx->gemm_mode == OCL_GEMM_CLBLAST)
        return cand_names[CAND_CLBLAST];
    if (ctx->gemm_mode == OCL_GEMM_PANELS && ocl_kernel_is_gemm(ctx->gemm_kernel))
        return cand_names[ctx->gemm_kernel - OCL_K_GEMM_MB6];
    return "undecided";
}

/* The candidate for weights of format fmt (CLBlast only for fp32) in *cand, and how it was
 * decided in *how: VITCL_CL_GEMM (a forced clblast leaves the 16-bit formats tuned), the disk
 * cache, or a timing run whose winner is cached (see the top of the file). */
static vitcl_status choose(vitcl_context *ctx, ocl_wfmt fmt, int *cand, const char **how)
{
    const char *force = getenv("VITCL_CL_GEMM");
    if (force && *force) {
        int c = cand_index(force, strlen(force));
        if (c < 0)
            return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                            "opencl on %s: VITCL_CL_GEMM='%s' is not one of clblast, mb6, mb8, "
                            "mb12, t64, t256",
                            ctx->dev->info.name, force);
        if (c != CAND_CLBLAST && ctx->unfit[ocl_gemm_kernel(fmt, c)][0])
            return ocl_fail(ctx, VITCL_ERR_UNSUPPORTED, "opencl on %s: VITCL_CL_GEMM='%s': %s",
                            ctx->dev->info.name, force, ctx->unfit[ocl_gemm_kernel(fmt, c)]);
        if (c == CAND_CLBLAST && fmt == OCL_W_F32 && ctx->clblast_unusable)
            return ocl_fail(ctx, VITCL_ERR_UNSUPPORTED, "opencl on %s: VITCL_CL_GEMM='%s': %s",
                            ctx->dev->info.name, force, ctx->clblast_note);
        if (c != CAND_CLBLAST || fmt == OCL_W_F32) {
            *cand = c;
            *how = "forced";
            return VITCL_OK;
        }
    }
    unsigned char key[OCL_HASH_LEN];
    int have_key = tune_key(ctx, fmt, key) == 0;
    if (have_key && ctx->cache_usable) {
        unsigned char *data = NULL;
        size_t len = 0;
        if (ocl_cache_read(ctx->cache_dir, "tune", key, &data, &len) == 1) {
            int c = cand_index((const char *)data, len);
            free(data);
            if (c == CAND_CLBLAST && (fmt != OCL_W_F32 || ctx->clblast_unusable))
                c = -1; /* never a 16-bit choice, nor one without CLBlast: a foreign entry */
            /* A cached variant this context cannot launch (lowered limits) means a new run. */
            if (c >= 0 && c != CAND_CLBLAST && ctx->unfit[ocl_gemm_kernel(fmt, c)][0])
                c = -2;
            if (c >= 0) {
                *cand = c;
                *how = "cached";
                return VITCL_OK;
            }
            if (c == -1)
                ocl_cache_remove(ctx->cache_dir, "tune", key);
        }
    }
    int winner = -1, errored = 0;
    vitcl_status s = tune_run_all(ctx, fmt, &winner, &errored);
    if (s != VITCL_OK)
        return s;
    if (winner < 0 && fmt == OCL_W_F32)
        return ocl_fail(ctx, VITCL_ERR_DEVICE,
                        "opencl on %s: neither CLBlast nor the packed GEMM kernel computed "
                        "linear correctly: refusing this device",
                        ctx->dev->info.name);
    if (winner < 0)
        return ocl_fail(ctx, VITCL_ERR_DEVICE,
                        "opencl on %s: no GEMM kernel with %s weights computed linear correctly",
                        ctx->dev->info.name, ocl_wfmt_name(fmt));
    *cand = winner;
    *how = "ran";
    /* A run in which an OpenCL call failed decides for this context only: the failure may have
     * been passing (out of resources under load), and caching would fix the choice for good. */
    /* Nor is a run under lowered test limits (VITCL_CL_LIMIT_*) cached: it saw fewer candidates. */
    if (have_key && ctx->cache_usable && !errored && !ctx->limits_note[0])
        ocl_cache_write(ctx->cache_dir, "tune", key, cand_names[winner],
                        strlen(cand_names[winner]));
    return VITCL_OK;
}

vitcl_status ocl_gemm_tune(vitcl_context *ctx)
{
    if (ctx->gemm_mode != OCL_GEMM_UNDECIDED)
        return VITCL_OK;
    int c = -1;
    vitcl_status s = choose(ctx, OCL_W_F32, &c, &ctx->gemm_tuning);
    if (s == VITCL_OK)
        set_mode(ctx, c);
    return s;
}

const char *ocl_gemm_choice_name_fmt(const vitcl_context *ctx, ocl_wfmt fmt)
{
    if (fmt == OCL_W_F32)
        return ocl_gemm_choice_name(ctx);
    ocl_kernel_id k = ctx->wkernel[fmt];
    return k && ocl_kernel_is_gemm(k) ? cand_names[ocl_gemm_variant(k)] : "undecided";
}

vitcl_status ocl_gemm_tune_fmt(vitcl_context *ctx, ocl_wfmt fmt)
{
    if (fmt == OCL_W_F32)
        return ocl_gemm_tune(ctx);
    if (ctx->wkernel[fmt])
        return VITCL_OK;
    int c = -1;
    vitcl_status s = choose(ctx, fmt, &c, &ctx->wtuning[fmt]);
    if (s == VITCL_OK)
        ctx->wkernel[fmt] = ocl_gemm_kernel(fmt, c);
    return s;
}
