/* plugins/cpu/cpu_attention.c - the cpu plugin's fused multi-head attention.
 *
 * With the own GEMM (ctx->gemm.isa: AVX-512F or AVX2+FMA) both products run on its
 * micro-kernels (cpu_gemm_micro), 12 x 32 per call: a thread packs a head once as K in blocks
 * of 12 keys ([head_dim][12] each) and V in blocks of 12 dimensions ([seq][12] each); a task of
 * 32 queries packs them transposed ([head_dim][32], the GEMM's X packing), computes the scores
 * transposed, P^T [seq][32] (12 keys x 32 queries per call), runs the softmax of the scaled
 * scores down the columns (32 queries side by side, maximum subtracted, left unnormalized), and
 * P^T is then directly the packed operand of the context product (12 dimensions x 32 queries
 * per call, depth seq), stored into O by the GEMM's epilogue and then divided by each query's
 * sum. Scratch per thread:
 * 12·ceil(seq/12)·head_dim + 12·ceil(head_dim/12)·seq + 32·head_dim + 32·12·ceil(seq/12) + 384
 * floats.
 *
 * Otherwise (the plain path below):
 * Work is split into tasks (image b, head h, tile of ATT_TILE queries) run on the context's
 * pool. A thread that starts on a head packs it once into its scratch: K^T [head_dim, Sp]
 * (Sp = seq rounded up to 16, zero padded) and V [seq, Dp] (Dp = head_dim rounded up to 16).
 * For a tile it then computes the scaled scores of 4 queries at a time against 16 keys at a
 * time (register-blocked), a numerically safe softmax per row (maximum subtracted), and the
 * context 4 queries × 16 dimensions at a time. Scratch per thread is
 * head_dim·Sp + seq·Dp + ATT_TILE·Sp + 4·head_dim floats, so memory never grows with
 * batch·heads·seq² (seq 3137, head_dim 64: about 2.4 MiB per thread). Arbitrary leading
 * dimensions are read through the packing, so fused QKV buffers cost nothing extra.
 */
#include <math.h>
#include <string.h>

#include "cpu_internal.h"
#include "cpu_vmath.h"

#define ATT_TILE 32 /* queries per task; a multiple of 4 */
#define ATT_COLS 16 /* keys / output dimensions per register block */

typedef struct att_args {
    const float *q, *k, *v;
    float *o;
    size_t ldq, ldk, ldv, ldo;
    size_t seq, heads, hd, sp, dp, tiles;
    float scale;
    uint64_t call;
    cpu_scratch *scratch;
    const cpu_gemm_isa *isa; /* the own GEMM's kernels, NULL for the plain path */
} att_args;

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

/* Kt[j][t] = k(t, j) for t < seq, 0 up to sp; Vp[t][j] = v(t, j) for j < hd, 0 up to dp. */
static void pack_head(const att_args *a, const float *k, const float *v, float *kt, float *vp)
{
    for (size_t t = 0; t < a->seq; t++) {
        const float *kr = k + t * a->ldk;
        for (size_t j = 0; j < a->hd; j++)
            kt[j * a->sp + t] = kr[j];
        memcpy(vp + t * a->dp, v + t * a->ldv, a->hd * sizeof(float));
        memset(vp + t * a->dp + a->hd, 0, (a->dp - a->hd) * sizeof(float));
    }
    for (size_t j = 0; j < a->hd; j++)
        memset(kt + j * a->sp + a->seq, 0, (a->sp - a->seq) * sizeof(float));
}

/* out[r][0..ncols) = Σ_i a[r·lda + i]·b[i·ldb + ·] for 4 rows r, over depth i in [0, depth);
 * ncols is a multiple of ATT_COLS. Serves both products of attention: the scores
 * (a = scaled Q rows, b = K^T, depth = head_dim) and the context (a = P rows, b = V,
 * depth = seq). */
