/* tests/conformance/test_conformance.c - the conformance engine judged on plugins whose truth is
 * known: ref against itself passes everything (ops and the model fixtures against
 * transformers' golden outputs); each variant with one deliberate bug fails, and only on the op
 * that has it; a plugin without the optional ops reports them UNSUPPORTED, never PASS; the CLI's
 * exit status follows the verdict. Verdicts are read back from the JSON report. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vitcl/conformance.h"
#include "vitcl/vitcl.h"

static const char *root(const char *var, const char *fallback)
{
    const char *v = getenv(var);
    return v != NULL && v[0] != '\0' ? v : fallback;
}

static void variant_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/tests/conformance/vitcl_%s.so", root("VITCL_BUILD_ROOT", VITCL_BUILD_ROOT),
             name);
}

/* The report's parsed JSON (caller frees with cJSON_Delete). */
static cJSON *read_report(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "no report at %s", path);
    static char text[4 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "report %s is not JSON", path);
    return j;
}

typedef struct outcome {
    vitcl_conformance_summary sum;
    cJSON *report;
} outcome;

/* Runs the suite on `plugin` (a name, or a file loaded as the registry's explicit path), with
 * options.max_elements (0: no limit). */
static outcome run_limited(const char *plugin, int is_file, int quick, const char *fixtures,
                           const char *filter, size_t max_elements)
{
    char report[256];
    snprintf(report, sizeof report, "/tmp/vitcl-conformance-%ld.json", (long)getpid());
    vitcl_registry *reg = NULL;
    cr_assert_eq(vitcl_registry_open(is_file ? plugin : NULL, &reg), VITCL_OK, "%s",
                 vitcl_last_error());
    vitcl_conformance_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin = plugin;
    o.quick = quick;
    o.fixtures_dir = fixtures;
    o.filter = filter;
    o.report_path = report;
    o.max_elements = max_elements;
    outcome r;
    vitcl_status st = vitcl_conformance_run(reg, &o, &r.sum);
    cr_assert_eq(st, VITCL_OK, "conformance did not run: %s", vitcl_last_error());
    vitcl_registry_close(reg);
    r.report = read_report(report);
    remove(report);
    return r;
}

static outcome run(const char *plugin, int is_file, int quick, const char *fixtures,
                   const char *filter)
{
    return run_limited(plugin, is_file, quick, fixtures, filter, 0);
}

static const char *str(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    cr_assert_not_null(s, "report entry lacks %s", key);
    return s;
}

Test(conformance, ref_passes_itself_and_matches_transformers, .timeout = 600)
{
    char fixtures[1024];
    snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/models",
             root("VITCL_SOURCE_ROOT", VITCL_SOURCE_ROOT));
    outcome r = run("ref", 0, 0, fixtures, NULL);
    cr_assert_eq(r.sum.failed, 0);
    cr_assert_eq(r.sum.unsupported, 0);
    static const char *const ops[] = {"linear", "gemm_batched", "layernorm", "gelu", "add",
                                      "softmax", "attention", "patch_embed",
                                      "linear_pack_weight", "pack_weight_host", "model"};
    static const char *const precs[] = {"fp32", "bf16", "fp16"};
    static const char *const dtypes[] = {"in=F32", "in=F16", "in=BF16"};
    size_t seen[sizeof ops / sizeof ops[0]] = {0}, rows = 0, host[3][3] = {{0}};
    int seq3137 = 0, k4096 = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r.report, "results"))
    {
        rows++;
        cr_assert_str_eq(str(e, "result"), "PASS", "%s %s %s: %s", str(e, "op"),
                         str(e, "precision"), str(e, "shape"), str(e, "note"));
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
            seen[i] += strcmp(str(e, "op"), ops[i]) == 0;
        seq3137 |= strstr(str(e, "shape"), "seq=3137") != NULL;
        if (strcmp(str(e, "op"), "pack_weight_host") != 0) {
            cr_assert_str_eq(str(e, "precision"), "fp32", "%s", str(e, "op"));
            continue;
        }
        k4096 |= strstr(str(e, "shape"), "k=4096") != NULL;
        for (size_t p = 0; p < 3; p++)
            for (size_t d = 0; d < 3; d++)
                host[p][d] += !strcmp(str(e, "precision"), precs[p]) &&
                              strstr(str(e, "shape"), dtypes[d]) != NULL;
    }
    cr_assert_eq(rows, r.sum.passed);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        cr_assert_geq(seen[i], 3, "op %s has only %zu cases", ops[i], seen[i]);
    cr_assert(seq3137, "the full matrix includes attention at sequence length 3137");
    cr_assert(k4096, "pack_weight_host is checked at k = 4096");
    for (size_t p = 0; p < 3; p++) /* ref claims every precision: all of them ran */
        for (size_t d = 0; d < 3; d++)
            cr_assert_geq(host[p][d], 10, "%s from %s: %zu cases", precs[p], dtypes[d], host[p][d]);
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(r.report, "summary");
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sum, "not_run")), 0);
    cJSON_Delete(r.report);
}

