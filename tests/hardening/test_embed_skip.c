/* tests/hardening/test_embed_skip.c - `vitcl embed` keeps good work: an image that cannot be
 * processed (smaller than one patch with do_resize false, more tokens than the limit, too large
 * for a batch's memory) is reported and skipped like an undecodable one; the job goes on, the
 * good rows are written and the exit status is 3. */
#include <criterion/criterion.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardening_util.h"
#include "leak_check.h"
#include "npy.h"

#define SRC VITCL_SOURCE_ROOT "/tests/fixtures/images/src/"

static char dir[128];

static void setup(void)
{
    unsetenv("VITCL_MAX_TOKENS");
    harden_mkdtemp("embed", dir, sizeof dir);
}

static void teardown(void)
{
    harden_rmtree(dir);
    leak_check_expect_none();
}

TestSuite(embed_skip, .init = setup, .fini = teardown);

/* Writes a w x h grey RGB PNG with libpng's simplified API; returns the path (static). */
static const char *write_png(const char *name, unsigned w, unsigned h)
{
    static char path[3][256];
    static int k;
    char *p = path[k++ % 3];
    snprintf(p, 256, "%s/%s", dir, name);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = w;
    img.height = h;
    img.format = PNG_FORMAT_RGB;
    size_t n = (size_t)w * h * 3;
    unsigned char *px = malloc(n);
    cr_assert(px);
    for (size_t i = 0; i < n; i++)
        px[i] = (unsigned char)(i * 7);
    cr_assert(png_image_write_to_file(&img, p, 0, px, 0, NULL), "%s", img.message);
    free(px);
    return p;
}

static void model_dir(const char *preprocessor_json)
{
    harden_link_model("d48_h3_l2_p16_s64", dir);
    harden_write(dir, "preprocessor_config.json", preprocessor_json, strlen(preprocessor_json));
}

/* Reads OUT.npy and OUT.paths.txt and checks they hold exactly the good inputs, in order. */
static void expect_rows(const char *out, const char *const *good, size_t n_good, size_t dim)
{
    vitcl_npy e;
    cr_assert_eq(vitcl_npy_read_f32(out, 0, &e), VITCL_OK, "%s", vitcl_last_error());
    cr_expect_eq(e.ndim, 2);
    cr_expect_eq(e.shape[0], n_good);
    cr_expect_eq(e.shape[1], dim);
    for (size_t i = 0; i < e.numel; i++)
        cr_assert(e.data[i] == e.data[i], "row value %zu is NaN", i);
    vitcl_npy_free(&e);
    char paths[300];
    snprintf(paths, sizeof paths, "%.*s.paths.txt", (int)(strlen(out) - 4), out);
    FILE *f = fopen(paths, "r");
    cr_assert(f, "no %s", paths);
    char line[512];
    size_t i = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        cr_assert_lt(i, n_good, "extra row %s", line);
        cr_expect_str_eq(line, good[i], "row %zu", i);
        i++;
    }
    fclose(f);
    cr_expect_eq(i, n_good);
}

/* The must-show case: no resize, so a 7-pixel-wide image is smaller than one 16x16 patch and a
 * 3000x3000 image is 187x187 patches = 34970 tokens, over the limit of 16384. */
