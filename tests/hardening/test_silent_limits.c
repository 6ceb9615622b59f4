/* tests/hardening/test_silent_limits.c - limits that used to cut silently: a plugin directory
 * with more candidates than the loader keeps (the cut-off is reported in the searched list that
 * `vitcl devices` prints), and VITCL_CPU_THREADS above the core count (capped at the online
 * cores, so a process asked for 64+ threads under a capped address space still exits). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hardening_util.h"
#include "leak_check.h"
#include "vitcl/vitcl.h"

static char dir[128];

static void setup(void)
{
    harden_mkdtemp("silent", dir, sizeof dir);
}

static void teardown(void)
{
    unsetenv("VITCL_CPU_THREADS");
    harden_rmtree(dir);
    leak_check_expect_none();
}

TestSuite(silent_limits, .init = setup, .fini = teardown);

static const char *find_searched(vitcl_registry *reg, const char *needle)
{
    for (size_t i = 0; i < vitcl_registry_searched_count(reg); i++)
        if (strstr(vitcl_registry_searched(reg, i), needle))
            return vitcl_registry_searched(reg, i);
    return NULL;
}

Test(silent_limits, plugin_directory_cut_off_is_reported)
{
    /* 5000 candidates (empty files: each is refused by dlopen) plus files that are no plugin */
    for (int i = 0; i < 5000; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%04d.so", i);
        harden_write(dir, name, "", 0);
    }
    harden_write(dir, "notes.txt", "x", 1);
    vitcl_registry *reg = NULL;
    cr_assert_eq(vitcl_registry_open(dir, &reg), VITCL_OK, "%s", vitcl_last_error());
    const char *line = find_searched(reg, "NOT considered");
    cr_assert(line, "no searched entry reports the cut-off");
    cr_expect(strstr(line, "4096 candidates") && strstr(line, "904 more *.so files") &&
              strstr(line, dir), "%s", line);
    vitcl_registry_close(reg);

    /* at the bound exactly: nothing is cut, nothing reported */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -f %s/p4*.so", dir); /* p4000..p4999 */
    cr_assert_eq(system(cmd), 0);
    for (int i = 4000; i < 4096; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%04d.so", i);
        harden_write(dir, name, "", 0);
    }
    cr_assert_eq(vitcl_registry_open(dir, &reg), VITCL_OK);
    cr_expect_null(find_searched(reg, "NOT considered"));
    cr_expect(find_searched(reg, "4096 candidates"), "4096 candidates not all listed");
    vitcl_registry_close(reg);
}

static int cpu_built(void)
{
    return strstr("," VITCL_BUILT_PLUGINS ",", ",cpu,") != NULL;
}

static size_t task_count(void)
{
    DIR *d = opendir("/proc/self/task");
    cr_assert(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

Test(silent_limits, cpu_threads_are_capped_at_the_cores)
{
    if (!cpu_built())
        cr_skip_test("the cpu plugin is not built");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    vitcl_registry *reg = NULL;
    vitcl_backend *be = NULL;
    cr_assert_eq(vitcl_registry_open(NULL, &reg), VITCL_OK);
    size_t before = task_count();
    setenv("VITCL_CPU_THREADS", "200", 1);
    cr_assert_eq(vitcl_backend_open(reg, "cpu", NULL, &be), VITCL_OK, "%s", vitcl_last_error());
    size_t during = task_count();
    /* the pool's workers (threads - 1) and OpenBLAS's: both at most the cores, not 200 each */
    cr_expect_leq(during - before, (size_t)(2 * cores + 2), "%zu threads started for %ld cores",
                  during - before, cores);
    vitcl_model *m = NULL;
    cr_assert_eq(vitcl_model_load(be, harden_model_dir("d48_h3_l2_p16_s64"), &m), VITCL_OK, "%s",
                 vitcl_last_error());
    vitcl_model_free(m);
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
}

/* The hang: 64 threads under a capped address space finished but never exited. The
 * run has two minutes (a hang guard); ASan cannot run under a small ulimit -v. */
Test(silent_limits, many_threads_under_capped_address_space_exit)
{
#if defined(__SANITIZE_ADDRESS__)
    cr_skip_test("AddressSanitizer reserves more address space than the cap");
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    cr_skip_test("AddressSanitizer reserves more address space than the cap");
#endif
#endif
    if (!cpu_built())
        cr_skip_test("the cpu plugin is not built");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "ulimit -v 2000000; VITCL_CPU_THREADS=64 timeout 120 %s/host/cli/vitcl run %s "
             "--input %s/golden/native_b1/pixel_values.npy --output %s/o.npy --backend cpu "
             ">/dev/null 2>&1",
             VITCL_BUILD_ROOT, harden_model_dir("d48_h3_l2_p16_s64"),
             harden_model_dir("d48_h3_l2_p16_s64"), dir);
    int st = system(cmd);
    cr_assert(WIFEXITED(st), "killed by a signal");
    cr_expect_neq(WEXITSTATUS(st), 124, "still running after 120 s (timeout)");
    cr_expect_eq(WEXITSTATUS(st), 0, "exit %d", WEXITSTATUS(st));
}
