/* tests/cpu/cpu_harness.c - see cpu_harness.h. */
#include "cpu_harness.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

plugin_handle CPU, REF;

void plugin_open(plugin_handle *h, const char *name)
{
    const char *root = getenv("VITCL_BUILD_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/%s/vitcl_%s.so", root ? root : VITCL_BUILD_ROOT,
             name, name);
    memset(h, 0, sizeof *h);
    h->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_assert(h->dl != NULL, "dlopen %s: %s", path, dlerror());
    vitcl_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h->dl, VITCL_PLUGIN_ENTRY_SYMBOL);
    cr_assert(entry != NULL, "%s has no entry symbol", path);
    h->desc = entry(VITCL_ABI_MAJOR, VITCL_ABI_MINOR);
    cr_assert(h->desc != NULL);
    h->ops = h->desc->ops;
    char err[512] = "";
    cr_assert_eq(h->desc->init(&h->state, err, sizeof err), VITCL_OK, "%s init: %s", name, err);
    cr_assert_eq(h->desc->context_create(h->state, 0, &h->ctx, err, sizeof err), VITCL_OK,
                 "%s context_create: %s", name, err);
}

void plugin_close(plugin_handle *h)
{
    if (!h->desc)
        return;
    h->desc->context_destroy(h->ctx);
    h->desc->shutdown(h->state);
    dlclose(h->dl);
    memset(h, 0, sizeof *h);
}

void harness_setup(void)
{
    plugin_open(&CPU, "cpu");
    plugin_open(&REF, "ref");
    rng_seed(12345);
}

void harness_teardown(void)
{
    plugin_close(&CPU);
    plugin_close(&REF);
}

static vitcl_buffer *new_on(const plugin_handle *h, const float *data, size_t count,
                            const char *label)
{
    vitcl_buffer *b = NULL;
    size_t bytes = count * sizeof(float);
    cr_assert_eq(h->desc->buffer_alloc(h->ctx, bytes, label, &b), VITCL_OK, "alloc %s: %s",
                 label, h->desc->last_error(h->ctx));
    float *tmp = NULL;
    if (!data) {
        tmp = malloc(bytes);
        cr_assert(tmp);
        for (size_t i = 0; i < count; i++)
            tmp[i] = NAN;
        data = tmp;
    }
    cr_assert_eq(h->desc->buffer_write(h->ctx, b, 0, data, bytes), VITCL_OK);
    free(tmp);
    return b;
}

pair pair_new(const float *data, size_t count, const char *label)
{
    pair p = {new_on(&CPU, data, count, label), new_on(&REF, data, count, label), count};
    return p;
}

void pair_free(pair p)
{
    CPU.desc->buffer_free(CPU.ctx, p.c);
    REF.desc->buffer_free(REF.ctx, p.r);
}

vitcl_buffer *cbuf_new(const float *data, size_t count, const char *label)
{
    return new_on(&CPU, data, count, label);
}

float *buf_get(const plugin_handle *h, const vitcl_buffer *b, size_t count)
{
    float *out = malloc(count * sizeof(float));
    cr_assert(out);
    cr_assert_eq(h->desc->buffer_read(h->ctx, b, 0, out, count * sizeof(float)), VITCL_OK,
                 "read: %s", h->desc->last_error(h->ctx));
    return out;
}

static uint64_t rng_state;

void rng_seed(uint64_t seed)
{
    rng_state = seed;
}

float rng_uniform(float lo, float hi)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    double u = (double)(z >> 11) / 9007199254740992.0;
    return (float)(lo + (hi - lo) * u);
}

float *rand_array(size_t count, float lo, float hi)
{
    float *a = malloc((count ? count : 1) * sizeof(float));
    cr_assert(a);
    for (size_t i = 0; i < count; i++)
        a[i] = rng_uniform(lo, hi);
    return a;
}

void assert_close(const char *what, const float *got, const float *want, const double *bound,
                  double atol, double rtol, size_t count)
{
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < count; i++) {
        double b = bound ? bound[i] : atol + rtol * fabs((double)want[i]);
        double d = fabs((double)got[i] - (double)want[i]);
        if (isnan(got[i]) || isnan(want[i]))
            cr_assert(0, "%s: NaN at %zu (got %g, want %g)", what, i, (double)got[i],
                      (double)want[i]);
        double r = b > 0 ? d / b : (d > 0 ? INFINITY : 0);
        if (r > worst) {
            worst = r;
            wi = i;
        }
    }
    cr_assert(worst <= 1.0, "%s: element %zu got %.9g want %.9g (error %.3g of the allowed %.3g)",
              what, wi, (double)got[wi], (double)want[wi],
              fabs((double)got[wi] - (double)want[wi]),
              bound ? bound[wi] : atol + rtol * fabs((double)want[wi]));
}

void assert_pair_close(const char *what, pair out, const double *bound, double atol, double rtol)
{
    float *g = buf_get(&CPU, out.c, out.count);
    float *w = buf_get(&REF, out.r, out.count);
    assert_close(what, g, w, bound, atol, rtol, out.count);
    free(g);
    free(w);
}

void assert_error_mentions(const char *needle)
{
    const char *msg = CPU.desc->last_error(CPU.ctx);
    cr_assert(msg && strstr(msg, needle), "last error '%s' does not mention '%s'",
              msg ? msg : "(null)", needle);
}
