/* host/model/model_load.c - load a model folder: options, config, tensor validation, the
 * device-memory check, then the upload (model_upload.c), the warm-up, and the model's info.
 *
 * Every tensor the encoder needs is listed once in tensor_table.c (name, shape from the config,
 * optional or ignored, fused or not); it is looked up by that name, with or without the "vit."
 * prefix of files saved from an image-classification model, and its shape checked. The
 * precision asked for (vitcl_load_options) is checked against the device before anything is
 * read.
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
#include "model_load_internal.h"
#include "precision.h"
#include "tensor_table.h"


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
        return bf_refuse_precision(be, p, NULL);
    if (p != VITCL_PRECISION_FP32 && !bf_has_pack_host(be))
        return bf_refuse_precision(be, p, "it has no pack_weight_host");
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
    st = model_upload_all(&L);
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
