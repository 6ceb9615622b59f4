/* tests/hardening/test_reference_parsers.c - vitcl's JSON and .npy readers against the
 * reference readers on inputs where a C reader can diverge: repeated keys (Python's json and
 * numpy keep the last), data after the top-level JSON value, escaped NULs, repeated or unusual
 * .npy header keys. The reference's reading of every case comes from
 * tools/make_parser_expectations.py (Python's json, numpy; versions in
 * tests/hardening/data/parsers/VERSIONS.txt). The rule checked: vitcl reads exactly what the
 * reference reads, or refuses with a message; it never accepts an input and reads it otherwise.
 * A refusal of an input the reference accepts is allowed only for the reasons vitcl documents:
 * a value it does not support (VITCL_ERR_UNSUPPORTED), an escaped NUL, an .npy that is not
 * little-endian float32 in C order. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "file_open.h"
#include "json_doc.h"
#include "leak_check.h"
#include "npy.h"
#include "preprocess_internal.h"
#include "vitcl/image.h"
#include "vitcl/vitcl.h"

#define DATA VITCL_SOURCE_ROOT "/tests/hardening/data/parsers/"

TestSuite(reference_parsers, .fini = leak_check_expect_none);

static cJSON *load_json(const char *path)
{
    char *text;
    size_t len;
    cr_assert_eq(vitcl_file_read_all(path, 1 << 24, &text, &len), VITCL_OK,
                 "%s (run tools/make_parser_expectations.py)", vitcl_last_error());
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    cr_assert(j, "%s is not JSON", path);
    return j;
}

static double num(const cJSON *v, const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, key);
    return cJSON_IsBool(x) ? (double)cJSON_IsTrue(x) : x->valuedouble;
}

static void check_config(const char *name, const char *text, const cJSON *values)
{
    vitcl_vit_config c;
    vitcl_status st = vitcl_config_parse(text, strlen(text), name, &c);
    if (st != VITCL_OK) {
        const char *m = vitcl_last_error();
        cr_expect(st == VITCL_ERR_UNSUPPORTED || strstr(m, "escaped NUL"),
                  "%s: Python's json reads it, vitcl refused it without a documented reason: %s",
                  name, m);
        return;
    }
    const cJSON *v;
    cJSON_ArrayForEach(v, values)
    {
        const char *k = v->string;
        if (!strcmp(k, "model_type"))
            cr_expect_str_eq(c.model_type, v->valuestring, "%s: model_type", name);
        else if (!strcmp(k, "hidden_act"))
            cr_expect_str_eq(v->valuestring, "gelu", "%s: vitcl accepted hidden_act %s", name,
                             v->valuestring);
        else if (!strcmp(k, "layer_norm_eps"))
            cr_expect_eq(c.layer_norm_eps, (float)v->valuedouble, "%s: layer_norm_eps", name);
        else {
            size_t got = !strcmp(k, "hidden_size")           ? c.hidden_size
                         : !strcmp(k, "num_attention_heads") ? c.num_heads
                         : !strcmp(k, "num_hidden_layers")   ? c.num_layers
                         : !strcmp(k, "intermediate_size")   ? c.intermediate_size
                         : !strcmp(k, "image_size")          ? c.image_size
                         : !strcmp(k, "patch_size")          ? c.patch_size
                         : !strcmp(k, "num_labels")          ? c.num_labels
                                                             : (size_t)-1;
            cr_assert_neq(got, (size_t)-1, "%s: unknown key %s in the expectations", name, k);
            cr_expect_eq((double)got, v->valuedouble, "%s: %s is %zu, Python's json read %g",
                         name, k, got, v->valuedouble);
        }
    }
}

static void check_preprocessor(const char *name, const char *text, const cJSON *values)
{
    vitcl_preprocessor_config c;
    vitcl_status st = vitcl_preprocessor_parse_config(text, strlen(text), name, &c);
    if (st != VITCL_OK) {
        cr_expect(st == VITCL_ERR_UNSUPPORTED, "%s: Python's json reads it, vitcl refused: %s",
                  name, vitcl_last_error());
        return;
    }
    const cJSON *v;
    cJSON_ArrayForEach(v, values)
    {
        const char *k = v->string;
        if (!strcmp(k, "do_resize")) {
            cr_expect_eq(c.do_resize, cJSON_IsTrue(v), "%s: do_resize", name);
        } else if (!strcmp(k, "resample")) {
            cr_expect_eq((double)c.resample, v->valuedouble, "%s: resample", name);
        } else if (!strcmp(k, "rescale_factor")) {
            cr_expect_eq(c.rescale_factor, v->valuedouble, "%s: rescale_factor", name);
        } else if (!strcmp(k, "image_mean") || !strcmp(k, "image_std")) {
            const double *got = k[6] == 'm' ? c.image_mean : c.image_std;
            for (int i = 0; i < 3; i++)
                cr_expect_eq(got[i], cJSON_GetArrayItem(v, i)->valuedouble, "%s: %s[%d]", name,
                             k, i);
        } else if (!strcmp(k, "size")) {
            if (cJSON_GetObjectItemCaseSensitive(v, "shortest_edge")) {
                cr_expect_eq((double)c.shortest_edge, num(v, "shortest_edge"), "%s: shortest",
                             name);
                cr_expect_eq(c.height, 0, "%s: a fixed size was kept", name);
            } else {
                cr_expect_eq((double)c.height, num(v, "height"), "%s: height", name);
                cr_expect_eq((double)c.width, num(v, "width"), "%s: width", name);
                cr_expect_eq(c.shortest_edge, 0, "%s: shortest_edge was kept", name);
            }
        } else {
            cr_assert_fail("%s: unknown key %s in the expectations", name, k);
        }
    }
}

Test(reference_parsers, json_readers_agree_with_python_json)
{
    cJSON *cases = load_json(DATA "json_cases.json");
    cr_assert_geq(cJSON_GetArraySize(cases), 15);
    const cJSON *cs;
    cJSON_ArrayForEach(cs, cases)
    {
        const char *name = cJSON_GetObjectItemCaseSensitive(cs, "name")->valuestring;
        const char *kind = cJSON_GetObjectItemCaseSensitive(cs, "kind")->valuestring;
        const char *text = cJSON_GetObjectItemCaseSensitive(cs, "text")->valuestring;
        /* cJSON stops the test's own copy at a NUL: the expectations hold escapes only */
        int py_ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cs, "python_ok"));
        const cJSON *values = cJSON_GetObjectItemCaseSensitive(cs, "values");
        if (!py_ok) {
            vitcl_vit_config c;
            vitcl_preprocessor_config p;
            vitcl_status st = !strcmp(kind, "config")
                                  ? vitcl_config_parse(text, strlen(text), name, &c)
                                  : vitcl_preprocessor_parse_config(text, strlen(text), name, &p);
            cr_expect_eq(st, VITCL_ERR_FORMAT, "%s: Python's json refuses it, vitcl gave %d",
                         name, st);
            continue;
        }
        if (!strcmp(kind, "config"))
            check_config(name, text, values);
        else
            check_preprocessor(name, text, values);
    }
    cJSON_Delete(cases);
}

