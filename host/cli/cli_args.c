/* host/cli/cli_args.c - see cli_args.h. */
#include "cli_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vitcl/vitcl.h"

/* Parses a decimal number that ends at *end; 0 when text does not start with a digit or the
 * value overflows. */
static int digits(const char *text, unsigned long *v, char **end)
{
    if (!text || text[0] < '0' || text[0] > '9')
        return 0;
    errno = 0;
    *v = strtoul(text, end, 10);
    return errno == 0;
}

int cli_parse_count(const char *cmd, const char *flag, const char *text, unsigned long min,
                    unsigned long max, unsigned long *out)
{
    unsigned long v;
    char *end;
    if (!digits(text, &v, &end) || *end || v < min || v > max) {
        fprintf(stderr, "vitcl %s: %s takes a whole number from %lu to %lu, not '%s'\n", cmd,
                flag, min, max, text ? text : "");
        return 0;
    }
    *out = v;
    return 1;
}

static const cli_opt *find_opt(const char *a, const cli_opt *opts, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(a, opts[k].name) || (opts[k].alias && !strcmp(a, opts[k].alias)))
            return &opts[k];
    return NULL;
}

static int set_value(const char *cmd, const char *a, const cli_opt *o, const char *v)
{
    switch (o->kind) {
    case CLI_TEXT:
        *(const char **)o->dst = v;
        return 1;
    case CLI_COUNT:
        return cli_parse_count(cmd, a, v, o->min, o->max, (unsigned long *)o->dst);
    case CLI_SIZE: {
        size_t *hw = o->dst;
        if (cli_parse_size(v, &hw[0], &hw[1]) == 0)
            return 1;
        fprintf(stderr, "vitcl %s: %s takes HxW with each side 1..%u, e.g. 224x224, not '%s'\n",
                cmd, a, CLI_MAX_SIDE, v);
        return 0;
    }
    case CLI_PRECISION:
        if (vitcl_precision_parse(v, (int *)o->dst) == VITCL_OK)
            return 1;
        fprintf(stderr, "vitcl %s: %s: %s\n", cmd, a, vitcl_last_error());
        return 0;
    case CLI_FLAG:
    case CLI_EACH:
        break;
    }
    return 0;
}

/* The positional collector of cli_parse. */
typedef struct pos_store {
    const char *cmd;
    const char **pos;
    size_t max, *n;
} pos_store;

static int store_pos(void *user, const char *a)
{
    pos_store *p = user;
    if (*p->n >= p->max) {
        fprintf(stderr, "vitcl %s: unexpected argument %s\n", p->cmd, a);
        return CLI_USAGE;
    }
    p->pos[(*p->n)++] = a;
    return CLI_PARSED;
}

int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, size_t n,
              const char **pos, size_t max_pos, size_t *n_pos)
{
    *n_pos = 0;
    pos_store store = {cmd, pos, max_pos, n_pos};
    const cli_each each = {store_pos, &store};
    return cli_parse_each(cmd, argc, argv, opts, n, &each);
}

int cli_parse_each(const char *cmd, int argc, char **argv, const cli_opt *opts, size_t n,
                   const cli_each *pos)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return CLI_HELP;
        if (a[0] == '-' && a[1]) {
            const cli_opt *o = find_opt(a, opts, n);
            if (!o) {
                fprintf(stderr, "vitcl %s: unknown option %s\n", cmd, a);
                return CLI_USAGE;
            }
            if (o->kind == CLI_FLAG) {
                *(int *)o->dst = 1;
                continue;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "vitcl %s: %s needs a value\n", cmd, a);
                return CLI_USAGE;
            }
            if (o->kind == CLI_EACH) {
                const cli_each *e = o->dst;
                int r = e->fn(e->user, argv[++i]);
                if (r != CLI_PARSED)
                    return r;
                continue;
            }
            if (!set_value(cmd, a, o, argv[++i]))
                return CLI_USAGE;
            continue;
        }
        int r = pos->fn(pos->user, a);
        if (r != CLI_PARSED)
            return r;
    }
    return CLI_PARSED;
}

void cli_print_options(FILE *f, const cli_opt *opts, size_t n)
{
    fprintf(f, "options:\n");
    for (size_t k = 0; k < n; k++) {
        char head[64];
        snprintf(head, sizeof head, "%s%s%s%s%s", opts[k].alias ? opts[k].alias : "",
                 opts[k].alias ? ", " : "", opts[k].name, opts[k].metavar ? " " : "",
                 opts[k].metavar ? opts[k].metavar : "");
        fprintf(f, "  %s\n", head);
    }
    fprintf(f, "  -h, --help\n");
}
