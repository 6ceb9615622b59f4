/* host/image/jpeg_decode.c - JPEG to 8-bit RGB with libjpeg-turbo's TurboJPEG API, byte for
 * byte as Pillow's Image.open(...).convert("RGB").
 *
 * Pillow decodes with libjpeg's defaults: the accurate integer IDCT (JDCT_ISLOW), fancy
 * (smooth) chroma upsampling, no draft (reduced-size) decoding, and lets libjpeg convert YCbCr
 * to RGB. TurboJPEG's defaults are the same when TJFLAG_FASTDCT and TJFLAG_FASTUPSAMPLE are not
 * set; we pass TJFLAG_ACCURATEDCT to say so explicitly. Per colour space:
 *   YCbCr / RGB ("RGB")  : decoded straight to RGB
 *   gray        ("L")    : the gray value copied to R, G, B
 *   CMYK / YCCK ("CMYK") : decoded to libjpeg's CMYK, which Pillow always treats as inverted
 *                          (Adobe convention, rawmode "CMYK;I"), then convert("RGB"):
 *                          R = round((255 - C')(255 - K') / 255) with C' = 255 - raw C, i.e.
 *                          R = raw_C * raw_K / 255 rounded as Pillow's MULDIV255 rounds.
 * Warnings that libjpeg recovers from (extraneous bytes, a bad marker) are accepted, as Pillow
 * accepts them; a file that ends before its image data does is refused ("truncated"), as
 * Pillow refuses it. Progressive files with more than 500 scans are refused (a known
 * denial-of-service pattern; TJFLAG_LIMITSCANS).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "error.h"
#include "image_internal.h"

/* Pillow's MULDIV255(a, b): a*b/255 rounded to nearest, for a, b in 0..255. */
static uint8_t muldiv255(unsigned a, unsigned b)
{
    unsigned t = a * b + 128u;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

static vitcl_status decode(tjhandle tj, const uint8_t *data, size_t size, const char *name,
                           uint64_t max_pixels, vitcl_image *img, uint8_t **scratch)
{
    unsigned long len = (unsigned long)size;
    if ((size_t)len != size)
        return vitcl_fail(VITCL_ERR_LIMIT, "%s: JPEG of %zu bytes is too large", name, size);
    int w = 0, h = 0, subsamp = 0, colorspace = 0;
    if (tjDecompressHeader3(tj, data, len, &w, &h, &subsamp, &colorspace) != 0)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: corrupt or truncated JPEG header: %s", name,
                          tjGetErrorStr2(tj));
    if (w <= 0 || h <= 0)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: JPEG header says %dx%d pixels", name, w, h);

    int pixel_format;
    size_t in_channels;
    const char *mode;
    switch (colorspace) {
    case TJCS_YCbCr:
    case TJCS_RGB:
        pixel_format = TJPF_RGB, in_channels = 3, mode = "RGB";
        break;
    case TJCS_GRAY:
        pixel_format = TJPF_GRAY, in_channels = 1, mode = "L";
        break;
    case TJCS_CMYK:
    case TJCS_YCCK:
        pixel_format = TJPF_CMYK, in_channels = 4, mode = "CMYK";
        break;
    default:
        return vitcl_fail(VITCL_ERR_UNSUPPORTED, "%s: JPEG colour space %d is not supported", name,
                          colorspace);
    }
    vitcl_status st = vitcl_image_alloc_rgb(img, (uint64_t)w, (uint64_t)h, max_pixels, name);
    if (st != VITCL_OK)
        return st;
    snprintf(img->source_mode, sizeof img->source_mode, "%s", mode);

    size_t npix = img->width * img->height; /* fits: alloc_rgb checked npix * 3 */
    uint8_t *dst = img->pixels;
    if (in_channels != 3) {
        if (npix > SIZE_MAX / in_channels)
            return vitcl_fail(VITCL_ERR_LIMIT, "%s: %dx%d JPEG does not fit in memory", name, w, h);
        *scratch = malloc(npix * in_channels);
        if (!*scratch)
            return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", name,
                              npix * in_channels);
        dst = *scratch;
    }
    int flags = TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS;
    if (tjDecompress2(tj, data, len, dst, w, 0, h, pixel_format, flags) != 0) {
        const char *why = tjGetErrorStr2(tj);
        int fatal = tjGetErrorCode(tj) != TJERR_WARNING;
        /* libjpeg pads a file that ends early with gray and calls it a warning; Pillow
         * reports such a file as truncated, and so do we. */
        if (fatal || strstr(why, "Premature end"))
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: corrupt or truncated JPEG: %s", name, why);
    }
    if (in_channels == 1) {
        for (size_t i = npix; i-- > 0;)
            img->pixels[3 * i] = img->pixels[3 * i + 1] = img->pixels[3 * i + 2] = dst[i];
    } else if (in_channels == 4) {
        for (size_t i = 0; i < npix; i++) {
            const uint8_t *p = dst + 4 * i;
            for (size_t c = 0; c < 3; c++)
                img->pixels[3 * i + c] = muldiv255(p[c], p[3]);
        }
    }
    return VITCL_OK;
}

vitcl_status vitcl_jpeg_decode(const uint8_t *data, size_t size, const char *name,
                               uint64_t max_pixels, vitcl_image *img)
{
    img->pixels = NULL;
    tjhandle tj = tjInitDecompress();
    if (!tj)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: cannot create a TurboJPEG decompressor",
                          name);
    uint8_t *scratch = NULL;
    vitcl_status st = decode(tj, data, size, name, max_pixels, img, &scratch);
    free(scratch);
    tjDestroy(tj);
    if (st != VITCL_OK) {
        free(img->pixels);
        img->pixels = NULL;
    }
    return st;
}
