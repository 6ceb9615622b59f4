/* host/model/config.c - parse and validate config.json. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "file_open.h"
#include "json_doc.h"
#include "token_limit.h"

#define CONFIG_MAX_BYTES (4u << 20)
#define MAX_DIM 65536u
#define MAX_LAYERS 1024u
#define MAX_IMAGE 16384u

/* Checks that v is an integer in [1, max] and stores it. */
static vitcl_status check_size(double v, const char *key, const char *name, size_t max,
                               size_t *dst)
{
    if (!(v >= 1) || v != floor(v) || v > (double)max)
        return vitcl_fail(VITCL_ERR_UNSUPPORTED, "%s: \"%s\" = %g is not an integer in [1, %zu]",
                          name, key, v, max);
    *dst = (size_t)v;
    return VITCL_OK;
}

/* Reads an optional positive integer key; keeps *dst when absent. */
static vitcl_status get_size(const cJSON *root, const char *key, const char *name, size_t max,
                             size_t *dst)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it))
        return VITCL_OK;
    if (!cJSON_IsNumber(it))
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: \"%s\" must be a number", name, key);
    return check_size(it->valuedouble, key, name, max, dst);
}

/* image_size and patch_size may be an int or a [h, w] pair; vitcl runs square ones. */
static vitcl_status get_square(const cJSON *root, const char *key, const char *name, size_t *dst)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || !cJSON_IsArray(it))
        return get_size(root, key, name, MAX_IMAGE, dst);
    const cJSON *a = cJSON_GetArrayItem(it, 0), *b = cJSON_GetArrayItem(it, 1);
    if (cJSON_GetArraySize(it) != 2 || !cJSON_IsNumber(a) || !cJSON_IsNumber(b))
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: \"%s\" must be an int or [h, w]", name, key);
    if (a->valuedouble != b->valuedouble)
        return vitcl_fail(VITCL_ERR_UNSUPPORTED, "%s: non-square \"%s\" is not supported", name,
                          key);
    return check_size(a->valuedouble, key, name, MAX_IMAGE, dst);
}

vitcl_status vitcl_config_parse(const char *json, size_t len, const char *name,
                                vitcl_vit_config *out)
{
    memset(out, 0, sizeof *out);
    cJSON *root = NULL;
    /* transformers reads config.json with Python's json: the last of repeated keys wins */
    vitcl_status st = vitcl_json_parse(json, len, name, VITCL_JSON_LAST_WINS, &root);
    if (st != VITCL_OK)
        return st;
    if (!cJSON_IsObject(root)) {
        st = vitcl_fail(VITCL_ERR_FORMAT, "%s: top level is not a JSON object", name);
        goto done;
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (!cJSON_IsString(mt)) {
        st = vitcl_fail(VITCL_ERR_FORMAT, "%s: \"model_type\" is missing or not a string", name);
        goto done;
    }
    int is_msn = !strcmp(mt->valuestring, "vit_msn");
    if (!is_msn && strcmp(mt->valuestring, "vit") != 0) {
        st = vitcl_fail(VITCL_ERR_UNSUPPORTED,
                        "%s: model_type \"%.40s\" is not supported (vitcl runs \"vit_msn\" and "
                        "\"vit\")",
                        name, mt->valuestring);
        goto done;
    }
    snprintf(out->model_type, sizeof out->model_type, "%s", mt->valuestring);
    /* ViTMSNConfig and ViTConfig defaults; they differ only in layer_norm_eps. */
    out->hidden_size = 768;
    out->num_layers = 12;
    out->num_heads = 12;
    out->intermediate_size = 3072;
    out->image_size = 224;
    out->patch_size = 16;
    out->num_channels = 3;
    out->layer_norm_eps = is_msn ? 1e-6f : 1e-12f;
    out->qkv_bias = 1;

    if ((st = get_size(root, "hidden_size", name, MAX_DIM, &out->hidden_size)) ||
        (st = get_size(root, "num_hidden_layers", name, MAX_LAYERS, &out->num_layers)) ||
        (st = get_size(root, "num_attention_heads", name, MAX_DIM, &out->num_heads)) ||
        (st = get_size(root, "intermediate_size", name, 4 * MAX_DIM, &out->intermediate_size)) ||
        (st = get_size(root, "num_channels", name, 64, &out->num_channels)) ||
        (st = get_square(root, "image_size", name, &out->image_size)) ||
        (st = get_square(root, "patch_size", name, &out->patch_size)))
        goto done;

    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (act && !cJSON_IsNull(act)) {
        if (!cJSON_IsString(act)) {
            st = vitcl_fail(VITCL_ERR_FORMAT, "%s: \"hidden_act\" must be a string", name);
            goto done;
        }
        if (strcmp(act->valuestring, "gelu") != 0) {
            st = vitcl_fail(VITCL_ERR_UNSUPPORTED,
                            "%s: hidden_act \"%.40s\" is not supported (vitcl implements \"gelu\", "
                            "the exact erf form)",
                            name, act->valuestring);
            goto done;
        }
    }
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
    if (eps && !cJSON_IsNull(eps)) {
        if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0) || eps->valuedouble > 1) {
            st = vitcl_fail(VITCL_ERR_UNSUPPORTED, "%s: \"layer_norm_eps\" must be in (0, 1]",
                            name);
            goto done;
        }
        out->layer_norm_eps = (float)eps->valuedouble;
    }
    const cJSON *qb = cJSON_GetObjectItemCaseSensitive(root, "qkv_bias");
    if (qb && !cJSON_IsNull(qb)) {
        if (!cJSON_IsBool(qb)) {
            st = vitcl_fail(VITCL_ERR_FORMAT, "%s: \"qkv_bias\" must be true or false", name);
            goto done;
        }
        out->qkv_bias = cJSON_IsTrue(qb);
    }
    const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(root, "id2label");
    if (cJSON_IsObject(id2label))
        out->num_labels = (size_t)cJSON_GetArraySize(id2label);
    if ((st = get_size(root, "num_labels", name, 1u << 24, &out->num_labels)))
        goto done;

    if (out->hidden_size % out->num_heads != 0) {
        st = vitcl_fail(VITCL_ERR_UNSUPPORTED,
                        "%s: hidden_size %zu is not divisible by num_attention_heads %zu", name,
                        out->hidden_size, out->num_heads);
        goto done;
    }
    if (out->patch_size > out->image_size) {
        st = vitcl_fail(VITCL_ERR_UNSUPPORTED, "%s: patch_size %zu is larger than image_size %zu",
                        name, out->patch_size, out->image_size);
        goto done;
    }
    size_t g = out->image_size / out->patch_size;
    st = vitcl_check_tokens(g, g, name);
done:
    cJSON_Delete(root);
    return st;
}

vitcl_status vitcl_config_load(const char *path, vitcl_vit_config *out)
{
    char *buf = NULL;
    size_t n = 0;
    vitcl_status st = vitcl_file_read_all(path, CONFIG_MAX_BYTES, &buf, &n);
    if (st == VITCL_OK && n == 0)
        st = vitcl_fail(VITCL_ERR_FORMAT, "%s: empty file", path);
    if (st == VITCL_OK)
        st = vitcl_config_parse(buf, n, path, out);
    free(buf);
    return st;
}
