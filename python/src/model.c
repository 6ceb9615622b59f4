/* python/src/model.c - the Model type: load, close, run, embed, config and info.
 *
 * Locking: a Model's handles are guarded by a read-write lock. run and embed hold it shared
 * (with the GIL released) for the whole library call, so several Python threads may use one
 * Model at once (the library serialises device work per backend); close and dealloc hold it
 * exclusively, so a Model is never freed under a running call. The lock is always taken with
 * the GIL released, which keeps the GIL and the lock from waiting on each other.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vitcl_py.h"

struct vitclpy_model {
    PyObject_HEAD
    pthread_rwlock_t lock;
    int lock_ready;
    vitcl_backend *be;
    vitcl_model *model;
    vitcl_preprocessor *pp;
    /* copies taken at load, readable without the lock */
    vitcl_model_config cfg;
    vitcl_preprocessor_config pcfg;
    vitcl_device_info dev;
    char backend_name[64];
    PyObject *path; /* str, as given */
};

/* ------------------------------------------------------------------ output arrays */

static void output_capsule_free(PyObject *cap)
{
    vitcl_output_free(PyCapsule_GetPointer(cap, "vitcl_output"));
}

static void buffer_capsule_free(PyObject *cap)
{
    free(PyCapsule_GetPointer(cap, "vitcl_buffer"));
}

