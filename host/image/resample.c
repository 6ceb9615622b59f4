/* host/image/resample.c - Pillow's Image.resize for 8-bit RGB images, reproduced exactly.
 *
 * The algorithm (Pillow's Resample.c behaviour, spec section 3.3), written from its description:
 * - separable: a horizontal pass, then a vertical pass - except that Pillow 13 does the vertical
 *   pass first when the height shrinks by more than twice as many pixels as the width does
 *   (src_h - dst_h > 2 * (src_w - dst_w), dst_h < src_h; found by comparing outputs, see
 *   docs/images.md); a pass is skipped when that dimension is unchanged (an unchanged image is
 *   copied);
 * - per output index o: scale = in / out, fs = max(scale, 1), support = filter_support * fs,
 *   center = (o + 0.5) * scale, taps x in [trunc(center - support + 0.5) clamped to >= 0,
 *   trunc(center + support + 0.5) clamped to <= in); weight = filter((x - center + 0.5) / fs)
 *   (computed as a product with 1/fs), normalised by the sum of the taps' weights;
 * - weights become 22-bit fixed point, rounded half away from zero; each output sample is
 *   (2^21 + sum(pixel * weight)) >> 22 clipped to 0..255, so the image is rounded to 8 bits
 *   between the passes.
 * The filters and their supports: box 0.5, bilinear (triangle) 1, Hamming 1, bicubic
 * (Keys, a = -0.5) 2, Lanczos (a = 3) 3. Pillow treats NEAREST differently (an affine
 * transform), and we do not implement it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "image_internal.h"

#define PRECISION_BITS 22

typedef struct filter {
    double (*fn)(double x);
    double support;
    const char *name;
} filter;

static double box_filter(double x)
{
    return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
}

static double triangle_filter(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double hamming_filter(double x)
{
    x = fabs(x);
    if (x == 0.0)
        return 1.0;
    if (x >= 1.0)
        return 0.0;
    x *= M_PI;
    return sin(x) / x * (0.54 + 0.46 * cos(x));
}

static double cubic_filter(double x)
{
    const double a = -0.5;
    x = fabs(x);
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double sinc(double x)
{
    if (x == 0.0)
        return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos_filter(double x)
{
    return (x >= -3.0 && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0;
}

static const filter *find_filter(vitcl_resample r)
{
    static const filter box = {box_filter, 0.5, "BOX"};
    static const filter bilinear = {triangle_filter, 1.0, "BILINEAR"};
    static const filter hamming = {hamming_filter, 1.0, "HAMMING"};
    static const filter bicubic = {cubic_filter, 2.0, "BICUBIC"};
    static const filter lanczos = {lanczos_filter, 3.0, "LANCZOS"};
    switch (r) {
    case VITCL_RESAMPLE_BOX: return &box;
    case VITCL_RESAMPLE_BILINEAR: return &bilinear;
    case VITCL_RESAMPLE_HAMMING: return &hamming;
    case VITCL_RESAMPLE_BICUBIC: return &bicubic;
    case VITCL_RESAMPLE_LANCZOS: return &lanczos;
    case VITCL_RESAMPLE_NEAREST: break;
    }
    return NULL;
}

/* The taps of one axis: for output o, source indices first[o] .. first[o] + count[o] - 1 with
 * fixed-point weights weights[o * ksize + i]. */
typedef struct taps {
    size_t ksize;
    size_t *first, *count;
    int32_t *weights;
} taps;

static void taps_free(taps *t)
{
    free(t->first);
    free(t->count);
    free(t->weights);
}

