/* plugins/cpu/cpu_selfcheck.c - the cpu plugin's start-up self-check of its GEMMs.
 *
 * Some OpenBLAS builds compute wrong results with some kernels on some processors (the reason
 * this environment pins OPENBLAS_CORETYPE). A context therefore multiplies small deterministic
 * matrices with every cblas_sgemm form the plugin uses (row-major; A plain or transposed, B
 * plain or transposed; beta 0 and 1) and, when it is on, with its own GEMM in the instruction
 * set chosen for this CPU (partial tiles, bias and GELU), and, when linear on a bf16 weight
 * uses them, with the bf16 kernels in both X packings (rounded, hi + lo; odd depth), and
 * compares each result with a plain double-precision loop over the operands the kernel
 * multiplies (bf16 W; X rounded to bf16, or X itself for hi + lo, which carries it to 2^-16),
 * and oneDNN's matmul where a linear may run on it (cpu_gemm_race.c). A mismatch refuses the context with a message that names the GEMM, the OpenBLAS core
 * and the element. Shapes are chosen to cross the kernels' register-block edges yet cost well
 * under a millisecond.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu_half.h"
#include "cpu_internal.h"

#define SC_M 37
#define SC_N 45
#define SC_K 67
#define SC_OWN_K 600 /* not a multiple of anything the own GEMM blocks by */

/* Deterministic values in [-1, 1). */
static void fill(float *v, size_t n, uint32_t seed)
{
    uint32_t s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
    }
}

/* Compares c[i·ldc + j] with the double reference of Σ_p a(i,p)·b(p,j) (+ beta·c0, + bias,
 * GELU); a(i,p) = a[i·sai + p·sap], b(p,j) = b[p·sbp + j·sbj]. Writes a message and returns 0
 * on the first element off by more than rtol of Σ|terms| (+ 1e-6). */
static int compare(const char *what, const float *a, size_t sai, size_t sap, const float *b,
                   size_t sbp, size_t sbj, const float *c0, float beta, const float *bias,
                   int gelu, const float *c, size_t m, size_t n, size_t k, double rtol,
                   char *err, size_t errlen)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0, mag = 0;
            for (size_t p = 0; p < k; p++) {
                double t = (double)a[i * sai + p * sap] * (double)b[p * sbp + j * sbj];
                s += t;
                mag += fabs(t);
            }
            if (beta != 0.0f) {
                s += (double)beta * c0[i * n + j];
                mag += fabs((double)beta * c0[i * n + j]);
            }
            if (bias) {
                s += bias[j];
                mag += fabs(bias[j]);
            }
            if (gelu)
                s = 0.5 * s * (1.0 + erf(s / sqrt(2.0)));
            double got = c[i * n + j];
            if (!(fabs(got - s) <= rtol * mag + 1e-6)) {
                char *core = openblas_get_corename();
                snprintf(err, errlen,
                         "cpu plugin: self-check failed: %s computes C[%zu][%zu] = %.9g, expected "
                         "%.9g (m %zu, n %zu, k %zu; OpenBLAS core %s). This BLAS build gives "
                         "wrong results on this processor; try another OPENBLAS_CORETYPE or "
                         "VITCL_CPU_GEMM (VITCL_CPU_BF16=widen for the bf16 kernels)",
                         what, i, j, got, s, m, n, k, core ? core : "unknown");
                return 0;
            }
        }
    return 1;
}

/* The four transpose forms of cblas_sgemm, beta 0 then beta 1. */
static int check_openblas(float *a, float *b, float *c, float *c0, char *err, size_t errlen)
{
    const size_t m = SC_M, n = SC_N, k = SC_K;
    static const char *const names[4] = {"OpenBLAS sgemm (N,N)", "OpenBLAS sgemm (N,T)",
                                         "OpenBLAS sgemm (T,N)", "OpenBLAS sgemm (T,T)"};
    for (int form = 0; form < 4; form++) {
        int ta = form & 2, tb = form & 1;
        /* Stored A is [m,k] or [k,m]; stored B is [k,n] or [n,k]. */
        size_t lda = ta ? m : k, ldb = tb ? k : n;
        size_t sai = ta ? 1 : lda, sap = ta ? lda : 1;
        size_t sbp = tb ? 1 : ldb, sbj = tb ? ldb : 1;
        for (int pass = 0; pass < 2; pass++) {
            float beta = pass ? 1.0f : 0.0f;
            for (size_t i = 0; i < m * n; i++)
                c[i] = c0[i];
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                        tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
                        (int)lda, b, (int)ldb, beta, c, (int)n);
            if (!compare(names[form], a, sai, sap, b, sbp, sbj, c0, beta, NULL, 0, c, m, n, k,
                         1e-5, err, errlen))
                return 0;
        }
    }
    return 1;
}

