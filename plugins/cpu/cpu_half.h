/* plugins/cpu/cpu_half.h - the cpu plugin's 16-bit float formats: bf16 (the upper half of a
 * binary32) and IEEE binary16 ("fp16"), as pack_weight_host stores linear weights in them
 * (cpu_pack_host.c) and the GEMMs widen them back (cpu_linear.c, cpu_gemm.c).
 *
 * The scalar conversions are plugins/common/plugin_half.h's (shared with ref): widening to fp32
 * is exact for both formats; narrowing rounds to nearest, ties to even, keeps the sign of zero,
 * keeps infinities, turns every NaN into a quiet NaN (payload truncated, as F16C and the bf16
 * instructions do) and sends finite values beyond the format's range to infinity (the caller
 * decides whether that is an error). Row converters (cpu_half.c) use AVX2 and F16C where the
 * running CPU reports them (__builtin_cpu_supports, never the compiler's -march) and the scalar
 * forms elsewhere; their results are bit-identical either way. Everything here is pure and
 * thread-safe.
 *
 * The storage format of a packed weight is named by its vitcl_precision (device.h):
 * VITCL_PRECISION_BF16 and VITCL_PRECISION_FP16 are 16 bits, VITCL_PRECISION_FP32 is a float.
 */
#ifndef VITCL_CPU_HALF_H
#define VITCL_CPU_HALF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "plugin_half.h" /* the scalar conversions, shared with the ref plugin */
#include "vitcl/device.h"

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
