/* plugins/cpu/cpu_gemm_xpose_avx512.c - the own GEMM's transposing moves for AVX-512F
 * (cpu_gemm_kernels.h: store and pack_x of the avx512 table): the epilogue that turns a
 * 12 x 32 register tile [features][tokens] into rows of Y [tokens][features], and the packing
 * of X rows [tokens][depths] into panels [depths][32 tokens]. Both go through a 16 x 16
 * transpose in registers (4 x 4 blocks inside 128-bit lanes, then the lanes), so that every
 * load and store is a vector: Y rows are written with a mask of the tile's live features, so
 * the neighbouring tiles (other threads) are never touched.
 *
 * Bits: the store does per element exactly what the driver's scalar loop does (the sum of the
 * depth blocks, then + bias, then GELU from cpu_vmath.h, here 16 lanes wide, which gives the
 * same bits per lane as 8); pack_x is a copy. Compiled for AVX-512F by function attribute only
 * and reached only through cpu_gemm_isa_avx512()'s table.
 */
#include <stddef.h>
#include <stdint.h>

#include "cpu_gemm_kernels.h"
#include "cpu_vmath.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#include <immintrin.h>
#define X_TARGET __attribute__((target("avx512f,avx2,fma")))

/* out[c] lane r = in[r] lane c for r, c < 16. */
X_TARGET static inline void xpose16(const __m512 in[16], __m512 out[16])
{
    /* a[4g + i] lane L holds in[4g .. 4g + 3] element 4L + i. */
    __m512 a[16];
    for (int g = 0; g < 4; g++) {
        __m512 t0 = _mm512_unpacklo_ps(in[4 * g], in[4 * g + 1]);
        __m512 t1 = _mm512_unpackhi_ps(in[4 * g], in[4 * g + 1]);
        __m512 t2 = _mm512_unpacklo_ps(in[4 * g + 2], in[4 * g + 3]);
        __m512 t3 = _mm512_unpackhi_ps(in[4 * g + 2], in[4 * g + 3]);
        a[4 * g] = _mm512_shuffle_ps(t0, t2, 0x44);
        a[4 * g + 1] = _mm512_shuffle_ps(t0, t2, 0xee);
        a[4 * g + 2] = _mm512_shuffle_ps(t1, t3, 0x44);
        a[4 * g + 3] = _mm512_shuffle_ps(t1, t3, 0xee);
    }
    /* Lane L of the four groups' i-th vectors makes element 4L + i. */
    for (int i = 0; i < 4; i++) {
        __m512 b1 = _mm512_shuffle_f32x4(a[i], a[4 + i], 0x44);
        __m512 b2 = _mm512_shuffle_f32x4(a[i], a[4 + i], 0xee);
        __m512 b3 = _mm512_shuffle_f32x4(a[8 + i], a[12 + i], 0x44);
        __m512 b4 = _mm512_shuffle_f32x4(a[8 + i], a[12 + i], 0xee);
        out[i] = _mm512_shuffle_f32x4(b1, b3, 0x88);
        out[4 + i] = _mm512_shuffle_f32x4(b1, b3, 0xdd);
        out[8 + i] = _mm512_shuffle_f32x4(b2, b4, 0x88);
        out[12 + i] = _mm512_shuffle_f32x4(b2, b4, 0xdd);
    }
}

X_TARGET static inline __m512 gelu16(__m512 v)
{
    return (__m512)cpu_v16_gelu((cpu_v16)v);
}

X_TARGET void cpu_gemm_store_avx512(const float *ct, size_t live, size_t rows, float *y,
                                    size_t ldy, const float *bias, unsigned flags)
{
    __mmask16 fm = (__mmask16)((1u << rows) - 1);
    int add = (flags & CPU_GEMM_STORE_ADD) != 0, epi = (flags & CPU_GEMM_STORE_BIAS) != 0;
    int gelu = epi && (flags & CPU_GEMM_STORE_GELU);
    for (size_t h = 0; h < CPU_GEMM_NR && h < live; h += 16) {
        __m512 in[16], out[16];
        for (size_t r = 0; r < 16; r++)
            in[r] = r < CPU_GEMM_MR ? _mm512_loadu_ps(ct + r * CPU_GEMM_NR + h)
                                    : _mm512_setzero_ps();
        size_t n = live - h < 16 ? live - h : 16;
        if (!add) {
            /* Bias and GELU before the transpose, on whole vectors of 16 tokens per feature
             * (12 GELUs per 16 tokens instead of 16); rows past `rows` are never stored. */
            if (epi)
                for (size_t r = 0; r < CPU_GEMM_MR; r++) {
                    __m512 v = _mm512_add_ps(in[r], _mm512_set1_ps(bias && r < rows ? bias[r]
                                                                                    : 0.0f));
                    in[r] = gelu ? gelu16(v) : v;
                }
            xpose16(in, out);
            for (size_t t = 0; t < n; t++)
                _mm512_mask_storeu_ps(y + (h + t) * ldy, fm, out[t]);
            continue;
        }
        /* After the first depth block: the sum needs Y's rows first, so the epilogue runs
         * on the transposed vectors (one per token). */
        xpose16(in, out);
        __m512 b = bias ? _mm512_maskz_loadu_ps(fm, bias) : _mm512_setzero_ps();
        for (size_t t = 0; t < n; t++) {
            float *yr = y + (h + t) * ldy;
            __m512 v = _mm512_add_ps(out[t], _mm512_maskz_loadu_ps(fm, yr));
            if (epi) {
                v = _mm512_add_ps(v, b);
                v = gelu ? gelu16(v) : v;
            }
            _mm512_mask_storeu_ps(yr, fm, v);
        }
    }
}

X_TARGET void cpu_gemm_pack_x_avx512(const float *x, size_t ldx, size_t live, size_t kc,
                                     float *dst)
{
    /* Blocks of 16 tokens x 16 depths: a token's 16 depths are one vector, the transpose
     * makes them 16 depth vectors of 16 tokens, each stored whole into the panel. */
    for (size_t k1 = 0; k1 < kc; k1 += 16) {
        size_t left = kc - k1 < 16 ? kc - k1 : 16;
        __mmask16 km = (__mmask16)((1u << left) - 1);
        for (size_t t0 = 0; t0 < CPU_GEMM_NR; t0 += 16) {
            __m512 in[16], out[16];
            for (size_t i = 0; i < 16; i++)
                in[i] = t0 + i < live ? _mm512_maskz_loadu_ps(km, x + (t0 + i) * ldx + k1)
                                      : _mm512_setzero_ps();
            xpose16(in, out);
            for (size_t d = 0; d < left; d++)
                _mm512_storeu_ps(dst + (k1 + d) * CPU_GEMM_NR + t0, out[d]);
        }
    }
}

#endif
