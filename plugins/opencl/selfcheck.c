/* plugins/opencl/selfcheck.c - the correctness check a device passes before first use.
 *
 * At context_create, unless a marker says this device + driver + kernel set + CLBlast version
 * already passed, every op runs on small deterministic inputs and is compared with plain C
 * computed here in double precision, in two parts:
 *
 *  - CLBlast: sgemm in both the small "direct" and, at the first shape that takes it, the
 *    "indirect" regime, and a strided batched sgemm. A wrong result, or a CLBlast routine
 *    failing with a status of its own, does not refuse the device: CLBlast is marked unusable
 *    (ctx->clblast_unusable, "clblast unusable: <reason>" in ctx->clblast_note, the stats line
 *    and the device's `extra` text), linear on unpacked weights and gemm_batched then run
 *    vitcl's gemm_general (gemm_general.c) and the GEMM tuning leaves CLBlast out. Other
 *    failures there (allocations, transfers, injected faults) fail the check as anywhere else.
 *  - vitcl's own kernels: gemm_general (linear and gemm_batched, every transpose), every GEMM
 *    variant the device can launch and each of the other kernels. A wrong result refuses the
 *    device with a message naming the device and the op (and CLBlast's failure, when it failed
 *    too).
 *
 * A pass writes the marker (kind "selfcheck") into the cache folder so later processes skip the
 * check; it holds the CLBlast verdict ("ok", or "ok " + the note), so a cached pass keeps a broken
 * CLBlast out. VITCL_CL_CLBLAST (gemm.c) is part of the marker's key; with "off" CLBlast is
 * unusable without being tried, even when the self-check is skipped.
 *
 * Each reduced precision the device offers (bf16, fp16: 16-bit weight storage) is checked the
 * same way with its own GEMM kernels, on weights packed by the host packer (weight_pack.c) and a
 * reference computed from the same rounded weights. A wrong result there refuses only that
 * precision (ctx->prec_refused, and the device's precisions from then on) with a note naming the
 * kernel; fp32 keeps running. No marker is written then, so the check runs again in the next
 * process (and says why again).
 */
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdatomic.h>

#include "plugin_half.h"
#include "ocl.h"

#define SC_MAX_BUFS 8

typedef struct sc_run {
    vitcl_context *ctx;
    vitcl_buffer *bufs[SC_MAX_BUFS];
    int n;
    uint32_t seed;
    int clblast_wrong; /* a CLBlast case computed wrongly (sc_compare) */
} sc_run;

static float sc_rand(sc_run *r)
{
    r->seed = r->seed * 1664525u + 1013904223u;
    return (float)((r->seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *sc_floats(sc_run *r, size_t n, float scale)
{
    float *p = malloc(n * sizeof *p);
    if (p)
        for (size_t i = 0; i < n; i++)
            p[i] = sc_rand(r) * scale;
    return p;
}

/* Uploads n floats into a new buffer (kept in r for release). */
static vitcl_status sc_upload(sc_run *r, const float *data, size_t n, vitcl_buffer **out)
{
    vitcl_status s = ocl_buffer_alloc(r->ctx, n * sizeof(float), "self-check", out);
    if (s != VITCL_OK)
        return s;
    r->bufs[r->n++] = *out;
    return ocl_buffer_write(r->ctx, *out, 0, data, n * sizeof(float));
}

static void sc_release(sc_run *r)
{
    for (int i = 0; i < r->n; i++)
        ocl_buffer_free(r->ctx, r->bufs[i]);
    r->n = 0;
}

/* Compares n results with the reference; fails naming the op when any is off. */
static vitcl_status sc_compare(sc_run *r, const char *what, int clblast, const float *got,
                               const double *ref, size_t n, double rtol)
{
    vitcl_context *ctx = r->ctx;
    double worst = 0.0;
    size_t at = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]);
        if (!(err <= rtol * (1.0 + fabs(ref[i])))) { /* also catches NaN */
            bad = 1;
            if (!(err <= worst)) {
                worst = err;
                at = i;
            }
        }
    }
    if (!bad)
        return VITCL_OK;
    if (clblast) {
        r->clblast_wrong = 1;
        return ocl_fail(ctx, VITCL_ERR_DEVICE,
                        "CLBlast %s on %s returned wrong results (max err %g at element %zu)",
                        what, ctx->dev->info.name, worst, at);
    }
    return ocl_fail(ctx, VITCL_ERR_DEVICE,
                    "opencl self-check: kernel %s on %s returned wrong results (max err %g at "
                    "element %zu): refusing this device",
                    what, ctx->dev->info.name, worst, at);
}

static double gelu_ref(double x)
{
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}

/* ref = GELU(x w^T + b) in double, x [m,k], w [n,k]. */
static void linear_ref(const float *x, const float *w, const float *b, size_t m, size_t n,
                       size_t k, double *ref)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = b[j];
            for (size_t t = 0; t < k; t++)
                acc += (double)x[i * k + t] * w[j * k + t];
            ref[i * n + j] = gelu_ref(acc);
        }
}

/* The linear paths check_linear runs: CLBlast, gemm_general, then each gemm_packed variant. */
enum { SC_CLBLAST = -2, SC_GENERAL = -1 };

