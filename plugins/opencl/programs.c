/* plugins/opencl/programs.c - kernel sources and program builds with the on-disk cache.
 *
 * Each program is the concatenation of clkernels files (common.cl first). Sources come from the
 * table embedded at build time, or, when VITCL_CL_KERNEL_DIR is set, from files of that folder
 * (for kernel development). The cache key is the SHA-256 of the program's source text, the build
 * options and the device identity (name, device version, driver version, platform name and
 * version); a valid entry holds the driver's program binary. A binary the driver refuses is
 * removed and the program rebuilt from source.
 *
 * attention_tiled's two programs get -DAT_SUBGROUPS (plus the -cl-std cl_khr_subgroups needs)
 * where the device reports subgroup built-ins and VITCL_CL_SUBGROUPS (auto | on | off) allows:
 * with auto a failed subgroup build falls back to the plain one (ctx->sg_note says why), with
 * on it fails the context; an injected build fault is never retried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_sources.h"
#include "ocl.h"

#define BUILD_OPTIONS "-DMAX_HEAD_DIM=128"
#define BUILD_LOG_MAX 2400

typedef struct program_def {
    const char *name;
    const char *files[4];
    const char *options; /* build options after BUILD_OPTIONS, or NULL */
} program_def;

static const program_def program_defs[OCL_P_COUNT] = {
    [OCL_P_LAYERNORM] = {"layernorm", {"common.cl", "reduce.cl", "layernorm.cl", NULL}},
    [OCL_P_SOFTMAX] = {"softmax", {"common.cl", "reduce.cl", "softmax.cl", NULL}},
    [OCL_P_BIAS_GELU] = {"bias_gelu", {"common.cl", "bias_gelu.cl", NULL, NULL}},
    [OCL_P_ADD] = {"add", {"common.cl", "add.cl", NULL, NULL}},
    [OCL_P_ATTENTION] = {"attention", {"common.cl", "attention.cl", NULL, NULL}},
    [OCL_P_PATCH_EMBED] = {"patch_embed", {"common.cl", "patch_embed.cl", NULL, NULL}},
    [OCL_P_GEMM_PACK] = {"gemm_pack", {"common.cl", "gemm.cl", NULL, NULL}},
    [OCL_P_GEMM_MB6] = {"gemm_mb6", {"common.cl", "gemm.cl", NULL, NULL}, "-DGEMM_MB=6"},
    [OCL_P_GEMM_MB8] = {"gemm_mb8", {"common.cl", "gemm.cl", NULL, NULL}, "-DGEMM_MB=8"},
    [OCL_P_GEMM_MB12] = {"gemm_mb12", {"common.cl", "gemm.cl", NULL, NULL}, "-DGEMM_MB=12"},
    [OCL_P_GEMM_T64] = {"gemm_t64", {"common.cl", "gemm.cl", "gemm_tiled.cl", NULL},
                        "-DGT_LX=8 -DGT_LY=8"},
    [OCL_P_GEMM_T256] = {"gemm_t256", {"common.cl", "gemm.cl", "gemm_tiled.cl", NULL},
                         "-DGT_LX=16 -DGT_LY=16"},
#define GEMM16_PROGRAMS(P, tag, opt)                                                            \
    [OCL_P_GEMM_##P##_MB6] = {"gemm_mb6_" tag, {"common.cl", "gemm.cl", NULL, NULL},            \
                              "-DGEMM_MB=6 " opt},                                              \
    [OCL_P_GEMM_##P##_MB8] = {"gemm_mb8_" tag, {"common.cl", "gemm.cl", NULL, NULL},            \
                              "-DGEMM_MB=8 " opt},                                              \
    [OCL_P_GEMM_##P##_MB12] = {"gemm_mb12_" tag, {"common.cl", "gemm.cl", NULL, NULL},          \
                               "-DGEMM_MB=12 " opt},                                            \
    [OCL_P_GEMM_##P##_T64] = {"gemm_t64_" tag, {"common.cl", "gemm.cl", "gemm_tiled.cl", NULL}, \
                              "-DGT_LX=8 -DGT_LY=8 " opt},                                      \
    [OCL_P_GEMM_##P##_T256] = {"gemm_t256_" tag,                                                \
                               {"common.cl", "gemm.cl", "gemm_tiled.cl", NULL},                 \
                               "-DGT_LX=16 -DGT_LY=16 " opt},
    GEMM16_PROGRAMS(BF16, "bf16", "-DVITCL_WEIGHT_BF16")
    GEMM16_PROGRAMS(F16, "fp16", "-DVITCL_WEIGHT_FP16")
    [OCL_P_ATT_T64] = {"attention_t64", {"common.cl", "attention_tiled.cl", NULL, NULL},
                       "-DAT_D=64"},
    [OCL_P_ATT_T128] = {"attention_t128", {"common.cl", "attention_tiled.cl", NULL, NULL},
                        "-DAT_D=128"},
    [OCL_P_GEMM_GEN] = {"gemm_general", {"common.cl", "gemm_general.cl", NULL, NULL}},
};

