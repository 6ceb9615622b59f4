/* host/cli/cmd_bench.c - `vitcl bench MODEL_DIR`: throughput, latency, per-op breakdown.
 *
 * Times the phases a user sees (backend open with program builds and self-check, model load,
 * first result), then warm-up runs and K timed runs of the same random batch, then one profiled
 * run for the per-op breakdown. --trace writes Chrome trace-event JSON (Perfetto opens it).
 * --json prints one machine-readable line at the end for scripts/bench.sh.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "plugin_size.h"
#include "token_limit.h"
#include "cli_args.h"
#include "vitcl/vitcl.h"

#define MAX_TIMINGS 65536
#define MAX_OPS 32

/* The device's notes as its plugin reports them now, after the runs (malloc'ed; NULL when
 * out of memory or the plugin cannot say): a plugin that decides by measurement at first use
 * says there what it chose (the cpu plugin's GEMM races). */
static char *device_notes(vitcl_backend *be)
{
    size_t cap = sizeof vitcl_backend_device(be)->extra;
    char *now = malloc(cap);
    if (now && vitcl_backend_device_notes(be, now, cap) != VITCL_OK) {
        free(now);
        now = NULL;
    }
    return now;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* FLOPs of one forward (multiply-adds count 2), GEMMs and attention only. */
static double forward_flops(const vitcl_model_config *c, size_t B, size_t H, size_t W)
{
    double D = (double)c->hidden_size, I = (double)c->intermediate_size;
    double gh = (double)(H / c->patch_size), gw = (double)(W / c->patch_size);
    double N = gh * gw, S = N + 1, T = (double)B * S, P = (double)c->patch_size;
    double per_layer = 2 * T * D * 3 * D + 2 * 2 * (double)B * S * S * D + 2 * T * D * D +
                       2 * 2 * T * D * I;
    return (double)c->num_hidden_layers * per_layer + 2 * (double)B * N * D * (double)c->num_channels * P * P;
}

static void usage(FILE *f, const cli_opt *opts, size_t n)
{
    fprintf(f, "usage: vitcl bench MODEL_DIR [OPTIONS]\n");
    cli_print_options(f, opts, n);
}

typedef struct op_total {
    const char *name;
    double ms;
    size_t count;
} op_total;

int cmd_bench(int argc, char **argv)
{
    const char *dir = NULL, *backend = NULL, *device = NULL, *trace = NULL;
    unsigned long ubatch = 1, uiters = 10, uwarmup = 2;
    size_t H = 0, W = 0;
    int json = 0;
    size_t hw[2] = {0, 0};
    vitcl_load_options lo = {.struct_size = sizeof lo};
    const cli_opt opts[] = {
        {"--backend", NULL, CLI_TEXT, "NAME", &backend, 0, 0},
        {"--device", NULL, CLI_TEXT, "D", &device, 0, 0},
        {"--batch", NULL, CLI_COUNT, "N", &ubatch, 1, 4096},
        {"--iters", NULL, CLI_COUNT, "K", &uiters, 1, 100000},
        {"--warmup", NULL, CLI_COUNT, "W", &uwarmup, 0, 100000},
        {"--size", NULL, CLI_SIZE, "HxW", hw, 0, 0},
        {"--trace", NULL, CLI_TEXT, "FILE.json", &trace, 0, 0},
        {"--json", NULL, CLI_FLAG, NULL, &json, 0, 0},
        {"--precision", NULL, CLI_PRECISION, "fp32|bf16|fp16", &lo.precision, 0, 0},
    };
    size_t n_opts = sizeof opts / sizeof opts[0], n_pos = 0;
    int pr = cli_parse("bench", argc, argv, opts, n_opts, &dir, 1, &n_pos);
    if (pr == CLI_HELP) {
        usage(stdout, opts, n_opts);
        return 0;
    }
    if (pr != CLI_PARSED || !dir) {
        usage(stderr, opts, n_opts);
        return 2;
    }
    H = hw[0];
    W = hw[1];
    long batch = (long)ubatch, iters = (long)uiters, warmup = (long)uwarmup; /* ranges above */
    vitcl_registry *reg = NULL;
    vitcl_backend *be = NULL;
    vitcl_model *m = NULL;
    vitcl_output *out = NULL;
    float *px = NULL;
    double *times = calloc((size_t)iters, sizeof(double));
    vitcl_op_timing *tim = calloc(MAX_TIMINGS, sizeof *tim);
    FILE *tf = NULL;
    char *notes = NULL;
    int rc = 1;
    if (!times || !tim) {
        fprintf(stderr, "vitcl bench: out of memory\n");
        goto done;
    }
    double t0 = now_s();
    if (vitcl_registry_open(NULL, &reg) || vitcl_backend_open(reg, backend, device, &be)) {
        fprintf(stderr, "vitcl bench: %s\n", vitcl_last_error());
        goto done;
    }
    double t_backend = now_s();
    if (vitcl_model_load_ex(be, dir, &lo, &m)) {
        fprintf(stderr, "vitcl bench: %s\n", vitcl_last_error());
        goto done;
    }
    double t_load = now_s();
    vitcl_model_config c;
    vitcl_model_get_config(m, &c);
    if (!H)
        H = W = c.image_size;
    /* the run would refuse these sizes; refuse them before allocating the pixels */
    if (vitcl_check_tokens(H / c.patch_size, W / c.patch_size, "vitcl bench --size")) {
        fprintf(stderr, "vitcl bench: %s\n", vitcl_last_error());
        goto done;
    }
    size_t n = 0, bytes = 0;
    if (!plugin_size_mul((size_t)batch, c.num_channels, &n) || !plugin_size_mul(n, H, &n) ||
        !plugin_size_mul(n, W, &n) || !plugin_size_mul(n, sizeof(float), &bytes)) {
        fprintf(stderr, "vitcl bench: a batch of %ld at %zux%zu with %zu channels is too large "
                "to address\n", batch, H, W, c.num_channels);
        goto done;
    }
    px = malloc(bytes);
    if (!px) {
        fprintf(stderr, "vitcl bench: out of memory for %zu pixels\n", n);
        goto done;
    }
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        px[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 4.0 - 2.0);
    }
    vitcl_run_options opt = {.struct_size = sizeof opt};
    opt.interpolate_pos_encoding = (H != c.image_size || W != c.image_size);
    double t_first = 0;
    for (long i = 0; i < warmup + iters; i++) {
        double a = now_s();
        if (vitcl_model_run(m, px, (size_t)batch, H, W, &opt, &out)) {
            fprintf(stderr, "vitcl bench: %s\n", vitcl_last_error());
            goto done;
        }
        vitcl_output_free(out);
        out = NULL;
        double b = now_s();
        if (i == 0)
            t_first = b;
        if (i >= warmup)
            times[i - warmup] = b - a;
    }
    double *sorted = malloc((size_t)iters * sizeof(double));
    if (!sorted)
        goto done;
    memcpy(sorted, times, (size_t)iters * sizeof(double));
    qsort(sorted, (size_t)iters, sizeof(double), cmp_double);
    double med = iters % 2 ? sorted[iters / 2] : 0.5 * (sorted[iters / 2 - 1] + sorted[iters / 2]);
    double mn = sorted[0], mx = sorted[iters - 1];
    free(sorted);

    /* One profiled run for the per-op breakdown. */
    op_total ops[MAX_OPS];
    size_t nops = 0, ntim = 0;
    double prof_total = 0;
    int have_prof = vitcl_backend_profiling(be, 1) == VITCL_OK;
    if (have_prof) {
        vitcl_backend_profile_drain(be, tim, MAX_TIMINGS);
        if (vitcl_model_run(m, px, (size_t)batch, H, W, &opt, &out) == VITCL_OK) {
            ntim = vitcl_backend_profile_drain(be, tim, MAX_TIMINGS);
            vitcl_output_free(out);
            out = NULL;
        }
        vitcl_backend_profiling(be, 0);
        for (size_t i = 0; i < ntim; i++) {
            double ms = (double)(tim[i].end_ns - tim[i].start_ns) * 1e-6;
            prof_total += ms;
            size_t k = 0;
            while (k < nops && strcmp(ops[k].name, tim[i].op) != 0)
                k++;
            if (k == nops && nops < MAX_OPS)
                ops[nops++] = (op_total){tim[i].op, 0, 0};
            if (k < nops) {
                ops[k].ms += ms;
                ops[k].count++;
            }
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak_mb = (double)ru.ru_maxrss / 1024.0;
    double flops = forward_flops(&c, (size_t)batch, H, W);
    const vitcl_device_info *di = vitcl_backend_device(be);

    printf("model        %s (%s, D=%zu, L=%zu, %zux%zu)\n", dir, c.weight_format, c.hidden_size,
           c.num_hidden_layers, H, W);
    printf("backend      %s on %s\n", vitcl_backend_name(be), di->name);
    printf("precision    %s (linear weights; every other op fp32)\n", c.precision);
    printf("batch        %ld, %ld warm-up + %ld timed runs\n", batch, warmup, iters);
    printf("throughput   %.3f images/s\n", (double)batch / med);
    printf("per image    median %.1f ms, min %.1f ms, max %.1f ms\n", med * 1e3 / (double)batch,
           mn * 1e3 / (double)batch, mx * 1e3 / (double)batch);
    printf("compute      %.1f GFLOP per batch, %.1f GFLOP/s\n", flops * 1e-9, flops * 1e-9 / med);
    printf("backend open %.1f ms (device init, program builds or cache loads, self-check)\n",
           (t_backend - t0) * 1e3);
    printf("model load   %.1f ms\n", (t_load - t_backend) * 1e3);
    printf("first result %.1f ms after start\n", (t_first - t0) * 1e3);
    printf("peak RSS     %.1f MB\n", peak_mb);
    notes = device_notes(be);
    if (notes && strcmp(notes, di->extra) != 0) /* printed when they changed since open */
        printf("device notes %s\n", notes);
    if (have_prof && ntim) {
        printf("per-op breakdown (one profiled run, %zu ops, %.1f ms of op time):\n", ntim,
               prof_total);
        for (size_t i = 0; i < nops; i++)
            printf("  %-16s %9.2f ms %5.1f%%  (%zu calls)\n", ops[i].name, ops[i].ms,
                   100.0 * ops[i].ms / (prof_total > 0 ? prof_total : 1), ops[i].count);
    } else {
        printf("per-op breakdown: not available from this backend\n");
    }
    if (trace) {
        tf = fopen(trace, "w");
        if (!tf) {
            fprintf(stderr, "vitcl bench: cannot write %s\n", trace);
            goto done;
        }
        fprintf(tf, "{\"traceEvents\":[\n");
        uint64_t base = ntim ? tim[0].start_ns : 0;
        for (size_t i = 0; i < ntim; i++)
            fprintf(tf,
                    "{\"name\":\"%s\",\"cat\":\"op\",\"ph\":\"X\",\"pid\":1,\"tid\":1,"
                    "\"ts\":%.3f,\"dur\":%.3f},\n",
                    tim[i].op, (double)(tim[i].start_ns - base) * 1e-3,
                    (double)(tim[i].end_ns - tim[i].start_ns) * 1e-3);
        double ts = 0;
        for (long i = 0; i < iters; i++) {
            fprintf(tf,
                    "{\"name\":\"forward batch %ld\",\"cat\":\"run\",\"ph\":\"X\",\"pid\":2,"
                    "\"tid\":1,\"ts\":%.3f,\"dur\":%.3f}%s\n",
                    batch, ts * 1e6, times[i] * 1e6, i + 1 < iters ? "," : "");
            ts += times[i];
        }
        fprintf(tf, "],\"displayTimeUnit\":\"ms\"}\n");
        if (fclose(tf) != 0) {
            tf = NULL;
            fprintf(stderr, "vitcl bench: write error on %s\n", trace);
            goto done;
        }
        tf = NULL;
        printf("trace        %s\n", trace);
    }
    /* The notes as a JSON string (cJSON escapes them), "" when there are none. */
    cJSON *jnotes = json ? cJSON_CreateString(notes ? notes : "") : NULL;
    char *jn = jnotes ? cJSON_PrintUnformatted(jnotes) : NULL;
    if (json)
        printf("{\"backend\":\"%s\",\"precision\":\"%s\",\"batch\":%ld,\"images_per_s\":%.4f,"
               "\"ms_per_image_median\":%.3f,"
               "\"ms_per_image_min\":%.3f,\"ms_per_image_max\":%.3f,\"gflops\":%.2f,"
               "\"backend_open_ms\":%.1f,\"load_ms\":%.1f,\"first_result_ms\":%.1f,"
               "\"peak_rss_mb\":%.1f,\"device_notes\":%s}\n",
               vitcl_backend_name(be), c.precision, batch, (double)batch / med,
               med * 1e3 / (double)batch,
               mn * 1e3 / (double)batch, mx * 1e3 / (double)batch, flops * 1e-9 / med,
               (t_backend - t0) * 1e3, (t_load - t_backend) * 1e3, (t_first - t0) * 1e3, peak_mb,
               jn ? jn : "\"\"");
    free(jn);
    cJSON_Delete(jnotes);
    rc = 0;
done:
    free(notes);
    if (tf)
        fclose(tf);
    vitcl_output_free(out);
    vitcl_model_free(m);
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
    free(px);
    free(times);
    free(tim);
    return rc;
}
