/* host/model/model_load.c - load a model folder: config, tensor validation, upload to the backend.
 *
 * Every tensor the encoder needs is listed once in tensor_table.c (name, shape from the config,
 * optional or ignored, fused or not); it is looked up by that name, with or without the "vit."
 * prefix of files saved from an image-classification model, its shape checked, and uploaded
 * once. Query, key and value are fused into one [3D, D] weight at load. Tensors that are F32 and memory-mapped may be aliased by
 * the backend (zero copy) when it says it can; everything else is converted through at most one
 * transient host copy per tensor.
 *
 * Linear weights (fused QKV, attention output, fc1, fc2, classifier) go first to the plugin's
 * pack_weight_host (ABI 1.1) when it takes them at the model's precision: straight from the
 * mapping in their stored dtype (an aligned copy only when the mapping is misaligned; QKV
 * concatenated in one copy), after which their mapped pages are dropped. When it declines, an
 * fp32 model takes the 1.0 path above and a bf16 or fp16 model is refused.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend_facade.h"
#include "error.h"
#include "model_internal.h"
#include "precision.h"
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

static vitcl_status alloc_expectations(loader_ctx *L)
{
    L->n_ex = tt_count(&L->m->cfg);
    L->ex = calloc(L->n_ex, sizeof *L->ex);
    L->found = calloc(L->n_ex, sizeof *L->found);
    L->aliased = calloc(L->n_ex, sizeof *L->aliased);
    if (!L->ex || !L->found || !L->aliased)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "out of memory");
    return VITCL_OK;
}

static void free_ctx(loader_ctx *L)
{
    free(L->ex);
    free(L->found);
    free(L->aliased);
    free(L->tmp);
}

static void shape_str(char *buf, size_t len, size_t ndim, const uint64_t *shape)
{
    size_t o = (size_t)snprintf(buf, len, "[");
    for (size_t i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%llu", i ? ", " : "",
                              (unsigned long long)shape[i]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
}

/* The name of a file tensor without the "vit." prefix that image-classification checkpoints
 * put on encoder tensors. transformers accepts the prefix on some keys and not others (its 5.x
 * save_pretrained writes "vit.embeddings.*" beside bare "encoder.layer.*"), so the prefix is
 * optional per key; a tensor present both ways is refused as a duplicate. */
static const char *strip_prefix(const char *name)
{
    return strncmp(name, "vit.", 4) == 0 ? name + 4 : name;
}

/* Matches every file tensor to an expectation; names what is missing, unexpected or misshapen. */
static vitcl_status match_tensors(loader_ctx *L, const vitcl_weights *w)
{
    const vitcl_vit_config *c = &L->m->cfg;
    char pname[TT_NAME_MAX + 8];
    snprintf(pname, sizeof pname, "vit.%s", tt_name(TT_CLS));
    L->prefix = vitcl_weights_find(w, pname) ? "vit." : "";
    const vitcl_tensor_entry *cls_w = vitcl_weights_find(w, tt_name(TT_CLASSIFIER_W));
    size_t num_labels = 0;
    if (cls_w && cls_w->ndim == 2)
        num_labels = (size_t)cls_w->shape[0];
    if (cls_w && c->num_labels && num_labels != c->num_labels)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: tensor %s has %zu rows but config.json names %zu labels", L->dir,
                          tt_name(TT_CLASSIFIER_W), num_labels, c->num_labels);
    tt_build(c, num_labels, L->ex);
    for (size_t i = 0; i < vitcl_weights_count(w); i++) {
        const vitcl_tensor_entry *t = vitcl_weights_at(w, i);
        const char *rel = strip_prefix(t->name);
        size_t j = 0;
        while (j < L->n_ex && !(L->ex[j].expected && !strcmp(L->ex[j].name, rel)))
            j++;
        if (j == L->n_ex)
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: unexpected tensor '%s' (not part of a %s model with %zu "
                              "layers%s)",
                              t->file, t->name, c->model_type, c->num_layers,
                              *L->prefix ? ", keys prefixed 'vit.'" : "");
        const tt_expect *e = &L->ex[j];
        int same = t->ndim == e->ndim;
        for (size_t d = 0; same && d < e->ndim; d++)
            same = t->shape[d] == e->shape[d];
        if (!same) {
            char got[96], want[96];
            shape_str(got, sizeof got, t->ndim, t->shape);
            shape_str(want, sizeof want, e->ndim, e->shape);
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: tensor '%s' has shape %s but config.json implies %s", t->file,
                              t->name, got, want);
        }
        if (L->found[j])
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: tensor '%s' appears twice ('%s' and '%s')",
                              t->file, e->name, L->found[j]->name, t->name);
        L->found[j] = t;
    }
    for (size_t j = 0; j < L->n_ex; j++) {
        if (L->ex[j].expected && !L->found[j] && !L->ex[j].optional)
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: missing tensor '%s%s' (weights: %s)", L->dir,
                              L->prefix, L->ex[j].name, vitcl_weights_format(w));
    }
    const tt_expect *cw = &L->ex[tt_global_index(c, TT_CLASSIFIER_W)];
    const tt_expect *cb = &L->ex[tt_global_index(c, TT_CLASSIFIER_B)];
    if ((cls_w != NULL) != (L->found[tt_global_index(c, TT_CLASSIFIER_B)] != NULL))
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: tensor '%s' is present without its pair (%s and %s go together)",
                          L->dir, cls_w ? cw->name : cb->name, cw->name, cb->name);
    L->m->num_labels = cls_w ? num_labels : 0;
    return VITCL_OK;
}

