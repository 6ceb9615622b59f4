/* tests/hardening/test_fault_inject.c - every backend call the host makes can fail, and each
 * failure gives a clear error, leaks nothing and leaves the backend usable.
 *
 * VITCL_FAULT_INJECT (loader/fault_inject.h) makes the Nth allocation, buffer_write or enqueued
 * call fail. A counting pass (KIND:0) first learns how many calls of each kind loading a model
 * and running it twice (native size, then interpolated: a new position table and larger
 * activations) makes; then N = 1, 2, ... up to that count each fails exactly one call. The test
 * checks the status, that the message names the injected call, that no backend buffer outlives
 * the failed load (the shim counts live buffers; LeakSanitizer covers host memory when built with
 * -Db_sanitize=address), and that after a failed run the same model runs again with results
 * identical to an undisturbed run. The allocation pass also checks that every allocation site of
 * the loader and of the forward pass was reached, by the label each failure names. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_inject.h"
#include "hardening_util.h"
#include "leak_check.h"
#include "vitcl/vitcl.h"

typedef struct scenario {
    const char *model;
    size_t h1, w1, b1; /* first run: the model's native size */
    size_t h2, w2, b2; /* second run: another size, interpolated */
    int host_pack;     /* on the "hostpack" test plugin (ref with ABI 1.1 pack_weight_host,
                          tests/model/hostpack_plugin.c) instead of ref */
} scenario;

typedef struct baseline {
    loader_fault_stats stats;
    harden_result r1, r2;
} baseline;

/* Runs the whole scenario under spec; fills base when not NULL. Returns how many failures the
 * scenario saw (0 or 1) and checks each one. */
static int play(const scenario *sc, const char *spec, loader_fault_kind kind, uint64_t n,
                const baseline *base, baseline *record, char *fail_msg, size_t fail_len)
{
    cr_assert_eq(setenv("VITCL_FAULT_INJECT", spec, 1), 0);
    vitcl_registry *reg;
    vitcl_backend *be;
    if (sc->host_pack)
        cr_assert_eq(setenv("VITCL_PLUGIN_PATH", HOSTPACK_PLUGIN, 1), 0);
    harden_open(sc->host_pack ? "hostpack" : "ref", &reg, &be);
    cr_assert_eq(unsetenv("VITCL_FAULT_INJECT"), 0);
    cr_assert_eq(unsetenv("VITCL_PLUGIN_PATH"), 0);
    loader_fault_stats s;
    cr_assert(loader_fault_stats_get(be, &s), "%s: backend not wrapped", spec);

    const vitcl_status want = kind == LOADER_FAULT_ALLOC ? VITCL_ERR_OUT_OF_MEMORY
                                                         : VITCL_ERR_DEVICE;
    char tag[64];
    snprintf(tag, sizeof tag, "injected fault %s:%llu",
             kind == LOADER_FAULT_ALLOC ? "alloc" : kind == LOADER_FAULT_WRITE ? "write" : "enqueue",
             (unsigned long long)n);
    int failures = 0;
    vitcl_model *m = NULL;
    float *p1 = harden_pixels(sc->b1, sc->h1, sc->w1, 1);
    float *p2 = harden_pixels(sc->b2, sc->h2, sc->w2, 2);

    vitcl_status st = vitcl_model_load(be, harden_model_dir(sc->model), &m);
    if (st != VITCL_OK) {
        failures++;
        cr_assert_null(m);
        snprintf(fail_msg, fail_len, "%s", vitcl_last_error());
        cr_expect_eq(st, want, "%s: load gave %s: %s", spec, vitcl_status_name(st), fail_msg);
        cr_expect(strstr(fail_msg, tag), "%s: load error does not name the injected call: %s",
                  spec, fail_msg);
        cr_expect(strstr(fail_msg, sc->model), "%s: load error does not name the folder: %s",
                  spec, fail_msg);
        loader_fault_stats_get(be, &s);
        cr_expect_eq(s.live_buffers, 0, "%s: %llu backend buffers leaked by a failed load", spec,
                     (unsigned long long)s.live_buffers);
    } else {
        for (int run = 0; run < 2; run++) {
            const float *px = run ? p2 : p1;
            size_t b = run ? sc->b2 : sc->b1, h = run ? sc->h2 : sc->h1, w = run ? sc->w2 : sc->w1;
            harden_result r;
            st = harden_run(m, px, b, h, w, &r);
            if (st != VITCL_OK) {
                failures++;
                snprintf(fail_msg, fail_len, "%s", vitcl_last_error());
                cr_expect_eq(st, want, "%s: run %d gave %s: %s", spec, run + 1,
                             vitcl_status_name(st), fail_msg);
                cr_expect(strstr(fail_msg, tag), "%s: run error does not name the injected call: %s",
                          spec, fail_msg);
                /* The fault was one call: the model must run again, exactly as before. */
                st = harden_run(m, px, b, h, w, &r);
                cr_assert_eq(st, VITCL_OK, "%s: run %d after a failed run: %s", spec, run + 1,
                             vitcl_last_error());
            }
            if (base)
                cr_expect(harden_result_equal(&r, run ? &base->r2 : &base->r1),
                          "%s: run %d differs from the undisturbed run", spec, run + 1);
            if (record)
                *(run ? &record->r2 : &record->r1) = r;
            else
                harden_result_free(&r);
        }
        vitcl_model_free(m);
        loader_fault_stats_get(be, &s);
        cr_expect_eq(s.live_buffers, 0, "%s: %llu backend buffers left after vitcl_model_free",
                     spec, (unsigned long long)s.live_buffers);
    }
    cr_expect_eq(s.injected, n ? 1 : 0, "%s: %llu faults injected", spec,
                 (unsigned long long)s.injected);
    if (record)
        record->stats = s;
    free(p1);
    free(p2);
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
    return failures;
}

