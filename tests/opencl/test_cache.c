/* tests/opencl/test_cache.c - the on-disk program cache, the self-check marker and kernel
 * loading from VITCL_CL_KERNEL_DIR, observed through the stats line the plugin appends to
 * VITCL_CL_STATS_FILE at context_destroy (the probe helper runs the plugin in a new process). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

#define NPROGRAMS 25 /* programs the plugin builds (programs.c) */
#define NAME_MAX_LEN 2400

TestSuite(opencl_cache, .timeout = 600);

/* Runs the probe with the given cache dir and stats file; returns its exit status. */
static int run_probe(const char *cache_dir, const char *stats, const char *kernel_dir)
{
    setenv("VITCL_CACHE_DIR", cache_dir, 1);
    setenv("VITCL_CL_STATS_FILE", stats, 1);
    if (kernel_dir)
        setenv("VITCL_CL_KERNEL_DIR", kernel_dir, 1);
    else
        unsetenv("VITCL_CL_KERNEL_DIR");
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/tests/opencl/opencl_probe", VITCL_BUILD_ROOT);
    char *argv[] = {probe, (char *)harness_plugin_path(), NULL};
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, probe, NULL, NULL, argv, environ), 0, "spawn %s", probe);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "probe crashed");
    return WEXITSTATUS(status);
}

typedef struct stats {
    unsigned builds, hits, rejected;
    char selfcheck[32];
} stats;

/* Parses line `index` (0-based) of the stats file. */
static stats read_stats(const char *path, int index)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no stats file %s", path);
    char line[1024];
    stats s = {0};
    int i = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        if (i++ != index)
            continue;
        const char *p = strstr(line, " builds=");
        cr_assert_not_null(p, "line: %s", line);
        cr_assert_eq(sscanf(p, " builds=%u cache_hits=%u cache_rejected=%u", &s.builds, &s.hits,
                            &s.rejected),
                     3, "line: %s", line);
        const char *sc = strstr(line, " selfcheck=");
        cr_assert_not_null(sc, "line: %s", line);
        cr_assert_eq(sscanf(sc, " selfcheck=%31s", s.selfcheck), 1, "line: %s", line);
        found = 1;
    }
    fclose(f);
    cr_assert(found, "stats file %s has no line %d", path, index);
    return s;
}

/* Collects up to max program entries of <cache>/opencl into names (sorted). */
static int list_entries(const char *cache, char names[][NAME_MAX_LEN], int max)
{
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/opencl", cache);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "no cache folder %s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max)
        if (strncmp(e->d_name, "prog-", 5) == 0 && strstr(e->d_name, ".tmp") == NULL)
            snprintf(names[n++], NAME_MAX_LEN, "%s/%s", dir, e->d_name);
    closedir(d);
    qsort(names, (size_t)n, NAME_MAX_LEN, (int (*)(const void *, const void *))strcmp);
    return n;
}

Test(opencl_cache, second_process_hits_the_cache)
{
    char dir[1024], st[1100];
    harness_tmpdir(dir, sizeof dir);
    snprintf(st, sizeof st, "%s/stats.txt", dir);
    cr_assert_eq(run_probe(dir, st, NULL), 0);
    cr_assert_eq(run_probe(dir, st, NULL), 0);
    stats a = read_stats(st, 0), b = read_stats(st, 1);
    cr_expect_eq(a.builds, NPROGRAMS);
    cr_expect_eq(a.hits, 0);
    cr_expect_str_eq(a.selfcheck, "ran");
    cr_expect_eq(b.builds, 0, "the second process must not compile");
    cr_expect_eq(b.hits, NPROGRAMS);
    cr_expect_eq(b.rejected, 0);
    cr_expect_str_eq(b.selfcheck, "cached", "the self-check marker must be honoured");
}

static void flip_byte(const char *path, long where)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, where, SEEK_SET), 0);
    int c = fgetc(f);
    cr_assert_neq(c, EOF);
    cr_assert_eq(fseek(f, where, SEEK_SET), 0);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

