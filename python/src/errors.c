/* python/src/errors.c - library failures to Python exceptions: the message is copied on the
 * failing thread, the vitcl.Error subclass is chosen by status (vitcl/errors.py's table). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vitcl_py.h"

static PyObject *g_by_status; /* dict int -> class, from vitcl.errors.ERROR_BY_STATUS */
static PyObject *g_base;      /* vitcl.errors.Error */

vitcl_status vitclpy_err_capture(vitclpy_err *e, vitcl_status status, const char *prefix)
{
    e->status = status;
    const char *msg = vitcl_last_error();
    if (!msg || !*msg)
        msg = vitcl_status_name(status);
    if (prefix)
        snprintf(e->message, sizeof e->message, "%s: %s", prefix, msg);
    else
        snprintf(e->message, sizeof e->message, "%s", msg);
    return status;
}

void vitclpy_err_set(vitclpy_err *e, vitcl_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    e->status = status;
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

PyObject *vitclpy_raise(const vitclpy_err *e)
{
    PyObject *cls = NULL;
    PyObject *key = PyLong_FromLong((long)e->status);
    if (key && g_by_status)
        cls = PyDict_GetItemWithError(g_by_status, key); /* borrowed */
    Py_XDECREF(key);
    if (PyErr_Occurred())
        return NULL;
    if (!cls)
        cls = g_base;
    /* paths in messages need not be UTF-8: undecodable bytes become lone surrogates, as
     * os.fsdecode would make them */
    PyObject *msg = PyUnicode_DecodeUTF8(e->message, (Py_ssize_t)strlen(e->message),
                                         "surrogateescape");
    PyObject *exc = msg ? PyObject_CallFunction(cls, "Oi", msg, (int)e->status) : NULL;
    Py_XDECREF(msg);
    if (exc) {
        PyErr_SetObject(cls, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

PyObject *vitclpy_raisef(vitcl_status status, const char *fmt, ...)
{
    vitclpy_err e;
    va_list ap;
    va_start(ap, fmt);
    e.status = status;
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    return vitclpy_raise(&e);
}

int vitclpy_errors_init(void)
{
    PyObject *mod = PyImport_ImportModule("vitcl.errors");
    if (!mod)
        return -1;
    g_by_status = PyObject_GetAttrString(mod, "ERROR_BY_STATUS");
    g_base = PyObject_GetAttrString(mod, "Error");
    Py_DECREF(mod);
    if (!g_by_status || !g_base || !PyDict_Check(g_by_status)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ImportError, "vitcl.errors.ERROR_BY_STATUS is not a dict");
        return -1;
    }
    return 0;
}
