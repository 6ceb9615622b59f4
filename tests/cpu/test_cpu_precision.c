/* tests/cpu/test_cpu_precision.c - the cpu plugin's reduced-precision weights (ABI 1.1):
 * pack_weight_host for every dtype x precision, the stored bits, linear on the packed weight
 * through each GEMM path, supports(), the device's precisions, and refusals.
 *
 * The yardstick is independent of the plugin's conversion code: rounding to bf16 or fp16 is
 * done here in double arithmetic (frexp, nearbyint in the default round-to-nearest-even mode),
 * and the linear reference accumulates in double over the rounded weights. The suite runs the
 * plugin with VITCL_CPU_BF16=widen, where no path rounds X (device.h allows it to; the bf16
 * kernels on AVX512-BF16 do, and tests/cpu/test_cpu_bf16.c checks them), so the only rounding
 * left in the products is fp32's, bounded like tests/cpu/test_cpu_numerics.c:
 * (k + 4)·u·Σ|x·w|. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_harness.h"
#include "vitcl/device.h"

/* Every 16-bit weight widened to fp32, whatever the CPU (see above). */
static void widen_setup(void)
{
    setenv("VITCL_CPU_BF16", "widen", 1);
    harness_setup();
}

TestSuite(cpu_precision, .init = widen_setup, .fini = harness_teardown, .timeout = 240);

/* ------------------------------------------------------------------ the yardstick */

typedef struct fmt_desc {
    int p;          /* significand bits, the implicit one included */
    int emin;       /* exponent of the smallest normal */
    double max;     /* largest finite */
} fmt_desc;

static const fmt_desc BF16 = {8, -126, 0x1.fep127};
static const fmt_desc FP16 = {11, -14, 65504.0};

/* x rounded to nearest even in format f, infinity past its range. */
static double round_to(double x, fmt_desc f)
{
    if (x == 0 || !isfinite(x))
        return x;
    int e;
    frexp(x, &e); /* x = m·2^e, 0.5 <= |m| < 1: the leading bit has weight 2^(e-1) */
    int lead = e - 1 < f.emin ? f.emin : e - 1;
    double quantum = ldexp(1.0, lead - (f.p - 1));
    double r = nearbyint(x / quantum) * quantum;
    return fabs(r) > f.max ? copysign(INFINITY, x) : r;
}

/* The bits of v, which format f holds exactly (f = BF16 or FP16). */
static uint16_t encode(double v, fmt_desc f)
{
    if (f.p == BF16.p) {
        float fv = (float)v;
        uint32_t u;
        memcpy(&u, &fv, sizeof u);
        cr_assert_eq(u & 0xffffu, 0, "%g is not a bf16 value", v);
        return (uint16_t)(u >> 16);
    }
    uint16_t sign = signbit(v) ? 0x8000 : 0;
    double a = fabs(v);
    if (isinf(a))
        return sign | 0x7c00;
    if (a < 0x1p-14)
        return sign | (uint16_t)(a / 0x1p-24);
    int e;
    double m = frexp(a, &e); /* a = m·2^e */
    return sign | (uint16_t)((e - 1 + 15) << 10) | (uint16_t)(m * 2048 - 1024);
}

/* The value of 16-bit pattern h in format f. */
static double decode(uint16_t h, fmt_desc f)
{
    if (f.p == BF16.p) {
        uint32_t u = (uint32_t)h << 16;
        float fv;
        memcpy(&fv, &u, sizeof fv);
        return fv;
    }
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double s = (h & 0x8000) ? -1 : 1;
    if (e == 0x1f)
        return m ? NAN : s * INFINITY;
    return e ? s * ldexp(1024 + m, e - 25) : s * ldexp(m, -24);
}

static const fmt_desc *fmt_of_dtype(uint32_t dtype)
{
    return dtype == VITCL_DTYPE_BF16 ? &BF16 : dtype == VITCL_DTYPE_F16 ? &FP16 : NULL;
}

static const fmt_desc *fmt_of_precision(uint32_t precision)
{
    return precision == VITCL_PRECISION_BF16   ? &BF16
           : precision == VITCL_PRECISION_FP16 ? &FP16
                                               : NULL;
}

