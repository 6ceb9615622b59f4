/* tests/cpu/tsan_pool.c - the pool_check.c scenarios as a plain program, for builds with
 * -Db_sanitize=thread (Criterion cannot start under ThreadSanitizer: Snaipe/Criterion issue
 * 274). Exit status 0 when every scenario passed; ThreadSanitizer's own reports make the
 * process exit non-zero (TSAN_OPTIONS=halt_on_error=1 via meson). */
#include <stdio.h>

#include "pool_check.h"

int main(void)
{
    static const struct {
        const char *name;
        int (*fn)(char *, size_t);
    } checks[] = {{"shapes", pool_check_shapes},
                  {"back to back", pool_check_back_to_back},
                  {"stalled chunk", pool_check_stalled_chunk},
                  {"sleep and stop", pool_check_sleep_and_stop},
                  {"edges", pool_check_edges}};
    int rc = 0;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        char msg[512] = "";
        if (checks[i].fn(msg, sizeof msg)) {
            fprintf(stderr, "pool %s: %s\n", checks[i].name, msg);
            rc = 1;
        }
    }
    printf("pool: %s\n", rc ? "FAILED" : "every index of every run ran exactly once");
    return rc;
}
