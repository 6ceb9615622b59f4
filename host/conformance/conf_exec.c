/* host/conformance/conf_exec.c - runs one conformance case on the plugin under test and on ref,
 * then compares: written floats within the case's tolerance, every other float of every buffer
 * bit-identical to what it held before. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf_internal.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void set_note(conf_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_note(conf_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->note, sizeof r->note, fmt, ap);
    va_end(ap);
}

/* The shape supports() is asked about. */
static vitcl_op_shape shape_of(const conf_case *c, vitcl_op op)
{
    vitcl_op_shape s;
    memset(&s, 0, sizeof s);
    switch (op) {
    case VITCL_OP_LINEAR:
        s.m = c->m, s.n = c->n, s.k = c->k, s.flags = c->flags;
        s.precision = c->op == VITCL_OP_PACK_WEIGHT_HOST ? c->precision : VITCL_PRECISION_FP32;
        break;
    case VITCL_OP_GEMM_BATCHED: s.m = c->m, s.n = c->n, s.k = c->k, s.batch = c->batch; break;
    case VITCL_OP_LAYERNORM:
    case VITCL_OP_SOFTMAX: s.m = c->m, s.n = c->n; break;
    case VITCL_OP_GELU:
    case VITCL_OP_ADD: s.n = c->n; break;
    case VITCL_OP_ATTENTION:
        s.batch = c->batch, s.seq = c->seq, s.heads = c->heads, s.head_dim = c->head_dim;
        break;
    case VITCL_OP_PATCH_EMBED:
        s.batch = c->batch, s.channels = c->channels, s.height = c->height, s.width = c->width;
        s.patch = c->patch, s.n = c->n;
        break;
    case VITCL_OP_LINEAR_PACK_WEIGHT: s.n = c->n, s.k = c->k; break;
    case VITCL_OP_PACK_WEIGHT_HOST:
        s.n = c->n, s.k = c->k, s.precision = c->precision, s.dtype = c->dtype;
        break;
    case VITCL_OP_COUNT_: break;
    }
    s.struct_size = (uint32_t)sizeof s;
    return s;
}

/* Whether a pack_weight_host case is to run on `be` at all: CONF_PASS when it is (the verdict
 * is then the comparison's), CONF_NOT_RUN when the device does not claim the precision or, in
 * fp32, the plugin has no pack_weight_host or its supports() declines it (the host then widens
 * or wraps the weight itself and uses the paths checked by the linear cases), CONF_FAIL when
 * the device claims bf16 or fp16 but cannot pack a weight in it. why says which. */
static conf_verdict precision_gate(const vitcl_backend *be, const conf_case *c, char *why,
                                   size_t len)
{
    if (c->op != VITCL_OP_PACK_WEIGHT_HOST)
        return CONF_PASS;
    const char *prec = conf_precision_name(c->precision);
    int claimed = c->precision == VITCL_PRECISION_FP32 ||
                  (be->info.precisions & VITCL_PRECISION_BIT(c->precision)) != 0;
    int has_pack = VITCL_HAS_FIELD(be->ops, vitcl_op_table, pack_weight_host);
    if (!claimed) {
        snprintf(why, len, "device '%s' does not claim %s (vitcl_device_info.precisions 0x%x)",
                 be->info.name, prec, (unsigned)be->info.precisions);
        return CONF_NOT_RUN;
    }
    if (!has_pack && c->precision == VITCL_PRECISION_FP32) {
        snprintf(why, len, "pack_weight_host is not implemented (NULL or ABI %u.%u): fp32 "
                 "models widen weights on the host", (unsigned)be->desc->abi_major,
                 (unsigned)be->desc->abi_minor);
        return CONF_NOT_RUN;
    }
    if (!has_pack) {
        snprintf(why, len, "device '%s' claims %s, but pack_weight_host is NULL: no %s weight "
                 "can be built", be->info.name, prec, prec);
        return CONF_FAIL;
    }
    vitcl_op_shape s = shape_of(c, VITCL_OP_PACK_WEIGHT_HOST);
    if (c->precision == VITCL_PRECISION_FP32 &&
        VITCL_HAS_FIELD(be->ops, vitcl_op_table, supports) &&
        !be->ops->supports(be->ctx, VITCL_OP_PACK_WEIGHT_HOST, &s)) {
        /* backend.h: in fp32 the host then widens or wraps the weight and takes the 1.0 path. */
        snprintf(why, len, "supports() declines pack_weight_host in fp32 for %s weights: fp32 "
                 "models then use the host's weight (checked by the linear cases)",
                 conf_dtype_name(c->dtype));
        return CONF_NOT_RUN;
    }
    return CONF_PASS;
}