/* A float32 array over data, kept alive by base (a new reference is taken). */
static PyObject *array_view(const float *data, int nd, const npy_intp *dims, PyObject *base)
{
    PyObject *arr = PyArray_SimpleNewFromData(nd, (npy_intp *)dims, NPY_FLOAT32, (void *)data);
    if (!arr)
        return NULL;
    Py_INCREF(base);
    if (PyArray_SetBaseObject((PyArrayObject *)arr, base)) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

PyObject *vitclpy_array_own(float *data, int nd, const npy_intp *dims)
{
    PyObject *cap = PyCapsule_New(data, "vitcl_buffer", buffer_capsule_free);
    if (!cap) {
        free(data);
        return NULL;
    }
    PyObject *arr = array_view(data, nd, dims, cap);
    Py_DECREF(cap);
    return arr;
}

/* The run result: last_hidden_state alone, or a dict when hidden states or logits exist. All
 * arrays are views of the library's output buffers (no copy); the output is freed with the
 * last of them. Takes over out. */
static PyObject *wrap_output(vitcl_output *out, int want_hidden)
{
    PyObject *cap = PyCapsule_New(out, "vitcl_output", output_capsule_free);
    if (!cap) {
        vitcl_output_free(out);
        return NULL;
    }
    size_t B, S, D, labels = 0;
    const float *lhs = vitcl_output_last_hidden_state(out, &B, &S, &D);
    npy_intp dims[3] = {(npy_intp)B, (npy_intp)S, (npy_intp)D};
    PyObject *last = array_view(lhs, 3, dims, cap), *result = NULL, *hs = NULL, *lg = NULL;
    if (!last)
        goto done;
    const float *logits = vitcl_output_logits(out, &labels);
    if (!want_hidden && !logits) {
        result = last;
        last = NULL;
        goto done;
    }
    result = PyDict_New();
    if (!result || PyDict_SetItemString(result, "last_hidden_state", last))
        goto fail;
    if (want_hidden) {
        size_t n = vitcl_output_num_hidden_states(out);
        hs = PyTuple_New((Py_ssize_t)n);
        if (!hs)
            goto fail;
        for (size_t i = 0; i < n; i++) {
            PyObject *a = array_view(vitcl_output_hidden_state(out, i), 3, dims, cap);
            if (!a)
                goto fail;
            PyTuple_SET_ITEM(hs, (Py_ssize_t)i, a);
        }
        if (PyDict_SetItemString(result, "hidden_states", hs))
            goto fail;
    }
    if (logits) {
        npy_intp ld[2] = {(npy_intp)B, (npy_intp)labels};
        lg = array_view(logits, 2, ld, cap);
        if (!lg || PyDict_SetItemString(result, "logits", lg))
            goto fail;
    }
    goto done;
fail:
    Py_CLEAR(result);
done:
    Py_XDECREF(last);
    Py_XDECREF(hs);
    Py_XDECREF(lg);
    Py_DECREF(cap);
    return result;
}

/* ------------------------------------------------------------------ lifetime */

/* Frees the handles; caller holds the lock exclusively (or is the only user). */
static void release_handles(vitclpy_model *self)
{
    vitcl_preprocessor_free(self->pp);
    vitcl_model_free(self->model);
    vitcl_backend_close(self->be);
    self->pp = NULL;
    self->model = NULL;
    self->be = NULL;
}

static void close_locked(vitclpy_model *self)
{
    if (!self->lock_ready)
        return;
    Py_BEGIN_ALLOW_THREADS
    pthread_rwlock_wrlock(&self->lock);
    release_handles(self);
    pthread_rwlock_unlock(&self->lock);
    Py_END_ALLOW_THREADS
}

static PyObject *model_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    vitclpy_model *self = (vitclpy_model *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    if (pthread_rwlock_init(&self->lock, NULL)) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->lock_ready = 1;
    return (PyObject *)self;
}

static void model_dealloc(vitclpy_model *self)
{
    /* no call can be running: each holds a reference to self */
    release_handles(self);
    if (self->lock_ready)
        pthread_rwlock_destroy(&self->lock);
    Py_XDECREF(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int model_init(vitclpy_model *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "backend", "device", "precision", NULL};
    PyObject *path_obj, *path_bytes = NULL, *device_obj = Py_None, *device_str = NULL;
    const char *backend = NULL, *precision = "fp32";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|zOs:Model", kwlist, &path_obj, &backend,
                                     &device_obj, &precision))
        return -1;
    if (self->model) {
        PyErr_SetString(PyExc_RuntimeError, "Model is already initialised");
        return -1;
    }
    /* The library's parser and message (it lists the valid names). */
    vitcl_load_options lo = {.struct_size = sizeof lo};
    vitcl_status pst = vitcl_precision_parse(precision, &lo.precision);
    if (pst) {
        vitclpy_err pe;
        vitclpy_err_capture(&pe, pst, "precision");
        vitclpy_raise(&pe);
        return -1;
    }
    /* device: an index or a name substring, as the library takes it */
    if (device_obj != Py_None) {
        if (PyLong_Check(device_obj) || PyUnicode_Check(device_obj))
            device_str = PyObject_Str(device_obj);
        else
            PyErr_SetString(PyExc_TypeError, "device must be None, an int or a str");
        if (!device_str)
            return -1;
    }
    if (!PyUnicode_FSConverter(path_obj, &path_bytes)) {
        Py_XDECREF(device_str);
        return -1;
    }
    const char *device = device_str ? PyUnicode_AsUTF8(device_str) : NULL;
    vitclpy_err e;
    int ok = 0;
    vitcl_registry *reg = device_str && !device ? NULL : vitclpy_registry(&e);
    if (reg) {
        const char *dir = PyBytes_AS_STRING(path_bytes);
        vitcl_backend *be = NULL;
        vitcl_model *model = NULL;
        vitcl_preprocessor *pp = NULL;
        vitcl_status st;
        Py_BEGIN_ALLOW_THREADS
        if ((st = vitcl_backend_open(reg, backend, device, &be)) ||
            (st = vitcl_model_load_ex(be, dir, &lo, &model)) ||
            (st = vitcl_preprocessor_load(dir, &pp)))
            vitclpy_err_capture(&e, st, NULL);
        else
            ok = 1;
        Py_END_ALLOW_THREADS
        if (ok) {
            self->be = be;
            self->model = model;
            self->pp = pp;
            vitcl_model_get_config(model, &self->cfg);
            vitcl_preprocessor_get_config(pp, &self->pcfg);
            self->dev = *vitcl_backend_device(be);
            snprintf(self->backend_name, sizeof self->backend_name, "%s",
                     vitcl_backend_name(be));
        } else {
            vitcl_preprocessor_free(pp);
            vitcl_model_free(model);
            vitcl_backend_close(be);
        }
    }
    Py_XDECREF(device_str);
    Py_DECREF(path_bytes);
    if (!ok) {
        if (!PyErr_Occurred())
            vitclpy_raise(&e);
        return -1;
    }
    Py_XSETREF(self->path, PyObject_Str(path_obj));
    return self->path ? 0 : -1;
}

static PyObject *model_close(vitclpy_model *self, PyObject *unused)
{
    close_locked(self);
    Py_RETURN_NONE;
}

