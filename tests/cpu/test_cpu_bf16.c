/* tests/cpu/test_cpu_bf16.c - the cpu plugin's bf16 kernels (plugins/cpu/cpu_gemm_avx512bf16.c,
 * cpu_gemm_amx.c): linear on a bf16 weight multiplied in bf16 on CPUs with AVX512-BF16 (X
 * rounded, and for fused-QKV shapes the weight widened, or X as hi + lo where AMX runs),
 * VITCL_CPU_BF16 (widen, round, split), VITCL_CPU_AMX (auto, on, off) and, with
 * VITCL_CPU_GEMM=onednn, the same products on oneDNN's bf16 matmul. Where the CPU has AMX
 * every check runs on the AMX kernel and again with VITCL_CPU_AMX=off on the AVX512-BF16 ones.
 *
 * The yardstick is computed here in double, independently of the plugin: W rounded to bf16,
 * X rounded to bf16 ("round") or carried as hi + lo with hi = bf16(x), lo = bf16(x - hi)
 * ("split"), the products of those values summed exactly. The kernel's products of two bf16
 * are exact in fp32, so what is left is fp32 accumulation: at most two roundings per pair of
 * depths, one per depth block and one for the bias, bounded by (t + 8)·u·Σ|terms| for t terms
 * (k rounded or exact, 2k split), u = 2^-24; GELU as in test_cpu_precision.c. That bound is far
 * below the error of rounding X (about 2^-9 of a term), so a linear that rounds X where it should
 * not, splits or keeps X where it should round, fails it.
 *
 * Where the CPU lacks AVX512-BF16 the tests say so in their log and check the widen path (X not
 * rounded) and that forcing the kernels is refused, instead of skipping. */
#include <cpuid.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/syscall.h>
#include <unistd.h>

#include "cpu_harness.h"
#include "vitcl/device.h"

static void default_setup(void)
{
    unsetenv("VITCL_CPU_BF16");
    unsetenv("VITCL_CPU_GEMM");
    unsetenv("VITCL_CPU_AMX");
    harness_setup();
}

TestSuite(cpu_bf16, .init = default_setup, .fini = harness_teardown, .timeout = 240);

/* Whether this CPU runs the bf16 kernels (the plugin also wants the OS to save the AVX-512
 * state, which every Linux that reports these flags does). */
static int have_bf16(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
}

/* Whether this CPU and OS run AMX-BF16 tiles, by the test's own reading: CPUID.7.0:EDX AMX-BF16
 * (bit 22) and AMX-TILE (24), XCR0 saving the tile state (bits 17, 18), and Linux granting this
 * process the tile-data permission (arch_prctl ARCH_REQ_XCOMP_PERM, feature 18), which the
 * plugin asks for too. */
static int have_amx(void)
{
    unsigned a, b, c, d;
    if (!have_bf16() || !__get_cpuid_count(1, 0, &a, &b, &c, &d) || !(c & (1u << 27)))
        return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17) || !__get_cpuid_count(7, 0, &a, &b, &c, &d) ||
        !(d & (1u << 22)) || !(d & (1u << 24)))
        return 0;
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}

/* The cpu context remade with VITCL_CPU_BF16 = value (NULL: unset). */
static void reopen(const char *value)
{
    harness_teardown();
    if (value)
        setenv("VITCL_CPU_BF16", value, 1);
    else
        unsetenv("VITCL_CPU_BF16");
    harness_setup();
}

/* x rounded to bf16, nearest even (normal range: the values here are in [-2, 2]). */
static double bf16_round(double x)
{
    if (x == 0)
        return x;
    int e;
    frexp(x, &e);
    double quantum = ldexp(1.0, e - 8);
    return nearbyint(x / quantum) * quantum;
}

static uint16_t bf16_bits(double v) /* v exact in bf16 */
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (uint16_t)(u >> 16);
}

enum { X_EXACT, X_ROUND, X_SPLIT };

static double gelu_d(double x)
{
    return 0.5 * x * erfc(-x / sqrt(2.0));
}

