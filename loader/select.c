/* loader/select.c - backend selection: picks a plugin and device from the registry (by name,
 * VITCL_BACKEND, VITCL_DEVICE or "auto"), opens a context on it, and closes it again. When
 * nothing fits, the error lists what was asked, what loaded, every refusal and every path. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "fault_inject.h"
#include "loader_internal.h"
#include "registry_private.h"

/* ------------------------------------------------------------------ message building */

typedef struct msgbuf {
    char text[4096];
    size_t used;
} msgbuf;

static void msg_add(msgbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg_add(msgbuf *m, const char *fmt, ...)
{
    if (m->used + 1 >= sizeof m->text)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->text + m->used, sizeof m->text - m->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        m->used += (size_t)n < sizeof m->text - m->used ? (size_t)n : sizeof m->text - m->used - 1;
}

/* Appends "; loaded: ...; refused: ...; searched: ..." describing the whole registry. */
static void msg_add_registry(msgbuf *m, const vitcl_registry *reg)
{
    msg_add(m, "; loaded: ");
    if (!reg->plugin_count)
        msg_add(m, "none");
    for (size_t i = 0; i < reg->plugin_count; i++)
        msg_add(m, "%s%s (%s, %d device%s)", i ? ", " : "", reg->plugins[i].name,
                reg->plugins[i].path, reg->plugins[i].device_count,
                reg->plugins[i].device_count == 1 ? "" : "s");
    msg_add(m, "; refused: ");
    if (!reg->refused_count)
        msg_add(m, "none");
    for (size_t i = 0; i < reg->refused_count; i++)
        msg_add(m, "%s%s (%s)", i ? ", " : "", reg->refused[i].path, reg->refused[i].reason);
    msg_add(m, "; searched: ");
    if (!reg->searched_count)
        msg_add(m, "nothing");
    for (size_t i = 0; i < reg->searched_count; i++)
        msg_add(m, "%s%s", i ? ", " : "", reg->searched[i]);
}

/* ------------------------------------------------------------------ choosing a device */

/* What the caller asked for, after reading the environment. */
typedef struct request {
    const char *backend;      /* plugin name or "auto" */
    const char *backend_from; /* "argument", "VITCL_BACKEND" or "default" */
    const char *device;       /* index, name substring or "auto" */
    const char *device_from;
    int by_index;             /* device is a decimal index */
    unsigned long index;
} request;

static int is_auto(const char *s)
{
    return !s || !*s || !strcasecmp(s, "auto");
}

static void read_request(request *rq, const char *backend, const char *device)
{
    rq->backend_from = "argument";
    if (!backend) {
        backend = getenv("VITCL_BACKEND");
        rq->backend_from = backend && *backend ? "VITCL_BACKEND" : "default";
    }
    rq->backend = is_auto(backend) ? "auto" : backend;
    rq->device_from = "argument";
    if (!device) {
        device = getenv("VITCL_DEVICE");
        rq->device_from = device && *device ? "VITCL_DEVICE" : "default";
    }
    rq->device = is_auto(device) ? "auto" : device;
    rq->by_index = 0;
    if (strcmp(rq->device, "auto") && strspn(rq->device, "0123456789") == strlen(rq->device)) {
        errno = 0;
        rq->index = strtoul(rq->device, NULL, 10);
        rq->by_index = 1;
        if (errno == ERANGE || rq->index > (unsigned long)INT32_MAX)
            rq->index = (unsigned long)INT32_MAX; /* matches no device */
    }
}

/* How a device matches the request: 0 not at all, 1 by a name substring, 2 exactly (the whole
 * name, ignoring case; "auto" and an index count as exact). */
static int device_match(const request *rq, int index, const vitcl_device_info *info)
{
    if (!strcmp(rq->device, "auto"))
        return 2;
    if (rq->by_index)
        return (unsigned long)index == rq->index ? 2 : 0;
    if (!strcasecmp(info->name, rq->device))
        return 2;
    return strcasestr(info->name, rq->device) != NULL;
}

/* GPUs first, then accelerators, then CPUs and other devices. */
static int type_class(vitcl_device_type t)
{
    return t == VITCL_DEVICE_GPU ? 0 : t == VITCL_DEVICE_ACCELERATOR ? 1 : 2;
}

/* 1 when device (pa, da) should be preferred over (pb, db): type class, then the plugin's
 * auto_rank (higher first); ties keep search order and device order. */
static int better(const vitcl_registry *reg, size_t pa, int da, size_t pb, int db)
{
    const loader_plugin *a = &reg->plugins[pa], *b = &reg->plugins[pb];
    int ca = type_class(a->devices[da].type), cb = type_class(b->devices[db].type);
    if (ca != cb)
        return ca < cb;
    if (a->desc->auto_rank != b->desc->auto_rank)
        return a->desc->auto_rank > b->desc->auto_rank;
    return 0;
}

/* Finds the device to open; returns VITCL_OK or a NOT_FOUND error with the full story. */
static vitcl_status choose(const vitcl_registry *reg, const request *rq, size_t *plugin,
                           int *device)
{
    const loader_plugin *named = NULL;
    int all = !strcmp(rq->backend, "auto");
    if (!all && !(named = loader_find_plugin(reg, rq->backend))) {
        msgbuf m = {.used = 0};
        msg_add(&m, "no plugin named '%s' (backend from %s)", rq->backend, rq->backend_from);
        msg_add_registry(&m, reg);
        return vitcl_fail(VITCL_ERR_NOT_FOUND, "%s", m.text);
    }
    /* An exact device name beats substrings; a substring that names more than one device is
     * refused (the PoCL and Intel CPU runtimes name the same processor, one a substring of the
     * other, so "first match" would silently pick the wrong one). */
    int want = 1, substring_matches = 0;
    for (size_t p = 0; p < reg->plugin_count; p++)
        for (int d = 0; d < reg->plugins[p].device_count; d++) {
            if (named && named != &reg->plugins[p])
                continue;
            int how = device_match(rq, d, &reg->plugins[p].devices[d]);
            if (how == 2)
                want = 2;
            substring_matches += how == 1;
        }
    if (want == 1 && substring_matches > 1) {
        msgbuf m = {.used = 0};
        msg_add(&m, "device '%s' (device from %s) is ambiguous: it matches %d devices:", rq->device,
                rq->device_from, substring_matches);
        for (size_t p = 0; p < reg->plugin_count; p++)
            for (int d = 0; d < reg->plugins[p].device_count; d++)
                if ((!named || named == &reg->plugins[p]) &&
                    device_match(rq, d, &reg->plugins[p].devices[d]) == 1)
                    msg_add(&m, " [%s device %d '%s']", reg->plugins[p].name, d,
                            reg->plugins[p].devices[d].name);
        msg_add(&m, "; give the exact name, a longer substring, or the plugin and index shown by "
                    "`vitcl devices`");
        return vitcl_fail(VITCL_ERR_NOT_FOUND, "%s", m.text);
    }
    int found = 0;
    for (size_t p = 0; p < reg->plugin_count; p++) {
        if (named && named != &reg->plugins[p])
            continue;
        for (int d = 0; d < reg->plugins[p].device_count; d++) {
            if (device_match(rq, d, &reg->plugins[p].devices[d]) != want)
                continue;
            if (!found || better(reg, p, d, *plugin, *device)) {
                *plugin = p;
                *device = d;
                found = 1;
            }
        }
    }
    if (found)
        return VITCL_OK;

    msgbuf m = {.used = 0};
    if (named && !named->device_count)
        msg_add(&m, "plugin '%s' (%s) has no devices", named->name, named->path);
    else if (named) {
        msg_add(&m, "plugin '%s' has no device matching '%s' (device from %s); its devices:",
                named->name, rq->device, rq->device_from);
        for (int d = 0; d < named->device_count; d++)
            msg_add(&m, " %d '%s'", d, named->devices[d].name);
    } else if (!strcmp(rq->device, "auto"))
        msg_add(&m, "no usable backend device found (backend 'auto')");
    else
        msg_add(&m, "no device matches '%s' (device from %s) in any plugin (backend 'auto')",
                rq->device, rq->device_from);
    msg_add_registry(&m, reg);
    return vitcl_fail(VITCL_ERR_NOT_FOUND, "%s", m.text);
}

/* ------------------------------------------------------------------ backends */

vitcl_status vitcl_backend_open(vitcl_registry *reg, const char *backend, const char *device,
                                vitcl_backend **out)
{
    if (!reg || !out)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_backend_open: %s is NULL",
                          reg ? "out" : "reg");
    *out = NULL;
    request rq = {0};
    read_request(&rq, backend, device);
    size_t pi = 0;
    int di = 0;
    /* "auto" starts every plugin; a named backend starts only its own (in choose). */
    vitcl_status st = strcmp(rq.backend, "auto") ? VITCL_OK : loader_init_all(reg);
    if (st == VITCL_OK)
        st = choose(reg, &rq, &pi, &di);
    if (st != VITCL_OK)
        return st;
    const loader_plugin *p = &reg->plugins[pi];

    vitcl_backend *be = calloc(1, sizeof *be);
    if (!be)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "vitcl_backend_open: out of memory");
    if (pthread_mutex_init(&be->lock, NULL)) {
        free(be);
        return vitcl_fail(VITCL_ERR_INTERNAL, "vitcl_backend_open: pthread_mutex_init failed");
    }
    be->reg = reg;
    be->desc = p->desc;
    be->ops = p->desc->ops;
    be->plugin_state = p->state;
    be->device_index = di;
    be->info = p->devices[di];

    char err[1024] = "";
    vitcl_context *ctx = NULL;
    pthread_mutex_lock(&reg->lock);
    st = p->desc->context_create(p->state, di, &ctx, err, sizeof err);
    pthread_mutex_unlock(&reg->lock);
    err[sizeof err - 1] = '\0';
    if (st == VITCL_OK && !ctx) {
        st = VITCL_ERR_PLUGIN;
        snprintf(err, sizeof err, "context_create reported success but returned no context");
    }
    if (st != VITCL_OK) {
        pthread_mutex_destroy(&be->lock);
        free(be);
        vitcl_status ret = (st > VITCL_OK && st <= VITCL_ERR_INTERNAL) ? st : VITCL_ERR_PLUGIN;
        return vitcl_fail(ret, "plugin '%s' (%s): context_create on device %d '%s' failed (%s): %s",
                          p->name, p->path, di, p->devices[di].name, vitcl_status_name(st),
                          err[0] ? err : "the plugin gave no message");
    }
    be->ctx = ctx;
    if ((st = loader_fault_wrap(be)) != VITCL_OK) { /* only with VITCL_FAULT_INJECT set */
        pthread_mutex_lock(&reg->lock);
        p->desc->context_destroy(ctx);
        pthread_mutex_unlock(&reg->lock);
        pthread_mutex_destroy(&be->lock);
        free(be);
        return st;
    }
    *out = be;
    return VITCL_OK;
}

