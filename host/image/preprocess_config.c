/* host/image/preprocess_config.c - reads a model folder's preprocessor_config.json into a
 * vitcl_preprocessor_config, with transformers 5.x ViTImageProcessorPil's defaults for the keys
 * that are absent or null (do_resize true, size 224x224, resample BILINEAR, do_rescale true,
 * rescale_factor 1/255, do_normalize true, image_mean = image_std = [0.5, 0.5, 0.5]).
 *
 * Sizes follow transformers' get_size_dict(default_to_square=True): an int n means n x n, a
 * [h, w] list means h x w, a dict must be {"height", "width"} or {"shortest_edge"}; the other
 * dict forms transformers knows ({"shortest_edge", "longest_edge"}, {"max_height",
 * "max_width"}, {"longest_edge"}) are refused as unsupported. Settings that would change the
 * pipeline beyond resize/rescale/normalize (do_center_crop, do_pad true) are refused too.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "file_open.h"
#include "json_doc.h"
#include "image_internal.h"
#include "preprocess_internal.h"

#define CONFIG_NAME "preprocessor_config.json"
#define CONFIG_MAX_BYTES (16u << 20)

void vitcl_preprocessor_default_config(vitcl_preprocessor_config *c)
{
    memset(c, 0, sizeof *c);
    c->do_resize = 1;
    c->height = c->width = 224;
    c->resample = VITCL_RESAMPLE_BILINEAR;
    c->do_rescale = 1;
    c->rescale_factor = 1.0 / 255.0;
    c->do_normalize = 1;
    for (int i = 0; i < 3; i++)
        c->image_mean[i] = c->image_std[i] = 0.5;
}

/* A JSON value as Python truthiness would read it for a do_* flag. */
static vitcl_status read_flag(const cJSON *root, const char *key, const char *path, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v))
        return VITCL_OK;
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return VITCL_OK;
    }
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble != 0.0;
        return VITCL_OK;
    }
    return vitcl_fail(VITCL_ERR_FORMAT, "%s: \"%s\" must be true or false", path, key);
}

/* A positive integer that fits in size_t (and in Pillow's int sizes). */
static vitcl_status read_dim(const cJSON *v, const char *path, const char *key, size_t *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
        v->valuedouble > 2147483647.0)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: \"%s\" must be a positive integer", path, key);
    *out = (size_t)v->valuedouble;
    return VITCL_OK;
}

static vitcl_status read_size(const cJSON *root, const char *path, vitcl_preprocessor_config *c)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "size");
    if (!v || cJSON_IsNull(v))
        return VITCL_OK;
    vitcl_status st;
    if (cJSON_IsNumber(v)) {
        if ((st = read_dim(v, path, "size", &c->height)) != VITCL_OK)
            return st;
        c->width = c->height;
        return VITCL_OK;
    }
    if (cJSON_IsArray(v)) {
        if (cJSON_GetArraySize(v) != 2)
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: \"size\" as a list must be [height, width]",
                              path);
        if ((st = read_dim(cJSON_GetArrayItem(v, 0), path, "size[0]", &c->height)) != VITCL_OK ||
            (st = read_dim(cJSON_GetArrayItem(v, 1), path, "size[1]", &c->width)) != VITCL_OK)
            return st;
        return VITCL_OK;
    }
    if (!cJSON_IsObject(v))
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: \"size\" must be an int, a list or a dict", path);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(v, "height");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(v, "width");
    const cJSON *se = cJSON_GetObjectItemCaseSensitive(v, "shortest_edge");
    int nkeys = cJSON_GetArraySize(v);
    if (h && w && nkeys == 2) {
        if ((st = read_dim(h, path, "size.height", &c->height)) != VITCL_OK ||
            (st = read_dim(w, path, "size.width", &c->width)) != VITCL_OK)
            return st;
        c->shortest_edge = 0;
        return VITCL_OK;
    }
    if (se && nkeys == 1) {
        if ((st = read_dim(se, path, "size.shortest_edge", &c->shortest_edge)) != VITCL_OK)
            return st;
        c->height = c->width = 0;
        return VITCL_OK;
    }
    char *text = cJSON_PrintUnformatted(v);
    st = vitcl_fail(VITCL_ERR_UNSUPPORTED,
                    "%s: \"size\" %s is not supported (use an int, [height, width], "
                    "{\"height\", \"width\"} or {\"shortest_edge\"})", path, text ? text : "");
    cJSON_free(text);
    return st;
}

static vitcl_status read_triple(const cJSON *root, const char *key, const char *path,
                                double out[3])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v))
        return VITCL_OK;
    if (cJSON_IsNumber(v)) {
        out[0] = out[1] = out[2] = v->valuedouble;
        return VITCL_OK;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                          "%s: \"%s\" must be a number or a list of 3 numbers (one per RGB "
                          "channel)", path, key);
    for (int i = 0; i < 3; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e))
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: \"%s\"[%d] is not a number", path, key, i);
        out[i] = e->valuedouble;
    }
    return VITCL_OK;
}

