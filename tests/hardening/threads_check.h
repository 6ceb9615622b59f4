/* tests/hardening/threads_check.h - the concurrency scenarios, free of Criterion so that both
 * test_threads.c (Criterion) and tsan_threads.c (a plain driver: Criterion cannot start under
 * ThreadSanitizer, Snaipe/Criterion issue 274) run the same code.
 *
 * A fixture holds two inputs and their outputs from serial runs on the ref backend. Each check
 * starts two threads that run the encoder THREADS_ROUNDS times each and compares every output
 * with the serial one (memcmp); it returns 0 when all matched, else -1 with a message in msg. */
#ifndef VITCL_THREADS_CHECK_H
#define VITCL_THREADS_CHECK_H

#include <stddef.h>

#include "hardening_util.h"

#define THREADS_MODEL "cls5_d48_h6_l2_p6_s36"
#define THREADS_ROUNDS 4

typedef struct threads_input {
    size_t b, h, w;
    float *pixels;
} threads_input;

typedef struct threads_fixture {
    vitcl_registry *reg; /* shared by the threads, read-only */
    threads_input in[2];
    harden_result serial[2];
} threads_fixture;

/* Opens the registry and computes the serial results; aborts on failure (hardening_util.h). */
void threads_fixture_init(threads_fixture *fx);
void threads_fixture_free(threads_fixture *fx);

/* Two threads, each with its own backend and model. */
int threads_check_two_backends(threads_fixture *fx, char *msg, size_t len);
/* Two threads sharing one model on one backend. */
int threads_check_shared_model(threads_fixture *fx, char *msg, size_t len);

#endif