/* One linear on a weight packed in bf16 from `dtype` (F32 rounded by the plugin, BF16 copied),
 * checked against the yardstick for X taken as `xmode`. */
static void check(size_t m, size_t n, size_t k, uint32_t dtype, int bias, uint32_t flags,
                  int xmode)
{
    float *x = rand_array(m * k, -1, 1), *b = rand_array(n, -1, 1);
    double *wq = malloc(n * k * sizeof *wq);
    void *host = malloc(n * k * 4);
    cr_assert(wq && host);
    for (size_t i = 0; i < n * k; i++) {
        float v = rng_uniform(-1, 1);
        wq[i] = bf16_round(v);
        if (dtype == VITCL_DTYPE_F32)
            ((float *)host)[i] = v;
        else
            ((uint16_t *)host)[i] = bf16_bits(wq[i]);
    }
    vitcl_buffer *W = NULL;
    cr_assert_eq(CPU.ops->pack_weight_host(CPU.ctx, host, dtype, n, k, VITCL_PRECISION_BF16,
                                           "w.weight", &W),
                 VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
    free(host);
    vitcl_buffer *X = cbuf_new(x, m * k, "X"), *B = cbuf_new(b, n, "b");
    vitcl_buffer *Y = cbuf_new(NULL, m * n, "Y");
    cr_assert_eq(CPU.ops->linear(CPU.ctx, X, 0, W, 0, bias ? B : NULL, 0, Y, 0, m, n, k,
                                 flags | VITCL_LINEAR_PACKED_W),
                 VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
    float *got = buf_get(&CPU, Y, m * n), *want = malloc(m * n * sizeof(float));
    double *bound = malloc(m * n * sizeof(double));
    cr_assert(want && bound);
    size_t terms = xmode == X_SPLIT ? 2 * k : k;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double sum = bias ? b[j] : 0, mass = bias ? fabs(b[j]) : 0;
            for (size_t l = 0; l < k; l++) {
                double xv = x[i * k + l], hi = bf16_round(xv), lo = bf16_round(xv - hi);
                double xs[2] = {xmode == X_EXACT ? xv : hi, xmode == X_SPLIT ? lo : 0};
                for (int h = 0; h < 2; h++) {
                    sum += xs[h] * wq[j * k + l];
                    mass += fabs(xs[h] * wq[j * k + l]);
                }
            }
            double e = (double)(terms + 8) * U32 * mass;
            want[i * n + j] = (float)((flags & VITCL_LINEAR_GELU) ? gelu_d(sum) : sum);
            bound[i * n + j] = ((flags & VITCL_LINEAR_GELU) ? 1.2 * e + 1e-6 * mass : e) +
                               U32 * fabs(want[i * n + j]) + 1e-37;
        }
    static const char *const names[] = {"not rounded", "rounded", "hi + lo"};
    char what[160];
    snprintf(what, sizeof what, "bf16 linear m%zu n%zu k%zu dtype%u bias%d gelu%d, X %s", m, n,
             k, dtype, bias, (flags & VITCL_LINEAR_GELU) != 0, names[xmode]);
    assert_close(what, got, want, bound, 0, 0, m * n);
    free(got);
    free(want);
    free(bound);
    free(wq);
    free(x);
    free(b);
    CPU.desc->buffer_free(CPU.ctx, W);
    CPU.desc->buffer_free(CPU.ctx, X);
    CPU.desc->buffer_free(CPU.ctx, B);
    CPU.desc->buffer_free(CPU.ctx, Y);
}

/* Size 1, odd k, k = 1, tails of m (5 and 18 tokens past a panel of 32: the 16- and 32-token
 * kernels on partial panels) and of n (not multiples of 12), more outputs than inputs (the
 * fused-QKV rule), and a depth over two blocks of either packing (k 9001, odd last block). */
static const size_t SHAPES[][3] = {{1, 1, 1},    {3, 5, 7},      {33, 13, 1},  {50, 25, 31},
                                   {64, 97, 32}, {197, 100, 257}, {40, 13, 1025}, {5, 30, 9001}};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* Every shape, with and without bias and GELU; X taken as `xmode`, or by the plugin's rule
 * (n > k without GELU: X as hi + lo on AMX, else the widened weight in fp32, X not rounded;
 * every other shape X rounded) when xmode < 0; amx says whether the context runs AMX. */
static void shapes_on(int xmode, int amx)
{
    for (size_t s = 0; s < N_SHAPES; s++)
        for (int g = 0; g < 2; g++)
            for (int bias = 0; bias < 2; bias++) {
                size_t m = SHAPES[s][0], n = SHAPES[s][1], k = SHAPES[s][2];
                int mode = xmode >= 0        ? xmode
                           : n > k && !g ? (amx ? X_SPLIT : X_EXACT)
                                         : X_ROUND;
                uint32_t dtype = (s + (size_t)bias) % 2 ? VITCL_DTYPE_BF16 : VITCL_DTYPE_F32;
                check(m, n, k, dtype, bias, g ? VITCL_LINEAR_GELU : 0, mode);
            }
}

/* The context remade with VITCL_CPU_AMX = value (NULL: unset), VITCL_CPU_BF16 left as it is. */
static void reopen_amx(const char *value)
{
    harness_teardown();
    if (value)
        setenv("VITCL_CPU_AMX", value, 1);
    else
        unsetenv("VITCL_CPU_AMX");
    harness_setup();
}

/* shapes_on on the default kernel (AMX where the CPU has it) and, where it has AMX, again on
 * the AVX512-BF16 kernels (VITCL_CPU_AMX=off); the context is left with VITCL_CPU_AMX unset. */
static void all_shapes(int xmode)
{
    shapes_on(xmode, have_amx());
    if (have_amx()) {
        reopen_amx("off");
        shapes_on(xmode, 0);
        reopen_amx(NULL);
    }
}

Test(cpu_bf16, default_path_matches_its_yardstick)
{
    if (!have_bf16()) {
        cr_log_info("this CPU lacks AVX512-BF16: checking that bf16 weights are widened "
                    "(X not rounded) instead of the bf16 kernels");
        all_shapes(X_EXACT);
        return;
    }
    all_shapes(-1);
}

Test(cpu_bf16, forced_round_and_split)
{
    if (!have_bf16()) {
        cr_log_info("this CPU lacks AVX512-BF16: checking that VITCL_CPU_BF16=round and split "
                    "are refused");
        for (int i = 0; i < 2; i++) {
            setenv("VITCL_CPU_BF16", i ? "split" : "round", 1);
            vitcl_context *ctx = NULL;
            char err[512] = "";
            cr_assert_neq(CPU.desc->context_create(CPU.state, 0, &ctx, err, sizeof err),
                          VITCL_OK);
            cr_assert(strstr(err, "AVX512-BF16"), "message: %s", err);
        }
        return;
    }
    reopen("round");
    all_shapes(X_ROUND);
    reopen("split");
    all_shapes(X_SPLIT);
}

/* VITCL_CPU_AMX: "on" runs AMX where the CPU has it and is refused, naming what is missing,
 * where it has not; "off" and "auto" always open; anything else is refused. The notes name the
 * kernel that runs. */
Test(cpu_bf16, amx_setting)
{
    vitcl_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(CPU.desc->device_info(CPU.state, 0, &info), VITCL_OK);
    if (have_amx())
        cr_assert(strstr(info.precision_notes, "AMX-BF16 tile products") &&
                      strstr(info.precision_notes, "fused QKV (n>k, no GELU) X as hi+lo"),
                  "notes: %s", info.precision_notes);
    else
        cr_assert(!strstr(info.precision_notes, "AMX-BF16 tile"), "notes: %s",
                  info.precision_notes);
    const char *values[] = {"on", "off", "auto", "tiles"};
    for (int i = 0; i < 4; i++) {
        setenv("VITCL_CPU_AMX", values[i], 1);
        vitcl_context *ctx = NULL;
        char err[512] = "";
        vitcl_status st = CPU.desc->context_create(CPU.state, 0, &ctx, err, sizeof err);
        int should_open = i == 1 || i == 2 || (i == 0 && have_amx());
        if (should_open) {
            cr_assert_eq(st, VITCL_OK, "VITCL_CPU_AMX=%s: %s", values[i], err);
            CPU.desc->context_destroy(ctx);
        } else {
            cr_assert_eq(st, VITCL_ERR_INVALID_ARGUMENT, "VITCL_CPU_AMX=%s opened", values[i]);
            cr_assert(strstr(err, "VITCL_CPU_AMX"), "message: %s", err);
            if (i == 0)
                cr_log_info("this CPU has no usable AMX: VITCL_CPU_AMX=on refused (%s)", err);
        }
        cr_assert_eq(CPU.desc->device_info(CPU.state, 0, &info), VITCL_OK);
        if (i == 1)
            cr_assert(!strstr(info.precision_notes, "AMX"), "off: notes %s",
                      info.precision_notes);
    }
    unsetenv("VITCL_CPU_AMX");
}

/* VITCL_CPU_GEMM=onednn: the bf16 products of a row-major bf16 weight run on oneDNN's bf16
 * matmul (cpu_onednn_linear_bf16: X rounded as the own kernels round it, sums in fp32), so the
 * same yardstick holds, fused-QKV shapes widened as before; where the CPU lacks AVX512-BF16
 * every bf16 weight is widened (X exact). */
Test(cpu_bf16, onednn_products_match_their_yardstick)
{
    if (!VITCL_HAVE_ONEDNN)
        cr_skip_test("the cpu plugin was built without oneDNN (libdnnl-dev)");
    harness_teardown();
    setenv("VITCL_CPU_GEMM", "onednn", 1);
    harness_setup();
    if (!have_bf16()) {
        cr_log_info("this CPU lacks AVX512-BF16: checking that oneDNN widens bf16 weights "
                    "(X not rounded)");
        all_shapes(X_EXACT);
    } else {
        all_shapes(-1);
    }
    harness_teardown();
    unsetenv("VITCL_CPU_GEMM");
    harness_setup();
}

Test(cpu_bf16, widen_keeps_x_in_fp32)
{
    if (!have_bf16())
        cr_log_info("this CPU lacks AVX512-BF16: widen is also the default path here");
    reopen("widen");
    all_shapes(X_EXACT);
}

Test(cpu_bf16, unknown_setting_is_refused)
{
    setenv("VITCL_CPU_BF16", "bf16please", 1);
    vitcl_context *ctx = NULL;
    char err[512] = "";
    cr_assert_eq(CPU.desc->context_create(CPU.state, 0, &ctx, err, sizeof err),
                 VITCL_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err, "VITCL_CPU_BF16='bf16please'") && strstr(err, "widen"), "message: %s",
              err);
}

