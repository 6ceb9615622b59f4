/* plugins/cpu/cpu_plugin.c - the cpu plugin's descriptor and entry point: device enumeration
 * (one device: this machine's CPU), context lifetime (thread pool, OpenBLAS thread count, GEMM
 * choice and self-check), last_error, synchronize, profiling and supports(). */
#include <cblas.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin_timing.h"
#include "cpu_cpuid.h"
#include "cpu_internal.h"

#define CPU_PLUGIN_VERSION "0.1.0"

/* The host's ABI minor, given at entry (the loader calls the entry before anything else, from
 * one thread). supports() reads vitcl_op_shape's 1.1 fields only when it is >= 1. */
static uint32_t host_minor;

typedef struct cpu_state {
    char model[128];
    int cores;
    uint64_t mem_bytes;
} cpu_state;

/* The "model name" line of /proc/cpuinfo into out, or "unknown CPU". */
static void read_model_name(char *out, size_t outlen)
{
    snprintf(out, outlen, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        const char *colon = strchr(line, ':');
        if (!colon)
            continue;
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        size_t len = strcspn(colon, "\r\n");
        if (len > 0)
            snprintf(out, outlen, "%.*s", (int)len, colon);
        break;
    }
    fclose(f);
}

static vitcl_status cpu_init(void **state, char *err, size_t errlen)
{
    cpu_state *s = calloc(1, sizeof *s);
    if (!s) {
        if (err && errlen)
            snprintf(err, errlen, "cpu plugin: out of memory in init");
        return VITCL_ERR_OUT_OF_MEMORY;
    }
    read_model_name(s->model, sizeof s->model);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->cores = cores < 1 ? 1 : cores > CPU_MAX_THREADS ? CPU_MAX_THREADS : (int)cores;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    s->mem_bytes = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    *state = s;
    return VITCL_OK;
}

static void cpu_shutdown(void *state)
{
    free(state);
}

static int cpu_device_count(void *state)
{
    return state ? 1 : 0;
}

/* The own GEMM's kernels this CPU runs best: AVX-512F, else AVX2+FMA, else none (NULL). */
static const cpu_gemm_isa *best_isa(void)
{
    const cpu_gemm_isa *isa = cpu_gemm_isa_avx512();
    return isa ? isa : cpu_gemm_isa_avx2();
}

/* The GEMMs of linear, patch_embed and attention: VITCL_CPU_GEMM = "auto" (or unset: the own
 * kernels this CPU runs best for attention, and for linear and patch_embed too where they are
 * the AVX-512 ones; on AVX2 machines linear goes to OpenBLAS, which measured faster there,
 * docs/performance.md; large fp32 linears then take whichever of those, OpenBLAS and oneDNN
 * won their shape class's race, cpu_gemm_race.c), "own" (the best own kernels for all three,
 * refused where the CPU has neither AVX-512F nor AVX2+FMA), "avx512" or "avx2" (those kernels
 * for all three, refused where the CPU lacks them), "openblas" (OpenBLAS for linear and
 * patch_embed, the plain kernels for attention) or "onednn" (every fp32 linear on oneDNN, and
 * the bf16 products of linears on a row-major bf16 weight, the rest as "own"; refused where
 * the plugin was built without it). Sets *isa (NULL: none), *linear, *race and *onednn, and
 * returns 0, or -1 with err set. */