/* Host memory for n·k values in `dtype` (values already exact in it) and the values. */
static void *host_weight(const double *v, size_t count, uint32_t dtype)
{
    size_t es = dtype == VITCL_DTYPE_F32 ? 4 : 2;
    unsigned char *h = malloc(count * es);
    cr_assert(h);
    for (size_t i = 0; i < count; i++) {
        if (dtype == VITCL_DTYPE_F32) {
            float f = (float)v[i];
            memcpy(h + 4 * i, &f, 4);
        } else {
            uint16_t b = encode(v[i], *fmt_of_dtype(dtype));
            memcpy(h + 2 * i, &b, 2);
        }
    }
    return h;
}

/* count weights uniform in [-1, 1), exact in dtype (rounded to it here). */
static double *dtype_values(size_t count, uint32_t dtype)
{
    double *v = malloc(count * sizeof *v);
    cr_assert(v);
    for (size_t i = 0; i < count; i++) {
        double x = rng_uniform(-1, 1);
        v[i] = fmt_of_dtype(dtype) ? round_to(x, *fmt_of_dtype(dtype)) : x;
    }
    return v;
}

static vitcl_op_shape pack_shape(size_t n, size_t k, uint32_t dtype, uint32_t precision)
{
    vitcl_op_shape s = {.n = n, .k = k, .struct_size = sizeof(vitcl_op_shape),
                        .precision = precision, .dtype = dtype};
    return s;
}

