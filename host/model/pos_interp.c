/* host/model/pos_interp.c - PyTorch-compatible bicubic resampling of position embeddings.
 *
 * Follows the semantics of torch.nn.functional.interpolate(mode="bicubic",
 * align_corners=False, size=(gh, gw)) on CPU in float32: per output index o the source
 * coordinate is x = s*(o + 0.5) - 0.5 with s = in/out (no clamp at zero for cubic), the base
 * index is floor(x) limited to in-1, the fraction t = x - base is clamped to [0, 1], the four
 * taps base-1..base+2 are clamped to [0, in-1], and the weights are Keys' cubic convolution with
 * A = -0.75. The result is separable: the x interpolation of each of the four source rows, then
 * the y interpolation of those, accumulated in float in that order.
 */
#include "pos_interp.h"

#include <math.h>

#define CUBIC_A (-0.75f)

typedef struct taps {
    size_t idx[4];
    float w[4];
} taps;

static float cubic_near(float x) /* |x| <= 1 */
{
    return ((CUBIC_A + 2.0f) * x - (CUBIC_A + 3.0f)) * x * x + 1.0f;
}

static float cubic_far(float x) /* 1 < |x| < 2 */
{
    return ((CUBIC_A * x - 5.0f * CUBIC_A) * x + 8.0f * CUBIC_A) * x - 4.0f * CUBIC_A;
}

static taps compute_taps(size_t in, size_t out, size_t o)
{
    float scale = (float)in / (float)out;
    float real = scale * ((float)o + 0.5f) - 0.5f;
    long base = (long)floorf(real);
    if (base > (long)in - 1)
        base = (long)in - 1;
    float t = real - (float)base;
    t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
    taps r;
    r.w[0] = cubic_far(t + 1.0f);
    r.w[1] = cubic_near(t);
    r.w[2] = cubic_near(1.0f - t);
    r.w[3] = cubic_far(2.0f - t);
    for (int j = 0; j < 4; j++) {
        long i = base - 1 + j;
        i = i < 0 ? 0 : (i > (long)in - 1 ? (long)in - 1 : i);
        r.idx[j] = (size_t)i;
    }
    return r;
}

void vitcl_pos_interp_bicubic(const float *src, size_t g0, size_t dim, float *dst, size_t gh,
                              size_t gw)
{
    for (size_t d = 0; d < dim; d++)
        dst[d] = src[d]; /* CLS row */
    const float *grid = src + dim;
    float *out = dst + dim;
    for (size_t oy = 0; oy < gh; oy++) {
        taps ty = compute_taps(g0, gh, oy);
        for (size_t ox = 0; ox < gw; ox++) {
            taps tx = compute_taps(g0, gw, ox);
            float *o = out + (oy * gw + ox) * dim;
            for (size_t d = 0; d < dim; d++) {
                float acc = 0.0f;
                for (int a = 0; a < 4; a++) {
                    const float *row = grid + ty.idx[a] * g0 * dim;
                    float t = 0.0f;
                    for (int b = 0; b < 4; b++)
                        t += row[tx.idx[b] * dim + d] * tx.w[b];
                    acc += t * ty.w[a];
                }
                o[d] = acc;
            }
        }
    }
}
