/* tests/model/test_model.c - the encoder against transformers' golden outputs, weight-format
 * equivalence, and clear errors for broken model folders.
 *
 * The backend under test is VITCL_TEST_BACKEND (default "ref"); meson defines one test per
 * backend built. Golden data: tests/fixtures/models (tools/make_fixtures.py, transformers
 * ViTMSNModel, eager attention, fp32).
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_check.h"
#include "npy.h"
#include "vitcl/vitcl.h"

#define FIXTURES VITCL_SOURCE_ROOT "/tests/fixtures/models"

static vitcl_registry *reg;
static vitcl_backend *be;
static cJSON *manifest;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static const char *backend_name(void)
{
    const char *b = getenv("VITCL_TEST_BACKEND");
    return b && *b ? b : "ref";
}

static void setup(void)
{
    cr_assert_eq(vitcl_registry_open(NULL, &reg), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_eq(vitcl_backend_open(reg, backend_name(), NULL, &be), VITCL_OK, "%s",
                 vitcl_last_error());
    char *text = slurp(FIXTURES "/manifest.json", NULL);
    manifest = cJSON_Parse(text);
    free(text);
    cr_assert(manifest, "manifest.json does not parse");
}

static void teardown(void)
{
    cJSON_Delete(manifest);
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
}

/* The parity bound of the model issue: max|ours - theirs| <= 1e-4 * max(1, max|theirs|). */
static void assert_close(const float *ours, const vitcl_npy *theirs, const char *what,
                         const char *model, const char *cs)
{
    size_t where;
    double scale;
    double maxerr = mc_max_error(ours, theirs->data, theirs->numel, &where, &scale);
    double bound = 1e-4 * scale;
    cr_expect(maxerr <= bound, "%s/%s %s: max error %.3g at %zu (ours %g, theirs %g) > bound %.3g",
              model, cs, what, maxerr, where, (double)ours[where], (double)theirs->data[where],
              bound);
}

static void load_npy(const char *model, const char *cs, const char *name, vitcl_npy *out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/golden/%s/%s", FIXTURES, model, cs, name);
    cr_assert_eq(vitcl_npy_read_f32(path, 0, out), VITCL_OK, "%s", vitcl_last_error());
}

static vitcl_output *run_case(vitcl_model *m, const char *model, const cJSON *cs, int hidden)
{
    const char *cname = cJSON_GetObjectItem(cs, "name")->valuestring;
    vitcl_npy px;
    load_npy(model, cname, "pixel_values.npy", &px);
    vitcl_run_options opt = {.struct_size = sizeof opt};
    opt.interpolate_pos_encoding = cJSON_IsTrue(cJSON_GetObjectItem(cs, "interpolate_pos_encoding"));
    opt.output_hidden_states = hidden;
    vitcl_output *out = NULL;
    vitcl_status st = vitcl_model_run(m, px.data, px.shape[0], px.shape[2], px.shape[3], &opt, &out);
    cr_assert_eq(st, VITCL_OK, "%s/%s: %s", model, cname, vitcl_last_error());
    vitcl_npy_free(&px);
    return out;
}

TestSuite(model, .init = setup, .fini = teardown, .timeout = 600);

