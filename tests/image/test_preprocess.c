/* tests/image/test_preprocess.c - preprocessor_config.json reading and the whole preprocessing
 * pipeline against transformers' ViTImageProcessorPil pixel_values (within 1e-6). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "golden.h"
#include "vitcl/image.h"
#include "vitcl/vitcl.h"

Test(preprocess, pixel_values_match_transformers)
{
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(fixture_manifest(), "images");
    cr_assert_not_null(images);
    size_t checked = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, images) {
        const char *name = str_field(it, "name");
        const cJSON *pv;
        cJSON_ArrayForEach(pv, cJSON_GetObjectItemCaseSensitive(it, "pixel_values")) {
            char dir[64], err[512];
            snprintf(dir, sizeof dir, "configs/%s", str_field(pv, "config"));
            vitcl_preprocessor *pp = NULL;
            cr_assert_eq(vitcl_preprocessor_load(fixture_path(dir), &pp), VITCL_OK, "%s",
                         vitcl_last_error());
            vitcl_image *img = NULL;
            cr_assert_eq(vitcl_image_load_file(fixture_path(str_field(it, "file")), NULL, &img),
                         VITCL_OK, "%s", vitcl_last_error());
            golden_array want;
            cr_assert_eq(golden_read(str_field(it, "golden"), str_field(pv, "key"), &want, err,
                                     sizeof err), 0, "%s", err);
            size_t h = 0, w = 0;
            cr_assert_eq(vitcl_preprocessor_output_size(pp, img->width, img->height, &h, &w),
                         VITCL_OK);
            cr_assert(want.ndim == 3 && want.shape[0] == 3 && want.shape[1] == h &&
                      want.shape[2] == w, "%s %s: output %zux%zu, transformers %zux%zu", name,
                      str_field(pv, "key"), h, w, want.shape[1], want.shape[2]);
            float *out = malloc(want.numel * sizeof *out);
            cr_assert_eq(vitcl_preprocess(pp, img, out, want.numel), VITCL_OK, "%s",
                         vitcl_last_error());
            double worst = 0;
            for (size_t i = 0; i < want.numel; i++) {
                double d = fabs((double)out[i] - ((const float *)want.data)[i]);
                worst = d > worst ? d : worst;
            }
            cr_expect_leq(worst, 1e-6, "%s %s: max |diff| %g", name, str_field(pv, "key"),
                          worst);
            free(out);
            golden_array_free(&want);
            vitcl_image_free(img);
            vitcl_preprocessor_free(pp);
            checked++;
        }
    }
    cr_expect_geq(checked, 10, "only %zu pixel_values checked", checked);
}

/* Writes text to a fresh temporary folder's preprocessor_config.json; returns the folder. */
static const char *config_dir(const char *text)
{
    static char dir[256];
    snprintf(dir, sizeof dir, "%s/vitcl-image-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR")
                                                                              : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    char path[320];
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return dir;
}

static void remove_config_dir(const char *dir)
{
    char path[320];
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    remove(path);
    rmdir(dir);
}

static vitcl_status load_text(const char *text, vitcl_preprocessor_config *c)
{
    const char *dir = config_dir(text);
    vitcl_preprocessor *pp = NULL;
    vitcl_status st = vitcl_preprocessor_load(dir, &pp);
    if (st == VITCL_OK)
        vitcl_preprocessor_get_config(pp, c);
    else
        cr_expect(strstr(vitcl_last_error(), "preprocessor_config.json") != NULL,
                  "message does not name the file: %s", vitcl_last_error());
    vitcl_preprocessor_free(pp);
    remove_config_dir(dir);
    return st;
}

