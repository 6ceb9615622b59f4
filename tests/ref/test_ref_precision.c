/* tests/ref/test_ref_precision.c - reduced precisions (ABI 1.1): the conversions of
 * plugins/common/plugin_half.h against an independent oracle (libm's nearbyint, which rounds to
 * nearest even in the default mode, and the compiler's _Float16 where it has one), over every
 * bf16/fp16 value, every tie between neighbours and a sweep of fp32 bit patterns; then ref's
 * pack_weight_host and its bf16/fp16 linear against the naive double oracle fed with inputs
 * rounded by that oracle, its refusals, and supports() for a 1.0 and a 1.1 host. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "naive.h"
#include "plugin_half.h"
#include "ref_harness.h"

TestSuite(ref_precision, .init = ref_setup, .fini = ref_teardown);

/* ---------------------------------------------------------------- the oracle */

typedef struct format {
    const char *name;
    int p;       /* significand bits, the implicit one included */
    int emin;    /* exponent of the smallest normal */
    double maxv; /* largest finite value */
} format;

static const format BF16 = {"bf16", 8, -126, 0x1.FEp127};
static const format FP16 = {"fp16", 11, -14, 65504.0};

/* x rounded to nearest even in format f, computed in double: scale so that the format's last
 * place is 1, round to an integer with nearbyint, scale back; beyond the largest finite value
 * (after rounding), inf. */
static double oracle_round(double x, const format *f)
{
    if (x == 0.0 || !isfinite(x))
        return x;
    int e = 0;
    frexp(x, &e);
    e = e - 1 < f->emin ? f->emin : e - 1; /* exponent of x's leading bit, at least emin */
    double r = ldexp(nearbyint(ldexp(x, f->p - 1 - e)), e - (f->p - 1));
    return fabs(r) > f->maxv ? copysign(INFINITY, x) : r;
}

/* fp16 bits decoded by the formula of IEEE 754 (sign, biased exponent, fraction). */
static double oracle_f16(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

static void check_round(const format *f, float x)
{
    float got = f == &FP16 ? plugin_round_f16(x) : plugin_round_bf16(x);
    double want = oracle_round((double)x, f);
    if (isnan(x)) {
        cr_assert(isnan(got) && !signbit(got) == !signbit(x), "%s(NaN) is %a", f->name, (double)got);
        return;
    }
    /* Equal values and equal signs (zeros keep theirs). */
    cr_assert((double)got == want && !signbit(got) == !signbit(want),
              "%s(%a) gives %a, nearest even is %a", f->name, (double)x, (double)got, want);
}

Test(ref_precision, oracle_is_round_to_nearest_even)
{
    cr_assert_eq(fegetround(), FE_TONEAREST);
    cr_assert_eq(oracle_round(65519.0, &FP16), 65504.0);
    cr_assert(isinf(oracle_round(65520.0, &FP16)), "the tie at 65520 goes to even 2^16: inf");
    cr_assert_eq(oracle_round(1.0 + 0x1p-8, &BF16), 1.0, "tie to even");
    cr_assert_eq(oracle_round(1.0 + 3 * 0x1p-8, &BF16), 1.0 + 0x1p-6, "tie to even, upwards");
    cr_assert_eq(oracle_round(0x1p-25, &FP16), 0.0, "half the smallest subnormal: to zero");
    cr_assert_eq(oracle_round(0x1.8p-25, &FP16), 0x1p-24);
}

Test(ref_precision, f16_widening_is_exact_for_every_value)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float got = plugin_f16_to_f32((uint16_t)h);
        double want = oracle_f16((uint16_t)h);
        if (isnan(want))
            cr_assert(isnan(got) && !signbit(got) == !(h >> 15), "0x%04x", h);
        else
            cr_assert((double)got == want && !signbit(got) == !(h >> 15), "0x%04x: %a, want %a", h,
                      (double)got, want);
        /* Every fp16 value rounds to itself (NaN to a NaN). */
        if (!isnan(want))
            cr_assert_eq(plugin_f32_to_f16(got), h, "0x%04x does not round-trip", h);
    }
}

Test(ref_precision, bf16_widening_is_exact_for_every_value)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float got = plugin_bf16_to_f32((uint16_t)h);
        uint32_t bits = plugin_f32_bits(got);
        cr_assert_eq(bits, h << 16, "0x%04x", h);
        if (!isnan(got))
            cr_assert_eq(plugin_f32_to_bf16(got), h, "0x%04x does not round-trip", h);
    }
}

