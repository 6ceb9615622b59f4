/* host/model/tensor_table.c - the names and config-derived shapes of a ViT checkpoint's tensors.
 *
 * The order of the array tt_build writes: the four embedding tensors, TT_N_LAYER entries per
 * layer, then the rest of the globals. The globals table and tt_global_index agree on that.
 */
#include "tensor_table.h"

#include <stdio.h>
#include <string.h>

/* Shape symbols, resolved against the config in tt_build. */
enum { S_END, S_1, S_D, S_I, S_C, S_P, S_TOKENS, S_LABELS };

typedef struct tt_spec {
    const char *name; /* layer tensors: the part after "encoder.layer.N." */
    unsigned char dims[TT_MAX_DIMS];
    int optional, ignored;
    int needs_qkv_bias;
} tt_spec;

#define N_EMBED 4 /* globals stored before the layers */

static const tt_spec globals[TT_N_GLOBAL] = {
    [TT_CLS] = {"embeddings.cls_token", {S_1, S_1, S_D}},
    [TT_POS] = {"embeddings.position_embeddings", {S_1, S_TOKENS, S_D}},
    [TT_PATCH_W] = {"embeddings.patch_embeddings.projection.weight", {S_D, S_C, S_P, S_P}},
    [TT_PATCH_B] = {"embeddings.patch_embeddings.projection.bias", {S_D}},
    [TT_LNF_W] = {"layernorm.weight", {S_D}},
    [TT_LNF_B] = {"layernorm.bias", {S_D}},
    /* A classifier head (never prefixed), a mask token, ViT's pooler. */
    [TT_CLASSIFIER_W] = {"classifier.weight", {S_LABELS, S_D}, 1, 0},
    [TT_CLASSIFIER_B] = {"classifier.bias", {S_LABELS}, 1, 0},
    [TT_MASK_TOKEN] = {"embeddings.mask_token", {S_1, S_1, S_D}, 1, 1},
    [TT_POOLER_W] = {"pooler.dense.weight", {S_D, S_D}, 1, 1},
    [TT_POOLER_B] = {"pooler.dense.bias", {S_D}, 1, 1},
};

static const tt_spec layer[TT_N_LAYER] = {
    [TT_LN1_W] = {"layernorm_before.weight", {S_D}},
    [TT_LN1_B] = {"layernorm_before.bias", {S_D}},
    [TT_LN2_W] = {"layernorm_after.weight", {S_D}},
    [TT_LN2_B] = {"layernorm_after.bias", {S_D}},
    [TT_Q_W] = {"attention.attention.query.weight", {S_D, S_D}},
    [TT_Q_B] = {"attention.attention.query.bias", {S_D}, 0, 0, 1},
    [TT_K_W] = {"attention.attention.key.weight", {S_D, S_D}},
    [TT_K_B] = {"attention.attention.key.bias", {S_D}, 0, 0, 1},
    [TT_V_W] = {"attention.attention.value.weight", {S_D, S_D}},
    [TT_V_B] = {"attention.attention.value.bias", {S_D}, 0, 0, 1},
    [TT_ATTN_OUT_W] = {"attention.output.dense.weight", {S_D, S_D}},
    [TT_ATTN_OUT_B] = {"attention.output.dense.bias", {S_D}},
    [TT_FC1_W] = {"intermediate.dense.weight", {S_I, S_D}},
    [TT_FC1_B] = {"intermediate.dense.bias", {S_I}},
    [TT_FC2_W] = {"output.dense.weight", {S_D, S_I}},
    [TT_FC2_B] = {"output.dense.bias", {S_D}},
};

size_t tt_count(const vitcl_vit_config *c)
{
    return TT_N_GLOBAL + c->num_layers * TT_N_LAYER;
}

size_t tt_global_index(const vitcl_vit_config *c, tt_global g)
{
    return (size_t)g < N_EMBED ? (size_t)g : (size_t)g + c->num_layers * TT_N_LAYER;
}

size_t tt_layer_index(tt_layer k, size_t l)
{
    return N_EMBED + l * TT_N_LAYER + (size_t)k;
}

static void fill(tt_expect *e, const tt_spec *s, const vitcl_vit_config *c, size_t num_labels)
{
    uint64_t g0 = c->image_size / c->patch_size;
    memset(e->shape, 0, sizeof e->shape);
    e->ndim = 0;
    for (size_t d = 0; d < TT_MAX_DIMS && s->dims[d] != S_END; d++) {
        uint64_t v = 0;
        switch (s->dims[d]) {
        case S_1: v = 1; break;
        case S_D: v = c->hidden_size; break;
        case S_I: v = c->intermediate_size; break;
        case S_C: v = c->num_channels; break;
        case S_P: v = c->patch_size; break;
        case S_TOKENS: v = g0 * g0 + 1; break;
        case S_LABELS: v = num_labels; break;
        }
        e->shape[e->ndim++] = v;
    }
    e->optional = s->optional;
    e->ignored = s->ignored;
    e->expected = !s->needs_qkv_bias || c->qkv_bias;
}

void tt_build(const vitcl_vit_config *c, size_t num_labels, tt_expect *ex)
{
    for (size_t g = 0; g < TT_N_GLOBAL; g++) {
        tt_expect *e = &ex[tt_global_index(c, (tt_global)g)];
        snprintf(e->name, sizeof e->name, "%s", globals[g].name);
        fill(e, &globals[g], c, num_labels);
    }
    for (size_t l = 0; l < c->num_layers; l++)
        for (size_t k = 0; k < TT_N_LAYER; k++) {
            tt_expect *e = &ex[tt_layer_index((tt_layer)k, l)];
            snprintf(e->name, sizeof e->name, "encoder.layer.%zu.%s", l, layer[k].name);
            fill(e, &layer[k], c, num_labels);
        }
}

const char *tt_name(tt_global g)
{
    return globals[g].name;
}

void tt_qkv_label(char *buf, size_t len, size_t l, int bias)
{
    snprintf(buf, len, "encoder.layer.%zu.attention.qkv%s (fused)", l, bias ? ".bias" : "");
}
