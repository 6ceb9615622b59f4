/* tests/model/model_check.h - checks the precision tests share (tests/model/test_host_pack.c,
 * tests/abi10/test_abi10.c): a model against a fixture's golden output, and a CLI run with an
 * extra plugin on VITCL_PLUGIN_PATH. Both fail the calling Criterion test on error. */
#ifndef VITCL_TESTS_MODEL_CHECK_H
#define VITCL_TESTS_MODEL_CHECK_H

#include <stddef.h>

#include "vitcl/vitcl.h"

/* The largest |ours[i] - theirs[i]| over n values (NaN wins, so a NaN output fails every bound),
 * its index in *where and, in *scale, max(1, max|theirs|): the golden comparisons' bound is
 * a tolerance times *scale. where and scale may be NULL. */
double mc_max_error(const float *ours, const float *theirs, size_t n, size_t *where,
                    double *scale);

/* Runs golden case native_b1 of tests/fixtures/models/<fixture> on m and expects the fp32
 * contract against transformers: max|ours - theirs| <= 1e-4 * max(1, max|theirs|). */
void mc_expect_golden(vitcl_model *m, const char *fixture);

/* Runs `VITCL_PLUGIN_PATH=plugin cli args` through the shell with stderr joined to stdout;
 * returns its output (the caller frees) and the wait status in *status. */
char *mc_run_cli(const char *plugin, const char *cli, const char *args, int *status);

#endif
