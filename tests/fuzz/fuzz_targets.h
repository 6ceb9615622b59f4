/* tests/fuzz/fuzz_targets.h - one entry point per parser under fuzzing.
 *
 * Each target feeds size bytes at data (untrusted, any content) through one parser the way the
 * library meets such input, frees whatever it made and returns the parser's status. A target
 * never asserts on the status: any status is acceptable, only crashes, leaks and undefined
 * behaviour are bugs. The same functions serve the libFuzzer binaries (fuzz_main.c, built with
 * -Dfuzz=true) and the Criterion regression suite (test_fuzz_regressions.c), which replays the
 * seed corpora and every input a fuzzer once crashed on. Targets keep no state between calls
 * and are safe to call repeatedly from one thread.
 */
#ifndef VITCL_TESTS_FUZZ_TARGETS_H
#define VITCL_TESTS_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "vitcl/status.h"

/* .npy bytes through vitcl_npy_parse_f32 (host/common/npy.h), 1 MiB data limit. */
vitcl_status fuzz_npy(const uint8_t *data, size_t size);
/* config.json text through vitcl_config_parse (host/model/config.h). */
vitcl_status fuzz_config(const uint8_t *data, size_t size);
/* preprocessor_config.json text through the image helper's parser and its validation, then a
 * preprocessor built from the result (vitcl_preprocessor_create) and asked for an output size. */
vitcl_status fuzz_preprocessor_config(const uint8_t *data, size_t size);
/* PNG or JPEG bytes through vitcl_image_load_memory (256 Kpixel limit, to keep each run fast),
 * then the default ViT preprocessing (resize to 32x32, rescale, normalise) of whatever decoded. */
vitcl_status fuzz_image(const uint8_t *data, size_t size);
/* A .safetensors file (written to a memfd) through vitcl_weights_open_file, then every tensor
 * converted to fp32; small limits keep the fuzzer's memory bounded. */
vitcl_status fuzz_safetensors(const uint8_t *data, size_t size);
/* Raw bytes through the restricted pickle reader torch_pickle_read (host/weights/pickle.h). */
vitcl_status fuzz_pickle(const uint8_t *data, size_t size);
/* A pytorch_model.bin zip (written to a memfd) through vitcl_weights_open_file, then every
 * tensor converted to fp32. */
vitcl_status fuzz_torch_zip(const uint8_t *data, size_t size);

#endif
