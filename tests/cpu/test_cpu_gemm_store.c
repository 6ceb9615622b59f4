/* tests/cpu/test_cpu_gemm_store.c - the own GEMM's transposing moves (cpu_gemm_kernels.h: the
 * tile store, the epilogue that adds earlier depth blocks, the bias and GELU while writing Y,
 * and the packing of X panels), bit for bit, on each instruction set's table:
 * - exact sums: X and W on grids fine enough to be interesting and coarse enough that every
 *   partial sum is exact in fp32, in any order and any depth blocking; then Y must be exactly
 *   fl(fl(sum) + bias) and GELU of that as cpu_vmath.h computes it (the same operations per
 *   lane at every width), which pins the order of the epilogue: the depth blocks' sum first,
 *   then the bias, then GELU;
 * - random data: both tables' kernels accumulate each output in fp32 in depth order with one
 *   FMA per depth, and their moves promise the same per-element operations, so avx512 and
 *   avx2 must give the same bits, not merely close ones.
 * The shapes reach every case of the store: panels with more and fewer than 16 live tokens,
 * feature blocks cut short (n not a multiple of 12), one and several depth blocks (k 4100 >
 * 4096, the largest block), with and without bias and GELU. Closeness to the reference plugin
 * is checked for the same paths by test_cpu_numerics.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_harness.h"
#include "cpu_vmath.h"

/* m: 45 = 32 + 13 live tokens, 21 (one panel, > 16 live), 7 (< 16 live), 197 (ViT);
 * n: 29, 46, 100, 13 (last feature blocks of 5, 10, 4, 1 rows), 12 (exactly one);
 * k: 4100 (two depth blocks on a 1 MiB L2, more on smaller ones), 257, 5. */
