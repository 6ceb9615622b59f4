/* tests/abi10/test_abi10.c - a plugin built against the ABI 1.0 headers works on today's host.
 *
 * The plugin is examples/plugin-skeleton compiled with tests/abi10/include (the frozen 1.0
 * headers). The host must accept it as ABI 1.0, report its device as fp32 only, pass it through
 * the conformance suite in fp32 (ops and the model fixtures against transformers), run a model
 * fixture with the fp32 contract, and refuse a bf16 or fp16 load with a message naming the
 * plugin and "ABI 1.0", through the C API and the CLI.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model_check.h"
#include "vitcl/conformance.h"
#include "vitcl/vitcl.h"

#define FIXTURES VITCL_SOURCE_ROOT "/tests/fixtures/models"
#define MODEL "d32_h4_l1_p7_s30"

static vitcl_registry *reg;

static void setup(void)
{
    unsetenv("VITCL_FAULT_INJECT");
    cr_assert_eq(vitcl_registry_open(ABI10_PLUGIN, &reg), VITCL_OK, "%s", vitcl_last_error());
}

static void teardown(void)
{
    vitcl_registry_close(reg);
}

TestSuite(abi10, .init = setup, .fini = teardown, .timeout = 300);

static size_t skeleton_index(void)
{
    for (size_t i = 0; i < vitcl_registry_plugin_count(reg); i++) {
        vitcl_plugin_info pi;
        cr_assert_eq(vitcl_registry_plugin(reg, i, &pi), VITCL_OK);
        if (!strcmp(pi.name, "skeleton"))
            return i;
    }
    for (size_t i = 0; i < vitcl_registry_refused_count(reg); i++) {
        const char *path, *why;
        vitcl_registry_refused(reg, i, &path, &why);
        cr_log_error("refused %s: %s", path, why);
    }
    cr_assert_fail("the ABI 1.0 skeleton %s was not accepted", ABI10_PLUGIN);
    return 0;
}

Test(abi10, the_loader_accepts_it_as_abi_1_0_fp32_only)
{
    size_t p = skeleton_index();
    vitcl_plugin_info pi;
    cr_assert_eq(vitcl_registry_plugin(reg, p, &pi), VITCL_OK);
    cr_expect_eq(pi.abi_major, 1);
    cr_expect_eq(pi.abi_minor, 0, "built against the 1.0 headers, reports %u.%u", pi.abi_major,
                 pi.abi_minor);
    cr_expect_str_eq(pi.path, ABI10_PLUGIN);
    cr_assert_geq(pi.device_count, 1);
    vitcl_device_info info;
    cr_assert_eq(vitcl_registry_device(reg, p, 0, &info), VITCL_OK);
    cr_expect_eq(info.precisions, VITCL_PRECISION_BIT(VITCL_PRECISION_FP32));
    cr_expect_str_eq(info.precision_notes, "");
}

Test(abi10, it_passes_conformance_in_fp32)
{
    vitcl_conformance_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin = ABI10_PLUGIN;
    o.quick = 1;
    o.fixtures_dir = FIXTURES;
    char report[256];
    snprintf(report, sizeof report, "%s/abi10-conformance-%d.json", VITCL_BUILD_ROOT,
             (int)getpid());
    o.report_path = report;
    vitcl_conformance_summary sum;
    cr_assert_eq(vitcl_conformance_run(reg, &o, &sum), VITCL_OK, "%s", vitcl_last_error());
    cr_expect_eq(sum.failed, 0, "%zu conformance failures", sum.failed);
    cr_expect_gt(sum.passed, 0);
    FILE *f = fopen(report, "rb");
    cr_assert(f, "no report %s", report);
    static char text[4 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    remove(report);
    text[n] = '\0';
    cJSON *j = cJSON_Parse(text);
    cr_assert(j, "the report is not JSON");
    size_t models = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "results"))
    {
        const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "op"));
        const char *res = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "result"));
        cr_assert(op && res);
        if (!strcmp(op, "model")) {
            models++;
            cr_expect_str_eq(res, "PASS");
        }
    }
    cr_expect_gt(models, 0, "no model fixture ran end to end");
    cJSON_Delete(j);
}

static vitcl_backend *open_skeleton(void)
{
    vitcl_backend *be = NULL;
    cr_assert_eq(vitcl_backend_open(reg, "skeleton", NULL, &be), VITCL_OK, "%s",
                 vitcl_last_error());
    return be;
}

Test(abi10, a_model_fixture_runs_in_fp32)
{
    vitcl_backend *be = open_skeleton();
    vitcl_model *m = NULL;
    vitcl_load_options o = {.struct_size = sizeof o, .precision = VITCL_PRECISION_FP32};
    cr_assert_eq(vitcl_model_load_ex(be, FIXTURES "/" MODEL, &o, &m), VITCL_OK, "%s",
                 vitcl_last_error());
    vitcl_model_config c;
    cr_assert_eq(vitcl_model_get_config(m, &c), VITCL_OK);
    cr_expect_str_eq(c.precision, "fp32");
    mc_expect_golden(m, MODEL);
    vitcl_model_free(m);
    vitcl_backend_close(be);
}

Test(abi10, reduced_precisions_are_refused_by_name)
{
    vitcl_backend *be = open_skeleton();
    static const int ps[] = {VITCL_PRECISION_BF16, VITCL_PRECISION_FP16};
    for (size_t i = 0; i < 2; i++) {
        vitcl_model *m = (vitcl_model *)&reg;
        vitcl_load_options o = {.struct_size = sizeof o, .precision = ps[i]};
        cr_expect_eq(vitcl_model_load_ex(be, FIXTURES "/" MODEL, &o, &m), VITCL_ERR_UNSUPPORTED);
        cr_expect_null(m);
        char want[256];
        snprintf(want, sizeof want, "%s: plugin 'skeleton' (ABI 1.0) on device '%s' runs fp32 only",
                 vitcl_precision_name(ps[i]), vitcl_backend_device(be)->name);
        cr_expect(strstr(vitcl_last_error(), want), "want \"%s\" in: %s", want, vitcl_last_error());
        cr_expect(strstr(vitcl_last_error(), MODEL), "the folder is not named: %s",
                  vitcl_last_error());
    }
    vitcl_backend_close(be);
}

Test(abi10, the_cli_lists_it_and_refuses_bf16)
{
    int st;
    char *out = mc_run_cli(ABI10_PLUGIN, VITCL_CLI_PATH, "devices", &st);
    cr_assert_eq(st, 0, "%s", out);
    cr_expect(strstr(out, "\nplugin skeleton "), "%s", out);
    const char *sk = strstr(out, "\nplugin skeleton ");
    cr_assert(sk);
    cr_expect(strstr(sk, "(ABI 1.0, auto_rank"), "%s", sk);
    cr_expect(strstr(sk, "\n    precisions: fp32\n"), "%s", sk);
    free(out);
    out = mc_run_cli(ABI10_PLUGIN, VITCL_CLI_PATH,
                     "bench " FIXTURES "/" MODEL " --backend skeleton --precision bf16 --iters 1 "
                     "--warmup 0",
                     &st);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d: %s", st, out);
    cr_expect(strstr(out, "bf16: plugin 'skeleton' (ABI 1.0) on device '"), "%s", out);
    cr_expect(strstr(out, "runs fp32 only"), "%s", out);
    free(out);
}
