/* tests/opencl/test_device.c - device enumeration, buffers, allocation failures, zero-copy
 * wrapping and profiling of the OpenCL plugin on the test device (harness_device()). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include "harness.h"

TestSuite(opencl_device, .timeout = 300);

/* The OpenCL device that the plugin numbers `index`: platforms in the ICD loader's order, each
 * platform's devices of CL_DEVICE_TYPE_ALL in order (docs/opencl.md, "Devices"). */
static cl_device_id nth_device(int index)
{
    cl_platform_id plats[16];
    cl_uint np = 0;
    cr_assert_eq(clGetPlatformIDs(16, plats, &np), CL_SUCCESS);
    for (cl_uint p = 0; p < np && p < 16; p++) {
        cl_device_id devs[64];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 64, devs, &nd) != CL_SUCCESS)
            continue;
        if (index < (int)nd)
            return devs[index];
        index -= (int)nd;
    }
    cr_assert_fail("no OpenCL device at the test index");
    return NULL;
}

/* The fields come from the device's own answers, whatever the implementation (PoCL, Intel's
 * CPU runtime, a GPU driver): each is checked against a direct OpenCL query. */
Test(opencl_device, device_info_matches_the_device_queries)
{
    harness h = {0};
    harness_load(&h);
    cr_assert_eq(strcmp(h.desc->name, "opencl"), 0);
    cr_expect_eq(h.desc->auto_rank, 30);
    int n = h.desc->device_count(h.state);
    int dev = harness_device();
    cr_assert_gt(n, dev);
    vitcl_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(h.desc->device_info(h.state, dev, &info), VITCL_OK);
    cl_device_id id = nth_device(dev);
    char name[256] = "", ext[16384] = "";
    cl_device_type type = 0;
    cl_bool unified = CL_FALSE;
    cl_device_fp_config dfp = 0;
    cl_uint cus = 0;
    cl_ulong gmem = 0;
    cr_assert_eq(clGetDeviceInfo(id, CL_DEVICE_NAME, sizeof name, name, NULL), CL_SUCCESS);
    cr_assert_eq(clGetDeviceInfo(id, CL_DEVICE_EXTENSIONS, sizeof ext, ext, NULL), CL_SUCCESS);
    cr_assert_eq(clGetDeviceInfo(id, CL_DEVICE_TYPE, sizeof type, &type, NULL), CL_SUCCESS);
    clGetDeviceInfo(id, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
    clGetDeviceInfo(id, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof dfp, &dfp, NULL);
    clGetDeviceInfo(id, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus, &cus, NULL);
    clGetDeviceInfo(id, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gmem, &gmem, NULL);
    cr_expect_str_eq(info.name, name);
    vitcl_device_type want_type = (type & CL_DEVICE_TYPE_GPU)           ? VITCL_DEVICE_GPU
                                  : (type & CL_DEVICE_TYPE_ACCELERATOR) ? VITCL_DEVICE_ACCELERATOR
                                  : (type & CL_DEVICE_TYPE_CPU)         ? VITCL_DEVICE_CPU
                                                                        : VITCL_DEVICE_OTHER;
    cr_expect_eq(info.type, want_type, "type %d, the device says %d", (int)info.type,
                 (int)want_type);
    cr_expect_gt(strlen(info.platform), 0);
    cr_expect_gt(strlen(info.driver), 0);
    cr_expect_eq(info.global_mem_bytes, gmem);
    cr_expect_gt(info.max_alloc_bytes, 0);
    cr_expect_eq(info.compute_units, cus);
    int fp16 = strstr(ext, "cl_khr_fp16") != NULL;
    int fp64 = strstr(ext, "cl_khr_fp64") != NULL || dfp != 0;
    int host = unified == CL_TRUE || want_type == VITCL_DEVICE_CPU;
    cr_expect_eq(!!(info.caps & VITCL_CAP_FP16), fp16, "fp16 cap vs cl_khr_fp16 in: %s", ext);
    cr_expect_eq(!!(info.caps & VITCL_CAP_FP64), fp64, "fp64 cap");
    cr_expect_eq(!!(info.caps & VITCL_CAP_HOST_UNIFIED), host, "host-unified cap");
    cr_expect_eq(!!(info.caps & VITCL_CAP_ZERO_COPY_WRAP), host, "zero-copy cap");
    cr_expect(strstr(info.extra, "OpenCL") != NULL, "extra: %s", info.extra);
    cr_expect(strstr(info.extra, "extensions") != NULL, "extra: %s", info.extra);
    /* An out-of-range index is refused. */
    cr_expect_neq(h.desc->device_info(h.state, n, &info), VITCL_OK);
    harness_close(&h);
}

Test(opencl_device, device_info_respects_a_smaller_host_struct)
{
    harness h = {0};
    harness_load(&h);
    unsigned char raw[sizeof(vitcl_device_info) + 16];
    memset(raw, 0xAB, sizeof raw);
    vitcl_device_info *info = (vitcl_device_info *)(void *)raw;
    info->struct_size = (uint32_t)offsetof(vitcl_device_info, vendor);
    cr_assert_eq(h.desc->device_info(h.state, harness_device(), info), VITCL_OK);
    for (size_t i = offsetof(vitcl_device_info, vendor); i < sizeof raw; i++)
        cr_assert_eq(raw[i], 0xAB, "byte %zu beyond the host's struct_size was written", i);
    harness_close(&h);
}

Test(opencl_device, impossible_allocation_names_label_and_size)
{
    harness h = {0};
    harness_open(&h);
    vitcl_buffer *b = NULL;
    size_t huge = SIZE_MAX / 2;
    vitcl_status s = h.desc->buffer_alloc(h.ctx, huge, "encoder.layer.7.mlp.fc1.weight", &b);
    cr_expect_eq(s, VITCL_ERR_OUT_OF_MEMORY);
    cr_expect_null(b);
    const char *msg = h.desc->last_error(h.ctx);
    char size[32];
    snprintf(size, sizeof size, "%zu", huge);
    cr_expect(strstr(msg, "encoder.layer.7.mlp.fc1.weight") != NULL, "message: %s", msg);
    cr_expect(strstr(msg, size) != NULL, "message: %s", msg);
    /* The context stays usable. */
    float v = 3.0f, r = 0.0f;
    vitcl_buffer *ok = h_upload(&h, &v, 1);
    h_download(&h, ok, 0, &r, 1);
    cr_expect_eq(r, 3.0f);
    h_free(&h, ok);
    harness_close(&h);
}

Test(opencl_device, buffer_transfers_copy_and_bounds)
{
    harness h = {0};
    harness_open(&h);
    float *a = h_random(1000, 1.0f, 1), back[1000];
    vitcl_buffer *A = h_upload(&h, a, 1000), *B = h_upload(&h, NULL, 1000);
    cr_assert_eq(h.desc->buffer_copy(h.ctx, B, 40, A, 400, 2000), VITCL_OK);
    h_download(&h, B, 10, back, 500);
    cr_expect_eq(memcmp(back, a + 100, 500 * sizeof(float)), 0);
    /* Out-of-range transfers are refused with a message, not performed. */
    cr_expect_neq(h.desc->buffer_read(h.ctx, A, 3990, back, 20), VITCL_OK);
    cr_expect(strstr(h.desc->last_error(h.ctx), "test") != NULL, "message: %s",
              h.desc->last_error(h.ctx));
    cr_expect_neq(h.desc->buffer_write(h.ctx, A, SIZE_MAX - 2, a, 8), VITCL_OK);
    h_free(&h, A), h_free(&h, B);
    free(a);
    harness_close(&h);
}

Test(opencl_device, wrap_host_is_zero_copy_and_usable_by_ops)
{
    harness h = {0};
    harness_open(&h);
    /* W [n=3, k=4] in host memory, wrapped without a copy on a host-unified device. */
    float *w = h_random(12, 1.0f, 2), x[4] = {1, 2, 3, 4}, y[3];
    vitcl_buffer *W = NULL;
    cr_assert_eq(h.desc->buffer_wrap_host(h.ctx, w, sizeof(float) * 12, "wrapped.weight", &W),
                 VITCL_OK, "%s", h.desc->last_error(h.ctx));
    vitcl_buffer *X = h_upload(&h, x, 4), *Y = h_upload(&h, NULL, 3);
    cr_assert_eq(h.desc->ops->linear(h.ctx, X, 0, W, 0, NULL, 0, Y, 0, 1, 3, 4, 0), VITCL_OK,
                 "%s", h.desc->last_error(h.ctx));
    h_download(&h, Y, 0, y, 3);
    for (int j = 0; j < 3; j++) {
        double want = 0;
        for (int t = 0; t < 4; t++)
            want += (double)x[t] * w[j * 4 + t];
        cr_expect_float_eq(y[j], want, 1e-5);
    }
    float back[12];
    h_download(&h, W, 0, back, 12);
    cr_expect_eq(memcmp(back, w, sizeof back), 0);
    h_free(&h, X), h_free(&h, Y), h_free(&h, W);
    free(w);
    harness_close(&h);
}

Test(opencl_device, profiling_records_each_op)
{
    harness h = {0};
    harness_open(&h);
    cr_assert_not_null(h.desc->profiling);
    cr_assert_not_null(h.desc->profile_drain);
    float *x = h_random(64 * 32, 1.0f, 3);
    vitcl_buffer *X = h_upload(&h, x, 64 * 32), *Y = h_upload(&h, NULL, 64 * 32);
    /* Off by default: nothing is recorded. */
    cr_assert_eq(h.desc->ops->gelu(h.ctx, X, 0, Y, 0, 64 * 32), VITCL_OK);
    cr_assert_eq(h.desc->synchronize(h.ctx), VITCL_OK);
    vitcl_op_timing t[8];
    for (size_t i = 0; i < 8; i++) /* the host sets struct_size (backend.h) */
        t[i].struct_size = (uint32_t)sizeof t[i];
    cr_expect_eq(h.desc->profile_drain(h.ctx, t, 8), 0);

    cr_assert_eq(h.desc->profiling(h.ctx, 1), VITCL_OK, "%s", h.desc->last_error(h.ctx));
    cr_assert_eq(h.desc->ops->gelu(h.ctx, X, 0, Y, 0, 64 * 32), VITCL_OK);
    cr_assert_eq(h.desc->ops->softmax(h.ctx, X, 0, Y, 0, 64, 32, 1.0f), VITCL_OK);
    cr_assert_eq(h.desc->ops->linear(h.ctx, X, 0, X, 0, NULL, 0, Y, 0, 8, 8, 32,
                                     VITCL_LINEAR_GELU),
                 VITCL_OK, "%s", h.desc->last_error(h.ctx));
    cr_assert_eq(h.desc->synchronize(h.ctx), VITCL_OK);
    size_t n = h.desc->profile_drain(h.ctx, t, 8);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(t[0].op, "gelu");
    cr_expect_str_eq(t[1].op, "softmax");
    cr_expect_str_eq(t[2].op, "linear");
    for (size_t i = 0; i < n; i++)
        cr_expect_geq(t[i].end_ns, t[i].start_ns);
    cr_expect_leq(t[0].end_ns, t[1].start_ns, "in-order queue");
    cr_expect_eq(h.desc->profile_drain(h.ctx, t, 8), 0, "drained records are gone");

    cr_assert_eq(h.desc->profiling(h.ctx, 0), VITCL_OK);
    cr_assert_eq(h.desc->ops->gelu(h.ctx, X, 0, Y, 0, 64 * 32), VITCL_OK);
    cr_assert_eq(h.desc->synchronize(h.ctx), VITCL_OK);
    cr_expect_eq(h.desc->profile_drain(h.ctx, t, 8), 0);
    h_free(&h, X), h_free(&h, Y);
    free(x);
    harness_close(&h);
}
