/* host/conformance/conf_cases.c - the matrix of op cases of the conformance suite.
 *
 * Each case lays its tensors out in host arrays with CONF_GUARD floats before and after. Input
 * floats the op must not read (guards, padding between rows, gaps between batches) are NaN, so
 * reading them poisons the result; output floats the op must write start as NaN (unless the op
 * reads them: gemm with beta != 0, in-place calls), and every other output float holds a
 * sentinel that must survive bit for bit. The tolerance of each case follows the formulas of
 * docs/conformance.md, computed from the case's own data.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_internal.h"

#define EPS32 ((double)FLT_EPSILON) /* 2^-23 */
#define ATOL 1e-30                  /* admits flush-to-zero of denormal results */
#define SENTINEL 7777.75f           /* output floats the op must leave alone */

/* ---------------------------------------------------------------- values */

typedef struct conf_rng {
    uint64_t s;
} conf_rng;

static double rng_unit(conf_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* Value distributions of the inputs. */
typedef enum conf_kind {
    K_UNIT,     /* uniform [-1, 1) */
    K_WIDE,     /* uniform [-4, 4) */
    K_BIG,      /* uniform [-1e4, 1e4): breaks exp without max-subtraction */
    K_BIGMEAN,  /* 1e4 + uniform [-10, 10): breaks a one-pass variance */
    K_SMALLVAR, /* uniform [-1e-3, 1e-3): variance comparable to eps = 1e-6 */
    K_DENORMAL, /* half the values denormal (|x| < FLT_MIN), half uniform [-1, 1) */
    K_ALLDENORM,/* every value denormal */
    K_QK30,     /* uniform [-30, 30): attention scores in the thousands */
    K_POS       /* uniform [0, 1): every product positive, so rounding biases add up */
} conf_kind;

static const char *kind_name(conf_kind k)
{
    static const char *const names[] = {"U(-1,1)", "U(-4,4)", "U(-1e4,1e4)", "1e4+U(-10,10)",
                                        "U(-1e-3,1e-3)", "half denormal", "all denormal",
                                        "U(-30,30)", "U(0,1)"};
    return names[k];
}

static float draw(conf_rng *r, conf_kind k)
{
    double u = 2.0 * rng_unit(r) - 1.0;
    switch (k) {
    case K_UNIT: return (float)u;
    case K_WIDE: return (float)(4.0 * u);
    case K_BIG: return (float)(1e4 * u);
    case K_BIGMEAN: return (float)(1e4 + 10.0 * u);
    case K_SMALLVAR: return (float)(1e-3 * u);
    case K_DENORMAL: return rng_unit(r) < 0.5 ? (float)(u * 1e-39) : (float)u;
    case K_ALLDENORM: return (float)(u * 1e-39);
    case K_QK30: return (float)(30.0 * u);
    case K_POS: return (float)rng_unit(r);
    }
    return 0.0f;
}

/* ---------------------------------------------------------------- tensors */

static void case_free(conf_case *c)
{
    for (size_t i = 0; i < c->nt; i++) {
        free(c->t[i].init);
        free(c->t[i].write);
        free(c->t[i].bound);
        free(c->t[i].expect);
    }
    c->nt = 0;
    free(c->w_host);
    c->w_host = NULL;
}

/* Adds a tensor of `payload` floats (guards added here) and returns its index, or -1 when out
 * of memory or the size overflows. Inputs start as NaN; outputs as SENTINEL with no float
 * marked written. */
static int add_tensor(conf_case *c, const char *name, size_t payload, int output)
{
    if (c->nt >= CONF_MAX_TENSORS || payload > (SIZE_MAX / sizeof(float)) / 2)
        return -1;
    conf_tensor *t = &c->t[c->nt];
    t->name = name;
    t->count = payload + 2 * CONF_GUARD;
    t->init = malloc(t->count * sizeof(float));
    t->write = output ? calloc(t->count, 1) : NULL;
    t->bound = NULL;
    t->expect = NULL;
    if (t->init == NULL || (output && t->write == NULL)) {
        free(t->init);
        free(t->write);
        return -1;
    }
    for (size_t i = 0; i < t->count; i++)
        t->init[i] = output ? SENTINEL : NAN;
    return (int)c->nt++;
}

/* Fills `rows` rows of `cols` values (leading dimension ld) at payload offset `at`. */
static void fill(conf_rng *r, conf_tensor *t, size_t at, size_t rows, size_t cols, size_t ld,
                 conf_kind k)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            t->init[CONF_GUARD + at + i * ld + j] = draw(r, k);
}

/* Marks `rows` rows of `cols` floats (leading dimension ld) at payload offset `at` as written
 * by the op; they start as NaN (keep != 0: keep the current value, which the op reads). */
static void mark(conf_tensor *t, size_t at, size_t rows, size_t cols, size_t ld, int keep)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            size_t e = CONF_GUARD + at + i * ld + j;
            t->write[e] = 1;
            if (!keep)
                t->init[e] = NAN;
        }
}

/* The largest finite |value| among the first n payload floats of t (not its guards, which
 * hold SENTINEL in an output tensor: an in-place op's input is one). */
static double max_abs(const conf_tensor *t, size_t n)
{
    double m = 0.0;
    for (size_t i = CONF_GUARD; i < CONF_GUARD + n && i < t->count; i++)
        if (isfinite(t->init[i]) && fabs(t->init[i]) > m)
            m = fabs(t->init[i]);
    return m;
}

static void init_case(conf_case *c, vitcl_op op, const char *name)
{
    memset(c, 0, sizeof *c);
    c->op = op;
    c->op_name = name;
    c->atol = ATOL;
    for (int a = 0; a < CONF_ARG_COUNT_; a++) {
        c->arg[a] = -1;
        c->off[a] = CONF_GUARD;
    }
}

