/* plugins/cpu/cpu_gemm_avx512.c - the cpu plugin's own AVX-512 GEMM for linear:
 * Y[m,n] = X[m,k]·W[n,k]^T (+ bias, + GELU) with W read where it lies (no packed copy).
 *
 * Why our own: this environment runs OpenBLAS with OPENBLAS_CORETYPE=Haswell (its AVX2 kernel,
 * about half of what AVX-512 reaches here), and OpenBLAS wants W transposed or repacks it on
 * every call. Computing the transposed product Y^T = W·X^T lets W stay as PyTorch stores it:
 * the micro-kernel broadcasts scalars of W (any layout whose rows run along k works for that)
 * and multiplies them by 16-lane vectors of tokens, so only the activations are transposed, once
 * per call and token block. patch_embed uses it too (cpu_patch_embed.c), and attention its
 * micro-kernel (cpu_gemm_micro, W panel interleaved [kk][GK_MR]).
 *
 * Blocking (Goto-style, transposed roles):
 * - depth blocks of GK_KC (one block for every ViT shape: splitting k = 4096 in four and
 *   accumulating through Y measured up to 1.6x slower at 197 tokens);
 * - token blocks of GK_TB tokens: X is packed into panels of GK_NR tokens, [kc][GK_NR] each,
 *   zero padded past m (pool over panels, into ctx->packed_x: at most GK_TB·GK_KC floats), then
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
        /* In strips of 64 depths, so that the strip of dst (8 KiB) stays in L1 while the
         * 32 source rows fill it. */
        for (size_t k1 = 0; k1 < a->kc; k1 += 64) {
            size_t k2 = a->kc - k1 < 64 ? a->kc : k1 + 64;
            for (size_t t = 0; t < live; t++) {
                const float *src = a->x + (i0 + t) * a->ldx + a->k0;
                for (size_t kk = k1; kk < k2; kk++)
                    dst[kk * GK_NR + t] = src[kk];
            }
            for (size_t t = live; t < GK_NR; t++)
                for (size_t kk = k1; kk < k2; kk++)
                    dst[kk * GK_NR + t] = 0.0f;
        }
    }
}

/* Rows of the W panel lie GK_LDWP floats apart: a compile-time stride lets the micro-kernel
 * address all 12 rows from one base register, and the extra 16 floats put consecutive rows in
 * different L1 sets (a stride of 4096 floats would map all 12 to one set). */
#define GK_LDWP (GK_KC + 16)

/* wp[r][kk] = W[j0 + r][k0 + kk] (row stride GK_LDWP) for the `rows` live rows, zero for the
 * others: straight row copies. */
static void pack_w(const gk_args *a, size_t j0, size_t rows, float *wp)
{
    for (size_t r = 0; r < rows; r++)
        memcpy(wp + r * GK_LDWP, a->w + (j0 + r) * a->ldw + a->k0, a->kc * sizeof(float));
    for (size_t r = rows; r < GK_MR; r++)
        memset(wp + r * GK_LDWP, 0, a->kc * sizeof(float));
}

/* Row r of feature block j0's W for this depth block, or NULL past n. */
static const float *w_row(const gk_args *a, size_t j0, size_t r)
{
    return j0 + r < a->n ? a->w + (j0 + r) * a->ldw + a->k0 : NULL;
}

/* Asks for `floats` floats at p in L2, one request per cache line. */
static void prefetch_span(const float *p, size_t floats)
{
    for (size_t i = 0; i < floats; i += 16)
        __builtin_prefetch(p + i, 0, 2);
}

/* The micro-kernels: ct[r][t] = Σ_kk w(r, kk)·xp[kk·GK_NR + t] for r < 12 and t < 32 (two
 * vectors) or t < 16 (one), for two layouts of the W panel: ROWS (wp[r·GK_LDWP + kk], linear)
 * and INTERLEAVED (wp[kk·GK_MR + r], attention). WAT(r) reads w(r, kk); WSTEP advances wp.
 * While they run they ask for pfa[0..kc) and pfb[0..kc) in L2, one line every 16 steps
 * (spread out, unlike a burst, these requests do not queue behind each other): the linear
 * driver points them at rows of the next W panel. */