/* Runs linear with bias and GELU through `path` (a gemm_packed variant when >= 0) into Y, then
 * again with VITCL_LINEAR_RESIDUAL on top of that result, checking both: ref holds the m·n
 * reference values, then twice them, which the second run must give (the kernel adds its own
 * first result). */
static vitcl_status check_linear_path(sc_run *r, int path, const vitcl_buffer *X,
                                      const vitcl_buffer *W, const vitcl_buffer *B,
                                      vitcl_buffer *Y, size_t m, size_t n, size_t k, float *y,
                                      const double *ref, double tol)
{
    static const char *const names[OCL_GEMM_VARIANTS] = {
        "gemm_packed (6 rows)", "gemm_packed (8 rows)", "gemm_packed (12 rows)",
        "gemm_tiled (64 work-items)", "gemm_tiled (256 work-items)"};
    vitcl_context *ctx = r->ctx;
    const char *name = path == SC_CLBLAST   ? "sgemm"
                       : path == SC_GENERAL ? "gemm_general (linear)"
                                            : names[path];
    char what[96];
    vitcl_status s = VITCL_OK;
    for (int pass = 0; pass < 2 && s == VITCL_OK; pass++) {
        uint32_t epi = VITCL_LINEAR_GELU | (pass ? VITCL_LINEAR_RESIDUAL : 0);
        s = path == SC_CLBLAST ? ocl_linear_clblast(ctx, X, 0, W, 0, B, 0, Y, 0, m, n, k, epi)
            : path == SC_GENERAL
                ? ocl_linear_general(ctx, X, 0, W, 0, B, 0, Y, 0, m, n, k, epi)
                : ocl_linear_panels(ctx, (ocl_kernel_id)(OCL_K_GEMM_MB6 + path), X, 0, W, B, 0,
                                    Y, 0, m, n, k, epi);
        if (s == VITCL_OK)
            s = ocl_buffer_read(ctx, Y, 0, y, m * n * sizeof(float));
        if (s != VITCL_OK)
            break;
        snprintf(what, sizeof what, "%s%s", name, pass ? " + residual" : "");
        s = sc_compare(r, what, path == SC_CLBLAST, y, ref + pass * m * n, m * n, tol);
    }
    return s;
}

/* Checks one linear (with bias and GELU, then with the residual add) of the given shape on an
 * unpacked W: through CLBlast when `clblast`, else through gemm_general and then every GEMM
 * variant on the panel layout. */
static vitcl_status check_linear(sc_run *r, size_t m, size_t n, size_t k, int clblast)
{
    vitcl_context *ctx = r->ctx;
    vitcl_status s = VITCL_ERR_OUT_OF_MEMORY;
    float *x = sc_floats(r, m * k, 1.0f), *w = sc_floats(r, n * k, 1.0f);
    float *b = sc_floats(r, n, 1.0f), *y = malloc(m * n * sizeof *y);
    double *ref = malloc(2 * m * n * sizeof *ref); /* the reference, then twice it */
    vitcl_buffer *X, *W, *B, *Y;
    if (!x || !w || !b || !y || !ref) {
        s = ocl_fail(ctx, s, "opencl self-check on %s: out of host memory", ctx->dev->info.name);
        goto done;
    }
    linear_ref(x, w, b, m, n, k, ref);
    for (size_t i = 0; i < m * n; i++)
        ref[m * n + i] = 2.0 * ref[i];
    if ((s = sc_upload(r, x, m * k, &X)) != VITCL_OK ||
        (s = sc_upload(r, w, n * k, &W)) != VITCL_OK || (s = sc_upload(r, b, n, &B)) != VITCL_OK)
        goto done;
    if ((s = ocl_buffer_alloc(ctx, m * n * sizeof(float), "self-check", &Y)) != VITCL_OK)
        goto done;
    r->bufs[r->n++] = Y;
    if (clblast) {
        s = check_linear_path(r, SC_CLBLAST, X, W, B, Y, m, n, k, y, ref, 1e-3);
        goto done;
    }
    if ((s = check_linear_path(r, SC_GENERAL, X, W, B, Y, m, n, k, y, ref, 1e-4)) != VITCL_OK)
        goto done;
    /* Every gemm_packed variant (gemm_tune.c may pick any of them) on the panel layout. */
    vitcl_buffer *Wp;
    if ((s = ocl_pack_panels(ctx, W, 0, n, k, "self-check", &Wp)) != VITCL_OK)
        goto done;
    r->bufs[r->n++] = Wp;
    for (int v = 0; v < OCL_GEMM_VARIANTS; v++) {
        if (ctx->unfit[OCL_K_GEMM_MB6 + v][0])
            continue; /* never chosen on this device (gemm_tune.c) */
        if ((s = check_linear_path(r, v, X, Wp, B, Y, m, n, k, y, ref, 1e-4)) != VITCL_OK)
            goto done;
    }
done:
    sc_release(r);
    free(x), free(w), free(b), free(y), free(ref);
    return s;
}

/* CLBlast's indirect GEMM (pre/post-processing kernels and the temporary buffer): the first
 * shape at which CLBlast asks for a temporary buffer, up to ViT-L's largest GEMM at batch 8
 * (1576 x 4096 x 1024); none means the model's shapes all take the direct kernel, already
 * checked. Compared at 256 sampled elements plus the corners (a full double reference would take
 * seconds on the host). */
