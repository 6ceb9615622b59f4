/* plugins/cpu/cpu_bf16_strip.h - one strip of X as bf16 pairs, shared by the X packers of the
 * AVX512-BF16 kernels (cpu_gemm_avx512bf16.c) and of the AMX kernel (cpu_gemm_amx.c), so that
 * both round X the same way. Include only where <immintrin.h> and GCC's target attribute are
 * available (those files' guards); the helper is compiled into each caller. */
#ifndef VITCL_CPU_BF16_STRIP_H
#define VITCL_CPU_BF16_STRIP_H

#include <immintrin.h>
#include <stddef.h>

/* The `left` <= 32 floats at src (none past them are read) as 16 bf16 pairs, zero past left:
 * *hi = RNE(x) (vcvtneps2bf16); with lo not NULL also *lo = RNE(x - hi), where x - hi is exact
 * in fp32, and 0 (not NaN) where hi is not finite. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"), always_inline)) static inline void
cpu_bf16_strip(const float *src, size_t left, __m512i *hi, __m512i *lo)
{
    __mmask16 ma = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
    __mmask16 mb = left <= 16 ? 0 : left >= 32 ? 0xffff : (__mmask16)((1u << (left - 16)) - 1);
    __m512 a = _mm512_maskz_loadu_ps(ma, src), b = _mm512_maskz_loadu_ps(mb, src + 16);
    __m256bh ha = _mm512_cvtneps_pbh(a), hb = _mm512_cvtneps_pbh(b);
    *hi = _mm512_inserti64x4(_mm512_castsi256_si512((__m256i)ha), (__m256i)hb, 1);
    if (!lo)
        return;
    __m512 va = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)ha), 16));
    __m512 vb = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)hb), 16));
    __mmask16 fa = _mm512_cmp_ps_mask(_mm512_sub_ps(va, va), _mm512_setzero_ps(), _CMP_EQ_OQ);
    __mmask16 fb = _mm512_cmp_ps_mask(_mm512_sub_ps(vb, vb), _mm512_setzero_ps(), _CMP_EQ_OQ);
    __m256bh la = _mm512_cvtneps_pbh(_mm512_maskz_sub_ps(fa, a, va));
    __m256bh lb = _mm512_cvtneps_pbh(_mm512_maskz_sub_ps(fb, b, vb));
    *lo = _mm512_inserti64x4(_mm512_castsi256_si512((__m256i)la), (__m256i)lb, 1);
}

#endif
