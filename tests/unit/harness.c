/*
 * The unit-test runner. Runs every registered test (or those whose name
 * starts with one of the arguments) and reports counts.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static test_case *first, *last;
static int current_failed;
static char tmp_root[256];

void test_register(test_case *tc)
{
    if (last)
        last->next = tc;
    else
        first = tc;
    last = tc;
}

void test_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, expr);
    current_failed = 1;
}

const char *test_tmpdir(void)
{
    static char path[512];
    static int counter;
    snprintf(path, sizeof(path), "%s/t%d", tmp_root, ++counter);
    mkdir(path, 0700);
    return path;
}

const char *test_postgres_url(void)
{
    const char *url = getenv("RUBRICA_TEST_PG");
    if (url != NULL && url[0] != '\0')
        return url;
    /* Under tests/run a PostgreSQL server is always started: its absence is a failure. */
    const char *strict = getenv("RUBRICA_TEST_STRICT");
    if (strict != NULL && strcmp(strict, "1") == 0)
        test_fail(__FILE__, __LINE__, "RUBRICA_TEST_PG is required under RUBRICA_TEST_STRICT=1");
    return NULL;
}

static int selected(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strncmp(name, argv[i], strlen(argv[i])) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/rubrica-unit-XXXXXX");
    if (mkdtemp(tmp_root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    int passed = 0, failed = 0;
    for (test_case *tc = first; tc; tc = tc->next) {
        if (!selected(tc->name, argc, argv))
            continue;
        current_failed = 0;
        tc->fn();
        if (current_failed) {
            fprintf(stderr, "FAILED %s\n", tc->name);
            failed++;
        } else {
            passed++;
        }
    }
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_root);
    if (failed == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp_root);
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
