/* tests/cli/test_cli_args.c - the shared count parser accepts exactly whole numbers
 * in range, and refuses (returns 0) anything with trailing text, a sign, no digits or an
 * out-of-range value. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <stdio.h>
#include <string.h>

#include "cli_args.h"
#include "vitcl/vitcl.h"

TestSuite(cli_args, .init = cr_redirect_stderr);

Test(cli_args, counts_in_range_are_accepted)
{
    unsigned long v = 99;
    cr_assert(cli_parse_count("bench", "--batch", "1", 1, 4096, &v));
    cr_assert_eq(v, 1);
    cr_assert(cli_parse_count("bench", "--batch", "4096", 1, 4096, &v));
    cr_assert_eq(v, 4096);
    cr_assert(cli_parse_count("bench", "--warmup", "0", 0, 10, &v));
    cr_assert_eq(v, 0);
}

Test(cli_args, counts_with_junk_sign_or_out_of_range_are_refused)
{
    static const char *const bad[] = {"", "3x", "x3", "-1", "+2", " 2", "2 ", "0", "4097",
                                      "1.5", "99999999999999999999999", "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned long v = 7;
        cr_assert_not(cli_parse_count("bench", "--batch", bad[i], 1, 4096, &v), "'%s' accepted",
                      bad[i]);
        cr_assert_eq(v, 7, "'%s' changed the value", bad[i]);
    }
}

Test(cli_args, refusal_names_command_flag_and_text)
{
    unsigned long v;
    cr_assert_not(cli_parse_count("bench", "--iters", "10k", 1, 100000, &v));
    fflush(stderr);
    cr_assert_stderr_eq_str("vitcl bench: --iters takes a whole number from 1 to 100000, not "
                            "'10k'\n");
}

/* The shared option parser (cli_parse): what it accepts is exactly its table. */
static unsigned long batch;
static size_t hw[2];
static const char *backend;
static int json;
static const cli_opt opts[] = {
    {"--batch", NULL, CLI_COUNT, "N", &batch, 1, 4096},
    {"--size", NULL, CLI_SIZE, "HxW", hw, 0, 0},
    {"--backend", "-b", CLI_TEXT, "NAME", &backend, 0, 0},
    {"--json", NULL, CLI_FLAG, NULL, &json, 0, 0},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

static int parse(int argc, char **argv, const char **pos, size_t max_pos, size_t *n_pos)
{
    batch = 0, hw[0] = hw[1] = 0, backend = NULL, json = 0;
    return cli_parse("bench", argc, argv, opts, N_OPTS, pos, max_pos, n_pos);
}

Test(cli_parse, options_anywhere_and_positionals_are_stored)
{
    char *argv[] = {"bench", "--batch", "12", "dir", "-b", "cpu", "--size", "320x240", "--json"};
    const char *pos[1] = {NULL};
    size_t n = 9;
    cr_assert_eq(parse(9, argv, pos, 1, &n), CLI_PARSED);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(pos[0], "dir");
    cr_assert_eq(batch, 12);
    cr_assert_eq(hw[0], 320);
    cr_assert_eq(hw[1], 240);
    cr_assert_str_eq(backend, "cpu");
    cr_assert_eq(json, 1);
}

Test(cli_parse, bad_numbers_are_refused_with_an_end_check)
{
    const char *pos[1];
    size_t n;
    char *a1[] = {"bench", "--batch", "3x"};
    char *a2[] = {"bench", "--batch", "0"};
    char *a3[] = {"bench", "--size", "224x224x"};
    char *a4[] = {"bench", "--batch", ""};
    cr_assert_eq(parse(3, a1, pos, 1, &n), CLI_USAGE);
    cr_assert_eq(parse(3, a2, pos, 1, &n), CLI_USAGE);
    cr_assert_eq(parse(3, a3, pos, 1, &n), CLI_USAGE);
    cr_assert_eq(parse(3, a4, pos, 1, &n), CLI_USAGE);
}

Test(cli_parse, unknown_missing_value_extra_positional_and_help)
{
    const char *pos[1];
    size_t n;
    char *a1[] = {"info", "--device", "x"};
    char *a2[] = {"bench", "--batch"};
    char *a3[] = {"bench", "a", "b"};
    char *a4[] = {"bench", "--bogus", "--help"};
    char *a5[] = {"bench", "-h"};
    cr_assert_eq(parse(3, a1, pos, 1, &n), CLI_USAGE);
    cr_assert_eq(parse(2, a2, pos, 1, &n), CLI_USAGE);
    cr_assert_eq(parse(3, a3, pos, 1, &n), CLI_USAGE);
    cr_assert_eq(parse(3, a4, pos, 1, &n), CLI_USAGE); /* refused before --help is seen */
    cr_assert_eq(parse(2, a5, pos, 1, &n), CLI_HELP);
}

Test(cli_parse, help_lists_every_option_of_the_table)
{
    char buf[1024] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    cr_assert_not_null(f);
    cli_print_options(f, opts, N_OPTS);
    fclose(f);
    cr_assert_not_null(strstr(buf, "--batch N\n"));
    cr_assert_not_null(strstr(buf, "--size HxW\n"));
    cr_assert_not_null(strstr(buf, "-b, --backend NAME\n"));
    cr_assert_not_null(strstr(buf, "--json\n"));
    cr_assert_null(strstr(buf, "--device"));
}

/* --precision: a vitcl_precision through the library's parser, whose message lists the names. */
Test(cli_parse, precision_names_are_parsed_and_bad_ones_listed, .init = cr_redirect_stderr)
{
    int p = -1;
    const cli_opt po[] = {{"--precision", NULL, CLI_PRECISION, "fp32|bf16|fp16", &p, 0, 0}};
    const char *pos[1];
    size_t n;
    char *a1[] = {"run", "--precision", "bf16"};
    cr_assert_eq(cli_parse("run", 3, a1, po, 1, pos, 1, &n), CLI_PARSED);
    cr_assert_eq(p, VITCL_PRECISION_BF16);
    char *a2[] = {"run", "--precision", "fp16"};
    cr_assert_eq(cli_parse("run", 3, a2, po, 1, pos, 1, &n), CLI_PARSED);
    cr_assert_eq(p, VITCL_PRECISION_FP16);
    char *a3[] = {"run", "--precision", "half"};
    cr_assert_eq(cli_parse("run", 3, a3, po, 1, pos, 1, &n), CLI_USAGE);
    cr_assert_eq(p, VITCL_PRECISION_FP16, "a refused value changed the result");
    fflush(stderr);
    cr_assert_stderr_eq_str("vitcl run: --precision: unknown precision 'half' (valid: fp32, "
                            "bf16, fp16)\n");
}

/* CLI_EACH options and cli_parse_each's positionals arrive in argv order. */
typedef struct order_log {
    char text[256];
    int fail_on_x;
} order_log;

static int log_item(order_log *l, const char *tag, const char *v)
{
    if (l->fail_on_x && !strcmp(v, "x"))
        return CLI_FAILED;
    size_t o = strlen(l->text);
    snprintf(l->text + o, sizeof l->text - o, "%s%s:%s", o ? " " : "", tag, v);
    return CLI_PARSED;
}
static int on_list(void *u, const char *v) { return log_item(u, "list", v); }
static int on_pos(void *u, const char *v) { return log_item(u, "pos", v); }

Test(cli_parse, repeatable_options_keep_their_order_with_positionals)
{
    order_log l = {{0}, 0};
    const cli_each list = {on_list, &l}, pos = {on_pos, &l};
    const cli_opt eo[] = {{"--list", NULL, CLI_EACH, "FILE", (void *)&list, 0, 0},
                          {"--json", NULL, CLI_FLAG, NULL, &json, 0, 0}};
    char *a1[] = {"embed", "dir", "a.png", "--list", "l1", "b.png", "--json", "--list", "l2"};
    cr_assert_eq(cli_parse_each("embed", 9, a1, eo, 2, &pos), CLI_PARSED);
    cr_assert_str_eq(l.text, "pos:dir pos:a.png list:l1 pos:b.png list:l2");
    l.text[0] = '\0';
    l.fail_on_x = 1;
    char *a2[] = {"embed", "dir", "--list", "x", "c.png"};
    cr_assert_eq(cli_parse_each("embed", 5, a2, eo, 2, &pos), CLI_FAILED);
    cr_assert_str_eq(l.text, "pos:dir", "parsing went on after a failed callback");
    char *a3[] = {"embed", "dir", "--list"};
    cr_assert_eq(cli_parse_each("embed", 3, a3, eo, 2, &pos), CLI_USAGE);
}
