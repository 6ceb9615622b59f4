/* python/src/embed.c - Model.embed's work, with the GIL released: decode, preprocess, batch
 * and run, calling the library in the order and with the run options (pooling included: the
 * library pools) that `vitcl embed` (host/cli/cmd_embed.c) uses, so that the same images give
 * the same bits. Differences from the CLI: inputs may also be encoded bytes or decoded RGB
 * pixels, and a bad input fails the call (naming it) instead of being skipped. */
#include <stdlib.h>
#include <string.h>

#include "plugin_size.h"
#include "token_limit.h"
#include "vitcl_py.h"

typedef struct embed_state {
    const vitclpy_model_view *mv;
    vitclpy_pool pool;
    size_t batch_cap;
    float *batch;
    size_t batch_n, batch_h, batch_w, batch_floats;
    vitclpy_embeddings *out;
    size_t rows_cap, row_len;
    vitclpy_err *e;
} embed_state;

/* Runs the batch and appends its pooled rows. 0 or -1 with *e set. */
static int flush(embed_state *j)
{
    if (!j->batch_n)
        return 0;
    const vitcl_model_config *cfg = j->mv->cfg;
    vitcl_run_options opt = {.struct_size = sizeof opt};
    opt.interpolate_pos_encoding = j->batch_h != cfg->image_size ||
                                   j->batch_w != cfg->image_size;
    /* The library pools (on the device, reading back only [B, D]), as `vitcl embed` asks it. */
    opt.pooling = j->pool == VITCLPY_POOL_CLS    ? VITCL_POOLING_CLS
                  : j->pool == VITCLPY_POOL_MEAN ? VITCL_POOLING_MEAN
                                                 : VITCL_POOLING_NONE;
    vitcl_output *out = NULL;
    vitcl_status st = vitcl_model_run(j->mv->model, j->batch, j->batch_n, j->batch_h,
                                      j->batch_w, &opt, &out);
    if (st) {
        vitclpy_err_capture(j->e, st, NULL);
        return -1;
    }
    size_t B, S, D;
    const float *lhs = vitcl_output_last_hidden_state(out, &B, &S, &D);
    const float *pooled = vitcl_output_pooled(out, NULL, NULL);
    size_t len = j->pool == VITCLPY_POOL_NONE ? S * D : D;
    vitclpy_embeddings *r = j->out;
    if (r->rows && (len != j->row_len || (j->pool == VITCLPY_POOL_NONE && S != r->seq))) {
        vitclpy_err_set(j->e, VITCL_ERR_INVALID_ARGUMENT, "images give %zu and %zu tokens; "
                        "pool=\"none\" needs one size for all images", r->seq, S);
        vitcl_output_free(out);
        return -1;
    }
    j->row_len = len;
    r->seq = S;
    r->dim = D;
    if (r->rows + B > j->rows_cap) {
        size_t cap = j->rows_cap ? j->rows_cap : 64;
        while (cap < r->rows + B)
            cap *= 2;
        float *n = cap <= SIZE_MAX / sizeof(float) / len ? realloc(r->data, cap * len *
                                                                   sizeof *n) : NULL;
        if (!n) {
            vitclpy_err_set(j->e, VITCL_ERR_OUT_OF_MEMORY, "out of memory for %zu embeddings",
                            cap);
            vitcl_output_free(out);
            return -1;
        }
        r->data = n;
        j->rows_cap = cap;
    }
    memcpy(r->data + r->rows * len, j->pool == VITCLPY_POOL_NONE ? lhs : pooled,
           B * len * sizeof *r->data);
    r->rows += B;
    j->batch_n = 0;
    vitcl_output_free(out);
    return 0;
}

/* Decodes one input into *img (PATH, ENCODED) or describes the caller's pixels in *view
 * (PIXELS, no copy). 0 or -1 with *e set. */
static int decode(const vitclpy_input *in, vitcl_image *view, vitcl_image **img, vitclpy_err *e)
{
    char name[64];
    vitcl_status st;
    switch (in->kind) {
    case VITCLPY_IN_PATH:
        if ((st = vitcl_image_load_file(in->path, NULL, img)))
            return vitclpy_err_capture(e, st, NULL), -1;
        return 0;
    case VITCLPY_IN_ENCODED:
        snprintf(name, sizeof name, "images[%zu] (bytes)", in->index);
        if ((st = vitcl_image_load_memory(in->data, in->size, name, NULL, img)))
            return vitclpy_err_capture(e, st, NULL), -1;
        return 0;
    default:
        memset(view, 0, sizeof *view);
        view->width = in->width;
        view->height = in->height;
        view->pixels = (uint8_t *)in->data;
        memcpy(view->source_mode, "RGB", 4);
        return 0;
    }
}

