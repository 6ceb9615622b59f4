/* tests/cpu/test_cpu_pool.c - the cpu plugin's thread pool (plugins/cpu/cpu_pool.c) on its own:
 * every index of a run is handed out exactly once, to a valid thread, whatever n, grain and
 * thread count; back-to-back runs (where a late worker may still hold the previous run's
 * ticket) and runs in which one chunk stalls its thread for a while keep that property; idle
 * pools (workers asleep) wake up for the next run and shut down cleanly. Timing is not asserted
 * (docs/performance.md measures the pool under a competing load with
 * tools/bench_contention.sh). CI also runs it under TSan (.ci/run). */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "cpu_pool.h"

typedef struct cover {
    atomic_int *hits;     /* per index */
    atomic_int bad_thread;
    atomic_int calls;
    int threads;
    long stall_ns;        /* the first chunk run by thread stall_thread sleeps this long */
    int stall_thread;
    atomic_int stalled;
} cover;

static void sleep_ns(long ns)
{
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    nanosleep(&ts, NULL);
}

static void cover_task(void *arg, size_t begin, size_t end, int thread)
{
    cover *c = arg;
    atomic_fetch_add(&c->calls, 1);
    if (thread < 0 || thread >= c->threads)
        atomic_fetch_add(&c->bad_thread, 1);
    if (c->stall_ns && thread == c->stall_thread && atomic_exchange(&c->stalled, 1) == 0)
        sleep_ns(c->stall_ns);
    for (size_t i = begin; i < end; i++)
        atomic_fetch_add(&c->hits[i], 1);
}

/* Runs one loop of n indices and checks that each was covered exactly once, by valid threads,
 * in the expected number of chunks (one when the pool has no workers). */
static void run_and_check(cpu_pool *pool, size_t n, size_t grain, long stall_ns, int stall_thread)
{
    cover c = {.threads = cpu_pool_threads(pool), .stall_ns = stall_ns,
               .stall_thread = stall_thread};
    c.hits = calloc(n ? n : 1, sizeof *c.hits);
    cr_assert_not_null(c.hits);
    cpu_pool_run(pool, n, grain, cover_task, &c);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(atomic_load(&c.hits[i]), 1, "n %zu grain %zu: index %zu run %d times", n,
                     grain, i, atomic_load(&c.hits[i]));
    size_t g = grain ? grain : 1;
    int want = n == 0 ? 0 : (int)((n - 1) / g + 1);
    if (n && (n <= g || c.threads == 1)) /* one chunk, or no workers: all on the caller */
        want = 1;
    cr_assert_eq(atomic_load(&c.calls), want, "n %zu grain %zu: %d chunks, want %d", n, grain,
                 atomic_load(&c.calls), want);
    cr_assert_eq(atomic_load(&c.bad_thread), 0);
    free(c.hits);
}

Test(cpu_pool, every_index_once_for_every_shape)
{
    static const size_t ns[] = {0, 1, 2, 3, 7, 16, 17, 100, 197, 1576, 4099};
    static const size_t grains[] = {0, 1, 2, 3, 16, 64, 5000};
    for (int threads = 1; threads <= 4; threads++) {
        cpu_pool *pool = cpu_pool_create(threads);
        cr_assert_not_null(pool);
        cr_assert_eq(cpu_pool_threads(pool), threads);
        for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
            for (size_t b = 0; b < sizeof grains / sizeof grains[0]; b++)
                run_and_check(pool, ns[a], grains[b], 0, 0);
        cpu_pool_destroy(pool);
    }
}

Test(cpu_pool, back_to_back_runs)
{
    /* Many short runs in a row: workers that arrive late for one run meet the next one's
     * ticket, and must neither run a chunk twice nor run one with the wrong description. */
    cpu_pool *pool = cpu_pool_create(3);
    cr_assert_not_null(pool);
    for (int r = 0; r < 4000; r++)
        run_and_check(pool, (size_t)(r % 37) + 2, (size_t)(r % 3) + 1, 0, 0);
    cpu_pool_destroy(pool);
}

Test(cpu_pool, a_stalled_chunk_still_covers_everything)
{
    /* One thread sleeps inside its first chunk (as if preempted), on the caller and on a
     * worker: the others take the rest, and the run still covers every index exactly once. */
    cpu_pool *pool = cpu_pool_create(3);
    cr_assert_not_null(pool);
    for (int t = 0; t < 3; t++)
        for (int r = 0; r < 5; r++)
            run_and_check(pool, 64, 1, 3000000L, t);
    cpu_pool_destroy(pool);
}

Test(cpu_pool, sleeping_workers_wake_and_stop)
{
    /* After a pause well past the spinning time the workers sleep; runs must wake them, and
     * destroy must stop them whether asleep or spinning. */
    for (int k = 0; k < 3; k++) {
        cpu_pool *pool = cpu_pool_create(2 + k);
        cr_assert_not_null(pool);
        run_and_check(pool, 50, 1, 0, 0);
        sleep_ns(5000000L);
        run_and_check(pool, 50, 1, 0, 0);
        sleep_ns(5000000L);
        cpu_pool_destroy(pool);
    }
    for (int k = 0; k < 20; k++)
        cpu_pool_destroy(cpu_pool_create(4)); /* workers may not have started waiting yet */
}

Test(cpu_pool, bad_and_null_pools)
{
    cr_assert_null(cpu_pool_create(0));
    cr_assert_null(cpu_pool_create(-3));
    cr_assert_eq(cpu_pool_threads(NULL), 1);
    cpu_pool_destroy(NULL);
    cover c = {.threads = 1};
    atomic_int hits[5] = {0};
    c.hits = hits;
    cpu_pool_run(NULL, 5, 2, cover_task, &c); /* no pool: all on the caller, one chunk */
    for (int i = 0; i < 5; i++)
        cr_assert_eq(atomic_load(&hits[i]), 1);
    cr_assert_eq(atomic_load(&c.calls), 1);
}