/* Every value, every tie between neighbours and the floats just beside each tie. */
static void check_ties(const format *f)
{
    for (uint32_t h = 0; h < 65536; h++) {
        double a = f == &FP16 ? oracle_f16((uint16_t)h) : (double)plugin_bf16_to_f32((uint16_t)h);
        if (!isfinite(a) || (h & 0x7FFFu) == (f == &FP16 ? 0x7BFFu : 0x7F7Fu))
            continue;
        double b = f == &FP16 ? oracle_f16((uint16_t)(h + 1)) : (double)plugin_bf16_to_f32((uint16_t)(h + 1));
        float tie = (float)((a + b) / 2); /* exact: one bit more than the format */
        check_round(f, (float)a);
        check_round(f, tie);
        check_round(f, nextafterf(tie, 0.0f));
        check_round(f, nextafterf(tie, INFINITY));
        check_round(f, nextafterf(tie, -INFINITY));
    }
    /* The largest finite value's tie with the next power of two, and beyond. */
    float top = (float)(f->maxv + ldexp(1.0, (int)floor(log2(f->maxv)) - f->p));
    if (isfinite(top)) {
        check_round(f, top), check_round(f, nextafterf(top, 0.0f));
        check_round(f, -top), check_round(f, nextafterf(-top, 0.0f));
    }
    check_round(f, FLT_MAX), check_round(f, -FLT_MAX), check_round(f, INFINITY);
    check_round(f, -INFINITY), check_round(f, NAN), check_round(f, -NAN), check_round(f, -0.0f);
}

Test(ref_precision, fp16_rounds_every_tie_to_even)
{
    check_ties(&FP16);
}

Test(ref_precision, bf16_rounds_every_tie_to_even)
{
    check_ties(&BF16);
}

Test(ref_precision, rounding_sweeps_fp32_bit_patterns)
{
    /* About 4 million fp32 patterns spread over every exponent, signs, subnormals and NaNs. */
    for (uint64_t b = 0; b <= 0xFFFFFFFFu; b += 1021) {
        float x = plugin_f32_from_bits((uint32_t)b);
        check_round(&FP16, x);
        check_round(&BF16, x);
#ifdef __FLT16_MAX__
        /* The compiler's own conversion (libgcc or F16C), where it has _Float16. */
        _Float16 c = (_Float16)x;
        uint16_t cb;
        memcpy(&cb, &c, sizeof cb);
        if (!isnan(x))
            cr_assert_eq(plugin_f32_to_f16(x), cb, "%a: 0x%04x, _Float16 gives 0x%04x", (double)x,
                         plugin_f32_to_f16(x), cb);
#endif
    }
}

Test(ref_precision, dtype_load_reads_little_endian_bytes_unaligned)
{
    unsigned char raw[1 + 8];
    const float v = -1.5f;
    uint32_t b = plugin_f32_bits(v);
    for (int i = 0; i < 4; i++)
        raw[1 + i] = (unsigned char)(b >> (8 * i));
    cr_assert_eq(plugin_dtype_load(raw + 1, VITCL_DTYPE_F32, 0), v);
    raw[1] = 0x00, raw[2] = 0x3C, raw[3] = 0x01, raw[4] = 0xBC; /* fp16 1.0, -(1 + 2^-10) */
    cr_assert_eq(plugin_dtype_load(raw + 1, VITCL_DTYPE_F16, 0), 1.0f);
    cr_assert_eq(plugin_dtype_load(raw + 1, VITCL_DTYPE_F16, 1), -(1.0f + 0x1p-10f));
    raw[1] = 0x80, raw[2] = 0x3F; /* bf16 1.0 */
    cr_assert_eq(plugin_dtype_load(raw + 1, VITCL_DTYPE_BF16, 0), 1.0f);
    cr_assert_eq(plugin_dtype_size(VITCL_DTYPE_F32), 4);
    cr_assert_eq(plugin_dtype_size(VITCL_DTYPE_BF16), 2);
    cr_assert_eq(plugin_dtype_size(VITCL_DTYPE_COUNT_), 0);
    cr_assert_null(plugin_precision_name(VITCL_PRECISION_COUNT_));
    cr_assert_str_eq(plugin_precision_name(VITCL_PRECISION_FP16), "fp16");
}

