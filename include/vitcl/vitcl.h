/* vitcl/vitcl.h - the user API: find backends, open a device, load a ViT checkpoint, run it.
 *
 * Typical use:
 *     vitcl_registry *reg;  vitcl_backend *be;  vitcl_model *m;  vitcl_output *out;
 *     vitcl_registry_open(NULL, &reg);                 // finds and checks plugins
 *     vitcl_backend_open(reg, NULL, NULL, &be);        // VITCL_BACKEND / VITCL_DEVICE or "auto"
 *     vitcl_model_load(be, "vit-msn-small/", &m);      // config.json + weights, uploaded once
 *     vitcl_model_run(m, pixels, 1, 224, 224, NULL, &out);
 *     const float *h = vitcl_output_last_hidden_state(out, &b, &s, &d);
 *     vitcl_output_free(out); vitcl_model_free(m); vitcl_backend_close(be);
 *     vitcl_registry_close(reg);
 *
 * Errors: every function that can fail returns a vitcl_status; on failure
 * vitcl_last_error() returns a message naming the file, tensor, plugin or device concerned.
 * No function exits, aborts or prints.
 *
 * Lifetimes: objects are freed in the reverse order of creation: outputs before their model,
 * models before their backend, backends before their registry. Free functions accept NULL.
 *
 * Thread-safety: the error message is per thread. A registry may be shared by threads once
 * opened (read-only), but vitcl_backend_open on one registry must not race with
 * vitcl_registry_close. A backend and the models on it may be used from several threads: calls
 * that reach the device are serialised per backend by an internal lock, so concurrent
 * vitcl_model_run calls on one model are safe and give the same results as serial calls (they
 * do not run in parallel). For parallel work, open one backend per thread. Outputs are plain
 * host memory, independent of the model once returned.
 */
#ifndef VITCL_VITCL_H
#define VITCL_VITCL_H

#include <stddef.h>
#include <stdint.h>

#include "vitcl/device.h" /* device info and timings; the plugin ABI is vitcl/backend.h */
#include "vitcl/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VITCL_VERSION_STRING "0.1.0"

/* The message of the last failed vitcl call on this thread ("" when none). The string is owned
 * by the library and valid until the next vitcl call on this thread. */
VITCL_API const char *vitcl_last_error(void);

/* ---------------------------------------------------------------- plugins and devices */

typedef struct vitcl_registry vitcl_registry;

/* Searches for plugins and loads every acceptable one. Search order (first found name wins):
 *  1. explicit_path, when not NULL: a plugin file or a directory of plugins;
 *  2. each entry of VITCL_PLUGIN_PATH (colon-separated files or directories);
 *  3. the build tree's plugin directories (so everything runs uninstalled);
 *  4. the installed plugin directory, <libdir>/vitcl/plugins.
 * Plugins that fail to load are recorded with a reason, not fatal: the registry opens even
 * when it holds no usable plugin (vitcl_backend_open then reports every refusal). Fails only on
 * out of memory. *out is owned by the caller: vitcl_registry_close. */
VITCL_API vitcl_status vitcl_registry_open(const char *explicit_path, vitcl_registry **out);

/* Shuts every plugin down and unloads it. Backends opened on reg must be closed first. */
VITCL_API void vitcl_registry_close(vitcl_registry *reg);

typedef struct vitcl_plugin_info {
    const char *name;        /* backend name, e.g. "opencl" */
    const char *version;
    const char *description;
    const char *path;        /* the file it was loaded from */
    uint32_t abi_major, abi_minor;
    int device_count;
    int32_t auto_rank;
} vitcl_plugin_info;

/* Accepted plugins, in search order. Strings are owned by the registry. */
VITCL_API size_t vitcl_registry_plugin_count(const vitcl_registry *reg);
VITCL_API vitcl_status vitcl_registry_plugin(const vitcl_registry *reg, size_t index, vitcl_plugin_info *out);
/* Fills info (struct_size is set by this function) for device `device` of plugin `plugin`. */
VITCL_API vitcl_status vitcl_registry_device(const vitcl_registry *reg, size_t plugin, int device,
                                   vitcl_device_info *info);

/* Refused candidates: the file and why it was refused ("no symbol vitcl_plugin_entry",
 * "plugin ABI 2.0, host speaks 1.x", "required op 'linear' is NULL", "init failed (...): ..."). */
VITCL_API size_t vitcl_registry_refused_count(const vitcl_registry *reg);
VITCL_API vitcl_status vitcl_registry_refused(const vitcl_registry *reg, size_t index, const char **path,
                                    const char **reason);
/* Every file or directory looked at, in order, with what was found there. */
VITCL_API size_t vitcl_registry_searched_count(const vitcl_registry *reg);
VITCL_API const char *vitcl_registry_searched(const vitcl_registry *reg, size_t index);

/* ---------------------------------------------------------------- backends */

typedef struct vitcl_backend vitcl_backend;

