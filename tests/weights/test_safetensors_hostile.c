/* tests/weights/test_safetensors_hostile.c - broken and hostile safetensors files and sharded
 * indexes: each gives its status and a message naming the file and, where there is one, the
 * tensor; none crashes or leaks. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vitcl/vitcl.h"
#include "weights.h"
#include "weights_test_util.h"


TestSuite(safetensors_hostile, .init = wt_setup, .fini = wt_teardown);

/* Opens path, expects status `want`, and a message containing a and b (b may be NULL). */
static void expect_fail_file(const char *path, vitcl_status want, const char *a, const char *b)
{
    vitcl_weights *w = (vitcl_weights *)1;
    vitcl_status st = vitcl_weights_open_file(path, NULL, &w);
    wt_expect_error(st, w, want, path, a, b);
}

/* Writes a safetensors file from header and data_len zero bytes and expects failure. */
static void expect_fail(const char *header, size_t data_len, vitcl_status want, const char *a,
                        const char *b)
{
    char *path = wt_write_safetensors(wt_dir, "model.safetensors", header, NULL, data_len);
    expect_fail_file(path, want, a, b);
    free(path);
}

Test(safetensors_hostile, zero_byte_file)
{
    char *path = wt_write(wt_dir, "model.safetensors", "", 0);
    expect_fail_file(path, VITCL_ERR_FORMAT, "HeaderTooSmall", NULL);
    free(path);
}

Test(safetensors_hostile, shorter_than_length_field)
{
    char *path = wt_write(wt_dir, "model.safetensors", "\x10\0\0\0", 4);
    expect_fail_file(path, VITCL_ERR_FORMAT, "HeaderTooSmall", NULL);
    free(path);
}

Test(safetensors_hostile, header_length_past_eof)
{
    uint8_t buf[8 + 20] = {200};
    memcpy(buf + 8, "{\"a\":{\"dtype\":\"F32\"", 19);
    char *path = wt_write(wt_dir, "model.safetensors", buf, sizeof buf);
    expect_fail_file(path, VITCL_ERR_FORMAT, "past the end", NULL);
    free(path);
}

Test(safetensors_hostile, huge_header_length)
{
    uint8_t buf[16] = {0, 0, 0, 0, 0, 0, 0, 0x80, '{', '}'};
    char *path = wt_write(wt_dir, "model.safetensors", buf, sizeof buf);
    expect_fail_file(path, VITCL_ERR_LIMIT, "HeaderTooLarge", NULL);
    free(path);
}

Test(safetensors_hostile, header_over_configured_limit)
{
    char *path = wt_write_safetensors(wt_dir, "model.safetensors",
                                      "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],"
                                      "\"data_offsets\":[0,4]}}", NULL, 4);
    vitcl_weights_limits lim = {16, 0, 0};
    vitcl_weights *w = NULL;
    cr_assert_eq(vitcl_weights_open_file(path, &lim, &w), VITCL_ERR_LIMIT);
    cr_assert(strstr(vitcl_last_error(), path) != NULL, "%s", vitcl_last_error());
    cr_assert_eq(vitcl_weights_open_file(path, NULL, &w), VITCL_OK, "%s", vitcl_last_error());
    vitcl_weights_close(w);
    free(path);
}

Test(safetensors_hostile, truncated_header)
{
    /* A real file cut inside its header. */
    size_t n;
    uint8_t *real = wt_read(wt_data("safetensors/model.safetensors"), &n);
    char *path = wt_write(wt_dir, "model.safetensors", real, 40);
    free(real);
    expect_fail_file(path, VITCL_ERR_FORMAT, "past the end", NULL);
    free(path);
}

Test(safetensors_hostile, truncated_data)
{
    /* A real file missing its last bytes of tensor data. */
    size_t n;
    uint8_t *real = wt_read(wt_data("safetensors/model.safetensors"), &n);
    char *path = wt_write(wt_dir, "model.safetensors", real, n - 3);
    free(real);
    expect_fail_file(path, VITCL_ERR_FORMAT, "truncated", NULL);
    free(path);
}

