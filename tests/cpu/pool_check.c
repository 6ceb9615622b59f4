/* tests/cpu/pool_check.c - the thread pool scenarios (see pool_check.h). */
#include "pool_check.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
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

static int fail(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return -1;
}

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

/* Runs one loop of n indices on pool (NULL: no pool) and checks it. */
static int run_and_check(cpu_pool *pool, size_t n, size_t grain, long stall_ns, int stall_thread,
                         char *msg, size_t len)
{
    cover c = {.threads = cpu_pool_threads(pool), .stall_ns = stall_ns,
               .stall_thread = stall_thread};
    c.hits = calloc(n ? n : 1, sizeof *c.hits);
    if (!c.hits)
        return fail(msg, len, "out of memory");
    for (size_t i = 0; i < n; i++)
        atomic_init(&c.hits[i], 0);
    cpu_pool_run(pool, n, grain, cover_task, &c);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (atomic_load(&c.hits[i]) != 1)
            rc = fail(msg, len, "%d threads, n %zu, grain %zu: index %zu ran %d times", c.threads,
                      n, grain, i, atomic_load(&c.hits[i]));
    size_t g = grain ? grain : 1;
    int want = n == 0 ? 0 : (int)((n - 1) / g + 1);
    if (n && (n <= g || c.threads == 1 || !pool)) /* one chunk, or no workers: all on the caller */
        want = 1;
    if (rc == 0 && atomic_load(&c.calls) != want)
        rc = fail(msg, len, "%d threads, n %zu, grain %zu: %d chunks, want %d", c.threads, n,
                  grain, atomic_load(&c.calls), want);
    if (rc == 0 && atomic_load(&c.bad_thread))
        rc = fail(msg, len, "%d threads, n %zu, grain %zu: a chunk ran with a thread index "
                  "outside 0..%d", c.threads, n, grain, c.threads - 1);
    free(c.hits);
    return rc;
}

int pool_check_shapes(char *msg, size_t len)
{
    static const size_t ns[] = {0, 1, 2, 3, 7, 16, 17, 100, 197, 1576, 4099};
    static const size_t grains[] = {0, 1, 2, 3, 16, 64, 5000};
    for (int threads = 1; threads <= 4; threads++) {
        cpu_pool *pool = cpu_pool_create(threads);
        if (!pool)
            return fail(msg, len, "cannot create a pool of %d threads", threads);
        if (cpu_pool_threads(pool) != threads) {
            cpu_pool_destroy(pool);
            return fail(msg, len, "pool of %d threads says %d", threads, cpu_pool_threads(pool));
        }
        for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
            for (size_t b = 0; b < sizeof grains / sizeof grains[0]; b++)
                if (run_and_check(pool, ns[a], grains[b], 0, 0, msg, len)) {
                    cpu_pool_destroy(pool);
                    return -1;
                }
        cpu_pool_destroy(pool);
    }
    return 0;
}

int pool_check_back_to_back(char *msg, size_t len)
{
    cpu_pool *pool = cpu_pool_create(3);
    if (!pool)
        return fail(msg, len, "cannot create a pool of 3 threads");
    int rc = 0;
    for (int r = 0; r < 4000 && rc == 0; r++)
        rc = run_and_check(pool, (size_t)(r % 37) + 2, (size_t)(r % 3) + 1, 0, 0, msg, len);
    cpu_pool_destroy(pool);
    return rc;
}

int pool_check_stalled_chunk(char *msg, size_t len)
{
    cpu_pool *pool = cpu_pool_create(3);
    if (!pool)
        return fail(msg, len, "cannot create a pool of 3 threads");
    int rc = 0;
    for (int t = 0; t < 3 && rc == 0; t++)
        for (int r = 0; r < 5 && rc == 0; r++)
            rc = run_and_check(pool, 64, 1, 3000000L, t, msg, len);
    cpu_pool_destroy(pool);
    return rc;
}

int pool_check_sleep_and_stop(char *msg, size_t len)
{
    for (int k = 0; k < 3; k++) {
        cpu_pool *pool = cpu_pool_create(2 + k);
        if (!pool)
            return fail(msg, len, "cannot create a pool of %d threads", 2 + k);
        int rc = run_and_check(pool, 50, 1, 0, 0, msg, len);
        sleep_ns(5000000L); /* well past the spinning and yielding time: workers sleep */
        if (rc == 0)
            rc = run_and_check(pool, 50, 1, 0, 0, msg, len);
        sleep_ns(5000000L);
        cpu_pool_destroy(pool);
        if (rc)
            return rc;
    }
    for (int k = 0; k < 20; k++)
        cpu_pool_destroy(cpu_pool_create(4)); /* workers may not have started waiting yet */
    return 0;
}

int pool_check_edges(char *msg, size_t len)
{
    if (cpu_pool_create(0) || cpu_pool_create(-3))
        return fail(msg, len, "a pool of 0 or -3 threads was created");
    if (cpu_pool_threads(NULL) != 1)
        return fail(msg, len, "cpu_pool_threads(NULL) is not 1");
    cpu_pool_destroy(NULL);
    return run_and_check(NULL, 5, 2, 0, 0, msg, len); /* no pool: one chunk on the caller */
}
