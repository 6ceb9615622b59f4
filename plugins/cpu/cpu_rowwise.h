/* plugins/cpu/cpu_rowwise.h - row kernels of cpu_rowwise.c that other ops of the cpu plugin
 * reuse (bias fill and GELU epilogue of linear, bias of patch_embed). Thread-safe on disjoint rows. */
#ifndef VITCL_CPU_ROWWISE_H
#define VITCL_CPU_ROWWISE_H

#include <stddef.h>

#include "vitcl/backend.h"

/* Adds bias[0..cols) (when not NULL) to each of `rows` rows of y (leading dimension ld) and,
 * with gelu != 0, applies GELU (erf form), in place, on ctx's pool. */
void cpu_bias_gelu_rows(vitcl_context *ctx, float *y, size_t rows, size_t cols, size_t ld,
                        const float *bias, int gelu);

/* Copies row[0..cols) into each of `rows` dense rows of y, on ctx's pool. */
void cpu_fill_rows(vitcl_context *ctx, float *y, size_t rows, size_t cols, const float *row);

#endif
