/* host/model/forward.c - the ViT encoder forward pass on the op interface.
 *
 * Embeddings (patch embedding, CLS row, position table), L pre-LN layers (LN, fused QKV linear,
 * attention, output projection, residual, LN, linear + GELU, linear, residual), the final
 * LayerNorm and the optional classifier on the CLS rows. Activations stay in backend buffers
 * from the pixel upload to the final read; nothing is read back mid-forward. Every backend call
 * goes through backend_facade.h; the caller holds the backend locked (bf_lock).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_facade.h"
#include "error.h"
#include "model_internal.h"
#include "token_limit.h"
#include "pos_interp.h"

/* Largest score buffer the composed attention path uses for one chunk of heads. */
#define SCORES_BUDGET_BYTES ((size_t)256 << 20)

static const char *const scratch_label[SCR_COUNT] = {
    "activations.hidden", "activations.normed", "activations.qkv",     "activations.context",
    "activations.mlp",    "input.pixels",       "attention.scores",    "output.hidden_states",
    "output.cls_rows",    "output.logits",      "pooling.ones",        "output.mean_pooled"};

typedef struct fwd {
    vitcl_model *m;
    vitcl_backend *be;
    size_t B, S, T, D, Hh, dh, I;
    vitcl_buffer **s; /* scratch buffers */
} fwd;

void model_scratch_free(vitcl_model *m)
{
    for (int i = 0; i < SCR_COUNT; i++) {
        bf_free(m->be, m->s.buf[i]);
        m->s.buf[i] = NULL;
        m->s.cap[i] = 0;
    }
}

static vitcl_status ensure(vitcl_model *m, int which, size_t floats)
{
    if (floats == 0 || m->s.cap[which] >= floats)
        return VITCL_OK;
    bf_free(m->be, m->s.buf[which]);
    m->s.buf[which] = NULL;
    m->s.cap[which] = 0;
    vitcl_status st = bf_alloc(m->be, floats * sizeof(float), scratch_label[which],
                               &m->s.buf[which]);
    if (st)
        return st;
    m->s.cap[which] = floats;
    return VITCL_OK;
}

/* a*b*c... with overflow detection; returns 0 on overflow. */
static size_t mul3(size_t a, size_t b, size_t c)
{
    if (a && b > SIZE_MAX / a)
        return 0;
    size_t ab = a * b;
    if (ab && c > SIZE_MAX / ab)
        return 0;
    return ab * c;
}

static int use_fused_attention(const fwd *f)
{
    return bf_has_attention(f->be, f->B, f->S, f->Hh, f->dh);
}

/* Allocates (or reuses) every activation buffer this run needs, after checking each against
 * the device's largest allocation and the total, with the weights, against its memory. */