/* Rounds v[0..n) to bf16 in place (through a small buffer on the stack). */
static void round_bf16_in_place(float *v, size_t n)
{
    uint16_t h[256];
    for (size_t i = 0; i < n; i += 256) {
        size_t c = n - i < 256 ? n - i : 256;
        cpu_half_narrow(v + i, VITCL_PRECISION_BF16, h, c);
        cpu_half_widen(h, VITCL_PRECISION_BF16, v + i, c);
    }
}

/* Rounds v[0..n) to bf16 in place and returns those bf16 values (malloc'ed, the caller frees
 * them), or NULL when out of memory (v untouched). */
static uint16_t *round_to_bf16(float *v, size_t n)
{
    uint16_t *h = malloc(n * sizeof *h);
    if (h) {
        round_bf16_in_place(v, n);
        cpu_half_narrow(v, VITCL_PRECISION_BF16, h, n); /* exact: v holds bf16 values */
    }
    return h;
}

/* The bf16 kernels (AMX where the context has it) in each X packing, forced in turn
 * (ctx->gemm.bf16_x is restored): Y = gelu(X·W^T + bias) at depth SC_OWN_K - 1 (odd), W = b
 * rounded to bf16. a and b are overwritten with the values the kernel multiplies (bf16 W; X
 * rounded for the second pass). */
static vitcl_status check_bf16(vitcl_context *ctx, float *a, float *b, float *c,
                               const float *bias, char *err, size_t errlen)
{
    const size_t k = SC_OWN_K - 1, ld = SC_OWN_K;
    size_t a_n = (size_t)SC_M * ld, b_n = (size_t)SC_N * ld;
    uint16_t *wb = round_to_bf16(b, b_n); /* b: W's bf16 values */
    if (!wb) {
        snprintf(err, errlen, "cpu plugin: out of memory for the GEMM self-check");
        return VITCL_ERR_OUT_OF_MEMORY;
    }
    int saved = ctx->gemm.bf16_x;
    vitcl_status st = VITCL_OK;
    char what[64];
    /* On AMX, W in the tile layout pack_weight_host gives linear there (its kernel reads only
     * that layout). */
    uint32_t *wa = NULL;
    if (cpu_gemm_uses_amx_layout(&ctx->gemm)) {
        wa = malloc(cpu_gemm_amx_layout_bytes(SC_N, k));
        if (!wa)
            st = VITCL_ERR_OUT_OF_MEMORY;
        for (size_t r = 0; wa && r < (SC_N + CPU_AMX_MR - 1) / CPU_AMX_MR * CPU_AMX_MR; r++)
            cpu_gemm_amx_put_row(r < SC_N ? wb + r * ld : NULL, r, k, wa);
    }
    /* Split first, on X as it is; then X rounded, whose values the reference then takes. */
    static const int modes[2] = {CPU_BF16_X_SPLIT, CPU_BF16_X_ROUND};
    for (int i = 0; i < 2 && st == VITCL_OK; i++) {
        ctx->gemm.bf16_x = modes[i];
        snprintf(what, sizeof what, "%s (X %s)",
                 ctx->gemm.amx ? ctx->gemm.amx->name : ctx->gemm.bf16->name,
                 modes[i] == CPU_BF16_X_SPLIT ? "hi + lo" : "rounded");
        st = wa ? cpu_gemm_linear_fmt(ctx, "self-check", a, ld, wa, CPU_WFMT_BF16_AMX, k, bias,
                                      c, SC_N, SC_M, SC_N, k, 1)
                : cpu_gemm_linear_fmt(ctx, "self-check", a, ld, wb, VITCL_PRECISION_BF16, ld,
                                      bias, c, SC_N, SC_M, SC_N, k, 1);
        if (st != VITCL_OK) {
            snprintf(err, errlen, "cpu plugin: %s", ctx->err);
            break;
        }
        if (modes[i] == CPU_BF16_X_ROUND) /* the values that pass multiplied */
            round_bf16_in_place(a, a_n);
        /* hi + lo carries x to 2^-16 of |x|: that much more per term */
        double rtol = 1e-5 + (modes[i] == CPU_BF16_X_SPLIT ? 0x1p-16 : 0.0);
        if (!compare(what, a, ld, 1, b, 1, ld, NULL, 0.0f, bias, 1, c, SC_M, SC_N, k, rtol, err,
                     errlen))
            st = VITCL_ERR_DEVICE;
    }
    if (st == VITCL_ERR_OUT_OF_MEMORY)
        snprintf(err, errlen, "cpu plugin: out of memory for the GEMM self-check");
    ctx->gemm.bf16_x = saved;
    free(wa);
    free(wb);
    return st;
}

