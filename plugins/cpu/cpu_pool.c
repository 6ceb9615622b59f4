/* plugins/cpu/cpu_pool.c - the persistent thread pool (see cpu_pool.h).
 *
 * A run splits [0, n) into chunks of `grain` indices. The caller publishes the run's
 * description (fn, arg, n, grain, chunk count) and then one 64-bit ticket: the run's
 * generation in the high half, the number of chunks not yet claimed in the low half. Every
 * thread, the caller included, claims a chunk by compare-and-swap of the ticket to one less, so
 * a claim only succeeds while its run still has chunks: a late worker whose description is
 * already the next run's (being written) cannot claim from the old ticket, which is at zero. A
 * successful claim thus proves the run was still on and the description read is its own. The
 * run is over when `finished` counts every chunk; the caller waits for that and for nothing
 * else:
 *
 * - a worker that was preempted (or is still asleep) when a run starts does not delay it: the
 *   others take its chunks, and when it wakes, the ticket tells it the run has no chunk left
 *   (or has moved on to a later run, whose description it then reads afresh);
 * - a preempted worker delays a run by at most the one chunk it holds, so callers pick chunks a
 *   few times smaller than n / threads.
 *
 * Waiting (a worker for the next run, the caller for the last chunks) spins with `pause` for
 * up to POOL_SPIN_NS, then sleeps on a condition variable. A forward pass makes hundreds of
 * runs a few hundred microseconds apart, so short waits must not pay a wake-up, and the spin is
 * bounded so that a long wait (an OpenBLAS GEMM, the host's work between forwards) leaves the
 * core to others. It does not call sched_yield: measured under a competing busy process
 * (docs/performance.md), a yield can hand the core to that process for the rest of its slice,
 * and the times with it were no better loaded and worse idle.
 * Sleepers are counted (and the caller's wait flagged) so that a run wakes no one through the
 * mutex when everyone is still spinning; the counters and the ticket are sequentially
 * consistent atomics, so a sleeper's "count myself, then look again" and a waker's "publish,
 * then look at the count" cannot both miss each other.
 *
 * The generation is 32 bits: a worker would have to sleep through 2^32 runs between reading
 * the ticket and claiming to mistake a later run for its own.
 */
#include "cpu_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define POOL_SPIN_NS 200000 /* 0.2 ms of spinning, then sleeping */
#define TICKET_CHUNK_MAX 0xffffffffu

struct cpu_pool {
    int threads;
    pthread_t *tids;
    int started;                /* workers successfully created */
    pthread_mutex_t mu;
    pthread_cond_t wake;        /* workers sleep here between runs */
    pthread_cond_t done;        /* the caller sleeps here for the last chunks */
    atomic_int stop;            /* set by cpu_pool_destroy with a generation bump */
    atomic_int sleepers;        /* workers asleep (or about to be) on wake */
    atomic_int caller_waiting;  /* the caller is asleep (or about to be) on done */
    _Atomic uint64_t ticket;    /* generation << 32 | chunks not yet claimed */
    atomic_size_t finished;     /* chunks of the current run completed */
    /* The current run's description: written before its ticket is published, read after the
     * ticket is seen; atomics because a late worker may read them while the next run writes
     * them (its claim then fails, and it uses nothing it read). */
    _Atomic(cpu_task_fn) fn;
    _Atomic(void *) arg;
    atomic_size_t n, grain, chunks;
};

typedef struct worker_arg {
    cpu_pool *pool;
    int index;
} worker_arg;

