/* loader/registry.c - the plugin registry: its lists, opening, closing, lazy plugin
 * initialisation and the read accessors. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "registry_private.h"

/* Returns arr (count used, *cap allocated elements of `elem` bytes) with room for one more,
 * reallocated when full; NULL on overflow or out of memory, arr then unchanged. */
static void *grow(void *arr, size_t count, size_t *cap, size_t elem)
{
    if (count < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap < *cap || ncap > SIZE_MAX / elem)
        return NULL;
    void *p = realloc(arr, ncap * elem);
    if (p)
        *cap = ncap;
    return p;
}

static vitcl_status oom(const char *what)
{
    return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "plugin registry: out of memory while %s", what);
}

/* Formats "head: fmt..." into a new string. */
static char *vformat_with_head(const char *head, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    size_t hl = head ? strlen(head) + 2 : 0;
    if ((size_t)n > SIZE_MAX - hl - 1)
        return NULL;
    char *s = malloc(hl + (size_t)n + 1);
    if (!s)
        return NULL;
    if (head)
        snprintf(s, hl + 1, "%s: ", head);
    vsnprintf(s + hl, (size_t)n + 1, fmt, ap);
    return s;
}

char *loader_strdupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vformat_with_head(NULL, fmt, ap);
    va_end(ap);
    return s;
}

vitcl_status loader_note_searched(vitcl_registry *reg, const char *path, const char *fmt, ...)
{
    char **list = grow(reg->searched, reg->searched_count, &reg->searched_cap, sizeof *list);
    if (!list)
        return oom("recording a searched path");
    reg->searched = list;
    va_list ap;
    va_start(ap, fmt);
    char *s = vformat_with_head(path, fmt, ap);
    va_end(ap);
    if (!s)
        return oom("recording a searched path");
    reg->searched[reg->searched_count++] = s;
    return VITCL_OK;
}

vitcl_status loader_note_refused(vitcl_registry *reg, const char *path, const char *fmt, ...)
{
    loader_refusal *list = grow(reg->refused, reg->refused_count, &reg->refused_cap,
                                sizeof *list);
    if (!list)
        return oom("recording a refused plugin");
    reg->refused = list;
    va_list ap;
    va_start(ap, fmt);
    char *reason = vformat_with_head(NULL, fmt, ap);
    va_end(ap);
    char *p = strdup(path);
    if (!reason || !p) {
        free(reason);
        free(p);
        return oom("recording a refused plugin");
    }
    reg->refused[reg->refused_count].path = p;
    reg->refused[reg->refused_count].reason = reason;
    reg->refused_count++;
    return VITCL_OK;
}

int loader_mark_seen(vitcl_registry *reg, const char *real_path)
{
    for (size_t i = 0; i < reg->seen_count; i++)
        if (!strcmp(reg->seen[i], real_path))
            return 1;
    char **list = grow(reg->seen, reg->seen_count, &reg->seen_cap, sizeof *list);
    char *s = list ? strdup(real_path) : NULL;
    if (list)
        reg->seen = list;
    if (!s) {
        oom("recording a candidate");
        return -1;
    }
    reg->seen[reg->seen_count++] = s;
    return 0;
}

vitcl_status loader_add_plugin(vitcl_registry *reg, const loader_plugin *p)
{
    loader_plugin *list = grow(reg->plugins, reg->plugin_count, &reg->plugin_cap, sizeof *list);
    if (!list)
        return oom("accepting a plugin");
    reg->plugins = list;
    reg->plugins[reg->plugin_count++] = *p;
    return VITCL_OK;
}

void loader_plugin_release(loader_plugin *p)
{
    if (p->initialised && p->desc && p->desc->shutdown)
        p->desc->shutdown(p->state);
    if (p->dl)
        dlclose(p->dl);
    free(p->path);
    free(p->name);
    free(p->version);
    free(p->description);
    free(p->devices);
    memset(p, 0, sizeof *p);
}

const loader_plugin *loader_find_plugin(const vitcl_registry *creg, const char *name)
{
    vitcl_registry *reg = (vitcl_registry *)creg; /* lazy init: see registry_private.h */
    loader_plugin *p = NULL;
    for (size_t i = 0; i < reg->plugin_count && !p; i++)
        if (!strcmp(reg->plugins[i].name, name))
            p = &reg->plugins[i];
    if (!p)
        return NULL;
    pthread_mutex_lock(&reg->init_lock);
    if (p->init_state == LOADER_INIT_PENDING)
        loader_plugin_init(reg, p); /* a failure is recorded as a refusal */
    int ready = p->init_state == LOADER_INIT_READY;
    pthread_mutex_unlock(&reg->init_lock);
    return ready ? p : NULL;
}

vitcl_status loader_init_all(const vitcl_registry *creg)
{
    vitcl_registry *reg = (vitcl_registry *)creg;
    vitcl_status st = VITCL_OK;
    pthread_mutex_lock(&reg->init_lock);
    for (size_t i = 0; i < reg->plugin_count && !reg->all_initialised; i++)
        if (reg->plugins[i].init_state == LOADER_INIT_PENDING) {
            vitcl_status s = loader_plugin_init(reg, &reg->plugins[i]);
            if (s != VITCL_OK && st == VITCL_OK)
                st = s;
        }
    reg->all_initialised = 1;
    pthread_mutex_unlock(&reg->init_lock);
    return st;
}