/* ---------------------------------------------------------------- ref in bf16 and fp16 */

static const format *format_of(uint32_t precision)
{
    return precision == VITCL_PRECISION_BF16 ? &BF16 : precision == VITCL_PRECISION_FP16 ? &FP16 : NULL;
}

/* W [n,k] given in `dtype` (values first made representable in it), packed in `precision`;
 * linear with and without bias/GELU against the naive oracle on fp32 X and oracle-rounded W. */
static void check_packed(size_t m, size_t n, size_t k, uint32_t dtype, uint32_t precision)
{
    /* H.ctx was made without VITCL_REF_ROUND_INPUTS: X stays fp32. */
    float *x = rand_array(m * k, -2, 2), *w = rand_array(n * k, -2, 2), *b = rand_array(n, -1, 1);
    unsigned char *host = malloc(n * k * 4);
    cr_assert_not_null(host);
    for (size_t i = 0; i < n * k; i++) {
        uint32_t bits = dtype == VITCL_DTYPE_F32  ? plugin_f32_bits(w[i])
                        : dtype == VITCL_DTYPE_F16 ? plugin_f32_to_f16(w[i])
                                                   : plugin_f32_to_bf16(w[i]);
        size_t es = plugin_dtype_size(dtype);
        for (size_t j = 0; j < es; j++)
            host[i * es + j] = (unsigned char)(bits >> (8 * j));
        w[i] = plugin_dtype_load(host, dtype, i); /* the weight's exact value */
    }
    const format *f = format_of(precision);
    float *wr = malloc(n * k * sizeof *wr);
    cr_assert(wr != NULL);
    for (size_t i = 0; i < n * k; i++)
        wr[i] = f != NULL ? (float)oracle_round(w[i], f) : w[i];
    vitcl_buffer *X = buf_new(x, m * k, "X"), *B = buf_new(b, n, "b"), *P = NULL;
    vitcl_buffer *Y = buf_new(NULL, m * n, "Y");
    cr_assert_eq(H.ops->pack_weight_host(H.ctx, host, dtype, n, k, precision, "W", &P), VITCL_OK,
                 "%s", H.desc->last_error(H.ctx));
    memset(host, 0xFF, n * k * 4); /* ref copied what it needs */
    double *want = malloc(m * n * sizeof *want), *mag = malloc(m * n * sizeof *mag);
    cr_assert(want != NULL && mag != NULL);
    for (uint32_t flags = 0; flags < 4; flags++) { /* bit 0: GELU, bit 1: bias */
        int bias = (flags & 2) != 0;
        uint32_t lf = VITCL_LINEAR_PACKED_W | (flags & VITCL_LINEAR_GELU);
        cr_assert_eq(H.ops->linear(H.ctx, X, 0, P, 0, bias ? B : NULL, 0, Y, 0, m, n, k, lf),
                     VITCL_OK, "%s", H.desc->last_error(H.ctx));
        float *y = buf_get(Y, m * n);
        naive_linear(x, wr, bias ? b : NULL, m, n, k, (int)(flags & 1), want, mag);
        assert_close(plugin_precision_name(precision), y, want, mag, (double)k + 8, m * n);
        /* The rounding of W shows where the format is narrower than the stored dtype (F32
         * into either; F16's 10 fraction bits into bf16's 7); BF16 values in [-2, 2] fit fp16. */
        int narrower = dtype == VITCL_DTYPE_F32 ||
                       (dtype == VITCL_DTYPE_F16 && precision == VITCL_PRECISION_BF16);
        if (f != NULL && narrower && m * n * k >= 8) {
            naive_linear(x, w, bias ? b : NULL, m, n, k, (int)(flags & 1), want, mag);
            cr_assert_gt(tol_ratio(y, want, mag, (double)k + 8, m * n, NULL), 100.0);
        }
        free(y);
    }
    free(want), free(mag), free(x), free(w), free(b), free(wr), free(host);
    buf_free(P), buf_free(X), buf_free(B), buf_free(Y);
}

Test(ref_precision, pack_weight_host_every_dtype_and_precision)
{
    static const size_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {2, 3, 300}};
    rng_seed(11);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (uint32_t dt = 0; dt < VITCL_DTYPE_COUNT_; dt++)
            for (uint32_t pr = 0; pr < VITCL_PRECISION_COUNT_; pr++)
                check_packed(shapes[s][0], shapes[s][1], shapes[s][2], dt, pr);
}