Test(safetensors_hostile, non_json_header)
{
    expect_fail("this is not JSON at all", 0, VITCL_ERR_FORMAT, "not valid JSON", NULL);
}

Test(safetensors_hostile, header_not_an_object)
{
    expect_fail("[1, 2, 3]", 0, VITCL_ERR_FORMAT, "not a JSON object", NULL);
}

Test(safetensors_hostile, header_not_utf8)
{
    expect_fail("{\"a\xff\xfe\":{}}", 0, VITCL_ERR_FORMAT, "UTF-8", NULL);
}

Test(safetensors_hostile, overlapping_offsets_name_both)
{
    expect_fail("{\"first.w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"second.w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                12, VITCL_ERR_FORMAT, "'first.w'", "'second.w'");
}

Test(safetensors_hostile, gap_between_tensors)
{
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                12, VITCL_ERR_FORMAT, "gap", "'b'");
}

Test(safetensors_hostile, first_tensor_not_at_zero)
{
    expect_fail("{\"late\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                VITCL_ERR_FORMAT, "'late'", "start at 0");
}

Test(safetensors_hostile, end_before_begin)
{
    expect_fail("{\"back\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
                VITCL_ERR_FORMAT, "'back'", "before begin");
}

Test(safetensors_hostile, trailing_bytes)
{
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 9,
                VITCL_ERR_FORMAT, "trailing bytes", NULL);
}