Test(model, every_fixture_matches_transformers)
{
    const cJSON *models = cJSON_GetObjectItem(manifest, "models"), *md;
    size_t ncases = 0;
    cJSON_ArrayForEach(md, models)
    {
        const char *name = cJSON_GetObjectItem(md, "folder")->valuestring;
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", FIXTURES, name);
        vitcl_model *m = NULL;
        cr_assert_eq(vitcl_model_load(be, dir, &m), VITCL_OK, "%s", vitcl_last_error());
        const cJSON *cs;
        cJSON_ArrayForEach(cs, cJSON_GetObjectItem(md, "cases"))
        {
            const char *cname = cJSON_GetObjectItem(cs, "name")->valuestring;
            vitcl_output *out = run_case(m, name, cs, 1);
            vitcl_npy lhs, hs;
            load_npy(name, cname, "last_hidden_state.npy", &lhs);
            size_t B, S, D;
            const float *ours = vitcl_output_last_hidden_state(out, &B, &S, &D);
            cr_assert_eq(B * S * D, lhs.numel, "%s/%s: shape [%zu,%zu,%zu]", name, cname, B, S, D);
            cr_assert_eq(S, lhs.shape[1]);
            assert_close(ours, &lhs, "last_hidden_state", name, cname);
            load_npy(name, cname, "hidden_states.npy", &hs);
            size_t nh = vitcl_output_num_hidden_states(out);
            cr_assert_eq(nh, hs.shape[0], "%s/%s: %zu hidden states, expected %zu", name, cname,
                         nh, hs.shape[0]);
            for (size_t i = 0; i < nh; i++) {
                vitcl_npy one = {.numel = B * S * D, .data = hs.data + i * B * S * D};
                char what[64];
                snprintf(what, sizeof what, "hidden_states[%zu]", i);
                assert_close(vitcl_output_hidden_state(out, i), &one, what, name, cname);
            }
            size_t nl;
            const float *logits = vitcl_output_logits(out, &nl);
            char lpath[1024];
            snprintf(lpath, sizeof lpath, "%s/%s/golden/%s/logits.npy", FIXTURES, name, cname);
            if (access(lpath, F_OK) == 0) {
                vitcl_npy lg;
                load_npy(name, cname, "logits.npy", &lg);
                cr_assert(logits, "%s/%s: no logits but transformers has them", name, cname);
                cr_assert_eq(B * nl, lg.numel);
                assert_close(logits, &lg, "logits", name, cname);
                vitcl_npy_free(&lg);
            } else {
                cr_assert_null(logits, "%s: logits without a classifier", name);
            }
            vitcl_npy_free(&lhs);
            vitcl_npy_free(&hs);
            vitcl_output_free(out);
            ncases++;
        }
        vitcl_model_free(m);
    }
    cr_assert_gt(ncases, 10, "only %zu fixture cases ran", ncases);
}

/* Pooled rows against transformers' last_hidden_state: CLS is its row 0, MEAN the mean of its
 * rows (computed here in double), per image; last_hidden_state is then not returned. */
Test(model, pooling_on_the_device_matches_the_golden_rows)
{
    const cJSON *models = cJSON_GetObjectItem(manifest, "models"), *md;
    size_t ncases = 0;
    cJSON_ArrayForEach(md, models)
    {
        const char *name = cJSON_GetObjectItem(md, "folder")->valuestring;
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", FIXTURES, name);
        vitcl_model *m = NULL;
        cr_assert_eq(vitcl_model_load(be, dir, &m), VITCL_OK, "%s", vitcl_last_error());
        const cJSON *cs;
        cJSON_ArrayForEach(cs, cJSON_GetObjectItem(md, "cases"))
        {
            const char *cname = cJSON_GetObjectItem(cs, "name")->valuestring;
            vitcl_npy px, lhs;
            load_npy(name, cname, "pixel_values.npy", &px);
            load_npy(name, cname, "last_hidden_state.npy", &lhs);
            size_t B = lhs.shape[0], S = lhs.shape[1], D = lhs.shape[2];
            for (int pool = VITCL_POOLING_CLS; pool <= VITCL_POOLING_MEAN; pool++) {
                vitcl_run_options opt = {.struct_size = sizeof opt, .pooling = pool};
                opt.interpolate_pos_encoding =
                    cJSON_IsTrue(cJSON_GetObjectItem(cs, "interpolate_pos_encoding"));
                vitcl_output *out = NULL;
                cr_assert_eq(vitcl_model_run(m, px.data, px.shape[0], px.shape[2], px.shape[3],
                                             &opt, &out),
                             VITCL_OK, "%s/%s: %s", name, cname, vitcl_last_error());
                size_t pb, pd;
                const float *ours = vitcl_output_pooled(out, &pb, &pd);
                cr_assert_not_null(ours);
                cr_assert(pb == B && pd == D, "%s/%s: pooled [%zu,%zu]", name, cname, pb, pd);
                cr_assert_null(vitcl_output_last_hidden_state(out, NULL, NULL, NULL),
                               "pooled run also read back last_hidden_state");
                float *want = malloc(B * D * sizeof *want);
                cr_assert_not_null(want);
                for (size_t b = 0; b < B; b++)
                    for (size_t d = 0; d < D; d++) {
                        double acc = 0;
                        for (size_t t = 0; t < (pool == VITCL_POOLING_CLS ? 1 : S); t++)
                            acc += lhs.data[(b * S + t) * D + d];
                        want[b * D + d] = (float)(pool == VITCL_POOLING_CLS ? acc : acc / S);
                    }
                vitcl_npy ref = {.numel = B * D, .data = want};
                assert_close(ours, &ref, pool == VITCL_POOLING_CLS ? "cls pooled" : "mean pooled",
                             name, cname);
                free(want);
                vitcl_output_free(out);
            }
            vitcl_npy_free(&px);
            vitcl_npy_free(&lhs);
            ncases++;
        }
        vitcl_model_free(m);
    }
    cr_assert_gt(ncases, 10, "only %zu fixture cases ran", ncases);
}

