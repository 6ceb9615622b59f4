/* plugins/cpu/cpu_gemm_avx512bf16.c - the own GEMM's AVX512-BF16 micro-kernels and X packers
 * (cpu_gemm_kernels.h, "bf16 kernels"): products of bf16 pairs with fp32 accumulation
 * (vdpbf16ps), for linear on a bf16 weight (driver: cpu_gemm.c; which linears round X and which
 * take the fp32 kernels instead: cpu_gemm_bf16_x_for). "split" runs only when VITCL_CPU_BF16
 * forces it: it costs what fp32 costs.
 *
 * Layouts, in 32-bit "pairs" (two bf16, the lower depth in the low half):
 * - W panel: row r holds the pairs of W[j0 + r][k0 ..], CPU_GEMM_LDWP pairs apart; the bf16 W
 *   is copied as is (an odd depth block ends in a pair whose high half is zero);
 * - X panel, "round": [kc2][CPU_GEMM_NR] pairs, X rounded to bf16 (nearest even);
 * - X panel, "split": [kc2][2][CPU_GEMM_NR] pairs, hi = bf16(x) then lo = bf16(x - hi), so that
 *   hi + lo carries x to about 2^-16 of |x| and the kernel sums both products.
 * A 12 x 32 tile is 12 broadcast W pairs against two vectors of 16 token pairs: 24 fp32
 * accumulators. vdpbf16ps treats bf16 subnormal inputs as zero and flushes subnormal results
 * (its definition), so tiny values differ from an fp32 product at the 1e-38 level only.
 * Compiled for AVX512-BF16 by function attribute only; cpu_gemm_bf16_avx512() hands the table
 * out only where the CPU reports AVX512-BF16 (with AVX512F/BW/VL) and the OS saves the AVX-512
 * state.
 */
#include <stddef.h>
#include <stdint.h>

#include "cpu_gemm_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define B_HAVE 1
#include <cpuid.h>
#include <immintrin.h>

#include "cpu_bf16_strip.h"
#include "cpu_cpuid.h"
#define B_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#else
#define B_HAVE 0
#endif

#if B_HAVE

#define B_DECL(r) __m512 c##r##a = _mm512_setzero_ps(), c##r##b = _mm512_setzero_ps()
#define B_W(r) ((__m512bh)_mm512_set1_epi32((int)wp[(r) * CPU_GEMM_LDWP]))
#define B_DP2(r)                                                                           \
    do {                                                                                   \
        __m512bh wr = B_W(r);                                                              \
        c##r##a = _mm512_dpbf16_ps(c##r##a, x0, wr);                                       \
        c##r##b = _mm512_dpbf16_ps(c##r##b, x1, wr);                                       \
    } while (0)
#define B_DP1(r) c##r##a = _mm512_dpbf16_ps(c##r##a, x0, B_W(r))
#define B_DP2S(r)                                                                          \
    do {                                                                                   \
        __m512bh wr = B_W(r);                                                              \
        c##r##a = _mm512_dpbf16_ps(c##r##a, x0, wr);                                       \
        c##r##b = _mm512_dpbf16_ps(c##r##b, x1, wr);                                       \
        c##r##a = _mm512_dpbf16_ps(c##r##a, l0, wr);                                       \
        c##r##b = _mm512_dpbf16_ps(c##r##b, l1, wr);                                       \
    } while (0)
#define B_DP1S(r)                                                                          \
    do {                                                                                   \
        __m512bh wr = B_W(r);                                                              \
        c##r##a = _mm512_dpbf16_ps(c##r##a, x0, wr);                                       \
        c##r##a = _mm512_dpbf16_ps(c##r##a, l0, wr);                                       \
    } while (0)
