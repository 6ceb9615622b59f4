/* tests/weights/test_torch_hostile.c - hostile and broken pytorch_model.bin files: pickles that
 * name dangerous globals (crafted here as bytes and never executed), unknown opcodes, truncated
 * pickles, corrupted zips, missing or short storage records, non-contiguous tensors. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vitcl/vitcl.h"
#include "weights.h"
#include "weights_test_util.h"


TestSuite(torch_hostile, .init = wt_setup, .fini = wt_teardown);

/* ---------------------------------------------------------------- a tiny pickle writer */

typedef struct pb {
    uint8_t b[8192];
    size_t n;
} pb;

static void op(pb *p, uint8_t c)
{
    cr_assert_lt(p->n, sizeof p->b);
    p->b[p->n++] = c;
}

static void raw(pb *p, const void *s, size_t n)
{
    cr_assert_leq(p->n + n, sizeof p->b);
    memcpy(p->b + p->n, s, n);
    p->n += n;
}

static void str(pb *p, const char *s) /* BINUNICODE */
{
    uint32_t n = (uint32_t)strlen(s);
    op(p, 'X');
    for (int i = 0; i < 4; i++)
        op(p, (uint8_t)(n >> (8 * i)));
    raw(p, s, n);
}

static void glob(pb *p, const char *module, const char *name) /* GLOBAL */
{
    op(p, 'c');
    raw(p, module, strlen(module));
    op(p, '\n');
    raw(p, name, strlen(name));
    op(p, '\n');
}

static void int1(pb *p, uint8_t v) /* BININT1 */
{
    op(p, 'K');
    op(p, v);
}

static void long8(pb *p, uint64_t v) /* LONG1 with 8 bytes */
{
    op(p, 0x8a);
    op(p, 8);
    for (int i = 0; i < 8; i++)
        op(p, (uint8_t)(v >> (8 * i)));
}

static void proto(pb *p, uint8_t version) /* PROTO */
{
    op(p, 0x80);
    op(p, version);
}

/* A state dict {name: tensor} with the tensor's storage key, storage count, offset, shape and
 * strides, as torch.save writes it. */
static void tensor_dict(pb *p, const char *name, const char *key, uint8_t storage_numel,
                        uint8_t offset, size_t ndim, const uint64_t *shape, const uint8_t *stride)
{
    proto(p, 2);
    op(p, '}');
    op(p, '(');
    str(p, name);
    glob(p, "torch._utils", "_rebuild_tensor_v2");
    op(p, '(');
    op(p, '(');
    str(p, "storage");
    glob(p, "torch", "FloatStorage");
    str(p, key);
    str(p, "cpu");
    int1(p, storage_numel);
    op(p, 't');
    op(p, 'Q');
    int1(p, offset);
    op(p, '(');
    for (size_t d = 0; d < ndim; d++)
        long8(p, shape[d]);
    op(p, 't');
    op(p, '(');
    for (size_t d = 0; d < ndim; d++)
        int1(p, stride[d]);
    op(p, 't');
    op(p, 0x89);
    glob(p, "collections", "OrderedDict");
    op(p, ')');
    op(p, 'R');
    op(p, 't');
    op(p, 'R');
    op(p, 'u');
    op(p, '.');
}

/* A state dict holding one 1-d tensor of n elements with unit stride. */
static void vector_dict(pb *p, const char *name, const char *key, uint8_t storage_numel,
                        uint8_t offset, uint64_t n)
{
    const uint8_t stride[1] = {1};
    tensor_dict(p, name, key, storage_numel, offset, 1, &n, stride);
}

/* Opens the scratch folder (holding path), expects `want` and a message naming path and
 * containing a and b. */
static void expect_fail_file(const char *path, vitcl_status want, const char *a, const char *b)
{
    vitcl_weights *w = (vitcl_weights *)1;
    vitcl_status st = vitcl_weights_open(wt_dir, NULL, &w);
    wt_expect_error(st, w, want, path, a, b);
}

