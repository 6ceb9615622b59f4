/* tests/model/test_host_pack.c - the host's side of ABI 1.1 precisions: vitcl_model_load_ex,
 * the precision names, and what reaches a plugin's pack_weight_host.
 *
 * The plugin under test is "hostpack" (hostpack_plugin.c): ref plus a pack_weight_host that
 * logs what it was given (label, dtype, n, k, precision and a hash of the bytes). The tests
 * check that every linear weight reaches it in the checkpoint's stored dtype with the file's
 * own bytes (the fused QKV as q, k, v concatenated), that the model then still matches
 * transformers, that a plugin which declines gets the 1.0 path in fp32 and a refusal in bf16,
 * and that bad options are refused with clear messages.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model_check.h"
#include "vitcl/backend.h"
#include "vitcl/vitcl.h"
#include "weights.h"

/* The plugin reports the headers' ABI version (hostpack_plugin.c), as a string literal. */
#define HP_STR_(x) #x
#define HP_STR(x) HP_STR_(x)
#define HOSTPACK_ABI HP_STR(VITCL_ABI_MAJOR) "." HP_STR(VITCL_ABI_MINOR)

#define FIXTURES VITCL_SOURCE_ROOT "/tests/fixtures/models"

static vitcl_registry *reg;
static vitcl_backend *be;
static char log_path[256];

static void setup(void)
{
    snprintf(log_path, sizeof log_path, "%s/hostpack-%d.log", VITCL_BUILD_ROOT, (int)getpid());
    remove(log_path);
    cr_assert_eq(setenv("VITCL_TEST_HOSTPACK_LOG", log_path, 1), 0);
    unsetenv("VITCL_TEST_HOSTPACK_DECLINE");
    cr_assert_eq(vitcl_registry_open(HOSTPACK_PLUGIN, &reg), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_eq(vitcl_backend_open(reg, "hostpack", NULL, &be), VITCL_OK, "%s",
                 vitcl_last_error());
}

static void teardown(void)
{
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
    remove(log_path);
    unsetenv("VITCL_TEST_HOSTPACK_LOG");
    unsetenv("VITCL_TEST_HOSTPACK_DECLINE");
}

TestSuite(host_pack, .init = setup, .fini = teardown, .timeout = 300);

static vitcl_status load(const char *fixture, int precision, vitcl_model **m)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", FIXTURES, fixture);
    vitcl_load_options o = {.struct_size = sizeof o, .precision = precision};
    return vitcl_model_load_ex(be, dir, &o, m);
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}
#define FNV_START 1469598103934665603ull

/* One logged pack_weight_host call. */
typedef struct packed_call {
    char label[160];
    unsigned dtype, precision;
    size_t n, k;
    unsigned long long hash;
} packed_call;

static size_t read_log(packed_call *calls, size_t max)
{
    FILE *f = fopen(log_path, "r");
    if (!f)
        return 0;
    size_t n = 0;
    char line[512];
    while (n < max && fgets(line, sizeof line, f)) {
        packed_call *c = &calls[n];
        char *tab = strchr(line, '\t');
        cr_assert(tab, "bad log line %s", line);
        *tab = '\0';
        snprintf(c->label, sizeof c->label, "%s", line);
        cr_assert_eq(sscanf(tab + 1, "%u\t%zu\t%zu\t%u\t%llx", &c->dtype, &c->n, &c->k,
                            &c->precision, &c->hash),
                     5, "bad log line after %s", line);
        n++;
    }
    fclose(f);
    return n;
}

static const packed_call *find_call(const packed_call *calls, size_t n, const char *label)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(calls[i].label, label))
            return &calls[i];
    return NULL;
}

/* Checks that every linear weight of the model in dir (layers, classifier when present) reached
 * pack_weight_host once, as the file stores it, at `precision`. */
