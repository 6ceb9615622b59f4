/* tests/loader/test_select.c - backend selection: by name argument, VITCL_BACKEND, VITCL_DEVICE
 * index and substring, "auto" (GPU first, then auto_rank), and the errors when nothing fits. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "loader_internal.h"
#include "loader_test_util.h"

TestSuite(select, .init = loader_test_clear_env);

/* Opens a backend and checks the plugin and device chosen. */
static void assert_opens(vitcl_registry *reg, const char *backend, const char *device,
                         const char *want_plugin, const char *want_device, int want_index)
{
    vitcl_backend *be = NULL;
    vitcl_status st = vitcl_backend_open(reg, backend, device, &be);
    cr_assert_eq(st, VITCL_OK, "open(%s, %s): %s", backend ? backend : "NULL",
                 device ? device : "NULL", vitcl_last_error());
    cr_assert_str_eq(vitcl_backend_name(be), want_plugin);
    cr_assert_str_eq(vitcl_backend_device(be)->name, want_device);
    cr_assert_eq(be->device_index, want_index);
    cr_assert_not_null(be->ctx);
    cr_assert_eq(be->ops, be->desc->ops);
    vitcl_backend_close(be);
}

static vitcl_registry *open_good(void)
{
    /* The low-rank CPU plugin comes first so that rank, not search order, must decide. */
    return loader_test_open_files("good_cpu_low.so", "good_cpu.so", "good_gpu.so",
                                  "good_ctx_fail.so", NULL);
}

Test(select, by_name_argument)
{
    vitcl_registry *reg = open_good();
    assert_opens(reg, "fakecpulow", NULL, "fakecpulow", "Fake CPU Gamma", 0);
    assert_opens(reg, "fakecpu", NULL, "fakecpu", "Fake CPU Alpha", 0);
    vitcl_registry_close(reg);
}

Test(select, by_vitcl_backend_and_argument_overrides_it)
{
    vitcl_registry *reg = open_good();
    setenv("VITCL_BACKEND", "fakecpulow", 1);
    assert_opens(reg, NULL, NULL, "fakecpulow", "Fake CPU Gamma", 0);
    assert_opens(reg, "fakegpu", NULL, "fakegpu", "Fake GPU Alpha", 0);
    vitcl_registry_close(reg);
}

Test(select, by_vitcl_device_index)
{
    vitcl_registry *reg = open_good();
    setenv("VITCL_BACKEND", "fakecpu", 1);
    setenv("VITCL_DEVICE", "1", 1);
    assert_opens(reg, NULL, NULL, "fakecpu", "Fake CPU Beta", 1);
    assert_opens(reg, NULL, "0", "fakecpu", "Fake CPU Alpha", 0);
    vitcl_registry_close(reg);
}

Test(select, by_vitcl_device_substring_case_insensitive)
{
    vitcl_registry *reg = open_good();
    setenv("VITCL_BACKEND", "fakecpu", 1);
    setenv("VITCL_DEVICE", "bEtA", 1);
    assert_opens(reg, NULL, NULL, "fakecpu", "Fake CPU Beta", 1);
    vitcl_registry_close(reg);
}

Test(select, auto_prefers_gpu_over_higher_ranked_cpu)
{
    vitcl_registry *reg = open_good();
    assert_opens(reg, NULL, NULL, "fakegpu", "Fake GPU Alpha", 0);
    assert_opens(reg, "auto", "auto", "fakegpu", "Fake GPU Alpha", 0);
    setenv("VITCL_BACKEND", "auto", 1);
    assert_opens(reg, NULL, "gpu", "fakegpu", "Fake GPU Alpha", 0);
    vitcl_registry_close(reg);
}

Test(select, auto_orders_cpus_by_rank)
{
    vitcl_registry *reg = loader_test_open_files("good_cpu_low.so", "good_cpu.so", NULL);
    assert_opens(reg, NULL, NULL, "fakecpu", "Fake CPU Alpha", 0);
    vitcl_registry_close(reg);
    /* Among all fakes, an exact name or a substring that names one device picks that one. */
    reg = open_good();
    assert_opens(reg, "auto", "fake cpu alpha", "fakecpu", "Fake CPU Alpha", 0);
    assert_opens(reg, "auto", "gamma", "fakecpulow", "Fake CPU Gamma", 0);
    vitcl_registry_close(reg);
}

Test(select, exact_name_beats_substring)
{
    /* "Fake Xeon 9" is device 1's whole name and a substring of device 0's. */
    vitcl_registry *reg = loader_test_open_files("good_sub.so", "good_cpu.so", NULL);
    assert_opens(reg, NULL, "Fake Xeon 9", "fakesub", "Fake Xeon 9", 1);
    assert_opens(reg, "fakesub", "fake XEON 9", "fakesub", "Fake Xeon 9", 1);
    assert_opens(reg, NULL, "pthread", "fakesub", "pthread-Fake Xeon 9", 0);
    vitcl_registry_close(reg);
}

