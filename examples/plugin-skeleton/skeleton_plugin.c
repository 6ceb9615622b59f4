/* skeleton_plugin.c - the skeleton plugin's entry point and descriptor, its one device, its
 * contexts (last error, synchronize) and its buffers (host memory). The ops are in
 * skeleton_ops.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skeleton.h"

/* ------------------------------------------------------------------ errors */

vitcl_status sk_fail(vitcl_context *ctx, vitcl_status status, const char *what, const char *fmt,
                     ...)
{
    if (ctx == NULL)
        return status;
    int n = snprintf(ctx->err, sizeof ctx->err, "skeleton %s (device %d): ", what,
                     ctx->device_index);
    if (n < 0 || (size_t)n >= sizeof ctx->err)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err + n, sizeof ctx->err - (size_t)n, fmt, ap);
    va_end(ap);
    return status;
}

/* Writes a message for the loader into err (errlen bytes); init and context_create use it. */
static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "skeleton: %s", msg);
}

/* ------------------------------------------------------------------ plugin and device */

static vitcl_status sk_init(void **state, char *err, size_t errlen)
{
    if (state == NULL) {
        set_err(err, errlen, "init: state is NULL");
        return VITCL_ERR_INVALID_ARGUMENT;
    }
    *state = NULL; /* nothing plugin-wide: a real backend would find its devices here */
    return VITCL_OK;
}

static void sk_shutdown(void *state)
{
    (void)state;
}

static int sk_device_count(void *state)
{
    (void)state;
    return 1;
}

static vitcl_status sk_device_info(void *state, int index, vitcl_device_info *info)
{
    (void)state;
    if (index != 0)
        return VITCL_ERR_NOT_FOUND;
    if (info == NULL || info->struct_size < sizeof info->struct_size)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_device_info full;
    memset(&full, 0, sizeof full);
    full.type = VITCL_DEVICE_CPU;
    snprintf(full.name, sizeof full.name, "skeleton (plain C loops)");
    snprintf(full.vendor, sizeof full.vendor, "vitcl examples");
    snprintf(full.driver, sizeof full.driver, "skeleton %s", SKELETON_VERSION);
    snprintf(full.platform, sizeof full.platform, "host C library, calling thread");
    full.compute_units = 1;
    full.caps = VITCL_CAP_HOST_UNIFIED;
    snprintf(full.extra, sizeof full.extra, "required ops only, naive loops: a starting point");
    /* The host says how large its struct is: write no further, and keep its struct_size. */
    size_t n = info->struct_size < sizeof full ? info->struct_size : sizeof full;
    full.struct_size = info->struct_size;
    memcpy(info, &full, n);
    return VITCL_OK;
}

/* ------------------------------------------------------------------ contexts */

static vitcl_status sk_context_create(void *state, int device_index, vitcl_context **out,
                                      char *err, size_t errlen)
{
    (void)state;
    if (out == NULL) {
        set_err(err, errlen, "context_create: out is NULL");
        return VITCL_ERR_INVALID_ARGUMENT;
    }
    if (device_index != 0) {
        set_err(err, errlen, "context_create: no such device (the skeleton has device 0 only)");
        return VITCL_ERR_NOT_FOUND;
    }
    vitcl_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        set_err(err, errlen, "context_create: out of memory");
        return VITCL_ERR_OUT_OF_MEMORY;
    }
    ctx->device_index = device_index;
    *out = ctx;
    return VITCL_OK;
}

static void sk_context_destroy(vitcl_context *ctx)
{
    free(ctx); /* the host has freed every buffer of ctx already */
}

static const char *sk_last_error(vitcl_context *ctx)
{
    return ctx != NULL ? ctx->err : "skeleton: last_error called with a NULL context";
}

static vitcl_status sk_synchronize(vitcl_context *ctx)
{
    /* Every op finished before it returned: nothing is queued, no failure can be deferred. */
    return ctx != NULL ? VITCL_OK : VITCL_ERR_INVALID_ARGUMENT;
}

/* ------------------------------------------------------------------ buffers */

static vitcl_status sk_buffer_alloc(vitcl_context *ctx, size_t bytes, const char *label,
                                    vitcl_buffer **out)
{
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    const char *name = label != NULL ? label : "(unnamed)";
    if (out == NULL || bytes == 0)
        return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_alloc", "buffer '%s': %s", name,
                       out == NULL ? "out is NULL" : "zero bytes");
    vitcl_buffer *buf = calloc(1, sizeof *buf);
    float *data = buf != NULL ? malloc(bytes) : NULL;
    if (data == NULL) {
        free(buf);
        return sk_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, "buffer_alloc",
                       "cannot allocate %zu bytes for buffer '%s'", bytes, name);
    }
    buf->owner = ctx;
    buf->data = data;
    buf->bytes = bytes;
    snprintf(buf->label, sizeof buf->label, "%s", name);
    *out = buf;
    return VITCL_OK;
}

