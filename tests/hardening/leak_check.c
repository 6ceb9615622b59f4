/* tests/hardening/leak_check.c - see leak_check.h. */
#include "leak_check.h"

#include <criterion/criterion.h>

#if defined(__SANITIZE_ADDRESS__)
#define LEAK_CHECK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LEAK_CHECK_ASAN 1
#endif
#endif

#ifdef LEAK_CHECK_ASAN
#include <sanitizer/lsan_interface.h>
#endif

void leak_check_expect_none(void)
{
#ifdef LEAK_CHECK_ASAN
    cr_expect_eq(__lsan_do_recoverable_leak_check(), 0,
                 "LeakSanitizer found leaks (report on stderr)");
#endif
}
