/* tests/image/test_decode.c - PNG/JPEG decoding against Pillow's Image.open(f).convert("RGB")
 * bytes, and the refusals (truncated, corrupt, empty, mislabelled, bomb-sized, other formats). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "vitcl/image.h"
#include "vitcl/vitcl.h"

/* Compares decoded pixels with the golden; returns the number of differing bytes and reports
 * the first one. */
static size_t compare_rgb(const char *name, const vitcl_image *img, const golden_array *g)
{
    cr_assert_eq(g->ndim, 3, "%s: golden rgb is not HxWx3", name);
    cr_assert(g->shape[0] == img->height && g->shape[1] == img->width && g->shape[2] == 3,
              "%s: decoded %zux%zu, Pillow %zux%zu", name, img->width, img->height, g->shape[1],
              g->shape[0]);
    const uint8_t *want = g->data;
    size_t bad = 0;
    for (size_t i = 0; i < g->numel; i++) {
        if (img->pixels[i] != want[i]) {
            if (!bad)
                cr_log_error("%s: first difference at pixel (%zu, %zu) channel %zu: %u, Pillow %u",
                             name, (i / 3) % img->width, i / 3 / img->width, i % 3,
                             img->pixels[i], want[i]);
            bad++;
        }
    }
    return bad;
}

Test(decode, every_fixture_equals_pillow_convert_rgb)
{
    const cJSON *m = fixture_manifest();
    cr_assert_not_null(m, "cannot read tests/fixtures/images/manifest.json");
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(m, "images");
    cr_assert(cJSON_GetArraySize(images) >= 30, "manifest lists too few images");
    const cJSON *it;
    cJSON_ArrayForEach(it, images) {
        const char *name = str_field(it, "name");
        vitcl_image *img = NULL;
        vitcl_status st = vitcl_image_load_file(fixture_path(str_field(it, "file")), NULL, &img);
        cr_assert_eq(st, VITCL_OK, "%s: %s", name, vitcl_last_error());
        cr_expect_str_eq(img->source_mode, str_field(it, "pillow_mode"), "%s: mode", name);
        cr_expect_str_eq(img->format, str_field(it, "pillow_format"), "%s: format", name);
        char err[512];
        golden_array g;
        const char *golden = str_field(it, "golden");
        if (golden_read(golden, "rgb", &g, err, sizeof err) == 0) {
            cr_assert(g.is_u8, "%s: golden rgb not uint8", name);
            cr_expect_eq(compare_rgb(name, img, &g), 0, "%s: decoded bytes differ from Pillow's",
                         name);
            golden_array_free(&g);
        } else {
            /* The 4000x3000 image: per-row byte sums (exact in float32). */
            cr_assert_eq(golden_read(golden, "row_sums", &g, err, sizeof err), 0, "%s: %s",
                         name, err);
            cr_assert_eq(g.numel, img->height, "%s: rows", name);
            size_t bad = 0;
            for (size_t y = 0; y < img->height; y++) {
                double s = 0;
                for (size_t x = 0; x < img->width * 3; x++)
                    s += img->pixels[y * img->width * 3 + x];
                if (s != ((const float *)g.data)[y])
                    bad++;
            }
            cr_expect_eq(bad, 0, "%s: %zu rows differ from Pillow's", name, bad);
            golden_array_free(&g);
        }
        vitcl_image_free(img);
    }
}

Test(decode, memory_and_file_agree)
{
    const char *path = fixture_path("src/jpg_422_odd_101x77.jpg");
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    vitcl_image *a = NULL, *b = NULL;
    cr_assert_eq(vitcl_image_load_file(path, NULL, &a), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_eq(vitcl_image_load_memory(buf, n, "mem.jpg", NULL, &b), VITCL_OK, "%s",
                 vitcl_last_error());
    cr_assert_eq(a->width, b->width);
    cr_assert_eq(a->height, b->height);
    cr_expect_eq(memcmp(a->pixels, b->pixels, a->width * a->height * 3), 0);
    vitcl_image_free(a);
    vitcl_image_free(b);
}

/* Loads a file that must be refused; checks the status and that the message names it. */
static void expect_refusal(const char *rel, vitcl_status want, const char *needle)
{
    const char *path = fixture_path(rel);
    vitcl_image *img = (vitcl_image *)0x1;
    vitcl_status st = vitcl_image_load_file(path, NULL, &img);
    const char *msg = vitcl_last_error();
    cr_expect_eq(st, want, "%s: got %s (%s), want %s", rel, vitcl_status_name(st), msg,
                 vitcl_status_name(want));
    cr_expect_null(img, "%s: *out must be NULL on failure", rel);
    cr_expect(strstr(msg, path) != NULL, "%s: message does not name the file: %s", rel, msg);
    if (needle)
        cr_expect(strstr(msg, needle) != NULL, "%s: message lacks '%s': %s", rel, needle, msg);
}

Test(refuse, zero_byte_file) { expect_refusal("errors/empty.png", VITCL_ERR_FORMAT, "empty"); }
Test(refuse, text_file_named_jpg)
{
    expect_refusal("errors/text_named.jpg", VITCL_ERR_FORMAT, "not a PNG or JPEG");
}
Test(refuse, truncated_png) { expect_refusal("errors/truncated.png", VITCL_ERR_FORMAT, "PNG"); }
Test(refuse, truncated_jpeg)
{
    expect_refusal("errors/truncated.jpg", VITCL_ERR_FORMAT, "truncated");
}
Test(refuse, png_signature_only)
{
    expect_refusal("errors/signature_only.png", VITCL_ERR_FORMAT, "PNG");
}
Test(refuse, corrupt_png_data) { expect_refusal("errors/corrupt_idat.png", VITCL_ERR_FORMAT, "PNG"); }
Test(refuse, corrupt_jpeg_header)
{
    expect_refusal("errors/corrupt_sof.jpg", VITCL_ERR_FORMAT, "JPEG");
}
Test(refuse, png_bomb_header_100000x100000)
{
    expect_refusal("errors/bomb_100000x100000.png", VITCL_ERR_LIMIT, "100000x100000");
}
Test(refuse, jpeg_bomb_header_65500x65500)
{
    expect_refusal("errors/bomb_65500x65500.jpg", VITCL_ERR_LIMIT, "65500x65500");
}
Test(refuse, gif_is_unsupported) { expect_refusal("errors/image.gif", VITCL_ERR_UNSUPPORTED, "GIF"); }
Test(refuse, missing_file) { expect_refusal("errors/no_such_file.png", VITCL_ERR_IO, "cannot open"); }
Test(refuse, directory) { expect_refusal("errors", VITCL_ERR_IO, "not a regular file"); }

Test(refuse, manifest_error_list_is_covered)
{
    /* Every error file the fixture script made is refused with the status it lists. */
    const cJSON *it;
    int n = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(fixture_manifest(), "errors")) {
        const char *status = str_field(it, "status");
        vitcl_image *img = NULL;
        vitcl_status st = vitcl_image_load_file(fixture_path(str_field(it, "file")), NULL, &img);
        cr_expect_str_eq(vitcl_status_name(st), status, "%s: %s", str_field(it, "file"),
                         vitcl_last_error());
        vitcl_image_free(img);
        n++;
    }
    cr_expect_geq(n, 10);
}

