/* tests/opencl/test_gemm_choice.c - every linear implementation the tuner can pick, forced one
 * at a time through VITCL_CL_GEMM (each Criterion test is its own process): packed linear at odd
 * shapes against a double reference (gemm_packed's three tile heights, gemm_tiled's two group
 * sizes and CLBlast), and patch_embed in CLBlast mode (its direct kernel).
 * A bad VITCL_CL_GEMM value is refused with a message naming it.
 * Tolerance as in test_ops.c: 1e-4 relative + 1e-4 * sqrt(k) absolute (fp32 accumulation).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static harness H;

static double gelu_d(double x)
{
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}

static void packed(size_t m, size_t n, size_t k, int gelu, unsigned seed)
{
    float *x = h_random(m * k, 1.0f, seed), *w = h_random(n * k, 1.0f, seed + 1);
    float *b = h_random(n, 1.0f, seed + 2), *y = malloc(m * n * sizeof *y);
    double *want = malloc(m * n * sizeof *want);
    cr_assert(y && want);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = b[j];
            for (size_t t = 0; t < k; t++)
                acc += (double)x[i * k + t] * w[j * k + t];
            want[i * n + j] = gelu ? gelu_d(acc) : acc;
        }
    vitcl_buffer *X = h_upload(&H, x, m * k), *W = h_upload(&H, w, n * k);
    vitcl_buffer *B = h_upload(&H, b, n), *Y = h_upload(&H, NULL, m * n), *P = NULL;
    const vitcl_op_table *ops = H.desc->ops;
    cr_assert_eq(ops->linear_pack_weight(H.ctx, W, 0, n, k, "w", &P), VITCL_OK, "%s",
                 H.desc->last_error(H.ctx));
    cr_assert_eq(ops->linear(H.ctx, X, 0, P, 0, B, 0, Y, 0, m, n, k,
                             VITCL_LINEAR_PACKED_W | (gelu ? VITCL_LINEAR_GELU : 0)),
                 VITCL_OK, "%s", H.desc->last_error(H.ctx));
    h_download(&H, Y, 0, y, m * n);
    h_expect_close("packed linear", y, want, m * n, 1e-4 * sqrt((double)k), 1e-4);
    h_free(&H, X), h_free(&H, W), h_free(&H, B), h_free(&H, Y), h_free(&H, P);
    free(x), free(w), free(b), free(y), free(want);
}

static void shapes(const char *choice)
{
    cr_assert_eq(setenv("VITCL_CL_GEMM", choice, 1), 0);
    harness_open(&H);
    packed(1, 1, 1, 1, 1);
    packed(13, 37, 19, 1, 2);
    packed(29, 96, 70, 0, 3);
    packed(197, 33, 64, 1, 4);
    harness_close(&H);
}

Test(opencl_gemm_choice, mb6, .timeout = 300)
{
    shapes("mb6");
}

Test(opencl_gemm_choice, mb8, .timeout = 300)
{
    shapes("mb8");
}

Test(opencl_gemm_choice, mb12, .timeout = 300)
{
    shapes("mb12");
}

/* The GPU-shaped work-group-tiled kernels (gemm_tiled.cl), 64 and 256 work-items per group. */
Test(opencl_gemm_choice, t64, .timeout = 600)
{
    shapes("t64");
}

Test(opencl_gemm_choice, t256, .timeout = 600)
{
    shapes("t256");
}

Test(opencl_gemm_choice, clblast, .timeout = 300)
{
    shapes("clblast");
}

/* patch_embed in CLBlast mode uses the direct kernel: 2 images, remainder rows and columns. */
Test(opencl_gemm_choice, patch_embed_direct_kernel_in_clblast_mode, .timeout = 300)
{
    enum { B = 2, C = 3, HH = 37, WW = 29, P = 8, DIM = 5, GH = HH / P, GW = WW / P };
    const size_t ntok = GH * GW, stride = (ntok + 1) * DIM;
    cr_assert_eq(setenv("VITCL_CL_GEMM", "clblast", 1), 0);
    harness_open(&H);
    float *px = h_random((size_t)B * C * HH * WW, 1.0f, 5), *w = h_random((size_t)DIM * C * P * P, 1.0f, 6);
    float *bias = h_random(DIM, 1.0f, 7), *y = malloc(B * stride * sizeof *y);
    double *want = malloc(B * stride * sizeof *want);
    cr_assert(y && want);
    /* The op needs a decided mode: packing one weight runs the (forced) choice. */
    vitcl_buffer *Wt = h_upload(&H, w, DIM), *Pk = NULL;
    cr_assert_eq(H.desc->ops->linear_pack_weight(H.ctx, Wt, 0, 1, DIM, "w", &Pk), VITCL_OK);
    for (size_t i = 0; i < B * stride; i++)
        y[i] = 123.0f, want[i] = 123.0;
    for (size_t b = 0; b < B; b++)
        for (size_t n = 0; n < ntok; n++)
            for (size_t d = 0; d < DIM; d++) {
                double acc = bias[d];
                for (size_t c = 0; c < C; c++)
                    for (size_t i = 0; i < P; i++)
                        for (size_t j = 0; j < P; j++)
                            acc += (double)w[((d * C + c) * P + i) * P + j] *
                                   px[((b * C + c) * HH + (n / GW) * P + i) * WW + (n % GW) * P + j];
                want[b * stride + n * DIM + d] = acc;
            }
    vitcl_buffer *PX = h_upload(&H, px, (size_t)B * C * HH * WW), *W = h_upload(&H, w, (size_t)DIM * C * P * P);
    vitcl_buffer *BB = h_upload(&H, bias, DIM), *Y = h_upload(&H, y, B * stride);
    cr_assert_eq(H.desc->ops->patch_embed(H.ctx, PX, 0, W, 0, BB, 0, Y, 0, stride, B, C, HH, WW,
                                          P, DIM),
                 VITCL_OK, "%s", H.desc->last_error(H.ctx));
    h_download(&H, Y, 0, y, B * stride);
    h_expect_close("patch_embed (clblast mode)", y, want, B * stride, 1e-4 * sqrt(C * P * P), 1e-4);
    h_free(&H, PX), h_free(&H, W), h_free(&H, BB), h_free(&H, Y), h_free(&H, Wt), h_free(&H, Pk);
    harness_close(&H);
    free(px), free(w), free(bias), free(y), free(want);
}