Test(opencl_cache, corrupt_truncated_and_foreign_entries_are_rebuilt)
{
    char dir[1024], st[1100];
    harness_tmpdir(dir, sizeof dir);
    snprintf(st, sizeof st, "%s/stats.txt", dir);
    cr_assert_eq(run_probe(dir, st, NULL), 0);
    static char names[NPROGRAMS + 1][NAME_MAX_LEN];
    cr_assert_eq(list_entries(dir, names, NPROGRAMS + 1), NPROGRAMS);

    struct stat sb;
    cr_assert_eq(stat(names[0], &sb), 0);
    flip_byte(names[0], (long)(sb.st_size - sb.st_size / 3)); /* inside the binary */
    cr_assert_eq(truncate(names[1], 40), 0);                  /* shorter than the header */
    /* A valid entry of another program under this program's name: key mismatch. */
    FILE *src = fopen(names[2], "rb"), *dst = fopen(names[3], "wb");
    cr_assert(src && dst);
    int c;
    while ((c = fgetc(src)) != EOF)
        fputc(c, dst);
    fclose(src);
    fclose(dst);

    cr_assert_eq(run_probe(dir, st, NULL), 0);
    stats b = read_stats(st, 1);
    cr_expect_eq(b.rejected, 3);
    cr_expect_eq(b.builds, 3);
    cr_expect_eq(b.hits, NPROGRAMS - 3);
    /* The rebuilt entries were written back and are now valid. */
    cr_assert_eq(run_probe(dir, st, NULL), 0);
    stats c3 = read_stats(st, 2);
    cr_expect_eq(c3.builds, 0);
    cr_expect_eq(c3.hits, NPROGRAMS);
    cr_expect_eq(c3.rejected, 0);
}

