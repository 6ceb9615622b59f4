/* tests/loader/test_lazy_init.c - plugins are initialised only when needed: opening a backend by
 * name starts that plugin alone, while device listings and backend "auto" start every plugin.
 * Checked on the fake plugins through the loader's own record, and on the real build tree by
 * which shared objects the dynamic linker loads into `vitcl run --backend ref` (LD_DEBUG=libs)
 * against `vitcl devices`: the OpenCL runtime (an ICD library from /etc/OpenCL/vendors) must be
 * loaded by the second and not by the first. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader_test_util.h"
#include "vitcl/vitcl.h"

TestSuite(lazy_init, .init = loader_test_clear_env);

Test(lazy_init, named_backend_starts_only_its_plugin)
{
    vitcl_registry *reg = loader_test_open_files("good_gpu.so", "good_cpu.so", "bad_init_fail.so",
                                                 NULL);
    cr_assert_not(loader_plugin_started(reg, "fakecpu"));
    cr_assert_not(loader_plugin_started(reg, "fakegpu"));
    vitcl_backend *be = NULL;
    cr_assert_eq(vitcl_backend_open(reg, "fakecpu", "auto", &be), VITCL_OK, "%s",
                 vitcl_last_error());
    cr_assert(loader_plugin_started(reg, "fakecpu"));
    cr_assert_not(loader_plugin_started(reg, "fakegpu"), "opening fakecpu started fakegpu");
    /* Listing sees everything: every plugin starts, the failing one becomes a refusal. */
    cr_assert_eq(vitcl_registry_plugin_count(reg), 2);
    cr_assert(loader_plugin_started(reg, "fakegpu"));
    const char *why = loader_test_refusal(reg, "bad_init_fail.so");
    cr_assert(why && strstr(why, "init failed"), "%s", why ? why : "(no refusal)");
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
}

Test(lazy_init, auto_starts_every_plugin)
{
    vitcl_registry *reg = loader_test_open_files("good_cpu.so", "good_gpu.so", NULL);
    vitcl_backend *be = NULL;
    cr_assert_eq(vitcl_backend_open(reg, "auto", "auto", &be), VITCL_OK, "%s",
                 vitcl_last_error());
    cr_assert_str_eq(vitcl_backend_name(be), "fakegpu"); /* GPU first, though searched second */
    cr_assert(loader_plugin_started(reg, "fakecpu"));
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
}

Test(lazy_init, named_plugin_whose_init_fails_is_reported)
{
    vitcl_registry *reg = loader_test_open_files("bad_init_fail.so", "good_cpu.so", NULL);
    vitcl_backend *be = (vitcl_backend *)1;
    cr_assert_eq(vitcl_backend_open(reg, "fakeinitfail", "auto", &be), VITCL_ERR_NOT_FOUND);
    const char *m = vitcl_last_error();
    cr_assert(strstr(m, "fakeinitfail") && strstr(m, "fake init failure"), "%s", m);
    cr_assert_not(loader_plugin_started(reg, "fakecpu"));
    vitcl_registry_close(reg);
}

/* Library file names the OpenCL ICD loader would load (one per vendor file); n set. */
static size_t icd_libraries(char names[][256], size_t max)
{
    const char *dir = getenv("OCL_ICD_VENDORS");
    if (!dir || !dir[0])
        dir = "/etc/OpenCL/vendors";
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".icd"))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(names[n], 256, f)) {
            names[n][strcspn(names[n], "\r\n")] = '\0';
            const char *slash = strrchr(names[n], '/');
            if (slash)
                memmove(names[n], slash + 1, strlen(slash));
            if (names[n][0])
                n++;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Runs the CLI with LD_DEBUG=libs and returns the linker's log (malloc'd). */
static char *linker_log(const char *args)
{
    char log[] = "/tmp/vitcl-lazy-XXXXXX";
    int fd = mkstemp(log);
    cr_assert_geq(fd, 0);
    close(fd);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "LD_DEBUG=libs LD_DEBUG_OUTPUT='%s' '%s' %s >/dev/null 2>&1", log,
             VITCL_CLI_PATH, args);
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "'%s' failed (%d)", cmd, rc);
    /* glibc appends ".PID" to LD_DEBUG_OUTPUT: gather every such file. */
    char pattern[64];
    snprintf(pattern, sizeof pattern, "cat %s.* 2>/dev/null; rm -f %s %s.*", log, log, log);
    FILE *p = popen(pattern, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 20, used = 0;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    size_t got;
    while ((got = fread(text + used, 1, cap - 1 - used, p)) > 0) {
        used += got;
        if (used + 1 == cap) {
            cap *= 2;
            text = realloc(text, cap);
            cr_assert_not_null(text);
        }
    }
    text[used] = '\0';
    pclose(p);
    return text;
}

static int mentions_any(const char *log, char names[][256], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(log, names[i]))
            return 1;
    return 0;
}

Test(lazy_init, run_on_ref_does_not_load_the_opencl_runtime)
{
    char opencl[4096];
    snprintf(opencl, sizeof opencl, "%s/plugins/opencl/vitcl_opencl.so", VITCL_BUILD_ROOT);
    if (access(opencl, R_OK) != 0)
        cr_skip_test("the opencl plugin is not built");
    char icd[8][256];
    size_t n = icd_libraries(icd, 8);
    if (n == 0)
        cr_skip_test("no OpenCL ICD is installed");
    /* Control: listing devices starts the OpenCL plugin, which loads the runtime. */
    char *log = linker_log("devices");
    cr_assert(mentions_any(log, icd, n), "vitcl devices did not load %s: the check is blind",
              icd[0]);
    free(log);
    const char *m = VITCL_SOURCE_ROOT "/tests/fixtures/models/d32_h4_l1_p7_s30";
    char args[4096];
    snprintf(args, sizeof args, "run '%s' --input '%s/golden/native_b1/pixel_values.npy' --output "
             "/tmp/vitcl-lazy-out.npy --backend ref", m, m);
    log = linker_log(args);
    cr_assert_not(mentions_any(log, icd, n), "vitcl run --backend ref loaded %s", icd[0]);
    cr_assert(strstr(log, "vitcl_ref.so"), "the ref plugin was not loaded at all?");
    free(log);
    unlink("/tmp/vitcl-lazy-out.npy");
}