static vitcl_status check_clblast_indirect(sc_run *r)
{
    static const size_t shapes[][3] = {{776, 772, 768}, {1032, 1028, 1024}, {1576, 4096, 1024}};
    vitcl_context *ctx = r->ctx;
    size_t m = 0, n = 0, k = 0, temp = 0;
    vitcl_status s;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0] && temp == 0; i++) {
        if ((s = ocl_clblast_temp_bytes(ctx, shapes[i][0], shapes[i][1], shapes[i][2], &temp)) !=
            VITCL_OK)
            return s;
        m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
    }
    if (temp == 0)
        return VITCL_OK;
    s = VITCL_ERR_OUT_OF_MEMORY;
    float *x = sc_floats(r, m * k, 1.0f), *w = sc_floats(r, n * k, 0.1f);
    float *b = sc_floats(r, n, 1.0f), *y = malloc(m * n * sizeof *y);
    enum { SAMPLES = 258 };
    float got[SAMPLES];
    double ref[SAMPLES];
    vitcl_buffer *X, *W, *B, *Y;
    if (!x || !w || !b || !y) {
        s = ocl_fail(ctx, s, "opencl self-check on %s: out of host memory", ctx->dev->info.name);
        goto done;
    }
    if ((s = sc_upload(r, x, m * k, &X)) != VITCL_OK ||
        (s = sc_upload(r, w, n * k, &W)) != VITCL_OK || (s = sc_upload(r, b, n, &B)) != VITCL_OK)
        goto done;
    if ((s = ocl_buffer_alloc(ctx, m * n * sizeof(float), "self-check", &Y)) != VITCL_OK)
        goto done;
    r->bufs[r->n++] = Y;
    if ((s = ocl_linear_clblast(ctx, X, 0, W, 0, B, 0, Y, 0, m, n, k, VITCL_LINEAR_GELU)) !=
            VITCL_OK ||
        (s = ocl_buffer_read(ctx, Y, 0, y, m * n * sizeof(float))) != VITCL_OK)
        goto done;
    for (int e = 0; e < SAMPLES; e++) {
        size_t i = e == 0 ? 0 : m - 1, j = e == 0 ? 0 : n - 1; /* the corners first */
        if (e > 1) {
            sc_rand(r);
            i = (r->seed >> 8) % m;
            sc_rand(r);
            j = (r->seed >> 8) % n;
        }
        double acc = b[j];
        for (size_t t = 0; t < k; t++)
            acc += (double)x[i * k + t] * w[j * k + t];
        ref[e] = gelu_ref(acc);
        got[e] = y[i * n + j];
    }
    char what[96];
    snprintf(what, sizeof what, "sgemm (indirect kernel, %zux%zux%zu)", m, n, k);
    s = sc_compare(r, what, 1, got, ref, SAMPLES, 1e-3);
done:
    sc_release(r);
    free(x), free(w), free(b), free(y);
    return s;
}

/* One strided batched gemm: C_p = alpha op(A_p) op(B_p) + beta C_p for `batch` matrices, A, B
 * and C rows padded by `pad` floats (lda, ldb, ldc above the minimum) and batches by 3 more.
 * With beta == 0, C starts as NaN (it must not be read). Through CLBlast when `clblast`, else
 * gemm_general. */
static vitcl_status check_gemm(sc_run *r, int ta, int tb, size_t M, size_t N, size_t K,
                               size_t batch, float alpha, float beta, size_t pad, int clblast)
{
    vitcl_context *ctx = r->ctx;
    const size_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    const size_t sa = (ta ? K : M) * lda + 3, sb = (tb ? N : K) * ldb + 3, sc = M * ldc + 3;
    const size_t na = batch * sa, nb = batch * sb, nc = batch * sc;
    vitcl_status s = VITCL_ERR_OUT_OF_MEMORY;
    float *a = sc_floats(r, na, 1.0f), *b = sc_floats(r, nb, 1.0f), *c = sc_floats(r, nc, 1.0f);
    float *got = malloc(sizeof(float) * nc);
    double *ref = malloc(sizeof(double) * nc);
    vitcl_buffer *A, *B, *C;
    if (!a || !b || !c || !got || !ref) {
        s = ocl_fail(ctx, s, "opencl self-check on %s: out of host memory", ctx->dev->info.name);
        goto done;
    }
    for (size_t i = 0; i < nc; i++) {
        if (beta == 0.0f)
            c[i] = NAN;
        ref[i] = c[i]; /* padding the op must not touch */
    }
    for (size_t p = 0; p < batch; p++)
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) {
                double acc = 0;
                for (size_t t = 0; t < K; t++)
                    acc += (double)a[p * sa + (ta ? t * lda + i : i * lda + t)] *
                           b[p * sb + (tb ? j * ldb + t : t * ldb + j)];
                double v = alpha * acc;
                if (beta != 0.0f)
                    v += (double)beta * c[p * sc + i * ldc + j];
                ref[p * sc + i * ldc + j] = v;
            }
    if ((s = sc_upload(r, a, na, &A)) != VITCL_OK || (s = sc_upload(r, b, nb, &B)) != VITCL_OK ||
        (s = sc_upload(r, c, nc, &C)) != VITCL_OK)
        goto done;
    s = clblast ? ocl_gemm_batched_clblast(ctx, ta, tb, M, N, K, alpha, A, 0, lda, sa, B, 0, ldb,
                                           sb, beta, C, 0, ldc, sc, batch)
                : ocl_gemm_general(ctx, "gemm_batched", ta, tb, M, N, K, alpha, A, 0, lda, sa, B,
                                   0, ldb, sb, beta, C, 0, ldc, sc, batch, NULL, 0, 0);
    if (s != VITCL_OK || (s = ocl_buffer_read(ctx, C, 0, got, sizeof(float) * nc)) != VITCL_OK)
        goto done;
    /* Only the elements of the result are compared (NaN padding compares unequal to itself). */
    for (size_t i = 0; i < nc; i++)
        if (isnan(ref[i]) && isnan(got[i]))
            got[i] = 0.0f, ref[i] = 0.0;
    char what[128];
    snprintf(what, sizeof what, "%s (strided batched, %s%s, batch %zu)",
             clblast ? "sgemm" : "gemm_general", ta ? "A^T" : "A", tb ? " B^T" : " B", batch);
    s = sc_compare(r, what, clblast, got, ref, nc, clblast ? 1e-3 : 1e-4);
