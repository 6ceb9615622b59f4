/* host/conformance/conf_internal.h - what the files of the conformance engine share.
 *
 * conf_cases.c builds the matrix of op cases one at a time (host arrays with guards, the op's
 * arguments, the tolerance); conf_exec.c runs a case on a backend and compares the plugin's
 * buffers with ref's; conf_model.c runs the model fixtures end to end; conf_report.c prints the
 * table and writes the JSON / JUnit report; conformance.c drives it all.
 */
#ifndef VITCL_CONF_INTERNAL_H
#define VITCL_CONF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loader_internal.h"
#include "vitcl/backend.h"
#include "vitcl/conformance.h"

#define CONF_MAX_TENSORS 6
#define CONF_GUARD 16 /* floats before and after every tensor */

/* One buffer of a case: the whole buffer's contents before the op (guards and padding
 * included) and, for outputs, which floats the op must write. */
typedef struct conf_tensor {
    const char *name;
    float *init;          /* count floats, owned by the case */
    unsigned char *write; /* count flags (1 = the op writes this float); NULL for pure inputs */
    size_t count;
    /* Optional, for outputs (count entries each, owned by the case): bound[i] is the largest
     * error allowed at float i instead of the case's atol + rtol·S; expect[i], when not NaN,
     * is the exact value float i must hold instead of ref's (an fp16 overflow to inf). */
    double *bound;
    float *expect;
} conf_tensor;

/* Buffer arguments of the ops, in the order conf_exec passes them. */
enum { CONF_ARG_X, CONF_ARG_W, CONF_ARG_B, CONF_ARG_Y, CONF_ARG_K, CONF_ARG_V, CONF_ARG_COUNT_ };

typedef struct conf_case {
    vitcl_op op;
    const char *op_name; /* "linear", ..., "linear_pack_weight" for packed-W linear */
    char shape[192];     /* human description: sizes, layout, value range */
    conf_tensor t[CONF_MAX_TENSORS];
    size_t nt;
    int arg[CONF_ARG_COUNT_]; /* tensor index per buffer argument; -1 for a NULL buffer */
    size_t off[CONF_ARG_COUNT_];
    /* Sizes and scalars; each op reads those backend.h gives it. */
    size_t m, n, k, batch, seq, heads, head_dim, channels, height, width, patch;
    size_t ld[CONF_ARG_COUNT_], stride[CONF_ARG_COUNT_];
    int trans_a, trans_b;
    float alpha, beta, eps, scale;
    uint32_t flags; /* linear; VITCL_LINEAR_PACKED_W means: pack W first */
    /* VITCL_OP_PACK_WEIGHT_HOST cases: the plugin under test packs w_host (n·k elements of
     * dtype, owned by the case) with pack_weight_host in `precision` and runs linear with it;
     * ref runs plain linear on tensor W, which holds the exact values of w_host. */
    uint32_t precision, dtype;
    void *w_host;
    size_t w_host_bytes;
    /* The weight holds finite values the precision cannot hold: pack_weight_host may refuse it
     * (an error with a message passes), or must store ±inf exactly (Y's expect[]). */
    int pack_may_refuse;
    /* Tolerance: max |ours - ref| over written floats <= atol + rtol · S, where S is
     * scale_ref when > 0, else max |ref| over the written floats. */
    double atol, rtol, scale_ref;
} conf_case;

/* NOT_RUN: a case of a precision the device does not claim (or of pack_weight_host in fp32 when
 * the plugin has no such entry); counted apart from the summary's three numbers. */
typedef enum conf_verdict {
    CONF_PASS = 0,
    CONF_FAIL = 1,
    CONF_UNSUPPORTED = 2,
    CONF_NOT_RUN = 3
} conf_verdict;

