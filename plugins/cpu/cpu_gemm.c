/* plugins/cpu/cpu_gemm.c - the driver of the cpu plugin's own GEMM for linear and patch_embed:
 * Y[m,n] = X[m,k]·W[n,k]^T (+ bias, + GELU) with W read where it lies (no packed copy). The
 * micro-kernels are per instruction set (cpu_gemm_kernels.h: AVX-512F, AVX2+FMA), picked at run
 * time; the blocking comes from the cache sizes the machine reports (cpu_cache.c).
 *
 * Why our own: OpenBLAS wants W transposed or repacks it on every call, and its speed depends on
 * which kernel OPENBLAS_CORETYPE selects (this environment pins Haswell). Computing the
 * transposed product Y^T = W·X^T lets W stay as PyTorch stores it: the micro-kernel broadcasts
 * scalars of W (any layout whose rows run along k works for that) and multiplies them by vectors
 * of tokens, so only the activations are transposed, once per call and token block. Attention
 * uses the micro-kernels too (cpu_gemm_micro, W panel interleaved [kk][CPU_GEMM_MR]).
 *
 * Blocking (Goto-style, transposed roles), cpu_gemm_plan_make:
 * - depth blocks of kc: the largest multiple of 256 (at most CPU_GEMM_KC_MAX) whose X panel
 *   (CPU_GEMM_NR tokens x kc) fills at most half of L2, the W panel and the streams taking the
 *   rest (1 MiB L2: 4096, one block for every ViT shape; 512 KiB: 2048; splitting k = 4096 in
 *   four measured up to 1.6x slower on a 1 MiB L2 machine at 197 tokens);
 * - token blocks of tb tokens: X is packed into panels of CPU_GEMM_NR tokens, [kc][NR] each,
 *   zero padded past m (pool over panels, into ctx->packed_x), then one pool run over blocks of
 *   CPU_GEMM_MR output features: a task packs its 12 rows of W for this depth block into its
 *   thread's scratch (an L2-sized panel), then runs the 12 x 32 kernel over every panel of the
 *   token block. tb is the largest multiple of NR (at most CPU_GEMM_TB_MAX) whose packed X fills
 *   at most half of L2 (each core keeps its copy there while its feature blocks re-read it;
 *   W is read once per token block), see token_block;
 * - the epilogue transposes the register tile into Y's rows, adds what earlier depth blocks
 *   left there, and on the last depth block adds the bias and applies GELU (cpu_vmath.h) while
 *   the tile is still in cache, so linear needs no separate pass over Y. It and the packing of
 *   X are the instruction set's (cpu_gemm_xpose_*.c: transposes in registers, masked rows of
 *   Y); as scalar loops they took about 13% of the GEMM time in ViT-L (perf).
 * Token panels with at most 16 live tokens use the 16-token kernel (197 tokens: 6 x 32 + 16).
 * Accumulation is fp32 in k order within a depth block, like a BLAS.
 *
 * A bf16 W with plan->bf16 set (AVX512-BF16) runs the same blocking on the bf16 kernels
 * (cpu_gemm_kernels.h): its rows are copied as stored into the W panel, X is packed as bf16
 * pairs (rounded, or hi + lo when VITCL_CPU_BF16=split) by the kernel table's packer, and the
 * depth block is kc_bf16, derived from L2 on the packed bytes. cpu_gemm_bf16_x_for decides per
 * shape; its WIDEN answer sends the call down the fp32 path with the weight widened.
 *
 * A bf16 W in the AMX layout (CPU_WFMT_BF16_AMX, written by pack_weight_host where
 * cpu_gemm_uses_amx_layout) runs the AMX kernel instead: the same depth and token blocks and
 * feature blocks of CPU_AMX_MR, W read in place, X packed by the kernel's own packer, blocks in
 * Y's orientation written by its own store (cpu_gemm_kernels.h, "AMX").
 */
#include <stddef.h>
#include <string.h>

#include "cpu_half.h"
#include "cpu_internal.h"

#define GK_MR CPU_GEMM_MR
#define GK_NR CPU_GEMM_NR
#define GK_LDWP CPU_GEMM_LDWP

