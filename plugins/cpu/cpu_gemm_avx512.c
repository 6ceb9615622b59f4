/* plugins/cpu/cpu_gemm_avx512.c - the cpu plugin's own AVX-512 GEMM for linear:
 * Y[m,n] = X[m,k]·W[n,k]^T (+ bias, + GELU) with W read where it lies (no packed copy).
 *
 * Why our own: this environment runs OpenBLAS with OPENBLAS_CORETYPE=Haswell (its AVX2 kernel,
 * about half of what AVX-512 reaches here), and OpenBLAS wants W transposed or repacks it on
 * every call. Computing the transposed product Y^T = W·X^T lets W stay as PyTorch stores it:
 * the micro-kernel broadcasts scalars of W (any layout whose rows run along k works for that)
 * and multiplies them by 16-lane vectors of tokens, so only the activations are transposed, once
 * per call and per depth block.
 *
 * Blocking (Goto-style, transposed roles):
 * - depth blocks of GK_KC (one block for every ViT shape: splitting k = 4096 in four and
 *   accumulating through Y measured up to 1.6x slower at 197 tokens);
 * - token blocks of GK_TB tokens: X is packed into panels of GK_NR tokens, [kc][GK_NR] each,
 *   zero padded past m (pool over panels, into ctx->shared: at most GK_TB·GK_KC floats), then
 *   one pool run over blocks of GK_MR output features: a task packs its GK_MR rows of W for
 *   this depth block as [kc][GK_MR] into its thread's scratch (an L2-sized panel), then runs the
 *   GK_MR x GK_NR micro-kernel (24 accumulators) over every panel of the token block;
 * - the epilogue transposes the register tile into Y's rows, adds what earlier depth blocks
 *   left there, and on the last depth block adds the bias and applies GELU (cpu_vmath.h) while
 *   the tile is still in cache, so linear needs no separate pass over Y.
 * Token panels with at most 16 live tokens use a one-vector kernel (197 tokens: 6 x 32 + 16).
 *
 * Everything but the driver is compiled for AVX-512F; the caller checks cpu_gemm_avx512_usable
 * first. Accumulation is fp32 in k order within a depth block, like a BLAS.
 */
#include <stddef.h>
#include <string.h>

#include "cpu_internal.h"
#include "cpu_vmath.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define GK_HAVE 1
#include <immintrin.h>
#define GK_TARGET __attribute__((target("avx512f,avx2,fma")))
#else
#define GK_HAVE 0
#endif

#define GK_MR CPU_GEMM_MR /* output features per micro-tile (rows of W) */
#define GK_NR CPU_GEMM_NR /* tokens per micro-tile: two 16-lane vectors */
#define GK_KC 4096 /* depth per block: one block for ViT shapes; W panel 192 KiB (L2) */
#define GK_TB 256 /* tokens per block: 8 panels, 1 MiB of packed X at k = 1024 */

int cpu_gemm_avx512_usable(void)
{
#if GK_HAVE
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
#else
    return 0;
#endif
}

#if GK_HAVE

typedef struct gk_args {
    const float *x, *w, *bias;
    float *y;
    size_t m, n, k, ldx, ldw, ldy;
    size_t k0, kc;   /* this depth block */
    size_t p0, p1;   /* token panels of this token block */
    float *xt;       /* packed X of this token block: panel p at xt + (p - p0)·kc·GK_NR */
    cpu_scratch *scratch;
    int first, last, gelu;
} gk_args;

/* Packs panels p0 + [begin, end) of the depth block: xt[p - p0][kk][t] =
 * X[p·GK_NR + t][k0 + kk]. */
static void pack_x_task(void *arg, size_t begin, size_t end, int thread)
{
    const gk_args *a = arg;
    (void)thread;
    for (size_t p = a->p0 + begin; p < a->p0 + end; p++) {
        float *dst = a->xt + (p - a->p0) * a->kc * GK_NR;
        size_t i0 = p * GK_NR, live = a->m - i0 < GK_NR ? a->m - i0 : GK_NR;
        for (size_t t = 0; t < live; t++) {
            const float *src = a->x + (i0 + t) * a->ldx + a->k0;
            for (size_t kk = 0; kk < a->kc; kk++)
                dst[kk * GK_NR + t] = src[kk];
        }
        for (size_t t = live; t < GK_NR; t++)
            for (size_t kk = 0; kk < a->kc; kk++)
                dst[kk * GK_NR + t] = 0.0f;
    }
}

/* wp[kk][r] = W[j0 + r][k0 + kk] for the `rows` live rows, zero for the others. */
static void pack_w(const gk_args *a, size_t j0, size_t rows, float *wp)
{
    for (size_t r = 0; r < rows; r++) {
        const float *src = a->w + (j0 + r) * a->ldw + a->k0;
        for (size_t kk = 0; kk < a->kc; kk++)
            wp[kk * GK_MR + r] = src[kk];
    }
    for (size_t r = rows; r < GK_MR; r++)
        for (size_t kk = 0; kk < a->kc; kk++)
            wp[kk * GK_MR + r] = 0.0f;
}

