/* tests/loader/fake_plugin.c - one source for every fake plugin the loader tests use.
 *
 * Built several times with -D flags (tests/loader/meson.build):
 *   FAKE_NAME "x"          backend name (default "fake")
 *   FAKE_TYPE t            device type of every device (default VITCL_DEVICE_CPU)
 *   FAKE_RANK n            auto_rank (default 0)
 *   FAKE_DEVICE_NAME "x"   name of device 0 (default "Fake Device")
 *   FAKE_DEVICE_NAME2 "y"  when defined, a second device with this name
 * and at most one way to be broken:
 *   FAKE_NO_ENTRY, FAKE_ENTRY_NULL, FAKE_ABI_MAJOR_2, FAKE_MISSING_SOFTMAX, FAKE_INIT_FAIL,
 *   FAKE_SMALL_OPS (op table struct_size too small), FAKE_CONTEXT_FAIL (context_create fails).
 * The ops are stubs: selection never runs them. They fail with VITCL_ERR_UNSUPPORTED and a
 * message, and are all non-NULL so the working fakes pass the loader's checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vitcl/backend.h"

#ifndef FAKE_NAME
#define FAKE_NAME "fake"
#endif
#ifndef FAKE_TYPE
#define FAKE_TYPE VITCL_DEVICE_CPU
#endif
#ifndef FAKE_RANK
#define FAKE_RANK 0
#endif
#ifndef FAKE_DEVICE_NAME
#define FAKE_DEVICE_NAME "Fake Device"
#endif

#define FAKE_OP_MESSAGE "fake backend " FAKE_NAME ": ops are not implemented"

#ifdef FAKE_DEVICE_NAME2
static const char *const device_names[] = {FAKE_DEVICE_NAME, FAKE_DEVICE_NAME2};
#else
static const char *const device_names[] = {FAKE_DEVICE_NAME};
#endif
#define FAKE_DEVICES ((int)(sizeof device_names / sizeof device_names[0]))

struct vitcl_context {
    int device;
    char error[128];
};
struct vitcl_buffer {
    int unused;
};

typedef struct fake_state {
    int devices;
} fake_state;

static vitcl_status unsupported(vitcl_context *ctx)
{
    snprintf(ctx->error, sizeof ctx->error, "%s", FAKE_OP_MESSAGE);
    return VITCL_ERR_UNSUPPORTED;
}

/* ---------------------------------------------------------------- plugin level */

static vitcl_status fake_init(void **state, char *err, size_t errlen)
{
#ifdef FAKE_INIT_FAIL
    (void)state;
    snprintf(err, errlen, "fake init failure: no devices today");
    return VITCL_ERR_DEVICE;
#else
    (void)err;
    (void)errlen;
    /* Allocated so that a missing shutdown shows up as a leak under ASan. */
    fake_state *s = malloc(sizeof *s);
    if (!s)
        return VITCL_ERR_OUT_OF_MEMORY;
    s->devices = FAKE_DEVICES;
    *state = s;
    return VITCL_OK;
#endif
}

static void fake_shutdown(void *state)
{
    free(state);
}

static int fake_device_count(void *state)
{
    return ((fake_state *)state)->devices;
}

static vitcl_status fake_device_info(void *state, int index, vitcl_device_info *info)
{
    if (index < 0 || index >= fake_device_count(state))
        return VITCL_ERR_INVALID_ARGUMENT;
    info->type = FAKE_TYPE;
    snprintf(info->name, sizeof info->name, "%s", device_names[index]);
    snprintf(info->vendor, sizeof info->vendor, "vitcl tests");
    snprintf(info->driver, sizeof info->driver, "%s 0.0", FAKE_NAME);
    snprintf(info->platform, sizeof info->platform, "none");
    info->global_mem_bytes = (uint64_t)1 << 30;
    info->max_alloc_bytes = (uint64_t)1 << 28;
    info->compute_units = 4;
    info->caps = VITCL_CAP_FP64;
    snprintf(info->extra, sizeof info->extra, "a fake device for the loader tests");
    return VITCL_OK;
}

static vitcl_status fake_context_create(void *state, int device_index, vitcl_context **out,
                                        char *err, size_t errlen)
{
    (void)state;
#ifdef FAKE_CONTEXT_FAIL
    (void)device_index;
    (void)out;
    snprintf(err, errlen, "fake context failure on purpose");
    return VITCL_ERR_DEVICE;
#else
    vitcl_context *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return VITCL_ERR_OUT_OF_MEMORY;
    }
    c->device = device_index;
    *out = c;
    return VITCL_OK;
#endif
}

static void fake_context_destroy(vitcl_context *ctx)
{
    free(ctx);
}

static const char *fake_last_error(vitcl_context *ctx)
{
    return ctx->error;
}

static vitcl_status fake_synchronize(vitcl_context *ctx)
{
    (void)ctx;
    return VITCL_OK;
}

/* ---------------------------------------------------------------- buffers (stubs) */

static vitcl_status fake_buffer_alloc(vitcl_context *ctx, size_t bytes, const char *label,
                                      vitcl_buffer **out)
{
    return unsupported(ctx);
}

static void fake_buffer_free(vitcl_context *ctx, vitcl_buffer *buf)
{
}

static vitcl_status fake_buffer_write(vitcl_context *ctx, vitcl_buffer *buf, size_t offset,
                                      const void *src, size_t bytes)
{
    return unsupported(ctx);
}

