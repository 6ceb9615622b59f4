/* tests/ref/test_ref_plugin.c - the reference plugin's descriptor, device, buffers, host
 * wrapping, profiling and supports(), checked against backend.h's contract. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_harness.h"

TestSuite(ref_plugin, .init = ref_setup, .fini = ref_teardown);

Test(ref_plugin, descriptor_is_complete)
{
    const vitcl_backend_desc *d = H.desc;
    cr_assert_eq(d->struct_size, sizeof(vitcl_backend_desc));
    cr_assert_eq(d->abi_major, VITCL_ABI_MAJOR);
    cr_assert_eq(d->abi_minor, VITCL_ABI_MINOR);
    cr_assert_str_eq(d->name, "ref");
    cr_assert_not_null(d->version);
    cr_assert_not_null(d->description);
    cr_assert_eq(d->auto_rank, 10);
    /* Every entry, optional ones included. */
    cr_assert(d->init && d->shutdown && d->device_count && d->device_info && d->context_create &&
              d->context_destroy && d->last_error && d->synchronize && d->buffer_alloc &&
              d->buffer_free && d->buffer_write && d->buffer_read && d->buffer_copy &&
              d->buffer_wrap_host && d->ops && d->profiling && d->profile_drain);
    const vitcl_op_table *o = d->ops;
    cr_assert_eq(o->struct_size, sizeof(vitcl_op_table));
    cr_assert(o->linear && o->gemm_batched && o->layernorm && o->gelu && o->add && o->softmax &&
              o->attention && o->patch_embed && o->linear_pack_weight && o->supports &&
              o->pack_weight_host);
    cr_assert_str_eq(d->last_error(H.ctx), "");
}

Test(ref_plugin, entry_refuses_other_abi_major)
{
    vitcl_plugin_entry_fn entry;
    *(void **)&entry = dlsym(H.dl, VITCL_PLUGIN_ENTRY_SYMBOL);
    cr_assert_null(entry(VITCL_ABI_MAJOR + 1, 0));
    cr_assert_not_null(entry(VITCL_ABI_MAJOR, VITCL_ABI_MINOR + 5), "a newer minor is fine");
}

Test(ref_plugin, one_cpu_device_with_caps)
{
    cr_assert_eq(H.desc->device_count(H.state), 1);
    vitcl_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(H.desc->device_info(H.state, 0, &info), VITCL_OK);
    cr_assert_eq(info.type, VITCL_DEVICE_CPU);
    cr_assert(strstr(info.name, "reference") != NULL, "name '%s'", info.name);
    cr_assert_eq(info.caps, VITCL_CAP_FP64 | VITCL_CAP_HOST_UNIFIED | VITCL_CAP_ZERO_COPY_WRAP |
                                VITCL_CAP_PROFILING);
    cr_assert_eq(info.struct_size, sizeof info);
    cr_assert_neq(H.desc->device_info(H.state, 1, &info), VITCL_OK);
    vitcl_context *c = NULL;
    char err[128] = "";
    cr_assert_neq(H.desc->context_create(H.state, 1, &c, err, sizeof err), VITCL_OK);
    cr_assert_null(c);
    cr_assert_neq(err[0], '\0');
}

Test(ref_plugin, device_info_respects_a_smaller_struct_size)
{
    /* A host built against an older minor passes a shorter struct: nothing past it is written. */
    unsigned char raw[sizeof(vitcl_device_info)];
    memset(raw, 0xAB, sizeof raw);
    vitcl_device_info *info = (vitcl_device_info *)(void *)raw;
    uint32_t small = (uint32_t)offsetof(vitcl_device_info, global_mem_bytes);
    info->struct_size = small;
    cr_assert_eq(H.desc->device_info(H.state, 0, info), VITCL_OK);
    cr_assert_eq(info->struct_size, small);
    cr_assert(strstr(info->name, "reference") != NULL);
    for (size_t i = small; i < sizeof raw; i++)
        cr_assert_eq(raw[i], 0xAB, "byte %zu beyond struct_size was written", i);
}