/* Opens a context on one device.
 * backend: a plugin name, "auto" or NULL (NULL reads VITCL_BACKEND, then means "auto").
 * device:  a device index within the plugin, a case-insensitive substring of the device name,
 *          or NULL (NULL reads VITCL_DEVICE, then means the plugin's best device).
 * "auto" picks the best device over all plugins: GPUs first, then accelerators, then CPU
 * devices by the plugin's auto_rank (OpenCL CPU, then the cpu plugin, then ref).
 * When nothing fits, the error lists every path searched and every refusal. */
VITCL_API vitcl_status vitcl_backend_open(vitcl_registry *reg, const char *backend, const char *device,
                                vitcl_backend **out);
VITCL_API void vitcl_backend_close(vitcl_backend *be);

/* The chosen plugin's name and the device's info; owned by the backend. */
VITCL_API const char *vitcl_backend_name(const vitcl_backend *be);
VITCL_API const vitcl_device_info *vitcl_backend_device(const vitcl_backend *be);
/* Copies into out (len bytes, NUL-terminated, truncated to fit) the device's `extra` notes as
 * the plugin reports them now. Unlike vitcl_backend_device's copy, taken at open, these may
 * have changed since: a plugin that decides by measurement at first use says there what it
 * chose (the cpu plugin's GEMM races). Thread-safe like every call on be. Errors:
 * VITCL_ERR_INVALID_ARGUMENT (NULL be or out, len 0), or the plugin's device_info status. */
VITCL_API vitcl_status vitcl_backend_device_notes(vitcl_backend *be, char *out, size_t len);

/* Turns per-op timing on or off for the backend's later ops (OpenCL event profiling on OpenCL
 * devices, the wall clock elsewhere). VITCL_ERR_UNSUPPORTED when the plugin has no profiling. */
VITCL_API vitcl_status vitcl_backend_profiling(vitcl_backend *be, int enable);
/* Waits for queued work, then moves up to max timings recorded since the last call into out and
 * returns how many (0 when profiling is off or unsupported). */
VITCL_API size_t vitcl_backend_profile_drain(vitcl_backend *be, vitcl_op_timing *out, size_t max);

/* ---------------------------------------------------------------- models */

typedef struct vitcl_model vitcl_model;

/* Loads a model folder as the Hub serves it: config.json plus model.safetensors,
 * model.safetensors.index.json (sharded) or pytorch_model.bin. Validates the config and every
 * tensor's name and shape, then uploads the weights to the backend once and runs one encoder
 * layer at the native size, so that backends which compile kernels per shape on first use
 * (CLBlast) do so at load with the model's real shapes. Errors name the file and the tensor.
 * A config whose native size has more tokens than the token limit (16384, or VITCL_MAX_TOKENS;
 * docs/security.md) is refused with VITCL_ERR_LIMIT before the weights are read; so is a run
 * of vitcl_model_run whose input has more.
 * The model keeps a reference to be (close the model first). */
VITCL_API vitcl_status vitcl_model_load(vitcl_backend *be, const char *model_dir, vitcl_model **out);

/* The name of a vitcl_precision (device.h): "fp32", "bf16" or "fp16"; NULL for any other
 * value. A static string. Thread-safe; never sets the error message. */
VITCL_API const char *vitcl_precision_name(int precision);

/* Parses a precision name as vitcl_precision_name writes it (exact, lower case) into *out.
 * VITCL_ERR_INVALID_ARGUMENT for NULL arguments or an unknown name, with a message that quotes
 * the name and lists the valid ones ("fp32, bf16, fp16"); *out is left alone on failure.
 * Thread-safe. */
VITCL_API vitcl_status vitcl_precision_parse(const char *name, int *out);

/* Options of vitcl_model_load_ex. Zero-initialise, set struct_size, then the fields you want:
 * a field the struct_size does not cover takes its default. */
typedef struct vitcl_load_options {
    uint32_t struct_size; /* sizeof(vitcl_load_options) */
    int precision;        /* a vitcl_precision for the linear layers' weights; default (0) fp32.
                             Every other op stays fp32 (device.h, vitcl_precision). */
} vitcl_load_options;

/* vitcl_model_load with options; opts may be NULL (every default; vitcl_model_load is this
 * with NULL). Errors besides vitcl_model_load's:
 *  - VITCL_ERR_INVALID_ARGUMENT: struct_size smaller than its own field, or a precision that is
 *    not a vitcl_precision;
 *  - VITCL_ERR_UNSUPPORTED: a bf16 or fp16 load on a device that does not offer it
 *    (vitcl_device_info.precisions), on a plugin of ABI 1.0 or one without pack_weight_host, or
 *    on a plugin that declines to pack one of the model's linear weights in that precision. The
 *    message names the precision, the plugin and its ABI version, the device and the precisions
 *    the device offers, e.g. "bf16: plugin 'skeleton' (ABI 1.0) on device 'X' runs fp32 only".
 * In bf16 and fp16, each linear weight (fused query/key/value, attention output, MLP,
 * classifier) goes to the plugin in the checkpoint's stored dtype straight from the mapped file
 * and is stored by the plugin in that precision, so the host never holds a widened copy.
 * vitcl_model_config.precision says what the model runs in. opts is only read during the call.
 * Thread-safety and ownership as vitcl_model_load. */
