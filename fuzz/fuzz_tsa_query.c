/*
 * libFuzzer target for the time-stamp query path: whatever bytes arrive at
 * POST /tsa go through rb_tsa_respond, which must answer (usually with a
 * rejection) without crashing, leaking or reading out of bounds.
 *
 * Build and run all targets: fuzz/run (FUZZ_SECONDS per target); build only:
 *   make FUZZ=1 BUILD=build-fuzz fuzz
 * The seeds in fuzz/corpus/tsa were made with `openssl ts -query`.
 */
#include "store/migrate.h"
#include "store/store.h"
#include "tsa/tsa.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static rb_tsa *tsa;
static rb_ctx ctx = {.actor = "fuzz", .clock = {.fixed_ms = 1795000000000LL}};

/* A self-signed certificate with the critical timeStamping EKU the TSA insists on. */
static X509 *make_tsa_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"fuzz", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf(NULL, &v3, "extendedKeyUsage", "critical,timeStamping");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    X509_sign(x, key, EVP_sha256());
    return x;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static char dir[] = "/tmp/rubrica-fuzz-XXXXXX";
    static char db[64];
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(db, sizeof(db), "%s/tsa.db", dir);
    rb_error err = {0};
    if (rb_store_open(db, &ctx.store, &err) != RB_OK ||
        rb_store_migrate(ctx.store, NULL, NULL, &err) != RB_OK)
        abort();
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = make_tsa_cert(key);
    rb_tsa_config cfg = {.db = db, .policy = "2.999.1.8", .accuracy_ms = 1000};
    if (rb_tsa_new(&cfg, key, cert, NULL, 0, &tsa, &err) != RB_OK)
        abort();
    EVP_PKEY_free(key);
    X509_free(cert);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *resp = NULL;
    size_t len = 0;
    rb_error err = {0};
    if (rb_tsa_respond(tsa, &ctx, data, size, &resp, &len, &err) != RB_OK)
        abort(); /* only a broken TSA fails; bad input gets a rejection */
    free(resp);
    return 0;
}