/* The file's tensor for a global entry, and for entry k of layer l (NULL when absent). */
static const vitcl_tensor_entry *glob(const loader_ctx *L, tt_global g)
{
    return L->found[tt_global_index(&L->m->cfg, g)];
}

static const vitcl_tensor_entry *lay(const loader_ctx *L, tt_layer k, size_t l)
{
    return L->found[tt_layer_index(k, l)];
}

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

/* The refusal of a bf16/fp16 model by a backend that cannot run it: names the precision, the
 * plugin with its ABI version, the device and what the device offers. */
static vitcl_status refuse_precision(const vitcl_backend *be, int precision, const char *why)
{
    char offered[32];
    vitcl_precision_list(be->info.precisions, offered, sizeof offered);
    int fp32_only = !strcmp(offered, "fp32");
    return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                      "%s: plugin '%s' (ABI %u.%u) on device '%s' runs %s%s%s%s",
                      vitcl_precision_name(precision), be->desc->name,
                      (unsigned)be->desc->abi_major, (unsigned)be->desc->abi_minor, be->info.name,
                      offered, fp32_only ? " only" : "", why ? ": " : "", why ? why : "");
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
    if (src) {
        /* The pack may still be reading the mapping: wait before dropping its pages, or they
         * fault back in and stay resident. */
        set_aliased(L, src, 0);
        if ((st = bf_sync(be)))
            return vitcl_fail_prefix(st, "%s: ", label);
        vitcl_weights_drop_pages(L->w, src);
    }
    lin->w = packed;
    lin->packed = 1;
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
        return refuse_precision(be, L->precision, why);
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
    vitcl_dtype dt = lay(L, wn[0], l)->dtype;
    for (int j = 1; j < 3; j++)
        if (lay(L, wn[j], l)->dtype != dt)
            dt = VITCL_DTYPE_F32;
    int done = 0;
    if (bf_packs_host(be, dt, lin->n, lin->k, (uint32_t)L->precision) ||
        L->precision != VITCL_PRECISION_FP32) {
        size_t es = weights_dtype_size(dt);
        unsigned char *raw = tmp_bytes(L, 3 * D * D * es, label);
        if (!raw)
            return VITCL_ERR_OUT_OF_MEMORY;
        for (int j = 0; j < 3; j++) {
            const vitcl_tensor_entry *t = lay(L, wn[j], l);
            if (t->dtype == dt)
                memcpy(raw + (size_t)j * D * D * es, t->data, D * D * es);
            else
                vitcl_tensor_to_f32(t, (float *)(void *)raw + (size_t)j * D * D);
        }
        if ((st = pack_from_host(L, lin, raw, dt, label, &done)))
            return st;
        if (done)
            for (int j = 0; j < 3; j++)
                vitcl_weights_drop_pages(L->w, lay(L, wn[j], l));
    }
    if (!done) {
        float *tmp = tmp_floats(L, 3 * D * D, label);
        if (!tmp)
            return VITCL_ERR_OUT_OF_MEMORY;
        for (int j = 0; j < 3; j++) {
            vitcl_tensor_to_f32(lay(L, wn[j], l), tmp + (size_t)j * D * D);
            vitcl_weights_drop_pages(L->w, lay(L, wn[j], l));
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
            vitcl_tensor_to_f32(lay(L, bn[j], l), tmp + (size_t)j * D);
            vitcl_weights_drop_pages(L->w, lay(L, bn[j], l));
        }
        tt_qkv_label(label, sizeof label, l, 1);
        if ((st = bf_alloc(be, 3 * D * sizeof(float), label, &lin->b)))
            return st;
        if ((st = bf_write(be, lin->b, 0, tmp, 3 * D * sizeof(float))))
            return vitcl_fail_prefix(st, "%s: ", label);
    }
    return done ? VITCL_OK : maybe_pack(L, lin, NULL, label);
}

