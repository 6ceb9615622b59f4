/* tests/fuzz/fuzz_text.c - the JSON parsers: config.json, preprocessor_config.json and .npy
 * headers (all text-led formats held in memory). */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_targets.h"
#include "npy.h"
#include "preprocess_internal.h"
#include "vitcl/image.h"

vitcl_status fuzz_npy(const uint8_t *data, size_t size)
{
    vitcl_npy npy;
    memset(&npy, 0, sizeof npy);
    vitcl_status st = vitcl_npy_parse_f32(data, size, "fuzz.npy", 1u << 20, &npy);
    if (st == VITCL_OK) {
        /* Touch every element the header promised: the data must really be there. */
        volatile float sink = 0;
        for (size_t i = 0; i < npy.numel; i++)
            sink += npy.data[i];
        (void)sink;
    }
    vitcl_npy_free(&npy);
    return st;
}

vitcl_status fuzz_config(const uint8_t *data, size_t size)
{
    vitcl_vit_config cfg;
    return vitcl_config_parse((const char *)data, size, "fuzz/config.json", &cfg);
}

vitcl_status fuzz_preprocessor_config(const uint8_t *data, size_t size)
{
    vitcl_preprocessor_config c;
    vitcl_preprocessor_default_config(&c);
    vitcl_status st = vitcl_preprocessor_parse_config((const char *)data, size,
                                                      "fuzz/preprocessor_config.json", &c);
    if (st != VITCL_OK)
        return st;
    vitcl_preprocessor *pp = NULL;
    st = vitcl_preprocessor_create(&c, &pp);
    if (st != VITCL_OK)
        return st;
    size_t h = 0, w = 0;
    st = vitcl_preprocessor_output_size(pp, 640, 480, &h, &w);
    vitcl_preprocessor_free(pp);
    return st;
}
