/* tests/ref/test_ref_errors.c - every op of the reference plugin refuses bad arguments (NULL
 * buffers, zero sizes, regions beyond the buffer, overflowing sizes, inconsistent shapes) with
 * an error whose message names the op, and leaves the context usable. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ref_harness.h"

TestSuite(ref_errors, .init = ref_setup, .fini = ref_teardown);

#define BIG SIZE_MAX / 2

/* 64 floats each; a few tests rely on that size. */
static vitcl_buffer *X, *W, *B, *Y;

static void make(void)
{
    X = buf_new(NULL, 64, "X");
    W = buf_new(NULL, 64, "W");
    B = buf_new(NULL, 64, "B");
    Y = buf_new(NULL, 64, "Y");
}

static void drop(void)
{
    buf_free(X), buf_free(W), buf_free(B), buf_free(Y);
}

Test(ref_errors, linear)
{
    make();
    const char *op = "linear";
    assert_error_names(H.ops->linear(H.ctx, NULL, 0, W, 0, B, 0, Y, 0, 2, 2, 2, 0), op);
    assert_error_names(H.ops->linear(H.ctx, X, 0, W, 0, B, 0, NULL, 0, 2, 2, 2, 0), op);
    assert_error_names(H.ops->linear(H.ctx, X, 0, W, 0, B, 0, Y, 0, 0, 2, 2, 0), op);
    assert_error_names(H.ops->linear(H.ctx, X, 0, W, 0, B, 0, Y, 0, 2, 2, 0, 0), op);
    assert_error_names(H.ops->linear(H.ctx, X, 60, W, 0, B, 0, Y, 0, 2, 2, 4, 0), op);
    assert_error_names(H.ops->linear(H.ctx, X, 0, W, 0, B, 63, Y, 0, 2, 2, 2, 0), op);
    assert_error_names(H.ops->linear(H.ctx, X, SIZE_MAX, W, 0, B, 0, Y, 0, 1, 1, 1, 0), op);
    assert_error_names(H.ops->linear(H.ctx, X, 0, W, 0, B, 0, Y, 0, BIG, BIG, 4, 0), op);
    assert_error_names(H.ops->linear(H.ctx, X, 0, W, 0, B, 0, Y, 0, 2, 2, 2, 1u << 9), op);
    /* VITCL_LINEAR_PACKED_W needs a packed buffer of that shape, and a packed one needs it. */
    assert_error_names(H.ops->linear(H.ctx, X, 0, W, 0, B, 0, Y, 0, 2, 2, 2,
                                     VITCL_LINEAR_PACKED_W), op);
    vitcl_buffer *P = NULL;
    cr_assert_eq(H.ops->linear_pack_weight(H.ctx, W, 0, 4, 2, "P", &P), VITCL_OK);
    assert_error_names(H.ops->linear(H.ctx, X, 0, P, 0, B, 0, Y, 0, 2, 4, 2, 0), op);
    assert_error_names(H.ops->linear(H.ctx, X, 0, P, 0, B, 0, Y, 0, 2, 2, 4,
                                     VITCL_LINEAR_PACKED_W), op);
    cr_assert_eq(H.ops->linear(H.ctx, X, 0, P, 0, B, 0, Y, 0, 2, 4, 2, VITCL_LINEAR_PACKED_W),
                 VITCL_OK, "the context stays usable: %s", H.desc->last_error(H.ctx));
    cr_assert_neq(H.ops->linear(NULL, X, 0, W, 0, B, 0, Y, 0, 2, 2, 2, 0), VITCL_OK);
    buf_free(P);
    drop();
}

Test(ref_errors, linear_pack_weight)
{
    make();
    const char *op = "linear_pack_weight";
    vitcl_buffer *P = NULL;
    assert_error_names(H.ops->linear_pack_weight(H.ctx, NULL, 0, 2, 2, "p", &P), op);
    assert_error_names(H.ops->linear_pack_weight(H.ctx, W, 0, 0, 2, "p", &P), op);
    assert_error_names(H.ops->linear_pack_weight(H.ctx, W, 0, 9, 8, "p", &P), op);
    assert_error_names(H.ops->linear_pack_weight(H.ctx, W, 0, BIG, BIG, "p", &P), op);
    assert_error_names(H.ops->linear_pack_weight(H.ctx, W, 0, 2, 2, "p", NULL), op);
    cr_assert_null(P);
    drop();
}

