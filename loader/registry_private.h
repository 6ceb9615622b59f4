/* loader/registry_private.h - the registry's data and the functions loader/ files share.
 *
 * registry.c owns the struct and its lists (accepted plugins, refusals, searched paths);
 * search.c walks the search order and hands each candidate file to plugin_check.c, which
 * accepts or refuses it; select.c picks a device and opens a backend on it. None of this is
 * visible outside libvitcl; tests reach it through the static twin library.
 */
#ifndef VITCL_LOADER_REGISTRY_PRIVATE_H
#define VITCL_LOADER_REGISTRY_PRIVATE_H

#include <pthread.h>
#include <stddef.h>

#include "vitcl/backend.h"
#include "vitcl/vitcl.h"

/* One accepted plugin: dlopened and its descriptor checked at registry open; initialised (init,
 * device infos read once) lazily, the first time something needs its devices (loader_init_*),
 * so that opening one backend by name starts no other plugin's runtime. Strings are copies
 * owned by the registry. */
typedef enum loader_init_state {
    LOADER_INIT_PENDING = 0, /* not initialised yet */
    LOADER_INIT_READY = 1,   /* init and device enumeration succeeded */
    LOADER_INIT_FAILED = -1  /* refused (recorded in the refusals) and dlclosed; desc is NULL */
} loader_init_state;

typedef struct loader_plugin {
    char *path;        /* the file as found (explicit, PATH entry or directory + name) */
    void *dl;          /* dlopen handle */
    const vitcl_backend_desc *desc;
    void *state;       /* what init returned (may be NULL) */
    int initialised;   /* init succeeded: release calls shutdown */
    loader_init_state init_state;
    char *name, *version, *description;
    int device_count;
    vitcl_device_info *devices; /* device_count entries */
} loader_plugin;

typedef struct loader_refusal {
    char *path;
    char *reason;
} loader_refusal;

struct vitcl_registry {
    loader_plugin *plugins;
    size_t plugin_count, plugin_cap;
    loader_refusal *refused;
    size_t refused_count, refused_cap;
    char **searched; /* "PATH: what was found" */
    size_t searched_count, searched_cap;
    char **seen;     /* realpaths of every candidate already considered */
    size_t seen_count, seen_cap;
    pthread_mutex_t lock; /* serialises context_create/context_destroy across threads */
    pthread_mutex_t init_lock; /* serialises lazy plugin initialisation */
    int all_initialised;       /* every plugin is READY or FAILED (set under init_lock) */
};

/* Where to look; vitcl_registry_open uses LOADER_SEARCH_ALL. The explicit path, when given,
 * is always searched first. */
#define LOADER_SEARCH_ENV 1u        /* VITCL_PLUGIN_PATH */
#define LOADER_SEARCH_BUILD_TREE 2u /* VITCL_BUILD_ROOT/plugins/ * / when running uninstalled */
#define LOADER_SEARCH_INSTALLED 4u  /* VITCL_PLUGIN_INSTALL_DIR */
#define LOADER_SEARCH_ALL 7u

/* vitcl_registry_open restricted to the sources in `sources` (LOADER_SEARCH_* bits): tests use
 * it to see only their own plugins. Same ownership and errors as vitcl_registry_open. */
vitcl_status loader_registry_open(const char *explicit_path, unsigned sources,
                                  vitcl_registry **out);

/* Appends "PATH: printf-formatted note" to the searched list. VITCL_ERR_OUT_OF_MEMORY is the
 * only failure (the thread's error message is set). */
vitcl_status loader_note_searched(vitcl_registry *reg, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a refusal of `path` with a printf-formatted reason. Fails only on out of memory. */
vitcl_status loader_note_refused(vitcl_registry *reg, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns 1 when real_path was already considered, else remembers it and returns 0; -1 on out
 * of memory (the thread's error message is set). */
int loader_mark_seen(vitcl_registry *reg, const char *real_path);

/* Appends an accepted plugin; on success the registry owns everything *p points to, on
 * failure (out of memory) the caller still does. */
vitcl_status loader_add_plugin(vitcl_registry *reg, const loader_plugin *p);

/* Shuts a plugin down (when initialised), dlcloses it and frees its strings. */
void loader_plugin_release(loader_plugin *p);

/* The accepted plugin named `name`, initialised first if it was not yet (only that one); NULL
 * when there is none or its initialisation failed (it is then among the refusals). The
 * registry is logically const: lazy initialisation happens under its init_lock. */
const loader_plugin *loader_find_plugin(const vitcl_registry *reg, const char *name);

/* Initialises every plugin not yet initialised (those that fail join the refusals), once;
 * later calls return at once. Thread-safe. Fails only on out of memory. */
vitcl_status loader_init_all(const vitcl_registry *reg);

/* Runs p's init and reads its device infos (p pending, caller holds reg->init_lock). On
 * failure p becomes FAILED: the refusal is recorded with its reason ("init failed (STATUS):
 * message", "device_count returned N ...") and the file dlclosed. Fails only on out of memory
 * (p then FAILED too). */
vitcl_status loader_plugin_init(vitcl_registry *reg, loader_plugin *p);

/* 1 when the plugin named `name` has been initialised (READY), 0 when it has not (pending,
 * failed or absent). Does not initialise anything; for tests of lazy initialisation. */
int loader_plugin_started(const vitcl_registry *reg, const char *name);

/* Looks at one candidate file: dlopen, entry symbol and descriptor checks. Accepts it into reg
 * (pending initialisation) or records a refusal with a specific reason; either way returns
 * VITCL_OK. Fails only on out of memory. */
vitcl_status loader_check_candidate(vitcl_registry *reg, const char *path);

/* Searches every source in `sources` (and explicit_path first when not NULL), feeding each
 * candidate to loader_check_candidate. Fails only on out of memory. */
vitcl_status loader_search(vitcl_registry *reg, const char *explicit_path, unsigned sources);

/* Builds a printf-formatted, heap-allocated string; NULL on out of memory. */
char *loader_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
