/* plugins/cpu/cpu_pool.c - the persistent thread pool (see cpu_pool.h).
 *
 * A run publishes (fn, arg, n, grain) under the mutex and bumps `generation`; workers wake,
 * take chunks from an atomic counter, and the last one to finish signals `done`. The caller
 * takes chunks too, so a run costs one wake-up per worker and no thread creation.
 *
 * Waiting spins for up to POOL_SPIN_NS before sleeping, on both sides: a forward pass makes
 * hundreds of runs a few hundred microseconds apart, and on a loaded machine a thread that
 * sleeps gives its core away and may get it back only after another process's time slice.
 * The spin is bounded, so an idle pool still sleeps.
 */
#include "cpu_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define POOL_SPIN_NS 200000 /* 0.2 ms */

struct cpu_pool {
    int threads;
    pthread_t *tids;
    int started;              /* workers successfully created */
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_cond_t done;
    atomic_ulong generation;  /* bumped per run, under mu (read without it while spinning) */
    int stop;
    atomic_int busy;          /* workers still inside the current run */
    cpu_task_fn fn;
    void *arg;
    size_t n, grain;
    atomic_size_t next;       /* next chunk start */
};

typedef struct worker_arg {
    cpu_pool *pool;
    int index;
} worker_arg;

static void take_chunks(cpu_pool *p, int thread)
{
    for (;;) {
        size_t begin = atomic_fetch_add(&p->next, p->grain);
        if (begin >= p->n)
            break;
        size_t end = p->n - begin < p->grain ? p->n : begin + p->grain;
        p->fn(p->arg, begin, end, thread);
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins up to POOL_SPIN_NS until generation differs from seen (1) or the time is up (0). */
static int spin_for_run(cpu_pool *p, unsigned long seen)
{
    uint64_t t0 = now_ns();
    for (unsigned i = 1;; i++) {
        if (atomic_load(&p->generation) != seen)
            return 1;
        cpu_relax();
        if (i % 64 == 0 && now_ns() - t0 > POOL_SPIN_NS)
            return 0;
    }
}

/* Spins up to POOL_SPIN_NS until no worker is busy (1) or the time is up (0). */
static int spin_for_done(cpu_pool *p)
{
    uint64_t t0 = now_ns();
    for (unsigned i = 1;; i++) {
        if (atomic_load(&p->busy) == 0)
            return 1;
        cpu_relax();
        if (i % 64 == 0 && now_ns() - t0 > POOL_SPIN_NS)
            return 0;
    }
}

static void *worker_main(void *opaque)
{
    worker_arg *wa = opaque;
    cpu_pool *p = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        if (!spin_for_run(p, seen)) {
            pthread_mutex_lock(&p->mu);
            while (!p->stop && atomic_load(&p->generation) == seen)
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        /* stop is set under mu together with a generation bump (cpu_pool_destroy). */
        pthread_mutex_lock(&p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        seen = atomic_load(&p->generation);
        take_chunks(p, index);
        if (atomic_fetch_sub(&p->busy, 1) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

cpu_pool *cpu_pool_create(int threads)
{
    if (threads < 1)
        return NULL;
    cpu_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = threads;
    atomic_init(&p->next, 0);
    atomic_init(&p->generation, 0);
    atomic_init(&p->busy, 0);
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->wake, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->done, NULL) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    if (threads > 1) {
        p->tids = calloc((size_t)threads - 1, sizeof *p->tids);
        if (!p->tids) {
            cpu_pool_destroy(p);
            return NULL;
        }
        for (int i = 1; i < threads; i++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (!wa) {
                cpu_pool_destroy(p);
                return NULL;
            }
            wa->pool = p;
            wa->index = i;
            if (pthread_create(&p->tids[i - 1], NULL, worker_main, wa) != 0) {
                free(wa);
                cpu_pool_destroy(p);
                return NULL;
            }
            p->started++;
        }
    }
    return p;
}

void cpu_pool_destroy(cpu_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    atomic_fetch_add(&p->generation, 1); /* wakes spinning workers too */
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->tids[i], NULL);
    free(p->tids);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int cpu_pool_threads(const cpu_pool *p)
{
    return p ? p->threads : 1;
}

void cpu_pool_run(cpu_pool *p, size_t n, size_t grain, cpu_task_fn fn, void *arg)
{
    if (n == 0)
        return;
    if (grain == 0)
        grain = 1;
    if (!p || p->started == 0 || n <= grain) {
        fn(arg, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->grain = grain;
    atomic_store(&p->next, 0);
    atomic_store(&p->busy, p->started);
    atomic_fetch_add(&p->generation, 1); /* publishes the fields above (seq_cst) */
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    take_chunks(p, 0);

    if (spin_for_done(p))
        return;
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->busy) > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
