/* plugins/cpu/cpu_vmath.h - 8-lane float vectors (GCC vector extensions) and the vectorised
 * exp and GELU the cpu plugin's threaded kernels use.
 *
 * Kernels marked CPU_KERNEL are compiled several times (x86-64-v4, x86-64-v3 and the baseline)
 * and the best version for the running CPU is picked at load time (GCC target_clones); the
 * vectors below map to one AVX register there and to two SSE registers on the baseline.
 * Everything here is header-only, pure and thread-safe.
 *
 * Accuracy (checked by tests/cpu against libm and the ref plugin):
 * - cpu_v8_exp: Cody-Waite range reduction x = n·ln2 + r, |r| <= ln2/2, then the Taylor series
 *   of e^r to degree 7 (truncation below 6e-9 relative): a few ulp for x in [-87, 88]; 0 below
 *   -87.3, +inf-free (clamped) above 88.
 * - cpu_v8_gelu: x·Phi(x) with Phi from erfc(z) = t·exp(-z² + P(t)), t = 1/(1 + z/2), the
 *   Chebyshev fit published in Numerical Recipes (fractional error below 1.2e-7 for all z >= 0),
 *   so the relative error of GELU stays near 1e-7 where |x| is moderate and its absolute error
 *   below 1e-6·|x| everywhere.
 */
#ifndef VITCL_CPU_VMATH_H
#define VITCL_CPU_VMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && \
    defined(__linux__)
#define CPU_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CPU_KERNEL
#endif

#define CPU_V 8 /* lanes */

/* Helpers are always inlined so that they take the instruction set of the calling kernel. */
#define CPU_VINLINE static inline __attribute__((always_inline))

typedef float cpu_v8 __attribute__((vector_size(32)));
typedef int32_t cpu_v8i __attribute__((vector_size(32)));

