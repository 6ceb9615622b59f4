/* tests/opencl/test_subgroups.c - the subgroup build of attention_tiled.cl (VITCL_CL_SUBGROUPS,
 * plugins/opencl/programs.c) on the test device. Where the device reports cl_intel_subgroups, or
 * cl_khr_subgroups with OpenCL C 2.0 or later, "on" builds it, the stats line says so and the
 * fused attention matches a double reference at head_dim 64 and at the general path, as it does
 * with "off"; a subgroup kernel that reduces wrongly is refused by the self-check. Where the
 * device reports neither, "on" is refused naming the device, "auto" runs the plain kernel and
 * the same broken subgroup code is never compiled. An unknown value is refused by name. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include "harness.h"

TestSuite(opencl_subgroups, .timeout = 600);

/* Whether the test device offers subgroup built-ins, by the plugin's rule (devices.c), asked of
 * OpenCL directly. */
static int device_has_subgroups(void)
{
    cl_platform_id plats[16];
    cl_uint np = 0;
    cr_assert_eq(clGetPlatformIDs(16, plats, &np), CL_SUCCESS);
    int index = harness_device();
    for (cl_uint p = 0; p < np && p < 16; p++) {
        cl_device_id devs[64];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 64, devs, &nd) != CL_SUCCESS)
            continue;
        if (index >= (int)nd) {
            index -= (int)nd;
            continue;
        }
        static char ext[32768];
        char cver[128] = "";
        cr_assert_eq(clGetDeviceInfo(devs[index], CL_DEVICE_EXTENSIONS, sizeof ext, ext, NULL),
                     CL_SUCCESS);
        clGetDeviceInfo(devs[index], CL_DEVICE_OPENCL_C_VERSION, sizeof cver, cver, NULL);
        int maj = 0, min = 0;
        sscanf(cver, "OpenCL C %d.%d", &maj, &min);
        const char *words[] = {"cl_intel_subgroups", "cl_khr_subgroups"};
        for (int w = 0; w < 2; w++)
            for (const char *at = strstr(ext, words[w]); at; at = strstr(at + 1, words[w])) {
                char end = at[strlen(words[w])];
                if ((at == ext || at[-1] == ' ') && (end == ' ' || end == '\0') &&
                    (w == 0 || maj >= 2))
                    return 1;
            }
        return 0;
    }
    cr_assert_fail("no OpenCL device at the test index");
    return 0;
}

/* The attention value the op table defines, in double, for a fused [B*S, 3*D] QKV. */
static void attention_ref(const float *qkv, size_t B, size_t S, size_t H, size_t hd, float scale,
                          double *out)
{
    size_t D = H * hd, ld = 3 * D;
    double *p = malloc(S * sizeof *p);
    cr_assert_not_null(p);
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++)
            for (size_t i = 0; i < S; i++) {
                const float *q = qkv + (b * S + i) * ld + h * hd;
                double mx = -INFINITY, sum = 0.0;
                for (size_t t = 0; t < S; t++) {
                    const float *k = qkv + (b * S + t) * ld + D + h * hd;
                    double dot = 0.0;
                    for (size_t j = 0; j < hd; j++)
                        dot += (double)q[j] * k[j];
                    p[t] = dot * scale;
                    mx = p[t] > mx ? p[t] : mx;
                }
                for (size_t t = 0; t < S; t++)
                    sum += (p[t] = exp(p[t] - mx));
                for (size_t j = 0; j < hd; j++) {
                    double acc = 0.0;
                    for (size_t t = 0; t < S; t++)
                        acc += p[t] * qkv[(b * S + t) * ld + 2 * D + h * hd + j];
                    out[(b * S + i) * D + h * hd + j] = acc / sum;
                }
            }
    free(p);
}

/* Opens a context with VITCL_CL_SUBGROUPS=mode and tiled attention, runs attention at two
 * shapes (head_dim 64, and 16 for the general build) against the reference, closes it and
 * returns the stats line's attention= value in attention and its subgroups="..." in sg. */
