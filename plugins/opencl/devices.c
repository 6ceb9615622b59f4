/* plugins/opencl/devices.c - enumeration of every OpenCL platform and device.
 *
 * Capabilities come from device queries only (never from vendor or name strings): type from
 * CL_DEVICE_TYPE, fp16 from cl_khr_fp16, fp64 from cl_khr_fp64 or CL_DEVICE_DOUBLE_FP_CONFIG,
 * unified memory from CL_DEVICE_HOST_UNIFIED_MEMORY or a CPU device type, profiling from
 * CL_DEVICE_QUEUE_PROPERTIES.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl.h"

/* Reads a string query into buf (truncated to len - 1); "" when the query fails. */
static void dev_str(cl_device_id d, cl_device_info p, char *buf, size_t len)
{
    size_t need = 0;
    buf[0] = '\0';
    if (clGetDeviceInfo(d, p, 0, NULL, &need) != CL_SUCCESS || need == 0)
        return;
    char *tmp = malloc(need + 1);
    if (!tmp)
        return;
    if (clGetDeviceInfo(d, p, need, tmp, NULL) == CL_SUCCESS) {
        tmp[need] = '\0';
        ocl_copy_str(buf, len, tmp);
    }
    free(tmp);
}

static void plat_str(cl_platform_id pl, cl_platform_info p, char *buf, size_t len)
{
    size_t need = 0;
    buf[0] = '\0';
    if (clGetPlatformInfo(pl, p, 0, NULL, &need) != CL_SUCCESS || need == 0)
        return;
    char *tmp = malloc(need + 1);
    if (!tmp)
        return;
    if (clGetPlatformInfo(pl, p, need, tmp, NULL) == CL_SUCCESS) {
        tmp[need] = '\0';
        ocl_copy_str(buf, len, tmp);
    }
    free(tmp);
}

/* Allocates the extension string (caller frees); NULL when unavailable. */
static char *dev_extensions(cl_device_id d)
{
    size_t need = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &need) != CL_SUCCESS)
        return NULL;
    char *ext = malloc(need + 1);
    if (!ext)
        return NULL;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, need, ext, NULL) != CL_SUCCESS) {
        free(ext);
        return NULL;
    }
    ext[need] = '\0';
    return ext;
}

/* True when the space-separated list holds exactly `name`. */
static int has_word(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && (p = strstr(p, name)) != NULL; p += n) {
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    }
    return 0;
}

/* Appends s to buf (len bytes) if it fits entirely; returns 0 when it did not. */
static int append(char *buf, size_t len, const char *s)
{
    size_t used = strlen(buf), n = strlen(s);
    if (used + n + 1 > len)
        return 0;
    memcpy(buf + used, s, n + 1);
    return 1;
}

/* extra: versions, then the extension names (without "cl_"), as many as fit. */
static void fill_extra(ocl_device *od, const char *ext)
{
    char *extra = od->info.extra;
    char cver[128];
    size_t len = sizeof od->info.extra;
    dev_str(od->id, CL_DEVICE_OPENCL_C_VERSION, cver, sizeof cver);
    snprintf(extra, len, "%s; %s; driver %s", od->device_version, cver, od->info.driver);
    if (!ext)
        return;
    size_t count = 0;
    for (const char *p = ext; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        count++;
        while (*p && *p != ' ')
            p++;
    }
    char head[48];
    snprintf(head, sizeof head, "; %zu extensions:", count);
    if (!append(extra, len - 4, head))
        return;
    for (const char *p = ext; *p;) {
        while (*p == ' ')
            p++;
        const char *s = p;
        while (*p && *p != ' ')
            p++;
        if (p == s)
            break;
        char word[128];
        size_t wl = (size_t)(p - s);
        if (wl > 3 && strncmp(s, "cl_", 3) == 0) {
            s += 3;
            wl -= 3;
        }
        if (wl >= sizeof word - 1)
            wl = sizeof word - 2;
        word[0] = ' ';
        memcpy(word + 1, s, wl);
        word[wl + 1] = '\0';
        if (!append(extra, len - 4, word)) {
            append(extra, len, " ...");
            return;
        }
    }
}