Test(model, unknown_pooling_is_refused)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/d32_h4_l1_p7_s30", FIXTURES);
    vitcl_model *m = NULL;
    cr_assert_eq(vitcl_model_load(be, dir, &m), VITCL_OK, "%s", vitcl_last_error());
    float px[3 * 30 * 30] = {0};
    vitcl_run_options opt = {.struct_size = sizeof opt, .pooling = 7};
    vitcl_output *out = (vitcl_output *)1;
    cr_assert_eq(vitcl_model_run(m, px, 1, 30, 30, &opt, &out), VITCL_ERR_INVALID_ARGUMENT);
    cr_assert_null(out);
    cr_assert(strstr(vitcl_last_error(), "pooling 7"), "%s", vitcl_last_error());
    vitcl_model_free(m);
}

/* A folder holding config.json and only the given weight file(s), as symlinks. */
static void make_view(const char *src, const char *dst, const char *const *files)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dst, dst);
    cr_assert_eq(system(cmd), 0);
    for (size_t i = 0; files[i]; i++) {
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/%s", src, files[i]);
        snprintf(b, sizeof b, "%s/%s", dst, files[i]);
        cr_assert_eq(symlink(a, b), 0, "symlink %s", b);
    }
}

Test(model, pytorch_bin_and_safetensors_give_bit_identical_outputs)
{
    const cJSON *md;
    size_t compared = 0;
    cJSON_ArrayForEach(md, cJSON_GetObjectItem(manifest, "models"))
    {
        const char *name = cJSON_GetObjectItem(md, "folder")->valuestring;
        char dir[1024], view[1024];
        snprintf(dir, sizeof dir, "%s/%s", FIXTURES, name);
        snprintf(view, sizeof view, "%s/model-bin-view-%s", VITCL_BUILD_ROOT, backend_name());
        const char *files[] = {"config.json", "pytorch_model.bin", NULL};
        char probe[1024];
        snprintf(probe, sizeof probe, "%s/pytorch_model.bin", dir);
        if (access(probe, F_OK) != 0)
            continue;
        make_view(dir, view, files);
        vitcl_model *ms = NULL, *mb = NULL;
        cr_assert_eq(vitcl_model_load(be, dir, &ms), VITCL_OK, "%s", vitcl_last_error());
        cr_assert_eq(vitcl_model_load(be, view, &mb), VITCL_OK, "%s", vitcl_last_error());
        vitcl_model_config cs, cb;
        vitcl_model_get_config(ms, &cs);
        vitcl_model_get_config(mb, &cb);
        cr_assert_str_eq(cb.weight_format, "pytorch_model.bin");
        cr_assert_eq(cs.parameter_count, cb.parameter_count);
        const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(md, "cases"), 0);
        vitcl_output *os = run_case(ms, name, c0, 0), *ob = run_case(mb, name, c0, 0);
        size_t B, S, D;
        const float *a = vitcl_output_last_hidden_state(os, &B, &S, &D);
        const float *b = vitcl_output_last_hidden_state(ob, NULL, NULL, NULL);
        cr_expect_eq(memcmp(a, b, B * S * D * sizeof(float)), 0,
                     "%s: safetensors and pytorch_model.bin outputs differ", name);
        vitcl_output_free(os);
        vitcl_output_free(ob);
        vitcl_model_free(ms);
        vitcl_model_free(mb);
        compared++;
    }
    cr_assert_gt(compared, 3, "only %zu models had both formats", compared);
}

/* --- broken folders ------------------------------------------------------------------------ */

#define BASE_MODEL "d48_h3_l2_p16_s64"

/* Copies BASE_MODEL's safetensors into a scratch folder with config.json rewritten by `edit`
 * (a sed expression), then returns the load status and message. */
static vitcl_status load_edited(const char *tag, const char *sed, char *msg, size_t len)
{
    char dir[1024], cmd[4096];
    snprintf(dir, sizeof dir, "%s/model-edit-%s-%s", VITCL_BUILD_ROOT, tag, backend_name());
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && mkdir -p '%s' && cp '%s/%s/model.safetensors' '%s/' && "
             "sed -e '%s' '%s/%s/config.json' > '%s/config.json'",
             dir, dir, FIXTURES, BASE_MODEL, dir, sed, FIXTURES, BASE_MODEL, dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    vitcl_model *m = NULL;
    vitcl_status st = vitcl_model_load(be, dir, &m);
    snprintf(msg, len, "%s", vitcl_last_error());
    vitcl_model_free(m);
    return st;
}

