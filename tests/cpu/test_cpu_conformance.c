/* tests/cpu/test_cpu_conformance.c - the whole conformance suite (vitcl/conformance.h: every op
 * over its full shape matrix against the ref plugin, including attention at 3137 tokens) run on
 * the cpu plugin through the library's own loader. Every op must pass and, as the cpu plugin
 * implements every optional op, none may be reported unsupported. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "vitcl/conformance.h"
#include "vitcl/vitcl.h"

Test(cpu_conformance, full_suite_passes, .timeout = 900)
{
    vitcl_registry *reg = NULL;
    cr_assert_eq(vitcl_registry_open(NULL, &reg), VITCL_OK, "%s", vitcl_last_error());
    vitcl_conformance_options o = {.struct_size = sizeof o, .plugin = "cpu", .table = stderr};
    vitcl_conformance_summary s = {0};
    vitcl_status st = vitcl_conformance_run(reg, &o, &s);
    vitcl_registry_close(reg);
    cr_assert_eq(st, VITCL_OK, "the suite could not run: %s", vitcl_last_error());
    cr_assert_eq(s.failed, 0, "%zu case(s) failed (table above)", s.failed);
    cr_assert_eq(s.unsupported, 0, "%zu case(s) unsupported", s.unsupported);
    cr_assert_gt(s.passed, 0);
}
