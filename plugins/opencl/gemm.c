/* plugins/opencl/gemm.c - linear (dispatch) and gemm_batched through CLBlast's C API.
 *
 * linear on a weight made by linear_pack_weight or pack_weight_host runs the layout that buffer
 * was packed in: the context's GEMM kernel for 32-column panels (gemm_packed.c; for 16-bit
 * panels the kernel tuned for that format), CLBlast for plain copies. An unpacked
 * W goes to CLBlast: CLBlastSgemmWithTempBuffer (row-major, X * W^T) with a plugin-owned
 * temporary buffer grown to the size CLBlast asks for, followed by the bias + GELU kernel
 * (bias_gelu.cl) when there is a bias or GELU. With VITCL_LINEAR_RESIDUAL the own kernels add
 * Y in their epilogue; CLBlast writes its product to a second plugin-owned temporary, which
 * that kernel adds into Y. gemm_batched is CLBlastSgemm for one matrix and
 * CLBlastSgemmStridedBatched (present in CLBlast 1.5.3) otherwise. Where the self-check found
 * CLBlast unusable (ctx->clblast_unusable), both go to vitcl's own gemm_general (gemm_general.c)
 * instead.
 *
 * VITCL_CL_CLBLAST (tests): "broken" overwrites the first element of every CLBlast result with
 * NaN after the call (a CLBlast that computes wrongly), "off" makes every CLBlast routine fail
 * without calling it (a CLBlast that cannot run); unset or "on" is the normal behaviour.
 *
 * Each CLBlast routine call counts as one enqueue for VITCL_FAULT_INJECT (cl_enqueue:N).
 *
 * CLBlast compiles its kernels on the first call of each routine/parameter set and keeps them
 * in-process; the host can warm it by calling linear once per shape at model load.
 */
#include <clblast_c.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ocl.h"

static vitcl_status clblast_fail(vitcl_context *ctx, const char *op, const char *call,
                                 CLBlastStatusCode st)
{
    vitcl_status s = VITCL_ERR_DEVICE;
    if (st == CLBlastTempBufferAllocFailure || st == CLBlastOpenCLOutOfResources ||
        st == CLBlastOpenCLOutOfHostMemory)
        s = VITCL_ERR_OUT_OF_MEMORY;
    if (!ctx->fault.note[0]) /* CLBlast's own failure, not an injected one */
        ctx->clblast_failed = 1;
    return ocl_fail(ctx, s, "opencl %s on %s: %s failed: %s (%d)", op, ctx->dev->info.name, call,
                    ocl_clblast_error_name((int)st), (int)st);
}

/* Makes sure the temporary buffer *mem (of *have bytes, named `what` in errors) holds at least
 * `bytes` (at least 64). */
static vitcl_status ensure_temp(vitcl_context *ctx, cl_mem *mem, size_t *have, size_t bytes,
                                const char *what)
{
    if (bytes < 64)
        bytes = 64;
    if (*mem && *have >= bytes)
        return VITCL_OK;
    if (*mem) {
        clReleaseMemObject(*mem);
        *mem = NULL;
        *have = 0;
    }
    cl_int e = CL_SUCCESS;
    if (ocl_fault_hit(&ctx->fault, OCL_FAULT_ALLOC))
        e = (cl_int)ocl_fault_status(OCL_FAULT_ALLOC);
    else
        *mem = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &e);
    if (!*mem || e != CL_SUCCESS) {
        *mem = NULL;
        return ocl_fail(ctx, VITCL_ERR_OUT_OF_MEMORY,
                        "opencl linear on %s: cannot allocate buffer '%s' of %zu bytes: %s (%d)",
                        ctx->dev->info.name, what, bytes, ocl_cl_error_name(e), (int)e);
    }
    *have = bytes;
    return VITCL_OK;
}

vitcl_status ocl_clblast_mode_init(vitcl_context *ctx)
{
    const char *v = getenv("VITCL_CL_CLBLAST");
    ctx->clblast_mode = OCL_CLBLAST_ON;
    if (!v || !*v || !strcmp(v, "on"))
        return VITCL_OK;
    if (!strcmp(v, "broken"))
        ctx->clblast_mode = OCL_CLBLAST_BROKEN;
    else if (!strcmp(v, "off"))
        ctx->clblast_mode = OCL_CLBLAST_OFF;
    else
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl on %s: VITCL_CL_CLBLAST='%s' is not one of on, broken, off",
                        ctx->dev->info.name, v);
    return VITCL_OK;
}