/* Adds a tensor and binds it to argument slot `arg`; returns 0 when out of memory. */
static int bind(conf_case *c, int arg, const char *name, size_t payload, int output)
{
    int i = add_tensor(c, name, payload, output);
    if (i < 0)
        return 0;
    c->arg[arg] = i;
    return 1;
}

#define T(c, slot) (&(c)->t[(c)->arg[slot]])

/* ---------------------------------------------------------------- linear */

typedef struct linear_spec {
    size_t m, n, k;
    int bias;
    uint32_t flags; /* VITCL_LINEAR_GELU, VITCL_LINEAR_PACKED_W, VITCL_LINEAR_RESIDUAL */
    conf_kind kind;
    int quick;
} linear_spec;

static const linear_spec linear_specs[] = {
    {1, 1, 1, 0, 0, K_UNIT, 1},
    {1, 1, 1, 1, VITCL_LINEAR_GELU, K_UNIT, 0},
    {1, 7, 3, 1, 0, K_UNIT, 0},
    {5, 3, 17, 0, 0, K_UNIT, 1},
    {5, 3, 17, 1, VITCL_LINEAR_GELU, K_UNIT, 1},
    {5, 3, 17, 0, VITCL_LINEAR_GELU, K_WIDE, 0},
    {197, 33, 65, 1, 0, K_UNIT, 1},
    {197, 33, 65, 1, VITCL_LINEAR_GELU, K_UNIT, 1},
    {3, 5, 4099, 1, 0, K_UNIT, 0},
    {50, 384, 384, 1, 0, K_UNIT, 0},
    {50, 1536, 384, 1, VITCL_LINEAR_GELU, K_UNIT, 0},
    {7, 9, 31, 1, VITCL_LINEAR_GELU, K_DENORMAL, 1},
    {5, 3, 17, 1, VITCL_LINEAR_PACKED_W, K_UNIT, 1},
    {197, 33, 65, 1, VITCL_LINEAR_GELU | VITCL_LINEAR_PACKED_W, K_UNIT, 1},
    {3, 5, 4099, 0, VITCL_LINEAR_PACKED_W, K_UNIT, 0},
    {50, 384, 384, 1, VITCL_LINEAR_PACKED_W, K_UNIT, 0},
};

/* ABI 1.2: Y += the product (a ViT block's attention output and fc2 projections). Walked
 * after every other case, so that their seeds stay what they were. */
static const linear_spec residual_specs[] = {
    {197, 33, 65, 1, VITCL_LINEAR_RESIDUAL, K_UNIT, 1},
    {5, 3, 17, 0, VITCL_LINEAR_RESIDUAL | VITCL_LINEAR_GELU, K_UNIT, 1},
    {7, 9, 31, 1, VITCL_LINEAR_RESIDUAL | VITCL_LINEAR_PACKED_W, K_DENORMAL, 1},
    {20, 64, 1536, 1, VITCL_LINEAR_RESIDUAL | VITCL_LINEAR_PACKED_W, K_UNIT, 1},
    {3, 5, 4099, 1, VITCL_LINEAR_RESIDUAL | VITCL_LINEAR_GELU | VITCL_LINEAR_PACKED_W, K_UNIT, 0},
};

static int build_linear(conf_rng *r, const linear_spec *s, conf_case *c)
{
    int packed = (s->flags & VITCL_LINEAR_PACKED_W) != 0;
    init_case(c, packed ? VITCL_OP_LINEAR_PACK_WEIGHT : VITCL_OP_LINEAR,
              packed ? "linear_pack_weight" : "linear");
    c->m = s->m, c->n = s->n, c->k = s->k, c->flags = s->flags;
    if (!bind(c, CONF_ARG_X, "X", s->m * s->k, 0) || !bind(c, CONF_ARG_W, "W", s->n * s->k, 0) ||
        (s->bias && !bind(c, CONF_ARG_B, "b", s->n, 0)) ||
        !bind(c, CONF_ARG_Y, "Y", s->m * s->n, 1))
        return 0;
    fill(r, T(c, CONF_ARG_X), 0, s->m, s->k, s->k, s->kind);
    fill(r, T(c, CONF_ARG_W), 0, s->n, s->k, s->k, K_UNIT);
    if (s->bias)
        fill(r, T(c, CONF_ARG_B), 0, 1, s->n, s->n, K_UNIT);
    /* With the residual flag the op reads Y first: it starts as data, not NaN. */
    int resid = (s->flags & VITCL_LINEAR_RESIDUAL) != 0;
    if (resid)
        fill(r, T(c, CONF_ARG_Y), 0, s->m, s->n, s->n, K_UNIT);
    mark(T(c, CONF_ARG_Y), 0, s->m, s->n, s->n, resid);
    /* fp32 dot products of k terms (+ bias): error ~ sqrt(k)·eps relative to the output scale;
     * GELU adds erf's error (OpenCL allows 16 ulp). */
    c->rtol = 8 * EPS32 * (sqrt((double)s->k + 1) + 4) + (s->flags & VITCL_LINEAR_GELU ? 32 * EPS32 : 0);
    snprintf(c->shape, sizeof c->shape, "m=%zu n=%zu k=%zu%s%s%s%s X~%s", s->m, s->n, s->k,
             s->bias ? " bias" : "", s->flags & VITCL_LINEAR_GELU ? " gelu" : "",
             packed ? " packed-W" : "", resid ? " residual" : "", kind_name(s->kind));
    return 1;
}

/* ---------------------------------------------------------------- pack_weight_host */

/* Linear through pack_weight_host, run for every input dtype and precision (conf_for_each_case
 * skips none; conf_exec decides what the device claims). k = 1 with many outputs and the
 * all-positive inputs are where a wrong rounding cannot average out; k = 4096 and 4099 are
 * the long reductions. */
