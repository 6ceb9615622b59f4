/* tests/hardening/test_threads.c - concurrency gives exactly the serial results.
 *
 * Two threads, each with its own backend and model, and two threads sharing one model (the API
 * serialises calls per backend, include/vitcl/vitcl.h), each run the encoder several times; every
 * output must be bit-identical (memcmp) to the same run made serially beforehand. Threads record
 * what they saw and the main thread asserts. Meant to pass under ThreadSanitizer:
 *   meson setup build-tsan -Db_sanitize=thread && meson test -C build-tsan hardening-threads */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardening_util.h"
#include "leak_check.h"

#define MODEL "cls5_d48_h6_l2_p6_s36"
#define ROUNDS 4

typedef struct input {
    size_t b, h, w;
    float *pixels;
} input;

typedef struct worker {
    vitcl_registry *reg;   /* shared, read-only */
    vitcl_model *model;    /* shared model, or NULL: open a private backend and model */
    const input *in;
    const harden_result *expect;
    int mismatches;
    vitcl_status failed;   /* first failure, VITCL_OK when none */
    char msg[512];
} worker;

static void *work(void *arg)
{
    worker *wk = arg;
    vitcl_backend *be = NULL;
    vitcl_model *m = wk->model;
    if (!m) {
        wk->failed = vitcl_backend_open(wk->reg, "ref", NULL, &be);
        if (!wk->failed)
            wk->failed = vitcl_model_load(be, harden_model_dir(MODEL), &m);
    }
    for (int i = 0; i < ROUNDS && !wk->failed; i++) {
        harden_result r;
        wk->failed = harden_run(m, wk->in->pixels, wk->in->b, wk->in->h, wk->in->w, &r);
        if (!wk->failed) {
            wk->mismatches += !harden_result_equal(&r, wk->expect);
            harden_result_free(&r);
        }
    }
    if (wk->failed)
        snprintf(wk->msg, sizeof wk->msg, "%s", vitcl_last_error());
    if (!wk->model)
        vitcl_model_free(m);
    vitcl_backend_close(be);
    return NULL;
}

static vitcl_registry *reg;
static input inputs[2];
static harden_result serial[2];

static void setup(void)
{
    cr_assert_eq(vitcl_registry_open(NULL, &reg), VITCL_OK, "%s", vitcl_last_error());
    inputs[0] = (input){2, 36, 36, harden_pixels(2, 36, 36, 11)};
    inputs[1] = (input){1, 30, 42, harden_pixels(1, 30, 42, 12)};
    vitcl_backend *be;
    vitcl_model *m;
    cr_assert_eq(vitcl_backend_open(reg, "ref", NULL, &be), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_eq(vitcl_model_load(be, harden_model_dir(MODEL), &m), VITCL_OK, "%s",
                 vitcl_last_error());
    for (int i = 0; i < 2; i++)
        cr_assert_eq(harden_run(m, inputs[i].pixels, inputs[i].b, inputs[i].h, inputs[i].w,
                                &serial[i]),
                     VITCL_OK, "%s", vitcl_last_error());
    cr_assert(serial[0].logits && serial[0].hidden, "the serial run lacks logits or hidden states");
    vitcl_model_free(m);
    vitcl_backend_close(be);
}

static void teardown(void)
{
    for (int i = 0; i < 2; i++) {
        free(inputs[i].pixels);
        harden_result_free(&serial[i]);
    }
    vitcl_registry_close(reg);
    leak_check_expect_none();
}

TestSuite(threads, .init = setup, .fini = teardown, .timeout = 600);

static void run_pair(vitcl_model *shared)
{
    worker wk[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        wk[i] = (worker){.reg = reg, .model = shared, .in = &inputs[i], .expect = &serial[i]};
        cr_assert_eq(pthread_create(&th[i], NULL, work, &wk[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(wk[i].failed, VITCL_OK, "thread %d: %s: %s", i,
                     vitcl_status_name(wk[i].failed), wk[i].msg);
        cr_expect_eq(wk[i].mismatches, 0, "thread %d: %d of %d runs differ from the serial run", i,
                     wk[i].mismatches, ROUNDS);
    }
}

Test(threads, two_models_on_two_backends)
{
    run_pair(NULL);
}

Test(threads, one_model_shared_by_two_threads)
{
    vitcl_backend *be;
    vitcl_model *m;
    cr_assert_eq(vitcl_backend_open(reg, "ref", NULL, &be), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_eq(vitcl_model_load(be, harden_model_dir(MODEL), &m), VITCL_OK, "%s",
                 vitcl_last_error());
    run_pair(m);
    vitcl_model_free(m);
    vitcl_backend_close(be);
}

/* Error messages are per thread: a failure on one thread does not change another's message. */
Test(threads, error_messages_are_per_thread)
{
    vitcl_backend *be = NULL;
    cr_assert_neq(vitcl_backend_open(reg, "no-such-plugin", NULL, &be), VITCL_OK);
    char mine[4096];
    snprintf(mine, sizeof mine, "%s", vitcl_last_error());
    cr_assert(strstr(mine, "no-such-plugin"));
    worker wk = {.reg = reg, .model = NULL, .in = &inputs[1], .expect = &serial[1]};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, work, &wk), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_expect_eq(wk.failed, VITCL_OK, "%s", wk.msg);
    cr_expect_str_eq(vitcl_last_error(), mine);
}
