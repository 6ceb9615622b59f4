/* tests/hardening/test_messages.c - bytes from hostile files never reach a terminal as control
 * sequences (every error message is defused, names from files are shown escaped), and inputs
 * that compute to NaN (non-finite pixels, an image_std of 0) are warned about once per run. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "escape.h"
#include "hardening_util.h"
#include "leak_check.h"
#include "npy.h"

static char dir[128];

static void setup(void)
{
    harden_mkdtemp("messages", dir, sizeof dir);
}

static void teardown(void)
{
    harden_rmtree(dir);
    leak_check_expect_none();
}

TestSuite(messages, .init = setup, .fini = teardown);

/* No ESC, BEL, CR, backspace, DEL or C1 control (raw or UTF-8 encoded) in s. */
static int terminal_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
            return 0;
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return 0;
    }
    return 1;
}

Test(messages, error_messages_are_defused)
{
    vitcl_fail(VITCL_ERR_FORMAT, "tensor '%s' and '%s' and '%s'", "a\x1b[2Jb", "c\x07\rd\x08",
               "e\xc2\x9b" "31mf\x7f");
    const char *m = vitcl_last_error();
    cr_expect(terminal_safe(m), "%s", m);
    cr_expect(strstr(m, "a?[2Jb") && strstr(m, "c??d?"), "%s", m);
    /* what is not a control survives: newlines of multi-line messages, UTF-8 text */
    vitcl_fail(VITCL_ERR_IO, "line one\n  caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80");
    cr_expect_str_eq(vitcl_last_error(), "line one\n  caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80");
    /* a lone C1 byte (8-bit CSI) after ASCII */
    vitcl_fail(VITCL_ERR_IO, "x\x9b" "1m");
    cr_expect_str_eq(vitcl_last_error(), "x?1m");
    vitcl_fail_prefix(VITCL_ERR_IO, "pre\x1b: ");
    cr_expect(terminal_safe(vitcl_last_error()), "%s", vitcl_last_error());
}

Test(messages, escape_shows_bytes)
{
    char out[32];
    cr_expect_str_eq(vitcl_escape(out, sizeof out, "ok\x1b\n\\", 5), "ok\\x1b\\x0a\\x5c");
    cr_expect_str_eq(vitcl_escape(out, 8, "abcdefghij", 10), "abcd...");
    cr_expect_str_eq(vitcl_escape(out, sizeof out, "a\0b", 3), "a\\x00b");
}

static void expect_cli_safe(const char *const *argv, const char *want)
{
    char err[16384];
    int rc = harden_cli(argv, 60, err, sizeof err);
    cr_expect_eq(rc, 1, "exit %d: %s", rc, err);
    cr_expect(terminal_safe(err), "raw control bytes reached stderr: %s", err);
    cr_expect(strstr(err, want) != NULL, "'%s' not in: %s", want, err);
}

/* Hostile strings in each file a model folder holds, written as JSON escapes (which decode to
 * the raw bytes): model_type, a tensor name, a processor type. */
Test(messages, hostile_names_from_files_reach_stderr_defused)
{
    const char *cfg = "{\"model_type\": \"vit\\u001b]0;pwned\\u0007\", \"hidden_size\": 8}";
    harden_write(dir, "config.json", cfg, strlen(cfg));
    const char *info[] = {"info", dir, NULL};
    expect_cli_safe(info, "is not supported");

    harden_vit v = {.hidden = 8, .heads = 2, .layers = 1, .inter = 16, .patch = 4, .image = 8,
                    .channels = 3};
    harden_write_model(dir, &v, NULL);
    /* an extra tensor whose name clears the screen */
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    const char *hdr = "{\"evil\\u001b[2J\\u009b31m\": {\"dtype\": \"F32\", \"shape\": [1], "
                      "\"data_offsets\": [0, 4]}}";
    size_t hl = strlen(hdr);
    unsigned char file[512] = {0};
    for (int i = 0; i < 8; i++)
        file[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(file + 8, hdr, hl);
    harden_write(dir, "model.safetensors", file, 8 + hl + 4);
    expect_cli_safe(info, "unexpected tensor 'evil");

    harden_write_model(dir, &v, NULL);
    const char *pp = "{\"image_processor_type\": \"\\u001b[5mBlink\"}";
    harden_write(dir, "preprocessor_config.json", pp, strlen(pp));
    const char *embed[] = {"embed", dir, VITCL_SOURCE_ROOT "/tests/fixtures/images/src/png_rgb8_5x3.png",
                           "--backend", "ref", "-o", "/dev/null", NULL};
    expect_cli_safe(embed, "only ViT image processors");
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

Test(messages, nonfinite_inputs_are_warned_once)
{
    /* vitcl run on pixels holding NaN and Inf */
    static float px[2 * 3 * 64 * 64];
    px[5] = 0.0f / 0.0f;
    px[3 * 64 * 64 + 7] = 1.0f / 0.0f;
    char in[256], out[256], err[16384];
    snprintf(in, sizeof in, "%s/px.npy", dir);
    snprintf(out, sizeof out, "%s/out.npy", dir);
    cr_assert_eq(vitcl_npy_write_f32(in, px, 4, (size_t[]){2, 3, 64, 64}), VITCL_OK);
    const char *run[] = {"run", harden_model_dir("d48_h3_l2_p16_s64"), "--input", in, "--output",
                         out, "--backend", "ref", NULL};
    int rc = harden_cli(run, 60, err, sizeof err);
    cr_expect_eq(rc, 0, "exit %d: %s", rc, err);
    cr_expect_eq(count(err, "warning"), 1, "%s", err);
    cr_expect(strstr(err, "2 NaN or infinite value(s)"), "%s", err);

    /* embed with an image_std of 0: the configuration and the first image are warned about,
     * once each, whatever the number of images */
    harden_link_model("d48_h3_l2_p16_s64", dir);
    const char *pp = "{\"image_std\": [0.5, 0, 0.5]}";
    harden_write(dir, "preprocessor_config.json", pp, strlen(pp));
    const char *img = VITCL_SOURCE_ROOT "/tests/fixtures/images/src/png_rgb8_5x3.png";
    const char *embed[] = {"embed", dir, img, img, img, "--backend", "ref", "-o", out, NULL};
    rc = harden_cli(embed, 60, err, sizeof err);
    cr_expect_eq(rc, 0, "exit %d: %s", rc, err);
    cr_expect_eq(count(err, "warning"), 2, "%s", err);
    cr_expect(strstr(err, "image_std of 0") && strstr(err, "warned once per run"), "%s", err);
}