/* The shared reader itself, on documents no config reaches: nested duplicates and the refusing
 * policy the weight readers use. */
Test(reference_parsers, json_doc_policies)
{
    const char *t = "{\"a\": 1, \"b\": {\"x\": 1, \"x\": [1, {\"y\": 1, \"y\": 2}]}, \"a\": 3}";
    cJSON *j = NULL;
    cr_assert_eq(vitcl_json_parse(t, strlen(t), "t", VITCL_JSON_LAST_WINS, &j), VITCL_OK);
    cr_expect_eq(cJSON_GetArraySize(j), 2);
    cr_expect_eq(cJSON_GetObjectItemCaseSensitive(j, "a")->valuedouble, 3);
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "b"),
                                                      "x");
    cr_assert(cJSON_IsArray(x));
    cr_expect_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(x, 1), "y")->valuedouble, 2);
    cJSON_Delete(j);
    cr_expect_eq(vitcl_json_parse(t, strlen(t), "t", VITCL_JSON_REFUSE_DUPLICATES, &j),
                 VITCL_ERR_FORMAT);
    cr_expect(strstr(vitcl_last_error(), "appears twice"), "%s", vitcl_last_error());
    cr_expect_null(j);
    const char *bad[] = {"{\"a\": \"x\\u0000y\"}", "{\"a\\u0000\": 1}", "{\"a\": \"\x01\"}",
                         "{} x", "[1] [2]", "", "{\"k\": 1}\x00"};
    size_t lens[] = {0, 0, 0, 0, 0, 0, 9}; /* the last: a NUL byte after the object */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = lens[i] ? lens[i] : strlen(bad[i]);
        cr_expect_eq(vitcl_json_parse(bad[i], n, "t", VITCL_JSON_LAST_WINS, &j),
                     VITCL_ERR_FORMAT, "case %zu accepted", i);
        cr_expect_null(j);
    }
    /* an escaped backslash before u0000 is text, not a NUL */
    const char *ok = "{\"a\": \"\\\\u0000\"}";
    cr_expect_eq(vitcl_json_parse(ok, strlen(ok), "t", VITCL_JSON_LAST_WINS, &j), VITCL_OK, "%s",
                 vitcl_last_error());
    cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(j, "a")->valuestring, "\\u0000");
    cJSON_Delete(j);
}

