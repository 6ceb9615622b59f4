/* plugins/cpu/cpu_gemm_onednn.c - a linear (Y = X·W^T + b, optionally GELU) on oneDNN's matmul
 * primitive (Debian's libdnnl-dev), run on the context's own pool: fp32 products, or bf16 ones
 * on a bf16 weight.
 *
 * Why: oneDNN picks its kernels by the instruction sets the CPU reports at run time (on the
 * Intel Xeon and AMD Zen machines here, its brgemm AVX-512 kernels), and at some ViT shapes on
 * some machines it beats both the own kernels and OpenBLAS; cpu_gemm_race.c measures which
 * runs each shape class in this process, and VITCL_CPU_GEMM=onednn forces it.
 *
 * How: W stays where it lies (PyTorch's [n,k], handed to oneDNN as a k x n matrix with
 * strides {1, k}), and the bias and GELU (the erf form, oneDNN's eltwise post-op) are fused
 * into the primitive. Debian's oneDNN is built on OpenMP; rather than a second thread pool
 * that spins next to ours, Y is cut into tiles (several per thread: column chunks, and row
 * blocks too where that moves fewer floats, see dn_tiles) that the pool hands out as usual (so
 * a preempted worker costs one tile), and each tile is one single-threaded primitive
 * execution on the thread that claimed it: each thread's OpenMP
 * thread count is set to 1 before oneDNN sees it, so oneDNN never starts a thread of its own,
 * and the caller's setting is put back afterwards. Scratchpads are ours too (user mode, one
 * per thread in the context's per-thread scratch).
 *
 * A 16-bit weight (bf16 or fp16 [n,k] from pack_weight_host) runs the same fp32 primitive:
 * each tile first widens its rows of W (nc x k, contiguous) into the claiming thread's
 * scratch, past the scratchpad, where the primitive then reads them from L2. Widening a chunk
 * is one pass over it against 2m FLOPs per element, and the weight crosses memory at half the
 * bytes; X stays fp32, so the products are those of fp32 on the rounded weight.
 *
 * bf16 products (cpu_onednn_linear_bf16, where the CPU has AVX512-BF16): X is rounded to bf16
 * once per call by the own bf16 kernels' rounding (so both GEMMs round alike) into the packed-X
 * buffer, and every tile runs oneDNN's bf16 matmul on its rows of that and its rows of the bf16
 * W as stored, sums and output in fp32; on the AMD Zen 5 machine its brgemm ran 826-900
 * GFLOP/s at the ViT-L shapes against the own bf16 kernels' 636-761 (docs/performance.md), and
 * the bf16 race decides per machine (cpu_gemm_race.c).
 *
 * Primitives are created on first use per tile shape (rows, columns, k, bias, GELU) and kept in
 * the context (CPU_DNNL_CACHE of them, the oldest replaced), since oneDNN JIT-compiles each.
 * Any oneDNN failure comes back as a status and the caller runs the own GEMM instead.
 * Built only where meson found oneDNN (VITCL_HAVE_ONEDNN); elsewhere every entry says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_half.h"
#include "cpu_internal.h"

#if VITCL_HAVE_ONEDNN
#include <dnnl.h>
#include <omp.h>

#define CPU_DNNL_CACHE 32

typedef struct dn_prim {
    size_t m, nc, k;
    int bias, gelu;
    int bf; /* X and W in bf16 (bf16 products), else both fp32 */
    dnnl_primitive_t prim;
    dnnl_memory_desc_t xd, wd, bd, yd, sd;
    size_t scratch_bytes;
    uint64_t stamp; /* last use, on the cache's clock */
} dn_prim;

struct cpu_dnnl {
    dnnl_engine_t eng;
    dnnl_stream_t stream[CPU_MAX_THREADS];
    dn_prim cache[CPU_DNNL_CACHE];
    size_t used;    /* entries in use */
    uint64_t clock; /* counts lookups; the least recently used entry is replaced */
};

int cpu_onednn_built(void)
{
    return 1;
}

void cpu_onednn_describe(char *out, size_t len)
{
    const dnnl_version_t *v = dnnl_version();
    snprintf(out, len, "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
}

void cpu_onednn_destroy(cpu_dnnl *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->used; i++)
        dnnl_primitive_destroy(d->cache[i].prim);
    for (int t = 0; t < CPU_MAX_THREADS; t++)
        if (d->stream[t])
            dnnl_stream_destroy(d->stream[t]);
    if (d->eng)
        dnnl_engine_destroy(d->eng);
    free(d);
}

