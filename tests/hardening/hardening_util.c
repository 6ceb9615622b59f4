/* tests/hardening/hardening_util.c - see hardening_util.h. */
#include "hardening_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void harden_require(int ok, const char *fmt, ...)
{
    if (ok)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hardening test setup failed: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

const char *harden_model_dir(const char *name)
{
    static _Thread_local char path[1024];
    snprintf(path, sizeof path, "%s/%s", HARDEN_FIXTURES, name);
    return path;
}

float *harden_pixels(size_t batch, size_t h, size_t w, uint32_t seed)
{
    size_t n = batch * 3 * h * w;
    float *p = malloc(n * sizeof *p);
    harden_require(p != NULL, "out of memory");
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (float)(x % 2001u) / 1000.0f - 1.0f;
    }
    return p;
}

static float *dup_floats(const float *src, size_t n)
{
    if (!src)
        return NULL;
    float *d = malloc(n * sizeof *d);
    harden_require(d != NULL, "out of memory");
    memcpy(d, src, n * sizeof *d);
    return d;
}

void harden_result_take(const vitcl_output *out, harden_result *r)
{
    memset(r, 0, sizeof *r);
    const float *last = vitcl_output_last_hidden_state(out, &r->batch, &r->seq, &r->dim);
    harden_require(last != NULL, "out of memory");
    size_t tsd = r->batch * r->seq * r->dim;
    r->last = dup_floats(last, tsd);
    r->num_hidden = vitcl_output_num_hidden_states(out);
    if (r->num_hidden) {
        r->hidden = malloc(r->num_hidden * tsd * sizeof(float));
        harden_require(r->hidden != NULL, "out of memory");
        for (size_t i = 0; i < r->num_hidden; i++) {
            const float *h = vitcl_output_hidden_state(out, i);
            harden_require(h != NULL, "out of memory");
            memcpy(r->hidden + i * tsd, h, tsd * sizeof(float));
        }
    }
    const float *logits = vitcl_output_logits(out, &r->num_labels);
    r->logits = logits ? dup_floats(logits, r->batch * r->num_labels) : NULL;
}

void harden_result_free(harden_result *r)
{
    free(r->last);
    free(r->hidden);
    free(r->logits);
    memset(r, 0, sizeof *r);
}

int harden_result_equal(const harden_result *a, const harden_result *b)
{
    if (a->batch != b->batch || a->seq != b->seq || a->dim != b->dim ||
        a->num_labels != b->num_labels || a->num_hidden != b->num_hidden ||
        !a->logits != !b->logits)
        return 0;
    size_t tsd = a->batch * a->seq * a->dim;
    if (memcmp(a->last, b->last, tsd * sizeof(float)))
        return 0;
    if (a->num_hidden && memcmp(a->hidden, b->hidden, a->num_hidden * tsd * sizeof(float)))
        return 0;
    if (a->logits && memcmp(a->logits, b->logits, a->batch * a->num_labels * sizeof(float)))
        return 0;
    return 1;
}

void harden_open(const char *plugin, vitcl_registry **reg, vitcl_backend **be)
{
    harden_require(vitcl_registry_open(NULL, reg) == VITCL_OK, "%s", vitcl_last_error());
    harden_require(vitcl_backend_open(*reg, plugin, NULL, be) == VITCL_OK, "%s",
                   vitcl_last_error());
}

vitcl_status harden_run(vitcl_model *m, const float *pixels, size_t batch, size_t h, size_t w,
                        harden_result *r)
{
    vitcl_run_options opt = {.struct_size = sizeof opt, .interpolate_pos_encoding = 1,
                             .output_hidden_states = 1};
    vitcl_output *out = NULL;
    vitcl_status st = vitcl_model_run(m, pixels, batch, h, w, &opt, &out);
    if (st == VITCL_OK) {
        harden_require(out != NULL, "vitcl_model_run succeeded without an output");
        harden_result_take(out, r);
    } else {
        harden_require(out == NULL, "a failed run must leave *out NULL");
    }
    vitcl_output_free(out);
    return st;
}
