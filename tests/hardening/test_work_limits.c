/* tests/hardening/test_work_limits.c - the token limit that bounds a run's work and attention
 * memory (host/model/token_limit.h): a config whose native size is over it is refused at parse
 * time, a run over it before any work, the limit is overridable with VITCL_MAX_TOKENS, and
 * `vitcl info` validates without running anything, so a million-token config answers at once. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "hardening_util.h"
#include "leak_check.h"
#include "token_limit.h"

static char dir[128];

static void setup(void)
{
    unsetenv("VITCL_MAX_TOKENS");
    harden_mkdtemp("work", dir, sizeof dir);
}

static void teardown(void)
{
    unsetenv("VITCL_MAX_TOKENS");
    harden_rmtree(dir);
    leak_check_expect_none();
}

TestSuite(work_limits, .init = setup, .fini = teardown);

static vitcl_status parse_sizes(size_t image, size_t patch)
{
    char json[256];
    snprintf(json, sizeof json,
             "{\"model_type\": \"vit_msn\", \"hidden_size\": 8, \"num_attention_heads\": 2, "
             "\"image_size\": %zu, \"patch_size\": %zu}", image, patch);
    vitcl_vit_config c;
    return vitcl_config_parse(json, strlen(json), "config.json", &c);
}

Test(work_limits, config_native_tokens_are_bounded)
{
    cr_expect_eq(VITCL_DEFAULT_MAX_TOKENS, 16384u);
    /* 127x127 + 1 = 16130 tokens: in; 128x128 + 1 = 16385: one over */
    cr_expect_eq(parse_sizes(1016, 8), VITCL_OK, "%s", vitcl_last_error());
    cr_expect_eq(parse_sizes(1024, 8), VITCL_ERR_LIMIT);
    cr_expect(strstr(vitcl_last_error(), "16385 tokens") &&
              strstr(vitcl_last_error(), "token limit of 16384") &&
              strstr(vitcl_last_error(), "VITCL_MAX_TOKENS"), "%s", vitcl_last_error());
    /* the example and worse, all inside the documented size limits */
    cr_expect_eq(parse_sizes(1024, 1), VITCL_ERR_LIMIT);
    cr_expect(strstr(vitcl_last_error(), "1048577 tokens"), "%s", vitcl_last_error());
    cr_expect_eq(parse_sizes(16384, 1), VITCL_ERR_LIMIT);
    cr_expect_eq(parse_sizes(16384, 2), VITCL_ERR_LIMIT);
    /* overridable, both ways */
    setenv("VITCL_MAX_TOKENS", "16385", 1);
    cr_expect_eq(parse_sizes(1024, 8), VITCL_OK, "%s", vitcl_last_error());
    setenv("VITCL_MAX_TOKENS", "16", 1);
    cr_expect_eq(parse_sizes(64, 16), VITCL_ERR_LIMIT); /* 17 tokens */
    cr_expect_eq(parse_sizes(48, 16), VITCL_OK);        /* 10 tokens */
    const char *bad[] = {"0", "-5", "12x", "", "99999999999999999999999"};
    for (size_t i = 0; i < 5; i++) {
        setenv("VITCL_MAX_TOKENS", bad[i], 1);
        vitcl_status st = parse_sizes(64, 16);
        if (bad[i][0] == '\0') { /* empty means unset */
            cr_expect_eq(st, VITCL_OK, "\"\": %s", vitcl_last_error());
            continue;
        }
        cr_expect_eq(st, VITCL_ERR_INVALID_ARGUMENT, "\"%s\"", bad[i]);
        cr_expect(strstr(vitcl_last_error(), "VITCL_MAX_TOKENS"), "%s", vitcl_last_error());
    }
}

