/* host/image/preprocess.c - transformers' PIL-backend ViT preprocessing of one RGB8 image.
 *
 * Order and precision are those of transformers 5.x PilBackend._preprocess:
 *   1. resize (uint8, Pillow's Image.resize with the configured filter) to the target size;
 *   2. rescale: float32(float64(x) * rescale_factor);
 *   3. normalize: (x - float32(mean_c)) / float32(std_c), in float32;
 *   4. channels first: [3, H, W].
 * Without rescaling the uint8 value is cast to float32 before normalising (as numpy does).
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "image_internal.h"
#include "preprocess_internal.h"

struct vitcl_preprocessor {
    vitcl_preprocessor_config config;
    size_t override_h, override_w; /* 0, 0: none */
};

static vitcl_status make(const vitcl_preprocessor_config *c, vitcl_preprocessor **out)
{
    vitcl_preprocessor *pp = calloc(1, sizeof *pp);
    if (!pp)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "vitcl_preprocessor: out of memory");
    pp->config = *c;
    *out = pp;
    return VITCL_OK;
}

vitcl_status vitcl_preprocessor_load(const char *model_dir, vitcl_preprocessor **out)
{
    if (!out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_preprocessor_load: out is NULL");
    *out = NULL;
    vitcl_preprocessor_config c;
    int found;
    vitcl_status st = vitcl_preprocessor_read_config(model_dir, &c, &found);
    if (st != VITCL_OK)
        return st;
    return make(&c, out);
}

vitcl_status vitcl_preprocessor_create(const vitcl_preprocessor_config *config,
                                       vitcl_preprocessor **out)
{
    if (!out || !config)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_preprocessor_create: NULL argument");
    *out = NULL;
    vitcl_status st = vitcl_preprocessor_check_config(config, "vitcl_preprocessor_create");
    if (st != VITCL_OK)
        return st;
    return make(config, out);
}

void vitcl_preprocessor_free(vitcl_preprocessor *pp)
{
    free(pp);
}

void vitcl_preprocessor_get_config(const vitcl_preprocessor *pp, vitcl_preprocessor_config *out)
{
    if (pp && out)
        *out = pp->config;
}

vitcl_status vitcl_preprocessor_set_size(vitcl_preprocessor *pp, size_t height, size_t width)
{
    if (!pp)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_preprocessor_set_size: pp is NULL");
    if ((height == 0) != (width == 0) || height > INT32_MAX || width > INT32_MAX)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                          "vitcl_preprocessor_set_size: %zux%zu is not a valid size (both "
                          "positive, or both 0 to remove the override)", height, width);
    pp->override_h = height;
    pp->override_w = width;
    return VITCL_OK;
}

vitcl_status vitcl_preprocessor_output_size(const vitcl_preprocessor *pp, size_t in_w,
                                            size_t in_h, size_t *out_h, size_t *out_w)
{
    if (!pp || !out_h || !out_w)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                          "vitcl_preprocessor_output_size: NULL argument");
    if (!in_w || !in_h)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                          "vitcl_preprocessor_output_size: empty %zux%zu input", in_w, in_h);
    const vitcl_preprocessor_config *c = &pp->config;
    if (pp->override_h) {
        *out_h = pp->override_h, *out_w = pp->override_w;
    } else if (!c->do_resize) {
        *out_h = in_h, *out_w = in_w;
    } else if (!c->shortest_edge) {
        *out_h = c->height, *out_w = c->width;
    } else {
        /* transformers' get_resize_output_image_size(default_to_square=False):
         * new_long = int(shortest_edge * long / short), Python true division then truncation. */
        size_t shrt = in_w <= in_h ? in_w : in_h, lng = in_w <= in_h ? in_h : in_w;
        if (lng > (1ull << 53) / c->shortest_edge)
            return vitcl_fail(VITCL_ERR_LIMIT, "vitcl_preprocessor_output_size: %zux%zu input "
                              "is too large", in_w, in_h);
        double q = (double)(c->shortest_edge * lng) / (double)shrt;
        if (q > INT32_MAX)
            return vitcl_fail(VITCL_ERR_LIMIT, "vitcl_preprocessor_output_size: %zux%zu input "
                              "gives a too large output", in_w, in_h);
        size_t new_long = (size_t)q;
        if (in_w <= in_h)
            *out_h = new_long, *out_w = c->shortest_edge;
        else
            *out_h = c->shortest_edge, *out_w = new_long;
    }
    return VITCL_OK;
}

vitcl_status vitcl_preprocess(const vitcl_preprocessor *pp, const vitcl_image *img, float *out,
                              size_t out_count)
{
    if (!pp || !img || !img->pixels || !out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_preprocess: NULL argument");
    size_t h, w;
    vitcl_status st = vitcl_preprocessor_output_size(pp, img->width, img->height, &h, &w);
    if (st != VITCL_OK)
        return st;
    if (w > SIZE_MAX / 3 / h || out_count < 3 * h * w)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                          "vitcl_preprocess: output holds %zu floats, [3, %zu, %zu] needs more",
                          out_count, h, w);
    const vitcl_preprocessor_config *c = &pp->config;
    const uint8_t *src = img->pixels;
    uint8_t *resized = NULL;
    if (h != img->height || w != img->width) {
        resized = malloc(h * w * 3);
        if (!resized)
            return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY,
                              "vitcl_preprocess: cannot allocate a %zux%zu image", w, h);
        st = vitcl_image_resize(img->pixels, img->width, img->height, resized, w, h,
                                c->resample);
        if (st != VITCL_OK) {
            free(resized);
            return st;
        }
        src = resized;
    }
    /* One float per uint8 value and channel, computed once: the map is exact per value. */
    float table[3][256];
    for (int ch = 0; ch < 3; ch++) {
        float mean = (float)c->image_mean[ch], std = (float)c->image_std[ch];
        for (int v = 0; v < 256; v++) {
            float x = c->do_rescale ? (float)((double)v * c->rescale_factor) : (float)v;
            if (c->do_normalize)
                x = (x - mean) / std;
            table[ch][v] = x;
        }
    }
    size_t plane = h * w;
    for (size_t i = 0; i < plane; i++) {
        out[i] = table[0][src[3 * i]];
        out[plane + i] = table[1][src[3 * i + 1]];
        out[2 * plane + i] = table[2][src[3 * i + 2]];
    }
    free(resized);
    return VITCL_OK;
}
