/* tests/model/test_backend_facade.c - the facade through which the model code calls a plugin,
 * on a hand-made backend whose ops count their calls: supports() is asked before an op runs and
 * a declined required op is refused naming op, plugin and device without calling it; a plugin
 * without supports() runs everything; optional ops fall back (no packing when the plugin lacks
 * or declines it, composed attention when it has none); a failed call names the op, the plugin,
 * the device and the plugin's message. Packing from host memory (ABI 1.1) is asked only of
 * plugins of minor >= 1 with the entry, with n, k, precision and dtype in the shape; the
 * residual add in linear (ABI 1.2) only of plugins of minor >= 2 whose supports() says yes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "backend_facade.h"
#include "vitcl/vitcl.h"

static int calls, pack_calls;
static vitcl_op declined = VITCL_OP_COUNT_;
static vitcl_status layernorm_result;
static vitcl_buffer *const fake_buf = (vitcl_buffer *)&calls;

static vitcl_op_shape last_shape; /* what supports() was last asked */

static int fake_supports(vitcl_context *ctx, vitcl_op op, const vitcl_op_shape *s)
{
    (void)ctx;
    last_shape = *s;
    return op != declined;
}

/* pack_weight_host: records its arguments; fails with host_pack_result. */
static struct {
    const void *w;
    uint32_t dtype, precision;
    size_t n, k;
    int calls;
} host_pack;
static vitcl_status host_pack_result;

static vitcl_status fake_pack_host(vitcl_context *ctx, const void *w, uint32_t dtype, size_t n,
                                   size_t k, uint32_t precision, const char *label,
                                   vitcl_buffer **out)
{
    (void)ctx, (void)label;
    host_pack.w = w, host_pack.dtype = dtype, host_pack.precision = precision;
    host_pack.n = n, host_pack.k = k;
    host_pack.calls++;
    *out = host_pack_result ? NULL : fake_buf;
    return host_pack_result;
}

static vitcl_status fake_layernorm(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                   const vitcl_buffer *g, size_t g_off, const vitcl_buffer *b,
                                   size_t b_off, vitcl_buffer *Y, size_t y_off, size_t rows,
                                   size_t cols, float eps)
{
    (void)ctx, (void)X, (void)x_off, (void)g, (void)g_off, (void)b, (void)b_off, (void)Y;
    (void)y_off, (void)rows, (void)cols, (void)eps;
    calls++;
    return layernorm_result;
}

static vitcl_status fake_pack(vitcl_context *ctx, const vitcl_buffer *W, size_t w_off, size_t n,
                              size_t k, const char *label, vitcl_buffer **out)
{
    (void)ctx, (void)W, (void)w_off, (void)n, (void)k, (void)label;
    pack_calls++;
    *out = fake_buf;
    return VITCL_OK;
}

static const char *fake_last_error(vitcl_context *ctx)
{
    (void)ctx;
    return "the fake plugin's own message";
}

static vitcl_op_table ops;
static vitcl_backend_desc desc;
static vitcl_backend be;

static void setup(void)
{
    calls = pack_calls = 0;
    memset(&host_pack, 0, sizeof host_pack);
    host_pack_result = VITCL_OK;
    memset(&last_shape, 0, sizeof last_shape);
    declined = VITCL_OP_COUNT_;
    layernorm_result = VITCL_OK;
    memset(&ops, 0, sizeof ops);
    ops.struct_size = sizeof ops;
    ops.layernorm = fake_layernorm;
    ops.supports = fake_supports;
    memset(&desc, 0, sizeof desc);
    desc.struct_size = sizeof desc;
    desc.abi_major = 1;
    desc.abi_minor = 1;
    desc.name = "fakeplug";
    desc.last_error = fake_last_error;
    desc.ops = &ops;
    memset(&be, 0, sizeof be);
    be.desc = &desc;
    be.ops = &ops;
    snprintf(be.info.name, sizeof be.info.name, "Fake Device 7");
}

