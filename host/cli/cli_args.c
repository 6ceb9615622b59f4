/* host/cli/cli_args.c - see cli_args.h. */
#include "cli_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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
