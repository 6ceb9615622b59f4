/* plugins/opencl/half_convert.h - float <-> IEEE binary16 and float <-> bfloat16 on the host.
 *
 * The OpenCL plugin stores linear weights in 16 bits for the bf16 and fp16 precisions (ABI 1.1,
 * device.h): the host-side packer (weight_pack.c) and the self-check's reference (selfcheck.c,
 * gemm_tune.c) round through these functions, so both see the same values. Rounding is to
 * nearest, ties to even, as device.h requires; NaN stays NaN (quiet), overflow gives infinity,
 * fp16 keeps subnormals. Pure functions, thread-safe.
 *
 * TODO(dedup): helper refconf writes plugins/common/plugin_half.h with the same conversions for
 * the ref and cpu plugins; once it is on main this file should give way to it.
 */
#ifndef VITCL_OCL_HALF_CONVERT_H
#define VITCL_OCL_HALF_CONVERT_H

#include <stdint.h>
#include <string.h>

static inline uint32_t ocl_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float ocl_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* bfloat16 (the upper half of a binary32) to float: exact. */
static inline float ocl_bf16_to_f32(uint16_t h)
{
    return ocl_bits_f32((uint32_t)h << 16);
}

/* float to bfloat16, round to nearest even; NaN gives a quiet NaN of the same sign. */
static inline uint16_t ocl_f32_to_bf16(float f)
{
    uint32_t u = ocl_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* IEEE binary16 to float: exact (subnormals, infinities and NaN included). */
static inline float ocl_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f)
        return ocl_bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0)
            return ocl_bits_f32(sign);
        /* A subnormal: man * 2^-24, exact in float. */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return ocl_bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

/* float to IEEE binary16, round to nearest even; beyond the largest half gives infinity, NaN a
 * quiet NaN, and results below the smallest normal are rounded as subnormals. */
static inline uint16_t ocl_f32_to_f16(float f)
{
    uint32_t u = ocl_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* >= 65520: rounds to infinity (65504 is the largest half) */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) { /* below 2^-14: a subnormal half (or zero) */
        if (a < 0x33000000u) /* below 2^-25: rounds to zero (2^-25 itself is a tie to 0) */
            return sign;
        uint32_t e = a >> 23, man = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e; /* value = man * 2^(e - 150); half unit = 2^-24 */
        uint32_t q = man >> shift, rem = man & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u)))
            q++;
        return (uint16_t)(sign | q);
    }
    /* Normal: rebias the exponent and round the 13 dropped mantissa bits (a carry into the
     * exponent is correct, up to infinity, excluded above). */
    uint32_t r = a - 0x38000000u;
    r += 0xfffu + ((r >> 13) & 1u);
    return (uint16_t)(sign | (r >> 13));
}

#endif