const char *ocl_clblast_mode_name(ocl_clblast_mode mode)
{
    return mode == OCL_CLBLAST_BROKEN ? "broken" : mode == OCL_CLBLAST_OFF ? "off" : "on";
}

/* VITCL_CL_CLBLAST=off: the failure a CLBlast routine would report, without calling it. */
static vitcl_status clblast_off(vitcl_context *ctx, const char *op, const char *call)
{
    ctx->clblast_failed = 1;
    return ocl_fail(ctx, VITCL_ERR_DEVICE,
                    "opencl %s on %s: %s not called: CLBlast is off (VITCL_CL_CLBLAST=off)", op,
                    ctx->dev->info.name, call);
}

/* VITCL_CL_CLBLAST=broken: overwrites element `off` of `mem` (the first element of a CLBlast
 * result) with NaN, as a CLBlast computing wrongly would. */
static vitcl_status clblast_corrupt(vitcl_context *ctx, const char *op, cl_mem mem, size_t off)
{
    if (ctx->clblast_mode != OCL_CLBLAST_BROKEN)
        return VITCL_OK;
    const float nan = NAN;
    cl_int e = clEnqueueFillBuffer(ctx->queue, mem, &nan, sizeof nan, off * sizeof(float),
                                   sizeof nan, 0, NULL, NULL);
    return e == CL_SUCCESS ? VITCL_OK : ocl_fail_cl(ctx, op, "clEnqueueFillBuffer", e);
}

void ocl_gemm_release(vitcl_context *ctx)
{
    if (ctx->gemm_temp)
        clReleaseMemObject(ctx->gemm_temp);
    if (ctx->resid_temp)
        clReleaseMemObject(ctx->resid_temp);
    ctx->gemm_temp = ctx->resid_temp = NULL;
    ctx->gemm_temp_bytes = ctx->resid_temp_bytes = 0;
}

vitcl_status ocl_linear(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                        const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b, size_t b_off,
                        vitcl_buffer *Y, size_t y_off, size_t m, size_t n, size_t k,
                        uint32_t flags)
{
    const char *op = "linear";
    if (flags & ~(uint32_t)OCL_LINEAR_FLAGS)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT, "opencl linear on %s: unknown flags 0x%x",
                        ctx->dev->info.name, (unsigned)flags);
    size_t mk, nk, mn;
    if (m == 0 || n == 0 || k == 0 || !plugin_size_mul(m, k, &mk) || !plugin_size_mul(n, k, &nk) ||
        !plugin_size_mul(m, n, &mn))
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl linear on %s: invalid shape m=%zu n=%zu k=%zu", ctx->dev->info.name,
                        m, n, k);
    int packed = (flags & VITCL_LINEAR_PACKED_W) != 0;
    if (packed) {
        if (!W || W->pack == OCL_PACK_NONE || W->pack_n != n || W->pack_k != k || w_off != 0)
            return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                            "opencl linear on %s: VITCL_LINEAR_PACKED_W needs a buffer from "
                            "linear_pack_weight for n=%zu k=%zu at offset 0; '%s' %s",
                            ctx->dev->info.name, n, k, W ? W->label : "(null)",
                            W && W->pack != OCL_PACK_NONE ? "was packed for another shape"
                                                          : "is not packed");
    } else if (W && W->pack == OCL_PACK_PANELS) {
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl linear on %s: '%s' is a packed weight but VITCL_LINEAR_PACKED_W "
                        "is not set",
                        ctx->dev->info.name, W->label);
    }
    vitcl_status s;
    if ((s = ocl_check_range(ctx, op, "X", X, x_off, mk)) != VITCL_OK ||
        (!packed && (s = ocl_check_range(ctx, op, "W", W, w_off, nk)) != VITCL_OK) ||
        (s = ocl_check_range(ctx, op, "Y", Y, y_off, mn)) != VITCL_OK ||
        (b && (s = ocl_check_range(ctx, op, "bias", b, b_off, n)) != VITCL_OK))
        return s;
    uint32_t epi = flags & (VITCL_LINEAR_GELU | VITCL_LINEAR_RESIDUAL);
    if (packed && W->pack == OCL_PACK_PANELS) {
        /* 16-bit weights run the kernel tuned for their format (pack_weight_host tuned it). */
        ocl_kernel_id kern =
            W->pack_fmt == OCL_W_F32 ? ctx->gemm_kernel : ctx->wkernel[W->pack_fmt];
        return ocl_linear_panels(ctx, kern, X, x_off, W, b, b_off, Y, y_off, m, n, k, epi);
    }
    /* An unpacked W (or a plain copy, same layout) where CLBlast failed its self-check. */
    if (ctx->clblast_unusable)
        return ocl_linear_general(ctx, X, x_off, W, w_off, b, b_off, Y, y_off, m, n, k, epi);
    return ocl_linear_clblast(ctx, X, x_off, W, w_off, b, b_off, Y, y_off, m, n, k, epi);
}