/* Decodes and preprocesses input in into the batch, flushing first when its size differs
 * from the batch's and after when the batch is full (the CLI's add_image). 0 or -1. */
static int add_image(embed_state *j, const vitclpy_input *in)
{
    vitcl_image view, *img = NULL;
    char where[1024];
    if (decode(in, &view, &img, j->e))
        return -1;
    const vitcl_image *src = img ? img : &view;
    if (in->kind == VITCLPY_IN_PATH)
        snprintf(where, sizeof where, "%s", in->path);
    else
        snprintf(where, sizeof where, "images[%zu]", in->index);
    size_t h, w, P = j->mv->cfg->patch_size, per = 0, bytes = 0;
    vitcl_status st = vitcl_preprocessor_output_size(j->mv->pp, src->width, src->height, &h, &w);
    if (st) {
        vitclpy_err_capture(j->e, st, where);
        goto fail;
    }
    /* the CLI's checks, in its order; the CLI skips such an input, embed refuses it */
    if (h < P || w < P) {
        vitclpy_err_set(j->e, VITCL_ERR_INVALID_ARGUMENT, "%s: %zux%zu gives a %zux%zu input, "
                        "smaller than one %zux%zu patch", where, src->width, src->height, w, h,
                        P, P);
        goto fail;
    }
    if ((st = vitcl_check_tokens(h / P, w / P, where))) { /* before resizing, as the CLI */
        vitclpy_err_capture(j->e, st, NULL);
        goto fail;
    }
    if (!plugin_size_mul(VITCL_IMAGE_CHANNELS * h, w, &per) ||
        !plugin_size_mul(per, j->batch_cap, &bytes) ||
        !plugin_size_mul(bytes, sizeof(float), &bytes)) {
        vitclpy_err_set(j->e, VITCL_ERR_LIMIT, "%s: a %zux%zu input is too large for a batch "
                        "of %zu", where, w, h, j->batch_cap);
        goto fail;
    }
    if (j->batch_n && (h != j->batch_h || w != j->batch_w) && flush(j))
        goto fail;
    if (per * j->batch_cap > j->batch_floats) {
        float *nb = malloc(bytes);
        if (!nb) {
            vitclpy_err_set(j->e, VITCL_ERR_OUT_OF_MEMORY, "%s: no memory for a batch of %zu "
                            "inputs of %zux%zu", where, j->batch_cap, w, h);
            goto fail;
        }
        free(j->batch);
        j->batch = nb;
        j->batch_floats = per * j->batch_cap;
    }
    j->batch_h = h, j->batch_w = w;
    st = vitcl_preprocess(j->mv->pp, src, j->batch + j->batch_n * per, per);
    if (st) {
        vitclpy_err_capture(j->e, st, where);
        goto fail;
    }
    vitcl_image_free(img);
    j->batch_n++;
    if (j->batch_n == j->batch_cap && flush(j))
        return -1;
    return 0;
fail:
    vitcl_image_free(img);
    return -1;
}

int vitclpy_embed_run(const vitclpy_model_view *mv, const vitclpy_input *inputs, size_t count,
                      vitclpy_pool pool, size_t batch_size, vitclpy_embeddings *out,
                      vitclpy_err *e)
{
    embed_state j = {.mv = mv, .pool = pool, .batch_cap = batch_size, .out = out, .e = e};
    memset(out, 0, sizeof *out);
    out->dim = mv->cfg->hidden_size;
    if (mv->cfg->num_channels != VITCL_IMAGE_CHANNELS) {
        /* images give RGB rows; the model would read num_channels planes of each */
        vitclpy_err_set(e, VITCL_ERR_UNSUPPORTED, "the model has num_channels %zu, but images "
                        "give %u-channel RGB pixels: embed needs num_channels %u (use run)",
                        mv->cfg->num_channels, VITCL_IMAGE_CHANNELS, VITCL_IMAGE_CHANNELS);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < count && !rc; i++)
        rc = add_image(&j, &inputs[i]);
    if (!rc)
        rc = flush(&j);
    free(j.batch);
    if (rc) {
        free(out->data);
        memset(out, 0, sizeof *out);
    }
    return rc;
}
