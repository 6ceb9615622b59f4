/* tests/loader/loader_test_util.c - helpers shared by the loader tests. */
#include "loader_test_util.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void loader_test_clear_env(void)
{
    unsetenv("VITCL_PLUGIN_PATH");
    unsetenv("VITCL_BACKEND");
    unsetenv("VITCL_DEVICE");
}

const char *loader_test_file(const char *file)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", LOADER_TEST_DIR, file);
    return buf;
}

vitcl_registry *loader_test_open_files(const char *first, ...)
{
    char list[8192] = "";
    size_t used = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *f = first; f; f = va_arg(ap, const char *)) {
        int n = snprintf(list + used, sizeof list - used, "%s%s/%s", used ? ":" : "",
                         LOADER_TEST_DIR, f);
        cr_assert(n > 0 && (size_t)n < sizeof list - used, "plugin list too long");
        used += (size_t)n;
    }
    va_end(ap);
    setenv("VITCL_PLUGIN_PATH", list, 1);
    vitcl_registry *reg = NULL;
    vitcl_status st = loader_registry_open(NULL, LOADER_SEARCH_ENV, &reg);
    cr_assert_eq(st, VITCL_OK, "registry open failed: %s", vitcl_last_error());
    cr_assert_not_null(reg);
    return reg;
}

const char *loader_test_refusal(const vitcl_registry *reg, const char *file)
{
    size_t fl = strlen(file);
    for (size_t i = 0; i < vitcl_registry_refused_count(reg); i++) {
        const char *path, *reason;
        cr_assert_eq(vitcl_registry_refused(reg, i, &path, &reason), VITCL_OK);
        size_t pl = strlen(path);
        if (pl > fl && path[pl - fl - 1] == '/' && !strcmp(path + pl - fl, file))
            return reason;
    }
    return NULL;
}

int loader_test_searched(const vitcl_registry *reg, const char *text)
{
    for (size_t i = 0; i < vitcl_registry_searched_count(reg); i++)
        if (strstr(vitcl_registry_searched(reg, i), text))
            return 1;
    return 0;
}

int loader_test_is_loaded(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (!h)
        return 0;
    dlclose(h);
    return 1;
}
