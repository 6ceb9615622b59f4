/* tests/opencl/test_clblast_fallback.c - a device on which CLBlast computes wrongly or cannot run
 * is kept, with CLBlast left out (plugins/opencl/selfcheck.c, gemm_general.c).
 *
 * VITCL_CL_CLBLAST=broken makes every CLBlast result wrong (its first element NaN) and =off makes
 * every CLBlast routine fail without running. Either way the context must open, say in the stats
 * line (VITCL_CL_STATS_FILE) and in the device's extra text that CLBlast is unusable and why,
 * never choose CLBlast for linear (the tuning leaves it out; forcing it fails), keep the verdict
 * through a cached self-check marker, and compute linear on unpacked weights, gemm_batched and a
 * fixture model correctly with vitcl's own kernels. Each test runs in its own process (Criterion)
 * with its own cache folder, so the self-check and tuning really run where a test needs them.
 * The small device (work-group limit 48, 16 KiB local memory) is simulated once.
 * The op comparisons against the ref plugin with CLBlast broken are test_vs_ref.c, run a second
 * time under VITCL_CL_CLBLAST=broken (tests/opencl/meson.build).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "model_check.h"
#include "npy.h"
#include "vitcl/vitcl.h"

#define FIXTURES VITCL_SOURCE_ROOT "/tests/fixtures/models"

TestSuite(opencl_clblast_fallback, .timeout = 600);

/* A fresh cache folder and stats file for this test's processes. */
static void fresh_cache(char *cache, size_t clen, char *stats, size_t slen)
{
    char parent[1024];
    snprintf(parent, sizeof parent, "%s/tests/opencl/tmp", VITCL_BUILD_ROOT);
    mkdir(parent, 0700);
    snprintf(cache, clen, "%s/clblast-XXXXXX", parent);
    cr_assert_not_null(mkdtemp(cache), "mkdtemp %s", cache);
    snprintf(stats, slen, "%s/stats.txt", cache);
    setenv("VITCL_CACHE_DIR", cache, 1);
    setenv("VITCL_CL_STATS_FILE", stats, 1);
}

/* Line `index` (0-based) of the stats file, into line. */
static void stats_line(const char *path, int index, char *line, size_t len)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no stats file %s", path);
    int i = 0, found = 0;
    while (fgets(line, (int)len, f))
        if (i++ == index) {
            found = 1;
            break;
        }
    fclose(f);
    cr_assert(found, "stats file %s has no line %d", path, index);
}

/* The value of field ` name=` in a stats line (up to the next space). */
static void stats_field(const char *line, const char *name, char *out, size_t len)
{
    char key[64];
    snprintf(key, sizeof key, " %s=", name);
    const char *p = strstr(line, key);
    cr_assert_not_null(p, "no %s in: %s", key, line);
    p += strlen(key);
    size_t n = strcspn(p, " \n");
    cr_assert_lt(n, len);
    memcpy(out, p, n);
    out[n] = '\0';
}

static double gelu(double v)
{
    return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
}

/* linear on an unpacked W at odd shapes, offsets, with and without bias and GELU, against a
 * double reference (test_vs_ref.c's GEMM tolerance). */
