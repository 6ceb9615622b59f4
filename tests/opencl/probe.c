/* tests/opencl/probe.c - helper process for the opencl suite. `opencl_probe PLUGIN.so` loads
 * the OpenCL plugin, creates and destroys one context on the test device (VITCL_TEST_DEVICE, an
 * index, default 0), so the plugin appends its stats line (VITCL_CL_STATS_FILE): the cache tests
 * use it. `opencl_probe --count PLUGIN.so` prints the number of devices (tests/opencl/
 * each_device.sh runs every test once per device). Exit status 0 on success, 3 when
 * context_create failed (message on stderr), 2 when the plugin could not be loaded. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vitcl/backend.h"

int main(int argc, char **argv)
{
    int count = argc == 3 && !strcmp(argv[1], "--count");
    if (argc != 2 && !count) {
        fprintf(stderr, "usage: opencl_probe [--count] PLUGIN.so\n");
        return 2;
    }
    void *dl = dlopen(argv[argc - 1], RTLD_NOW | RTLD_LOCAL);
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
    const char *dev = getenv("VITCL_TEST_DEVICE");
    vitcl_context *ctx = NULL;
    if (count)
        printf("%d\n", d->device_count(state));
    else if (d->context_create(state, dev && *dev ? atoi(dev) : 0, &ctx, err, sizeof err) !=
             VITCL_OK) {
        fprintf(stderr, "context_create: %s\n", err);
        rc = 3;
    } else {
        d->context_destroy(ctx);
    }
    d->shutdown(state);
    dlclose(dl);
    return rc;
}
