/* host/image/image_internal.h - what the image decoders, the resampler and the preprocessor
 * share inside libvitcl (not installed). */
#ifndef VITCL_HOST_IMAGE_INTERNAL_H
#define VITCL_HOST_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vitcl/image.h"

/* Checks width x height against max_pixels (VITCL_ERR_LIMIT) and that width*height*3 fits in
 * size_t, then allocates img->pixels (width*height*3 bytes) and sets img->width/height.
 * Errors name `name`. On failure img->pixels stays NULL. */
vitcl_status vitcl_image_alloc_rgb(vitcl_image *img, uint64_t width, uint64_t height,
                                   uint64_t max_pixels, const char *name);

/* Decodes a PNG held in memory into img (img->pixels, width, height, source_mode).
 * On failure img->pixels is NULL and the error names `name`. */
vitcl_status vitcl_png_decode(const uint8_t *data, size_t size, const char *name,
                              uint64_t max_pixels, vitcl_image *img);

/* Decodes a JPEG held in memory into img, as vitcl_png_decode. */
vitcl_status vitcl_jpeg_decode(const uint8_t *data, size_t size, const char *name,
                               uint64_t max_pixels, vitcl_image *img);

#endif
