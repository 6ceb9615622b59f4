/* plugins/common/plugin_half.h - bf16 and fp16 conversions for the in-tree plugins (ABI 1.1).
 *
 * What pack_weight_host (backend.h) needs: reading a weight element in its stored dtype
 * (vitcl_dtype: F32, F16, BF16, little-endian) and rounding fp32 values to bf16 or fp16 the way
 * device.h prescribes for vitcl_precision, i.e. IEEE 754 round to nearest, ties to even:
 *   - bf16 (1 sign, 8 exponent, 7 fraction bits): the upper half of a binary32. Same range as
 *     fp32; finite values above the largest bf16 (about 3.39e38) plus half an ulp become inf.
 *   - fp16 (IEEE binary16: 1, 5, 10): largest finite 65504; |x| >= 65520 (the halfway point to
 *     2^16, which rounds to even) becomes inf; below 2^-14 the result is subnormal, a multiple
 *     of 2^-24; |x| <= 2^-25 becomes a zero of x's sign.
 *   - NaN stays NaN (made quiet, sign kept); inf stays inf; signed zeros keep their sign.
 * Widening bf16 or fp16 to fp32 is exact.
 *
 * Everything is integer bit manipulation, so results do not depend on the floating-point
 * environment (rounding mode, flush-to-zero or denormals-are-zero set by a plugin's kernels).
 * Header-only (static inline) like plugin_size.h, so each plugin stays a self-contained module.
 * Pure functions: thread-safe, no allocation, no errors (unknown dtypes and precisions are
 * reported through plugin_dtype_size() == 0 and plugin_precision_name() == NULL, for the caller
 * to refuse with VITCL_ERR_UNSUPPORTED).
 */
#ifndef VITCL_PLUGIN_HALF_H
#define VITCL_PLUGIN_HALF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vitcl/backend.h"
#include "vitcl/device.h"

static inline uint32_t plugin_f32_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static inline float plugin_f32_from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* fp32 to bf16 bits, round to nearest even. */
static inline uint16_t plugin_f32_to_bf16(float f)
{
    uint32_t b = plugin_f32_bits(f);
    if ((b & 0x7FFFFFFFu) > 0x7F800000u)            /* NaN: keep sign and top payload, quiet */
        return (uint16_t)((b >> 16) | 0x0040u);
    b += 0x7FFFu + ((b >> 16) & 1u);                 /* a carry may reach the exponent: inf */
    return (uint16_t)(b >> 16);
}

/* bf16 bits to fp32, exact. */
static inline float plugin_bf16_to_f32(uint16_t h)
{
    return plugin_f32_from_bits((uint32_t)h << 16);
}

/* fp32 to IEEE binary16 bits, round to nearest even (overflow to inf, subnormals, NaN). */
static inline uint16_t plugin_f32_to_f16(float f)
{
    uint32_t b = plugin_f32_bits(f);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
    uint32_t a = b & 0x7FFFFFFFu;
    if (a > 0x7F800000u) /* NaN: quiet, top 9 payload bits kept */
        return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x01FFu));
    if (a >= 0x477FF000u) /* >= 65520 (or inf): inf */
        return (uint16_t)(sign | 0x7C00u);
    if (a >= 0x38800000u) { /* >= 2^-14: normal; rebias the exponent by 127 - 15 */
        uint32_t r = a - 0x38000000u;
        r += 0x0FFFu + ((r >> 13) & 1u);
        return (uint16_t)(sign | (r >> 13));
    }
    if (a <= 0x33000000u) /* <= 2^-25: zero (2^-25 itself is a tie, to the even zero) */
        return sign;
    /* Subnormal result m·2^-24: the 24-bit significand shifted right by 126 - exponent. */
    uint32_t e = a >> 23, m = (a & 0x007FFFFFu) | 0x00800000u;
    uint32_t shift = 126u - e; /* 14 .. 24 */
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++; /* q may reach 0x400, which is the encoding of 2^-14 */
    return (uint16_t)(sign | q);
}

/* IEEE binary16 bits to fp32, exact. */
static inline float plugin_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x03FFu;
    if (e == 0x1Fu)
        return plugin_f32_from_bits(sign | 0x7F800000u | (m << 13));
    if (e != 0)
        return plugin_f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
    /* zero or subnormal: m·2^-24, a normal fp32 for m > 0, so exact in any FTZ/DAZ mode */
    return plugin_f32_from_bits(sign | plugin_f32_bits((float)m * 0x1p-24f));
}

/* x rounded to bf16 / fp16 and widened back: the value such a format stores for x. */
static inline float plugin_round_bf16(float x)
{
    return plugin_bf16_to_f32(plugin_f32_to_bf16(x));
}

static inline float plugin_round_f16(float x)
{
    return plugin_f16_to_f32(plugin_f32_to_f16(x));
}

/* x as stored in `precision` (vitcl_precision): itself for FP32 and for unknown values (check
 * plugin_precision_name first). */
static inline float plugin_precision_round(float x, uint32_t precision)
{
    switch (precision) {
    case VITCL_PRECISION_BF16: return plugin_round_bf16(x);
    case VITCL_PRECISION_FP16: return plugin_round_f16(x);
    default: return x;
    }
}

/* "fp32", "bf16", "fp16"; NULL for a precision this header does not know. */
static inline const char *plugin_precision_name(uint32_t precision)
{
    switch (precision) {
    case VITCL_PRECISION_FP32: return "fp32";
    case VITCL_PRECISION_BF16: return "bf16";
    case VITCL_PRECISION_FP16: return "fp16";
    default: return NULL;
    }
}

/* Bytes per element of `dtype` (vitcl_dtype): 4 for F32, 2 for F16 and BF16, 0 when unknown. */
static inline size_t plugin_dtype_size(uint32_t dtype)
{
    switch (dtype) {
    case VITCL_DTYPE_F32: return 4;
    case VITCL_DTYPE_F16:
    case VITCL_DTYPE_BF16: return 2;
    default: return 0;
    }
}

/* "F32", "F16", "BF16" (safetensors' names); NULL when unknown. */
static inline const char *plugin_dtype_name(uint32_t dtype)
{
    switch (dtype) {
    case VITCL_DTYPE_F32: return "F32";
    case VITCL_DTYPE_F16: return "F16";
    case VITCL_DTYPE_BF16: return "BF16";
    default: return NULL;
    }
}

/* Element i of a little-endian host array `w` of `dtype`, widened to fp32 (exact). Reads bytes,
 * so `w` needs no alignment and the host's byte order does not matter. dtype must be known
 * (plugin_dtype_size(dtype) != 0); an unknown one reads as 0. */
static inline float plugin_dtype_load(const void *w, uint32_t dtype, size_t i)
{
    const unsigned char *p = (const unsigned char *)w;
    switch (dtype) {
    case VITCL_DTYPE_F32:
        p += 4 * i;
        return plugin_f32_from_bits((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                                    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    case VITCL_DTYPE_F16:
        p += 2 * i;
        return plugin_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
    case VITCL_DTYPE_BF16:
        p += 2 * i;
        return plugin_bf16_to_f32((uint16_t)(p[0] | p[1] << 8));
    default:
        return 0.0f;
    }
}

#endif