/* NULL when the backend can run c, else why not (an absent optional op, a supports() refusal). */
static const char *unsupported(const vitcl_backend *be, const conf_case *c)
{
    const vitcl_op_table *ops = be->ops;
    if (c->op == VITCL_OP_ATTENTION && !VITCL_HAS_FIELD(ops, vitcl_op_table, attention))
        return "optional op attention is not implemented (NULL)";
    if (c->op == VITCL_OP_LINEAR_PACK_WEIGHT &&
        !VITCL_HAS_FIELD(ops, vitcl_op_table, linear_pack_weight))
        return "optional op linear_pack_weight is not implemented (NULL)";
    /* The host asks for the residual add only where ABI 1.2 and supports() say it may. */
    if ((c->flags & VITCL_LINEAR_RESIDUAL) && be->desc->abi_minor < 2)
        return "VITCL_LINEAR_RESIDUAL is ABI 1.2 (the host adds after linear instead)";
    if ((c->flags & VITCL_LINEAR_RESIDUAL) && !VITCL_HAS_FIELD(ops, vitcl_op_table, supports))
        return "VITCL_LINEAR_RESIDUAL needs supports() to say yes (the host adds instead)";
    if (!VITCL_HAS_FIELD(ops, vitcl_op_table, supports))
        return NULL;
    vitcl_op_shape s = shape_of(c, c->op);
    if (!ops->supports(be->ctx, c->op, &s))
        return "supports() rejects this shape";
    if (c->op == VITCL_OP_LINEAR_PACK_WEIGHT || c->op == VITCL_OP_PACK_WEIGHT_HOST) {
        s = shape_of(c, VITCL_OP_LINEAR);
        if (!ops->supports(be->ctx, VITCL_OP_LINEAR, &s))
            return "supports() rejects linear with a packed weight at this shape";
    }
    return NULL;
}