static int gemm_choice(const cpu_gemm_isa **isa, int *linear, int *race, int *onednn,
                       char *err, size_t errlen)
{
    const char *env = getenv("VITCL_CPU_GEMM");
    const char *need = NULL;
    *isa = NULL;
    *linear = *race = *onednn = 0;
    if (!env || !env[0] || strcmp(env, "auto") == 0) {
        *isa = best_isa();
        *linear = *isa && *isa == cpu_gemm_isa_avx512();
        *race = *linear || cpu_onednn_built();
        return 0;
    }
    if (strcmp(env, "openblas") == 0)
        return 0;
    if (strcmp(env, "onednn") == 0) {
        if (!cpu_onednn_built()) {
            if (err && errlen)
                snprintf(err, errlen,
                         "cpu plugin: VITCL_CPU_GEMM='onednn' but this plugin was built "
                         "without oneDNN (install libdnnl-dev and rebuild)");
            return -1;
        }
        *isa = best_isa();
        *linear = *isa != NULL;
        *onednn = 1;
        return 0;
    }
    if (strcmp(env, "own") == 0) {
        *isa = best_isa();
        need = "AVX-512F or AVX2+FMA";
    } else if (strcmp(env, "avx512") == 0) {
        *isa = cpu_gemm_isa_avx512();
        need = "AVX-512F";
    } else if (strcmp(env, "avx2") == 0) {
        *isa = cpu_gemm_isa_avx2();
        need = "AVX2 and FMA";
    }
    *linear = *isa != NULL;
    if (*isa)
        return 0;
    if (err && errlen) {
        if (need)
            snprintf(err, errlen, "cpu plugin: VITCL_CPU_GEMM='%s' needs %s, which this CPU lacks",
                     env, need);
        else
            snprintf(err, errlen,
                     "cpu plugin: VITCL_CPU_GEMM='%s' is not one of auto, own, avx512, avx2, "
                     "openblas, onednn",
                     env);
    }
    return -1;
}

/* linear on a bf16 weight, with the own GEMM on its AVX-512 kernels (own_linear, isa): the
 * bf16 kernels where the CPU has AVX512-BF16, X rounded or the weight widened per linear by
 * its shape (cpu_gemm_bf16_x_for), unless
 * VITCL_CPU_BF16 = "widen" (the weight widened to fp32, products in fp32, as on other CPUs),
 * "round" (every X rounded to bf16) or "split" (every X as hi + lo bf16); "auto" or unset is
 * the default. round and split are refused where the bf16 kernels cannot run. Sets *bf16 (NULL:
 * widen) and *x (CPU_BF16_X_*) and returns 0, or -1 with err set. */
static int bf16_choice(const cpu_gemm_isa *isa, int own_linear, const cpu_gemm_bf16 **bf16,
                       int *x, char *err, size_t errlen)
{
    const char *env = getenv("VITCL_CPU_BF16");
    const cpu_gemm_bf16 *have =
        own_linear && isa && isa == cpu_gemm_isa_avx512() ? cpu_gemm_bf16_avx512() : NULL;
    *bf16 = NULL;
    *x = CPU_BF16_X_AUTO;
    if (!env || !env[0] || strcmp(env, "auto") == 0) {
        *bf16 = have;
        return 0;
    }
    if (strcmp(env, "widen") == 0)
        return 0;
    int forced = strcmp(env, "round") == 0   ? CPU_BF16_X_ROUND
                 : strcmp(env, "split") == 0 ? CPU_BF16_X_SPLIT
                                             : -1;
    if (forced >= 0 && have) {
        *bf16 = have;
        *x = forced;
        return 0;
    }
    if (err && errlen) {
        if (forced >= 0)
            snprintf(err, errlen,
                     "cpu plugin: VITCL_CPU_BF16='%s' needs AVX512-BF16 and linear on the own "
                     "AVX-512 GEMM, which this CPU or VITCL_CPU_GEMM does not give",
                     env);
        else
            snprintf(err, errlen,
                     "cpu plugin: VITCL_CPU_BF16='%s' is not one of auto, widen, round, split",
                     env);
    }
    return -1;
}

/* Whether linear on a bf16 weight runs on AMX tiles: where the bf16 kernels run (bf16 not
 * NULL) and the CPU, the OS and Linux's permission give AMX (cpu_gemm_amx_table), unless
 * VITCL_CPU_AMX = "off"; "on" refuses a context where AMX cannot run, naming why; "auto" or
 * unset is the default. Sets *amx (NULL: the AVX512-BF16 kernels) and returns 0, or -1 with err
 * set. */
