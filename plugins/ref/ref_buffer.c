/* plugins/ref/ref_buffer.c - reference buffers: host memory, owned or wrapping the caller's
 * read-only memory without a copy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref_internal.h"

static void set_label(vitcl_buffer *buf, const char *label)
{
    snprintf(buf->label, sizeof buf->label, "%s", label != NULL ? label : "(unnamed)");
}

vitcl_status ref_buffer_new(vitcl_context *ctx, const char *op, size_t bytes, const char *label,
                            vitcl_buffer **out)
{
    const char *name = label != NULL ? label : "(unnamed)";
    if (ctx->max_alloc != 0 && bytes > ctx->max_alloc)
        return ref_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, op,
                        "buffer '%s' of %zu bytes exceeds the host memory (%llu bytes)", name,
                        bytes, (unsigned long long)ctx->max_alloc);
    vitcl_buffer *buf = calloc(1, sizeof *buf);
    unsigned char *data = buf != NULL ? malloc(bytes) : NULL;
    if (data == NULL) {
        free(buf);
        return ref_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, op,
                        "cannot allocate %zu bytes for buffer '%s' in host memory", bytes, name);
    }
    buf->owner = ctx;
    buf->data = data;
    buf->bytes = bytes;
    buf->owned = 1;
    set_label(buf, label);
    *out = buf;
    return VITCL_OK;
}

vitcl_status ref_buffer_alloc(vitcl_context *ctx, size_t bytes, const char *label,
                              vitcl_buffer **out)
{
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    if (out == NULL)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_alloc", "out is NULL");
    if (bytes == 0)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_alloc",
                        "buffer '%s' has zero bytes", label != NULL ? label : "(unnamed)");
    return ref_buffer_new(ctx, "buffer_alloc", bytes, label, out);
}

void ref_buffer_free(vitcl_context *ctx, vitcl_buffer *buf)
{
    (void)ctx;
    if (buf == NULL)
        return;
    if (buf->owned)
        free(buf->data);
    free(buf);
}

/* Checks that bytes [offset, offset + bytes) lie inside buf. */
static vitcl_status check_bytes(vitcl_context *ctx, const char *op, const vitcl_buffer *buf,
                                size_t offset, size_t bytes)
{
    size_t end = 0;
    if (buf == NULL)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "buffer is NULL");
    if (buf->owner != ctx)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "buffer '%s' belongs to another context", buf->label);
    if (!plugin_size_add(offset, bytes, &end) || end > buf->bytes)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "bytes [%zu, +%zu) lie beyond the end of buffer '%s' (%zu bytes)", offset,
                        bytes, buf->label, buf->bytes);
    return VITCL_OK;
}

vitcl_status ref_buffer_write(vitcl_context *ctx, vitcl_buffer *buf, size_t offset,
                              const void *src, size_t bytes)
{
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_status st = check_bytes(ctx, "buffer_write", buf, offset, bytes);
    if (st != VITCL_OK)
        return st;
    if (src == NULL)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_write", "src is NULL");
    if (buf->read_only)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_write",
                        "buffer '%s' is a read-only host wrap", buf->label);
    if (bytes > 0)
        memcpy(buf->data + offset, src, bytes);
    return VITCL_OK;
}

vitcl_status ref_buffer_read(vitcl_context *ctx, const vitcl_buffer *buf, size_t offset,
                             void *dst, size_t bytes)
{
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_status st = check_bytes(ctx, "buffer_read", buf, offset, bytes);
    if (st != VITCL_OK)
        return st;
    if (dst == NULL)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_read", "dst is NULL");
    if (bytes > 0)
        memcpy(dst, buf->data + offset, bytes);
    return VITCL_OK;
}

vitcl_status ref_buffer_copy(vitcl_context *ctx, vitcl_buffer *dst, size_t dst_offset,
                             const vitcl_buffer *src, size_t src_offset, size_t bytes)
{
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_status st = check_bytes(ctx, "buffer_copy", dst, dst_offset, bytes);
    if (st == VITCL_OK)
        st = check_bytes(ctx, "buffer_copy", src, src_offset, bytes);
    if (st != VITCL_OK)
        return st;
    if (dst->read_only)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_copy",
                        "destination buffer '%s' is a read-only host wrap", dst->label);
    if (dst == src && bytes > 0 && dst_offset < src_offset + bytes &&
        src_offset < dst_offset + bytes)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_copy",
                        "source and destination overlap in buffer '%s'", dst->label);
    if (bytes > 0)
        memcpy(dst->data + dst_offset, src->data + src_offset, bytes);
    return VITCL_OK;
}

vitcl_status ref_buffer_wrap_host(vitcl_context *ctx, const void *host, size_t bytes,
                                  const char *label, vitcl_buffer **out)
{
    if (ctx == NULL)
        return VITCL_ERR_INVALID_ARGUMENT;
    const char *name = label != NULL ? label : "(unnamed)";
    if (out == NULL || host == NULL || bytes == 0)
        return ref_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_wrap_host", "buffer '%s': %s",
                        name, out == NULL ? "out is NULL" : host == NULL ? "host is NULL"
                                                                         : "zero bytes");
    vitcl_buffer *buf = calloc(1, sizeof *buf);
    if (buf == NULL)
        return ref_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, "buffer_wrap_host",
                        "cannot allocate the handle of buffer '%s'", name);
    buf->owner = ctx;
    /* Aliases the caller's memory; read_only keeps every write path away from it. */
    buf->data = (unsigned char *)(uintptr_t)host;
    buf->bytes = bytes;
    buf->read_only = 1;
    set_label(buf, label);
    *out = buf;
    return VITCL_OK;
}