/* Calls the op of c with buffers bufs (one per tensor) and the packed weight P (or NULL). */
static vitcl_status call_op(const vitcl_backend *be, const conf_case *c, vitcl_buffer **bufs,
                            vitcl_buffer *P)
{
    const vitcl_op_table *o = be->ops;
    vitcl_context *ctx = be->ctx;
#define BUF(a) (c->arg[a] >= 0 ? bufs[c->arg[a]] : NULL)
    const size_t *off = c->off;
    switch (c->op) {
    case VITCL_OP_PACK_WEIGHT_HOST:
        if (P == NULL) /* the reference: plain fp32 linear on W's exact values */
            return o->linear(ctx, BUF(CONF_ARG_X), off[CONF_ARG_X], BUF(CONF_ARG_W),
                             off[CONF_ARG_W], BUF(CONF_ARG_B), off[CONF_ARG_B], BUF(CONF_ARG_Y),
                             off[CONF_ARG_Y], c->m, c->n, c->k,
                             c->flags & ~(uint32_t)VITCL_LINEAR_PACKED_W);
        /* fall through */
    case VITCL_OP_LINEAR:
    case VITCL_OP_LINEAR_PACK_WEIGHT:
        return o->linear(ctx, BUF(CONF_ARG_X), off[CONF_ARG_X], P != NULL ? P : BUF(CONF_ARG_W),
                         P != NULL ? 0 : off[CONF_ARG_W], BUF(CONF_ARG_B), off[CONF_ARG_B],
                         BUF(CONF_ARG_Y), off[CONF_ARG_Y], c->m, c->n, c->k, c->flags);
    case VITCL_OP_GEMM_BATCHED:
        return o->gemm_batched(ctx, c->trans_a, c->trans_b, c->m, c->n, c->k, c->alpha,
                               BUF(CONF_ARG_X), off[CONF_ARG_X], c->ld[CONF_ARG_X],
                               c->stride[CONF_ARG_X], BUF(CONF_ARG_W), off[CONF_ARG_W],
                               c->ld[CONF_ARG_W], c->stride[CONF_ARG_W], c->beta, BUF(CONF_ARG_Y),
                               off[CONF_ARG_Y], c->ld[CONF_ARG_Y], c->stride[CONF_ARG_Y],
                               c->batch);
    case VITCL_OP_LAYERNORM:
        return o->layernorm(ctx, BUF(CONF_ARG_X), off[CONF_ARG_X], BUF(CONF_ARG_W),
                            off[CONF_ARG_W], BUF(CONF_ARG_B), off[CONF_ARG_B], BUF(CONF_ARG_Y),
                            off[CONF_ARG_Y], c->m, c->n, c->eps);
    case VITCL_OP_GELU:
        return o->gelu(ctx, BUF(CONF_ARG_X), off[CONF_ARG_X], BUF(CONF_ARG_Y), off[CONF_ARG_Y],
                       c->n);
    case VITCL_OP_ADD:
        return o->add(ctx, BUF(CONF_ARG_X), off[CONF_ARG_X], BUF(CONF_ARG_W), off[CONF_ARG_W],
                      BUF(CONF_ARG_Y), off[CONF_ARG_Y], c->n, c->k);
    case VITCL_OP_SOFTMAX:
        return o->softmax(ctx, BUF(CONF_ARG_X), off[CONF_ARG_X], BUF(CONF_ARG_Y),
                          off[CONF_ARG_Y], c->m, c->n, c->scale);
    case VITCL_OP_ATTENTION:
        return o->attention(ctx, BUF(CONF_ARG_X), off[CONF_ARG_X], c->ld[CONF_ARG_X],
                            BUF(CONF_ARG_K), off[CONF_ARG_K], c->ld[CONF_ARG_K], BUF(CONF_ARG_V),
                            off[CONF_ARG_V], c->ld[CONF_ARG_V], BUF(CONF_ARG_Y), off[CONF_ARG_Y],
                            c->ld[CONF_ARG_Y], c->batch, c->seq, c->heads, c->head_dim,
                            c->scale);
    case VITCL_OP_PATCH_EMBED:
        return o->patch_embed(ctx, BUF(CONF_ARG_X), off[CONF_ARG_X], BUF(CONF_ARG_W),
                              off[CONF_ARG_W], BUF(CONF_ARG_B), off[CONF_ARG_B], BUF(CONF_ARG_Y),
                              off[CONF_ARG_Y], c->stride[CONF_ARG_Y], c->batch, c->channels,
                              c->height, c->width, c->patch, c->n);
    case VITCL_OP_COUNT_: break;
    }
#undef BUF
    return VITCL_ERR_INTERNAL;
}

/* pack_weight_host on a copy of the case's host weight, which the plugin must leave as it was
 * and must not keep: the copy is overwritten with 0xFF (NaN in every dtype) right after the
 * call, and freed by the caller only after the op ran (*copy). Returns the status; *why is set
 * when the plugin wrote to it or returned no buffer. */
static vitcl_status pack_host(vitcl_backend *be, const conf_case *c, void **copy,
                              vitcl_buffer **P, const char **why)
{
    if ((*copy = malloc(c->w_host_bytes)) == NULL)
        return VITCL_ERR_OUT_OF_MEMORY;
    memcpy(*copy, c->w_host, c->w_host_bytes);
    vitcl_status st = be->ops->pack_weight_host(be->ctx, *copy, c->dtype, c->n, c->k,
                                                c->precision, "conformance host W", P);
    if (st == VITCL_OK && *P == NULL)
        *why = "pack_weight_host returned VITCL_OK without a buffer";
    else if (st == VITCL_OK && memcmp(*copy, c->w_host, c->w_host_bytes) != 0)
        *why = "pack_weight_host wrote to the host weight, which is const";
    memset(*copy, 0xFF, c->w_host_bytes);
    return st;
}

/* Uploads c's tensors to be, runs the op (packing W first for packed cases; pack_weight_host
 * cases pack only on the plugin under test, while ref, is_ref, runs plain linear), reads every
 * tensor back into out[t] (caller-allocated, t->count floats each). Returns 0 on success, 1
 * when the plugin (or its allocation) failed; why says which call and the plugin's message,
 * and *pack_refused whether it was pack_weight_host that failed. */
