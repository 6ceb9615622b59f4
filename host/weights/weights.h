/* host/weights/weights.h - a checkpoint's tensors, read from whichever format the folder holds.
 *
 * vitcl_weights_open looks in a model folder for, in order (transformers' preference):
 * model.safetensors, model.safetensors.index.json (sharded), pytorch_model.bin and
 * pytorch_model.bin.index.json (sharded pytorch_model-0000K-of-0000N.bin), and indexes every
 * tensor without converting it. Every file is memory-mapped and a tensor's data points into the
 * mapping: for a pytorch_model.bin, at its storage record's data inside the zip, which must be
 * stored (not compressed), unencrypted and aligned to the element size, as torch.save writes it
 * (a record that is not is refused, VITCL_ERR_UNSUPPORTED naming it; storage bytes are not
 * CRC-checked, like safetensors data). The data stays valid until vitcl_weights_close. Every structural check happens at open: a truncated, hostile or
 * inconsistent file gives VITCL_ERR_FORMAT (or VITCL_ERR_LIMIT) with a message that names the
 * file and, where there is one, the tensor. Nothing is ever executed: pickle is read by a
 * restricted reader that accepts only the globals a state dict needs.
 *
 * Not thread-safe for concurrent open/close of the same object; read-only use after open is.
 */
#ifndef VITCL_HOST_WEIGHTS_H
#define VITCL_HOST_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "vitcl/backend.h" /* vitcl_dtype, shared with the plugin ABI */
#include "vitcl/status.h"

#define VITCL_WEIGHTS_MAX_DIMS 8

typedef struct vitcl_tensor_entry {
    const char *name;        /* key as stored in the file, e.g. "vit.encoder.layer.0.output.dense.bias" */
    vitcl_dtype dtype;
    size_t ndim;
    uint64_t shape[VITCL_WEIGHTS_MAX_DIMS];
    uint64_t numel;          /* product of shape (1 for a 0-d tensor) */
    const void *data;        /* little-endian, C-contiguous, numel elements of dtype; may be unaligned */
    const char *file;        /* path of the file the tensor lives in (for messages) */
} vitcl_tensor_entry;

typedef struct vitcl_weights vitcl_weights;

/* Limits a hostile file cannot push past; zero fields mean the defaults below. */
typedef struct vitcl_weights_limits {
    uint64_t max_header_bytes;  /* safetensors JSON header, index JSON and data.pkl; default
                                   100,000,000 (the safetensors reference's header limit) */
    uint64_t max_tensors;       /* default 100,000 */
    uint64_t max_total_bytes;   /* sum of tensor sizes; default 64 GiB */
} vitcl_weights_limits;

/* Opens the weights of a model folder (see above). limits may be NULL. On success *out is the
 * caller's (vitcl_weights_close); on failure *out is NULL and nothing leaks. Errors:
 * VITCL_ERR_NOT_FOUND (no folder, or none of the four files, all named in the message),
 * VITCL_ERR_FORMAT, VITCL_ERR_UNSUPPORTED (a dtype other than F32/F16/BF16, a non-contiguous
 * or big-endian torch tensor, a compressed, encrypted or misaligned storage record),
 * VITCL_ERR_LIMIT, VITCL_ERR_IO, VITCL_ERR_OUT_OF_MEMORY. */
vitcl_status vitcl_weights_open(const char *model_dir, const vitcl_weights_limits *limits,
                                vitcl_weights **out);

/* Opens one file, told apart by content: a PyTorch zip (pytorch_model.bin) or else a
 * .safetensors file. Ownership and errors as vitcl_weights_open. */
vitcl_status vitcl_weights_open_file(const char *path, const vitcl_weights_limits *limits,
                                     vitcl_weights **out);

/* Unmaps and frees everything; entries and their data become invalid. NULL is a no-op. */
void vitcl_weights_close(vitcl_weights *w);

/* "safetensors", "safetensors (sharded)", "pytorch_model.bin" or
 * "pytorch_model.bin (sharded)". */
const char *vitcl_weights_format(const vitcl_weights *w);

/* Number of tensors; entry `index` in file order (NULL past the end). Entries are owned by w. */
size_t vitcl_weights_count(const vitcl_weights *w);
const vitcl_tensor_entry *vitcl_weights_at(const vitcl_weights *w, size_t index);
/* Exact-name lookup (binary search); NULL when absent. */
const vitcl_tensor_entry *vitcl_weights_find(const vitcl_weights *w, const char *name);

/* Tells the OS that t's host memory will not be read again soon: the pages of a file mapping
 * that lie wholly inside the tensor are dropped from memory (they are read from the file again
 * if touched). Memory that is not a file mapping is left alone. The tensor
 * stays valid. Used after a tensor was copied to the backend, to keep resident memory near one
 * copy of the weights while other tensors of the same mapping stay aliased. */
void vitcl_weights_drop_pages(const vitcl_weights *w, const vitcl_tensor_entry *t);

/* Bytes per element of a dtype (4 or 2), and its name ("F32", "F16" or "BF16"; "?" for a
 * value outside vitcl_dtype). Thread-safe. */
size_t weights_dtype_size(vitcl_dtype dtype);
const char *weights_dtype_name(vitcl_dtype dtype);

/* Converts a tensor's numel elements to fp32 into dst (F32 copied, F16 and BF16 widened exactly,
 * subnormals, infinities and NaN payloads included), reading little-endian bytes at any
 * alignment. dst holds numel floats. Cannot fail. */
void vitcl_tensor_to_f32(const vitcl_tensor_entry *t, float *dst);

#endif
