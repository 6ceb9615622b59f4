/* tests/cli/test_cli_args.c - the shared count parser accepts exactly whole numbers
 * in range, and refuses (returns 0) anything with trailing text, a sign, no digits or an
 * out-of-range value. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "cli_args.h"

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