/* One row r of the 12 x 32 tile: both token vectors times the broadcast W scalar. */
#define GK_FMA2(r)                                                                         \
    do {                                                                                   \
        __m512 wr = _mm512_set1_ps(wp[r]);                                                 \
        c##r##a = _mm512_fmadd_ps(wr, x0, c##r##a);                                        \
        c##r##b = _mm512_fmadd_ps(wr, x1, c##r##b);                                        \
    } while (0)

/* ct[r][0..32) = Σ_kk wp[kk][r]·xp[kk][0..32) for r < 12. */
GK_TARGET
static void micro_12x32(const float *wp, const float *xp, size_t kc, float *ct)
{
    __m512 c0a = _mm512_setzero_ps(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a;
    __m512 c3a = c0a, c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a;
    __m512 c6a = c0a, c6b = c0a, c7a = c0a, c7b = c0a, c8a = c0a, c8b = c0a;
    __m512 c9a = c0a, c9b = c0a, c10a = c0a, c10b = c0a, c11a = c0a, c11b = c0a;
    for (size_t kk = 0; kk < kc; kk++) {
        __m512 x0 = _mm512_loadu_ps(xp), x1 = _mm512_loadu_ps(xp + 16);
        GK_FMA2(0);
        GK_FMA2(1);
        GK_FMA2(2);
        GK_FMA2(3);
        GK_FMA2(4);
        GK_FMA2(5);
        GK_FMA2(6);
        GK_FMA2(7);
        GK_FMA2(8);
        GK_FMA2(9);
        GK_FMA2(10);
        GK_FMA2(11);
        xp += GK_NR;
        wp += GK_MR;
    }
#define GK_ST2(r)                                                                          \
    _mm512_storeu_ps(ct + (r) * GK_NR, c##r##a);                                           \
    _mm512_storeu_ps(ct + (r) * GK_NR + 16, c##r##b)
    GK_ST2(0);
    GK_ST2(1);
    GK_ST2(2);
    GK_ST2(3);
    GK_ST2(4);
    GK_ST2(5);
    GK_ST2(6);
    GK_ST2(7);
    GK_ST2(8);
    GK_ST2(9);
    GK_ST2(10);
    GK_ST2(11);
#undef GK_ST2
}

#define GK_FMA1(r)                                                                         \
    do {                                                                                   \
        c##r = _mm512_fmadd_ps(_mm512_set1_ps(wp[r]), x0, c##r);                           \
    } while (0)

/* ct[r][0..16) = Σ_kk wp[kk][r]·xp[kk][0..16) for r < 12 (panels with <= 16 live tokens). */
GK_TARGET
static void micro_12x16(const float *wp, const float *xp, size_t kc, float *ct)
{
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m512 c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    for (size_t kk = 0; kk < kc; kk++) {
        __m512 x0 = _mm512_loadu_ps(xp);
        GK_FMA1(0);
        GK_FMA1(1);
        GK_FMA1(2);
        GK_FMA1(3);
        GK_FMA1(4);
        GK_FMA1(5);
        GK_FMA1(6);
        GK_FMA1(7);
        GK_FMA1(8);
        GK_FMA1(9);
        GK_FMA1(10);
        GK_FMA1(11);
        xp += GK_NR;
        wp += GK_MR;
    }
    _mm512_storeu_ps(ct + 0 * GK_NR, c0);
    _mm512_storeu_ps(ct + 1 * GK_NR, c1);
    _mm512_storeu_ps(ct + 2 * GK_NR, c2);
    _mm512_storeu_ps(ct + 3 * GK_NR, c3);
    _mm512_storeu_ps(ct + 4 * GK_NR, c4);
    _mm512_storeu_ps(ct + 5 * GK_NR, c5);
    _mm512_storeu_ps(ct + 6 * GK_NR, c6);
    _mm512_storeu_ps(ct + 7 * GK_NR, c7);
    _mm512_storeu_ps(ct + 8 * GK_NR, c8);
    _mm512_storeu_ps(ct + 9 * GK_NR, c9);
    _mm512_storeu_ps(ct + 10 * GK_NR, c10);
    _mm512_storeu_ps(ct + 11 * GK_NR, c11);
}

void cpu_gemm_micro(const float *wp, const float *xp, size_t kc, size_t live, float *ct)
{
    if (live > 16)
        micro_12x32(wp, xp, kc, ct);
    else
        micro_12x16(wp, xp, kc, ct);
}

/* Moves tile ct [GK_MR][GK_NR] (rows = features j0.., columns = tokens i0..) into Y: adds what
 * earlier depth blocks stored, and on the last block the bias and GELU. */
GK_TARGET
static void tile_store(const gk_args *a, float *ct, size_t i0, size_t live, size_t j0,
                       size_t rows)
{
    if (!a->first)
        for (size_t t = 0; t < live; t++) {
            const float *yr = a->y + (i0 + t) * a->ldy + j0;
            for (size_t r = 0; r < rows; r++)
                ct[r * GK_NR + t] += yr[r];
        }
    if (a->last && (a->bias || a->gelu)) {
        size_t vecs = (live + CPU_V - 1) / CPU_V;
        for (size_t r = 0; r < rows; r++) {
            cpu_v8 b = cpu_v8_set1(a->bias ? a->bias[j0 + r] : 0.0f);
            for (size_t v = 0; v < vecs; v++) {
                float *c = ct + r * GK_NR + v * CPU_V;
                cpu_v8 val = cpu_v8_load(c) + b;
                cpu_v8_store(c, a->gelu ? cpu_v8_gelu(val) : val);
            }
        }
    }
    for (size_t t = 0; t < live; t++) {
        float *yr = a->y + (i0 + t) * a->ldy + j0;
        for (size_t r = 0; r < rows; r++)
            yr[r] = ct[r * GK_NR + t];
    }
}

/* Feature blocks [begin, end) of one depth block and one token block. */
GK_TARGET
static void compute_task(void *arg, size_t begin, size_t end, int thread)
{
    const gk_args *a = arg;
    float *wp = a->scratch[thread].data;
    float ct[GK_MR * GK_NR] __attribute__((aligned(64)));
    for (size_t jb = begin; jb < end; jb++) {
        size_t j0 = jb * GK_MR, rows = a->n - j0 < GK_MR ? a->n - j0 : GK_MR;
        pack_w(a, j0, rows, wp);
        for (size_t p = a->p0; p < a->p1; p++) {
            size_t i0 = p * GK_NR, live = a->m - i0 < GK_NR ? a->m - i0 : GK_NR;
            const float *xp = a->xt + (p - a->p0) * a->kc * GK_NR;
            cpu_gemm_micro(wp, xp, a->kc, live, ct);
            tile_store(a, ct, i0, live, j0, rows);
        }
    }
}

#else

void cpu_gemm_micro(const float *wp, const float *xp, size_t kc, size_t live, float *ct)
{
    (void)wp, (void)xp, (void)kc, (void)live, (void)ct; /* never called: no AVX-512 here */
}

#endif /* GK_HAVE */

vitcl_status cpu_gemm_avx512_linear(vitcl_context *ctx, const char *op, const float *x,
                                    size_t ldx, const float *w, size_t ldw, const float *bias,
                                    float *y, size_t ldy, size_t m, size_t n, size_t k, int gelu)
{
#if GK_HAVE
    size_t panels = (m + GK_NR - 1) / GK_NR, per_block = GK_TB / GK_NR;
    size_t kc_max = k < GK_KC ? k : GK_KC;
    size_t xt_floats = (panels < per_block ? panels : per_block) * GK_NR * kc_max;
    vitcl_status st = cpu_shared_reserve(ctx, op, xt_floats);
    if (st == VITCL_OK)
        st = cpu_scratch_reserve(ctx, op, (size_t)GK_MR * GK_KC);
    if (st != VITCL_OK)
        return st;
    gk_args a = {.x = x, .w = w, .bias = bias, .y = y, .m = m, .n = n, .k = k, .ldx = ldx,
                 .ldw = ldw, .ldy = ldy, .xt = ctx->shared, .scratch = ctx->scratch,
                 .gelu = gelu};
    size_t fblocks = (n + GK_MR - 1) / GK_MR;
    for (size_t k0 = 0; k0 < k; k0 += GK_KC) {
        a.k0 = k0;
        a.kc = k - k0 < GK_KC ? k - k0 : GK_KC;
        a.first = k0 == 0;
        a.last = k0 + a.kc == k;
        for (size_t p0 = 0; p0 < panels; p0 += per_block) {
            a.p0 = p0;
            a.p1 = panels - p0 < per_block ? panels : p0 + per_block;
            cpu_pool_run(ctx->pool, a.p1 - a.p0, 1, pack_x_task, &a);
            cpu_pool_run(ctx->pool, fblocks, 1, compute_task, &a);
        }
    }
    return VITCL_OK;
#else
    (void)x, (void)ldx, (void)w, (void)ldw, (void)bias, (void)y, (void)ldy, (void)m, (void)n;
    (void)k, (void)gelu;
    return cpu_fail(ctx, VITCL_ERR_UNSUPPORTED, op, "built without the AVX-512 GEMM");
#endif
}
