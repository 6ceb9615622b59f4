/* host/model/model_upload.c - a validated model's tensors into backend buffers.
 *
 * Every tensor is uploaded once. Query, key and value are fused into one [3D, D] weight at load.
 * Tensors that are F32 and memory-mapped may be aliased by the backend (zero copy) when it says
 * it can; everything else is converted through at most one transient host copy per tensor.
 *
 * Linear weights (fused QKV, attention output, fc1, fc2, classifier) go first to the plugin's
 * pack_weight_host (ABI 1.1) when it takes them at the model's precision: straight from the
 * mapping in their stored dtype (an aligned copy only when the mapping is misaligned; QKV
 * concatenated in one copy, widened to F32 only when q, k and v differ in dtype), after which
 * their mapped pages are dropped. When it declines, an fp32 model takes the 1.0 path above
 * (upload fp32, then linear_pack_weight) and a bf16 or fp16 model is refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_facade.h"
#include "error.h"
#include "model_load_internal.h"
#include "precision.h"

/* Records whether a backend buffer aliases tensor t's host memory. */
static void set_aliased(loader_ctx *L, const vitcl_tensor_entry *t, int on)
{
    for (size_t j = 0; j < L->n_ex; j++)
        if (L->found[j] == t) {
            L->aliased[j] = (unsigned char)on;
            return;
        }
}

/* The transient buffer, grown to `bytes`; NULL with the message set when out of memory.
 * Sizes come from validated shapes well below SIZE_MAX / 4 (the weights' total is limited). */
static void *tmp_bytes(loader_ctx *L, size_t bytes, const char *label)
{
    if (bytes > L->tmp_cap) {
        void *p = realloc(L->tmp, bytes);
        if (!p) {
            vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "out of host memory converting '%s' (%zu bytes)",
                       label, bytes);
            return NULL;
        }
        L->tmp = p;
        L->tmp_cap = bytes;
    }
    return L->tmp;
}

static float *tmp_floats(loader_ctx *L, size_t n, const char *label)
{
    return tmp_bytes(L, n * sizeof(float), label);
}

/* Uploads one tensor as fp32: aliased when allowed, else written from the mapping (F32) or
 * from one converted copy (F16, BF16). */
static vitcl_status upload(loader_ctx *L, const vitcl_tensor_entry *t, int may_alias,
                           vitcl_buffer **out)
{
    vitcl_backend *be = L->m->be;
    size_t bytes = (size_t)t->numel * sizeof(float);
    vitcl_status st;
    /* A safetensors header may have any length, so F32 data in the mapping need not be 4-byte
     * aligned; a backend reads aliased memory as floats, so such a tensor is copied instead. */
    if (t->dtype == VITCL_DTYPE_F32 && may_alias && L->alias_ok &&
        (uintptr_t)t->data % _Alignof(float) == 0) {
        if ((st = bf_wrap(be, t->data, bytes, t->name, out)))
            return st;
        set_aliased(L, t, 1);
        return VITCL_OK;
    }
    const void *src = t->data;
    if (t->dtype != VITCL_DTYPE_F32) {
        float *tmp = tmp_floats(L, (size_t)t->numel, t->name);
        if (!tmp)
            return VITCL_ERR_OUT_OF_MEMORY;
        vitcl_tensor_to_f32(t, tmp);
        src = tmp;
    }
    if ((st = bf_alloc(be, bytes, t->name, out)))
        return st;
    if ((st = bf_write(be, *out, 0, src, bytes))) {
        bf_free(be, *out);
        *out = NULL;
        return vitcl_fail_prefix(st, "%s: ", t->name);
    }
    vitcl_weights_drop_pages(L->w, t); /* copied: its mapped pages are not needed any more */
    return VITCL_OK;
}

/* Packs a linear weight in the backend's preferred layout when it offers one for this shape. */
static vitcl_status maybe_pack(loader_ctx *L, model_linear *lin, const vitcl_tensor_entry *src,
                               const char *label)
{
    vitcl_backend *be = L->m->be;
    vitcl_buffer *packed = NULL;
    vitcl_status st = bf_pack_linear(be, lin->w, lin->n, lin->k, label, &packed);
    if (st)
        return st;
    if (!packed)
        return VITCL_OK; /* kept as stored */
    bf_free(be, lin->w);
    lin->w = packed; /* before anything can fail: the model owns it from here */
    lin->packed = 1;
    if (src) {
        /* The pack may still be reading the mapping: wait before dropping its pages, or they
         * fault back in and stay resident. */
        set_aliased(L, src, 0);
        if ((st = bf_sync(be)))
            return vitcl_fail_prefix(st, "%s: ", label);
        vitcl_weights_drop_pages(L->w, src);
    }
    return VITCL_OK;
}

