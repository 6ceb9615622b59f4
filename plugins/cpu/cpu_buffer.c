/* plugins/cpu/cpu_buffer.c - the cpu plugin's buffers: 64-byte aligned host memory, or the
 * caller's read-only host memory aliased without a copy (buffer_wrap_host). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

static void set_label(vitcl_buffer *b, const char *label)
{
    snprintf(b->label, sizeof b->label, "%s", label && label[0] ? label : "(unnamed)");
}

vitcl_status cpu_buffer_new(vitcl_context *ctx, const char *op, size_t bytes, const char *label,
                            vitcl_buffer **out)
{
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    if (!out)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "out is NULL");
    if (bytes == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "buffer '%s' of 0 bytes",
                        label ? label : "(unnamed)");
    if (bytes > SIZE_MAX - CPU_ALIGN)
        return cpu_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, op, "buffer '%s' of %zu bytes is too large",
                        label ? label : "(unnamed)", bytes);
    vitcl_buffer *b = calloc(1, sizeof *b);
    size_t rounded = (bytes + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;
    unsigned char *data = b ? aligned_alloc(CPU_ALIGN, rounded) : NULL;
    if (!data) {
        free(b);
        return cpu_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, op,
                        "cannot allocate %zu bytes for buffer '%s'", bytes,
                        label ? label : "(unnamed)");
    }
    b->owner = ctx;
    b->data = data;
    b->bytes = bytes;
    b->owned = 1;
    set_label(b, label);
    *out = b;
    return VITCL_OK;
}

vitcl_status cpu_buffer_alloc(vitcl_context *ctx, size_t bytes, const char *label,
                              vitcl_buffer **out)
{
    return cpu_buffer_new(ctx, "buffer_alloc", bytes, label, out);
}

void cpu_buffer_free(vitcl_context *ctx, vitcl_buffer *buf)
{
    (void)ctx;
    if (!buf)
        return;
    if (buf->owned)
        free(buf->data);
    free(buf);
}

/* Checks buf (of ctx) and the byte range [offset, offset + bytes). */
static vitcl_status check_bytes(vitcl_context *ctx, const char *op, const vitcl_buffer *buf,
                                size_t offset, size_t bytes, int writable)
{
    size_t end;
    if (!buf)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op, "buffer is NULL");
    if (buf->owner != ctx)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "buffer '%s' belongs to another context", buf->label);
    if (!plugin_size_add(offset, bytes, &end) || end > buf->bytes)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "bytes [%zu, %zu + %zu) lie outside buffer '%s' (%zu bytes)", offset,
                        offset, bytes, buf->label, buf->bytes);
    if (writable && buf->read_only)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, op,
                        "buffer '%s' is a read-only host wrap", buf->label);
    return VITCL_OK;
}

vitcl_status cpu_buffer_write(vitcl_context *ctx, vitcl_buffer *buf, size_t offset,
                              const void *src, size_t bytes)
{
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_status st = check_bytes(ctx, "buffer_write", buf, offset, bytes, 1);
    if (st != VITCL_OK)
        return st;
    if (bytes == 0)
        return VITCL_OK;
    if (!src)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_write", "src is NULL");
    memcpy(buf->data + offset, src, bytes);
    return VITCL_OK;
}

vitcl_status cpu_buffer_read(vitcl_context *ctx, const vitcl_buffer *buf, size_t offset,
                             void *dst, size_t bytes)
{
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_status st = check_bytes(ctx, "buffer_read", buf, offset, bytes, 0);
    if (st != VITCL_OK)
        return st;
    if (bytes == 0)
        return VITCL_OK;
    if (!dst)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_read", "dst is NULL");
    memcpy(dst, buf->data + offset, bytes);
    return VITCL_OK;
}

vitcl_status cpu_buffer_copy(vitcl_context *ctx, vitcl_buffer *dst, size_t dst_offset,
                             const vitcl_buffer *src, size_t src_offset, size_t bytes)
{
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    vitcl_status st = check_bytes(ctx, "buffer_copy", dst, dst_offset, bytes, 1);
    if (st == VITCL_OK)
        st = check_bytes(ctx, "buffer_copy", src, src_offset, bytes, 0);
    if (st != VITCL_OK || bytes == 0)
        return st;
    const unsigned char *s = src->data + src_offset;
    unsigned char *d = dst->data + dst_offset;
    if (s < d + bytes && d < s + bytes)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_copy",
                        "source '%s' and destination '%s' ranges overlap", src->label, dst->label);
    memcpy(d, s, bytes);
    return VITCL_OK;
}

vitcl_status cpu_buffer_wrap_host(vitcl_context *ctx, const void *host, size_t bytes,
                                  const char *label, vitcl_buffer **out)
{
    if (!ctx)
        return VITCL_ERR_INVALID_ARGUMENT;
    if (!out)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_wrap_host", "out is NULL");
    if (!host || bytes == 0)
        return cpu_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "buffer_wrap_host",
                        "buffer '%s': %s", label ? label : "(unnamed)",
                        !host ? "host pointer is NULL" : "size is 0");
    if ((uintptr_t)host % sizeof(float) != 0) {
        /* Floats at a misaligned address cannot be aliased portably: copy them instead. */
        vitcl_buffer *copy = NULL;
        vitcl_status st = cpu_buffer_new(ctx, "buffer_wrap_host", bytes, label, &copy);
        if (st != VITCL_OK)
            return st;
        memcpy(copy->data, host, bytes);
        copy->read_only = 1;
        *out = copy;
        return VITCL_OK;
    }
    vitcl_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return cpu_fail(ctx, VITCL_ERR_OUT_OF_MEMORY, "buffer_wrap_host",
                        "cannot allocate the handle of buffer '%s'", label ? label : "(unnamed)");
    b->owner = ctx;
    b->data = (unsigned char *)(uintptr_t)host; /* aliased read-only: never written */
    b->bytes = bytes;
    b->read_only = 1;
    set_label(b, label);
    *out = b;
    return VITCL_OK;
}
