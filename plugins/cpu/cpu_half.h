/* plugins/cpu/cpu_half.h - the cpu plugin's 16-bit float formats: bf16 (the upper half of a
 * binary32) and IEEE binary16 ("fp16"), as pack_weight_host stores linear weights in them
 * (cpu_pack_host.c) and the GEMMs widen them back (cpu_linear.c, cpu_gemm.c).
 *
 * Scalar conversions are header-only and exact where they can be: widening to fp32 is exact for
 * both formats; narrowing rounds to nearest, ties to even, keeps the sign of zero, keeps infinities,
 * turns every NaN into a quiet NaN (payload truncated, as F16C and the bf16 instructions do) and
 * sends finite values beyond the format's range to infinity (the caller decides whether that is
 * an error). Row converters (cpu_half.c) use AVX2 and F16C where the running CPU reports them
 * (__builtin_cpu_supports, never the compiler's -march) and the scalar forms elsewhere; their
 * results are bit-identical either way. Everything here is pure and thread-safe.
 *
 * The storage format of a packed weight is named by its vitcl_precision (device.h):
 * VITCL_PRECISION_BF16 and VITCL_PRECISION_FP16 are 16 bits, VITCL_PRECISION_FP32 is a float.
 * (helper refconf is writing plugins/common/plugin_half.h with the same scalar conversions for
 * the ref plugin; once both land, the scalar half of this file should move there.)
 */
#ifndef VITCL_CPU_HALF_H
#define VITCL_CPU_HALF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vitcl/device.h"

static inline uint32_t cpu_half_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float cpu_half_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* bf16 -> fp32, exact. */
static inline float cpu_bf16_to_f32(uint16_t h)
{
    return cpu_half_float((uint32_t)h << 16);
}

/* fp32 -> bf16, round to nearest even. */
static inline uint16_t cpu_f32_to_bf16(float f)
{
    uint32_t u = cpu_half_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: quiet, truncated payload */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* fp16 -> fp32, exact. */
static inline float cpu_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f)
        return cpu_half_float(sign | 0x7f800000u | (m << 13));
    if (e != 0)
        return cpu_half_float(sign | ((e + 112u) << 23) | (m << 13));
    /* zero or subnormal: m·2^-24, exact in fp32 */
    return cpu_half_float(sign | cpu_half_bits((float)m * 0x1p-24f));
}

/* fp32 -> fp16, round to nearest even; |f| >= 65520 (half an ulp past 65504) gives infinity. */
static inline uint16_t cpu_f32_to_f16(float f)
{
    uint32_t u = cpu_half_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN: quiet, truncated payload */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* 65520 and above, infinity included */
        return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) { /* normal in fp16: >= 2^-14 */
        uint32_t r = a - 0x38000000u; /* exponent bias 127 -> 15 */
        r += 0xfffu + ((r >> 13) & 1u);
        return (uint16_t)(sign | (r >> 13));
    }
    if (a <= 0x33000000u) /* at most 2^-25, half the smallest subnormal: ties to 0 */
        return sign;
    /* subnormal result: round m·2^(e-150) to a multiple of 2^-24 */
    uint32_t e = a >> 23, mant = (a & 0x7fffffu) | 0x800000u, shift = 126u - e;
    uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return (uint16_t)(sign | q);
}

/* 1 when h (in `fmt`, BF16 or FP16) is an infinity. */
static inline int cpu_half_is_inf(uint16_t h, uint32_t fmt)
{
    return (h & 0x7fffu) == (fmt == VITCL_PRECISION_BF16 ? 0x7f80u : 0x7c00u);
}

/* dst[i] = src[i] widened from `fmt` (VITCL_PRECISION_BF16 or _FP16) for i < n. */
void cpu_half_widen(const uint16_t *src, uint32_t fmt, float *dst, size_t n);

/* dst[i] = src[i] rounded to `fmt` (VITCL_PRECISION_BF16 or _FP16) for i < n. */
void cpu_half_narrow(const float *src, uint32_t fmt, uint16_t *dst, size_t n);

#endif