Test(opencl_cache, unwritable_cache_dir_means_no_cache_not_an_error)
{
    char dir[1024], st[1100], blocker[1100], cache[1200];
    harness_tmpdir(dir, sizeof dir);
    snprintf(st, sizeof st, "%s/stats.txt", dir);
    snprintf(blocker, sizeof blocker, "%s/a-file", dir);
    FILE *f = fopen(blocker, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(cache, sizeof cache, "%s/sub", blocker); /* cannot be created: parent is a file */
    cr_assert_eq(run_probe(cache, st, NULL), 0);
    cr_assert_eq(run_probe(cache, st, NULL), 0);
    stats b = read_stats(st, 1);
    cr_expect_eq(b.builds, NPROGRAMS);
    cr_expect_eq(b.hits, 0);
    cr_expect_str_eq(b.selfcheck, "ran");
}

/* Copies clkernels/ into dir, applying one replacement to `file` (old -> new). */
Test(opencl_cache, kernel_dir_is_used_and_a_build_failure_names_device_and_log)
{
    char kdir[1024], err[4096] = "", dev[256];
    harness_tmpdir(kdir, sizeof kdir);
    harness_copy_kernels(kdir, "softmax.cl", "acc_t m = -INFINITY;", "acc_t m = -INFINITY + ;");
    vitcl_status s = harness_create_with_kernels(kdir, err, sizeof err, dev, sizeof dev);
    cr_expect_eq(s, VITCL_ERR_DEVICE);
    cr_expect(strstr(err, dev) != NULL, "message names the device: %s", err);
    cr_expect(strstr(err, "softmax") != NULL, "message names the program: %s", err);
    cr_expect(strstr(err, "build log") != NULL, "message carries the log: %s", err);
    cr_expect(strstr(err, "error") != NULL, "the compiler's diagnostics: %s", err);
}

Test(opencl_cache, kernel_dir_missing_file_is_an_io_error)
{
    char kdir[1024], err[4096] = "", dev[256];
    harness_tmpdir(kdir, sizeof kdir);
    vitcl_status s = harness_create_with_kernels(kdir, err, sizeof err, dev, sizeof dev);
    cr_expect_eq(s, VITCL_ERR_IO);
    cr_expect(strstr(err, kdir) != NULL && strstr(err, "common.cl") != NULL, "message: %s",
              err);
}

Test(opencl_cache, self_check_refuses_a_wrong_kernel)
{
    char kdir[1024], err[4096] = "", dev[256];
    harness_tmpdir(kdir, sizeof kdir);
    /* gelu that returns its input: compiles fine, computes the wrong thing. */
    harness_copy_kernels(kdir, "bias_gelu.cl", "STORE(y, y_off + i, gelu_erf(LOAD(x, x_off + i)));",
                 "STORE(y, y_off + i, LOAD(x, x_off + i));");
    vitcl_status s = harness_create_with_kernels(kdir, err, sizeof err, dev, sizeof dev);
    cr_expect_eq(s, VITCL_ERR_DEVICE);
    cr_expect(strstr(err, "gelu") != NULL, "message names the op: %s", err);
    cr_expect(strstr(err, dev) != NULL, "message names the device: %s", err);
    cr_expect(strstr(err, "refusing this device") != NULL, "message: %s", err);
}

/* Each kernel the self-check covers, broken so that it still compiles: the device is refused
 * with a message naming that kernel. The variable picks the kernel family where the device type
 * alone would not use it. */
static void expect_refused(const char *file, const char *old, const char *new_text,
                           const char *env, const char *value, const char *names)
{
    char kdir[1024], err[4096] = "", dev[256];
    harness_tmpdir(kdir, sizeof kdir);
    harness_copy_kernels(kdir, file, old, new_text);
    if (env)
        setenv(env, value, 1);
    vitcl_status s = harness_create_with_kernels(kdir, err, sizeof err, dev, sizeof dev);
    cr_expect_eq(s, VITCL_ERR_DEVICE, "%s broken: status %d: %s", file, (int)s, err);
    cr_expect(strstr(err, names) != NULL, "message names '%s': %s", names, err);
    cr_expect(strstr(err, dev) != NULL, "message names the device: %s", err);
    cr_expect(strstr(err, "refusing this device") != NULL, "message: %s", err);
}

Test(opencl_cache, self_check_refuses_a_wrong_attention64)
{
    expect_refused("attention.cl", "const float inv = 1.0f / l##r;", "const float inv = 1.0f;",
                   "VITCL_CL_ATTENTION", "rows", "attention (attention64, head_dim 64)");
}

Test(opencl_cache, self_check_refuses_a_wrong_general_attention)
{
    expect_refused("attention.cl", "acc[d] += p * vr[d];", "acc[d] += p * vr[d] * 1.01f;",
                   "VITCL_CL_ATTENTION", "rows", "attention (attention, head_dim 16)");
}

Test(opencl_cache, self_check_refuses_a_wrong_tiled_attention)
{
    /* Breaks both builds (head_dim 64 and 128); the head_dim-16 case runs first. */
    expect_refused("attention_tiled.cl", "acc[c][qi] / row_sum[qi]", "acc[c][qi]",
                   "VITCL_CL_ATTENTION", "tiled", "attention (attention_tiled, head_dim 16)");
}

Test(opencl_cache, self_check_refuses_a_wrong_tiled_attention64_only)
{
    /* Wrong only in the build for head_dim 64: the general case passes, the 64 case must not. */
    expect_refused("attention_tiled.cl", "acc[c][qi] / row_sum[qi]",
                   "acc[c][qi] / (row_sum[qi] * (AT_D == 64 ? 1.01f : 1.0f))",
                   "VITCL_CL_ATTENTION", "tiled", "attention (attention_tiled, head_dim 64)");
}

Test(opencl_cache, self_check_refuses_a_wrong_tiled_gemm)
{
    expect_refused("gemm_tiled.cl", "float v = acc[r][c] +", "float v = 0.5f * acc[r][c] +", NULL,
                   NULL, "gemm_tiled (64 work-items)");
}

/* The residual add of linear (ABI 1.2) in each GEMM family's epilogue, dropped. */
Test(opencl_cache, self_check_refuses_a_tiled_gemm_that_drops_the_residual)
{
    expect_refused("gemm_tiled.cl", "*dst = add_y ? *dst + v : v;", "*dst = v;", NULL, NULL,
                   "gemm_tiled (64 work-items) + residual");
}

Test(opencl_cache, self_check_refuses_a_packed_gemm_that_drops_the_residual)
{
    expect_refused("gemm.cl", "lo = vload16(0, dst) + lo;", "lo = lo;", NULL, NULL,
                   "gemm_packed (6 rows) + residual");
}

Test(opencl_cache, self_check_refuses_a_general_gemm_that_drops_the_residual)
{
    expect_refused("gemm_general.cl", "cp[i * ldc + j] = add_y ? cp[i * ldc + j] + v : v;",
                   "cp[i * ldc + j] = v;", NULL, NULL, "gemm_general (linear) + residual");
}

Test(opencl_cache, self_check_refuses_a_wrong_patch_embed_in_clblast_mode)
{
    expect_refused("patch_embed.cl", "= s + bias[bias_off + d];", "= s;", NULL, NULL,
                   "patch_embed (direct, CLBlast mode)");
}

Test(opencl_cache, self_check_refuses_a_wrong_gemm_general)
{
    /* vitcl's own path for what CLBlast does is checked even where CLBlast works. */
    expect_refused("gemm_general.cl", "float v = alpha * acc[r][q];",
                   "float v = 0.5f * alpha * acc[r][q];", NULL, NULL, "gemm_general (linear)");
}

/* CLBlast broken (VITCL_CL_CLBLAST=broken) and one of our GEMM kernels broken too: nothing
 * computes linear, so the device is refused with a message naming the device, our kernel and
 * CLBlast's failure. */
static void expect_refused_without_clblast(const char *file, const char *old,
                                           const char *new_text, const char *names)
{
    char kdir[1024], err[4096] = "", dev[256];
    harness_tmpdir(kdir, sizeof kdir);
    harness_copy_kernels(kdir, file, old, new_text);
    setenv("VITCL_CL_CLBLAST", "broken", 1);
    vitcl_status s = harness_create_with_kernels(kdir, err, sizeof err, dev, sizeof dev);
    unsetenv("VITCL_CL_CLBLAST");
    cr_expect_eq(s, VITCL_ERR_DEVICE, "status %d: %s", (int)s, err);
    cr_expect(strstr(err, names) != NULL, "message names '%s': %s", names, err);
    cr_expect(strstr(err, dev) != NULL, "message names the device: %s", err);
    cr_expect(strstr(err, "refusing this device") != NULL, "message: %s", err);
    const char *clb = strstr(err, "; and CLBlast cannot replace it: clblast unusable: CLBlast ");
    cr_expect(clb != NULL, "message names CLBlast's failure: %s", err);
    cr_expect(clb && strstr(clb, "returned wrong results") != NULL, "message: %s", err);
}

Test(opencl_cache, self_check_refuses_when_both_clblast_and_gemm_general_are_wrong)
{
    expect_refused_without_clblast("gemm_general.cl", "float v = alpha * acc[r][q];",
                                   "float v = 0.5f * alpha * acc[r][q];", "gemm_general (linear)");
}

Test(opencl_cache, self_check_refuses_when_both_clblast_and_a_packed_gemm_are_wrong)
{
    expect_refused_without_clblast("gemm_tiled.cl", "float v = acc[r][c] +",
                                   "float v = 0.5f * acc[r][c] +", "gemm_tiled (64 work-items)");
}

/* A 16-bit GEMM kernel broken so that it still compiles: the self-check refuses that precision
 * only. The context opens (fp32 passed), supports() and pack_weight_host refuse the precision
 * with a message naming the kernel, the other 16-bit precision stays, the device's precisions
 * drop the refused one with a note, and the stats line says so. */
static void expect_precision_refused(const char *old, const char *new_text, uint32_t refused,
                                     uint32_t kept, const char *names)
{
    char kdir[1024], cache[1024], st[1100], err[4096] = "";
    harness_tmpdir(kdir, sizeof kdir);
    harness_tmpdir(cache, sizeof cache);
    snprintf(st, sizeof st, "%s/stats.txt", cache);
    harness_copy_kernels(kdir, "common.cl", old, new_text);
    setenv("VITCL_CACHE_DIR", cache, 1);
    setenv("VITCL_CL_KERNEL_DIR", kdir, 1);
    setenv("VITCL_CL_STATS_FILE", st, 1);
    harness h = {0};
    harness_load(&h);
    vitcl_status s = h.desc->context_create(h.state, harness_device(), &h.ctx, err, sizeof err);
    cr_assert_eq(s, VITCL_OK, "fp32 must still pass: %s", err);
    vitcl_op_shape sh;
    memset(&sh, 0, sizeof sh);
    sh.n = 64, sh.k = 64, sh.struct_size = sizeof sh, sh.dtype = VITCL_DTYPE_F32;
    sh.precision = refused;
    cr_expect_eq(h.desc->ops->supports(h.ctx, VITCL_OP_PACK_WEIGHT_HOST, &sh), 0);
    sh.precision = kept;
    cr_expect_eq(h.desc->ops->supports(h.ctx, VITCL_OP_PACK_WEIGHT_HOST, &sh), 1);
    static float w[64 * 64];
    vitcl_buffer *P = NULL;
    s = h.desc->ops->pack_weight_host(h.ctx, w, VITCL_DTYPE_F32, 64, 64, refused, "w", &P);
    cr_expect_eq(s, VITCL_ERR_UNSUPPORTED);
    const char *msg = h.desc->last_error(h.ctx);
    cr_expect(strstr(msg, names) != NULL, "message names '%s': %s", names, msg);
    cr_expect(strstr(msg, "refused on this device (fp32 unaffected)") != NULL, "message: %s", msg);
    s = h.desc->ops->pack_weight_host(h.ctx, w, VITCL_DTYPE_F32, 64, 64, kept, "w", &P);
    cr_expect_eq(s, VITCL_OK, "%s", h.desc->last_error(h.ctx));
    if (s == VITCL_OK)
        h.desc->buffer_free(h.ctx, P);
    vitcl_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(h.desc->device_info(h.state, harness_device(), &info), VITCL_OK);
    cr_expect_eq(info.precisions & VITCL_PRECISION_BIT(refused), 0, "precisions 0x%x",
                 info.precisions);
    cr_expect_neq(info.precisions & VITCL_PRECISION_BIT(kept), 0);
    cr_expect(strstr(info.precision_notes, "refused") != NULL, "notes: %s",
              info.precision_notes);
    h.desc->context_destroy(h.ctx);
    h.ctx = NULL;
    harness_close(&h);
    FILE *f = fopen(st, "r");
    cr_assert_not_null(f);
    char line[1024] = "";
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    const char *want = refused == VITCL_PRECISION_FP16 ? "precisions=fp32,bf16"
                                                       : "precisions=fp32,fp16";
    cr_expect(strstr(line, want) != NULL, "stats: %s", line);
    unsetenv("VITCL_CL_STATS_FILE");
}

Test(opencl_cache, self_check_refuses_only_fp16_when_its_packed_gemm_is_wrong)
{
    /* Every fp16 element read 1% too large by the gemm_packed kernels. */
    expect_precision_refused("#define WLOAD16(i, p) vload_half16((i), (p))",
                             "#define WLOAD16(i, p) (vload_half16((i), (p)) * 1.01f)",
                             VITCL_PRECISION_FP16, VITCL_PRECISION_BF16,
                             "gemm_packed (6 rows, fp16 weights)");
}

Test(opencl_cache, self_check_refuses_only_bf16_when_its_tiled_gemm_is_wrong)
{
    /* bf16 widened without its lowest bit by the gemm_tiled kernels only (WLOAD). */
    expect_precision_refused("#define WLOAD(p, i) as_float((uint)(p)[(i)] << 16)",
                             "#define WLOAD(p, i) as_float((uint)((p)[(i)] & 0xfff0) << 16)",
                             VITCL_PRECISION_BF16, VITCL_PRECISION_FP16,
                             "gemm_tiled (64 work-items, bf16 weights)");
}
