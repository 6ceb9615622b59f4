/* plugins/cpu/cpu_gemm_avx512.c - the own GEMM's AVX-512F micro-kernels (cpu_gemm_kernels.h):
 * a 12 x 32 tile is 12 rows of W broadcast against two 16-lane vectors of tokens, 24
 * accumulators out of the 32 zmm registers. Compiled for AVX-512F by function attribute only;
 * cpu_gemm_isa_avx512() hands the table out only where the CPU reports AVX-512F.
 */
#include <stddef.h>

#include "cpu_gemm_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define Z_HAVE 1
#include <immintrin.h>
#define Z_TARGET __attribute__((target("avx512f,avx2,fma")))
#else
#define Z_HAVE 0
#endif

#if Z_HAVE

#define Z_ROWS_AT(r) wp[(r) * CPU_GEMM_LDWP]
#define Z_ROWS_STEP 1
#define Z_INTER_AT(r) wp[(r)]
#define Z_INTER_STEP CPU_GEMM_MR

#define Z_FMA2(r)                                                                          \
    do {                                                                                   \
        __m512 wr = _mm512_set1_ps(WAT(r));                                                \
        c##r##a = _mm512_fmadd_ps(wr, x0, c##r##a);                                        \
        c##r##b = _mm512_fmadd_ps(wr, x1, c##r##b);                                        \
    } while (0)
#define Z_FMA1(r) c##r##a = _mm512_fmadd_ps(_mm512_set1_ps(WAT(r)), x0, c##r##a)
#define Z_DECL(r) __m512 c##r##a = _mm512_setzero_ps(), c##r##b = _mm512_setzero_ps()
#define Z_ST2(r)                                                                           \
    _mm512_storeu_ps(ct + (r) * CPU_GEMM_NR, c##r##a);                                     \
    _mm512_storeu_ps(ct + (r) * CPU_GEMM_NR + 16, c##r##b)
#define Z_ST1(r) _mm512_storeu_ps(ct + (r) * CPU_GEMM_NR, c##r##a)

/* Defines name_32 and name_16 for a W layout. */
#define Z_MICRO(name, step)                                                                \
    Z_TARGET static void name##_32(const float *wp, const float *xp, size_t kc, float *ct,   \
                                   const float *pfa, const float *pfb)                     \
    {                                                                                      \
        CPU_GEMM_ALL12(Z_DECL);                                                            \
        for (size_t kk = 0; kk < kc; kk++) {                                               \
            if ((kk & 15) == 0) {                                                          \
                __builtin_prefetch(pfa + kk, 0, 2);                                        \
                __builtin_prefetch(pfb + kk, 0, 2);                                        \
            }                                                                              \
            __m512 x0 = _mm512_loadu_ps(xp), x1 = _mm512_loadu_ps(xp + 16);                \
            CPU_GEMM_ALL12(Z_FMA2);                                                        \
            xp += CPU_GEMM_NR;                                                             \
            wp += (step);                                                                  \
        }                                                                                  \
        CPU_GEMM_ALL12(Z_ST2);                                                             \
    }                                                                                      \
    Z_TARGET static void name##_16(const float *wp, const float *xp, size_t kc, float *ct,   \
                                   const float *pfa, const float *pfb)                     \
    {                                                                                      \
        CPU_GEMM_ALL12(Z_DECL);                                                            \
        for (size_t kk = 0; kk < kc; kk++) {                                               \
            if ((kk & 15) == 0) {                                                          \
                __builtin_prefetch(pfa + kk, 0, 2);                                        \
                __builtin_prefetch(pfb + kk, 0, 2);                                        \
            }                                                                              \
            __m512 x0 = _mm512_loadu_ps(xp);                                               \
            CPU_GEMM_ALL12(Z_FMA1);                                                        \
            xp += CPU_GEMM_NR;                                                             \
            wp += (step);                                                                  \
        }                                                                                  \
        CPU_GEMM_ALL12(Z_ST1);                                                             \
    }

/* The b accumulators of the one-vector kernel are declared but unused. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-variable"
#define WAT Z_ROWS_AT
Z_MICRO(z_rows, Z_ROWS_STEP)
#undef WAT
#define WAT Z_INTER_AT
Z_MICRO(z_inter, Z_INTER_STEP)
#undef WAT
#pragma GCC diagnostic pop

static const cpu_gemm_isa z_isa = {"avx512",   z_rows_32, z_rows_16, z_inter_32, z_inter_16,
                                   cpu_gemm_store_avx512, cpu_gemm_pack_x_avx512};

const cpu_gemm_isa *cpu_gemm_isa_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? &z_isa : NULL;
}

#else

const cpu_gemm_isa *cpu_gemm_isa_avx512(void)
{
    return NULL;
}

#endif