TestSuite(backend_facade, .init = setup);

Test(backend_facade, supported_op_runs)
{
    cr_assert_eq(bf_layernorm(&be, fake_buf, fake_buf, fake_buf, fake_buf, 4, 8, 1e-6f),
                 VITCL_OK);
    cr_assert_eq(calls, 1);
}

Test(backend_facade, declined_required_op_is_refused_without_running)
{
    declined = VITCL_OP_LAYERNORM;
    cr_assert_eq(bf_layernorm(&be, fake_buf, fake_buf, fake_buf, fake_buf, 4, 8, 1e-6f),
                 VITCL_ERR_UNSUPPORTED);
    cr_assert_eq(calls, 0, "the op ran although supports() declined it");
    const char *m = vitcl_last_error();
    cr_assert(strstr(m, "layernorm") && strstr(m, "fakeplug") && strstr(m, "Fake Device 7") &&
                  strstr(m, "m 4, n 8"),
              "%s", m);
}

Test(backend_facade, without_supports_every_present_op_runs)
{
    ops.supports = NULL;
    declined = VITCL_OP_LAYERNORM;
    cr_assert_eq(bf_layernorm(&be, fake_buf, fake_buf, fake_buf, fake_buf, 4, 8, 1e-6f),
                 VITCL_OK);
    cr_assert_eq(calls, 1);
}

Test(backend_facade, plugin_failure_names_op_plugin_device_and_message)
{
    layernorm_result = VITCL_ERR_DEVICE;
    cr_assert_eq(bf_layernorm(&be, fake_buf, fake_buf, fake_buf, fake_buf, 4, 8, 1e-6f),
                 VITCL_ERR_DEVICE);
    cr_assert_str_eq(vitcl_last_error(),
                     "layernorm: fakeplug on Fake Device 7: the fake plugin's own message");
}

Test(backend_facade, packing_is_asked_and_falls_back)
{
    vitcl_buffer *out = fake_buf;
    /* No pack op: the weight stays as stored. */
    cr_assert_eq(bf_pack_linear(&be, fake_buf, 16, 8, "w", &out), VITCL_OK);
    cr_assert_null(out);
    /* A pack op that supports() declines: not called, weight stays as stored. */
    ops.linear_pack_weight = fake_pack;
    declined = VITCL_OP_LINEAR_PACK_WEIGHT;
    cr_assert_eq(bf_pack_linear(&be, fake_buf, 16, 8, "w", &out), VITCL_OK);
    cr_assert_null(out);
    cr_assert_eq(pack_calls, 0);
    /* Supported: packed. */
    declined = VITCL_OP_COUNT_;
    cr_assert_eq(bf_pack_linear(&be, fake_buf, 16, 8, "w", &out), VITCL_OK);
    cr_assert_eq(out, fake_buf);
    cr_assert_eq(pack_calls, 1);
}

Test(backend_facade, attention_is_optional)
{
    cr_assert_not(bf_has_attention(&be, 1, 197, 12, 64), "no attention op, yet reported");
}

