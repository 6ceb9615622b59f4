/* host/cli/cli_args.h - the option parsing every subcommand shares: a table of options
 * (cli_opt) read by both cli_parse and cli_print_options, and the strict number parser
 * cli_parse_count (sizes: cli_parse_size in cli.h). Values are parsed strictly: the whole text
 * must be the value (no trailing characters, no sign, no empty string) and out-of-range values
 * are refused, with one line "vitcl CMD: FLAG ..." naming the text on stderr. Nothing here
 * allocates; the functions are thread-safe except that they write to stderr. */
#ifndef VITCL_CLI_ARGS_H
#define VITCL_CLI_ARGS_H

#include <stddef.h>
#include <stdio.h>

/* A decimal integer in [min, max]. */
int cli_parse_count(const char *cmd, const char *flag, const char *text, unsigned long min,
                    unsigned long max, unsigned long *out);

/* One option of a subcommand. The table of a command's options drives both cli_parse and
 * cli_print_options, so its --help lists exactly the flags it accepts. */
typedef enum cli_kind {
    CLI_FLAG,  /* no value; dst is int*, set to 1 */
    CLI_TEXT,  /* dst is const char **, set to the argument (not copied) */
    CLI_COUNT, /* dst is unsigned long *, by cli_parse_count with [min, max] */
    CLI_SIZE,  /* dst is size_t[2] (H, W), by cli_parse_size */
    CLI_PRECISION, /* dst is int *, a vitcl_precision by vitcl_precision_parse ("fp32", "bf16",
                      "fp16"); a bad name prints the library's message, which lists them */
    CLI_EACH   /* dst is a const cli_each *: its fn is called with each value in argv order, so
                  the option may repeat and interleave with the positional arguments */
} cli_kind;

/* A callback for CLI_EACH options and for cli_parse_each's positional arguments: returns
 * CLI_PARSED (0) to go on, or another CLI_* code, which cli_parse returns at once (the callback
 * prints its own message). */
typedef struct cli_each {
    int (*fn)(void *user, const char *value);
    void *user;
} cli_each;

typedef struct cli_opt {
    const char *name;    /* "--batch" */
    const char *alias;   /* a short form such as "-o", or NULL */
    cli_kind kind;
    const char *metavar; /* the value's name in the help, e.g. "N"; NULL for CLI_FLAG */
    void *dst;
    unsigned long min, max; /* CLI_COUNT only */
} cli_opt;

/* CLI_FAILED: a CLI_EACH callback failed for a reason other than usage (exit status 1). */
enum { CLI_PARSED = 0, CLI_HELP = 1, CLI_USAGE = 2, CLI_FAILED = 3 };

/* Parses argv[1 .. argc) against opts[0 .. n): options anywhere, other arguments stored in
 * pos[0 .. max_pos) with their number in *n_pos. "--help" / "-h" return CLI_HELP (nothing
 * printed). An unknown option ("vitcl CMD: unknown option X"), an option without its value
 * ("X needs a value"), a bad value, or more than max_pos positional arguments print one line
 * to stderr and return CLI_USAGE. */
int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, size_t n,
              const char **pos, size_t max_pos, size_t *n_pos);

/* cli_parse for commands whose positional arguments and repeatable options interleave in a
 * meaningful order: every positional argument goes to pos->fn as it comes, in argv order with
 * the CLI_EACH options. Returns as cli_parse does, or the first non-zero code a callback
 * returned. */
int cli_parse_each(const char *cmd, int argc, char **argv, const cli_opt *opts, size_t n,
                   const cli_each *pos);

/* Writes one line per option of opts[0 .. n) to f: its name, alias and value name. */
void cli_print_options(FILE *f, const cli_opt *opts, size_t n);

#endif
