/*
 * Unit tests of src/tsa: tokens verified with OpenSSL's own verifier, every
 * refusal with its PKIStatus and failInfo, records committed before the token
 * is returned, and serials unique across threads.
 */
#include "harness.h"

#include "core/context.h"
#include "store/migrate.h"
#include "store/store.h"
#include "tsa/tsa.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdlib.h>

#define FIXED_MS 1795000000123LL /* 2026-11-18T...; the .123 checks millisecond precision */

typedef struct fixture {
    EVP_PKEY *root_key, *tsa_key;
    X509 *root, *cert;
    char db[512];
    rb_store *store;
    rb_ctx ctx;
    rb_tsa *tsa;
} fixture;

static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                       const char *eku)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), eku ? 2 : 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 3650);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_set_pubkey(x, key);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    const char *exts[][2] = {
        {"basicConstraints", eku ? "critical,CA:FALSE" : "critical,CA:TRUE"},
        {"keyUsage", eku ? "critical,digitalSignature" : "critical,keyCertSign,cRLSign"},
        {"subjectKeyIdentifier", "hash"},
        {"extendedKeyUsage", eku},
    };
    for (size_t i = 0; i < 4 && exts[i][1] != NULL; i++) {
        X509_EXTENSION *ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
    return x;
}

/* A root, a TSA certificate with the given EKU under it, a migrated SQLite store, a TSA. */
static int fixture_setup(fixture *f, const char *eku)
{
    memset(f, 0, sizeof(*f));
    f->root_key = EVP_EC_gen("P-256");
    f->tsa_key = EVP_EC_gen("P-256");
    f->root = make_cert("Test Root", f->root_key, NULL, NULL, NULL);
    f->cert = make_cert("Test TSA", f->tsa_key, f->root, f->root_key, eku);
    snprintf(f->db, sizeof(f->db), "%s/tsa.db", test_tmpdir());
    rb_error err = {0};
    if (rb_store_open(f->db, &f->store, &err) != RB_OK ||
        rb_store_migrate(f->store, NULL, NULL, &err) != RB_OK)
        return -1;
    f->ctx.store = f->store;
    f->ctx.clock.fixed_ms = FIXED_MS;
    f->ctx.actor = "test";
    rb_tsa_config cfg = {
        .db = f->db, .policy = "2.999.1.8", .other_policies = "2.999.1.9", .accuracy_ms = 500};
    return rb_tsa_new(&cfg, f->tsa_key, f->cert, NULL, 0, &f->tsa, &err) == RB_OK ? 0 : -1;
}

static void fixture_teardown(fixture *f)
{
    rb_tsa_free(f->tsa);
    rb_store_close(f->store);
    EVP_PKEY_free(f->root_key);
    EVP_PKEY_free(f->tsa_key);
    X509_free(f->root);
    X509_free(f->cert);
}

/* A query for "hello" with md (its real digest unless digest_len overrides the length). */
static TS_REQ *make_query(const EVP_MD *md, int alg_nid, size_t digest_len, long nonce,
                          int cert_req)
{
    unsigned char digest[EVP_MAX_MD_SIZE] = {0};
    unsigned int len = 0;
    EVP_Digest("hello", 5, digest, &len, md, NULL);
    if (digest_len > 0)
        len = (unsigned int)digest_len;
    TS_REQ *req = TS_REQ_new();
    TS_REQ_set_version(req, 1);
    TS_MSG_IMPRINT *imprint = TS_MSG_IMPRINT_new();
    X509_ALGOR *algo = X509_ALGOR_new();
    X509_ALGOR_set0(algo, OBJ_nid2obj(alg_nid ? alg_nid : EVP_MD_get_type(md)), V_ASN1_NULL, NULL);
    TS_MSG_IMPRINT_set_algo(imprint, algo);
    TS_MSG_IMPRINT_set_msg(imprint, digest, (int)len);
    TS_REQ_set_msg_imprint(req, imprint);
    X509_ALGOR_free(algo);
    TS_MSG_IMPRINT_free(imprint);
    if (nonce != 0) {
        ASN1_INTEGER *n = ASN1_INTEGER_new();
        ASN1_INTEGER_set(n, nonce);
        TS_REQ_set_nonce(req, n);
        ASN1_INTEGER_free(n);
    }
    TS_REQ_set_cert_req(req, cert_req);
    return req;
}

