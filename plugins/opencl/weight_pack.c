/* plugins/opencl/weight_pack.c - pack_weight_host (ABI 1.1): a linear weight straight from host
 * memory, in its stored dtype (F32, F16, BF16), into the layout and precision linear reads.
 *
 * bf16 and fp16: every element is rounded to nearest even (plugins/common/plugin_half.h) while it is written
 * into 32-column k-major panels of 16-bit elements (the layout of clkernels/gemm.cl, halved),
 * which the 16-bit GEMM kernels widen to float as they read them (fp32 arithmetic). fp32: the
 * weight is widened exactly and laid out as the context's fp32 mode wants it (panels, or a
 * plain [n,k] copy in CLBlast mode); the host asks this only for F16/BF16 weights (supports()
 * declines F32 at fp32, so those keep the 1.0 path). The conversion runs on the host in one
 * pass over the mapped checkpoint into a temporary array, then one upload; the host memory is
 * never kept.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_half.h"
#include "ocl.h"

size_t ocl_wfmt_bytes(ocl_wfmt fmt)
{
    return fmt == OCL_W_F32 ? sizeof(float) : sizeof(uint16_t);
}

const char *ocl_wfmt_name(ocl_wfmt fmt)
{
    return fmt == OCL_W_BF16 ? "bf16" : fmt == OCL_W_F16 ? "fp16" : "fp32";
}

static float elem_f32(const void *w, uint32_t dtype, size_t i)
{
    if (dtype == VITCL_DTYPE_F16)
        return plugin_f16_to_f32(((const uint16_t *)w)[i]);
    if (dtype == VITCL_DTYPE_BF16)
        return plugin_bf16_to_f32(((const uint16_t *)w)[i]);
    return ((const float *)w)[i];
}

/* Element i of w (dtype) stored as format fmt at dst[o]. */
static void put(void *dst, size_t o, ocl_wfmt fmt, const void *w, uint32_t dtype, size_t i)
{
    if (fmt == OCL_W_F32) {
        ((float *)dst)[o] = elem_f32(w, dtype, i);
    } else if ((fmt == OCL_W_F16 && dtype == VITCL_DTYPE_F16) ||
               (fmt == OCL_W_BF16 && dtype == VITCL_DTYPE_BF16)) {
        /* The same format (the numbering of vitcl_dtype differs from vitcl_precision's): the
         * bits as stored. */
        ((uint16_t *)dst)[o] = ((const uint16_t *)w)[i];
    } else {
        float v = elem_f32(w, dtype, i);
        ((uint16_t *)dst)[o] = fmt == OCL_W_F16 ? plugin_f32_to_f16(v) : plugin_f32_to_bf16(v);
    }
}

void ocl_pack_host_panels(const void *w, uint32_t dtype, size_t n, size_t k, ocl_wfmt fmt,
                          void *dst)
{
    const size_t panels = n / OCL_GEMM_PANEL + (n % OCL_GEMM_PANEL != 0);
    for (size_t j = 0; j < panels; j++)
        for (size_t c = 0; c < OCL_GEMM_PANEL; c++) {
            const size_t col = j * OCL_GEMM_PANEL + c;
            size_t o = j * k * OCL_GEMM_PANEL + c;
            if (col >= n) {
                for (size_t t = 0; t < k; t++, o += OCL_GEMM_PANEL) {
                    if (fmt == OCL_W_F32)
                        ((float *)dst)[o] = 0.0f;
                    else
                        ((uint16_t *)dst)[o] = 0;
                }
                continue;
            }
            /* Row col of W is read contiguously; it lands every 32 elements of the panel. */
            for (size_t t = 0; t < k; t++, o += OCL_GEMM_PANEL)
                put(dst, o, fmt, w, dtype, col * k + t);
        }
}

/* A new packed buffer holding `bytes` of `data` in the given layout and format, for (n, k). */
static vitcl_status upload_packed(vitcl_context *ctx, const void *data, size_t bytes,
                                  ocl_pack_layout layout, ocl_wfmt fmt, size_t n, size_t k,
                                  const char *label, vitcl_buffer **out)
{
    vitcl_buffer *P = NULL;
    vitcl_status s = ocl_buffer_alloc_for(ctx, "pack_weight_host", bytes, label, &P);
    if (s != VITCL_OK)
        return s;
    if ((s = ocl_buffer_write(ctx, P, 0, data, bytes)) != VITCL_OK) {
        ocl_buffer_free(ctx, P);
        return s;
    }
    P->pack = layout;
    P->pack_fmt = fmt;
    P->pack_n = n;
    P->pack_k = k;
    *out = P;
    return VITCL_OK;
}

