/* tests/loader/test_registry.c - plugin search and checks: each broken plugin is refused with
 * its own reason, the good ones still load, the search order and the searched list hold. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader_test_util.h"

TestSuite(registry, .init = loader_test_clear_env);

/* The refusal of `file` exists and contains `expect`. */
static void assert_refused(const vitcl_registry *reg, const char *file, const char *expect)
{
    const char *why = loader_test_refusal(reg, file);
    cr_assert_not_null(why, "%s was not refused", file);
    cr_assert_not_null(strstr(why, expect), "%s: reason '%s' lacks '%s'", file, why, expect);
}

static vitcl_registry *open_test_dir(void)
{
    vitcl_registry *reg = NULL;
    vitcl_status st = loader_registry_open(LOADER_TEST_DIR, 0, &reg);
    cr_assert_eq(st, VITCL_OK, "%s", vitcl_last_error());
    return reg;
}

Test(registry, each_broken_plugin_has_its_own_reason)
{
    vitcl_registry *reg = open_test_dir();
    assert_refused(reg, "bad_not_elf.so", "not a loadable shared object");
    assert_refused(reg, "bad_not_elf.so", "invalid ELF header");
    assert_refused(reg, "bad_no_entry.so", "no symbol vitcl_plugin_entry");
    assert_refused(reg, "bad_entry_null.so", "vitcl_plugin_entry returned NULL");
    assert_refused(reg, "bad_abi_major.so", "plugin ABI 2.0, host speaks 1.x");
    assert_refused(reg, "bad_missing_op.so", "required op 'softmax' is NULL");
    assert_refused(reg, "bad_small_ops.so", "op table struct_size");
    assert_refused(reg, "bad_init_fail.so", "init failed");
    assert_refused(reg, "bad_init_fail.so", "fake init failure: no devices today");
    assert_refused(reg, "bad_name.so", "invalid backend name 'Bad Name!'");
    assert_refused(reg, "zz_dup_fakecpu.so", "duplicate backend name 'fakecpu'");
    assert_refused(reg, "zz_dup_fakecpu.so", "good_cpu.so");
    cr_assert_eq(vitcl_registry_refused_count(reg), 9);
    vitcl_registry_close(reg);
}

Test(registry, good_plugins_load_beside_broken_ones)
{
    vitcl_registry *reg = open_test_dir();
    /* Sorted by file name: good_cpu, good_cpu_low, good_ctx_fail, good_gpu, good_sub. */
    static const char *const names[] = {"fakecpu", "fakecpulow", "fakectxfail", "fakegpu",
                                        "fakesub"};
    cr_assert_eq(vitcl_registry_plugin_count(reg), 5);
    for (size_t i = 0; i < 5; i++) {
        vitcl_plugin_info pi;
        cr_assert_eq(vitcl_registry_plugin(reg, i, &pi), VITCL_OK);
        cr_assert_str_eq(pi.name, names[i]);
    }
    cr_assert(loader_test_searched(reg, LOADER_TEST_DIR ": 14 candidates (explicit path)"));
    vitcl_registry_close(reg);
}

Test(registry, plugin_and_device_info)
{
    vitcl_registry *reg = loader_test_open_files("good_cpu.so", NULL);
    cr_assert_eq(vitcl_registry_plugin_count(reg), 1);
    vitcl_plugin_info pi;
    cr_assert_eq(vitcl_registry_plugin(reg, 0, &pi), VITCL_OK);
    cr_assert_str_eq(pi.name, "fakecpu");
    cr_assert_str_eq(pi.version, "0.0-test");
    cr_assert_str_eq(pi.description, "fake plugin for the loader tests");
    cr_assert_str_eq(pi.path, loader_test_file("good_cpu.so"));
    cr_assert_eq(pi.abi_major, VITCL_ABI_MAJOR);
    cr_assert_eq(pi.device_count, 2);
    cr_assert_eq(pi.auto_rank, 500);

    vitcl_device_info info;
    memset(&info, 0xab, sizeof info);
    cr_assert_eq(vitcl_registry_device(reg, 0, 1, &info), VITCL_OK);
    cr_assert_eq(info.struct_size, sizeof info);
    cr_assert_eq(info.type, VITCL_DEVICE_CPU);
    cr_assert_str_eq(info.name, "Fake CPU Beta");
    cr_assert_eq(info.compute_units, 4);

    cr_assert_eq(vitcl_registry_device(reg, 0, 2, &info), VITCL_ERR_NOT_FOUND);
    cr_assert_eq(vitcl_registry_device(reg, 0, -1, &info), VITCL_ERR_NOT_FOUND);
    cr_assert_eq(vitcl_registry_device(reg, 1, 0, &info), VITCL_ERR_NOT_FOUND);
    cr_assert_eq(vitcl_registry_plugin(reg, 1, &pi), VITCL_ERR_NOT_FOUND);
    cr_assert_eq(vitcl_registry_refused(reg, 0, NULL, NULL), VITCL_ERR_NOT_FOUND);
    cr_assert_null(vitcl_registry_searched(reg, vitcl_registry_searched_count(reg)));
    vitcl_registry_close(reg);
}

