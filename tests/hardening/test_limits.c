/* tests/hardening/test_limits.c - the limits a hostile file or caller cannot push past: header
 * size, tensor count, dimensions whose product overflows, total tensor bytes, pixel count,
 * .npy sizes, config sizes, and the memory a model load or a run asks of the backend, which is
 * refused before anything is allocated. Hostile files are written to a temporary folder. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fault_inject.h"
#include "hardening_util.h"
#include "leak_check.h"
#include "npy.h"
#include "vitcl/image.h"
#include "weights.h"

#define CORPUS VITCL_SOURCE_ROOT "/tests/fuzz/corpus"

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vitcl-limits-XXXXXX");
    cr_assert(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

static void finish(void)
{
    remove_tmpdir();
    leak_check_expect_none();
}

TestSuite(limits, .init = make_tmpdir, .fini = finish);

static const char *write_tmp(const char *name, const void *data, size_t len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* A safetensors file: 8-byte little-endian header length, the JSON header, then data bytes. */
static const char *write_safetensors(const char *name, uint64_t declared_len, const char *json,
                                     size_t data_bytes)
{
    size_t jl = strlen(json), total = 8 + jl + data_bytes;
    uint8_t *buf = calloc(1, total);
    cr_assert(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(declared_len >> (8 * i));
    memcpy(buf + 8, json, jl);
    const char *p = write_tmp(name, buf, total);
    free(buf);
    return p;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    cr_assert(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void expect_weights(const char *path, const vitcl_weights_limits *lim, vitcl_status want,
                           const char *needle)
{
    vitcl_weights *w = (vitcl_weights *)&w;
    vitcl_status st = vitcl_weights_open_file(path, lim, &w);
    cr_expect_eq(st, want, "%s: %s (%s), wanted %s", path, vitcl_status_name(st),
                 vitcl_last_error(), vitcl_status_name(want));
    if (st == VITCL_OK) {
        vitcl_weights_close(w);
        return;
    }
    cr_expect_null(w, "%s: *out must be NULL on failure", path);
    cr_expect(strstr(vitcl_last_error(), path), "the message does not name the file: %s",
              vitcl_last_error());
    if (needle)
        cr_expect(strstr(vitcl_last_error(), needle), "the message does not say '%s': %s", needle,
                  vitcl_last_error());
}

Test(limits, safetensors_header_length_over_the_limit)
{
    const char *json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    /* Declared above the 100 MB default: refused from the 8 length bytes alone. */
    expect_weights(write_safetensors("big.safetensors", 100000001ull, json, 4), NULL,
                   VITCL_ERR_LIMIT, NULL);
    /* A caller's smaller limit applies too. */
    const char *ok = write_safetensors("ok.safetensors", strlen(json), json, 4);
    vitcl_weights_limits lim = {.max_header_bytes = strlen(json) - 1};
    expect_weights(ok, &lim, VITCL_ERR_LIMIT, NULL);
    lim.max_header_bytes = strlen(json);
    vitcl_weights *w = NULL;
    cr_expect_eq(vitcl_weights_open_file(ok, &lim, &w), VITCL_OK, "%s", vitcl_last_error());
    vitcl_weights_close(w);
    /* Declared length past the end of the file. */
    expect_weights(write_safetensors("short.safetensors", 4096, json, 4), NULL, VITCL_ERR_FORMAT,
                   NULL);
}

Test(limits, tensor_count_and_total_bytes)
{
    /* The seed holds 3 tensors of 4, 12 and 4 floats (80 bytes). */
    const char *st_seed = CORPUS "/safetensors/f32.safetensors";
    const char *zip_seed = CORPUS "/torch_zip/f32.bin";
    vitcl_weights_limits lim = {.max_tensors = 2};
    expect_weights(st_seed, &lim, VITCL_ERR_LIMIT, "limit");
    expect_weights(zip_seed, &lim, VITCL_ERR_LIMIT, "limit");
    lim = (vitcl_weights_limits){.max_total_bytes = 79};
    expect_weights(st_seed, &lim, VITCL_ERR_LIMIT, NULL);
    expect_weights(zip_seed, &lim, VITCL_ERR_LIMIT, NULL);
    lim = (vitcl_weights_limits){.max_tensors = 3, .max_total_bytes = 80};
    expect_weights(st_seed, &lim, VITCL_OK, NULL);
    expect_weights(zip_seed, &lim, VITCL_OK, NULL);
}

Test(limits, dimensions_whose_product_overflows)
{
    static const char *const shapes[] = {
        "[4294967296,4294967296,16]",         /* 2^68 elements */
        "[4611686018427387904,4]",            /* 2^64 elements: wraps to 0 */
        "[2305843009213693952,2]",            /* 2^62 elements: bytes overflow */
        "[18446744073709551615]",             /* UINT64_MAX */
        "[18446744073709551616]",             /* past uint64 */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char json[256], name[32];
        snprintf(json, sizeof json,
                 "{\"t\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[0,4]}}", shapes[i]);
        snprintf(name, sizeof name, "ovf%zu.safetensors", i);
        const char *p = write_safetensors(name, strlen(json), json, 4);
        vitcl_weights *w = NULL;
        vitcl_status st = vitcl_weights_open_file(p, NULL, &w);
        cr_expect(st == VITCL_ERR_FORMAT || st == VITCL_ERR_LIMIT, "shape %s gave %s: %s",
                  shapes[i], vitcl_status_name(st), vitcl_last_error());
        cr_expect_null(w);
        vitcl_weights_close(w);
    }
}

/* The CRC-32 of PNG chunks, so a forged IHDR still passes its checksum and reaches the size
 * check. */
static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

Test(limits, image_pixel_count)
{
    size_t len;
    uint8_t *png = slurp(CORPUS "/image/rgb.png", &len); /* 5 x 6 pixels */
    vitcl_image *img = NULL;
    vitcl_image_limits lim = {.struct_size = sizeof lim, .max_pixels = 29};
    cr_expect_eq(vitcl_image_load_memory(png, len, "rgb.png", &lim, &img), VITCL_ERR_LIMIT, "%s",
                 vitcl_last_error());
    cr_expect_null(img);
    lim.max_pixels = 30;
    cr_expect_eq(vitcl_image_load_memory(png, len, "rgb.png", &lim, &img), VITCL_OK, "%s",
                 vitcl_last_error());
    vitcl_image_free(img);
    img = NULL;
    /* A forged IHDR of 100000 x 100000 (10^10 pixels, over the default) is refused before any
     * pixel is decoded, by default limits. IHDR data starts at byte 16. */
    put_be32(png + 16, 100000);
    put_be32(png + 20, 100000);
    put_be32(png + 29, crc32_png(png + 12, 17));
    cr_expect_eq(vitcl_image_load_memory(png, len, "forged.png", NULL, &img), VITCL_ERR_LIMIT,
                 "%s", vitcl_last_error());
    cr_expect(strstr(vitcl_last_error(), "forged.png"), "%s", vitcl_last_error());
    cr_expect_null(img);
    free(png);

    uint8_t *jpg = slurp(CORPUS "/image/rgb.jpg", &len);
    lim.max_pixels = 29;
    cr_expect_eq(vitcl_image_load_memory(jpg, len, "rgb.jpg", &lim, &img), VITCL_ERR_LIMIT, "%s",
                 vitcl_last_error());
    cr_expect_null(img);
    /* Forge the SOF0 frame size to 65000 x 65000. */
    size_t sof = 0;
    for (size_t i = 2; i + 9 < len; i++)
        if (jpg[i] == 0xff && (jpg[i + 1] == 0xc0 || jpg[i + 1] == 0xc2)) {
            sof = i;
            break;
        }
    cr_assert(sof, "no SOF marker in the JPEG seed");
    jpg[sof + 5] = 0xfd; /* height 0xfde8 = 65000 */
    jpg[sof + 6] = 0xe8;
    jpg[sof + 7] = 0xfd; /* width */
    jpg[sof + 8] = 0xe8;
    cr_expect_eq(vitcl_image_load_memory(jpg, len, "forged.jpg", NULL, &img), VITCL_ERR_LIMIT,
                 "%s", vitcl_last_error());
    cr_expect_null(img);
    free(jpg);
}

static size_t npy_file(uint8_t *buf, size_t cap, const char *shape, size_t data_bytes)
{
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }",
                     shape);
    size_t hl = (size_t)n + 1, pad = (64 - (10 + hl) % 64) % 64;
    size_t total = 10 + hl + pad + data_bytes;
    cr_assert(total <= cap);
    memset(buf, 0, total);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)((hl + pad) & 0xff);
    buf[9] = (uint8_t)((hl + pad) >> 8);
    memcpy(buf + 10, hdr, (size_t)n);
    memset(buf + 10 + n, ' ', pad);
    buf[10 + hl + pad - 1] = '\n';
    return total;
}

