/* plugins/cpu/cpu_rowwise.c - the cpu plugin's element- and row-wise ops (layernorm, gelu, add,
 * softmax) and the bias/GELU epilogue of linear, threaded over rows or chunks on the context's
 * pool and vectorised with cpu_vmath.h. */
#include <math.h>
#include <string.h>

#include "cpu_internal.h"
#include "cpu_rowwise.h"
#include "cpu_vmath.h"

#define ELEMENT_GRAIN 16384 /* floats per chunk of the element-wise ops: ~64 KiB per input */

/* ------------------------------------------------------------------ kernels */

CPU_KERNEL
static void gelu_span(const float *x, float *y, size_t n)
{
    size_t i = 0;
    for (; i + CPU_V <= n; i += CPU_V)
        cpu_v8_store(y + i, cpu_v8_gelu(cpu_v8_load(x + i)));
    if (i < n) {
        float tmp[CPU_V] = {0};
        memcpy(tmp, x + i, (n - i) * sizeof(float));
        cpu_v8_store(tmp, cpu_v8_gelu(cpu_v8_load(tmp)));
        memcpy(y + i, tmp, (n - i) * sizeof(float));
    }
}

CPU_KERNEL
static void add_span(const float *a, const float *b, float *y, size_t n)
{
    size_t i = 0;
    for (; i + CPU_V <= n; i += CPU_V)
        cpu_v8_store(y + i, cpu_v8_load(a + i) + cpu_v8_load(b + i));
    for (; i < n; i++)
        y[i] = a[i] + b[i];
}

CPU_KERNEL
static void bias_gelu_span(float *y, const float *bias, size_t n, int gelu)
{
    size_t i = 0;
    for (; i + CPU_V <= n; i += CPU_V) {
        cpu_v8 v = cpu_v8_load(y + i);
        if (bias)
            v += cpu_v8_load(bias + i);
        cpu_v8_store(y + i, gelu ? cpu_v8_gelu(v) : v);
    }
    if (i < n) {
        float tmp[CPU_V] = {0};
        for (size_t j = i; j < n; j++)
            tmp[j - i] = y[j] + (bias ? bias[j] : 0.0f);
        cpu_v8 v = cpu_v8_load(tmp);
        cpu_v8_store(tmp, gelu ? cpu_v8_gelu(v) : v);
        memcpy(y + i, tmp, (n - i) * sizeof(float));
    }
}

/* Mean and biased variance of a row, accumulated in double (8 lanes, then the tail): rows
 * with a large common offset (|x| ~ 1e4, small spread) stay exact, which float sums would
 * not. Then y = (x - mean)·(1/sqrt(var + eps))·g + b per element, also in double, rounded
 * once to float. */