Test(mislabelled, extension_does_not_decide)
{
    vitcl_image *img = NULL;
    cr_assert_eq(vitcl_image_load_file(fixture_path("src/mislabelled_jpeg_named_png.png"), NULL,
                                       &img), VITCL_OK, "%s", vitcl_last_error());
    cr_expect_str_eq(img->format, "JPEG");
    vitcl_image_free(img);
    cr_assert_eq(vitcl_image_load_file(fixture_path("src/mislabelled_png_named_jpg.jpg"), NULL,
                                       &img), VITCL_OK, "%s", vitcl_last_error());
    cr_expect_str_eq(img->format, "PNG");
    vitcl_image_free(img);
}

Test(limits, pixel_limit_is_checked_before_decoding)
{
    /* 320x256 = 81920 pixels: a limit one below refuses it, a limit equal accepts it. */
    const char *path = fixture_path("src/jpg_baseline_astronaut_320x256.jpg");
    vitcl_image_limits lim = {.struct_size = sizeof lim, .max_pixels = 81919};
    vitcl_image *img = NULL;
    cr_expect_eq(vitcl_image_load_file(path, &lim, &img), VITCL_ERR_LIMIT);
    cr_expect(strstr(vitcl_last_error(), "81919") != NULL, "%s", vitcl_last_error());
    lim.max_pixels = 81920;
    cr_expect_eq(vitcl_image_load_file(path, &lim, &img), VITCL_OK, "%s", vitcl_last_error());
    vitcl_image_free(img);
    const char *png = fixture_path("src/png_rgb8_astronaut_200x150.png");
    lim.max_pixels = 29999;
    img = NULL;
    cr_expect_eq(vitcl_image_load_file(png, &lim, &img), VITCL_ERR_LIMIT);
    cr_expect_null(img);
}

Test(limits, default_limit_is_pillows_error_threshold)
{
    cr_expect_eq(VITCL_IMAGE_DEFAULT_MAX_PIXELS, 178956970ull);
    /* A 4000x3000 image is well within it. */
    vitcl_image *img = NULL;
    cr_expect_eq(vitcl_image_load_file(fixture_path("src/jpg_big_4000x3000.jpg"), NULL, &img),
                 VITCL_OK, "%s", vitcl_last_error());
    vitcl_image_free(img);
}

Test(limits, file_size_limit)
{
    vitcl_image_limits lim = {.struct_size = sizeof lim, .max_file_bytes = 100};
    vitcl_image *img = NULL;
    const char *path = fixture_path("src/png_rgb8_5x3.png");
    cr_expect_eq(vitcl_image_load_file(path, &lim, &img), VITCL_ERR_LIMIT, "%s",
                 vitcl_last_error());
    cr_expect(strstr(vitcl_last_error(), path) != NULL);
}

Test(api, invalid_arguments)
{
    vitcl_image *img = NULL;
    cr_expect_eq(vitcl_image_load_file(NULL, NULL, &img), VITCL_ERR_INVALID_ARGUMENT);
    cr_expect_eq(vitcl_image_load_file("x.png", NULL, NULL), VITCL_ERR_INVALID_ARGUMENT);
    cr_expect_eq(vitcl_image_load_memory(NULL, 5, "m", NULL, &img), VITCL_ERR_INVALID_ARGUMENT);
    cr_expect_eq(vitcl_image_load_memory("", 0, NULL, NULL, &img), VITCL_ERR_FORMAT);
    cr_expect(strstr(vitcl_last_error(), "<memory>") != NULL, "%s", vitcl_last_error());
    vitcl_image_free(NULL);
}