static const linear_spec host_specs[] = {
    {1, 1, 1, 0, 0, K_UNIT, 1},
    {64, 64, 1, 1, 0, K_UNIT, 1},
    {5, 3, 17, 1, VITCL_LINEAR_GELU, K_UNIT, 1},
    {7, 9, 31, 0, 0, K_POS, 1},
    {3, 40, 100, 1, 0, K_POS, 1},
    {197, 33, 65, 1, VITCL_LINEAR_GELU, K_UNIT, 1},
    {4, 24, 4096, 1, 0, K_UNIT, 1},
    {2, 16, 4096, 0, VITCL_LINEAR_GELU, K_POS, 1},
    {3, 5, 4099, 1, 0, K_UNIT, 0},
    {50, 384, 384, 1, VITCL_LINEAR_GELU, K_UNIT, 0},
};

/* ABI 1.2's residual add on a weight packed from host memory, in every dtype and precision:
 * how a ViT block runs its attention output projection and fc2 on a bf16 or fp16 model. Walked
 * after every other case, so that their seeds stay what they were. */
static const linear_spec host_residual_specs[] = {
    {5, 3, 17, 1, VITCL_LINEAR_RESIDUAL, K_UNIT, 1},
    {7, 9, 31, 0, VITCL_LINEAR_RESIDUAL | VITCL_LINEAR_GELU, K_POS, 1},
    {197, 33, 65, 1, VITCL_LINEAR_RESIDUAL, K_UNIT, 1},
    {3, 5, 4099, 1, VITCL_LINEAR_RESIDUAL | VITCL_LINEAR_GELU, K_UNIT, 0},
};

/* fp16's range: W[1][2] = 70000 and W[3][0] = -1e5 round to +inf and -inf. The plugin either
 * refuses the weight (what ref and cpu do) or stores the infinities, and then their columns of
 * Y are ±inf exactly; W[2][3] = 65519 must round to 65504, not to inf. */
#define OVF_M 3
#define OVF_N 4
#define OVF_K 5

/* The host weight of c (n·k elements of c->dtype) from W's values, which become exact. */
static int store_host_weight(conf_case *c)
{
    size_t count = c->n * c->k;
    c->w_host_bytes = count * conf_dtype_size(c->dtype);
    c->w_host = malloc(c->w_host_bytes);
    if (c->w_host == NULL)
        return 0;
    float *w = T(c, CONF_ARG_W)->init + CONF_GUARD;
    for (size_t i = 0; i < count; i++)
        w[i] = conf_dtype_store(c->w_host, c->dtype, i, w[i]);
    return 1;
}

/* Per-element bounds of Y for a bf16/fp16 case (conf_linear_bound on the case's own data). */
static int bound_outputs(conf_case *c, int with_bias)
{
    conf_tensor *y = T(c, CONF_ARG_Y);
    y->bound = calloc(y->count, sizeof *y->bound);
    if (y->bound == NULL)
        return 0;
    const float *x = T(c, CONF_ARG_X)->init + CONF_GUARD, *w = T(c, CONF_ARG_W)->init + CONF_GUARD;
    const float *b = with_bias ? T(c, CONF_ARG_B)->init + CONF_GUARD : NULL;
    for (size_t i = 0; i < c->m; i++)
        for (size_t j = 0; j < c->n; j++) {
            conf_dot_terms t = {0.0, 0.0, b != NULL ? fabs((double)b[j]) : 0.0, c->k};
            for (size_t p = 0; p < c->k; p++) {
                double xv = x[i * c->k + p], wv = w[j * c->k + p];
                t.abs_xw += fabs(xv * wv);
                t.abs_x_plus_w += fabs(xv) + fabs(wv);
            }
            double z = conf_linear_bound(c->precision, &t, (c->flags & VITCL_LINEAR_GELU) != 0);
            /* Y += r adds one fp32 rounding to ours and one to ref's, each at most u32 of
             * |y0| + |r| (|r| <= the linear's terms plus z: |gelu(v)| <= |v|). */
            if (c->flags & VITCL_LINEAR_RESIDUAL)
                z += 2 * 0x1p-24 *
                     (fabs((double)y->init[CONF_GUARD + i * c->n + j]) + t.abs_xw + t.abs_bias + 2 * z);
            y->bound[CONF_GUARD + i * c->n + j] = z;
        }
    return 1;
}

