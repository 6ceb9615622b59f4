/* tests/hardening/hardening_util.h - what the hardening tests share: fixture paths, a ref
 * backend opened through the build tree's plugins, deterministic inputs and owned copies of a
 * run's outputs for memcmp. The helpers do not use Criterion (the ThreadSanitizer driver cannot,
 * tsan_threads.c): a setup failure prints why and aborts, which fails the calling test. */
#ifndef VITCL_HARDENING_UTIL_H
#define VITCL_HARDENING_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "vitcl/vitcl.h"

#define HARDEN_FIXTURES VITCL_SOURCE_ROOT "/tests/fixtures/models"

/* When ok is 0, prints the formatted reason on stderr and aborts (test code only). */
void harden_require(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* HARDEN_FIXTURES "/" name, in a per-thread buffer overwritten by the thread's next call. */
const char *harden_model_dir(const char *name);

/* Deterministic pixels [batch, 3, h, w] in [-1, 1]; the caller frees them. */
float *harden_pixels(size_t batch, size_t h, size_t w, uint32_t seed);

/* An output's tensors, copied out so they outlive the model. */
typedef struct harden_result {
    size_t batch, seq, dim, num_labels, num_hidden;
    float *last;   /* [batch, seq, dim] */
    float *hidden; /* [num_hidden, batch, seq, dim] or NULL */
    float *logits; /* [batch, num_labels] or NULL */
} harden_result;

/* Copies out's tensors into r (owned by r: harden_result_free). */
void harden_result_take(const vitcl_output *out, harden_result *r);
void harden_result_free(harden_result *r);
/* 1 when a and b have the same shapes and bit-identical values. */
int harden_result_equal(const harden_result *a, const harden_result *b);

/* Opens the registry of the build tree and a backend of the named plugin ("ref"); asserts. */
void harden_open(const char *plugin, vitcl_registry **reg, vitcl_backend **be);

/* Runs m on pixels at h x w (with interpolate_pos_encoding and hidden states) into *r;
 * returns the run's status (r is filled only on success). */
vitcl_status harden_run(vitcl_model *m, const float *pixels, size_t batch, size_t h, size_t w,
                        harden_result *r);

/* Makes a fresh temporary folder (/tmp/vitcl-<tag>-XXXXXX) into dir (at least 64 bytes). */
void harden_mkdtemp(const char *tag, char *dir, size_t len);
/* Removes the folder and everything in it. */
void harden_rmtree(const char *dir);
/* Writes len bytes to dir/name (replacing it); returns the path in a per-thread buffer. */
const char *harden_write(const char *dir, const char *name, const void *data, size_t len);
/* Links every file of fixture model `name` into dir (symlinks), so a test can replace one. */
void harden_link_model(const char *name, const char *dir);
/* Replaces dir/name with a FIFO (nobody writes to it). */
void harden_mkfifo(const char *dir, const char *name);

/* Runs the built `vitcl` program with argv (argv[0] is the subcommand, NULL-terminated),
 * stdin from /dev/null. Its stderr goes to err (NUL-terminated, truncated to len). A run longer
 * than limit_s seconds is killed (a hang guard: a blocked open() would never return) and
 * reported as -2; otherwise returns the exit status, or -1 when killed by a signal. */
int harden_cli(const char *const *argv, unsigned limit_s, char *err, size_t len);

/* A synthetic ViT checkpoint: dir/config.json (model_type vit_msn, the sizes below, plus
 * extra_json spliced into the object when not NULL, e.g. "\"qkv_bias\": true") and
 * dir/model.safetensors with every tensor the config needs, F32, filled with small
 * deterministic values. For shapes no fixture has (num_channels 1, a million tokens). */
typedef struct harden_vit {
    size_t hidden, heads, layers, inter, patch, image, channels;
} harden_vit;
void harden_write_model(const char *dir, const harden_vit *v, const char *extra_json);

#endif
