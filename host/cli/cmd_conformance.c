/* host/cli/cmd_conformance.c - `vitcl conformance`: checks a plugin's ops (and, with fixtures,
 * whole models) against the reference backend; non-zero exit on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "vitcl/conformance.h"
#include "vitcl/vitcl.h"

static void conformance_usage(FILE *f, const cli_opt *opts, size_t n)
{
    fprintf(f,
            "usage: vitcl conformance [OPTIONS]\n\n"
            "Runs every op of the plugin ABI over a matrix of shapes and edge cases on the plugin\n"
            "(default: VITCL_BACKEND, else auto) and on the ref backend, and compares them with\n"
            "per-op tolerances (docs/conformance.md). With --fixtures (or VITCL_FIXTURES_DIR), a\n"
            "folder holding the model fixtures' manifest.json, each fixture then runs end to end\n"
            "against transformers' golden output. Prints a table; --report writes JSON or JUnit\n"
            "XML. --filter keeps ops whose name contains OP (\"model\" selects model parity).\n"
            "--quick runs a smaller matrix for CI. --max-elements N reports the op cases with a\n"
            "buffer of more than N floats as not run (for simulators such as Oclgrind).\n"
            "Every precision the device claims is checked (vitcl devices lists them).\n"
            "Exit status: 0 when everything passed (unsupported optional ops are not failures),\n"
            "1 on any failure or when the suite could not run, 2 on a usage error.\n");
    cli_print_options(f, opts, n);
}

int cmd_conformance(int argc, char **argv)
{
    vitcl_conformance_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.table = stdout;
    unsigned long max_elements = 0;
    const cli_opt opts[] = {
        {"--plugin", NULL, CLI_TEXT, "PATH|NAME", &o.plugin, 0, 0},
        {"--device", NULL, CLI_TEXT, "D", &o.device, 0, 0},
        {"--filter", NULL, CLI_TEXT, "OP", &o.filter, 0, 0},
        {"--report", NULL, CLI_TEXT, "FILE.json|FILE.xml", &o.report_path, 0, 0},
        {"--fixtures", NULL, CLI_TEXT, "DIR", &o.fixtures_dir, 0, 0},
        {"--quick", NULL, CLI_FLAG, NULL, &o.quick, 0, 0},
        {"--max-elements", NULL, CLI_COUNT, "N", &max_elements, 1, 1UL << 40},
    };
    size_t n_opts = sizeof opts / sizeof opts[0], n_pos = 0;
    int pr = cli_parse("conformance", argc, argv, opts, n_opts, NULL, 0, &n_pos);
    if (pr == CLI_HELP) {
        conformance_usage(stdout, opts, n_opts);
        return 0;
    }
    if (pr != CLI_PARSED) {
        conformance_usage(stderr, opts, n_opts);
        return 2;
    }
    o.max_elements = max_elements;
    if (o.fixtures_dir == NULL) {
        const char *env = getenv("VITCL_FIXTURES_DIR");
        if (env != NULL && env[0] != '\0')
            o.fixtures_dir = env;
    }
    /* A plugin given as a file is loaded first, ahead of any plugin of the same name. */
    int is_path = o.plugin != NULL && (strchr(o.plugin, '/') != NULL ||
                                       (strlen(o.plugin) > 3 &&
                                        !strcmp(o.plugin + strlen(o.plugin) - 3, ".so")));
    vitcl_registry *reg = NULL;
    if (vitcl_registry_open(is_path ? o.plugin : NULL, &reg) != VITCL_OK) {
        fprintf(stderr, "vitcl conformance: %s\n", vitcl_last_error());
        return 1;
    }
    vitcl_conformance_summary s;
    vitcl_status st = vitcl_conformance_run(reg, &o, &s);
    vitcl_registry_close(reg);
    if (st != VITCL_OK) {
        fprintf(stderr, "vitcl conformance: %s\n", vitcl_last_error());
        return 1;
    }
    return s.failed > 0 ? 1 : 0;
}
