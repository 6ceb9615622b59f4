/* plugins/cpu/cpu_linear.c - the cpu plugin's linear op (Y = X·W^T + b, optionally GELU) and
 * linear_pack_weight.
 *
 * The GEMM is one cblas_sgemm over all of M (row-major, W [n,k] transposed by the BLAS). The
 * bias is folded into it: Y is first filled with the broadcast bias and the sgemm runs with
 * beta = 1, which costs one streaming write. GELU is a single threaded, vectorised pass over Y
 * after the sgemm. Processing M in row panels (sgemm, then bias+GELU while the panel is in
 * cache) was tried first and dropped: OpenBLAS repacks all of W for every call, and with 1 MiB
 * panels (85 rows at N = 3072) bench_cpu_gemm measured the op 10-25% below a plain sgemm of
 * the same shape, while the separate pass over Y is estimated at 2-3% of fc1's time at ViT-L
 * shapes (a 25 MB read and write plus the vectorised GELU).
 *
 * linear_pack_weight stores W^T [k, n] and linear then calls sgemm without a transpose.
 * OpenBLAS packs both operands into its own panels either way, so the two layouts run at the
 * same speed within noise (tests/cpu/bench_cpu_gemm.c prints both); the packed path exists so
 * that the host's pack-once flow is exercised and checked on this backend.
 */
#include <cblas.h>
#include <string.h>

#include "cpu_internal.h"
#include "cpu_rowwise.h"


vitcl_status cpu_linear(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                        const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b, size_t b_off,
                        vitcl_buffer *Y, size_t y_off, size_t m, size_t n, size_t k,
                        uint32_t flags)
{
    static const char op[] = "linear";
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = cpu_now_ns();
    if (m == 0 || n == 0 || k == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "zero size (m %zu, n %zu, k %zu)", m,
                        n, k);
    if (flags & ~(uint32_t)(VITCL_LINEAR_GELU | VITCL_LINEAR_PACKED_W))
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "unknown flags 0x%x",
                        (unsigned)flags);
    vitcl_status st;
    int packed = (flags & VITCL_LINEAR_PACKED_W) != 0;
    if (packed) {
        if (!W)
            return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "W is NULL");
        if (!W->packed || W->pack_n != n || W->pack_k != k || w_off != 0)
            return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                            "W (buffer '%s') is not a weight packed by linear_pack_weight for "
                            "n %zu, k %zu at offset 0",
                            W->label, n, k);
    }
    size_t x_ext = cpu_extent(1, 0, m, k, k), w_ext = cpu_extent(1, 0, n, k, k);
    size_t y_ext = cpu_extent(1, 0, m, n, n);
    st = cpu_check_span(ctx, op, "X", X, x_off, x_ext, 0);
    if (st == VITCL_OK)
        st = cpu_check_span(ctx, op, "W", W, w_off, w_ext, 0);
    if (st == VITCL_OK && b)
        st = cpu_check_span(ctx, op, "b", b, b_off, n, 0);
    if (st == VITCL_OK)
        st = cpu_check_span(ctx, op, "Y", Y, y_off, y_ext, 1);
    if (st == VITCL_OK)
        st = cpu_check_disjoint(ctx, op, "Y and X", Y, y_off, y_ext, X, x_off, x_ext);
    if (st == VITCL_OK)
        st = cpu_check_disjoint(ctx, op, "Y and W", Y, y_off, y_ext, W, w_off, w_ext);
    if (st == VITCL_OK && b)
        st = cpu_check_disjoint(ctx, op, "Y and b", Y, y_off, y_ext, b, b_off, n);
    if (st == VITCL_OK) /* after the span checks: sizes that fit their buffers but not an int */
        st = cpu_check_blas_dims(ctx, op, m, n, k, 1);
    if (st != VITCL_OK)
        return st;

    const float *x = cpu_f(X, x_off), *w = cpu_f(W, w_off);
    const float *bias = b ? cpu_f(b, b_off) : NULL;
    float *y = cpu_f(Y, y_off);
    int gelu = (flags & VITCL_LINEAR_GELU) != 0;
    /* A packed weight holds W^T [k, n] (cpu_linear_pack_weight). */
    enum CBLAS_TRANSPOSE tw = packed ? CblasNoTrans : CblasTrans;
    int ldw = packed ? (int)n : (int)k;
    /* Y starts as the broadcast bias and beta = 1 adds the product to it (or beta = 0
     * overwrites it); GELU is one threaded pass afterwards. */
    if (bias)
        cpu_fill_rows(ctx, y, m, n, bias);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tw, (int)m, (int)n, (int)k, 1.0f, x, (int)k, w, ldw,
                bias ? 1.0f : 0.0f, y, (int)n);
    if (gelu)
        cpu_bias_gelu_rows(ctx, y, m, n, n, NULL, 1);
    cpu_record(ctx, op, t0);
    return VITCL_OK;
}

typedef struct transpose_task {
    const float *src; /* [n, k] */
    float *dst;       /* [k, n] */
    size_t n, k;
} transpose_task;

/* Transposes rows [begin, end) of dst in 32-column tiles of src rows. */
static void transpose_task_fn(void *arg, size_t begin, size_t end, int thread)
{
    const transpose_task *t = arg;
    (void)thread;
    for (size_t i0 = 0; i0 < t->n; i0 += 32) {
        size_t i1 = t->n - i0 < 32 ? t->n : i0 + 32;
        for (size_t kk = begin; kk < end; kk++)
            for (size_t i = i0; i < i1; i++)
                t->dst[kk * t->n + i] = t->src[i * t->k + kk];
    }
}

vitcl_status cpu_linear_pack_weight(vitcl_context *ctx, const vitcl_buffer *W, size_t w_off,
                                    size_t n, size_t k, const char *label, vitcl_buffer **out)
{
    static const char op[] = "linear_pack_weight";
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    uint64_t t0 = cpu_now_ns();
    if (!out)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "out is NULL");
    if (n == 0 || k == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "zero size (n %zu, k %zu)", n, k);
    size_t ext = cpu_extent(1, 0, n, k, k), bytes;
    vitcl_status st = cpu_check_span(ctx, op, "W", W, w_off, ext, 0);
    if (st == VITCL_OK)
        st = cpu_check_blas_dims(ctx, op, n, k, 1, 1);
    if (st != VITCL_OK)
        return st;
    if (!cpu_mul(ext, sizeof(float), &bytes))
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "size overflows");
    vitcl_buffer *p = NULL;
    st = cpu_buffer_new(ctx, op, bytes, label, &p);
    if (st != VITCL_OK)
        return st;
    transpose_task t = {.src = cpu_f(W, w_off), .dst = cpu_f(p, 0), .n = n, .k = k};
    cpu_pool_run(ctx->pool, k, 64, transpose_task_fn, &t);
    p->packed = 1;
    p->pack_n = n;
    p->pack_k = k;
    *out = p;
    cpu_record(ctx, op, t0);
    return VITCL_OK;
}