Test(opencl_gemm_choice, unknown_choice_is_refused, .timeout = 300)
{
    cr_assert_eq(setenv("VITCL_CL_GEMM", "fastest", 1), 0);
    harness_open(&H);
    float one = 1.0f;
    vitcl_buffer *W = h_upload(&H, &one, 1), *P = NULL;
    vitcl_status s = H.desc->ops->linear_pack_weight(H.ctx, W, 0, 1, 1, "w", &P);
    cr_expect_eq(s, VITCL_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(H.desc->last_error(H.ctx), "fastest") != NULL, "message: %s",
              H.desc->last_error(H.ctx));
    h_free(&H, W);
    harness_close(&H);
}

/* Device limits (docs/opencl.md, "Device and kernel limits"), simulated on this device with
 * VITCL_CL_LIMIT_GROUP / VITCL_CL_LIMIT_LOCAL: a variant that does not fit is never used, and
 * forcing it fails with a message naming the limit. */
static vitcl_status create_raw(char *err, size_t errlen)
{
    harness_load(&H);
    vitcl_status s = H.desc->context_create(H.state, harness_device(), &H.ctx, err, errlen);
    if (s != VITCL_OK)
        H.ctx = NULL;
    return s;
}

Test(opencl_gemm_choice, group_limit_128_rules_out_t256_only, .timeout = 600)
{
    cr_assert_eq(setenv("VITCL_CL_LIMIT_GROUP", "128", 1), 0);
    cr_assert_eq(setenv("VITCL_CL_GEMM", "t256", 1), 0);
    harness_open(&H);
    float w[4] = {1, 2, 3, 4};
    vitcl_buffer *W = h_upload(&H, w, 4), *P = NULL;
    cr_assert_eq(H.desc->ops->linear_pack_weight(H.ctx, W, 0, 2, 2, "w", &P),
                 VITCL_ERR_UNSUPPORTED);
    const char *msg = H.desc->last_error(H.ctx);
    cr_expect(strstr(msg, "gemm_t256 needs 256 work-items per group; CL_KERNEL_WORK_GROUP_SIZE "
                          "is 128 (lowered by VITCL_CL_LIMIT_GROUP)") != NULL,
              "%s", msg);
    h_free(&H, W);
    harness_close(&H);
    shapes("t64"); /* 64 items still fit */
}

Test(opencl_gemm_choice, group_limit_32_keeps_the_row_kernels, .timeout = 600)
{
    cr_assert_eq(setenv("VITCL_CL_LIMIT_GROUP", "32", 1), 0);
    cr_assert_eq(setenv("VITCL_CL_ATTENTION", "tiled", 1), 0);
    char err[4096] = "";
    cr_assert_eq(create_raw(err, sizeof err), VITCL_ERR_UNSUPPORTED, "%s", err);
    cr_expect(strstr(err, "VITCL_CL_ATTENTION=tiled: attention_t64 needs 64 work-items per "
                          "group; CL_KERNEL_WORK_GROUP_SIZE is 32") != NULL,
              "%s", err);
    harness_close(&H);
    /* Unforced, the device is used with the kernels that fit; the tuning skips t64 and t256. */
    cr_assert_eq(unsetenv("VITCL_CL_ATTENTION"), 0);
    cr_assert_eq(unsetenv("VITCL_CL_GEMM"), 0);
    harness_open(&H);
    packed(29, 96, 70, 1, 11);
    harness_close(&H);
}

Test(opencl_gemm_choice, local_memory_limit_rules_out_tiled_attention, .timeout = 600)
{
    cr_assert_eq(setenv("VITCL_CL_LIMIT_LOCAL", "16384", 1), 0);
    cr_assert_eq(setenv("VITCL_CL_ATTENTION", "tiled", 1), 0);
    char err[4096] = "";
    cr_assert_eq(create_raw(err, sizeof err), VITCL_ERR_UNSUPPORTED, "%s", err);
    cr_expect(strstr(err, "attention_t64 needs ") != NULL &&
                  strstr(err, "bytes of local memory; CL_DEVICE_LOCAL_MEM_SIZE is 16384 (lowered "
                              "by VITCL_CL_LIMIT_LOCAL)") != NULL,
              "%s", err);
    harness_close(&H);
}
