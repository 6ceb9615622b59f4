/* plugins/cpu/cpu_half.c - row converters between fp32 and the 16-bit formats (cpu_half.h).
 *
 * Widening bf16 is a 16-bit shift (AVX2: zero-extend eight halves, shift, reinterpret); fp16 uses
 * F16C's vcvtph2ps, and narrowing to fp16 its vcvtps2ph with round-to-nearest-even, which give
 * the same bits as the scalar forms (quiet NaNs with truncated payloads, RNE, overflow to
 * infinity). Narrowing to bf16 is the scalar form: it only runs when a weight is packed. Each
 * vector path is compiled by function attribute and chosen per call from what the running CPU
 * reports, so the plugin still runs on a baseline x86-64 (or any other) CPU.
 */
#include "cpu_half.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define H_HAVE 1
#include <immintrin.h>
#else
#define H_HAVE 0
#endif

#if H_HAVE

__attribute__((target("avx2"))) static void widen_bf16_avx2(const uint16_t *src, float *dst,
                                                            size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(w));
    }
    for (; i < n; i++)
        dst[i] = plugin_bf16_to_f32(src[i]);
}

__attribute__((target("avx,f16c"))) static void widen_f16_f16c(const uint16_t *src, float *dst,
                                                               size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++)
        dst[i] = plugin_f16_to_f32(src[i]);
}

__attribute__((target("avx,f16c"))) static void narrow_f16_f16c(const float *src, uint16_t *dst,
                                                                size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(void *)(dst + i), h);
    }
    for (; i < n; i++)
        dst[i] = plugin_f32_to_f16(src[i]);
}

static int have(int avx2)
{
    __builtin_cpu_init();
    return avx2 ? __builtin_cpu_supports("avx2") : __builtin_cpu_supports("f16c");
}

#endif

void cpu_half_widen(const uint16_t *src, uint32_t fmt, float *dst, size_t n)
{
#if H_HAVE
    if (fmt == VITCL_PRECISION_BF16 && have(1)) {
        widen_bf16_avx2(src, dst, n);
        return;
    }
    if (fmt == VITCL_PRECISION_FP16 && have(0)) {
        widen_f16_f16c(src, dst, n);
        return;
    }
#endif
    if (fmt == VITCL_PRECISION_BF16)
        for (size_t i = 0; i < n; i++)
            dst[i] = plugin_bf16_to_f32(src[i]);
    else
        for (size_t i = 0; i < n; i++)
            dst[i] = plugin_f16_to_f32(src[i]);
}

void cpu_half_narrow(const float *src, uint32_t fmt, uint16_t *dst, size_t n)
{
#if H_HAVE
    if (fmt == VITCL_PRECISION_FP16 && have(0)) {
        narrow_f16_f16c(src, dst, n);
        return;
    }
#endif
    if (fmt == VITCL_PRECISION_BF16)
        for (size_t i = 0; i < n; i++)
            dst[i] = plugin_f32_to_bf16(src[i]);
    else
        for (size_t i = 0; i < n; i++)
            dst[i] = plugin_f32_to_f16(src[i]);
}
