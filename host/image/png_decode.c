/* host/image/png_decode.c - PNG to 8-bit RGB with libpng, byte for byte as Pillow's
 * Image.open(...).convert("RGB").
 *
 * libpng is asked only to unpack samples (png_set_packing) and to de-interlace; every mapping to
 * RGB is done here, per colour type and bit depth, the way Pillow does it:
 *   gray 1/2/4/8 bit  ("1"/"L")  : value scaled to 0..255 by bit replication, copied to R, G, B
 *   gray 16 bit       ("I;16")   : min(value, 255) - Pillow clips, it does not scale
 *   gray+alpha 8      ("LA")     : gray copied, alpha dropped
 *   gray+alpha 16     ("RGBA")   : high byte of gray, alpha dropped
 *   RGB / RGBA 8, 16  ("RGB"/"RGBA"): high byte of each colour sample, alpha dropped
 *   palette           ("P")      : palette lookup; indices past the PLTE entries give black;
 *                                  tRNS is ignored (convert("RGB") drops transparency)
 * No gamma, colour profile or sBIT adjustment is applied (Pillow applies none).
 */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "image_internal.h"

typedef struct png_reader {
    const uint8_t *data;
    size_t size, pos;
    jmp_buf jump;
    char message[256];
} png_reader;

static void on_error(png_structp png, png_const_charp msg)
{
    png_reader *r = png_get_error_ptr(png);
    snprintf(r->message, sizeof r->message, "%s", msg);
    longjmp(r->jump, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* Pillow accepts what libpng merely warns about; so do we, silently. */
}

static void on_read(png_structp png, png_bytep out, size_t n)
{
    png_reader *r = png_get_io_ptr(png);
    if (n > r->size - r->pos)
        png_error(png, "file is truncated");
    memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

typedef struct png_layout {
    int color_type, bit_depth;
    uint8_t palette[256][3]; /* zero past num_palette, as Pillow's palette */
} png_layout;

static uint8_t hi_byte(const uint8_t *be16)
{
    return be16[0];
}

/* Converts one unpacked row (one sample per byte, or two big-endian bytes at 16 bits) to RGB. */
static void row_to_rgb(const png_layout *lay, const uint8_t *in, uint8_t *out, size_t width)
{
    int bd = lay->bit_depth;
    switch (lay->color_type) {
    case PNG_COLOR_TYPE_GRAY:
        for (size_t x = 0; x < width; x++) {
            unsigned v;
            if (bd == 16) {
                unsigned w = (unsigned)in[2 * x] << 8 | in[2 * x + 1];
                v = w > 255 ? 255 : w;
            } else {
                v = in[x] * (bd == 1 ? 255u : bd == 2 ? 85u : bd == 4 ? 17u : 1u);
            }
            out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = (uint8_t)v;
        }
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        for (size_t x = 0; x < width; x++) {
            uint8_t v = bd == 16 ? hi_byte(in + 4 * x) : in[2 * x];
            out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = v;
        }
        break;
    case PNG_COLOR_TYPE_RGB:
    case PNG_COLOR_TYPE_RGB_ALPHA: {
        size_t ch = lay->color_type == PNG_COLOR_TYPE_RGB ? 3 : 4;
        if (bd == 16) {
            for (size_t x = 0; x < width; x++)
                for (size_t c = 0; c < 3; c++)
                    out[3 * x + c] = hi_byte(in + 2 * (ch * x + c));
        } else {
            for (size_t x = 0; x < width; x++)
                memcpy(out + 3 * x, in + ch * x, 3);
        }
        break;
    }
    case PNG_COLOR_TYPE_PALETTE:
        for (size_t x = 0; x < width; x++)
            memcpy(out + 3 * x, lay->palette[in[x]], 3);
        break;
    default:
        break; /* rejected before any row is read */
    }
}

static const char *pillow_mode(int color_type, int bit_depth)
{
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return bit_depth == 1 ? "1" : bit_depth == 16 ? "I;16" : "L";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return bit_depth == 16 ? "RGBA" : "LA";
    case PNG_COLOR_TYPE_RGB: return "RGB";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
    case PNG_COLOR_TYPE_PALETTE: return "P";
    default: return "?";
    }
}

/* What a decode allocates, kept on the heap so it can be freed after a libpng longjmp. */
typedef struct png_job {
    png_reader reader;
    png_layout layout;
    uint8_t *rows;   /* one row, or the whole image when interlaced */
    png_bytep *ptrs; /* row pointers when interlaced */
} png_job;

/* The libpng part. A libpng error longjmps out of here to vitcl_png_decode. */
static vitcl_status decode(png_structp png, png_infop info, png_job *job, const char *name,
                           uint64_t max_pixels, vitcl_image *img)
{
    png_set_read_fn(png, &job->reader, on_read);
    /* Pillow verifies every chunk's CRC and refuses a broken file. */
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    /* Our own pixel limit is applied below; lift libpng's default 1e6 x 1e6 cap to the PNG
     * maximum so that the limit message is ours. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);

    png_uint_32 w, h;
    int bit_depth, color_type, interlace;
    png_get_IHDR(png, info, &w, &h, &bit_depth, &color_type, &interlace, NULL, NULL);
    vitcl_status st = vitcl_image_alloc_rgb(img, w, h, max_pixels, name);
    if (st != VITCL_OK)
        return st;
    snprintf(img->source_mode, sizeof img->source_mode, "%s", pillow_mode(color_type, bit_depth));

    png_layout *lay = &job->layout;
    lay->color_type = color_type;
    lay->bit_depth = bit_depth;
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_colorp pal = NULL;
        int n = 0;
        if (!png_get_PLTE(png, info, &pal, &n) || !pal)
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: palette PNG without a PLTE chunk", name);
        for (int i = 0; i < n && i < 256; i++) {
            lay->palette[i][0] = pal[i].red;
            lay->palette[i][1] = pal[i].green;
            lay->palette[i][2] = pal[i].blue;
        }
    }
    if (bit_depth < 8)
        png_set_packing(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);

    /* Non-interlaced: one row at a time. Interlaced: libpng needs the whole image. */
    size_t nrows = passes > 1 ? (size_t)h : 1;
    if (rowbytes == 0 || nrows > SIZE_MAX / rowbytes)
        return vitcl_fail(VITCL_ERR_LIMIT, "%s: %ux%u PNG rows do not fit in memory", name,
                          (unsigned)w, (unsigned)h);
    job->rows = malloc(nrows * rowbytes);
    if (passes > 1)
        job->ptrs = malloc(nrows * sizeof *job->ptrs);
    if (!job->rows || (passes > 1 && !job->ptrs))
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes of PNG rows",
                          name, nrows * rowbytes);
    if (passes > 1) {
        for (size_t y = 0; y < nrows; y++)
            job->ptrs[y] = job->rows + y * rowbytes;
        png_read_image(png, job->ptrs);
        for (size_t y = 0; y < nrows; y++)
            row_to_rgb(lay, job->ptrs[y], img->pixels + y * img->width * 3, img->width);
    } else {
        for (size_t y = 0; y < img->height; y++) {
            png_read_row(png, job->rows, NULL);
            row_to_rgb(lay, job->rows, img->pixels + y * img->width * 3, img->width);
        }
    }
    return VITCL_OK;
}

vitcl_status vitcl_png_decode(const uint8_t *data, size_t size, const char *name,
                              uint64_t max_pixels, vitcl_image *img)
{
    img->pixels = NULL;
    png_job *job = calloc(1, sizeof *job);
    if (!job)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    job->reader.data = data;
    job->reader.size = size;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job->reader, on_error,
                                             on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        free(job);
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: cannot create a libpng reader", name);
    }
    vitcl_status st;
    if (setjmp(job->reader.jump))
        st = vitcl_fail(VITCL_ERR_FORMAT, "%s: corrupt or truncated PNG: %s", name,
                        job->reader.message);
    else
        st = decode(png, info, job, name, max_pixels, img);
    png_destroy_read_struct(&png, &info, NULL);
    free(job->rows);
    free(job->ptrs);
    free(job);
    if (st != VITCL_OK) {
        free(img->pixels);
        img->pixels = NULL;
    }
    return st;
}