Test(ref_errors, gemm_batched)
{
    make();
    const char *op = "gemm_batched";
    assert_error_names(H.ops->gemm_batched(H.ctx, 0, 0, 2, 2, 2, 1, NULL, 0, 2, 4, B, 0, 2, 4, 0,
                                           Y, 0, 2, 4, 1), op);
    assert_error_names(H.ops->gemm_batched(H.ctx, 0, 0, 2, 2, 0, 1, X, 0, 2, 4, B, 0, 2, 4, 0, Y,
                                           0, 2, 4, 1), op);
    assert_error_names(H.ops->gemm_batched(H.ctx, 0, 0, 2, 2, 2, 1, X, 0, 2, 4, B, 0, 2, 4, 0, Y,
                                           0, 2, 4, 0), op);
    /* lda smaller than a stored row (A is [2,3], lda 2), and the transposed case (stored [3,2]). */
    assert_error_names(H.ops->gemm_batched(H.ctx, 0, 0, 2, 2, 3, 1, X, 0, 2, 8, B, 0, 2, 8, 0, Y,
                                           0, 2, 8, 1), op);
    assert_error_names(H.ops->gemm_batched(H.ctx, 1, 0, 3, 2, 2, 1, X, 0, 2, 8, B, 0, 2, 8, 0, Y,
                                           0, 2, 8, 1), op);
    /* Strided batches that run past the end, and strides that overflow. */
    assert_error_names(H.ops->gemm_batched(H.ctx, 0, 0, 2, 2, 2, 1, X, 0, 2, 40, B, 0, 2, 4, 0,
                                           Y, 0, 2, 4, 3), op);
    assert_error_names(H.ops->gemm_batched(H.ctx, 0, 0, 2, 2, 2, 1, X, 0, 2, 4, B, 0, 2, 4, 0, Y,
                                           0, 2, BIG, 3), op);
    assert_error_names(H.ops->gemm_batched(H.ctx, 0, 1, 2, 2, 2, 1, X, 0, 2, 4, B, 0, BIG, 4, 0,
                                           Y, 0, 2, 4, 1), op);
    drop();
}

Test(ref_errors, layernorm_softmax_gelu_add)
{
    make();
    assert_error_names(H.ops->layernorm(H.ctx, X, 0, NULL, 0, B, 0, Y, 0, 2, 4, 1e-5f), "layernorm");
    assert_error_names(H.ops->layernorm(H.ctx, X, 0, W, 0, B, 0, Y, 0, 0, 4, 1e-5f), "layernorm");
    assert_error_names(H.ops->layernorm(H.ctx, X, 0, W, 0, B, 0, Y, 0, 2, 40, 1e-5f), "layernorm");
    assert_error_names(H.ops->layernorm(H.ctx, X, 0, W, 0, B, 0, Y, 0, 2, 4, -1.0f), "layernorm");
    assert_error_names(H.ops->layernorm(H.ctx, X, 0, W, 0, B, 0, X, 1, 2, 4, 1e-5f), "layernorm");
    assert_error_names(H.ops->layernorm(H.ctx, X, 0, W, 0, B, 0, Y, 0, BIG, BIG, 0), "layernorm");

    assert_error_names(H.ops->softmax(H.ctx, NULL, 0, Y, 0, 2, 4, 1.0f), "softmax");
    assert_error_names(H.ops->softmax(H.ctx, X, 0, Y, 0, 2, 0, 1.0f), "softmax");
    assert_error_names(H.ops->softmax(H.ctx, X, 0, Y, 61, 1, 4, 1.0f), "softmax");
    assert_error_names(H.ops->softmax(H.ctx, X, 0, Y, 0, 1, SIZE_MAX, 1.0f), "softmax");
    assert_error_names(H.ops->softmax(H.ctx, X, 0, Y, 0, 1, 4, 1.0f / 0.0f), "softmax");

    assert_error_names(H.ops->gelu(H.ctx, X, 0, NULL, 0, 4), "gelu");
    assert_error_names(H.ops->gelu(H.ctx, X, 0, Y, 0, 0), "gelu");
    assert_error_names(H.ops->gelu(H.ctx, X, 0, Y, SIZE_MAX, 4), "gelu");
    assert_error_names(H.ops->gelu(H.ctx, X, 0, X, 2, 8), "gelu");

    assert_error_names(H.ops->add(H.ctx, X, 0, NULL, 0, Y, 0, 4, 4), "add");
    assert_error_names(H.ops->add(H.ctx, X, 0, B, 0, Y, 0, 0, 1), "add");
    assert_error_names(H.ops->add(H.ctx, X, 0, B, 0, Y, 0, 4, 0), "add");
    assert_error_names(H.ops->add(H.ctx, X, 0, B, 0, Y, 0, 6, 4), "add");
    assert_error_names(H.ops->add(H.ctx, X, 0, B, 0, Y, 0, 65, 5), "add");
    assert_error_names(H.ops->add(H.ctx, X, 0, Y, 0, Y, 0, 8, 4), "add");
    drop();
}