Test(select, ambiguous_substring_is_refused_with_the_matches)
{
    vitcl_registry *reg = open_good();
    vitcl_backend *be = (vitcl_backend *)0x1;
    setenv("VITCL_DEVICE", "fake cpu", 1);
    cr_assert_eq(vitcl_backend_open(reg, NULL, NULL, &be), VITCL_ERR_NOT_FOUND);
    cr_assert_null(be);
    const char *msg = vitcl_last_error();
    cr_assert_not_null(strstr(msg, "device 'fake cpu' (device from VITCL_DEVICE) is ambiguous: "
                                   "it matches 3 devices"), "%s", msg);
    cr_assert_not_null(strstr(msg, "[fakecpu device 0 'Fake CPU Alpha']"), "%s", msg);
    cr_assert_not_null(strstr(msg, "[fakecpu device 1 'Fake CPU Beta']"), "%s", msg);
    cr_assert_not_null(strstr(msg, "[fakecpulow device 0 'Fake CPU Gamma']"), "%s", msg);
    cr_assert_null(strstr(msg, "GPU"), "%s", msg);
    /* Within one named plugin only its own devices count. */
    cr_assert_eq(vitcl_backend_open(reg, "fakecpu", NULL, &be), VITCL_ERR_NOT_FOUND);
    cr_assert_not_null(strstr(vitcl_last_error(), "it matches 2 devices"), "%s",
                       vitcl_last_error());
    cr_assert_null(strstr(vitcl_last_error(), "Gamma"), "%s", vitcl_last_error());
    assert_opens(reg, "fakecpulow", NULL, "fakecpulow", "Fake CPU Gamma", 0);
    vitcl_registry_close(reg);
    reg = loader_test_open_files("good_sub.so", NULL);
    cr_assert_eq(vitcl_backend_open(reg, NULL, "xeon", &be), VITCL_ERR_NOT_FOUND);
    cr_assert_not_null(strstr(vitcl_last_error(), "[fakesub device 0 'pthread-Fake Xeon 9']"),
                       "%s", vitcl_last_error());
    vitcl_registry_close(reg);
}

Test(select, unknown_plugin_lists_loaded_refused_and_searched)
{
    vitcl_registry *reg = loader_test_open_files("good_cpu.so", "bad_abi_major.so",
                                                 "no_such_plugin.so", NULL);
    vitcl_backend *be = (vitcl_backend *)0x1;
    cr_assert_eq(vitcl_backend_open(reg, "opencl", NULL, &be), VITCL_ERR_NOT_FOUND);
    cr_assert_null(be);
    const char *msg = vitcl_last_error();
    cr_assert_not_null(strstr(msg, "no plugin named 'opencl'"), "%s", msg);
    cr_assert_not_null(strstr(msg, "loaded: fakecpu"), "%s", msg);
    cr_assert_not_null(strstr(msg, "bad_abi_major.so (plugin ABI 2.0, host speaks 1.x)"), "%s",
                       msg);
    cr_assert_not_null(strstr(msg, "no_such_plugin.so: does not exist"), "%s", msg);
    vitcl_registry_close(reg);
}

Test(select, empty_registry_lists_paths_tried)
{
    vitcl_registry *reg = NULL;
    cr_assert_eq(loader_registry_open("/nonexistent-vitcl-plugins", 0, &reg), VITCL_OK);
    vitcl_backend *be = NULL;
    cr_assert_eq(vitcl_backend_open(reg, NULL, NULL, &be), VITCL_ERR_NOT_FOUND);
    const char *msg = vitcl_last_error();
    cr_assert_not_null(strstr(msg, "no usable backend device"), "%s", msg);
    cr_assert_not_null(strstr(msg, "loaded: none"), "%s", msg);
    cr_assert_not_null(strstr(msg, "/nonexistent-vitcl-plugins: does not exist"), "%s", msg);
    vitcl_registry_close(reg);
}

Test(select, device_that_does_not_match)
{
    vitcl_registry *reg = open_good();
    vitcl_backend *be = NULL;
    cr_assert_eq(vitcl_backend_open(reg, "fakecpu", "zeta", &be), VITCL_ERR_NOT_FOUND);
    const char *msg = vitcl_last_error();
    cr_assert_not_null(strstr(msg, "plugin 'fakecpu' has no device matching 'zeta'"), "%s", msg);
    cr_assert_not_null(strstr(msg, "1 'Fake CPU Beta'"), "%s", msg);
    setenv("VITCL_DEVICE", "7", 1);
    cr_assert_eq(vitcl_backend_open(reg, "fakecpu", NULL, &be), VITCL_ERR_NOT_FOUND);
    cr_assert_not_null(strstr(vitcl_last_error(), "'7' (device from VITCL_DEVICE)"), "%s",
                       vitcl_last_error());
    cr_assert_eq(vitcl_backend_open(reg, NULL, "99999999999999999999999", &be),
                 VITCL_ERR_NOT_FOUND);
    vitcl_registry_close(reg);
}