CPU_KERNEL
static void layernorm_row(const float *x, const float *g, const float *b, float *y, size_t n,
                          float eps)
{
    cpu_d8 acc = {0};
    size_t i = 0;
    for (; i + CPU_V <= n; i += CPU_V)
        acc += __builtin_convertvector(cpu_v8_load(x + i), cpu_d8);
    double sum = cpu_d8_hsum(acc);
    for (; i < n; i++)
        sum += x[i];
    double mean = sum / (double)n;
    cpu_d8 vm = cpu_d8_set1(mean);
    acc = (cpu_d8){0};
    for (i = 0; i + CPU_V <= n; i += CPU_V) {
        cpu_d8 d = __builtin_convertvector(cpu_v8_load(x + i), cpu_d8) - vm;
        acc += d * d;
    }
    double ss = cpu_d8_hsum(acc);
    for (; i < n; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    double inv = 1.0 / sqrt(ss / (double)n + (double)eps);
    cpu_d8 vi = cpu_d8_set1(inv);
    for (i = 0; i + CPU_V <= n; i += CPU_V) {
        cpu_d8 d = __builtin_convertvector(cpu_v8_load(x + i), cpu_d8) - vm;
        cpu_d8 gd = __builtin_convertvector(cpu_v8_load(g + i), cpu_d8);
        cpu_d8 bd = __builtin_convertvector(cpu_v8_load(b + i), cpu_d8);
        cpu_v8_store(y + i, __builtin_convertvector(d * vi * gd + bd, cpu_v8));
    }
    for (; i < n; i++)
        y[i] = (float)((x[i] - mean) * inv * g[i] + b[i]);
}

CPU_KERNEL
static void softmax_row(const float *x, float *y, size_t n, float scale)
{
    cpu_v8 vs = cpu_v8_set1(scale);
    float mx = -INFINITY;
    size_t i = 0;
    if (n >= CPU_V) {
        cpu_v8 vmax = cpu_v8_load(x) * vs;
        for (i = CPU_V; i + CPU_V <= n; i += CPU_V)
            vmax = cpu_v8_max(vmax, cpu_v8_load(x + i) * vs);
        mx = cpu_v8_hmax(vmax);
    }
    for (; i < n; i++)
        mx = scale * x[i] > mx ? scale * x[i] : mx;
    cpu_v8_softmax_tail(x, y, n, scale, mx);
}

/* ------------------------------------------------------------------ parallel drivers */

typedef struct rows_task {
    const float *x, *g, *b;
    float *y;
    size_t cols, ld;
    float eps, scale;
    int gelu;
} rows_task;

static void layernorm_task(void *arg, size_t begin, size_t end, int thread)
{
    const rows_task *t = arg;
    (void)thread;
    for (size_t r = begin; r < end; r++)
        layernorm_row(t->x + r * t->cols, t->g, t->b, t->y + r * t->cols, t->cols, t->eps);
}

static void softmax_task(void *arg, size_t begin, size_t end, int thread)
{
    const rows_task *t = arg;
    (void)thread;
    for (size_t r = begin; r < end; r++)
        softmax_row(t->x + r * t->cols, t->y + r * t->cols, t->cols, t->scale);
}

static void bias_gelu_task(void *arg, size_t begin, size_t end, int thread)
{
    const rows_task *t = arg;
    (void)thread;
    for (size_t r = begin; r < end; r++)
        bias_gelu_span(t->y + r * t->ld, t->b, t->cols, t->gelu);
}

/* Rows per chunk so that a chunk holds about ELEMENT_GRAIN floats. */
static size_t row_grain(size_t cols)
{
    size_t g = ELEMENT_GRAIN / (cols ? cols : 1);
    return g ? g : 1;
}

void cpu_bias_gelu_rows(vitcl_context *ctx, float *y, size_t rows, size_t cols, size_t ld,
                        const float *bias, int gelu)
{
    rows_task t = {.b = bias, .y = y, .cols = cols, .ld = ld, .gelu = gelu};
    cpu_pool_run(ctx->pool, rows, row_grain(cols), bias_gelu_task, &t);
}

typedef struct fill_task {
    float *y;
    const float *row;
    size_t cols;
} fill_task;

static void fill_task_fn(void *arg, size_t begin, size_t end, int thread)
{
    const fill_task *t = arg;
    (void)thread;
    for (size_t r = begin; r < end; r++)
        memcpy(t->y + r * t->cols, t->row, t->cols * sizeof(float));
}

void cpu_fill_rows(vitcl_context *ctx, float *y, size_t rows, size_t cols, const float *row)
{
    fill_task t = {.y = y, .row = row, .cols = cols};
    cpu_pool_run(ctx->pool, rows, row_grain(cols), fill_task_fn, &t);
}

typedef struct elem_task {
    const float *a, *b;
    float *y;
    size_t period;
} elem_task;

static void gelu_task(void *arg, size_t begin, size_t end, int thread)
{
    const elem_task *t = arg;
    (void)thread;
    gelu_span(t->a + begin, t->y + begin, end - begin);
}

static void add_task(void *arg, size_t begin, size_t end, int thread)
{
    const elem_task *t = arg;
    (void)thread;
    size_t i = begin;
    while (i < end) {
        size_t j = i % t->period;
        size_t len = t->period - j;
        if (len > end - i)
            len = end - i;
        add_span(t->a + i, t->b + j, t->y + i, len);
        i += len;
    }
}

/* ------------------------------------------------------------------ the ops */

vitcl_status cpu_layernorm(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                           const vitcl_buffer *gamma, size_t g_off, const vitcl_buffer *beta,
                           size_t b_off, vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols,
                           float eps)
{
    static const char op[] = "layernorm";
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = cpu_now_ns();
    if (rows == 0 || cols == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "zero size (rows %zu, cols %zu)",
                        rows, cols);
    if (!(eps >= 0.0f) || isinf(eps))
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "eps %g is not a finite value >= 0",
                        (double)eps);
    size_t ext = plugin_size_extent(1, 0, rows, cols, cols);
    vitcl_status st = cpu_check_span(ctx, op, "gamma", gamma, g_off, cols, 0);
    if (st == VITCL_OK)
        st = cpu_check_span(ctx, op, "beta", beta, b_off, cols, 0);
    if (st == VITCL_OK)
        st = cpu_check_x_to_y(ctx, op, X, x_off, Y, y_off, ext);
    if (st != VITCL_OK)
        return st;
    const float *x = cpu_f(X, x_off);
    float *y = cpu_f(Y, y_off);
    rows_task t = {.x = x, .g = cpu_f(gamma, g_off), .b = cpu_f(beta, b_off), .y = y,
                   .cols = cols, .eps = eps};
    cpu_pool_run(ctx->pool, rows, row_grain(cols), layernorm_task, &t);
    cpu_record(ctx, op, t0);
    return VITCL_OK;
}

