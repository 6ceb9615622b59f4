/* plugins/cpu/cpu_pool.h - a small persistent thread pool for the cpu plugin's row-parallel ops.
 *
 * A pool has `threads` threads in all: the thread that calls cpu_pool_run and threads-1
 * workers, started once by cpu_pool_create. cpu_pool_run splits [0, n) into chunks of `grain`
 * indices that the threads (the caller too) claim one at a time from a shared counter until
 * none is left, and returns when every chunk is done: it waits for chunks, not for threads, so a
 * worker that is preempted or still asleep costs a run at most the one chunk it holds. Callers
 * should therefore make a few times more chunks than threads. Which thread runs which chunk
 * varies, but the chunks are always the same, so results are deterministic when each chunk's
 * work depends only on its indices. Waiting threads spin for at most 0.2 ms, then sleep on a
 * condition variable (cpu_pool.c), so an idle pool uses no CPU. A pool is used by one thread
 * at a time (its context's); task functions must not fail, allocate or call cpu_pool_run.
 */
#ifndef VITCL_CPU_POOL_H
#define VITCL_CPU_POOL_H

#include <stddef.h>

typedef struct cpu_pool cpu_pool;

/* Runs indices [begin, end) of a parallel loop on thread `thread` (0 = the caller,
 * 1..threads-1 = workers); `thread` selects per-thread scratch. */
typedef void (*cpu_task_fn)(void *arg, size_t begin, size_t end, int thread);

/* Starts a pool of `threads` (>= 1) threads. Returns NULL when memory or thread creation fails
 * (nothing is leaked). The pool is freed with cpu_pool_destroy. */
cpu_pool *cpu_pool_create(int threads);

/* Stops and joins the workers and frees the pool. NULL is a no-op. */
void cpu_pool_destroy(cpu_pool *pool);

/* Number of threads, caller included. */
int cpu_pool_threads(const cpu_pool *pool);

/* Runs fn over [0, n) in chunks of grain (0 is taken as 1) and waits for all of them. Small
 * loops (one chunk) run on the caller alone; grain is enlarged only past 2^32 - 1 chunks. Each
 * chunk [begin, end) is run exactly once, by some thread; thread-safety of fn's writes is the
 * caller's (chunks run concurrently). */
void cpu_pool_run(cpu_pool *pool, size_t n, size_t grain, cpu_task_fn fn, void *arg);

#endif
