/* tests/hardening/threads_check.c - see threads_check.h. */
#include "threads_check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct worker {
    vitcl_registry *reg;
    vitcl_model *model; /* shared model, or NULL: open a private backend and model */
    const threads_input *in;
    const harden_result *expect;
    int mismatches;
    vitcl_status failed; /* first failure, VITCL_OK when none */
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
            wk->failed = vitcl_model_load(be, harden_model_dir(THREADS_MODEL), &m);
    }
    for (int i = 0; i < THREADS_ROUNDS && !wk->failed; i++) {
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

void threads_fixture_init(threads_fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    harden_require(vitcl_registry_open(NULL, &fx->reg) == VITCL_OK, "%s", vitcl_last_error());
    fx->in[0] = (threads_input){2, 36, 36, harden_pixels(2, 36, 36, 11)};
    fx->in[1] = (threads_input){1, 30, 42, harden_pixels(1, 30, 42, 12)};
    vitcl_backend *be;
    vitcl_model *m;
    harden_require(vitcl_backend_open(fx->reg, "ref", NULL, &be) == VITCL_OK, "%s",
                   vitcl_last_error());
    harden_require(vitcl_model_load(be, harden_model_dir(THREADS_MODEL), &m) == VITCL_OK, "%s",
                   vitcl_last_error());
    for (int i = 0; i < 2; i++)
        harden_require(harden_run(m, fx->in[i].pixels, fx->in[i].b, fx->in[i].h, fx->in[i].w,
                                  &fx->serial[i]) == VITCL_OK,
                       "%s", vitcl_last_error());
    harden_require(fx->serial[0].logits && fx->serial[0].hidden,
                   "the serial run lacks logits or hidden states");
    vitcl_model_free(m);
    vitcl_backend_close(be);
}

void threads_fixture_free(threads_fixture *fx)
{
    for (int i = 0; i < 2; i++) {
        free(fx->in[i].pixels);
        harden_result_free(&fx->serial[i]);
    }
    vitcl_registry_close(fx->reg);
    memset(fx, 0, sizeof *fx);
}

static int run_pair(threads_fixture *fx, vitcl_model *shared, char *msg, size_t len)
{
    worker wk[2];
    pthread_t th[2];
    int started = 0;
    for (int i = 0; i < 2; i++) {
        wk[i] = (worker){.reg = fx->reg, .model = shared, .in = &fx->in[i],
                         .expect = &fx->serial[i]};
        if (pthread_create(&th[i], NULL, work, &wk[i]) != 0)
            break;
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (started < 2) {
        snprintf(msg, len, "pthread_create failed");
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        if (wk[i].failed) {
            snprintf(msg, len, "thread %d: %s: %s", i, vitcl_status_name(wk[i].failed),
                     wk[i].msg);
            return -1;
        }
        if (wk[i].mismatches) {
            snprintf(msg, len, "thread %d: %d of %d runs differ from the serial run", i,
                     wk[i].mismatches, THREADS_ROUNDS);
            return -1;
        }
    }
    return 0;
}

int threads_check_two_backends(threads_fixture *fx, char *msg, size_t len)
{
    return run_pair(fx, NULL, msg, len);
}

int threads_check_shared_model(threads_fixture *fx, char *msg, size_t len)
{
    vitcl_backend *be;
    vitcl_model *m;
    if (vitcl_backend_open(fx->reg, "ref", NULL, &be) != VITCL_OK) {
        snprintf(msg, len, "%s", vitcl_last_error());
        return -1;
    }
    if (vitcl_model_load(be, harden_model_dir(THREADS_MODEL), &m) != VITCL_OK) {
        snprintf(msg, len, "%s", vitcl_last_error());
        vitcl_backend_close(be);
        return -1;
    }
    int rc = run_pair(fx, m, msg, len);
    vitcl_model_free(m);
    vitcl_backend_close(be);
    return rc;
}