typedef struct gk_args {
    const float *x, *bias;
    const unsigned char *w; /* W's elements, in wfmt (cpu_gemm_linear_fmt), wbytes each */
    uint32_t wfmt;
    size_t wbytes;
    float *y;
    size_t m, n, k, ldx, ldw, ldy;
    size_t k0, kc;   /* this depth block */
    size_t p0, p1;   /* token panels of this token block */
    float *xt;       /* packed X of this token block: panel p at xt + (p - p0)·panel */
    size_t panel;    /* floats (or pairs) per packed X panel */
    cpu_scratch *scratch;
    const cpu_gemm_isa *isa;
    const cpu_gemm_bf16 *bf; /* set: the bf16 kernels, X taken as bx (CPU_BF16_X_*) */
    int bx;
    const cpu_gemm_amx *amx; /* set (with bf): the AMX block kernel */
    size_t kc2p;             /* AMX: pairs per panel row, ceil(kc / 2) rounded up to 16 */
    const uint32_t *wa;      /* AMX: W in the AMX tile layout (CPU_WFMT_BF16_AMX) */
    size_t wsteps;           /* AMX: its steps of 16 pairs per row group, ceil(k / 32) */
    int first, last, gelu;
} gk_args;

/* Packs panels p0 + [begin, end) of the depth block: xt[p - p0][kk][t] =
 * X[p·GK_NR + t][k0 + kk]. */
static void pack_x_task(void *arg, size_t begin, size_t end, int thread)
{
    const gk_args *a = arg;
    (void)thread;
    for (size_t p = a->p0 + begin; p < a->p0 + end; p++) {
        float *dst = a->xt + (p - a->p0) * a->panel;
        size_t i0 = p * GK_NR, live = a->m - i0 < GK_NR ? a->m - i0 : GK_NR;
        if (a->amx) {
            a->amx->pack_x(a->x + i0 * a->ldx + a->k0, a->ldx, live, a->kc, a->kc2p,
                           a->bx == CPU_BF16_X_SPLIT, (uint32_t *)(void *)dst);
            continue;
        }
        if (a->bf) {
            cpu_gemm_bf16_pack_fn pack =
                a->bx == CPU_BF16_X_SPLIT ? a->bf->pack_split : a->bf->pack_round;
            pack(a->x + i0 * a->ldx + a->k0, a->ldx, live, a->kc, (uint32_t *)(void *)dst);
            continue;
        }
        a->isa->pack_x(a->x + i0 * a->ldx + a->k0, a->ldx, live, a->kc, dst);
    }
}

/* Row r of feature block j0's W for this depth block, or NULL past n. */
static const unsigned char *w_row(const gk_args *a, size_t j0, size_t r)
{
    return j0 + r < a->n ? a->w + ((j0 + r) * a->ldw + a->k0) * a->wbytes : NULL;
}

/* The AMX B layout (cpu_internal.h): pair p of step st of feature r (group g = r / 32, half
 * h = r mod 32 / 16) is word ((g·steps + st)·2 + h)·256 + p·16 + r mod 16, with
 * steps = ceil(k / 32); the pair holds depths 32·st + 2p (low half) and + 1. */
size_t cpu_gemm_amx_layout_bytes(size_t n, size_t k)
{
    size_t rows = (n + CPU_AMX_MR - 1) / CPU_AMX_MR * CPU_AMX_MR;
    return rows * ((k + 31) / 32) * 64;
}

void cpu_gemm_amx_put_row(const uint16_t *src, size_t r, size_t k, uint32_t *dst)
{
    size_t steps = (k + 31) / 32, g = r / CPU_AMX_MR, h = r % CPU_AMX_MR / 16, f = r % 16;
    for (size_t st = 0; st < steps; st++) {
        uint32_t pairs[16] = {0};
        if (src)
            memcpy(pairs, src + st * 32,
                   (k - st * 32 < 32 ? k - st * 32 : 32) * sizeof(uint16_t));
        uint32_t *d = dst + ((g * steps + st) * 2 + h) * 256 + f;
        for (size_t p = 0; p < 16; p++)
            d[p * 16] = pairs[p];
    }
}

