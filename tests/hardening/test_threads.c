/* tests/hardening/test_threads.c - concurrency gives exactly the serial results.
 *
 * Two threads, each with its own backend and model, and two threads sharing one model (the API
 * serialises calls per backend, include/vitcl/vitcl.h), each run the encoder several times; every
 * output must be bit-identical (memcmp) to the same run made serially beforehand
 * (threads_check.c). The same scenarios run under ThreadSanitizer through tsan_threads.c. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "leak_check.h"
#include "threads_check.h"

static threads_fixture fx;

static void setup(void)
{
    threads_fixture_init(&fx);
}

static void teardown(void)
{
    threads_fixture_free(&fx);
    leak_check_expect_none();
}

TestSuite(threads, .init = setup, .fini = teardown, .timeout = 600);

Test(threads, two_models_on_two_backends)
{
    char msg[1024] = "";
    cr_expect_eq(threads_check_two_backends(&fx, msg, sizeof msg), 0, "%s", msg);
}

Test(threads, one_model_shared_by_two_threads)
{
    char msg[1024] = "";
    cr_expect_eq(threads_check_shared_model(&fx, msg, sizeof msg), 0, "%s", msg);
}

static void *open_fine(void *arg)
{
    vitcl_backend *be = NULL;
    vitcl_status *st = arg;
    *st = vitcl_backend_open(fx.reg, "ref", NULL, &be);
    vitcl_backend_close(be);
    return NULL;
}

/* Error messages are per thread: a failure on one thread does not change another's message,
 * and a success elsewhere does not clear it. */
Test(threads, error_messages_are_per_thread)
{
    vitcl_backend *be = NULL;
    cr_assert_neq(vitcl_backend_open(fx.reg, "no-such-plugin", NULL, &be), VITCL_OK);
    char mine[4096];
    snprintf(mine, sizeof mine, "%s", vitcl_last_error());
    cr_assert(strstr(mine, "no-such-plugin"));
    vitcl_status st = VITCL_ERR_INTERNAL;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, open_fine, &st), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_expect_eq(st, VITCL_OK);
    cr_expect_str_eq(vitcl_last_error(), mine);
}