Test(config, defaults_are_vit_image_processor_pil)
{
    /* transformers 5.23 ViTImageProcessorPil: 224x224, BILINEAR, 1/255, mean = std = 0.5. */
    vitcl_preprocessor *pp = NULL;
    cr_assert_eq(vitcl_preprocessor_load(NULL, &pp), VITCL_OK);
    vitcl_preprocessor_config c;
    vitcl_preprocessor_get_config(pp, &c);
    cr_expect(c.do_resize && c.do_rescale && c.do_normalize);
    cr_expect_eq(c.height, 224);
    cr_expect_eq(c.width, 224);
    cr_expect_eq(c.resample, VITCL_RESAMPLE_BILINEAR);
    cr_expect_eq(c.rescale_factor, 1.0 / 255.0);
    for (int i = 0; i < 3; i++)
        cr_expect(c.image_mean[i] == 0.5 && c.image_std[i] == 0.5);
    vitcl_preprocessor_free(pp);
    /* A folder without the file gives the same defaults. */
    cr_assert_eq(vitcl_preprocessor_load(fixture_path("src"), &pp), VITCL_OK);
    vitcl_preprocessor_get_config(pp, &c);
    cr_expect_eq(c.height, 224);
    vitcl_preprocessor_free(pp);
}

Test(config, hub_vit_msn_form)
{
    vitcl_preprocessor_config c;
    cr_assert_eq(load_text("{\"do_normalize\": true, \"do_resize\": true, "
                           "\"feature_extractor_type\": \"ViTFeatureExtractor\", "
                           "\"image_mean\": [0.485, 0.456, 0.406], "
                           "\"image_std\": [0.229, 0.224, 0.225], \"resample\": 2, "
                           "\"size\": 224}", &c), VITCL_OK, "%s", vitcl_last_error());
    cr_expect_eq(c.height, 224);
    cr_expect_eq(c.width, 224);
    cr_expect_eq(c.image_mean[1], 0.456);
    cr_expect_eq(c.image_std[2], 0.225);
    cr_expect_eq(c.rescale_factor, 1.0 / 255.0);
}

Test(config, size_forms)
{
    vitcl_preprocessor_config c;
    cr_assert_eq(load_text("{\"size\": {\"height\": 96, \"width\": 128}}", &c), VITCL_OK);
    cr_expect(c.height == 96 && c.width == 128 && c.shortest_edge == 0);
    cr_assert_eq(load_text("{\"size\": [40, 50]}", &c), VITCL_OK);
    cr_expect(c.height == 40 && c.width == 50);
    cr_assert_eq(load_text("{\"size\": {\"shortest_edge\": 256}}", &c), VITCL_OK);
    cr_expect(c.shortest_edge == 256 && c.height == 0);
    cr_assert_eq(load_text("{\"size\": null, \"do_resize\": null}", &c), VITCL_OK);
    cr_expect(c.height == 224 && c.do_resize);
}

Test(config, refusals_name_the_file)
{
    vitcl_preprocessor_config c;
    cr_expect_eq(load_text("{\"size\": {\"shortest_edge\": 224, \"longest_edge\": 500}}", &c),
                 VITCL_ERR_UNSUPPORTED);
    cr_expect_eq(load_text("{\"size\": {\"max_height\": 224, \"max_width\": 224}}", &c),
                 VITCL_ERR_UNSUPPORTED);
    cr_expect_eq(load_text("{\"resample\": 0}", &c), VITCL_ERR_UNSUPPORTED);
    cr_expect_eq(load_text("{\"resample\": 7}", &c), VITCL_ERR_UNSUPPORTED);
    cr_expect_eq(load_text("{\"image_mean\": [0.5, 0.5]}", &c), VITCL_ERR_UNSUPPORTED);
    cr_expect_eq(load_text("{\"do_center_crop\": true}", &c), VITCL_ERR_UNSUPPORTED);
    cr_expect_eq(load_text("{\"image_processor_type\": \"CLIPImageProcessor\"}", &c),
                 VITCL_ERR_UNSUPPORTED);
    cr_expect_eq(load_text("{\"size\": -3}", &c), VITCL_ERR_FORMAT);
    cr_expect_eq(load_text("{\"size\": 224", &c), VITCL_ERR_FORMAT);
    cr_expect_eq(load_text("[1, 2]", &c), VITCL_ERR_FORMAT);
}