static int build_host_linear(conf_rng *r, const linear_spec *s, uint32_t dtype,
                             uint32_t precision, int overflow, conf_case *c)
{
    init_case(c, VITCL_OP_PACK_WEIGHT_HOST, "pack_weight_host");
    c->m = s->m, c->n = s->n, c->k = s->k;
    c->flags = s->flags | VITCL_LINEAR_PACKED_W;
    c->dtype = dtype, c->precision = precision;
    if (!bind(c, CONF_ARG_X, "X", s->m * s->k, 0) || !bind(c, CONF_ARG_W, "W", s->n * s->k, 0) ||
        (s->bias && !bind(c, CONF_ARG_B, "b", s->n, 0)) ||
        !bind(c, CONF_ARG_Y, "Y", s->m * s->n, 1))
        return 0;
    fill(r, T(c, CONF_ARG_X), 0, s->m, s->k, s->k, s->kind);
    fill(r, T(c, CONF_ARG_W), 0, s->n, s->k, s->k, s->kind);
    if (s->bias)
        fill(r, T(c, CONF_ARG_B), 0, 1, s->n, s->n, K_UNIT);
    /* With the residual flag the op reads Y first: it starts as data, not NaN. */
    int resid = (s->flags & VITCL_LINEAR_RESIDUAL) != 0;
    if (resid)
        fill(r, T(c, CONF_ARG_Y), 0, s->m, s->n, s->n, K_UNIT);
    mark(T(c, CONF_ARG_Y), 0, s->m, s->n, s->n, resid);
    float *x = T(c, CONF_ARG_X)->init + CONF_GUARD, *w = T(c, CONF_ARG_W)->init + CONF_GUARD;
    if (overflow) {
        for (size_t i = 0; i < s->m; i++) /* |x| >= 0.5 where it meets an infinite weight */
            for (size_t p = 0; p < s->k; p += 2)
                x[i * s->k + p] = copysignf(0.5f + 0.5f * fabsf(x[i * s->k + p]), x[i * s->k + p]);
        w[1 * s->k + 2] = 70000.0f;
        w[3 * s->k + 0] = -1e5f;
        w[2 * s->k + 3] = 65519.0f;
    }
    if (!store_host_weight(c))
        return 0;
    const char *dt = conf_dtype_name(dtype);
    if (precision == VITCL_PRECISION_FP32) {
        /* Exactly the fp32 linear contract (build_linear): the weight's values are exact. */
        c->rtol = 8 * EPS32 * (sqrt((double)s->k + 1) + 4) +
                  (s->flags & VITCL_LINEAR_GELU ? 32 * EPS32 : 0);
    } else if (!bound_outputs(c, s->bias)) {
        return 0;
    }
    if (overflow) {
        c->pack_may_refuse = 1;
        conf_tensor *y = T(c, CONF_ARG_Y);
        if ((y->expect = malloc(y->count * sizeof *y->expect)) == NULL)
            return 0;
        for (size_t i = 0; i < y->count; i++)
            y->expect[i] = NAN;
        for (size_t i = 0; i < s->m; i++) {
            y->expect[CONF_GUARD + i * s->n + 1] = copysignf(INFINITY, x[i * s->k + 2]);
            y->expect[CONF_GUARD + i * s->n + 3] = -copysignf(INFINITY, x[i * s->k + 0]);
        }
        snprintf(c->shape, sizeof c->shape, "m=%zu n=%zu k=%zu bias in=%s W: 7e4,-1e5 to inf, 65519",
                 s->m, s->n, s->k, dt);
        return 1;
    }
    snprintf(c->shape, sizeof c->shape, "m=%zu n=%zu k=%zu%s%s%s X,W~%s in=%s", s->m, s->n,
             s->k, s->bias ? " bias" : "", s->flags & VITCL_LINEAR_GELU ? " gelu" : "",
             resid ? " residual" : "", kind_name(s->kind), dt);
    return 1;
}

/* ---------------------------------------------------------------- gemm_batched */

typedef struct gemm_spec {
    size_t m, n, k, batch;
    float alpha, beta;
    int quick;
} gemm_spec;

static const gemm_spec gemm_specs[] = {
    {1, 1, 1, 1, 1.0f, 0.0f, 1},   {5, 7, 3, 3, 0.125f, 0.0f, 1}, {5, 7, 3, 3, -1.5f, 0.5f, 1},
    {13, 9, 17, 2, 1.0f, 0.0f, 0}, {1, 11, 4099, 1, 1.0f, 0.0f, 0}, {64, 65, 63, 2, 0.125f, 0.0f, 0},
};

/* A stored matrix of `rows` x `cols` per batch, leading dimension cols + 3, batches 5 floats
 * apart beyond one matrix. */
static int build_gemm(conf_rng *r, const gemm_spec *s, int ta, int tb, conf_case *c)
{
    init_case(c, VITCL_OP_GEMM_BATCHED, "gemm_batched");
    c->m = s->m, c->n = s->n, c->k = s->k, c->batch = s->batch;
    c->trans_a = ta, c->trans_b = tb, c->alpha = s->alpha, c->beta = s->beta;
    size_t ar = ta ? s->k : s->m, ac = ta ? s->m : s->k;
    size_t br = tb ? s->n : s->k, bc = tb ? s->k : s->n;
    c->ld[CONF_ARG_X] = ac + 3, c->ld[CONF_ARG_W] = bc + 2, c->ld[CONF_ARG_Y] = s->n + 1;
    c->stride[CONF_ARG_X] = ar * c->ld[CONF_ARG_X] + 5;
    c->stride[CONF_ARG_W] = br * c->ld[CONF_ARG_W] + 1;
    c->stride[CONF_ARG_Y] = s->m * c->ld[CONF_ARG_Y] + 4;
    if (!bind(c, CONF_ARG_X, "A", s->batch * c->stride[CONF_ARG_X], 0) ||
        !bind(c, CONF_ARG_W, "B", s->batch * c->stride[CONF_ARG_W], 0) ||
        !bind(c, CONF_ARG_Y, "C", s->batch * c->stride[CONF_ARG_Y], 1))
        return 0;
    for (size_t p = 0; p < s->batch; p++) {
        fill(r, T(c, CONF_ARG_X), p * c->stride[CONF_ARG_X], ar, ac, c->ld[CONF_ARG_X], K_UNIT);
        fill(r, T(c, CONF_ARG_W), p * c->stride[CONF_ARG_W], br, bc, c->ld[CONF_ARG_W], K_UNIT);
        size_t at = p * c->stride[CONF_ARG_Y];
        if (s->beta != 0.0f)
            fill(r, T(c, CONF_ARG_Y), at, s->m, s->n, c->ld[CONF_ARG_Y], K_UNIT);
        mark(T(c, CONF_ARG_Y), at, s->m, s->n, c->ld[CONF_ARG_Y], s->beta != 0.0f);
    }
    c->rtol = 8 * EPS32 * (sqrt((double)s->k) + 4);
    snprintf(c->shape, sizeof c->shape, "%c%c m=%zu n=%zu k=%zu batch=%zu alpha=%g beta=%g ld+pad",
             ta ? 'T' : 'N', tb ? 'T' : 'N', s->m, s->n, s->k, s->batch, (double)s->alpha,
             (double)s->beta);
    return 1;
}

/* The two products the host composes attention from, on one fused QKV buffer [seq, 3D]:
 * scores_h = scale·Q_h·K_h^T (pv = 0) and context_h = P_h·V_h written interleaved into
 * [seq, D] (pv = 1). Heads are the batch, heads·head_dim floats apart. */
