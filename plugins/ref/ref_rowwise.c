/* plugins/ref/ref_rowwise.c - the element-wise and row-wise ops of the reference backend:
 * layernorm, softmax, gelu and add. Row statistics are computed in double before anything is
 * written, so an exactly aliased (in-place) call gives the same result. */
#include <math.h>
#include <stdlib.h>

#include "ref_internal.h"

/* Y may alias X exactly but not partially. */
static vitcl_status check_alias(vitcl_context *ctx, const char *op, const char *in,
                                const vitcl_buffer *X, size_t x_off, const vitcl_buffer *Y,
                                size_t y_off, size_t count)
{
    if (X != Y || x_off == y_off)
        return VITCL_OK;
    if (x_off < y_off + count && y_off < x_off + count)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "Y partially overlaps %s (only exact aliasing is allowed)", in);
    return VITCL_OK;
}

vitcl_status ref_layernorm(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                           const vitcl_buffer *gamma, size_t g_off, const vitcl_buffer *beta,
                           size_t b_off, vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols,
                           float eps)
{
    static const char op[] = "layernorm";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = ref_now_ns();
    const size_t sizes[] = {rows, cols};
    vitcl_status st = ref_check_sizes(ctx, op, "rows,cols", sizes, 2);
    if (st != VITCL_OK)
        return st;
    if (!(eps >= 0.0f) || isinf(eps))
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "eps = %g is not a finite value >= 0",
                        (double)eps);
    size_t count = plugin_size_extent(1, 0, rows, cols, cols);
    if ((st = ref_check_span(ctx, op, "X", X, x_off, count, 0)) ||
        (st = ref_check_span(ctx, op, "gamma", gamma, g_off, cols, 0)) ||
        (st = ref_check_span(ctx, op, "beta", beta, b_off, cols, 0)) ||
        (st = ref_check_span(ctx, op, "Y", Y, y_off, count, 1)) ||
        (st = check_alias(ctx, op, "X", X, x_off, Y, y_off, count)))
        return st;

    const float *g = ref_floats(gamma, g_off), *bt = ref_floats(beta, b_off);
    for (size_t r = 0; r < rows; r++) {
        const float *x = ref_floats(X, x_off + r * cols);
        float *y = ref_floats(Y, y_off + r * cols);
        /* Two passes: the mean, then the biased variance around it. */
        double mean = 0.0, var = 0.0;
        for (size_t j = 0; j < cols; j++)
            mean += x[j];
        mean /= (double)cols;
        for (size_t j = 0; j < cols; j++) {
            double d = x[j] - mean;
            var += d * d;
        }
        var /= (double)cols;
        double inv = 1.0 / sqrt(var + (double)eps);
        for (size_t j = 0; j < cols; j++)
            y[j] = (float)((x[j] - mean) * inv * g[j] + bt[j]);
    }
    ref_record(ctx, op, t0);
    return VITCL_OK;
}

vitcl_status ref_softmax(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                         vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols, float scale)
{
    static const char op[] = "softmax";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = ref_now_ns();
    const size_t sizes[] = {rows, cols};
    vitcl_status st = ref_check_sizes(ctx, op, "rows,cols", sizes, 2);
    if (st != VITCL_OK)
        return st;
    if (!isfinite(scale))
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "scale = %g is not finite",
                        (double)scale);
    size_t count = plugin_size_extent(1, 0, rows, cols, cols);
    if ((st = ref_check_span(ctx, op, "X", X, x_off, count, 0)) ||
        (st = ref_check_span(ctx, op, "Y", Y, y_off, count, 1)) ||
        (st = check_alias(ctx, op, "X", X, x_off, Y, y_off, count)))
        return st;
    double *e = malloc(cols * sizeof *e); /* cols <= count, whose bytes fit in the buffer */
    if (e == NULL)
        return ref_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, op, "no memory for a row of %zu values",
                        cols);

    for (size_t r = 0; r < rows; r++) {
        const float *x = ref_floats(X, x_off + r * cols);
        float *y = ref_floats(Y, y_off + r * cols);
        double mx = -INFINITY, sum = 0.0;
        for (size_t j = 0; j < cols; j++) {
            double v = (double)scale * x[j];
            if (v > mx)
                mx = v;
        }
        for (size_t j = 0; j < cols; j++) {
            e[j] = exp((double)scale * x[j] - mx);
            sum += e[j];
        }
        for (size_t j = 0; j < cols; j++)
            y[j] = (float)(e[j] / sum);
    }
    free(e);
    ref_record(ctx, op, t0);
    return VITCL_OK;
}

vitcl_status ref_gelu_op(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                         vitcl_buffer *Y, size_t y_off, size_t n)
{
    static const char op[] = "gelu";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = ref_now_ns();
    vitcl_status st = ref_check_sizes(ctx, op, "n", &n, 1);
    if (st != VITCL_OK)
        return st;
    if ((st = ref_check_span(ctx, op, "X", X, x_off, n, 0)) ||
        (st = ref_check_span(ctx, op, "Y", Y, y_off, n, 1)) ||
        (st = check_alias(ctx, op, "X", X, x_off, Y, y_off, n)))
        return st;
    const float *x = ref_floats(X, x_off);
    float *y = ref_floats(Y, y_off);
    for (size_t i = 0; i < n; i++)
        y[i] = (float)ref_gelu(x[i]);
    ref_record(ctx, op, t0);
    return VITCL_OK;
}

vitcl_status ref_add_op(vitcl_context *ctx, const vitcl_buffer *A, size_t a_off,
                        const vitcl_buffer *B, size_t b_off, vitcl_buffer *Y, size_t y_off,
                        size_t n, size_t b_period)
{
    static const char op[] = "add";
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = ref_now_ns();
    const size_t sizes[] = {n, b_period};
    vitcl_status st = ref_check_sizes(ctx, op, "n,b_period", sizes, 2);
    if (st != VITCL_OK)
        return st;
    if (n % b_period != 0)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "b_period = %zu does not divide n = %zu", b_period, n);
    if ((st = ref_check_span(ctx, op, "A", A, a_off, n, 0)) ||
        (st = ref_check_span(ctx, op, "B", B, b_off, b_period, 0)) ||
        (st = ref_check_span(ctx, op, "Y", Y, y_off, n, 1)) ||
        (st = check_alias(ctx, op, "A", A, a_off, Y, y_off, n)))
        return st;
    if (B == Y && b_period != n && b_off < y_off + n && y_off < b_off + b_period)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "Y overlaps the broadcast operand B (b_period %zu < n %zu)", b_period, n);
    if (B == Y && b_period == n && (st = check_alias(ctx, op, "B", B, b_off, Y, y_off, n)))
        return st;
    const float *a = ref_floats(A, a_off), *b = ref_floats(B, b_off);
    float *y = ref_floats(Y, y_off);
    for (size_t i = 0; i < n; i++)
        y[i] = (float)((double)a[i] + (double)b[i % b_period]);
    ref_record(ctx, op, t0);
    return VITCL_OK;
}