static vitcl_status load_all(loader_ctx *L)
{
    vitcl_model *m = L->m;
    const vitcl_vit_config *c = &m->cfg;
    vitcl_status st;
    if ((st = upload(L, glob(L, TT_PATCH_W), 1,
                     &m->patch_w)) ||
        (st = upload(L, glob(L, TT_PATCH_B), 1,
                     &m->patch_b)) ||
        (st = upload(L, glob(L, TT_CLS), 1, &m->cls_token)) ||
        (st = upload(L, glob(L, TT_POS), 1, &m->pos)) ||
        (st = upload(L, glob(L, TT_LNF_W), 1, &m->lnf_g)) ||
        (st = upload(L, glob(L, TT_LNF_B), 1, &m->lnf_b)))
        return st;
    /* The stored position table stays on the host for interpolate_pos_encoding. */
    const vitcl_tensor_entry *pos = glob(L, TT_POS);
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
        if ((st = upload(L, lay(L, TT_LN1_W, l), 1,
                         &ly->ln1_g)) ||
            (st = upload(L, lay(L, TT_LN1_B, l), 1,
                         &ly->ln1_b)) ||
            (st = upload(L, lay(L, TT_LN2_W, l), 1,
                         &ly->ln2_g)) ||
            (st = upload(L, lay(L, TT_LN2_B, l), 1,
                         &ly->ln2_b)) ||
            (st = load_qkv(L, l, &ly->qkv)) ||
            (st = load_linear(L, lay(L, TT_ATTN_OUT_W, l),
                              lay(L, TT_ATTN_OUT_B, l),
                              &ly->out)) ||
            (st = load_linear(L, lay(L, TT_FC1_W, l),
                              lay(L, TT_FC1_B, l),
                              &ly->fc1)) ||
            (st = load_linear(L, lay(L, TT_FC2_W, l),
                              lay(L, TT_FC2_B, l), &ly->fc2)))
            return st;
        bf_after_upload(m->be);
    }
    if (m->num_labels)
        return load_linear(L, glob(L, TT_CLASSIFIER_W), glob(L, TT_CLASSIFIER_B),
                           &m->classifier);
    return VITCL_OK;
}

static void fill_info(vitcl_model *m, const vitcl_weights *w, const loader_ctx *L)
{
    vitcl_model_config *i = &m->info;
    snprintf(i->precision, sizeof i->precision, "%s", vitcl_precision_name(L->precision));
    const vitcl_vit_config *c = &m->cfg;
    snprintf(i->model_type, sizeof i->model_type, "%s", c->model_type);
    i->hidden_size = c->hidden_size;
    i->num_hidden_layers = c->num_layers;
    i->num_attention_heads = c->num_heads;
    i->intermediate_size = c->intermediate_size;
    i->patch_size = c->patch_size;
    i->image_size = c->image_size;
    i->num_channels = c->num_channels;
    i->num_labels = m->num_labels;
    i->layer_norm_eps = c->layer_norm_eps;
    snprintf(i->weight_format, sizeof i->weight_format, "%s", vitcl_weights_format(w));
    int dt = -1;
    for (size_t j = 0; j < L->n_ex; j++) {
        const vitcl_tensor_entry *t = L->found[j];
        if (!t)
            continue;
        i->parameter_count += t->numel;
        dt = dt < 0 ? (int)t->dtype : (dt == (int)t->dtype ? dt : 99);
    }
    snprintf(i->weight_dtype, sizeof i->weight_dtype, "%s",
             dt == VITCL_DTYPE_F32    ? "F32"
             : dt == VITCL_DTYPE_F16  ? "F16"
             : dt == VITCL_DTYPE_BF16 ? "BF16"
                                      : "mixed");
}

