/* plugins/ref/ref_check.c - overflow-checked size arithmetic and the argument checks every
 * reference op runs before touching memory. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ref_internal.h"

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
    if (extent == 0 || !plugin_size_add(off, extent, &end))
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
