/* tests/image/test_embed.c - images through the whole pipeline (decode, preprocess, the demo
 * checkpoint on every backend built) against transformers' ViTMSNModel last_hidden_state, and the
 * `vitcl embed` command: batching, pooling, skipped files, exit status, the paths file. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "golden.h"
#include "npy.h"
#include "vitcl/image.h"
#include "vitcl/vitcl.h"

#define DEMO VITCL_SOURCE_ROOT "/tests/fixtures/demo"
#define VITCL_BIN VITCL_BUILD_ROOT "/host/cli/vitcl"

static const char *lhs_images[] = {"jpg_baseline_astronaut_320x256", "jpg_cmyk_chelsea_150x100",
                                   "png_gray16_40x30"};
static const char *lhs_files[] = {"src/jpg_baseline_astronaut_320x256.jpg",
                                  "src/jpg_cmyk_chelsea_150x100.jpg", "src/png_gray16_40x30.png"};

/* The model issue's bound, as a ratio: max |a - b| / max(1, max |b|) must be <= 1e-4. */
static double rel_err(const float *a, const float *b, size_t n)
{
    double num = 0, den = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        num = d > num ? d : num;
        den = fabs((double)b[i]) > den ? fabs((double)b[i]) : den;
    }
    return num / den;
}

/* Decode, preprocess and run the demo checkpoint on one backend; compare with transformers. */
static void embed_on_backend(vitcl_registry *reg, const char *backend)
{
    vitcl_backend *be = NULL;
    vitcl_model *m = NULL;
    vitcl_preprocessor *pp = NULL;
    cr_assert_eq(vitcl_backend_open(reg, backend, NULL, &be), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_eq(vitcl_model_load(be, DEMO, &m), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_eq(vitcl_preprocessor_load(DEMO, &pp), VITCL_OK, "%s", vitcl_last_error());
    static float px[3 * 224 * 224];
    for (size_t i = 0; i < 3; i++) {
        vitcl_image *img = NULL;
        cr_assert_eq(vitcl_image_load_file(fixture_path(lhs_files[i]), NULL, &img), VITCL_OK);
        cr_assert_eq(vitcl_preprocess(pp, img, px, sizeof px / sizeof px[0]), VITCL_OK);
        vitcl_image_free(img);
        vitcl_output *out = NULL;
        cr_assert_eq(vitcl_model_run(m, px, 1, 224, 224, NULL, &out), VITCL_OK, "%s",
                     vitcl_last_error());
        size_t b, s, d;
        const float *h = vitcl_output_last_hidden_state(out, &b, &s, &d);
        char golden[128], err[256];
        snprintf(golden, sizeof golden, "golden/%s.npz", lhs_images[i]);
        golden_array want;
        cr_assert_eq(golden_read(golden, "lhs_demo", &want, err, sizeof err), 0, "%s", err);
        cr_assert_eq(want.numel, b * s * d, "%s: shape", lhs_images[i]);
        double e = rel_err(h, want.data, want.numel);
        cr_expect_leq(e, 1e-4, "%s on %s: last_hidden_state error %g of max(1, |ref|)",
                      lhs_images[i], backend, e);
        golden_array_free(&want);
        vitcl_output_free(out);
    }
    vitcl_preprocessor_free(pp);
    vitcl_model_free(m);
    vitcl_backend_close(be);
}

/* Every backend this build made (ref, and cpu and opencl where their dependencies exist). */
Test(embed, images_through_demo_model_match_transformers_on_every_backend)
{
    vitcl_registry *reg = NULL;
    cr_assert_eq(vitcl_registry_open(NULL, &reg), VITCL_OK);
    char list[] = VITCL_BUILT_PLUGINS;
    size_t n = 0;
    for (char *save = NULL, *b = strtok_r(list, ",", &save); b; b = strtok_r(NULL, ",", &save)) {
        embed_on_backend(reg, b);
        n++;
    }
    cr_assert_geq(n, 1);
    vitcl_registry_close(reg);
}

/* Runs the vitcl program with args (NULL-terminated); returns its exit status. */
static int run_vitcl(char *const args[])
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2); /* keep the test log quiet: stderr is not a terminal either */
        execv(VITCL_BIN, args);
        _exit(127);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "vitcl did not exit normally");
    return WEXITSTATUS(status);
}

