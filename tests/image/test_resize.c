/* tests/image/test_resize.c - vitcl_image_resize against Pillow's Image.resize, byte for byte,
 * for every fixture and filter size the manifest lists. The input is Pillow's own RGB (the
 * golden), so a decoding difference cannot hide or cause a resize failure. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "vitcl/image.h"
#include "vitcl/vitcl.h"

Test(resize, every_fixture_equals_pillow)
{
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(fixture_manifest(), "images");
    cr_assert_not_null(images, "cannot read the image manifest");
    size_t checked = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, images) {
        const char *name = str_field(it, "name");
        const char *golden = str_field(it, "golden");
        char err[512];
        golden_array src;
        vitcl_image *decoded = NULL;
        const uint8_t *in;
        size_t w = num_field(it, "width"), h = num_field(it, "height");
        if (golden_read(golden, "rgb", &src, err, sizeof err) == 0) {
            in = src.data;
        } else {
            /* Too big to commit: decode it (test_decode checks it against Pillow's row sums). */
            cr_assert_eq(vitcl_image_load_file(fixture_path(str_field(it, "file")), NULL,
                                               &decoded), VITCL_OK, "%s", vitcl_last_error());
            in = decoded->pixels;
            src.data = NULL;
        }
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(it, "resizes")) {
            const char *key = str_field(r, "key");
            size_t rh = num_field(r, "height"), rw = num_field(r, "width");
            golden_array want;
            cr_assert_eq(golden_read(golden, key, &want, err, sizeof err), 0, "%s", err);
            uint8_t *out = malloc(rh * rw * 3);
            cr_assert_not_null(out);
            vitcl_status st = vitcl_image_resize(in, w, h, out, rw, rh,
                                                 (vitcl_resample)num_field(r, "filter"));
            cr_assert_eq(st, VITCL_OK, "%s %s: %s", name, key, vitcl_last_error());
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < rh * rw * 3; i++)
                if (out[i] != ((const uint8_t *)want.data)[i] && !bad++)
                    first = i;
            cr_expect_eq(bad, 0, "%s %s: %zu bytes differ from Pillow, first at (%zu, %zu) c%zu: "
                         "%u vs %u", name, key, bad, (first / 3) % rw, first / 3 / rw, first % 3,
                         out[first], ((const uint8_t *)want.data)[first]);
            free(out);
            golden_array_free(&want);
            checked++;
        }
        golden_array_free(&src);
        vitcl_image_free(decoded);
    }
    cr_expect_geq(checked, 80, "only %zu resizes checked", checked);
}

Test(resize, same_size_is_a_copy)
{
    uint8_t src[2 * 3 * 3], dst[2 * 3 * 3];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 37);
    cr_assert_eq(vitcl_image_resize(src, 3, 2, dst, 3, 2, VITCL_RESAMPLE_BICUBIC), VITCL_OK);
    cr_expect_eq(memcmp(src, dst, sizeof src), 0);
}

Test(resize, constant_image_stays_constant)
{
    /* Normalised weights sum to 1 (to rounding): a flat image stays flat for every filter,
     * down and up. Independent of Pillow: a property of any correct resampler. */
    static uint8_t src[37 * 23 * 3], dst[64 * 11 * 3];
    memset(src, 200, sizeof src);
    vitcl_resample filters[] = {VITCL_RESAMPLE_BILINEAR, VITCL_RESAMPLE_BICUBIC,
                                VITCL_RESAMPLE_LANCZOS, VITCL_RESAMPLE_BOX,
                                VITCL_RESAMPLE_HAMMING};
    for (size_t f = 0; f < 5; f++) {
        cr_assert_eq(vitcl_image_resize(src, 37, 23, dst, 64, 11, filters[f]), VITCL_OK);
        for (size_t i = 0; i < sizeof dst; i++)
            cr_assert_eq(dst[i], 200, "filter %d byte %zu", (int)filters[f], i);
    }
}

Test(resize, refusals)
{
    uint8_t a[12], b[12];
    memset(a, 0, sizeof a);
    cr_expect_eq(vitcl_image_resize(a, 2, 2, b, 2, 1, VITCL_RESAMPLE_NEAREST),
                 VITCL_ERR_UNSUPPORTED);
    cr_expect(strstr(vitcl_last_error(), "not supported") != NULL);
    cr_expect_eq(vitcl_image_resize(a, 2, 2, b, 2, 1, (vitcl_resample)9), VITCL_ERR_UNSUPPORTED);
    cr_expect_eq(vitcl_image_resize(a, 0, 2, b, 2, 1, VITCL_RESAMPLE_BILINEAR),
                 VITCL_ERR_INVALID_ARGUMENT);
    cr_expect_eq(vitcl_image_resize(NULL, 2, 2, b, 2, 1, VITCL_RESAMPLE_BILINEAR),
                 VITCL_ERR_INVALID_ARGUMENT);
    cr_expect_eq(vitcl_image_resize(a, (size_t)1 << 40, 2, b, 2, 1, VITCL_RESAMPLE_BILINEAR),
                 VITCL_ERR_LIMIT);
}
