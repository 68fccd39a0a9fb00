/*
 * Unit tests of src/keys: encrypted PKCS#8 files for every key type, and keys
 * generated on a private SoftHSM2 token (skipped with a note when SoftHSM2 is
 * not installed), checked with OpenSSL and with pkcs11-tool: signatures,
 * certificates signed on the token, the key's attributes, concurrent signing,
 * and the errors a person sees.
 */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "keys/keys.h"
#include "keys/p11uri.h"
#include "softhsm.h"

#define TEST_PASS   "correct horse battery staple"
#define TOKEN_PIN   TEST_SOFTHSM_PIN
#define SOFTHSM_LIB TEST_SOFTHSM_MODULE
#define PASS_VAR    "RB_TEST_KEY_PASS"

/* Most tests name their own variable, leaving RUBRICA_KEY_PASS to the tests about it. */
static const rb_key_secret test_pass = {.pass_env = PASS_VAR};

/* Removes name from the environment, returning its value (owned) for env_restore. */
static char *env_take(const char *name)
{
    const char *value = getenv(name);
    char *saved = value ? strdup(value) : NULL;
    unsetenv(name);
    return saved;
}

static void env_restore(const char *name, char *saved)
{
    if (saved != NULL)
        setenv(name, saved, 1);
    else
        unsetenv(name);
    free(saved);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return;
    fputs(text, f);
    fclose(f);
}

/* Signs a message with the key (through rb_key_sign) and verifies it with the public key. */
static int sign_verifies(const rb_key *key)
{
    static const uint8_t msg[] = "Rúbrica: mensaje de prueba";
    uint8_t sig[1024];
    size_t sig_len = 0;
    rb_error err = {0};
    if (rb_key_sign(key, EVP_sha256(), msg, sizeof(msg), NULL, &sig_len, &err) != RB_OK ||
        sig_len > sizeof(sig))
        return 0;
    sig_len = sizeof(sig);
    if (rb_key_sign(key, EVP_sha256(), msg, sizeof(msg), sig, &sig_len, &err) != RB_OK) {
        fprintf(stderr, "  sign: %s\n", err.message);
        return 0;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL &&
             EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, rb_key_get0_public(key)) == 1 &&
             EVP_DigestVerify(ctx, sig, sig_len, msg, sizeof(msg)) == 1;
    EVP_MD_CTX_free(ctx);
    /* The same signature must fail on a changed message. */
    ctx = EVP_MD_CTX_new();
    int tampered =
        ctx != NULL &&
        EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, rb_key_get0_public(key)) == 1 &&
        EVP_DigestVerify(ctx, sig, sig_len, msg, sizeof(msg) - 2) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok && !tampered;
}

static int run(const char *cmd)
{
    return system(cmd) == 0;
}

/* ---- file keys ---- */