static size_t encode_query(TS_REQ *req, uint8_t *buf, size_t cap)
{
    int len = i2d_TS_REQ(req, NULL);
    if (len <= 0 || (size_t)len > cap)
        return 0;
    unsigned char *p = buf;
    i2d_TS_REQ(req, &p);
    return (size_t)len;
}

static TS_RESP *respond(fixture *f, const uint8_t *der, size_t len)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    rb_error err = {0};
    if (rb_tsa_respond(f->tsa, &f->ctx, der, len, &out, &out_len, &err) != RB_OK)
        return NULL;
    const unsigned char *p = out;
    TS_RESP *resp = d2i_TS_RESP(NULL, &p, (long)out_len);
    free(out);
    return resp;
}

static long resp_status(TS_RESP *resp)
{
    return ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp)));
}

static int has_failure(TS_RESP *resp, int bit)
{
    const ASN1_BIT_STRING *fi = TS_STATUS_INFO_get0_failure_info(TS_RESP_get_status_info(resp));
    return fi != NULL && ASN1_BIT_STRING_get_bit(fi, bit);
}

static int64_t count_rows(fixture *f)
{
    rb_stmt *stmt;
    int has_row = 0;
    rb_error err = {0};
    if (rb_store_prepare(f->store, "SELECT COUNT(*) FROM tsa_tokens", &stmt, &err) != RB_OK ||
        rb_stmt_step(stmt, &has_row, &err) != RB_OK || !has_row)
        return -1;
    int64_t n = rb_stmt_int64(stmt, 0);
    rb_stmt_reset(stmt);
    return n;
}

TEST(tsa_token_verifies_with_openssl)
{
    fixture f;
    REQUIRE(fixture_setup(&f, "critical,timeStamping") == 0);
    TS_REQ *req = make_query(EVP_sha256(), 0, 0, 0x1234567, 1);
    uint8_t der[512];
    size_t len = encode_query(req, der, sizeof(der));
    TS_RESP *resp = respond(&f, der, len);
    REQUIRE(resp != NULL);
    CHECK(resp_status(resp) == TS_STATUS_GRANTED);

    /* OpenSSL checks signature, chain, imprint, nonce and the ESS certificate id. */
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, f.root);
    TS_VERIFY_CTX *vctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL);
    TS_VERIFY_CTX_add_flags(vctx, TS_VFY_SIGNATURE);
    TS_VERIFY_CTX_set_store(vctx, store);
    CHECK(TS_RESP_verify_response(vctx, resp) == 1);
    CHECK(TS_RESP_verify_token(vctx, TS_RESP_get_token(resp)) == 1);

    TS_TST_INFO *info = TS_RESP_get_tst_info(resp);
    CHECK(ASN1_INTEGER_get(TS_TST_INFO_get_nonce(info)) == 0x1234567);
    char text[64];
    OBJ_obj2txt(text, sizeof(text), TS_TST_INFO_get_policy_id(info), 1);
    CHECK_STR(text, "2.999.1.8");
    const ASN1_GENERALIZEDTIME *gen = TS_TST_INFO_get_time(info);
    CHECK(strncmp((const char *)ASN1_STRING_get0_data(gen), "20261118", 8) == 0);
    CHECK(strstr((const char *)ASN1_STRING_get0_data(gen), ".123Z") != NULL);
    TS_ACCURACY *acc = TS_TST_INFO_get_accuracy(info);
    CHECK(acc != NULL && ASN1_INTEGER_get(TS_ACCURACY_get_millis(acc)) == 500);

    /* RFC 5816: the signer is identified by ESSCertIDv2, and certReq put the certificate in. */
    PKCS7 *token = TS_RESP_get_token(resp);
    PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(token), 0);
    CHECK(PKCS7_get_signed_attribute(si, NID_id_smime_aa_signingCertificateV2) != NULL);
    CHECK(sk_X509_num(token->d.sign->cert) == 1);

    /* The record exists, with the serial the token carries. */
    CHECK(count_rows(&f) == 1);
    rb_stmt *stmt;
    int has_row = 0;
    rb_error err = {0};
    REQUIRE(rb_store_prepare(f.store, "SELECT serial, at_ms, hash_alg, nonce FROM tsa_tokens",
                             &stmt, &err) == RB_OK);
    REQUIRE(rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row);
    BIGNUM *bn = ASN1_INTEGER_to_BN(TS_TST_INFO_get_serial(info), NULL);
    char *hex = BN_bn2hex(bn);
    CHECK_STR(rb_stmt_text(stmt, 0), hex);
    CHECK(rb_stmt_int64(stmt, 1) == FIXED_MS);
    CHECK_STR(rb_stmt_text(stmt, 2), "sha256");
    CHECK_STR(rb_stmt_text(stmt, 3), "01234567");
    rb_stmt_reset(stmt);
    OPENSSL_free(hex);
    BN_free(bn);
    TS_VERIFY_CTX_free(vctx);
    TS_RESP_free(resp);
    TS_REQ_free(req);
    fixture_teardown(&f);
}