static void run_attention(const char *mode, char *attention, size_t len, char *sg,
                          size_t sglen)
{
    char dir[1024], stats[1100];
    harness_tmpdir(dir, sizeof dir);
    snprintf(stats, sizeof stats, "%s/stats.txt", dir);
    setenv("VITCL_CL_STATS_FILE", stats, 1);
    setenv("VITCL_CL_ATTENTION", "tiled", 1);
    setenv("VITCL_CL_SUBGROUPS", mode, 1);
    harness h = {0};
    harness_open(&h);
    static const size_t shapes[2][4] = {{2, 197, 3, 64}, {1, 37, 2, 16}};
    for (int c = 0; c < 2; c++) {
        size_t B = shapes[c][0], S = shapes[c][1], H = shapes[c][2], hd = shapes[c][3];
        size_t D = H * hd, n = B * S * 3 * D;
        float scale = 1.0f / sqrtf((float)hd);
        float *qkv = h_random(n, 2.0f, 17u + (unsigned)c), *o = malloc(B * S * D * sizeof *o);
        double *want = malloc(B * S * D * sizeof *want);
        cr_assert(o && want);
        attention_ref(qkv, B, S, H, hd, scale, want);
        vitcl_buffer *Q = h_upload(&h, qkv, n), *O = h_upload(&h, NULL, B * S * D);
        cr_assert_eq(h.desc->ops->attention(h.ctx, Q, 0, 3 * D, Q, D, 3 * D, Q, 2 * D, 3 * D, O,
                                            0, D, B, S, H, hd, scale),
                     VITCL_OK, "%s", h.desc->last_error(h.ctx));
        h_download(&h, O, 0, o, B * S * D);
        char what[96];
        snprintf(what, sizeof what, "attention_tiled (VITCL_CL_SUBGROUPS=%s, head_dim %zu)", mode,
                 hd);
        h_expect_close(what, o, want, B * S * D, 1e-5, 1e-4);
        h_free(&h, Q);
        h_free(&h, O);
        free(qkv), free(o), free(want);
    }
    harness_close(&h);
    FILE *f = fopen(stats, "r");
    cr_assert_not_null(f, "no stats line in %s", stats);
    char line[2048] = "";
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    const char *at = strstr(line, "attention=");
    cr_assert_not_null(at, "%s", line);
    snprintf(attention, len, "%.*s", (int)strcspn(at + 10, " \n"), at + 10);
    const char *q = strstr(line, " subgroups=\"");
    cr_assert_not_null(q, "%s", line);
    snprintf(sg, sglen, "%.*s", (int)strcspn(q + 12, "\""), q + 12);
    unsetenv("VITCL_CL_STATS_FILE");
}

/* The context_create status and message with VITCL_CL_SUBGROUPS=mode (and tiled attention). */
static vitcl_status create_with(const char *mode, char *err, size_t len, char *dev, size_t dlen)
{
    setenv("VITCL_CL_ATTENTION", "tiled", 1);
    setenv("VITCL_CL_SUBGROUPS", mode, 1);
    return harness_try_create(err, len, dev, dlen);
}

Test(opencl_subgroups, on_auto_and_off_match_the_reference_where_offered)
{
    char att[64], sg[256], err[2048] = "", dev[256];
    if (device_has_subgroups()) {
        run_attention("on", att, sizeof att, sg, sizeof sg);
        cr_expect_str_eq(att, "tiled+subgroups");
        cr_expect(!strcmp(sg, "cl_intel_subgroups") || !strcmp(sg, "cl_khr_subgroups"), "%s", sg);
        run_attention("auto", att, sizeof att, sg, sizeof sg);
        cr_expect_str_eq(att, "tiled+subgroups", "auto uses the subgroups the device reports");
    } else {
        cr_expect_eq(create_with("on", err, sizeof err, dev, sizeof dev), VITCL_ERR_UNSUPPORTED);
        cr_expect(strstr(err, dev) && strstr(err, "VITCL_CL_SUBGROUPS=on"), "%s", err);
        run_attention("auto", att, sizeof att, sg, sizeof sg);
        cr_expect_str_eq(att, "tiled", "auto without subgroups runs the plain kernel");
        cr_expect(!strncmp(sg, "not reported", 12), "subgroups=\"%s\"", sg);
    }
    run_attention("off", att, sizeof att, sg, sizeof sg);
    cr_expect_str_eq(att, "tiled");
    cr_expect_str_eq(sg, "off (VITCL_CL_SUBGROUPS=off)");
}

Test(opencl_subgroups, an_unknown_value_is_refused_by_name)
{
    char err[2048] = "", dev[256];
    cr_expect_eq(create_with("sometimes", err, sizeof err, dev, sizeof dev),
                 VITCL_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(err, "VITCL_CL_SUBGROUPS='sometimes'") && strstr(err, dev), "%s", err);
}

Test(opencl_subgroups, the_self_check_refuses_a_wrong_subgroup_reduction)
{
    char kdir[1024], err[4096] = "", dev[256];
    harness_tmpdir(kdir, sizeof kdir);
    /* The row sum of each tile left unreduced: one lane's part only. */
    harness_copy_kernels(kdir, "attention_tiled.cl", "sum = sub_group_reduce_add(sum);",
                         "sum = sum;");
    setenv("VITCL_CL_ATTENTION", "tiled", 1);
    setenv("VITCL_CL_SUBGROUPS", "auto", 1);
    vitcl_status s = harness_create_with_kernels(kdir, err, sizeof err, dev, sizeof dev);
    if (device_has_subgroups()) {
        cr_expect_eq(s, VITCL_ERR_DEVICE, "%s", err);
        cr_expect(strstr(err, "attention_tiled with subgroups") && strstr(err, dev) &&
                      strstr(err, "refusing this device"),
                  "%s", err);
    } else {
        cr_expect_eq(s, VITCL_OK, "the subgroup code is not compiled here: %s", err);
    }
}
