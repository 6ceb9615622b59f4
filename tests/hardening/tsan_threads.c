/* tests/hardening/tsan_threads.c - the threads_check.c scenarios as a plain program, for builds
 * with -Db_sanitize=thread (Criterion cannot start under ThreadSanitizer: Snaipe/Criterion issue
 * 274). Exit status 0 when both scenarios give the serial results; ThreadSanitizer's own reports
 * make the process exit non-zero (TSAN_OPTIONS=halt_on_error=1 via meson). */
#include <stdio.h>

#include "threads_check.h"

int main(void)
{
    threads_fixture fx;
    threads_fixture_init(&fx);
    char msg[1024] = "";
    int rc = 0;
    if (threads_check_two_backends(&fx, msg, sizeof msg)) {
        fprintf(stderr, "two backends: %s\n", msg);
        rc = 1;
    }
    if (threads_check_shared_model(&fx, msg, sizeof msg)) {
        fprintf(stderr, "shared model: %s\n", msg);
        rc = 1;
    }
    threads_fixture_free(&fx);
    printf("threads: %s\n", rc ? "FAILED" : "every concurrent run equals the serial run");
    return rc;
}