static char *tmp_out(const char *name)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/vitcl-embed-test-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
    }
    char *p = malloc(512);
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s missing", path);
    char *buf = calloc(1, 8192);
    size_t n = fread(buf, 1, 8191, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

Test(embed_cli, batches_skips_bad_files_and_records_rows)
{
    char *out = tmp_out("e.npy"), *paths_txt = tmp_out("e.paths.txt");
    char *a0 = strdup(fixture_path(lhs_files[0])), *a1 = strdup(fixture_path(lhs_files[1]));
    char *a2 = strdup(fixture_path(lhs_files[2])), *bad = strdup(fixture_path("errors/truncated.png"));
    char *args[] = {"vitcl", "embed", DEMO, a0, bad, a1, a2, "--batch", "2", "--pool", "none",
                    "--backend", "ref", "-o", out, NULL};
    cr_expect_eq(run_vitcl(args), 3, "a skipped file must give exit status 3");
    vitcl_npy npy;
    cr_assert_eq(vitcl_npy_read_f32(out, 0, &npy), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_eq(npy.ndim, 3);
    cr_assert(npy.shape[0] == 3 && npy.shape[1] == 197 && npy.shape[2] == 64);
    for (size_t i = 0; i < 3; i++) {
        char golden[128], err[256];
        snprintf(golden, sizeof golden, "golden/%s.npz", lhs_images[i]);
        golden_array want;
        cr_assert_eq(golden_read(golden, "lhs_demo", &want, err, sizeof err), 0, "%s", err);
        double e = rel_err(npy.data + i * 197 * 64, want.data, want.numel);
        cr_expect_leq(e, 1e-4, "row %zu (%s): rel err %g", i, lhs_images[i], e);
        golden_array_free(&want);
    }
    char *text = read_text(paths_txt);
    char expect[4096];
    snprintf(expect, sizeof expect, "%s\n%s\n%s\n", a0, a1, a2);
    cr_expect_str_eq(text, expect);
    free(text);
    vitcl_npy_free(&npy);

    /* --pool mean and cls from the same images: mean over all 197 tokens, and token 0. */
    char *out_mean = tmp_out("m.npy"), *out_cls = tmp_out("c.npy");
    char *args_mean[] = {"vitcl", "embed", DEMO, a0, a1, "--pool", "mean", "--backend", "ref",
                         "-o", out_mean, NULL};
    char *args_cls[] = {"vitcl", "embed", DEMO, a0, a1, "--backend", "ref", "-o", out_cls, NULL};
    cr_expect_eq(run_vitcl(args_mean), 0);
    cr_expect_eq(run_vitcl(args_cls), 0);
    vitcl_npy mean, cls;
    cr_assert_eq(vitcl_npy_read_f32(out_mean, 0, &mean), VITCL_OK);
    cr_assert_eq(vitcl_npy_read_f32(out_cls, 0, &cls), VITCL_OK);
    cr_assert(mean.ndim == 2 && mean.shape[0] == 2 && mean.shape[1] == 64);
    cr_assert(cls.ndim == 2 && cls.shape[0] == 2 && cls.shape[1] == 64);
    for (size_t i = 0; i < 2; i++) {
        char golden[128], err[256];
        snprintf(golden, sizeof golden, "golden/%s.npz", lhs_images[i]);
        golden_array want;
        cr_assert_eq(golden_read(golden, "lhs_demo", &want, err, sizeof err), 0, "%s", err);
        const float *g = want.data;
        float avg[64];
        for (size_t d = 0; d < 64; d++) {
            double s = 0;
            for (size_t t = 0; t < 197; t++)
                s += g[t * 64 + d];
            avg[d] = (float)(s / 197);
        }
        cr_expect_leq(rel_err(mean.data + i * 64, avg, 64), 1e-4, "mean row %zu", i);
        cr_expect_leq(rel_err(cls.data + i * 64, g, 64), 1e-4, "cls row %zu", i);
        golden_array_free(&want);
    }
    vitcl_npy_free(&mean);
    vitcl_npy_free(&cls);
    free(out_mean);
    free(out_cls);
    free(a0);
    free(a1);
    free(a2);
    free(bad);
    free(out);
    free(paths_txt);
}

Test(embed_cli, all_bad_is_status_1_and_usage_is_2)
{
    char *out = tmp_out("bad.npy");
    char *bad = strdup(fixture_path("errors/empty.png"));
    char *args[] = {"vitcl", "embed", DEMO, bad, "--backend", "ref", "-o", out, NULL};
    cr_expect_eq(run_vitcl(args), 1);
    cr_expect_neq(access(out, F_OK), 0, "no output when nothing was embedded");
    char *args_usage[] = {"vitcl", "embed", DEMO, NULL};
    cr_expect_eq(run_vitcl(args_usage), 2);
    char *args_pool[] = {"vitcl", "embed", DEMO, bad, "--pool", "max", NULL};
    cr_expect_eq(run_vitcl(args_pool), 2);
    free(bad);
    free(out);
}

Test(embed_cli, list_from_file_and_size_override)
{
    char *list = tmp_out("list.txt"), *out = tmp_out("s.npy");
    FILE *f = fopen(list, "w");
    cr_assert_not_null(f);
    fprintf(f, "%s\n\n%s\n", fixture_path(lhs_files[0]), fixture_path(lhs_files[2]));
    fclose(f);
    /* 160x192: a 10x12 patch grid, so the model interpolates its position embeddings. */
    char *args[] = {"vitcl", "embed", DEMO, "--list", list, "--size", "160x192", "--pool", "none",
                    "--backend", "ref", "-o", out, NULL};
    cr_expect_eq(run_vitcl(args), 0);
    vitcl_npy npy;
    cr_assert_eq(vitcl_npy_read_f32(out, 0, &npy), VITCL_OK, "%s", vitcl_last_error());
    cr_expect(npy.ndim == 3 && npy.shape[0] == 2 && npy.shape[1] == 10 * 12 + 1 &&
              npy.shape[2] == 64, "shape [%zu, %zu, %zu]", npy.shape[0], npy.shape[1],
              npy.shape[2]);
    vitcl_npy_free(&npy);
    free(list);
    free(out);
}