static PyObject *model_enter(vitclpy_model *self, PyObject *unused)
{
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *model_exit(vitclpy_model *self, PyObject *args)
{
    close_locked(self);
    Py_RETURN_FALSE;
}

/* pixel_values as a C-contiguous, aligned, native float32 [B, C, H, W] array: the caller's
 * array itself when it already is one, else one copy when only the layout differs. Other
 * dtypes are refused rather than cast (a float64 batch is usually a preprocessing mistake). */
static PyArrayObject *pixels_array(PyObject *obj, size_t channels)
{
    if (!PyArray_Check(obj)) {
        vitclpy_raisef(VITCL_ERR_INVALID_ARGUMENT, "pixel_values must be a numpy.ndarray of "
                       "float32 [batch, %zu, height, width], not %s", channels,
                       Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyArrayObject *in = (PyArrayObject *)obj;
    PyArray_Descr *f32 = PyArray_DescrFromType(NPY_FLOAT32);
    int same = PyArray_EquivTypes(PyArray_DESCR(in), f32);
    if (!same) {
        PyObject *dt = PyObject_Str((PyObject *)PyArray_DESCR(in));
        vitclpy_raisef(VITCL_ERR_INVALID_ARGUMENT, "pixel_values must be float32 (native byte "
                       "order), got %s: convert with .astype(numpy.float32)",
                       dt ? PyUnicode_AsUTF8(dt) : "another dtype");
        Py_XDECREF(dt);
        Py_DECREF(f32);
        return NULL;
    }
    if (PyArray_NDIM(in) != 4 || (size_t)PyArray_DIM(in, 1) != channels ||
        PyArray_SIZE(in) == 0) {
        PyObject *shape = PyObject_GetAttrString(obj, "shape"), *s = shape ? PyObject_Str(shape)
                                                                        : NULL;
        vitclpy_raisef(VITCL_ERR_INVALID_ARGUMENT, "pixel_values must have shape [batch, %zu, "
                       "height, width] with no zero dimension, got %s", channels,
                       s ? PyUnicode_AsUTF8(s) : "another shape");
        Py_XDECREF(s);
        Py_XDECREF(shape);
        Py_DECREF(f32);
        return NULL;
    }
    /* steals f32; returns obj itself (a new reference) when no copy is needed */
    return (PyArrayObject *)PyArray_FromArray(in, f32, NPY_ARRAY_IN_ARRAY);
}

static PyObject *model_run(vitclpy_model *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"pixel_values", "interpolate_pos_encoding", "hidden_states", NULL};
    PyObject *obj;
    int interp = 0, hidden = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pp:run", kwlist, &obj, &interp, &hidden))
        return NULL;
    if (!self->path)
        return vitclpy_raisef(VITCL_ERR_INVALID_ARGUMENT, "this Model was never loaded");
    PyArrayObject *px = pixels_array(obj, self->cfg.num_channels);
    if (!px)
        return NULL;
    vitcl_run_options opt = {.struct_size = sizeof opt, .interpolate_pos_encoding = interp,
                             .output_hidden_states = hidden};
    vitcl_output *out = NULL;
    vitclpy_err e;
    vitcl_status st;
    const float *data = PyArray_DATA(px);
    size_t B = (size_t)PyArray_DIM(px, 0), H = (size_t)PyArray_DIM(px, 2),
           W = (size_t)PyArray_DIM(px, 3);
    /* the one GIL release of run: the lock (close may hold it) and the forward pass */
    Py_BEGIN_ALLOW_THREADS
    pthread_rwlock_rdlock(&self->lock);
    if (!self->model)
        vitclpy_err_set(&e, st = VITCL_ERR_INVALID_ARGUMENT, "this Model is closed");
    else if ((st = vitcl_model_run(self->model, data, B, H, W, &opt, &out)))
        vitclpy_err_capture(&e, st, NULL);
    pthread_rwlock_unlock(&self->lock);
    Py_END_ALLOW_THREADS
    Py_DECREF(px);
    if (st)
        return vitclpy_raise(&e);
    return wrap_output(out, hidden);
}

static int parse_pool(const char *s, vitclpy_pool *out)
{
    if (!strcmp(s, "cls"))
        *out = VITCLPY_POOL_CLS;
    else if (!strcmp(s, "mean"))
        *out = VITCLPY_POOL_MEAN;
    else if (!strcmp(s, "none"))
        *out = VITCLPY_POOL_NONE;
    else
        return -1;
    return 0;
}

/* Reads the Python side's prepared items into inputs; the items (kept alive by the list) own
 * the memory the inputs point at. 0, or -1 with an exception set. */
static int parse_inputs(PyObject *list, vitclpy_input *inputs, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        vitclpy_input *in = &inputs[i];
        int kind;
        PyObject *payload;
        memset(in, 0, sizeof *in);
        in->index = (size_t)i;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
            (kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(item, 0))) < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "_embed items are (kind, payload) tuples");
            return -1;
        }
        payload = PyTuple_GET_ITEM(item, 1);
        in->kind = kind;
        if (kind == VITCLPY_IN_PATH || kind == VITCLPY_IN_ENCODED) {
            if (!PyBytes_Check(payload)) {
                PyErr_SetString(PyExc_TypeError, "_embed path and data payloads are bytes");
                return -1;
            }
            in->path = PyBytes_AS_STRING(payload);
            in->data = PyBytes_AS_STRING(payload);
            in->size = (size_t)PyBytes_GET_SIZE(payload);
        } else if (kind == VITCLPY_IN_PIXELS) {
            if (!PyArray_Check(payload)) {
                PyErr_SetString(PyExc_TypeError, "_embed pixel payloads are arrays");
                return -1;
            }
            PyArrayObject *a = (PyArrayObject *)payload;
            if (PyArray_TYPE(a) != NPY_UINT8 || PyArray_NDIM(a) != 3 || PyArray_DIM(a, 2) != 3 ||
                !PyArray_IS_C_CONTIGUOUS(a) || PyArray_DIM(a, 0) == 0 || PyArray_DIM(a, 1) == 0) {
                vitclpy_raisef(VITCL_ERR_INVALID_ARGUMENT, "images[%zd]: an image array must be "
                               "uint8 [height, width, 3] (RGB) with no zero dimension", i);
                return -1;
            }
            in->data = PyArray_DATA(a);
            in->height = (size_t)PyArray_DIM(a, 0);
            in->width = (size_t)PyArray_DIM(a, 1);
        } else {
            PyErr_SetString(PyExc_ValueError, "_embed: unknown item kind");
            return -1;
        }
    }
    return 0;
}