static void expect_pickle_fail(const pb *p, size_t storage_len, vitcl_status want,
                               const char *a, const char *b)
{
    char *path = wt_torch_zip(wt_dir, p->b, p->n, storage_len);
    expect_fail_file(path, want, a, b);
    free(path);
}

Test(torch_hostile, crafted_state_dict_is_read)
{
    pb p = {.n = 0};
    uint64_t shape[2] = {2, 3};
    uint8_t stride[2] = {3, 1};
    tensor_dict(&p, "enc.w", "0", 8, 2, 2, shape, stride);
    char *path = wt_torch_zip(wt_dir, p.b, p.n, 32);
    vitcl_weights *w = NULL;
    cr_assert_eq(vitcl_weights_open(wt_dir, NULL, &w), VITCL_OK, "%s", vitcl_last_error());
    const vitcl_tensor_entry *t = vitcl_weights_find(w, "enc.w");
    cr_assert_not_null(t);
    cr_assert_eq(t->ndim, 2);
    cr_assert_eq(t->shape[0], 2);
    cr_assert_eq(t->shape[1], 3);
    cr_assert_eq(t->dtype, VITCL_DTYPE_F32);
    vitcl_weights_close(w);
    free(path);
}

Test(torch_hostile, global_os_system)
{
    pb p = {.n = 0};
    proto(&p, 2);
    glob(&p, "os", "system");
    str(&p, "echo pwned");
    op(&p, 0x85);
    op(&p, 'R');
    op(&p, '.');
    expect_pickle_fail(&p, 0, VITCL_ERR_FORMAT,
                       "names global 'os.system'; only a state dict's globals are accepted",
                       NULL);
}

Test(torch_hostile, global_builtins_eval_by_stack_global)
{
    pb p = {.n = 0};
    proto(&p, 4);
    op(&p, 0x8c);
    op(&p, 8);
    raw(&p, "builtins", 8);
    op(&p, 0x8c);
    op(&p, 4);
    raw(&p, "eval", 4);
    op(&p, 0x93);
    str(&p, "1+1");
    op(&p, 0x85);
    op(&p, 'R');
    op(&p, '.');
    expect_pickle_fail(&p, 0, VITCL_ERR_FORMAT, "names global 'builtins.eval'", NULL);
}

Test(torch_hostile, global_torch_nn_module)
{
    pb p = {.n = 0};
    proto(&p, 2);
    op(&p, '}');
    str(&p, "model");
    glob(&p, "torch.nn", "Module");
    op(&p, ')');
    op(&p, 'R');
    op(&p, 's');
    op(&p, '.');
    expect_pickle_fail(&p, 0, VITCL_ERR_FORMAT, "names global 'torch.nn.Module'", NULL);
}

Test(torch_hostile, storage_class_is_not_callable)
{
    pb p = {.n = 0};
    proto(&p, 2);
    glob(&p, "torch", "FloatStorage");
    op(&p, ')');
    op(&p, 'R');
    op(&p, '.');
    expect_pickle_fail(&p, 0, VITCL_ERR_FORMAT, "REDUCE applied to 'torch.FloatStorage'", NULL);
}

Test(torch_hostile, unknown_opcode)
{
    pb p = {.n = 0};
    proto(&p, 2);
    op(&p, '}');
    op(&p, 0xff);
    op(&p, '.');
    expect_pickle_fail(&p, 0, VITCL_ERR_FORMAT, "opcode 0xff", "byte 3");
    /* INST ('i') would import and call by name: refused like any opcode torch does not emit. */
    pb q = {.n = 0};
    proto(&q, 2);
    op(&q, '(');
    raw(&q, "ios\nsystem\n", 11);
    op(&q, '.');
    expect_pickle_fail(&q, 0, VITCL_ERR_FORMAT, "opcode 0x69", NULL);
}

