/* plugins/ref/ref_check.c - overflow-checked size arithmetic and the argument checks every
 * reference op runs before touching memory. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ref_internal.h"

int ref_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

int ref_add(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return 0;
    *out = a + b;
    return 1;
}

size_t ref_extent(size_t batch, size_t stride, size_t rows, size_t ld, size_t cols)
{
    size_t one = 0, total = 0, skip = 0;
    if (batch == 0 || rows == 0 || cols == 0)
        return 0;
    if (!ref_mul(rows - 1, ld, &one) || !ref_add(one, cols, &one))
        return 0;
    if (!ref_mul(batch - 1, stride, &skip) || !ref_add(skip, one, &total))
        return 0;
    return total;
}

vitcl_status ref_check_span(vitcl_context *ctx, const char *op, const char *what,
                            const vitcl_buffer *buf, size_t off, size_t extent, int writable)
{
    if (buf == NULL)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "%s is a NULL buffer", what);
    if (buf->owner != ctx)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "%s (buffer '%s') belongs to another context", what, buf->label);
    if (writable && buf->read_only)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "%s (buffer '%s') is a read-only host wrap and cannot be written", what,
                        buf->label);
    size_t end = 0;
    if (extent == 0 || !ref_add(off, extent, &end))
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "%s (buffer '%s'): the size of the region overflows", what, buf->label);
    size_t have = buf->bytes / sizeof(float);
    if (end > have)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "%s (buffer '%s'): floats [%zu, %zu) lie beyond its end (%zu floats)",
                        what, buf->label, off, end, have);
    return VITCL_OK;
}

vitcl_status ref_check_sizes(vitcl_context *ctx, const char *op, const char *names,
                             const size_t *sizes, size_t count)
{
    const char *name = names;
    for (size_t i = 0; i < count; i++) {
        const char *comma = strchr(name, ',');
        int len = comma != NULL ? (int)(comma - name) : (int)strlen(name);
        if (sizes[i] == 0)
            return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "size %.*s is zero", len, name);
        if (comma != NULL)
            name = comma + 1;
    }
    return VITCL_OK;
}

float *ref_floats(const vitcl_buffer *buf, size_t off)
{
    return (float *)(void *)buf->data + off;
}

double ref_gelu(double x)
{
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}
