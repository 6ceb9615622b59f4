/* plugins/ref/ref_plugin.c - the reference plugin's entry point, descriptor, op table and its
 * one device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref_internal.h"

VITCL_PLUGIN_EXPORT const vitcl_backend_desc *vitcl_plugin_entry(uint32_t host_abi_major,
                                                                 uint32_t host_abi_minor);

uint32_t ref_host_abi_minor;

static vitcl_status ref_init(void **state, char *err, size_t errlen)
{
    ref_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "ref: init: out of memory");
        return VITCL_ERR_OUT_OF_MEMORY;
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0)
        s->mem_bytes = (uint64_t)pages * (uint64_t)page;
    *state = s;
    return VITCL_OK;
}

static void ref_shutdown(void *state)
{
    free(state);
}

static int ref_device_count(void *state)
{
    (void)state;
    return 1;
}

static vitcl_status ref_device_info(void *state, int index, vitcl_device_info *info)
{
    if (state == NULL || info == NULL || index != 0 || info->struct_size < sizeof(uint32_t))
        return index != 0 ? VITCL_ERR_NOT_FOUND : VITCL_ERR_INVALID_ARGUMENT;
    const ref_state *s = state;
    vitcl_device_info full;
    memset(&full, 0, sizeof full);
    full.type = VITCL_DEVICE_CPU;
    snprintf(full.name, sizeof full.name, "%s", REF_DEVICE_NAME);
    snprintf(full.vendor, sizeof full.vendor, "vitcl");
    snprintf(full.driver, sizeof full.driver, "ref %s", VITCL_REF_VERSION);
    snprintf(full.platform, sizeof full.platform, "host C library, single thread");
    full.global_mem_bytes = s->mem_bytes;
    full.max_alloc_bytes = s->mem_bytes;
    full.compute_units = 1;
    full.caps = VITCL_CAP_FP64 | VITCL_CAP_HOST_UNIFIED | VITCL_CAP_ZERO_COPY_WRAP |
                VITCL_CAP_PROFILING;
    snprintf(full.extra, sizeof full.extra,
             "every dot product and reduction accumulated in double; slow by design: the "
             "yardstick the other backends are checked against");
    full.precisions = VITCL_PRECISION_BIT(VITCL_PRECISION_FP32) |
                      VITCL_PRECISION_BIT(VITCL_PRECISION_BF16) |
                      VITCL_PRECISION_BIT(VITCL_PRECISION_FP16);
    snprintf(full.precision_notes, sizeof full.precision_notes,
             "bf16, fp16: emulated: linear weights rounded to the format (nearest even), "
             "inputs fp32 (VITCL_REF_ROUND_INPUTS=1 rounds them too), products summed in "
             "double; every other op fp32");
    /* Write only as much as the host's struct holds, and keep its struct_size. */
    size_t n = info->struct_size < sizeof full ? info->struct_size : sizeof full;
    full.struct_size = info->struct_size;
    memcpy(info, &full, n);
    return VITCL_OK;
}

static const vitcl_op_table ref_ops = {
    .struct_size = sizeof(vitcl_op_table),
    .linear = ref_linear,
    .gemm_batched = ref_gemm_batched,
    .layernorm = ref_layernorm,
    .gelu = ref_gelu_op,
    .add = ref_add_op,
    .softmax = ref_softmax,
    .attention = ref_attention,
    .patch_embed = ref_patch_embed,
    .linear_pack_weight = ref_linear_pack_weight,
    .supports = ref_supports,
    .pack_weight_host = ref_pack_weight_host,
};

static const vitcl_backend_desc ref_desc = {
    .struct_size = sizeof(vitcl_backend_desc),
    .abi_major = VITCL_ABI_MAJOR,
    .abi_minor = VITCL_ABI_MINOR,
    .name = "ref",
    .version = VITCL_REF_VERSION,
    .description = "reference backend: plain C, double accumulation, the conformance yardstick",
    .auto_rank = 10,
    .init = ref_init,
    .shutdown = ref_shutdown,
    .device_count = ref_device_count,
    .device_info = ref_device_info,
    .context_create = ref_context_create,
    .context_destroy = ref_context_destroy,
    .last_error = ref_last_error,
    .synchronize = ref_synchronize,
    .buffer_alloc = ref_buffer_alloc,
    .buffer_free = ref_buffer_free,
    .buffer_write = ref_buffer_write,
    .buffer_read = ref_buffer_read,
    .buffer_copy = ref_buffer_copy,
    .buffer_wrap_host = ref_buffer_wrap_host,
    .ops = &ref_ops,
    .profiling = ref_profiling,
    .profile_drain = ref_profile_drain,
};

VITCL_PLUGIN_EXPORT const vitcl_backend_desc *vitcl_plugin_entry(uint32_t host_abi_major,
                                                                 uint32_t host_abi_minor)
{
    if (host_abi_major != VITCL_ABI_MAJOR)
        return NULL;
    /* A 1.0 host's vitcl_op_shape ends at flags: supports() must not read further. */
    ref_host_abi_minor = host_abi_minor;
    return &ref_desc;
}