Test(model, shape_that_disagrees_with_config_is_named)
{
    char msg[4096];
    vitcl_status st = load_edited("shape", "s/\"intermediate_size\": *[0-9]*/\"intermediate_size\": 50/",
                                  msg, sizeof msg);
    cr_assert_eq(st, VITCL_ERR_FORMAT, "%d: %s", st, msg);
    cr_expect(strstr(msg, "intermediate.dense") && strstr(msg, "model.safetensors") &&
                  strstr(msg, "shape"),
              "message: %s", msg);
}

Test(model, missing_tensor_is_named)
{
    char msg[4096];
    vitcl_status st = load_edited("missing", "s/\"num_hidden_layers\": *2/\"num_hidden_layers\": 3/", msg,
                                  sizeof msg);
    cr_assert_eq(st, VITCL_ERR_FORMAT, "%d: %s", st, msg);
    cr_expect(strstr(msg, "missing tensor") && strstr(msg, "encoder.layer.2."), "message: %s", msg);
}

Test(model, unexpected_tensor_is_named)
{
    char msg[4096];
    vitcl_status st = load_edited("unexpected", "s/\"num_hidden_layers\": *2/\"num_hidden_layers\": 1/", msg,
                                  sizeof msg);
    cr_assert_eq(st, VITCL_ERR_FORMAT, "%d: %s", st, msg);
    cr_expect(strstr(msg, "unexpected tensor") && strstr(msg, "encoder.layer.1."), "message: %s",
              msg);
}

Test(model, unsupported_activation_is_refused)
{
    char msg[4096];
    vitcl_status st = load_edited("act", "s/\"hidden_act\": *\"gelu\"/\"hidden_act\": \"relu\"/", msg,
                                  sizeof msg);
    cr_assert_eq(st, VITCL_ERR_UNSUPPORTED, "%d: %s", st, msg);
    cr_expect(strstr(msg, "relu") && strstr(msg, "config.json"), "message: %s", msg);
}

Test(model, heads_that_do_not_divide_hidden_size_are_refused)
{
    char msg[4096];
    vitcl_status st = load_edited(
        "heads", "s/\"num_attention_heads\": *[0-9]*/\"num_attention_heads\": 5/", msg, sizeof msg);
    cr_assert_eq(st, VITCL_ERR_UNSUPPORTED, "%d: %s", st, msg);
    cr_expect(strstr(msg, "divisible"), "message: %s", msg);
}

Test(model, zero_byte_weight_file_is_a_clear_error)
{
    char dir[1024], cmd[4096];
    snprintf(dir, sizeof dir, "%s/model-zero-view-%s", VITCL_BUILD_ROOT, backend_name());
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && mkdir -p '%s' && cp '%s/%s/config.json' '%s/' && : > "
             "'%s/model.safetensors'",
             dir, dir, FIXTURES, BASE_MODEL, dir, dir);
    cr_assert_eq(system(cmd), 0);
    vitcl_model *m = NULL;
    vitcl_status st = vitcl_model_load(be, dir, &m);
    cr_assert_neq(st, VITCL_OK);
    cr_assert_null(m);
    cr_expect(strstr(vitcl_last_error(), "model.safetensors"), "message: %s", vitcl_last_error());
}

Test(model, missing_folder_is_a_clear_error)
{
    vitcl_model *m = NULL;
    vitcl_status st = vitcl_model_load(be, "/nonexistent/vit-msn-large", &m);
    cr_assert_eq(st, VITCL_ERR_NOT_FOUND, "%d: %s", st, vitcl_last_error());
    cr_expect(strstr(vitcl_last_error(), "/nonexistent/vit-msn-large/config.json"), "message: %s",
              vitcl_last_error());
}

Test(model, other_input_size_needs_interpolate_pos_encoding)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", FIXTURES, BASE_MODEL);
    vitcl_model *m = NULL;
    cr_assert_eq(vitcl_model_load(be, dir, &m), VITCL_OK, "%s", vitcl_last_error());
    float *px = calloc(3 * 80 * 64, sizeof(float));
    vitcl_output *out = NULL;
    vitcl_status st = vitcl_model_run(m, px, 1, 80, 64, NULL, &out);
    cr_expect_eq(st, VITCL_ERR_INVALID_ARGUMENT);
    cr_expect_null(out);
    cr_expect(strstr(vitcl_last_error(), "interpolate-pos-encoding"), "message: %s",
              vitcl_last_error());
    free(px);
    vitcl_model_free(m);
}