static int run_on(vitcl_backend *be, const conf_case *c, int is_ref, float **out, double *ms,
                  char *why, size_t whylen, int *pack_refused)
{
    void *host_copy = NULL;
    const char *misuse = NULL;
    const vitcl_backend_desc *d = be->desc;
    vitcl_buffer *bufs[CONF_MAX_TENSORS] = {NULL};
    vitcl_buffer *P = NULL;
    const char *step = "buffer_alloc";
    vitcl_status st = VITCL_OK;
    char label[64];
    pthread_mutex_lock(&be->lock);
    for (size_t i = 0; st == VITCL_OK && i < c->nt; i++) {
        snprintf(label, sizeof label, "conformance %s.%s", c->op_name, c->t[i].name);
        step = "buffer_alloc";
        st = d->buffer_alloc(be->ctx, c->t[i].count * sizeof(float), label, &bufs[i]);
        if (st == VITCL_OK) {
            step = "buffer_write";
            st = d->buffer_write(be->ctx, bufs[i], 0, c->t[i].init, c->t[i].count * sizeof(float));
        }
    }
    if (st == VITCL_OK && c->op == VITCL_OP_LINEAR_PACK_WEIGHT) {
        step = "linear_pack_weight";
        st = be->ops->linear_pack_weight(be->ctx, bufs[c->arg[CONF_ARG_W]], c->off[CONF_ARG_W],
                                         c->n, c->k, "conformance packed W", &P);
    }
    if (st == VITCL_OK && c->op == VITCL_OP_PACK_WEIGHT_HOST && !is_ref) {
        step = "pack_weight_host";
        st = pack_host(be, c, &host_copy, &P, &misuse);
        *pack_refused = st != VITCL_OK;
    }
    if (st == VITCL_OK && (st = d->synchronize(be->ctx)) != VITCL_OK)
        step = "synchronize before the op";
    double t0 = now_ms();
    if (st == VITCL_OK) {
        step = (c->op == VITCL_OP_LINEAR_PACK_WEIGHT || P != NULL) ? "linear (packed W)"
                                                                   : c->op_name;
        st = call_op(be, c, bufs, P);
        if (st == VITCL_OK && (st = d->synchronize(be->ctx)) != VITCL_OK)
            step = "synchronize after the op";
    }
    *ms = now_ms() - t0;
    for (size_t i = 0; st == VITCL_OK && i < c->nt; i++) {
        step = "buffer_read";
        st = d->buffer_read(be->ctx, bufs[i], 0, out[i], c->t[i].count * sizeof(float));
    }
    if (st != VITCL_OK)
        snprintf(why, whylen, "%s returned %s: %s", step, vitcl_status_name(st),
                 d->last_error(be->ctx));
    else if (misuse != NULL)
        snprintf(why, whylen, "%s", misuse);
    d->buffer_free(be->ctx, P);
    for (size_t i = 0; i < c->nt; i++)
        d->buffer_free(be->ctx, bufs[i]);
    pthread_mutex_unlock(&be->lock);
    free(host_copy);
    return st == VITCL_OK && misuse == NULL ? 0 : 1;
}

static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Compares the plugin's buffers (got) with ref's (want) and fills r's verdict. Written floats
 * are judged by the case's tolerance, or one by one by their tensor's bound[] (the row then
 * shows the float with the largest error / bound); expect[] replaces ref's value where set. */