static const size_t SHAPES[][3] = {{45, 29, 4100}, {21, 12, 4100}, {7, 46, 257},
                                   {197, 100, 257}, {33, 13, 5}};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* Y of linear on the cpu plugin with VITCL_CPU_GEMM = gemm (malloc'ed, m·n floats). */
static float *linear_with(const char *gemm, const float *x, const float *w, const float *b,
                          size_t m, size_t n, size_t k, uint32_t flags)
{
    setenv("VITCL_CPU_GEMM", gemm, 1);
    harness_setup();
    vitcl_buffer *X = cbuf_new(x, m * k, "X"), *W = cbuf_new(w, n * k, "W");
    vitcl_buffer *B = b ? cbuf_new(b, n, "b") : NULL, *Y = cbuf_new(NULL, m * n, "Y");
    cr_assert_eq(CPU.ops->linear(CPU.ctx, X, 0, W, 0, B, 0, Y, 0, m, n, k, flags), VITCL_OK,
                 "VITCL_CPU_GEMM=%s: %s", gemm, CPU.desc->last_error(CPU.ctx));
    float *y = buf_get(&CPU, Y, m * n);
    CPU.desc->buffer_free(CPU.ctx, X);
    CPU.desc->buffer_free(CPU.ctx, W);
    if (B)
        CPU.desc->buffer_free(CPU.ctx, B);
    CPU.desc->buffer_free(CPU.ctx, Y);
    harness_teardown();
    unsetenv("VITCL_CPU_GEMM");
    return y;
}

static void same_bits(size_t m, size_t n, size_t k, int bias, uint32_t flags)
{
    rng_seed(1000 + m * 31 + n * 7 + k);
    /* Pre-activations of either sign and some size, so that GELU's both branches run. */
    float *x = rand_array(m * k, -1, 1), *w = rand_array(n * k, -1, 1);
    float *b = rand_array(n, -3, 3);
    float *vec = linear_with("avx512", x, w, bias ? b : NULL, m, n, k, flags);
    float *sca = linear_with("avx2", x, w, bias ? b : NULL, m, n, k, flags);
    for (size_t i = 0; i < m * n; i++)
        cr_assert(memcmp(&vec[i], &sca[i], sizeof(float)) == 0,
                  "linear m%zu n%zu k%zu bias%d flags%u: token %zu feature %zu: avx512 %.9g, "
                  "avx2 %.9g",
                  m, n, k, bias, (unsigned)flags, i / n, i % n, (double)vec[i], (double)sca[i]);
    free(vec);
    free(sca);
    free(x);
    free(w);
    free(b);
}

static int have(const char *gemm)
{
    __builtin_cpu_init();
    if (strcmp(gemm, "avx512") == 0)
        return __builtin_cpu_supports("avx512f");
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* Uniform on the grid of multiples of 2^-bits in [-lim, lim]. */
static float *grid_array(size_t count, int lim_steps, int bits)
{
    float *a = malloc(count * sizeof(float));
    cr_assert(a);
    for (size_t i = 0; i < count; i++) {
        int q = (int)floorf(rng_uniform((float)-lim_steps, (float)lim_steps + 1.0f));
        q = q > lim_steps ? lim_steps : q;
        a[i] = ldexpf((float)q, -bits);
    }
    return a;
}

static void exact_bits(const char *gemm, size_t m, size_t n, size_t k, int bias, uint32_t flags)
{
    rng_seed(2000 + m * 31 + n * 7 + k);
    /* X in multiples of 2^-6 within ±1/4, W of 2^-3 within ±1: products are multiples of
     * 2^-9 and every partial sum stays below k/4 <= 1025 < 2^(24-9), so it is exact. */
    float *x = grid_array(m * k, 16, 6), *w = grid_array(n * k, 8, 3);
    float *b = rand_array(n, -3, 3);
    float *got = linear_with(gemm, x, w, bias ? b : NULL, m, n, k, flags);
    int gelu = (flags & VITCL_LINEAR_GELU) != 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double sum = 0;
            for (size_t l = 0; l < k; l++)
                sum += (double)x[i * k + l] * w[j * k + l];
            float v = (float)sum; /* exact */
            if (bias || gelu)
                v = v + (bias ? b[j] : 0.0f);
            if (gelu)
                v = cpu_v8_gelu(cpu_v8_set1(v))[0];
            float g = got[i * n + j];
            cr_assert(memcmp(&g, &v, sizeof v) == 0,
                      "VITCL_CPU_GEMM=%s linear m%zu n%zu k%zu bias%d flags%u: token %zu "
                      "feature %zu: got %.9g, want %.9g",
                      gemm, m, n, k, bias, (unsigned)flags, i, j, (double)g, (double)v);
        }
    free(got);
    free(x);
    free(w);
    free(b);
}

static void exact_all(const char *gemm)
{
    if (!have(gemm))
        cr_skip_test("this CPU cannot run VITCL_CPU_GEMM=%s", gemm);
    for (size_t s = 0; s < N_SHAPES; s++)
        for (int bias = 0; bias < 2; bias++)
            for (uint32_t f = 0; f < 2; f++)
                exact_bits(gemm, SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], bias,
                           f ? VITCL_LINEAR_GELU : 0);
}

Test(cpu_gemm_store, avx512_exact_sums_then_bias_then_gelu, .timeout = 240)
{
    exact_all("avx512");
}

Test(cpu_gemm_store, avx2_exact_sums_then_bias_then_gelu, .timeout = 240)
{
    exact_all("avx2");
}

Test(cpu_gemm_store, avx512_and_avx2_same_bits, .timeout = 240)
{
    if (!have("avx512") || !have("avx2"))
        cr_skip_test("this CPU lacks AVX-512F or AVX2+FMA: there is no pair of paths to compare");
    for (size_t s = 0; s < N_SHAPES; s++)
        for (int bias = 0; bias < 2; bias++)
            for (uint32_t f = 0; f < 2; f++)
                same_bits(SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], bias,
                          f ? VITCL_LINEAR_GELU : 0);
}