Test(limits, npy_shapes_and_sizes)
{
    uint8_t buf[1024];
    vitcl_npy npy;
    size_t len = npy_file(buf, sizeof buf, "(2, 3)", 24);
    cr_assert_eq(vitcl_npy_parse_f32(buf, len, "ok.npy", 0, &npy), VITCL_OK, "%s",
                 vitcl_last_error());
    vitcl_npy_free(&npy);
    cr_expect_eq(vitcl_npy_parse_f32(buf, len, "small.npy", 23, &npy), VITCL_ERR_LIMIT, "%s",
                 vitcl_last_error());
    static const char *const hostile[] = {"(4294967296, 4294967296, 4)",
                                          "(18446744073709551615,)",
                                          "(99999999999999999999999,)", "(1073741824,)"};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        len = npy_file(buf, sizeof buf, hostile[i], 24);
        vitcl_status st = vitcl_npy_parse_f32(buf, len, "hostile.npy", 0, &npy);
        cr_expect(st == VITCL_ERR_FORMAT || st == VITCL_ERR_LIMIT, "%s gave %s: %s", hostile[i],
                  vitcl_status_name(st), vitcl_last_error());
    }
}

Test(limits, config_sizes)
{
    static const char *const hostile[] = {
        "{\"model_type\":\"vit_msn\",\"hidden_size\":1e30}",
        "{\"model_type\":\"vit_msn\",\"hidden_size\":4294967296,\"num_attention_heads\":1}",
        "{\"model_type\":\"vit_msn\",\"num_hidden_layers\":100000000}",
        "{\"model_type\":\"vit_msn\",\"image_size\":10000000,\"patch_size\":1}",
        "{\"model_type\":\"vit_msn\",\"intermediate_size\":-5}",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        vitcl_vit_config c;
        vitcl_status st = vitcl_config_parse(hostile[i], strlen(hostile[i]), "hostile.json", &c);
        cr_expect(st == VITCL_ERR_UNSUPPORTED || st == VITCL_ERR_FORMAT || st == VITCL_ERR_LIMIT,
                  "%s gave %s", hostile[i], vitcl_status_name(st));
        cr_expect(strstr(vitcl_last_error(), "hostile.json"), "%s", vitcl_last_error());
    }
}

