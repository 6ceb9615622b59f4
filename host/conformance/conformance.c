/* host/conformance/conformance.c - vitcl_conformance_run: resolves the plugin under test, opens
 * it and ref on the same registry, walks the case matrix, runs the model fixtures and reports. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_internal.h"
#include "error.h"
#include "vitcl/conformance.h"

/* Reads option `field` when the caller's struct_size covers it, else NULL / 0. */
#define OPT(o, field) \
    ((o)->struct_size >= offsetof(vitcl_conformance_options, field) + sizeof((o)->field) ? (o)->field : 0)

typedef struct run_state {
    vitcl_backend *test, *ref;
    conf_results *res;
    vitcl_conformance_summary *sum;
    size_t not_run; /* cases of precisions the device does not claim or over max_elements: in
                       no summary count */
    size_t max_elements; /* 0: no limit */
    FILE *table;
} run_state;

static void count(vitcl_conformance_summary *s, size_t *not_run, const conf_result *r)
{
    if (r->verdict == CONF_PASS)
        s->passed++;
    else if (r->verdict == CONF_FAIL)
        s->failed++;
    else if (r->verdict == CONF_UNSUPPORTED)
        s->unsupported++;
    else
        (*not_run)++;
}

/* The floats of c's largest buffer (its guards included). */
static size_t largest_tensor(const conf_case *c)
{
    size_t most = 0;
    for (size_t i = 0; i < c->nt; i++)
        most = c->t[i].count > most ? c->t[i].count : most;
    return most;
}

/* A NOT_RUN result for a case over the max_elements limit, said in its note. */
static void over_limit(const conf_case *c, size_t limit, conf_result *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->op, sizeof r->op, "%s", c->op_name);
    snprintf(r->shape, sizeof r->shape, "%s", c->shape);
    snprintf(r->precision, sizeof r->precision, "%s", conf_precision_name(c->precision));
    r->verdict = CONF_NOT_RUN;
    snprintf(r->note, sizeof r->note, "not run: a buffer of %zu floats, over max_elements %zu",
             largest_tensor(c), limit);
}

static vitcl_status on_case(const conf_case *c, void *user)
{
    run_state *rs = user;
    conf_result r;
    vitcl_status st = VITCL_OK;
    if (rs->max_elements > 0 && largest_tensor(c) > rs->max_elements)
        over_limit(c, rs->max_elements, &r);
    else
        st = conf_exec_case(rs->test, rs->ref, c, &r);
    if (st != VITCL_OK)
        return vitcl_fail(st, "conformance: out of memory running %s %s", c->op_name, c->shape);
    if ((st = conf_results_add(rs->res, &r)) != VITCL_OK)
        return st;
    count(rs->sum, &rs->not_run, &r);
    conf_table_row(rs->table, &r);
    return VITCL_OK;
}

static int looks_like_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') != NULL || (n > 3 && strcmp(s + n - 3, ".so") == 0);
}

/* The registry name of the plugin `spec` (a name, or the path of a file reg loaded). */
static vitcl_status resolve_plugin(const vitcl_registry *reg, const char *spec, char *name,
                                   size_t len)
{
    if (!looks_like_path(spec)) {
        snprintf(name, len, "%s", spec);
        return VITCL_OK;
    }
    char want[PATH_MAX], have[PATH_MAX];
    if (realpath(spec, want) == NULL)
        return vitcl_fail(VITCL_ERR_NOT_FOUND, "conformance: plugin file %s not found", spec);
    for (size_t i = 0; i < vitcl_registry_plugin_count(reg); i++) {
        vitcl_plugin_info info;
        if (vitcl_registry_plugin(reg, i, &info) == VITCL_OK && info.path != NULL &&
            realpath(info.path, have) != NULL && strcmp(have, want) == 0) {
            snprintf(name, len, "%s", info.name);
            return VITCL_OK;
        }
    }
    for (size_t i = 0; i < vitcl_registry_refused_count(reg); i++) {
        const char *path = NULL, *reason = NULL;
        if (vitcl_registry_refused(reg, i, &path, &reason) == VITCL_OK && path != NULL &&
            realpath(path, have) != NULL && strcmp(have, want) == 0)
            return vitcl_fail(VITCL_ERR_PLUGIN, "conformance: plugin %s was refused: %s", spec,
                              reason != NULL ? reason : "(no reason)");
    }
    return vitcl_fail(VITCL_ERR_NOT_FOUND,
                      "conformance: plugin %s is not in the registry (open the registry with it "
                      "as the explicit path, or another plugin of the same name came first)",
                      spec);
}

vitcl_status vitcl_conformance_run(vitcl_registry *reg, const vitcl_conformance_options *o,
                                   vitcl_conformance_summary *out)
{
    if (reg == NULL || o == NULL || out == NULL)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_conformance_run: %s is NULL",
                          reg == NULL ? "reg" : o == NULL ? "options" : "out");
    if (o->struct_size < offsetof(vitcl_conformance_options, plugin) + sizeof o->plugin)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                          "vitcl_conformance_run: options.struct_size %u is too small",
                          (unsigned)o->struct_size);
    memset(out, 0, sizeof *out);
    const char *spec = OPT(o, plugin), *device = OPT(o, device), *filter = OPT(o, filter);
    const char *report = OPT(o, report_path), *fixtures = OPT(o, fixtures_dir);
    FILE *table = OPT(o, table);
    int quick = OPT(o, quick);
    if (filter != NULL && filter[0] == '\0')
        filter = NULL;

    char name[128] = "";
    vitcl_status st = VITCL_OK;
    if (spec != NULL && (st = resolve_plugin(reg, spec, name, sizeof name)) != VITCL_OK)
        return st;
    vitcl_backend *ref = NULL, *test = NULL;
    if ((st = vitcl_backend_open(reg, "ref", NULL, &ref)) != VITCL_OK)
        return vitcl_fail_prefix(st, "conformance needs the ref plugin as its reference: ");
    if ((st = vitcl_backend_open(reg, spec != NULL ? name : NULL, device, &test)) != VITCL_OK) {
        vitcl_backend_close(ref);
        return vitcl_fail_prefix(st, "conformance: ");
    }
    const char *plugin = vitcl_backend_name(test);
    const vitcl_device_info *dev = vitcl_backend_device(test);

    conf_results res = {NULL, 0, 0};
    run_state rs = {test, ref, &res, out, 0, OPT(o, max_elements), table};
    conf_table_header(table, plugin, dev);
    st = conf_for_each_case(quick, filter, on_case, &rs);
    if (st == VITCL_ERR_OUT_OF_MEMORY && vitcl_last_error()[0] == '\0')
        vitcl_fail(st, "conformance: out of memory building a case");

    char note[1200] = "";
    if (st == VITCL_OK && (filter == NULL || strstr("model", filter) != NULL)) {
        if (fixtures == NULL) {
            snprintf(note, sizeof note,
                     "model parity: skipped (no fixtures directory given)");
        } else {
            size_t first = res.n;
            st = conf_model_parity(test, fixtures, quick, &res);
            for (size_t i = first; i < res.n; i++) {
                count(out, &rs.not_run, &res.v[i]);
                conf_table_row(table, &res.v[i]);
            }
            snprintf(note, sizeof note, "model parity: fixtures of %s", fixtures);
        }
    }
    if (st == VITCL_OK) {
        conf_table_summary(table, out, rs.not_run, note);
        if (report != NULL)
            st = conf_write_report(report, plugin, dev, &res, out, rs.not_run, note);
    }
    conf_results_free(&res);
    vitcl_backend_close(test);
    vitcl_backend_close(ref);
    return st;
}
