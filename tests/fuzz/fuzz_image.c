/* tests/fuzz/fuzz_image.c - PNG and JPEG decoding from memory followed by ViT preprocessing. */
#include <stdlib.h>

#include "fuzz_targets.h"
#include "vitcl/image.h"

vitcl_status fuzz_image(const uint8_t *data, size_t size)
{
    vitcl_image_limits lim = {.struct_size = sizeof lim, .max_pixels = 1u << 18,
                              .max_file_bytes = 1u << 24};
    vitcl_image *img = NULL;
    vitcl_status st = vitcl_image_load_memory(data, size, "fuzz-image", &lim, &img);
    if (st != VITCL_OK)
        return st;
    vitcl_preprocessor_config c = {
        .do_resize = 1, .height = 32, .width = 32, .resample = VITCL_RESAMPLE_BILINEAR,
        .do_rescale = 1, .rescale_factor = 1.0 / 255.0, .do_normalize = 1,
        .image_mean = {0.5, 0.5, 0.5}, .image_std = {0.5, 0.5, 0.5}};
    vitcl_preprocessor *pp = NULL;
    st = vitcl_preprocessor_create(&c, &pp);
    if (st == VITCL_OK) {
        size_t h = 0, w = 0;
        st = vitcl_preprocessor_output_size(pp, img->width, img->height, &h, &w);
        float *px = st == VITCL_OK ? malloc(3 * h * w * sizeof *px) : NULL;
        if (px)
            st = vitcl_preprocess(pp, img, px, 3 * h * w);
        free(px);
        vitcl_preprocessor_free(pp);
    }
    vitcl_image_free(img);
    return st;
}