done:
    sc_release(r);
    free(a), free(b), free(c), free(got), free(ref);
    return s;
}

/* The CLBlast cases. Returns VITCL_OK with ctx->clblast_unusable set (and the reason in
 * ctx->clblast_note) when CLBlast computed wrongly or a CLBlast routine failed on its own; any
 * other failure is returned as it is. */
static vitcl_status check_clblast(sc_run *r)
{
    vitcl_context *ctx = r->ctx;
    ctx->clblast_failed = 0;
    r->clblast_wrong = 0;
    vitcl_status s;
    /* The small shape takes CLBlast's direct kernel; 400x392x384 many tiles of it. */
    if ((s = check_linear(r, 5, 7, 9, 1)) == VITCL_OK &&
        (s = check_linear(r, 400, 392, 384, 1)) == VITCL_OK &&
        (s = check_linear(r, 13, 37, 19, 1)) == VITCL_OK &&
        (s = check_clblast_indirect(r)) == VITCL_OK)
        s = check_gemm(r, 1, 0, 11, 13, 17, 3, 0.5f, 0.0f, 0, 1);
    if (s == VITCL_OK)
        return VITCL_OK;
    if (!r->clblast_wrong && !ctx->clblast_failed)
        return s;
    ctx->clblast_unusable = 1;
    snprintf(ctx->clblast_note, sizeof ctx->clblast_note, "clblast unusable: %s", ctx->err);
    ctx->err[0] = '\0';
    return VITCL_OK;
}

/* vitcl's own gemm_general as gemm_batched: every transpose, odd sizes, batch 1 and above,
 * alpha and beta, padded leading dimensions. */
static vitcl_status check_batched(sc_run *r)
{
    vitcl_status s;
    if ((s = check_gemm(r, 1, 0, 11, 13, 17, 3, 0.5f, 0.0f, 0, 0)) != VITCL_OK ||
        (s = check_gemm(r, 0, 0, 9, 7, 21, 2, 1.0f, 0.0f, 1, 0)) != VITCL_OK ||
        (s = check_gemm(r, 0, 1, 37, 29, 16, 4, 0.125f, 0.0f, 2, 0)) != VITCL_OK ||
        (s = check_gemm(r, 1, 1, 6, 5, 3, 3, 2.0f, 0.75f, 1, 0)) != VITCL_OK ||
        (s = check_gemm(r, 0, 0, 1, 33, 19, 1, 1.0f, -1.0f, 0, 0)) != VITCL_OK)
        return s;
    return VITCL_OK;
}