static void expect_packed_in(const char *dir, size_t layers, const char *prefix, int classifier,
                             unsigned precision)
{
    vitcl_weights *w;
    cr_assert_eq(vitcl_weights_open(dir, NULL, &w), VITCL_OK, "%s", vitcl_last_error());
    packed_call calls[64];
    size_t ncalls = read_log(calls, 64);
    cr_expect_eq(ncalls, layers * 4 + (classifier ? 1 : 0), "%zu pack_weight_host calls",
                 ncalls);
    for (size_t l = 0; l < layers; l++) {
        static const char *const qkv[] = {"query", "key", "value"};
        static const char *const single[] = {"attention.output.dense", "intermediate.dense",
                                             "output.dense"};
        char label[160], name[160];
        snprintf(label, sizeof label, "encoder.layer.%zu.attention.qkv (fused)", l);
        const packed_call *c = find_call(calls, ncalls, label);
        cr_assert(c, "no pack_weight_host call for %s", label);
        uint64_t h = FNV_START;
        size_t rows = 0, k = 0;
        vitcl_dtype dt = VITCL_DTYPE_F32;
        for (int j = 0; j < 3; j++) {
            snprintf(name, sizeof name, "%sencoder.layer.%zu.attention.attention.%s.weight",
                     prefix, l, qkv[j]);
            const vitcl_tensor_entry *t = vitcl_weights_find(w, name);
            cr_assert(t, "no tensor %s", name);
            h = fnv1a(h, t->data, (size_t)t->numel * weights_dtype_size(t->dtype));
            rows += (size_t)t->shape[0];
            k = (size_t)t->shape[1];
            dt = t->dtype;
        }
        cr_expect_eq(c->dtype, (unsigned)dt, "%s: dtype %u, stored %u", label, c->dtype, dt);
        cr_expect_eq(c->n, rows);
        cr_expect_eq(c->k, k);
        cr_expect_eq(c->precision, precision, "%s: precision %u", label, c->precision);
        cr_expect_eq(c->hash, (unsigned long long)h, "%s: the bytes are not the file's", label);
        for (int j = 0; j < 3; j++) {
            snprintf(name, sizeof name, "%sencoder.layer.%zu.%s.weight", prefix, l, single[j]);
            const vitcl_tensor_entry *t = vitcl_weights_find(w, name);
            cr_assert(t, "no tensor %s", name);
            c = find_call(calls, ncalls, name);
            cr_assert(c, "no pack_weight_host call for %s", name);
            cr_expect_eq(c->dtype, (unsigned)t->dtype, "%s: dtype %u, stored %u", name, c->dtype,
                         t->dtype);
            cr_expect_eq(c->n, (size_t)t->shape[0]);
            cr_expect_eq(c->k, (size_t)t->shape[1]);
            cr_expect_eq(c->precision, precision);
            cr_expect_eq(c->hash,
                         (unsigned long long)fnv1a(FNV_START, t->data,
                                                   (size_t)t->numel * weights_dtype_size(t->dtype)),
                         "%s: the bytes are not the file's", name);
        }
    }
    if (classifier) {
        const vitcl_tensor_entry *t = vitcl_weights_find(w, "classifier.weight");
        cr_assert(t);
        const packed_call *c = find_call(calls, ncalls, "classifier.weight");
        cr_assert(c, "no pack_weight_host call for classifier.weight");
        cr_expect_eq(c->dtype, (unsigned)t->dtype);
        cr_expect_eq(c->n, (size_t)t->shape[0]);
        size_t bytes = (size_t)t->numel * weights_dtype_size(t->dtype);
        cr_expect_eq(c->hash, (unsigned long long)fnv1a(FNV_START, t->data, bytes));
    }
    vitcl_weights_close(w);
}

static void expect_packed_as_stored(const char *fixture, size_t layers, const char *prefix,
                                    int classifier, unsigned precision)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", FIXTURES, fixture);
    expect_packed_in(dir, layers, prefix, classifier, precision);
}

/* Copies fixture's config.json and model.safetensors into a new folder with the safetensors
 * header one byte longer (a trailing space, valid JSON), so every tensor's data starts at an odd
 * offset: misaligned for every dtype. Returns the folder in dir. */