static vitcl_status taps_build(size_t in_size, size_t out_size, const filter *f, taps *t)
{
    memset(t, 0, sizeof *t);
    double scale = (double)in_size / (double)out_size;
    double fs = scale < 1.0 ? 1.0 : scale;
    double support = f->support * fs;
    double half = ceil(support);
    if (half > 1e9)
        return vitcl_fail(VITCL_ERR_LIMIT, "resize: %zu -> %zu needs too many filter taps",
                          in_size, out_size);
    size_t ksize = (size_t)half * 2 + 1;
    if (out_size > SIZE_MAX / ksize / sizeof(double))
        return vitcl_fail(VITCL_ERR_LIMIT, "resize: %zu -> %zu filter table does not fit in "
                          "memory", in_size, out_size);
    double *w = malloc(ksize * sizeof *w);
    t->ksize = ksize;
    t->first = malloc(out_size * sizeof *t->first);
    t->count = malloc(out_size * sizeof *t->count);
    t->weights = calloc(out_size * ksize, sizeof *t->weights);
    if (!w || !t->first || !t->count || !t->weights) {
        free(w);
        taps_free(t);
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "resize: out of memory for %zu x %zu taps",
                          out_size, ksize);
    }
    double inv_fs = 1.0 / fs;
    for (size_t o = 0; o < out_size; o++) {
        double center = ((double)o + 0.5) * scale;
        double lo = center - support + 0.5, hi = center + support + 0.5;
        size_t xmin = lo <= 0.0 ? 0 : (size_t)lo; /* truncation, as a C cast to int */
        size_t xmax = hi >= (double)in_size ? in_size : (size_t)hi;
        size_t n = xmax > xmin ? xmax - xmin : 0;
        if (n > ksize)
            n = ksize; /* cannot happen: 2*support + 1 bounds the span */
        double sum = 0.0;
        for (size_t i = 0; i < n; i++) {
            w[i] = f->fn(((double)(xmin + i) - center + 0.5) * inv_fs);
            sum += w[i];
        }
        int32_t *k = t->weights + o * ksize;
        for (size_t i = 0; i < n; i++) {
            double v = sum != 0.0 ? w[i] / sum : w[i];
            double s = v * (double)(1 << PRECISION_BITS);
            k[i] = (int32_t)(v < 0.0 ? s - 0.5 : s + 0.5);
        }
        t->first[o] = xmin;
        t->count[o] = n;
    }
    free(w);
    return VITCL_OK;
}

static uint8_t clip8(int64_t acc)
{
    if (acc < 0)
        return 0;
    acc >>= PRECISION_BITS;
    return acc > 255 ? 255 : (uint8_t)acc;
}

/* Rows [row0, row0 + nrows) of src (width sw) resampled horizontally into dst (width dw). */
static void pass_horizontal(const uint8_t *src, size_t sw, size_t row0, size_t nrows,
                            uint8_t *dst, size_t dw, const taps *t)
{
    for (size_t y = 0; y < nrows; y++) {
        const uint8_t *in = src + (row0 + y) * sw * 3;
        uint8_t *out = dst + y * dw * 3;
        for (size_t o = 0; o < dw; o++) {
            const int32_t *k = t->weights + o * t->ksize;
            const uint8_t *p = in + t->first[o] * 3;
            int64_t a0 = 1 << (PRECISION_BITS - 1), a1 = a0, a2 = a0;
            for (size_t i = 0; i < t->count[o]; i++) {
                a0 += (int64_t)p[3 * i] * k[i];
                a1 += (int64_t)p[3 * i + 1] * k[i];
                a2 += (int64_t)p[3 * i + 2] * k[i];
            }
            out[3 * o] = clip8(a0);
            out[3 * o + 1] = clip8(a1);
            out[3 * o + 2] = clip8(a2);
        }
    }
}

/* src holds rows starting at source row row0 (width w); dst gets dh rows of width w. */
static void pass_vertical(const uint8_t *src, size_t row0, size_t w, uint8_t *dst, size_t dh,
                          const taps *t)
{
    size_t stride = w * 3;
    for (size_t o = 0; o < dh; o++) {
        const int32_t *k = t->weights + o * t->ksize;
        const uint8_t *base = src + (t->first[o] - row0) * stride;
        uint8_t *out = dst + o * stride;
        for (size_t x = 0; x < stride; x++) {
            int64_t acc = 1 << (PRECISION_BITS - 1);
            for (size_t i = 0; i < t->count[o]; i++)
                acc += (int64_t)base[i * stride + x] * k[i];
            out[x] = clip8(acc);
        }
    }
}

