/* host/cli/cmd_devices.c - `vitcl devices [--plugin PATH]`: every accepted plugin with its
 * devices, then every refused candidate with its reason, then every path searched. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "precision.h"
#include "vitcl/vitcl.h"

static void devices_usage(FILE *f, const cli_opt *opts, size_t n)
{
    fprintf(f, "usage: vitcl devices [OPTIONS]\n\n"
               "Lists the backend plugins found (PATH first, then VITCL_PLUGIN_PATH, the build\n"
               "tree when run uninstalled, and the installed plugin directory), each with its\n"
               "devices (each with the --backend and --device that select it), then the refused\n"
               "candidates with their reasons and the paths searched.\n"
               "Exit status: 0 when the search ran (even if some plugins were refused), 1 when\n"
               "it could not, 2 on a usage error.\n");
    cli_print_options(f, opts, n);
}

static const char *type_name(vitcl_device_type t)
{
    switch (t) {
    case VITCL_DEVICE_CPU: return "CPU";
    case VITCL_DEVICE_GPU: return "GPU";
    case VITCL_DEVICE_ACCELERATOR: return "accelerator";
    case VITCL_DEVICE_OTHER: return "other";
    }
    return "other";
}

static void print_bytes(const char *label, uint64_t bytes)
{
    if (!bytes)
        printf("unknown %s", label);
    else if (bytes >= (uint64_t)1 << 30)
        printf("%.1f GiB %s", (double)bytes / (double)((uint64_t)1 << 30), label);
    else
        printf("%.1f MiB %s", (double)bytes / (double)((uint64_t)1 << 20), label);
}

static void print_caps(uint32_t caps)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {{VITCL_CAP_FP16, "fp16"},
                 {VITCL_CAP_FP64, "fp64"},
                 {VITCL_CAP_HOST_UNIFIED, "host-unified"},
                 {VITCL_CAP_ZERO_COPY_WRAP, "zero-copy-wrap"},
                 {VITCL_CAP_PROFILING, "profiling"},
                 {VITCL_CAP_BF16, "bf16"}};
    int any = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (caps & names[i].bit) {
            printf("%s%s", any ? " " : "", names[i].name);
            any = 1;
        }
    if (!any)
        printf("none");
    uint32_t known = VITCL_CAP_FP16 | VITCL_CAP_FP64 | VITCL_CAP_HOST_UNIFIED |
                     VITCL_CAP_ZERO_COPY_WRAP | VITCL_CAP_PROFILING | VITCL_CAP_BF16;
    if (caps & ~known)
        printf(" (unknown bits 0x%x)", (unsigned)(caps & ~known));
}

static void print_device(const vitcl_device_info *d, const char *plugin, int index)
{
    printf("  device %d: %s '%s'\n", index, type_name(d->type), d->name);
    printf("    select: --backend %s --device %d\n", plugin, index);
    printf("    vendor: %s\n", d->vendor);
    printf("    driver: %s\n", d->driver);
    printf("    platform: %s\n", d->platform);
    printf("    memory: ");
    print_bytes("global", d->global_mem_bytes);
    printf(", ");
    print_bytes("max allocation", d->max_alloc_bytes);
    printf("\n    compute units: ");
    if (d->compute_units)
        printf("%u\n", (unsigned)d->compute_units);
    else
        printf("unknown\n");
    printf("    capabilities: ");
    print_caps(d->caps);
    char prec[32];
    printf("\n    precisions: %s\n", vitcl_precision_list(d->precisions, prec, sizeof prec));
    if (d->precision_notes[0])
        printf("    precision notes: %s\n", d->precision_notes);
    if (d->extra[0])
        printf("    extra: %s\n", d->extra);
}

int cmd_devices(int argc, char **argv)
{
    const char *plugin_path = NULL;
    const cli_opt opts[] = {{"--plugin", NULL, CLI_TEXT, "PATH", &plugin_path, 0, 0}};
    size_t n_opts = sizeof opts / sizeof opts[0], n_pos = 0;
    int pr = cli_parse("devices", argc, argv, opts, n_opts, NULL, 0, &n_pos);
    if (pr == CLI_HELP) {
        devices_usage(stdout, opts, n_opts);
        return 0;
    }
    if (pr != CLI_PARSED) {
        devices_usage(stderr, opts, n_opts);
        return 2;
    }

    vitcl_registry *reg = NULL;
    vitcl_status st = vitcl_registry_open(plugin_path, &reg);
    if (st != VITCL_OK) {
        fprintf(stderr, "vitcl devices: %s (%s)\n", vitcl_last_error(), vitcl_status_name(st));
        return 1;
    }

    size_t np = vitcl_registry_plugin_count(reg);
    printf("plugins: %zu accepted, %zu refused\n", np, vitcl_registry_refused_count(reg));
    for (size_t p = 0; p < np; p++) {
        vitcl_plugin_info pi;
        if (vitcl_registry_plugin(reg, p, &pi) != VITCL_OK)
            continue;
        printf("\nplugin %s %s (ABI %u.%u, auto_rank %d)\n", pi.name, pi.version,
               (unsigned)pi.abi_major, (unsigned)pi.abi_minor, (int)pi.auto_rank);
        printf("  path: %s\n", pi.path);
        printf("  description: %s\n", pi.description);
        printf("  devices: %d\n", pi.device_count);
        for (int d = 0; d < pi.device_count; d++) {
            vitcl_device_info info;
            if (vitcl_registry_device(reg, p, d, &info) == VITCL_OK)
                print_device(&info, pi.name, d);
        }
    }

    size_t nr = vitcl_registry_refused_count(reg);
    if (nr)
        printf("\nrefused:\n");
    for (size_t r = 0; r < nr; r++) {
        const char *path, *reason;
        if (vitcl_registry_refused(reg, r, &path, &reason) == VITCL_OK)
            printf("  %s\n    %s\n", path, reason);
    }

    printf("\nsearched:\n");
    for (size_t s = 0; s < vitcl_registry_searched_count(reg); s++)
        printf("  %s\n", vitcl_registry_searched(reg, s));

    vitcl_registry_close(reg);
    return 0;
}