static void misaligned_copy(const char *fixture, char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/vitcl-hostpack-XXXXXX");
    cr_assert(mkdtemp(dir), "mkdtemp");
    char src[512], dst[600];
    snprintf(src, sizeof src, "%s/%s/config.json", FIXTURES, fixture);
    snprintf(dst, sizeof dst, "cp '%s' '%s/config.json'", src, dir);
    cr_assert_eq(system(dst), 0);
    snprintf(src, sizeof src, "%s/%s/model.safetensors", FIXTURES, fixture);
    FILE *f = fopen(src, "rb");
    cr_assert(f);
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n);
    cr_assert(b);
    cr_assert_eq(fread(b, 1, n, f), n);
    fclose(f);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | b[i];
    cr_assert_lt(8 + hl, n);
    uint64_t nl = hl + 1;
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(nl >> (8 * i));
    snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
    f = fopen(dst, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(le, 1, 8, f), 8);
    cr_assert_eq(fwrite(b + 8, 1, (size_t)hl, f), (size_t)hl);
    cr_assert_eq(fputc(' ', f), ' ');
    cr_assert_eq(fwrite(b + 8 + hl, 1, n - 8 - (size_t)hl, f), n - 8 - (size_t)hl);
    cr_assert_eq(fclose(f), 0);
    free(b);
}

static void remove_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

Test(host_pack, bf16_checkpoint_reaches_the_plugin_as_bf16)
{
    vitcl_model *m = NULL;
    cr_assert_eq(load("bf16_d40_h5_l1_p9_s38", VITCL_PRECISION_BF16, &m), VITCL_OK, "%s",
                 vitcl_last_error());
    vitcl_model_config c;
    cr_assert_eq(vitcl_model_get_config(m, &c), VITCL_OK);
    cr_expect_str_eq(c.precision, "bf16");
    cr_expect_str_eq(c.weight_dtype, "BF16");
    expect_packed_as_stored("bf16_d40_h5_l1_p9_s38", 1, "", 0, VITCL_PRECISION_BF16);
    /* bf16 values rounded to bf16 are unchanged: the fp32 contract still holds. */
    mc_expect_golden(m, "bf16_d40_h5_l1_p9_s38");
    vitcl_model_free(m);
}

Test(host_pack, f16_checkpoint_reaches_the_plugin_as_f16)
{
    vitcl_model *m = NULL;
    cr_assert_eq(load("f16_d32_h2_l2_p5_s21", VITCL_PRECISION_FP32, &m), VITCL_OK, "%s",
                 vitcl_last_error());
    expect_packed_as_stored("f16_d32_h2_l2_p5_s21", 2, "", 0, VITCL_PRECISION_FP32);
    mc_expect_golden(m, "f16_d32_h2_l2_p5_s21");
    vitcl_model_free(m);
}

Test(host_pack, fp32_checkpoint_with_prefix_and_classifier)
{
    vitcl_model *m = NULL;
    cr_assert_eq(vitcl_model_load(be, FIXTURES "/cls5_d48_h6_l2_p6_s36", &m), VITCL_OK, "%s",
                 vitcl_last_error());
    vitcl_model_config c;
    cr_assert_eq(vitcl_model_get_config(m, &c), VITCL_OK);
    cr_expect_str_eq(c.precision, "fp32");
    expect_packed_as_stored("cls5_d48_h6_l2_p6_s36", 2, "vit.", 1, VITCL_PRECISION_FP32);
    mc_expect_golden(m, "cls5_d48_h6_l2_p6_s36");
    vitcl_model_free(m);
}

Test(host_pack, declined_fp32_takes_the_1_0_path)
{
    cr_assert_eq(setenv("VITCL_TEST_HOSTPACK_DECLINE", "1", 1), 0);
    vitcl_model *m = NULL;
    cr_assert_eq(load("bf16_d40_h5_l1_p9_s38", VITCL_PRECISION_FP32, &m), VITCL_OK, "%s",
                 vitcl_last_error());
    packed_call calls[4];
    cr_expect_eq(read_log(calls, 4), 0, "pack_weight_host was called though it declined");
    mc_expect_golden(m, "bf16_d40_h5_l1_p9_s38");
    vitcl_model_free(m);
}