/* The variant must fail, and every failure must be on `op`. */
static void expect_caught(const char *variant, const char *op)
{
    char path[1024];
    variant_path(path, sizeof path, variant);
    outcome r = run(path, 1, 1, NULL, NULL);
    cr_assert_gt(r.sum.failed, 0, "conformance missed the bug of %s", variant);
    cr_assert_gt(r.sum.passed, 0);
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r.report, "results"))
    {
        if (strcmp(str(e, "result"), "FAIL") == 0)
            cr_assert_str_eq(str(e, "op"), op, "%s failed on %s %s (%s), not only on %s", variant,
                             str(e, "op"), str(e, "shape"), str(e, "note"), op);
    }
    char name[64];
    snprintf(name, sizeof name, "%s", variant);
    for (char *c = name; *c != '\0'; c++)
        *c = *c == '_' ? '-' : *c; /* the build names the backend with dashes */
    cr_assert_str_eq(str(r.report, "plugin"), name);
    cJSON_Delete(r.report);
}

/* A reduced-precision bug: every failure is a pack_weight_host case, of one of the precisions
 * in `precs` (space-separated), and every one of those precisions fails at least once; with
 * `shape`, every failing case's shape contains it too. */
static outcome run_quick_variant(const char *variant);

static void expect_caught_in(const char *variant, const char *precs, const char *shape)
{
    outcome r = run_quick_variant(variant);
    cr_assert_gt(r.sum.failed, 0, "conformance missed the bug of %s", variant);
    char failed_in[32] = "";
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r.report, "results"))
    {
        const char *res = str(e, "result"), *op = str(e, "op"), *prec = str(e, "precision");
        if (strcmp(op, "pack_weight_host") != 0) {
            cr_assert_str_eq(res, "PASS", "%s: %s %s: %s", variant, op, str(e, "shape"),
                             str(e, "note"));
            continue;
        }
        cr_assert_str_neq(res, "NOT_RUN", "ref's variants claim every precision");
        if (strcmp(res, "FAIL") != 0)
            continue;
        cr_assert(strstr(precs, prec) != NULL, "%s failed in %s (%s: %s), not only in %s",
                  variant, prec, str(e, "shape"), str(e, "note"), precs);
        if (shape != NULL)
            cr_assert(strstr(str(e, "shape"), shape) != NULL, "%s failed on %s", variant,
                      str(e, "shape"));
        if (strstr(failed_in, prec) == NULL)
            snprintf(failed_in + strlen(failed_in), sizeof failed_in - strlen(failed_in), "%s ",
                     prec);
    }
    for (const char *p = precs; *p != '\0'; p += strspn(p, " ")) {
        size_t n = strcspn(p, " ");
        char one[8];
        snprintf(one, sizeof one, "%.*s", (int)n, p);
        cr_assert(strstr(failed_in, one) != NULL, "%s was not caught in %s (failed in: %s)",
                  variant, one, failed_in);
        p += n;
    }
    cJSON_Delete(r.report);
}