int cpu_gemm_uses_amx_layout(const cpu_gemm_plan *plan)
{
    return plan->isa && plan->linear && plan->bf16 && plan->amx &&
           plan->bf16_x != CPU_BF16_X_WIDEN;
}

/* wp[r][kk] = W[j0 + r][k0 + kk] (row stride GK_LDWP) for the `rows` live rows, zero for the
 * others: straight row copies, or widened from 16 bits (cpu_half.h). */
static void pack_w(const gk_args *a, size_t j0, size_t rows, float *wp)
{
    if (a->bf) { /* pairs of bf16 as stored, an odd block's last pair zero in its high half */
        size_t kc2 = (a->kc + 1) / 2;
        for (size_t r = 0; r < GK_MR; r++) {
            uint32_t *row = (uint32_t *)(void *)wp + r * GK_LDWP;
            row[kc2 - 1] = 0;
            if (r < rows)
                memcpy(row, w_row(a, j0, r), a->kc * sizeof(uint16_t));
            else
                memset(row, 0, kc2 * sizeof(uint32_t));
        }
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        const void *src = w_row(a, j0, r);
        if (a->wfmt == VITCL_PRECISION_FP32)
            memcpy(wp + r * GK_LDWP, src, a->kc * sizeof(float));
        else
            cpu_half_widen(src, a->wfmt, wp + r * GK_LDWP, a->kc);
    }
    for (size_t r = rows; r < GK_MR; r++)
        memset(wp + r * GK_LDWP, 0, a->kc * sizeof(float));
}

/* Asks for `bytes` bytes at p in L2, one request per cache line. */
static void prefetch_span(const unsigned char *p, size_t bytes)
{
    for (size_t i = 0; i < bytes; i += 64)
        __builtin_prefetch(p + i, 0, 2);
}

void cpu_gemm_micro(const cpu_gemm_isa *isa, const float *wp, const float *xp, size_t kc,
                    size_t live, float *ct)
{
    /* Nothing to fetch ahead: both prefetch streams walk wp itself. */
    if (live > 16)
        isa->inter32(wp, xp, kc, ct, wp, wp);
    else
        isa->inter16(wp, xp, kc, ct, wp, wp);
}

/* Moves tile ct [GK_MR][GK_NR] (rows = features j0.., columns = tokens i0..) into Y by the
 * instruction set's store: adds what earlier depth blocks stored, and on the last block the
 * bias and GELU. */
static void tile_store(const gk_args *a, const float *ct, size_t i0, size_t live, size_t j0,
                       size_t rows)
{
    unsigned flags = a->first ? 0 : CPU_GEMM_STORE_ADD;
    if (a->last && (a->bias || a->gelu))
        flags |= CPU_GEMM_STORE_BIAS | (a->gelu ? CPU_GEMM_STORE_GELU : 0);
    a->isa->store(ct, live, rows, a->y + i0 * a->ldy + j0, a->ldy, a->bias ? a->bias + j0 : NULL,
                  flags);
}

/* Feature blocks [begin, end) of one depth block and one token block. */
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
                    prefetch_span(w_row(a, j1, r), a->kc * a->wbytes);
        for (size_t p = a->p0; p < a->p1; p++) {
            size_t q = p - a->p0, i0 = p * GK_NR, live = a->m - i0 < GK_NR ? a->m - i0 : GK_NR;
            /* The kernels fetch kc floats from pa: a 16-bit row is half that, so they also
             * fetch what follows it (a prefetch never faults, past the end of W included). */
            const void *pa = ahead && 2 * q < GK_MR ? w_row(a, j1, 2 * q) : NULL;
            const void *pb = ahead && 2 * q + 1 < GK_MR ? w_row(a, j1, 2 * q + 1) : NULL;
            const float *pfa = pa ? pa : wp, *pfb = pb ? pb : wp;
            const float *xp = a->xt + q * a->panel;
            if (a->bf) {
                const uint32_t *wb = (const uint32_t *)(const void *)wp;
                const uint32_t *xb = (const uint32_t *)(const void *)xp;
                size_t kc2 = (a->kc + 1) / 2;
                int split = a->bx == CPU_BF16_X_SPLIT;
                cpu_gemm_bf16_fn fn = live > 16 ? (split ? a->bf->split32 : a->bf->round32)
                                                : (split ? a->bf->split16 : a->bf->round16);
                fn(wb, xb, kc2, ct, pfa, pfb);
            } else if (live > 16)
                a->isa->rows32(wp, xp, a->kc, ct, pfa, pfb);
            else
                a->isa->rows16(wp, xp, a->kc, ct, pfa, pfb);
            tile_store(a, ct, i0, live, j0, rows);
        }
    }
}