/* The context's engine and one stream per thread, made on first use. */
static vitcl_status dn_state(vitcl_context *ctx, const char *op, cpu_dnnl **out)
{
    if (ctx->dnnl) {
        *out = ctx->dnnl;
        return VITCL_OK;
    }
    cpu_dnnl *d = calloc(1, sizeof *d);
    if (!d)
        return cpu_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, op, "oneDNN state: out of memory");
    dnnl_status_t s = dnnl_engine_create(&d->eng, dnnl_cpu, 0);
    for (int t = 0; s == dnnl_success && t < ctx->nthreads; t++)
        s = dnnl_stream_create(&d->stream[t], d->eng, dnnl_stream_default_flags);
    if (s != dnnl_success) {
        cpu_onednn_destroy(d);
        return cpu_fail(ctx, VITCL_ERR_UNSUPPORTED, op, "oneDNN engine or stream: status %d",
                        (int)s);
    }
    ctx->dnnl = d;
    *out = d;
    return VITCL_OK;
}

/* Makes p's primitive for its shape; the caller's thread runs with one OpenMP thread. */
static dnnl_status_t dn_make(cpu_dnnl *d, dn_prim *p)
{
    dnnl_data_type_t xw = p->bf ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t xdims = {(dnnl_dim_t)p->m, (dnnl_dim_t)p->k},
                xstr = {(dnnl_dim_t)p->k, 1};
    dnnl_dims_t wdims = {(dnnl_dim_t)p->k, (dnnl_dim_t)p->nc}, wstr = {1, (dnnl_dim_t)p->k};
    dnnl_dims_t bdims = {1, (dnnl_dim_t)p->nc}, bstr = {(dnnl_dim_t)p->nc, 1};
    /* p->yd (Y's chunk, rows ldy apart) is set by dn_find, which keys on its stride. */
    dnnl_status_t s = dnnl_memory_desc_init_by_strides(&p->xd, 2, xdims, xw, xstr);
    if (s == dnnl_success)
        s = dnnl_memory_desc_init_by_strides(&p->wd, 2, wdims, xw, wstr);
    if (s == dnnl_success)
        s = dnnl_memory_desc_init_by_strides(&p->bd, 2, bdims, dnnl_f32, bstr);
    if (s != dnnl_success)
        return s;
    dnnl_matmul_desc_t desc;
    s = dnnl_matmul_desc_init(&desc, &p->xd, &p->wd, p->bias ? &p->bd : NULL, &p->yd);
    if (s != dnnl_success)
        return s;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    s = dnnl_primitive_attr_create(&attr);
    if (s == dnnl_success)
        s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && p->gelu) {
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success)
            s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f);
        if (s == dnnl_success)
            s = dnnl_primitive_attr_set_post_ops(attr, po);
    }
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(&pd, &desc, attr, d->eng, NULL);
    if (s == dnnl_success) {
        const dnnl_memory_desc_t *sd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        if (sd) {
            p->sd = *sd;
            p->scratch_bytes = dnnl_memory_desc_get_size(sd);
        } else {
            s = dnnl_runtime_error;
        }
    }
    if (s == dnnl_success)
        s = dnnl_primitive_create(&p->prim, pd);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return s;
}

