/* tests/hardening/leak_check.h - a leak check Criterion can see.
 *
 * Criterion runs each test in a forked worker that has already reported its result when
 * LeakSanitizer's exit-time check runs, so leaks found at exit do not fail the test. Calling
 * leak_check_expect_none() at the end of a test (after everything is freed) runs LeakSanitizer
 * right there and fails the test when it finds a leak (the report is printed on stderr). In a
 * build without AddressSanitizer it does nothing. */
#ifndef VITCL_TESTS_LEAK_CHECK_H
#define VITCL_TESTS_LEAK_CHECK_H

/* Fails the current Criterion test when LeakSanitizer finds memory leaked so far. */
void leak_check_expect_none(void);

#endif