VITCL_API vitcl_status vitcl_model_load_ex(vitcl_backend *be, const char *model_dir,
                                           const vitcl_load_options *opts, vitcl_model **out);
VITCL_API void vitcl_model_free(vitcl_model *model);

typedef struct vitcl_model_config {
    char model_type[32];        /* "vit_msn" or "vit" */
    size_t hidden_size;         /* D */
    size_t num_hidden_layers;   /* L */
    size_t num_attention_heads; /* Hh */
    size_t intermediate_size;   /* I */
    size_t patch_size;          /* P */
    size_t image_size;          /* pretraining resolution (square) */
    size_t num_channels;
    size_t num_labels;          /* 0 when the checkpoint has no classifier weights */
    float layer_norm_eps;
    uint64_t parameter_count;   /* number of floats in the checkpoint's tensors */
    char weight_format[32];     /* "safetensors", "safetensors (sharded)" or "pytorch_model.bin" */
    char weight_dtype[8];       /* "F32", "F16", "BF16" or "mixed" */
    char precision[8];          /* the linear weights' precision on the device
                                   (vitcl_precision_name): "fp32", "bf16" or "fp16";
                                   vitcl_model_inspect says "fp32", the default */
} vitcl_model_config;

VITCL_API vitcl_status vitcl_model_get_config(const vitcl_model *model, vitcl_model_config *out);

/* Validates a model folder as vitcl_model_load does (config.json with its limits, every
 * tensor's name and shape against it) and fills *out, without a backend: nothing is allocated
 * on a device, uploaded or run, so it takes the time of reading the headers whatever the
 * model's size. The device-memory check of vitcl_model_load is not made. Errors as
 * vitcl_model_load's, naming the file and tensor. Thread-safe. */
VITCL_API vitcl_status vitcl_model_inspect(const char *model_dir, vitcl_model_config *out);

/* What a run returns per image besides the optional hidden states and logits. */
typedef enum vitcl_pooling {
    VITCL_POOLING_NONE = 0, /* last_hidden_state [batch, seq, dim] */
    VITCL_POOLING_CLS = 1,  /* only row 0 (CLS) of each image's last_hidden_state: [batch, dim] */
    VITCL_POOLING_MEAN = 2  /* only the mean over all seq rows (CLS included): [batch, dim] */
} vitcl_pooling;

typedef struct vitcl_run_options {
    uint32_t struct_size;         /* sizeof(vitcl_run_options) */
    int interpolate_pos_encoding; /* required for inputs whose size is not image_size */
    int output_hidden_states;     /* also return the L+1 hidden states (before the final LN) */
    int pooling;                  /* a vitcl_pooling; CLS and MEAN are computed on the device and
                                     only [batch, dim] is read back (last_hidden_state is then
                                     NULL). Absent or 0: VITCL_POOLING_NONE. */
} vitcl_run_options;

typedef struct vitcl_output vitcl_output;

/* Runs the encoder on pixels [batch, num_channels, height, width] (fp32, preprocessed).
 * options may be NULL (defaults: no interpolation, no hidden states). An input whose size is not
 * image_size x image_size needs interpolate_pos_encoding, else VITCL_ERR_INVALID_ARGUMENT with a
 * message that says so. *out is owned by the caller: vitcl_output_free. */
VITCL_API vitcl_status vitcl_model_run(vitcl_model *model, const float *pixels, size_t batch, size_t height,
                             size_t width, const vitcl_run_options *options, vitcl_output **out);

/* last_hidden_state [batch, seq, dim] (after the final LayerNorm); shape through the pointers
 * (any may be NULL). Owned by out. NULL when the run pooled (options->pooling CLS or MEAN). */
VITCL_API const float *vitcl_output_last_hidden_state(const vitcl_output *out, size_t *batch, size_t *seq,
                                            size_t *dim);
/* Number of hidden states: L+1 when requested, else 0. */
VITCL_API size_t vitcl_output_num_hidden_states(const vitcl_output *out);
/* Hidden state i in [0, L]: 0 is the embedding output, i the output of layer i, all before the
 * final LayerNorm, each [batch, seq, dim]. NULL when not requested or out of range. */
VITCL_API const float *vitcl_output_hidden_state(const vitcl_output *out, size_t i);
/* The pooled rows [batch, dim] of a run with options->pooling CLS or MEAN (the same values as
 * row 0, or the mean of the rows, of last_hidden_state); NULL for VITCL_POOLING_NONE. Shape
 * through the pointers (either may be NULL). Owned by out. */
VITCL_API const float *vitcl_output_pooled(const vitcl_output *out, size_t *batch, size_t *dim);
/* Classifier logits [batch, num_labels], or NULL when the checkpoint has no classifier. */
VITCL_API const float *vitcl_output_logits(const vitcl_output *out, size_t *num_labels);
VITCL_API void vitcl_output_free(vitcl_output *out);

#ifdef __cplusplus
}
#endif
#endif