Test(output_size, shortest_edge_follows_transformers)
{
    /* get_resize_output_image_size(default_to_square=False): short side -> n, long side ->
     * int(n * long / short). */
    vitcl_preprocessor_config c;
    vitcl_preprocessor *pp = NULL;
    cr_assert_eq(vitcl_preprocessor_load(NULL, &pp), VITCL_OK);
    vitcl_preprocessor_get_config(pp, &c);
    vitcl_preprocessor_free(pp);
    c.height = c.width = 0;
    c.shortest_edge = 96;
    cr_assert_eq(vitcl_preprocessor_create(&c, &pp), VITCL_OK, "%s", vitcl_last_error());
    size_t h, w;
    cr_assert_eq(vitcl_preprocessor_output_size(pp, 451, 300, &h, &w), VITCL_OK);
    cr_expect(h == 96 && w == 144, "451x300 -> %zux%zu", w, h); /* int(96*451/300) = 144 */
    cr_assert_eq(vitcl_preprocessor_output_size(pp, 7, 300, &h, &w), VITCL_OK);
    cr_expect(w == 96 && h == 4114, "7x300 -> %zux%zu", w, h); /* int(96*300/7) = 4114 */
    cr_assert_eq(vitcl_preprocessor_output_size(pp, 50, 50, &h, &w), VITCL_OK);
    cr_expect(w == 96 && h == 96);
    /* The override wins, and 0x0 removes it. */
    cr_assert_eq(vitcl_preprocessor_set_size(pp, 320, 160), VITCL_OK);
    cr_assert_eq(vitcl_preprocessor_output_size(pp, 451, 300, &h, &w), VITCL_OK);
    cr_expect(h == 320 && w == 160);
    cr_expect_eq(vitcl_preprocessor_set_size(pp, 0, 5), VITCL_ERR_INVALID_ARGUMENT);
    cr_assert_eq(vitcl_preprocessor_set_size(pp, 0, 0), VITCL_OK);
    cr_assert_eq(vitcl_preprocessor_output_size(pp, 451, 300, &h, &w), VITCL_OK);
    cr_expect(h == 96 && w == 144);
    vitcl_preprocessor_free(pp);
}

Test(preprocess, size_override_resizes_to_it)
{
    /* With an override the output is the Pillow resize to that size, normalised. */
    vitcl_preprocessor *pp = NULL;
    cr_assert_eq(vitcl_preprocessor_load(fixture_path("configs/msn"), &pp), VITCL_OK);
    cr_assert_eq(vitcl_preprocessor_set_size(pp, 120, 150), VITCL_OK);
    char err[256];
    golden_array rgb, r;
    const char *g = "golden/png_rgb8_astronaut_200x150.npz";
    cr_assert_eq(golden_read(g, "rgb", &rgb, err, sizeof err), 0, "%s", err);
    cr_assert_eq(golden_read(g, "r3_120x150", &r, err, sizeof err), 0, "%s", err);
    vitcl_preprocessor_config c;
    vitcl_preprocessor_get_config(pp, &c);
    c.resample = VITCL_RESAMPLE_BICUBIC; /* the golden resize is bicubic */
    vitcl_preprocessor *pp3 = NULL;
    cr_assert_eq(vitcl_preprocessor_create(&c, &pp3), VITCL_OK);
    cr_assert_eq(vitcl_preprocessor_set_size(pp3, 120, 150), VITCL_OK);
    vitcl_image img = {.width = 200, .height = 150, .pixels = rgb.data};
    static float out[3 * 120 * 150];
    cr_expect_eq(vitcl_preprocess(pp3, &img, out, 3 * 120 * 150 - 1), VITCL_ERR_INVALID_ARGUMENT);
    cr_assert_eq(vitcl_preprocess(pp3, &img, out, 3 * 120 * 150), VITCL_OK, "%s",
                 vitcl_last_error());
    const uint8_t *px = r.data;
    for (size_t i = 0; i < 120 * 150; i++)
        for (size_t ch = 0; ch < 3; ch++) {
            float x = (float)((double)px[3 * i + ch] * (1.0 / 255.0));
            float want = (x - (float)c.image_mean[ch]) / (float)c.image_std[ch];
            cr_assert_eq(out[ch * 120 * 150 + i], want, "pixel %zu channel %zu", i, ch);
        }
    golden_array_free(&rgb);
    golden_array_free(&r);
    vitcl_preprocessor_free(pp);
    vitcl_preprocessor_free(pp3);
}
