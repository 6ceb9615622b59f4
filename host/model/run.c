/* host/model/run.c - vitcl_model_run and the output accessors. */
#include <stdlib.h>

#include "backend_facade.h"
#include "error.h"
#include "model_internal.h"

vitcl_status vitcl_model_run(vitcl_model *m, const float *pixels, size_t batch, size_t height,
                             size_t width, const vitcl_run_options *options, vitcl_output **out)
{
    if (!m || !pixels || !out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_model_run: NULL argument");
    *out = NULL;
    if (!batch || !height || !width)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                          "vitcl_model_run: empty input (batch %zu, %zux%zu)", batch, height,
                          width);
    vitcl_output *o = calloc(1, sizeof *o);
    if (!o)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "out of memory");
    bf_lock(m->be);
    vitcl_status st = model_forward(m, pixels, batch, height, width, options, o);
    bf_unlock(m->be);
    if (st) {
        vitcl_output_free(o);
        return st;
    }
    *out = o;
    return VITCL_OK;
}

const float *vitcl_output_last_hidden_state(const vitcl_output *out, size_t *batch, size_t *seq,
                                            size_t *dim)
{
    if (!out)
        return NULL;
    if (batch)
        *batch = out->batch;
    if (seq)
        *seq = out->seq;
    if (dim)
        *dim = out->dim;
    return out->last_hidden;
}

size_t vitcl_output_num_hidden_states(const vitcl_output *out)
{
    return out ? out->num_hidden : 0;
}

const float *vitcl_output_hidden_state(const vitcl_output *out, size_t i)
{
    if (!out || !out->hidden || i >= out->num_hidden)
        return NULL;
    return out->hidden + i * out->batch * out->seq * out->dim;
}

const float *vitcl_output_pooled(const vitcl_output *out, size_t *batch, size_t *dim)
{
    if (batch)
        *batch = out ? out->batch : 0;
    if (dim)
        *dim = out ? out->dim : 0;
    return out ? out->pooled : NULL;
}

const float *vitcl_output_logits(const vitcl_output *out, size_t *num_labels)
{
    if (num_labels)
        *num_labels = out ? out->num_labels : 0;
    return out ? out->logits : NULL;
}

void vitcl_output_free(vitcl_output *out)
{
    if (!out)
        return;
    free(out->last_hidden);
    free(out->hidden);
    free(out->logits);
    free(out->pooled);
    free(out);
}
