/* tests/cpu/test_cpu_pool.c - the cpu plugin's thread pool on its own (scenarios in
 * pool_check.c; tsan_pool.c runs the same ones under ThreadSanitizer). */
#include <criterion/criterion.h>

#include "pool_check.h"

#define CHECK(fn)                                                                                \
    do {                                                                                         \
        char msg[512] = "";                                                                      \
        cr_assert_eq(fn(msg, sizeof msg), 0, "%s", msg);                                         \
    } while (0)

Test(cpu_pool, every_index_once_for_every_shape) { CHECK(pool_check_shapes); }
Test(cpu_pool, back_to_back_runs) { CHECK(pool_check_back_to_back); }
Test(cpu_pool, a_stalled_chunk_still_covers_everything) { CHECK(pool_check_stalled_chunk); }
Test(cpu_pool, sleeping_workers_wake_and_stop) { CHECK(pool_check_sleep_and_stop); }
Test(cpu_pool, null_pools_and_bad_counts) { CHECK(pool_check_edges); }
