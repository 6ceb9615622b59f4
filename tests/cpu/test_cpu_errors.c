/* tests/cpu/test_cpu_errors.c - the cpu plugin refuses bad arguments with a status and a
 * message naming the op (and the buffer), never crashing or writing out of bounds: NULL
 * buffers, zero sizes, regions past the end, overflowing sizes, overlapping outputs, packed
 * weights used for the wrong shape, buffers of another context. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_harness.h"

TestSuite(cpu_errors, .init = harness_setup, .fini = harness_teardown, .timeout = 60);

#define BAD(call, op)                                                                  \
    do {                                                                               \
        cr_assert_eq((call), VITCL_ERR_INVALID_ARGUMENT, "%s accepted", #call);        \
        assert_error_mentions(op);                                                     \
    } while (0)

Test(cpu_errors, linear)
{
    const vitcl_op_table *o = CPU.ops;
    vitcl_buffer *x = cbuf_new(NULL, 64, "x"), *w = cbuf_new(NULL, 64, "w.weight");
    vitcl_buffer *y = cbuf_new(NULL, 64, "y");
    BAD(o->linear(CPU.ctx, NULL, 0, w, 0, NULL, 0, y, 0, 4, 4, 4, 0), "linear");
    BAD(o->linear(CPU.ctx, x, 0, w, 0, NULL, 0, NULL, 0, 4, 4, 4, 0), "linear");
    BAD(o->linear(CPU.ctx, x, 0, w, 0, NULL, 0, y, 0, 0, 4, 4, 0), "zero");
    BAD(o->linear(CPU.ctx, x, 0, w, 49, NULL, 0, y, 0, 4, 4, 4, 0), "w.weight");
    BAD(o->linear(CPU.ctx, x, 0, w, 0, NULL, 0, y, 0, 4, 4, 17, 0), "linear");
    BAD(o->linear(CPU.ctx, x, SIZE_MAX - 3, w, 0, NULL, 0, y, 0, 4, 4, 4, 0), "linear");
    BAD(o->linear(CPU.ctx, x, 0, w, 0, x, 62, y, 0, 4, 4, 4, 0), "b (buffer");
    /* An unknown flag is refused as unsupported (backend.h: never ignored). */
    cr_assert_eq(o->linear(CPU.ctx, x, 0, w, 0, NULL, 0, y, 0, 4, 4, 4, 0x80),
                 VITCL_ERR_UNSUPPORTED);
    assert_error_mentions("flags");
    BAD(o->linear(CPU.ctx, x, 0, w, 0, NULL, 0, x, 8, 4, 4, 4, 0), "overlap");
    /* Overflowing m·k. */
    BAD(o->linear(CPU.ctx, x, 0, w, 0, NULL, 0, y, 0, SIZE_MAX / 2, 1, 4, 0), "linear");
    /* Only pack_weight_host makes packed weights (test_cpu_precision.c checks those). */
    BAD(o->linear(CPU.ctx, x, 0, w, 0, NULL, 0, y, 0, 4, 4, 4, VITCL_LINEAR_PACKED_W),
        "pack_weight_host");
    CPU.desc->buffer_free(CPU.ctx, x);
    CPU.desc->buffer_free(CPU.ctx, w);
    CPU.desc->buffer_free(CPU.ctx, y);
}

Test(cpu_errors, gemm_batched)
{
    const vitcl_op_table *o = CPU.ops;
    vitcl_buffer *a = cbuf_new(NULL, 64, "a"), *b = cbuf_new(NULL, 64, "b");
    vitcl_buffer *c = cbuf_new(NULL, 64, "c");
    BAD(o->gemm_batched(CPU.ctx, 0, 0, 4, 4, 4, 1, a, 0, 3, 0, b, 0, 4, 0, 0, c, 0, 4, 0, 1),
        "leading dimension");
    BAD(o->gemm_batched(CPU.ctx, 0, 0, 4, 4, 4, 1, a, 0, 4, 16, b, 0, 4, 16, 0, c, 0, 4, 16, 5),
        "gemm_batched");
    BAD(o->gemm_batched(CPU.ctx, 0, 0, 4, 4, 4, 1, a, 0, 4, SIZE_MAX / 2, b, 0, 4, 0, 0, c, 0, 4,
                        0, 3),
        "overflow");
    BAD(o->gemm_batched(CPU.ctx, 0, 0, 4, 4, 4, 1, a, 0, 4, 0, NULL, 0, 4, 0, 0, c, 0, 4, 0, 1),
        "B is NULL");
    BAD(o->gemm_batched(CPU.ctx, 0, 0, 4, 4, 4, 1, a, 0, 4, 0, b, 0, 4, 0, 0, a, 8, 4, 0, 1),
        "overlap");
    BAD(o->gemm_batched(CPU.ctx, 0, 0, 4, 4, 4, 1, a, 0, 4, 0, b, 0, 4, 0, 0, c, 0, 4, 0, 0),
        "zero");
    CPU.desc->buffer_free(CPU.ctx, a);
    CPU.desc->buffer_free(CPU.ctx, b);
    CPU.desc->buffer_free(CPU.ctx, c);
}

