/* tests/cpu/test_cpu_plugin.c - the cpu plugin's descriptor, device, contexts (thread count
 * override), buffers (zero-copy wrap, bounds) and profiling. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu_harness.h"

TestSuite(cpu_plugin, .init = harness_setup, .fini = harness_teardown, .timeout = 60);

Test(cpu_plugin, descriptor)
{
    const vitcl_backend_desc *d = CPU.desc;
    cr_assert_str_eq(d->name, "cpu");
    cr_assert_eq(d->abi_major, VITCL_ABI_MAJOR);
    cr_assert_eq(d->auto_rank, 20);
    cr_assert_eq(d->struct_size, sizeof(vitcl_backend_desc));
    cr_assert_eq(d->ops->struct_size, sizeof(vitcl_op_table));
    /* Every optional entry is implemented but linear_pack_weight (its copy of W doubled the
     * resident memory for no speed), which supports() refuses too. pack_weight_host (1.1) is
     * there; this shape asks it for F32 into fp32, which it declines (the host wraps F32
     * weights in place; test_cpu_precision.c checks the other answers). */
    cr_assert(d->buffer_wrap_host && d->profiling && d->profile_drain);
    cr_assert(d->ops->attention && d->ops->supports && d->ops->pack_weight_host);
    cr_assert_null(d->ops->linear_pack_weight);
    for (int op = 0; op < VITCL_OP_COUNT_; op++) {
        vitcl_op_shape s = {.m = 197, .n = 768, .k = 768, .batch = 1,
                            .struct_size = sizeof s};
        cr_assert_eq(d->ops->supports(CPU.ctx, (vitcl_op)op, &s),
                     op != VITCL_OP_LINEAR_PACK_WEIGHT && op != VITCL_OP_PACK_WEIGHT_HOST,
                     "op %d", op);
    }
}