Test(embed_skip, oversized_and_too_small_among_good_images)
{
    model_dir("{\"do_resize\": false}");
    const char *big = write_png("big_3000x3000.png", 3000, 3000);
    const char *thin = write_png("thin_1x100000.png", 1, 100000);
    const char *inputs[] = {SRC "png_rgb8_224x224.png", big, SRC "png_rgb8_7x300.png",
                            SRC "jpg_baseline_astronaut_320x256.jpg", thin,
                            SRC "png_rgb8_astronaut_200x150.png"};
    const char *good[] = {inputs[0], inputs[3], inputs[5]};
    char out[256], err[16384];
    snprintf(out, sizeof out, "%s/e.npy", dir);
    const char *argv[] = {"embed", dir, inputs[0], inputs[1], inputs[2], inputs[3], inputs[4],
                          inputs[5], "--backend", "ref", "-o", out, NULL};
    int rc = harden_cli(argv, 120, err, sizeof err);
    cr_expect_eq(rc, 3, "exit %d: %s", rc, err);
    cr_expect(strstr(err, "skipped") && strstr(err, "big_3000x3000.png") &&
              strstr(err, "34970 tokens") && strstr(err, "VITCL_MAX_TOKENS"), "%s", err);
    cr_expect(strstr(err, "png_rgb8_7x300.png") && strstr(err, "smaller than one 16x16 patch"),
              "%s", err);
    cr_expect(strstr(err, "thin_1x100000.png"), "%s", err);
    cr_expect(strstr(err, "3 image(s) embedded, 3 skipped"), "%s", err);
    expect_rows(out, good, 3, 48);
}

/* shortest_edge resizing: a 1x100000 image would become 64x6400000 (the hang); it is
 * refused by the token limit before it is resized, the others embed. Also through --list. */
Test(embed_skip, extreme_aspect_ratio_under_shortest_edge)
{
    model_dir("{\"do_resize\": true, \"size\": {\"shortest_edge\": 64}}");
    const char *thin = write_png("thin_1x100000.png", 1, 100000);
    char list[512];
    int n = snprintf(list, sizeof list, "%s\n%s\n%s\n", SRC "png_rgb8_5x3.png", thin,
                     SRC "png_gray16_40x30.png");
    const char *lp = harden_write(dir, "list.txt", list, (size_t)n);
    char lpath[300];
    snprintf(lpath, sizeof lpath, "%s", lp);
    char out[256], err[16384];
    snprintf(out, sizeof out, "%s/e.npy", dir);
    const char *argv[] = {"embed", dir, "--list", lpath, "--backend", "ref", "-o", out, NULL};
    int rc = harden_cli(argv, 120, err, sizeof err);
    cr_expect_eq(rc, 3, "exit %d: %s", rc, err);
    cr_expect(strstr(err, "thin_1x100000.png") && strstr(err, "token limit"), "%s", err);
    const char *good[] = {SRC "png_rgb8_5x3.png", SRC "png_gray16_40x30.png"};
    expect_rows(out, good, 2, 48);
}

/* With a tight token limit (VITCL_MAX_TOKENS) only the image over it is lost, not the images
 * batched around it; when every input is skipped the exit status is 1 and nothing is written. */
Test(embed_skip, image_over_a_raised_limit_keeps_its_batch_mates)
{
    model_dir("{\"do_resize\": false}");
    setenv("VITCL_MAX_TOKENS", "200", 1); /* 224x224 is 197 tokens: in; 320x256: 321: out */
    const char *inputs[] = {SRC "png_rgb8_224x224.png", SRC "jpg_baseline_astronaut_320x256.jpg",
                            SRC "png_rgb8_224x224.png"};
    char out[256], err[16384];
    snprintf(out, sizeof out, "%s/e.npy", dir);
    const char *argv[] = {"embed", dir, inputs[0], inputs[1], inputs[2], "--batch", "4",
                          "--backend", "ref", "-o", out, NULL};
    int rc = harden_cli(argv, 120, err, sizeof err);
    unsetenv("VITCL_MAX_TOKENS");
    cr_expect_eq(rc, 3, "exit %d: %s", rc, err);
    const char *good[] = {inputs[0], inputs[2]};
    expect_rows(out, good, 2, 48);
    /* every input skipped: exit 1 and nothing written */
    const char *none[] = {"embed", dir, SRC "png_rgb8_7x300.png", "--backend", "ref", "-o", out,
                          NULL};
    remove(out);
    rc = harden_cli(none, 120, err, sizeof err);
    cr_expect_eq(rc, 1, "exit %d: %s", rc, err);
    cr_expect_null(fopen(out, "r"));
}