static vitcl_status prepare_scratch(fwd *f, size_t pixels, int hidden, int fused_attn,
                                    int pooling)
{
    vitcl_model *m = f->m;
    size_t need[SCR_COUNT] = {0};
    int overflow = 0;
#define NEED(i, a, b, c)                                                                          \
    do {                                                                                           \
        need[i] = mul3((a), (b), (c));                                                             \
        overflow |= need[i] == 0 || need[i] > SIZE_MAX / sizeof(float);                            \
    } while (0)
    NEED(SCR_H, f->T, f->D, 1);
    NEED(SCR_A, f->T, f->D, 1);
    NEED(SCR_CTX, f->T, f->D, 1);
    NEED(SCR_QKV, f->T, f->D, 3);
    NEED(SCR_MLP, f->T, f->I, 1);
    NEED(SCR_PIX, pixels, 1, 1);
    if (!fused_attn) {
        size_t per_head = mul3(f->S, f->S, sizeof(float));
        size_t heads = per_head ? SCORES_BUDGET_BYTES / per_head : 0;
        heads = heads < 1 ? 1 : (heads > f->Hh ? f->Hh : heads);
        NEED(SCR_SCORES, heads, f->S, f->S);
    }
    if (hidden)
        NEED(SCR_HS, m->cfg.num_layers + 1, f->T, f->D);
    if (m->num_labels || pooling == VITCL_POOLING_CLS)
        NEED(SCR_CLS, f->B, f->D, 1);
    if (m->num_labels)
        NEED(SCR_LOGITS, f->B, m->num_labels, 1);
    if (pooling == VITCL_POOLING_MEAN) {
        NEED(SCR_ONES, f->S, 1, 1);
        NEED(SCR_POOL, f->B, f->D, 1);
    }
#undef NEED
    if (overflow)
        return vitcl_fail(VITCL_ERR_LIMIT, "input of batch %zu with %zu tokens is too large",
                          f->B, f->S);
    const vitcl_device_info *di = &f->be->info;
    uint64_t total = m->weight_bytes;
    for (int i = 0; i < SCR_COUNT; i++) {
        uint64_t bytes = (uint64_t)need[i] * sizeof(float);
        if (di->max_alloc_bytes && bytes > di->max_alloc_bytes)
            return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY,
                              "%s for batch %zu x %zu tokens needs one buffer of %.1f MiB but "
                              "device '%s' allows at most %.1f MiB per buffer",
                              scratch_label[i], f->B, f->S, (double)bytes / 1048576.0, di->name,
                              (double)di->max_alloc_bytes / 1048576.0);
        total += bytes; /* at most SCR_COUNT terms below SIZE_MAX each: no uint64 overflow */
    }
    if (di->global_mem_bytes && total > di->global_mem_bytes)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY,
                          "a run of batch %zu x %zu tokens needs %.1f MiB (weights and "
                          "activations) but device '%s' has %.1f MiB",
                          f->B, f->S, (double)total / 1048576.0, di->name,
                          (double)di->global_mem_bytes / 1048576.0);
    for (int i = 0; i < SCR_COUNT; i++) {
        vitcl_status st = ensure(m, i, need[i]);
        if (st)
            return st;
    }
    f->s = m->s.buf;
    return VITCL_OK;
}

/* The position table for a gh x gw grid: the stored one, or a cached bicubic resampling. */
static vitcl_status position_table(fwd *f, size_t gh, size_t gw, int interpolate, size_t H,
                                   size_t W, vitcl_buffer **out)
{
    vitcl_model *m = f->m;
    size_t g0 = m->grid0;
    if (!interpolate || (gh * gw == g0 * g0 && H == W)) {
        *out = m->pos;
        return VITCL_OK;
    }
    for (size_t i = 0; i < MODEL_POS_CACHE; i++)
        if (m->pos_cache[i].buf && m->pos_cache[i].gh == gh && m->pos_cache[i].gw == gw) {
            *out = m->pos_cache[i].buf;
            return VITCL_OK;
        }
    size_t rows = gh * gw + 1;
    float *tab = malloc(rows * f->D * sizeof(float));
    if (!tab)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "out of memory interpolating positions");
    vitcl_pos_interp_bicubic(m->pos_host, g0, f->D, tab, gh, gw);
    pos_table *slot = &m->pos_cache[m->pos_cache_next];
    m->pos_cache_next = (m->pos_cache_next + 1) % MODEL_POS_CACHE;
    bf_free(f->be, slot->buf);
    slot->buf = NULL;
    slot->gh = slot->gw = 0;
    vitcl_status st = bf_alloc(f->be, rows * f->D * sizeof(float),
                               "embeddings.position_embeddings (interpolated)", &slot->buf);
    if (!st)
        st = bf_write(f->be, slot->buf, 0, tab, rows * f->D * sizeof(float));
    free(tab);
    if (st) {
        bf_free(f->be, slot->buf);
        slot->buf = NULL;
        return vitcl_fail_prefix(st, "interpolated position embeddings: ");
    }
    slot->gh = gh;
    slot->gw = gw;
    *out = slot->buf;
    return VITCL_OK;
}

/* Runs a facade call; on failure prefixes the facade's message with where it happened. */
#define CALL(expr, ...)                                                                            \
    do {                                                                                           \
        vitcl_status st_ = (expr);                                                                 \
        if (st_) {                                                                                 \
            char what_[160];                                                                       \
            snprintf(what_, sizeof what_, __VA_ARGS__);                                            \
            return vitcl_fail_prefix(st_, "%s: ", what_);                                          \
        }                                                                                          \
    } while (0)

static vitcl_status linear(fwd *f, vitcl_buffer *x, const model_linear *l, vitcl_buffer *y,
                           size_t rows, uint32_t flags, const char *what, size_t layer)
{
    flags |= l->packed ? VITCL_LINEAR_PACKED_W : 0;
    CALL(bf_linear(f->be, x, l->w, l->b, y, rows, l->n, l->k, flags, l->precision),
         "layer %zu %s (linear %zux%zu <- %zu)", layer, what, rows, l->n, l->k);
    return VITCL_OK;
}

