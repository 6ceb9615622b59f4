/* tests/model/test_backend_facade.c - the facade through which the model code calls a plugin,
 * on a hand-made backend whose ops count their calls: supports() is asked before an op runs and
 * a declined required op is refused naming op, plugin and device without calling it; a plugin
 * without supports() runs everything; optional ops fall back (no packing when the plugin lacks
 * or declines it, composed attention when it has none); a failed call names the op, the plugin,
 * the device and the plugin's message. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "backend_facade.h"
#include "vitcl/vitcl.h"

static int calls, pack_calls;
static vitcl_op declined = VITCL_OP_COUNT_;
static vitcl_status layernorm_result;
static vitcl_buffer *const fake_buf = (vitcl_buffer *)&calls;

static int fake_supports(vitcl_context *ctx, vitcl_op op, const vitcl_op_shape *s)
{
    (void)ctx;
    (void)s;
    return op != declined;
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
    declined = VITCL_OP_COUNT_;
    layernorm_result = VITCL_OK;
    memset(&ops, 0, sizeof ops);
    ops.struct_size = sizeof ops;
    ops.layernorm = fake_layernorm;
    ops.supports = fake_supports;
    memset(&desc, 0, sizeof desc);
    desc.struct_size = sizeof desc;
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