static int build_gemm_heads(conf_rng *r, size_t seq, size_t heads, size_t hd, int pv,
                            conf_case *c)
{
    size_t D = heads * hd;
    init_case(c, VITCL_OP_GEMM_BATCHED, "gemm_batched");
    c->batch = heads, c->alpha = pv ? 1.0f : 1.0f / sqrtf((float)hd), c->beta = 0.0f;
    if (!pv) {
        c->m = seq, c->n = seq, c->k = hd, c->trans_b = 1;
        if (!bind(c, CONF_ARG_X, "QKV", seq * 3 * D, 0) ||
            !bind(c, CONF_ARG_Y, "scores", heads * seq * seq, 1))
            return 0;
        c->arg[CONF_ARG_W] = c->arg[CONF_ARG_X];
        c->off[CONF_ARG_W] = CONF_GUARD + D;
        c->ld[CONF_ARG_X] = c->ld[CONF_ARG_W] = 3 * D;
        c->stride[CONF_ARG_X] = c->stride[CONF_ARG_W] = hd;
        c->ld[CONF_ARG_Y] = seq, c->stride[CONF_ARG_Y] = seq * seq;
        fill(r, T(c, CONF_ARG_X), 0, seq, 2 * D, 3 * D, K_UNIT); /* Q and K; V stays NaN */
        mark(T(c, CONF_ARG_Y), 0, heads * seq, seq, seq, 0);
    } else {
        c->m = seq, c->n = hd, c->k = seq;
        if (!bind(c, CONF_ARG_X, "P", heads * seq * seq, 0) ||
            !bind(c, CONF_ARG_W, "QKV", seq * 3 * D, 0) ||
            !bind(c, CONF_ARG_Y, "context", seq * D, 1))
            return 0;
        c->off[CONF_ARG_W] = CONF_GUARD + 2 * D;
        c->ld[CONF_ARG_X] = seq, c->stride[CONF_ARG_X] = seq * seq;
        c->ld[CONF_ARG_W] = 3 * D, c->stride[CONF_ARG_W] = hd;
        c->ld[CONF_ARG_Y] = D, c->stride[CONF_ARG_Y] = hd;
        conf_tensor *p = T(c, CONF_ARG_X);
        fill(r, p, 0, heads * seq, seq, seq, K_UNIT);
        for (size_t i = 0; i < heads * seq * seq; i++) /* probabilities: positive, rows ~ 1 */
            p->init[CONF_GUARD + i] = fabsf(p->init[CONF_GUARD + i]) * 2.0f / (float)seq;
        fill(r, T(c, CONF_ARG_W), 2 * D, seq, D, 3 * D, K_UNIT); /* V only */
        mark(T(c, CONF_ARG_Y), 0, seq, D, D, 0);
    }
    c->rtol = 8 * EPS32 * (sqrt((double)c->k) + 4);
    snprintf(c->shape, sizeof c->shape, "%s seq=%zu heads=%zu head_dim=%zu (fused QKV, ld=3D)",
             pv ? "P·V" : "Q·K^T", seq, heads, hd);
    return 1;
}

/* ---------------------------------------------------------------- layernorm */

typedef struct rows_spec {
    size_t rows, cols;
    conf_kind kind;
    float param; /* layernorm: eps; softmax: scale */
    int in_place;
    int quick;
} rows_spec;

static const rows_spec layernorm_specs[] = {
    {1, 1, K_UNIT, 1e-6f, 0, 1},        {3, 5, K_WIDE, 1e-12f, 0, 1},
    {197, 384, K_WIDE, 1e-6f, 0, 1},    {2, 1024, K_UNIT, 1e-6f, 0, 0},
    {4, 4099, K_UNIT, 1e-6f, 0, 0},     {8, 768, K_BIGMEAN, 1e-6f, 0, 1},
    {3, 4099, K_BIGMEAN, 1e-12f, 0, 0}, {16, 384, K_SMALLVAR, 1e-6f, 0, 1},
    {4, 768, K_DENORMAL, 1e-6f, 0, 0},  {197, 384, K_WIDE, 1e-6f, 1, 1},
};

static int build_layernorm(conf_rng *r, const rows_spec *s, conf_case *c)
{
    init_case(c, VITCL_OP_LAYERNORM, "layernorm");
    c->m = s->rows, c->n = s->cols, c->eps = s->param;
    size_t count = s->rows * s->cols;
    if (!bind(c, CONF_ARG_X, "X", count, s->in_place) ||
        !bind(c, CONF_ARG_W, "gamma", s->cols, 0) || !bind(c, CONF_ARG_B, "beta", s->cols, 0))
        return 0;
    if (s->in_place)
        c->arg[CONF_ARG_Y] = c->arg[CONF_ARG_X];
    else if (!bind(c, CONF_ARG_Y, "Y", count, 1))
        return 0;
    conf_tensor *x = T(c, CONF_ARG_X);
    fill(r, x, 0, s->rows, s->cols, s->cols, s->kind);
    fill(r, T(c, CONF_ARG_W), 0, 1, s->cols, s->cols, K_UNIT);
    fill(r, T(c, CONF_ARG_B), 0, 1, s->cols, s->cols, K_UNIT);
    for (size_t j = 0; j < s->cols; j++) /* gamma in [0.5, 1.5) */
        T(c, CONF_ARG_W)->init[CONF_GUARD + j] = 1.0f + 0.5f * T(c, CONF_ARG_W)->init[CONF_GUARD + j];
    mark(T(c, CONF_ARG_Y), 0, s->rows, s->cols, s->cols, s->in_place);
    /* The row mean carries ~sqrt(cols)·eps·|mean| of rounding, amplified by 1/sd in the output:
     * the condition number |mean|/sd enters the tolerance. */
    double cond = 0.0;
    for (size_t i = 0; i < s->rows; i++) {
        const float *row = x->init + CONF_GUARD + i * s->cols;
        double mean = 0.0, var = 0.0;
        for (size_t j = 0; j < s->cols; j++)
            mean += row[j];
        mean /= (double)s->cols;
        for (size_t j = 0; j < s->cols; j++)
            var += (row[j] - mean) * (row[j] - mean);
        var /= (double)s->cols;
        cond = fmax(cond, fabs(mean) / sqrt(var + (double)s->param));
    }
    c->rtol = 8 * EPS32 * (sqrt((double)s->cols) * (1 + cond) + 8);
    snprintf(c->shape, sizeof c->shape, "rows=%zu cols=%zu eps=%g X~%s%s", s->rows, s->cols,
             (double)s->param, kind_name(s->kind), s->in_place ? " in-place" : "");
    return 1;
}