/* Feature blocks [begin, end) of CPU_AMX_MR features on the AMX kernel: each block's W is
 * read where pack_weight_host laid it out (the depth block's steps of its row group are
 * contiguous), every token panel of the token block is one block product in Y's orientation,
 * written by the kernel's own store (no transpose). */
static void compute_amx_task(void *arg, size_t begin, size_t end, int thread)
{
    const gk_args *a = arg;
    (void)thread;
    float ct[GK_NR * CPU_AMX_MR] __attribute__((aligned(64))); /* [tokens][features] */
    size_t panels = a->p1 - a->p0;
    unsigned flags = a->first ? 0 : CPU_GEMM_STORE_ADD;
    if (a->last && (a->bias || a->gelu))
        flags |= CPU_GEMM_STORE_BIAS | (a->gelu ? CPU_GEMM_STORE_GELU : 0);
    int split = a->bx == CPU_BF16_X_SPLIT;
    a->amx->begin();
    size_t span = a->kc2p / 16 * CPU_AMX_MR * 64; /* bytes of a block's panel */
    for (size_t jb = begin; jb < end; jb++) {
        size_t j0 = jb * CPU_AMX_MR, rows = a->n - j0 < CPU_AMX_MR ? a->n - j0 : CPU_AMX_MR;
        const uint32_t *wp = a->wa + (jb * a->wsteps + a->k0 / 32) * CPU_AMX_MR * 16;
        const unsigned char *next =
            jb + 1 < end ? (const unsigned char *)(wp + a->wsteps * CPU_AMX_MR * 16) : NULL;
        for (size_t p = a->p0; p < a->p1; p++) {
            size_t q = p - a->p0, i0 = p * GK_NR, live = a->m - i0 < GK_NR ? a->m - i0 : GK_NR;
            /* The next block's panel comes in while the tiles run, spread over the panels. */
            if (next) {
                size_t b0 = q * span / panels / 64 * 64, b1 = (q + 1) * span / panels / 64 * 64;
                prefetch_span(next + b0, b1 - b0);
            }
            const uint32_t *xb = (const uint32_t *)(const void *)(a->xt + q * a->panel);
            a->amx->block(wp, xb, a->kc2p, split, live > 16, ct);
            a->amx->store(ct, live, rows, a->y + i0 * a->ldy + j0, a->ldy,
                          a->bias ? a->bias + j0 : NULL, flags);
        }
    }
    a->amx->end();
}

/* The largest multiple of `unit` in [lo, hi] that is at most limit (lo when none is). */
static size_t fit(size_t limit, size_t unit, size_t lo, size_t hi)
{
    size_t v = limit / unit * unit;
    return v < lo ? lo : v > hi ? hi : v;
}

void cpu_gemm_plan_make(cpu_gemm_plan *plan, const cpu_gemm_isa *isa, const cpu_caches *caches)
{
    plan->isa = isa;
    plan->caches = *caches;
    plan->kc = fit(caches->l2 / 2 / (GK_NR * sizeof(float)), 256, 256, CPU_GEMM_KC_MAX);
    plan->bf16 = NULL;
}

