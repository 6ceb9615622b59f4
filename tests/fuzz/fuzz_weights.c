/* tests/fuzz/fuzz_weights.c - the checkpoint readers: safetensors files, pytorch_model.bin zips
 * (through the public-to-the-library open path, from an anonymous memory file) and the
 * restricted pickle reader on raw bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_targets.h"
#include "pickle.h"
#include "weights.h"

/* Small limits so a hostile header cannot make the fuzzer itself run out of memory. */
static const vitcl_weights_limits fuzz_limits = {
    .max_header_bytes = 1u << 20, .max_tensors = 4096, .max_total_bytes = 64u << 20};

/* Writes the input to a memfd and opens it as a weights file through /proc/self/fd. */
static vitcl_status open_bytes(const uint8_t *data, size_t size, const char *tag)
{
    int fd = memfd_create(tag, MFD_CLOEXEC);
    if (fd < 0)
        return VITCL_ERR_IO;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            close(fd);
            return VITCL_ERR_IO;
        }
        done += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    vitcl_weights *w = NULL;
    vitcl_status st = vitcl_weights_open_file(path, &fuzz_limits, &w);
    if (st == VITCL_OK) {
        /* Every accepted tensor must be readable in full. */
        size_t n = vitcl_weights_count(w);
        for (size_t i = 0; i < n; i++) {
            const vitcl_tensor_entry *t = vitcl_weights_at(w, i);
            float *dst = malloc(t->numel ? (size_t)t->numel * sizeof *dst : 1);
            if (!dst)
                break;
            vitcl_tensor_to_f32(t, dst);
            free(dst);
            (void)vitcl_weights_find(w, t->name);
        }
        vitcl_weights_close(w);
    }
    close(fd);
    return st;
}

vitcl_status fuzz_safetensors(const uint8_t *data, size_t size)
{
    return open_bytes(data, size, "fuzz.safetensors");
}

vitcl_status fuzz_torch_zip(const uint8_t *data, size_t size)
{
    return open_bytes(data, size, "fuzz_pytorch_model.bin");
}

vitcl_status fuzz_pickle(const uint8_t *data, size_t size)
{
    torch_pickle_result r = {0};
    vitcl_status st = torch_pickle_read(data, size, "fuzz/data.pkl", 4096, &r);
    if (st == VITCL_OK) {
        for (size_t i = 0; i < r.count; i++) {
            volatile size_t sink = strlen(r.tensors[i].name) + strlen(r.tensors[i].storage_key);
            (void)sink;
        }
    }
    torch_pickle_free(&r);
    return st;
}
