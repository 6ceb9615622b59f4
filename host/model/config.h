/* host/model/config.h - a ViT checkpoint's config.json, parsed and validated.
 *
 * Reads model_type "vit_msn" (ViTMSNConfig defaults) or "vit" (ViTConfig defaults) with cJSON,
 * fills absent keys with the config class's defaults, and refuses values the encoder cannot run
 * (hidden_act other than "gelu", hidden_size not divisible by num_attention_heads, a patch
 * larger than the image, sizes beyond sane limits). Errors name the file and the key.
 */
#ifndef VITCL_HOST_CONFIG_H
#define VITCL_HOST_CONFIG_H

#include <stddef.h>

#include "vitcl/status.h"

typedef struct vitcl_vit_config {
    char model_type[32];
    size_t hidden_size, num_layers, num_heads, intermediate_size;
    size_t image_size, patch_size, num_channels;
    float layer_norm_eps;
    int qkv_bias;
    size_t num_labels; /* from id2label / num_labels; 0 when the config names none */
} vitcl_vit_config;

/* Parses config.json at path into *out. VITCL_ERR_IO when unreadable, VITCL_ERR_FORMAT for
 * malformed JSON or wrongly typed keys, VITCL_ERR_UNSUPPORTED for values vitcl cannot run. */
vitcl_status vitcl_config_load(const char *path, vitcl_vit_config *out);

/* Parses config JSON text (name is used in messages). */
vitcl_status vitcl_config_parse(const char *json, size_t len, const char *name,
                                vitcl_vit_config *out);

#endif
