/* host/model/tensor_table.h - the one description of a ViT encoder checkpoint's tensors.
 *
 * Every tensor vitcl_model_load and vitcl_model_inspect look for is listed once, in
 * tensor_table.c: its Hub name (without the optional "vit." prefix), its shape in terms of the
 * config, whether it may be absent or is ignored, and which fused weight it feeds. Validation,
 * upload and the error messages all read this table; no other file spells a tensor name.
 *
 * Thread-safety: the table is constant; tt_build writes only to the caller's array.
 */
#ifndef VITCL_HOST_TENSOR_TABLE_H
#define VITCL_HOST_TENSOR_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define TT_NAME_MAX 160
#define TT_MAX_DIMS 4

/* Tensors outside the layers. */
typedef enum tt_global {
    TT_CLS,
    TT_POS,
    TT_PATCH_W,
    TT_PATCH_B,
    TT_LNF_W,
    TT_LNF_B,
    TT_CLASSIFIER_W,
    TT_CLASSIFIER_B,
    TT_MASK_TOKEN,
    TT_POOLER_W,
    TT_POOLER_B,
    TT_N_GLOBAL
} tt_global;

/* Tensors of each encoder layer. Query, key and value (weights, then biases) are consecutive:
 * the loader fuses them into one [3D, D] weight and one [3D] bias ("attention.qkv"). */
typedef enum tt_layer {
    TT_LN1_W,
    TT_LN1_B,
    TT_LN2_W,
    TT_LN2_B,
    TT_Q_W,
    TT_Q_B,
    TT_K_W,
    TT_K_B,
    TT_V_W,
    TT_V_B,
    TT_ATTN_OUT_W,
    TT_ATTN_OUT_B,
    TT_FC1_W,
    TT_FC1_B,
    TT_FC2_W,
    TT_FC2_B,
    TT_N_LAYER
} tt_layer;

/* One tensor a checkpoint with a given config may hold. */
typedef struct tt_expect {
    char name[TT_NAME_MAX]; /* Hub name without the "vit." prefix */
    size_t ndim;
    uint64_t shape[TT_MAX_DIMS];
    int expected; /* 0: this config has no such tensor (q/k/v bias when qkv_bias is false) */
    int optional; /* may be absent (classifier pair, mask token, pooler) */
    int ignored;  /* accepted but never uploaded (mask token, pooler) */
} tt_expect;

/* Number of entries tt_build writes for config c (expected or not). */
size_t tt_count(const vitcl_vit_config *c);

/* Fills ex[0 .. tt_count(c)) with the tensors of a checkpoint with config c and a classifier
 * of num_labels rows, in the order errors are reported: the embeddings, each layer, the final
 * layer norm, then the optional tensors. */
void tt_build(const vitcl_vit_config *c, size_t num_labels, tt_expect *ex);

/* Index in the tt_build array of a global tensor, and of tensor k of layer l. */
size_t tt_global_index(const vitcl_vit_config *c, tt_global g);
size_t tt_layer_index(tt_layer k, size_t l);

/* The Hub name (without prefix) of a global tensor; a static string. */
const char *tt_name(tt_global g);

/* The label of layer l's fused query/key/value weight (bias != 0: its bias), for messages. */
void tt_qkv_label(char *buf, size_t len, size_t l, int bias);

#endif