vitcl_status ocl_upload_panels(vitcl_context *ctx, const void *panels, size_t n, size_t k,
                               ocl_wfmt fmt, const char *label, vitcl_buffer **out)
{
    const size_t cols = (n / OCL_GEMM_PANEL + (n % OCL_GEMM_PANEL != 0)) * OCL_GEMM_PANEL;
    size_t elems, bytes;
    if (!plugin_size_mul(cols, k, &elems) ||
        !plugin_size_mul(elems, ocl_wfmt_bytes(fmt), &bytes))
        return ocl_fail(ctx, VITCL_ERR_LIMIT, "opencl pack_weight_host on %s: '%s' [%zu, %zu] "
                        "is too large", ctx->dev->info.name, label ? label : "(unnamed)", n, k);
    return upload_packed(ctx, panels, bytes, OCL_PACK_PANELS, fmt, n, k, label, out);
}

/* fp32 in CLBlast mode: the widened weight as a plain [n,k] copy. */
static vitcl_status upload_plain(vitcl_context *ctx, const void *w, uint32_t dtype, size_t n,
                                 size_t k, const char *label, vitcl_buffer **out)
{
    const size_t nk = n * k; /* checked by the caller */
    float *tmp = malloc(nk * sizeof *tmp);
    if (!tmp)
        return ocl_fail(ctx, VITCL_ERR_OUT_OF_MEMORY,
                        "opencl pack_weight_host on %s: out of host memory for '%s'",
                        ctx->dev->info.name, label ? label : "(unnamed)");
    for (size_t i = 0; i < nk; i++)
        tmp[i] = elem_f32(w, dtype, i);
    vitcl_status s = upload_packed(ctx, tmp, nk * sizeof(float), OCL_PACK_PLAIN, OCL_W_F32, n, k,
                                   label, out);
    free(tmp);
    return s;
}

vitcl_status ocl_pack_weight_host(vitcl_context *ctx, const void *w, uint32_t dtype, size_t n,
                                  size_t k, uint32_t precision, const char *label,
                                  vitcl_buffer **out)
{
    const char *name = label && *label ? label : "(unnamed)";
    const char *dev = ctx->dev->info.name;
    if (dtype >= VITCL_DTYPE_COUNT_)
        return ocl_fail(ctx, VITCL_ERR_UNSUPPORTED,
                        "opencl pack_weight_host on %s: '%s' has unknown dtype %u", dev, name,
                        (unsigned)dtype);
    if (precision >= VITCL_PRECISION_COUNT_)
        return ocl_fail(ctx, VITCL_ERR_UNSUPPORTED,
                        "opencl pack_weight_host on %s: '%s' asks for unknown precision %u", dev,
                        name, (unsigned)precision);
    size_t nk;
    if (!w || !out || n == 0 || k == 0 || !plugin_size_mul(n, k, &nk))
        return ocl_fail(ctx, VITCL_ERR_INVALID_ARGUMENT,
                        "opencl pack_weight_host on %s: invalid arguments for '%s' (n=%zu k=%zu)",
                        dev, name, n, k);
    if (n > UINT32_MAX || k > UINT32_MAX)
        return ocl_fail(ctx, VITCL_ERR_LIMIT,
                        "opencl pack_weight_host on %s: '%s' [%zu, %zu] exceeds the kernel's "
                        "32-bit sizes", dev, name, n, k);
    const ocl_wfmt fmt = (ocl_wfmt)precision;
    if (ctx->prec_refused & VITCL_PRECISION_BIT(precision))
        return ocl_fail(ctx, VITCL_ERR_UNSUPPORTED, "opencl pack_weight_host on %s: '%s': %s",
                        dev, name, ctx->prec_note[fmt]);
    vitcl_status s = fmt == OCL_W_F32 ? ocl_gemm_tune(ctx) : ocl_gemm_tune_fmt(ctx, fmt);
    if (s != VITCL_OK)
        return s;
    if (fmt == OCL_W_F32 && ctx->gemm_mode == OCL_GEMM_CLBLAST)
        return upload_plain(ctx, w, dtype, n, k, label, out);
    const size_t cols = (n / OCL_GEMM_PANEL + (n % OCL_GEMM_PANEL != 0)) * OCL_GEMM_PANEL;
    size_t elems, bytes;
    if (!plugin_size_mul(cols, k, &elems) ||
        !plugin_size_mul(elems, ocl_wfmt_bytes(fmt), &bytes))
        return ocl_fail(ctx, VITCL_ERR_LIMIT, "opencl pack_weight_host on %s: '%s' [%zu, %zu] "
                        "is too large", dev, name, n, k);
    void *panels = malloc(bytes);
    if (!panels)
        return ocl_fail(ctx, VITCL_ERR_OUT_OF_MEMORY,
                        "opencl pack_weight_host on %s: out of host memory for '%s' (%zu bytes)",
                        dev, name, bytes);
    ocl_pack_host_panels(w, dtype, n, k, fmt, panels);
    s = ocl_upload_panels(ctx, panels, n, k, fmt, label, out);
    free(panels);
    return s;
}