/* y += the linear layer of x (y the residual stream); tmp holds the product where the plugin
 * cannot add it in its epilogue. */
static vitcl_status linear_residual(fwd *f, vitcl_buffer *x, const model_linear *l,
                                    vitcl_buffer *y, vitcl_buffer *tmp, size_t rows,
                                    const char *what, size_t layer)
{
    uint32_t flags = l->packed ? VITCL_LINEAR_PACKED_W : 0;
    CALL(bf_linear_residual(f->be, x, l->w, l->b, y, tmp, rows, l->n, l->k, flags,
                            l->precision),
         "layer %zu %s + residual (linear %zux%zu <- %zu)", layer, what, rows, l->n, l->k);
    return VITCL_OK;
}

/* Attention from gemm_batched and softmax, a chunk of heads at a time per image. */
static vitcl_status composed_attention(fwd *f, size_t layer, float scale)
{
    size_t S = f->S, D = f->D, dh = f->dh, ld = 3 * D;
    size_t chunk = f->m->s.cap[SCR_SCORES] / (S * S);
    vitcl_buffer *qkv = f->s[SCR_QKV], *sc = f->s[SCR_SCORES], *ctx = f->s[SCR_CTX];
    for (size_t b = 0; b < f->B; b++) {
        for (size_t h0 = 0; h0 < f->Hh; h0 += chunk) {
            size_t nh = f->Hh - h0 < chunk ? f->Hh - h0 : chunk;
            size_t base = b * S * ld + h0 * dh;
            CALL(bf_gemm_batched(f->be, 0, 1, S, S, dh, scale, qkv, base, ld, dh, qkv, base + D,
                                 ld, dh, 0.0f, sc, 0, S, S * S, nh),
                 "layer %zu attention scores (image %zu)", layer, b);
            CALL(bf_softmax(f->be, sc, sc, nh * S, S, 1.0f),
                 "layer %zu attention softmax (image %zu)", layer, b);
            CALL(bf_gemm_batched(f->be, 0, 0, S, dh, S, 1.0f, sc, 0, S, S * S, qkv, base + 2 * D,
                                 ld, dh, 0.0f, ctx, b * S * D + h0 * dh, D, dh, nh),
                 "layer %zu attention context (image %zu)", layer, b);
        }
    }
    return VITCL_OK;
}

static vitcl_status encoder_layer(fwd *f, size_t l, int fused_attn)
{
    const model_layer *ly = &f->m->layers[l];
    float eps = f->m->cfg.layer_norm_eps;
    size_t T = f->T, D = f->D;
    vitcl_buffer *h = f->s[SCR_H], *a = f->s[SCR_A];
    vitcl_status st;
    CALL(bf_layernorm(f->be, h, ly->ln1_g, ly->ln1_b, a, T, D, eps),
         "layer %zu layernorm_before", l);
    if ((st = linear(f, a, &ly->qkv, f->s[SCR_QKV], T, 0, "qkv", l)))
        return st;
    float scale = 1.0f / sqrtf((float)f->dh);
    if (fused_attn) {
        CALL(bf_attention(f->be, f->s[SCR_QKV], 0, 3 * D, f->s[SCR_QKV], D, 3 * D,
                          f->s[SCR_QKV], 2 * D, 3 * D, f->s[SCR_CTX], 0, D, f->B, f->S, f->Hh,
                          f->dh, scale),
             "layer %zu attention", l);
    } else if ((st = composed_attention(f, l, scale))) {
        return st;
    }
    if ((st = linear_residual(f, f->s[SCR_CTX], &ly->out, h, a, T, "attention.output", l)))
        return st;
    CALL(bf_layernorm(f->be, h, ly->ln2_g, ly->ln2_b, a, T, D, eps),
         "layer %zu layernorm_after", l);
    if ((st = linear(f, a, &ly->fc1, f->s[SCR_MLP], T, VITCL_LINEAR_GELU, "intermediate", l)) ||
        (st = linear_residual(f, f->s[SCR_MLP], &ly->fc2, h, a, T, "output", l)))
        return st;
    return VITCL_OK;
}

