/* tests/opencl/test_conformance.c - the general conformance suite (vitcl_conformance_run, full
 * matrix including attention at 3137 tokens) on the OpenCL plugin against the ref plugin, plus
 * end-to-end parity with transformers on the committed model fixtures. Tolerances are the
 * suite's own (docs/conformance.md). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "vitcl/conformance.h"
#include "vitcl/vitcl.h"

Test(opencl_conformance, opencl_passes_the_conformance_suite, .timeout = 900)
{
    vitcl_registry *reg = NULL;
    cr_assert_eq(vitcl_registry_open(NULL, &reg), VITCL_OK, "%s", vitcl_last_error());
    vitcl_conformance_options o = {0};
    o.struct_size = sizeof o;
    o.plugin = "opencl";
    o.device = getenv("VITCL_TEST_DEVICE"); /* NULL: VITCL_DEVICE, then auto */
    o.table = stderr;
    o.fixtures_dir = VITCL_SOURCE_ROOT "/tests/fixtures/models";
    vitcl_conformance_summary sum = {0};
    vitcl_status s = vitcl_conformance_run(reg, &o, &sum);
    vitcl_registry_close(reg);
    cr_assert_eq(s, VITCL_OK, "conformance did not run: %s", vitcl_last_error());
    cr_expect_eq(sum.failed, 0, "%zu checks failed (table above)", sum.failed);
    cr_expect_gt(sum.passed, 100, "the full matrix plus the model fixtures ran");
}