/* oneDNN where a linear may run on it, on an fp32 W, then on a bf16 one (each chunk widened,
 * cpu_gemm_onednn.c; b is rounded to bf16 for it), then, where the CPU has AVX512-BF16, in
 * bf16 products (X rounded: a is rounded in place for that last pass, as check_bf16 does for
 * its rounded one). One rule for all: a refusal of
 * the call refuses the context where oneDNN is forced, and where it is only raced leaves it
 * out of the race (whose run of it then fails too); a wrong result refuses the context. */
static vitcl_status check_onednn(vitcl_context *ctx, float *a, float *b, float *c,
                                 const float *bias, char *err, size_t errlen)
{
    size_t a_n = (size_t)SC_M * SC_OWN_K, b_n = (size_t)SC_N * SC_OWN_K;
    static const char *const names[3] = {"oneDNN matmul", "oneDNN matmul on a bf16 weight",
                                         "oneDNN bf16 matmul"};
    uint16_t *wb = NULL;
    vitcl_status st = VITCL_OK;
    int passes = ctx->gemm.bf16 ? 3 : 2;
    for (int pass = 0; pass < passes && st == VITCL_OK; pass++) {
        if (pass == 1 && !(wb = round_to_bf16(b, b_n))) {
            snprintf(err, errlen, "cpu plugin: out of memory for the GEMM self-check");
            st = VITCL_ERR_OUT_OF_MEMORY;
            break;
        }
        if (pass == 2)
            round_bf16_in_place(a, a_n);
        vitcl_status dst =
            pass == 0   ? cpu_onednn_linear(ctx, "self-check", a, b, VITCL_PRECISION_FP32, bias,
                                            c, SC_M, SC_N, SC_OWN_K, 1)
            : pass == 1 ? cpu_onednn_linear(ctx, "self-check", a, wb, VITCL_PRECISION_BF16,
                                            bias, c, SC_M, SC_N, SC_OWN_K, 1)
                        : cpu_onednn_linear_bf16(ctx, "self-check", a, wb, bias, c, SC_M, SC_N,
                                                 SC_OWN_K, 1);
        if (dst != VITCL_OK) {
            if (ctx->gemm.onednn) {
                snprintf(err, errlen, "cpu plugin: %s", ctx->err);
                st = dst;
            }
            break;
        }
        if (!compare(names[pass], a, SC_OWN_K, 1, b, 1, SC_OWN_K, NULL, 0.0f, bias, 1, c, SC_M,
                     SC_N, SC_OWN_K, 1e-5, err, errlen))
            st = VITCL_ERR_DEVICE;
    }
    ctx->err[0] = '\0';
    free(wb);
    return st;
}

vitcl_status cpu_selfcheck(vitcl_context *ctx, char *err, size_t errlen)
{
    /* One allocation: A and B big enough for the own GEMM's depth, C, C0 and the bias. */
    size_t a_n = (size_t)SC_M * SC_OWN_K, b_n = (size_t)SC_N * SC_OWN_K, c_n = (size_t)SC_M * SC_N;
    float *mem = malloc((a_n + b_n + 2 * c_n + SC_N) * sizeof(float));
    if (!mem) {
        snprintf(err, errlen, "cpu plugin: out of memory for the GEMM self-check");
        return VITCL_ERR_OUT_OF_MEMORY;
    }
    float *a = mem, *b = a + a_n, *c = b + b_n, *c0 = c + c_n, *bias = c0 + c_n;
    fill(a, a_n, 1);
    fill(b, b_n, 2);
    fill(c0, c_n, 3);
    fill(bias, SC_N, 4);
    vitcl_status st = VITCL_OK;
    if (!check_openblas(a, b, c, c0, err, errlen))
        st = VITCL_ERR_DEVICE;
    if (st == VITCL_OK && ctx->gemm.isa) {
        /* Y[m,n] = gelu(X[m,k]·W[n,k]^T + bias): X = a [m,k], W = b [n,k]. */
        st = cpu_gemm_linear(ctx, "self-check", a, SC_OWN_K, b, SC_OWN_K, bias, c, SC_N, SC_M,
                             SC_N, SC_OWN_K, 1);
        if (st != VITCL_OK)
            snprintf(err, errlen, "cpu plugin: %s", ctx->err);
        else if (!compare(ctx->gemm.isa->name, a, SC_OWN_K, 1, b, 1, SC_OWN_K, NULL, 0.0f,
                          bias, 1, c, SC_M, SC_N, SC_OWN_K, 1e-5, err, errlen))
            st = VITCL_ERR_DEVICE;
    }
    if (st == VITCL_OK && ctx->gemm.linear && ctx->gemm.bf16)
        st = check_bf16(ctx, a, b, c, bias, err, errlen);
    if (st == VITCL_OK && (ctx->gemm.onednn || (ctx->gemm.race && cpu_onednn_built())))
        st = check_onednn(ctx, a, b, c, bias, err, errlen);
    free(mem);
    return st;
}
