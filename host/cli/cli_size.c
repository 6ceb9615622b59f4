/* host/cli/cli_size.c - the HxW option value shared by `embed --size` and `bench --size`. */
#include <stdio.h>

#include "cli.h"

int cli_parse_size(const char *text, size_t *h, size_t *w)
{
    unsigned long long a, b;
    char x, extra;
    /* %llu accepts a leading '-' and wraps it; refuse any sign before scanning. */
    for (const char *p = text; *p; p++)
        if (*p == '-' || *p == '+')
            return -1;
    if (sscanf(text, "%llu%c%llu%c", &a, &x, &b, &extra) != 3 || (x != 'x' && x != 'X') ||
        a == 0 || b == 0 || a > CLI_MAX_SIDE || b > CLI_MAX_SIDE)
        return -1;
    *h = (size_t)a;
    *w = (size_t)b;
    return 0;
}
