/* python/src/module.c - the vitcl._vitcl extension module: numpy and error-table setup, the
 * module-level functions and the Model type. The public API is vitcl/__init__.py's. */
#define VITCLPY_IMPORT_ARRAY
#include "vitcl_py.h"

static PyObject *status_name(PyObject *self, PyObject *arg)
{
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(vitcl_status_name((vitcl_status)v));
}

static PyMethodDef module_methods[] = {
    {"devices", vitclpy_devices, METH_NOARGS,
     "devices() -> list of dicts: every device of every accepted plugin, then every refused "
     "plugin with its reason."},
    {"_set_plugin_dir", vitclpy_set_plugin_dir, METH_O,
     "Sets the folder searched first for plugins (before the first registry use)."},
    {"_status_name", status_name, METH_O, "The library's name of a vitcl_status value."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "vitcl._vitcl",
    "The C extension behind the vitcl package (CPython and numpy C APIs).", -1, module_methods,
    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__vitcl(void); /* the one exported symbol */

PyMODINIT_FUNC PyInit__vitcl(void)
{
    import_array();
    if (vitclpy_errors_init())
        return NULL;
    if (PyType_Ready(&vitclpy_model_type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    Py_INCREF(&vitclpy_model_type);
    if (PyModule_AddObject(m, "Model", (PyObject *)&vitclpy_model_type) ||
        PyModule_AddStringConstant(m, "library_version", VITCL_VERSION_STRING)) {
        Py_DECREF(&vitclpy_model_type);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
