/* host/conformance/conf_precision.c - what the conformance suite knows about the precisions of
 * ABI 1.1: their names, the host encodings F16 and BF16 of the weights it hands to
 * pack_weight_host, and the per-element error bound of a linear output computed in bf16 or
 * fp16 (docs/conformance.md derives it).
 *
 * The encodings are the suite's own, written with libm (nearbyint rounds to nearest even in the
 * default mode; ldexp decodes exactly), not the plugins' helpers of plugins/common: a bug there
 * must not be hidden by the same bug here.
 */
#include <math.h>
#include <string.h>

#include "conf_internal.h"

const char *conf_precision_name(uint32_t precision)
{
    switch (precision) {
    case VITCL_PRECISION_FP32: return "fp32";
    case VITCL_PRECISION_BF16: return "bf16";
    case VITCL_PRECISION_FP16: return "fp16";
    default: return "?";
    }
}

const char *conf_dtype_name(uint32_t dtype)
{
    switch (dtype) {
    case VITCL_DTYPE_F32: return "F32";
    case VITCL_DTYPE_F16: return "F16";
    case VITCL_DTYPE_BF16: return "BF16";
    default: return "?";
    }
}

size_t conf_dtype_size(uint32_t dtype)
{
    return dtype == VITCL_DTYPE_F32 ? 4 : 2;
}

/* v rounded to nearest even with p significand bits and exponents down to emin (subnormals
 * below), inf beyond maxv. */
static double round_format(double v, int p, int emin, double maxv)
{
    if (v == 0.0 || !isfinite(v))
        return v;
    int e = 0;
    frexp(v, &e);
    e = e - 1 < emin ? emin : e - 1;
    double r = ldexp(nearbyint(ldexp(v, p - 1 - e)), e - (p - 1));
    return fabs(r) > maxv ? copysign(INFINITY, v) : r;
}

/* The binary16 encoding of a value fp16 represents exactly (or of inf). */
static uint16_t f16_bits(double v)
{
    uint16_t sign = signbit(v) ? 0x8000u : 0;
    double a = fabs(v);
    if (isinf(a))
        return sign | 0x7C00u;
    if (a < 0x1p-14) /* subnormal: a multiple of 2^-24 */
        return sign | (uint16_t)ldexp(a, 24);
    int e = ilogb(a);
    return sign | (uint16_t)((e + 15) << 10) | (uint16_t)(ldexp(a, 10 - e) - 1024.0);
}

float conf_dtype_store(void *dst, uint32_t dtype, size_t i, float v)
{
    unsigned char *p = dst;
    uint32_t bits = 0;
    float exact = v;
    if (dtype == VITCL_DTYPE_F16) {
        exact = (float)round_format(v, 11, -14, 65504.0);
        bits = f16_bits(exact);
    } else if (dtype == VITCL_DTYPE_BF16) {
        exact = (float)round_format(v, 8, -126, 0x1.FEp127);
        memcpy(&bits, &exact, sizeof bits);
        bits >>= 16; /* exact: a bf16 value has zeros in the low half of its fp32 bits */
    } else {
        memcpy(&bits, &v, sizeof bits);
    }
    size_t size = conf_dtype_size(dtype);
    for (size_t b = 0; b < size; b++)
        p[i * size + b] = (unsigned char)(bits >> (8 * b));
    return exact;
}

/* max over x of |gelu'(x)| = Φ(√2) + √2·φ(√2) = 1.12891..., rounded up. */
#define GELU_LIPSCHITZ 1.13

double conf_linear_bound(uint32_t precision, const conf_dot_terms *t, int gelu)
{
    /* Unit roundoff u and the largest absolute error of rounding into the subnormal range
     * (half the smallest subnormal) of the format. */
    double u = precision == VITCL_PRECISION_FP16 ? 0x1p-11 : 0x1p-8;
    double eta = precision == VITCL_PRECISION_FP16 ? 0x1p-25 : 0x1p-134;
    double k = (double)t->k, u32 = 0x1p-24;
    /* Rounding both factors: |x̂ŵ - xw| <= (2u + u²)|xw| + (1 + u)·η·(|x| + |w|) + η². */
    double in = (2 * u + u * u) * t->abs_xw + (1 + u) * eta * t->abs_x_plus_w + k * eta * eta;
    /* fp32 accumulation of k products and the bias, and one final rounding:
     * γ(k+2)·Σ|terms|, with Σ|x̂ŵ| <= Σ|xw| + in. */
    double n = k + 2, gamma = n * u32 / (1 - n * u32);
    double acc = gamma * (t->abs_xw + in + t->abs_bias);
    /* The yardstick's own error: ref sums in double and rounds once to fp32. */
    double ref = (u32 + (k + 1) * 0x1p-52) * (t->abs_xw + t->abs_bias);
    double z = in + acc + ref + 1e-30;
    if (!gelu)
        return z;
    /* GELU is Lipschitz with constant GELU_LIPSCHITZ, and its own fp32 evaluation (erf within
     * 16 ulp, as OpenCL allows) errs by at most 32·2^-23·|its argument|. */
    return GELU_LIPSCHITZ * z + 32 * 0x1p-23 * (t->abs_xw + t->abs_bias + z);
}
