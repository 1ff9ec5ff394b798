/*
 * check.h - the mini harness shared by the C tests in core/tests.
 *
 *   CHECK(cond)               counts a check; on failure prints
 *                             "FAIL file:line: cond"
 *   CHECKF(cond, fmt, ...)    the same, but the failure line carries a
 *                             printf-style message instead of the condition
 *   check_summary()           prints the one final line "N passed, N failed"
 *                             and returns the exit code (0 only if nothing
 *                             failed)
 *
 * The counters are per test executable (each test is one translation unit),
 * so they are file-static here rather than globals.
 */
#ifndef MASKINFO_TESTS_CHECK_H
#define MASKINFO_TESTS_CHECK_H

#include <stdio.h>

static int check_passed, check_failed;

/* `...` is the format and its arguments (C11 needs at least one). */
#define CHECKF(cond, ...)                                                    \
    do {                                                                     \
        if (cond) {                                                          \
            check_passed++;                                                  \
        } else {                                                             \
            check_failed++;                                                  \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                      \
            printf(__VA_ARGS__);                                             \
            putchar('\n');                                                   \
        }                                                                    \
    } while (0)

#define CHECK(cond) CHECKF(cond, "%s", #cond)

/* A failure that is not a condition (a setup step that could not run). */
static inline void check_fail_msg(const char *msg)
{
    check_failed++;
    printf("FAIL %s\n", msg);
}

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    fflush(stdout);
    return check_failed != 0;
}

#endif