Test(backend_facade, packing_from_host_needs_abi_1_1_the_entry_and_supports)
{
    static const uint16_t w[6] = {0x3f80, 0x4000, 0x4040, 0x4080, 0x40a0, 0x40c0};
    vitcl_buffer *out = fake_buf;
    /* No entry: declined, nothing called. */
    cr_assert_not(bf_packs_host(&be, VITCL_DTYPE_BF16, 2, 3, VITCL_PRECISION_BF16));
    cr_assert_eq(bf_pack_host(&be, w, VITCL_DTYPE_BF16, 2, 3, VITCL_PRECISION_BF16, "w", &out),
                 VITCL_OK);
    cr_assert_null(out);
    /* The entry on a plugin that says ABI 1.0: never asked, never called. */
    ops.pack_weight_host = fake_pack_host;
    desc.abi_minor = 0;
    cr_assert_not(bf_packs_host(&be, VITCL_DTYPE_BF16, 2, 3, VITCL_PRECISION_BF16));
    cr_assert_eq(last_shape.struct_size, 0, "a 1.0 plugin was asked about pack_weight_host");
    cr_assert_eq(bf_pack_host(&be, w, VITCL_DTYPE_BF16, 2, 3, VITCL_PRECISION_BF16, "w", &out),
                 VITCL_OK);
    cr_assert_null(out);
    cr_assert_eq(host_pack.calls, 0);
    /* 1.1 and declined by supports(), which was asked with n, k, precision and dtype. */
    desc.abi_minor = 1;
    declined = VITCL_OP_PACK_WEIGHT_HOST;
    cr_assert_eq(bf_pack_host(&be, w, VITCL_DTYPE_BF16, 2, 3, VITCL_PRECISION_BF16, "w", &out),
                 VITCL_OK);
    cr_assert_null(out);
    cr_assert_eq(host_pack.calls, 0);
    cr_assert_eq(last_shape.struct_size, sizeof(vitcl_op_shape));
    cr_assert_eq(last_shape.n, 2);
    cr_assert_eq(last_shape.k, 3);
    cr_assert_eq(last_shape.precision, VITCL_PRECISION_BF16);
    cr_assert_eq(last_shape.dtype, VITCL_DTYPE_BF16);
    /* Accepted: called with the host pointer and the same arguments. */
    declined = VITCL_OP_COUNT_;
    cr_assert(bf_packs_host(&be, VITCL_DTYPE_BF16, 2, 3, VITCL_PRECISION_BF16));
    cr_assert_eq(bf_pack_host(&be, w, VITCL_DTYPE_BF16, 2, 3, VITCL_PRECISION_BF16, "w", &out),
                 VITCL_OK);
    cr_assert_eq(out, fake_buf);
    cr_assert_eq(host_pack.calls, 1);
    cr_assert_eq(host_pack.w, w);
    cr_assert_eq(host_pack.dtype, VITCL_DTYPE_BF16);
    cr_assert_eq(host_pack.precision, VITCL_PRECISION_BF16);
    cr_assert_eq(host_pack.n, 2);
    cr_assert_eq(host_pack.k, 3);
    /* A failure names the weight, plugin, device and the plugin's message. */
    host_pack_result = VITCL_ERR_OUT_OF_MEMORY;
    cr_assert_eq(bf_pack_host(&be, w, VITCL_DTYPE_BF16, 2, 3, VITCL_PRECISION_BF16, "fc1.weight",
                              &out),
                 VITCL_ERR_OUT_OF_MEMORY);
    cr_assert_null(out);
    cr_assert_str_eq(vitcl_last_error(),
                     "fc1.weight: fakeplug on Fake Device 7: the fake plugin's own message");
}

Test(backend_facade, linear_tells_supports_the_weight_precision)
{
    declined = VITCL_OP_LINEAR;
    cr_assert_eq(bf_linear(&be, fake_buf, fake_buf, NULL, fake_buf, 4, 6, 8,
                           VITCL_LINEAR_PACKED_W, VITCL_PRECISION_FP16),
                 VITCL_ERR_UNSUPPORTED);
    cr_assert_eq(last_shape.precision, VITCL_PRECISION_FP16);
    cr_assert_eq(last_shape.flags, VITCL_LINEAR_PACKED_W);
    cr_assert_eq(last_shape.struct_size, sizeof(vitcl_op_shape));
}

/* ---- the residual add in linear's epilogue (ABI 1.2) ---- */

static uint32_t linear_flags[4];
static int linear_calls, add_calls;
static const vitcl_buffer *linear_y[4];