/* What linear makes of X with a packed weight W = 1 (exact everywhere), so Y is X as linear
 * saw it: unchanged by default, rounded to the weight's format in a context made with
 * VITCL_REF_ROUND_INPUTS=1 (fp16 overflows 1e5 to inf, bf16 does not). */
Test(ref_precision, linear_rounds_x_only_when_asked)
{
    static const float x[] = {1.0f + 0x1p-9f, 1e5f, 3e-8f, 1.0f + 0x1p-12f, -0.3f};
    const size_t m = sizeof x / sizeof x[0];
    const float one = 1.0f;
    char err[256];
    vitcl_context *rctx = NULL;
    setenv("VITCL_REF_ROUND_INPUTS", "1", 1);
    cr_assert_eq(H.desc->context_create(H.state, 0, &rctx, err, sizeof err), VITCL_OK, "%s", err);
    unsetenv("VITCL_REF_ROUND_INPUTS");
    for (int rounding = 0; rounding < 2; rounding++) {
        vitcl_context *c = rounding ? rctx : H.ctx;
        for (uint32_t pr = 0; pr < VITCL_PRECISION_COUNT_; pr++) {
            vitcl_buffer *X = NULL, *Y = NULL, *P = NULL;
            cr_assert_eq(H.desc->buffer_alloc(c, sizeof x, "x", &X), VITCL_OK);
            cr_assert_eq(H.desc->buffer_alloc(c, sizeof x, "Y", &Y), VITCL_OK);
            cr_assert_eq(H.desc->buffer_write(c, X, 0, x, sizeof x), VITCL_OK);
            cr_assert_eq(H.ops->pack_weight_host(c, &one, VITCL_DTYPE_F32, 1, 1, pr, "1", &P),
                         VITCL_OK);
            cr_assert_eq(H.ops->linear(c, X, 0, P, 0, NULL, 0, Y, 0, m, 1, 1,
                                       VITCL_LINEAR_PACKED_W), VITCL_OK);
            float y[sizeof x / sizeof x[0]];
            cr_assert_eq(H.desc->buffer_read(c, Y, 0, y, sizeof y), VITCL_OK);
            for (size_t i = 0; i < m; i++) {
                double want = rounding && format_of(pr) != NULL ? oracle_round(x[i], format_of(pr))
                                                                 : x[i];
                cr_assert_eq((double)y[i], want, "precision %u, rounding %d, x = %a: %a", pr,
                             rounding, (double)x[i], (double)y[i]);
            }
            H.desc->buffer_free(c, P);
            H.desc->buffer_free(c, X);
            H.desc->buffer_free(c, Y);
        }
    }
    H.desc->context_destroy(rctx);
}

Test(ref_precision, pack_weight_host_refuses_unknown_dtype_precision_and_bad_args)
{
    const float w[4] = {1, 2, 3, 4};
    vitcl_buffer *P = NULL;
    vitcl_status st = H.ops->pack_weight_host(H.ctx, w, VITCL_DTYPE_COUNT_, 2, 2, 0, "W", &P);
    cr_assert_eq(st, VITCL_ERR_UNSUPPORTED);
    assert_error_names(st, "pack_weight_host");
    cr_assert(strstr(H.desc->last_error(H.ctx), "dtype 3") != NULL, "%s", H.desc->last_error(H.ctx));
    st = H.ops->pack_weight_host(H.ctx, w, VITCL_DTYPE_F32, 2, 2, VITCL_PRECISION_COUNT_, "W", &P);
    cr_assert_eq(st, VITCL_ERR_UNSUPPORTED);
    cr_assert(strstr(H.desc->last_error(H.ctx), "precision 3") != NULL);
    cr_assert_null(P);
    assert_error_names(H.ops->pack_weight_host(H.ctx, NULL, 0, 2, 2, 0, "W", &P), "pack_weight_host");
    assert_error_names(H.ops->pack_weight_host(H.ctx, w, 0, 0, 2, 0, "W", &P), "pack_weight_host");
    assert_error_names(H.ops->pack_weight_host(H.ctx, w, 0, 2, 2, 0, "W", NULL), "pack_weight_host");
    assert_error_names(H.ops->pack_weight_host(H.ctx, w, 0, SIZE_MAX / 2, 4, 0, "W", &P),
                       "pack_weight_host");
    cr_assert_null(P);
    /* The packed weight is for its own shape only, and only with VITCL_LINEAR_PACKED_W. */
    cr_assert_eq(H.ops->pack_weight_host(H.ctx, w, 0, 2, 2, VITCL_PRECISION_BF16, "W", &P), VITCL_OK);
    vitcl_buffer *X = buf_new(w, 4, "X"), *Y = buf_new(NULL, 4, "Y");
    assert_error_names(H.ops->linear(H.ctx, X, 0, P, 0, NULL, 0, Y, 0, 2, 2, 2, 0), "linear");
    assert_error_names(H.ops->linear(H.ctx, X, 0, P, 0, NULL, 0, Y, 0, 1, 1, 4,
                                     VITCL_LINEAR_PACKED_W), "linear");
    buf_free(X), buf_free(Y), buf_free(P);
}

