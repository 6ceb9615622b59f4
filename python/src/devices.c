/* python/src/devices.c - the process-wide plugin registry and vitcl.devices(). */
#include <stdlib.h>
#include <string.h>

#include "vitcl_py.h"

static vitcl_registry *g_reg;
static char *g_plugin_dir; /* the package's plugins/ folder; NULL: the library's search only */

PyObject *vitclpy_set_plugin_dir(PyObject *self, PyObject *arg)
{
    PyObject *bytes = NULL;
    if (!PyUnicode_FSConverter(arg, &bytes))
        return NULL;
    if (g_reg) {
        Py_DECREF(bytes);
        PyErr_SetString(PyExc_RuntimeError, "the plugin registry is already open");
        return NULL;
    }
    char *copy = strdup(PyBytes_AS_STRING(bytes));
    Py_DECREF(bytes);
    if (!copy)
        return PyErr_NoMemory();
    free(g_plugin_dir);
    g_plugin_dir = copy;
    Py_RETURN_NONE;
}

vitcl_registry *vitclpy_registry(vitclpy_err *e)
{
    vitcl_status st;
    if (!g_reg && (st = vitcl_registry_open(g_plugin_dir, &g_reg))) {
        vitclpy_err_capture(e, st, NULL);
        g_reg = NULL;
    }
    return g_reg;
}

const char *vitclpy_device_type_name(vitcl_device_type t)
{
    switch (t) {
    case VITCL_DEVICE_CPU: return "cpu";
    case VITCL_DEVICE_GPU: return "gpu";
    case VITCL_DEVICE_ACCELERATOR: return "accelerator";
    default: return "other";
    }
}

/* Appends the str name to list; 0, or -1 with an exception. */
static int append_name(PyObject *list, const char *name)
{
    PyObject *s = PyUnicode_FromString(name);
    int rc = s ? PyList_Append(list, s) : -1;
    Py_XDECREF(s);
    return rc;
}

PyObject *vitclpy_caps_list(uint32_t caps)
{
    static const struct { uint32_t bit; const char *name; } names[] = {
        {VITCL_CAP_FP16, "fp16"},
        {VITCL_CAP_FP64, "fp64"},
        {VITCL_CAP_HOST_UNIFIED, "host_unified"},
        {VITCL_CAP_ZERO_COPY_WRAP, "zero_copy_wrap"},
        {VITCL_CAP_PROFILING, "profiling"},
        {VITCL_CAP_BF16, "bf16"},
    };
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < sizeof names / sizeof names[0]; i++)
        if ((caps & names[i].bit) && append_name(list, names[i].name))
            Py_CLEAR(list);
    return list;
}

/* The names of the precisions in bits (vitcl_device_info.precisions), fp32 first; NULL with an
 * exception on failure. */
static PyObject *precision_list(uint32_t bits)
{
    PyObject *list = PyList_New(0);
    for (int p = 0; list && p < VITCL_PRECISION_COUNT_; p++)
        if ((p == VITCL_PRECISION_FP32 || (bits & VITCL_PRECISION_BIT(p))) &&
            append_name(list, vitcl_precision_name(p)))
            Py_CLEAR(list);
    return list;
}

/* Appends a dict built by Py_BuildValue(fmt, ...) to list; 0 or -1. */
static int append_dict(PyObject *list, PyObject *dict)
{
    if (!dict)
        return -1;
    int rc = PyList_Append(list, dict);
    Py_DECREF(dict);
    return rc;
}

PyObject *vitclpy_devices(PyObject *self, PyObject *unused)
{
    vitclpy_err e;
    vitcl_registry *reg = vitclpy_registry(&e);
    if (!reg)
        return vitclpy_raise(&e);
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    size_t np = vitcl_registry_plugin_count(reg);
    for (size_t p = 0; p < np; p++) {
        vitcl_plugin_info pi;
        if (vitcl_registry_plugin(reg, p, &pi)) {
            vitclpy_err_capture(&e, VITCL_ERR_INTERNAL, NULL);
            Py_DECREF(list);
            return vitclpy_raise(&e);
        }
        for (int d = 0; d < pi.device_count; d++) {
            vitcl_device_info di;
            if (vitcl_registry_device(reg, p, d, &di)) {
                vitclpy_err_capture(&e, VITCL_ERR_DEVICE, NULL);
                Py_DECREF(list);
                return vitclpy_raise(&e);
            }
            PyObject *caps = vitclpy_caps_list(di.caps);
            if (!caps) {
                Py_DECREF(list);
                return NULL;
            }
            PyObject *precs = precision_list(di.precisions);
            if (!precs) {
                Py_DECREF(caps);
                Py_DECREF(list);
                return NULL;
            }
            PyObject *dict = Py_BuildValue(
                "{s:s,s:i,s:s,s:s,s:N,s:s,s:s,s:s,s:K,s:K,s:I,s:s,s:s,s:s,s:N,s:s}",
                "plugin", pi.name, "device", d, "name", di.name,
                "type", vitclpy_device_type_name(di.type), "capabilities", caps,
                "vendor", di.vendor, "driver", di.driver, "platform", di.platform,
                "global_mem_bytes", (unsigned long long)di.global_mem_bytes,
                "max_alloc_bytes", (unsigned long long)di.max_alloc_bytes,
                "compute_units", (unsigned)di.compute_units, "extra", di.extra,
                "plugin_version", pi.version, "plugin_path", pi.path, "precisions", precs,
                "precision_notes", di.precision_notes);
            if (append_dict(list, dict)) {
                Py_DECREF(list);
                return NULL;
            }
        }
    }
    size_t nr = vitcl_registry_refused_count(reg);
    for (size_t r = 0; r < nr; r++) {
        const char *path = NULL, *reason = NULL;
        if (vitcl_registry_refused(reg, r, &path, &reason))
            continue;
        PyObject *dict = Py_BuildValue("{s:O,s:O,s:s,s:s}", "plugin", Py_None, "device", Py_None,
                                       "plugin_path", path, "refused", reason);
        if (append_dict(list, dict)) {
            Py_DECREF(list);
            return NULL;
        }
    }
    return list;
}
