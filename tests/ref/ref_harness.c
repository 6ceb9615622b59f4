/* tests/ref/ref_harness.c - dlopen of the reference plugin, buffers, random data, tolerances. */
#include "ref_harness.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ref_harness H;

const char *ref_plugin_path(void)
{
    static char path[4096];
    const char *root = getenv("VITCL_BUILD_ROOT");
    if (root == NULL || root[0] == '\0')
        root = VITCL_BUILD_ROOT;
    snprintf(path, sizeof path, "%s/plugins/ref/vitcl_ref.so", root);
    return path;
}

void ref_setup(void)
{
    memset(&H, 0, sizeof H);
    H.dl = dlopen(ref_plugin_path(), RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(H.dl, "dlopen %s: %s", ref_plugin_path(), dlerror());
    vitcl_plugin_entry_fn entry;
    *(void **)&entry = dlsym(H.dl, VITCL_PLUGIN_ENTRY_SYMBOL);
    cr_assert_not_null(entry, "no %s in %s", VITCL_PLUGIN_ENTRY_SYMBOL, ref_plugin_path());
    H.desc = entry(VITCL_ABI_MAJOR, VITCL_ABI_MINOR);
    cr_assert_not_null(H.desc);
    H.ops = H.desc->ops;
    char err[256] = "";
    cr_assert_eq(H.desc->init(&H.state, err, sizeof err), VITCL_OK, "init: %s", err);
    cr_assert_eq(H.desc->context_create(H.state, 0, &H.ctx, err, sizeof err), VITCL_OK,
                 "context_create: %s", err);
}

void ref_teardown(void)
{
    if (H.desc != NULL) {
        H.desc->context_destroy(H.ctx);
        H.desc->shutdown(H.state);
    }
    if (H.dl != NULL)
        dlclose(H.dl);
    memset(&H, 0, sizeof H);
}

vitcl_buffer *buf_new(const float *data, size_t count, const char *label)
{
    vitcl_buffer *b = NULL;
    cr_assert_eq(H.desc->buffer_alloc(H.ctx, count * sizeof(float), label, &b), VITCL_OK,
                 "buffer_alloc %s: %s", label, H.desc->last_error(H.ctx));
    float *tmp = NULL;
    if (data == NULL) {
        tmp = malloc(count * sizeof *tmp);
        cr_assert_not_null(tmp);
        for (size_t i = 0; i < count; i++)
            tmp[i] = NAN;
        data = tmp;
    }
    cr_assert_eq(H.desc->buffer_write(H.ctx, b, 0, data, count * sizeof(float)), VITCL_OK,
                 "buffer_write %s: %s", label, H.desc->last_error(H.ctx));
    free(tmp);
    return b;
}

void buf_free(vitcl_buffer *b)
{
    H.desc->buffer_free(H.ctx, b);
}

float *buf_get(const vitcl_buffer *b, size_t count)
{
    float *out = malloc(count * sizeof *out);
    cr_assert_not_null(out);
    cr_assert_eq(H.desc->buffer_read(H.ctx, b, 0, out, count * sizeof(float)), VITCL_OK,
                 "buffer_read: %s", H.desc->last_error(H.ctx));
    return out;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

void rng_seed(uint64_t seed)
{
    rng_state = seed;
}

float rng_uniform(float lo, float hi)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    double u = (double)(z >> 11) * 0x1.0p-53;
    return (float)(lo + (hi - lo) * u);
}

float *rand_array(size_t count, float lo, float hi)
{
    float *a = malloc(count * sizeof *a);
    cr_assert_not_null(a);
    for (size_t i = 0; i < count; i++)
        a[i] = rng_uniform(lo, hi);
    return a;
}

double tol_ratio(const float *got, const double *want, const double *mag, double terms,
                 size_t count, size_t *worst)
{
    double max_ratio = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        double m = mag != NULL ? mag[i] : fabs(want[i]);
        double bound = 0x1.0p-24 * fabs(want[i]) + 0x1.0p-149 + terms * 0x1.0p-50 * m;
        double r = fabs((double)got[i] - want[i]) / bound;
        if (!(r <= max_ratio)) { /* also catches NaN */
            max_ratio = isnan(r) ? INFINITY : r;
            at = i;
        }
    }
    if (worst != NULL)
        *worst = at;
    return max_ratio;
}

void assert_close(const char *what, const float *got, const double *want, const double *mag,
                  double terms, size_t count)
{
    size_t at = 0;
    double r = tol_ratio(got, want, mag, terms, count, &at);
    cr_assert(r <= 1.0, "%s: element %zu is %.9g, want %.17g (error %.3g times the bound)", what,
              at, (double)got[at], want[at], r);
}

void assert_error_names(vitcl_status st, const char *op)
{
    cr_assert_neq(st, VITCL_OK, "%s accepted a bad argument", op);
    const char *msg = H.desc->last_error(H.ctx);
    cr_assert_not_null(msg);
    cr_assert(strstr(msg, op) != NULL, "error message '%s' does not name the op %s", msg, op);
}
