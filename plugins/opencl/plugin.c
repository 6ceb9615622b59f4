/* plugins/opencl/plugin.c - the OpenCL plugin's descriptor, entry point and device queries. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "ocl.h"

static vitcl_status plugin_init(void **state, char *err, size_t errlen)
{
    ocl_state *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "opencl: out of memory");
        return VITCL_ERR_OUT_OF_MEMORY;
    }
    vitcl_status s = ocl_enumerate(&st->devices, &st->count, err, errlen);
    if (s != VITCL_OK) {
        free(st);
        return s;
    }
    if (st->count > 0 && !(st->refused = calloc((size_t)st->count, sizeof *st->refused))) {
        free(st->devices);
        free(st);
        snprintf(err, errlen, "opencl: out of memory");
        return VITCL_ERR_OUT_OF_MEMORY;
    }
    for (int i = 0; i < st->count; i++)
        atomic_init(&st->refused[i], 0u);
    *state = st;
    return VITCL_OK;
}

static void plugin_shutdown(void *state)
{
    ocl_state *st = state;
    if (!st)
        return;
    free(st->devices);
    free((void *)st->refused);
    free(st);
}

static int plugin_device_count(void *state)
{
    const ocl_state *st = state;
    return st ? st->count : 0;
}

static vitcl_status plugin_device_info(void *state, int index, vitcl_device_info *info)
{
    const ocl_state *st = state;
    if (!st || !info || index < 0 || index >= st->count)
        return VITCL_ERR_NOT_FOUND;
    /* Copy only what the host's struct holds (it may be older and smaller than ours). */
    size_t n = info->struct_size < sizeof *info ? info->struct_size : sizeof *info;
    uint32_t host_size = info->struct_size;
    if (n > 0)
        memcpy(info, &st->devices[index].info, n);
    if (n >= sizeof info->struct_size)
        info->struct_size = host_size;
    /* A precision a context's self-check refused on this device is no longer offered. */
    uint32_t refused = atomic_load(&st->refused[index]);
    if ((refused & OCL_REFUSED_CLBLAST) &&
        n >= offsetof(vitcl_device_info, extra) + sizeof info->extra) {
        char extra[sizeof info->extra];
        snprintf(extra, sizeof extra,
                 "clblast unusable (self-check): linear and gemm_batched run vitcl's own "
                 "kernels; %s",
                 info->extra);
        memcpy(info->extra, extra, sizeof extra);
    }
    refused &= ~OCL_REFUSED_CLBLAST;
    if (refused && n >= offsetof(vitcl_device_info, precision_notes) + sizeof info->precision_notes) {
        info->precisions &= ~refused;
        char note[sizeof info->precision_notes];
        snprintf(note, sizeof note, "%s%s refused: the self-check of its GEMM kernels failed; %s",
                 refused & VITCL_PRECISION_BIT(VITCL_PRECISION_BF16) ? "bf16" : "",
                 (refused & VITCL_PRECISION_BIT(VITCL_PRECISION_BF16)) &&
                         (refused & VITCL_PRECISION_BIT(VITCL_PRECISION_FP16))
                     ? ", fp16"
                 : refused & VITCL_PRECISION_BIT(VITCL_PRECISION_FP16) ? "fp16"
                                                                       : "",
                 info->precision_notes);
        memcpy(info->precision_notes, note, sizeof note);
    }
    return VITCL_OK;
}

static const vitcl_op_table ocl_ops = {
    .struct_size = sizeof(vitcl_op_table),
    .linear = ocl_linear,
    .gemm_batched = ocl_gemm_batched,
    .layernorm = ocl_layernorm,
    .gelu = ocl_gelu,
    .add = ocl_add,
    .softmax = ocl_softmax,
    .attention = ocl_attention,
    .patch_embed = ocl_patch_embed,
    .linear_pack_weight = ocl_linear_pack_weight,
    .supports = ocl_supports,
    .pack_weight_host = ocl_pack_weight_host,
};

static uint32_t host_minor;

uint32_t ocl_host_minor(void)
{
    return host_minor;
}

static const vitcl_backend_desc ocl_desc = {
    .struct_size = sizeof(vitcl_backend_desc),
    .abi_major = VITCL_ABI_MAJOR,
    .abi_minor = VITCL_ABI_MINOR,
    .name = "opencl",
    .version = "0.1.0",
    .description = "OpenCL 1.2+ devices: tuned GEMMs (vitcl kernels or CLBlast), on-disk program cache",
    .auto_rank = 30,
    .init = plugin_init,
    .shutdown = plugin_shutdown,
    .device_count = plugin_device_count,
    .device_info = plugin_device_info,
    .context_create = ocl_context_create,
    .context_destroy = ocl_context_destroy,
    .last_error = ocl_last_error,
    .synchronize = ocl_synchronize,
    .buffer_alloc = ocl_buffer_alloc,
    .buffer_free = ocl_buffer_free,
    .buffer_write = ocl_buffer_write,
    .buffer_read = ocl_buffer_read,
    .buffer_copy = ocl_buffer_copy,
    .buffer_wrap_host = ocl_buffer_wrap_host,
    .ops = &ocl_ops,
    .profiling = ocl_profiling,
    .profile_drain = ocl_profile_drain,
};

VITCL_PLUGIN_EXPORT const vitcl_backend_desc *vitcl_plugin_entry(uint32_t host_abi_major,
                                                                 uint32_t host_abi_minor);

VITCL_PLUGIN_EXPORT const vitcl_backend_desc *vitcl_plugin_entry(uint32_t host_abi_major,
                                                                 uint32_t host_abi_minor)
{
    if (host_abi_major != VITCL_ABI_MAJOR)
        return NULL;
    host_minor = host_abi_minor;
    return &ocl_desc;
}