typedef struct conf_result {
    char op[32];
    char shape[192];
    char precision[8]; /* "fp32", "bf16", "fp16" */
    /* +inf when NaN appeared or the op failed. With per-element bounds: the error and the
     * bound of the float whose error / bound is largest. */
    double max_err;
    double tol;
    conf_verdict verdict;
    double ms; /* the plugin's time for the op (wall clock, including synchronize) */
    char note[320]; /* why it failed or is unsupported; "" on a pass */
} conf_result;

typedef struct conf_results {
    conf_result *v;
    size_t n, cap;
} conf_results;

/* ---- conf_cases.c */

/* Calls fn(c, user) for each case of the matrix whose op name contains filter (NULL: all),
 * building each case just before and freeing it just after. Stops at the first non-OK status
 * fn returns and passes it on; VITCL_ERR_OUT_OF_MEMORY when a case cannot be built. */
typedef vitcl_status (*conf_case_fn)(const conf_case *c, void *user);
vitcl_status conf_for_each_case(int quick, const char *filter, conf_case_fn fn, void *user);

/* ---- conf_precision.c */

const char *conf_precision_name(uint32_t precision); /* "fp32", "bf16", "fp16", "?" */
const char *conf_dtype_name(uint32_t dtype);         /* "F32", "F16", "BF16", "?" */
size_t conf_dtype_size(uint32_t dtype);              /* 4 or 2 */

/* Rounds v to nearest even in dtype (F32: unchanged), writes its little-endian encoding as
 * element i of dst and returns the exact value it encodes. */
float conf_dtype_store(void *dst, uint32_t dtype, size_t i, float v);

/* What the bound of one output y = Σ x_p·w_p (+ b) needs, summed in double by the suite. */
typedef struct conf_dot_terms {
    double abs_xw;       /* Σ |x_p·w_p| */
    double abs_x_plus_w; /* Σ (|x_p| + |w_p|) */
    double abs_bias;     /* |b|, 0 without bias */
    size_t k;
} conf_dot_terms;

/* The largest error a correct linear in `precision` (bf16 or fp16) may show at one output
 * against ref's fp32 result, GELU applied when gelu != 0 (docs/conformance.md). */
double conf_linear_bound(uint32_t precision, const conf_dot_terms *t, int gelu);

/* ---- conf_exec.c */

/* Runs c on the plugin under test and on ref, compares, and fills *r. Returns non-OK only on
 * host out of memory; a plugin's failure is a FAIL verdict with its message in r->note. */
vitcl_status conf_exec_case(vitcl_backend *test, vitcl_backend *ref, const conf_case *c,
                            conf_result *r);

/* ---- conf_model.c */

/* Runs every model fixture listed in fixtures_dir/manifest.json on `test` (only the first case
 * of each model when quick) and appends one result per case. Errors: IO / FORMAT for the
 * manifest, OUT_OF_MEMORY; a model that fails to load or run is a FAIL result. */
vitcl_status conf_model_parity(vitcl_backend *test, const char *fixtures_dir, int quick,
                               conf_results *res);

/* ---- conf_report.c */

/* Appends a copy of r; VITCL_ERR_OUT_OF_MEMORY on failure. */
vitcl_status conf_results_add(conf_results *res, const conf_result *r);
void conf_results_free(conf_results *res);
const char *conf_verdict_name(conf_verdict v);

/* Writes the table header, one row, or the summary to f (f may be NULL: nothing). */
void conf_table_header(FILE *f, const char *plugin, const vitcl_device_info *dev);
void conf_table_row(FILE *f, const conf_result *r);
void conf_table_summary(FILE *f, const vitcl_conformance_summary *s, size_t not_run,
                        const char *note);

/* Writes res as JSON (path ends in .json) or JUnit XML (.xml); VITCL_ERR_INVALID_ARGUMENT for
 * another suffix, VITCL_ERR_IO when the file cannot be written. */
vitcl_status conf_write_report(const char *path, const char *plugin, const vitcl_device_info *dev,
                               const conf_results *res, const vitcl_conformance_summary *s,
                               size_t not_run, const char *note);

#endif