/* ---- reduced precisions (ABI 1.1) ---- */

/* The accuracy contract of each reduced precision (docs/accuracy.md), against transformers
 * fp32: max|ours - theirs| / max(1, max|theirs|) and the worst cosine of the CLS rows. */
static const struct {
    int precision;
    const char *name;
    double max_err, min_cos;
} contract[] = {
    {VITCL_PRECISION_BF16, "bf16", 2e-2, 0.9999},
    {VITCL_PRECISION_FP16, "fp16", 2e-3, 0.99999},
};

Test(model, every_offered_precision_meets_its_contract_on_every_fixture)
{
    const vitcl_device_info *di = vitcl_backend_device(be);
    size_t checked = 0;
    for (size_t p = 0; p < sizeof contract / sizeof contract[0]; p++) {
        if (!(di->precisions & VITCL_PRECISION_BIT(contract[p].precision))) {
            /* ref is the truth of every precision: it must offer them all. */
            cr_assert(strcmp(backend_name(), "ref") != 0, "ref does not offer %s",
                      contract[p].name);
            continue;
        }
        double worst_err = 0, worst_cos = 1;
        char worst_where[256] = "";
        const cJSON *md;
        cJSON_ArrayForEach(md, cJSON_GetObjectItem(manifest, "models"))
        {
            const char *name = cJSON_GetObjectItem(md, "folder")->valuestring;
            char dir[1024];
            snprintf(dir, sizeof dir, "%s/%s", FIXTURES, name);
            vitcl_load_options lo = {.struct_size = sizeof lo, .precision = contract[p].precision};
            vitcl_model *m = NULL;
            cr_assert_eq(vitcl_model_load_ex(be, dir, &lo, &m), VITCL_OK, "%s %s: %s",
                         contract[p].name, name, vitcl_last_error());
            vitcl_model_config mc;
            cr_assert_eq(vitcl_model_get_config(m, &mc), VITCL_OK);
            cr_assert_str_eq(mc.precision, contract[p].name);
            double fx_err = 0, fx_cos = 1; /* this fixture's worst, for the log */
            const cJSON *cs;
            cJSON_ArrayForEach(cs, cJSON_GetObjectItem(md, "cases"))
            {
                const char *cname = cJSON_GetObjectItem(cs, "name")->valuestring;
                vitcl_output *out = run_case(m, name, cs, 0);
                vitcl_npy lhs;
                load_npy(name, cname, "last_hidden_state.npy", &lhs);
                size_t B, S, D;
                const float *ours = vitcl_output_last_hidden_state(out, &B, &S, &D);
                cr_assert_eq(B * S * D, lhs.numel);
                double scale;
                double rel = mc_max_error(ours, lhs.data, lhs.numel, NULL, &scale) / scale;
                for (size_t b = 0; b < B; b++) {
                    const float *a = ours + b * S * D, *t = lhs.data + b * S * D;
                    double ab = 0, aa = 0, tt = 0;
                    for (size_t d = 0; d < D; d++) {
                        ab += (double)a[d] * t[d];
                        aa += (double)a[d] * a[d];
                        tt += (double)t[d] * t[d];
                    }
                    double cos = ab / sqrt(aa * tt);
                    fx_cos = cos < fx_cos ? cos : fx_cos;
                    if (!(cos >= worst_cos)) {
                        worst_cos = cos;
                        snprintf(worst_where, sizeof worst_where, "%s/%s image %zu", name, cname, b);
                    }
                }
                cr_expect(rel <= contract[p].max_err, "%s %s/%s: max error %.3g > %.0e",
                          contract[p].name, name, cname, rel, contract[p].max_err);
                worst_err = rel > worst_err ? rel : worst_err;
                fx_err = rel > fx_err ? rel : fx_err;
                vitcl_npy_free(&lhs);
                vitcl_output_free(out);
                checked++;
            }
            vitcl_model_free(m);
            cr_log_info("%s on %s, %s: worst max error %.3g, worst CLS cosine %.8f",
                        contract[p].name, backend_name(), name, fx_err, fx_cos);
        }
        cr_expect(worst_cos >= contract[p].min_cos, "%s: CLS cosine %.8f < %.6f at %s",
                  contract[p].name, worst_cos, contract[p].min_cos, worst_where);
        cr_log_info("%s on %s: worst max error %.3g, worst CLS cosine %.8f", contract[p].name,
                    backend_name(), worst_err, worst_cos);
    }
    if (!strcmp(backend_name(), "ref"))
        cr_assert_gt(checked, 20, "only %zu reduced-precision cases ran", checked);
}
