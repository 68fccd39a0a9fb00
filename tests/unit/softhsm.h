/*
 * A private SoftHSM2 token for unit tests, the C twin of tests/lib/softhsm.sh:
 * a config and token directory under the test temp area, a token labelled
 * "rubrica" with known PINs, and SOFTHSM2_CONF, RUBRICA_PKCS11_MODULE and
 * RUBRICA_PKCS11_PIN exported for librubrica and the PKCS#11 tools.
 */
#ifndef RB_TEST_SOFTHSM_H
#define RB_TEST_SOFTHSM_H

#define TEST_SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define TEST_SOFTHSM_TOKEN  "rubrica"
#define TEST_SOFTHSM_PIN    "4321"
#define TEST_SOFTHSM_SO_PIN "87654321"

/*
 * Creates the token on the first call (once per test run) and sets the
 * variables again on every call. Returns 1 when the token is ready, 0 after
 * printing a note when SoftHSM2 is not installed: the caller skips its test.
 */
int test_softhsm_ready(void);

#endif
