/* tests/cpu/pool_check.h - the cpu plugin's thread pool scenarios (plugins/cpu/cpu_pool.c),
 * free of Criterion so that test_cpu_pool.c (Criterion) and tsan_pool.c (a plain driver for
 * ThreadSanitizer builds, where Criterion cannot start: Snaipe/Criterion issue 274) run the
 * same code. Each check returns 0 when every run covered each index exactly once, by a valid
 * thread, in the expected number of chunks; else -1 with a message in msg. Timing is never
 * asserted (tools/bench_contention.sh measures the pool under a competing load). */
#ifndef VITCL_POOL_CHECK_H
#define VITCL_POOL_CHECK_H

#include <stddef.h>

/* Every (n, grain) of a table, with pools of 1 to 4 threads. */
int pool_check_shapes(char *msg, size_t len);

/* Thousands of short runs back to back: workers that arrive late for one run meet the next
 * one's ticket and must neither run a chunk twice nor with the wrong description. */
int pool_check_back_to_back(char *msg, size_t len);

/* One thread (the caller, then each worker) sleeps 3 ms inside its first chunk, as if
 * preempted; the others take the rest. */
int pool_check_stalled_chunk(char *msg, size_t len);

/* Runs after pauses long enough for the workers to sleep, then destroy with workers asleep,
 * and pools destroyed right after creation. */
int pool_check_sleep_and_stop(char *msg, size_t len);

/* NULL pools, bad thread counts, n = 0. */
int pool_check_edges(char *msg, size_t len);

#endif