Test(safetensors_hostile, byte_count_does_not_match_shape)
{
    expect_fail("{\"enc.bias\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                VITCL_ERR_FORMAT, "'enc.bias'", "need 6");
}

Test(safetensors_hostile, unknown_dtype)
{
    expect_fail("{\"odd\":{\"dtype\":\"F7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                VITCL_ERR_FORMAT, "'odd'", "unknown dtype 'F7'");
}

Test(safetensors_hostile, integer_dtype_refused_by_name)
{
    expect_fail("{\"ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
                VITCL_ERR_UNSUPPORTED, "tensor 'ids' has dtype I64; vitcl reads F32, F16, BF16",
                NULL);
}

Test(safetensors_hostile, duplicate_key)
{
    expect_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, VITCL_ERR_FORMAT, "'w'", "twice");
}

/* Names the reference reader sees differently from a C string: an escaped NUL ("w\u0000x" is
 * not "w"), raw control characters; and fields repeated inside an entry. All refused. */
Test(safetensors_hostile, names_with_escaped_nul_or_controls_and_repeated_fields)
{
    expect_fail("{\"w\\u0000x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                VITCL_ERR_FORMAT, "escaped NUL", NULL);
    expect_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"w\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, VITCL_ERR_FORMAT, "escaped NUL", NULL);
    expect_fail("{\"w\x1b[2J\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                VITCL_ERR_FORMAT, "control character 0x1b", NULL);
    expect_fail("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],"
                "\"data_offsets\":[0,4]}}", 4, VITCL_ERR_FORMAT, "'dtype'", "twice");
    expect_fail("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"},\"w\":{\"dtype\":\"F32\","
                "\"shape\":[1],\"data_offsets\":[0,4]}}", 4, VITCL_ERR_FORMAT, "'a'", "twice");
}

Test(safetensors_hostile, shape_overflow)
{
    expect_fail("{\"huge\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
                "\"data_offsets\":[0,4]}}", 4, VITCL_ERR_FORMAT, "'huge'", "overflow");
}

Test(safetensors_hostile, byte_size_overflow)
{
    expect_fail("{\"big\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
                "\"data_offsets\":[0,4]}}", 4, VITCL_ERR_FORMAT, "number of 19 digits", NULL);
    expect_fail("{\"big\":{\"dtype\":\"F32\",\"shape\":[999999999999999,999999],"
                "\"data_offsets\":[0,4]}}", 4, VITCL_ERR_FORMAT, "'big'", "overflow");
}

Test(safetensors_hostile, negative_and_fractional_shapes)
{
    expect_fail("{\"n\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                VITCL_ERR_FORMAT, "negative", NULL);
    expect_fail("{\"n\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
                VITCL_ERR_FORMAT, "non-integer", NULL);
    expect_fail("{\"n\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4,
                VITCL_ERR_FORMAT, "'n'", "non-negative integers");
}

Test(safetensors_hostile, malformed_entries)
{
    expect_fail("{\"e\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, VITCL_ERR_FORMAT, "'e'",
                "dtype");
    expect_fail("{\"e\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
                VITCL_ERR_FORMAT, "'e'", "data_offsets");
    expect_fail("{\"e\":[1,2]}", 0, VITCL_ERR_FORMAT, "'e'", "not a JSON object");
    expect_fail("{\"__metadata__\":{\"format\":7}}", 0, VITCL_ERR_FORMAT, "__metadata__",
                "'format'");
    expect_fail("{\"e\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                "\"data_offsets\":[0,4]}}", 4, VITCL_ERR_UNSUPPORTED, "'e'", "dimensions");
}

Test(safetensors_hostile, valid_edge_cases_are_accepted)
{
    /* Metadata, a 0-d tensor, an empty tensor, unaligned offsets and space padding. */
    const uint8_t data[6] = {0x00, 0x3c, 0x00, 0x00, 0x80, 0x3f};
    char *path = wt_write_safetensors(
        wt_dir, "model.safetensors",
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"h\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[0,2]},"
        "\"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[2,2]},"
        "\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}   ",
        data, sizeof data);
    vitcl_weights *w = NULL;
    cr_assert_eq(vitcl_weights_open_file(path, NULL, &w), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_eq(vitcl_weights_count(w), 3);
    float f;
    vitcl_tensor_to_f32(vitcl_weights_find(w, "h"), &f);
    cr_assert_float_eq(f, 1.0f, 0.0f);
    vitcl_tensor_to_f32(vitcl_weights_find(w, "f"), &f);
    cr_assert_float_eq(f, 1.0f, 0.0f);
    cr_assert_eq(vitcl_weights_find(w, "z")->numel, 0);
    vitcl_weights_close(w);
    free(path);
}

/* ---------------------------------------------------------------- sharded indexes */

static const char *shard_header =
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";

static void expect_index_fail(const char *index, vitcl_status want, const char *a,
                              const char *b)
{
    free(wt_write_safetensors(wt_dir, "s1.safetensors", shard_header, NULL, 4));
    free(wt_write_safetensors(wt_dir, "s2.safetensors",
                              "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                              NULL, 4));
    char *ipath = wt_write(wt_dir, "model.safetensors.index.json", index, strlen(index));
    vitcl_weights *w = (vitcl_weights *)1;
    vitcl_status st = vitcl_weights_open(wt_dir, NULL, &w);
    wt_expect_error(st, w, want, ipath, a, b);
    free(ipath);
}

Test(safetensors_hostile, index_accepts_consistent_map)
{
    free(wt_write_safetensors(wt_dir, "s1.safetensors", shard_header, NULL, 4));
    const char *index =
        "{\"metadata\":{\"total_size\":4},\"weight_map\":{\"a\":\"s1.safetensors\"}}";
    free(wt_write(wt_dir, "model.safetensors.index.json", index, strlen(index)));
    vitcl_weights *w = NULL;
    cr_assert_eq(vitcl_weights_open(wt_dir, NULL, &w), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_eq(vitcl_weights_count(w), 1);
    vitcl_weights_close(w);
}

Test(safetensors_hostile, index_shard_name_escapes_folder)
{
    expect_index_fail("{\"weight_map\":{\"a\":\"../s1.safetensors\"}}", VITCL_ERR_FORMAT, "'a'",
                      "plain file names");
    expect_index_fail("{\"weight_map\":{\"a\":\"/etc/passwd\"}}", VITCL_ERR_FORMAT, "'a'",
                      "plain file names");
    expect_index_fail("{\"weight_map\":{\"a\":\"sub/s1.safetensors\"}}", VITCL_ERR_FORMAT, "'a'",
                      "plain file names");
}

Test(safetensors_hostile, index_tensor_missing_from_its_shard)
{
    expect_index_fail("{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\"}}",
                      VITCL_ERR_FORMAT, "'b'", "s1.safetensors");
}

Test(safetensors_hostile, index_tensor_in_two_shards)
{
    /* s2 holds 'b' but the map puts 'b' in s1, which also holds it. */
    free(wt_write_safetensors(wt_dir, "s1.safetensors",
                              "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                              NULL, 8));
    const char *index = "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\","
                        "\"c\":\"s2.safetensors\"}}";
    free(wt_write_safetensors(wt_dir, "s2.safetensors",
                              "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                              "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                              NULL, 8));
    char *ipath = wt_write(wt_dir, "model.safetensors.index.json", index, strlen(index));
    vitcl_weights *w = NULL;
    cr_assert_eq(vitcl_weights_open(wt_dir, NULL, &w), VITCL_ERR_FORMAT, "%s", vitcl_last_error());
    const char *m = vitcl_last_error();
    cr_assert(strstr(m, ipath) && strstr(m, "'b'") && strstr(m, "s2.safetensors"), "%s", m);
    free(ipath);
}

Test(safetensors_hostile, index_missing_shard)
{
    expect_index_fail("{\"weight_map\":{\"a\":\"s1.safetensors\",\"z\":\"gone.safetensors\"}}",
                      VITCL_ERR_NOT_FOUND, "'z'", "gone.safetensors");
}

Test(safetensors_hostile, index_duplicate_key_and_bad_shape)
{
    expect_index_fail("{\"weight_map\":{\"a\":\"s1.safetensors\",\"a\":\"s1.safetensors\"}}",
                      VITCL_ERR_FORMAT, "'a'", "twice");
    expect_index_fail("{\"weight_map\":[\"s1.safetensors\"]}", VITCL_ERR_FORMAT, "weight_map",
                      NULL);
    expect_index_fail("{\"weight_map\":{\"a\":5}}", VITCL_ERR_FORMAT, "'a'", NULL);
    expect_index_fail("not json", VITCL_ERR_FORMAT, "not valid JSON", NULL);
    /* data after the object, in several shapes: Python's json refuses each ("Extra data") */
    expect_index_fail("{\"weight_map\":{\"a\":\"s1.safetensors\"}} {}", VITCL_ERR_FORMAT,
                      "data after", NULL);
    expect_index_fail("{\"weight_map\":{\"a\":\"s1.safetensors\"}}x", VITCL_ERR_FORMAT,
                      "data after", NULL);
    expect_index_fail("{\"weight_map\":{\"a\":\"s1.safetensors\"}}]", VITCL_ERR_FORMAT,
                      "data after", NULL);
    expect_index_fail("{\"weight_map\":{\"a\\u0000b\":\"s1.safetensors\"}}", VITCL_ERR_FORMAT,
                      "escaped NUL", NULL);
}

Test(safetensors_hostile, index_broken_shard_names_shard_and_tensor)
{
    free(wt_write_safetensors(wt_dir, "s1.safetensors",
                              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",
                              NULL, 4));
    const char *index = "{\"weight_map\":{\"a\":\"s1.safetensors\"}}";
    free(wt_write(wt_dir, "model.safetensors.index.json", index, strlen(index)));
    vitcl_weights *w = NULL;
    cr_assert_eq(vitcl_weights_open(wt_dir, NULL, &w), VITCL_ERR_FORMAT);
    const char *m = vitcl_last_error();
    cr_assert(strstr(m, "s1.safetensors") && strstr(m, "'a'"), "%s", m);
}
