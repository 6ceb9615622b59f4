/* plugins/cpu/cpu_pack_host.c - pack_weight_host (ABI 1.1): a linear weight W [n,k] in its
 * stored dtype, straight from host memory (the mapped checkpoint), into a buffer that linear
 * takes with VITCL_LINEAR_PACKED_W.
 *
 * Layout: W stays [n,k] row-major, one element per value, in the requested precision: 16 bits
 * for bf16 and fp16 (half the memory of fp32; linear widens it per block or, for bf16 on
 * AVX512-BF16, multiplies it as stored, cpu_linear.c), floats
 * for fp32. Row-major rows are what those GEMM paths consume: OpenBLAS takes a widened block of
 * rows as a transposed operand, and the own GEMM copies rows into its panels anyway. A bf16
 * weight of a context that runs bf16 on AMX (cpu_gemm_uses_amx_layout) is stored in the AMX
 * tile layout instead (cpu_internal.h; rows and depths padded to 32), which the tile loads read
 * in place: linear then copies no W at all (it repacked every row group on every call).
 *
 * What is accepted (cpu_pack_host_supports):
 * - F32 into bf16 or fp16: rounded to nearest even (cpu_half.h);
 * - F16 or BF16 into the same format: copied; into the other 16-bit format: widened (exact)
 *   and rounded; into fp32: widened (exact), so F16/BF16 checkpoints are never widened on the
 *   host;
 * - F32 into fp32 is declined: the host aliases the mapped F32 weight without a copy instead
 *   (buffer_wrap_host), which costs no memory at all;
 * - a finite value that the target format cannot hold (|x| >= 65520 into fp16, beyond bf16's
 *   range) is refused with a message naming the weight and the element: rounding it to infinity
 *   would silently poison every output it touches. Infinities and NaNs stay what they are.
 * The conversion runs on the context's pool, rows split between the threads.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_half.h"
#include "cpu_internal.h"

static const char OP[] = "pack_weight_host";

static size_t dtype_bytes(uint32_t dtype)
{
    return dtype == VITCL_DTYPE_F32 ? 4 : 2;
}

static size_t precision_bytes(uint32_t precision)
{
    return precision == VITCL_PRECISION_FP32 ? 4 : 2;
}

/* The 16-bit format (a vitcl_precision) of a 16-bit dtype. */
static uint32_t dtype_format(uint32_t dtype)
{
    return dtype == VITCL_DTYPE_BF16 ? VITCL_PRECISION_BF16 : VITCL_PRECISION_FP16;
}

int cpu_pack_host_supports(size_t n, size_t k, uint32_t dtype, uint32_t precision)
{
    size_t elems, bytes;
    if (dtype >= VITCL_DTYPE_COUNT_ || precision >= VITCL_PRECISION_COUNT_)
        return 0;
    if (dtype == VITCL_DTYPE_F32 && precision == VITCL_PRECISION_FP32)
        return 0;
    return n > 0 && k > 0 && plugin_size_mul(n, k, &elems) &&
           plugin_size_mul(elems, 4, &bytes);
}

typedef struct pack_args {
    const unsigned char *src;
    unsigned char *dst;
    uint32_t dtype, precision;
    size_t k;
    int amx;                   /* write rows into the AMX tile layout (through a scratch row) */
    cpu_scratch *scratch;      /* per thread: k floats (16-bit into the other format), then a
                                  bf16 row of k for the AMX layout */
    size_t bad[CPU_MAX_THREADS]; /* per thread: the first element that overflowed, else SIZE_MAX */
} pack_args;

/* Rows [begin, end) of W. */
static void pack_task(void *arg, size_t begin, size_t end, int thread)
{
    pack_args *a = arg;
    size_t k = a->k, in = dtype_bytes(a->dtype), out = precision_bytes(a->precision);
    for (size_t r = begin; r < end; r++) {
        const unsigned char *s = a->src + r * k * in;
        unsigned char *d = a->amx ? (unsigned char *)(a->scratch[thread].data + k)
                                  : a->dst + r * k * out;
        if (a->precision == VITCL_PRECISION_FP32) {
            cpu_half_widen((const uint16_t *)(const void *)s, dtype_format(a->dtype),
                           (float *)(void *)d, k);
            continue;
        }
        if (a->dtype != VITCL_DTYPE_F32 && dtype_format(a->dtype) == a->precision) {
            if (a->amx) /* straight from the source row */
                cpu_gemm_amx_put_row((const uint16_t *)(const void *)s, r, k,
                                     (uint32_t *)(void *)a->dst);
            else
                memcpy(d, s, k * 2);
            continue;
        }
        const float *f = (const float *)(const void *)s;
        if (a->dtype != VITCL_DTYPE_F32) {
            float *row = a->scratch[thread].data;
            cpu_half_widen((const uint16_t *)(const void *)s, dtype_format(a->dtype), row, k);
            f = row;
        }
        uint16_t *h = (uint16_t *)(void *)d;
        cpu_half_narrow(f, a->precision, h, k);
        for (size_t i = 0; i < k; i++)
            if (cpu_half_is_inf(h[i], a->precision) && f[i] - f[i] == 0.0f) {
                size_t at = r * k + i; /* finite in, infinite out */
                if (at < a->bad[thread])
                    a->bad[thread] = at;
                break;
            }
        if (a->amx)
            cpu_gemm_amx_put_row(h, r, k, (uint32_t *)(void *)a->dst);
    }
}