#define GK_ROWS_AT(r) wp[(r) * GK_LDWP]
#define GK_ROWS_STEP 1
#define GK_INTER_AT(r) wp[(r)]
#define GK_INTER_STEP GK_MR

#define GK_FMA2(r)                                                                         \
    do {                                                                                   \
        __m512 wr = _mm512_set1_ps(WAT(r));                                                \
        c##r##a = _mm512_fmadd_ps(wr, x0, c##r##a);                                        \
        c##r##b = _mm512_fmadd_ps(wr, x1, c##r##b);                                        \
    } while (0)
#define GK_FMA1(r) c##r##a = _mm512_fmadd_ps(_mm512_set1_ps(WAT(r)), x0, c##r##a)
#define GK_ALL12(M)                                                                        \
    M(0);                                                                                  \
    M(1);                                                                                  \
    M(2);                                                                                  \
    M(3);                                                                                  \
    M(4);                                                                                  \
    M(5);                                                                                  \
    M(6);                                                                                  \
    M(7);                                                                                  \
    M(8);                                                                                  \
    M(9);                                                                                  \
    M(10);                                                                                 \
    M(11)
#define GK_DECL(r) __m512 c##r##a = _mm512_setzero_ps(), c##r##b = _mm512_setzero_ps()
#define GK_ST2(r)                                                                          \
    _mm512_storeu_ps(ct + (r) * GK_NR, c##r##a);                                           \
    _mm512_storeu_ps(ct + (r) * GK_NR + 16, c##r##b)
#define GK_ST1(r) _mm512_storeu_ps(ct + (r) * GK_NR, c##r##a)

/* Defines name_32 and name_16 for a W layout. */
#define GK_MICRO(name, step)                                                               \
    GK_TARGET static void name##_32(const float *wp, const float *xp, size_t kc, float *ct,  \
                                    const float *pfa, const float *pfb)                    \
    {                                                                                      \
        GK_ALL12(GK_DECL);                                                                 \
        for (size_t kk = 0; kk < kc; kk++) {                                               \
            if ((kk & 15) == 0) {                                                          \
                __builtin_prefetch(pfa + kk, 0, 2);                                        \
                __builtin_prefetch(pfb + kk, 0, 2);                                        \
            }                                                                              \
            __m512 x0 = _mm512_loadu_ps(xp), x1 = _mm512_loadu_ps(xp + 16);                \
            GK_ALL12(GK_FMA2);                                                             \
            xp += GK_NR;                                                                   \
            wp += (step);                                                                  \
        }                                                                                  \
        GK_ALL12(GK_ST2);                                                                  \
    }                                                                                      \
    GK_TARGET static void name##_16(const float *wp, const float *xp, size_t kc, float *ct,  \
                                    const float *pfa, const float *pfb)                    \
    {                                                                                      \
        GK_ALL12(GK_DECL);                                                                 \
        for (size_t kk = 0; kk < kc; kk++) {                                               \
            if ((kk & 15) == 0) {                                                          \
                __builtin_prefetch(pfa + kk, 0, 2);                                        \
                __builtin_prefetch(pfb + kk, 0, 2);                                        \
            }                                                                              \
            __m512 x0 = _mm512_loadu_ps(xp);                                               \
            GK_ALL12(GK_FMA1);                                                             \
            xp += GK_NR;                                                                   \
            wp += (step);                                                                  \
        }                                                                                  \
        GK_ALL12(GK_ST1);                                                                  \
    }