void cpu_gemm_plan_bf16(cpu_gemm_plan *plan, const cpu_gemm_bf16 *bf16, int bf16_x,
                        const cpu_gemm_amx *amx)
{
    plan->bf16 = bf16;
    plan->bf16_x = bf16_x;
    plan->amx = amx;
    /* The same rule as fp32 on the bytes a token's depth takes in the X panel (2 rounded,
     * 4 split); a W row holds at most CPU_GEMM_KC_MAX pairs. */
    for (int x = CPU_BF16_X_ROUND; x <= CPU_BF16_X_SPLIT; x++)
        plan->kc_bf16[x] = fit(plan->caches.l2 / 2 / (GK_NR * 2 * (size_t)x), 256, 256,
                               2 * CPU_GEMM_KC_MAX);

}

int cpu_gemm_bf16_x_for(const cpu_gemm_plan *plan, size_t m, size_t n, size_t k, int gelu)
{
    if (plan->bf16_x != CPU_BF16_X_AUTO)
        return plan->bf16_x;
    /* Where the bf16 race found the bf16 products slower than the widened weight. */
    if (cpu_gemm_race_bf16_widen(plan, m, n, k))
        return CPU_BF16_X_WIDEN;
    /* More outputs than inputs and no GELU: in a ViT encoder that is the fused QKV projection
     * (n = 3k; fc1 has GELU). Its errors reach the attention scores through Q·K^T and the
     * softmax, and rounding its X alone took the fixtures' worst CLS cosine from 0.99997 to
     * 0.99987, below the bf16 contract; rounding the X of every other linear cost nothing
     * measurable (docs/accuracy.md). hi + lo would fix it but costs two bf16 products per
     * pair of depths, one instruction per depth like fp32's FMA, and measured no faster than
     * the widened weight on the fp32 kernels, which keeps X exact: so that linear is widened,
     * the others rounded. */
    if (n > k && !gelu) /* on AMX, two tile products per pair still beat fp32 by far */
        return plan->amx ? CPU_BF16_X_SPLIT : CPU_BF16_X_WIDEN;
    return CPU_BF16_X_ROUND;
}

size_t cpu_gemm_kc_split(const cpu_gemm_plan *plan, size_t m)
{
    size_t tokens = (m + GK_NR - 1) / GK_NR * GK_NR;
    tokens = tokens > CPU_GEMM_TB_MAX ? CPU_GEMM_TB_MAX : tokens;
    return fit(plan->caches.l2 / 2 / (tokens * sizeof(float)), 256, 256, plan->kc);
}

/* Tokens per block for depth blocks of kc, `bytes` per token and depth in the packed X:
 * packed X within half of L2 (at least one panel). Every feature block reads the whole token
 * block's X again, 1/6 byte per FLOP in fp32, while W is read again per token block, 2/tb
 * bytes per FLOP; the first stays in L2 this way, and the second stays small (256 tokens:
 * 1/128). With X sized to a quarter of L3 instead (up to CPU_GEMM_TB_MAX tokens) it came from
 * L3 at every feature block, and on the Intel Xeon without AMX (2 MiB L2, L3 shared with
 * other guests) the own kernels ran 10% slower at batch 8 and 20-30% slower at fc2's depth
 * 4096 at batch 1 (docs/performance.md, "Own GEMM: token blocks"). */
static size_t token_block(const cpu_gemm_plan *plan, size_t kc, size_t bytes)
{
    return fit(plan->caches.l2 / 2 / (kc * bytes), GK_NR, GK_NR, CPU_GEMM_TB_MAX);
}

vitcl_status cpu_gemm_linear(vitcl_context *ctx, const char *op, const float *x, size_t ldx,
                             const float *w, size_t ldw, const float *bias, float *y, size_t ldy,
                             size_t m, size_t n, size_t k, int gelu)
{
    return cpu_gemm_linear_fmt(ctx, op, x, ldx, w, VITCL_PRECISION_FP32, ldw, bias, y, ldy, m,
                               n, k, gelu);
}