static PyObject *model_embed_prepared(vitclpy_model *self, PyObject *args)
{
    PyObject *list;
    const char *pool_name;
    Py_ssize_t batch;
    vitclpy_pool pool;
    if (!PyArg_ParseTuple(args, "O!sn:_embed", &PyList_Type, &list, &pool_name, &batch))
        return NULL;
    if (parse_pool(pool_name, &pool))
        return vitclpy_raisef(VITCL_ERR_INVALID_ARGUMENT, "pool must be \"cls\", \"mean\" or "
                              "\"none\", not \"%s\"", pool_name);
    if (batch < 1 || batch > 4096)
        return vitclpy_raisef(VITCL_ERR_INVALID_ARGUMENT, "batch_size must be 1..4096, not %zd",
                              batch);
    Py_ssize_t n = PyList_GET_SIZE(list);
    vitclpy_input *inputs = calloc(n ? (size_t)n : 1, sizeof *inputs);
    if (!inputs)
        return PyErr_NoMemory();
    if (parse_inputs(list, inputs, n)) {
        free(inputs);
        return NULL;
    }
    vitclpy_embeddings emb = {0};
    vitclpy_err e;
    int rc = -1;
    /* the one GIL release of embed: the lock, decoding, preprocessing and the forward passes */
    Py_BEGIN_ALLOW_THREADS
    pthread_rwlock_rdlock(&self->lock);
    if (!self->model) {
        vitclpy_err_set(&e, VITCL_ERR_INVALID_ARGUMENT, "this Model is closed");
    } else {
        vitclpy_model_view mv = {self->model, self->pp, &self->cfg};
        rc = vitclpy_embed_run(&mv, inputs, (size_t)n, pool, (size_t)batch, &emb, &e);
    }
    pthread_rwlock_unlock(&self->lock);
    Py_END_ALLOW_THREADS
    free(inputs);
    if (rc)
        return vitclpy_raise(&e);
    if (!emb.data) { /* no images: [0, D] or [0, 0, D] */
        emb.data = malloc(sizeof(float));
        if (!emb.data)
            return PyErr_NoMemory();
    }
    npy_intp dims[3] = {(npy_intp)emb.rows, (npy_intp)emb.seq, (npy_intp)emb.dim};
    if (pool != VITCLPY_POOL_NONE)
        dims[1] = (npy_intp)emb.dim;
    return vitclpy_array_own(emb.data, pool == VITCLPY_POOL_NONE ? 3 : 2, dims);
}

/* ------------------------------------------------------------------ properties */

