/* tests/ref/ref_harness.h - loads the built reference plugin with dlopen (independently of the
 * library's loader) and gives the tests one context plus helpers for buffers, random data and
 * the tolerance check. One harness per test process; not thread-safe. */
#ifndef VITCL_TEST_REF_HARNESS_H
#define VITCL_TEST_REF_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "vitcl/backend.h"

typedef struct ref_harness {
    void *dl;
    const vitcl_backend_desc *desc;
    const vitcl_op_table *ops;
    void *state;
    vitcl_context *ctx;
} ref_harness;

/* The harness of the running test, set up by ref_setup (a Criterion .init) and torn down by
 * ref_teardown (.fini). Both assert on failure. */
extern ref_harness H;
void ref_setup(void);
void ref_teardown(void);

/* Path of the built plugin: $VITCL_BUILD_ROOT/plugins/ref/vitcl_ref.so. Static storage. */
const char *ref_plugin_path(void);

/* A buffer of `count` floats holding `data` (or NaN everywhere when data is NULL); asserts on
 * failure. Free with buf_free. */
vitcl_buffer *buf_new(const float *data, size_t count, const char *label);
void buf_free(vitcl_buffer *b);
/* Reads `count` floats starting at float 0 into a malloc'ed array (caller frees). */
float *buf_get(const vitcl_buffer *b, size_t count);

/* Deterministic random numbers (splitmix64): uniform in [lo, hi). */
void rng_seed(uint64_t seed);
float rng_uniform(float lo, float hi);
/* malloc'ed array of count uniform values in [lo, hi). */
float *rand_array(size_t count, float lo, float hi);

/* The tolerance every numerical test of ref uses. The plugin computes in double and rounds once
 * to fp32, so it may differ from the test's naive double result `want` by
 *   - the final rounding to fp32: at most 2^-24·|want| (normal range) or 2^-150 (subnormals), and
 *   - the rounding errors of the two double computations: each at most about
 *     terms·2^-53·mag, where mag bounds the sum of the absolute values of what was summed
 *     (the classic gamma_n bound). We allow terms·2^-50 (4x margin for exp/erf/sqrt and the
 *     divisions, each a few ulps of double).
 * So the bound is 2^-24·|want| + 2^-149 + terms·2^-50·mag[i], i.e. about one fp32 ulp: any
 * real bug (a wrong index, a missing term, fp32 accumulation) is far outside it.
 * Returns the largest |got - want| / bound over the elements (<= 1 passes), and the index of
 * the worst element through *worst (may be NULL). mag may be NULL (treated as |want|). */
double tol_ratio(const float *got, const double *want, const double *mag, double terms,
                 size_t count, size_t *worst);

/* Asserts tol_ratio(...) <= 1, naming `what` and the worst element in the failure message. */
void assert_close(const char *what, const float *got, const double *want, const double *mag,
                  double terms, size_t count);

/* Asserts that the last error of H.ctx mentions `op`. */
void assert_error_names(vitcl_status st, const char *op);

#endif
