/* host/weights/pickle.h - a restricted reader for the data.pkl of a torch.save'd state dict.
 *
 * It interprets the pickle opcodes torch.save emits (protocols 2 to 5) on a private stack and
 * accepts only the globals a state dict needs: collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the Float, Half and
 * BFloat16 storage classes inside ('storage', class, key, location, numel) persistent ids.
 * Nothing is ever imported or executed: any other global, any other callable under REDUCE and any
 * unknown opcode is refused by name or value. Memo size, stack depth, mark depth and string
 * lengths are bounded and every read is checked against the end of the buffer.
 * Thread-safe (no shared state).
 */
#ifndef VITCL_HOST_WEIGHTS_PICKLE_H
#define VITCL_HOST_WEIGHTS_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "weights.h"

typedef struct torch_pickle_tensor {
    const char *name;        /* key in the state dict */
    const char *storage_key; /* record name under data/ in the archive */
    vitcl_dtype dtype;       /* from the storage class */
    uint64_t storage_numel;  /* elements the persistent id declares */
    uint64_t offset;         /* storage offset, in elements */
    size_t ndim;
    uint64_t shape[VITCL_WEIGHTS_MAX_DIMS];
    uint64_t numel;          /* product of shape, checked for overflow */
} torch_pickle_tensor;

typedef struct torch_pickle_result {
    torch_pickle_tensor *tensors; /* in the order of the dict */
    size_t count;
    void *owner_;                 /* private: the values the strings point into */
} torch_pickle_result;

/* Reads the pickle in buf[0, len) (which `file` names in messages, e.g.
 * "dir/pytorch_model.bin (archive/data.pkl)"). The top-level object must be a dict of string
 * keys and tensor values; every tensor must be C-contiguous (refused by name otherwise) and hold
 * at most max_tensors entries (VITCL_ERR_LIMIT). Storage bounds are the caller's to check.
 * On success *out owns its strings until torch_pickle_free; on failure *out is empty and nothing
 * leaks. Errors: VITCL_ERR_FORMAT naming the file, the byte offset and the opcode, global or
 * tensor; VITCL_ERR_OUT_OF_MEMORY. */
vitcl_status torch_pickle_read(const uint8_t *buf, size_t len, const char *file,
                               uint64_t max_tensors, torch_pickle_result *out);

/* Frees what torch_pickle_read returned; safe on an empty (zeroed) result. */
void torch_pickle_free(torch_pickle_result *r);

#endif
