/* plugins/common/plugin_timing.h - writing one op timing into the host's array (ABI 1.1 rule).
 *
 * backend.h, profile_drain: a host of minor >= 1 sets struct_size in every element of the
 * array it passes, and the plugin steps through it by that size, writing only the fields both
 * sides have. The in-tree plugins call plugin_timing_put for every record they move, so they
 * keep working with a host built with a larger vitcl_op_timing. Header-only, like
 * plugin_size.h.
 */
#ifndef VITCL_PLUGIN_TIMING_H
#define VITCL_PLUGIN_TIMING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vitcl/device.h"

/* Element i of the host's array `out`: (op, start_ns, end_ns) written at out + i * stride,
 * stride = out[0].struct_size (this plugin's sizeof when the host's is smaller or unset). */
static inline void plugin_timing_put(vitcl_op_timing *out, size_t i, const char *op,
                                     uint64_t start_ns, uint64_t end_ns)
{
    size_t stride = out[0].struct_size;
    if (stride < sizeof(vitcl_op_timing))
        stride = sizeof(vitcl_op_timing);
    vitcl_op_timing *t = (vitcl_op_timing *)(void *)((char *)out + i * stride);
    t->op = op;
    t->start_ns = start_ns;
    t->end_ns = end_ns;
    t->struct_size = (uint32_t)stride;
}

#endif