/* ---------------------------------------------------------------- softmax */

static const rows_spec softmax_specs[] = {
    {1, 1, K_WIDE, 1.0f, 0, 1},      {3, 7, K_WIDE, 1.0f, 0, 1},
    {24, 197, K_WIDE, 0.125f, 0, 1}, {2, 4099, K_WIDE, 1.0f, 0, 0},
    {1, 3137, K_WIDE, 1.0f, 0, 0},   {6, 197, K_BIG, 1.0f, 0, 1},
    {2, 4099, K_BIG, 0.3f, 0, 0},    {3, 1025, K_BIG, 1.0f, 0, 0},
    {4, 64, K_DENORMAL, 1.0f, 0, 0}, {24, 197, K_WIDE, 0.125f, 1, 1},
};

static int build_softmax(conf_rng *r, const rows_spec *s, conf_case *c)
{
    init_case(c, VITCL_OP_SOFTMAX, "softmax");
    c->m = s->rows, c->n = s->cols, c->scale = s->param;
    size_t count = s->rows * s->cols;
    if (!bind(c, CONF_ARG_X, "X", count, s->in_place))
        return 0;
    if (s->in_place)
        c->arg[CONF_ARG_Y] = c->arg[CONF_ARG_X];
    else if (!bind(c, CONF_ARG_Y, "Y", count, 1))
        return 0;
    fill(r, T(c, CONF_ARG_X), 0, s->rows, s->cols, s->cols, s->kind);
    double xmax = max_abs(T(c, CONF_ARG_X), count);
    mark(T(c, CONF_ARG_Y), 0, s->rows, s->cols, s->cols, s->in_place);
    /* exp's argument s·x - max carries eps·|s·x| of rounding (relative error of the result);
     * the row sum adds ~sqrt(cols)·eps. */
    c->rtol = 8 * EPS32 * (fabs((double)s->param) * xmax + sqrt((double)s->cols) + 8);
    snprintf(c->shape, sizeof c->shape, "rows=%zu cols=%zu scale=%g X~%s%s", s->rows, s->cols,
             (double)s->param, kind_name(s->kind), s->in_place ? " in-place" : "");
    return 1;
}

/* ---------------------------------------------------------------- gelu and add */

typedef struct vec_spec {
    size_t n, period; /* add: b_period; gelu: unused */
    conf_kind kind;
    int in_place;
    int quick;
} vec_spec;

static const vec_spec gelu_specs[] = {
    {1, 0, K_WIDE, 0, 1},   {7, 0, K_WIDE, 0, 1},      {4099, 0, K_WIDE, 0, 1},
    {65537, 0, K_WIDE, 0, 0}, {1001, 0, K_BIG, 0, 1}, {257, 0, K_ALLDENORM, 0, 1},
    {4099, 0, K_WIDE, 1, 1},
};

static const vec_spec add_specs[] = {
    {1, 1, K_UNIT, 0, 1},          {7, 7, K_UNIT, 0, 1},
    {12, 4, K_UNIT, 0, 1},         {12, 1, K_UNIT, 0, 0},
    {2 * 197 * 384, 197 * 384, K_UNIT, 0, 1}, {4099, 4099, K_BIG, 0, 0},
    {257, 257, K_ALLDENORM, 0, 1}, {2 * 197 * 384, 197 * 384, K_UNIT, 1, 1},
};

static int build_vec(conf_rng *r, const vec_spec *s, int is_add, conf_case *c)
{
    init_case(c, is_add ? VITCL_OP_ADD : VITCL_OP_GELU, is_add ? "add" : "gelu");
    c->n = s->n, c->k = s->period;
    if (!bind(c, CONF_ARG_X, is_add ? "A" : "X", s->n, s->in_place) ||
        (is_add && !bind(c, CONF_ARG_W, "B", s->period, 0)))
        return 0;
    if (s->in_place)
        c->arg[CONF_ARG_Y] = c->arg[CONF_ARG_X];
    else if (!bind(c, CONF_ARG_Y, "Y", s->n, 1))
        return 0;
    fill(r, T(c, CONF_ARG_X), 0, 1, s->n, s->n, s->kind);
    if (is_add)
        fill(r, T(c, CONF_ARG_W), 0, 1, s->period, s->period, s->kind);
    mark(T(c, CONF_ARG_Y), 0, 1, s->n, s->n, s->in_place);
    /* add: one rounding; gelu: erf (16 ulp allowed by OpenCL) and a few multiplications.
     * erf's error is absolute near ±1, so gelu's is relative to |x|, not to the result: for
     * x = -3.5, 1 + erf(x/sqrt(2)) is 5e-4 and 16 ulp of erf are 2e-3 of it. */
    c->rtol = is_add ? 2 * EPS32 : 32 * EPS32;
    if (!is_add)
        c->scale_ref = max_abs(T(c, CONF_ARG_X), s->n);
    if (is_add)
        snprintf(c->shape, sizeof c->shape, "n=%zu b_period=%zu X~%s%s", s->n, s->period,
                 kind_name(s->kind), s->in_place ? " in-place" : "");
    else
        snprintf(c->shape, sizeof c->shape, "n=%zu X~%s%s", s->n, kind_name(s->kind),
                 s->in_place ? " in-place" : "");
    return 1;
}

