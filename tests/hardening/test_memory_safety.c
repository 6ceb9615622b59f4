/* tests/hardening/test_memory_safety.c - sizes from users that used to overrun buffers:
 * a model whose num_channels is not 3 fed the image path's RGB pixels (embed, conformance
 * --fixtures), and `bench --size` values whose pixel byte count wrapped. Under ASan these cases
 * were heap-buffer-overflow reads and writes; now each is refused with a message. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf_internal.h"
#include "hardening_util.h"
#include "leak_check.h"
#include "npy.h"

static char dir[128];

static void setup(void)
{
    harden_mkdtemp("memsafe", dir, sizeof dir);
}

static void teardown(void)
{
    harden_rmtree(dir);
    leak_check_expect_none();
}

TestSuite(memory_safety, .init = setup, .fini = teardown);

#define IMAGE VITCL_SOURCE_ROOT "/tests/fixtures/images/src/png_rgb8_5x3.png"

static void model_with_channels(const char *sub, size_t channels)
{
    char d[256];
    snprintf(d, sizeof d, "%s/%s", dir, sub);
    cr_assert_eq(mkdir(d, 0700), 0);
    harden_vit v = {.hidden = 8, .heads = 2, .layers = 1, .inter = 16, .patch = 4, .image = 8,
                    .channels = channels};
    harden_write_model(d, &v, NULL);
}

Test(memory_safety, embed_refuses_models_whose_channels_are_not_rgb)
{
    const size_t channels[] = {1, 2, 4, 64};
    char err[8192], out[256];
    snprintf(out, sizeof out, "%s/e.npy", dir);
    for (size_t i = 0; i < 4; i++) {
        char sub[32], d[256];
        snprintf(sub, sizeof sub, "c%zu", channels[i]);
        model_with_channels(sub, channels[i]);
        snprintf(d, sizeof d, "%s/%s", dir, sub);
        const char *argv[] = {"embed", d, IMAGE, "--backend", "ref", "-o", out, NULL};
        int rc = harden_cli(argv, 60, err, sizeof err);
        cr_expect_eq(rc, 1, "num_channels %zu: exit %d: %s", channels[i], rc, err);
        char want[64];
        snprintf(want, sizeof want, "num_channels %zu", channels[i]);
        cr_expect(strstr(err, want) != NULL, "num_channels %zu: %s", channels[i], err);
    }
    /* the same synthetic model with 3 channels embeds: the refusal is about channels only */
    model_with_channels("c3", 3);
    char d[256];
    snprintf(d, sizeof d, "%s/c3", dir);
    const char *argv[] = {"embed", d, IMAGE, "--backend", "ref", "-o", out, NULL};
    int rc = harden_cli(argv, 60, err, sizeof err);
    cr_expect_eq(rc, 0, "num_channels 3: exit %d: %s", rc, err);
}

/* conformance --fixtures: golden pixels of 3 channels for a model of 1 (or 2) channels. */
Test(memory_safety, conformance_fixture_pixels_must_match_num_channels)
{
    model_with_channels("one", 1);
    model_with_channels("two", 2);
    const char *manifest = "{\"models\": [{\"folder\": \"one\", \"cases\": [{\"name\": \"b1\"}]},"
                           " {\"folder\": \"two\", \"cases\": [{\"name\": \"b1\"}]}]}";
    harden_write(dir, "manifest.json", manifest, strlen(manifest));
    const char *subs[] = {"one", "two"};
    for (size_t i = 0; i < 2; i++) {
        char g[300];
        snprintf(g, sizeof g, "%s/%s/golden", dir, subs[i]);
        cr_assert_eq(mkdir(g, 0700), 0);
        strcat(g, "/b1");
        cr_assert_eq(mkdir(g, 0700), 0);
        static float px[1 * 3 * 8 * 8], lhs[1 * 5 * 8];
        char p[400];
        snprintf(p, sizeof p, "%s/pixel_values.npy", g);
        cr_assert_eq(vitcl_npy_write_f32(p, px, 4, (size_t[]){1, 3, 8, 8}), VITCL_OK);
        snprintf(p, sizeof p, "%s/last_hidden_state.npy", g);
        cr_assert_eq(vitcl_npy_write_f32(p, lhs, 3, (size_t[]){1, 5, 8}), VITCL_OK);
    }
    vitcl_registry *reg;
    vitcl_backend *be;
    harden_open("ref", &reg, &be);
    conf_results res = {0};
    cr_assert_eq(conf_model_parity(be, dir, 0, &res), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_eq(res.n, 2);
    for (size_t i = 0; i < 2; i++) {
        cr_expect_eq(res.v[i].verdict, CONF_FAIL, "%s", res.v[i].shape);
        char want[64];
        snprintf(want, sizeof want, "num_channels %zu", i + 1);
        cr_expect(strstr(res.v[i].note, "3 channels") && strstr(res.v[i].note, want), "%s",
                  res.v[i].note);
    }
    conf_results_free(&res);
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
}

Test(memory_safety, bench_size_values_that_wrap_are_refused)
{
    const char *model = harden_model_dir("d48_h3_l2_p16_s64");
    const char *sizes[] = {"4294967296x4294967296", "18446744073709551615x1", "-1x-1",
                           "65536x16", "0x16", "16x", "16x16x", "+16x16"};
    char err[8192];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const char *argv[] = {"bench", model, "--backend", "ref", "--size", sizes[i], NULL};
        int rc = harden_cli(argv, 60, err, sizeof err);
        cr_expect_eq(rc, 2, "--size %s: exit %d: %s", sizes[i], rc, err);
        cr_expect(strstr(err, "--size") != NULL, "--size %s: %s", sizes[i], err);
    }
    /* in range per side, but more tokens than a run may have: refused before the pixels are
     * allocated (4096 x 3 x 65535 x 65535 floats would be 2e14 bytes) */
    const char *argv[] = {"bench", model, "--backend", "ref", "--batch", "4096", "--size",
                          "65535x65535", "--iters", "1", "--warmup", "0", NULL};
    int rc = harden_cli(argv, 60, err, sizeof err);
    cr_expect_eq(rc, 1, "exit %d: %s", rc, err);
    cr_expect(strstr(err, "vitcl bench --size") && strstr(err, "token limit"), "%s", err);
    /* within the token limit (a 512-pixel patch: 127 x 127 patches), but 4096 x 3 x 65024 x
     * 65024 floats are 2.1e14 bytes, more than a 47-bit address space can map whatever the
     * overcommit policy: a message, not a crash (ASan is told to return NULL as malloc does) */
    char big_model[256];
    snprintf(big_model, sizeof big_model, "%s/p512", dir);
    cr_assert_eq(mkdir(big_model, 0700), 0);
    harden_vit v = {.hidden = 8, .heads = 2, .layers = 1, .inter = 16, .patch = 512,
                    .image = 512, .channels = 3};
    harden_write_model(big_model, &v, NULL);
    const char *old = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%sallocator_may_return_null=1", old ? old : "",
             old ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    const char *big[] = {"bench", big_model, "--backend", "ref", "--batch", "4096", "--size",
                         "65024x65024", "--iters", "1", "--warmup", "0", NULL};
    rc = harden_cli(big, 60, err, sizeof err);
    cr_expect_eq(rc, 1, "exit %d: %s", rc, err);
    cr_expect(strstr(err, "vitcl bench:") && strstr(err, "memory"), "%s", err);
}