Test(cpu_plugin, device_info)
{
    cr_assert_eq(CPU.desc->device_count(CPU.state), 1);
    vitcl_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(CPU.desc->device_info(CPU.state, 0, &info), VITCL_OK);
    cr_assert_eq(info.type, VITCL_DEVICE_CPU);
    cr_assert(info.name[0] != '\0');
    cr_assert_eq(info.compute_units, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
    uint32_t want = VITCL_CAP_HOST_UNIFIED | VITCL_CAP_ZERO_COPY_WRAP | VITCL_CAP_PROFILING |
                    VITCL_CAP_FP64;
    cr_assert_eq(info.caps & ~(uint32_t)VITCL_CAP_BF16, want); /* BF16: test_cpu_precision.c */
    cr_assert_neq(CPU.desc->device_info(CPU.state, 1, &info), VITCL_OK);

    /* A host that knows an older, shorter struct gets only that much written. */
    unsigned char raw[sizeof info + 16];
    memset(raw, 0xAB, sizeof raw);
    vitcl_device_info *small = (vitcl_device_info *)(void *)raw;
    small->struct_size = (uint32_t)offsetof(vitcl_device_info, vendor);
    cr_assert_eq(CPU.desc->device_info(CPU.state, 0, small), VITCL_OK);
    cr_assert_eq(raw[offsetof(vitcl_device_info, vendor)], 0xAB);
}

Test(cpu_plugin, thread_override)
{
    char err[512] = "";
    vitcl_context *c = NULL;
    setenv("VITCL_CPU_THREADS", "3", 1);
    cr_assert_eq(CPU.desc->context_create(CPU.state, 0, &c, err, sizeof err), VITCL_OK, "%s",
                 err);
    /* The three-thread context computes what the default one does. */
    vitcl_buffer *x = NULL, *y = NULL;
    float in[40000], out[40000];
    for (size_t i = 0; i < 40000; i++)
        in[i] = (float)i * 1e-3f - 20.0f;
    cr_assert_eq(CPU.desc->buffer_alloc(c, sizeof in, "x", &x), VITCL_OK);
    cr_assert_eq(CPU.desc->buffer_alloc(c, sizeof in, "y", &y), VITCL_OK);
    cr_assert_eq(CPU.desc->buffer_write(c, x, 0, in, sizeof in), VITCL_OK);
    cr_assert_eq(CPU.ops->gelu(c, x, 0, y, 0, 40000), VITCL_OK);
    cr_assert_eq(CPU.desc->buffer_read(c, y, 0, out, sizeof out), VITCL_OK);
    vitcl_buffer *x1 = cbuf_new(in, 40000, "x1"), *y1 = cbuf_new(NULL, 40000, "y1");
    cr_assert_eq(CPU.ops->gelu(CPU.ctx, x1, 0, y1, 0, 40000), VITCL_OK);
    float *ref = buf_get(&CPU, y1, 40000);
    cr_assert_eq(memcmp(ref, out, sizeof out), 0);
    free(ref);
    CPU.desc->buffer_free(CPU.ctx, x1);
    CPU.desc->buffer_free(CPU.ctx, y1);
    CPU.desc->buffer_free(c, x);
    CPU.desc->buffer_free(c, y);
    CPU.desc->context_destroy(c);

    static const char *bad[] = {"0", "-2", "abc", "4x", "100000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("VITCL_CPU_THREADS", bad[i], 1);
        c = NULL;
        err[0] = '\0';
        cr_assert_neq(CPU.desc->context_create(CPU.state, 0, &c, err, sizeof err), VITCL_OK,
                      "VITCL_CPU_THREADS=%s accepted", bad[i]);
        cr_assert_null(c);
        cr_assert(strstr(err, "VITCL_CPU_THREADS"), "message '%s'", err);
    }
    unsetenv("VITCL_CPU_THREADS");
    cr_assert_neq(CPU.desc->context_create(CPU.state, 1, &c, err, sizeof err), VITCL_OK);
}

/* VITCL_CPU_GEMM picks the GEMM (numerics tests compare each path with the reference); a bad
 * value, or an instruction set this CPU lacks, refuses the context with a message naming the
 * variable. */
Test(cpu_plugin, gemm_override)
{
    char err[512] = "";
    vitcl_context *c = NULL;
    setenv("VITCL_CPU_GEMM", "openblas", 1);
    cr_assert_eq(CPU.desc->context_create(CPU.state, 0, &c, err, sizeof err), VITCL_OK, "%s",
                 err);
    CPU.desc->context_destroy(c);
    __builtin_cpu_init();
    int has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int has_avx512 = __builtin_cpu_supports("avx512f");
    static const char *isas[] = {"avx2", "avx512", "own"};
    int has[] = {has_avx2, has_avx512, has_avx2 || has_avx512};
    for (size_t i = 0; i < 3; i++) {
        setenv("VITCL_CPU_GEMM", isas[i], 1);
        c = NULL;
        err[0] = '\0';
        vitcl_status st = CPU.desc->context_create(CPU.state, 0, &c, err, sizeof err);
        if (has[i]) {
            cr_assert_eq(st, VITCL_OK, "VITCL_CPU_GEMM=%s: %s", isas[i], err);
            CPU.desc->context_destroy(c);
        } else {
            cr_assert_neq(st, VITCL_OK, "VITCL_CPU_GEMM=%s accepted without the ISA", isas[i]);
            cr_assert(strstr(err, "lacks"), "message '%s'", err);
        }
    }
    /* oneDNN: accepted where the plugin was built with it, else refused naming the package. */
    setenv("VITCL_CPU_GEMM", "onednn", 1);
    c = NULL;
    err[0] = '\0';
    vitcl_status dst = CPU.desc->context_create(CPU.state, 0, &c, err, sizeof err);
    if (VITCL_HAVE_ONEDNN) {
        cr_assert_eq(dst, VITCL_OK, "VITCL_CPU_GEMM=onednn: %s", err);
        CPU.desc->context_destroy(c);
    } else {
        cr_assert_neq(dst, VITCL_OK, "VITCL_CPU_GEMM=onednn accepted without oneDNN");
        cr_assert(strstr(err, "libdnnl-dev"), "message '%s'", err);
    }
    static const char *bad[] = {"", "x", "OWN", "openblas2", "avx", "onednn2"};
    for (size_t i = 1; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("VITCL_CPU_GEMM", bad[i], 1);
        c = NULL;
        err[0] = '\0';
        cr_assert_neq(CPU.desc->context_create(CPU.state, 0, &c, err, sizeof err), VITCL_OK,
                      "VITCL_CPU_GEMM=%s accepted", bad[i]);
        cr_assert_null(c);
        cr_assert(strstr(err, "VITCL_CPU_GEMM"), "message '%s'", err);
    }
    /* Empty means auto. */
    setenv("VITCL_CPU_GEMM", bad[0], 1);
    cr_assert_eq(CPU.desc->context_create(CPU.state, 0, &c, err, sizeof err), VITCL_OK, "%s",
                 err);
    CPU.desc->context_destroy(c);
    unsetenv("VITCL_CPU_GEMM");
}

Test(cpu_plugin, buffers)
{
    const vitcl_backend_desc *d = CPU.desc;
    vitcl_buffer *b = NULL, *b2 = NULL;
    cr_assert_eq(d->buffer_alloc(CPU.ctx, 100, "tensor.x", &b), VITCL_OK);
    cr_assert_eq(d->buffer_alloc(CPU.ctx, 100, "tensor.y", &b2), VITCL_OK);
    unsigned char src[100], dst[100];
    for (int i = 0; i < 100; i++)
        src[i] = (unsigned char)i;
    cr_assert_eq(d->buffer_write(CPU.ctx, b, 0, src, 100), VITCL_OK);
    cr_assert_eq(d->buffer_copy(CPU.ctx, b2, 10, b, 0, 90), VITCL_OK);
    cr_assert_eq(d->buffer_read(CPU.ctx, b2, 10, dst, 90), VITCL_OK);
    cr_assert_eq(memcmp(dst, src, 90), 0);
    /* Out of range, overflowing and overlapping requests fail with the label in the message. */
    cr_assert_eq(d->buffer_write(CPU.ctx, b, 1, src, 100), VITCL_ERR_INVALID_ARGUMENT);
    assert_error_mentions("tensor.x");
    cr_assert_eq(d->buffer_read(CPU.ctx, b, SIZE_MAX, dst, 2), VITCL_ERR_INVALID_ARGUMENT);
    cr_assert_eq(d->buffer_copy(CPU.ctx, b, 0, b, 10, 20), VITCL_ERR_INVALID_ARGUMENT);
    assert_error_mentions("overlap");
    vitcl_buffer *z = NULL;
    cr_assert_eq(d->buffer_alloc(CPU.ctx, 0, "empty", &z), VITCL_ERR_INVALID_ARGUMENT);
    cr_assert_null(z);
    cr_assert_eq(d->buffer_alloc(CPU.ctx, SIZE_MAX - 8, "huge", &z), VITCL_ERR_OUT_OF_MEMORY);
    assert_error_mentions("huge");
    d->buffer_free(CPU.ctx, b);
    d->buffer_free(CPU.ctx, b2);
    d->buffer_free(CPU.ctx, NULL);
}

Test(cpu_plugin, wrap_host_is_zero_copy_and_read_only)
{
    const vitcl_backend_desc *d = CPU.desc;
    float host[64];
    for (int i = 0; i < 64; i++)
        host[i] = (float)i;
    vitcl_buffer *w = NULL;
    cr_assert_eq(d->buffer_wrap_host(CPU.ctx, host, sizeof host, "weights.bin", &w), VITCL_OK);
    /* Zero copy: the buffer reads the caller's memory itself. */
    host[5] = 42.0f;
    float got[64];
    cr_assert_eq(d->buffer_read(CPU.ctx, w, 0, got, sizeof got), VITCL_OK);
    cr_assert_eq(got[5], 42.0f);
    /* Ops read it like any buffer but never write it. */
    vitcl_buffer *y = cbuf_new(NULL, 64, "y");
    cr_assert_eq(CPU.ops->gelu(CPU.ctx, w, 0, y, 0, 64), VITCL_OK);
    cr_assert_eq(d->buffer_write(CPU.ctx, w, 0, got, 4), VITCL_ERR_INVALID_ARGUMENT);
    assert_error_mentions("read-only");
    cr_assert_eq(CPU.ops->gelu(CPU.ctx, y, 0, w, 0, 64), VITCL_ERR_INVALID_ARGUMENT);
    assert_error_mentions("gelu");
    d->buffer_free(CPU.ctx, w);
    d->buffer_free(CPU.ctx, y);
    /* A misaligned address is copied instead of aliased; contents still right. */
    unsigned char raw[sizeof(float) * 4 + 1];
    float four[4] = {1, 2, 3, 4};
    memcpy(raw + 1, four, sizeof four);
    cr_assert_eq(d->buffer_wrap_host(CPU.ctx, raw + 1, sizeof four, "odd", &w), VITCL_OK);
    cr_assert_eq(d->buffer_read(CPU.ctx, w, 0, got, sizeof four), VITCL_OK);
    cr_assert_eq(memcmp(got, four, sizeof four), 0);
    d->buffer_free(CPU.ctx, w);
    cr_assert_eq(d->buffer_wrap_host(CPU.ctx, NULL, 4, "null", &w), VITCL_ERR_INVALID_ARGUMENT);
}

Test(cpu_plugin, profiling)
{
    const vitcl_backend_desc *d = CPU.desc;
    float ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    vitcl_buffer *x = cbuf_new(ones, 16, "x"), *y = cbuf_new(NULL, 16, "y");
    cr_assert_eq(CPU.ops->gelu(CPU.ctx, x, 0, y, 0, 16), VITCL_OK); /* not recorded */
    cr_assert_eq(d->profiling(CPU.ctx, 1), VITCL_OK);
    cr_assert_eq(CPU.ops->gelu(CPU.ctx, x, 0, y, 0, 16), VITCL_OK);
    cr_assert_eq(CPU.ops->add(CPU.ctx, x, 0, x, 0, y, 0, 16, 16), VITCL_OK);
    cr_assert_eq(CPU.ops->softmax(CPU.ctx, x, 0, y, 0, 2, 8, 1.0f), VITCL_OK);
    cr_assert_eq(d->synchronize(CPU.ctx), VITCL_OK);
    vitcl_op_timing t[4];
    for (size_t i = 0; i < 4; i++) /* the host sets struct_size (backend.h) */
        t[i].struct_size = (uint32_t)sizeof t[i];
    cr_assert_eq(d->profile_drain(CPU.ctx, t, 2), 2);
    cr_assert_str_eq(t[0].op, "gelu");
    cr_assert_str_eq(t[1].op, "add");
    cr_assert(t[0].end_ns >= t[0].start_ns && t[1].start_ns >= t[0].end_ns);
    cr_assert_eq(d->profile_drain(CPU.ctx, t, 4), 1);
    cr_assert_str_eq(t[0].op, "softmax");
    cr_assert_eq(d->profile_drain(CPU.ctx, t, 4), 0);
    cr_assert_eq(d->profiling(CPU.ctx, 0), VITCL_OK);
    cr_assert_eq(CPU.ops->gelu(CPU.ctx, x, 0, y, 0, 16), VITCL_OK);
    cr_assert_eq(d->profile_drain(CPU.ctx, t, 4), 0);
    d->buffer_free(CPU.ctx, x);
    d->buffer_free(CPU.ctx, y);
}

/* The fp32 GEMM race (plugins/cpu/cpu_gemm_race.c), seen through device_info's extra: small
 * linears never start it; the first large fp32 linear without GELU does, on AVX-512 machines
 * with VITCL_CPU_GEMM=auto, and whichever path it picks computes what ref does. Elsewhere (no
 * AVX-512: OpenBLAS already runs linear) the extra never mentions a race. */
static const char *cpu_extra(vitcl_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    cr_assert_eq(CPU.desc->device_info(CPU.state, 0, info), VITCL_OK);
    return info->extra;
}

static void race_linear(size_t m, size_t n, size_t k)
{
    float *x = rand_array(m * k, -1, 1), *w = rand_array(n * k, -1, 1), *b = rand_array(n, -1, 1);
    pair X = pair_new(x, m * k, "x"), W = pair_new(w, n * k, "w"), B = pair_new(b, n, "b");
    pair Y = pair_new(NULL, m * n, "y");
    cr_assert_eq(CPU.ops->linear(CPU.ctx, X.c, 0, W.c, 0, B.c, 0, Y.c, 0, m, n, k, 0), VITCL_OK,
                 "%s", CPU.desc->last_error(CPU.ctx));
    cr_assert_eq(REF.ops->linear(REF.ctx, X.r, 0, W.r, 0, B.r, 0, Y.r, 0, m, n, k, 0), VITCL_OK);
    /* outputs of order sqrt(k)/3: fp32 sums of k terms are off by about 1e-6 of that */
    assert_pair_close("linear after the race", Y, NULL, 1e-4, 1e-4);
    pair_free(X), pair_free(W), pair_free(B), pair_free(Y);
    free(x), free(w), free(b);
}

Test(cpu_plugin, gemm_race_runs_once_for_large_fp32_linears, .timeout = 300)
{
    vitcl_device_info info;
    const char *extra = cpu_extra(&info);
    int races = strstr(extra, "fp32 linear: own, OpenBLAS or oneDNN") != NULL;
    __builtin_cpu_init();
    /* The own AVX-512 kernels race OpenBLAS; with oneDNN built in, every machine races. */
    cr_assert_eq(races, __builtin_cpu_supports("avx512f") || VITCL_HAVE_ONEDNN, "extra: %s",
                 extra);
    race_linear(7, 9, 31); /* 2·10^3 multiply-adds: no race */
    extra = cpu_extra(&info);
    cr_assert(!strstr(extra, "races ("), "a small linear started the race: %s", extra);
    race_linear(256, 512, 1024); /* 1.3·10^8: the race, then this linear on its winner */
    extra = cpu_extra(&info);
    if (!races) {
        cr_assert(!strstr(extra, "races ("), "extra: %s", extra);
        return;
    }
    const char *v = strstr(extra, "races (S, L: m <= or > 512; d: k > 2048): fp32 S ");
    cr_assert(v, "extra: %s", extra);
    cr_assert(strstr(v, ", Ld "), "all four classes: %s", v);
    cr_log_info("%s", v); /* this machine's verdict, logged */
    /* GELU never goes to OpenBLAS where the own kernels run linear (no fused GELU there). */
    cr_assert(!strstr(v, "GELU OpenBLAS") || !__builtin_cpu_supports("avx512f"), "%s", v);
    /* Every class has its times; oneDNN, the incumbent where built in, ran in each (a time,
     * not 0); the others may have been left out (0) when far behind. */
    const char *times = strstr(v, " ms own/OpenBLAS/oneDNN(/own split-k):");
    cr_assert(times, "%s", v);
    static const char *const classes[] = {" S ", " Sd ", " L ", " Ld "};
    for (size_t i = 0; i < 4; i++) {
        const char *at = strstr(times, classes[i]);
        double own, blas, dnn;
        cr_assert(at && sscanf(at + strlen(classes[i]), "%lf/%lf/%lf", &own, &blas, &dnn) == 3,
                  "class%s: %s", classes[i], times);
        if (VITCL_HAVE_ONEDNN)
            cr_assert_gt(dnn, 0.0, "oneDNN did not run in class%s: %s", classes[i], times);
    }
    race_linear(256, 512, 1024); /* the verdict stands: same answer again */
}