/* Packs lin's weight [n, k] from host memory `data` (dtype, aligned to its size) through
 * pack_weight_host when the plugin takes it at the model's precision (*done = 1), else leaves
 * lin alone (*done = 0). A reduced-precision model cannot do without: it is refused. */
static vitcl_status pack_from_host(loader_ctx *L, model_linear *lin, const void *data,
                                   vitcl_dtype dtype, const char *label, int *done)
{
    vitcl_backend *be = L->m->be;
    *done = 0;
    vitcl_buffer *packed = NULL;
    vitcl_status st =
        bf_pack_host(be, data, dtype, lin->n, lin->k, (uint32_t)L->precision, label, &packed);
    if (st)
        return st; /* the facade's message names the label, plugin and device */
    if (!packed) {
        if (L->precision == VITCL_PRECISION_FP32)
            return VITCL_OK; /* the 1.0 path: widen on the host, upload, maybe pack */
        char why[TT_NAME_MAX + 96];
        snprintf(why, sizeof why, "it declined pack_weight_host of '%s' [%zu, %zu] from %s",
                 label, lin->n, lin->k, weights_dtype_name(dtype));
        return bf_refuse_precision(be, L->precision, why);
    }
    lin->w = packed;
    lin->packed = 1;
    lin->precision = (uint32_t)L->precision;
    *done = 1;
    return VITCL_OK;
}

/* A tensor's data as pack_weight_host takes it: the mapping itself when aligned to the element
 * size, else one aligned copy in the same dtype. NULL with the message set when out of memory. */
static const void *aligned_data(loader_ctx *L, const vitcl_tensor_entry *t)
{
    size_t es = weights_dtype_size(t->dtype);
    if ((uintptr_t)t->data % es == 0)
        return t->data;
    void *tmp = tmp_bytes(L, (size_t)t->numel * es, t->name);
    if (tmp)
        memcpy(tmp, t->data, (size_t)t->numel * es);
    return tmp;
}

static vitcl_status load_linear(loader_ctx *L, const vitcl_tensor_entry *w,
                                const vitcl_tensor_entry *b, model_linear *lin)
{
    vitcl_backend *be = L->m->be;
    lin->n = (size_t)w->shape[0];
    lin->k = (size_t)w->shape[1];
    lin->precision = VITCL_PRECISION_FP32;
    vitcl_status st;
    if (bf_packs_host(be, w->dtype, lin->n, lin->k, (uint32_t)L->precision) ||
        L->precision != VITCL_PRECISION_FP32) {
        const void *data = aligned_data(L, w);
        if (!data)
            return VITCL_ERR_OUT_OF_MEMORY;
        int done = 0;
        if ((st = pack_from_host(L, lin, data, w->dtype, w->name, &done)))
            return st;
        if (done) {
            /* The plugin copied what it needed during the call (backend.h). */
            vitcl_weights_drop_pages(L->w, w);
            return b ? upload(L, b, 1, &lin->b) : VITCL_OK;
        }
    }
    st = upload(L, w, 1, &lin->w);
    if (st)
        return st;
    if (b && (st = upload(L, b, 1, &lin->b)))
        return st;
    return maybe_pack(L, lin, w, w->name);
}