static void describe(ocl_device *od)
{
    cl_device_id d = od->id;
    vitcl_device_info *info = &od->info;
    memset(info, 0, sizeof *info);
    info->struct_size = (uint32_t)sizeof *info;

    cl_device_type type = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    info->type = (type & CL_DEVICE_TYPE_GPU)           ? VITCL_DEVICE_GPU
                 : (type & CL_DEVICE_TYPE_ACCELERATOR) ? VITCL_DEVICE_ACCELERATOR
                 : (type & CL_DEVICE_TYPE_CPU)         ? VITCL_DEVICE_CPU
                                                       : VITCL_DEVICE_OTHER;
    dev_str(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    dev_str(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    dev_str(d, CL_DRIVER_VERSION, info->driver, sizeof info->driver);
    dev_str(d, CL_DEVICE_VERSION, od->device_version, sizeof od->device_version);
    plat_str(od->platform, CL_PLATFORM_NAME, od->platform_name, sizeof od->platform_name);
    plat_str(od->platform, CL_PLATFORM_VERSION, od->platform_version,
             sizeof od->platform_version);
    snprintf(info->platform, sizeof info->platform, "%.60s / %.60s", od->platform_name,
             od->platform_version);

    cl_ulong mem = 0, alloc = 0, local = 0;
    cl_uint cu = 0;
    size_t wg = 0;
    cl_bool unified = CL_FALSE;
    cl_command_queue_properties qp = 0;
    cl_device_fp_config dfp = 0;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof alloc, &alloc, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
    clGetDeviceInfo(d, CL_DEVICE_QUEUE_PROPERTIES, sizeof qp, &qp, NULL);
    clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof dfp, &dfp, NULL);
    info->global_mem_bytes = mem;
    info->max_alloc_bytes = alloc;
    info->compute_units = cu;
    od->max_wg = wg ? wg : 1;
    size_t items[3] = {0, 0, 0};
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items, items, NULL) != CL_SUCCESS)
        items[0] = items[1] = items[2] = 1;
    for (int i = 0; i < 3; i++)
        od->max_items[i] = items[i] ? items[i] : 1;
    od->local_mem = local;

    char *ext = dev_extensions(d);
    od->fp16 = ext && has_word(ext, "cl_khr_fp16");
    /* Subgroup built-ins: cl_intel_subgroups declares them in every OpenCL C version;
     * cl_khr_subgroups needs OpenCL C 2.0 or later and that -cl-std. */
    int cmaj = 0, cmin = 0;
    char cver[128];
    dev_str(d, CL_DEVICE_OPENCL_C_VERSION, cver, sizeof cver);
    if (sscanf(cver, "OpenCL C %d.%d", &cmaj, &cmin) != 2)
        cmaj = cmin = 0;
    od->subgroups = NULL;
    od->sg_options[0] = '\0';
    if (ext && has_word(ext, "cl_intel_subgroups")) {
        od->subgroups = "cl_intel_subgroups";
    } else if (ext && has_word(ext, "cl_khr_subgroups") && cmaj >= 2) {
        od->subgroups = "cl_khr_subgroups";
        snprintf(od->sg_options, sizeof od->sg_options, "-cl-std=CL%d.0", cmaj >= 3 ? 3 : 2);
    }
    od->unified = unified == CL_TRUE || (type & CL_DEVICE_TYPE_CPU) != 0;
    od->profiling_ok = (qp & CL_QUEUE_PROFILING_ENABLE) != 0;
    if (od->fp16)
        info->caps |= VITCL_CAP_FP16;
    if ((ext && has_word(ext, "cl_khr_fp64")) || dfp != 0)
        info->caps |= VITCL_CAP_FP64;
    if (od->unified)
        info->caps |= VITCL_CAP_HOST_UNIFIED | VITCL_CAP_ZERO_COPY_WRAP;
    if (od->profiling_ok)
        info->caps |= VITCL_CAP_PROFILING;
    /* 16-bit weight storage needs only OpenCL 1.2 (vload_half; bf16 by a shift), so every
     * device offers both; a context whose self-check refuses one drops it (plugin.c). */
    info->precisions = VITCL_PRECISION_BIT(VITCL_PRECISION_FP32) |
                       VITCL_PRECISION_BIT(VITCL_PRECISION_BF16) |
                       VITCL_PRECISION_BIT(VITCL_PRECISION_FP16);
    snprintf(info->precision_notes, sizeof info->precision_notes,
             "fp16, bf16: linear weights stored in 16 bits (fp16 read with vload_half, bf16 "
             "widened by a shift), fp32 arithmetic; every other op fp32");
    fill_extra(od, ext);
    free(ext);
}

vitcl_status ocl_enumerate(ocl_device **out_devices, int *out_count, char *err, size_t errlen)
{
    *out_devices = NULL;
    *out_count = 0;
    cl_uint np = 0;
    cl_int e = clGetPlatformIDs(0, NULL, &np);
    if (e == -1001 /* CL_PLATFORM_NOT_FOUND_KHR: the ICD loader found no platform */ ||
        (e == CL_SUCCESS && np == 0))
        return VITCL_OK;
    if (e != CL_SUCCESS) {
        snprintf(err, errlen, "opencl: clGetPlatformIDs failed: %s (%d)", ocl_cl_error_name(e),
                 (int)e);
        return VITCL_ERR_DEVICE;
    }
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) {
        snprintf(err, errlen, "opencl: out of memory listing %u platforms", (unsigned)np);
        return VITCL_ERR_OUT_OF_MEMORY;
    }
    if ((e = clGetPlatformIDs(np, plats, NULL)) != CL_SUCCESS) {
        free(plats);
        snprintf(err, errlen, "opencl: clGetPlatformIDs failed: %s (%d)", ocl_cl_error_name(e),
                 (int)e);
        return VITCL_ERR_DEVICE;
    }
    ocl_device *devs = NULL;
    int count = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        /* A platform without devices (or that fails to list them) contributes none. */
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0)
            continue;
        cl_device_id *ids = calloc(nd, sizeof *ids);
        ocl_device *grown = ids ? realloc(devs, ((size_t)count + nd) * sizeof *devs) : NULL;
        if (!grown) {
            free(ids);
            free(devs);
            free(plats);
            snprintf(err, errlen, "opencl: out of memory listing devices");
            return VITCL_ERR_OUT_OF_MEMORY;
        }
        devs = grown;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, ids, NULL) == CL_SUCCESS) {
            for (cl_uint i = 0; i < nd; i++) {
                ocl_device *od = &devs[count++];
                memset(od, 0, sizeof *od);
                od->platform = plats[p];
                od->id = ids[i];
                describe(od);
            }
        }
        free(ids);
    }
    free(plats);
    *out_devices = devs;
    *out_count = count;
    return VITCL_OK;
}