static void count_calls(const scenario *sc, baseline *base)
{
    char msg[4096];
    int f = play(sc, "alloc:0,write:0,enqueue:0", LOADER_FAULT_ALLOC, 0, NULL, base, msg,
                 sizeof msg);
    cr_assert_eq(f, 0, "the counting pass failed: %s", msg);
    cr_assert_gt(base->stats.calls[LOADER_FAULT_ALLOC], 0);
    cr_assert_gt(base->stats.calls[LOADER_FAULT_ENQUEUE], 0);
    cr_log_info("%s: %llu allocations, %llu writes, %llu enqueued calls", sc->model,
                (unsigned long long)base->stats.calls[LOADER_FAULT_ALLOC],
                (unsigned long long)base->stats.calls[LOADER_FAULT_WRITE],
                (unsigned long long)base->stats.calls[LOADER_FAULT_ENQUEUE]);
}

/* Fails call N of `kind` for every N the scenario reaches; returns the messages (one per N,
 * joined by newlines; the caller frees). */
static char *sweep(const scenario *sc, const baseline *base, loader_fault_kind kind)
{
    static const char *const names[] = {"alloc", "write", "enqueue"};
    uint64_t total = base->stats.calls[kind];
    size_t cap = (size_t)total * 4096 + 1, used = 0;
    char *all = calloc(1, cap);
    cr_assert(all);
    for (uint64_t n = 1; n <= total; n++) {
        char spec[64], msg[4096] = "";
        snprintf(spec, sizeof spec, "%s:%llu", names[kind], (unsigned long long)n);
        int f = play(sc, spec, kind, n, base, NULL, msg, sizeof msg);
        cr_expect_eq(f, 1, "%s: expected exactly one failure, saw %d", spec, f);
        used += (size_t)snprintf(all + used, cap - used, "%s\n", msg);
    }
    /* One past the last call: nothing fails and the results are the undisturbed ones. */
    char spec[64], msg[16] = "";
    snprintf(spec, sizeof spec, "%s:%llu", names[kind], (unsigned long long)total + 1);
    cr_expect_eq(play(sc, spec, kind, 0, base, NULL, msg, sizeof msg), 0, "%s failed", spec);
    return all;
}

static void expect_label(const char *msgs, const char *label)
{
    char quoted[256];
    snprintf(quoted, sizeof quoted, "'%s", label);
    int found = strstr(msgs, quoted) != NULL;
    if (!found) { /* checkpoints may prefix keys ("vit."): match the tail of a quoted label */
        snprintf(quoted, sizeof quoted, ".%s'", label);
        found = strstr(msgs, quoted) != NULL;
    }
    cr_expect(found, "no injected allocation failure named '%s'", label);
}

static const scenario tiny = {"d32_h4_l1_p7_s30", 30, 30, 2, 37, 23, 1, 0};
static const scenario head = {"cls5_d48_h6_l2_p6_s36", 36, 36, 1, 24, 42, 2, 0};
static const scenario half = {"f16_d32_h2_l2_p5_s21", 21, 21, 1, 26, 26, 1, 0};
static const scenario half_host_packed = {"f16_d32_h2_l2_p5_s21", 21, 21, 1, 26, 26, 1, 1};

