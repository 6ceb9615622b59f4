/* vitcl/conformance.h - checks a backend plugin against the reference backend.
 *
 * vitcl_conformance_run runs every op of the plugin ABI over a matrix of shapes and edge cases
 * (size-1 and odd dimensions, long rows, attention at sequence lengths 197, 1025 and 3137,
 * magnitudes that break a softmax without max-subtraction or a one-pass variance, denormals,
 * leading dimensions and strides) on the plugin under test and on the "ref" plugin of the same
 * registry, and compares the outputs with a per-op tolerance (docs/conformance.md gives the
 * formulas and their justification). Every output starts as NaN so an element the op forgets to
 * write fails; guard regions around every buffer must stay bit-identical. An optional op the
 * plugin lacks, or a shape its supports() rejects, is reported as UNSUPPORTED, never as a pass.
 * Reduced precisions (ABI 1.1): for each precision the device claims in
 * vitcl_device_info.precisions, linear runs through pack_weight_host with F32, F16 and BF16 host
 * weights and is held to a per-element bound derived from that precision's rounding; cases of a
 * precision the device does not claim (and the fp32 ones when the plugin has no
 * pack_weight_host) are reported as NOT_RUN in the table and the report ("not_run" in the JSON
 * summary), and are counted in none of vitcl_conformance_summary's fields, as are the cases
 * over max_elements.
 * When a fixtures directory is given, each committed model fixture is then run end to end and
 * compared with the golden last_hidden_state from transformers.
 */
#ifndef VITCL_CONFORMANCE_H
#define VITCL_CONFORMANCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vitcl/status.h"
#include "vitcl/vitcl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vitcl_conformance_options {
    uint32_t struct_size;  /* sizeof(vitcl_conformance_options) */
    const char *plugin;    /* plugin name ("opencl") or the path of a plugin file the registry
                              loaded; NULL means VITCL_BACKEND, then "auto" */
    const char *device;    /* device index or name substring, as vitcl_backend_open; may be NULL */
    const char *filter;    /* run only ops whose name contains this substring; NULL: all ops
                              (the model parity part runs when the filter matches "model") */
    const char *report_path; /* NULL, or a file to write: *.json gives JSON, *.xml JUnit XML */
    int quick;             /* a smaller matrix for CI (no sequence length 3137, fewer shapes) */
    FILE *table;           /* where the human-readable table goes; NULL for none */
    const char *fixtures_dir; /* folder holding manifest.json of the model fixtures; NULL skips
                                 the end-to-end part */
    size_t max_elements;   /* 0: no limit; otherwise an op case any of whose buffers holds more
                              floats than this is reported NOT_RUN ("larger than ..."), for
                              simulators such as Oclgrind; model parity is not affected */
} vitcl_conformance_options;

/* Counts of the cases run. NOT_RUN cases (precisions not claimed) are in none of them. */
typedef struct vitcl_conformance_summary {
    size_t passed;
    size_t failed;
    size_t unsupported;
} vitcl_conformance_summary;

/* Runs the suite on the plugin and device named in o against the "ref" plugin of reg, writes
 * the table to o->table and the report to o->report_path, and fills *out with the counts.
 * Returns VITCL_OK when the suite ran, whatever its verdicts (check out->failed); an error when
 * it could not run: no ref plugin in reg or no such plugin or device (VITCL_ERR_NOT_FOUND), an
 * unreadable manifest (VITCL_ERR_IO / VITCL_ERR_FORMAT), a report that cannot be written
 * (VITCL_ERR_IO), out of memory. vitcl_last_error() names the cause. Opens and closes its own
 * backends on reg; reg may be shared with other threads as vitcl.h allows. Can take seconds to
 * minutes on slow devices (the reference computes in double). */
VITCL_API vitcl_status vitcl_conformance_run(vitcl_registry *reg,
                                             const vitcl_conformance_options *o,
                                             vitcl_conformance_summary *out);

#ifdef __cplusplus
}
#endif
#endif