CPU_KERNEL
static void rows4_times(const float *a, size_t lda, size_t depth, const float *b, size_t ldb,
                        size_t ncols, float *out, size_t ldo)
{
    for (size_t t = 0; t < ncols; t += ATT_COLS) {
        cpu_v8 c00 = cpu_v8_set1(0.0f), c01 = c00, c10 = c00, c11 = c00;
        cpu_v8 c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (size_t i = 0; i < depth; i++) {
            const float *br = b + i * ldb + t;
            cpu_v8 b0 = cpu_v8_load(br), b1 = cpu_v8_load(br + CPU_V);
            cpu_v8 a0 = cpu_v8_set1(a[i]), a1 = cpu_v8_set1(a[lda + i]);
            cpu_v8 a2 = cpu_v8_set1(a[2 * lda + i]), a3 = cpu_v8_set1(a[3 * lda + i]);
            c00 += a0 * b0;
            c01 += a0 * b1;
            c10 += a1 * b0;
            c11 += a1 * b1;
            c20 += a2 * b0;
            c21 += a2 * b1;
            c30 += a3 * b0;
            c31 += a3 * b1;
        }
        cpu_v8_store(out + t, c00);
        cpu_v8_store(out + t + CPU_V, c01);
        cpu_v8_store(out + ldo + t, c10);
        cpu_v8_store(out + ldo + t + CPU_V, c11);
        cpu_v8_store(out + 2 * ldo + t, c20);
        cpu_v8_store(out + 2 * ldo + t + CPU_V, c21);
        cpu_v8_store(out + 3 * ldo + t, c30);
        cpu_v8_store(out + 3 * ldo + t + CPU_V, c31);
    }
}

