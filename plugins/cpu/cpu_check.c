/* plugins/cpu/cpu_check.c - argument validation shared by the cpu plugin's ops: overflow-checked
 * size arithmetic and "does this region lie inside that buffer" checks with messages that name
 * the op and the argument. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "cpu_internal.h"

vitcl_status cpu_check_span(vitcl_context *ctx, const char *op, const char *what,
                            const vitcl_buffer *buf, size_t off, size_t extent, int writable)
{
    size_t end, bytes;
    if (!buf)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "%s is NULL", what);
    if (buf->owner != ctx)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "%s (buffer '%s') belongs to another context", what, buf->label);
    if (extent == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "%s (buffer '%s'): region size overflows", what, buf->label);
    if (!plugin_size_add(off, extent, &end) || !plugin_size_mul(end, sizeof(float), &bytes) || bytes > buf->bytes)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "%s (buffer '%s', %zu bytes): floats [%zu, %zu + %zu) lie outside it",
                        what, buf->label, buf->bytes, off, off, extent);
    if (writable && buf->read_only)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "%s (buffer '%s') is a read-only host wrap", what, buf->label);
    return VITCL_OK;
}

vitcl_status cpu_check_disjoint(vitcl_context *ctx, const char *op, const char *what,
                                const vitcl_buffer *a, size_t a_off, size_t a_ext,
                                const vitcl_buffer *b, size_t b_off, size_t b_ext)
{
    /* Both spans were checked against their buffers, so these addresses are in range. */
    uintptr_t a0 = (uintptr_t)cpu_f(a, a_off), a1 = a0 + a_ext * sizeof(float);
    uintptr_t b0 = (uintptr_t)cpu_f(b, b_off), b1 = b0 + b_ext * sizeof(float);
    if (a0 < b1 && b0 < a1)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "%s overlap ('%s' and '%s')", what,
                        a->label, b->label);
    return VITCL_OK;
}

vitcl_status cpu_check_operands(vitcl_context *ctx, const char *op, const cpu_span *out,
                                const cpu_span *in, size_t n_in)
{
    vitcl_status st = VITCL_OK;
    for (size_t i = 0; i < n_in && st == VITCL_OK; i++)
        if (!(in[i].optional && !in[i].buf))
            st = cpu_check_span(ctx, op, in[i].what, in[i].buf, in[i].off, in[i].ext, 0);
    if (st == VITCL_OK)
        st = cpu_check_span(ctx, op, out->what, out->buf, out->off, out->ext, 1);
    for (size_t i = 0; i < n_in && st == VITCL_OK; i++) {
        if (in[i].optional && !in[i].buf)
            continue;
        char pair[64];
        snprintf(pair, sizeof pair, "%s and %s", out->what, in[i].what);
        st = cpu_check_disjoint(ctx, op, pair, out->buf, out->off, out->ext, in[i].buf,
                                in[i].off, in[i].ext);
    }
    return st;
}

vitcl_status cpu_check_blas_dims(vitcl_context *ctx, const char *op, size_t a, size_t b,
                                 size_t c, size_t d)
{
    if (a > INT_MAX || b > INT_MAX || c > INT_MAX || d > INT_MAX)
        return cpu_fail(ctx, VITCL_ERR_UNSUPPORTED, op,
                        "a dimension or leading dimension exceeds OpenBLAS's limit %d", INT_MAX);
    return VITCL_OK;
}

vitcl_status cpu_check_x_to_y(vitcl_context *ctx, const char *op, const vitcl_buffer *X,
                              size_t x_off, const vitcl_buffer *Y, size_t y_off, size_t extent)
{
    vitcl_status st = cpu_check_span(ctx, op, "X", X, x_off, extent, 0);
    if (st == VITCL_OK)
        st = cpu_check_span(ctx, op, "Y", Y, y_off, extent, 1);
    if (st == VITCL_OK && cpu_f(X, x_off) != cpu_f(Y, y_off))
        st = cpu_check_disjoint(ctx, op, "Y and X", Y, y_off, extent, X, x_off, extent);
    return st;
}