/* ---------------------------------------------------------------- attention */

typedef struct attn_spec {
    size_t batch, seq, heads, head_dim;
    int fused;
    conf_kind kind; /* of Q and K; V is always U(-1,1) */
    int quick;
} attn_spec;

static const attn_spec attn_specs[] = {
    {1, 1, 1, 1, 1, K_UNIT, 1},    {2, 5, 3, 4, 0, K_UNIT, 1},
    {1, 7, 2, 3, 1, K_WIDE, 1},    {2, 197, 6, 64, 1, K_UNIT, 1},
    {1, 197, 3, 64, 0, K_WIDE, 0}, {1, 197, 2, 64, 1, K_QK30, 1},
    {1, 1025, 2, 64, 1, K_UNIT, 0}, {1, 3137, 1, 64, 1, K_UNIT, 0},
};

static int build_attention(conf_rng *r, const attn_spec *s, conf_case *c)
{
    init_case(c, VITCL_OP_ATTENTION, "attention");
    size_t D = s->heads * s->head_dim, rows = s->batch * s->seq;
    c->batch = s->batch, c->seq = s->seq, c->heads = s->heads, c->head_dim = s->head_dim;
    c->scale = 1.0f / sqrtf((float)s->head_dim);
    if (s->fused) {
        /* One [B·seq, 3D] buffer, as the host passes a fused QKV projection. */
        if (!bind(c, CONF_ARG_X, "QKV", rows * 3 * D, 0))
            return 0;
        c->arg[CONF_ARG_K] = c->arg[CONF_ARG_V] = c->arg[CONF_ARG_X];
        c->off[CONF_ARG_K] = CONF_GUARD + D, c->off[CONF_ARG_V] = CONF_GUARD + 2 * D;
        c->ld[CONF_ARG_X] = c->ld[CONF_ARG_K] = c->ld[CONF_ARG_V] = 3 * D;
        fill(r, T(c, CONF_ARG_X), 0, rows, 2 * D, 3 * D, s->kind);
        fill(r, T(c, CONF_ARG_X), 2 * D, rows, D, 3 * D, K_UNIT);
    } else {
        /* Separate buffers with padded rows. */
        size_t ld = D + 5;
        if (!bind(c, CONF_ARG_X, "Q", rows * ld, 0) || !bind(c, CONF_ARG_K, "K", rows * ld, 0) ||
            !bind(c, CONF_ARG_V, "V", rows * ld, 0))
            return 0;
        c->ld[CONF_ARG_X] = c->ld[CONF_ARG_K] = c->ld[CONF_ARG_V] = ld;
        fill(r, T(c, CONF_ARG_X), 0, rows, D, ld, s->kind);
        fill(r, T(c, CONF_ARG_K), 0, rows, D, ld, s->kind);
        fill(r, T(c, CONF_ARG_V), 0, rows, D, ld, K_UNIT);
    }
    c->ld[CONF_ARG_Y] = s->fused ? D : D + 3;
    if (!bind(c, CONF_ARG_Y, "O", rows * c->ld[CONF_ARG_Y], 1))
        return 0;
    mark(T(c, CONF_ARG_Y), 0, rows, D, c->ld[CONF_ARG_Y], 0);
    /* Errors scale with max|v| (outputs are convex combinations of v, and can be much smaller
     * than max|v| when attention is spread): a score error δ gives a relative error ~2δ in the
     * probabilities; δ ~ |scale|·head_dim·max|q|·max|k|·eps; the sum over seq adds
     * ~sqrt(seq)·eps. */
    double qmax = 0.0, kmax = 0.0, vmax = 0.0;
    const conf_tensor *q = T(c, CONF_ARG_X), *k = T(c, CONF_ARG_K), *v = T(c, CONF_ARG_V);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < D; j++) {
            qmax = fmax(qmax, fabs(q->init[c->off[CONF_ARG_X] + i * c->ld[CONF_ARG_X] + j]));
            kmax = fmax(kmax, fabs(k->init[c->off[CONF_ARG_K] + i * c->ld[CONF_ARG_K] + j]));
            vmax = fmax(vmax, fabs(v->init[c->off[CONF_ARG_V] + i * c->ld[CONF_ARG_V] + j]));
        }
    c->scale_ref = vmax;
    c->rtol = 8 * EPS32 *
              (sqrt((double)s->seq) + 2 * fabs((double)c->scale) * (double)s->head_dim * qmax * kmax + 8);
    snprintf(c->shape, sizeof c->shape, "B=%zu seq=%zu heads=%zu head_dim=%zu %s QK~%s", s->batch,
             s->seq, s->heads, s->head_dim, s->fused ? "fused QKV ld=3D" : "separate ld=D+5",
             kind_name(s->kind));
    return 1;
}

/* ---------------------------------------------------------------- patch_embed */

typedef struct patch_spec {
    size_t batch, channels, height, width, patch, dim;
    int cls_gap; /* leave one row of dim floats before each image's tokens, as the host does */
    int quick;
} patch_spec;

static const patch_spec patch_specs[] = {
    {1, 1, 1, 1, 1, 1, 0, 1},    {2, 3, 30, 30, 7, 32, 1, 1}, {1, 3, 35, 34, 7, 16, 0, 1},
    {2, 3, 15, 9, 4, 5, 1, 0},   {1, 3, 64, 64, 16, 48, 1, 0}, {1, 3, 224, 224, 16, 384, 1, 0},
};