static vitcl_status fake_linear(vitcl_context *ctx, const vitcl_buffer *X, size_t x_off,
                                const vitcl_buffer *W, size_t w_off, const vitcl_buffer *b,
                                size_t b_off, vitcl_buffer *Y, size_t y_off, size_t m, size_t n,
                                size_t k, uint32_t flags)
{
    (void)ctx, (void)X, (void)x_off, (void)W, (void)w_off, (void)b, (void)b_off, (void)y_off;
    (void)m, (void)n, (void)k;
    if (linear_calls < 4) {
        linear_flags[linear_calls] = flags;
        linear_y[linear_calls] = Y;
    }
    linear_calls++;
    return VITCL_OK;
}

static vitcl_status fake_add(vitcl_context *ctx, const vitcl_buffer *A, size_t a_off,
                             const vitcl_buffer *B, size_t b_off, vitcl_buffer *Y, size_t y_off,
                             size_t n, size_t b_period)
{
    (void)ctx, (void)A, (void)a_off, (void)B, (void)b_off, (void)Y, (void)y_off, (void)n;
    (void)b_period;
    add_calls++;
    return VITCL_OK;
}

/* Y += linear: fused for a 1.2 plugin that says yes, linear into tmp then add otherwise. */
static void residual_case(uint32_t minor, int no_supports, int fused)
{
    static int y_cell, tmp_cell;
    vitcl_buffer *Y = (vitcl_buffer *)&y_cell, *tmp = (vitcl_buffer *)&tmp_cell;
    linear_calls = add_calls = 0;
    ops.linear = fake_linear;
    ops.add = fake_add;
    desc.abi_minor = minor;
    if (no_supports) /* every op taken as supported, but no explicit yes for the new flag */
        ops.supports = NULL;
    cr_assert_eq(bf_linear_residual(&be, fake_buf, fake_buf, NULL, Y, tmp, 197, 64, 96,
                                    VITCL_LINEAR_PACKED_W, VITCL_PRECISION_FP32),
                 VITCL_OK);
    if (fused) {
        cr_assert_eq(linear_calls, 1);
        cr_assert_eq(add_calls, 0);
        cr_assert_eq(linear_flags[0], VITCL_LINEAR_PACKED_W | VITCL_LINEAR_RESIDUAL);
        cr_assert_eq(linear_y[0], Y);
        cr_assert_eq(last_shape.flags, VITCL_LINEAR_PACKED_W | VITCL_LINEAR_RESIDUAL);
    } else {
        cr_assert_eq(linear_calls, 1);
        cr_assert_eq(add_calls, 1);
        cr_assert_eq(linear_flags[0], VITCL_LINEAR_PACKED_W, "flags 0x%x",
                     (unsigned)linear_flags[0]);
        cr_assert_eq(linear_y[0], tmp);
    }
}

Test(backend_facade, residual_is_fused_for_a_1_2_plugin_that_supports_it)
{
    residual_case(2, 0, 1);
}

Test(backend_facade, residual_is_never_asked_of_an_older_plugin)
{
    residual_case(1, 0, 0);
}

Test(backend_facade, residual_needs_an_explicit_yes_from_supports)
{
    residual_case(2, 1, 0);
}

static int residual_supports(vitcl_context *ctx, vitcl_op op, const vitcl_op_shape *s)
{
    (void)ctx, (void)op;
    return !(s->flags & VITCL_LINEAR_RESIDUAL);
}

Test(backend_facade, residual_declined_by_supports_falls_back_to_add)
{
    static int y_cell, tmp_cell;
    linear_calls = add_calls = 0;
    ops.linear = fake_linear;
    ops.add = fake_add;
    ops.supports = residual_supports;
    desc.abi_minor = 2;
    cr_assert_eq(bf_linear_residual(&be, fake_buf, fake_buf, NULL, (vitcl_buffer *)&y_cell,
                                    (vitcl_buffer *)&tmp_cell, 5, 3, 17, 0, VITCL_PRECISION_FP32),
                 VITCL_OK);
    cr_assert_eq(linear_calls, 1);
    cr_assert_eq(add_calls, 1);
    cr_assert_eq(linear_flags[0], 0u);
}
