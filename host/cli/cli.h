/* host/cli/cli.h - the subcommands of the `vitcl` program, one file each.
 * Each returns the process exit status: 0 success, 1 failure, 2 usage error
 * (embed: 3 when some inputs failed and the others succeeded). */
#ifndef VITCL_CLI_H
#define VITCL_CLI_H

#include <stddef.h>

int cmd_devices(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* The largest side --size accepts (65535, PNG's and JPEG's practical bound). */
#define CLI_MAX_SIDE 65535u
/* Parses "HxW" (each side 1..CLI_MAX_SIDE, no sign, nothing after) into *h, *w; 0, or -1 when
 * malformed or out of range. The product of the sides with a batch is still the caller's to
 * check (plugin_size_mul). */
int cli_parse_size(const char *text, size_t *h, size_t *w);

/* Number of NaN and infinite values among n floats. A ViT turns one such input value into a NaN
 * row (LayerNorm and attention spread it over the image's tokens); embed and run warn once per
 * run when an input holds any (docs/images.md). */
size_t cli_count_nonfinite(const float *v, size_t n);

#endif