/* An infinite X meets only finite, positive weights: the row is +inf in both packings (the lo
 * part of an infinity is 0, not NaN), the other rows finite. */
Test(cpu_bf16, infinite_x_stays_infinite)
{
    const char *modes[] = {"round", "split"};
    size_t m = 3, n = 14, k = 33;
    for (int i = 0; i < (have_bf16() ? 2 : 1); i++) {
        if (have_bf16())
            reopen(modes[i]);
        else
            cr_log_info("this CPU lacks AVX512-BF16: checking the widen path");
        float *x = rand_array(m * k, -1, 1);
        uint16_t *w = malloc(n * k * sizeof *w);
        cr_assert(w);
        for (size_t j = 0; j < n * k; j++)
            w[j] = bf16_bits(bf16_round(rng_uniform(0.5f, 1)));
        x[1 * k + 4] = INFINITY;
        vitcl_buffer *W = NULL;
        cr_assert_eq(CPU.ops->pack_weight_host(CPU.ctx, w, VITCL_DTYPE_BF16, n, k,
                                               VITCL_PRECISION_BF16, "w.weight", &W),
                     VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
        vitcl_buffer *X = cbuf_new(x, m * k, "X"), *Y = cbuf_new(NULL, m * n, "Y");
        cr_assert_eq(CPU.ops->linear(CPU.ctx, X, 0, W, 0, NULL, 0, Y, 0, m, n, k,
                                     VITCL_LINEAR_PACKED_W),
                     VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
        float *y = buf_get(&CPU, Y, m * n);
        for (size_t r = 0; r < m; r++)
            for (size_t j = 0; j < n; j++)
                cr_assert(r == 1 ? y[r * n + j] == INFINITY : isfinite(y[r * n + j]),
                          "%s: Y[%zu][%zu] = %g", have_bf16() ? modes[i] : "widen", r, j,
                          y[r * n + j]);
        free(y);
        free(x);
        free(w);
        CPU.desc->buffer_free(CPU.ctx, W);
        CPU.desc->buffer_free(CPU.ctx, X);
        CPU.desc->buffer_free(CPU.ctx, Y);
    }
}

Test(cpu_bf16, notes_say_what_is_rounded)
{
    vitcl_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(CPU.desc->device_info(CPU.state, 0, &info), VITCL_OK);
    if (have_bf16()) {
        cr_assert((strstr(info.precision_notes, "AVX512-BF16 products") ||
                   strstr(info.precision_notes, "AMX-BF16 tile products")) &&
                      strstr(info.precision_notes, "X rounded to bf16") &&
                      strstr(info.precision_notes, "fused QKV"),
                  "notes: %s", info.precision_notes);
    } else {
        cr_log_info("this CPU lacks AVX512-BF16: the notes must say the weights are widened");
        cr_assert(strstr(info.precision_notes, "inputs not rounded"), "notes: %s",
                  info.precision_notes);
    }
    setenv("VITCL_CPU_BF16", "widen", 1);
    cr_assert_eq(CPU.desc->device_info(CPU.state, 0, &info), VITCL_OK);
    cr_assert(strstr(info.precision_notes, "inputs not rounded"), "notes: %s",
              info.precision_notes);
}

/* Where linear runs bf16 on AMX, pack_weight_host stores the weight in the B-tile layout the
 * tile loads read in place (plugins/cpu/cpu_internal.h): for each group of 32 rows and each
 * step of 32 depths, two tiles (rows 0..15 and 16..31 of the group), each 16 pairs of depths x
 * 16 rows, a pair being two consecutive depths of one row; zero past n (37 here: one group and
 * 27 padding rows of the second) and past k (101: the fourth step holds 5 values). With AMX
 * off, and on CPUs without it, the weight stays row-major (n·k values). */
Test(cpu_bf16, amx_weight_layout)
{
    const size_t n = 37, k = 101, steps = (k + 31) / 32, rows = 64;
    uint16_t *w = malloc(n * k * sizeof *w);
    cr_assert(w);
    for (size_t i = 0; i < n * k; i++)
        w[i] = (uint16_t)(0x3f80u + (i % 4093) + 1); /* distinct, nonzero bf16 bits */
    for (int pass = 0; pass < 2; pass++) {
        int amx = pass == 0 && have_amx();
        if (pass == 1)
            reopen_amx("off");
        vitcl_buffer *W = NULL;
        cr_assert_eq(CPU.desc->ops->pack_weight_host(CPU.ctx, w, VITCL_DTYPE_BF16, n, k,
                                                     VITCL_PRECISION_BF16, "w", &W),
                     VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
        size_t count = amx ? rows * steps * 32 : n * k, bytes = (count * 2 + 3) / 4 * 4;
        uint16_t *got = malloc(bytes);
        cr_assert(got);
        cr_assert_eq(CPU.desc->buffer_read(CPU.ctx, W, 0, got, bytes), VITCL_OK);
        cr_assert_neq(CPU.desc->buffer_read(CPU.ctx, W, 0, got, bytes + 4), VITCL_OK,
                      "the packed weight is larger than its layout (%s)", amx ? "AMX" : "rows");
        for (size_t r = 0; r < (amx ? rows : n); r++)
            for (size_t kk = 0; kk < (amx ? steps * 32 : k); kk++) {
                size_t at = amx ? ((((r / 32) * steps + kk / 32) * 2 + r % 32 / 16) * 16 +
                                   kk % 32 / 2) * 32 + r % 16 * 2 + kk % 2
                                : r * k + kk;
                uint16_t want = r < n && kk < k ? w[r * k + kk] : 0;
                cr_assert_eq(got[at], want, "%s layout: W[%zu][%zu] at %zu is 0x%04x, want 0x%04x",
                             amx ? "AMX" : "row-major", r, kk, at, got[at], want);
            }
        if (pass == 0 && !amx)
            cr_log_info("no usable AMX here: bf16 weights stay row-major");
        free(got);
        CPU.desc->buffer_free(CPU.ctx, W);
    }
    unsetenv("VITCL_CPU_AMX");
    free(w);
}

/* The bf16 race (plugins/cpu/cpu_gemm_race.c): on the AVX512-BF16 kernels (VITCL_CPU_AMX=off
 * where the CPU has AMX), the first linear on a bf16 weight of at least 2^27 multiply-adds
 * times the bf16 products against the widened weight, device_info's extra names the verdict
 * per class, and the linear computes what its verdict says: X rounded (bf16 products) or X
 * exact (widened weight). Small linears never start it (every test above). */
Test(cpu_bf16, race_decides_large_linears, .timeout = 300)
{
    if (!have_bf16())
        cr_skip_test("this CPU lacks AVX512-BF16: bf16 weights are always widened, no race");
    if (have_amx())
        reopen_amx("off");
    vitcl_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(CPU.desc->device_info(CPU.state, 0, &info), VITCL_OK);
    cr_assert(!strstr(info.extra, " bf16 S "), "raced already: %s", info.extra);
    { /* 2^27 multiply-adds: starts the race (results checked below, once the verdict is known) */
        size_t m = 256, n = 512, k = 1024;
        float *x = rand_array(m * k, -1, 1), *w = rand_array(n * k, -1, 1);
        vitcl_buffer *W = NULL, *X = cbuf_new(x, m * k, "X"), *Y = cbuf_new(NULL, m * n, "Y");
        cr_assert_eq(CPU.ops->pack_weight_host(CPU.ctx, w, VITCL_DTYPE_F32, n, k,
                                               VITCL_PRECISION_BF16, "w.weight", &W),
                     VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
        cr_assert_eq(CPU.ops->linear(CPU.ctx, X, 0, W, 0, NULL, 0, Y, 0, m, n, k,
                                     VITCL_LINEAR_PACKED_W),
                     VITCL_OK, "%s", CPU.desc->last_error(CPU.ctx));
        CPU.desc->buffer_free(CPU.ctx, W);
        CPU.desc->buffer_free(CPU.ctx, X);
        CPU.desc->buffer_free(CPU.ctx, Y);
        free(x);
        free(w);
    }
    cr_assert_eq(CPU.desc->device_info(CPU.state, 0, &info), VITCL_OK);
    const char *verdict = strstr(info.extra, " bf16 S ");
    cr_assert(verdict, "no bf16 verdict: %s", info.extra);
    cr_log_info("%s", verdict);
    cr_assert(strncmp(verdict, " bf16 S bf16 own,", 17) == 0 ||
                  strncmp(verdict, " bf16 S bf16 oneDNN,", 20) == 0 ||
                  strncmp(verdict, " bf16 S widened own,", 20) == 0 ||
                  strncmp(verdict, " bf16 S widened oneDNN,", 23) == 0,
              "verdict: %s", verdict);
    int widened = strncmp(verdict, " bf16 S widened ", 16) == 0;
    /* Both forms of that shape class, as decided. */
    check(256, 512, 1024, VITCL_DTYPE_BF16, 1, 0, widened ? X_EXACT : X_ROUND);
    check(256, 512, 1024, VITCL_DTYPE_F32, 0, VITCL_LINEAR_GELU, widened ? X_EXACT : X_ROUND);
}
