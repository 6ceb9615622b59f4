/* plugins/opencl/buffers.c - device buffers: alloc, free, host transfers, copies, wrapping.
 *
 * buffer_wrap_host aliases the caller's memory with CL_MEM_USE_HOST_PTR (read-only) on devices
 * whose memory is host memory, so weights mapped from a file are not copied again; elsewhere it
 * copies into a fresh device buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ocl.h"

static vitcl_status make_buffer(vitcl_context *ctx, cl_mem_flags flags, size_t bytes,
                                void *host, const char *label, const char *op,
                                vitcl_buffer **out)
{
    const char *name = label && *label ? label : "(unnamed)";
    if (!out || bytes == 0)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl %s on %s: buffer '%s' of %zu bytes: size must be > 0", op,
                        ctx->dev->info.name, name, bytes);
    if (ctx->dev->info.max_alloc_bytes && (uint64_t)bytes > ctx->dev->info.max_alloc_bytes)
        return ocl_fail(ctx, VITCL_ERR_OUT_OF_MEMORY,
                        "opencl %s on %s: cannot allocate buffer '%s' of %zu bytes: the device's "
                        "largest allocation is %llu bytes",
                        op, ctx->dev->info.name, name, bytes,
                        (unsigned long long)ctx->dev->info.max_alloc_bytes);
    vitcl_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return ocl_fail(ctx, VITCL_ERR_OUT_OF_MEMORY,
                        "opencl %s on %s: out of host memory for buffer '%s'", op,
                        ctx->dev->info.name, name);
    cl_int e = CL_SUCCESS;
    if (ocl_fault_hit(&ctx->fault, OCL_FAULT_ALLOC))
        e = (cl_int)ocl_fault_status(OCL_FAULT_ALLOC);
    else
        b->mem = clCreateBuffer(ctx->cl, flags, bytes, host, &e);
    if (!b->mem || e != CL_SUCCESS) {
        free(b);
        return ocl_fail(ctx, VITCL_ERR_OUT_OF_MEMORY,
                        "opencl %s on %s: cannot allocate buffer '%s' of %zu bytes: "
                        "clCreateBuffer failed: %s (%d)",
                        op, ctx->dev->info.name, name, bytes, ocl_cl_error_name(e), (int)e);
    }
    b->bytes = bytes;
    ocl_copy_str(b->label, sizeof b->label, name);
    *out = b;
    return VITCL_OK;
}

vitcl_status ocl_buffer_alloc(vitcl_context *ctx, size_t bytes, const char *label,
                              vitcl_buffer **out)
{
    return make_buffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, label, "buffer_alloc", out);
}

vitcl_status ocl_buffer_alloc_for(vitcl_context *ctx, const char *op, size_t bytes,
                                  const char *label, vitcl_buffer **out)
{
    return make_buffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, label, op, out);
}

void ocl_buffer_free(vitcl_context *ctx, vitcl_buffer *buf)
{
    (void)ctx;
    if (!buf)
        return;
    /* clReleaseMemObject defers the release until queued commands using it finish. */
    clReleaseMemObject(buf->mem);
    free(buf);
}

static vitcl_status check_bytes(vitcl_context *ctx, const char *op, const vitcl_buffer *buf,
                                size_t offset, size_t bytes)
{
    if (!buf)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "opencl %s on %s: NULL buffer", op,
                        ctx->dev->info.name);
    if (offset > buf->bytes || bytes > buf->bytes - offset)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl %s on %s: %zu bytes at offset %zu exceed buffer '%s' (%zu bytes)",
                        op, ctx->dev->info.name, bytes, offset, buf->label, buf->bytes);
    return VITCL_OK;
}

vitcl_status ocl_check_range(vitcl_context *ctx, const char *op, const char *what,
                             const vitcl_buffer *buf, size_t off, size_t count)
{
    if (!buf)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "opencl %s on %s: %s is NULL", op,
                        ctx->dev->info.name, what);
    size_t floats = buf->bytes / sizeof(float);
    if (off > floats || count > floats - off)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl %s on %s: %s needs floats [%zu, %zu+%zu) but buffer '%s' holds "
                        "%zu",
                        op, ctx->dev->info.name, what, off, off, count, buf->label, floats);
    return VITCL_OK;
}

/* A failed transfer, naming the buffer (the destination of a copy). */
static vitcl_status transfer_fail(vitcl_context *ctx, const char *op, const char *call,
                                  size_t bytes, const vitcl_buffer *buf, cl_int e)
{
    char what[OCL_LABEL_MAX + 64];
    snprintf(what, sizeof what, "%s of %zu bytes for buffer '%s'", call, bytes, buf->label);
    return ocl_fail_cl(ctx, op, what, e);
}

vitcl_status ocl_buffer_write(vitcl_context *ctx, vitcl_buffer *buf, size_t offset,
                              const void *src, size_t bytes)
{
    vitcl_status s = check_bytes(ctx, "buffer_write", buf, offset, bytes);
    if (s != VITCL_OK || bytes == 0)
        return s;
    if (buf->zero_copy)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl buffer_write on %s: buffer '%s' wraps read-only host memory",
                        ctx->dev->info.name, buf->label);
    cl_int e = ocl_fault_hit(&ctx->fault, OCL_FAULT_ENQUEUE)
                   ? (cl_int)ocl_fault_status(OCL_FAULT_ENQUEUE)
                   : clEnqueueWriteBuffer(ctx->queue, buf->mem, CL_TRUE, offset, bytes, src, 0,
                                          NULL, NULL);
    if (e != CL_SUCCESS)
        return transfer_fail(ctx, "buffer_write", "clEnqueueWriteBuffer", bytes, buf, e);
    return VITCL_OK;
}