/* The copies behind config and info need no lock; they exist once a load succeeded. */
static int check_open(vitclpy_model *self)
{
    if (!self->path) {
        vitclpy_raisef(VITCL_ERR_INVALID_ARGUMENT, "this Model was never loaded");
        return -1;
    }
    return 0;
}

static PyObject *model_config(vitclpy_model *self, void *closure)
{
    if (check_open(self))
        return NULL;
    const vitcl_model_config *c = &self->cfg;
    const vitcl_preprocessor_config pc = self->pcfg;
    PyObject *pre = Py_BuildValue(
        "{s:O,s:n,s:n,s:n,s:i,s:O,s:d,s:O,s:(ddd),s:(ddd)}",
        "do_resize", pc.do_resize ? Py_True : Py_False, "height", (Py_ssize_t)pc.height,
        "width", (Py_ssize_t)pc.width, "shortest_edge", (Py_ssize_t)pc.shortest_edge,
        "resample", (int)pc.resample, "do_rescale", pc.do_rescale ? Py_True : Py_False,
        "rescale_factor", pc.rescale_factor, "do_normalize", pc.do_normalize ? Py_True : Py_False,
        "image_mean", pc.image_mean[0], pc.image_mean[1], pc.image_mean[2],
        "image_std", pc.image_std[0], pc.image_std[1], pc.image_std[2]);
    if (!pre)
        return NULL;
    return Py_BuildValue("{s:s,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:d,s:N}",
                         "model_type", c->model_type, "hidden_size", (Py_ssize_t)c->hidden_size,
                         "num_hidden_layers", (Py_ssize_t)c->num_hidden_layers,
                         "num_attention_heads", (Py_ssize_t)c->num_attention_heads,
                         "intermediate_size", (Py_ssize_t)c->intermediate_size,
                         "patch_size", (Py_ssize_t)c->patch_size,
                         "image_size", (Py_ssize_t)c->image_size,
                         "num_channels", (Py_ssize_t)c->num_channels,
                         "num_labels", (Py_ssize_t)c->num_labels,
                         "layer_norm_eps", (double)c->layer_norm_eps, "preprocessor", pre);
}

static PyObject *model_info(vitclpy_model *self, void *closure)
{
    if (check_open(self))
        return NULL;
    const vitcl_device_info *d = &self->dev;
    PyObject *caps = vitclpy_caps_list(d->caps);
    if (!caps)
        return NULL;
    return Py_BuildValue("{s:s,s:s,s:s,s:N,s:K,s:s,s:s,s:s,s:O}", "backend",
                         self->backend_name, "device", d->name, "device_type",
                         vitclpy_device_type_name(d->type), "capabilities", caps,
                         "parameter_count", (unsigned long long)self->cfg.parameter_count,
                         "weight_format", self->cfg.weight_format,
                         "weight_dtype", self->cfg.weight_dtype, "precision", self->cfg.precision,
                         "path", self->path ? self->path : Py_None);
}

static PyObject *model_closed(vitclpy_model *self, void *closure)
{
    return PyBool_FromLong(!self->be && !self->model);
}

static PyMethodDef model_methods[] = {
    {"run", (PyCFunction)(void (*)(void))model_run, METH_VARARGS | METH_KEYWORDS,
     "run(pixel_values, interpolate_pos_encoding=False, hidden_states=False)\n--\n\n"
     "Runs the encoder on float32 [B, C, H, W] preprocessed pixels."},
    {"_embed", (PyCFunction)model_embed_prepared, METH_VARARGS,
     "_embed(items, pool, batch_size): embed on (kind, payload) items (use Model.embed)."},
    {"close", (PyCFunction)model_close, METH_NOARGS,
     "Frees the model and its backend; waits for running calls. Idempotent."},
    {"__enter__", (PyCFunction)model_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)model_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef model_getset[] = {
    {"config", (getter)model_config, NULL, "the parsed config.json and preprocessor settings",
     NULL},
    {"info", (getter)model_info, NULL, "backend, device and parameter count", NULL},
    {"closed", (getter)model_closed, NULL, "True after close()", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject vitclpy_model_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vitcl._vitcl.Model",
    .tp_basicsize = sizeof(vitclpy_model),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Model(path, backend=None, device=None, precision='fp32'): a loaded ViT encoder.",
    .tp_new = model_new,
    .tp_init = (initproc)model_init,
    .tp_dealloc = (destructor)model_dealloc,
    .tp_methods = model_methods,
    .tp_getset = model_getset,
};
