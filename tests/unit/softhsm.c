/*
 * The SoftHSM2 token of the unit tests (see softhsm.h). softhsm2-util does
 * the initialisation, as an operator would.
 */
#include "softhsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

static int create_token(void)
{
    static char conf[700];
    char dir[600], text[900], cmd[1200];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir());
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
    FILE *f = fopen(conf, "w");
    if (f == NULL)
        return 0;
    snprintf(text, sizeof(text),
             "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", dir);
    fputs(text, f);
    fclose(f);
    setenv("SOFTHSM2_CONF", conf, 1);
    snprintf(cmd, sizeof(cmd),
             "softhsm2-util --init-token --free --label %s --so-pin %s --pin %s >/dev/null",
             TEST_SOFTHSM_TOKEN, TEST_SOFTHSM_SO_PIN, TEST_SOFTHSM_PIN);
    return system(cmd) == 0;
}

int test_softhsm_ready(void)
{
    static int state; /* 0 not tried, 1 ready, -1 unavailable */
    if (state == 0) {
        state = -1;
        if (system("command -v softhsm2-util >/dev/null 2>&1") != 0 ||
            access(TEST_SOFTHSM_MODULE, R_OK) != 0)
            printf("  note: softhsm2-util or %s missing: PKCS#11 tests skipped\n",
                   TEST_SOFTHSM_MODULE);
        else if (!create_token())
            printf("  note: softhsm2-util could not create a token: PKCS#11 tests skipped\n");
        else
            state = 1;
    }
    if (state < 0) {
        /* Under tests/run every tool is installed: a skip there is a failure. */
        const char *strict = getenv("RUBRICA_TEST_STRICT");
        if (strict != NULL && strcmp(strict, "1") == 0)
            test_fail(__FILE__, __LINE__, "SoftHSM2 is required under RUBRICA_TEST_STRICT=1");
        return 0;
    }
    setenv("RUBRICA_PKCS11_MODULE", TEST_SOFTHSM_MODULE, 1);
    setenv("RUBRICA_PKCS11_PIN", TEST_SOFTHSM_PIN, 1);
    return 1;
}