void vitcl_backend_close(vitcl_backend *be)
{
    if (!be)
        return;
    pthread_mutex_lock(&be->reg->lock);
    be->desc->context_destroy(be->ctx);
    pthread_mutex_unlock(&be->reg->lock);
    pthread_mutex_destroy(&be->lock);
    free(be);
}

const char *vitcl_backend_name(const vitcl_backend *be)
{
    return be ? be->desc->name : NULL;
}

const vitcl_device_info *vitcl_backend_device(const vitcl_backend *be)
{
    return be ? &be->info : NULL;
}

vitcl_status vitcl_backend_device_notes(vitcl_backend *be, char *out, size_t len)
{
    if (!be || !out || len == 0)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_backend_device_notes: %s",
                          !be ? "NULL backend" : "no room for the notes");
    vitcl_device_info *now = calloc(1, sizeof *now);
    if (!now)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "vitcl_backend_device_notes: out of memory");
    now->struct_size = (uint32_t)sizeof *now;
    pthread_mutex_lock(&be->lock);
    vitcl_status st = be->desc->device_info(be->plugin_state, be->device_index, now);
    pthread_mutex_unlock(&be->lock);
    if (st == VITCL_OK) {
        now->extra[sizeof now->extra - 1] = '\0';
        snprintf(out, len, "%s", now->extra);
    } else {
        st = vitcl_fail(st, "vitcl_backend_device_notes: %s: device_info of device %d failed",
                        be->desc->name, be->device_index);
    }
    free(now);
    return st;
}

vitcl_status vitcl_backend_fail(const vitcl_backend *be, vitcl_status status, const char *what)
{
    const char *msg = be->desc->last_error(be->ctx);
    return vitcl_fail(status, "%s: %s on %s: %s", what ? what : "backend call", be->desc->name,
                      be->info.name, msg && msg[0] ? msg : "the plugin gave no message");
}