static int amx_choice(const cpu_gemm_bf16 *bf16, const cpu_gemm_amx **amx, char *err,
                      size_t errlen)
{
    const char *env = getenv("VITCL_CPU_AMX");
    *amx = NULL;
    int on = env && strcmp(env, "on") == 0;
    if (env && env[0] && !on && strcmp(env, "auto") != 0 && strcmp(env, "off") != 0) {
        if (err && errlen)
            snprintf(err, errlen, "cpu plugin: VITCL_CPU_AMX='%s' is not one of auto, on, off",
                     env);
        return -1;
    }
    if (env && strcmp(env, "off") == 0)
        return 0;
    const char *why = NULL;
    const cpu_gemm_amx *have = bf16 ? cpu_gemm_amx_table(&why) : NULL;
    if (!bf16)
        why = "bf16 products are off (VITCL_CPU_BF16=widen, no AVX512-BF16, or linear not on "
              "the own AVX-512 GEMM)";
    if (have || !on) {
        *amx = have;
        return 0;
    }
    if (err && errlen)
        snprintf(err, errlen, "cpu plugin: VITCL_CPU_AMX=on but AMX cannot run: %s", why);
    return -1;
}

/* Which bf16 dot-product hardware the CPU and the OS have: bit 0 AVX512-BF16 (CPUID.7.1:EAX[5],
 * with the OS saving the AVX-512 state), bit 1 AMX-BF16 (CPUID.7.0:EDX[22], with the OS saving
 * the tile state), for the capability bit; the kernels check what they need themselves
 * (cpu_gemm_bf16_avx512, cpu_gemm_amx_table, which also asks Linux for the tile permission). */
static unsigned bf16_hardware(void)
{
    unsigned found = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    uint64_t xcr0 = cpu_xcr0();
    int zmm_state = (xcr0 & CPU_XCR0_ZMM) == CPU_XCR0_ZMM;
    int tile_state = (xcr0 & CPU_XCR0_TILE) == CPU_XCR0_TILE;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5)) && zmm_state)
        found |= 1;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 22)) && tile_state)
        found |= 2;
#endif
    return found;
}

/* precision_notes for a linear GEMM on OpenBLAS (own_linear 0) or the own kernels, with the
 * bf16 kernels taking X as bf16_x (bf16 not NULL) or not at all (own512: linear is on the own
 * AVX-512 kernels). Fits the 256 bytes. */
static void precision_notes(char *out, size_t len, int own_linear, int own512, unsigned hw,
                            const cpu_gemm_bf16 *bf16, int bf16_x, const cpu_gemm_amx *amx)
{
    if (bf16) { /* only with the own GEMM */
        const char *x = bf16_x == CPU_BF16_X_ROUND ? "every X rounded to bf16"
                        : bf16_x == CPU_BF16_X_SPLIT ? "every X as hi+lo bf16"
                        : amx ? "X rounded to bf16; fused QKV (n>k, no GELU) X as hi+lo bf16"
                              : "X rounded to bf16; fused QKV (n>k, no GELU) and race-widened "
                                "classes fp32";
        snprintf(out, len,
                 "bf16: bf16 weights, %s products, fp32 sums, %s "
                 "(VITCL_CPU_BF16=widen: all fp32). fp16: weights widened to fp32 as packed, "
                 "X not rounded, fp32 products. Other ops fp32",
                 amx ? "AMX-BF16 tile" : "AVX512-BF16", x);
        return;
    }
    const char *how = own_linear ? "widened to fp32 as the own GEMM packs them"
                                 : "widened to fp32 per block of rows for OpenBLAS";
    const char *why = hw == 0   ? "this CPU has no AVX512-BF16 or AMX-BF16"
                      : hw == 2 ? "this CPU has AMX-BF16 without AVX512-BF16, which the "
                                  "plugin's AMX path needs"
                      : own512  ? "AVX512-BF16 unused: VITCL_CPU_BF16=widen"
                                : "AVX512-BF16 unused: linear not on the own AVX-512 GEMM";
    snprintf(out, len,
             "bf16, fp16: linear weights stored in 16 bits (RNE), %s; inputs not rounded, "
             "products and sums fp32 (%s); other ops fp32",
             how, why);
}