Test(torch_hostile, structural_abuse)
{
    pb p = {.n = 0};
    proto(&p, 2);
    op(&p, 'h'); /* BINGET of an empty memo */
    op(&p, 7);
    op(&p, '.');
    expect_pickle_fail(&p, 0, VITCL_ERR_FORMAT, "memo", NULL);

    p.n = 0;
    proto(&p, 2);
    op(&p, '}');
    op(&p, 'r'); /* LONG_BINPUT at index 0xffffffff */
    raw(&p, "\xff\xff\xff\xff", 4);
    op(&p, '.');
    expect_pickle_fail(&p, 0, VITCL_ERR_FORMAT, "memo index", NULL);

    p.n = 0;
    proto(&p, 2);
    for (int i = 0; i < 5000; i++)
        op(&p, '(');
    op(&p, '.');
    expect_pickle_fail(&p, 0, VITCL_ERR_FORMAT, "MARK", NULL);

    p.n = 0;
    proto(&p, 2);
    op(&p, 'X'); /* a 4 GiB string in a 10-byte pickle */
    raw(&p, "\xff\xff\xff\xff", 4);
    op(&p, '.');
    expect_pickle_fail(&p, 0, VITCL_ERR_FORMAT, "string", NULL);

    p.n = 0;
    proto(&p, 2);
    op(&p, '.'); /* STOP on an empty stack */
    expect_pickle_fail(&p, 0, VITCL_ERR_FORMAT, "underflow", NULL);
}

Test(torch_hostile, value_that_is_not_a_tensor)
{
    pb p = {.n = 0};
    proto(&p, 2);
    op(&p, '}');
    str(&p, "epoch");
    int1(&p, 3);
    op(&p, 's');
    op(&p, '.');
    expect_pickle_fail(&p, 0, VITCL_ERR_FORMAT, "'epoch'", "not a tensor");
}

Test(torch_hostile, shape_element_count_overflow)
{
    pb p = {.n = 0};
    uint64_t shape[3] = {1ull << 32, 1ull << 32, 16};
    uint8_t stride[3] = {1, 1, 1};
    tensor_dict(&p, "huge.w", "0", 1, 0, 3, shape, stride);
    expect_pickle_fail(&p, 4, VITCL_ERR_FORMAT, "'huge.w'", "overflow");
}

Test(torch_hostile, storage_key_outside_data_folder)
{
    pb p = {.n = 0};
    vector_dict(&p, "sneaky.w", "../data.pkl", 1, 0, 1);
    expect_pickle_fail(&p, 4, VITCL_ERR_FORMAT, "'sneaky.w'", "plain record name");
}

Test(torch_hostile, missing_storage_record)
{
    pb p = {.n = 0};
    vector_dict(&p, "lost.w", "0", 2, 0, 2);
    expect_pickle_fail(&p, 0, VITCL_ERR_FORMAT, "'lost.w'", "missing");
}

Test(torch_hostile, offset_past_storage)
{
    pb p = {.n = 0};
    vector_dict(&p, "shifted.w", "0", 2, 1, 2);
    expect_pickle_fail(&p, 8, VITCL_ERR_FORMAT, "'shifted.w'", "needs elements [1, 3)");
}

Test(torch_hostile, declared_storage_count_mismatch)
{
    pb p = {.n = 0};
    vector_dict(&p, "w", "0", 9, 0, 2);
    expect_pickle_fail(&p, 8, VITCL_ERR_FORMAT, "'w'", "declares 9");
}

Test(torch_hostile, legacy_format_is_refused_clearly)
{
    static const uint8_t legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20};
    char *path = wt_write(wt_dir, "pytorch_model.bin", legacy, sizeof legacy);
    expect_fail_file(path, VITCL_ERR_UNSUPPORTED, "legacy", NULL);
    free(path);
}

/* ---------------------------------------------------------------- the real file, broken */

static int truncate_pickle(const char *name, uint8_t **data, size_t *len, void *ctx)
{
    (void)ctx;
    if (strstr(name, "/data.pkl"))
        *len /= 2;
    return 1;
}

static int drop_pickle(const char *name, uint8_t **data, size_t *len, void *ctx)
{
    (void)data;
    (void)len;
    (void)ctx;
    return strstr(name, "/data.pkl") == NULL;
}