CPU_KERNEL
static float row_max(const float *x, size_t n)
{
    float mx = -INFINITY;
    size_t i = 0;
    if (n >= CPU_V) {
        cpu_v8 vm = cpu_v8_load(x);
        for (i = CPU_V; i + CPU_V <= n; i += CPU_V)
            vm = cpu_v8_max(vm, cpu_v8_load(x + i));
        mx = cpu_v8_hmax(vm);
    }
    for (; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    return mx;
}

/* In-place softmax of 4 rows of n scores (already scaled), leading dimension ld. */
CPU_KERNEL
static void softmax4(float *p, size_t ld, size_t n)
{
    for (size_t r = 0; r < 4; r++) {
        float *row = p + r * ld;
        cpu_v8_softmax_tail(row, row, n, 1.0f, row_max(row, n));
    }
}

/* ------------------------------------------------------------------ own-GEMM path */

#define OWN_MR CPU_GEMM_MR
#define OWN_NR CPU_GEMM_NR

/* K in blocks of OWN_MR keys, kp[(b·hd + j)·OWN_MR + r] = k(b·OWN_MR + r, j), zero past seq;
 * V in blocks of OWN_MR dimensions, vp[(c·seq + t)·OWN_MR + r] = v(t, c·OWN_MR + r), zero past
 * head_dim. */
static void pack_head_own(const att_args *a, const float *k, const float *v, float *kp,
                          float *vp)
{
    size_t kb = (a->seq + OWN_MR - 1) / OWN_MR, vb = (a->hd + OWN_MR - 1) / OWN_MR;
    /* The rows lie ld apart in the QKV activations (often outside the caches): ask for a few
     * rows ahead, which the hardware prefetcher does not follow across such strides. */
    for (size_t b = 0; b < kb; b++)
        for (size_t r = 0; r < OWN_MR; r++) {
            size_t t = b * OWN_MR + r;
            float *dst = kp + b * a->hd * OWN_MR + r;
            if (t + 8 < a->seq)
                for (size_t j = 0; j < a->hd; j += 16)
                    __builtin_prefetch(k + (t + 8) * a->ldk + j, 0, 3);
            for (size_t j = 0; j < a->hd; j++)
                dst[j * OWN_MR] = t < a->seq ? k[t * a->ldk + j] : 0.0f;
        }
    for (size_t c = 0; c < vb; c++)
        for (size_t t = 0; t < a->seq; t++) {
            float *dst = vp + (c * a->seq + t) * OWN_MR;
            if (c == 0 && t + 8 < a->seq)
                for (size_t j = 0; j < a->hd; j += 16)
                    __builtin_prefetch(v + (t + 8) * a->ldv + j, 0, 3);
            for (size_t r = 0; r < OWN_MR; r++) {
                size_t j = c * OWN_MR + r;
                dst[r] = j < a->hd ? v[t * a->ldv + j] : 0.0f;
            }
        }
}

/* Softmax down the first 16·nv of the OWN_NR columns of pt [seq][OWN_NR] of scale·pt, in place
 * but not normalized: pt = exp(scale·pt - column maximum), and inv[t] = 1 / column t's sum,
 * which the context's output takes instead (a pass over head_dim values per query, not over
 * seq). 16 lanes (cpu_vmath.h: bit-identical lanes at every width the clones compile it to).
 * Inlined with a constant nv, so that the maxima and sums stay in registers. */
CPU_VINLINE void column_softmax_nv(float *pt, size_t seq, int nv, float scale, float *inv)
{
    cpu_v16 mx[OWN_NR / 16], sum[OWN_NR / 16], vs = cpu_v16_set1(scale);
    for (int v = 0; v < nv; v++) {
        mx[v] = cpu_v16_set1(-INFINITY);
        sum[v] = cpu_v16_set1(0.0f);
    }
    for (size_t t = 0; t < seq; t++)
        for (int v = 0; v < nv; v++)
            mx[v] = cpu_v16_max(mx[v], cpu_v16_load(pt + t * OWN_NR + v * 16) * vs);
    for (size_t t = 0; t < seq; t++)
        for (int v = 0; v < nv; v++) {
            float *p = pt + t * OWN_NR + v * 16;
            cpu_v16 e = cpu_v16_exp(cpu_v16_load(p) * vs - mx[v]);
            sum[v] += e;
            cpu_v16_store(p, e);
        }
    for (int v = 0; v < nv; v++)
        cpu_v16_store(inv + v * 16, cpu_v16_set1(1.0f) / sum[v]);
}

/* The softmax of the first `live` query columns of pt (all OWN_NR where live > 16). */
CPU_KERNEL
static void column_softmax(float *pt, size_t seq, size_t live, float scale, float *inv)
{
    if (live > 16)
        column_softmax_nv(pt, seq, OWN_NR / 16, scale, inv);
    else
        column_softmax_nv(pt, seq, 1, scale, inv);
}

/* Row t of o (rows ldo apart, n values each) times inv[t], for t < rows. */
CPU_KERNEL
static void scale_rows(float *o, size_t ldo, size_t rows, size_t n, const float *inv)
{
    for (size_t t = 0; t < rows; t++) {
        float *row = o + t * ldo;
        cpu_v16 f = cpu_v16_set1(inv[t]);
        size_t j = 0;
        for (; j + 16 <= n; j += 16)
            cpu_v16_store(row + j, cpu_v16_load(row + j) * f);
        for (; j < n; j++)
            row[j] *= inv[t];
    }
}

static void att_task_own(void *arg, size_t begin, size_t end, int thread)
{
    const att_args *a = arg;
    cpu_scratch *s = &a->scratch[thread];
    size_t kb = (a->seq + OWN_MR - 1) / OWN_MR, vb = (a->hd + OWN_MR - 1) / OWN_MR;
    float *kp = s->data;
    float *vp = kp + kb * OWN_MR * a->hd;
    float *qp = vp + vb * OWN_MR * a->seq;
    float *pt = qp + a->hd * OWN_NR;
    float *ct = pt + kb * OWN_MR * OWN_NR;
    float inv[OWN_NR];
    for (size_t task = begin; task < end; task++) {
        size_t bh = task / a->tiles, tile = task % a->tiles;
        size_t b = bh / a->heads, h = bh % a->heads;
        size_t row0 = b * a->seq, col = h * a->hd;
        if (s->tag_call != a->call || s->tag_head != bh) {
            pack_head_own(a, a->k + row0 * a->ldk + col, a->v + row0 * a->ldv + col, kp, vp);
            s->tag_call = a->call;
            s->tag_head = bh;
        }
        size_t i0 = tile * OWN_NR, live = a->seq - i0 < OWN_NR ? a->seq - i0 : OWN_NR;
        /* The next task's query rows (ldq apart, usually outside the caches, a stride the
         * hardware prefetcher does not follow) arrive while this one computes. */
        if (task + 1 < end) {
            size_t nbh = (task + 1) / a->tiles, ni0 = (task + 1) % a->tiles * OWN_NR;
            size_t nrow0 = nbh / a->heads * a->seq, ncol = nbh % a->heads * a->hd;
            size_t nlive = a->seq - ni0 < OWN_NR ? a->seq - ni0 : OWN_NR;
            for (size_t t = 0; t < nlive; t++)
                for (size_t j = 0; j < a->hd; j += 16)
                    __builtin_prefetch(a->q + (nrow0 + ni0 + t) * a->ldq + ncol + j, 0, 3);
        }
        /* Q as the GEMM packs X ([head_dim][32 queries], zeros past live); the scale goes
         * into the softmax. */
        const float *q0 = a->q + (row0 + i0) * a->ldq + col;
        a->isa->pack_x(q0, a->ldq, live, a->hd, qp);
        /* Each call's [12 keys][32 queries] tile is a block of P^T's rows as it lies (pt has
         * room for the last block's padding keys); with at most 16 live queries the 16-query
         * kernels fill only the columns the rest of the task reads. */
        for (size_t c = 0; c < kb; c++)
            cpu_gemm_micro(a->isa, kp + c * a->hd * OWN_MR, qp, a->hd, live,
                           pt + c * OWN_MR * OWN_NR);
        column_softmax(pt, a->seq, live, a->scale, inv);
        /* The context [12 dimensions][queries] per call, stored transposed into O's rows as
         * the GEMM's epilogue stores Y, then each row divided by its query's sum. */
        float *o0 = a->o + (row0 + i0) * a->ldo + col;
        for (size_t c = 0; c < vb; c++) {
            cpu_gemm_micro(a->isa, vp + c * a->seq * OWN_MR, pt, a->seq, live, ct);
            size_t dims = a->hd - c * OWN_MR < OWN_MR ? a->hd - c * OWN_MR : OWN_MR;
            a->isa->store(ct, live, dims, o0 + c * OWN_MR, a->ldo, NULL, 0);
        }
        scale_rows(o0, a->ldo, live, a->hd, inv);
    }
}

/* ------------------------------------------------------------------ plain path */

static void att_task(void *arg, size_t begin, size_t end, int thread)
{
    const att_args *a = arg;
    cpu_scratch *s = &a->scratch[thread];
    float *kt = s->data;
    float *vp = kt + a->hd * a->sp;
    float *p = vp + a->seq * a->dp;
    float *qs = p + ATT_TILE * a->sp;
    float *ob = qs + 4 * a->hd; /* 4 rows of dp outputs */
    for (size_t task = begin; task < end; task++) {
        size_t bh = task / a->tiles, tile = task % a->tiles;
        size_t b = bh / a->heads, h = bh % a->heads;
        size_t row0 = b * a->seq; /* first token row of image b */
        size_t col = h * a->hd;
        if (s->tag_call != a->call || s->tag_head != bh) {
            pack_head(a, a->k + row0 * a->ldk + col, a->v + row0 * a->ldv + col, kt, vp);
            s->tag_call = a->call;
            s->tag_head = bh;
        }
        size_t i0 = tile * ATT_TILE;
        size_t i1 = a->seq - i0 < ATT_TILE ? a->seq : i0 + ATT_TILE;
        for (size_t i = i0; i < i1; i += 4) {
            size_t live = i1 - i < 4 ? i1 - i : 4;
            float *pr = p + (i - i0) * a->sp;
            for (size_t r = 0; r < 4; r++) {
                /* Rows past the tile's end repeat its last query; their results are dropped. */
                size_t qi = r < live ? i + r : i + live - 1;
                const float *qrow = a->q + (row0 + qi) * a->ldq + col;
                for (size_t j = 0; j < a->hd; j++)
                    qs[r * a->hd + j] = qrow[j] * a->scale;
            }
            rows4_times(qs, a->hd, a->hd, kt, a->sp, a->sp, pr, a->sp);
            softmax4(pr, a->sp, a->seq);
            rows4_times(pr, a->sp, a->seq, vp, a->dp, a->dp, ob, a->dp);
            for (size_t r = 0; r < live; r++)
                memcpy(a->o + (row0 + i + r) * a->ldo + col, ob + r * a->dp,
                       a->hd * sizeof(float));
        }
    }
}

vitcl_status cpu_attention(vitcl_context *ctx, const vitcl_buffer *Q, size_t q_off, size_t ldq,
                           const vitcl_buffer *K, size_t k_off, size_t ldk, const vitcl_buffer *V,
                           size_t v_off, size_t ldv, vitcl_buffer *O, size_t o_off, size_t ldo,
                           size_t batch, size_t seq, size_t heads, size_t head_dim, float scale)
{
    static const char op[] = "attention";
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = cpu_now_ns();
    if (batch == 0 || seq == 0 || heads == 0 || head_dim == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "zero size (batch %zu, seq %zu, heads %zu, head_dim %zu)", batch, seq,
                        heads, head_dim);
    if (!isfinite(scale))
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "scale %g is not finite",
                        (double)scale);
    size_t width, rows, tasks, bh;
    if (!plugin_size_mul(heads, head_dim, &width) || !plugin_size_mul(batch, seq, &rows) ||
        !plugin_size_mul(batch, heads, &bh) || !plugin_size_mul(bh, (seq + ATT_TILE - 1) / ATT_TILE, &tasks) ||
        seq > SIZE_MAX / 2 || head_dim > SIZE_MAX / 2)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "sizes overflow");
    if (ldq < width || ldk < width || ldv < width || ldo < width)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "leading dimension below heads·head_dim = %zu (ldq %zu, ldk %zu, ldv "
                        "%zu, ldo %zu)",
                        width, ldq, ldk, ldv, ldo);
    size_t q_ext = plugin_size_extent(1, 0, rows, ldq, width), k_ext = plugin_size_extent(1, 0, rows, ldk, width);
    size_t v_ext = plugin_size_extent(1, 0, rows, ldv, width), o_ext = plugin_size_extent(1, 0, rows, ldo, width);
    const cpu_span in[3] = {{"Q", Q, q_off, q_ext, 0}, {"K", K, k_off, k_ext, 0},
                            {"V", V, v_off, v_ext, 0}};
    const cpu_span out = {"O", O, o_off, o_ext, 0};
    vitcl_status st = cpu_check_operands(ctx, op, &out, in, 3);
    if (st != VITCL_OK)
        return st;

    att_args a = {.q = cpu_f(Q, q_off), .k = cpu_f(K, k_off), .v = cpu_f(V, v_off),
                  .o = cpu_f(O, o_off), .ldq = ldq, .ldk = ldk, .ldv = ldv, .ldo = ldo,
                  .seq = seq, .heads = heads, .hd = head_dim, .scale = scale,
                  .sp = round_up(seq, ATT_COLS), .dp = round_up(head_dim, ATT_COLS),
                  .tiles = (seq + ATT_TILE - 1) / ATT_TILE, .call = ++ctx->call_seq,
                  .scratch = ctx->scratch, .isa = ctx->gemm.isa};
    size_t f1, f2, f3, f4, total;
    if (ctx->gemm.isa) {
        /* kp + vp + qp + pt + ct, see att_task_own. */
        size_t kpad = round_up(seq, OWN_MR), dpad = round_up(head_dim, OWN_MR);
        size_t own_tiles = (seq + OWN_NR - 1) / OWN_NR;
        if (!plugin_size_mul(kpad, head_dim, &f1) || !plugin_size_mul(dpad, seq, &f2) ||
            !plugin_size_mul(OWN_NR, head_dim + kpad, &f3) || !plugin_size_add(f1, f2, &total) ||
            !plugin_size_add(total, f3, &total) || !plugin_size_add(total, OWN_MR * OWN_NR, &total) ||
            !plugin_size_mul(bh, own_tiles, &tasks))
            return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "scratch size overflows");
        a.tiles = own_tiles;
    } else {
        /* kt + vp + p + qs + ob, see att_task. */
        if (!plugin_size_mul(head_dim, a.sp, &f1) || !plugin_size_mul(seq, a.dp, &f2) ||
            !plugin_size_mul(ATT_TILE, a.sp, &f3) || !plugin_size_mul(4, head_dim + a.dp, &f4) ||
            !plugin_size_add(f1, f2, &total) || !plugin_size_add(total, f3, &total) ||
            !plugin_size_add(total, f4, &total))
            return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "scratch size overflows");
    }
    st = cpu_scratch_reserve(ctx, op, total);
    if (st != VITCL_OK)
        return st;
    /* A thread packs K and V of each head it meets, so chunks follow heads: a whole head's
     * tiles per chunk while there are at least 16 chunks per thread, fewer tiles otherwise
     * (one task each, claimed in turn, made both threads pack nearly every head; four chunks
     * per thread left a thread idle at the end of long sequences). */
    size_t want = 16 * (size_t)ctx->nthreads, grain = tasks / want;
    grain = grain < 1 ? 1 : grain > a.tiles ? a.tiles : grain;
    cpu_pool_run(ctx->pool, tasks, grain, ctx->gemm.isa ? att_task_own : att_task, &a);
    cpu_record(ctx, op, t0);
    return VITCL_OK;
}