static void file_round_trip(rb_key_type type, const char *label, int expect_bits)
{
    const char *dir = test_tmpdir();
    char store[600], expected_ref[700], cmd[1400];
    rb_error err = {0};
    rb_key *key = NULL, *again = NULL;
    char *ref = NULL;
    setenv(PASS_VAR, TEST_PASS, 1);
    snprintf(store, sizeof(store), "file:%s", dir);
    REQUIRE(rb_key_generate(store, label, type, &test_pass, &key, &ref, &err) == RB_OK);
    snprintf(expected_ref, sizeof(expected_ref), "file:%s/%s.key", dir, label);
    CHECK_STR(ref, expected_ref);
    CHECK(!rb_key_is_hardware(key));
    CHECK(EVP_PKEY_get_bits(rb_key_get0_public(key)) == expect_bits);
    CHECK(sign_verifies(key));

    struct stat st;
    REQUIRE(stat(ref + 5, &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    /* OpenSSL itself reads it back, and it is PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC. */
    snprintf(cmd, sizeof(cmd), "openssl pkey -in %s -passin env:RB_TEST_KEY_PASS -noout", ref + 5);
    CHECK(run(cmd));
    snprintf(cmd, sizeof(cmd),
             "openssl asn1parse -in %s > %s/asn1.txt && grep -q PBES2 %s/asn1.txt && "
             "grep -q PBKDF2 %s/asn1.txt && grep -q aes-256-cbc %s/asn1.txt && "
             "grep -q hmacWithSHA256 %s/asn1.txt",
             ref + 5, dir, dir, dir, dir, dir);
    CHECK(run(cmd));

    REQUIRE(rb_key_load(ref, &test_pass, &again, &err) == RB_OK);
    CHECK(EVP_PKEY_eq(rb_key_get0_public(key), rb_key_get0_public(again)) == 1);
    CHECK(sign_verifies(again));
    rb_key_free(again);
    rb_key_free(key);
    free(ref);
}

TEST(keys_file_ec_p256)
{
    file_round_trip(RB_KEY_EC_P256, "ec256", 256);
}

TEST(keys_file_ec_p384)
{
    file_round_trip(RB_KEY_EC_P384, "ec384", 384);
}

TEST(keys_file_rsa_2048)
{
    file_round_trip(RB_KEY_RSA_2048, "rsa2048", 2048);
}

TEST(keys_file_rsa_3072)
{
    file_round_trip(RB_KEY_RSA_3072, "rsa3072", 3072);
}

TEST(keys_file_rsa_4096)
{
    file_round_trip(RB_KEY_RSA_4096, "rsa4096", 4096);
}

TEST(keys_file_ec_named_curve_and_exponent)
{
    const char *dir = test_tmpdir();
    char store[600], cmd[1400];
    rb_error err = {0};
    rb_key *key = NULL;
    char *ref = NULL;
    setenv(PASS_VAR, TEST_PASS, 1);
    snprintf(store, sizeof(store), "file:%s/", dir); /* a trailing slash is fine */
    REQUIRE(rb_key_generate(store, "ec", RB_KEY_EC_P384, &test_pass, &key, &ref, &err) == RB_OK);
    CHECK(strstr(ref, "//") == NULL);
    snprintf(cmd, sizeof(cmd),
             "openssl pkey -in %s -passin env:RB_TEST_KEY_PASS -pubout 2>/dev/null | "
             "openssl asn1parse | grep -q secp384r1",
             ref + 5);
    CHECK(run(cmd));
    rb_key_free(key);
    free(ref);
    REQUIRE(rb_key_generate(store, "rsa", RB_KEY_RSA_2048, &test_pass, &key, &ref, &err) == RB_OK);
    BIGNUM *e = NULL;
    CHECK(EVP_PKEY_get_bn_param(rb_key_get0_public(key), "e", &e) == 1 && BN_is_word(e, 65537));
    BN_free(e);
    rb_key_free(key);
    free(ref);
}

TEST(keys_file_secret_sources)
{
    const char *dir = test_tmpdir();
    char store[600], pass_path[700];
    rb_error err = {0};
    rb_key *key = NULL;
    char *ref = NULL;
    char *saved = env_take("RUBRICA_KEY_PASS");
    snprintf(store, sizeof(store), "file:%s", dir);
    snprintf(pass_path, sizeof(pass_path), "%s/pass.txt", dir);
    write_text(pass_path, "from a file\r\nsecond line is ignored\n");
    rb_key_secret from_file = {.pass_file = pass_path};
    REQUIRE(rb_key_generate(store, "k", RB_KEY_EC_P256, &from_file, &key, &ref, &err) == RB_OK);
    rb_key_free(key);
    key = NULL;
    /* The same passphrase from a named variable opens it; the trailing CRLF was not part of it. */
    setenv("RB_TEST_KEY_PASS", "from a file", 1);
    rb_key_secret from_env = {.pass_env = "RB_TEST_KEY_PASS"};
    CHECK(rb_key_load(ref, &from_env, &key, &err) == RB_OK);
    rb_key_free(key);
    key = NULL;
    /* A named variable that is not set is reported by name. */
    unsetenv("RB_TEST_KEY_PASS");
    rb_error_clear(&err);
    CHECK(rb_key_load(ref, &from_env, &key, &err) == RB_EINVAL);
    CHECK(strstr(err.message, "RB_TEST_KEY_PASS") != NULL);
    /* An empty passphrase file is refused. */
    write_text(pass_path, "\n");
    rb_error_clear(&err);
    CHECK(rb_key_load(ref, &from_file, &key, &err) == RB_EINVAL);
    CHECK(strstr(err.message, "empty") != NULL);
    CHECK(key == NULL);
    free(ref);
    env_restore("RUBRICA_KEY_PASS", saved);
}

TEST(keys_file_wrong_passphrase)
{
    const char *dir = test_tmpdir();
    char store[600];
    rb_error err = {0};
    rb_key *key = NULL;
    char *ref = NULL;
    setenv(PASS_VAR, TEST_PASS, 1);
    snprintf(store, sizeof(store), "file:%s", dir);
    REQUIRE(rb_key_generate(store, "k", RB_KEY_EC_P256, &test_pass, &key, &ref, &err) == RB_OK);
    rb_key_free(key);
    key = NULL;
    setenv(PASS_VAR, "not the passphrase", 1);
    CHECK(rb_key_load(ref, &test_pass, &key, &err) == RB_EPERM);
    CHECK(key == NULL);
    char expected[700];
    snprintf(expected, sizeof(expected), "cannot decrypt %s: wrong passphrase?", ref + 5);
    CHECK_STR(err.message, expected);
    free(ref);
}

TEST(keys_file_missing_passphrase)
{
    const char *dir = test_tmpdir();
    char store[600], path[700];
    rb_error err = {0};
    rb_key *key = NULL;
    char *ref = NULL;
    struct stat st;
    char *saved = env_take("RUBRICA_KEY_PASS");
    snprintf(store, sizeof(store), "file:%s", dir);
    CHECK(rb_key_generate(store, "k", RB_KEY_EC_P256, NULL, &key, &ref, &err) == RB_EINVAL);
    CHECK(key == NULL && ref == NULL);
    CHECK(strstr(err.message, "RUBRICA_KEY_PASS") != NULL);
    CHECK(strstr(err.message, "--pass-file") != NULL);
    /* Nothing was left behind. */
    snprintf(path, sizeof(path), "%s/k.key", dir);
    CHECK(stat(path, &st) != 0);
    /* With the variable set it works; loading without it says the same as above. */
    setenv("RUBRICA_KEY_PASS", TEST_PASS, 1);
    if (rb_key_generate(store, "k", RB_KEY_EC_P256, NULL, &key, &ref, &err) == RB_OK) {
        rb_key_free(key);
        key = NULL;
        unsetenv("RUBRICA_KEY_PASS");
        rb_error_clear(&err);
        CHECK(rb_key_load(ref, NULL, &key, &err) == RB_EINVAL);
        CHECK(strstr(err.message, "RUBRICA_KEY_PASS") != NULL);
        CHECK(key == NULL);
    } else {
        CHECK(!"generate with RUBRICA_KEY_PASS set");
    }
    free(ref);
    env_restore("RUBRICA_KEY_PASS", saved);
}

TEST(keys_file_refuses_overwrite)
{
    const char *dir = test_tmpdir();
    char store[600], cmd[800];
    rb_error err = {0};
    rb_key *key = NULL, *second = NULL;
    char *ref = NULL, *ref2 = NULL;
    setenv(PASS_VAR, TEST_PASS, 1);
    snprintf(store, sizeof(store), "file:%s", dir);
    REQUIRE(rb_key_generate(store, "ca", RB_KEY_EC_P256, &test_pass, &key, &ref, &err) == RB_OK);
    snprintf(cmd, sizeof(cmd), "cp %s %s/before", ref + 5, dir);
    REQUIRE(run(cmd));
    CHECK(rb_key_generate(store, "ca", RB_KEY_EC_P256, &test_pass, &second, &ref2, &err) ==
          RB_ECONFLICT);
    CHECK(second == NULL && ref2 == NULL);
    CHECK(strstr(err.message, "exists already") != NULL);
    snprintf(cmd, sizeof(cmd), "cmp -s %s %s/before", ref + 5, dir);
    CHECK(run(cmd));
    rb_key_free(key);
    free(ref);
}

TEST(keys_file_bad_input)
{
    const char *dir = test_tmpdir();
    char store[800], path[700];
    rb_error err = {0};
    rb_key *key = NULL;
    char *ref = NULL;
    setenv(PASS_VAR, TEST_PASS, 1);
    snprintf(store, sizeof(store), "file:%s", dir);
    CHECK(rb_key_generate(store, "../escape", RB_KEY_EC_P256, &test_pass, &key, &ref, &err) ==
          RB_EINVAL);
    rb_error_clear(&err);
    CHECK(rb_key_generate(store, ".hidden", RB_KEY_EC_P256, &test_pass, &key, &ref, &err) ==
          RB_EINVAL);
    rb_error_clear(&err);
    CHECK(rb_key_generate("vault:x", "k", RB_KEY_EC_P256, &test_pass, &key, &ref, &err) ==
          RB_EINVAL);
    rb_error_clear(&err);
    CHECK(rb_key_generate("file:/nonexistent/dir", "k", RB_KEY_EC_P256, &test_pass, &key, &ref,
                          &err) == RB_ENOTFOUND);
    rb_error_clear(&err);
    snprintf(path, sizeof(path), "file:%s/missing.key", dir);
    CHECK(rb_key_load(path, &test_pass, &key, &err) == RB_ENOTFOUND);
    /* An unencrypted key is refused. */
    snprintf(path, sizeof(path), "%s/plain.key", dir);
    char cmd[900];
    snprintf(cmd, sizeof(cmd),
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
             "-out %s 2>/dev/null",
             path);
    REQUIRE(run(cmd));
    snprintf(store, sizeof(store), "file:%s", path);
    rb_error_clear(&err);
    CHECK(rb_key_load(store, &test_pass, &key, &err) == RB_EINVAL);
    CHECK(strstr(err.message, "not an encrypted") != NULL);
    CHECK(key == NULL && ref == NULL);
}

TEST(keys_sign_buffer)
{
    rb_error err = {0};
    rb_key *key = NULL;
    char *ref = NULL, store[600];
    uint8_t sig[16];
    size_t sig_len = sizeof(sig);
    setenv(PASS_VAR, TEST_PASS, 1);
    snprintf(store, sizeof(store), "file:%s", test_tmpdir());
    REQUIRE(rb_key_generate(store, "k", RB_KEY_EC_P256, &test_pass, &key, &ref, &err) == RB_OK);
    CHECK(rb_key_sign(key, NULL, (const uint8_t *)"x", 1, sig, &sig_len, &err) == RB_EINVAL);
    CHECK(sig_len == sizeof(sig)); /* untouched on failure */
    CHECK(strstr(err.message, "too small") != NULL);
    rb_key_free(key);
    rb_key_free(NULL);
    free(ref);
}

TEST(keys_type_names)
{
    rb_key_type type;
    rb_error err = {0};
    const char *names[] = {"ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        CHECK(rb_key_type_parse(names[i], &type, &err) == RB_OK);
        CHECK_STR(rb_key_type_name(type), names[i]);
    }
    CHECK(rb_key_type_parse("rsa-1024", &type, &err) == RB_EINVAL);
    CHECK(strstr(err.message, "rsa-1024") != NULL && strstr(err.message, "ec-p256") != NULL);
    rb_error_clear(&err);
    CHECK(rb_key_type_parse("EC-P256", &type, &err) == RB_EINVAL);
    CHECK_STR(rb_key_type_name((rb_key_type)99), "?");
}

TEST(keys_p11uri_parse)
{
    rb_p11uri uri;
    rb_error err = {0};
    REQUIRE(rb_p11uri_parse("pkcs11:token=My%20Token;object=ca;id=%01%02%ff;type=private"
                            "?module-path=/usr/lib/x.so&pin-source=file:/run/pin",
                            &uri, &err) == RB_OK);
    CHECK_STR(uri.token, "My Token");
    CHECK_STR(uri.object, "ca");
    CHECK(uri.id_len == 3 && uri.id[0] == 1 && uri.id[1] == 2 && uri.id[2] == 0xff);
    CHECK_STR(uri.type, "private");
    CHECK_STR(uri.module_path, "/usr/lib/x.so");
    CHECK_STR(uri.pin_source, "file:/run/pin");
    rb_p11uri_clear(&uri);
    /* module-path and pin-value are also taken in the path. */
    REQUIRE(rb_p11uri_parse("pkcs11:token=t;module-path=/m.so;pin-value=12%33", &uri, &err) ==
            RB_OK);
    CHECK_STR(uri.module_path, "/m.so");
    CHECK_STR(uri.pin_value, "123");
    rb_p11uri_clear(&uri);
    CHECK(rb_p11uri_parse("pkcs11:token=a;token=b", &uri, &err) == RB_EINVAL);
    rb_error_clear(&err);
    CHECK(rb_p11uri_parse("pkcs11:token=a%2", &uri, &err) == RB_EINVAL);
    rb_error_clear(&err);
    CHECK(rb_p11uri_parse("pkcs11:token=a%zz", &uri, &err) == RB_EINVAL);
    rb_error_clear(&err);
    CHECK(rb_p11uri_parse("pkcs11:object=a%00b", &uri, &err) == RB_EINVAL);
    rb_error_clear(&err);
    CHECK(rb_p11uri_parse("pkcs11:slot-frobnicator=1", &uri, &err) == RB_EINVAL);
    CHECK(strstr(err.message, "slot-frobnicator") != NULL);
    rb_error_clear(&err);
    CHECK(rb_p11uri_parse("pkcs12:token=a", &uri, &err) == RB_EINVAL);
    char *ref = rb_p11uri_reference("my token", NULL, "ca;1", "/usr/lib/a b.so", NULL);
    REQUIRE(ref != NULL);
    CHECK_STR(ref, "pkcs11:token=my%20token;object=ca%3B1;type=private"
                   "?module-path=/usr/lib/a%20b.so");
    REQUIRE(rb_p11uri_parse(ref, &uri, &err) == RB_OK);
    CHECK_STR(uri.object, "ca;1");
    CHECK_STR(uri.module_path, "/usr/lib/a b.so");
    rb_p11uri_clear(&uri);
    free(ref);
}

/* ---- PKCS#11 keys on SoftHSM2 ---- */

#define REQUIRE_SOFTHSM()                                                                          \
    do {                                                                                           \
        if (!test_softhsm_ready())                                                                 \
            return;                                                                                \
    } while (0)

/*
 * The key's private object as pkcs11-tool (OpenSC, an independent reader)
 * lists it must say sensitive and never extractable.
 */
static int token_key_is_locked_in(const char *label)
{
    char cmd[1200];
    const char *dir = test_tmpdir();
    snprintf(cmd, sizeof(cmd),
             "pkcs11-tool --module %s --token-label rubrica --login --pin %s -O --type privkey "
             "--label %s > %s/objects.txt 2>&1",
             SOFTHSM_LIB, TOKEN_PIN, label, dir);
    if (!run(cmd))
        return 0;
    snprintf(cmd, sizeof(cmd),
             "grep -q 'label: *%s' %s/objects.txt && grep -q 'Access:.*sensitive' %s/objects.txt "
             "&& grep -q 'never extractable' %s/objects.txt",
             label, dir, dir, dir);
    return run(cmd);
}

static void token_round_trip(rb_key_type type, const char *label, int expect_bits)
{
    rb_error err = {0};
    rb_key *key = NULL, *again = NULL;
    char *ref = NULL, expected[200];
    REQUIRE(rb_key_generate("pkcs11:token=rubrica", label, type, NULL, &key, &ref, &err) == RB_OK);
    snprintf(expected, sizeof(expected), "pkcs11:token=rubrica;object=%s;type=private", label);
    CHECK_STR(ref, expected);
    CHECK(rb_key_is_hardware(key));
    CHECK(EVP_PKEY_get_bits(rb_key_get0_public(key)) == expect_bits);
    CHECK(sign_verifies(key));
    CHECK(token_key_is_locked_in(label));
    rb_key_free(key);

    REQUIRE(rb_key_load(ref, NULL, &again, &err) == RB_OK);
    CHECK(rb_key_is_hardware(again));
    CHECK(sign_verifies(again));
    rb_key_free(again);
    /* The same key by its CKA_ID (the label's bytes), with the module named in the URI. */
    char by_id[300];
    snprintf(by_id, sizeof(by_id), "pkcs11:token=rubrica;id=%s?module-path=%s", label, SOFTHSM_LIB);
    again = NULL;
    CHECK(rb_key_load(by_id, NULL, &again, &err) == RB_OK);
    CHECK(again != NULL && sign_verifies(again));
    rb_key_free(again);
    free(ref);
}

TEST(keys_token_ec_p256)
{
    REQUIRE_SOFTHSM();
    token_round_trip(RB_KEY_EC_P256, "ec256", 256);
}

TEST(keys_token_rsa_2048)
{
    REQUIRE_SOFTHSM();
    token_round_trip(RB_KEY_RSA_2048, "rsa2048", 2048);
}

TEST(keys_token_ec_p384)
{
    REQUIRE_SOFTHSM();
    token_round_trip(RB_KEY_EC_P384, "ec384", 384);
}

TEST(keys_token_errors)
{
    REQUIRE_SOFTHSM();
    rb_error err = {0};
    rb_key *key = NULL;
    char *ref = NULL;
    REQUIRE(rb_key_generate("pkcs11:token=rubrica", "dup", RB_KEY_EC_P256, NULL, &key, &ref,
                            &err) == RB_OK);
    rb_key_free(key);
    key = NULL;
    /* Same label again: refused, the first key untouched. */
    char *ref2 = NULL;
    CHECK(rb_key_generate("pkcs11:token=rubrica", "dup", RB_KEY_EC_P256, NULL, &key, &ref2, &err) ==
          RB_ECONFLICT);
    CHECK(strstr(err.message, "already") != NULL);
    CHECK(key == NULL && ref2 == NULL);

    setenv("RUBRICA_PKCS11_PIN", "9999", 1);
    rb_error_clear(&err);
    CHECK(rb_key_load(ref, NULL, &key, &err) == RB_EPERM);
    CHECK(strstr(err.message, "wrong PIN") != NULL);
    CHECK(key == NULL);

    unsetenv("RUBRICA_PKCS11_PIN");
    rb_error_clear(&err);
    CHECK(rb_key_load(ref, NULL, &key, &err) == RB_EINVAL);
    CHECK(strstr(err.message, "RUBRICA_PKCS11_PIN") != NULL);
    setenv("RUBRICA_PKCS11_PIN", TOKEN_PIN, 1);

    rb_error_clear(&err);
    CHECK(rb_key_load("pkcs11:token=nosuch;object=dup", NULL, &key, &err) == RB_ENOTFOUND);
    CHECK(strstr(err.message, "no PKCS#11 token labelled 'nosuch'") != NULL);
    CHECK(strstr(err.message, "'rubrica'") != NULL);

    rb_error_clear(&err);
    CHECK(rb_key_load("pkcs11:token=rubrica;object=nosuch", NULL, &key, &err) == RB_ENOTFOUND);
    CHECK(strstr(err.message, "nosuch") != NULL);

    rb_error_clear(&err);
    CHECK(rb_key_load("pkcs11:token=rubrica;object=dup;type=cert", NULL, &key, &err) == RB_EINVAL);
    rb_error_clear(&err);
    CHECK(rb_key_load("pkcs11:object=dup", NULL, &key, &err) == RB_EINVAL);
    CHECK(strstr(err.message, "token=") != NULL);
    rb_error_clear(&err);
    CHECK(rb_key_load("pkcs11:token=rubrica;object=dup?module-path=/nonexistent.so", NULL, &key,
                      &err) == RB_ENOTFOUND);
    CHECK(strstr(err.message, "/nonexistent.so") != NULL);
    CHECK(key == NULL);
    free(ref);
}

TEST(keys_token_pin_sources)
{
    REQUIRE_SOFTHSM();
    rb_error err = {0};
    rb_key *key = NULL;
    char *ref = NULL, pin_path[700], store[900];
    unsetenv("RUBRICA_PKCS11_PIN");
    snprintf(pin_path, sizeof(pin_path), "%s/pin", test_tmpdir());
    write_text(pin_path, TOKEN_PIN "\n");
    /* pin-source in the store URI is kept in the reference; the PIN itself never is. */
    snprintf(store, sizeof(store), "pkcs11:token=rubrica?pin-source=file:%s", pin_path);
    REQUIRE(rb_key_generate(store, "pinsrc", RB_KEY_EC_P256, NULL, &key, &ref, &err) == RB_OK);
    CHECK(strstr(ref, "pin-source=file:") != NULL);
    rb_key_free(key);
    key = NULL;
    CHECK(rb_key_load(ref, NULL, &key, &err) == RB_OK);
    rb_key_free(key);
    key = NULL;
    free(ref);
    ref = NULL;
    REQUIRE(rb_key_generate("pkcs11:token=rubrica?pin-value=" TOKEN_PIN, "pinval", RB_KEY_EC_P256,
                            NULL, &key, &ref, &err) == RB_OK);
    CHECK(strstr(ref, "pin-value") == NULL && strstr(ref, TOKEN_PIN) == NULL);
    rb_key_free(key);
    key = NULL;
    /* The caller's secret: a PIN file given like a passphrase file. */
    rb_key_secret secret = {.pass_file = pin_path};
    CHECK(rb_key_load(ref, &secret, &key, &err) == RB_OK);
    rb_key_free(key);
    free(ref);
}

/* ---- signing from threads ---- */

typedef struct sign_job {
    const rb_key *key;
    int good;
} sign_job;

/* Signs directly with the token-backed EVP_PKEY, as X509_sign or OCSP_basic_sign would. */
static int evp_sign_verifies(const rb_key *key)
{
    static const uint8_t msg[] = "respuesta OCSP";
    uint8_t sig[1024];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL &&
             EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, rb_key_get0_pkey(key)) == 1 &&
             EVP_DigestSign(ctx, sig, &sig_len, msg, sizeof(msg)) == 1;
    EVP_MD_CTX_free(ctx);
    ctx = EVP_MD_CTX_new();
    ok = ok && ctx != NULL &&
         EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, rb_key_get0_public(key)) == 1 &&
         EVP_DigestVerify(ctx, sig, sig_len, msg, sizeof(msg)) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static void *sign_many(void *arg)
{
    sign_job *job = arg;
    for (int i = 0; i < 25; i++)
        job->good += i % 2 ? sign_verifies(job->key) : evp_sign_verifies(job->key);
    return NULL;
}

static void sign_from_threads(const char *label, rb_key_type type)
{
    rb_error err = {0};
    rb_key *key = NULL;
    char *ref = NULL;
    REQUIRE(rb_key_generate("pkcs11:token=rubrica", label, type, NULL, &key, &ref, &err) == RB_OK);
    pthread_t threads[4];
    sign_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (sign_job){.key = key, .good = 0};
        REQUIRE(pthread_create(&threads[i], NULL, sign_many, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(jobs[i].good == 25);
    }
    rb_key_free(key);
    free(ref);
}

TEST(keys_token_sign_from_threads)
{
    REQUIRE_SOFTHSM();
    sign_from_threads("threads-ec", RB_KEY_EC_P256);
    sign_from_threads("threads-rsa", RB_KEY_RSA_2048);
}

/* ---- what a certificate signer does ---- */

static X509 *self_signed(const rb_key *key, const char *cn)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509_EXTENSION *ext = NULL;
    X509V3_CTX ctx;
    if (x == NULL || name == NULL)
        goto fail;
    X509_NAME_add_entry_by_txt(name, "C", MBSTRING_UTF8, (const unsigned char *)"EC", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    if (X509_set_version(x, X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(x), 0x5ca1ab1e) != 1 ||
        X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365) == NULL ||
        X509_set_pubkey(x, rb_key_get0_public(key)) != 1)
        goto fail;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    if (ext == NULL || X509_add_ext(x, ext, -1) != 1)
        goto fail;
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    if (ext == NULL || X509_add_ext(x, ext, -1) != 1)
        goto fail;
    X509_EXTENSION_free(ext);
    X509_NAME_free(name);
    /* The private key operation happens on the token. */
    if (X509_sign(x, rb_key_get0_pkey(key), EVP_sha256()) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
fail:
    X509_EXTENSION_free(ext);
    X509_NAME_free(name);
    X509_free(x);
    return NULL;
}

static void certificate_on_token(const char *label, rb_key_type type)
{
    rb_error err = {0};
    rb_key *key = NULL;
    char *ref = NULL, path[700], cmd[1600];
    REQUIRE(rb_key_generate("pkcs11:token=rubrica", label, type, NULL, &key, &ref, &err) == RB_OK);
    X509 *cert = self_signed(key, "Rúbrica prueba");
    REQUIRE(cert != NULL);
    CHECK(X509_verify(cert, rb_key_get0_public(key)) == 1);
    snprintf(path, sizeof(path), "%s/ca.pem", test_tmpdir());
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    CHECK(PEM_write_X509(f, cert) == 1);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "openssl verify -x509_strict -CAfile %s %s >/dev/null", path, path);
    CHECK(run(cmd));
    X509_free(cert);
    rb_key_free(key);
    free(ref);
}

TEST(keys_token_signs_certificate)
{
    REQUIRE_SOFTHSM();
    certificate_on_token("cert-ec", RB_KEY_EC_P256);
    certificate_on_token("cert-rsa", RB_KEY_RSA_2048);
}

TEST(keys_file_signs_certificate)
{
    rb_error err = {0};
    rb_key *key = NULL;
    char *ref = NULL, store[600];
    setenv(PASS_VAR, TEST_PASS, 1);
    snprintf(store, sizeof(store), "file:%s", test_tmpdir());
    REQUIRE(rb_key_generate(store, "ca", RB_KEY_EC_P384, &test_pass, &key, &ref, &err) == RB_OK);
    X509 *cert = self_signed(key, "file CA");
    REQUIRE(cert != NULL);
    CHECK(X509_verify(cert, rb_key_get0_public(key)) == 1);
    X509_free(cert);
    rb_key_free(key);
    free(ref);
}