vitcl_status vitcl_preprocessor_check_config(const vitcl_preprocessor_config *c, const char *path)
{
    if (c->resample == VITCL_RESAMPLE_NEAREST || (int)c->resample < 0 || (int)c->resample > 5)
        return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                          "%s: resample %d is not supported (1 LANCZOS, 2 BILINEAR, 3 BICUBIC, "
                          "4 BOX and 5 HAMMING are; NEAREST is not)", path, (int)c->resample);
    if (c->do_resize) {
        int fixed = c->height && c->width, shortest = c->shortest_edge != 0;
        if (fixed == shortest)
            return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                              "%s: resizing needs either height and width or shortest_edge",
                              path);
        if ((fixed && (c->height > INT32_MAX || c->width > INT32_MAX)) ||
            c->shortest_edge > INT32_MAX)
            return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "%s: resize target is too large", path);
    }
    if (!isfinite(c->rescale_factor))
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "%s: rescale_factor is not finite", path);
    for (int i = 0; i < 3; i++)
        if (!isfinite(c->image_mean[i]) || !isfinite(c->image_std[i]))
            return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "%s: image_mean/image_std must be "
                              "finite numbers", path);
    return VITCL_OK;
}

vitcl_status vitcl_preprocessor_parse_config(const char *text, size_t len, const char *path,
                                             vitcl_preprocessor_config *c)
{
    vitcl_preprocessor_default_config(c);
    cJSON *root = NULL;
    /* as transformers' Python json: the last of repeated keys wins */
    vitcl_status st = vitcl_json_parse(text, len, path, VITCL_JSON_LAST_WINS, &root);
    if (st != VITCL_OK)
        return st;
    if (!cJSON_IsObject(root)) {
        st = vitcl_fail(VITCL_ERR_FORMAT, "%s: not a JSON object", path);
        goto done;
    }
    const char *type_keys[] = {"image_processor_type", "feature_extractor_type"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, type_keys[i]);
        if (cJSON_IsString(t) && strncmp(t->valuestring, "ViT", 3) != 0) {
            st = vitcl_fail(VITCL_ERR_UNSUPPORTED,
                            "%s: \"%s\" is \"%s\"; only ViT image processors are supported", path,
                            type_keys[i], t->valuestring);
            goto done;
        }
    }
    const char *refused[] = {"do_center_crop", "do_pad"};
    for (size_t i = 0; i < 2; i++) {
        int on = 0;
        if ((st = read_flag(root, refused[i], path, &on)) != VITCL_OK)
            goto done;
        if (on) {
            st = vitcl_fail(VITCL_ERR_UNSUPPORTED, "%s: \"%s\": true is not supported", path,
                            refused[i]);
            goto done;
        }
    }
    if ((st = read_flag(root, "do_resize", path, &c->do_resize)) != VITCL_OK ||
        (st = read_flag(root, "do_rescale", path, &c->do_rescale)) != VITCL_OK ||
        (st = read_flag(root, "do_normalize", path, &c->do_normalize)) != VITCL_OK ||
        (st = read_size(root, path, c)) != VITCL_OK ||
        (st = read_triple(root, "image_mean", path, c->image_mean)) != VITCL_OK ||
        (st = read_triple(root, "image_std", path, c->image_std)) != VITCL_OK)
        goto done;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "resample");
    if (r && !cJSON_IsNull(r)) {
        if (!cJSON_IsNumber(r) || r->valuedouble != floor(r->valuedouble) ||
            r->valuedouble < 0 || r->valuedouble > 5) {
            st = vitcl_fail(VITCL_ERR_UNSUPPORTED, "%s: \"resample\" must be a PIL filter number "
                            "0-5", path);
            goto done;
        }
        c->resample = (vitcl_resample)(int)r->valuedouble;
    }
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "rescale_factor");
    if (f && !cJSON_IsNull(f)) {
        if (!cJSON_IsNumber(f)) {
            st = vitcl_fail(VITCL_ERR_FORMAT, "%s: \"rescale_factor\" is not a number", path);
            goto done;
        }
        c->rescale_factor = f->valuedouble;
    }
    st = vitcl_preprocessor_check_config(c, path);
done:
    cJSON_Delete(root);
    return st;
}

vitcl_status vitcl_preprocessor_read_config(const char *model_dir, vitcl_preprocessor_config *c,
                                            int *found)
{
    vitcl_preprocessor_default_config(c);
    *found = 0;
    if (!model_dir)
        return VITCL_OK;
    size_t n = strlen(model_dir) + sizeof CONFIG_NAME + 2;
    char *path = malloc(n);
    if (!path)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory", model_dir);
    snprintf(path, n, "%s/%s", model_dir, CONFIG_NAME);
    char *text = NULL;
    size_t len = 0;
    vitcl_status st = vitcl_file_read_all(path, CONFIG_MAX_BYTES, &text, &len);
    if (st == VITCL_ERR_NOT_FOUND) {
        vitcl_clear_error();
        st = VITCL_OK; /* no file: the processor's defaults */
    } else if (st == VITCL_OK) {
        st = vitcl_preprocessor_parse_config(text, len, path, c);
        *found = st == VITCL_OK;
    }
    free(text);
    free(path);
    return st;
}