static vitcl_status cpu_device_info(void *state, int index, vitcl_device_info *info)
{
    const cpu_state *s = state;
    if (!s || index != 0 || !info || info->struct_size == 0)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_device_info full;
    memset(&full, 0, sizeof full);
    full.struct_size = info->struct_size;
    full.type = VITCL_DEVICE_CPU;
    snprintf(full.name, sizeof full.name, "%s", s->model);
    snprintf(full.vendor, sizeof full.vendor, "vitcl");
    char *config = openblas_get_config();
    snprintf(full.driver, sizeof full.driver, "%s", config ? config : "OpenBLAS");
    snprintf(full.platform, sizeof full.platform, "host CPU, OpenBLAS + pthreads");
    full.global_mem_bytes = s->mem_bytes;
    full.max_alloc_bytes = s->mem_bytes;
    full.compute_units = (uint32_t)s->cores;
    unsigned hw = bf16_hardware();
    full.caps = VITCL_CAP_HOST_UNIFIED | VITCL_CAP_ZERO_COPY_WRAP | VITCL_CAP_PROFILING |
                VITCL_CAP_FP64 | (hw ? VITCL_CAP_BF16 : 0);
    full.precisions = VITCL_PRECISION_BIT(VITCL_PRECISION_FP32) |
                      VITCL_PRECISION_BIT(VITCL_PRECISION_BF16) |
                      VITCL_PRECISION_BIT(VITCL_PRECISION_FP16);
    char *core = openblas_get_corename();
    const cpu_gemm_isa *isa = NULL;
    int own_linear = 0, race = 0, onednn = 0;
    if (gemm_choice(&isa, &own_linear, &race, &onednn, NULL, 0) < 0)
        isa = NULL, own_linear = 0;
    const cpu_gemm_bf16 *bf16 = NULL;
    int bf16_x = CPU_BF16_X_AUTO;
    if (bf16_choice(isa, own_linear, &bf16, &bf16_x, NULL, 0) < 0)
        bf16 = NULL;
    const cpu_gemm_amx *amx = NULL;
    if (amx_choice(bf16, &amx, NULL, 0) < 0)
        amx = NULL;
    cpu_caches caches;
    cpu_cache_sizes(&caches);
    cpu_gemm_plan plan = {0};
    if (isa)
        cpu_gemm_plan_make(&plan, isa, &caches);
    snprintf(full.extra, sizeof full.extra,
             "linear GEMM %s%s, attention %s%s (VITCL_CPU_GEMM overrides); caches L1d %zu KiB, "
             "L2 %zu KiB, L3 %zu KiB (%s); depth block %zu; OpenBLAS core %s; %d threads "
             "(VITCL_CPU_THREADS lowers it)",
             own_linear ? "own " : "OpenBLAS", own_linear ? isa->name : "",
             isa ? "own " : "plain C", isa ? isa->name : "", caches.l1d >> 10, caches.l2 >> 10,
             caches.l3 >> 10, caches.source[1], plan.kc, core ? core : "unknown", s->cores);
    if (race) {
        size_t used = strlen(full.extra);
        if (used + 3 < sizeof full.extra) {
            memcpy(full.extra + used, "; ", 3);
            cpu_gemm_race_describe(full.extra + used + 2, sizeof full.extra - used - 2);
        }
    }
    int own512 = own_linear && isa && isa == cpu_gemm_isa_avx512();
    precision_notes(full.precision_notes, sizeof full.precision_notes, own_linear, own512, hw,
                    bf16, bf16_x, amx);
    size_t n = info->struct_size < sizeof full ? info->struct_size : sizeof full;
    memcpy(info, &full, n);
    return VITCL_OK;
}

/* Thread count: VITCL_CPU_THREADS when set (1..CPU_MAX_THREADS), else the online cores; at most
 * the online cores either way. More threads than cores only time-slice, and each is an OpenBLAS
 * worker too (openblas_set_num_threads grows its pool): 64+ of them under a capped address space
 * left a process that finished but could not exit. */
static int thread_count(const cpu_state *s, char *err, size_t errlen)
{
    const char *env = getenv("VITCL_CPU_THREADS");
    if (!env || !env[0])
        return s->cores;
    char *end = NULL;
    errno = 0;
    long v = strtol(env, &end, 10);
    if (errno != 0 || end == env || *end != '\0' || v < 1 || v > CPU_MAX_THREADS) {
        if (err && errlen)
            snprintf(err, errlen,
                     "cpu plugin: VITCL_CPU_THREADS='%s' is not a thread count in 1..%d", env,
                     CPU_MAX_THREADS);
        return -1;
    }
    return v > s->cores ? s->cores : (int)v;
}