static void compare(const conf_case *c, float *const *want, float *const *got, conf_result *r)
{
    double max_err = 0.0, max_ref = 0.0, worst_ratio = -1.0, worst_bound = 0.0;
    const char *worst_t = "", *bad = NULL;
    long worst_i = 0;
    float worst_got = 0.0f, worst_want = 0.0f;
    int per_element = 0, worst_fixed = 0;
    for (size_t t = 0; t < c->nt && bad == NULL; t++) {
        const conf_tensor *tn = &c->t[t];
        for (size_t i = 0; i < tn->count; i++) {
            long at = (long)i - CONF_GUARD;
            if (tn->write == NULL || !tn->write[i]) {
                if (!same_bits(got[t][i], tn->init[i])) {
                    set_note(r, "modified %s[%ld], which is not part of the op's output "
                             "(%s): %.9g, was %.9g", tn->name, at,
                             tn->write == NULL ? "an input" : "guard, padding or gap",
                             (double)got[t][i], (double)tn->init[i]);
                    bad = "guard";
                    break;
                }
                if (!same_bits(want[t][i], tn->init[i])) {
                    set_note(r, "the reference modified %s[%ld] outside the output", tn->name, at);
                    bad = "ref";
                    break;
                }
                continue;
            }
            int fixed = tn->expect != NULL && !isnan(tn->expect[i]);
            float wf = fixed ? tn->expect[i] : want[t][i];
            double g = got[t][i], w = wf;
            double e = (isnan(g) && isnan(w)) || (fixed && g == w) ? 0.0 : fabs(g - w);
            if (isnan(e) || (fixed && e != 0.0))
                e = INFINITY;
            if (isfinite(w))
                max_ref = fmax(max_ref, fabs(w));
            if (isnan(g) && !isnan(w) && same_bits(got[t][i], tn->init[i])) {
                set_note(r, "%s[%ld] was never written (still NaN; ref gives %.9g)", tn->name,
                         at, w);
                bad = "unwritten";
                break;
            }
            /* The float to show: the largest error, or the largest error / bound. */
            double bound = tn->bound != NULL ? tn->bound[i] : 0.0;
            double ratio = tn->bound != NULL ? (e == 0.0 ? 0.0 : e / bound) : e;
            per_element |= tn->bound != NULL;
            if (ratio > worst_ratio || (e == INFINITY && max_err < INFINITY)) {
                worst_ratio = ratio, worst_bound = bound;
                max_err = e, worst_t = tn->name, worst_i = at;
                worst_got = got[t][i], worst_want = wf, worst_fixed = fixed;
            }
        }
    }
    r->max_err = bad != NULL ? INFINITY : max_err;
    r->tol = per_element ? worst_bound
                         : c->atol + c->rtol * (c->scale_ref > 0 ? c->scale_ref : max_ref);
    if (bad != NULL) {
        r->verdict = CONF_FAIL;
    } else if (per_element ? worst_ratio <= 1.0 : max_err <= r->tol) {
        r->verdict = CONF_PASS;
    } else {
        r->verdict = CONF_FAIL;
        set_note(r, "%s at %s[%ld]: got %.9g, %s %.9g", per_element ? "beyond its bound"
                 : "largest error", worst_t, worst_i, (double)worst_got,
                 worst_fixed ? "must be" : "ref",
                 (double)worst_want);
    }
}

vitcl_status conf_exec_case(vitcl_backend *test, vitcl_backend *ref, const conf_case *c,
                            conf_result *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->op, sizeof r->op, "%s", c->op_name);
    snprintf(r->shape, sizeof r->shape, "%s", c->shape);
    snprintf(r->precision, sizeof r->precision, "%s",
             conf_precision_name(c->op == VITCL_OP_PACK_WEIGHT_HOST ? c->precision
                                                                    : VITCL_PRECISION_FP32));
    r->tol = NAN;
    r->max_err = NAN;
    conf_verdict gate = precision_gate(test, c, r->note, sizeof r->note);
    if (gate != CONF_PASS) {
        r->verdict = gate;
        return VITCL_OK;
    }
    const char *why = unsupported(test, c);
    if (why != NULL) {
        r->verdict = CONF_UNSUPPORTED;
        set_note(r, "%s", why);
        return VITCL_OK;
    }
    float *want[CONF_MAX_TENSORS] = {NULL}, *got[CONF_MAX_TENSORS] = {NULL};
    vitcl_status st = VITCL_OK;
    for (size_t t = 0; t < c->nt && st == VITCL_OK; t++) {
        want[t] = malloc(c->t[t].count * sizeof(float));
        got[t] = malloc(c->t[t].count * sizeof(float));
        if (want[t] == NULL || got[t] == NULL)
            st = VITCL_ERR_OUT_OF_MEMORY;
    }
    double ref_ms = 0.0;
    char msg[sizeof r->note - 32];
    int refused = 0;
    if (st == VITCL_OK) {
        if (run_on(ref, c, 1, want, &ref_ms, msg, sizeof msg, &refused) != 0) {
            r->verdict = CONF_FAIL;
            set_note(r, "the reference failed: %s", msg);
        } else if (run_on(test, c, 0, got, &r->ms, msg, sizeof msg, &refused) == 0) {
            compare(c, want, got, r);
        } else if (refused && c->pack_may_refuse) {
            /* A weight with finite values the precision cannot hold, refused: allowed. */
            r->verdict = CONF_PASS;
            set_note(r, "refused, as allowed: %s", msg);
        } else {
            r->verdict = CONF_FAIL;
            r->max_err = INFINITY;
            set_note(r, "%s", msg);
        }
    }
    for (size_t t = 0; t < c->nt; t++) {
        free(want[t]);
        free(got[t]);
    }
    return st;
}