static void alloc_sweep(const scenario *sc, size_t layers, int classifier)
{
    baseline base;
    count_calls(sc, &base);
    char *msgs = sweep(sc, &base, LOADER_FAULT_ALLOC);
    static const char *const global[] = {
        "embeddings.patch_embeddings.projection.weight", "embeddings.patch_embeddings.projection.bias",
        "embeddings.cls_token", "embeddings.position_embeddings", "layernorm.weight",
        "layernorm.bias", "embeddings.position_embeddings (interpolated)", "activations.hidden",
        "activations.normed", "activations.qkv", "activations.context", "activations.mlp",
        "input.pixels", "output.hidden_states"};
    for (size_t i = 0; i < sizeof global / sizeof global[0]; i++)
        expect_label(msgs, global[i]);
    static const char *const per_layer[] = {
        "layernorm_before.weight", "layernorm_before.bias", "layernorm_after.weight",
        "layernorm_after.bias", "attention.qkv (fused)", "attention.qkv.bias (fused)",
        "attention.output.dense.weight", "attention.output.dense.bias", "intermediate.dense.weight",
        "intermediate.dense.bias", "output.dense.weight", "output.dense.bias"};
    for (size_t l = 0; l < layers; l++)
        for (size_t i = 0; i < sizeof per_layer / sizeof per_layer[0]; i++) {
            char label[160];
            snprintf(label, sizeof label, "encoder.layer.%zu.%s", l, per_layer[i]);
            expect_label(msgs, label);
        }
    if (classifier) {
        expect_label(msgs, "classifier.weight");
        expect_label(msgs, "classifier.bias");
        expect_label(msgs, "output.cls_rows");
        expect_label(msgs, "output.logits");
    }
    /* Every linear weight is uploaded, then packed (both calls were failed at least once), or
     * packed from host memory in one call (ABI 1.1 pack_weight_host, when the plugin takes it). */
    if (sc->host_pack)
        cr_expect(strstr(msgs, "pack_weight_host"), "no pack_weight_host failure was injected");
    else
        cr_expect(strstr(msgs, "linear_pack_weight") || strstr(msgs, "pack_weight_host"),
                  "no linear_pack_weight or pack_weight_host failure was injected");
    free(msgs);
    harden_result_free(&base.r1);
    harden_result_free(&base.r2);
    leak_check_expect_none();
}

static void queue_sweep(const scenario *sc, loader_fault_kind kind)
{
    baseline base;
    count_calls(sc, &base);
    free(sweep(sc, &base, kind));
    harden_result_free(&base.r1);
    harden_result_free(&base.r2);
    leak_check_expect_none();
}

TestSuite(fault_inject, .timeout = 600);

Test(fault_inject, every_allocation_tiny_f32_aliased) { alloc_sweep(&tiny, 1, 0); }
Test(fault_inject, every_allocation_classifier) { alloc_sweep(&head, 2, 1); }
Test(fault_inject, every_allocation_f16_uploaded) { alloc_sweep(&half, 2, 0); }
Test(fault_inject, every_allocation_f16_host_packed) { alloc_sweep(&half_host_packed, 2, 0); }
Test(fault_inject, every_write_f16) { queue_sweep(&half, LOADER_FAULT_WRITE); }
Test(fault_inject, every_enqueue_tiny) { queue_sweep(&tiny, LOADER_FAULT_ENQUEUE); }
Test(fault_inject, every_enqueue_classifier) { queue_sweep(&head, LOADER_FAULT_ENQUEUE); }

Test(fault_inject, malformed_variable_is_refused_by_name)
{
    static const char *const bad[] = {"alloc", "alloc:", "alloc:x", "bogus:3", ":4", "alloc:-1",
                                      "alloc:3,", "alloc:99999999999999999999999"};
    vitcl_registry *reg;
    cr_assert_eq(vitcl_registry_open(NULL, &reg), VITCL_OK, "%s", vitcl_last_error());
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(setenv("VITCL_FAULT_INJECT", bad[i], 1), 0);
        vitcl_backend *be = (vitcl_backend *)&reg; /* must be reset to NULL */
        vitcl_status st = vitcl_backend_open(reg, "ref", NULL, &be);
        cr_expect_eq(st, VITCL_ERR_INVALID_ARGUMENT, "'%s' gave %s", bad[i], vitcl_status_name(st));
        cr_expect_null(be, "'%s': *out must be NULL on failure", bad[i]);
        cr_expect(strstr(vitcl_last_error(), "VITCL_FAULT_INJECT"), "'%s': %s", bad[i],
                  vitcl_last_error());
        vitcl_backend_close(st == VITCL_OK ? be : NULL);
    }
    cr_assert_eq(unsetenv("VITCL_FAULT_INJECT"), 0);
    vitcl_registry_close(reg);
    leak_check_expect_none();
}

Test(fault_inject, unset_variable_wraps_nothing)
{
    cr_assert_eq(unsetenv("VITCL_FAULT_INJECT"), 0);
    vitcl_registry *reg;
    vitcl_backend *be;
    harden_open("ref", &reg, &be);
    loader_fault_stats s;
    cr_expect_eq(loader_fault_stats_get(be, &s), 0);
    cr_expect_str_eq(vitcl_backend_name(be), "ref");
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
    leak_check_expect_none();
}
