/* host/cli/cli_warn.c - warnings the commands print about values that will not compute. */
#include <math.h>

#include "cli.h"

size_t cli_count_nonfinite(const float *v, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += !isfinite(v[i]);
    return bad;
}