static uint32_t ticket_gen(uint64_t t)
{
    return (uint32_t)(t >> 32);
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

/* Spins until ready(p, key) holds (1) or POOL_SPIN_NS have passed (0). */
static int spin_until(cpu_pool *p, int (*ready)(cpu_pool *, uint64_t), uint64_t key)
{
    uint64_t t0 = now_ns();
    for (unsigned i = 1;; i++) {
        if (ready(p, key))
            return 1;
        cpu_relax();
        if (i % 64 == 0 && now_ns() - t0 > POOL_SPIN_NS)
            return 0;
    }
}

/* A run other than generation `seen` has been published (or the pool is stopping). */
static int run_published(cpu_pool *p, uint64_t seen)
{
    return ticket_gen(atomic_load(&p->ticket)) != (uint32_t)seen;
}

/* Every chunk of the current run (`chunks` of them) is done. */
static int run_finished(cpu_pool *p, uint64_t chunks)
{
    return atomic_load(&p->finished) == chunks;
}

/* Claims and runs chunks of the run with ticket t (as read, description loaded after it)
 * until none is left or a later run has been published. Chunks go out in increasing order. */
static void take_chunks(cpu_pool *p, uint64_t t, int thread)
{
    cpu_task_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
    void *arg = atomic_load_explicit(&p->arg, memory_order_relaxed);
    size_t n = atomic_load_explicit(&p->n, memory_order_relaxed);
    size_t grain = atomic_load_explicit(&p->grain, memory_order_relaxed);
    size_t chunks = atomic_load_explicit(&p->chunks, memory_order_relaxed);
    uint32_t gen = ticket_gen(t);
    while (ticket_gen(t) == gen && (uint32_t)t != 0) {
        /* On failure t is reloaded: another thread took the chunk, or a new run began. */
        if (!atomic_compare_exchange_weak(&p->ticket, &t, t - 1))
            continue;
        /* The claim succeeded, so the run was still on and fn..chunks are its own. */
        size_t begin = (chunks - (uint32_t)t) * grain;
        size_t end = n - begin < grain ? n : begin + grain;
        fn(arg, begin, end, thread);
        if (atomic_fetch_add(&p->finished, 1) + 1 == chunks && atomic_load(&p->caller_waiting)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
        t = atomic_load(&p->ticket);
    }
}

static void *worker_main(void *opaque)
{
    worker_arg *wa = opaque;
    cpu_pool *p = wa->pool;
    int index = wa->index;
    free(wa);
    uint32_t seen = 0;
    for (;;) {
        if (!spin_until(p, run_published, seen)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (!run_published(p, seen))
                pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            break;
        uint64_t t = atomic_load(&p->ticket);
        seen = ticket_gen(t);
        take_chunks(p, t, index);
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
    atomic_init(&p->stop, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->caller_waiting, 0);
    atomic_init(&p->ticket, 0);
    atomic_init(&p->finished, 0);
    atomic_init(&p->fn, NULL);
    atomic_init(&p->arg, NULL);
    atomic_init(&p->n, 0);
    atomic_init(&p->grain, 1);
    atomic_init(&p->chunks, 0);
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
    atomic_store(&p->stop, 1);
    /* A new generation with no chunks: spinning and sleeping workers see it and stop. */
    atomic_store(&p->chunks, 0);
    atomic_store(&p->ticket, (uint64_t)(ticket_gen(atomic_load(&p->ticket)) + 1u) << 32);
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
    /* The chunk count must fit the ticket's low half (only for n beyond 4 G grains). */
    if ((n - 1) / grain >= TICKET_CHUNK_MAX)
        grain = (n - 1) / (TICKET_CHUNK_MAX - 1) + 1;
    size_t chunks = (n - 1) / grain + 1;
    /* No thread touches the description now: the previous run's chunks are all claimed and
     * done, and late workers only read it (and then fail to claim). */
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&p->n, n, memory_order_relaxed);
    atomic_store_explicit(&p->grain, grain, memory_order_relaxed);
    atomic_store_explicit(&p->chunks, chunks, memory_order_relaxed);
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    uint64_t t = (uint64_t)(ticket_gen(atomic_load(&p->ticket)) + 1u) << 32 | chunks;
    atomic_store(&p->ticket, t); /* publishes the stores above (seq_cst, so also release) */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }

    take_chunks(p, t, 0);

    if (spin_until(p, run_finished, chunks))
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->caller_waiting, 1);
    while (!run_finished(p, chunks))
        pthread_cond_wait(&p->done, &p->mu);
    atomic_store(&p->caller_waiting, 0);
    pthread_mutex_unlock(&p->mu);
}
