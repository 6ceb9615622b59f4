/* host/conformance/conf_report.c - the conformance results: the list, the table on a FILE*,
 * and the machine-readable report (JSON through cJSON, or JUnit XML). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_internal.h"
#include "error.h"

vitcl_status conf_results_add(conf_results *res, const conf_result *r)
{
    if (res->n == res->cap) {
        size_t cap = res->cap ? res->cap * 2 : 64;
        conf_result *v = realloc(res->v, cap * sizeof *v);
        if (v == NULL)
            return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "conformance: out of memory for results");
        res->v = v;
        res->cap = cap;
    }
    res->v[res->n++] = *r;
    return VITCL_OK;
}

void conf_results_free(conf_results *res)
{
    free(res->v);
    memset(res, 0, sizeof *res);
}

const char *conf_verdict_name(conf_verdict v)
{
    switch (v) {
    case CONF_PASS: return "PASS";
    case CONF_FAIL: return "FAIL";
    case CONF_UNSUPPORTED: return "UNSUPPORTED";
    case CONF_NOT_RUN: return "NOT_RUN";
    }
    return "?";
}

void conf_table_header(FILE *f, const char *plugin, const vitcl_device_info *dev)
{
    if (f == NULL)
        return;
    fprintf(f, "conformance of plugin '%s' on '%s' against ref\n", plugin, dev->name);
    fprintf(f, "%-20s %-4s %-62s %10s %10s %-11s %9s\n", "op", "prec", "shape", "max error",
            "tolerance", "result", "time ms");
}

void conf_table_row(FILE *f, const conf_result *r)
{
    if (f == NULL)
        return;
    char err[16], tol[16];
    snprintf(err, sizeof err, isnan(r->max_err) ? "-" : "%.3g", r->max_err);
    snprintf(tol, sizeof tol, isnan(r->tol) ? "-" : "%.3g", r->tol);
    fprintf(f, "%-20s %-4s %-62s %10s %10s %-11s %9.2f\n", r->op, r->precision, r->shape, err,
            tol, conf_verdict_name(r->verdict), r->ms);
    if (r->note[0] != '\0' && r->verdict != CONF_PASS)
        fprintf(f, "%20s   %s\n", "", r->note);
    fflush(f);
}

void conf_table_summary(FILE *f, const vitcl_conformance_summary *s, size_t not_run,
                        const char *note)
{
    if (f == NULL)
        return;
    if (note != NULL && note[0] != '\0')
        fprintf(f, "%s\n", note);
    fprintf(f, "summary: %zu passed, %zu failed, %zu unsupported, %zu not run (a precision the "
            "device does not claim, no pack_weight_host, or over --max-elements)\n", s->passed,
            s->failed,
            s->unsupported, not_run);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static vitcl_status write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return vitcl_fail(VITCL_ERR_IO, "conformance report %s: %s", path, strerror(errno));
    int ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        remove(path);
        return vitcl_fail(VITCL_ERR_IO, "conformance report %s: write failed", path);
    }
    return VITCL_OK;
}

/* A number for JSON: cJSON writes non-finite values as null. */
static int add_num(cJSON *o, const char *key, double v)
{
    return cJSON_AddNumberToObject(o, key, v) != NULL;
}