static void cpu_context_destroy(vitcl_context *ctx);

static vitcl_status cpu_context_create(void *state, int device_index, vitcl_context **out,
                                       char *err, size_t errlen)
{
    const cpu_state *s = state;
    if (!s || device_index != 0 || !out) {
        if (err && errlen)
            snprintf(err, errlen, "cpu plugin: no device %d (it has one, device 0)",
                     device_index);
        return VITCL_ERR_NOT_FOUND;
    }
    int threads = thread_count(s, err, errlen);
    if (threads < 0)
        return VITCL_ERR_INVALID_ARGUMENT;
    const cpu_gemm_isa *isa = NULL;
    int own_linear = 0, race = 0, onednn = 0;
    if (gemm_choice(&isa, &own_linear, &race, &onednn, err, errlen) < 0)
        return VITCL_ERR_INVALID_ARGUMENT;
    const cpu_gemm_bf16 *bf16 = NULL;
    int bf16_x = CPU_BF16_X_AUTO;
    if (bf16_choice(isa, own_linear, &bf16, &bf16_x, err, errlen) < 0)
        return VITCL_ERR_INVALID_ARGUMENT;
    const cpu_gemm_amx *amx = NULL;
    if (amx_choice(bf16, &amx, err, errlen) < 0)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_context *ctx = calloc(1, sizeof *ctx);
    cpu_pool *pool = ctx ? cpu_pool_create(threads) : NULL;
    if (!pool) {
        free(ctx);
        if (err && errlen)
            snprintf(err, errlen, "cpu plugin: cannot create a context with %d threads on '%s'",
                     threads, s->model);
        return VITCL_ERR_OUT_OF_MEMORY;
    }
    ctx->device_index = device_index;
    ctx->nthreads = threads;
    ctx->pool = pool;
    if (isa) {
        cpu_caches caches;
        cpu_cache_sizes(&caches);
        cpu_gemm_plan_make(&ctx->gemm, isa, &caches);
        ctx->gemm.linear = own_linear;
        if (bf16)
            cpu_gemm_plan_bf16(&ctx->gemm, bf16, bf16_x, amx);
    }
    ctx->gemm.race = race;
    ctx->gemm.onednn = onednn;
    /* OpenBLAS runs only while the pool sleeps, so both use the same count (cpu_internal.h). */
    openblas_set_num_threads(threads);
    vitcl_status st = cpu_selfcheck(ctx, err, errlen);
    if (st != VITCL_OK) {
        cpu_context_destroy(ctx);
        return st;
    }
    *out = ctx;
    return VITCL_OK;
}

static void cpu_context_destroy(vitcl_context *ctx)
{
    if (!ctx)
        return;
    cpu_pool_destroy(ctx->pool);
    for (int t = 0; t < CPU_MAX_THREADS; t++)
        free(ctx->scratch[t].data);
    free(ctx->shared);
    free(ctx->packed_x);
    free(ctx->wide);
    cpu_onednn_destroy(ctx->dnnl);
    free(ctx);
}

static const char *cpu_last_error(vitcl_context *ctx)
{
    return ctx ? ctx->err : "cpu plugin: NULL context";
}

static vitcl_status cpu_synchronize(vitcl_context *ctx)
{
    /* Every op runs to completion before it returns. */
    return ctx ? VITCL_OK : VITCL_ERR_INVALID_ARGUMENT;
}

static vitcl_status cpu_profiling(vitcl_context *ctx, int enable)
{
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    ctx->profiling = enable != 0;
    return VITCL_OK;
}

static size_t cpu_profile_drain(vitcl_context *ctx, vitcl_op_timing *out, size_t max)
{
    if (!ctx || !out)
        return 0;
    size_t n = ctx->n_timings < max ? ctx->n_timings : max;
    for (size_t i = 0; i < n; i++)
        plugin_timing_put(out, i, ctx->timings[i].op, ctx->timings[i].start_ns,
                          ctx->timings[i].end_ns);
    memmove(ctx->timings, ctx->timings + n, (ctx->n_timings - n) * sizeof *out);
    ctx->n_timings -= n;
    return n;
}