static vitcl_status fake_buffer_read(vitcl_context *ctx, const vitcl_buffer *buf, size_t offset,
                                     void *dst, size_t bytes)
{
    return unsupported(ctx);
}

static vitcl_status fake_buffer_copy(vitcl_context *ctx, vitcl_buffer *dst, size_t dst_offset,
                                     const vitcl_buffer *src, size_t src_offset, size_t bytes)
{
    return unsupported(ctx);
}

/* ---------------------------------------------------------------- ops (stubs) */

static vitcl_status fake_linear(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b,
                                size_t b_off, vitcl_buffer *Y, size_t y_off, size_t m, size_t n,
                                size_t k, uint32_t flags)
{
    return unsupported(ctx);
}

static vitcl_status fake_gemm_batched(vitcl_context *ctx, int trans_a, int trans_b, size_t m,
                                      size_t n, size_t k, float alpha, const vitcl_buffer *A,
                                      size_t a_off, size_t lda, size_t stride_a,
                                      const vitcl_buffer *B, size_t b_off, size_t ldb,
                                      size_t stride_b, float beta, vitcl_buffer *C, size_t c_off,
                                      size_t ldc, size_t stride_c, size_t batch)
{
    return unsupported(ctx);
}

static vitcl_status fake_layernorm(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                   const vitcl_buffer *gamma, size_t g_off,
                                   const vitcl_buffer *beta, size_t b_off, vitcl_buffer *Y,
                                   size_t y_off, size_t rows, size_t cols, float eps)
{
    return unsupported(ctx);
}

static vitcl_status fake_gelu(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                              vitcl_buffer *Y, size_t y_off, size_t n)
{
    return unsupported(ctx);
}

static vitcl_status fake_add(vitcl_context *ctx, const vitcl_buffer *A, size_t a_off,
                             const vitcl_buffer *B, size_t b_off, vitcl_buffer *Y, size_t y_off,
                             size_t n, size_t b_period)
{
    return unsupported(ctx);
}

#ifndef FAKE_MISSING_SOFTMAX
static vitcl_status fake_softmax(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                 vitcl_buffer *Y, size_t y_off, size_t rows, size_t cols,
                                 float scale)
{
    return unsupported(ctx);
}
#endif

static vitcl_status fake_patch_embed(vitcl_context *ctx, const vitcl_buffer *pixels,
                                     size_t p_off, const vitcl_buffer *W, size_t w_off,
                                     const vitcl_buffer *bias, size_t bias_off, vitcl_buffer *Y,
                                     size_t y_off, size_t y_batch_stride, size_t batch,
                                     size_t channels, size_t height, size_t width, size_t patch,
                                     size_t dim)
{
    return unsupported(ctx);
}

static const vitcl_op_table fake_ops = {
#ifdef FAKE_SMALL_OPS
    .struct_size = (uint32_t)offsetof(vitcl_op_table, softmax),
#else
    .struct_size = (uint32_t)sizeof(vitcl_op_table),
#endif
    .linear = fake_linear,
    .gemm_batched = fake_gemm_batched,
    .layernorm = fake_layernorm,
    .gelu = fake_gelu,
    .add = fake_add,
#ifdef FAKE_MISSING_SOFTMAX
    .softmax = NULL,
#else
    .softmax = fake_softmax,
#endif
    .patch_embed = fake_patch_embed,
};

static const vitcl_backend_desc fake_desc = {
    .struct_size = (uint32_t)sizeof(vitcl_backend_desc),
#ifdef FAKE_ABI_MAJOR_2
    .abi_major = 2,
    .abi_minor = 0,
#else
    .abi_major = VITCL_ABI_MAJOR,
    .abi_minor = VITCL_ABI_MINOR,
#endif
    .name = FAKE_NAME,
    .version = "0.0-test",
    .description = "fake plugin for the loader tests",
    .auto_rank = FAKE_RANK,
    .init = fake_init,
    .shutdown = fake_shutdown,
    .device_count = fake_device_count,
    .device_info = fake_device_info,
    .context_create = fake_context_create,
    .context_destroy = fake_context_destroy,
    .last_error = fake_last_error,
    .synchronize = fake_synchronize,
    .buffer_alloc = fake_buffer_alloc,
    .buffer_free = fake_buffer_free,
    .buffer_write = fake_buffer_write,
    .buffer_read = fake_buffer_read,
    .buffer_copy = fake_buffer_copy,
    .ops = &fake_ops,
};

#ifdef FAKE_NO_ENTRY
/* Exports a function, but not the entry symbol. */
VITCL_PLUGIN_EXPORT const vitcl_backend_desc *fake_not_the_entry(void);
VITCL_PLUGIN_EXPORT const vitcl_backend_desc *fake_not_the_entry(void)
{
    return &fake_desc;
}
#else
VITCL_PLUGIN_EXPORT const vitcl_backend_desc *vitcl_plugin_entry(uint32_t host_abi_major,
                                                                 uint32_t host_abi_minor);
VITCL_PLUGIN_EXPORT const vitcl_backend_desc *vitcl_plugin_entry(uint32_t host_abi_major,
                                                                 uint32_t host_abi_minor)
{
    (void)host_abi_major;
    (void)host_abi_minor;
#ifdef FAKE_ENTRY_NULL
    (void)&fake_desc;
    return NULL;
#else
    return &fake_desc;
#endif
}
#endif