/* 1 when entry j of the tensor table is the weight of a linear layer (the ones bf16 and fp16
 * store reduced). */
static int is_linear_weight(const loader_ctx *L, size_t j)
{
    const vitcl_vit_config *c = &L->m->cfg;
    if (j == tt_global_index(c, TT_CLASSIFIER_W))
        return 1;
    static const tt_layer lw[] = {TT_Q_W, TT_K_W, TT_V_W, TT_ATTN_OUT_W, TT_FC1_W, TT_FC2_W};
    for (size_t l = 0; l < c->num_layers; l++)
        for (size_t i = 0; i < sizeof lw / sizeof lw[0]; i++)
            if (j == tt_layer_index(lw[i], l))
                return 1;
    return 0;
}

/* Refuses a model whose weights cannot fit the device before allocating anything: fp32, except
 * linear weights at 2 bytes an element in bf16 and fp16. */
static vitcl_status check_device_memory(vitcl_model *m, const loader_ctx *L)
{
    uint64_t bytes = 0;
    uint64_t lin_size = L->precision == VITCL_PRECISION_FP32 ? sizeof(float) : 2;
    for (size_t j = 0; j < L->n_ex; j++)
        if (L->found[j] && !L->ex[j].ignored)
            bytes += L->found[j]->numel * (is_linear_weight(L, j) ? lin_size : sizeof(float));
    m->weight_bytes = bytes;
    uint64_t mem = m->be->info.global_mem_bytes;
    if (mem && bytes > mem)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY,
                          "%s: the weights need %.1f MiB but device '%s' has %.1f MiB", L->dir,
                          (double)bytes / 1048576.0, m->be->info.name, (double)mem / 1048576.0);
    return VITCL_OK;
}

/* The precision asked for in opts, checked against what the backend's device offers. */
static vitcl_status load_precision(const vitcl_backend *be, const vitcl_load_options *opts,
                                   int *out)
{
    *out = VITCL_PRECISION_FP32;
    if (!opts)
        return VITCL_OK;
    if (opts->struct_size < sizeof opts->struct_size)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                          "vitcl_model_load_ex: options.struct_size is %u (set it to "
                          "sizeof(vitcl_load_options))",
                          (unsigned)opts->struct_size);
    if (opts->struct_size < offsetof(vitcl_load_options, precision) + sizeof opts->precision)
        return VITCL_OK;
    int p = opts->precision;
    if (!vitcl_precision_name(p)) {
        char valid[32];
        vitcl_precision_list(VITCL_PRECISION_BIT(VITCL_PRECISION_COUNT_) - 1u, valid,
                             sizeof valid);
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                          "vitcl_model_load_ex: unknown precision %d (valid: %s)", p, valid);
    }
    /* The loader reports fp32 only for plugins of ABI 1.0 (plugin_check.c). */
    if (p != VITCL_PRECISION_FP32 && !(be->info.precisions & VITCL_PRECISION_BIT(p)))
        return refuse_precision(be, p, NULL);
    if (p != VITCL_PRECISION_FP32 &&
        (be->desc->abi_minor < 1 || !VITCL_HAS_FIELD(be->ops, vitcl_op_table, pack_weight_host)))
        return refuse_precision(be, p, "it has no pack_weight_host");
    *out = p;
    return VITCL_OK;
}

vitcl_status vitcl_model_load(vitcl_backend *be, const char *dir, vitcl_model **out)
{
    return vitcl_model_load_ex(be, dir, NULL, out);
}

