/* tests/fuzz/fuzz_main.c - the libFuzzer entry point; FUZZ_TARGET names the target function
 * of fuzz_targets.h this binary drives (set by tests/fuzz/meson.build). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_targets.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name a function of fuzz_targets.h"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)FUZZ_TARGET(data, size);
    return 0;
}