/* layernorm, softmax, gelu and add on one small matrix. */
static vitcl_status check_rowwise(sc_run *r)
{
    enum { ROWS = 5, COLS = 77 };
    const size_t n = (size_t)ROWS * COLS;
    vitcl_context *ctx = r->ctx;
    vitcl_status s = VITCL_ERR_OUT_OF_MEMORY;
    float *x = sc_floats(r, n, 3.0f), *g = sc_floats(r, COLS, 1.0f), *bt = sc_floats(r, COLS, 1.0f);
    float *y = malloc(n * sizeof *y);
    double *ref = malloc(n * sizeof *ref);
    vitcl_buffer *X, *G, *BT, *Y;
    if (!x || !g || !bt || !y || !ref) {
        s = ocl_fail(ctx, s, "opencl self-check on %s: out of host memory", ctx->dev->info.name);
        goto done;
    }
    if ((s = sc_upload(r, x, n, &X)) != VITCL_OK || (s = sc_upload(r, g, COLS, &G)) != VITCL_OK ||
        (s = sc_upload(r, bt, COLS, &BT)) != VITCL_OK || (s = sc_upload(r, x, n, &Y)) != VITCL_OK)
        goto done;

    for (size_t i = 0; i < ROWS; i++) {
        double mean = 0, var = 0;
        for (size_t j = 0; j < COLS; j++)
            mean += x[i * COLS + j];
        mean /= COLS;
        for (size_t j = 0; j < COLS; j++)
            var += (x[i * COLS + j] - mean) * (x[i * COLS + j] - mean);
        var /= COLS;
        for (size_t j = 0; j < COLS; j++)
            ref[i * COLS + j] = (x[i * COLS + j] - mean) / sqrt(var + 1e-6) * g[j] + bt[j];
    }
    if ((s = ocl_layernorm(ctx, X, 0, G, 0, BT, 0, Y, 0, ROWS, COLS, 1e-6f)) != VITCL_OK ||
        (s = ocl_buffer_read(ctx, Y, 0, y, n * sizeof(float))) != VITCL_OK ||
        (s = sc_compare(r, "layernorm", 0, y, ref, n, 1e-4)) != VITCL_OK)
        goto done;

    const double scale = 0.7;
    for (size_t i = 0; i < ROWS; i++) {
        double mx = -INFINITY, sum = 0;
        for (size_t j = 0; j < COLS; j++)
            mx = fmax(mx, scale * x[i * COLS + j]);
        for (size_t j = 0; j < COLS; j++)
            sum += exp(scale * x[i * COLS + j] - mx);
        for (size_t j = 0; j < COLS; j++)
            ref[i * COLS + j] = exp(scale * x[i * COLS + j] - mx) / sum;
    }
    if ((s = ocl_softmax(ctx, X, 0, Y, 0, ROWS, COLS, (float)scale)) != VITCL_OK ||
        (s = ocl_buffer_read(ctx, Y, 0, y, n * sizeof(float))) != VITCL_OK ||
        (s = sc_compare(r, "softmax", 0, y, ref, n, 1e-4)) != VITCL_OK)
        goto done;

    for (size_t i = 0; i < n; i++)
        ref[i] = gelu_ref(x[i]);
    if ((s = ocl_gelu(ctx, X, 0, Y, 0, n)) != VITCL_OK ||
        (s = ocl_buffer_read(ctx, Y, 0, y, n * sizeof(float))) != VITCL_OK ||
        (s = sc_compare(r, "gelu", 0, y, ref, n, 1e-4)) != VITCL_OK)
        goto done;

    for (size_t i = 0; i < n; i++)
        ref[i] = (double)x[i] + g[i % COLS];
    if ((s = ocl_add(ctx, X, 0, G, 0, Y, 0, n, COLS)) != VITCL_OK ||
        (s = ocl_buffer_read(ctx, Y, 0, y, n * sizeof(float))) != VITCL_OK)
        goto done;
    s = sc_compare(r, "add", 0, y, ref, n, 1e-5);
done:
    sc_release(r);
    free(x), free(g), free(bt), free(y), free(ref);
    return s;
}

/* Attention on a packed QKV matrix (ld = 3 * heads * head_dim), 2 images, 2 heads of HD, S
 * tokens. HD = 64 takes the head_dim-64 kernels (attention64, or attention_tiled built for 64),
 * any other the general ones; the kernel family is the context's (ocl_attention_choose). */
static vitcl_status check_attention(sc_run *r, size_t S, size_t HD)
{
    const size_t B = 2, H = 2, D = H * HD, LD = 3 * D;
    vitcl_context *ctx = r->ctx;
    vitcl_status s = VITCL_ERR_OUT_OF_MEMORY;
    const float scale = 0.25f;
    float *qkv = sc_floats(r, (size_t)B * S * LD, 1.0f), *o = malloc(sizeof(float) * B * S * D);
    double *ref = malloc(sizeof(double) * B * S * D), *p = malloc(sizeof(double) * S);
    vitcl_buffer *QKV, *O;
    if (!qkv || !o || !ref || !p) {
        s = ocl_fail(ctx, s, "opencl self-check on %s: out of host memory", ctx->dev->info.name);
        goto done;
    }
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++)
            for (size_t i = 0; i < S; i++) {
                const float *q = qkv + (b * S + i) * LD + h * HD;
                double mx = -INFINITY, sum = 0;
                for (size_t t = 0; t < S; t++) {
                    const float *kk = qkv + (b * S + t) * LD + D + h * HD;
                    double dot = 0;
                    for (size_t j = 0; j < HD; j++)
                        dot += (double)q[j] * kk[j];
                    p[t] = scale * dot;
                    mx = fmax(mx, p[t]);
                }
                for (size_t t = 0; t < S; t++)
                    sum += (p[t] = exp(p[t] - mx));
                for (size_t j = 0; j < HD; j++) {
                    double acc = 0;
                    for (size_t t = 0; t < S; t++)
                        acc += p[t] * qkv[(b * S + t) * LD + 2 * D + h * HD + j];
                    ref[(b * S + i) * D + h * HD + j] = acc / sum;
                }
            }
    if ((s = sc_upload(r, qkv, (size_t)B * S * LD, &QKV)) != VITCL_OK)
        goto done;
    if ((s = ocl_buffer_alloc(ctx, sizeof(float) * B * S * D, "self-check", &O)) != VITCL_OK)
        goto done;
    r->bufs[r->n++] = O;
    if ((s = ocl_attention(ctx, QKV, 0, LD, QKV, D, LD, QKV, 2 * D, LD, O, 0, D, B, S, H, HD,
                           scale)) != VITCL_OK ||
        (s = ocl_buffer_read(ctx, O, 0, o, sizeof(float) * B * S * D)) != VITCL_OK)
        goto done;
    char what[96];
    snprintf(what, sizeof what, "attention (%s, head_dim %zu)",
             !ctx->att_tiled ? (HD == 64 ? "attention64" : "attention")
             : ctx->att_sg   ? "attention_tiled with subgroups"
                             : "attention_tiled",
             HD);
    s = sc_compare(r, what, 0, o, ref, (size_t)B * S * D, 1e-4);
