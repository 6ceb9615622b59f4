/* host/cli/main.c - `vitcl COMMAND ...`: dispatch to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vitcl/vitcl.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
#ifdef VITCL_HAVE_CMD_DEVICES
    {"devices", cmd_devices, "list plugins, their devices and capabilities, and refused plugins"},
#endif
#ifdef VITCL_HAVE_CMD_MODEL
    {"info", cmd_info, "summarise a model folder: config, parameters, weight format, tensors"},
    {"run", cmd_run, "run the encoder on a .npy pixel tensor and write .npy outputs"},
#endif
#ifdef VITCL_HAVE_CMD_EMBED
    {"embed", cmd_embed, "embed PNG/JPEG images as transformers' processor + model would"},
#endif
#ifdef VITCL_HAVE_CMD_CONFORMANCE
    {"conformance", cmd_conformance, "check a backend plugin's ops and model parity against ref"},
#endif
#ifdef VITCL_HAVE_CMD_BENCH
    {"bench", cmd_bench, "measure a model's speed on a backend"},
#endif
};

static void usage(FILE *f)
{
    fprintf(f, "vitcl %s - Vision Transformer encoders on OpenCL and CPU backends\n\n",
            VITCL_VERSION_STRING);
    fprintf(f, "usage: vitcl COMMAND [ARGS...]   (vitcl COMMAND --help for details)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nenvironment: VITCL_BACKEND, VITCL_DEVICE, VITCL_PLUGIN_PATH, VITCL_CACHE_DIR\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("vitcl %s\n", VITCL_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "vitcl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