/* The b accumulators of the one-vector kernel are declared but unused. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-variable"
#define WAT GK_ROWS_AT
GK_MICRO(micro_rows, GK_ROWS_STEP)
#undef WAT
#define WAT GK_INTER_AT
GK_MICRO(micro_inter, GK_INTER_STEP)
#undef WAT
#pragma GCC diagnostic pop

void cpu_gemm_micro(const float *wp, const float *xp, size_t kc, size_t live, float *ct)
{
    /* Nothing to fetch ahead: both prefetch streams walk wp itself. */
    if (live > 16)
        micro_inter_32(wp, xp, kc, ct, wp, wp);
    else
        micro_inter_16(wp, xp, kc, ct, wp, wp);
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
        /* While this block computes, the next one of this chunk comes in from memory: panel q
         * of the token block fetches rows 2q and 2q + 1 of it inside the micro-kernel, and rows
         * that no panel covers (fewer than 6 panels) are asked for here. */
        size_t j1 = j0 + GK_MR, panels = a->p1 - a->p0;
        int ahead = jb + 1 < end;
        if (ahead)
            for (size_t r = 2 * panels; r < GK_MR; r++)
                if (w_row(a, j1, r))
                    prefetch_span(w_row(a, j1, r), a->kc);
        for (size_t p = a->p0; p < a->p1; p++) {
            size_t q = p - a->p0, i0 = p * GK_NR, live = a->m - i0 < GK_NR ? a->m - i0 : GK_NR;
            const float *pfa = ahead && 2 * q < GK_MR ? w_row(a, j1, 2 * q) : NULL;
            const float *pfb = ahead && 2 * q + 1 < GK_MR ? w_row(a, j1, 2 * q + 1) : NULL;
            pfa = pfa ? pfa : wp;
            pfb = pfb ? pfb : wp;
            const float *xp = a->xt + q * a->kc * GK_NR;
            if (live > 16)
                micro_rows_32(wp, xp, a->kc, ct, pfa, pfb);
            else
                micro_rows_16(wp, xp, a->kc, ct, pfa, pfb);
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
    vitcl_status st = cpu_packed_x_reserve(ctx, op, xt_floats);
    if (st == VITCL_OK)
        st = cpu_scratch_reserve(ctx, op, (size_t)GK_MR * GK_LDWP);
    if (st != VITCL_OK)
        return st;
    gk_args a = {.x = x, .w = w, .bias = bias, .y = y, .m = m, .n = n, .k = k, .ldx = ldx,
                 .ldw = ldw, .ldy = ldy, .xt = ctx->packed_x, .scratch = ctx->scratch,
                 .gelu = gelu};
    /* Chunks of consecutive feature blocks (about 8 per thread and token block), so that a
     * thread knows its next block and can prefetch its W rows. */
    size_t fblocks = (n + GK_MR - 1) / GK_MR;
    size_t grain = fblocks / (8 * (size_t)cpu_pool_threads(ctx->pool));
    grain = grain ? grain : 1;
    for (size_t k0 = 0; k0 < k; k0 += GK_KC) {
        a.k0 = k0;
        a.kc = k - k0 < GK_KC ? k - k0 : GK_KC;
        a.first = k0 == 0;
        a.last = k0 + a.kc == k;
        for (size_t p0 = 0; p0 < panels; p0 += per_block) {
            a.p0 = p0;
            a.p1 = panels - p0 < per_block ? panels : p0 + per_block;
            cpu_pool_run(ctx->pool, a.p1 - a.p0, 1, pack_x_task, &a);
            cpu_pool_run(ctx->pool, fblocks, grain, compute_task, &a);
        }
    }
    return VITCL_OK;
#else
    (void)x, (void)ldx, (void)w, (void)ldw, (void)bias, (void)y, (void)ldy, (void)m, (void)n;
    (void)k, (void)gelu;
    return cpu_fail(ctx, VITCL_ERR_UNSUPPORTED, op, "built without the AVX-512 GEMM");
#endif
}