Test(conformance, catches_bf16_weights_truncated_to_4_bits)
{
    expect_caught_in("wrong_bf16_trunc4", "bf16", NULL);
}

Test(conformance, catches_fp16_weights_rounded_as_bf16)
{
    expect_caught_in("wrong_fp16_bf16_round", "fp16", NULL);
}

Test(conformance, catches_f16_host_weights_read_as_bf16)
{
    expect_caught_in("wrong_f16_as_bf16", "fp32 bf16 fp16", "in=F16");
}

Test(conformance, catches_bias_dropped_with_a_reduced_precision_weight)
{
    expect_caught_in("wrong_packed_no_bias", "bf16 fp16", " bias");
}

Test(conformance, catches_x_rounded_to_fp8)
{
    expect_caught_in("wrong_x_fp8", "bf16 fp16", NULL);
}

Test(conformance, catches_packed_weight_left_untransposed)
{
    expect_caught_in("wrong_pack_untransposed", "fp32 bf16 fp16", NULL);
}

Test(conformance, catches_fp16_weights_saturated_instead_of_inf)
{
    expect_caught_in("wrong_fp16_saturate", "fp16", "7e4");
}

Test(conformance, fp16_weights_beyond_range_may_be_stored_as_inf)
{
    outcome r = run_quick_variant("fp16_stores_inf");
    cr_assert_eq(r.sum.failed + r.sum.unsupported, 0);
    size_t seen = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r.report, "results"))
    {
        if (strstr(str(e, "shape"), "7e4") == NULL)
            continue;
        /* Not refused (ref's way) but compared: ±inf exactly where they meet the weights. */
        cr_assert_str_eq(str(e, "result"), "PASS", "%s", str(e, "note"));
        cr_assert(strstr(str(e, "note"), "refused") == NULL, "%s", str(e, "note"));
        seen++;
    }
    cr_assert_eq(seen, 1);
    cJSON_Delete(r.report);
}

/* Counts the pack_weight_host rows of r by precision and verdict; every other row must pass. */
static void host_rows(const outcome *r, const char *prec, const char *verdict, size_t *n,
                      const char *note)
{
    *n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r->report, "results"))
    {
        if (strcmp(str(e, "op"), "pack_weight_host") != 0) {
            /* The residual add is ABI 1.2: an older plugin is never asked (UNSUPPORTED, the
             * note says why); the minor-0 variant's are counted by its test. */
            if (strstr(str(e, "shape"), " residual") &&
                !strcmp(str(e, "result"), "UNSUPPORTED") && strstr(str(e, "note"), "ABI 1.2"))
                continue;
            cr_assert_str_eq(str(e, "result"), "PASS", "%s %s", str(e, "op"), str(e, "shape"));
            continue;
        }
        if (strcmp(str(e, "precision"), prec) != 0)
            continue;
        cr_assert_str_eq(str(e, "result"), verdict, "%s %s: %s", prec, str(e, "shape"),
                         str(e, "note"));
        if (note != NULL)
            cr_assert(strstr(str(e, "note"), note) != NULL, "note '%s' lacks '%s'",
                      str(e, "note"), note);
        (*n)++;
    }
}

/* The quick matrix on the variant built as tests/conformance/vitcl_<variant>.so. */
static outcome run_quick_variant(const char *variant)
{
    char path[1024];
    variant_path(path, sizeof path, variant);
    return run(path, 1, 1, NULL, NULL);
}

static size_t not_run_of(const outcome *r)
{
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(r->report, "summary");
    return (size_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sum, "not_run"));
}

Test(conformance, unclaimed_precisions_are_not_run_not_passed)
{
    outcome r = run_quick_variant("fp32_only");
    size_t fp32 = 0, bf16 = 0, fp16 = 0;
    host_rows(&r, "fp32", "PASS", &fp32, NULL);
    host_rows(&r, "bf16", "NOT_RUN", &bf16, "does not claim bf16");
    host_rows(&r, "fp16", "NOT_RUN", &fp16, "does not claim fp16");
    cr_assert(fp32 > 0 && bf16 > 0 && fp16 > 0);
    cr_assert_eq(r.sum.failed + r.sum.unsupported, 0);
    cr_assert_eq(not_run_of(&r), bf16 + fp16, "not-run cases are counted apart");
    cJSON_Delete(r.report);
}

