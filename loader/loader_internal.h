/* loader/loader_internal.h - what the rest of libvitcl (host/) knows about an open backend.
 *
 * A vitcl_backend is one plugin context on one device, opened through the registry. Host code
 * calls the plugin's entry points through be->desc and be->ops with be->ctx, holding be->lock
 * around any sequence of calls (a forward pass, an upload), and turns a failed status into the
 * thread's error message with vitcl_backend_fail().
 */
#ifndef VITCL_LOADER_INTERNAL_H
#define VITCL_LOADER_INTERNAL_H

#include <pthread.h>

#include "vitcl/backend.h"
#include "vitcl/vitcl.h"

struct vitcl_backend {
    vitcl_registry *reg;
    const vitcl_backend_desc *desc;
    const vitcl_op_table *ops;
    void *plugin_state;
    vitcl_context *ctx;
    int device_index;
    vitcl_device_info info;
    pthread_mutex_t lock; /* serialises every call on ctx */
};

/* Sets the thread's error to "<what>: <plugin> on <device>: <plugin's last_error>" and
 * returns status. */
vitcl_status vitcl_backend_fail(const vitcl_backend *be, vitcl_status status, const char *what);

#endif