vitcl_status vitcl_image_resize(const uint8_t *src, size_t src_w, size_t src_h, uint8_t *dst,
                                size_t dst_w, size_t dst_h, vitcl_resample resample)
{
    if (!src || !dst)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_image_resize: NULL image");
    if (!src_w || !src_h || !dst_w || !dst_h)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                          "vitcl_image_resize: zero size (%zux%zu -> %zux%zu)", src_w, src_h,
                          dst_w, dst_h);
    if (src_w > INT32_MAX || src_h > INT32_MAX || dst_w > INT32_MAX || dst_h > INT32_MAX ||
        src_w > SIZE_MAX / 3 / src_h || dst_w > SIZE_MAX / 3 / dst_h)
        return vitcl_fail(VITCL_ERR_LIMIT, "vitcl_image_resize: %zux%zu -> %zux%zu is too large",
                          src_w, src_h, dst_w, dst_h);
    const filter *f = find_filter(resample);
    if (!f)
        return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                          "vitcl_image_resize: resample filter %d is not supported (use 1 "
                          "LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX or 5 HAMMING)", (int)resample);
    int need_h = dst_w != src_w, need_v = dst_h != src_h;
    if (!need_h && !need_v) {
        memcpy(dst, src, src_w * src_h * 3);
        return VITCL_OK;
    }
    taps th = {0}, tv = {0};
    vitcl_status st = VITCL_OK;
    if (need_h && (st = taps_build(src_w, dst_w, f, &th)) != VITCL_OK)
        return st;
    if (need_v && (st = taps_build(src_h, dst_h, f, &tv)) != VITCL_OK) {
        taps_free(&th);
        return st;
    }
    if (!need_v) {
        pass_horizontal(src, src_w, 0, src_h, dst, dst_w, &th);
    } else if (!need_h) {
        pass_vertical(src, 0, src_w, dst, dst_h, &tv);
    } else if (dst_h < src_h && (long long)(src_h - dst_h) > 2 * ((long long)src_w -
                                                                  (long long)dst_w)) {
        /* Pillow 13 runs the vertical pass first when the height shrinks by more than twice
         * what the width shrinks (measured against Pillow: the rows are rounded to 8 bits in
         * the other order, so the order is visible in the output). */
        uint8_t *tmp = malloc(src_w * dst_h * 3);
        if (!tmp) {
            st = vitcl_fail(VITCL_ERR_OUT_OF_MEMORY,
                            "vitcl_image_resize: cannot allocate a %zux%zu temporary image",
                            src_w, dst_h);
        } else {
            pass_vertical(src, 0, src_w, tmp, dst_h, &tv);
            pass_horizontal(tmp, src_w, 0, dst_h, dst, dst_w, &th);
            free(tmp);
        }
    } else {
        /* Horizontal first; only the source rows the vertical pass reads go through it. */
        size_t row0 = tv.first[0];
        size_t row_end = tv.first[dst_h - 1] + tv.count[dst_h - 1];
        size_t nrows = row_end > row0 ? row_end - row0 : 0;
        uint8_t *tmp = malloc((nrows ? nrows : 1) * dst_w * 3);
        if (!tmp) {
            st = vitcl_fail(VITCL_ERR_OUT_OF_MEMORY,
                            "vitcl_image_resize: cannot allocate a %zux%zu temporary image",
                            dst_w, nrows);
        } else {
            pass_horizontal(src, src_w, row0, nrows, tmp, dst_w, &th);
            pass_vertical(tmp, row0, dst_w, dst, dst_h, &tv);
            free(tmp);
        }
    }
    taps_free(&th);
    taps_free(&tv);
    return st;
}
