/* host/conformance/conf_model.c - end-to-end parity of the conformance suite: every model
 * fixture of manifest.json run on the plugin under test, its last_hidden_state compared with
 * the golden one from transformers: max |ours - theirs| <= 1e-4 · max(1, max |theirs|). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf_internal.h"
#include "file_open.h"
#include "error.h"
#include "npy.h"

#define MANIFEST_MAX_BYTES (16u << 20)
#define PARITY_RTOL 1e-4

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Reads a whole (small) file into a NUL-terminated heap string. */
static vitcl_status read_text(const char *path, char **out)
{
    size_t n;
    return vitcl_file_read_all(path, MANIFEST_MAX_BYTES, out, &n);
}

/* A manifest name used as a path component: no separators, no "..", not empty. */
static int safe_component(const char *s)
{
    return s != NULL && s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0 && strlen(s) < 200;
}

static void fail_row(conf_result *r, const char *fmt, const char *detail)
{
    r->verdict = CONF_FAIL;
    r->max_err = INFINITY;
    snprintf(r->note, sizeof r->note, fmt, detail);
}

/* Runs one golden case of a loaded model and fills r. */
static void run_case(vitcl_model *m, const char *gdir, int interpolate, conf_result *r)
{
    char path[1024];
    vitcl_npy px = {0}, gold = {0};
    vitcl_output *out = NULL;
    snprintf(path, sizeof path, "%s/pixel_values.npy", gdir);
    if (vitcl_npy_read_f32(path, 0, &px) != VITCL_OK || px.ndim != 4) {
        fail_row(r, "cannot use the golden pixels: %s",
                 px.ndim != 4 && px.data != NULL ? "not 4-D" : vitcl_last_error());
        goto done;
    }
    vitcl_model_config mc;
    vitcl_model_get_config(m, &mc);
    if (px.shape[1] != mc.num_channels) {
        char why[96];
        snprintf(why, sizeof why, "%zu channels, the model's config.json has num_channels %zu",
                 px.shape[1], mc.num_channels);
        fail_row(r, "cannot use the golden pixels: %s", why);
        goto done;
    }
    snprintf(path, sizeof path, "%s/last_hidden_state.npy", gdir);
    if (vitcl_npy_read_f32(path, 0, &gold) != VITCL_OK || gold.ndim != 3) {
        fail_row(r, "cannot use the golden output: %s",
                 gold.ndim != 3 && gold.data != NULL ? "not 3-D" : vitcl_last_error());
        goto done;
    }
    vitcl_run_options opt = {sizeof opt, interpolate, 0, VITCL_POOLING_NONE};
    double t0 = now_ms();
    vitcl_status st = vitcl_model_run(m, px.data, px.shape[0], px.shape[2], px.shape[3], &opt, &out);
    r->ms = now_ms() - t0;
    if (st != VITCL_OK) {
        fail_row(r, "vitcl_model_run: %s", vitcl_last_error());
        goto done;
    }
    size_t b = 0, s = 0, d = 0;
    const float *h = vitcl_output_last_hidden_state(out, &b, &s, &d);
    if (h == NULL || b != gold.shape[0] || s != gold.shape[1] || d != gold.shape[2]) {
        char shape[96];
        snprintf(shape, sizeof shape, "[%zu, %zu, %zu] vs golden [%zu, %zu, %zu]", b, s, d,
                 gold.shape[0], gold.shape[1], gold.shape[2]);
        fail_row(r, "last_hidden_state has shape %s", shape);
        goto done;
    }
    double max_err = 0.0, max_ref = 0.0;
    for (size_t i = 0; i < gold.numel; i++) {
        double e = fabs((double)h[i] - gold.data[i]);
        max_err = isnan(e) ? INFINITY : fmax(max_err, e);
        max_ref = fmax(max_ref, fabs(gold.data[i]));
    }
    r->max_err = max_err;
    r->tol = PARITY_RTOL * fmax(1.0, max_ref);
    r->verdict = max_err <= r->tol ? CONF_PASS : CONF_FAIL;
    if (r->verdict == CONF_FAIL)
        snprintf(r->note, sizeof r->note, "last_hidden_state differs from transformers' golden output");
done:
    vitcl_output_free(out);
    vitcl_npy_free(&px);
    vitcl_npy_free(&gold);
}

vitcl_status conf_model_parity(vitcl_backend *test, const char *fixtures_dir, int quick,
                               conf_results *res)
{
    char path[1024], *text = NULL;
    snprintf(path, sizeof path, "%s/manifest.json", fixtures_dir);
    vitcl_status st = read_text(path, &text);
    if (st != VITCL_OK)
        return vitcl_fail_prefix(st, "conformance model fixtures: ");
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    if (!cJSON_IsArray(models)) {
        cJSON_Delete(root);
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: not JSON with a \"models\" array", path);
    }
    const cJSON *model;
    cJSON_ArrayForEach(model, models)
    {
        const char *folder = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(model, "folder"));
        const cJSON *cases = cJSON_GetObjectItemCaseSensitive(model, "cases");
        if (!safe_component(folder) || !cJSON_IsArray(cases)) {
            cJSON_Delete(root);
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: a model entry lacks a plain \"folder\" or "
                              "a \"cases\" array", path);
        }
        char mdir[1024];
        snprintf(mdir, sizeof mdir, "%s/%s", fixtures_dir, folder);
        vitcl_model *m = NULL;
        vitcl_status lst = vitcl_model_load(test, mdir, &m);
        char lerr[256] = "";
        if (lst != VITCL_OK)
            snprintf(lerr, sizeof lerr, "%s", vitcl_last_error());
        const cJSON *cs;
        cJSON_ArrayForEach(cs, cases)
        {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cs, "name"));
            conf_result r;
            memset(&r, 0, sizeof r);
            snprintf(r.op, sizeof r.op, "model");
            snprintf(r.precision, sizeof r.precision, "fp32"); /* the fixtures run in fp32 */
            snprintf(r.shape, sizeof r.shape, "%s/%s", folder, name != NULL ? name : "?");
            r.tol = NAN;
            r.max_err = NAN;
            if (!safe_component(name)) {
                fail_row(&r, "%s", "the manifest case has no plain \"name\"");
            } else if (lst != VITCL_OK) {
                fail_row(&r, "vitcl_model_load: %s", lerr);
            } else {
                char gdir[1200];
                snprintf(gdir, sizeof gdir, "%s/golden/%s", mdir, name);
                run_case(m, gdir, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
                                      cs, "interpolate_pos_encoding")),
                         &r);
            }
            if ((st = conf_results_add(res, &r)) != VITCL_OK)
                break;
            if (quick)
                break;
        }
        vitcl_model_free(m);
        if (st != VITCL_OK)
            break;
    }
    cJSON_Delete(root);
    return st;
}
