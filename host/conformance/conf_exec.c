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
    case VITCL_OP_LINEAR: s.m = c->m, s.n = c->n, s.k = c->k, s.flags = c->flags; break;
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
    case VITCL_OP_LINEAR_PACK_WEIGHT:
    case VITCL_OP_PACK_WEIGHT_HOST: s.n = c->n, s.k = c->k; break;
    case VITCL_OP_COUNT_: break;
    }
    s.struct_size = (uint32_t)sizeof s;
    return s;
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
    if (!VITCL_HAS_FIELD(ops, vitcl_op_table, supports))
        return NULL;
    vitcl_op_shape s = shape_of(c, c->op);
    if (!ops->supports(be->ctx, c->op, &s))
        return "supports() rejects this shape";
    if (c->op == VITCL_OP_LINEAR_PACK_WEIGHT) {
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
    case VITCL_OP_PACK_WEIGHT_HOST: /* no case builds one yet */
    case VITCL_OP_COUNT_: break;
    }
#undef BUF
    return VITCL_ERR_INTERNAL;
}

/* Uploads c's tensors to be, runs the op (packing W first for packed cases), reads every tensor
 * back into out[t] (caller-allocated, t->count floats each). Returns 0 on success, 1 when the
 * plugin (or its allocation) failed; why says which call and the plugin's message. */
static int run_on(vitcl_backend *be, const conf_case *c, float **out, double *ms, char *why,
                  size_t whylen)
{
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
    if (st == VITCL_OK && (st = d->synchronize(be->ctx)) != VITCL_OK)
        step = "synchronize before the op";
    double t0 = now_ms();
    if (st == VITCL_OK) {
        step = c->op == VITCL_OP_LINEAR_PACK_WEIGHT ? "linear (packed W)" : c->op_name;
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
    d->buffer_free(be->ctx, P);
    for (size_t i = 0; i < c->nt; i++)
        d->buffer_free(be->ctx, bufs[i]);
    pthread_mutex_unlock(&be->lock);
    return st == VITCL_OK ? 0 : 1;
}

static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Compares the plugin's buffers (got) with ref's (want) and fills r's verdict. */
static void compare(const conf_case *c, float *const *want, float *const *got, conf_result *r)
{
    double max_err = 0.0, max_ref = 0.0;
    const char *worst_t = "", *bad = NULL;
    long worst_i = 0;
    float worst_got = 0.0f, worst_want = 0.0f;
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
            double g = got[t][i], w = want[t][i];
            double e = (isnan(g) && isnan(w)) ? 0.0 : fabs(g - w);
            if (isnan(e))
                e = INFINITY;
            if (isfinite(w))
                max_ref = fmax(max_ref, fabs(w));
            if (e > max_err || (e == INFINITY && max_err < INFINITY)) {
                max_err = e, worst_t = tn->name, worst_i = at;
                worst_got = got[t][i], worst_want = want[t][i];
                if (isnan(g) && !isnan(w) && same_bits(got[t][i], tn->init[i]))
                    bad = "unwritten";
            }
            if (bad != NULL) {
                set_note(r, "%s[%ld] was never written (still NaN; ref gives %.9g)", tn->name,
                         at, (double)want[t][i]);
                break;
            }
        }
    }
    r->max_err = bad != NULL ? INFINITY : max_err;
    r->tol = c->atol + c->rtol * (c->scale_ref > 0 ? c->scale_ref : max_ref);
    if (bad != NULL) {
        r->verdict = CONF_FAIL;
    } else if (max_err <= r->tol) {
        r->verdict = CONF_PASS;
    } else {
        r->verdict = CONF_FAIL;
        set_note(r, "largest error at %s[%ld]: got %.9g, ref %.9g", worst_t, worst_i,
                 (double)worst_got, (double)worst_want);
    }
}

vitcl_status conf_exec_case(vitcl_backend *test, vitcl_backend *ref, const conf_case *c,
                            conf_result *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->op, sizeof r->op, "%s", c->op_name);
    snprintf(r->shape, sizeof r->shape, "%s", c->shape);
    r->tol = NAN;
    r->max_err = NAN;
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
    if (st == VITCL_OK) {
        if (run_on(ref, c, want, &ref_ms, msg, sizeof msg) != 0) {
            r->verdict = CONF_FAIL;
            set_note(r, "the reference failed: %s", msg);
        } else if (run_on(test, c, got, &r->ms, msg, sizeof msg) != 0) {
            r->verdict = CONF_FAIL;
            r->max_err = INFINITY;
            set_note(r, "%s", msg);
        } else {
            compare(c, want, got, r);
        }
    }
    for (size_t t = 0; t < c->nt; t++) {
        free(want[t]);
        free(got[t]);
    }
    return st;
}
