/* tests/cpu/cpu_harness.h - loads the built cpu plugin and the reference plugin with dlopen
 * (independently of the library's loader), one context each, and gives the tests paired buffers
 * (the same data on both), deterministic random data and tolerance checks. One harness per test
 * process; not thread-safe. */
#ifndef VITCL_TEST_CPU_HARNESS_H
#define VITCL_TEST_CPU_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "vitcl/backend.h"

typedef struct plugin_handle {
    void *dl;
    const vitcl_backend_desc *desc;
    const vitcl_op_table *ops;
    void *state;
    vitcl_context *ctx;
} plugin_handle;

/* CPU: the plugin under test; REF: the reference plugin (double accumulation), the yardstick.
 * Set up by harness_setup (a Criterion .init) and torn down by harness_teardown (.fini);
 * both assert on failure. */
extern plugin_handle CPU, REF;
void harness_setup(void);
void harness_teardown(void);

/* Opens $VITCL_BUILD_ROOT/plugins/<name>/vitcl_<name>.so into *h with one context; asserts. */
void plugin_open(plugin_handle *h, const char *name);
void plugin_close(plugin_handle *h);

/* The same `count` floats (NaN when data is NULL) in a buffer of each plugin. */
typedef struct pair {
    vitcl_buffer *c, *r;
    size_t count;
} pair;
pair pair_new(const float *data, size_t count, const char *label);
void pair_free(pair p);

/* A buffer of the cpu plugin holding data (NaN when NULL); asserts. */
vitcl_buffer *cbuf_new(const float *data, size_t count, const char *label);
/* malloc'ed copy of the first count floats of a buffer of h (caller frees); asserts. */
float *buf_get(const plugin_handle *h, const vitcl_buffer *b, size_t count);

/* Deterministic random numbers (splitmix64), uniform in [lo, hi). */
void rng_seed(uint64_t seed);
float rng_uniform(float lo, float hi);
/* malloc'ed array of count uniform values in [lo, hi). */
float *rand_array(size_t count, float lo, float hi);

/* Asserts |got[i] - want[i]| <= bound[i] (bound NULL: atol + rtol·|want[i]|) for every i, with a
 * message naming `what` and the worst element. NaN anywhere fails. */
void assert_close(const char *what, const float *got, const float *want, const double *bound,
                  double atol, double rtol, size_t count);

/* Runs the cpu and ref outputs of pair `out` (count floats) through assert_close. */
void assert_pair_close(const char *what, pair out, const double *bound, double atol,
                       double rtol);

/* Asserts that the cpu context's last error mentions `needle`. */
void assert_error_mentions(const char *needle);

/* fp32 unit roundoff, 2^-24. */
#define U32 5.9604644775390625e-8

#endif
