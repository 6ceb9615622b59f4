/* host/model/model_internal.h - a loaded model: config, weights in backend buffers, the
 * activation buffers reused across layers and runs, and interpolated position tables. */
#ifndef VITCL_HOST_MODEL_INTERNAL_H
#define VITCL_HOST_MODEL_INTERNAL_H

#include "config.h"
#include "loader_internal.h"
#include "vitcl/vitcl.h"
#include "weights.h"

/* A linear layer's weight as the backend's linear op takes it. */
typedef struct model_linear {
    vitcl_buffer *w;     /* [n, k], or the backend's packed layout when packed */
    vitcl_buffer *b;     /* [n], NULL when the layer has no bias */
    size_t n, k;
    int packed;          /* w is the plugin's layout: linear gets VITCL_LINEAR_PACKED_W */
    uint32_t precision;  /* vitcl_precision of w (FP32 unless bf_pack_host stored it reduced) */
} model_linear;

typedef struct model_layer {
    vitcl_buffer *ln1_g, *ln1_b, *ln2_g, *ln2_b;
    model_linear qkv;    /* query, key, value fused into one [3D, D] weight */
    model_linear out;    /* attention.output.dense */
    model_linear fc1;    /* intermediate.dense, followed by GELU */
    model_linear fc2;    /* output.dense */
} model_layer;

#define MODEL_POS_CACHE 4

typedef struct pos_table {
    size_t gh, gw;       /* 0 when the slot is empty */
    vitcl_buffer *buf;   /* [(gh*gw) + 1, D] */
} pos_table;

/* Activation buffers, each grown on demand and otherwise reused across layers and runs. */
enum {
    SCR_H,      /* residual stream [B*S, D] */
    SCR_A,      /* LayerNorm and projection outputs [B*S, D] */
    SCR_QKV,    /* fused query/key/value [B*S, 3D] */
    SCR_CTX,    /* attention context [B*S, D] */
    SCR_MLP,    /* MLP hidden [B*S, I] */
    SCR_PIX,    /* input pixels [B, C, H, W] */
    SCR_SCORES, /* composed attention only: [heads_per_chunk, S, S] */
    SCR_HS,     /* hidden states [(L+1), B*S, D] when requested */
    SCR_CLS,    /* CLS rows after the final LayerNorm [B, D] */
    SCR_LOGITS, /* classifier output [B, C] */
    SCR_ONES,   /* mean pooling: S ones, the left operand of the averaging GEMM */
    SCR_POOL,   /* mean pooling output [B, D] */
    SCR_COUNT
};

typedef struct model_scratch {
    vitcl_buffer *buf[SCR_COUNT];
    size_t cap[SCR_COUNT]; /* floats each buffer holds */
} model_scratch;

struct vitcl_model {
    vitcl_backend *be;
    vitcl_vit_config cfg;
    vitcl_model_config info;
    vitcl_weights *weights;  /* kept open only while backend buffers alias its memory */
    size_t num_labels;       /* classifier rows, 0 without a head */
    size_t grid0;            /* sqrt of the stored patch positions */
    uint64_t weight_bytes;   /* bytes of the weights on the device (linear weights at 2 bytes
                                an element in bf16 and fp16) */
    int precision;           /* vitcl_precision of the linear weights */
    vitcl_buffer *patch_w, *patch_b, *cls_token, *pos, *lnf_g, *lnf_b;
    model_linear classifier;
    model_layer *layers;
    float *pos_host;         /* stored position table on the host, for interpolation */
    pos_table pos_cache[MODEL_POS_CACHE];
    size_t pos_cache_next;
    model_scratch s;
};

struct vitcl_output {
    size_t batch, seq, dim, num_labels, num_hidden;
    float *last_hidden;      /* [B, S, D] */
    float *hidden;           /* [(L+1), B, S, D] or NULL */
    float *logits;           /* [B, C] or NULL */
    float *pooled;           /* [B, D] with pooling CLS or MEAN, else NULL */
};

/* Frees every backend buffer of a linear layer. */
void model_linear_free(vitcl_backend *be, model_linear *l);

/* Runs the encoder; be->lock is held by the caller. */
vitcl_status model_forward(vitcl_model *m, const float *pixels, size_t batch, size_t height,
                           size_t width, const vitcl_run_options *opt, vitcl_output *out);

/* Runs one encoder layer on zeros at batch 1 and the native size, so backends that compile
 * kernels per shape on first use (CLBlast) do it at load with the model's real shapes. The
 * caller holds be->lock. */
vitcl_status model_warmup(vitcl_model *m);

/* Frees the scratch buffers. */
void model_scratch_free(vitcl_model *m);

#endif
