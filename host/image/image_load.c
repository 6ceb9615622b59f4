/* host/image/image_load.c - the public image loaders: read the file, enforce the limits, sniff
 * the format from its magic bytes and hand the bytes to the PNG or JPEG decoder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "file_open.h"
#include "image_internal.h"

static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

typedef struct resolved_limits {
    uint64_t max_pixels;
    uint64_t max_file_bytes;
} resolved_limits;

static resolved_limits resolve_limits(const vitcl_image_limits *limits)
{
    resolved_limits r = {VITCL_IMAGE_DEFAULT_MAX_PIXELS, VITCL_IMAGE_DEFAULT_MAX_FILE_BYTES};
    if (!limits)
        return r;
    size_t have = limits->struct_size;
    if (have >= offsetof(vitcl_image_limits, max_pixels) + sizeof limits->max_pixels &&
        limits->max_pixels)
        r.max_pixels = limits->max_pixels;
    if (have >= offsetof(vitcl_image_limits, max_file_bytes) + sizeof limits->max_file_bytes &&
        limits->max_file_bytes)
        r.max_file_bytes = limits->max_file_bytes;
    return r;
}

vitcl_status vitcl_image_alloc_rgb(vitcl_image *img, uint64_t width, uint64_t height,
                                   uint64_t max_pixels, const char *name)
{
    img->pixels = NULL;
    if (width == 0 || height == 0)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: image header says %llux%llu pixels", name,
                          (unsigned long long)width, (unsigned long long)height);
    if (width > UINT32_MAX || height > UINT32_MAX || width * height > max_pixels)
        return vitcl_fail(VITCL_ERR_LIMIT,
                          "%s: image is %llux%llu pixels, more than the limit of %llu pixels "
                          "(a possible decompression bomb; raise vitcl_image_limits.max_pixels "
                          "to accept it)",
                          name, (unsigned long long)width, (unsigned long long)height,
                          (unsigned long long)max_pixels);
    /* width, height < 2^32, so width*height cannot overflow 64 bits; bytes may overflow size_t. */
    uint64_t pixels = width * height;
    if (pixels > SIZE_MAX / 3u)
        return vitcl_fail(VITCL_ERR_LIMIT, "%s: %llux%llu RGB image does not fit in memory", name,
                          (unsigned long long)width, (unsigned long long)height);
    size_t bytes = (size_t)pixels * 3u;
    img->pixels = malloc(bytes);
    if (!img->pixels)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes for %llux%llu "
                          "RGB pixels", name, bytes,
                          (unsigned long long)width, (unsigned long long)height);
    img->width = (size_t)width;
    img->height = (size_t)height;
    return VITCL_OK;
}

/* Names formats we recognise but do not decode, so the error can say what the file is. */
static const char *other_format(const uint8_t *d, size_t n)
{
    if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6)))
        return "GIF";
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4))
        return "WebP";
    if (n >= 2 && !memcmp(d, "BM", 2))
        return "BMP";
    if (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4)))
        return "TIFF";
    if (n >= 12 && !memcmp(d + 4, "ftyp", 4))
        return "ISO media (HEIF/AVIF)";
    return NULL;
}

vitcl_status vitcl_image_load_memory(const void *data, size_t size, const char *name,
                                     const vitcl_image_limits *limits, vitcl_image **out)
{
    if (!name)
        name = "<memory>";
    if (!out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "%s: vitcl_image_load_memory: out is NULL",
                          name);
    *out = NULL;
    if (!data && size)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "%s: vitcl_image_load_memory: data is NULL",
                          name);
    resolved_limits lim = resolve_limits(limits);
    if (size == 0)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: empty file (0 bytes), not an image", name);
    if ((uint64_t)size > lim.max_file_bytes)
        return vitcl_fail(VITCL_ERR_LIMIT, "%s: %zu bytes, more than the limit of %llu bytes",
                          name, size, (unsigned long long)lim.max_file_bytes);
    const uint8_t *d = data;
    int is_png = size >= sizeof png_magic && !memcmp(d, png_magic, sizeof png_magic);
    int is_jpeg = size >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff;
    if (!is_png && !is_jpeg) {
        const char *other = other_format(d, size);
        if (other)
            return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                              "%s: a %s image; only PNG and JPEG are supported", name, other);
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: not a PNG or JPEG image (no PNG or JPEG signature in its first "
                          "bytes; the file name's extension is not used)", name);
    }
    vitcl_image *img = calloc(1, sizeof *img);
    if (!img)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    vitcl_status st;
    if (is_png) {
        snprintf(img->format, sizeof img->format, "PNG");
        st = vitcl_png_decode(d, size, name, lim.max_pixels, img);
    } else {
        snprintf(img->format, sizeof img->format, "JPEG");
        st = vitcl_jpeg_decode(d, size, name, lim.max_pixels, img);
    }
    if (st != VITCL_OK) {
        free(img->pixels);
        free(img);
        return st;
    }
    *out = img;
    return VITCL_OK;
}

vitcl_status vitcl_image_load_file(const char *path, const vitcl_image_limits *limits,
                                   vitcl_image **out)
{
    if (!out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_image_load_file: out is NULL");
    *out = NULL;
    if (!path)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_image_load_file: path is NULL");
    resolved_limits lim = resolve_limits(limits);
    size_t max = lim.max_file_bytes < SIZE_MAX - 1 ? (size_t)lim.max_file_bytes : SIZE_MAX - 1;
    char *buf = NULL;
    size_t size = 0;
    vitcl_status rs = vitcl_file_read_all(path, max, &buf, &size);
    if (rs == VITCL_ERR_NOT_FOUND)
        rs = VITCL_ERR_IO; /* image.h documents VITCL_ERR_IO for every file that cannot be opened */
    if (rs != VITCL_OK)
        return rs;
    vitcl_status st = vitcl_image_load_memory(buf, size, path, limits, out);
    free(buf);
    return st;
}

void vitcl_image_free(vitcl_image *img)
{
    if (!img)
        return;
    free(img->pixels);
    free(img);
}
