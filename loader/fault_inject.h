/* loader/fault_inject.h - fault injection at the plugin boundary, for hardening tests.
 *
 * When VITCL_FAULT_INJECT is set as vitcl_backend_open runs, the new backend's context is
 * wrapped in a shim that forwards every call to the plugin and counts them by kind; the Nth call
 * of a kind fails instead of reaching the plugin. The variable holds comma-separated KIND:N
 * items; N = 0 only counts. Kinds counted here, on the host side of every plugin:
 *   alloc    buffer_alloc, buffer_wrap_host, linear_pack_weight and pack_weight_host (fail: VITCL_ERR_OUT_OF_MEMORY)
 *   write    buffer_write (fail: VITCL_ERR_DEVICE)
 *   enqueue  every op of the op table, buffer_write, buffer_read and buffer_copy (VITCL_ERR_DEVICE)
 * Kinds meant for a plugin's own counters (build, cl_alloc, cl_enqueue: plugins/opencl) are
 * accepted and ignored here. An injected failure's message (the plugin's last_error) says
 * "injected fault KIND:N" and names the call and its buffer label or op and shape.
 * Without the variable nothing is wrapped and there is no cost. Not for production use.
 */
#ifndef VITCL_LOADER_FAULT_INJECT_H
#define VITCL_LOADER_FAULT_INJECT_H

#include <stdint.h>

#include "loader_internal.h"

typedef enum loader_fault_kind {
    LOADER_FAULT_ALLOC = 0,
    LOADER_FAULT_WRITE = 1,
    LOADER_FAULT_ENQUEUE = 2,
    LOADER_FAULT_KINDS_ = 3
} loader_fault_kind;

/* Counts of a wrapped backend since it was opened. */
typedef struct loader_fault_stats {
    uint64_t calls[LOADER_FAULT_KINDS_]; /* calls seen per kind, the failed one included */
    uint64_t injected;                   /* failures injected so far */
    uint64_t live_buffers;               /* buffers made through the shim and not yet freed */
} loader_fault_stats;

/* Called by vitcl_backend_open once be->desc, be->ops and be->ctx are set: when
 * VITCL_FAULT_INJECT is set and non-empty, replaces them with the shim (which owns the plugin's
 * context from then on and destroys it with its own context_destroy). A malformed variable gives
 * VITCL_ERR_INVALID_ARGUMENT naming it, and be is left as it was; out of memory gives
 * VITCL_ERR_OUT_OF_MEMORY. */
vitcl_status loader_fault_wrap(vitcl_backend *be);

/* Fills *out and returns 1 when be is wrapped; returns 0 (out zeroed) otherwise. The caller holds
 * be->lock or otherwise knows no call is in flight. */
int loader_fault_stats_get(const vitcl_backend *be, loader_fault_stats *out);

#endif