#define B_ST2(r)                                                                           \
    _mm512_storeu_ps(ct + (r) * CPU_GEMM_NR, c##r##a);                                     \
    _mm512_storeu_ps(ct + (r) * CPU_GEMM_NR + 16, c##r##b)
#define B_ST1(r) _mm512_storeu_ps(ct + (r) * CPU_GEMM_NR, c##r##a)
#define B_LD(p) ((__m512bh)_mm512_loadu_si512((const void *)(p)))

/* The next W panel's rows, one 64-byte line (16 pairs) at a time. */
#define B_PREFETCH()                                                                       \
    if ((kk & 15) == 0) {                                                                  \
        __builtin_prefetch((const char *)pfa + 4 * kk, 0, 2);                              \
        __builtin_prefetch((const char *)pfb + 4 * kk, 0, 2);                              \
    }

/* The b accumulators of the one-vector kernels are declared but unused. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-variable"

B_TARGET static void round_32(const uint32_t *wp, const uint32_t *xp, size_t kc2, float *ct,
                              const void *pfa, const void *pfb)
{
    CPU_GEMM_ALL12(B_DECL);
    for (size_t kk = 0; kk < kc2; kk++) {
        B_PREFETCH();
        __m512bh x0 = B_LD(xp), x1 = B_LD(xp + 16);
        CPU_GEMM_ALL12(B_DP2);
        xp += CPU_GEMM_NR;
        wp++;
    }
    CPU_GEMM_ALL12(B_ST2);
}

B_TARGET static void round_16(const uint32_t *wp, const uint32_t *xp, size_t kc2, float *ct,
                              const void *pfa, const void *pfb)
{
    CPU_GEMM_ALL12(B_DECL);
    for (size_t kk = 0; kk < kc2; kk++) {
        B_PREFETCH();
        __m512bh x0 = B_LD(xp);
        CPU_GEMM_ALL12(B_DP1);
        xp += CPU_GEMM_NR;
        wp++;
    }
    CPU_GEMM_ALL12(B_ST1);
}

B_TARGET static void split_32(const uint32_t *wp, const uint32_t *xp, size_t kc2, float *ct,
                              const void *pfa, const void *pfb)
{
    CPU_GEMM_ALL12(B_DECL);
    for (size_t kk = 0; kk < kc2; kk++) {
        B_PREFETCH();
        __m512bh x0 = B_LD(xp), x1 = B_LD(xp + 16);
        __m512bh l0 = B_LD(xp + CPU_GEMM_NR), l1 = B_LD(xp + CPU_GEMM_NR + 16);
        CPU_GEMM_ALL12(B_DP2S);
        xp += 2 * CPU_GEMM_NR;
        wp++;
    }
    CPU_GEMM_ALL12(B_ST2);
}

B_TARGET static void split_16(const uint32_t *wp, const uint32_t *xp, size_t kc2, float *ct,
                              const void *pfa, const void *pfb)
{
    CPU_GEMM_ALL12(B_DECL);
    for (size_t kk = 0; kk < kc2; kk++) {
        B_PREFETCH();
        __m512bh x0 = B_LD(xp), l0 = B_LD(xp + CPU_GEMM_NR);
        CPU_GEMM_ALL12(B_DP1S);
        xp += 2 * CPU_GEMM_NR;
        wp++;
    }
    CPU_GEMM_ALL12(B_ST1);
}

#pragma GCC diagnostic pop

/* c[j] lane i = r[i] lane j for 16 x 16 32-bit lanes: 32-bit, then 64-bit interleaves within
 * 128-bit lanes, then two shuffles of 128-bit lanes. */
B_TARGET static void transpose16(const __m512i r[16], __m512i c[16])
{
    __m512i t[16], u[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    /* u[4g + q], 128-bit lane L: rows 4g..4g+3 of column 4L + q */
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        u[4 * g + 0] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
    }
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        __m512i v0 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0x88);
        __m512i v1 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0xdd);
        __m512i v2 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0x88);
        __m512i v3 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0xdd);
        c[q] = _mm512_shuffle_i32x4(v0, v2, 0x88);
        c[4 + q] = _mm512_shuffle_i32x4(v1, v3, 0x88);
        c[8 + q] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
        c[12 + q] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
    }
}

/* Packs one X panel (see the layouts above): `live` tokens at x (rows ldx floats apart, depth
 * k0 already applied), kc depths; tokens past live and the high half of an odd last pair are
 * zero. split: also the lo parts. In strips of 32 depths and 16 tokens: each token's strip
 * becomes one vector of 16 pairs, and a transpose turns the 16 tokens' vectors into 16 rows of
 * the panel, each stored whole. */
B_TARGET static void pack_panel(const float *x, size_t ldx, size_t live, size_t kc, int split,
                                uint32_t *dst)
{
    size_t row = split ? 2 * CPU_GEMM_NR : CPU_GEMM_NR;
    for (size_t s = 0; s < kc; s += 32) {
        size_t left = kc - s < 32 ? kc - s : 32, pairs = (left + 1) / 2;
        uint32_t *d = dst + s / 2 * row;
        for (size_t t0 = 0; t0 < CPU_GEMM_NR; t0 += 16) {
            __m512i hi[16], lo[16], c[16];
            for (size_t i = 0; i < 16; i++) {
                hi[i] = lo[i] = _mm512_setzero_si512();
                if (t0 + i < live)
                    cpu_bf16_strip(x + (t0 + i) * ldx + s, left, &hi[i], split ? &lo[i] : NULL);
            }
            transpose16(hi, c);
            for (size_t j = 0; j < pairs; j++)
                _mm512_storeu_si512((void *)(d + j * row + t0), c[j]);
            if (split) {
                transpose16(lo, c);
                for (size_t j = 0; j < pairs; j++)
                    _mm512_storeu_si512((void *)(d + j * row + CPU_GEMM_NR + t0), c[j]);
            }
        }
    }
}

B_TARGET static void pack_round(const float *x, size_t ldx, size_t live, size_t kc,
                                uint32_t *dst)
{
    pack_panel(x, ldx, live, kc, 0, dst);
}

B_TARGET static void pack_split(const float *x, size_t ldx, size_t live, size_t kc,
                                uint32_t *dst)
{
    pack_panel(x, ldx, live, kc, 1, dst);
}

/* X as a row-major bf16 matrix: 16 floats per vcvtneps2bf16, the tail masked. */
B_TARGET static void round_x(const float *x, size_t n, uint16_t *dst)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(void *)(dst + i),
                            (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 mask = (__mmask16)((1u << (n - i)) - 1);
        __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, x + i));
        _mm256_mask_storeu_epi16(dst + i, mask, (__m256i)h);
    }
}

static const cpu_gemm_bf16 b_table = {"avx512bf16", round_32,   round_16,   split_32,
                                      split_16,     pack_round, pack_split, round_x};

/* AVX512-BF16 (CPUID.7.1:EAX[5]) and the OS saving the opmask and ZMM state (XCR0). */
static int have_bf16(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7 || (cpu_xcr0() & CPU_XCR0_ZMM) != CPU_XCR0_ZMM)
        return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __get_cpuid_count(7, 1, &a, &b, &c, &d) &&
           (a & (1u << 5));
}

const cpu_gemm_bf16 *cpu_gemm_bf16_avx512(void)
{
    return have_bf16() ? &b_table : NULL;
}

#else

const cpu_gemm_bf16 *cpu_gemm_bf16_avx512(void)
{
    return NULL;
}

#endif