Test(host_pack, declined_bf16_is_refused_by_name)
{
    cr_assert_eq(setenv("VITCL_TEST_HOSTPACK_DECLINE", "1", 1), 0);
    vitcl_model *m = (vitcl_model *)&reg;
    cr_assert_eq(load("bf16_d40_h5_l1_p9_s38", VITCL_PRECISION_BF16, &m), VITCL_ERR_UNSUPPORTED);
    cr_expect_null(m);
    const char *e = vitcl_last_error();
    cr_expect(strstr(e, "bf16: plugin 'hostpack' (ABI " HOSTPACK_ABI ") on device '"), "%s", e);
    cr_expect(strstr(e, "runs fp32, bf16"), "%s", e);
    cr_expect(strstr(e, "declined pack_weight_host of 'encoder.layer.0.attention.qkv (fused)'"),
              "%s", e);
    cr_expect(strstr(e, "bf16_d40_h5_l1_p9_s38"), "the folder is not named: %s", e);
}

Test(host_pack, precision_the_device_lacks_is_refused_up_front)
{
    vitcl_model *m = NULL;
    cr_assert_eq(load("d32_h4_l1_p7_s30", VITCL_PRECISION_FP16, &m), VITCL_ERR_UNSUPPORTED);
    const char *e = vitcl_last_error();
    char want[256];
    snprintf(want, sizeof want,
             "fp16: plugin 'hostpack' (ABI " HOSTPACK_ABI ") on device '%s' runs fp32, bf16",
             vitcl_backend_device(be)->name);
    cr_expect(strstr(e, want), "%s", e);
    packed_call calls[4];
    cr_expect_eq(read_log(calls, 4), 0, "a refused load packed weights");
}

Test(host_pack, bad_options_are_refused)
{
    vitcl_model *m = NULL;
    vitcl_load_options o = {.struct_size = sizeof o, .precision = 7};
    cr_expect_eq(vitcl_model_load_ex(be, FIXTURES "/d32_h4_l1_p7_s30", &o, &m),
                 VITCL_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(vitcl_last_error(), "unknown precision 7 (valid: fp32, bf16, fp16)"), "%s",
              vitcl_last_error());
    o.precision = -1;
    cr_expect_eq(vitcl_model_load_ex(be, FIXTURES "/d32_h4_l1_p7_s30", &o, &m),
                 VITCL_ERR_INVALID_ARGUMENT);
    o.struct_size = 0;
    cr_expect_eq(vitcl_model_load_ex(be, FIXTURES "/d32_h4_l1_p7_s30", &o, &m),
                 VITCL_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(vitcl_last_error(), "struct_size"), "%s", vitcl_last_error());
    /* A struct_size that stops before precision: the default, fp32. */
    o.struct_size = sizeof o.struct_size;
    o.precision = 7;
    cr_assert_eq(vitcl_model_load_ex(be, FIXTURES "/d32_h4_l1_p7_s30", &o, &m), VITCL_OK, "%s",
                 vitcl_last_error());
    vitcl_model_config c;
    cr_assert_eq(vitcl_model_get_config(m, &c), VITCL_OK);
    cr_expect_str_eq(c.precision, "fp32");
    vitcl_model_free(m);
    /* NULL options: the defaults. */
    cr_assert_eq(vitcl_model_load_ex(be, FIXTURES "/d32_h4_l1_p7_s30", NULL, &m), VITCL_OK, "%s",
                 vitcl_last_error());
    vitcl_model_free(m);
}

