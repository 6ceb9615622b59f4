/* vitcl/image.h - images in: PNG/JPEG decoding to 8-bit RGB, Pillow-exact resizing and
 * transformers-exact ViT preprocessing (the PIL backend, ViTImageProcessorPil).
 *
 * Typical use:
 *     vitcl_image *img;  vitcl_preprocessor *pp;
 *     vitcl_image_load_file("cat.jpg", NULL, &img);         // = Image.open(p).convert("RGB")
 *     vitcl_preprocessor_load("vit-msn-small/", &pp);        // preprocessor_config.json
 *     size_t h, w;  vitcl_preprocessor_output_size(pp, img->width, img->height, &h, &w);
 *     float *pixels = malloc(3 * h * w * sizeof *pixels);
 *     vitcl_preprocess(pp, img, pixels, 3 * h * w);          // [3, h, w] float32, CHW
 *     vitcl_image_free(img);  vitcl_preprocessor_free(pp);
 *
 * Errors: every function that can fail returns a vitcl_status and sets vitcl_last_error() to a
 * message that names the file (or the name given for a memory buffer). Nothing exits, aborts or
 * prints; on failure nothing is leaked and *out is set to NULL.
 *
 * Thread-safety: all functions are reentrant. A vitcl_preprocessor is immutable once loaded
 * and may be used from several threads at once. A vitcl_image is plain memory owned by the
 * caller. docs/images.md says which Pillow behaviours are reproduced and which inputs are refused.
 */
#ifndef VITCL_IMAGE_H
#define VITCL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "vitcl/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pillow's Image.MAX_IMAGE_PIXELS; Pillow warns above it and refuses above twice it. */
#define VITCL_IMAGE_PILLOW_MAX_PIXELS 89478485ull
/* The default pixel limit: Pillow's error threshold (images with more pixels are refused). */
#define VITCL_IMAGE_DEFAULT_MAX_PIXELS (2ull * VITCL_IMAGE_PILLOW_MAX_PIXELS)
/* The default limit on an input file's size in bytes (1 GiB). */
#define VITCL_IMAGE_DEFAULT_MAX_FILE_BYTES (1ull << 30)
/* Channels of every preprocessed image (RGB, as the processor's convert("RGB")): a model whose
 * config has another num_channels cannot take these pixels (transformers refuses them too). */
#define VITCL_IMAGE_CHANNELS 3u

/* Safety limits for decoding untrusted files. Zero-initialise, set struct_size, then set what
 * you need; a zero field means its default. Pass NULL for all defaults. */
typedef struct vitcl_image_limits {
    uint32_t struct_size;    /* sizeof(vitcl_image_limits) */
    uint64_t max_pixels;     /* width*height above this is refused with VITCL_ERR_LIMIT before any
                                pixel is decoded; 0 = VITCL_IMAGE_DEFAULT_MAX_PIXELS */
    uint64_t max_file_bytes; /* larger files are refused with VITCL_ERR_LIMIT;
                                0 = VITCL_IMAGE_DEFAULT_MAX_FILE_BYTES */
} vitcl_image_limits;

/* A decoded image: 8-bit RGB, row-major, pixel (x, y) channel c at
 * pixels[(y * width + x) * 3 + c]. Created by the load functions, freed by vitcl_image_free. */
typedef struct vitcl_image {
    size_t width, height;
    uint8_t *pixels;       /* width * height * 3 bytes, owned by the image */
    char format[8];        /* "PNG" or "JPEG": what the magic bytes said */
    char source_mode[8];   /* the Pillow mode the file opens in: "1", "L", "LA", "P", "RGB",
                              "RGBA", "I;16" or "CMYK"; the RGB pixels are its convert("RGB") */
} vitcl_image;

/* Decodes a PNG or JPEG file (sniffed from its magic bytes, never the extension) to 8-bit RGB,
 * byte for byte as Pillow's Image.open(path).convert("RGB"). No EXIF rotation and no colour
 * management are applied. limits may be NULL. Errors (all name the file): VITCL_ERR_IO (cannot
 * open/read, or not a regular file: a FIFO or device is refused without blocking), VITCL_ERR_FORMAT (not PNG/JPEG, corrupt, truncated, empty), VITCL_ERR_LIMIT (pixel
 * or file-size limit), VITCL_ERR_UNSUPPORTED (a valid file this decoder refuses, e.g. a JPEG in
 * an unusual colour space), VITCL_ERR_OUT_OF_MEMORY. *out is owned by the caller. */
VITCL_API vitcl_status vitcl_image_load_file(const char *path, const vitcl_image_limits *limits,
                                             vitcl_image **out);

/* As vitcl_image_load_file, from size bytes at data (not retained). name is used only in
 * error messages and may be NULL ("<memory>"). */
VITCL_API vitcl_status vitcl_image_load_memory(const void *data, size_t size, const char *name,
                                               const vitcl_image_limits *limits, vitcl_image **out);

