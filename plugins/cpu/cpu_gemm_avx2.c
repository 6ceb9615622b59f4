/* plugins/cpu/cpu_gemm_avx2.c - the own GEMM's AVX2+FMA micro-kernels (cpu_gemm_kernels.h),
 * for x86-64 CPUs without AVX-512 (AMD Zen 2/3, Intel before Skylake-SP and its client cores).
 *
 * AVX2 has 16 ymm registers, so the 12 x 32 tile of the driver is computed as 6 x 16 blocks:
 * 6 rows of W broadcast against two 8-lane vectors of tokens, 12 accumulators + 2 token vectors
 * + 1 broadcast = 15 registers, 12 FMAs per 2 vector loads and 6 broadcasts. A 32-token tile is
 * four such blocks (rows 0-5 / 6-11 x tokens 0-15 / 16-31), a 16-token tile two; each block runs
 * the whole depth, so the X panel and the W panel are read from L1/L2 twice, which the blocking
 * (kc from the L2 size, cpu_gemm.c) keeps inside L2. Compiled for AVX2+FMA by function
 * attribute only; cpu_gemm_isa_avx2() hands the table out only where the CPU reports both.
 */
#include <stddef.h>

#include "cpu_gemm_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define Y_HAVE 1
#include <immintrin.h>
#define Y_TARGET __attribute__((target("avx2,fma")))
#else
#define Y_HAVE 0
#endif

#if Y_HAVE

#define Y_ROWS_AT(r) wp[(r) * CPU_GEMM_LDWP]
#define Y_ROWS_STEP 1
#define Y_INTER_AT(r) wp[(r)]
#define Y_INTER_STEP CPU_GEMM_MR

#define Y_FMA(r)                                                                           \
    do {                                                                                   \
        __m256 wr = _mm256_broadcast_ss(&WAT(r));                                          \
        c##r##a = _mm256_fmadd_ps(wr, x0, c##r##a);                                        \
        c##r##b = _mm256_fmadd_ps(wr, x1, c##r##b);                                        \
    } while (0)
#define Y_ALL6(M)                                                                          \
    M(0);                                                                                  \
    M(1);                                                                                  \
    M(2);                                                                                  \
    M(3);                                                                                  \
    M(4);                                                                                  \
    M(5)
#define Y_DECL(r) __m256 c##r##a = _mm256_setzero_ps(), c##r##b = _mm256_setzero_ps()
#define Y_ST(r)                                                                            \
    _mm256_storeu_ps(ct + (r) * CPU_GEMM_NR, c##r##a);                                     \
    _mm256_storeu_ps(ct + (r) * CPU_GEMM_NR + 8, c##r##b)

/* Defines name_block (6 rows of the panel at wp x 16 tokens of the panel at xp into ct, whose
 * rows are CPU_GEMM_NR apart; fetches pf ahead) and the two tile kernels name_32, name_16. */
#define Y_MICRO(name, step)                                                                \
    Y_TARGET static inline __attribute__((always_inline)) void name##_block(               \
        const float *wp, const float *xp, size_t kc, float *ct, const float *pf)           \
    {                                                                                      \
        Y_ALL6(Y_DECL);                                                                    \
        for (size_t kk = 0; kk < kc; kk++) {                                               \
            if ((kk & 15) == 0)                                                            \
                __builtin_prefetch(pf + kk, 0, 2);                                         \
            __m256 x0 = _mm256_loadu_ps(xp), x1 = _mm256_loadu_ps(xp + 8);                 \
            Y_ALL6(Y_FMA);                                                                 \
            xp += CPU_GEMM_NR;                                                             \
            wp += (step);                                                                  \
        }                                                                                  \
        Y_ALL6(Y_ST);                                                                      \
    }                                                                                      \
    Y_TARGET static void name##_32(const float *wp, const float *xp, size_t kc, float *ct,   \
                                   const float *pfa, const float *pfb)                     \
    {                                                                                      \
        name##_block(wp, xp, kc, ct, pfa);                                                 \
        name##_block(&WAT(6), xp, kc, ct + 6 * CPU_GEMM_NR, pfb);                          \
        name##_block(wp, xp + 16, kc, ct + 16, wp);                                        \
        name##_block(&WAT(6), xp + 16, kc, ct + 6 * CPU_GEMM_NR + 16, wp);                 \
    }                                                                                      \
    Y_TARGET static void name##_16(const float *wp, const float *xp, size_t kc, float *ct,   \
                                   const float *pfa, const float *pfb)                     \
    {                                                                                      \
        name##_block(wp, xp, kc, ct, pfa);                                                 \
        name##_block(&WAT(6), xp, kc, ct + 6 * CPU_GEMM_NR, pfb);                          \
    }

#define WAT Y_ROWS_AT
Y_MICRO(y_rows, Y_ROWS_STEP)
#undef WAT
#define WAT Y_INTER_AT
Y_MICRO(y_inter, Y_INTER_STEP)
#undef WAT

static const cpu_gemm_isa y_isa = {"avx2",     y_rows_32, y_rows_16, y_inter_32, y_inter_16,
                                   cpu_gemm_store_avx2, cpu_gemm_pack_x_avx2};

const cpu_gemm_isa *cpu_gemm_isa_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &y_isa : NULL;
}

#else

const cpu_gemm_isa *cpu_gemm_isa_avx2(void)
{
    return NULL;
}

#endif