vitcl_status ocl_buffer_read(vitcl_context *ctx, const vitcl_buffer *buf, size_t offset,
                             void *dst, size_t bytes)
{
    vitcl_status s = check_bytes(ctx, "buffer_read", buf, offset, bytes);
    if (s != VITCL_OK || bytes == 0)
        return s;
    cl_int e = ocl_fault_hit(&ctx->fault, OCL_FAULT_ENQUEUE)
                   ? (cl_int)ocl_fault_status(OCL_FAULT_ENQUEUE)
                   : clEnqueueReadBuffer(ctx->queue, buf->mem, CL_TRUE, offset, bytes, dst, 0,
                                         NULL, NULL);
    if (e != CL_SUCCESS)
        return transfer_fail(ctx, "buffer_read", "clEnqueueReadBuffer", bytes, buf, e);
    return VITCL_OK;
}

vitcl_status ocl_buffer_copy(vitcl_context *ctx, vitcl_buffer *dst, size_t dst_offset,
                             const vitcl_buffer *src, size_t src_offset, size_t bytes)
{
    vitcl_status s = check_bytes(ctx, "buffer_copy", dst, dst_offset, bytes);
    if (s == VITCL_OK)
        s = check_bytes(ctx, "buffer_copy", src, src_offset, bytes);
    if (s != VITCL_OK || bytes == 0)
        return s;
    cl_int e = ocl_fault_hit(&ctx->fault, OCL_FAULT_ENQUEUE)
                   ? (cl_int)ocl_fault_status(OCL_FAULT_ENQUEUE)
                   : clEnqueueCopyBuffer(ctx->queue, src->mem, dst->mem, src_offset, dst_offset,
                                         bytes, 0, NULL, ocl_prof_event(ctx));
    ocl_prof_step(ctx);
    ocl_prof_end(ctx, "buffer_copy");
    if (e != CL_SUCCESS)
        return transfer_fail(ctx, "buffer_copy", "clEnqueueCopyBuffer", bytes, dst, e);
    return VITCL_OK;
}

vitcl_status ocl_buffer_wrap_host(vitcl_context *ctx, const void *host, size_t bytes,
                                  const char *label, vitcl_buffer **out)
{
    if (!host)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl buffer_wrap_host on %s: NULL host pointer for '%s'",
                        ctx->dev->info.name, label ? label : "(unnamed)");
    if (ctx->dev->unified) {
        /* The device reads host memory directly; the caller keeps it valid and unchanged. */
        vitcl_status s = make_buffer(ctx, CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR, bytes,
                                     (void *)(uintptr_t)host, label, "buffer_wrap_host", out);
        if (s == VITCL_OK)
            (*out)->zero_copy = 1;
        return s;
    }
    vitcl_status s = make_buffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes,
                                 (void *)(uintptr_t)host, label, "buffer_wrap_host", out);
    return s;
}

vitcl_status ocl_scratch(vitcl_context *ctx, ocl_scratch_id id, size_t bytes, const char *op,
                         const char *label, cl_mem *mem)
{
    if (bytes < 64)
        bytes = 64;
    if (!ctx->scratch[id] || ctx->scratch_bytes[id] < bytes) {
        if (ctx->scratch[id])
            clReleaseMemObject(ctx->scratch[id]);
        ctx->scratch[id] = NULL;
        ctx->scratch_bytes[id] = 0;
        if (ctx->dev->info.max_alloc_bytes && (uint64_t)bytes > ctx->dev->info.max_alloc_bytes)
            return ocl_fail(ctx, VITCL_ERR_OUT_OF_MEMORY,
                            "opencl %s on %s: scratch buffer '%s' of %zu bytes exceeds the "
                            "device's largest allocation (%llu bytes)",
                            op, ctx->dev->info.name, label, bytes,
                            (unsigned long long)ctx->dev->info.max_alloc_bytes);
        cl_int e = CL_SUCCESS;
        cl_mem m = NULL;
        if (ocl_fault_hit(&ctx->fault, OCL_FAULT_ALLOC))
            e = (cl_int)ocl_fault_status(OCL_FAULT_ALLOC);
        else
            m = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &e);
        if (!m || e != CL_SUCCESS)
            return ocl_fail(ctx, VITCL_ERR_OUT_OF_MEMORY,
                            "opencl %s on %s: cannot allocate scratch buffer '%s' of %zu bytes: "
                            "%s (%d)",
                            op, ctx->dev->info.name, label, bytes, ocl_cl_error_name(e), (int)e);
        ctx->scratch[id] = m;
        ctx->scratch_bytes[id] = bytes;
    }
    *mem = ctx->scratch[id];
    return VITCL_OK;
}

void ocl_scratch_release(vitcl_context *ctx)
{
    for (int i = 0; i < OCL_SCRATCH_COUNT; i++) {
        if (ctx->scratch[i])
            clReleaseMemObject(ctx->scratch[i]);
        ctx->scratch[i] = NULL;
        ctx->scratch_bytes[i] = 0;
    }
}