static void sk_buffer_free(vitcl_context *ctx, vitcl_buffer *buf)
{
    (void)ctx;
    if (buf == NULL)
        return;
    free(buf->data);
    free(buf);
}

/* Checks that bytes [offset, offset + bytes) lie inside buf, a buffer of ctx. */
static vitcl_status check_bytes(vitcl_context *ctx, const char *what, const vitcl_buffer *buf,
                                size_t offset, size_t bytes)
{
    if (buf == NULL)
        return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, what, "buffer is NULL");
    if (buf->owner != ctx)
        return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, what,
                       "buffer '%s' belongs to another context", buf->label);
    if (offset > buf->bytes || bytes > buf->bytes - offset)
        return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, what,
                       "bytes [%zu, +%zu) lie beyond the end of buffer '%s' (%zu bytes)", offset,
                       bytes, buf->label, buf->bytes);
    return VITCL_OK;
}

static vitcl_status sk_buffer_write(vitcl_context *ctx, vitcl_buffer *buf, size_t offset,
                                    const void *src, size_t bytes)
{
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_status st = check_bytes(ctx, "buffer_write", buf, offset, bytes);
    if (st != VITCL_OK)
        return st;
    if (src == NULL)
        return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_write", "src is NULL");
    memcpy((unsigned char *)buf->data + offset, src, bytes);
    return VITCL_OK;
}

static vitcl_status sk_buffer_read(vitcl_context *ctx, const vitcl_buffer *buf, size_t offset,
                                   void *dst, size_t bytes)
{
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_status st = check_bytes(ctx, "buffer_read", buf, offset, bytes);
    if (st != VITCL_OK)
        return st;
    if (dst == NULL)
        return sk_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_read", "dst is NULL");
    memcpy(dst, (const unsigned char *)buf->data + offset, bytes);
    return VITCL_OK;
}

static vitcl_status sk_buffer_copy(vitcl_context *ctx, vitcl_buffer *dst, size_t dst_offset,
                                   const vitcl_buffer *src, size_t src_offset, size_t bytes)
{
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_status st = check_bytes(ctx, "buffer_copy", dst, dst_offset, bytes);
    if (st == VITCL_OK)
        st = check_bytes(ctx, "buffer_copy", src, src_offset, bytes);
    if (st != VITCL_OK)
        return st;
    memmove((unsigned char *)dst->data + dst_offset,
            (const unsigned char *)src->data + src_offset, bytes);
    return VITCL_OK;
}

/* ------------------------------------------------------------------ descriptor and entry */

/* Designated initialisers leave every optional op NULL: attention, linear_pack_weight and
 * supports. struct_size records the table as this plugin was built. */
static const vitcl_op_table sk_ops = {
    .struct_size = sizeof(vitcl_op_table),
    .linear = sk_linear,
    .gemm_batched = sk_gemm_batched,
    .layernorm = sk_layernorm,
    .gelu = sk_gelu,
    .add = sk_add,
    .softmax = sk_softmax,
    .patch_embed = sk_patch_embed,
};

/* Optional entries left NULL: buffer_wrap_host, profiling, profile_drain. */
static const vitcl_backend_desc sk_desc = {
    .struct_size = sizeof(vitcl_backend_desc),
    .abi_major = VITCL_ABI_MAJOR,
    .abi_minor = VITCL_ABI_MINOR,
    .name = "skeleton",
    .version = SKELETON_VERSION,
    .description = "skeleton backend: the required ops as plain C loops (examples/plugin-skeleton)",
    .auto_rank = 0, /* below every in-tree backend: "auto" never picks the skeleton over them */
    .init = sk_init,
    .shutdown = sk_shutdown,
    .device_count = sk_device_count,
    .device_info = sk_device_info,
    .context_create = sk_context_create,
    .context_destroy = sk_context_destroy,
    .last_error = sk_last_error,
    .synchronize = sk_synchronize,
    .buffer_alloc = sk_buffer_alloc,
    .buffer_free = sk_buffer_free,
    .buffer_write = sk_buffer_write,
    .buffer_read = sk_buffer_read,
    .buffer_copy = sk_buffer_copy,
    .ops = &sk_ops,
};

VITCL_PLUGIN_EXPORT const vitcl_backend_desc *vitcl_plugin_entry(uint32_t host_abi_major,
                                                                 uint32_t host_abi_minor);

VITCL_PLUGIN_EXPORT const vitcl_backend_desc *vitcl_plugin_entry(uint32_t host_abi_major,
                                                                 uint32_t host_abi_minor)
{
    /* Another major means other field meanings: decline, and the loader says why. A newer
     * minor only appended fields, which the host treats as absent in our smaller structs. */
    (void)host_abi_minor;
    return host_abi_major == VITCL_ABI_MAJOR ? &sk_desc : NULL;
}
