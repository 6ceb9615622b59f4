/* plugins/cpu/cpu_gemm_xpose_avx2.c - the own GEMM's transposing moves for AVX2
 * (cpu_gemm_kernels.h: store and pack_x of the avx2 table), the 8-lane counterpart of
 * cpu_gemm_xpose_avx512.c: 8 x 8 transposes in registers (4 x 4 blocks inside 128-bit lanes,
 * then the lanes). A tile's 12 rows are 8 + 4: per token, features 0-7 are one ymm and 8-11
 * one xmm, each written whole or with a mask of the live features (vmaskmovps), so the
 * neighbouring tiles (other threads) are never touched.
 *
 * Bits: the store does per element what the driver's scalar loop does (the sum of the depth
 * blocks, then + bias, then cpu_vmath.h's GELU, 8 lanes as there); pack_x is a copy. Compiled
 * for AVX2 by function attribute only and reached only through cpu_gemm_isa_avx2()'s table.
 */
#include <stddef.h>
#include <stdint.h>

#include "cpu_gemm_kernels.h"
#include "cpu_vmath.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#include <immintrin.h>
#define V_TARGET __attribute__((target("avx2,fma")))

/* s[i] lane L holds in[0..3] element 4L + i (a 4 x 4 transpose inside each 128-bit lane). */
V_TARGET static inline __attribute__((always_inline)) void quads(const __m256 in[4],
                                                                 __m256 s[4])
{
    __m256 t0 = _mm256_unpacklo_ps(in[0], in[1]), t1 = _mm256_unpackhi_ps(in[0], in[1]);
    __m256 t2 = _mm256_unpacklo_ps(in[2], in[3]), t3 = _mm256_unpackhi_ps(in[2], in[3]);
    s[0] = _mm256_shuffle_ps(t0, t2, 0x44);
    s[1] = _mm256_shuffle_ps(t0, t2, 0xee);
    s[2] = _mm256_shuffle_ps(t1, t3, 0x44);
    s[3] = _mm256_shuffle_ps(t1, t3, 0xee);
}

/* out[c] lane r = in[r] lane c for r, c < 8. */
V_TARGET static inline __attribute__((always_inline)) void xpose8(const __m256 in[8],
                                                                  __m256 out[8])
{
    __m256 s[8];
    quads(in, s);
    quads(in + 4, s + 4);
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        out[i] = _mm256_permute2f128_ps(s[i], s[4 + i], 0x20);
        out[4 + i] = _mm256_permute2f128_ps(s[i], s[4 + i], 0x31);
    }
}

/* Lanes below `count` all ones. */
V_TARGET static inline __m256i lanes_below(size_t count)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

V_TARGET static inline __m256 epilogue(__m256 v, __m256 b, int gelu)
{
    v = _mm256_add_ps(v, b);
    return gelu ? (__m256)cpu_v8_gelu((cpu_v8)v) : v;
}

V_TARGET void cpu_gemm_store_avx2(const float *ct, size_t live, size_t rows, float *y,
                                  size_t ldy, const float *bias, unsigned flags)
{
    int add = (flags & CPU_GEMM_STORE_ADD) != 0, epi = (flags & CPU_GEMM_STORE_BIAS) != 0;
    int gelu = epi && (flags & CPU_GEMM_STORE_GELU);
    size_t lo = rows < 8 ? rows : 8, hi = rows > 8 ? rows - 8 : 0; /* features 0-7, 8-11 */
    __m256i mlo = lanes_below(lo), mhi = lanes_below(hi);
    __m128i mhi4 = _mm256_castsi256_si128(mhi);
    float pre[CPU_GEMM_MR][8] __attribute__((aligned(32)));
    __m256 blo = _mm256_setzero_ps(), bhi = _mm256_setzero_ps();
    if (add && epi && bias) {
        blo = _mm256_maskload_ps(bias, mlo);
        bhi = _mm256_castps128_ps256(_mm_maskload_ps(bias + 8, mhi4));
    }
    for (size_t h = 0; h < CPU_GEMM_NR && h < live; h += 8) {
        __m256 in[12], out[8], s[4];
        size_t n = live - h < 8 ? live - h : 8;
        float *yh = y + h * ldy;
        const float *src = ct + h;
        size_t ld = CPU_GEMM_NR;
        if (!add && epi) { /* bias and GELU on vectors of 8 tokens per feature, as the scalar */
#pragma GCC unroll 1
            for (size_t r = 0; r < CPU_GEMM_MR; r++) {
                __m256 b = _mm256_set1_ps(bias && r < rows ? bias[r] : 0.0f);
                _mm256_store_ps(pre[r], epilogue(_mm256_loadu_ps(src + r * ld), b, gelu));
            }
            src = pre[0];
            ld = 8;
        }
#pragma GCC unroll 12
        for (size_t r = 0; r < CPU_GEMM_MR; r++)
            in[r] = _mm256_loadu_ps(src + r * ld);
        xpose8(in, out);
        quads(in + 8, s); /* s[i] lane L: features 8-11 of token 4L + i */
#pragma GCC unroll 8
        for (size_t t = 0; t < 8; t++) {
            if (t >= n)
                break;
            float *yr = yh + t * ldy;
            __m256 vlo = out[t];
            __m256 vhi = _mm256_castps128_ps256(t < 4 ? _mm256_castps256_ps128(s[t])
                                                      : _mm256_extractf128_ps(s[t - 4], 1));
            if (add) {
                vlo = _mm256_add_ps(vlo, _mm256_maskload_ps(yr, mlo));
                vhi = _mm256_add_ps(vhi, _mm256_castps128_ps256(_mm_maskload_ps(yr + 8, mhi4)));
                if (epi) {
                    vlo = epilogue(vlo, blo, gelu);
                    vhi = hi ? epilogue(vhi, bhi, gelu) : vhi;
                }
            }
            if (lo == 8)
                _mm256_storeu_ps(yr, vlo);
            else
                _mm256_maskstore_ps(yr, mlo, vlo);
            if (hi == 4)
                _mm_storeu_ps(yr + 8, _mm256_castps256_ps128(vhi));
            else if (hi)
                _mm_maskstore_ps(yr + 8, mhi4, _mm256_castps256_ps128(vhi));
        }
    }
}

V_TARGET void cpu_gemm_pack_x_avx2(const float *x, size_t ldx, size_t live, size_t kc,
                                   float *dst)
{
    /* Blocks of 8 tokens x 8 depths: a token's 8 depths are one vector, the transpose makes
     * them 8 depth vectors of 8 tokens, each stored whole into the panel. */
    for (size_t k1 = 0; k1 < kc; k1 += 8) {
        size_t left = kc - k1 < 8 ? kc - k1 : 8;
        __m256i km = lanes_below(left);
        for (size_t t0 = 0; t0 < CPU_GEMM_NR; t0 += 8) {
            __m256 in[8], out[8];
#pragma GCC unroll 8
            for (size_t i = 0; i < 8; i++)
                in[i] = t0 + i < live ? _mm256_maskload_ps(x + (t0 + i) * ldx + k1, km)
                                      : _mm256_setzero_ps();
            xpose8(in, out);
#pragma GCC unroll 8
            for (size_t d = 0; d < 8; d++)
                if (d < left)
                    _mm256_storeu_ps(dst + (k1 + d) * CPU_GEMM_NR + t0, out[d]);
        }
    }
}

#endif