/* The cached primitive for this chunk shape (Y's row stride ldy), made when missing. */
static vitcl_status dn_find(vitcl_context *ctx, const char *op, cpu_dnnl *d, size_t m,
                            size_t nc, size_t k, size_t ldy, int bias, int gelu, int bf,
                            dn_prim **out)
{
    for (size_t i = 0; i < d->used; i++) {
        dn_prim *p = &d->cache[i];
        if (p->m == m && p->nc == nc && p->k == k && p->bias == bias && p->gelu == gelu &&
            p->bf == bf &&
            (size_t)p->yd.format_desc.blocking.strides[0] == ldy) {
            p->stamp = ++d->clock;
            *out = p;
            return VITCL_OK;
        }
    }
    dn_prim fresh = {.m = m, .nc = nc, .k = k, .bias = bias, .gelu = gelu, .bf = bf};
    dnnl_dims_t ydims = {(dnnl_dim_t)m, (dnnl_dim_t)nc}, ystr = {(dnnl_dim_t)ldy, 1};
    int old = omp_get_max_threads();
    omp_set_num_threads(1); /* the primitive is planned for the one thread that runs it */
    dnnl_status_t s = dnnl_memory_desc_init_by_strides(&fresh.yd, 2, ydims, dnnl_f32, ystr);
    if (s == dnnl_success)
        s = dn_make(d, &fresh);
    omp_set_num_threads(old);
    if (s != dnnl_success)
        return cpu_fail(ctx, VITCL_ERR_UNSUPPORTED, op,
                        "oneDNN matmul %zu x %zu x %zu%s%s: status %d", m, nc, k,
                        bf ? " in bf16" : "", gelu ? " with GELU" : "", (int)s);
    size_t slot = d->used;
    if (d->used < CPU_DNNL_CACHE) {
        d->used++;
    } else { /* the least recently used goes */
        slot = 0;
        for (size_t i = 1; i < d->used; i++)
            if (d->cache[i].stamp < d->cache[slot].stamp)
                slot = i;
        dnnl_primitive_destroy(d->cache[slot].prim);
    }
    fresh.stamp = ++d->clock;
    d->cache[slot] = fresh;
    *out = &d->cache[slot];
    return VITCL_OK;
}

typedef struct dn_args {
    vitcl_context *ctx;
    cpu_dnnl *d;
    dn_prim *prim[2][2]; /* [last row block?][last column chunk?]: the narrower ones last */
    const float *x, *bias;
    const uint16_t *xb; /* set: X rounded to bf16 [m,k], multiplied with the bf16 W as is */
    const void *w;
    uint32_t wfmt; /* VITCL_PRECISION_FP32, or _BF16 / _FP16: widened per chunk unless xb */
    size_t wide_at; /* floats into the thread's scratch where a widened chunk goes */
    float *y;
    size_t n, k, mb, nc, rblocks, chunks; /* tiles: rblocks x chunks of mb rows x nc columns */
    int failed[CPU_MAX_THREADS];
} dn_args;

static dnnl_status_t dn_exec(dn_args *a, dn_prim *p, size_t i0, size_t j0, int thread)
{
    dnnl_memory_t mem[5] = {0};
    dnnl_engine_t eng = a->d->eng;
    float *scratch = a->ctx->scratch[thread].data;
    const void *w = (const float *)a->w + j0 * a->k, *x = a->x + i0 * a->k;
    if (a->xb) {
        x = a->xb + i0 * a->k;
        w = (const uint16_t *)a->w + j0 * a->k;
    } else if (a->wfmt != VITCL_PRECISION_FP32) {
        w = scratch + a->wide_at;
        cpu_half_widen((const uint16_t *)a->w + j0 * a->k, a->wfmt, scratch + a->wide_at,
                       p->nc * a->k);
    }
    dnnl_status_t s = dnnl_memory_create(&mem[0], &p->xd, eng, (void *)x);
    if (s == dnnl_success)
        s = dnnl_memory_create(&mem[1], &p->wd, eng, (void *)w);
    if (s == dnnl_success)
        s = dnnl_memory_create(&mem[2], &p->yd, eng, a->y + i0 * a->n + j0);
    if (s == dnnl_success && p->bias)
        s = dnnl_memory_create(&mem[3], &p->bd, eng, (void *)(a->bias + j0));
    if (s == dnnl_success && p->scratch_bytes)
        s = dnnl_memory_create(&mem[4], &p->sd, eng, scratch);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[5];
        int n = 0;
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, mem[0]};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, mem[1]};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, mem[2]};
        if (mem[3])
            args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, mem[3]};
        if (mem[4])
            args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, mem[4]};
        s = dnnl_primitive_execute(p->prim, a->d->stream[thread], n, args);
        if (s == dnnl_success)
            s = dnnl_stream_wait(a->d->stream[thread]);
    }
    for (int i = 0; i < 5; i++)
        if (mem[i])
            dnnl_memory_destroy(mem[i]);
    return s;
}

static void dn_task(void *arg, size_t begin, size_t end, int thread)
{
    dn_args *a = arg;
    omp_set_num_threads(1); /* oneDNN sizes its parallel loop by this: stay on this thread */
    for (size_t t = begin; t < end; t++) {
        size_t rb = t / a->chunks, c = t % a->chunks;
        dn_prim *p = a->prim[rb + 1 == a->rblocks][c + 1 == a->chunks];
        if (dn_exec(a, p, rb * a->mb, c * a->nc, thread) != dnnl_success)
            a->failed[thread] = 1;
    }
}

