/*
 * A small test harness: each TEST registers itself at start-up, CHECK records
 * a failure without stopping the test, REQUIRE stops it. The runner prints
 * one line per failure and ends with "unit: N passed, N failed".
 */
#ifndef RB_TEST_HARNESS_H
#define RB_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

typedef struct test_case {
    const char *name;
    void (*fn)(void);
    struct test_case *next;
} test_case;

void test_register(test_case *tc);
void test_fail(const char *file, int line, const char *expr);
/* A fresh directory under the test temp area, unique per call. Do not free. */
const char *test_tmpdir(void);
/* The PostgreSQL URL from RUBRICA_TEST_PG, or NULL when PostgreSQL tests are off. */
const char *test_postgres_url(void);

#define TEST(name)                                                                                 \
    static void name(void);                                                                        \
    static test_case name##_case = {#name, name, NULL};                                            \
    __attribute__((constructor)) static void name##_register(void)                                 \
    {                                                                                              \
        test_register(&name##_case);                                                               \
    }                                                                                              \
    static void name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            test_fail(__FILE__, __LINE__, #cond);                                                  \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            test_fail(__FILE__, __LINE__, #cond);                                                  \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)

#endif