vitcl_status cpu_gelu(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off, vitcl_buffer *Y,
                      size_t y_off, size_t n)
{
    static const char op[] = "gelu";
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = cpu_now_ns();
    if (n == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "zero size");
    vitcl_status st = cpu_check_x_to_y(ctx, op, X, x_off, Y, y_off, n);
    if (st != VITCL_OK)
        return st;
    const float *x = cpu_f(X, x_off);
    float *y = cpu_f(Y, y_off);
    elem_task t = {.a = x, .y = y};
    cpu_pool_run(ctx->pool, n, ELEMENT_GRAIN, gelu_task, &t);
    cpu_record(ctx, op, t0);
    return VITCL_OK;
}

vitcl_status cpu_add_op(vitcl_context *ctx, const vitcl_buffer *A, size_t a_off,
                        const vitcl_buffer *B, size_t b_off, vitcl_buffer *Y, size_t y_off,
                        size_t n, size_t b_period)
{
    static const char op[] = "add";
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = cpu_now_ns();
    if (n == 0 || b_period == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "zero size (n %zu, b_period %zu)",
                        n, b_period);
    if (n % b_period != 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "b_period %zu does not divide n %zu", b_period, n);
    vitcl_status st = cpu_check_span(ctx, op, "A", A, a_off, n, 0);
    if (st == VITCL_OK)
        st = cpu_check_span(ctx, op, "B", B, b_off, b_period, 0);
    if (st == VITCL_OK)
        st = cpu_check_span(ctx, op, "Y", Y, y_off, n, 1);
    if (st != VITCL_OK)
        return st;
    const float *a = cpu_f(A, a_off), *b = cpu_f(B, b_off);
    float *y = cpu_f(Y, y_off);
    if (y != a && (st = cpu_check_disjoint(ctx, op, "Y and A", Y, y_off, n, A, a_off, n)))
        return st;
    if (!(y == b && b_period == n) &&
        (st = cpu_check_disjoint(ctx, op, "Y and B", Y, y_off, n, B, b_off, b_period)))
        return st;
    elem_task t = {.a = a, .b = b, .y = y, .period = b_period};
    cpu_pool_run(ctx->pool, n, ELEMENT_GRAIN, add_task, &t);
    cpu_record(ctx, op, t0);
    return VITCL_OK;
}

vitcl_status cpu_softmax(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off, vitcl_buffer *Y,
                         size_t y_off, size_t rows, size_t cols, float scale)
{
    static const char op[] = "softmax";
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = cpu_now_ns();
    if (rows == 0 || cols == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "zero size (rows %zu, cols %zu)",
                        rows, cols);
    if (!isfinite(scale))
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "scale %g is not finite",
                        (double)scale);
    size_t ext = plugin_size_extent(1, 0, rows, cols, cols);
    vitcl_status st = cpu_check_x_to_y(ctx, op, X, x_off, Y, y_off, ext);
    if (st != VITCL_OK)
        return st;
    const float *x = cpu_f(X, x_off);
    float *y = cpu_f(Y, y_off);
    rows_task t = {.x = x, .y = y, .cols = cols, .scale = scale};
    cpu_pool_run(ctx->pool, rows, row_grain(cols), softmax_task, &t);
    cpu_record(ctx, op, t0);
    return VITCL_OK;
}