static vitcl_op_shape shape11(size_t n, size_t k, uint32_t dtype, uint32_t precision)
{
    vitcl_op_shape s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.m = 3, s.n = n, s.k = k, s.dtype = dtype, s.precision = precision;
    return s;
}

Test(ref_precision, supports_reads_precision_and_dtype_from_a_1_1_host_only)
{
    vitcl_op_shape s = shape11(5, 7, VITCL_DTYPE_BF16, VITCL_PRECISION_FP16);
    cr_assert(H.ops->supports(H.ctx, VITCL_OP_PACK_WEIGHT_HOST, &s));
    s.flags = VITCL_LINEAR_PACKED_W;
    cr_assert(H.ops->supports(H.ctx, VITCL_OP_LINEAR, &s), "linear with a weight it packed");
    s.flags = 0;
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_LINEAR, &s), "fp16 needs a packed weight");
    s = shape11(5, 7, VITCL_DTYPE_COUNT_, 0);
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_PACK_WEIGHT_HOST, &s), "unknown dtype");
    s = shape11(5, 7, 0, VITCL_PRECISION_COUNT_);
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_PACK_WEIGHT_HOST, &s), "unknown precision");
    s.flags = VITCL_LINEAR_PACKED_W;
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_LINEAR, &s), "unknown precision");
    s = shape11(0, 7, 0, 0);
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_PACK_WEIGHT_HOST, &s));
    s = shape11(SIZE_MAX / 2, 4, 0, 0);
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_PACK_WEIGHT_HOST, &s), "overflowing size");
    s = shape11(5, 7, 0, 0);
    s.struct_size = (uint32_t)offsetof(vitcl_op_shape, precision);
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_PACK_WEIGHT_HOST, &s),
                  "a shape too short to hold dtype and precision");

    /* A 1.0 host: the struct ends at flags, so whatever lies beyond is not read. */
    vitcl_plugin_entry_fn entry;
    *(void **)&entry = dlsym(H.dl, VITCL_PLUGIN_ENTRY_SYMBOL);
    cr_assert_not_null(entry(VITCL_ABI_MAJOR, 0));
    s = shape11(5, 7, VITCL_DTYPE_COUNT_ + 9, VITCL_PRECISION_COUNT_ + 9);
    cr_assert(H.ops->supports(H.ctx, VITCL_OP_LINEAR, &s), "1.0: no precision field to read");
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_PACK_WEIGHT_HOST, &s), "1.0 hosts cannot ask");
    cr_assert_not_null(entry(VITCL_ABI_MAJOR, VITCL_ABI_MINOR));
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_LINEAR, &s));
}

Test(ref_precision, device_claims_every_precision_with_notes)
{
    vitcl_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(H.desc->device_info(H.state, 0, &info), VITCL_OK);
    cr_assert_eq(info.precisions, VITCL_PRECISION_BIT(VITCL_PRECISION_FP32) |
                                      VITCL_PRECISION_BIT(VITCL_PRECISION_BF16) |
                                      VITCL_PRECISION_BIT(VITCL_PRECISION_FP16));
    cr_assert(strstr(info.precision_notes, "emulated") != NULL, "%s", info.precision_notes);
    cr_assert_eq(info.caps & VITCL_CAP_BF16, 0, "no bf16 hardware: it emulates");
}