/* The model loader checks the weights against the device's memory, and a run checks its
 * activations, before asking the backend for anything. */
Test(limits, device_memory_checked_before_allocating)
{
    cr_assert_eq(setenv("VITCL_FAULT_INJECT", "alloc:0", 1), 0);
    vitcl_registry *reg;
    vitcl_backend *be;
    harden_open("ref", &reg, &be);
    cr_assert_eq(unsetenv("VITCL_FAULT_INJECT"), 0);
    const char *dir = harden_model_dir("d32_h4_l1_p7_s30");

    be->info.global_mem_bytes = 4096; /* far less than the weights */
    vitcl_model *m = NULL;
    vitcl_status st = vitcl_model_load(be, dir, &m);
    cr_expect_eq(st, VITCL_ERR_OUT_OF_MEMORY, "%s: %s", vitcl_status_name(st), vitcl_last_error());
    cr_expect(strstr(vitcl_last_error(), "weights need"), "%s", vitcl_last_error());
    loader_fault_stats s;
    cr_assert(loader_fault_stats_get(be, &s));
    cr_expect_eq(s.calls[LOADER_FAULT_ALLOC], 0, "%llu allocations before the refusal",
                 (unsigned long long)s.calls[LOADER_FAULT_ALLOC]);

    be->info.global_mem_bytes = 1u << 20; /* the weights fit (about 60 KB), big batches do not */
    cr_assert_eq(vitcl_model_load(be, dir, &m), VITCL_OK, "%s", vitcl_last_error());
    loader_fault_stats_get(be, &s);
    uint64_t after_load = s.calls[LOADER_FAULT_ALLOC];
    float *px = harden_pixels(64, 30, 30, 3);
    harden_result r;
    st = harden_run(m, px, 64, 30, 30, &r);
    cr_expect_eq(st, VITCL_ERR_OUT_OF_MEMORY, "%s: %s", vitcl_status_name(st), vitcl_last_error());
    cr_expect(strstr(vitcl_last_error(), "activations"), "%s", vitcl_last_error());
    loader_fault_stats_get(be, &s);
    cr_expect_eq(s.calls[LOADER_FAULT_ALLOC], after_load, "the refused run allocated");
    /* A batch whose sizes overflow is refused without reading the (small) pixel buffer. */
    st = harden_run(m, px, SIZE_MAX / 8, 30, 30, &r);
    cr_expect_eq(st, VITCL_ERR_LIMIT, "%s: %s", vitcl_status_name(st), vitcl_last_error());
    st = harden_run(m, px, 1, SIZE_MAX / 4, SIZE_MAX / 4, &r);
    cr_expect_eq(st, VITCL_ERR_LIMIT, "%s: %s", vitcl_status_name(st), vitcl_last_error());
    /* A batch that fits still runs. */
    st = harden_run(m, px, 1, 30, 30, &r);
    cr_expect_eq(st, VITCL_OK, "%s", vitcl_last_error());
    if (st == VITCL_OK)
        harden_result_free(&r);
    free(px);
    vitcl_model_free(m);
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
}