Test(ref_plugin, buffers_round_trip_and_copy)
{
    float src[10], dst[10];
    for (int i = 0; i < 10; i++)
        src[i] = (float)i * 1.5f;
    vitcl_buffer *a = buf_new(src, 10, "a"), *b = buf_new(NULL, 10, "b");
    cr_assert_eq(H.desc->buffer_copy(H.ctx, b, 4 * sizeof(float), a, 0, 6 * sizeof(float)),
                 VITCL_OK);
    cr_assert_eq(H.desc->buffer_read(H.ctx, b, 0, dst, sizeof dst), VITCL_OK);
    for (int i = 0; i < 4; i++)
        cr_assert(isnan(dst[i]));
    for (int i = 4; i < 10; i++)
        cr_assert_eq(dst[i], src[i - 4]);
    cr_assert_eq(H.desc->synchronize(H.ctx), VITCL_OK);
    /* Out of range, overlapping and NULL requests fail with a message, and change nothing. */
    cr_assert_neq(H.desc->buffer_read(H.ctx, a, 8, dst, sizeof dst), VITCL_OK);
    cr_assert(strstr(H.desc->last_error(H.ctx), "buffer_read") != NULL);
    cr_assert_neq(H.desc->buffer_write(H.ctx, a, SIZE_MAX - 2, src, 8), VITCL_OK);
    cr_assert_neq(H.desc->buffer_copy(H.ctx, a, 0, a, 4, 16), VITCL_OK);
    cr_assert(strstr(H.desc->last_error(H.ctx), "overlap") != NULL);
    cr_assert_neq(H.desc->buffer_write(H.ctx, NULL, 0, src, 4), VITCL_OK);
    vitcl_buffer *z = NULL;
    cr_assert_neq(H.desc->buffer_alloc(H.ctx, 0, "empty", &z), VITCL_OK);
    cr_assert_null(z);
    cr_assert(strstr(H.desc->last_error(H.ctx), "empty") != NULL, "names the label");
    cr_assert_eq(H.desc->buffer_alloc(H.ctx, SIZE_MAX, "huge", &z), VITCL_ERR_OUT_OF_MEMORY);
    cr_assert(strstr(H.desc->last_error(H.ctx), "huge") != NULL);
    H.desc->buffer_free(H.ctx, NULL);
    buf_free(a), buf_free(b);
}

Test(ref_plugin, wrap_host_aliases_and_is_read_only)
{
    float host[6] = {1, 2, 3, 4, 5, 6}, back[6];
    vitcl_buffer *w = NULL;
    cr_assert_eq(H.desc->buffer_wrap_host(H.ctx, host, sizeof host, "mapped", &w), VITCL_OK);
    host[2] = 42.0f; /* zero copy: the buffer sees the caller's memory */
    cr_assert_eq(H.desc->buffer_read(H.ctx, w, 0, back, sizeof back), VITCL_OK);
    cr_assert_eq(back[2], 42.0f);
    cr_assert_neq(H.desc->buffer_write(H.ctx, w, 0, back, 4), VITCL_OK);
    vitcl_buffer *x = buf_new(host, 6, "x");
    cr_assert_neq(H.desc->buffer_copy(H.ctx, w, 0, x, 0, 4), VITCL_OK);
    cr_assert_neq(H.ops->gelu(H.ctx, x, 0, w, 0, 6), VITCL_OK, "an op may not write a wrap");
    cr_assert(strstr(H.desc->last_error(H.ctx), "read-only") != NULL);
    /* It works as an input. */
    cr_assert_eq(H.ops->gelu(H.ctx, w, 0, x, 0, 6), VITCL_OK);
    buf_free(x), buf_free(w);
    cr_assert_eq(host[0], 1.0f, "freeing a wrap leaves the caller's memory alone");
}