Test(ref_errors, attention)
{
    make();
    const char *op = "attention";
    /* batch 1, seq 2, heads 2, head_dim 2: rows of 4 floats. */
    assert_error_names(H.ops->attention(H.ctx, NULL, 0, 4, X, 0, 4, X, 0, 4, Y, 0, 4, 1, 2, 2, 2,
                                        0.5f), op);
    assert_error_names(H.ops->attention(H.ctx, X, 0, 4, X, 0, 4, X, 0, 4, NULL, 0, 4, 1, 2, 2, 2,
                                        0.5f), op);
    assert_error_names(H.ops->attention(H.ctx, X, 0, 4, X, 0, 4, X, 0, 4, Y, 0, 4, 1, 0, 2, 2,
                                        0.5f), op);
    assert_error_names(H.ops->attention(H.ctx, X, 0, 3, X, 0, 4, X, 0, 4, Y, 0, 4, 1, 2, 2, 2,
                                        0.5f), op); /* ldq < heads·head_dim */
    assert_error_names(H.ops->attention(H.ctx, X, 0, 12, X, 4, 12, X, 8, 12, Y, 0, 4, 1, 6, 2,
                                        2, 0.5f), op); /* fused QKV beyond X's 64 floats */
    assert_error_names(H.ops->attention(H.ctx, X, 0, 4, X, 0, 4, X, 0, 4, Y, 0, 4, BIG, BIG, 2, 2,
                                        0.5f), op);
    assert_error_names(H.ops->attention(H.ctx, X, 0, 4, X, 0, 4, X, 0, 4, Y, 0, 4, 1, 2, 2, 2,
                                        0.0f / 0.0f), op);
    drop();
}

Test(ref_errors, patch_embed)
{
    make();
    const char *op = "patch_embed";
    /* 1 image, 1 channel, 4x4, patch 2, dim 2: 4 tokens, 8 outputs. */
    assert_error_names(H.ops->patch_embed(H.ctx, NULL, 0, W, 0, B, 0, Y, 0, 8, 1, 1, 4, 4, 2, 2),
                       op);
    assert_error_names(H.ops->patch_embed(H.ctx, X, 0, W, 0, NULL, 0, Y, 0, 8, 1, 1, 4, 4, 2, 2),
                       op);
    assert_error_names(H.ops->patch_embed(H.ctx, X, 0, W, 0, B, 0, Y, 0, 8, 1, 1, 4, 4, 0, 2),
                       op);
    assert_error_names(H.ops->patch_embed(H.ctx, X, 0, W, 0, B, 0, Y, 0, 8, 1, 1, 4, 4, 5, 2),
                       op); /* patch larger than the image */
    assert_error_names(H.ops->patch_embed(H.ctx, X, 0, W, 0, B, 0, Y, 0, 7, 1, 1, 4, 4, 2, 2),
                       op); /* y_batch_stride < tokens·dim */
    assert_error_names(H.ops->patch_embed(H.ctx, X, 0, W, 0, B, 0, Y, 0, 8, 5, 1, 4, 4, 2, 2),
                       op); /* 5 images do not fit in 64 floats */
    assert_error_names(H.ops->patch_embed(H.ctx, X, 0, W, 0, B, 0, Y, 0, 8, 1, BIG, BIG, 4, 2, 2),
                       op);
    cr_assert_eq(H.ops->patch_embed(H.ctx, X, 0, W, 0, B, 0, Y, 0, 8, 1, 1, 4, 4, 2, 2), VITCL_OK,
                 "valid call after errors: %s", H.desc->last_error(H.ctx));
    drop();
}