static void check_linear_unpacked(harness *h)
{
    static const size_t shapes[][3] = {{1, 1, 1}, {5, 7, 3}, {33, 129, 257}, {197, 64, 96}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
        for (uint32_t flags = 0; flags < 2; flags++) {
            const size_t m = shapes[c][0], n = shapes[c][1], k = shapes[c][2];
            const size_t xo = 3, wo = 5, bo = 1, yo = 2;
            float *x = h_random(m * k + xo, 1.0f, 11u + (unsigned)c);
            float *w = h_random(n * k + wo, 1.0f, 17u + (unsigned)c);
            float *b = h_random(n + bo, 1.0f, 23u + (unsigned)c);
            float *y = malloc((m * n + yo) * sizeof *y);
            double *ref = malloc(m * n * sizeof *ref);
            cr_assert(y && ref);
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                    double acc = flags ? b[bo + j] : 0.0;
                    for (size_t t = 0; t < k; t++)
                        acc += (double)x[xo + i * k + t] * w[wo + j * k + t];
                    ref[i * n + j] = flags ? gelu(acc) : acc;
                }
            vitcl_buffer *X = h_upload(h, x, m * k + xo), *W = h_upload(h, w, n * k + wo);
            vitcl_buffer *B = h_upload(h, b, n + bo), *Y = h_upload(h, NULL, m * n + yo);
            vitcl_status s = h->desc->ops->linear(h->ctx, X, xo, W, wo, flags ? B : NULL, bo, Y,
                                                  yo, m, n, k, flags ? VITCL_LINEAR_GELU : 0);
            cr_assert_eq(s, VITCL_OK, "linear: %s", h->desc->last_error(h->ctx));
            h_download(h, Y, yo, y, m * n);
            char what[96];
            snprintf(what, sizeof what, "linear (unpacked W) %zux%zux%zu gelu+bias=%u", m, n, k,
                     flags);
            h_expect_close(what, y, ref, m * n, 1e-4 * sqrt((double)k), 1e-4);
            h_free(h, X), h_free(h, W), h_free(h, B), h_free(h, Y);
            free(x), free(w), free(b), free(y), free(ref);
        }
}

/* gemm_batched with every transpose, batch 1 and 4, alpha, beta 0 over NaN and beta != 0,
 * padded leading dimensions, batch strides 0 (a shared A, as mean pooling uses) and padded. The
 * whole C buffer is compared: padding must stay as it was. */
static void check_gemm_batched(harness *h)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int v = 0; v < 3; v++) {
                const size_t m = v == 2 ? 1 : 13, n = v ? 7 : 33, k = v ? 29 : 5;
                const size_t batch = v == 1 ? 1 : 4, pad = (size_t)v;
                const float alpha = v == 1 ? -0.5f : 1.25f, beta = v == 1 ? 0.75f : 0.0f;
                const size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
                const size_t sa = v == 2 ? 0 : (ta ? k : m) * lda + 1;
                const size_t sb = (tb ? n : k) * ldb + 2, sc = m * ldc + 3;
                const size_t na = (batch - 1) * sa + (ta ? k : m) * lda;
                const size_t nb = batch * sb, nc = batch * sc;
                float *a = h_random(na, 1.0f, 31u + (unsigned)(ta * 6 + tb * 3 + v));
                float *b = h_random(nb, 1.0f, 37u + (unsigned)(ta * 6 + tb * 3 + v));
                float *c = h_random(nc, 1.0f, 41u + (unsigned)v), *got = malloc(nc * sizeof *got);
                double *ref = malloc(nc * sizeof *ref);
                cr_assert(got && ref);
                for (size_t i = 0; i < nc; i++)
                    ref[i] = c[i];
                if (beta == 0.0f)
                    for (size_t p = 0; p < batch; p++) /* must not be read */
                        for (size_t i = 0; i < m; i++)
                            for (size_t j = 0; j < n; j++)
                                c[p * sc + i * ldc + j] = NAN;
                for (size_t p = 0; p < batch; p++)
                    for (size_t i = 0; i < m; i++)
                        for (size_t j = 0; j < n; j++) {
                            double acc = 0;
                            for (size_t t = 0; t < k; t++)
                                acc += (double)a[p * sa + (ta ? t * lda + i : i * lda + t)] *
                                       b[p * sb + (tb ? j * ldb + t : t * ldb + j)];
                            size_t e = p * sc + i * ldc + j;
                            ref[e] = alpha * acc + (beta != 0.0f ? beta * (double)c[e] : 0.0);
                        }
                vitcl_buffer *A = h_upload(h, a, na), *B = h_upload(h, b, nb),
                             *C = h_upload(h, c, nc);
                vitcl_status s =
                    h->desc->ops->gemm_batched(h->ctx, ta, tb, m, n, k, alpha, A, 0, lda, sa, B,
                                               0, ldb, sb, beta, C, 0, ldc, sc, batch);
                cr_assert_eq(s, VITCL_OK, "gemm_batched: %s", h->desc->last_error(h->ctx));
                h_download(h, C, 0, got, nc);
                char what[128];
                snprintf(what, sizeof what,
                         "gemm_batched ta=%d tb=%d %zux%zux%zu batch %zu alpha %g beta %g", ta,
                         tb, m, n, k, batch, (double)alpha, (double)beta);
                h_expect_close(what, got, ref, nc, 1e-4 * sqrt((double)k), 1e-4);
                h_free(h, A), h_free(h, B), h_free(h, C);
                free(a), free(b), free(c), free(got), free(ref);
            }
}