/* Query, key and value become one [3D, D] weight and one [3D] bias, built in one host copy. */
static vitcl_status load_qkv(loader_ctx *L, size_t l, model_linear *lin)
{
    vitcl_backend *be = L->m->be;
    size_t D = L->m->cfg.hidden_size;
    static const tt_layer wn[3] = {TT_Q_W, TT_K_W, TT_V_W};
    static const tt_layer bn[3] = {TT_Q_B, TT_K_B, TT_V_B};
    char label[TT_NAME_MAX];
    tt_qkv_label(label, sizeof label, l, 0);
    lin->n = 3 * D;
    lin->k = D;
    lin->precision = VITCL_PRECISION_FP32;
    vitcl_status st;
    /* Concatenated in their common stored dtype; widened to F32 only when they differ. */
    vitcl_dtype dt = found_layer(L, wn[0], l)->dtype;
    for (int j = 1; j < 3; j++)
        if (found_layer(L, wn[j], l)->dtype != dt)
            dt = VITCL_DTYPE_F32;
    int done = 0;
    if (bf_packs_host(be, dt, lin->n, lin->k, (uint32_t)L->precision) ||
        L->precision != VITCL_PRECISION_FP32) {
        size_t es = weights_dtype_size(dt);
        unsigned char *raw = tmp_bytes(L, 3 * D * D * es, label);
        if (!raw)
            return VITCL_ERR_OUT_OF_MEMORY;
        for (int j = 0; j < 3; j++) {
            const vitcl_tensor_entry *t = found_layer(L, wn[j], l);
            if (t->dtype == dt)
                memcpy(raw + (size_t)j * D * D * es, t->data, D * D * es);
            else
                vitcl_tensor_to_f32(t, (float *)(void *)raw + (size_t)j * D * D);
        }
        if ((st = pack_from_host(L, lin, raw, dt, label, &done)))
            return st;
        if (done)
            for (int j = 0; j < 3; j++)
                vitcl_weights_drop_pages(L->w, found_layer(L, wn[j], l));
    }
    if (!done) {
        float *tmp = tmp_floats(L, 3 * D * D, label);
        if (!tmp)
            return VITCL_ERR_OUT_OF_MEMORY;
        for (int j = 0; j < 3; j++) {
            vitcl_tensor_to_f32(found_layer(L, wn[j], l), tmp + (size_t)j * D * D);
            vitcl_weights_drop_pages(L->w, found_layer(L, wn[j], l));
        }
        if ((st = bf_alloc(be, 3 * D * D * sizeof(float), label, &lin->w)))
            return st;
        if ((st = bf_write(be, lin->w, 0, tmp, 3 * D * D * sizeof(float))))
            return vitcl_fail_prefix(st, "%s: ", label);
    }
    if (L->m->cfg.qkv_bias) {
        float *tmp = tmp_floats(L, 3 * D, label);
        if (!tmp)
            return VITCL_ERR_OUT_OF_MEMORY;
        for (int j = 0; j < 3; j++) {
            vitcl_tensor_to_f32(found_layer(L, bn[j], l), tmp + (size_t)j * D);
            vitcl_weights_drop_pages(L->w, found_layer(L, bn[j], l));
        }
        char blabel[TT_NAME_MAX]; /* the weight's label stays for its packing below */
        tt_qkv_label(blabel, sizeof blabel, l, 1);
        if ((st = bf_alloc(be, 3 * D * sizeof(float), blabel, &lin->b)))
            return st;
        if ((st = bf_write(be, lin->b, 0, tmp, 3 * D * sizeof(float))))
            return vitcl_fail_prefix(st, "%s: ", blabel);
    }
    return done ? VITCL_OK : maybe_pack(L, lin, NULL, label);
}

vitcl_status model_upload_all(loader_ctx *L)
{
    vitcl_model *m = L->m;
    const vitcl_vit_config *c = &m->cfg;
    vitcl_status st;
    if ((st = upload(L, found_global(L, TT_PATCH_W), 1,
                     &m->patch_w)) ||
        (st = upload(L, found_global(L, TT_PATCH_B), 1,
                     &m->patch_b)) ||
        (st = upload(L, found_global(L, TT_CLS), 1, &m->cls_token)) ||
        (st = upload(L, found_global(L, TT_POS), 1, &m->pos)) ||
        (st = upload(L, found_global(L, TT_LNF_W), 1, &m->lnf_g)) ||
        (st = upload(L, found_global(L, TT_LNF_B), 1, &m->lnf_b)))
        return st;
    /* The stored position table stays on the host for interpolate_pos_encoding. */
    const vitcl_tensor_entry *pos = found_global(L, TT_POS);
    m->pos_host = malloc((size_t)pos->numel * sizeof(float));
    if (!m->pos_host)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "out of host memory for '%s'", pos->name);
    vitcl_tensor_to_f32(pos, m->pos_host);

    m->layers = calloc(c->num_layers, sizeof *m->layers);
    if (!m->layers)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "out of host memory for %zu layers",
                          c->num_layers);
    for (size_t l = 0; l < c->num_layers; l++) {
        model_layer *ly = &m->layers[l];
        if ((st = upload(L, found_layer(L, TT_LN1_W, l), 1,
                         &ly->ln1_g)) ||
            (st = upload(L, found_layer(L, TT_LN1_B, l), 1,
                         &ly->ln1_b)) ||
            (st = upload(L, found_layer(L, TT_LN2_W, l), 1,
                         &ly->ln2_g)) ||
            (st = upload(L, found_layer(L, TT_LN2_B, l), 1,
                         &ly->ln2_b)) ||
            (st = load_qkv(L, l, &ly->qkv)) ||
            (st = load_linear(L, found_layer(L, TT_ATTN_OUT_W, l),
                              found_layer(L, TT_ATTN_OUT_B, l),
                              &ly->out)) ||
            (st = load_linear(L, found_layer(L, TT_FC1_W, l),
                              found_layer(L, TT_FC1_B, l),
                              &ly->fc1)) ||
            (st = load_linear(L, found_layer(L, TT_FC2_W, l),
                              found_layer(L, TT_FC2_B, l), &ly->fc2)))
            return st;
        bf_after_upload(m->be);
    }
    if (m->num_labels)
        return load_linear(L, found_global(L, TT_CLASSIFIER_W), found_global(L, TT_CLASSIFIER_B),
                           &m->classifier);
    return VITCL_OK;
}