vitcl_status ocl_clblast_temp_bytes(vitcl_context *ctx, size_t m, size_t n, size_t k,
                                    size_t *bytes)
{
    *bytes = 0;
    if (ctx->clblast_mode == OCL_CLBLAST_OFF)
        return clblast_off(ctx, "linear", "CLBlastSGemmTempBufferSize");
    CLBlastStatusCode st = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                                      CLBlastTransposeYes, m, n, k, 0, k, 0, k, 0,
                                                      n, &ctx->queue, bytes);
    return st == CLBlastSuccess ? VITCL_OK
                                : clblast_fail(ctx, "linear", "CLBlastSGemmTempBufferSize", st);
}

vitcl_status ocl_linear_clblast(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b,
                                size_t b_off, vitcl_buffer *Y, size_t y_off, size_t m, size_t n,
                                size_t k, uint32_t epi)
{
    const char *op = "linear";
    vitcl_status s;
    size_t temp = 0;
    int gelu = (epi & VITCL_LINEAR_GELU) != 0, resid = (epi & VITCL_LINEAR_RESIDUAL) != 0;
    /* With a residual, CLBlast's product goes to resid_temp (offset 0) and bias_act adds it. */
    if (resid && (s = ensure_temp(ctx, &ctx->resid_temp, &ctx->resid_temp_bytes,
                                  m * n * sizeof(float), "residual temporary")) != VITCL_OK)
        return s;
    cl_mem pmem = resid ? ctx->resid_temp : Y->mem;
    size_t p_off = resid ? 0 : y_off;
    if (ctx->clblast_mode == OCL_CLBLAST_OFF)
        return clblast_off(ctx, op, "CLBlastSGemmTempBufferSize");
    CLBlastStatusCode st = CLBlastSGemmTempBufferSize(
        CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes, m, n, k, x_off, k, w_off,
        k, p_off, n, &ctx->queue, &temp);
    if (st != CLBlastSuccess)
        return clblast_fail(ctx, op, "CLBlastSGemmTempBufferSize", st);
    /* CLBlast reports the temporary size in bytes (0 for its direct kernel). */
    if ((s = ensure_temp(ctx, &ctx->gemm_temp, &ctx->gemm_temp_bytes, temp,
                         "clblast temporary")) != VITCL_OK)
        return s;
    if (ocl_fault_hit(&ctx->fault, OCL_FAULT_ENQUEUE))
        st = (CLBlastStatusCode)ocl_fault_status(OCL_FAULT_ENQUEUE);
    else
        st = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                        CLBlastTransposeYes, m, n, k, 1.0f, X->mem, x_off, k,
                                        W->mem, w_off, k, 0.0f, pmem, p_off, n, &ctx->queue,
                                        ocl_prof_event(ctx), ctx->gemm_temp);
    ocl_prof_step(ctx);
    if (st != CLBlastSuccess) {
        ocl_prof_end(ctx, op);
        return clblast_fail(ctx, op, "CLBlastSgemmWithTempBuffer", st);
    }
    if ((s = clblast_corrupt(ctx, op, pmem, p_off)) != VITCL_OK) {
        ocl_prof_end(ctx, op);
        return s;
    }
    if (!b && !gelu && !resid) {
        ocl_prof_end(ctx, op);
        return VITCL_OK;
    }
    cl_ulong po = p_off, yo = y_off, bo = b_off, cols = n, total = m * n;
    cl_int has_bias = b != NULL, act = gelu, add_y = resid;
    cl_mem bmem = b ? b->mem : Y->mem; /* unused when has_bias == 0 */
    ocl_args a;
    ocl_args_begin(&a, ctx->kernels[OCL_K_BIAS_ACT]);
    OCL_ARG(&a, pmem);
    OCL_ARG(&a, po);
    OCL_ARG(&a, Y->mem);
    OCL_ARG(&a, yo);
    OCL_ARG(&a, bmem);
    OCL_ARG(&a, bo);
    OCL_ARG(&a, cols);
    OCL_ARG(&a, total);
    OCL_ARG(&a, has_bias);
    OCL_ARG(&a, act);
    OCL_ARG(&a, add_y);
    return ocl_launch_1d(ctx, op, &a, OCL_K_BIAS_ACT, m * n);
}