vitcl_status vitcl_model_load_ex(vitcl_backend *be, const char *dir,
                                 const vitcl_load_options *opts, vitcl_model **out)
{
    if (!be || !dir || !out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_model_load: NULL argument");
    *out = NULL;
    int precision;
    vitcl_status pst = load_precision(be, opts, &precision);
    if (pst)
        return vitcl_fail_prefix(pst, "%s: ", dir);
    vitcl_model *m = calloc(1, sizeof *m);
    if (!m)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "out of memory");
    m->be = be;
    m->precision = precision;
    loader_ctx L = {.m = m, .dir = dir, .precision = precision};
    vitcl_weights *w = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    vitcl_status st = vitcl_config_load(path, &m->cfg);
    if (st)
        goto fail;
    m->grid0 = m->cfg.image_size / m->cfg.patch_size;
    if ((st = vitcl_weights_open(dir, NULL, &w)))
        goto fail;
    L.w = w;
    if ((st = alloc_expectations(&L)) || (st = match_tensors(&L, w)) || (st = check_device_memory(m, &L)))
        goto fail;
    fill_info(m, w, &L);
    /* Every format's tensor data lies in a file mapping (weights.h), so any may be aliased. */
    L.alias_ok = bf_can_wrap(be);
    bf_lock(be);
    st = load_all(&L);
    if (!st && bf_wants_warmup(be))
        st = model_warmup(m);
    bf_unlock(be);
    if (st)
        goto fail;
    /* Keep the mapping only while backend buffers alias it. Tensors that were copied (fused
     * QKV, converted or packed weights) had their mapped pages dropped as they were copied, so
     * resident memory stays near one copy of the weights. */
    size_t aliased = 0;
    for (size_t j = 0; j < L.n_ex; j++)
        aliased += L.aliased[j];
    if (aliased)
        m->weights = w;
    else
        vitcl_weights_close(w);
    free_ctx(&L);
    *out = m;
    return VITCL_OK;
fail:
    free_ctx(&L);
    m->weights = NULL;
    vitcl_model_free(m);
    vitcl_weights_close(w);
    if (strstr(vitcl_last_error(), dir) == NULL)
        vitcl_fail_prefix(st, "%s: ", dir);
    return st;
}

vitcl_status vitcl_model_inspect(const char *dir, vitcl_model_config *out)
{
    if (!dir || !out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_model_inspect: NULL argument");
    memset(out, 0, sizeof *out);
    /* The checks of vitcl_model_load that need no backend: no buffer, no upload, no run. */
    vitcl_model *m = calloc(1, sizeof *m);
    if (!m)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "out of memory");
    loader_ctx L = {.m = m, .dir = dir};
    vitcl_weights *w = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    vitcl_status st = vitcl_config_load(path, &m->cfg);
    if (!st)
        st = vitcl_weights_open(dir, NULL, &w);
    if (!st)
        st = alloc_expectations(&L);
    if (!st)
        st = match_tensors(&L, w);
    if (!st) {
        fill_info(m, w, &L);
        *out = m->info;
    }
    free_ctx(&L);
    vitcl_weights_close(w);
    free(m);
    if (st && strstr(vitcl_last_error(), dir) == NULL)
        vitcl_fail_prefix(st, "%s: ", dir);
    return st;
}

void model_linear_free(vitcl_backend *be, model_linear *l)
{
    bf_free(be, l->w);
    bf_free(be, l->b);
    l->w = l->b = NULL;
}

void vitcl_model_free(vitcl_model *m)
{
    if (!m)
        return;
    vitcl_backend *be = m->be;
    bf_lock(be);
    model_scratch_free(m);
    for (size_t i = 0; i < MODEL_POS_CACHE; i++)
        bf_free(be, m->pos_cache[i].buf);
    if (m->layers) {
        for (size_t l = 0; l < m->cfg.num_layers; l++) {
            model_layer *ly = &m->layers[l];
            bf_free(be, ly->ln1_g);
            bf_free(be, ly->ln1_b);
            bf_free(be, ly->ln2_g);
            bf_free(be, ly->ln2_b);
            model_linear_free(be, &ly->qkv);
            model_linear_free(be, &ly->out);
            model_linear_free(be, &ly->fc1);
            model_linear_free(be, &ly->fc2);
        }
    }
    model_linear_free(be, &m->classifier);
    vitcl_buffer *bufs[] = {m->patch_w, m->patch_b, m->cls_token, m->pos, m->lnf_g, m->lnf_b};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        bf_free(be, bufs[i]);
    /* Buffers may alias the mapping: wait for queued work before unmapping. */
    bf_drain(be);
    bf_unlock(be);
    free(m->layers);
    free(m->pos_host);
    vitcl_weights_close(m->weights);
    free(m);
}

vitcl_status vitcl_model_get_config(const vitcl_model *m, vitcl_model_config *out)
{
    if (!m || !out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_model_get_config: NULL argument");
    *out = m->info;
    return VITCL_OK;
}