/* How Y is cut into tiles: rows x columns blocks, at least four tiles per thread (so that a
 * preempted thread costs one), column chunks of 16-column multiples and at least 64 columns
 * (narrower, oneDNN's blocking suffers). Every tile runs a primitive that packs its rows of
 * X and its columns of W again, so of the cuts with enough tiles the one that moves the
 * fewest floats, columns·m·k + rows·n·k, is taken: at batch 1 (m = 197) that is columns only,
 * at batch 8 rows too (on the Intel Xeon without AMX, 2 threads, the output projection and
 * fc2 ran 8-13% faster at batch 8 than in eight column chunks; docs/performance.md). */
static void dn_tiles(size_t m, size_t n, size_t k, size_t threads, size_t *mb, size_t *nc)
{
    size_t want = 4 * threads, best_tiles = 0, best_cost = SIZE_MAX;
    *mb = m, *nc = n;
    for (size_t cols = 1; cols <= want; cols++) {
        size_t w = (n + cols - 1) / cols;
        w = (w + 15) / 16 * 16;
        w = w < 64 ? 64 : w;
        w = w > n ? n : w;
        size_t ncols = (n + w - 1) / w, rows = (want + ncols - 1) / ncols;
        rows = rows > m ? m : rows;
        size_t h = (m + rows - 1) / rows;
        rows = (m + h - 1) / h;
        size_t tiles = rows * ncols, cost = ncols * m * k + rows * n * k;
        tiles = tiles > want ? want : tiles;
        if (tiles > best_tiles || (tiles == best_tiles && cost < best_cost)) {
            best_tiles = tiles, best_cost = cost;
            *mb = h, *nc = w;
        }
    }
}

typedef struct dn_round_args {
    cpu_gemm_bf16_round_fn round;
    const float *x;
    uint16_t *xb;
    size_t k;
} dn_round_args;

/* Rows [begin, end) of X rounded to bf16. */
static void dn_round_task(void *arg, size_t begin, size_t end, int thread)
{
    const dn_round_args *r = arg;
    (void)thread;
    r->round(r->x + begin * r->k, (end - begin) * r->k, r->xb + begin * r->k);
}

/* The tiles of Y on ctx's pool: fp32 products (xb NULL; a 16-bit W widened per chunk), or
 * bf16 products of xb (X rounded) and the bf16 W as stored. */
static vitcl_status dn_linear(vitcl_context *ctx, const char *op, cpu_dnnl *d, const float *x,
                              const uint16_t *xb, const void *w, uint32_t wfmt,
                              const float *bias, float *y, size_t m, size_t n, size_t k,
                              int gelu)
{
    vitcl_status st = VITCL_OK;
    size_t mb, nc;
    dn_tiles(m, n, k, (size_t)ctx->nthreads, &mb, &nc);
    size_t rblocks = (m + mb - 1) / mb, chunks = (n + nc - 1) / nc;
    size_t mtail = m - (rblocks - 1) * mb, ntail = n - (chunks - 1) * nc;
    dn_args *a = calloc(1, sizeof *a);
    if (!a)
        return cpu_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, op, "oneDNN linear: out of memory");
    *a = (dn_args){.ctx = ctx, .d = d, .x = x, .xb = xb, .w = w, .wfmt = wfmt, .bias = bias,
                   .y = y, .n = n, .k = k, .mb = mb, .nc = nc, .rblocks = rblocks,
                   .chunks = chunks};
    /* The four tile shapes (some the same). The cache replaces its least recently used entry
     * and at most four are looked up here, so a later lookup never replaces an earlier one
     * while the cache holds more than four. */
    size_t scratch = 0;
    for (int lr = 0; lr < 2 && st == VITCL_OK; lr++)
        for (int lc = 0; lc < 2 && st == VITCL_OK; lc++) {
            st = dn_find(ctx, op, d, lr ? mtail : mb, lc ? ntail : nc, k, n, bias != NULL,
                         gelu, xb != NULL, &a->prim[lr][lc]);
            if (st == VITCL_OK && a->prim[lr][lc]->scratch_bytes > scratch)
                scratch = a->prim[lr][lc]->scratch_bytes;
        }
    /* The scratchpad, then (16-bit W) a widened chunk on a 64-byte boundary. */
    a->wide_at = (scratch + 63) / 64 * 16;
    size_t floats = wfmt == VITCL_PRECISION_FP32 || xb
                        ? (scratch + sizeof(float) - 1) / sizeof(float)
                        : a->wide_at + nc * k;
    if (st == VITCL_OK && floats)
        st = cpu_scratch_reserve(ctx, op, floats);
    if (st == VITCL_OK) {
        int old = omp_get_max_threads();
        cpu_pool_run(ctx->pool, rblocks * chunks, 1, dn_task, a);
        omp_set_num_threads(old);
        for (int t = 0; t < ctx->nthreads; t++)
            if (a->failed[t])
                st = cpu_fail(ctx, VITCL_ERR_UNSUPPORTED, op,
                              "oneDNN matmul %zu x %zu x %zu%s failed to execute", m, n, k,
                              xb ? " in bf16" : "");
    }
    free(a);
    return st;
}