done:
    sc_release(r);
    free(qkv), free(o), free(ref), free(p);
    return s;
}

/* Patch embedding of 2 images 3x10x9, patch 4 (remainder rows and columns ignored), dim 5,
 * with one spare row per image (y_batch_stride = (tokens + 1) * dim). */
static vitcl_status check_patch_embed(sc_run *r)
{
    enum { B = 2, C = 3, HH = 10, WW = 9, P = 4, DIM = 5, GH = HH / P, GW = WW / P };
    const size_t ntok = GH * GW, stride = (ntok + 1) * DIM, ny = B * stride;
    vitcl_context *ctx = r->ctx;
    vitcl_status s = VITCL_ERR_OUT_OF_MEMORY;
    float *px = sc_floats(r, (size_t)B * C * HH * WW, 1.0f), *w = sc_floats(r, (size_t)DIM * C * P * P, 1.0f);
    float *bias = sc_floats(r, DIM, 1.0f), *y = malloc(ny * sizeof *y);
    float *got = malloc(ny * sizeof *got);
    double *ref = malloc(ny * sizeof *ref);
    vitcl_buffer *PX, *Wb, *Bb, *Y;
    if (!px || !w || !bias || !y || !got || !ref) {
        s = ocl_fail(ctx, s, "opencl self-check on %s: out of host memory", ctx->dev->info.name);
        goto done;
    }
    for (size_t i = 0; i < ny; i++) {
        y[i] = 123.0f; /* rows the op must not touch */
        ref[i] = 123.0;
    }
    for (size_t b = 0; b < B; b++)
        for (size_t n = 0; n < ntok; n++)
            for (size_t d = 0; d < DIM; d++) {
                double acc = bias[d];
                size_t rr = n / GW, cc = n % GW;
                for (size_t ch = 0; ch < C; ch++)
                    for (size_t i = 0; i < P; i++)
                        for (size_t j = 0; j < P; j++)
                            acc += (double)w[((d * C + ch) * P + i) * P + j] *
                                   px[((b * C + ch) * HH + rr * P + i) * WW + cc * P + j];
                ref[b * stride + n * DIM + d] = acc;
            }
    if ((s = sc_upload(r, px, (size_t)B * C * HH * WW, &PX)) != VITCL_OK ||
        (s = sc_upload(r, w, (size_t)DIM * C * P * P, &Wb)) != VITCL_OK ||
        (s = sc_upload(r, bias, DIM, &Bb)) != VITCL_OK || (s = sc_upload(r, y, ny, &Y)) != VITCL_OK)
        goto done;
    /* patch_embed depends on the GEMM mode, chosen later (gemm_tune.c): check the direct
     * kernel used in CLBlast mode and the unfold + gemm path with every GEMM variant the device
     * can run, so whichever is chosen has passed. */
    ocl_gemm_mode saved_mode = ctx->gemm_mode;
    ocl_kernel_id saved_kernel = ctx->gemm_kernel;
    for (int v = -1; v < OCL_GEMM_VARIANTS && s == VITCL_OK; v++) {
        if (v >= 0 && ctx->unfit[OCL_K_GEMM_MB6 + v][0])
            continue;
        ctx->gemm_mode = v < 0 ? OCL_GEMM_CLBLAST : OCL_GEMM_PANELS;
        ctx->gemm_kernel = v < 0 ? saved_kernel : (ocl_kernel_id)(OCL_K_GEMM_MB6 + v);
        char what[96];
        snprintf(what, sizeof what, "patch_embed (%s)",
                 v < 0 ? "direct, CLBlast mode" : "unfold + packed GEMM");
        if ((s = ocl_buffer_write(ctx, Y, 0, y, ny * sizeof(float))) == VITCL_OK &&
            (s = ocl_patch_embed(ctx, PX, 0, Wb, 0, Bb, 0, Y, 0, stride, B, C, HH, WW, P,
                                 DIM)) == VITCL_OK &&
            (s = ocl_buffer_read(ctx, Y, 0, got, ny * sizeof(float))) == VITCL_OK)
            s = sc_compare(r, what, 0, got, ref, ny, 1e-4);
    }
    ctx->gemm_mode = saved_mode;
    ctx->gemm_kernel = saved_kernel;
done:
    sc_release(r);
    free(px), free(w), free(bias), free(y), free(got), free(ref);
    return s;
}

