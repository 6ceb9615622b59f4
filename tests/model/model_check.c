/* tests/model/model_check.c - see model_check.h. */
#include "model_check.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "npy.h"

#define FIXTURES VITCL_SOURCE_ROOT "/tests/fixtures/models"

double mc_max_error(const float *ours, const float *theirs, size_t n, size_t *where,
                    double *scale)
{
    double maxref = 1, maxerr = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        maxref = fmax(maxref, fabs((double)theirs[i]));
        double e = fabs((double)ours[i] - (double)theirs[i]);
        if (!(e <= maxerr)) { /* NaN is kept */
            maxerr = e;
            at = i;
        }
    }
    if (where)
        *where = at;
    if (scale)
        *scale = maxref;
    return maxerr;
}

void mc_expect_golden(vitcl_model *m, const char *fixture)
{
    char path[1024];
    vitcl_npy px, ref;
    snprintf(path, sizeof path, "%s/%s/golden/native_b1/pixel_values.npy", FIXTURES, fixture);
    cr_assert_eq(vitcl_npy_read_f32(path, 0, &px), VITCL_OK, "%s", vitcl_last_error());
    snprintf(path, sizeof path, "%s/%s/golden/native_b1/last_hidden_state.npy", FIXTURES, fixture);
    cr_assert_eq(vitcl_npy_read_f32(path, 0, &ref), VITCL_OK, "%s", vitcl_last_error());
    vitcl_output *out = NULL;
    cr_assert_eq(vitcl_model_run(m, px.data, px.shape[0], px.shape[2], px.shape[3], NULL, &out),
                 VITCL_OK, "%s", vitcl_last_error());
    size_t b, s, d;
    const float *h = vitcl_output_last_hidden_state(out, &b, &s, &d);
    cr_assert_eq(b * s * d, ref.numel, "%s: output has %zu values, golden %zu", fixture,
                 b * s * d, ref.numel);
    double scale;
    double maxerr = mc_max_error(h, ref.data, ref.numel, NULL, &scale);
    cr_expect(maxerr <= 1e-4 * scale, "%s: max error %.3g", fixture, maxerr);
    vitcl_output_free(out);
    vitcl_npy_free(&px);
    vitcl_npy_free(&ref);
}

char *mc_run_cli(const char *plugin, const char *cli, const char *args, int *status)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "VITCL_PLUGIN_PATH='%s' '%s' %s 2>&1", plugin, cli, args);
    FILE *p = popen(cmd, "r");
    cr_assert(p, "cannot run %s", cmd);
    size_t cap = 1 << 16, n = 0, got;
    char *out = calloc(1, cap);
    cr_assert(out);
    while (n + 1 < cap && (got = fread(out + n, 1, cap - 1 - n, p)) > 0)
        n += got;
    *status = pclose(p);
    return out;
}