static vitcl_status read_back(fwd *f, vitcl_buffer *buf, float *dst, size_t floats,
                              const char *what)
{
    CALL(bf_read(f->be, buf, 0, dst, floats * sizeof(float)), "reading %s", what);
    return VITCL_OK;
}

/* SCR_POOL[b] = (1/S) * ones[1, S] . a_b[S, D] for every image b: the mean over its tokens, as
 * one batched GEMM (A's batch stride 0 shares the ones row). */
static vitcl_status mean_pool(fwd *f, vitcl_buffer *a)
{
    size_t S = f->S, D = f->D;
    float *ones = malloc(S * sizeof(float));
    if (!ones)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "out of memory for mean pooling");
    for (size_t i = 0; i < S; i++)
        ones[i] = 1.0f;
    vitcl_status st = bf_write(f->be, f->s[SCR_ONES], 0, ones, S * sizeof(float));
    free(ones);
    if (st)
        return vitcl_fail_prefix(st, "mean pooling: ");
    CALL(bf_gemm_batched(f->be, 0, 0, 1, D, S, 1.0f / (float)S, f->s[SCR_ONES], 0, S, 0, a, 0, D,
                         S * D, 0.0f, f->s[SCR_POOL], 0, D, D, f->B),
         "mean pooling");
    return VITCL_OK;
}

vitcl_status model_forward(vitcl_model *m, const float *pixels, size_t B, size_t H, size_t W,
                           const vitcl_run_options *opt, vitcl_output *out)
{
    const vitcl_vit_config *c = &m->cfg;
    int interp = VITCL_HAS_FIELD(opt, vitcl_run_options, interpolate_pos_encoding);
    int want_hidden = VITCL_HAS_FIELD(opt, vitcl_run_options, output_hidden_states);
    int pooling = VITCL_HAS_FIELD(opt, vitcl_run_options, pooling) ? opt->pooling
                                                                    : VITCL_POOLING_NONE;
    if (pooling != VITCL_POOLING_NONE && pooling != VITCL_POOLING_CLS &&
        pooling != VITCL_POOLING_MEAN)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                          "pooling %d is not VITCL_POOLING_NONE, _CLS or _MEAN", pooling);
    if (!interp && (H != c->image_size || W != c->image_size))
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                          "input size %zux%zu differs from the model's image_size %zux%zu; pass "
                          "interpolate_pos_encoding (CLI: --interpolate-pos-encoding) to run it",
                          H, W, c->image_size, c->image_size);
    if (H < c->patch_size || W < c->patch_size)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                          "input size %zux%zu is smaller than one %zux%zu patch", H, W,
                          c->patch_size, c->patch_size);
    char what[96];
    snprintf(what, sizeof what, "input %zux%zu", H, W);
    vitcl_status lst = vitcl_check_tokens(H / c->patch_size, W / c->patch_size, what);
    if (lst != VITCL_OK)
        return lst;
    fwd fs = {.m = m, .be = m->be};
    fwd *f = &fs;
    size_t gh = H / c->patch_size, gw = W / c->patch_size;
    f->B = B;
    f->S = gh * gw + 1;
    f->D = c->hidden_size;
    f->Hh = c->num_heads;
    f->dh = c->hidden_size / c->num_heads;
    f->I = c->intermediate_size;
    f->T = mul3(B, f->S, 1);
    size_t pixels_n = mul3(B, c->num_channels, mul3(H, W, 1));
    if (!f->T || !pixels_n || f->T > SIZE_MAX / (4 * f->I + 4 * f->D))
        return vitcl_fail(VITCL_ERR_LIMIT, "input of batch %zu at %zux%zu is too large", B, H, W);
    int fused_attn = use_fused_attention(f);
    vitcl_status st = prepare_scratch(f, pixels_n, want_hidden, fused_attn, pooling);
    if (st)
        return st;
    size_t T = f->T, D = f->D, S = f->S;

    out->batch = B;
    out->seq = S;
    out->dim = D;
    out->num_labels = m->num_labels;
    out->num_hidden = want_hidden ? c->num_layers + 1 : 0;
    if (pooling == VITCL_POOLING_NONE)
        out->last_hidden = malloc(T * D * sizeof(float));
    else
        out->pooled = malloc(B * D * sizeof(float));
    if (want_hidden)
        out->hidden = malloc(mul3(out->num_hidden, T * D, sizeof(float)));
    if (m->num_labels)
        out->logits = malloc(B * m->num_labels * sizeof(float));
    if (!(out->last_hidden || out->pooled) || (want_hidden && !out->hidden) ||
        (m->num_labels && !out->logits))
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "out of host memory for the outputs");

    /* Embeddings. */
    vitcl_buffer *h = f->s[SCR_H], *a = f->s[SCR_A], *pos = NULL;
    CALL(bf_write(f->be, f->s[SCR_PIX], 0, pixels, pixels_n * sizeof(float)),
         "uploading %zu pixels", pixels_n);
    CALL(bf_patch_embed(f->be, f->s[SCR_PIX], m->patch_w, m->patch_b, h, D, S * D, B,
                        c->num_channels, H, W, c->patch_size, D),
         "patch embedding");
    for (size_t b = 0; b < B; b++)
        CALL(bf_copy(f->be, h, b * S * D * sizeof(float), m->cls_token, 0, D * sizeof(float)),
             "CLS token (image %zu)", b);
    if ((st = position_table(f, gh, gw, interp, H, W, &pos)))
        return st;
    CALL(bf_add(f->be, h, pos, h, T * D, S * D), "position embeddings");

    for (size_t l = 0; l <= c->num_layers; l++) {
        if (want_hidden)
            CALL(bf_copy(f->be, f->s[SCR_HS], l * T * D * sizeof(float), h, 0,
                         T * D * sizeof(float)),
                 "saving hidden state %zu", l);
        if (l < c->num_layers && (st = encoder_layer(f, l, fused_attn)))
            return st;
    }
    CALL(bf_layernorm(f->be, h, m->lnf_g, m->lnf_b, a, T, D, c->layer_norm_eps),
         "final layernorm");
    if (m->num_labels || pooling == VITCL_POOLING_CLS)
        for (size_t b = 0; b < B; b++)
            CALL(bf_copy(f->be, f->s[SCR_CLS], b * D * sizeof(float), a,
                         b * S * D * sizeof(float), D * sizeof(float)),
                 "gathering CLS rows");
    if (m->num_labels &&
        (st = linear(f, f->s[SCR_CLS], &m->classifier, f->s[SCR_LOGITS], B, 0, "classifier",
                     c->num_layers)))
        return st;
    if (pooling == VITCL_POOLING_MEAN && (st = mean_pool(f, a)))
        return st;
    if (pooling == VITCL_POOLING_NONE)
        st = read_back(f, a, out->last_hidden, T * D, "last_hidden_state");
    else
        st = read_back(f, f->s[pooling == VITCL_POOLING_CLS ? SCR_CLS : SCR_POOL], out->pooled,
                       B * D, "pooled rows");
    if (st)
        return st;
    if (want_hidden &&
        (st = read_back(f, f->s[SCR_HS], out->hidden, out->num_hidden * T * D, "hidden states")))
        return st;
    if (m->num_labels &&
        (st = read_back(f, f->s[SCR_LOGITS], out->logits, B * m->num_labels, "logits")))
        return st;
    return VITCL_OK;
}