vitcl_status cpu_onednn_linear(vitcl_context *ctx, const char *op, const float *x,
                               const void *w, uint32_t wfmt, const float *bias, float *y,
                               size_t m, size_t n, size_t k, int gelu)
{
    if (wfmt != VITCL_PRECISION_FP32 && wfmt != VITCL_PRECISION_BF16 &&
        wfmt != VITCL_PRECISION_FP16)
        return cpu_fail(ctx, VITCL_ERR_INTERNAL, op,
                        "oneDNN linear: a weight of format 0x%x (only fp32, bf16 or fp16 "
                        "[n,k] run here)",
                        (unsigned)wfmt);
    cpu_dnnl *d = NULL;
    vitcl_status st = dn_state(ctx, op, &d);
    return st == VITCL_OK ? dn_linear(ctx, op, d, x, NULL, w, wfmt, bias, y, m, n, k, gelu) : st;
}

vitcl_status cpu_onednn_linear_bf16(vitcl_context *ctx, const char *op, const float *x,
                                    const uint16_t *w, const float *bias, float *y, size_t m,
                                    size_t n, size_t k, int gelu)
{
    if (!ctx->gemm.bf16)
        return cpu_fail(ctx, VITCL_ERR_UNSUPPORTED, op,
                        "oneDNN bf16 products: this CPU lacks AVX512-BF16, which rounds X");
    cpu_dnnl *d = NULL;
    vitcl_status st = dn_state(ctx, op, &d);
    /* X rounded once into the packed-X buffer (whole bf16 pairs of floats), then shared by
     * every tile of its rows. */
    if (st == VITCL_OK)
        st = cpu_packed_x_reserve(ctx, op, (m * k + 1) / 2);
    if (st != VITCL_OK)
        return st;
    dn_round_args r = {.round = ctx->gemm.bf16->round_x, .x = x,
                       .xb = (uint16_t *)(void *)ctx->packed_x, .k = k};
    size_t grain = (m + 4 * (size_t)ctx->nthreads - 1) / (4 * (size_t)ctx->nthreads);
    cpu_pool_run(ctx->pool, m, grain ? grain : 1, dn_round_task, &r);
    return dn_linear(ctx, op, d, x, r.xb, w, VITCL_PRECISION_BF16, bias, y, m, n, k, gelu);
}

#else /* !VITCL_HAVE_ONEDNN */

int cpu_onednn_built(void)
{
    return 0;
}

void cpu_onednn_describe(char *out, size_t len)
{
    snprintf(out, len, "oneDNN: not built in (libdnnl-dev was missing at build time)");
}

void cpu_onednn_destroy(cpu_dnnl *d)
{
    (void)d;
}

vitcl_status cpu_onednn_linear(vitcl_context *ctx, const char *op, const float *x,
                               const void *w, uint32_t wfmt, const float *bias, float *y,
                               size_t m, size_t n, size_t k, int gelu)
{
    (void)x, (void)w, (void)wfmt, (void)bias, (void)y, (void)m, (void)n, (void)k, (void)gelu;
    return cpu_fail(ctx, VITCL_ERR_UNSUPPORTED, op,
                    "this cpu plugin was built without oneDNN (libdnnl-dev)");
}

vitcl_status cpu_onednn_linear_bf16(vitcl_context *ctx, const char *op, const float *x,
                                    const uint16_t *w, const float *bias, float *y, size_t m,
                                    size_t n, size_t k, int gelu)
{
    return cpu_onednn_linear(ctx, op, x, w, VITCL_PRECISION_BF16, bias, y, m, n, k, gelu);
}

#endif