Test(conformance, abi_1_0_plugin_passes_fp32_and_runs_no_precision_case)
{
    outcome r = run_quick_variant("abi_1_0");
    size_t fp32 = 0, bf16 = 0, fp16 = 0;
    host_rows(&r, "fp32", "NOT_RUN", &fp32, "pack_weight_host is not implemented");
    host_rows(&r, "bf16", "NOT_RUN", &bf16, "does not claim bf16");
    host_rows(&r, "fp16", "NOT_RUN", &fp16, "does not claim fp16");
    /* Its only UNSUPPORTED rows are the residual add of ABI 1.2 (host_rows checked each). */
    size_t residual = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r.report, "results"))
        residual += strstr(str(e, "shape"), " residual") != NULL &&
                    !strcmp(str(e, "result"), "UNSUPPORTED");
    cr_assert_gt(residual, 0);
    cr_assert_eq(r.sum.failed, 0);
    cr_assert_eq(r.sum.unsupported, residual);
    cr_assert_gt(r.sum.passed, 40);
    cr_assert_eq(not_run_of(&r), fp32 + bf16 + fp16);
    cJSON_Delete(r.report);
}

Test(conformance, claiming_a_precision_without_pack_weight_host_fails)
{
    outcome r = run_quick_variant("claim_without_pack");
    size_t fp32 = 0, bf16 = 0, fp16 = 0;
    host_rows(&r, "fp32", "NOT_RUN", &fp32, NULL);
    host_rows(&r, "bf16", "FAIL", &bf16, "pack_weight_host is NULL");
    host_rows(&r, "fp16", "FAIL", &fp16, "pack_weight_host is NULL");
    cr_assert_eq(r.sum.failed, bf16 + fp16);
    cJSON_Delete(r.report);
}

Test(conformance, catches_off_by_one_at_gemm_edge)
{
    expect_caught("wrong_gemm_edge", "gemm_batched");
}

Test(conformance, catches_softmax_without_max_subtraction)
{
    expect_caught("wrong_softmax_nomax", "softmax");
}

Test(conformance, catches_layernorm_with_wrong_eps)
{
    expect_caught("wrong_layernorm_eps", "layernorm");
}

Test(conformance, catches_unwritten_last_element)
{
    expect_caught("wrong_gelu_last", "gelu");
}

Test(conformance, catches_residual_added_before_gelu)
{
    expect_caught("wrong_residual_first", "linear");
}

Test(conformance, missing_optional_ops_are_unsupported_not_passed)
{
    char path[1024];
    variant_path(path, sizeof path, "no_optionals");
    outcome r = run(path, 1, 0, NULL, NULL);
    cr_assert_eq(r.sum.failed, 0);
    size_t unsupported = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r.report, "results"))
    {
        const char *op = str(e, "op"), *shape = str(e, "shape"), *res = str(e, "result");
        int long_row = (!strcmp(op, "layernorm") || !strcmp(op, "softmax")) &&
                       strstr(shape, "cols=4099") != NULL;
        if (!strcmp(op, "attention") || !strcmp(op, "linear_pack_weight") || long_row) {
            cr_assert_str_eq(res, "UNSUPPORTED", "%s %s", op, shape);
            unsupported++;
        } else {
            cr_assert_str_eq(res, "PASS", "%s %s: %s", op, shape, str(e, "note"));
        }
    }
    cr_assert_eq(unsupported, r.sum.unsupported);
    cr_assert_geq(unsupported, 8 + 4 + 4);
    cJSON_Delete(r.report);
}