Test(registry, refused_plugins_are_unloaded_and_close_unloads_the_rest)
{
    vitcl_registry *reg = open_test_dir();
    /* init runs lazily: listing the plugins runs it, and refuses bad_init_fail.so. */
    cr_assert_gt(vitcl_registry_plugin_count(reg), 0);
    static const char *const bad[] = {"bad_no_entry.so",   "bad_entry_null.so",
                                      "bad_abi_major.so",  "bad_missing_op.so",
                                      "bad_small_ops.so",  "bad_init_fail.so",
                                      "bad_name.so",       "zz_dup_fakecpu.so"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(loader_test_is_loaded(loader_test_file(bad[i])), "%s stays loaded",
                      bad[i]);
    cr_assert(loader_test_is_loaded(loader_test_file("good_gpu.so")));
    vitcl_registry_close(reg);
    cr_assert_not(loader_test_is_loaded(loader_test_file("good_gpu.so")),
                  "registry close left good_gpu.so loaded");
}

Test(registry, plugin_path_takes_files_and_notes_missing_entries)
{
    char list[4096];
    snprintf(list, sizeof list, "%s/good_gpu.so::/nonexistent-vitcl-dir:%s/bad_abi_major.so",
             LOADER_TEST_DIR, LOADER_TEST_DIR);
    setenv("VITCL_PLUGIN_PATH", list, 1);
    vitcl_registry *reg = NULL;
    cr_assert_eq(loader_registry_open(NULL, LOADER_SEARCH_ENV, &reg), VITCL_OK);
    cr_assert_eq(vitcl_registry_plugin_count(reg), 1);
    cr_assert_not_null(loader_find_plugin(reg, "fakegpu"));
    assert_refused(reg, "bad_abi_major.so", "plugin ABI 2.0");
    cr_assert(loader_test_searched(reg, "/nonexistent-vitcl-dir: does not exist "
                                        "(VITCL_PLUGIN_PATH)"));
    cr_assert(loader_test_searched(reg, "good_gpu.so: plugin file (VITCL_PLUGIN_PATH)"));
    vitcl_registry_close(reg);
}

Test(registry, explicit_path_comes_before_plugin_path)
{
    setenv("VITCL_PLUGIN_PATH", loader_test_file("zz_dup_fakecpu.so"), 1);
    vitcl_registry *reg = NULL;
    cr_assert_eq(loader_registry_open(loader_test_file("good_cpu.so"), LOADER_SEARCH_ENV, &reg),
                 VITCL_OK);
    const loader_plugin *p = loader_find_plugin(reg, "fakecpu");
    cr_assert_not_null(p);
    cr_assert_str_eq(p->path, loader_test_file("good_cpu.so"));
    assert_refused(reg, "zz_dup_fakecpu.so", "already loaded from");
    cr_assert_str_eq(vitcl_registry_searched(reg, 0),
                     "" LOADER_TEST_DIR "/good_cpu.so: plugin file (explicit path)");
    vitcl_registry_close(reg);
}

Test(registry, a_file_reached_twice_is_considered_once)
{
    char list[4096];
    snprintf(list, sizeof list, "%s:%s/./good_gpu.so", LOADER_TEST_DIR, LOADER_TEST_DIR);
    setenv("VITCL_PLUGIN_PATH", list, 1);
    vitcl_registry *reg = NULL;
    cr_assert_eq(loader_registry_open(NULL, LOADER_SEARCH_ENV, &reg), VITCL_OK);
    cr_assert_eq(vitcl_registry_plugin_count(reg), 5);
    cr_assert_eq(vitcl_registry_refused_count(reg), 9);
    cr_assert(loader_test_searched(reg, "same file as an earlier candidate, skipped"));
    vitcl_registry_close(reg);
}

Test(registry, public_open_searches_build_tree_and_install_dir)
{
    vitcl_registry *reg = NULL;
    cr_assert_eq(vitcl_registry_open(NULL, &reg), VITCL_OK, "%s", vitcl_last_error());
    cr_assert(loader_test_searched(reg, VITCL_BUILD_ROOT "/plugins: "), "build tree not searched");
    cr_assert(loader_test_searched(reg, "(build tree)"));
    size_t n = vitcl_registry_searched_count(reg);
    cr_assert_gt(n, 0);
    cr_assert_not_null(strstr(vitcl_registry_searched(reg, n - 1), "(installed)"),
                       "last searched entry should be the install dir: %s",
                       vitcl_registry_searched(reg, n - 1));
    /* The in-tree reference plugin is found uninstalled. */
    const loader_plugin *ref = loader_find_plugin(reg, "ref");
    cr_assert_not_null(ref, "ref plugin not found in the build tree");
    cr_assert_not_null(strstr(ref->path, VITCL_BUILD_ROOT "/plugins/ref/"));
    vitcl_registry_close(reg);
}

Test(registry, bad_arguments)
{
    cr_assert_eq(vitcl_registry_open(NULL, NULL), VITCL_ERR_INVALID_ARGUMENT);
    cr_assert_eq(vitcl_registry_plugin_count(NULL), 0);
    cr_assert_eq(vitcl_registry_refused_count(NULL), 0);
    cr_assert_eq(vitcl_registry_searched_count(NULL), 0);
    vitcl_registry_close(NULL);
}