/* Frees an image and its pixels; NULL is accepted. */
VITCL_API void vitcl_image_free(vitcl_image *img);

/* Pillow's resampling filters, numbered as PIL.Image.Resampling (and "resample" in
 * preprocessor_config.json). NEAREST (0) is refused by vitcl_image_resize. */
typedef enum vitcl_resample {
    VITCL_RESAMPLE_NEAREST = 0,
    VITCL_RESAMPLE_LANCZOS = 1,
    VITCL_RESAMPLE_BILINEAR = 2,
    VITCL_RESAMPLE_BICUBIC = 3,
    VITCL_RESAMPLE_BOX = 4,
    VITCL_RESAMPLE_HAMMING = 5
} vitcl_resample;

/* Resizes 8-bit RGB src [src_h, src_w, 3] into dst [dst_h, dst_w, 3] (caller-owned, must not
 * overlap src) exactly as Pillow's Image.resize((dst_w, dst_h), resample) on an RGB image (full
 * box, no reducing_gap). Errors: VITCL_ERR_INVALID_ARGUMENT (NULL, zero size),
 * VITCL_ERR_UNSUPPORTED (NEAREST or an unknown filter), VITCL_ERR_LIMIT (sizes whose buffers
 * would overflow), VITCL_ERR_OUT_OF_MEMORY. Reentrant. */
VITCL_API vitcl_status vitcl_image_resize(const uint8_t *src, size_t src_w, size_t src_h,
                                          uint8_t *dst, size_t dst_w, size_t dst_h,
                                          vitcl_resample resample);

/* ---------------------------------------------------------------- preprocessing */

typedef struct vitcl_preprocessor vitcl_preprocessor;

/* The settings of a preprocessor, as read from preprocessor_config.json with
 * ViTImageProcessorPil's defaults for absent keys. */
typedef struct vitcl_preprocessor_config {
    int do_resize;                  /* default 1 */
    size_t height, width;           /* target size when fixed ("height"/"width" or an int size);
                                       default 224 x 224; 0 when shortest_edge is used */
    size_t shortest_edge;           /* {"shortest_edge": n}: resize keeping the aspect ratio */
    vitcl_resample resample;        /* default BILINEAR (2) */
    int do_rescale;                 /* default 1 */
    double rescale_factor;          /* default 1/255 */
    int do_normalize;               /* default 1 */
    double image_mean[3];           /* default 0.5, 0.5, 0.5 */
    double image_std[3];            /* default 0.5, 0.5, 0.5 */
} vitcl_preprocessor_config;

/* Loads model_dir/preprocessor_config.json; when the folder has none, uses
 * ViTImageProcessorPil's defaults (224x224, BILINEAR, 1/255, mean = std = 0.5). model_dir NULL
 * also gives the defaults. Unsupported settings (size dicts other than height/width or
 * shortest_edge, NEAREST, a mean/std that is not 1 or 3 numbers, do_center_crop true, ...)
 * give VITCL_ERR_UNSUPPORTED naming the file and key; malformed JSON gives VITCL_ERR_FORMAT.
 * *out is owned by the caller: vitcl_preprocessor_free. */
VITCL_API vitcl_status vitcl_preprocessor_load(const char *model_dir, vitcl_preprocessor **out);

/* Builds a preprocessor from explicit settings (validated as vitcl_preprocessor_load does). */
VITCL_API vitcl_status vitcl_preprocessor_create(const vitcl_preprocessor_config *config,
                                                 vitcl_preprocessor **out);

VITCL_API void vitcl_preprocessor_free(vitcl_preprocessor *pp);

/* Copies the settings into *out. */
VITCL_API void vitcl_preprocessor_get_config(const vitcl_preprocessor *pp,
                                             vitcl_preprocessor_config *out);

/* Overrides the output size with a fixed height x width (e.g. to run a model with
 * interpolate_pos_encoding at another resolution); 0, 0 removes the override. Not thread-safe
 * with concurrent vitcl_preprocess calls on the same object: set it before sharing. */
VITCL_API vitcl_status vitcl_preprocessor_set_size(vitcl_preprocessor *pp, size_t height,
                                                   size_t width);

/* The [height, width] that vitcl_preprocess produces for an in_w x in_h input. */
VITCL_API vitcl_status vitcl_preprocessor_output_size(const vitcl_preprocessor *pp, size_t in_w,
                                                      size_t in_h, size_t *out_h, size_t *out_w);

/* Resizes, rescales and normalises img into out [3, H, W] float32 (channels first), with the
 * order and float precision of transformers' PIL backend. out_count is the number of floats at
 * out and must be at least 3*H*W (vitcl_preprocessor_output_size), else
 * VITCL_ERR_INVALID_ARGUMENT. */
VITCL_API vitcl_status vitcl_preprocess(const vitcl_preprocessor *pp, const vitcl_image *img,
                                        float *out, size_t out_count);

#ifdef __cplusplus
}
#endif
#endif
