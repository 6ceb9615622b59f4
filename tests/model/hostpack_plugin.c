/* tests/model/hostpack_plugin.c - a test plugin "hostpack": the ref plugin plus an ABI 1.1
 * pack_weight_host, to test the host's side of packing weights from host memory.
 *
 * It loads the ref plugin built in this tree (HOSTPACK_REF_PATH) and presents its descriptor
 * under another name with:
 *  - device_info: ref's, with precisions fp32 and bf16;
 *  - supports(VITCL_OP_PACK_WEIGHT_HOST): 1 for F32/F16/BF16 weights in fp32 or bf16 (0 for
 *    anything else, or for everything when VITCL_TEST_HOSTPACK_DECLINE is set); for the other
 *    ops ref's answer, asked with precision FP32 (the linear math is ref's);
 *  - pack_weight_host: refuses a weight not aligned to its element size (the host must pass it
 *    aligned), widens the host weight to fp32 (exactly), rounds it to bf16 (nearest
 *    even) when asked for bf16, uploads it and lets ref's linear_pack_weight pack it. So a bf16
 *    model on this plugin computes with bf16-valued weights in ref's fp32/double arithmetic.
 * Every pack_weight_host call appends one line to the file VITCL_TEST_HOSTPACK_LOG (when set):
 *   "<label>\t<dtype>\t<n>\t<k>\t<precision>\t<FNV-1a 64 of the n*k*size bytes, hex>\n"
 * so a test can check what the host passed: dtype, shape, precision and the bytes themselves.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vitcl/backend.h"

static const vitcl_backend_desc *ref;
static vitcl_backend_desc desc;
static vitcl_op_table ops;

static size_t elem_size(uint32_t dtype)
{
    return dtype == VITCL_DTYPE_F32 ? 4 : 2;
}

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
    if (e == 0x1f) {
        bits = sign | 0x7f800000u | (m << 13);
    } else if (e) {
        bits = sign | ((e + 112u) << 23) | (m << 13);
    } else if (m) { /* subnormal: normalise */
        e = 113;
        while (!(m & 0x400u)) {
            m <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((m & 0x3ffu) << 13);
    } else {
        bits = sign;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float round_bf16(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    if ((b & 0x7f800000u) != 0x7f800000u) /* finite: round to nearest even */
        b += 0x7fffu + ((b >> 16) & 1u);
    b &= 0xffff0000u;
    memcpy(&f, &b, sizeof f);
    return f;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int hp_supports(vitcl_context *ctx, vitcl_op op, const vitcl_op_shape *shape)
{
    if (op == VITCL_OP_PACK_WEIGHT_HOST) {
        if (getenv("VITCL_TEST_HOSTPACK_DECLINE") ||
            shape->struct_size < offsetof(vitcl_op_shape, dtype) + sizeof shape->dtype)
            return 0;
        return shape->n && shape->k && shape->dtype < VITCL_DTYPE_COUNT_ &&
               (shape->precision == VITCL_PRECISION_FP32 ||
                shape->precision == VITCL_PRECISION_BF16);
    }
    vitcl_op_shape s = *shape;
    s.precision = VITCL_PRECISION_FP32;
    return ref->ops->supports(ctx, op, &s);
}

static vitcl_status hp_pack_weight_host(vitcl_context *ctx, const void *w, uint32_t dtype,
                                        size_t n, size_t k, uint32_t precision,
                                        const char *label, vitcl_buffer **out)
{
    *out = NULL;
    if (dtype >= VITCL_DTYPE_COUNT_ ||
        (precision != VITCL_PRECISION_FP32 && precision != VITCL_PRECISION_BF16))
        return VITCL_ERR_UNSUPPORTED;
    if ((uintptr_t)w % elem_size(dtype))
        return VITCL_ERR_INVALID_ARGUMENT; /* the host must align it (backend.h) */
    const char *log = getenv("VITCL_TEST_HOSTPACK_LOG");
    if (log) {
        FILE *f = fopen(log, "a");
        if (f) {
            fprintf(f, "%s\t%u\t%zu\t%zu\t%u\t%016llx\n", label ? label : "", (unsigned)dtype, n,
                    k, (unsigned)precision,
                    (unsigned long long)fnv1a(w, n * k * elem_size(dtype)));
            fclose(f);
        }
    }
    float *tmp = malloc(n * k * sizeof(float));
    if (!tmp)
        return VITCL_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < n * k; i++) {
        float v;
        if (dtype == VITCL_DTYPE_F32) {
            memcpy(&v, (const char *)w + 4 * i, 4);
        } else {
            uint16_t h;
            memcpy(&h, (const char *)w + 2 * i, 2);
            if (dtype == VITCL_DTYPE_F16) {
                v = f16_to_f32(h);
            } else {
                uint32_t b = (uint32_t)h << 16;
                memcpy(&v, &b, 4);
            }
        }
        tmp[i] = precision == VITCL_PRECISION_BF16 ? round_bf16(v) : v;
    }
    vitcl_buffer *plain = NULL;
    vitcl_status st = ref->buffer_alloc(ctx, n * k * sizeof(float), label, &plain);
    if (!st)
        st = ref->buffer_write(ctx, plain, 0, tmp, n * k * sizeof(float));
    free(tmp);
    if (!st)
        st = ref->ops->linear_pack_weight(ctx, plain, 0, n, k, label, out);
    if (plain)
        ref->buffer_free(ctx, plain);
    return st;
}

static vitcl_status hp_device_info(void *state, int index, vitcl_device_info *info)
{
    vitcl_status st = ref->device_info(state, index, info);
    if (st == VITCL_OK &&
        info->struct_size >= offsetof(vitcl_device_info, precisions) + sizeof info->precisions)
        info->precisions =
            VITCL_PRECISION_BIT(VITCL_PRECISION_FP32) | VITCL_PRECISION_BIT(VITCL_PRECISION_BF16);
    return st;
}

const vitcl_backend_desc *vitcl_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor);

__attribute__((visibility("default"))) const vitcl_backend_desc *
vitcl_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor)
{
    if (host_abi_major != VITCL_ABI_MAJOR || host_abi_minor < 1)
        return NULL;
    if (!ref) {
        void *h = dlopen(HOSTPACK_REF_PATH, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            return NULL;
        vitcl_plugin_entry_fn entry = (vitcl_plugin_entry_fn)dlsym(h, VITCL_PLUGIN_ENTRY_SYMBOL);
        const vitcl_backend_desc *d = entry ? entry(host_abi_major, host_abi_minor) : NULL;
        if (!d || !d->ops || !d->ops->supports || !d->ops->linear_pack_weight)
            return NULL; /* the handle stays open for the process: a test plugin */
        ref = d;
        memset(&ops, 0, sizeof ops);
        memcpy(&ops, d->ops, d->ops->struct_size < sizeof ops ? d->ops->struct_size : sizeof ops);
        ops.struct_size = (uint32_t)sizeof ops;
        ops.supports = hp_supports;
        ops.pack_weight_host = hp_pack_weight_host;
        memset(&desc, 0, sizeof desc);
        memcpy(&desc, d, d->struct_size < sizeof desc ? d->struct_size : sizeof desc);
        desc.struct_size = (uint32_t)sizeof desc;
        desc.abi_minor = VITCL_ABI_MINOR;
        desc.name = "hostpack";
        desc.description = "test plugin: ref with pack_weight_host (tests/model)";
        desc.auto_rank = -1000;
        desc.device_info = hp_device_info;
        desc.ops = &ops;
    }
    return &desc;
}
