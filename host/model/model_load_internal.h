/* host/model/model_load_internal.h - what model_load.c (validation) and model_upload.c (the
 * upload) share while one vitcl_model_load_ex runs: the load's context and the tensor lookups.
 * Internal to libvitcl; one context per load, used by one thread.
 */
#ifndef VITCL_HOST_MODEL_LOAD_INTERNAL_H
#define VITCL_HOST_MODEL_LOAD_INTERNAL_H

#include <stddef.h>

#include "model_internal.h"
#include "tensor_table.h"

typedef struct loader_ctx {
    vitcl_model *m;
    const char *dir;
    const char *prefix;
    tt_expect *ex;                    /* the tensor table for this config (tensor_table.h) */
    const vitcl_tensor_entry **found; /* per entry: the file's tensor, or NULL */
    unsigned char *aliased;           /* per entry: a backend buffer aliases its host memory */
    size_t n_ex;
    int alias_ok;     /* the backend may alias F32 tensors of the open weights */
    const vitcl_weights *w;
    void *tmp;        /* transient conversion buffer (malloc'd: aligned for every dtype) */
    size_t tmp_cap;   /* bytes */
    int precision;    /* vitcl_precision of the linear weights */
} loader_ctx;

/* The file's tensor for a global entry, and for entry k of layer l (NULL when absent). */
static inline const vitcl_tensor_entry *found_global(const loader_ctx *L, tt_global g)
{
    return L->found[tt_global_index(&L->m->cfg, g)];
}

static inline const vitcl_tensor_entry *found_layer(const loader_ctx *L, tt_layer k, size_t l)
{
    return L->found[tt_layer_index(k, l)];
}

/* Uploads every tensor of the validated model (L->found) to L->m's backend, whose lock the
 * caller holds. On failure the buffers made so far stay in L->m (vitcl_model_free frees them)
 * and the thread's message names the tensor. */
vitcl_status model_upload_all(loader_ctx *L);

#endif