static vitcl_buffer *pack(const void *host, uint32_t dtype, size_t n, size_t k,
                          uint32_t precision)
{
    vitcl_op_shape s = pack_shape(n, k, dtype, precision);
    cr_assert_eq(CPU.ops->supports(CPU.ctx, VITCL_OP_PACK_WEIGHT_HOST, &s), 1,
                 "supports(pack_weight_host, dtype %u, precision %u)", dtype, precision);
    vitcl_buffer *out = NULL;
    cr_assert_eq(CPU.ops->pack_weight_host(CPU.ctx, host, dtype, n, k, precision, "w.weight",
                                           &out),
                 VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
    cr_assert_not_null(out);
    return out;
}

/* ------------------------------------------------------------------ linear on packed weights */

static double gelu_d(double x)
{
    return 0.5 * x * erfc(-x / sqrt(2.0));
}

static void check_packed_linear(size_t m, size_t n, size_t k, uint32_t dtype, uint32_t precision,
                                int bias, uint32_t flags)
{
    double *wv = dtype_values(n * k, dtype);
    void *host = host_weight(wv, n * k, dtype);
    const fmt_desc *pf = fmt_of_precision(precision);
    float *x = rand_array(m * k, -1, 1), *b = rand_array(n, -1, 1);
    vitcl_buffer *W = pack(host, dtype, n, k, precision);
    free(host); /* the plugin keeps no pointer into host memory */
    vitcl_buffer *X = cbuf_new(x, m * k, "X"), *B = cbuf_new(b, n, "b"), *Y = cbuf_new(NULL, m * n, "Y");
    vitcl_op_shape s = {.m = m, .n = n, .k = k, .flags = flags | VITCL_LINEAR_PACKED_W,
                        .struct_size = sizeof(vitcl_op_shape), .precision = precision};
    cr_assert_eq(CPU.ops->supports(CPU.ctx, VITCL_OP_LINEAR, &s), 1);
    cr_assert_eq(CPU.ops->linear(CPU.ctx, X, 0, W, 0, bias ? B : NULL, 0, Y, 0, m, n, k,
                                 flags | VITCL_LINEAR_PACKED_W),
                 VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
    float *got = buf_get(&CPU, Y, m * n), *want = malloc(m * n * sizeof(float));
    double *bound = malloc(m * n * sizeof(double));
    cr_assert(want && bound);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double sum = bias ? b[j] : 0, mass = bias ? fabs(b[j]) : 0;
            for (size_t l = 0; l < k; l++) {
                double wq = pf ? round_to(wv[j * k + l], *pf) : wv[j * k + l];
                sum += (double)x[i * k + l] * wq;
                mass += fabs((double)x[i * k + l] * wq);
            }
            double e = (double)(k + 4) * U32 * mass;
            want[i * n + j] = (float)((flags & VITCL_LINEAR_GELU) ? gelu_d(sum) : sum);
            /* + half an ulp of the fp32 result the comparison is made against */
            bound[i * n + j] = ((flags & VITCL_LINEAR_GELU) ? 1.2 * e + 1e-6 * mass : e) +
                               U32 * fabs(want[i * n + j]) + 1e-37;
        }
    char what[128];
    snprintf(what, sizeof what, "packed linear m%zu n%zu k%zu dtype%u prec%u bias%d flags%u", m,
             n, k, dtype, precision, bias, (unsigned)flags);
    assert_close(what, got, want, bound, 0, 0, m * n);
    free(got);
    free(want);
    free(bound);
    free(wv);
    free(x);
    free(b);
    CPU.desc->buffer_free(CPU.ctx, W);
    CPU.desc->buffer_free(CPU.ctx, X);
    CPU.desc->buffer_free(CPU.ctx, B);
    CPU.desc->buffer_free(CPU.ctx, Y);
}

/* Every accepted dtype x precision (F32 into fp32 is declined, see supports below). */
static const uint32_t COMBOS[][2] = {
    {VITCL_DTYPE_F32, VITCL_PRECISION_BF16},  {VITCL_DTYPE_F32, VITCL_PRECISION_FP16},
    {VITCL_DTYPE_F16, VITCL_PRECISION_FP32},  {VITCL_DTYPE_F16, VITCL_PRECISION_BF16},
    {VITCL_DTYPE_F16, VITCL_PRECISION_FP16},  {VITCL_DTYPE_BF16, VITCL_PRECISION_FP32},
    {VITCL_DTYPE_BF16, VITCL_PRECISION_BF16}, {VITCL_DTYPE_BF16, VITCL_PRECISION_FP16},
};
#define N_COMBOS (sizeof COMBOS / sizeof COMBOS[0])

/* Shapes: size 1, odd n and k, k = 1, the own GEMM's partial feature, token and panel blocks,
 * a ViT-like one, and (k 16384, n 200) more rows than one widened block of the OpenBLAS path
 * holds on a machine with a 32 MiB L3 (128 rows). */
static void shapes_all_combos(void)
{
    static const size_t shapes[][3] = {{1, 1, 1},   {3, 5, 7},      {130, 9, 1},
                                       {17, 33, 65}, {40, 13, 1025}, {197, 100, 256}};
    for (size_t c = 0; c < N_COMBOS; c++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (uint32_t f = 0; f < 2; f++) /* 0 and VITCL_LINEAR_GELU */
                for (int bias = 0; bias < 2; bias++)
                    check_packed_linear(shapes[s][0], shapes[s][1], shapes[s][2], COMBOS[c][0],
                                        COMBOS[c][1], bias, f);
    check_packed_linear(5, 200, 16384, VITCL_DTYPE_F32, VITCL_PRECISION_BF16, 1, 0);
    check_packed_linear(5, 200, 16384, VITCL_DTYPE_BF16, VITCL_PRECISION_FP16, 1,
                        VITCL_LINEAR_GELU);
}

Test(cpu_precision, linear_every_dtype_and_precision)
{
    shapes_all_combos();
}

/* The same through each GEMM path VITCL_CPU_GEMM can force (OpenBLAS on widened blocks; the
 * own kernels, which widen while packing; oneDNN, on chunks of rows widened in scratch, for
 * every fp16 weight and the bf16 shapes that widen: n > k without GELU). */
static void run_path(const char *gemm, int available, const char *features)
{
    if (!available)
        cr_skip_test("this CPU lacks %s: VITCL_CPU_GEMM=%s cannot run here", features, gemm);
    harness_teardown();
    setenv("VITCL_CPU_GEMM", gemm, 1);
    harness_setup();
    shapes_all_combos();
    unsetenv("VITCL_CPU_GEMM");
}

Test(cpu_precision, linear_openblas_path)
{
    run_path("openblas", 1, "");
}

Test(cpu_precision, linear_onednn_path)
{
    run_path("onednn", VITCL_HAVE_ONEDNN, "a cpu plugin built with oneDNN (libdnnl-dev)");
}

Test(cpu_precision, linear_own_avx2_path)
{
    __builtin_cpu_init();
    run_path("avx2", __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"),
             "AVX2 or FMA");
}

Test(cpu_precision, linear_own_avx512_path)
{
    __builtin_cpu_init();
    run_path("avx512", __builtin_cpu_supports("avx512f"), "AVX-512F");
}

/* ------------------------------------------------------------------ the stored bits */

/* Values that probe the rounding: ties either way, the edges of the range and of the
 * subnormals, signed zeros, then random ones over the format's exponent range. */
static double *probe_values(size_t count, fmt_desc f)
{
    double *v = malloc(count * sizeof *v);
    cr_assert(v);
    double q = ldexp(1.0, -(f.p - 1)); /* ulp of 1 */
    double sub = ldexp(1.0, f.emin - (f.p - 1)); /* smallest subnormal */
    double fixed[] = {0.0, -0.0, 1.0, 1 + q / 2, 1 + 3 * q / 2, -(1 + q / 2), 1 + q / 2 + q / 64,
                      f.max, -f.max, sub, sub / 2, 3 * sub / 2, sub / 2 + sub / 64,
                      5 * sub / 2, ldexp(1.0, f.emin) - sub / 2, -sub / 4};
    size_t nf = sizeof fixed / sizeof fixed[0];
    int lo = f.emin - f.p - 2, hi = f.p == BF16.p ? 126 : 15;
    for (size_t i = 0; i < count; i++) {
        if (i < nf) {
            v[i] = (float)fixed[i];
            continue;
        }
        int e = lo + (int)(rng_uniform(0, 1) * (float)(hi - lo));
        v[i] = (float)ldexp(rng_uniform(-1, 1), e); /* an fp32 value, as in an F32 file */
    }
    return v;
}

/* pack_weight_host(F32 -> bf16/fp16) stores exactly the round-to-nearest-even bits, in
 * n·k·2 bytes (a read one float past them fails). */
static void check_stored_bits(uint32_t precision)
{
    const fmt_desc *f = fmt_of_precision(precision);
    size_t n = 37, k = 101, count = n * k; /* odd: the buffer's last float is half padding */
    double *v = probe_values(count, *f);
    void *host = host_weight(v, count, VITCL_DTYPE_F32);
    vitcl_buffer *W = pack(host, VITCL_DTYPE_F32, n, k, precision);
    size_t bytes = (count * 2 + 3) / 4 * 4;
    uint16_t *got = malloc(bytes);
    cr_assert(got);
    cr_assert_eq(CPU.desc->buffer_read(CPU.ctx, W, 0, got, bytes), VITCL_OK);
    cr_assert_neq(CPU.desc->buffer_read(CPU.ctx, W, 0, got, bytes + 4), VITCL_OK,
                  "the packed weight holds more than 16 bits per element");
    for (size_t i = 0; i < count; i++) {
        double want = round_to(v[i], *f);
        cr_assert_eq(got[i], encode(want, *f),
                     "element %zu: %a stored as 0x%04x, want 0x%04x (%a)", i, v[i], got[i],
                     encode(want, *f), want);
    }
    free(got);
    free(host);
    free(v);
    CPU.desc->buffer_free(CPU.ctx, W);
}

Test(cpu_precision, stored_bits_round_to_nearest_even)
{
    check_stored_bits(VITCL_PRECISION_BF16);
    check_stored_bits(VITCL_PRECISION_FP16);
}

/* Every finite fp16 pattern, packed from F16 into fp32, bf16 and fp16, then read back through
 * linear with X = the identity (Y[i][j] = W[j][i] exactly: one product by 1, the rest zeros). */
static void check_all_f16_patterns(uint32_t precision)
{
    size_t k = 256, n = 248; /* 63488 = the finite patterns, exponent field 0..30 */
    uint16_t *h = malloc(n * k * 2);
    float *eye = calloc(k * k, sizeof(float));
    cr_assert(h && eye);
    for (size_t i = 0; i < n * k; i++) /* exponents 0..30 of both signs: 31·1024·2 = n·k */
        h[i] = (uint16_t)((i < 31 * 1024 ? 0 : 0x8000) | (i % (31 * 1024)));
    for (size_t i = 0; i < k; i++)
        eye[i * k + i] = 1;
    vitcl_buffer *W = pack(h, VITCL_DTYPE_F16, n, k, precision);
    vitcl_buffer *X = cbuf_new(eye, k * k, "eye"), *Y = cbuf_new(NULL, k * n, "Y");
    cr_assert_eq(CPU.ops->linear(CPU.ctx, X, 0, W, 0, NULL, 0, Y, 0, k, n, k,
                                 VITCL_LINEAR_PACKED_W),
                 VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
    float *y = buf_get(&CPU, Y, k * n);
    const fmt_desc *pf = fmt_of_precision(precision);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < k; i++) {
            double v = decode(h[j * k + i], FP16), want = pf ? round_to(v, *pf) : v;
            /* == only: the GEMM's zero products decide the sign of a zero result */
            cr_assert(y[i * n + j] == want,
                      "fp16 0x%04x into precision %u: got %a, want %a", h[j * k + i], precision,
                      y[i * n + j], want);
        }
    free(y);
    free(h);
    free(eye);
    CPU.desc->buffer_free(CPU.ctx, W);
    CPU.desc->buffer_free(CPU.ctx, X);
    CPU.desc->buffer_free(CPU.ctx, Y);
}

Test(cpu_precision, every_fp16_pattern)
{
    check_all_f16_patterns(VITCL_PRECISION_FP32);
    check_all_f16_patterns(VITCL_PRECISION_BF16);
    check_all_f16_patterns(VITCL_PRECISION_FP16);
}

/* ------------------------------------------------------------------ supports and refusals */

Test(cpu_precision, supports_answers)
{
    const vitcl_op_table *o = CPU.ops;
    for (uint32_t d = 0; d <= VITCL_DTYPE_COUNT_; d++)
        for (uint32_t p = 0; p <= VITCL_PRECISION_COUNT_; p++) {
            vitcl_op_shape s = pack_shape(768, 3072, d, p);
            int want = d < VITCL_DTYPE_COUNT_ && p < VITCL_PRECISION_COUNT_ &&
                       !(d == VITCL_DTYPE_F32 && p == VITCL_PRECISION_FP32);
            cr_assert_eq(o->supports(CPU.ctx, VITCL_OP_PACK_WEIGHT_HOST, &s), want,
                         "dtype %u precision %u", d, p);
        }
    /* A shape without the 1.1 fields (struct_size 0, as a 1.0 host's) is not read. */
    vitcl_op_shape old = {.n = 768, .k = 768, .precision = VITCL_PRECISION_BF16,
                          .dtype = VITCL_DTYPE_F32};
    cr_assert_eq(o->supports(CPU.ctx, VITCL_OP_PACK_WEIGHT_HOST, &old), 0);
    old.flags = VITCL_LINEAR_PACKED_W;
    cr_assert_eq(o->supports(CPU.ctx, VITCL_OP_LINEAR, &old), 0);
    vitcl_op_shape zero = pack_shape(0, 768, VITCL_DTYPE_F32, VITCL_PRECISION_BF16);
    cr_assert_eq(o->supports(CPU.ctx, VITCL_OP_PACK_WEIGHT_HOST, &zero), 0);
    vitcl_op_shape huge = pack_shape(SIZE_MAX / 2, 4, VITCL_DTYPE_F32, VITCL_PRECISION_BF16);
    cr_assert_eq(o->supports(CPU.ctx, VITCL_OP_PACK_WEIGHT_HOST, &huge), 0);
    for (uint32_t p = 0; p <= VITCL_PRECISION_COUNT_; p++) {
        vitcl_op_shape s = {.m = 197, .n = 768, .k = 768, .struct_size = sizeof s,
                            .precision = p,
                            .flags = VITCL_LINEAR_PACKED_W | VITCL_LINEAR_GELU};
        cr_assert_eq(o->supports(CPU.ctx, VITCL_OP_LINEAR, &s), p < VITCL_PRECISION_COUNT_,
                     "linear, packed W in precision %u", p);
    }
    vitcl_op_shape unknown = {.m = 4, .n = 4, .k = 4, .struct_size = sizeof unknown,
                              .flags = 1u << 7};
    cr_assert_eq(o->supports(CPU.ctx, VITCL_OP_LINEAR, &unknown), 0, "unknown linear flag");
}

#define REFUSED(call, status, needle)                                                  \
    do {                                                                               \
        cr_assert_eq((call), (status), "%s accepted", #call);                          \
        assert_error_mentions(needle);                                                 \
    } while (0)

Test(cpu_precision, pack_refusals)
{
    const vitcl_op_table *o = CPU.ops;
    float w[12] = {0};
    vitcl_buffer *out = NULL;
    REFUSED(o->pack_weight_host(CPU.ctx, w, VITCL_DTYPE_COUNT_, 3, 4, VITCL_PRECISION_BF16,
                                "blocks.0.q", &out),
            VITCL_ERR_UNSUPPORTED, "unknown dtype");
    REFUSED(o->pack_weight_host(CPU.ctx, w, VITCL_DTYPE_F32, 3, 4, VITCL_PRECISION_COUNT_,
                                "blocks.0.q", &out),
            VITCL_ERR_UNSUPPORTED, "unknown precision");
    REFUSED(o->pack_weight_host(CPU.ctx, w, VITCL_DTYPE_F32, 3, 4, VITCL_PRECISION_FP32,
                                "blocks.0.q", &out),
            VITCL_ERR_UNSUPPORTED, "blocks.0.q");
    REFUSED(o->pack_weight_host(CPU.ctx, NULL, VITCL_DTYPE_F32, 3, 4, VITCL_PRECISION_BF16,
                                "blocks.0.q", &out),
            VITCL_ERR_INVALID_ARGUMENT, "NULL");
    REFUSED(o->pack_weight_host(CPU.ctx, w, VITCL_DTYPE_F32, 0, 4, VITCL_PRECISION_BF16,
                                "blocks.0.q", &out),
            VITCL_ERR_INVALID_ARGUMENT, "zero size");
    REFUSED(o->pack_weight_host(CPU.ctx, w, VITCL_DTYPE_F32, SIZE_MAX / 2, 4,
                                VITCL_PRECISION_BF16, "blocks.0.q", &out),
            VITCL_ERR_INVALID_ARGUMENT, "overflows");
    REFUSED(o->pack_weight_host(CPU.ctx, (char *)w + 2, VITCL_DTYPE_F32, 2, 2,
                                VITCL_PRECISION_BF16, "blocks.0.q", &out),
            VITCL_ERR_INVALID_ARGUMENT, "aligned");
    REFUSED(o->pack_weight_host(CPU.ctx, w, VITCL_DTYPE_F32, 3, 4, VITCL_PRECISION_BF16,
                                "blocks.0.q", NULL),
            VITCL_ERR_INVALID_ARGUMENT, "out is NULL");
    cr_assert_null(out);
    /* A finite value beyond fp16's range, from F32 and from BF16, names weight and element;
     * one that rounds down to 65504 and an infinity are kept. */
    w[6] = 65520.0f;
    REFUSED(o->pack_weight_host(CPU.ctx, w, VITCL_DTYPE_F32, 3, 4, VITCL_PRECISION_FP16,
                                "blocks.1.fc1", &out),
            VITCL_ERR_INVALID_ARGUMENT, "element [1, 2]");
    assert_error_mentions("blocks.1.fc1");
    cr_assert_null(out);
    uint16_t hb[4] = {0x3f80, 0x47c3 /* 99840 */, 0, 0};
    REFUSED(o->pack_weight_host(CPU.ctx, hb, VITCL_DTYPE_BF16, 2, 2, VITCL_PRECISION_FP16,
                                "blocks.1.fc2", &out),
            VITCL_ERR_INVALID_ARGUMENT, "element [0, 1]");
    cr_assert_null(out);
    w[6] = 65519.0f;
    w[7] = INFINITY;
    cr_assert_eq(o->pack_weight_host(CPU.ctx, w, VITCL_DTYPE_F32, 3, 4, VITCL_PRECISION_FP16,
                                     "w", &out),
                 VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
    uint16_t got[12];
    cr_assert_eq(CPU.desc->buffer_read(CPU.ctx, out, 0, got, sizeof got), VITCL_OK);
    cr_assert_eq(got[6], 0x7bff);
    cr_assert_eq(got[7], 0x7c00);
    CPU.desc->buffer_free(CPU.ctx, out);
}

Test(cpu_precision, linear_refuses_mismatched_packed_weights)
{
    const vitcl_op_table *o = CPU.ops;
    float w[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    vitcl_buffer *W = pack(w, VITCL_DTYPE_F32, 3, 4, VITCL_PRECISION_BF16);
    vitcl_buffer *plain = cbuf_new(w, 12, "plain.weight");
    vitcl_buffer *x = cbuf_new(NULL, 64, "x"), *y = cbuf_new(NULL, 64, "y");
    cr_assert_eq(o->linear(CPU.ctx, x, 0, W, 0, NULL, 0, y, 0, 2, 3, 4, 0),
                 VITCL_ERR_INVALID_ARGUMENT);
    assert_error_mentions("VITCL_LINEAR_PACKED_W");
    cr_assert_eq(o->linear(CPU.ctx, x, 0, plain, 0, NULL, 0, y, 0, 2, 3, 4,
                           VITCL_LINEAR_PACKED_W),
                 VITCL_ERR_INVALID_ARGUMENT);
    assert_error_mentions("pack_weight_host");
    cr_assert_eq(o->linear(CPU.ctx, x, 0, W, 0, NULL, 0, y, 0, 2, 4, 3, VITCL_LINEAR_PACKED_W),
                 VITCL_ERR_INVALID_ARGUMENT);
    assert_error_mentions("[3, 4]");
    cr_assert_eq(o->linear(CPU.ctx, x, 0, W, 2, NULL, 0, y, 0, 2, 3, 4, VITCL_LINEAR_PACKED_W),
                 VITCL_ERR_INVALID_ARGUMENT);
    assert_error_mentions("offset 2");
    cr_assert_eq(o->linear(CPU.ctx, x, 0, W, 0, NULL, 0, W, 0, 1, 3, 4, VITCL_LINEAR_PACKED_W),
                 VITCL_ERR_INVALID_ARGUMENT);
    assert_error_mentions("overlap");
    cr_assert_eq(o->linear(CPU.ctx, x, 0, W, 0, NULL, 0, y, 0, 2, 3, 4,
                           VITCL_LINEAR_PACKED_W | (1u << 5)),
                 VITCL_ERR_UNSUPPORTED);
    assert_error_mentions("unknown flags");
    CPU.desc->buffer_free(CPU.ctx, W);
    CPU.desc->buffer_free(CPU.ctx, plain);
    CPU.desc->buffer_free(CPU.ctx, x);
    CPU.desc->buffer_free(CPU.ctx, y);
}

/* ------------------------------------------------------------------ the device */

Test(cpu_precision, device_precisions_and_notes)
{
    vitcl_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(CPU.desc->device_info(CPU.state, 0, &info), VITCL_OK);
    cr_assert_eq(info.precisions, VITCL_PRECISION_BIT(VITCL_PRECISION_FP32) |
                                      VITCL_PRECISION_BIT(VITCL_PRECISION_BF16) |
                                      VITCL_PRECISION_BIT(VITCL_PRECISION_FP16));
    __builtin_cpu_init();
    int hw = __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
    cr_assert_eq((info.caps & VITCL_CAP_BF16) != 0, hw, "VITCL_CAP_BF16 %s the CPU's flags",
                 hw ? "missing despite" : "set against");
    cr_assert(strstr(info.precision_notes, "bf16, fp16: linear weights stored in 16 bits"),
              "notes: %s", info.precision_notes);
    cr_assert(strstr(info.precision_notes, "fp32"), "notes: %s", info.precision_notes);
    if (!hw)
        cr_assert(strstr(info.precision_notes, "no AVX512-BF16 or AMX-BF16"), "notes: %s",
                  info.precision_notes);
    /* A 1.0 host's struct ends before precisions: nothing of it is written. */
    unsigned char raw[sizeof info];
    memset(raw, 0xAB, sizeof raw);
    vitcl_device_info *old = (vitcl_device_info *)(void *)raw;
    old->struct_size = (uint32_t)offsetof(vitcl_device_info, precisions);
    cr_assert_eq(CPU.desc->device_info(CPU.state, 0, old), VITCL_OK);
    cr_assert_eq(raw[offsetof(vitcl_device_info, precisions)], 0xAB);
}
