/* host/model/pos_interp.h - interpolate_pos_encoding: resample a position-embedding table.
 *
 * Reproduces transformers' ViT interpolate_pos_encoding (spec section 1.4): the CLS row is kept,
 * the g0 x g0 patch rows are resampled to gh x gw with PyTorch's bicubic upsampling
 * (A = -0.75, align_corners=False, scale = in/out from the explicit size, taps clamped to the
 * edge), and the CLS row is put back in front. Pure host code, no allocation.
 */
#ifndef VITCL_HOST_POS_INTERP_H
#define VITCL_HOST_POS_INTERP_H

#include <stddef.h>

/* src: [(g0*g0) + 1, dim]; dst: [(gh*gw) + 1, dim]. g0, gh, gw >= 1. */
void vitcl_pos_interp_bicubic(const float *src, size_t g0, size_t dim, float *dst, size_t gh,
                              size_t gw);

#endif
