/* tests/cpu/test_cpu_gemm_store.c - the own GEMM's transposing moves (cpu_gemm_kernels.h: the
 * tile store, the epilogue that adds earlier depth blocks, the bias and GELU while writing Y,
 * and the packing of X panels). The avx512 table has vector versions of both, the avx2 table
 * the driver's scalar loops; both tables' kernels accumulate each output in fp32 in depth
 * order with one FMA per depth, and the moves promise the same per-element operations, so
 * the two paths must give the same bits, not merely close ones. The shapes reach every case
 * of the store: panels with more and fewer than 16 live tokens, feature blocks cut short
 * (n not a multiple of 12), one and several depth blocks (k 4100 > 4096, the largest block),
 * with and without bias and GELU. Closeness to the reference plugin is checked for the same
 * paths by test_cpu_numerics.c. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_harness.h"

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

Test(cpu_gemm_store, avx512_moves_match_scalar_bits, .timeout = 240)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx2") ||
        !__builtin_cpu_supports("fma"))
        cr_skip_test("this CPU lacks AVX-512F or AVX2+FMA: there is no pair of paths to compare");
    /* m: 45 = 32 + 13 live tokens, 21 (one panel, > 16 live), 7 (< 16 live), 197 (ViT);
     * n: 29 and 100 (short last feature block), 12 (exactly one); k: 4100 (two depth blocks
     * on a 1 MiB L2, more on smaller ones), 257, 5. */
    static const size_t shapes[][3] = {{45, 29, 4100}, {21, 12, 4100}, {7, 40, 257},
                                       {197, 100, 257}, {33, 13, 5}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int bias = 0; bias < 2; bias++)
            for (uint32_t f = 0; f < 2; f++)
                same_bits(shapes[s][0], shapes[s][1], shapes[s][2], bias,
                          f ? VITCL_LINEAR_GELU : 0);
}
