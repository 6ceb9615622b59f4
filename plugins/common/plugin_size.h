/* plugins/common/plugin_size.h - overflow-checked size arithmetic for the in-tree plugins.
 *
 * Every op validates that the regions it reads and writes lie inside their buffers before
 * touching memory; these helpers compute those sizes without wrapping. Header-only (static
 * inline) so each plugin stays a self-contained shared module that links nothing of ours.
 */
#ifndef VITCL_PLUGIN_SIZE_H
#define VITCL_PLUGIN_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* a*b into *out; returns 0 (and leaves *out alone) on overflow. */
static inline int plugin_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

/* a+b into *out; returns 0 (and leaves *out alone) on overflow. */
static inline int plugin_size_add(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return 0;
    *out = a + b;
    return 1;
}

/* Floats spanned by `rows` rows of `cols` floats with leading dimension ld ((rows-1)·ld + cols),
 * repeated `batch` times every `stride` floats: (batch-1)·stride + (rows-1)·ld + cols. 0 when a
 * count is zero or the computation overflows. */
static inline size_t plugin_size_extent(size_t batch, size_t stride, size_t rows, size_t ld,
                                        size_t cols)
{
    size_t one = 0, head = 0, all = 0;
    if (batch == 0 || rows == 0 || cols == 0)
        return 0;
    if (!plugin_size_mul(rows - 1, ld, &one) || !plugin_size_add(one, cols, &one))
        return 0;
    if (!plugin_size_mul(batch - 1, stride, &head) || !plugin_size_add(head, one, &all))
        return 0;
    return all;
}

#endif