TEST(tsa_without_cert_req_sends_no_certificate)
{
    fixture f;
    REQUIRE(fixture_setup(&f, "critical,timeStamping") == 0);
    TS_REQ *req = make_query(EVP_sha512(), 0, 0, 0, 0);
    uint8_t der[512];
    TS_RESP *resp = respond(&f, der, encode_query(req, der, sizeof(der)));
    REQUIRE(resp != NULL);
    CHECK(resp_status(resp) == TS_STATUS_GRANTED);
    CHECK(sk_X509_num(TS_RESP_get_token(resp)->d.sign->cert) <= 0); /* NULL when none */
    CHECK(TS_TST_INFO_get_nonce(TS_RESP_get_tst_info(resp)) == NULL);
    TS_RESP_free(resp);
    TS_REQ_free(req);
    fixture_teardown(&f);
}

/* Answers der and checks it is a rejection carrying failure bit. */
static int rejected_with(fixture *f, const uint8_t *der, size_t len, int bit)
{
    TS_RESP *resp = respond(f, der, len);
    int ok = resp != NULL && resp_status(resp) == TS_STATUS_REJECTION && has_failure(resp, bit) &&
             TS_RESP_get_token(resp) == NULL;
    TS_RESP_free(resp);
    return ok;
}

static int query_rejected_with(fixture *f, TS_REQ *req, int bit)
{
    uint8_t der[512];
    int ok = rejected_with(f, der, encode_query(req, der, sizeof(der)), bit);
    TS_REQ_free(req);
    return ok;
}

TEST(tsa_rejections_carry_rfc3161_fail_info)
{
    fixture f;
    REQUIRE(fixture_setup(&f, "critical,timeStamping") == 0);
    /* Unknown or refused hash algorithms: badAlg (SHA-1 is refused on purpose). */
    CHECK(query_rejected_with(&f, make_query(EVP_sha3_256(), 0, 0, 1, 1), TS_INFO_BAD_ALG));
    CHECK(query_rejected_with(&f, make_query(EVP_sha1(), 0, 0, 1, 1), TS_INFO_BAD_ALG));
    CHECK(query_rejected_with(&f, make_query(EVP_md5(), 0, 0, 1, 1), TS_INFO_BAD_ALG));
    /* A SHA-256 imprint of 20 bytes: badDataFormat. */
    CHECK(query_rejected_with(&f, make_query(EVP_sha256(), 0, 20, 1, 1), TS_INFO_BAD_DATA_FORMAT));
    /* An extension we do not know: unacceptedExtension. */
    TS_REQ *req = make_query(EVP_sha256(), 0, 0, 1, 1);
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(value, (const unsigned char *)"\x05\x00", 2);
    ASN1_OBJECT *unknown = OBJ_txt2obj("1.2.3.4.5", 1);
    X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, unknown, 0, value);
    TS_REQ_add_ext(req, ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(unknown);
    ASN1_OCTET_STRING_free(value);
    CHECK(query_rejected_with(&f, req, TS_INFO_UNACCEPTED_EXTENSION));
    /* A policy the TSA does not offer: unacceptedPolicy; one it offers is granted. */
    ASN1_OBJECT *policy = OBJ_txt2obj("1.2.3.4.6", 1);
    req = make_query(EVP_sha256(), 0, 0, 1, 1);
    TS_REQ_set_policy_id(req, policy);
    ASN1_OBJECT_free(policy);
    CHECK(query_rejected_with(&f, req, TS_INFO_UNACCEPTED_POLICY));
    policy = OBJ_txt2obj("2.999.1.9", 1);
    req = make_query(EVP_sha256(), 0, 0, 1, 1);
    TS_REQ_set_policy_id(req, policy);
    ASN1_OBJECT_free(policy);
    uint8_t der[512];
    size_t len = encode_query(req, der, sizeof(der));
    TS_RESP *resp = respond(&f, der, len);
    CHECK(resp != NULL && resp_status(resp) == TS_STATUS_GRANTED);
    TS_RESP_free(resp);
    TS_REQ_free(req);
    /* Garbage, empty, truncated, trailing bytes, an overlong nonce: badDataFormat. */
    CHECK(rejected_with(&f, (const uint8_t *)"hello, world", 12, TS_INFO_BAD_DATA_FORMAT));
    CHECK(rejected_with(&f, der, 0, TS_INFO_BAD_DATA_FORMAT));
    CHECK(rejected_with(&f, der, len - 3, TS_INFO_BAD_DATA_FORMAT));
    der[len] = 0;
    CHECK(rejected_with(&f, der, len + 1, TS_INFO_BAD_DATA_FORMAT));
    req = make_query(EVP_sha256(), 0, 0, 1, 1);
    BIGNUM *big = BN_new();
    BN_set_bit(big, 8 * 65);
    ASN1_INTEGER *nonce = BN_to_ASN1_INTEGER(big, NULL);
    TS_REQ_set_nonce(req, nonce);
    ASN1_INTEGER_free(nonce);
    BN_free(big);
    CHECK(query_rejected_with(&f, req, TS_INFO_BAD_DATA_FORMAT));
    /* Only the one granted token was recorded. */
    CHECK(count_rows(&f) == 1);
    fixture_teardown(&f);
}