static vitcl_status write_json(const char *path, const char *plugin, const vitcl_device_info *dev,
                               const conf_results *res, const vitcl_conformance_summary *s,
                               size_t not_run, const char *note)
{
    cJSON *root = cJSON_CreateObject(), *sum = NULL, *arr = NULL;
    int ok = root != NULL && cJSON_AddStringToObject(root, "plugin", plugin) &&
             cJSON_AddStringToObject(root, "device", dev->name) &&
             cJSON_AddStringToObject(root, "reference", "ref") &&
             cJSON_AddStringToObject(root, "note", note != NULL ? note : "") &&
             (sum = cJSON_AddObjectToObject(root, "summary")) != NULL &&
             add_num(sum, "passed", (double)s->passed) && add_num(sum, "failed", (double)s->failed) &&
             add_num(sum, "unsupported", (double)s->unsupported) &&
             add_num(sum, "not_run", (double)not_run) &&
             add_num(root, "precisions", (double)dev->precisions) &&
             (arr = cJSON_AddArrayToObject(root, "results")) != NULL;
    for (size_t i = 0; ok && i < res->n; i++) {
        const conf_result *r = &res->v[i];
        cJSON *o = cJSON_CreateObject();
        ok = o != NULL && cJSON_AddItemToArray(arr, o);
        if (!ok) {
            cJSON_Delete(o);
            break;
        }
        ok = cJSON_AddStringToObject(o, "op", r->op) && cJSON_AddStringToObject(o, "shape", r->shape) &&
             cJSON_AddStringToObject(o, "precision", r->precision) &&
             add_num(o, "max_error", r->max_err) && add_num(o, "tolerance", r->tol) &&
             cJSON_AddStringToObject(o, "result", conf_verdict_name(r->verdict)) &&
             add_num(o, "time_ms", r->ms) && cJSON_AddStringToObject(o, "note", r->note);
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (text == NULL)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "conformance report %s: out of memory", path);
    vitcl_status st = write_file(path, text);
    cJSON_free(text);
    return st;
}

/* Writes s with XML's five special characters escaped. */
static void xml_escaped(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n')
                fputc(' ', f); /* control characters are not allowed in XML 1.0 */
            else
                fputc(*s, f);
        }
    }
}

static vitcl_status write_junit(const char *path, const char *plugin, const vitcl_device_info *dev,
                                const conf_results *res, const vitcl_conformance_summary *s,
                                size_t not_run)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return vitcl_fail(VITCL_ERR_IO, "conformance report %s: %s", path, strerror(errno));
    double total = 0.0;
    for (size_t i = 0; i < res->n; i++)
        total += res->v[i].ms;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    fprintf(f, "  <testsuite name=\"vitcl conformance: ");
    xml_escaped(f, plugin);
    fprintf(f, " on ");
    xml_escaped(f, dev->name);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" errors=\"0\" time=\"%.3f\">\n",
            res->n, s->failed, s->unsupported + not_run, total / 1e3);
    for (size_t i = 0; i < res->n; i++) {
        const conf_result *r = &res->v[i];
        fprintf(f, "    <testcase classname=\"conformance.");
        xml_escaped(f, r->op);
        fprintf(f, "\" name=\"");
        xml_escaped(f, r->shape);
        fprintf(f, " [%s]\" time=\"%.6f\">", r->precision, r->ms / 1e3);
        if (r->verdict != CONF_PASS) {
            fprintf(f, "\n      <%s message=\"", r->verdict == CONF_FAIL ? "failure" : "skipped");
            xml_escaped(f, conf_verdict_name(r->verdict));
            fprintf(f, ": ");
            xml_escaped(f, r->note);
            fprintf(f, "\">max error %.6g, tolerance %.6g</%s>\n    ", r->max_err, r->tol,
                    r->verdict == CONF_FAIL ? "failure" : "skipped");
        }
        fprintf(f, "</testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    if (ferror(f) | (fclose(f) != 0)) {
        remove(path);
        return vitcl_fail(VITCL_ERR_IO, "conformance report %s: write failed", path);
    }
    return VITCL_OK;
}

vitcl_status conf_write_report(const char *path, const char *plugin, const vitcl_device_info *dev,
                               const conf_results *res, const vitcl_conformance_summary *s,
                               size_t not_run, const char *note)
{
    if (has_suffix(path, ".json"))
        return write_json(path, plugin, dev, res, s, not_run, note);
    if (has_suffix(path, ".xml"))
        return write_junit(path, plugin, dev, res, s, not_run);
    return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT,
                      "conformance report %s: the name must end in .json or .xml", path);
}