Test(select, context_create_failure_reports_plugin_message)
{
    vitcl_registry *reg = open_good();
    vitcl_backend *be = NULL;
    cr_assert_eq(vitcl_backend_open(reg, "fakectxfail", NULL, &be), VITCL_ERR_DEVICE);
    cr_assert_null(be);
    const char *msg = vitcl_last_error();
    cr_assert_not_null(strstr(msg, "fake context failure on purpose"), "%s", msg);
    cr_assert_not_null(strstr(msg, "context_create on device 0 'Fake Failing Context'"), "%s",
                       msg);
    vitcl_registry_close(reg);
}

Test(select, backend_fail_names_op_plugin_device_and_cause)
{
    vitcl_registry *reg = open_good();
    vitcl_backend *be = NULL;
    cr_assert_eq(vitcl_backend_open(reg, "fakecpu", "beta", &be), VITCL_OK);
    pthread_mutex_lock(&be->lock);
    vitcl_status st = be->ops->gelu(be->ctx, NULL, 0, NULL, 0, 1);
    cr_assert_eq(st, VITCL_ERR_UNSUPPORTED);
    cr_assert_eq(vitcl_backend_fail(be, st, "gelu"), VITCL_ERR_UNSUPPORTED);
    pthread_mutex_unlock(&be->lock);
    cr_assert_str_eq(vitcl_last_error(),
                     "gelu: fakecpu on Fake CPU Beta: fake backend fakecpu: ops are not "
                     "implemented");
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
}

Test(select, ref_plugin_from_build_tree)
{
    vitcl_registry *reg = NULL;
    cr_assert_eq(vitcl_registry_open(NULL, &reg), VITCL_OK);
    vitcl_backend *be = NULL;
    cr_assert_eq(vitcl_backend_open(reg, "ref", NULL, &be), VITCL_OK, "%s", vitcl_last_error());
    cr_assert_str_eq(vitcl_backend_name(be), "ref");
    cr_assert_eq(vitcl_backend_device(be)->struct_size, sizeof(vitcl_device_info));
    /* The notes as the plugin reports them now: ref's never change, so they equal the copy
     * taken at open; truncated to the room given, and refused without any. */
    char notes[sizeof vitcl_backend_device(be)->extra], small[8];
    cr_assert_eq(vitcl_backend_device_notes(be, notes, sizeof notes), VITCL_OK, "%s",
                 vitcl_last_error());
    cr_assert_str_eq(notes, vitcl_backend_device(be)->extra);
    cr_assert_eq(vitcl_backend_device_notes(be, small, sizeof small), VITCL_OK);
    cr_assert_eq(strncmp(small, notes, sizeof small - 1), 0);
    cr_assert_eq(small[sizeof small - 1], '\0');
    cr_assert_eq(vitcl_backend_device_notes(be, notes, 0), VITCL_ERR_INVALID_ARGUMENT);
    cr_assert_eq(vitcl_backend_device_notes(NULL, notes, sizeof notes),
                 VITCL_ERR_INVALID_ARGUMENT);
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
}

static void *open_close_many(void *arg)
{
    vitcl_registry *reg = arg;
    for (int i = 0; i < 200; i++) {
        vitcl_backend *be = NULL;
        if (vitcl_backend_open(reg, "fakecpu", i % 2 ? "beta" : "0", &be) != VITCL_OK)
            return (void *)1;
        vitcl_backend_close(be);
    }
    return NULL;
}

Test(select, threads_share_one_registry)
{
    vitcl_registry *reg = open_good();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, open_close_many, reg), 0);
    for (int i = 0; i < 4; i++) {
        void *ret = (void *)1;
        cr_assert_eq(pthread_join(t[i], &ret), 0);
        cr_assert_null(ret, "a thread failed to open a backend");
    }
    vitcl_registry_close(reg);
}

Test(select, bad_arguments)
{
    vitcl_backend *be = NULL;
    cr_assert_eq(vitcl_backend_open(NULL, NULL, NULL, &be), VITCL_ERR_INVALID_ARGUMENT);
    cr_assert_null(vitcl_backend_name(NULL));
    cr_assert_null(vitcl_backend_device(NULL));
    vitcl_backend_close(NULL);
}
