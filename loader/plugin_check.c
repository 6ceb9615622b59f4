/* loader/plugin_check.c - accepts or refuses one candidate plugin file: dlopen, the entry
 * symbol, the descriptor's ABI version, size, name and required entries; later, when the plugin
 * is first needed, init and device enumeration. Every refusal says exactly what was wrong; a
 * refused plugin is dlclosed. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "registry_private.h"

#define MAX_NAME_LEN 32
#define MAX_TEXT_LEN 512   /* version and description are cut here */
#define MAX_DEVICES 1024   /* more is certainly a broken plugin */

/* dlerror's text without the leading "PATH: " (the refusal already names the file). */
static const char *dl_message(const char *path)
{
    const char *e = dlerror();
    if (!e)
        return "unknown dlopen error";
    size_t pl = strlen(path);
    if (!strncmp(e, path, pl) && e[pl] == ':' && e[pl + 1] == ' ')
        return e + pl + 2;
    return e;
}

/* 1 when name is 1..MAX_NAME_LEN characters of [a-z0-9_-]. */
static int valid_name(const char *name)
{
    size_t n = 0;
    for (; name[n]; n++) {
        char c = name[n];
        if (n >= MAX_NAME_LEN ||
            !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return n > 0;
}

/* A printable copy of an untrusted string for messages: at most 40 bytes, others as '?'. */
static void printable(const char *s, char *buf, size_t len)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len && i < 40; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    buf[i] = '\0';
}

static char *copy_text(const char *s)
{
    return s ? strndup(s, MAX_TEXT_LEN) : strdup("");
}

/* Appends "sep + text" to buf (len bytes), truncating. */
static void append(char *buf, size_t len, const char *text)
{
    size_t used = strlen(buf);
    if (used + 1 < len)
        snprintf(buf + used, len - used, "%s%s", used ? "; " : "", text);
}

/* Checks the descriptor's static content. Returns 1 when acceptable, else 0 with the reason in
 * why. Fields are only read once struct_size is known to cover them. */
static int check_descriptor(const vitcl_registry *reg, const vitcl_backend_desc *d, char *why,
                            size_t len)
{
    size_t need_version = offsetof(vitcl_backend_desc, abi_minor) + sizeof d->abi_minor;
    if (d->struct_size < need_version) {
        snprintf(why, len, "descriptor struct_size %u is too small to hold an ABI version",
                 (unsigned)d->struct_size);
        return 0;
    }
    if (d->abi_major != VITCL_ABI_MAJOR) {
        snprintf(why, len, "plugin ABI %u.%u, host speaks %d.x", (unsigned)d->abi_major,
                 (unsigned)d->abi_minor, VITCL_ABI_MAJOR);
        return 0;
    }
    size_t need = offsetof(vitcl_backend_desc, ops) + sizeof d->ops;
    if (d->struct_size < need) {
        snprintf(why, len, "descriptor struct_size %u is smaller than the %zu bytes ABI %d.0 "
                 "requires", (unsigned)d->struct_size, need, VITCL_ABI_MAJOR);
        return 0;
    }
    if (!d->name) {
        snprintf(why, len, "descriptor name is NULL");
        return 0;
    }
    if (!valid_name(d->name)) {
        char shown[48];
        printable(d->name, shown, sizeof shown);
        snprintf(why, len, "invalid backend name '%s': use 1 to %d characters of [a-z0-9_-]",
                 shown, MAX_NAME_LEN);
        return 0;
    }
    const loader_plugin *prev = NULL; /* by name only: nothing is initialised here */
    for (size_t i = 0; i < reg->plugin_count && !prev; i++)
        if (!strcmp(reg->plugins[i].name, d->name))
            prev = &reg->plugins[i];
    if (prev) {
        snprintf(why, len, "duplicate backend name '%s' (already loaded from %s)", d->name,
                 prev->path);
        return 0;
    }

    why[0] = '\0';
#define REQUIRE(field)                                             \
    if (!d->field)                                                 \
        append(why, len, "required entry '" #field "' is NULL");
    REQUIRE(init) REQUIRE(shutdown) REQUIRE(device_count) REQUIRE(device_info)
    REQUIRE(context_create) REQUIRE(context_destroy) REQUIRE(last_error) REQUIRE(synchronize)
    REQUIRE(buffer_alloc) REQUIRE(buffer_free) REQUIRE(buffer_write) REQUIRE(buffer_read)
    REQUIRE(buffer_copy) REQUIRE(ops)
#undef REQUIRE
    if (why[0])
        return 0;

    const vitcl_op_table *ops = d->ops;
    size_t need_ops = offsetof(vitcl_op_table, patch_embed) + sizeof ops->patch_embed;
    if (ops->struct_size < need_ops) {
        snprintf(why, len, "op table struct_size %u is smaller than the %zu bytes its required "
                 "ops need", (unsigned)ops->struct_size, need_ops);
        return 0;
    }
#define REQUIRE_OP(field)                                       \
    if (!ops->field)                                            \
        append(why, len, "required op '" #field "' is NULL");
    REQUIRE_OP(linear) REQUIRE_OP(gemm_batched) REQUIRE_OP(layernorm) REQUIRE_OP(gelu)
    REQUIRE_OP(add) REQUIRE_OP(softmax) REQUIRE_OP(patch_embed)
#undef REQUIRE_OP
    return why[0] == '\0';
}

/* Reads every device's info after init. Returns 1 on success, 0 with the reason in why, -1 on
 * out of memory. */
static int read_devices(loader_plugin *p, char *why, size_t len)
{
    const vitcl_backend_desc *d = p->desc;
    int n = d->device_count(p->state);
    if (n < 0 || n > MAX_DEVICES) {
        snprintf(why, len, "device_count returned %d (expected 0 to %d)", n, MAX_DEVICES);
        return 0;
    }
    p->devices = calloc(n ? (size_t)n : 1, sizeof *p->devices);
    if (!p->devices)
        return -1;
    for (int i = 0; i < n; i++) {
        vitcl_device_info *info = &p->devices[i];
        info->struct_size = (uint32_t)sizeof *info;
        vitcl_status st = d->device_info(p->state, i, info);
        if (st != VITCL_OK) {
            snprintf(why, len, "device_info for device %d failed (%s)", i,
                     vitcl_status_name(st));
            return 0;
        }
        /* The plugin's view of the struct is trusted only as far as we can check it. */
        info->struct_size = (uint32_t)sizeof *info;
        info->name[sizeof info->name - 1] = '\0';
        info->vendor[sizeof info->vendor - 1] = '\0';
        info->driver[sizeof info->driver - 1] = '\0';
        info->platform[sizeof info->platform - 1] = '\0';
        info->extra[sizeof info->extra - 1] = '\0';
        info->precision_notes[sizeof info->precision_notes - 1] = '\0';
        /* Precisions exist from ABI 1.1; fp32 is always offered, unknown bits are dropped. */
        if (d->abi_minor < 1) {
            info->precisions = 0;
            info->precision_notes[0] = '\0';
        }
        info->precisions = (info->precisions & (VITCL_PRECISION_BIT(VITCL_PRECISION_COUNT_) - 1u)) |
                           VITCL_PRECISION_BIT(VITCL_PRECISION_FP32);
        if ((unsigned)info->type > (unsigned)VITCL_DEVICE_OTHER)
            info->type = VITCL_DEVICE_OTHER;
    }
    p->device_count = n;
    return 1;
}

vitcl_status loader_check_candidate(vitcl_registry *reg, const char *path)
{
    dlerror();
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl)
        return loader_note_refused(reg, path, "not a loadable shared object: %s",
                                   dl_message(path));
    void *sym = dlsym(dl, VITCL_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        dlclose(dl);
        return loader_note_refused(reg, path, "no symbol %s", VITCL_PLUGIN_ENTRY_SYMBOL);
    }
    vitcl_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* POSIX: dlsym's object pointer holds the function */
    const vitcl_backend_desc *d = entry(VITCL_ABI_MAJOR, VITCL_ABI_MINOR);
    if (!d) {
        dlclose(dl);
        return loader_note_refused(reg, path, "%s returned NULL (the plugin cannot serve host "
                                   "ABI %d.%d)", VITCL_PLUGIN_ENTRY_SYMBOL, VITCL_ABI_MAJOR,
                                   VITCL_ABI_MINOR);
    }
    char why[1024];
    if (!check_descriptor(reg, d, why, sizeof why)) {
        dlclose(dl);
        return loader_note_refused(reg, path, "%s", why);
    }

    loader_plugin p;
    memset(&p, 0, sizeof p);
    p.dl = dl;
    p.desc = d;
    p.path = strdup(path);
    p.name = strdup(d->name);
    p.version = copy_text(d->version);
    p.description = copy_text(d->description);
    if (!p.path || !p.name || !p.version || !p.description ||
        loader_add_plugin(reg, &p) != VITCL_OK) {
        loader_plugin_release(&p);
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory accepting the plugin", path);
    }
    return VITCL_OK;
}

/* Turns p into a FAILED entry: frees what init produced, dlcloses it, keeps its strings. */
static void fail_plugin(loader_plugin *p)
{
    if (p->initialised && p->desc->shutdown)
        p->desc->shutdown(p->state);
    p->initialised = 0;
    p->state = NULL;
    free(p->devices);
    p->devices = NULL;
    p->device_count = 0;
    if (p->dl)
        dlclose(p->dl);
    p->dl = NULL;
    p->desc = NULL;
    p->init_state = LOADER_INIT_FAILED;
}

vitcl_status loader_plugin_init(vitcl_registry *reg, loader_plugin *p)
{
    const vitcl_backend_desc *d = p->desc;
    char err[1024] = "";
    vitcl_status st = d->init(&p->state, err, sizeof err);
    err[sizeof err - 1] = '\0';
    if (st != VITCL_OK) {
        fail_plugin(p); /* not initialised: no shutdown */
        return loader_note_refused(reg, p->path, "init failed (%s): %s", vitcl_status_name(st),
                                   err[0] ? err : "the plugin gave no message");
    }
    p->initialised = 1; /* from here on, release runs shutdown */
    char why[1024];
    int ok = read_devices(p, why, sizeof why);
    if (ok <= 0) {
        fail_plugin(p);
        if (ok < 0)
            return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory reading devices",
                              p->path);
        return loader_note_refused(reg, p->path, "%s", why);
    }
    p->init_state = LOADER_INIT_READY;
    return VITCL_OK;
}