vitcl_status cpu_gemm_linear_fmt(vitcl_context *ctx, const char *op, const float *x, size_t ldx,
                                 const void *w, uint32_t wfmt, size_t ldw, const float *bias,
                                 float *y, size_t ldy, size_t m, size_t n, size_t k, int gelu)
{
    const cpu_gemm_plan *plan = &ctx->gemm;
    int amx_layout = wfmt == CPU_WFMT_BF16_AMX;
    const cpu_gemm_bf16 *bf =
        wfmt == VITCL_PRECISION_BF16 || amx_layout ? plan->bf16 : NULL;
    int bx = bf ? cpu_gemm_bf16_x_for(plan, m, n, k, gelu) : 0;
    if (amx_layout && (!bf || !plan->amx || bx == CPU_BF16_X_WIDEN))
        return cpu_fail(ctx, VITCL_ERR_INTERNAL, op,
                        "a weight in the AMX tile layout reached a context that does not run "
                        "it on AMX");
    if (bx == CPU_BF16_X_WIDEN)
        bf = NULL, bx = 0;
    /* AMX takes its weights in the tile layout only; a row-major bf16 W runs AVX512-BF16. */
    const cpu_gemm_amx *amx = amx_layout ? plan->amx : NULL;
    size_t kc = bf ? plan->kc_bf16[bx] : plan->kc;
    if (!bf && !amx) { /* fp32 products: the race's depth block where it decided one */
        size_t raced = plan->kc_force ? plan->kc_force : cpu_gemm_race_kc(plan, m, n, k);
        kc = raced ? raced : kc;
    }
    size_t kc_max = k < kc ? k : kc;
    /* Bytes per token and depth in a packed panel: 4 (fp32), 2 (bf16 rounded), 4 (hi + lo). */
    size_t xbytes = bf ? 2 * (size_t)bx : sizeof(float);
    size_t tb = token_block(plan, kc_max, xbytes);

    size_t panels = (m + GK_NR - 1) / GK_NR, per_block = tb / GK_NR;
    size_t kc2p = ((kc_max + 1) / 2 + 15) / 16 * 16;
    size_t panel = amx  ? kc2p * GK_NR * (size_t)bx
                   : bf ? (kc_max + 1) / 2 * GK_NR * (size_t)bx
                        : GK_NR * kc_max;
    size_t xt_floats = (panels < per_block ? panels : per_block) * panel;
    vitcl_status st = cpu_packed_x_reserve(ctx, op, xt_floats);
    if (st == VITCL_OK && !amx) /* the W panels; AMX reads W in place */
        st = cpu_scratch_reserve(ctx, op, (size_t)GK_MR * GK_LDWP);
    if (st != VITCL_OK)
        return st;
    gk_args a = {.x = x, .w = w, .wfmt = wfmt,
                 .wbytes = wfmt == VITCL_PRECISION_FP32 ? sizeof(float) : sizeof(uint16_t),
                 .wa = amx ? (const uint32_t *)w : NULL, .wsteps = (k + 31) / 32,
                 .bias = bias, .y = y, .m = m, .n = n, .k = k, .ldx = ldx,
                 .ldw = ldw, .ldy = ldy, .xt = ctx->packed_x, .scratch = ctx->scratch,
                 .isa = plan->isa, .bf = bf, .bx = bx, .amx = amx, .panel = panel,
                 .gelu = gelu};
    /* Chunks of consecutive feature blocks (about 8 per thread and token block), so that a
     * thread knows its next block and can prefetch its W rows. */
    size_t mr = amx ? CPU_AMX_MR : GK_MR, fblocks = (n + mr - 1) / mr;
    size_t grain = fblocks / (8 * (size_t)cpu_pool_threads(ctx->pool));
    grain = grain ? grain : 1;
    for (size_t k0 = 0; k0 < k; k0 += kc) {
        a.k0 = k0;
        a.kc = k - k0 < kc ? k - k0 : kc;
        a.first = k0 == 0;
        a.last = k0 + a.kc == k;
        a.kc2p = ((a.kc + 1) / 2 + 15) / 16 * 16;
        for (size_t p0 = 0; p0 < panels; p0 += per_block) {
            a.p0 = p0;
            a.p1 = panels - p0 < per_block ? panels : p0 + per_block;
            cpu_pool_run(ctx->pool, a.p1 - a.p0, 1, pack_x_task, &a);
            cpu_pool_run(ctx->pool, fblocks, grain, amx ? compute_amx_task : compute_task, &a);
        }
    }
    return VITCL_OK;
}