typedef struct kernel_def {
    ocl_program_id program;
    const char *name;
} kernel_def;

static const kernel_def kernel_defs[OCL_K_COUNT] = {
    [OCL_K_LAYERNORM] = {OCL_P_LAYERNORM, "layernorm"},
    [OCL_K_SOFTMAX] = {OCL_P_SOFTMAX, "softmax"},
    [OCL_K_BIAS_ACT] = {OCL_P_BIAS_GELU, "bias_act"},
    [OCL_K_GELU] = {OCL_P_BIAS_GELU, "gelu"},
    [OCL_K_ADD] = {OCL_P_ADD, "add_bcast"},
    [OCL_K_ATTENTION] = {OCL_P_ATTENTION, "attention"},
    [OCL_K_PATCH_EMBED] = {OCL_P_PATCH_EMBED, "patch_embed"},
    [OCL_K_PATCH_UNFOLD] = {OCL_P_PATCH_EMBED, "patch_unfold"},
    [OCL_K_ATT_KT] = {OCL_P_ATTENTION, "attention_kt"},
    [OCL_K_ATT64] = {OCL_P_ATTENTION, "attention64"},
    [OCL_K_PACK_W] = {OCL_P_GEMM_PACK, "pack_w_panels"},
    [OCL_K_GEMM_MB6] = {OCL_P_GEMM_MB6, "gemm_packed"},
    [OCL_K_GEMM_MB8] = {OCL_P_GEMM_MB8, "gemm_packed"},
    [OCL_K_GEMM_MB12] = {OCL_P_GEMM_MB12, "gemm_packed"},
    [OCL_K_GEMM_T64] = {OCL_P_GEMM_T64, "gemm_tiled"},
    [OCL_K_GEMM_T256] = {OCL_P_GEMM_T256, "gemm_tiled"},
#define GEMM16_KERNELS(P)                                                                       \
    [OCL_K_GEMM_##P##_MB6] = {OCL_P_GEMM_##P##_MB6, "gemm_packed"},                              \
    [OCL_K_GEMM_##P##_MB8] = {OCL_P_GEMM_##P##_MB8, "gemm_packed"},                              \
    [OCL_K_GEMM_##P##_MB12] = {OCL_P_GEMM_##P##_MB12, "gemm_packed"},                            \
    [OCL_K_GEMM_##P##_T64] = {OCL_P_GEMM_##P##_T64, "gemm_tiled"},                               \
    [OCL_K_GEMM_##P##_T256] = {OCL_P_GEMM_##P##_T256, "gemm_tiled"},
    GEMM16_KERNELS(BF16)
    GEMM16_KERNELS(F16)
    [OCL_K_ATT_T64] = {OCL_P_ATT_T64, "attention_tiled"},
    [OCL_K_ATT_T128] = {OCL_P_ATT_T128, "attention_tiled"},
    [OCL_K_GEMM_GEN] = {OCL_P_GEMM_GEN, "gemm_general"},
};

static int is_att_tiled(ocl_program_id id)
{
    return id == OCL_P_ATT_T64 || id == OCL_P_ATT_T128;
}

/* The full build options of program id on ctx (written into buf). */
static const char *program_options(const vitcl_context *ctx, ocl_program_id id, char *buf,
                                   size_t len)
{
    const program_def *def = &program_defs[id];
    int sg = is_att_tiled(id) && ctx->att_sg;
    snprintf(buf, len, "%s%s%s%s%s", BUILD_OPTIONS, def->options ? " " : "",
             def->options ? def->options : "", sg ? " -DAT_SUBGROUPS " : "",
             sg ? ctx->dev->sg_options : "");
    return buf;
}

/* ctx->att_sg and sg_note from VITCL_CL_SUBGROUPS and the device's extensions. */
static vitcl_status subgroups_init(vitcl_context *ctx, int *required)
{
    const char *v = getenv("VITCL_CL_SUBGROUPS");
    const char *dev = ctx->dev->info.name;
    *required = v && !strcmp(v, "on");
    ctx->att_sg = 0;
    ctx->sg_note[0] = '\0';
    if (v && *v && strcmp(v, "auto") && strcmp(v, "on") && strcmp(v, "off"))
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl on %s: VITCL_CL_SUBGROUPS='%s' is not one of auto, on, off", dev,
                        v);
    if (v && !strcmp(v, "off")) {
        snprintf(ctx->sg_note, sizeof ctx->sg_note, "off (VITCL_CL_SUBGROUPS=off)");
        return VITCL_OK;
    }
    if (!ctx->dev->subgroups) {
        if (*required)
            return ocl_fail(ctx, VITCL_ERR_UNSUPPORTED,
                            "opencl on %s: VITCL_CL_SUBGROUPS=on, but the device reports neither "
                            "cl_intel_subgroups nor cl_khr_subgroups with OpenCL C 2.0 or later",
                            dev);
        snprintf(ctx->sg_note, sizeof ctx->sg_note,
                 "not reported (no cl_intel_subgroups, no cl_khr_subgroups with OpenCL C 2.0+)");
        return VITCL_OK;
    }
    ctx->att_sg = 1;
    return VITCL_OK;
}

/* Reads a whole text file (malloc'd, NUL-terminated); fails naming the path. */
static vitcl_status read_text(vitcl_context *ctx, const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ocl_fail(ctx, VITCL_ERR_IO, "opencl: cannot open kernel source %s", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            if (cap > ((size_t)64 << 20)) {
                free(buf);
                fclose(f);
                return ocl_fail(ctx, VITCL_ERR_LIMIT, "opencl: kernel source %s exceeds 64 MiB",
                                path);
            }
            size_t ncap = cap ? cap * 2 : 16384;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return ocl_fail(ctx, VITCL_ERR_OUT_OF_MEMORY,
                                "opencl: out of memory reading %s", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return ocl_fail(ctx, VITCL_ERR_IO, "opencl: error reading kernel source %s", path);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return VITCL_OK;
}

/* The program's full source text (malloc'd). */
static vitcl_status program_source(vitcl_context *ctx, const program_def *def, char **out)
{
    const char *dir = getenv("VITCL_CL_KERNEL_DIR");
    char *all = NULL;
    size_t total = 0;
    for (int i = 0; i < 4 && def->files[i]; i++) {
        char *owned = NULL;
        const char *text = NULL;
        size_t len = 0;
        if (dir && *dir) {
            char path[OCL_PATH_MAX];
            int n = snprintf(path, sizeof path, "%s/%s", dir, def->files[i]);
            if (n < 0 || (size_t)n >= sizeof path) {
                free(all);
                return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                                "opencl: VITCL_CL_KERNEL_DIR path too long");
            }
            vitcl_status s = read_text(ctx, path, &owned, &len);
            if (s != VITCL_OK) {
                free(all);
                return s;
            }
            text = owned;
        } else {
            for (size_t j = 0; j < ocl_embedded_source_count; j++)
                if (strcmp(ocl_embedded_sources[j].name, def->files[i]) == 0) {
                    text = ocl_embedded_sources[j].text;
                    len = ocl_embedded_sources[j].len;
                }
            if (!text) {
                free(all);
                return ocl_fail(ctx, VITCL_ERR_INTERNAL,
                                "opencl: kernel source %s is not embedded in the plugin",
                                def->files[i]);
            }
        }
        char *grown = realloc(all, total + len + 2);
        if (!grown) {
            free(owned);
            free(all);
            return ocl_fail(ctx, VITCL_ERR_OUT_OF_MEMORY,
                            "opencl: out of memory assembling program %s", def->name);
        }
        all = grown;
        memcpy(all + total, text, len);
        total += len;
        all[total++] = '\n';
        all[total] = '\0';
        free(owned);
    }
    *out = all;
    return VITCL_OK;
}

void ocl_hash_device(ocl_hasher *h, const ocl_device *dev)
{
    ocl_hash_str(h, dev->info.name);
    ocl_hash_str(h, dev->device_version);
    ocl_hash_str(h, dev->info.driver);
    ocl_hash_str(h, dev->platform_name);
    ocl_hash_str(h, dev->platform_version);
}

vitcl_status ocl_hash_all_sources(vitcl_context *ctx, ocl_hasher *h)
{
    ocl_hash_str(h, BUILD_OPTIONS);
    for (int p = 0; p < OCL_P_COUNT; p++) {
        char opts[256];
        ocl_hash_str(h, program_options(ctx, (ocl_program_id)p, opts, sizeof opts));
        char *src = NULL;
        vitcl_status s = program_source(ctx, &program_defs[p], &src);
        if (s != VITCL_OK)
            return s;
        ocl_hash_str(h, src);
        free(src);
    }
    return VITCL_OK;
}

/* Fails naming the program, device, platform and status, with the build log of prog (NULL:
 * the build never ran, as for an injected fault). */
static vitcl_status build_failure(vitcl_context *ctx, const program_def *def, cl_program prog,
                                  cl_int e)
{
    char *log = NULL;
    size_t need = 0;
    if (prog && clGetProgramBuildInfo(prog, ctx->dev->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &need) ==
            CL_SUCCESS &&
        need > 0 && (log = malloc(need + 1)) != NULL) {
        if (clGetProgramBuildInfo(prog, ctx->dev->id, CL_PROGRAM_BUILD_LOG, need, log, NULL) !=
            CL_SUCCESS)
            need = 0;
        log[need] = '\0';
    }
    const char *text = log && *log ? log
                       : prog      ? "(the driver gave no build log)"
                                   : "(none: the build was not run)";
    size_t tl = strlen(text);
    const char *more = tl > BUILD_LOG_MAX ? "\n[build log truncated]" : "";
    vitcl_status s = ocl_fail(
        ctx, VITCL_ERR_DEVICE,
        "opencl: building kernel program '%s' for device %s (%s) failed: %s (%d); build log:\n"
        "%.*s%s",
        def->name, ctx->dev->info.name, ctx->dev->platform_name, ocl_cl_error_name(e), (int)e,
        (int)(tl > BUILD_LOG_MAX ? BUILD_LOG_MAX : tl), text, more);
    free(log);
    return s;
}

/* Tries the cache entry; returns the built program or NULL (entry missing or refused). */
static cl_program load_cached(vitcl_context *ctx, const unsigned char key[OCL_HASH_LEN],
                              const char *options)
{
    unsigned char *bin = NULL;
    size_t len = 0;
    int r = ocl_cache_read(ctx->cache_dir, "prog", key, &bin, &len);
    if (r < 0)
        ctx->stats.cache_rejected++;
    if (r != 1)
        return NULL;
    cl_int e = CL_SUCCESS, bin_status = CL_SUCCESS;
    const unsigned char *bins[1] = {bin};
    cl_program prog = len ? clCreateProgramWithBinary(ctx->cl, 1, &ctx->dev->id, &len, bins,
                                                      &bin_status, &e)
                          : NULL;
    free(bin);
    if (prog && e == CL_SUCCESS && bin_status == CL_SUCCESS) {
        /* An injected failure takes the path of a refused binary: rebuilt from source. */
        cl_int be = ocl_fault_hit(&ctx->fault, OCL_FAULT_BUILD)
                        ? (cl_int)ocl_fault_status(OCL_FAULT_BUILD)
                        : clBuildProgram(prog, 1, &ctx->dev->id, options, NULL, NULL);
        ctx->fault.note[0] = '\0';
        if (be == CL_SUCCESS)
            return prog;
    }
    if (prog)
        clReleaseProgram(prog);
    ctx->stats.cache_rejected++;
    ocl_cache_remove(ctx->cache_dir, "prog", key);
    return NULL;
}

static void store_cached(vitcl_context *ctx, cl_program prog,
                         const unsigned char key[OCL_HASH_LEN])
{
    size_t len = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS ||
        len == 0)
        return;
    unsigned char *bin = malloc(len);
    if (!bin)
        return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS)
        ocl_cache_write(ctx->cache_dir, "prog", key, bin, len);
    free(bin);
}

static vitcl_status build_one(vitcl_context *ctx, ocl_program_id id)
{
    const program_def *def = &program_defs[id];
    char opts[256];
    const char *options = program_options(ctx, id, opts, sizeof opts);
    char *src = NULL;
    vitcl_status s = program_source(ctx, def, &src);
    if (s != VITCL_OK)
        return s;

    unsigned char key[OCL_HASH_LEN];
    int have_key = 0;
    ocl_hasher *h = ocl_hash_begin();
    if (h) {
        ocl_hash_str(h, "vitcl-opencl-program v1");
        ocl_hash_str(h, src);
        ocl_hash_str(h, options);
        ocl_hash_device(h, ctx->dev);
        have_key = ocl_hash_end(h, key) == 0;
    }
    if (ctx->cache_usable && have_key) {
        cl_program prog = load_cached(ctx, key, options);
        if (prog) {
            ctx->programs[id] = prog;
            ctx->stats.cache_hits++;
            free(src);
            return VITCL_OK;
        }
    }

    cl_int e = CL_SUCCESS;
    const char *srcs[1] = {src};
    cl_program prog = clCreateProgramWithSource(ctx->cl, 1, srcs, NULL, &e);
    free(src);
    if (!prog || e != CL_SUCCESS) {
        if (prog)
            clReleaseProgram(prog);
        return ocl_fail_cl(ctx, "context_create", "clCreateProgramWithSource", e);
    }
    int injected = ocl_fault_hit(&ctx->fault, OCL_FAULT_BUILD);
    e = injected ? (cl_int)ocl_fault_status(OCL_FAULT_BUILD)
                 : clBuildProgram(prog, 1, &ctx->dev->id, options, NULL, NULL);
    if (e != CL_SUCCESS) {
        s = build_failure(ctx, def, injected ? NULL : prog, e);
        clReleaseProgram(prog);
        return s;
    }
    ctx->stats.builds++;
    if (ctx->cache_usable && have_key)
        store_cached(ctx, prog, key);
    ctx->programs[id] = prog;
    return VITCL_OK;
}

/* attention_tiled's programs, with subgroups when ctx->att_sg; in auto mode a failed subgroup
 * build (not an injected one) is noted and both are built plain instead. */
static vitcl_status build_att_tiled(vitcl_context *ctx, int required)
{
    static const ocl_program_id ids[2] = {OCL_P_ATT_T64, OCL_P_ATT_T128};
    for (int i = 0; i < 2; i++) {
        vitcl_status s = build_one(ctx, ids[i]);
        if (s == VITCL_OK)
            continue;
        if (!ctx->att_sg || required || ctx->fault.note[0])
            return s;
        /* The first line of the message: the program, the device and the status. */
        snprintf(ctx->sg_note, sizeof ctx->sg_note, "%s build failed, plain kernels: %.*s",
                 ctx->dev->subgroups, (int)strcspn(ctx->err, "\n"), ctx->err);
        ctx->err[0] = '\0';
        ctx->att_sg = 0;
        for (int j = 0; j < i; j++) {
            clReleaseProgram(ctx->programs[ids[j]]);
            ctx->programs[ids[j]] = NULL;
        }
        i = -1; /* again, plain */
    }
    return VITCL_OK;
}

vitcl_status ocl_programs_build(vitcl_context *ctx)
{
    int required = 0;
    vitcl_status s = subgroups_init(ctx, &required);
    if (s != VITCL_OK)
        return s;
    for (int p = 0; p < OCL_P_COUNT; p++) {
        if (is_att_tiled((ocl_program_id)p))
            continue;
        if ((s = build_one(ctx, (ocl_program_id)p)) != VITCL_OK)
            return s;
    }
    if ((s = build_att_tiled(ctx, required)) != VITCL_OK)
        return s;
    for (int k = 0; k < OCL_K_COUNT; k++) {
        cl_int e = CL_SUCCESS;
        ctx->kernels[k] =
            clCreateKernel(ctx->programs[kernel_defs[k].program], kernel_defs[k].name, &e);
        if (!ctx->kernels[k] || e != CL_SUCCESS) {
            ctx->kernels[k] = NULL;
            return ocl_fail(ctx, VITCL_ERR_DEVICE,
                            "opencl: kernel '%s' of program '%s' on %s: clCreateKernel failed: "
                            "%s (%d)",
                            kernel_defs[k].name, program_defs[kernel_defs[k].program].name,
                            ctx->dev->info.name, ocl_cl_error_name(e), (int)e);
        }
    }
    /* Work-group sizes: what we want, capped by what the device and each compiled kernel
     * allow, as a power of two. The tiled kernels need exactly their compiled size: when the
     * device cannot give it, or their local memory does not fit, they are marked unfit. */
    size_t max_wg = ctx->max_wg;
    cl_ulong local_mem = ctx->local_mem;
    const char *capped = ctx->limits_note;
    for (int k = 0; k < OCL_K_COUNT; k++) {
        size_t kwg = 0;
        cl_ulong lmem = 0;
        if (clGetKernelWorkGroupInfo(ctx->kernels[k], ctx->dev->id, CL_KERNEL_WORK_GROUP_SIZE,
                                     sizeof kwg, &kwg, NULL) != CL_SUCCESS)
            kwg = 0;
        if (clGetKernelWorkGroupInfo(ctx->kernels[k], ctx->dev->id, CL_KERNEL_LOCAL_MEM_SIZE,
                                     sizeof lmem, &lmem, NULL) != CL_SUCCESS)
            lmem = 0;
        if (kwg == 0 || kwg > max_wg)
            kwg = max_wg;
        ctx->unfit[k][0] = '\0';
        if (ocl_kernel_is_tiled(k)) {
            size_t local[2];
            ocl_kernel_group(ctx, (ocl_kernel_id)k, local);
            const char *name = program_defs[kernel_defs[k].program].name;
            if (local[0] > ctx->dev->max_items[0] || local[1] > ctx->dev->max_items[1])
                snprintf(ctx->unfit[k], sizeof ctx->unfit[k],
                         "%s needs a %zux%zu work-group; CL_DEVICE_MAX_WORK_ITEM_SIZES is "
                         "%zux%zu", name, local[0], local[1], ctx->dev->max_items[0],
                         ctx->dev->max_items[1]);
            else if (local[0] * local[1] > kwg)
                snprintf(ctx->unfit[k], sizeof ctx->unfit[k],
                         "%s needs %zu work-items per group; CL_KERNEL_WORK_GROUP_SIZE is %zu%s",
                         name, local[0] * local[1], kwg, capped);
            else if (lmem > local_mem)
                snprintf(ctx->unfit[k], sizeof ctx->unfit[k],
                         "%s needs %llu bytes of local memory; CL_DEVICE_LOCAL_MEM_SIZE is "
                         "%llu%s",
                         name, (unsigned long long)lmem, (unsigned long long)local_mem, capped);
            continue;
        }
        size_t want = k == OCL_K_ATTENTION ? 32 : 64;
        if (ocl_kernel_is_gemm(k) || k == OCL_K_ATT64)
            want = 1; /* one register tile per work-group (see gemm.cl, attention.cl) */
        else if (k == OCL_K_ATT_KT || k == OCL_K_PACK_W)
            want = 16;
        if (want > ctx->dev->max_items[0])
            want = ctx->dev->max_items[0];
        while (want > kwg)
            want /= 2;
        if (k == OCL_K_LAYERNORM || k == OCL_K_SOFTMAX)
            while (ctx->row_wg > 1 && (ctx->row_wg > kwg || ctx->row_wg > ctx->dev->max_items[0]))
                ctx->row_wg /= 2;
        if (lmem > local_mem)
            return ocl_fail(ctx, VITCL_ERR_DEVICE,
                            "opencl: kernel '%s' on %s needs %llu bytes of local memory; "
                            "CL_DEVICE_LOCAL_MEM_SIZE is %llu%s: refusing this device",
                            kernel_defs[k].name, ctx->dev->info.name, (unsigned long long)lmem,
                            (unsigned long long)local_mem, capped);
        size_t p = 1;
        while (p * 2 <= want)
            p *= 2;
        ctx->group[k] = p;
    }
    return VITCL_OK;
}

void ocl_kernel_group(const vitcl_context *ctx, ocl_kernel_id k, size_t local[2])
{
    local[1] = 1;
    if (ocl_kernel_is_gemm(k) && ocl_gemm_variant(k) >= 3) {
        local[0] = local[1] = ocl_gemm_variant(k) == 3 ? 8 : 16; /* t64, t256 */
        return;
    }
    switch (k) {
    case OCL_K_ATT_T64:
    case OCL_K_ATT_T128: local[0] = 64; break;
    default: local[0] = ctx->group[k]; break;
    }
}

void ocl_programs_release(vitcl_context *ctx)
{
    for (int k = 0; k < OCL_K_COUNT; k++)
        if (ctx->kernels[k]) {
            clReleaseKernel(ctx->kernels[k]);
            ctx->kernels[k] = NULL;
        }
    for (int p = 0; p < OCL_P_COUNT; p++)
        if (ctx->programs[p]) {
            clReleaseProgram(ctx->programs[p]);
            ctx->programs[p] = NULL;
        }
}