/* With CLBlast in `mode`: the context opens, the ops are right, the tuning leaves CLBlast out,
 * and the stats line and the device's extra text say CLBlast is unusable, with `why`. */
static void expect_fallback(const char *mode, const char *why)
{
    char cache[1024], stats[1100], line[2048], val[256];
    fresh_cache(cache, sizeof cache, stats, sizeof stats);
    setenv("VITCL_CL_CLBLAST", mode, 1);
    harness h = {0};
    harness_open(&h);
    check_linear_unpacked(&h);
    check_gemm_batched(&h);
    /* The first packed weight runs the GEMM tuning; then linear on it. */
    const size_t m = 19, n = 45, k = 70;
    float *x = h_random(m * k, 1.0f, 3u), *w = h_random(n * k, 1.0f, 4u);
    float *y = malloc(m * n * sizeof *y);
    double *ref = malloc(m * n * sizeof *ref);
    cr_assert(y && ref);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = 0;
            for (size_t t = 0; t < k; t++)
                acc += (double)x[i * k + t] * w[j * k + t];
            ref[i * n + j] = acc;
        }
    vitcl_buffer *X = h_upload(&h, x, m * k), *W = h_upload(&h, w, n * k), *Y = h_upload(&h, NULL, m * n);
    vitcl_buffer *P = NULL;
    cr_assert_eq(h.desc->ops->linear_pack_weight(h.ctx, W, 0, n, k, "w", &P), VITCL_OK, "%s",
                 h.desc->last_error(h.ctx));
    cr_assert_eq(h.desc->ops->linear(h.ctx, X, 0, P, 0, NULL, 0, Y, 0, m, n, k,
                                     VITCL_LINEAR_PACKED_W),
                 VITCL_OK, "%s", h.desc->last_error(h.ctx));
    h_download(&h, Y, 0, y, m * n);
    h_expect_close("linear (packed W)", y, ref, m * n, 1e-4 * sqrt((double)k), 1e-4);
    vitcl_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(h.desc->device_info(h.state, harness_device(), &info), VITCL_OK);
    cr_expect(strstr(info.extra, "clblast unusable") != NULL, "extra: %s", info.extra);
    h_free(&h, X), h_free(&h, W), h_free(&h, Y), h_free(&h, P);
    free(x), free(w), free(y), free(ref);
    harness_close(&h);

    stats_line(stats, 0, line, sizeof line);
    stats_field(line, "clblast", val, sizeof val);
    cr_expect_str_eq(val, "unusable", "stats: %s", line);
    stats_field(line, "tuning", val, sizeof val);
    cr_expect_str_eq(val, "ran", "stats: %s", line);
    stats_field(line, "gemm", val, sizeof val);
    cr_expect(strcmp(val, "clblast") != 0 && strcmp(val, "undecided") != 0, "stats: %s", line);
    cr_expect(strstr(line, " note=\"clblast unusable: ") != NULL, "stats: %s", line);
    cr_expect(strstr(line, why) != NULL, "the note says '%s': %s", why, line);
    unsetenv("VITCL_CL_CLBLAST");
}

Test(opencl_clblast_fallback, broken_clblast_is_left_out_and_our_kernels_compute)
{
    expect_fallback("broken", "returned wrong results");
}