/* The 1.1 fields of shape (struct_size, precision, dtype) are there: a host of minor >= 1 that
 * sized them in. */
static int shape_has_1_1(const vitcl_op_shape *shape)
{
    return host_minor >= 1 && shape->struct_size >= offsetof(vitcl_op_shape, dtype) +
                                                       sizeof shape->dtype;
}

static int cpu_supports(vitcl_context *ctx, vitcl_op op, const vitcl_op_shape *shape)
{
    (void)ctx;
    if (!shape || (unsigned)op >= VITCL_OP_COUNT_)
        return 0;
    int ints = shape->m <= INT_MAX && shape->n <= INT_MAX && shape->k <= INT_MAX;
    switch (op) {
    case VITCL_OP_LINEAR_PACK_WEIGHT:
        return 0; /* not implemented (cpu_linear.c says why) */
    case VITCL_OP_PACK_WEIGHT_HOST:
        return shape_has_1_1(shape) && ints &&
               cpu_pack_host_supports(shape->n, shape->k, shape->dtype, shape->precision);
    case VITCL_OP_LINEAR:
        if (shape->flags & ~(uint32_t)(VITCL_LINEAR_GELU | VITCL_LINEAR_PACKED_W))
            return 0; /* a flag this plugin does not know, or VITCL_LINEAR_RESIDUAL (1.2):
                       * the GEMM sums its depth blocks in Y itself, and the host's separate
                       * add costs a pass over Y (docs/architecture.md, 1.1 to 1.2) */
        /* A packed W only comes from pack_weight_host (1.1), in a known precision. */
        if ((shape->flags & VITCL_LINEAR_PACKED_W) &&
            (!shape_has_1_1(shape) || shape->precision >= VITCL_PRECISION_COUNT_))
            return 0;
        return ints; /* OpenBLAS takes int dimensions */
    case VITCL_OP_GEMM_BATCHED:
        return ints;
    default:
        return 1;
    }
}

static const vitcl_op_table cpu_ops = {
    .struct_size = sizeof(vitcl_op_table),
    .linear = cpu_linear,
    .gemm_batched = cpu_gemm_batched,
    .layernorm = cpu_layernorm,
    .gelu = cpu_gelu,
    .add = cpu_add_op,
    .softmax = cpu_softmax,
    .attention = cpu_attention,
    .patch_embed = cpu_patch_embed,
    .supports = cpu_supports,
    .pack_weight_host = cpu_pack_weight_host,
};

static const vitcl_backend_desc cpu_desc = {
    .struct_size = sizeof(vitcl_backend_desc),
    .abi_major = VITCL_ABI_MAJOR,
    .abi_minor = VITCL_ABI_MINOR,
    .name = "cpu",
    .version = CPU_PLUGIN_VERSION,
    .description = "CPU backend: OpenBLAS GEMMs, threaded C for the rest",
    .auto_rank = 20,
    .init = cpu_init,
    .shutdown = cpu_shutdown,
    .device_count = cpu_device_count,
    .device_info = cpu_device_info,
    .context_create = cpu_context_create,
    .context_destroy = cpu_context_destroy,
    .last_error = cpu_last_error,
    .synchronize = cpu_synchronize,
    .buffer_alloc = cpu_buffer_alloc,
    .buffer_free = cpu_buffer_free,
    .buffer_write = cpu_buffer_write,
    .buffer_read = cpu_buffer_read,
    .buffer_copy = cpu_buffer_copy,
    .buffer_wrap_host = cpu_buffer_wrap_host,
    .ops = &cpu_ops,
    .profiling = cpu_profiling,
    .profile_drain = cpu_profile_drain,
};

VITCL_PLUGIN_EXPORT const vitcl_backend_desc *vitcl_plugin_entry(uint32_t host_abi_major,
                                                                  uint32_t host_abi_minor);

VITCL_PLUGIN_EXPORT const vitcl_backend_desc *vitcl_plugin_entry(uint32_t host_abi_major,
                                                                  uint32_t host_abi_minor)
{
    if (host_abi_major != VITCL_ABI_MAJOR)
        return NULL;
    host_minor = host_abi_minor;
    return &cpu_desc;
}