/* Every launchable GEMM variant with 16-bit weights of format fmt at one shape (bias and GELU).
 * *wrong is set (and ctx->err holds the reason) when a kernel computed wrongly; other failures
 * (OpenCL errors, out of memory) are returned as such. */
static vitcl_status check_linear16(sc_run *r, ocl_wfmt fmt, size_t m, size_t n, size_t k,
                                   int *wrong)
{
    static const char *const names[OCL_GEMM_VARIANTS] = {
        "gemm_packed (6 rows", "gemm_packed (8 rows", "gemm_packed (12 rows",
        "gemm_tiled (64 work-items", "gemm_tiled (256 work-items"};
    vitcl_context *ctx = r->ctx;
    vitcl_status s = VITCL_ERR_OUT_OF_MEMORY;
    const size_t cols = (n + OCL_GEMM_PANEL - 1) / OCL_GEMM_PANEL * OCL_GEMM_PANEL;
    float *x = sc_floats(r, m * k, 1.0f), *w = sc_floats(r, n * k, 1.0f);
    float *b = sc_floats(r, n, 1.0f), *y = malloc(m * n * sizeof *y);
    double *ref = malloc(m * n * sizeof *ref);
    void *panels = malloc(cols * k * sizeof(uint16_t));
    vitcl_buffer *X, *B, *Y, *Wp;
    if (!x || !w || !b || !y || !ref || !panels) {
        s = ocl_fail(ctx, s, "opencl self-check on %s: out of host memory", ctx->dev->info.name);
        goto done;
    }
    /* An fp16 subnormal, a value far from 1 and one that rounds differently in each format. */
    w[0] = 3.0e-6f;
    w[1] = -1000.3f;
    w[2] = 1.00048828125f + 1e-6f;
    ocl_pack_host_panels(w, VITCL_DTYPE_F32, n, k, fmt, panels);
    for (size_t i = 0; i < n * k; i++)
        w[i] = fmt == OCL_W_F16 ? plugin_f16_to_f32(plugin_f32_to_f16(w[i]))
                                : plugin_bf16_to_f32(plugin_f32_to_bf16(w[i]));
    linear_ref(x, w, b, m, n, k, ref);
    if ((s = sc_upload(r, x, m * k, &X)) != VITCL_OK || (s = sc_upload(r, b, n, &B)) != VITCL_OK ||
        (s = ocl_upload_panels(ctx, panels, n, k, fmt, "self-check (16-bit)", &Wp)) != VITCL_OK)
        goto done;
    r->bufs[r->n++] = Wp;
    if ((s = ocl_buffer_alloc(ctx, m * n * sizeof(float), "self-check", &Y)) != VITCL_OK)
        goto done;
    r->bufs[r->n++] = Y;
    for (int v = 0; v < OCL_GEMM_VARIANTS && !*wrong; v++) {
        ocl_kernel_id kern = ocl_gemm_kernel(fmt, v);
        if (ctx->unfit[kern][0])
            continue; /* never chosen on this device (gemm_tune.c) */
        char what[96];
        snprintf(what, sizeof what, "%s, %s weights)", names[v], ocl_wfmt_name(fmt));
        if ((s = ocl_linear_panels(ctx, kern, X, 0, Wp, B, 0, Y, 0, m, n, k,
                                   VITCL_LINEAR_GELU)) != VITCL_OK ||
            (s = ocl_buffer_read(ctx, Y, 0, y, m * n * sizeof(float))) != VITCL_OK)
            goto done;
        if (sc_compare(r, what, 0, y, ref, m * n, 1e-4) != VITCL_OK) {
            /* The message says "refusing this device"; only the precision is refused. */
            char *cut = strstr(ctx->err, ": refusing this device");
            if (cut)
                snprintf(cut, sizeof ctx->err - (size_t)(cut - ctx->err),
                         ": %s refused on this device (fp32 unaffected)", ocl_wfmt_name(fmt));
            *wrong = 1;
        }
    }
    s = VITCL_OK;
done:
    sc_release(r);
    free(x), free(w), free(b), free(y), free(ref), free(panels);
    return s;
}

/* The 16-bit precisions: a wrong kernel refuses its precision (not the device). */
static vitcl_status check_precisions(sc_run *r)
{
    static const size_t shapes[][3] = {{5, 7, 9}, {13, 37, 19}, {70, 100, 96}};
    vitcl_context *ctx = r->ctx;
    for (int f = OCL_W_BF16; f < OCL_W_COUNT; f++) {
        int wrong = 0;
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0] && !wrong; i++) {
            vitcl_status s = check_linear16(r, (ocl_wfmt)f, shapes[i][0], shapes[i][1],
                                            shapes[i][2], &wrong);
            if (s != VITCL_OK)
                return s;
        }
        if (wrong) {
            ctx->prec_refused |= VITCL_PRECISION_BIT(f);
            ocl_copy_str(ctx->prec_note[f], sizeof ctx->prec_note[f], ctx->err);
            atomic_fetch_or(ctx->dev_refused, VITCL_PRECISION_BIT(f));
            ctx->err[0] = '\0';
        }
    }
    return VITCL_OK;
}