Test(ref_plugin, profiling_records_ops_with_wall_clock)
{
    float v[4] = {1, 2, 3, 4};
    vitcl_buffer *x = buf_new(v, 4, "x");
    vitcl_op_timing t[8];
    for (size_t i = 0; i < 8; i++) /* the host sets struct_size (backend.h) */
        t[i].struct_size = (uint32_t)sizeof t[i];
    cr_assert_eq(H.ops->gelu(H.ctx, x, 0, x, 0, 4), VITCL_OK);
    cr_assert_eq(H.desc->profile_drain(H.ctx, t, 8), 0, "nothing recorded while off");
    cr_assert_eq(H.desc->profiling(H.ctx, 1), VITCL_OK);
    cr_assert_eq(H.ops->gelu(H.ctx, x, 0, x, 0, 4), VITCL_OK);
    cr_assert_eq(H.ops->softmax(H.ctx, x, 0, x, 0, 1, 4, 1.0f), VITCL_OK);
    cr_assert_eq(H.ops->add(H.ctx, x, 0, x, 0, x, 0, 4, 4), VITCL_OK);
    cr_assert_neq(H.ops->gelu(H.ctx, NULL, 0, x, 0, 4), VITCL_OK); /* failures are not timed */
    cr_assert_eq(H.desc->synchronize(H.ctx), VITCL_OK);
    cr_assert_eq(H.desc->profile_drain(H.ctx, t, 2), 2, "oldest first, up to max");
    cr_assert_str_eq(t[0].op, "gelu");
    cr_assert_str_eq(t[1].op, "softmax");
    cr_assert_leq(t[0].start_ns, t[0].end_ns);
    cr_assert_leq(t[0].end_ns, t[1].start_ns, "monotonic across ops");
    cr_assert_eq(H.desc->profile_drain(H.ctx, t, 8), 1);
    cr_assert_str_eq(t[0].op, "add");
    cr_assert_eq(H.desc->profile_drain(H.ctx, t, 8), 0);
    cr_assert_eq(H.desc->profiling(H.ctx, 0), VITCL_OK);
    cr_assert_eq(H.ops->gelu(H.ctx, x, 0, x, 0, 4), VITCL_OK);
    cr_assert_eq(H.desc->profile_drain(H.ctx, t, 8), 0);
    buf_free(x);
}

Test(ref_plugin, supports_every_valid_shape_and_no_zero)
{
    vitcl_op_shape s;
    memset(&s, 0, sizeof s);
    s.m = 3, s.n = 5, s.k = 7;
    cr_assert(H.ops->supports(H.ctx, VITCL_OP_LINEAR, &s));
    s.flags = VITCL_LINEAR_GELU | VITCL_LINEAR_PACKED_W;
    cr_assert(H.ops->supports(H.ctx, VITCL_OP_LINEAR, &s));
    s.flags = 1u << 7;
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_LINEAR, &s), "unknown flag");
    s.flags = 0, s.k = 0;
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_LINEAR, &s));
    s.k = 7, s.batch = 4;
    cr_assert(H.ops->supports(H.ctx, VITCL_OP_GEMM_BATCHED, &s));
    s.batch = 0;
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_GEMM_BATCHED, &s));
    cr_assert(H.ops->supports(H.ctx, VITCL_OP_LAYERNORM, &s));
    cr_assert(H.ops->supports(H.ctx, VITCL_OP_SOFTMAX, &s));
    cr_assert(H.ops->supports(H.ctx, VITCL_OP_GELU, &s));
    cr_assert(H.ops->supports(H.ctx, VITCL_OP_ADD, &s));
    cr_assert(H.ops->supports(H.ctx, VITCL_OP_LINEAR_PACK_WEIGHT, &s));
    s.m = 0;
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_SOFTMAX, &s));
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_LAYERNORM, &s));
    memset(&s, 0, sizeof s);
    s.batch = 2, s.seq = 3137, s.heads = 1, s.head_dim = 64;
    cr_assert(H.ops->supports(H.ctx, VITCL_OP_ATTENTION, &s));
    s.head_dim = 0;
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_ATTENTION, &s));
    memset(&s, 0, sizeof s);
    s.batch = 1, s.channels = 3, s.height = 15, s.width = 9, s.patch = 7, s.n = 384;
    cr_assert(H.ops->supports(H.ctx, VITCL_OP_PATCH_EMBED, &s));
    s.patch = 10;
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_PATCH_EMBED, &s), "patch wider than image");
    s.patch = 3, s.height = SIZE_MAX / 2, s.width = SIZE_MAX / 2;
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_PATCH_EMBED, &s), "overflowing shape");
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_COUNT_, &s));
    cr_assert_not(H.ops->supports(H.ctx, (vitcl_op)99, &s));
    cr_assert_not(H.ops->supports(H.ctx, VITCL_OP_GELU, NULL));
}

Test(ref_plugin, contexts_are_independent)
{
    vitcl_context *c2 = NULL;
    char err[64];
    cr_assert_eq(H.desc->context_create(H.state, 0, &c2, err, sizeof err), VITCL_OK);
    vitcl_buffer *x = buf_new(NULL, 4, "ctx1 buffer");
    /* A buffer of one context used on another is refused, and the error stays on that one. */
    cr_assert_neq(H.ops->gelu(c2, x, 0, x, 0, 4), VITCL_OK);
    cr_assert(strstr(H.desc->last_error(c2), "another context") != NULL);
    cr_assert_str_eq(H.desc->last_error(H.ctx), "");
    buf_free(x);
    H.desc->context_destroy(c2);
    H.desc->context_destroy(NULL);
}
