/* host/cli/cli.h - the subcommands of the `vitcl` program, one file each.
 * Each returns the process exit status: 0 success, 1 failure, 2 usage error
 * (embed: 3 when some inputs failed and the others succeeded). */
#ifndef VITCL_CLI_H
#define VITCL_CLI_H

int cmd_devices(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