static int build_patch(conf_rng *r, const patch_spec *s, conf_case *c)
{
    init_case(c, VITCL_OP_PATCH_EMBED, "patch_embed");
    size_t gh = s->height / s->patch, gw = s->width / s->patch, tokens = gh * gw;
    size_t kk = s->channels * s->patch * s->patch;
    size_t ystride = (tokens + (size_t)s->cls_gap) * s->dim;
    c->batch = s->batch, c->channels = s->channels, c->height = s->height, c->width = s->width;
    c->patch = s->patch, c->n = s->dim, c->stride[CONF_ARG_Y] = ystride;
    if (!bind(c, CONF_ARG_X, "pixels", s->batch * s->channels * s->height * s->width, 0) ||
        !bind(c, CONF_ARG_W, "W", s->dim * kk, 0) || !bind(c, CONF_ARG_B, "bias", s->dim, 0) ||
        !bind(c, CONF_ARG_Y, "Y", s->batch * ystride, 1))
        return 0;
    fill(r, T(c, CONF_ARG_X), 0, 1, s->batch * s->channels * s->height * s->width, 0, K_UNIT);
    fill(r, T(c, CONF_ARG_W), 0, s->dim, kk, kk, K_UNIT);
    fill(r, T(c, CONF_ARG_B), 0, 1, s->dim, s->dim, K_UNIT);
    size_t gap = s->cls_gap ? s->dim : 0;
    c->off[CONF_ARG_Y] = CONF_GUARD + gap;
    for (size_t b = 0; b < s->batch; b++)
        mark(T(c, CONF_ARG_Y), gap + b * ystride, tokens, s->dim, s->dim, 0);
    c->rtol = 8 * EPS32 * (sqrt((double)kk + 1) + 4);
    snprintf(c->shape, sizeof c->shape, "B=%zu C=%zu %zux%zu patch=%zu dim=%zu%s%s", s->batch,
             s->channels, s->height, s->width, s->patch, s->dim,
             (s->height % s->patch || s->width % s->patch) ? " remainder" : "",
             s->cls_gap ? " CLS gap" : "");
    return 1;
}

/* ---------------------------------------------------------------- driver */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct walker {
    int quick;
    const char *filter;
    conf_case_fn fn;
    void *user;
    uint64_t seed;
} walker;

static int wanted(const walker *w, const char *op, int quick_case)
{
    return (!w->quick || quick_case) && (w->filter == NULL || strstr(op, w->filter) != NULL);
}

/* Builds (built == 1), runs and frees one case; a failed build is out of memory. */
static vitcl_status visit(walker *w, conf_case *c, int built)
{
    vitcl_status st = built ? w->fn(c, w->user) : VITCL_ERR_OUT_OF_MEMORY;
    case_free(c);
    return st;
}

vitcl_status conf_for_each_case(int quick, const char *filter, conf_case_fn fn, void *user)
{
    walker w = {quick, filter, fn, user, 0};
    conf_case *c = malloc(sizeof *c);
    if (c == NULL)
        return VITCL_ERR_OUT_OF_MEMORY;
    vitcl_status st = VITCL_OK;
    conf_rng r;
#define EACH(specs, opname, build_call)                                          \
    for (size_t i = 0; st == VITCL_OK && i < COUNT(specs); i++) {                \
        r.s = 0x5eed0000u + (++w.seed);                                          \
        if (wanted(&w, opname, specs[i].quick))                                  \
            st = visit(&w, c, build_call);                                       \
    }
    EACH(linear_specs, (linear_specs[i].flags & VITCL_LINEAR_PACKED_W) ? "linear_pack_weight"
                                                                         : "linear",
         build_linear(&r, &linear_specs[i], c))
    for (int t = 0; t < 4; t++)
        EACH(gemm_specs, "gemm_batched", build_gemm(&r, &gemm_specs[i], t & 1, t >> 1, c))
    for (size_t i = 0; st == VITCL_OK && i < 4; i++) {
        r.s = 0x5eed0000u + (++w.seed);
        size_t seq = i < 2 ? 197 : 50;
        if (wanted(&w, "gemm_batched", i < 2))
            st = visit(&w, c, build_gemm_heads(&r, seq, 3, 64, (int)(i & 1), c));
    }
    EACH(layernorm_specs, "layernorm", build_layernorm(&r, &layernorm_specs[i], c))
    EACH(softmax_specs, "softmax", build_softmax(&r, &softmax_specs[i], c))
    EACH(gelu_specs, "gelu", build_vec(&r, &gelu_specs[i], 0, c))
    EACH(add_specs, "add", build_vec(&r, &add_specs[i], 1, c))
    EACH(attn_specs, "attention", build_attention(&r, &attn_specs[i], c))
    EACH(patch_specs, "patch_embed", build_patch(&r, &patch_specs[i], c))
    /* Last, so the seeds of the cases above stay what they were before ABI 1.1. */
    for (uint32_t p = 0; p < VITCL_PRECISION_COUNT_; p++)
        for (uint32_t d = 0; d < VITCL_DTYPE_COUNT_; d++)
            EACH(host_specs, "pack_weight_host", build_host_linear(&r, &host_specs[i], d, p, 0, c))
    {
        static const linear_spec ovf[] = {{OVF_M, OVF_N, OVF_K, 1, 0, K_UNIT, 1}};
        EACH(ovf, "pack_weight_host",
             build_host_linear(&r, &ovf[0], VITCL_DTYPE_F32, VITCL_PRECISION_FP16, 1, c))
    }
    EACH(residual_specs,
         (residual_specs[i].flags & VITCL_LINEAR_PACKED_W) ? "linear_pack_weight" : "linear",
         build_linear(&r, &residual_specs[i], c))
    for (uint32_t p = 0; p < VITCL_PRECISION_COUNT_; p++)
        for (uint32_t d = 0; d < VITCL_DTYPE_COUNT_; d++)
            EACH(host_residual_specs, "pack_weight_host",
                 build_host_linear(&r, &host_residual_specs[i], d, p, 0, c))
#undef EACH
    free(c);
    return st;
}
