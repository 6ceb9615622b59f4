/* host/cli/cli_args.h - numeric option values the subcommands share (sizes: cli_parse_size in
 * cli.h), parsed strictly: the whole text must be the value (no trailing characters, no sign, no empty string), and out-of-range values
 * are refused. On a bad value each prints "vitcl CMD: FLAG ..." with the text to stderr and
 * returns 0 (the caller exits with the usage status 2); on success it stores the value and
 * returns 1. Not thread-safe only in that they write to stderr. */
#ifndef VITCL_CLI_ARGS_H
#define VITCL_CLI_ARGS_H

#include <stddef.h>

/* A decimal integer in [min, max]. */
int cli_parse_count(const char *cmd, const char *flag, const char *text, unsigned long min,
                    unsigned long max, unsigned long *out);

#endif