Test(work_limits, run_is_refused_before_any_work)
{
    vitcl_registry *reg;
    vitcl_backend *be;
    harden_open("ref", &reg, &be);
    vitcl_model *m = NULL;
    cr_assert_eq(vitcl_model_load(be, harden_model_dir("d48_h3_l2_p16_s64"), &m), VITCL_OK, "%s",
                 vitcl_last_error());
    setenv("VITCL_MAX_TOKENS", "20", 1);
    float *px = harden_pixels(2, 16, 1600, 7); /* 1 x 100 patches: 101 tokens */
    harden_result r;
    cr_expect_eq(harden_run(m, px, 1, 16, 1600, &r), VITCL_ERR_LIMIT);
    cr_expect(strstr(vitcl_last_error(), "input 16x1600") &&
              strstr(vitcl_last_error(), "101 tokens"), "%s", vitcl_last_error());
    cr_expect_eq(harden_run(m, px, 2, 80, 80, &r), VITCL_ERR_LIMIT); /* 26 tokens */
    cr_expect_eq(harden_run(m, px, 1, 64, 64, &r), VITCL_OK, "%s", vitcl_last_error());
    harden_result_free(&r);
    unsetenv("VITCL_MAX_TOKENS");
    /* the default limit: 16x1600 is in */
    cr_expect_eq(harden_run(m, px, 1, 16, 1600, &r), VITCL_OK, "%s", vitcl_last_error());
    harden_result_free(&r);
    free(px);
    vitcl_model_free(m);
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
}

/* `vitcl info` on a config of image 1024, patch 1 (a million tokens): refused at once by the
 * limit, and with the limit raised, validated and summarised at once without running. The
 * one-second bound is a hang guard (the warm-up layer used to run for hours), not a benchmark. */
Test(work_limits, info_on_a_million_token_config_returns_at_once)
{
    harden_vit v = {.hidden = 4, .heads = 2, .layers = 1, .inter = 8, .patch = 1, .image = 1024,
                    .channels = 3};
    harden_write_model(dir, &v, NULL);
    char err[8192];
    const char *argv[] = {"info", dir, "--no-tensors", NULL};
    int rc = harden_cli(argv, 1, err, sizeof err);
    cr_expect_eq(rc, 1, "exit %d (-2: still running after 1 s): %s", rc, err);
    cr_expect(strstr(err, "1048577 tokens") && strstr(err, "VITCL_MAX_TOKENS"), "%s", err);

    setenv("VITCL_MAX_TOKENS", "2000000", 1);
    rc = harden_cli(argv, 1, err, sizeof err);
    cr_expect_eq(rc, 0, "with VITCL_MAX_TOKENS=2000000: exit %d (-2: still running after 1 s): "
                 "%s", rc, err);
    /* and the library call info uses opens no backend at all */
    vitcl_model_config c;
    cr_assert_eq(vitcl_model_inspect(dir, &c), VITCL_OK, "%s", vitcl_last_error());
    cr_expect_eq(c.image_size, 1024);
    cr_expect_eq(c.patch_size, 1);
    cr_expect_eq(c.parameter_count, 4ull * (1 + 1048577 + 3 + 1) + 4 * (4 * 4 + 4) +
                                        (8 * 4 + 8) + (4 * 8 + 4) + 4 * 4 + 2 * 4);
}

Test(work_limits, inspect_refuses_what_load_refuses)
{
    harden_vit v = {.hidden = 8, .heads = 2, .layers = 1, .inter = 16, .patch = 4, .image = 8,
                    .channels = 3};
    harden_write_model(dir, &v, NULL);
    vitcl_model_config c;
    cr_assert_eq(vitcl_model_inspect(dir, &c), VITCL_OK, "%s", vitcl_last_error());
    /* a config that disagrees with the weights */
    const char *cfg = "{\"model_type\": \"vit_msn\", \"hidden_size\": 8, \"num_attention_heads\":"
                      " 2, \"num_hidden_layers\": 2, \"intermediate_size\": 16, \"patch_size\": 4,"
                      " \"image_size\": 8}";
    harden_write(dir, "config.json", cfg, strlen(cfg));
    cr_expect_eq(vitcl_model_inspect(dir, &c), VITCL_ERR_FORMAT);
    cr_expect(strstr(vitcl_last_error(), "missing tensor 'encoder.layer.1."), "%s",
              vitcl_last_error());
    cr_expect_eq(vitcl_model_inspect("/nonexistent", &c) != VITCL_OK, 1);
}
