/* loader/search.c - the plugin search order: explicit path, VITCL_PLUGIN_PATH, the build tree
 * (only when running uninstalled) and the installed plugin directory. Every path looked at is
 * noted in the registry's searched list; every candidate file goes to loader_check_candidate. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "registry_private.h"

#ifndef VITCL_BUILD_ROOT
#error "VITCL_BUILD_ROOT must be defined by the build (meson.build passes it)"
#endif
#ifndef VITCL_PLUGIN_INSTALL_DIR
#error "VITCL_PLUGIN_INSTALL_DIR must be defined by the build (meson.build passes it)"
#endif

/* Upper bound on the candidates kept from one directory, so a hostile directory cannot make the
 * registry allocate (and dlopen) without limit. Every entry is still read, so the candidates
 * beyond the bound are counted and reported in the searched list (`vitcl devices`). */
#define MAX_DIR_ENTRIES 4096

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_so_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && !strcmp(name + n - 3, ".so");
}

static void free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

/* Lists the entries of dir, sorted by name: regular files ending in ".so" (want_dirs == 0) or
 * subdirectories (want_dirs == 1); symlinks are followed. At most MAX_DIR_ENTRIES are kept, in
 * directory order; *left counts the names past that bound (".so" names, or every name when
 * want_dirs; not stat'ed). Returns 0, or -1 with errno set (ENOMEM on out of memory, else why
 * the directory could not be read). */
static int list_dir(const char *dir, int want_dirs, char ***out, size_t *count, size_t *left)
{
    *out = NULL;
    *count = 0;
    *left = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (!want_dirs && !has_so_suffix(e->d_name))
            continue;
        if (n == MAX_DIR_ENTRIES) {
            (*left)++;
            continue;
        }
        char *full = loader_strdupf("%s/%s", dir, e->d_name);
        if (!full)
            goto nomem;
        struct stat st;
        int keep = stat(full, &st) == 0 && (want_dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
        free(full);
        if (!keep)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **p = realloc(names, ncap * sizeof *p);
            if (!p)
                goto nomem;
            names = p;
            cap = ncap;
        }
        if (!(names[n] = strdup(e->d_name)))
            goto nomem;
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_names);
    *out = names;
    *count = n;
    return 0;
nomem:
    closedir(d);
    free_names(names, n);
    errno = ENOMEM;
    return -1;
}

static vitcl_status oom(const char *path)
{
    return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "plugin search: out of memory at %s", path);
}

/* One candidate file: skipped when the same file (by realpath) was already considered. */
static vitcl_status consider_file(vitcl_registry *reg, const char *path, const char *origin)
{
    char *real = realpath(path, NULL);
    if (!real) {
        if (errno == ENOMEM)
            return oom(path);
        return loader_note_refused(reg, path, "cannot resolve path: %s", strerror(errno));
    }
    int seen = loader_mark_seen(reg, real);
    free(real);
    if (seen < 0)
        return VITCL_ERR_OUT_OF_MEMORY;
    if (seen)
        return loader_note_searched(reg, path, "same file as an earlier candidate, skipped (%s)",
                                    origin);
    return loader_check_candidate(reg, path);
}

/* A path from the explicit argument, VITCL_PLUGIN_PATH or a plugin directory: a plugin file or
 * a directory whose *.so files are candidates. */
static vitcl_status search_path(vitcl_registry *reg, const char *path, const char *origin)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return loader_note_searched(reg, path, "does not exist (%s)", origin);
        return loader_note_searched(reg, path, "cannot access: %s (%s)", strerror(errno),
                                    origin);
    }
    if (S_ISREG(st.st_mode)) {
        vitcl_status s = loader_note_searched(reg, path, "plugin file (%s)", origin);
        return s != VITCL_OK ? s : consider_file(reg, path, origin);
    }
    if (!S_ISDIR(st.st_mode))
        return loader_note_searched(reg, path, "not a file or directory (%s)", origin);

    char **names;
    size_t count, left;
    if (list_dir(path, 0, &names, &count, &left) != 0) {
        if (errno == ENOMEM)
            return oom(path);
        return loader_note_searched(reg, path, "cannot read directory: %s (%s)", strerror(errno),
                                    origin);
    }
    vitcl_status s =
        left ? loader_note_searched(reg, path, "%zu candidates (%s); %zu more *.so files NOT "
                                    "considered: at most %d per directory",
                                    count, origin, left, MAX_DIR_ENTRIES)
             : loader_note_searched(reg, path, "%zu candidate%s (%s)", count,
                                    count == 1 ? "" : "s", origin);
    for (size_t i = 0; i < count && s == VITCL_OK; i++) {
        char *full = loader_strdupf("%s/%s", path, names[i]);
        s = full ? consider_file(reg, full, origin) : oom(path);
        free(full);
    }
    free_names(names, count);
    return s;
}