static const char *dtype_name(uint32_t dtype)
{
    return dtype == VITCL_DTYPE_F32 ? "F32" : dtype == VITCL_DTYPE_F16 ? "F16" : "BF16";
}

static const char *precision_name(uint32_t precision)
{
    return precision == VITCL_PRECISION_FP32 ? "fp32"
           : precision == VITCL_PRECISION_BF16 ? "bf16"
                                               : "fp16";
}

vitcl_status cpu_pack_weight_host(vitcl_context *ctx, const void *w, uint32_t dtype, size_t n,
                                  size_t k, uint32_t precision, const char *label,
                                  vitcl_buffer **out)
{
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    const char *name = label && label[0] ? label : "(unnamed)";
    if (!out)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, OP, "weight '%s': out is NULL", name);
    *out = NULL;
    if (dtype >= VITCL_DTYPE_COUNT_)
        return cpu_fail(ctx, VITCL_ERR_UNSUPPORTED, OP, "weight '%s': unknown dtype %u", name,
                        (unsigned)dtype);
    if (precision >= VITCL_PRECISION_COUNT_)
        return cpu_fail(ctx, VITCL_ERR_UNSUPPORTED, OP, "weight '%s': unknown precision %u",
                        name, (unsigned)precision);
    if (dtype == VITCL_DTYPE_F32 && precision == VITCL_PRECISION_FP32)
        return cpu_fail(ctx, VITCL_ERR_UNSUPPORTED, OP,
                        "weight '%s': F32 into fp32 is not packed (wrap the host weight "
                        "instead: the cpu backend reads it in place)",
                        name);
    if (!w || n == 0 || k == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, OP, "weight '%s': %s", name,
                        !w ? "host pointer is NULL" : "zero size");
    size_t elems, bytes;
    if (!plugin_size_mul(n, k, &elems) || !plugin_size_mul(elems, 4, &bytes))
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, OP,
                        "weight '%s': size %zu x %zu overflows", name, n, k);
    if ((uintptr_t)w % dtype_bytes(dtype) != 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, OP,
                        "weight '%s': host pointer is not aligned to its %s elements", name,
                        dtype_name(dtype));
    int cross = dtype != VITCL_DTYPE_F32 && precision != VITCL_PRECISION_FP32 &&
                dtype_format(dtype) != precision;
    int amx = precision == VITCL_PRECISION_BF16 && cpu_gemm_uses_amx_layout(&ctx->gemm);
    /* A whole number of floats, like every buffer's span; the AMX layout is padded to 32 rows
     * and 32 depths (a multiple of 64 bytes). */
    size_t size = amx ? cpu_gemm_amx_layout_bytes(n, k)
                      : (elems * precision_bytes(precision) + 3) / 4 * 4;
    vitcl_status st = cross || amx ? cpu_scratch_reserve(ctx, OP, k + (amx ? (k + 1) / 2 : 0))
                                   : VITCL_OK;
    vitcl_buffer *buf = NULL;
    if (st == VITCL_OK)
        st = cpu_buffer_new(ctx, OP, size, name, &buf);
    pack_args *a = st == VITCL_OK ? malloc(sizeof *a) : NULL;
    if (st == VITCL_OK && !a)
        st = cpu_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, OP, "weight '%s': out of memory", name);
    if (st != VITCL_OK) {
        cpu_buffer_free(ctx, buf);
        return st;
    }
    *a = (pack_args){.src = w, .dst = buf->data, .dtype = dtype, .precision = precision,
                     .k = k, .amx = amx, .scratch = ctx->scratch};
    for (int t = 0; t < CPU_MAX_THREADS; t++)
        a->bad[t] = SIZE_MAX;
    /* Rows in chunks of about 64 KiB of output, so that small weights run on one thread. */
    size_t grain = (64u << 10) / (k * precision_bytes(precision)) + 1;
    cpu_pool_run(ctx->pool, n, grain, pack_task, a);
    size_t bad = SIZE_MAX;
    for (int t = 0; t < ctx->nthreads; t++)
        bad = a->bad[t] < bad ? a->bad[t] : bad;
    free(a);
    if (bad != SIZE_MAX) {
        cpu_buffer_free(ctx, buf);
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, OP,
                        "weight '%s' (%s): element [%zu, %zu] is finite but beyond %s's range",
                        name, dtype_name(dtype), bad / k, bad % k, precision_name(precision));
    }
    for (size_t r = n; amx && r % CPU_AMX_MR != 0; r++) /* the last group's padding rows */
        cpu_gemm_amx_put_row(NULL, r, k, (uint32_t *)(void *)buf->data);
    buf->packed = 1;
    buf->amx = amx;
    buf->precision = precision;
    buf->rows = n;
    buf->cols = k;
    *out = buf;
    return VITCL_OK;
}