int loader_plugin_started(const vitcl_registry *creg, const char *name)
{
    vitcl_registry *reg = (vitcl_registry *)creg;
    int started = 0;
    pthread_mutex_lock(&reg->init_lock);
    for (size_t i = 0; i < reg->plugin_count; i++)
        if (!strcmp(reg->plugins[i].name, name))
            started = reg->plugins[i].init_state == LOADER_INIT_READY;
    pthread_mutex_unlock(&reg->init_lock);
    return started;
}

/* The index-th plugin that initialised successfully (every plugin initialised first). */
static const loader_plugin *ready_plugin(const vitcl_registry *reg, size_t index)
{
    loader_init_all(reg);
    for (size_t i = 0; i < reg->plugin_count; i++)
        if (reg->plugins[i].init_state == LOADER_INIT_READY && index-- == 0)
            return &reg->plugins[i];
    return NULL;
}

vitcl_status loader_registry_open(const char *explicit_path, unsigned sources,
                                  vitcl_registry **out)
{
    if (!out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_registry_open: out is NULL");
    *out = NULL;
    vitcl_registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return oom("opening");
    if (pthread_mutex_init(&reg->lock, NULL)) {
        free(reg);
        return vitcl_fail(VITCL_ERR_INTERNAL, "plugin registry: pthread_mutex_init failed");
    }
    if (pthread_mutex_init(&reg->init_lock, NULL)) {
        pthread_mutex_destroy(&reg->lock);
        free(reg);
        return vitcl_fail(VITCL_ERR_INTERNAL, "plugin registry: pthread_mutex_init failed");
    }
    vitcl_status st = loader_search(reg, explicit_path, sources);
    if (st != VITCL_OK) {
        vitcl_registry_close(reg);
        return st;
    }
    *out = reg;
    return VITCL_OK;
}

vitcl_status vitcl_registry_open(const char *explicit_path, vitcl_registry **out)
{
    return loader_registry_open(explicit_path, LOADER_SEARCH_ALL, out);
}

void vitcl_registry_close(vitcl_registry *reg)
{
    if (!reg)
        return;
    /* Unload in reverse order of loading. */
    for (size_t i = reg->plugin_count; i-- > 0;)
        loader_plugin_release(&reg->plugins[i]);
    free(reg->plugins);
    for (size_t i = 0; i < reg->refused_count; i++) {
        free(reg->refused[i].path);
        free(reg->refused[i].reason);
    }
    free(reg->refused);
    for (size_t i = 0; i < reg->searched_count; i++)
        free(reg->searched[i]);
    free(reg->searched);
    for (size_t i = 0; i < reg->seen_count; i++)
        free(reg->seen[i]);
    free(reg->seen);
    pthread_mutex_destroy(&reg->lock);
    pthread_mutex_destroy(&reg->init_lock);
    free(reg);
}

size_t vitcl_registry_plugin_count(const vitcl_registry *reg)
{
    if (!reg)
        return 0;
    loader_init_all(reg);
    size_t n = 0;
    for (size_t i = 0; i < reg->plugin_count; i++)
        n += reg->plugins[i].init_state == LOADER_INIT_READY;
    return n;
}

vitcl_status vitcl_registry_plugin(const vitcl_registry *reg, size_t index, vitcl_plugin_info *out)
{
    if (!reg || !out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_registry_plugin: NULL argument");
    const loader_plugin *p = ready_plugin(reg, index);
    if (!p)
        return vitcl_fail(VITCL_ERR_NOT_FOUND,
                          "vitcl_registry_plugin: index %zu out of range (%zu plugins)", index,
                          vitcl_registry_plugin_count(reg));
    out->name = p->name;
    out->version = p->version;
    out->description = p->description;
    out->path = p->path;
    out->abi_major = p->desc->abi_major;
    out->abi_minor = p->desc->abi_minor;
    out->device_count = p->device_count;
    out->auto_rank = p->desc->auto_rank;
    return VITCL_OK;
}

vitcl_status vitcl_registry_device(const vitcl_registry *reg, size_t plugin, int device,
                                   vitcl_device_info *info)
{
    if (!reg || !info)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_registry_device: NULL argument");
    const loader_plugin *p = ready_plugin(reg, plugin);
    if (!p)
        return vitcl_fail(VITCL_ERR_NOT_FOUND,
                          "vitcl_registry_device: plugin index %zu out of range (%zu plugins)",
                          plugin, vitcl_registry_plugin_count(reg));
    if (device < 0 || device >= p->device_count)
        return vitcl_fail(VITCL_ERR_NOT_FOUND,
                          "vitcl_registry_device: plugin '%s' has no device %d (%d devices)",
                          p->name, device, p->device_count);
    *info = p->devices[device];
    return VITCL_OK;
}

size_t vitcl_registry_refused_count(const vitcl_registry *reg)
{
    if (!reg)
        return 0;
    loader_init_all(reg); /* a failed init is a refusal */
    return reg->refused_count;
}

vitcl_status vitcl_registry_refused(const vitcl_registry *reg, size_t index, const char **path,
                                    const char **reason)
{
    if (!reg)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_registry_refused: reg is NULL");
    loader_init_all(reg);
    if (index >= reg->refused_count)
        return vitcl_fail(VITCL_ERR_NOT_FOUND,
                          "vitcl_registry_refused: index %zu out of range (%zu refused)", index,
                          reg->refused_count);
    if (path)
        *path = reg->refused[index].path;
    if (reason)
        *reason = reg->refused[index].reason;
    return VITCL_OK;
}

size_t vitcl_registry_searched_count(const vitcl_registry *reg)
{
    return reg ? reg->searched_count : 0;
}

const char *vitcl_registry_searched(const vitcl_registry *reg, size_t index)
{
    if (!reg || index >= reg->searched_count)
        return NULL;
    return reg->searched[index];
}