static vitcl_status search_env(vitcl_registry *reg)
{
    const char *env = getenv("VITCL_PLUGIN_PATH");
    if (!env || !*env)
        return VITCL_OK;
    char *copy = strdup(env);
    if (!copy)
        return oom("VITCL_PLUGIN_PATH");
    vitcl_status s = VITCL_OK;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ":", &save); tok && s == VITCL_OK;
         tok = strtok_r(NULL, ":", &save))
        s = search_path(reg, tok, "VITCL_PLUGIN_PATH");
    free(copy);
    return s;
}

/* The file of the library or program that contains this code, resolved; NULL if unknown. */
static char *containing_object(void)
{
    Dl_info info;
    struct link_map *lm = NULL;
    if (!dladdr1((void *)&loader_search, &info, (void **)&lm, RTLD_DL_LINKMAP))
        return NULL;
    /* The main program's link map has an empty name (dladdr would give argv[0]). */
    if (lm && lm->l_name && lm->l_name[0])
        return realpath(lm->l_name, NULL);
    return realpath("/proc/self/exe", NULL);
}

static vitcl_status search_build_tree(vitcl_registry *reg)
{
    const char *root = VITCL_BUILD_ROOT;
    char *plugins_dir = loader_strdupf("%s/plugins", root);
    if (!plugins_dir)
        return oom(root);
    char *obj = containing_object();
    char *root_real = realpath(root, NULL);
    size_t rl = root_real ? strlen(root_real) : 0;
    int uninstalled = obj && root_real && !strncmp(obj, root_real, rl) && obj[rl] == '/';
    vitcl_status s;
    if (!uninstalled) {
        s = loader_note_searched(reg, plugins_dir, "skipped: %s is not inside the build tree "
                                 "(build tree)", obj ? obj : "this program");
        goto done;
    }
    char **names;
    size_t count, left;
    if (list_dir(plugins_dir, 1, &names, &count, &left) != 0) {
        if (errno == ENOMEM)
            s = oom(plugins_dir);
        else
            s = loader_note_searched(reg, plugins_dir, "cannot read directory: %s (build tree)",
                                     strerror(errno));
        goto done;
    }
    s = loader_note_searched(reg, plugins_dir, "%zu plugin director%s (build tree)%s", count,
                             count == 1 ? "y" : "ies",
                             left ? "; more entries NOT considered: at most 4096" : "");
    for (size_t i = 0; i < count && s == VITCL_OK; i++) {
        char *dir = loader_strdupf("%s/%s", plugins_dir, names[i]);
        s = dir ? search_path(reg, dir, "build tree") : oom(plugins_dir);
        free(dir);
    }
    free_names(names, count);
done:
    free(obj);
    free(root_real);
    free(plugins_dir);
    return s;
}

vitcl_status loader_search(vitcl_registry *reg, const char *explicit_path, unsigned sources)
{
    vitcl_status s = VITCL_OK;
    if (explicit_path)
        s = search_path(reg, explicit_path, "explicit path");
    if (s == VITCL_OK && (sources & LOADER_SEARCH_ENV))
        s = search_env(reg);
    if (s == VITCL_OK && (sources & LOADER_SEARCH_BUILD_TREE))
        s = search_build_tree(reg);
    if (s == VITCL_OK && (sources & LOADER_SEARCH_INSTALLED))
        s = search_path(reg, VITCL_PLUGIN_INSTALL_DIR, "installed");
    return s;
}