Test(opencl_clblast_fallback, clblast_that_cannot_run_is_left_out_and_our_kernels_compute)
{
    expect_fallback("off", "CLBlast is off (VITCL_CL_CLBLAST=off)");
}

/* The case: a device with a work-group limit of 48 and 16 KiB of local memory (simulated
 * with VITCL_CL_LIMIT_*) on which CLBlast fails; gemm_general and the CPU-shaped GEMM kernels
 * still fit, so the device is kept. */
Test(opencl_clblast_fallback, a_small_device_with_a_broken_clblast_is_kept)
{
    setenv("VITCL_CL_LIMIT_GROUP", "48", 1);
    setenv("VITCL_CL_LIMIT_LOCAL", "16384", 1);
    expect_fallback("broken", "returned wrong results");
    unsetenv("VITCL_CL_LIMIT_GROUP");
    unsetenv("VITCL_CL_LIMIT_LOCAL");
}

/* Runs the probe (one context in a new process); asserts it opened. */
static void probe_ok(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s/tests/opencl/opencl_probe' '%s'", VITCL_BUILD_ROOT,
             harness_plugin_path());
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

Test(opencl_clblast_fallback, the_cached_marker_keeps_the_verdict)
{
    char cache[1024], stats[1100], line[2048], val[256], note1[1024];
    fresh_cache(cache, sizeof cache, stats, sizeof stats);
    setenv("VITCL_CL_CLBLAST", "broken", 1);
    probe_ok();
    probe_ok();
    unsetenv("VITCL_CL_CLBLAST");
    probe_ok(); /* CLBlast working again: another marker, checked afresh */
    stats_line(stats, 0, line, sizeof line);
    stats_field(line, "selfcheck", val, sizeof val);
    cr_expect_str_eq(val, "ran");
    const char *note = strstr(line, " note=\"");
    cr_assert_not_null(note, "stats: %s", line);
    snprintf(note1, sizeof note1, "%s", note);
    stats_line(stats, 1, line, sizeof line);
    stats_field(line, "selfcheck", val, sizeof val);
    cr_expect_str_eq(val, "cached", "stats: %s", line);
    stats_field(line, "clblast", val, sizeof val);
    cr_expect_str_eq(val, "unusable", "a cached pass must keep CLBlast out: %s", line);
    note = strstr(line, " note=\"");
    cr_expect(note && !strcmp(note, note1), "the cached note is the checked one: %s / %s",
              note1, line);
    stats_line(stats, 2, line, sizeof line);
    stats_field(line, "selfcheck", val, sizeof val);
    cr_expect_str_eq(val, "ran", "stats: %s", line);
    stats_field(line, "clblast", val, sizeof val);
    cr_expect_str_eq(val, "usable", "stats: %s", line);
    cr_expect(strstr(line, " note=") == NULL, "stats: %s", line);
}

Test(opencl_clblast_fallback, forcing_clblast_where_it_is_unusable_fails_naming_why)
{
    char cache[1024], stats[1100];
    fresh_cache(cache, sizeof cache, stats, sizeof stats);
    setenv("VITCL_CL_CLBLAST", "broken", 1);
    setenv("VITCL_CL_GEMM", "clblast", 1);
    harness h = {0};
    harness_open(&h);
    float w[6 * 4] = {0};
    vitcl_buffer *W = h_upload(&h, w, 24), *P = NULL;
    vitcl_status s = h.desc->ops->linear_pack_weight(h.ctx, W, 0, 6, 4, "w", &P);
    cr_expect_eq(s, VITCL_ERR_UNSUPPORTED);
    const char *msg = h.desc->last_error(h.ctx);
    cr_expect(strstr(msg, "VITCL_CL_GEMM='clblast'") != NULL && strstr(msg, "clblast unusable"),
              "message: %s", msg);
    h_free(&h, W);
    harness_close(&h);
    unsetenv("VITCL_CL_GEMM");
    unsetenv("VITCL_CL_CLBLAST");
}