Test(cpu_errors, rowwise_ops)
{
    const vitcl_op_table *o = CPU.ops;
    vitcl_buffer *x = cbuf_new(NULL, 64, "x"), *g = cbuf_new(NULL, 8, "ln.weight");
    vitcl_buffer *y = cbuf_new(NULL, 64, "y");
    BAD(o->layernorm(CPU.ctx, x, 0, g, 0, g, 0, y, 0, 4, 16, 1e-6f), "ln.weight");
    BAD(o->layernorm(CPU.ctx, x, 0, NULL, 0, g, 0, y, 0, 8, 8, 1e-6f), "layernorm");
    BAD(o->layernorm(CPU.ctx, x, 0, g, 0, g, 0, y, 0, 8, 8, -1.0f), "eps");
    BAD(o->layernorm(CPU.ctx, x, 0, g, 0, g, 0, x, 1, 8, 7, 1e-6f), "overlap");
    BAD(o->gelu(CPU.ctx, x, 0, y, 1, 64), "gelu");
    BAD(o->gelu(CPU.ctx, x, 0, y, 0, 0), "zero");
    BAD(o->gelu(CPU.ctx, x, 0, x, 1, 8), "overlap");
    BAD(o->add(CPU.ctx, x, 0, y, 0, y, 0, 64, 7), "divide");
    BAD(o->add(CPU.ctx, x, 0, y, 0, y, 0, 64, 0), "add");
    BAD(o->add(CPU.ctx, x, 0, y, 60, y, 0, 64, 8), "add");
    BAD(o->softmax(CPU.ctx, x, 0, y, 0, SIZE_MAX / 4, 8, 1.0f), "softmax");
    BAD(o->softmax(CPU.ctx, x, 0, y, 0, 8, 8, 1.0f / 0.0f), "scale");
    BAD(o->softmax(CPU.ctx, x, 0, NULL, 0, 8, 8, 1.0f), "softmax");
    CPU.desc->buffer_free(CPU.ctx, x);
    CPU.desc->buffer_free(CPU.ctx, g);
    CPU.desc->buffer_free(CPU.ctx, y);
}

Test(cpu_errors, attention_and_patch_embed)
{
    const vitcl_op_table *o = CPU.ops;
    vitcl_buffer *q = cbuf_new(NULL, 96, "qkv"), *out = cbuf_new(NULL, 32, "ctx");
    /* seq 4, heads 2, head_dim 4: ld must be >= 8. */
    BAD(o->attention(CPU.ctx, q, 0, 7, q, 8, 24, q, 16, 24, out, 0, 8, 1, 4, 2, 4, 0.5f),
        "leading dimension");
    BAD(o->attention(CPU.ctx, q, 0, 24, q, 8, 24, q, 16, 24, out, 1, 8, 1, 4, 2, 4, 0.5f), "O");
    BAD(o->attention(CPU.ctx, q, 0, 24, q, 8, 24, q, 16, 24, q, 0, 8, 1, 4, 2, 4, 0.5f),
        "overlap");
    BAD(o->attention(CPU.ctx, q, 0, 24, q, 8, 24, q, 16, 24, out, 0, 8, 1, SIZE_MAX / 2, 2, 4,
                     0.5f),
        "attention");
    BAD(o->attention(CPU.ctx, q, 0, 24, NULL, 8, 24, q, 16, 24, out, 0, 8, 1, 4, 2, 4, 0.5f),
        "K is NULL");
    BAD(o->attention(CPU.ctx, q, 0, 24, q, 8, 24, q, 16, 24, out, 0, 8, 0, 4, 2, 4, 0.5f),
        "zero");
    vitcl_buffer *px = cbuf_new(NULL, 3 * 8 * 8, "pixels"), *w = cbuf_new(NULL, 2 * 3 * 16, "w");
    vitcl_buffer *bias = cbuf_new(NULL, 2, "b"), *y = cbuf_new(NULL, 8, "y");
    BAD(o->patch_embed(CPU.ctx, px, 0, w, 0, bias, 0, y, 0, 8, 1, 3, 8, 8, 9, 2), "smaller");
    BAD(o->patch_embed(CPU.ctx, px, 0, w, 0, bias, 0, y, 0, 7, 1, 3, 8, 8, 4, 2),
        "y_batch_stride");
    BAD(o->patch_embed(CPU.ctx, px, 0, w, 0, bias, 0, y, 0, 8, 2, 3, 8, 8, 4, 2), "pixels");
    BAD(o->patch_embed(CPU.ctx, px, 0, w, 0, bias, 0, y, 0, 8, 1, 3, 8, 8, 4, 3), "patch_embed");
    BAD(o->patch_embed(CPU.ctx, px, 0, w, 0, NULL, 0, y, 0, 8, 1, 3, 8, 8, 4, 2), "bias");
    BAD(o->patch_embed(CPU.ctx, px, 0, w, 0, bias, 0, y, 0, SIZE_MAX, 2, 3, 8, 8, 4, 2),
        "patch_embed");
    CPU.desc->buffer_free(CPU.ctx, q);
    CPU.desc->buffer_free(CPU.ctx, out);
    CPU.desc->buffer_free(CPU.ctx, px);
    CPU.desc->buffer_free(CPU.ctx, w);
    CPU.desc->buffer_free(CPU.ctx, bias);
    CPU.desc->buffer_free(CPU.ctx, y);
}

Test(cpu_errors, foreign_buffer_and_null_context)
{
    char err[256];
    vitcl_context *other = NULL;
    cr_assert_eq(CPU.desc->context_create(CPU.state, 0, &other, err, sizeof err), VITCL_OK);
    vitcl_buffer *mine = cbuf_new(NULL, 16, "mine"), *theirs = NULL;
    cr_assert_eq(CPU.desc->buffer_alloc(other, 64, "theirs", &theirs), VITCL_OK);
    BAD(CPU.ops->gelu(CPU.ctx, theirs, 0, mine, 0, 16), "another context");
    CPU.desc->buffer_free(other, theirs);
    CPU.desc->context_destroy(other);
    cr_assert_eq(CPU.ops->gelu(NULL, mine, 0, mine, 0, 16), VITCL_ERR_INVALID_ARGUMENT);
    cr_assert_str_neq(CPU.desc->last_error(NULL), "");
    CPU.desc->buffer_free(CPU.ctx, mine);
}
