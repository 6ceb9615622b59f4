/* tests/opencl/test_precision.c - ABI 1.1 precisions on the OpenCL plugin: pack_weight_host for
 * every dtype (F32, F16, BF16) x precision (fp32, bf16, fp16) against a double reference with
 * the rounding emulated independently of the plugin, at odd shapes, with and without bias and
 * GELU; what supports() says; refusal of unknown dtypes, precisions and flags; the device's
 * precisions; and the plugin's float <-> 16-bit conversions (plugins/common/plugin_half.h) against the
 * compiler's _Float16 and a frexp-based bf16 rounding.
 *
 * Reference: the weight each precision implies (the stored dtype widened exactly, then rounded
 * to nearest even to bf16 or fp16; fp32 keeps it), X exact (the plugin does not round X), the
 * sum in double. Tolerance: 2e-6 * sum|x_t w_t| + 1e-6 absolute (plus 1e-6 relative after GELU):
 * the kernels accumulate those exact products in fp32 (k <= 300 terms, each rounding adds at
 * most 6e-8 of the running magnitude). A kernel that did not round the weight, or rounded it
 * differently (truncation instead of nearest even), is off by about 2^-9 (bf16) or 2^-12 (fp16)
 * of single terms, far above that.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/common/plugin_half.h"
#include "harness.h"

static harness H;

static void setup(void)
{
    harness_open(&H);
}

static void teardown(void)
{
    harness_close(&H);
}

TestSuite(opencl_precision, .init = setup, .fini = teardown, .timeout = 600);

#define OPS (H.desc->ops)
#define ERRMSG (H.desc->last_error(H.ctx))

/* ---- independent rounding emulation */

/* fp16 by the compiler's conversion (GCC/Clang _Float16 on x86-64: round to nearest even). */
static uint16_t ref_to_f16(float f)
{
    _Float16 h = (_Float16)f;
    uint16_t u;
    memcpy(&u, &h, sizeof u);
    return u;
}

static float ref_from_f16(uint16_t u)
{
    _Float16 h;
    memcpy(&h, &u, sizeof h);
    return (float)h;
}

/* bf16 (8 significant bits) by scaling the significand and rounding in double. */
static float ref_round_bf16(float f)
{
    if (!isfinite(f) || f == 0.0f)
        return f;
    if (fabsf(f) < 0x1p-126f) /* a float subnormal: bf16 keeps multiples of 2^-133 */
        return (float)ldexp(nearbyint(ldexp((double)f, 133)), -133);
    int e;
    double m = frexp((double)f, &e); /* |m| in [0.5, 1): 8 bits means m * 2^8 integral */
    double r = ldexp(nearbyint(ldexp(m, 8)), e - 8); /* nearbyint: ties to even by default */
    if (fabs(r) > 3.3895313892515355e38) /* past the largest bf16: infinity */
        r = copysign(INFINITY, r);
    return (float)r;
}

static uint16_t ref_to_bf16(float f)
{
    float r = ref_round_bf16(f);
    uint32_t u;
    memcpy(&u, &r, sizeof u);
    return (uint16_t)(u >> 16);
}