Test(precision, names_and_parsing)
{
    cr_expect_str_eq(vitcl_precision_name(VITCL_PRECISION_FP32), "fp32");
    cr_expect_str_eq(vitcl_precision_name(VITCL_PRECISION_BF16), "bf16");
    cr_expect_str_eq(vitcl_precision_name(VITCL_PRECISION_FP16), "fp16");
    cr_expect_null(vitcl_precision_name(VITCL_PRECISION_COUNT_));
    cr_expect_null(vitcl_precision_name(-1));
    for (int p = 0; p < VITCL_PRECISION_COUNT_; p++) {
        int got = -1;
        cr_expect_eq(vitcl_precision_parse(vitcl_precision_name(p), &got), VITCL_OK);
        cr_expect_eq(got, p);
    }
    static const char *const bad[] = {"BF16", "fp64", "", "bf16 ", "float32"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int got = 42;
        cr_expect_eq(vitcl_precision_parse(bad[i], &got), VITCL_ERR_INVALID_ARGUMENT, "'%s'",
                     bad[i]);
        cr_expect_eq(got, 42, "'%s': *out changed on failure", bad[i]);
        char want[64];
        snprintf(want, sizeof want, "unknown precision '%s' (valid: fp32, bf16, fp16)", bad[i]);
        cr_expect(strstr(vitcl_last_error(), want), "%s", vitcl_last_error());
    }
    int got;
    cr_expect_eq(vitcl_precision_parse(NULL, &got), VITCL_ERR_INVALID_ARGUMENT);
    cr_expect_eq(vitcl_precision_parse("fp32", NULL), VITCL_ERR_INVALID_ARGUMENT);
}

/* The CLI's --precision reaches the load: bench says the precision in its text and JSON, and a
 * refusal exits 1 with the library's message. */
Test(host_pack, cli_bench_reports_the_precision)
{
    int status;
#define BF16_MODEL FIXTURES "/bf16_d40_h5_l1_p9_s38"
    char *out = mc_run_cli(HOSTPACK_PLUGIN, VITCL_CLI_PATH,
                           "bench " BF16_MODEL " --backend hostpack --precision bf16 --iters 1 "
                           "--warmup 0 --json",
                           &status);
    cr_assert_eq(status, 0, "%s", out);
    cr_expect(strstr(out, "\nprecision    bf16 "), "%s", out);
    cr_expect(strstr(out, "{\"backend\":\"hostpack\",\"precision\":\"bf16\","), "%s", out);
    free(out);
    out = mc_run_cli(HOSTPACK_PLUGIN, VITCL_CLI_PATH,
                     "bench " BF16_MODEL " --backend hostpack --precision fp16 --iters 1 "
                     "--warmup 0",
                     &status);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d: %s", status, out);
    cr_expect(strstr(out, "fp16: plugin 'hostpack' (ABI " HOSTPACK_ABI ") on device '"), "%s", out);
    free(out);
    out = mc_run_cli(HOSTPACK_PLUGIN, VITCL_CLI_PATH,
                     "run " BF16_MODEL " --input x.npy --output y.npy --precision half",
                     &status);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status %d: %s", status, out);
    cr_expect(strstr(out, "vitcl run: --precision: unknown precision 'half' (valid: fp32, bf16, "
                          "fp16)"),
              "%s", out);
    free(out);
}

Test(host_pack, misaligned_mapping_is_copied_aligned_in_its_dtype)
{
    char dir[256];
    misaligned_copy("bf16_d40_h5_l1_p9_s38", dir, sizeof dir);
    vitcl_weights *w;
    cr_assert_eq(vitcl_weights_open(dir, NULL, &w), VITCL_OK, "%s", vitcl_last_error());
    const vitcl_tensor_entry *t = vitcl_weights_find(w, "encoder.layer.0.output.dense.weight");
    cr_assert(t);
    cr_assert_eq((uintptr_t)t->data % 2, 1, "the copy did not misalign the data");
    vitcl_weights_close(w);
    vitcl_model *m = NULL;
    vitcl_load_options o = {.struct_size = sizeof o, .precision = VITCL_PRECISION_BF16};
    cr_assert_eq(vitcl_model_load_ex(be, dir, &o, &m), VITCL_OK, "%s", vitcl_last_error());
    expect_packed_in(dir, 1, "", 0, VITCL_PRECISION_BF16);
    mc_expect_golden(m, "bf16_d40_h5_l1_p9_s38");
    vitcl_model_free(m);
    remove_tree(dir);
}