/* Unaligned load and store of 8 floats. */
CPU_VINLINE cpu_v8 cpu_v8_load(const float *p)
{
    cpu_v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

CPU_VINLINE void cpu_v8_store(float *p, cpu_v8 v)
{
    memcpy(p, &v, sizeof v);
}

/* All lanes = x. */
CPU_VINLINE cpu_v8 cpu_v8_set1(float x)
{
    return (cpu_v8){x, x, x, x, x, x, x, x};
}

CPU_VINLINE float cpu_v8_hmax(cpu_v8 v)
{
    float m = v[0];
    for (int i = 1; i < CPU_V; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

CPU_VINLINE float cpu_v8_hsum(cpu_v8 v)
{
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* 8 doubles, for sums that must stay exact in double (layernorm's row passes widen 8 floats
 * at a time: one zmm where the CPU_KERNEL clone is AVX-512's, two ymm under AVX2). */
typedef double cpu_d8 __attribute__((vector_size(64)));

/* All lanes = x. */
CPU_VINLINE cpu_d8 cpu_d8_set1(double x)
{
    return (cpu_d8){x, x, x, x, x, x, x, x};
}

CPU_VINLINE double cpu_d8_hsum(cpu_d8 v)
{
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* select (lanes of a where mask is all ones, else of b), max, e^x (see the accuracy note above)
 * and GELU (erf form: 0.5·x·(1 + erf(x/sqrt(2))) = x·Phi(x)) per lane, written once for every
 * width: PRE is the name prefix, V the float vector type, VI its int32 vector type, and
 * PRE##_set1 must exist. Each lane goes through the same IEEE operations in the same order at
 * every width (the plugin is built as ISO C, so nothing is contracted into FMA), so the 8- and
 * 16-lane versions give bit-identical lanes. */
#define CPU_VMATH_DEFINE(PRE, V, VI)                                                       \
    CPU_VINLINE V PRE##_select(VI mask, V a, V b)                                          \
    {                                                                                      \
        return (V)(((VI)a & mask) | ((VI)b & ~mask));                                      \
    }                                                                                      \
    CPU_VINLINE V PRE##_max(V a, V b)                                                      \
    {                                                                                      \
        return PRE##_select(a > b, a, b);                                                  \
    }                                                                                      \
    CPU_VINLINE V PRE##_exp(V x)                                                           \
    {                                                                                      \
        const V magic = PRE##_set1(12582912.0f); /* 1.5·2^23: adding it rounds to integer */ \
        V xc = PRE##_max(x, PRE##_set1(-87.0f));                                           \
        xc = PRE##_select(xc > PRE##_set1(88.0f), PRE##_set1(88.0f), xc);                  \
        V t = xc * PRE##_set1(1.44269504088896341f) + magic;                               \
        V n = t - magic;                                                                   \
        V r = xc - n * PRE##_set1(0.693145751953125f); /* ln2, high bits (exact product) */  \
        r = r - n * PRE##_set1(1.428606765330187e-06f); /* ln2, the rest */                \
        V p = PRE##_set1(1.0f / 5040.0f);                                                  \
        p = p * r + PRE##_set1(1.0f / 720.0f);                                             \
        p = p * r + PRE##_set1(1.0f / 120.0f);                                             \
        p = p * r + PRE##_set1(1.0f / 24.0f);                                              \
        p = p * r + PRE##_set1(1.0f / 6.0f);                                               \
        p = p * r + PRE##_set1(0.5f);                                                      \
        p = p * r + PRE##_set1(1.0f);                                                      \
        p = p * r + PRE##_set1(1.0f);                                                      \
        VI ni = (VI)t - (VI)magic; /* the integer n, from t's low mantissa bits */         \
        V scale = (V)((ni + 127) << 23);                                                   \
        V y = p * scale;                                                                   \
        y = PRE##_select(x < PRE##_set1(-87.3f), PRE##_set1(0.0f), y);                     \
        /* NaN in, NaN out (every comparison above is false for NaN, so add it back). */   \
        return PRE##_select(x != x, x, y);                                                 \
    }                                                                                      \
    CPU_VINLINE V PRE##_gelu(V x)                                                          \
    {                                                                                      \
        const VI sign = (VI)PRE##_set1(-0.0f);                                             \
        V z = (V)((VI)x & ~sign) * PRE##_set1(0.70710678118654752f);                       \
        V t = PRE##_set1(1.0f) / (PRE##_set1(1.0f) + PRE##_set1(0.5f) * z);                \
        V p = PRE##_set1(0.17087277f);                                                     \
        p = p * t + PRE##_set1(-0.82215223f);                                              \
        p = p * t + PRE##_set1(1.48851587f);                                               \
        p = p * t + PRE##_set1(-1.13520398f);                                              \
        p = p * t + PRE##_set1(0.27886807f);                                               \
        p = p * t + PRE##_set1(-0.18628806f);                                              \
        p = p * t + PRE##_set1(0.09678418f);                                               \
        p = p * t + PRE##_set1(0.37409196f);                                               \
        p = p * t + PRE##_set1(1.00002368f);                                               \
        p = p * t + PRE##_set1(-1.26551223f);                                              \
        V half_erfc = PRE##_set1(0.5f) * t * PRE##_exp(p - z * z); /* 0.5·erfc(|x|/sqrt2) */ \
        V phi = PRE##_select(x >= PRE##_set1(0.0f), PRE##_set1(1.0f) - half_erfc, half_erfc); \
        return x * phi;                                                                    \
    }

CPU_VMATH_DEFINE(cpu_v8, cpu_v8, cpu_v8i)

/* 16 lanes, for kernels compiled for AVX-512F (one zmm register); like cpu_v8 otherwise. */
typedef float cpu_v16 __attribute__((vector_size(64)));
typedef int32_t cpu_v16i __attribute__((vector_size(64)));

/* Unaligned load and store of 16 floats. */
CPU_VINLINE cpu_v16 cpu_v16_load(const float *p)
{
    cpu_v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

CPU_VINLINE void cpu_v16_store(float *p, cpu_v16 v)
{
    memcpy(p, &v, sizeof v);
}

CPU_VINLINE cpu_v16 cpu_v16_set1(float x)
{
    return (cpu_v16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
}

CPU_VMATH_DEFINE(cpu_v16, cpu_v16, cpu_v16i)

/* Second half of a softmax row whose maximum of scale·x is mx: y = exp(scale·x - mx), then
 * y /= sum(y). y may equal x. Always inlined, so it takes the instruction set of the
 * CPU_KERNEL that calls it. */
CPU_VINLINE void cpu_v8_softmax_tail(const float *x, float *y, size_t n, float scale, float mx)
{
    cpu_v8 vs = cpu_v8_set1(scale), vm = cpu_v8_set1(mx);
    cpu_v8 acc = cpu_v8_set1(0.0f);
    size_t i = 0;
    for (; i + CPU_V <= n; i += CPU_V) {
        cpu_v8 e = cpu_v8_exp(cpu_v8_load(x + i) * vs - vm);
        acc += e;
        cpu_v8_store(y + i, e);
    }
    float sum = cpu_v8_hsum(acc);
    if (i < n) {
        float tmp[CPU_V];
        for (size_t j = 0; j < CPU_V; j++)
            tmp[j] = i + j < n ? x[i + j] * scale - mx : -INFINITY;
        cpu_v8_store(tmp, cpu_v8_exp(cpu_v8_load(tmp)));
        for (size_t j = 0; i + j < n; j++) {
            y[i + j] = tmp[j];
            sum += tmp[j];
        }
    }
    cpu_v8 inv = cpu_v8_set1(1.0f / sum);
    for (i = 0; i + CPU_V <= n; i += CPU_V)
        cpu_v8_store(y + i, cpu_v8_load(y + i) * inv);
    for (; i < n; i++)
        y[i] *= inv[0];
}

#endif