static float ref_from_bf16(uint16_t u)
{
    uint32_t v = (uint32_t)u << 16;
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

Test(opencl_precision, conversions_match_independent_rounding)
{
    /* Every 4099th float bit pattern (all exponents, signs and many mantissas) plus specials. */
    size_t bad16 = 0, badbf = 0;
    uint32_t first16 = 0, firstbf = 0;
    for (uint64_t b = 0; b <= 0xffffffffu; b += 4099) {
        uint32_t u = (uint32_t)b;
        float f;
        memcpy(&f, &u, sizeof f);
        if (isnan(f)) {
            cr_expect(isnan(plugin_f16_to_f32(plugin_f32_to_f16(f))), "NaN %08x to fp16", u);
            cr_expect(isnan(plugin_bf16_to_f32(plugin_f32_to_bf16(f))), "NaN %08x to bf16", u);
            continue;
        }
        if (plugin_f32_to_f16(f) != ref_to_f16(f) && bad16++ == 0)
            first16 = u;
        if (plugin_f32_to_bf16(f) != ref_to_bf16(f) && badbf++ == 0)
            firstbf = u;
    }
    cr_expect_eq(bad16, 0, "%zu fp16 roundings differ from _Float16, first at %08x", bad16,
                 first16);
    cr_expect_eq(badbf, 0, "%zu bf16 roundings differ, first at %08x", badbf, firstbf);
    /* Ties: 1 + 2^-11 is halfway between two halves (to even: 1); 1 + 3 * 2^-11 rounds up. */
    cr_expect_eq(plugin_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
    cr_expect_eq(plugin_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
    cr_expect_eq(plugin_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
    cr_expect_eq(plugin_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
    cr_expect_eq(plugin_f32_to_f16(65520.0f), 0x7c00, "65520 rounds to infinity in fp16");
    cr_expect_eq(plugin_f32_to_f16(65519.0f), 0x7bff);
    cr_expect_eq(plugin_f32_to_f16(0x1p-24f), 0x0001, "smallest fp16 subnormal");
    cr_expect_eq(plugin_f32_to_f16(0x1p-25f), 0x0000, "half the smallest subnormal: tie to 0");
    /* Every half widens exactly. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float a = plugin_f16_to_f32((uint16_t)h), r = ref_from_f16((uint16_t)h);
        cr_assert(memcmp(&a, &r, sizeof a) == 0 || (isnan(a) && isnan(r)), "fp16 %04x", h);
        float c = plugin_bf16_to_f32((uint16_t)h), d = ref_from_bf16((uint16_t)h);
        cr_assert(memcmp(&c, &d, sizeof c) == 0, "bf16 %04x", h);
    }
}

/* ---- pack_weight_host against the reference */

static vitcl_op_shape pack_shape(size_t n, size_t k, uint32_t dtype, uint32_t precision)
{
    vitcl_op_shape sh;
    memset(&sh, 0, sizeof sh);
    sh.n = n;
    sh.k = k;
    sh.struct_size = sizeof sh;
    sh.dtype = dtype;
    sh.precision = precision;
    return sh;
}

/* W [n,k] stored as `dtype` in *store (malloc'd) and the values linear must use in `eff`. */
static void make_weight(size_t n, size_t k, uint32_t dtype, uint32_t prec, unsigned seed,
                        void **store, double *eff)
{
    float *w = h_random(n * k, 0.5f, seed);
    /* A few values that round differently per format: an fp16 subnormal, a large value, ties. */
    if (n * k > 3) {
        w[0] = 3.0e-6f;
        w[1] = -300.7f;
        w[2] = 1.0f + 0x1p-11f + 0x1p-20f;
        w[3] = 1.0f + 3 * 0x1p-9f;
    }
    size_t es = dtype == VITCL_DTYPE_F32 ? 4 : 2;
    *store = malloc(n * k * es);
    cr_assert_not_null(*store);
    for (size_t i = 0; i < n * k; i++) {
        float v = w[i]; /* the value as stored in the file */
        if (dtype == VITCL_DTYPE_F32) {
            ((float *)*store)[i] = v;
        } else if (dtype == VITCL_DTYPE_F16) {
            ((uint16_t *)*store)[i] = ref_to_f16(v);
            v = ref_from_f16(ref_to_f16(v));
        } else {
            ((uint16_t *)*store)[i] = ref_to_bf16(v);
            v = ref_from_bf16(ref_to_bf16(v));
        }
        if (prec == VITCL_PRECISION_FP16)
            v = ref_from_f16(ref_to_f16(v));
        else if (prec == VITCL_PRECISION_BF16)
            v = ref_round_bf16(v);
        eff[i] = v;
    }
    free(w);
}

static double gelu_d(double x)
{
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}

static void check_pack(size_t m, size_t n, size_t k, uint32_t dtype, uint32_t prec, int bias,
                       int gelu, unsigned seed)
{
    void *store = NULL;
    double *eff = malloc(n * k * sizeof *eff), *want = malloc(m * n * sizeof *want);
    float *x = h_random(m * k, 1.0f, seed + 1), *b = h_random(n, 1.0f, seed + 2);
    float *y = malloc(m * n * sizeof *y);
    cr_assert(eff && want && y);
    make_weight(n, k, dtype, prec, seed, &store, eff);
    double *mag = malloc(m * n * sizeof *mag);
    cr_assert_not_null(mag);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = bias ? b[j] : 0.0, ab = bias ? fabs(b[j]) : 0.0;
            for (size_t t = 0; t < k; t++) {
                acc += (double)x[i * k + t] * eff[j * k + t];
                ab += fabs((double)x[i * k + t] * eff[j * k + t]);
            }
            want[i * n + j] = gelu ? gelu_d(acc) : acc;
            mag[i * n + j] = ab;
        }
    vitcl_op_shape sh = pack_shape(n, k, dtype, prec);
    int said = OPS->supports(H.ctx, VITCL_OP_PACK_WEIGHT_HOST, &sh);
    /* fp32 of an F32 weight is declined so the host keeps the 1.0 path; the rest is taken. */
    cr_expect_eq(said, !(dtype == VITCL_DTYPE_F32 && prec == VITCL_PRECISION_FP32),
                 "supports(pack_weight_host, dtype %u, precision %u)", dtype, prec);
    vitcl_buffer *P = NULL;
    vitcl_status s = OPS->pack_weight_host(H.ctx, store, dtype, n, k, prec, "w16", &P);
    cr_assert_eq(s, VITCL_OK, "pack_weight_host dtype %u precision %u: %s", dtype, prec, ERRMSG);
    free(store); /* the plugin must not keep the host pointer */
    vitcl_buffer *X = h_upload(&H, x, m * k), *B = h_upload(&H, b, n), *Y = h_upload(&H, NULL, m * n);
    uint32_t flags = VITCL_LINEAR_PACKED_W | (gelu ? VITCL_LINEAR_GELU : 0);
    vitcl_op_shape ls;
    memset(&ls, 0, sizeof ls);
    ls.m = m, ls.n = n, ls.k = k, ls.flags = flags, ls.struct_size = sizeof ls;
    ls.precision = prec;
    cr_expect_eq(OPS->supports(H.ctx, VITCL_OP_LINEAR, &ls), 1, "supports(linear, precision %u)",
                 prec);
    s = OPS->linear(H.ctx, X, 0, P, 0, bias ? B : NULL, 0, Y, 0, m, n, k, flags);
    cr_assert_eq(s, VITCL_OK, "linear: %s", ERRMSG);
    h_download(&H, Y, 0, y, m * n);
    size_t bad = 0, at = 0;
    double worst = 0;
    for (size_t i = 0; i < m * n; i++) {
        double err = fabs((double)y[i] - want[i]);
        double tol = 2e-6 * mag[i] + 1e-6 + (gelu ? 1e-6 * fabs(want[i]) : 0.0);
        if (!(err <= tol)) {
            if (bad++ == 0 || err > worst)
                worst = err, at = i;
        }
    }
    cr_expect_eq(bad, 0,
                 "m=%zu n=%zu k=%zu dtype %u precision %u bias %d gelu %d: %zu of %zu off, worst "
                 "at %zu: got %.9g want %.9g",
                 m, n, k, dtype, prec, bias, gelu, bad, m * n, at, bad ? y[at] : 0.0,
                 bad ? want[at] : 0.0);
    h_free(&H, P), h_free(&H, X), h_free(&H, B), h_free(&H, Y);
    free(eff), free(want), free(x), free(b), free(y), free(mag);
}

static const size_t odd_shapes[][3] = {
    {1, 1, 1}, {3, 5, 7}, {7, 33, 5}, {13, 64, 300}, {197, 100, 65}, {25, 31, 33}};

static void all_shapes(uint32_t dtype, uint32_t prec)
{
    for (size_t i = 0; i < sizeof odd_shapes / sizeof odd_shapes[0]; i++) {
        const size_t *s = odd_shapes[i];
        check_pack(s[0], s[1], s[2], dtype, prec, (int)(i % 2 == 0), (int)(i % 3 == 1),
                   (unsigned)(100 + i));
    }
    check_pack(29, 40, 48, dtype, prec, 1, 1, 7);
}

Test(opencl_precision, f32_weight_as_fp32) { all_shapes(VITCL_DTYPE_F32, VITCL_PRECISION_FP32); }
Test(opencl_precision, f32_weight_as_bf16) { all_shapes(VITCL_DTYPE_F32, VITCL_PRECISION_BF16); }
Test(opencl_precision, f32_weight_as_fp16) { all_shapes(VITCL_DTYPE_F32, VITCL_PRECISION_FP16); }
Test(opencl_precision, f16_weight_as_fp32) { all_shapes(VITCL_DTYPE_F16, VITCL_PRECISION_FP32); }
Test(opencl_precision, f16_weight_as_bf16) { all_shapes(VITCL_DTYPE_F16, VITCL_PRECISION_BF16); }
Test(opencl_precision, f16_weight_as_fp16) { all_shapes(VITCL_DTYPE_F16, VITCL_PRECISION_FP16); }
Test(opencl_precision, bf16_weight_as_fp32) { all_shapes(VITCL_DTYPE_BF16, VITCL_PRECISION_FP32); }
Test(opencl_precision, bf16_weight_as_bf16) { all_shapes(VITCL_DTYPE_BF16, VITCL_PRECISION_BF16); }
Test(opencl_precision, bf16_weight_as_fp16) { all_shapes(VITCL_DTYPE_BF16, VITCL_PRECISION_FP16); }

/* Every 16-bit GEMM variant the plugin has, forced, on one odd shape (the tuned choice is
 * covered above; VITCL_CL_GEMM must be set before the context exists), and the fp32 layout of
 * each mode for a widened BF16 weight. */
static void forced_variant(const char *name)
{
    harness_close(&H);
    setenv("VITCL_CL_GEMM", name, 1);
    harness_open(&H);
    check_pack(37, 70, 45, VITCL_DTYPE_F32, VITCL_PRECISION_FP16, 1, 1, 11);
    check_pack(37, 70, 45, VITCL_DTYPE_F16, VITCL_PRECISION_BF16, 1, 0, 12);
    /* fp32 widened in the plugin: panels, or a plain copy in CLBlast mode. */
    check_pack(37, 70, 45, VITCL_DTYPE_BF16, VITCL_PRECISION_FP32, 0, 1, 13);
}

Test(opencl_precision, forced_mb6) { forced_variant("mb6"); }
Test(opencl_precision, forced_mb8) { forced_variant("mb8"); }
Test(opencl_precision, forced_mb12) { forced_variant("mb12"); }
Test(opencl_precision, forced_t64) { forced_variant("t64"); }
Test(opencl_precision, forced_t256) { forced_variant("t256"); }
/* clblast applies to fp32 only: 16-bit weights still get a tuned kernel of their own. */
Test(opencl_precision, forced_clblast_keeps_16bit_tuned) { forced_variant("clblast"); }

/* ---- refusals */

Test(opencl_precision, unknown_dtype_precision_and_flags_are_refused)
{
    float w[6] = {1, 2, 3, 4, 5, 6};
    vitcl_op_shape sh = pack_shape(2, 3, VITCL_DTYPE_COUNT_, VITCL_PRECISION_FP16);
    cr_expect_eq(OPS->supports(H.ctx, VITCL_OP_PACK_WEIGHT_HOST, &sh), 0, "unknown dtype");
    sh = pack_shape(2, 3, VITCL_DTYPE_F32, VITCL_PRECISION_COUNT_);
    cr_expect_eq(OPS->supports(H.ctx, VITCL_OP_PACK_WEIGHT_HOST, &sh), 0, "unknown precision");
    vitcl_buffer *P = NULL;
    vitcl_status s = OPS->pack_weight_host(H.ctx, w, 9, 2, 3, VITCL_PRECISION_FP16, "wx", &P);
    cr_expect_eq(s, VITCL_ERR_UNSUPPORTED);
    cr_expect(strstr(ERRMSG, "dtype 9") && strstr(ERRMSG, "wx"), "message: %s", ERRMSG);
    cr_expect_null(P);
    s = OPS->pack_weight_host(H.ctx, w, VITCL_DTYPE_F32, 2, 3, 7, "wy", &P);
    cr_expect_eq(s, VITCL_ERR_UNSUPPORTED);
    cr_expect(strstr(ERRMSG, "precision 7") && strstr(ERRMSG, "wy"), "message: %s", ERRMSG);
    cr_expect_null(P);
    s = OPS->pack_weight_host(H.ctx, NULL, VITCL_DTYPE_F32, 2, 3, VITCL_PRECISION_FP16, "wz", &P);
    cr_expect_eq(s, VITCL_ERR_INVALID_ARGUMENT);
    s = OPS->pack_weight_host(H.ctx, w, VITCL_DTYPE_F32, 0, 3, VITCL_PRECISION_FP16, "wz", &P);
    cr_expect_eq(s, VITCL_ERR_INVALID_ARGUMENT);
    /* A linear flag of a later ABI: supports says no, linear refuses it. */
    vitcl_op_shape ls;
    memset(&ls, 0, sizeof ls);
    ls.m = ls.n = ls.k = 4;
    ls.flags = 1u << 7;
    ls.struct_size = sizeof ls;
    cr_expect_eq(OPS->supports(H.ctx, VITCL_OP_LINEAR, &ls), 0, "unknown linear flag");
    ls.flags = 0;
    ls.precision = VITCL_PRECISION_COUNT_;
    cr_expect_eq(OPS->supports(H.ctx, VITCL_OP_LINEAR, &ls), 0, "unknown linear precision");
    ls.precision = VITCL_PRECISION_FP16; /* a 16-bit weight exists only packed */
    cr_expect_eq(OPS->supports(H.ctx, VITCL_OP_LINEAR, &ls), 0, "fp16 without a packed weight");
}

Test(opencl_precision, a_16bit_weight_is_only_for_its_shape)
{
    float w[12] = {0};
    vitcl_buffer *P = NULL;
    cr_assert_eq(OPS->pack_weight_host(H.ctx, w, VITCL_DTYPE_F32, 3, 4, VITCL_PRECISION_FP16,
                                       "w34", &P),
                 VITCL_OK, "%s", ERRMSG);
    vitcl_buffer *X = h_upload(&H, NULL, 16), *Y = h_upload(&H, NULL, 16);
    cr_expect_eq(OPS->linear(H.ctx, X, 0, P, 0, NULL, 0, Y, 0, 2, 4, 3, VITCL_LINEAR_PACKED_W),
                 VITCL_ERR_INVALID_ARGUMENT, "a [3,4] weight used as [4,3]");
    cr_expect_eq(OPS->linear(H.ctx, X, 0, P, 0, NULL, 0, Y, 0, 2, 3, 4, 0),
                 VITCL_ERR_INVALID_ARGUMENT, "a packed weight without VITCL_LINEAR_PACKED_W");
    h_free(&H, P), h_free(&H, X), h_free(&H, Y);
}

Test(opencl_precision, device_offers_fp32_bf16_fp16_with_notes)
{
    vitcl_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(H.desc->device_info(H.state, harness_device(), &info), VITCL_OK);
    const uint32_t all = VITCL_PRECISION_BIT(VITCL_PRECISION_FP32) |
                         VITCL_PRECISION_BIT(VITCL_PRECISION_BF16) |
                         VITCL_PRECISION_BIT(VITCL_PRECISION_FP16);
    cr_expect_eq(info.precisions, all, "precisions 0x%x", info.precisions);
    cr_expect(strstr(info.precision_notes, "16 bits") && strstr(info.precision_notes, "fp32"),
              "notes: %s", info.precision_notes);
}

/* A host of ABI 1.0 has no precision or dtype in its shapes: nothing of them is read, and
 * pack_weight_host (which such a host cannot call) is not offered. */
Test(opencl_precision, a_1_0_host_is_never_offered_pack_weight_host)
{
    vitcl_plugin_entry_fn entry =
        (vitcl_plugin_entry_fn)(uintptr_t)dlsym(H.dl, VITCL_PLUGIN_ENTRY_SYMBOL);
    cr_assert_not_null(entry);
    cr_assert_not_null(entry(VITCL_ABI_MAJOR, 0));
    vitcl_op_shape sh = pack_shape(4, 4, VITCL_DTYPE_F16, VITCL_PRECISION_FP16);
    cr_expect_eq(OPS->supports(H.ctx, VITCL_OP_PACK_WEIGHT_HOST, &sh), 0);
    entry(VITCL_ABI_MAJOR, VITCL_ABI_MINOR);
    cr_expect_eq(OPS->supports(H.ctx, VITCL_OP_PACK_WEIGHT_HOST, &sh), 1);
}
