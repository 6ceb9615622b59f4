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

/* out[c] lane r = in[r] lane c for c < 16 and r < 4·groups (groups 3 or 4; with 3, lanes 12-15
 * of out are undefined and in[12..15] unread). Every loop is unrolled, so that the arrays
 * stay in registers. */
X_TARGET static inline __attribute__((always_inline)) void xpose(const __m512 in[16],
                                                                 __m512 out[16], int groups)
{
    /* a[4g + i] lane L holds in[4g .. 4g + 3] element 4L + i. */
    __m512 a[16];
#pragma GCC unroll 4
    for (int g = 0; g < groups; g++) {
        __m512 t0 = _mm512_unpacklo_ps(in[4 * g], in[4 * g + 1]);
        __m512 t1 = _mm512_unpackhi_ps(in[4 * g], in[4 * g + 1]);
        __m512 t2 = _mm512_unpacklo_ps(in[4 * g + 2], in[4 * g + 3]);
        __m512 t3 = _mm512_unpackhi_ps(in[4 * g + 2], in[4 * g + 3]);
        a[4 * g] = _mm512_shuffle_ps(t0, t2, 0x44);
        a[4 * g + 1] = _mm512_shuffle_ps(t0, t2, 0xee);
        a[4 * g + 2] = _mm512_shuffle_ps(t1, t3, 0x44);
        a[4 * g + 3] = _mm512_shuffle_ps(t1, t3, 0xee);
    }
    /* Lane L of the groups' i-th vectors makes element 4L + i: pairs of lanes of groups 0 and
     * 1 (b1: lanes 0, 1; b2: lanes 2, 3), then of 2 and 3, then one lane of each pair. */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        __m512 b1 = _mm512_shuffle_f32x4(a[i], a[4 + i], 0x44);
        __m512 b2 = _mm512_shuffle_f32x4(a[i], a[4 + i], 0xee);
        if (groups == 4) {
            __m512 b3 = _mm512_shuffle_f32x4(a[8 + i], a[12 + i], 0x44);
            __m512 b4 = _mm512_shuffle_f32x4(a[8 + i], a[12 + i], 0xee);
            out[i] = _mm512_shuffle_f32x4(b1, b3, 0x88);
            out[4 + i] = _mm512_shuffle_f32x4(b1, b3, 0xdd);
            out[8 + i] = _mm512_shuffle_f32x4(b2, b4, 0x88);
            out[12 + i] = _mm512_shuffle_f32x4(b2, b4, 0xdd);
        } else { /* group 2's lane L goes to lane 2 (and 3) directly */
            out[i] = _mm512_shuffle_f32x4(b1, a[8 + i], 0x08);
            out[4 + i] = _mm512_shuffle_f32x4(b1, a[8 + i], 0x5d);
            out[8 + i] = _mm512_shuffle_f32x4(b2, a[8 + i], 0xa8);
            out[12 + i] = _mm512_shuffle_f32x4(b2, a[8 + i], 0xfd);
        }
    }
}

X_TARGET static inline __m512 gelu16(__m512 v)
{
    return (__m512)cpu_v16_gelu((cpu_v16)v);
}

/* v + bias (broadcast or per lane), then GELU if asked: one vector of the epilogue. */
X_TARGET static inline __m512 epilogue(__m512 v, __m512 b, int gelu)
{
    v = _mm512_add_ps(v, b);
    return gelu ? gelu16(v) : v;
}

X_TARGET void cpu_gemm_store_avx512(const float *ct, size_t live, size_t rows, float *y,
                                    size_t ldy, const float *bias, unsigned flags)
{
    __mmask16 fm = (__mmask16)((1u << rows) - 1);
    int add = (flags & CPU_GEMM_STORE_ADD) != 0, epi = (flags & CPU_GEMM_STORE_BIAS) != 0;
    int gelu = epi && (flags & CPU_GEMM_STORE_GELU);
    /* The transposes are unrolled into registers; the GELU loops are not (its constants fill
     * the registers), so they go through these small buffers in L1. */
    float pre[CPU_GEMM_MR][16] __attribute__((aligned(64)));
    float tok[16][16] __attribute__((aligned(64)));
    for (size_t h = 0; h < CPU_GEMM_NR && h < live; h += 16) {
        __m512 in[16], out[16];
        size_t n = live - h < 16 ? live - h : 16;
        float *yh = y + h * ldy;
        if (!add) {
            /* Bias and GELU before the transpose, on whole vectors of 16 tokens per feature
             * (12 GELUs per 16 tokens instead of 16); rows past `rows` are never stored. */
            const float *src = ct + h;
            size_t ld = CPU_GEMM_NR;
            if (epi) {
#pragma GCC unroll 1
                for (size_t r = 0; r < CPU_GEMM_MR; r++) {
                    __m512 b = _mm512_set1_ps(bias && r < rows ? bias[r] : 0.0f);
                    _mm512_store_ps(pre[r], epilogue(_mm512_loadu_ps(src + r * ld), b, gelu));
                }
                src = pre[0];
                ld = 16;
            }
#pragma GCC unroll 12
            for (size_t r = 0; r < CPU_GEMM_MR; r++)
                in[r] = _mm512_loadu_ps(src + r * ld);
            xpose(in, out, 3);
#pragma GCC unroll 16
            for (size_t t = 0; t < 16; t++)
                if (t < n)
                    _mm512_mask_storeu_ps(yh + t * ldy, fm, out[t]);
            continue;
        }
        /* After the first depth block: the sum needs Y's rows first, so the epilogue runs
         * on the transposed vectors (one per token). */
#pragma GCC unroll 12
        for (size_t r = 0; r < CPU_GEMM_MR; r++)
            in[r] = _mm512_loadu_ps(ct + r * CPU_GEMM_NR + h);
        xpose(in, out, 3);
#pragma GCC unroll 16
        for (size_t t = 0; t < 16; t++)
            _mm512_store_ps(tok[t], out[t]);
        __m512 b = bias ? _mm512_maskz_loadu_ps(fm, bias) : _mm512_setzero_ps();
#pragma GCC unroll 1
        for (size_t t = 0; t < n; t++) {
            float *yr = yh + t * ldy;
            __m512 v = _mm512_add_ps(_mm512_load_ps(tok[t]), _mm512_maskz_loadu_ps(fm, yr));
            _mm512_mask_storeu_ps(yr, fm, epi ? epilogue(v, b, gelu) : v);
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
#pragma GCC unroll 16
            for (size_t i = 0; i < 16; i++)
                in[i] = t0 + i < live ? _mm512_maskz_loadu_ps(km, x + (t0 + i) * ldx + k1)
                                      : _mm512_setzero_ps();
            xpose(in, out, 4);
#pragma GCC unroll 16
            for (size_t d = 0; d < 16; d++)
                if (d < left)
                    _mm512_storeu_ps(dst + (k1 + d) * CPU_GEMM_NR + t0, out[d]);
        }
    }
}

#endif