vitcl_status ocl_gemm_batched(vitcl_context *ctx, int trans_a, int trans_b, size_t m, size_t n,
                              size_t k, float alpha, const vitcl_buffer *A, size_t a_off,
                              size_t lda, size_t stride_a, const vitcl_buffer *B, size_t b_off,
                              size_t ldb, size_t stride_b, float beta, vitcl_buffer *C,
                              size_t c_off, size_t ldc, size_t stride_c, size_t batch)
{
    if (ctx->clblast_unusable)
        return ocl_gemm_general(ctx, "gemm_batched", trans_a, trans_b, m, n, k, alpha, A, a_off,
                                lda, stride_a, B, b_off, ldb, stride_b, beta, C, c_off, ldc,
                                stride_c, batch, NULL, 0, 0);
    return ocl_gemm_batched_clblast(ctx, trans_a, trans_b, m, n, k, alpha, A, a_off, lda,
                                    stride_a, B, b_off, ldb, stride_b, beta, C, c_off, ldc,
                                    stride_c, batch);
}

vitcl_status ocl_gemm_batched_clblast(vitcl_context *ctx, int trans_a, int trans_b, size_t m,
                                      size_t n, size_t k, float alpha, const vitcl_buffer *A,
                                      size_t a_off, size_t lda, size_t stride_a,
                                      const vitcl_buffer *B, size_t b_off, size_t ldb,
                                      size_t stride_b, float beta, vitcl_buffer *C, size_t c_off,
                                      size_t ldc, size_t stride_c, size_t batch)
{
    const char *op = "gemm_batched";
    if (!A || !B || !C || m == 0 || n == 0 || k == 0 || batch == 0)
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl gemm_batched on %s: invalid arguments (m=%zu n=%zu k=%zu "
                        "batch=%zu)",
                        ctx->dev->info.name, m, n, k, batch);
    if (ctx->clblast_mode == OCL_CLBLAST_OFF)
        return clblast_off(ctx, op, batch == 1 ? "CLBlastSgemm" : "CLBlastSgemmStridedBatched");
    CLBlastTranspose ta = trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode st;
    const char *call;
    if (ocl_fault_hit(&ctx->fault, OCL_FAULT_ENQUEUE)) {
        call = batch == 1 ? "CLBlastSgemm" : "CLBlastSgemmStridedBatched";
        st = (CLBlastStatusCode)ocl_fault_status(OCL_FAULT_ENQUEUE);
    } else if (batch == 1) {
        call = "CLBlastSgemm";
        st = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, m, n, k, alpha, A->mem, a_off, lda,
                          B->mem, b_off, ldb, beta, C->mem, c_off, ldc, &ctx->queue,
                          ocl_prof_event(ctx));
    } else {
        call = "CLBlastSgemmStridedBatched";
        st = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, m, n, k, alpha, A->mem,
                                        a_off, lda, stride_a, B->mem, b_off, ldb, stride_b, beta,
                                        C->mem, c_off, ldc, stride_c, batch, &ctx->queue,
                                        ocl_prof_event(ctx));
    }
    ocl_prof_step(ctx);
    ocl_prof_end(ctx, op);
    if (st != CLBlastSuccess)
        return clblast_fail(ctx, op, call, st);
    return clblast_corrupt(ctx, op, C->mem, c_off);
}