Test(reference_parsers, npy_reader_agrees_with_numpy)
{
    cJSON *cases = load_json(DATA "npy_cases.json");
    cr_assert_geq(cJSON_GetArraySize(cases), 10);
    const cJSON *cs;
    cJSON_ArrayForEach(cs, cases)
    {
        const char *name = cJSON_GetObjectItemCaseSensitive(cs, "name")->valuestring;
        char path[512];
        snprintf(path, sizeof path, DATA "%s",
                 cJSON_GetObjectItemCaseSensitive(cs, "file")->valuestring);
        int np_ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cs, "numpy_ok"));
        vitcl_npy a;
        vitcl_status st = vitcl_npy_read_f32(path, 0, &a);
        if (!np_ok) {
            cr_expect_eq(st, VITCL_ERR_FORMAT, "%s: numpy refuses it, vitcl read it", name);
            continue;
        }
        const char *dtype = cJSON_GetObjectItemCaseSensitive(cs, "dtype")->valuestring;
        int fortran = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cs, "fortran"));
        int supported = !strcmp(dtype, "<f4") && !fortran;
        if (st != VITCL_OK) {
            cr_expect(!supported, "%s: numpy reads '%s' C-order data, vitcl refused: %s", name,
                      dtype, vitcl_last_error());
            continue;
        }
        cr_expect(supported, "%s: vitcl read a file numpy reads as '%s'%s", name, dtype,
                  fortran ? " in Fortran order" : "");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(cs, "shape");
        cr_expect_eq(a.ndim, (size_t)cJSON_GetArraySize(shape), "%s: ndim", name);
        for (size_t d = 0; d < a.ndim && d < (size_t)cJSON_GetArraySize(shape); d++)
            cr_expect_eq((double)a.shape[d], cJSON_GetArrayItem(shape, (int)d)->valuedouble,
                         "%s: dim %zu", name, d);
        const cJSON *vals = cJSON_GetObjectItemCaseSensitive(cs, "values_c_order");
        cr_expect_eq(a.numel, (size_t)cJSON_GetArraySize(vals), "%s: numel", name);
        for (size_t i = 0; i < a.numel && i < (size_t)cJSON_GetArraySize(vals); i++)
            cr_expect_eq(a.data[i], (float)cJSON_GetArrayItem(vals, (int)i)->valuedouble,
                         "%s: value %zu", name, i);
        vitcl_npy_free(&a);
    }
    cJSON_Delete(cases);
}
