/* tests/cpu/test_cpu_conformance.c - the whole conformance suite (vitcl/conformance.h: every op
 * over its full shape matrix against the ref plugin, including attention at 3137 tokens) run on
 * the cpu plugin through the library's own loader. Every op must pass; the only cases reported
 * unsupported may be those of linear_pack_weight, the one optional op the cpu plugin leaves out
 * (cpu_linear.c says why), and linear's residual flag of ABI 1.2, which it refuses
 * (docs/architecture.md says why), also on weights packed by pack_weight_host. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "vitcl/conformance.h"
#include "vitcl/vitcl.h"

Test(cpu_conformance, full_suite_passes, .timeout = 900)
{
    vitcl_registry *reg = NULL;
    cr_assert_eq(vitcl_registry_open(NULL, &reg), VITCL_OK, "%s", vitcl_last_error());
    vitcl_conformance_options o = {.struct_size = sizeof o, .plugin = "cpu", .table = stderr};
    vitcl_conformance_summary s = {0}, pack = {0}, lin = {0}, host = {0};
    vitcl_status st = vitcl_conformance_run(reg, &o, &s);
    cr_assert_eq(st, VITCL_OK, "the suite could not run: %s", vitcl_last_error());
    /* The linear_pack_weight cases alone: all unsupported. */
    o.filter = "linear_pack_weight";
    o.table = NULL;
    st = vitcl_conformance_run(reg, &o, &pack);
    cr_assert_eq(st, VITCL_OK, "the filtered suite could not run: %s", vitcl_last_error());
    /* linear and linear_pack_weight: the plain linear cases unsupported beyond those are the
     * residual ones (ABI 1.2), which supports() refuses. */
    o.filter = "linear";
    st = vitcl_conformance_run(reg, &o, &lin);
    cr_assert_eq(st, VITCL_OK, "the filtered suite could not run: %s", vitcl_last_error());
    /* pack_weight_host: its residual cases refused the same way, the others run. */
    o.filter = "pack_weight_host";
    st = vitcl_conformance_run(reg, &o, &host);
    vitcl_registry_close(reg);
    cr_assert_eq(st, VITCL_OK, "the filtered suite could not run: %s", vitcl_last_error());
    cr_assert_gt(host.passed, 0);
    cr_assert_eq(s.failed, 0, "%zu case(s) failed (table above)", s.failed);
    cr_assert_gt(pack.unsupported, 0);
    cr_assert_eq(pack.passed + pack.failed, 0);
    cr_assert_gt(lin.unsupported, pack.unsupported, "the residual linear cases are refused");
    cr_assert_eq(s.unsupported, lin.unsupported + host.unsupported,
                 "%zu case(s) unsupported, of which %zu of linear and linear_pack_weight and %zu "
                 "of pack_weight_host",
                 s.unsupported, lin.unsupported, host.unsupported);
    cr_assert_gt(s.passed, 0);
}
