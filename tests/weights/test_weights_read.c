/* tests/weights/test_weights_read.c - real files written by torch.save, safetensors and
 * huggingface_hub (tools/make_weight_fixtures.py) read back with their names, shapes, dtypes
 * and values; folder dispatch and lookups. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vitcl/vitcl.h"
#include "weights.h"
#include "weights_test_util.h"

/* Opens a fixture folder (or file, when it names one) and fails the test when that fails. */
static vitcl_weights *open_fixture(const char *rel)
{
    vitcl_weights *w = NULL;
    vitcl_status st = strchr(rel, '.') ? vitcl_weights_open_file(wt_data(rel), NULL, &w)
                                       : vitcl_weights_open(wt_data(rel), NULL, &w);
    cr_assert_eq(st, VITCL_OK, "%s: %s", rel, vitcl_last_error());
    return w;
}

Test(weights_read, torch_zip_matches_torch)
{
    vitcl_weights *w = open_fixture("torch");
    cr_assert_str_eq(vitcl_weights_format(w), "pytorch_model.bin");
    wt_check_against(w, "torch", "torch/pytorch_model.bin");
    vitcl_weights_close(w);
}

Test(weights_read, torch_view_keeps_storage_offset)
{
    vitcl_weights *w = open_fixture("torch/pytorch_model.bin");
    const vitcl_tensor_entry *t = vitcl_weights_find(w, "view.offset");
    cr_assert_not_null(t);
    float f[6];
    vitcl_tensor_to_f32(t, f);
    for (int i = 0; i < 6; i++) /* torch.arange(20) * 0.5, elements 5..10 */
        cr_assert_float_eq(f[i], (float)(5 + i) * 0.5f, 0.0f);
    vitcl_weights_close(w);
}

Test(weights_read, safetensors_matches_torch)
{
    vitcl_weights *w = open_fixture("safetensors");
    cr_assert_str_eq(vitcl_weights_format(w), "safetensors");
    wt_check_against(w, "safetensors", "safetensors/model.safetensors");
    vitcl_weights_close(w);
}

Test(weights_read, sharded_matches_torch)
{
    vitcl_weights *w = open_fixture("sharded");
    cr_assert_str_eq(vitcl_weights_format(w), "safetensors (sharded)");
    wt_check_against(w, "safetensors", "sharded/model-0000");
    /* Each tensor points at the shard the index names. */
    cr_assert(strstr(vitcl_weights_find(w, "layers.0.w")->file, "model-00002-of-00002") != NULL);
    cr_assert(strstr(vitcl_weights_find(w, "scalar")->file, "model-00001-of-00002") != NULL);
    vitcl_weights_close(w);
}

Test(weights_read, lookup_and_index)
{
    vitcl_weights *w = open_fixture("safetensors");
    cr_assert_null(vitcl_weights_find(w, "no.such.tensor"));
    cr_assert_null(vitcl_weights_find(w, ""));
    cr_assert_null(vitcl_weights_at(w, vitcl_weights_count(w)));
    for (size_t i = 0; i < vitcl_weights_count(w); i++) {
        const vitcl_tensor_entry *t = vitcl_weights_at(w, i);
        cr_assert_eq(vitcl_weights_find(w, t->name), t);
    }
    const vitcl_tensor_entry *s = vitcl_weights_find(w, "scalar");
    cr_assert_eq(s->ndim, 0);
    cr_assert_eq(s->numel, 1);
    const vitcl_tensor_entry *e = vitcl_weights_find(w, "empty");
    cr_assert_eq(e->numel, 0);
    vitcl_weights_close(w);
}

Test(weights_read, missing_folder_is_not_found)
{
    vitcl_weights *w = (vitcl_weights *)1;
    cr_assert_eq(vitcl_weights_open("/nonexistent/vitcl-model", NULL, &w), VITCL_ERR_NOT_FOUND);
    cr_assert_null(w);
    cr_assert(strstr(vitcl_last_error(), "/nonexistent/vitcl-model") != NULL, "%s",
              vitcl_last_error());
}