TEST(tsa_refuses_certificate_without_timestamping_eku)
{
    fixture f;
    CHECK(fixture_setup(&f, "timeStamping") != 0); /* not critical: RFC 3161 2.3 */
    fixture_teardown(&f);
}

typedef struct worker {
    fixture *f;
    int count, failures;
} worker;

static void *stamp_many(void *arg)
{
    worker *w = arg;
    rb_ctx ctx = {.actor = "test"}; /* system clock: no store needed by the TSA */
    TS_REQ *req = make_query(EVP_sha256(), 0, 0, 42, 0);
    uint8_t der[512];
    size_t len = encode_query(req, der, sizeof(der));
    for (int i = 0; i < w->count; i++) {
        uint8_t *out = NULL;
        size_t out_len;
        rb_error err = {0};
        if (rb_tsa_respond(w->f->tsa, &ctx, der, len, &out, &out_len, &err) != RB_OK)
            w->failures++;
        free(out);
    }
    TS_REQ_free(req);
    return NULL;
}

TEST(tsa_serials_unique_across_threads)
{
    fixture f;
    REQUIRE(fixture_setup(&f, "critical,timeStamping") == 0);
    pthread_t threads[4];
    worker workers[4];
    for (int i = 0; i < 4; i++) {
        workers[i] = (worker){.f = &f, .count = 250};
        pthread_create(&threads[i], NULL, stamp_many, &workers[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(workers[i].failures == 0);
    }
    CHECK(count_rows(&f) == 1000);
    rb_stmt *stmt;
    int has_row = 0;
    rb_error err = {0};
    REQUIRE(rb_store_prepare(f.store,
                             "SELECT COUNT(DISTINCT serial), MIN(LENGTH(serial)) "
                             "FROM tsa_tokens",
                             &stmt, &err) == RB_OK);
    REQUIRE(rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row);
    CHECK(rb_stmt_int64(stmt, 0) == 1000);
    CHECK(rb_stmt_int64(stmt, 1) == 32);
    rb_stmt_reset(stmt);
    fixture_teardown(&f);
}

/* For the reference token: the serial and time the token under test carries. */
typedef struct reference_input {
    const ASN1_INTEGER *serial;
} reference_input;

static ASN1_INTEGER *reference_serial(TS_RESP_CTX *ctx, void *data)
{
    (void)ctx;
    return ASN1_INTEGER_dup(((const reference_input *)data)->serial);
}

static int reference_time(TS_RESP_CTX *ctx, void *data, long *sec, long *usec)
{
    (void)ctx;
    (void)data;
    *sec = (long)(FIXED_MS / 1000);
    *usec = (long)(FIXED_MS % 1000) * 1000;
    return 1;
}

static uint8_t *tst_info_der(TS_RESP *resp, int *len)
{
    uint8_t *der = NULL;
    *len = i2d_TS_TST_INFO(TS_RESP_get_tst_info(resp), &der);
    return der;
}

/*
 * The TSA encodes granted tokens itself (src/tsa/token.c). Its TSTInfo must be
 * the one OpenSSL's TS_RESP_CTX makes from the same query, serial and time,
 * byte for byte, and its signed attributes the ones OpenSSL signs.
 */
TEST(tsa_token_matches_openssl_encoding)
{
    fixture f;
    REQUIRE(fixture_setup(&f, "critical,timeStamping") == 0);
    const EVP_MD *mds[] = {EVP_sha256(), EVP_sha512()};
    for (size_t i = 0; i < 2; i++) {
        TS_REQ *req = make_query(mds[i], 0, 0, i == 0 ? -77 : 0, (int)i);
        if (i == 1) {
            ASN1_OBJECT *policy = OBJ_txt2obj("2.999.1.9", 1);
            TS_REQ_set_policy_id(req, policy);
            ASN1_OBJECT_free(policy);
        }
        uint8_t der[512];
        size_t len = encode_query(req, der, sizeof(der));
        TS_RESP *ours = respond(&f, der, len);
        REQUIRE(ours != NULL && resp_status(ours) == TS_STATUS_GRANTED);

        reference_input in = {TS_TST_INFO_get_serial(TS_RESP_get_tst_info(ours))};
        TS_RESP_CTX *ctx = TS_RESP_CTX_new();
        ASN1_OBJECT *def = OBJ_txt2obj("2.999.1.8", 1), *other = OBJ_txt2obj("2.999.1.9", 1);
        REQUIRE(TS_RESP_CTX_set_signer_cert(ctx, f.cert) &&
                TS_RESP_CTX_set_signer_key(ctx, f.tsa_key));
        TS_RESP_CTX_set_signer_digest(ctx, EVP_sha256());
        TS_RESP_CTX_set_ess_cert_id_digest(ctx, EVP_sha256());
        TS_RESP_CTX_set_def_policy(ctx, def);
        TS_RESP_CTX_add_policy(ctx, other);
        TS_RESP_CTX_add_md(ctx, EVP_sha256());
        TS_RESP_CTX_add_md(ctx, EVP_sha512());
        TS_RESP_CTX_set_accuracy(ctx, 0, 500, 0);
        TS_RESP_CTX_set_clock_precision_digits(ctx, 3);
        TS_RESP_CTX_set_serial_cb(ctx, reference_serial, &in);
        TS_RESP_CTX_set_time_cb(ctx, reference_time, NULL);
        BIO *bio = BIO_new_mem_buf(der, (int)len);
        TS_RESP *theirs = TS_RESP_create_response(ctx, bio);
        BIO_free(bio);
        REQUIRE(theirs != NULL && resp_status(theirs) == TS_STATUS_GRANTED);

        int a_len, b_len;
        uint8_t *a = tst_info_der(ours, &a_len), *b = tst_info_der(theirs, &b_len);
        CHECK(a_len > 0 && a_len == b_len && memcmp(a, b, (size_t)a_len) == 0);
        OPENSSL_free(a);
        OPENSSL_free(b);
        PKCS7 *ta = TS_RESP_get_token(ours), *tb = TS_RESP_get_token(theirs);
        PKCS7_SIGNER_INFO *sa = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(ta), 0);
        PKCS7_SIGNER_INFO *sb = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(tb), 0);
        int nids[] = {NID_pkcs9_contentType, NID_pkcs9_messageDigest,
                      NID_id_smime_aa_signingCertificateV2};
        for (size_t n = 0; n < sizeof(nids) / sizeof(nids[0]); n++) {
            ASN1_TYPE *x = PKCS7_get_signed_attribute(sa, nids[n]);
            ASN1_TYPE *y = PKCS7_get_signed_attribute(sb, nids[n]);
            unsigned char *dx = NULL, *dy = NULL;
            int lx = x ? i2d_ASN1_TYPE(x, &dx) : -1, ly = y ? i2d_ASN1_TYPE(y, &dy) : -1;
            CHECK(lx > 0 && lx == ly && memcmp(dx, dy, (size_t)lx) == 0);
            OPENSSL_free(dx);
            OPENSSL_free(dy);
        }
        CHECK(sk_X509_num(ta->d.sign->cert) == sk_X509_num(tb->d.sign->cert));
        ASN1_OBJECT_free(def);
        ASN1_OBJECT_free(other);
        TS_RESP_CTX_free(ctx);
        TS_RESP_free(theirs);
        TS_RESP_free(ours);
        TS_REQ_free(req);
    }
    fixture_teardown(&f);
}
