/* python/src/vitcl_py.h - what the files of the vitcl._vitcl extension share: the numpy C API
 * import symbol, the process-wide plugin registry, error capture and raising, and the Model
 * type.
 *
 * Threading: every function here that takes a PyObject needs the GIL. vitclpy_err_capture
 * does not (it only copies the library's per-thread message), so code running with the GIL
 * released captures a failure with it and raises after reacquiring the GIL.
 */
#ifndef VITCL_PY_H
#define VITCL_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define PY_ARRAY_UNIQUE_SYMBOL vitclpy_ARRAY_API
#ifndef VITCLPY_IMPORT_ARRAY
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "vitcl/image.h"
#include "vitcl/vitcl.h"

/* A library failure, copied out of vitcl_last_error() on the thread where it happened. */
typedef struct vitclpy_err {
    vitcl_status status;
    char message[2048];
} vitclpy_err;

/* Records status and the current thread's vitcl_last_error() (or prefix + message when prefix
 * is not NULL). Safe without the GIL. Returns status. */
vitcl_status vitclpy_err_capture(vitclpy_err *e, vitcl_status status, const char *prefix);
/* Records a failure of the extension itself (no library message), printf-style. Safe without
 * the GIL. */
void vitclpy_err_set(vitclpy_err *e, vitcl_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Raises the vitcl.Error subclass for e->status with e->message; returns NULL. GIL held. */
PyObject *vitclpy_raise(const vitclpy_err *e);
/* Raises the vitcl.Error subclass for status with a formatted message; returns NULL. */
PyObject *vitclpy_raisef(vitcl_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Loads the status -> exception class table from vitcl.errors (module init). 0 or -1. */
int vitclpy_errors_init(void);

/* The process-wide registry, opened on first use on the package's plugin directory (set by
 * vitclpy_set_plugin_dir) and never closed while the process lives: models keep backends open
 * on it. GIL held (the GIL serialises the first open). NULL with *e set on failure. */
vitcl_registry *vitclpy_registry(vitclpy_err *e);
/* _vitcl._set_plugin_dir(path): where the package's plugins are; before the first registry use. */
PyObject *vitclpy_set_plugin_dir(PyObject *self, PyObject *arg);
/* _vitcl.devices(): the accepted plugins' devices and the refused candidates, as dicts. */
PyObject *vitclpy_devices(PyObject *self, PyObject *unused);
/* A list of the names of the capability bits in caps. */
PyObject *vitclpy_caps_list(uint32_t caps);
/* "cpu", "gpu", "accelerator" or "other". */
const char *vitclpy_device_type_name(vitcl_device_type t);

/* The Model type (model.c). */
typedef struct vitclpy_model vitclpy_model;
extern PyTypeObject vitclpy_model_type;

/* What embed needs of a model: its handles, valid while the caller holds the model's read
 * lock (model.c takes it; embed.c never sees a closed model). */
typedef struct vitclpy_model_view {
    vitcl_model *model;
    const vitcl_preprocessor *pp;
    const vitcl_model_config *cfg;
} vitclpy_model_view;

/* Model._embed(items, pool, batch_size) in embed.c, called by model.c with the read lock held
 * and the GIL released: runs over the prepared inputs and returns 0, or -1 with *e set. */
typedef enum vitclpy_pool { VITCLPY_POOL_CLS, VITCLPY_POOL_MEAN, VITCLPY_POOL_NONE } vitclpy_pool;

/* One image given to embed, as the Python side prepared it. */
typedef struct vitclpy_input {
    int kind;              /* VITCLPY_IN_PATH, VITCLPY_IN_ENCODED, VITCLPY_IN_PIXELS */
    const char *path;      /* PATH: file system path */
    const void *data;      /* ENCODED: PNG/JPEG bytes; PIXELS: uint8 [h, w, 3] */
    size_t size;           /* ENCODED: byte count */
    size_t width, height;  /* PIXELS */
    size_t index;          /* position in the caller's list, for messages */
} vitclpy_input;
enum { VITCLPY_IN_PATH = 0, VITCLPY_IN_ENCODED = 1, VITCLPY_IN_PIXELS = 2 };

/* The embeddings: rows * row_floats floats (malloc'ed, the caller frees), shaped [rows, dim]
 * or, for POOL_NONE, [rows, seq, dim]. */
typedef struct vitclpy_embeddings {
    float *data;
    size_t rows, seq, dim;
} vitclpy_embeddings;

int vitclpy_embed_run(const vitclpy_model_view *mv, const vitclpy_input *inputs, size_t count,
                      vitclpy_pool pool, size_t batch_size, vitclpy_embeddings *out,
                      vitclpy_err *e);

/* Wraps malloc'ed data (taken over: freed when the array dies) in a float32 array of
 * nd dims; frees data and returns NULL on failure. */
PyObject *vitclpy_array_own(float *data, int nd, const npy_intp *dims);

#endif