Test(weights_read, folder_without_weights_lists_what_was_looked_for)
{
    char *dir = wt_tmpdir();
    vitcl_weights *w = NULL;
    cr_assert_eq(vitcl_weights_open(dir, NULL, &w), VITCL_ERR_NOT_FOUND);
    const char *m = vitcl_last_error();
    cr_assert(strstr(m, dir) && strstr(m, "model.safetensors") &&
              strstr(m, "model.safetensors.index.json") && strstr(m, "pytorch_model.bin"),
              "%s", m);
    wt_tmpdir_remove(dir);
}

Test(weights_read, safetensors_wins_over_pytorch_bin)
{
    char *dir = wt_tmpdir();
    size_t n;
    uint8_t *st = wt_read(wt_data("safetensors/model.safetensors"), &n);
    free(wt_write(dir, "model.safetensors", st, n));
    free(st);
    uint8_t *bin = wt_read(wt_data("torch/pytorch_model.bin"), &n);
    free(wt_write(dir, "pytorch_model.bin", bin, n));
    free(bin);
    vitcl_weights *w = NULL;
    cr_assert_eq(vitcl_weights_open(dir, NULL, &w), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_str_eq(vitcl_weights_format(w), "safetensors");
    vitcl_weights_close(w);
    wt_tmpdir_remove(dir);
}

Test(weights_read, tensor_limit_is_enforced)
{
    vitcl_weights_limits lim = {0, 3, 0};
    vitcl_weights *w = NULL;
    cr_assert_eq(vitcl_weights_open(wt_data("safetensors"), &lim, &w), VITCL_ERR_LIMIT);
    cr_assert(strstr(vitcl_last_error(), "model.safetensors") != NULL, "%s", vitcl_last_error());
    cr_assert_eq(vitcl_weights_open(wt_data("torch"), &lim, &w), VITCL_ERR_LIMIT);
    cr_assert(strstr(vitcl_last_error(), "pytorch_model.bin") != NULL, "%s", vitcl_last_error());
}

Test(weights_read, total_bytes_limit_is_enforced)
{
    vitcl_weights_limits lim = {0, 0, 16};
    vitcl_weights *w = NULL;
    cr_assert_eq(vitcl_weights_open(wt_data("safetensors"), &lim, &w), VITCL_ERR_LIMIT);
    cr_assert(strstr(vitcl_last_error(), "model.safetensors") != NULL, "%s", vitcl_last_error());
    cr_assert_eq(vitcl_weights_open(wt_data("torch"), &lim, &w), VITCL_ERR_LIMIT);
    cr_assert(strstr(vitcl_last_error(), "pytorch_model.bin") != NULL, "%s", vitcl_last_error());
}

/* Widening checked against values IEEE 754 defines, independent of any fixture. */
Test(weights_read, half_and_bfloat16_widen_exactly)
{
    static const uint8_t half[] = {0x01, 0x00, 0xff, 0x03, 0x00, 0x04, 0xff, 0x7b,
                                   0x00, 0x7c, 0x00, 0xfc, 0x01, 0x7e, 0x00, 0x80};
    static const uint32_t half_f32[] = {0x33800000u, 0x387fc000u, 0x38800000u, 0x477fe000u,
                                        0x7f800000u, 0xff800000u, 0x7fc02000u, 0x80000000u};
    vitcl_tensor_entry t = {.name = "h", .dtype = VITCL_DTYPE_F16, .ndim = 1, .shape = {8},
                            .numel = 8, .data = half + 0, .file = "mem"};
    float f[8];
    vitcl_tensor_to_f32(&t, f);
    for (int i = 0; i < 8; i++) {
        uint32_t b;
        memcpy(&b, &f[i], 4);
        cr_assert_eq(b, half_f32[i], "half %d: 0x%08x", i, b);
    }
    /* bfloat16 read from an odd address. */
    static const uint8_t bf[] = {0xAA, 0x01, 0x00, 0x80, 0x3f, 0x81, 0xff};
    t.dtype = VITCL_DTYPE_BF16;
    t.numel = t.shape[0] = 3;
    t.data = bf + 1;
    vitcl_tensor_to_f32(&t, f);
    static const uint32_t bf_f32[] = {0x00010000u, 0x3f800000u, 0xff810000u};
    for (int i = 0; i < 3; i++) {
        uint32_t b;
        memcpy(&b, &f[i], 4);
        cr_assert_eq(b, bf_f32[i], "bf16 %d: 0x%08x", i, b);
    }
}