static int shorten_storages(const char *name, uint8_t **data, size_t *len, void *ctx)
{
    (void)data;
    (void)ctx;
    if (strstr(name, "/data/") && *len >= 4)
        *len -= 4;
    return 1;
}

static int big_endian(const char *name, uint8_t **data, size_t *len, void *ctx)
{
    (void)ctx;
    if (strstr(name, "/byteorder")) {
        memcpy(*data, "big", 3);
        *len = 3;
    }
    return 1;
}

Test(torch_hostile, truncated_pickle)
{
    char *path = wt_rezip(wt_data("torch/pytorch_model.bin"), wt_dir, truncate_pickle, NULL);
    expect_fail_file(path, VITCL_ERR_FORMAT, "data.pkl", "past the end");
    free(path);
}

Test(torch_hostile, zip_without_data_pkl)
{
    char *path = wt_rezip(wt_data("torch/pytorch_model.bin"), wt_dir, drop_pickle, NULL);
    expect_fail_file(path, VITCL_ERR_FORMAT, "data.pkl", NULL);
    free(path);
}

Test(torch_hostile, storage_record_shorter_than_tensor)
{
    char *path = wt_rezip(wt_data("torch/pytorch_model.bin"), wt_dir, shorten_storages, NULL);
    expect_fail_file(path, VITCL_ERR_FORMAT, "needs elements", "tensor '");
    free(path);
}

Test(torch_hostile, big_endian_refused)
{
    char *path = wt_rezip(wt_data("torch/pytorch_model.bin"), wt_dir, big_endian, NULL);
    expect_fail_file(path, VITCL_ERR_UNSUPPORTED, "big", "little-endian");
    free(path);
}

Test(torch_hostile, rezipped_real_file_still_reads)
{
    /* The rewriting helper itself keeps a valid file valid (so the failures above are ours). */
    char *path = wt_rezip(wt_data("torch/pytorch_model.bin"), wt_dir, NULL, NULL);
    vitcl_weights *w = NULL;
    cr_assert_eq(vitcl_weights_open(wt_dir, NULL, &w), VITCL_OK, "%s", vitcl_last_error());
    wt_check_against(w, "torch", path);
    vitcl_weights_close(w);
    free(path);
}

Test(torch_hostile, corrupted_zip_directory)
{
    size_t n;
    uint8_t *real = wt_read(wt_data("torch/pytorch_model.bin"), &n);
    char *path = wt_write(wt_dir, "pytorch_model.bin", real, n - 30); /* cut the end record */
    free(real);
    expect_fail_file(path, VITCL_ERR_FORMAT, "zip", NULL);
    free(path);
}

Test(torch_hostile, non_contiguous_tensor_from_torch)
{
    vitcl_weights *w = (vitcl_weights *)1;
    const char *path = wt_data("noncontig/pytorch_model.bin");
    char *copy = strdup(path);
    cr_assert_eq(vitcl_weights_open_file(copy, NULL, &w), VITCL_ERR_UNSUPPORTED, "%s",
                 vitcl_last_error());
    cr_assert_null(w);
    const char *m = vitcl_last_error();
    cr_assert(strstr(m, copy) && strstr(m, "'transposed.weight'") && strstr(m, "contiguous"),
              "%s", m);
    free(copy);
}

Test(torch_hostile, pytorch_bin_that_is_not_a_zip)
{
    char *path = wt_write(wt_dir, "pytorch_model.bin", "hello, not a zip", 16);
    expect_fail_file(path, VITCL_ERR_FORMAT, "zip", NULL);
    free(path);
    path = wt_write(wt_dir, "pytorch_model.bin", "", 0);
    expect_fail_file(path, VITCL_ERR_FORMAT, "zip", NULL);
    free(path);
}

Test(torch_hostile, global_with_binary_name_is_escaped_in_the_message)
{
    pb p = {.n = 0};
    proto(&p, 2);
    glob(&p, "os\xff", "sys\ttem");
    op(&p, '.');
    expect_pickle_fail(&p, 0, VITCL_ERR_FORMAT, "names global 'os\\xff.sys\\x09tem'", NULL);
}