static int marker_key(vitcl_context *ctx, unsigned char key[OCL_HASH_LEN])
{
    ocl_hasher *h = ocl_hash_begin();
    if (!h)
        return -1;
    char ver[64];
    snprintf(ver, sizeof ver, "CLBlast %d.%d.%d", CLBLAST_VERSION_MAJOR, CLBLAST_VERSION_MINOR,
             CLBLAST_VERSION_PATCH);
    ocl_hash_str(h, "vitcl-opencl-selfcheck v2");
    ocl_hash_str(h, ver);
    ocl_hash_str(h, ocl_clblast_mode_name(ctx->clblast_mode));
    /* The attention family checked (the subgroup build is in the sources' options). */
    ocl_hash_str(h, ctx->att_tiled ? "attention tiled" : "attention rows");
    ocl_hash_device(h, ctx->dev);
    if (ocl_hash_all_sources(ctx, h) != VITCL_OK) {
        unsigned char tmp[OCL_HASH_LEN];
        ocl_hash_end(h, tmp);
        return -1;
    }
    return ocl_hash_end(h, key);
}

/* Records CLBlast as unusable for the device too (device_info's extra). */
static void note_clblast_unusable(vitcl_context *ctx)
{
    ctx->clblast_unusable = 1;
    atomic_fetch_or(ctx->dev_refused, OCL_REFUSED_CLBLAST);
}

/* Our own kernels: every failure refuses the device; when CLBlast failed too, the message says
 * so (both failures named). */
static vitcl_status check_own(sc_run *r)
{
    vitcl_context *ctx = r->ctx;
    vitcl_status s;
    /* gemm_general and every GEMM variant at partial tiles and at 400x392x384 (many tiles). */
    if ((s = check_linear(r, 5, 7, 9, 0)) != VITCL_OK ||
        (s = check_linear(r, 400, 392, 384, 0)) != VITCL_OK ||
        (s = check_linear(r, 13, 37, 19, 0)) != VITCL_OK || (s = check_batched(r)) != VITCL_OK ||
        (s = check_rowwise(r)) != VITCL_OK || (s = check_attention(r, 37, 16)) != VITCL_OK ||
        (s = check_attention(r, 70, 64)) != VITCL_OK || (s = check_patch_embed(r)) != VITCL_OK ||
        (s = check_precisions(r)) != VITCL_OK) {
        if (ctx->clblast_unusable) {
            size_t len = strlen(ctx->err);
            snprintf(ctx->err + len, sizeof ctx->err - len, "; and CLBlast cannot replace it: %s",
                     ctx->clblast_note);
        }
        return s;
    }
    return VITCL_OK;
}

vitcl_status ocl_selfcheck(vitcl_context *ctx)
{
    if (ctx->clblast_mode == OCL_CLBLAST_OFF) {
        snprintf(ctx->clblast_note, sizeof ctx->clblast_note,
                 "clblast unusable: CLBlast is off (VITCL_CL_CLBLAST=off)");
        note_clblast_unusable(ctx);
    }
    /* Simulators only (docs/opencl.md, "Oclgrind"): the check's CLBlast case at 400x392x384
     * takes many minutes in an interpreter, and the conformance suite run there checks the
     * same kernels against the reference. */
    const char *skip = getenv("VITCL_CL_SELFCHECK");
    if (skip && !strcmp(skip, "skip")) {
        ctx->stats.selfcheck = "skipped";
        return VITCL_OK;
    }
    unsigned char key[OCL_HASH_LEN];
    int have_key = marker_key(ctx, key) == 0;
    if (have_key && ctx->cache_usable) {
        unsigned char *data = NULL;
        size_t len = 0;
        if (ocl_cache_read(ctx->cache_dir, "selfcheck", key, &data, &len) == 1) {
            /* "ok": CLBlast passed too; "ok " + the note: it did not. */
            int ok = len == 2 && memcmp(data, "ok", 2) == 0;
            int without = len > 3 && len < sizeof ctx->clblast_note && memcmp(data, "ok ", 3) == 0;
            if (without) {
                memcpy(ctx->clblast_note, data + 3, len - 3);
                ctx->clblast_note[len - 3] = '\0';
                note_clblast_unusable(ctx);
            }
            free(data);
            if (ok || without) {
                ctx->stats.selfcheck = "cached";
                return VITCL_OK;
            }
        }
    }
    sc_run r = {.ctx = ctx, .n = 0, .seed = 12345u};
    vitcl_status s;
    if (!ctx->clblast_unusable) {
        if ((s = check_clblast(&r)) != VITCL_OK)
            return s;
        if (ctx->clblast_unusable)
            note_clblast_unusable(ctx);
    }
    if ((s = check_own(&r)) != VITCL_OK)
        return s;
    ctx->stats.selfcheck = "ran";
    if (have_key && ctx->cache_usable && !ctx->prec_refused) {
        if (!ctx->clblast_unusable) {
            ocl_cache_write(ctx->cache_dir, "selfcheck", key, "ok", 2);
        } else {
            char marker[sizeof ctx->clblast_note + 3];
            int n = snprintf(marker, sizeof marker, "ok %s", ctx->clblast_note);
            if (n > 3 && (size_t)n < sizeof marker)
                ocl_cache_write(ctx->cache_dir, "selfcheck", key, marker, (size_t)n);
        }
    }
    return VITCL_OK;
}
