/* tests/opencl/probe.c - helper process for the cache tests: loads the OpenCL plugin, creates
 * and destroys one context on device 0, so the plugin appends its stats line
 * (VITCL_CL_STATS_FILE). Exit status 0 on success, 3 when context_create failed (message on
 * stderr), 2 when the plugin could not be loaded. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>

#include "vitcl/backend.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: opencl_probe PLUGIN.so\n");
        return 2;
    }
    void *dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    vitcl_plugin_entry_fn entry =
        (vitcl_plugin_entry_fn)(uintptr_t)dlsym(dl, VITCL_PLUGIN_ENTRY_SYMBOL);
    const vitcl_backend_desc *d = entry ? entry(VITCL_ABI_MAJOR, VITCL_ABI_MINOR) : NULL;
    void *state = NULL;
    char err[4096] = "";
    if (!d || d->init(&state, err, sizeof err) != VITCL_OK) {
        fprintf(stderr, "init: %s\n", err);
        dlclose(dl);
        return 2;
    }
    int rc = 0;
    vitcl_context *ctx = NULL;
    if (d->context_create(state, 0, &ctx, err, sizeof err) != VITCL_OK) {
        fprintf(stderr, "context_create: %s\n", err);
        rc = 3;
    } else {
        d->context_destroy(ctx);
    }
    d->shutdown(state);
    dlclose(dl);
    return rc;
}