Test(conformance, filter_selects_ops)
{
    outcome r = run("ref", 0, 1, NULL, "softmax");
    const cJSON *e;
    size_t n = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r.report, "results"))
    {
        cr_assert_str_eq(str(e, "op"), "softmax");
        n++;
    }
    cr_assert_gt(n, 0);
    cJSON_Delete(r.report);
}

/* --max-elements: exactly the cases with a buffer over the limit are NOT_RUN, named as such and
 * counted apart; the others still run (and pass on ref). */
Test(conformance, max_elements_reports_larger_cases_as_not_run)
{
    const size_t limit = 20000;
    outcome all = run("ref", 0, 1, NULL, "attention");
    outcome r = run_limited("ref", 0, 1, NULL, "attention", limit);
    const cJSON *e, *f;
    size_t ran = 0, skipped = 0, n_all = 0, n = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(all.report, "results")) n_all++;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(r.report, "results"))
    {
        n++;
        if (!strcmp(str(f, "result"), "NOT_RUN")) {
            cr_assert(strstr(str(f, "note"), "over max_elements 20000") != NULL, "note: %s",
                      str(f, "note"));
            skipped++;
        } else {
            cr_assert_str_eq(str(f, "result"), "PASS", "%s: %s", str(f, "shape"), str(f, "note"));
            ran++;
        }
    }
    cr_assert_eq(n, n_all, "the same cases are listed with and without the limit");
    cr_assert(ran > 0 && skipped > 0, "ran %zu, not run %zu", ran, skipped);
    cr_assert_eq(not_run_of(&r), skipped);
    cr_assert_eq(r.sum.passed, ran);
    cr_assert_eq(all.sum.passed, n_all, "without the limit every case runs");
    cJSON_Delete(all.report);
    cJSON_Delete(r.report);
}

/* Runs `vitcl conformance ARGS` and returns its exit status. */
static int cli(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s/host/cli/vitcl' conformance %s >/dev/null 2>&1",
             root("VITCL_BUILD_ROOT", VITCL_BUILD_ROOT), args);
    int st = system(cmd);
    cr_assert(st != -1 && WIFEXITED(st), "could not run %s", cmd);
    return WEXITSTATUS(st);
}

Test(conformance, cli_exit_status_and_junit_report)
{
    char path[1024], args[1400], xml[256];
    snprintf(xml, sizeof xml, "/tmp/vitcl-conformance-%ld.xml", (long)getpid());
    snprintf(args, sizeof args, "--plugin ref --quick --filter gelu --report %s", xml);
    cr_assert_eq(cli(args), 0);
    FILE *f = fopen(xml, "r");
    cr_assert_not_null(f, "no JUnit report");
    static char head[1 << 16];
    head[0] = '\0';
    size_t n = fread(head, 1, sizeof head - 1, f);
    head[n] = '\0';
    fclose(f);
    remove(xml);
    cr_assert(strstr(head, "<testsuite ") != NULL && strstr(head, "failures=\"0\"") != NULL,
              "%s", head);
    /* Unclaimed precisions are skipped in JUnit and do not fail the run. */
    variant_path(path, sizeof path, "fp32_only");
    snprintf(args, sizeof args, "--plugin '%s' --quick --filter pack_weight_host --report %s",
             path, xml);
    cr_assert_eq(cli(args), 0, "NOT_RUN cases are not failures");
    f = fopen(xml, "r");
    cr_assert_not_null(f, "no JUnit report");
    n = fread(head, 1, sizeof head - 1, f);
    head[n] = '\0';
    fclose(f);
    remove(xml);
    cr_assert(strstr(head, "failures=\"0\"") != NULL && strstr(head, "skipped=\"0\"") == NULL &&
              strstr(head, " [bf16]") != NULL, "%s", head);
    variant_path(path, sizeof path, "wrong_gelu_last");
    snprintf(args, sizeof args, "--plugin '%s' --quick --filter gelu", path);
    cr_assert_eq(cli(args), 1, "a failing plugin gives exit status 1");
    cr_assert_eq(cli("--no-such-flag"), 2);
    cr_assert_eq(cli("--plugin no-such-plugin --quick"), 1);
}