vitcl_status model_warmup(vitcl_model *m)
{
    const vitcl_vit_config *c = &m->cfg;
    fwd fs = {.m = m, .be = m->be};
    fwd *f = &fs;
    f->B = 1;
    f->S = m->grid0 * m->grid0 + 1;
    f->T = f->S;
    f->D = c->hidden_size;
    f->Hh = c->num_heads;
    f->dh = c->hidden_size / c->num_heads;
    f->I = c->intermediate_size;
    int fused_attn = use_fused_attention(f);
    size_t pixels = c->num_channels * c->image_size * c->image_size;
    vitcl_status st = prepare_scratch(f, pixels, 0, fused_attn, VITCL_POOLING_NONE);
    if (st)
        return st;
    float *zeros = calloc(f->T * f->D, sizeof(float));
    if (!zeros)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "out of memory for the warm-up input");
    st = bf_write(f->be, f->s[SCR_H], 0, zeros, f->T * f->D * sizeof(float));
    free(zeros);
    if (st)
        return vitcl_fail_prefix(st, "warm-up input: ");
    /* One layer at the native size runs every GEMM shape of the forward once. */
    if (c->num_layers && (st = encoder_layer(f, 0, fused_attn)))
        return st;
    CALL(bf_sync(f->be), "warm-up");
    return VITCL_OK;
}
