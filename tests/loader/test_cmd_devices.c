/* tests/loader/test_cmd_devices.c - the built `vitcl devices` program, run on the fake plugins:
 * it lists the good ones with their devices and each broken one with its reason, and exits 0. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "loader_test_util.h"
#include "vitcl/backend.h"

TestSuite(cmd_devices, .init = loader_test_clear_env);

/* Runs `vitcl ARGS`, returns its stdout (malloc'd) and exit status. */
static char *run_cli(const char *args, int *status)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", VITCL_CLI_PATH, args);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f, "popen %s", cmd);
    size_t cap = 1 << 16, used = 0;
    char *out = malloc(cap);
    cr_assert_not_null(out);
    size_t n;
    while ((n = fread(out + used, 1, cap - used - 1, f)) > 0) {
        used += n;
        if (used + 1 == cap) {
            cap *= 2;
            out = realloc(out, cap);
            cr_assert_not_null(out);
        }
    }
    out[used] = '\0';
    int rc = pclose(f);
    cr_assert(WIFEXITED(rc), "vitcl %s did not exit normally", args);
    *status = WEXITSTATUS(rc);
    return out;
}

static void assert_has(const char *out, const char *text)
{
    cr_assert_not_null(strstr(out, text), "output lacks '%s':\n%s", text, out);
}

Test(cmd_devices, lists_good_and_broken_plugins_from_plugin_path)
{
    setenv("VITCL_PLUGIN_PATH", LOADER_TEST_DIR, 1);
    int status = -1;
    char *out = run_cli("devices", &status);
    cr_assert_eq(status, 0, "exit status %d:\n%s", status, out);
    char head[96];
    snprintf(head, sizeof head, "plugin fakegpu 0.0-test (ABI %d.%d, auto_rank 1)",
             VITCL_ABI_MAJOR, VITCL_ABI_MINOR);
    assert_has(out, head);
    assert_has(out, "device 0: GPU 'Fake GPU Alpha'");
    assert_has(out, "device 1: CPU 'Fake CPU Beta'\n    select: --backend fakecpu --device 1\n");
    assert_has(out, "capabilities: fp64");
    assert_has(out, "path: " LOADER_TEST_DIR "/good_cpu.so");
    static const char *const refusals[][2] = {
        {"bad_not_elf.so", "invalid ELF header"},
        {"bad_no_entry.so", "no symbol vitcl_plugin_entry"},
        {"bad_entry_null.so", "returned NULL"},
        {"bad_abi_major.so", "plugin ABI 2.0, host speaks 1.x"},
        {"bad_missing_op.so", "required op 'softmax' is NULL"},
        {"bad_small_ops.so", "op table struct_size"},
        {"bad_init_fail.so", "fake init failure: no devices today"},
        {"bad_name.so", "invalid backend name"},
        {"zz_dup_fakecpu.so", "duplicate backend name 'fakecpu'"},
    };
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        char line[4096];
        /* The path, then on the next line the reason. */
        snprintf(line, sizeof line, "  %s/%s\n    ", LOADER_TEST_DIR, refusals[i][0]);
        const char *at = strstr(out, line);
        cr_assert_not_null(at, "no refusal entry for %s:\n%s", refusals[i][0], out);
        const char *eol = strchr(at + strlen(line), '\n');
        cr_assert_not_null(eol);
        char reason[2048];
        size_t len = (size_t)(eol - (at + strlen(line)));
        cr_assert_lt(len, sizeof reason);
        memcpy(reason, at + strlen(line), len);
        reason[len] = '\0';
        cr_assert_not_null(strstr(reason, refusals[i][1]), "%s: reason '%s' lacks '%s'",
                           refusals[i][0], reason, refusals[i][1]);
    }
    assert_has(out, LOADER_TEST_DIR ": 14 candidates (VITCL_PLUGIN_PATH)");
    free(out);
}

Test(cmd_devices, plugin_option_searches_that_path_first)
{
    int status = -1;
    char *out = run_cli("devices --plugin '" LOADER_TEST_DIR "/good_gpu.so'", &status);
    cr_assert_eq(status, 0);
    assert_has(out, "plugin fakegpu");
    assert_has(out, "good_gpu.so: plugin file (explicit path)");
    free(out);
}

Test(cmd_devices, usage_errors_exit_2)
{
    int status = -1;
    char *out = run_cli("devices --bogus", &status);
    cr_assert_eq(status, 2);
    free(out);
    out = run_cli("devices --plugin", &status);
    cr_assert_eq(status, 2);
    free(out);
}