Test(opencl_clblast_fallback, an_unknown_value_is_refused)
{
    char cache[1024], stats[1100], err[4096] = "";
    fresh_cache(cache, sizeof cache, stats, sizeof stats);
    setenv("VITCL_CL_CLBLAST", "sometimes", 1);
    harness h = {0};
    harness_load(&h);
    vitcl_status s = h.desc->context_create(h.state, harness_device(), &h.ctx, err, sizeof err);
    cr_expect_eq(s, VITCL_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(err, "VITCL_CL_CLBLAST='sometimes'") != NULL, "message: %s", err);
    h.ctx = NULL;
    harness_close(&h);
    unsetenv("VITCL_CL_CLBLAST");
}

/* A fixture model with CLBlast broken: the fp32 contract against transformers' golden output
 * (batch 1), and mean pooling (gemm_batched over the batch) of the batch-3 golden input against
 * the mean of its golden rows. */
Test(opencl_clblast_fallback, a_fixture_model_matches_its_golden_output)
{
    char cache[1024], stats[1100], line[2048], val[256];
    fresh_cache(cache, sizeof cache, stats, sizeof stats);
    setenv("VITCL_CL_CLBLAST", "broken", 1);
    static const char fixture[] = "d48_h4_l2_p8_s32";
    vitcl_registry *reg = NULL;
    vitcl_backend *be = NULL;
    vitcl_model *m = NULL;
    cr_assert_eq(vitcl_registry_open(NULL, &reg), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_eq(vitcl_backend_open(reg, "opencl", getenv("VITCL_TEST_DEVICE"), &be), VITCL_OK,
                 "%s", vitcl_last_error());
    cr_assert_eq(vitcl_model_load(be, FIXTURES "/d48_h4_l2_p8_s32", &m), VITCL_OK, "%s",
                 vitcl_last_error());
    mc_expect_golden(m, fixture);

    char path[1024];
    vitcl_npy px, gold;
    snprintf(path, sizeof path, "%s/%s/golden/native_b3/pixel_values.npy", FIXTURES, fixture);
    cr_assert_eq(vitcl_npy_read_f32(path, 0, &px), VITCL_OK, "%s", vitcl_last_error());
    snprintf(path, sizeof path, "%s/%s/golden/native_b3/last_hidden_state.npy", FIXTURES,
             fixture);
    cr_assert_eq(vitcl_npy_read_f32(path, 0, &gold), VITCL_OK, "%s", vitcl_last_error());
    vitcl_run_options o = {.struct_size = sizeof o, .pooling = VITCL_POOLING_MEAN};
    vitcl_output *out = NULL;
    cr_assert_eq(vitcl_model_run(m, px.data, px.shape[0], px.shape[2], px.shape[3], &o, &out),
                 VITCL_OK, "%s", vitcl_last_error());
    size_t b = 0, d = 0;
    const float *pooled = vitcl_output_pooled(out, &b, &d);
    cr_assert_not_null(pooled);
    cr_assert_eq(b, px.shape[0]);
    const size_t S = gold.numel / (b * d);
    float *want = malloc(b * d * sizeof *want);
    cr_assert(want && b * S * d == gold.numel);
    for (size_t i = 0; i < b; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0;
            for (size_t t = 0; t < S; t++)
                acc += gold.data[(i * S + t) * d + j];
            want[i * d + j] = (float)(acc / (double)S);
        }
    double scale;
    double err = mc_max_error(pooled, want, b * d, NULL, &scale);
    cr_expect(err <= 1e-4 * scale, "mean pooling: max error %.3g", err);
    free(want);
    vitcl_output_free(out);
    vitcl_npy_free(&px);
    vitcl_npy_free(&gold);
    vitcl_model_free(m);
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
    stats_line(stats, 0, line, sizeof line);
    stats_field(line, "clblast", val, sizeof val);
    cr_expect_str_eq(val, "unusable", "stats: %s", line);
    stats_field(line, "gemm", val, sizeof val);
    cr_expect(strcmp(val, "clblast") != 0, "stats: %s", line);
    unsetenv("VITCL_CL_CLBLAST");
}
