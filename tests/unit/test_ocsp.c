/*
 * Unit tests of src/ocsp: a root, an issuing CA, its delegated responder and
 * a few subscriber certificates are made with OpenSSL and written straight
 * into a fresh SQLite store; every answer is checked with OCSP_basic_verify
 * against the root and read back with OpenSSL's own OCSP accessors.
 */
#include "fixture.h"
#include "harness.h"

#include "keys/keys.h"
#include "ocsp/internal.h"
#include "ocsp/ocsp.h"
#include "store/migrate.h"
#include "store/store.h"

#include <openssl/ec.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#define HOUR_MS (3600LL * 1000)

typedef struct fixture {
    rb_ctx ctx;
    EVP_PKEY *root_key, *ca_key, *responder_key, *other_key;
    X509 *root, *ca, *responder, *other_ca;
    X509 *good, *revoked, *suspended, *no_reason, *unknown, *foreign;
    rb_ocsp_responder *r;
    int64_t revoked_ms, invalidity_ms;
    char path[600]; /* the SQLite file */
} fixture;

static EVP_PKEY *ec_key(void)
{
    return EVP_EC_gen("P-256");
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

/* A certificate for key named cn, signed by issuer/issuer_key (itself when issuer is NULL). */
static X509 *make_cert(const char *cn, const char *serial_hex, EVP_PKEY *key, X509 *issuer,
                       EVP_PKEY *issuer_key, const char *kind)
{
    X509 *cert = X509_new();
    BIGNUM *bn = NULL;
    BN_hex2bn(&bn, serial_hex);
    ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
    X509_set_version(cert, X509_VERSION_3);
    X509_set_serialNumber(cert, serial);
    X509_NAME *name = X509_NAME_new();
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(cert, name);
    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 86400);
    X509_set_pubkey(cert, key);
    X509 *signer = issuer ? issuer : cert;
    add_ext(cert, signer, NID_subject_key_identifier, "hash");
    add_ext(cert, signer, NID_authority_key_identifier, "keyid:always");
    if (strcmp(kind, "ca") == 0) {
        add_ext(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else if (strcmp(kind, "ocsp") == 0) {
        add_ext(cert, signer, NID_key_usage, "critical,digitalSignature");
        add_ext(cert, signer, NID_ext_key_usage, "OCSPSigning");
        add_ext(cert, signer, NID_id_pkix_OCSP_noCheck, "ignored");
    } else if (strcmp(kind, "leaf") == 0) {
        add_ext(cert, signer, NID_key_usage, "critical,digitalSignature");
    }
    X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256());
    X509_NAME_free(name);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return cert;
}

static int exec_ok(fixture *f, const char *sql)
{
    rb_error err = {0};
    rb_status s = rb_store_exec(f->ctx.store, sql, &err);
    if (s != RB_OK)
        fprintf(stderr, "  sql: %s\n", err.message);
    return s == RB_OK;
}

static int insert_authority(fixture *f, const char *name, const char *role, const char *issuer,
                            X509 *cert, const char *key_ref)
{
    rb_stmt *stmt;
    rb_error err = {0};
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    rb_status s = rb_store_prepare(f->ctx.store,
                                   "INSERT INTO authorities (name, role, issuer, key_ref, subject, "
                                   "serial, not_before_ms, not_after_ms, created_ms, cert_der) "
                                   "VALUES ($1, $2, $3, $4, $1, '01', 0, 9999999999999, $5, $6)",
                                   &stmt, &err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, name);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, role);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 3, issuer);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 4, key_ref);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 5, rb_ctx_now_ms(&f->ctx));
    if (s == RB_OK)
        s = rb_stmt_bind_blob(stmt, 6, der, (size_t)len);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, &err);
    OPENSSL_free(der);
    return s == RB_OK;
}

static int insert_cert(fixture *f, X509 *cert, const char *serial, const char *status,
                       int64_t revoked_ms, int reason, int64_t invalidity_ms, int64_t not_after)
{
    rb_stmt *stmt;
    rb_error err = {0};
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    rb_status s = rb_store_prepare(
        f->ctx.store,
        "INSERT INTO certificates (serial, issuer, profile, subject, spki_sha256, fields, "
        "not_before_ms, not_after_ms, issued_ms, status, revoked_ms, reason, invalidity_ms, der) "
        "VALUES ($1, 'issuing', 'test', 'CN=test', 'x', '{}', 0, $2, 0, $3, $4, $5, $6, $7)",
        &stmt, &err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, serial);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 2, not_after);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 3, status);
    if (s == RB_OK)
        s = revoked_ms ? rb_stmt_bind_int64(stmt, 4, revoked_ms) : rb_stmt_bind_null(stmt, 4);
    if (s == RB_OK)
        s = reason >= 0 ? rb_stmt_bind_int64(stmt, 5, reason) : rb_stmt_bind_null(stmt, 5);
    if (s == RB_OK)
        s = invalidity_ms ? rb_stmt_bind_int64(stmt, 6, invalidity_ms) : rb_stmt_bind_null(stmt, 6);
    if (s == RB_OK)
        s = rb_stmt_bind_blob(stmt, 7, der, (size_t)len);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, &err);
    if (s != RB_OK)
        fprintf(stderr, "  insert: %s\n", err.message);
    OPENSSL_free(der);
    return s == RB_OK;
}

static void fixture_free(fixture *f)
{
    rb_ocsp_responder_free(f->r);
    rb_store_close(f->ctx.store);
    EVP_PKEY *keys[] = {f->root_key, f->ca_key, f->responder_key, f->other_key};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        EVP_PKEY_free(keys[i]);
    X509 *certs[] = {f->root,    f->ca,        f->responder, f->other_ca, f->good,
                     f->revoked, f->suspended, f->no_reason, f->unknown,  f->foreign};
    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
        X509_free(certs[i]);
}

/* Builds the hierarchy, the store and (with_responder) a responder for the issuing CA. */
static int fixture_init(fixture *f, int with_responder)
{
    memset(f, 0, sizeof(*f));
    rb_error err = {0};
    snprintf(f->path, sizeof(f->path), "%s/ocsp.db", test_tmpdir());
    f->ctx.actor = "test";
    if (rb_store_open(f->path, &f->ctx.store, &err) != RB_OK ||
        rb_store_migrate(f->ctx.store, &f->ctx.clock, NULL, &err) != RB_OK) {
        fprintf(stderr, "  store: %s\n", err.message);
        return 0;
    }
    f->root_key = ec_key();
    f->ca_key = ec_key();
    f->responder_key = ec_key();
    f->other_key = ec_key();
    EVP_PKEY *leaf_key = ec_key();
    f->root = make_cert("Test Root", "01", f->root_key, NULL, NULL, "ca");
    f->ca = make_cert("Test Issuing CA", "02", f->ca_key, f->root, f->root_key, "ca");
    f->other_ca = make_cert("Someone Else", "03", f->other_key, NULL, NULL, "ca");
    f->responder = make_cert("Test OCSP", "04", f->responder_key, f->ca, f->ca_key, "ocsp");
    f->good = make_cert("good", "0A11", leaf_key, f->ca, f->ca_key, "leaf");
    f->revoked = make_cert("revoked", "0B22", leaf_key, f->ca, f->ca_key, "leaf");
    f->suspended = make_cert("suspended", "0C33", leaf_key, f->ca, f->ca_key, "leaf");
    f->no_reason = make_cert("no reason", "0D44", leaf_key, f->ca, f->ca_key, "leaf");
    f->unknown = make_cert("never recorded", "0E55", leaf_key, f->ca, f->ca_key, "leaf");
    f->foreign = make_cert("foreign", "0A11", leaf_key, f->other_ca, f->other_key, "leaf");
    EVP_PKEY_free(leaf_key);
    int64_t now = rb_ctx_now_ms(&f->ctx);
    f->revoked_ms = (now / 1000 - 7200) * 1000;
    f->invalidity_ms = (now / 1000 - 86400) * 1000;
    int ok = insert_authority(f, "root", "root", "root", f->root, "file:none") &&
             insert_authority(f, "issuing", "issuing", "root", f->ca, "file:none") &&
             insert_authority(f, "ocsp", "ocsp", "issuing", f->responder, "file:none") &&
             insert_cert(f, f->good, "0A11", "valid", 0, -1, 0, now + 365 * 24 * HOUR_MS) &&
             insert_cert(f, f->revoked, "0B22", "revoked", f->revoked_ms, 1, f->invalidity_ms,
                         now + 365 * 24 * HOUR_MS) &&
             insert_cert(f, f->suspended, "0C33", "suspended", f->revoked_ms, 6, 0,
                         now + 365 * 24 * HOUR_MS) &&
             insert_cert(f, f->no_reason, "0D44", "revoked", f->revoked_ms, 0, 0,
                         now - HOUR_MS); /* expired: not pre-signed */
    if (!ok)
        return 0;
    if (!with_responder)
        return 1;
    if (rb_ocsp_responder_new(NULL, &f->r, &err) != RB_OK ||
        rb_ocsp_responder_add_issuer(f->r, "issuing", f->ca, f->responder, f->responder_key, 0,
                                     &err) != RB_OK) {
        fprintf(stderr, "  responder: %s\n", err.message);
        return 0;
    }
    return 1;
}

/* A DER request for certs (each issued by issuer), SHA-1 CertIDs unless md says otherwise. */
static uint8_t *make_request(X509 **certs, X509 **issuers, size_t n, const EVP_MD *md, int nonce,
                             size_t *len, OCSP_REQUEST **keep)
{
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    for (size_t i = 0; i < n; i++)
        OCSP_request_add0_id(req, OCSP_cert_to_id(md, certs[i], issuers[i]));
    if (nonce)
        OCSP_request_add1_nonce(req, NULL, -1);
    unsigned char *der = NULL;
    int l = i2d_OCSP_REQUEST(req, &der);
    *len = (size_t)l;
    if (keep)
        *keep = req;
    else
        OCSP_REQUEST_free(req);
    return der;
}

static rb_ocsp_answer ask(fixture *f, X509 *cert, X509 *issuer, int nonce, OCSP_REQUEST **keep)
{
    rb_ocsp_answer answer = {0};
    rb_error err = {0};
    size_t len;
    uint8_t *der = make_request(&cert, &issuer, 1, NULL, nonce, &len, keep);
    if (rb_ocsp_respond(f->r, &f->ctx, der, len, &answer, &err) != RB_OK)
        fprintf(stderr, "  respond: %s\n", err.message);
    OPENSSL_free(der);
    return answer;
}

/* Parses and verifies a successful answer against the root; NULL when either fails. */
static OCSP_BASICRESP *verified_with(fixture *f, const rb_ocsp_answer *answer, unsigned long flags)
{
    const unsigned char *p = answer->der;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)answer->der_len);
    OCSP_BASICRESP *bs = NULL;
    if (resp != NULL && OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL)
        bs = OCSP_response_get1_basic(resp);
    OCSP_RESPONSE_free(resp);
    if (bs == NULL)
        return NULL;
    X509_STORE *trust = X509_STORE_new();
    X509_STORE_add_cert(trust, f->root);
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, f->ca);
    int ok = OCSP_basic_verify(bs, untrusted, trust, flags);
    sk_X509_free(untrusted);
    X509_STORE_free(trust);
    if (ok != 1) {
        OCSP_BASICRESP_free(bs);
        return NULL;
    }
    return bs;
}

static OCSP_BASICRESP *verified(fixture *f, const rb_ocsp_answer *answer)
{
    return verified_with(f, answer, 0);
}

typedef struct seen {
    int status, reason;
    int64_t revoked_s, this_s, next_s;
} seen;

/* The status the verified answer gives cert (SHA-1 CertID unless md); status -1 if none. */
static seen status_of(OCSP_BASICRESP *bs, X509 *cert, X509 *issuer, const EVP_MD *md)
{
    seen out = {-1, -1, 0, 0, 0};
    OCSP_CERTID *id = OCSP_cert_to_id(md, cert, issuer);
    ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
    if (OCSP_resp_find_status(bs, id, &out.status, &out.reason, &rev, &thisupd, &nextupd) == 1) {
        struct tm tm;
        if (rev && ASN1_TIME_to_tm(rev, &tm))
            out.revoked_s = (int64_t)timegm(&tm);
        if (thisupd && ASN1_TIME_to_tm(thisupd, &tm))
            out.this_s = (int64_t)timegm(&tm);
        if (nextupd && ASN1_TIME_to_tm(nextupd, &tm))
            out.next_s = (int64_t)timegm(&tm);
    }
    OCSP_CERTID_free(id);
    return out;
}

static int answer_status(const rb_ocsp_answer *answer)
{
    const unsigned char *p = answer->der;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)answer->der_len);
    int status = resp ? OCSP_response_status(resp) : -1;
    OCSP_RESPONSE_free(resp);
    return status;
}

TEST(ocsp_good)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    rb_ocsp_answer a = ask(&f, f.good, f.ca, 0, NULL);
    OCSP_BASICRESP *bs = verified(&f, &a);
    CHECK(bs != NULL);
    if (bs) {
        seen s = status_of(bs, f.good, f.ca, NULL);
        CHECK(s.status == V_OCSP_CERTSTATUS_GOOD);
        CHECK(s.next_s - s.this_s == RB_OCSP_DEFAULT_VALIDITY_MS / 1000);
        /* responderID byKey, and the responder certificate is included */
        const ASN1_OCTET_STRING *key_id = NULL;
        const X509_NAME *by_name = NULL;
        CHECK(OCSP_resp_get0_id(bs, &key_id, &by_name) == 1 && key_id != NULL && !by_name);
        CHECK(sk_X509_num(OCSP_resp_get0_certs(bs)) == 1);
    }
    CHECK(a.cacheable && !a.from_cache && a.response_status == 0);
    CHECK(a.next_update_ms - a.this_update_ms == RB_OCSP_DEFAULT_VALIDITY_MS);
    OCSP_BASICRESP_free(bs);
    rb_ocsp_answer_clear(&a);
    fixture_free(&f);
}

TEST(ocsp_revoked_time_and_reason)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    rb_ocsp_answer a = ask(&f, f.revoked, f.ca, 0, NULL);
    OCSP_BASICRESP *bs = verified(&f, &a);
    REQUIRE(bs != NULL);
    seen s = status_of(bs, f.revoked, f.ca, NULL);
    CHECK(s.status == V_OCSP_CERTSTATUS_REVOKED);
    CHECK(s.reason == OCSP_REVOKED_STATUS_KEYCOMPROMISE);
    CHECK(s.revoked_s == f.revoked_ms / 1000);
    /* the invalidity date travels as a singleExtension */
    OCSP_SINGLERESP *single = OCSP_resp_get0(bs, 0);
    ASN1_GENERALIZEDTIME *inv =
        OCSP_SINGLERESP_get1_ext_d2i(single, NID_invalidity_date, NULL, NULL);
    struct tm tm;
    CHECK(inv != NULL && ASN1_TIME_to_tm(inv, &tm) && timegm(&tm) == f.invalidity_ms / 1000);
    ASN1_GENERALIZEDTIME_free(inv);
    OCSP_BASICRESP_free(bs);
    rb_ocsp_answer_clear(&a);

    /* revoked with reason unspecified: no revocationReason at all */
    a = ask(&f, f.no_reason, f.ca, 0, NULL);
    bs = verified(&f, &a);
    REQUIRE(bs != NULL);
    s = status_of(bs, f.no_reason, f.ca, NULL);
    CHECK(s.status == V_OCSP_CERTSTATUS_REVOKED && s.reason == OCSP_REVOKED_STATUS_NOSTATUS);
    OCSP_BASICRESP_free(bs);
    rb_ocsp_answer_clear(&a);
    fixture_free(&f);
}

TEST(ocsp_suspended_is_certificate_hold)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    rb_ocsp_answer a = ask(&f, f.suspended, f.ca, 0, NULL);
    OCSP_BASICRESP *bs = verified(&f, &a);
    REQUIRE(bs != NULL);
    seen s = status_of(bs, f.suspended, f.ca, NULL);
    CHECK(s.status == V_OCSP_CERTSTATUS_REVOKED);
    CHECK(s.reason == OCSP_REVOKED_STATUS_CERTIFICATEHOLD);
    CHECK(s.revoked_s == f.revoked_ms / 1000);
    OCSP_BASICRESP_free(bs);
    rb_ocsp_answer_clear(&a);
    fixture_free(&f);
}

TEST(ocsp_unknown_serial)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    rb_ocsp_answer a = ask(&f, f.unknown, f.ca, 0, NULL);
    OCSP_BASICRESP *bs = verified(&f, &a);
    REQUIRE(bs != NULL);
    CHECK(status_of(bs, f.unknown, f.ca, NULL).status == V_OCSP_CERTSTATUS_UNKNOWN);
    OCSP_BASICRESP_free(bs);
    rb_ocsp_answer_clear(&a);
    /* nothing is cached for a serial that is not ours */
    a = ask(&f, f.unknown, f.ca, 0, NULL);
    CHECK(!a.from_cache);
    rb_ocsp_answer_clear(&a);
    fixture_free(&f);
}

TEST(ocsp_unknown_issuer_is_unauthorized)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    /* same serial as a good certificate of ours, but another CA */
    rb_ocsp_answer a = ask(&f, f.foreign, f.other_ca, 0, NULL);
    CHECK(answer_status(&a) == OCSP_RESPONSE_STATUS_UNAUTHORIZED);
    CHECK(a.response_status == OCSP_RESPONSE_STATUS_UNAUTHORIZED && !a.cacheable);
    rb_ocsp_answer_clear(&a);

    /* mixed with one of ours: ours answered, the foreign one unknown */
    X509 *certs[] = {f.good, f.foreign};
    X509 *issuers[] = {f.ca, f.other_ca};
    size_t len;
    rb_error err = {0};
    uint8_t *der = make_request(certs, issuers, 2, NULL, 0, &len, NULL);
    REQUIRE(rb_ocsp_respond(f.r, &f.ctx, der, len, &a, &err) == RB_OK);
    OPENSSL_free(der);
    /*
     * OpenSSL accepts a delegated responder only when every CertID names its
     * CA (OCSP_basic_verify's issuer check), so only the signature and chain
     * are checked here.
     */
    OCSP_BASICRESP *bs = verified_with(&f, &a, OCSP_NOCHECKS);
    REQUIRE(bs != NULL);
    CHECK(OCSP_resp_count(bs) == 2);
    CHECK(status_of(bs, f.good, f.ca, NULL).status == V_OCSP_CERTSTATUS_GOOD);
    CHECK(status_of(bs, f.foreign, f.other_ca, NULL).status == V_OCSP_CERTSTATUS_UNKNOWN);
    CHECK(!a.cacheable);
    OCSP_BASICRESP_free(bs);
    rb_ocsp_answer_clear(&a);
    fixture_free(&f);
}

TEST(ocsp_nonce_echoed_and_fresh)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    OCSP_REQUEST *req1 = NULL, *req2 = NULL;
    rb_ocsp_answer a = ask(&f, f.good, f.ca, 1, &req1);
    rb_ocsp_answer b = ask(&f, f.good, f.ca, 1, &req2);
    OCSP_BASICRESP *bs = verified(&f, &a);
    REQUIRE(bs != NULL);
    CHECK(OCSP_check_nonce(req1, bs) == 1);
    CHECK(OCSP_check_nonce(req2, bs) == 0);
    CHECK(status_of(bs, f.good, f.ca, NULL).status == V_OCSP_CERTSTATUS_GOOD);
    CHECK(!a.cacheable && !a.from_cache && !b.from_cache);
    CHECK(a.der_len != b.der_len || memcmp(a.der, b.der, a.der_len) != 0);
    OCSP_BASICRESP_free(bs);
    OCSP_REQUEST_free(req1);
    OCSP_REQUEST_free(req2);
    rb_ocsp_answer_clear(&a);
    rb_ocsp_answer_clear(&b);
    fixture_free(&f);
}

static int malformed(fixture *f, const uint8_t *der, size_t len)
{
    rb_ocsp_answer a = {0};
    rb_error err = {0};
    int ok = rb_ocsp_respond(f->r, &f->ctx, der, len, &a, &err) == RB_OK &&
             answer_status(&a) == OCSP_RESPONSE_STATUS_MALFORMEDREQUEST &&
             a.response_status == OCSP_RESPONSE_STATUS_MALFORMEDREQUEST && err.status == RB_EINVAL;
    rb_ocsp_answer_clear(&a);
    return ok;
}

TEST(ocsp_malformed_requests)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    CHECK(malformed(&f, (const uint8_t *)"garbage", 7));
    CHECK(malformed(&f, (const uint8_t *)"", 0));
    size_t len;
    uint8_t *der = make_request(&f.good, &f.ca, 1, NULL, 0, &len, NULL);
    CHECK(malformed(&f, der, len - 1)); /* truncated */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, der, len);
    longer[len] = 0;
    CHECK(malformed(&f, longer, len + 1)); /* trailing byte */
    free(longer);
    OPENSSL_free(der);
    uint8_t *huge = calloc(1, RB_OCSP_MAX_REQUEST_BYTES + 1);
    CHECK(malformed(&f, huge, RB_OCSP_MAX_REQUEST_BYTES + 1));
    free(huge);
    /* more CertIDs than answered */
    X509 *certs[RB_OCSP_MAX_CERTIDS + 1], *issuers[RB_OCSP_MAX_CERTIDS + 1];
    for (int i = 0; i <= RB_OCSP_MAX_CERTIDS; i++) {
        certs[i] = f.good;
        issuers[i] = f.ca;
    }
    der = make_request(certs, issuers, RB_OCSP_MAX_CERTIDS + 1, NULL, 0, &len, NULL);
    CHECK(malformed(&f, der, len));
    OPENSSL_free(der);
    der = make_request(certs, issuers, RB_OCSP_MAX_CERTIDS, NULL, 0, &len, NULL);
    CHECK(!malformed(&f, der, len));
    OPENSSL_free(der);
    fixture_free(&f);
}

TEST(ocsp_request_parse_nonce_limits)
{
    rb_ocsp_request req;
    rb_error err = {0};
    X509 *ca = NULL, *leaf = NULL;
    EVP_PKEY *key = ec_key();
    ca = make_cert("CA", "01", key, NULL, NULL, "ca");
    leaf = make_cert("leaf", "00FF", key, ca, key, "leaf");
    size_t sizes[] = {1, 32, 33, 128};
    int echoed[] = {1, 1, 0, 0};
    for (size_t i = 0; i < 4; i++) {
        OCSP_REQUEST *r = OCSP_REQUEST_new();
        OCSP_request_add0_id(r, OCSP_cert_to_id(NULL, leaf, ca));
        OCSP_request_add1_nonce(r, NULL, (int)sizes[i]);
        unsigned char *der = NULL;
        int len = i2d_OCSP_REQUEST(r, &der);
        REQUIRE(rb_ocsp_request_parse(der, (size_t)len, &req, &err) == RB_OK);
        CHECK(req.has_nonce == echoed[i]);
        CHECK(req.count == 1 && req.ids[0].hash_nid == NID_sha1);
        CHECK_STR(req.ids[0].serial, "FF");
        rb_ocsp_request_clear(&req);
        OPENSSL_free(der);
        OCSP_REQUEST_free(r);
    }
    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(key);
}

/* Checks that the simple reader and OpenSSL's agree on der; returns what the simple one said. */
static int simple_agrees(const uint8_t *der, size_t len, const char *serial)
{
    rb_ocsp_certid id;
    rb_ocsp_request req;
    rb_error err = {0};
    int simple = rb_ocsp_request_parse_simple(der, len, &id);
    if (!simple)
        return 0;
    if (rb_ocsp_request_parse(der, len, &req, &err) != RB_OK) {
        CHECK(!"the general parser refuses what the simple one accepts");
        return 1;
    }
    const rb_ocsp_certid *full = &req.ids[0];
    CHECK(req.count == 1 && !req.has_nonce && full->hash_nid == NID_sha1);
    CHECK(id.hash_nid == NID_sha1 && id.id == NULL);
    CHECK_STR(id.serial, full->serial);
    CHECK_STR(id.serial, serial);
    CHECK(id.name_hash_len == full->name_hash_len &&
          memcmp(id.name_hash, full->name_hash, id.name_hash_len) == 0);
    CHECK(id.key_hash_len == full->key_hash_len &&
          memcmp(id.key_hash, full->key_hash, id.key_hash_len) == 0);
    rb_ocsp_request_clear(&req);
    return 1;
}

TEST(ocsp_request_parse_simple)
{
    fixture f;
    REQUIRE(fixture_init(&f, 0));
    X509 *certs[] = {f.good, f.revoked}, *issuers[] = {f.ca, f.ca};
    size_t len;
    uint8_t *der = make_request(certs, issuers, 1, NULL, 0, &len, NULL);
    CHECK(simple_agrees(der, len, "0A11"));
    CHECK(!rb_ocsp_request_parse_simple(der, len - 1, &(rb_ocsp_certid){0}));
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, der, len);
    longer[len] = 0;
    CHECK(!rb_ocsp_request_parse_simple(longer, len + 1, &(rb_ocsp_certid){0}));
    free(longer);
    OPENSSL_free(der);
    /* a nonce, a SHA-256 CertID or two CertIDs are for the general parser */
    der = make_request(certs, issuers, 1, NULL, 1, &len, NULL);
    CHECK(!simple_agrees(der, len, ""));
    OPENSSL_free(der);
    der = make_request(certs, issuers, 1, EVP_sha256(), 0, &len, NULL);
    CHECK(!simple_agrees(der, len, ""));
    OPENSSL_free(der);
    der = make_request(certs, issuers, 2, NULL, 0, &len, NULL);
    CHECK(!simple_agrees(der, len, ""));
    OPENSSL_free(der);
    /* a serial whose top bit is set carries a leading zero octet, not part of the text */
    EVP_PKEY *key = ec_key();
    X509 *high = make_cert("high", "80FF", key, f.ca, key, "leaf");
    der = make_request(&high, issuers, 1, NULL, 0, &len, NULL);
    CHECK(simple_agrees(der, len, "80FF"));
    OPENSSL_free(der);
    X509_free(high);
    EVP_PKEY_free(key);
    fixture_free(&f);
}

/* A revocation committed through another connection (as by another process) is seen at once. */
TEST(ocsp_hot_cache_sees_other_connections)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    rb_ocsp_answer a = ask(&f, f.good, f.ca, 0, NULL);
    rb_ocsp_answer_clear(&a);
    a = ask(&f, f.good, f.ca, 0, NULL);
    rb_ocsp_answer_clear(&a);
    uint64_t before = rb_store_change_counter(f.ctx.store);
    CHECK(before != 0); /* SQLite in WAL mode */
    CHECK(rb_store_change_counter(f.ctx.store) == before);
    rb_store *other = NULL;
    rb_error err = {0};
    REQUIRE(rb_store_open(f.path, &other, &err) == RB_OK);
    REQUIRE(rb_store_exec(other,
                          "BEGIN IMMEDIATE; UPDATE certificates SET status = 'revoked', "
                          "revoked_ms = 1000, reason = 1 WHERE serial = '0A11'; "
                          "DELETE FROM ocsp_responses WHERE serial = '0A11'; COMMIT",
                          &err) == RB_OK);
    CHECK(rb_store_change_counter(f.ctx.store) != before);
    a = ask(&f, f.good, f.ca, 0, NULL);
    OCSP_BASICRESP *bs = verified(&f, &a);
    REQUIRE(bs != NULL);
    CHECK(status_of(bs, f.good, f.ca, NULL).status == V_OCSP_CERTSTATUS_REVOKED);
    OCSP_BASICRESP_free(bs);
    rb_ocsp_answer_clear(&a);
    /* the new answer is kept in turn, and dropped when the row goes again */
    a = ask(&f, f.good, f.ca, 0, NULL);
    CHECK(a.from_cache);
    rb_ocsp_answer_clear(&a);
    REQUIRE(rb_store_exec(other,
                          "BEGIN IMMEDIATE; UPDATE certificates SET status = 'valid', "
                          "revoked_ms = NULL, reason = NULL WHERE serial = '0A11'; "
                          "DELETE FROM ocsp_responses WHERE serial = '0A11'; COMMIT",
                          &err) == RB_OK);
    a = ask(&f, f.good, f.ca, 0, NULL);
    CHECK(!a.from_cache);
    bs = verified(&f, &a);
    REQUIRE(bs != NULL);
    CHECK(status_of(bs, f.good, f.ca, NULL).status == V_OCSP_CERTSTATUS_GOOD);
    OCSP_BASICRESP_free(bs);
    rb_ocsp_answer_clear(&a);
    rb_store_close(other);
    fixture_free(&f);
}

TEST(ocsp_cache_reused_without_nonce)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    rb_ocsp_answer a = ask(&f, f.good, f.ca, 0, NULL);
    rb_ocsp_answer b = ask(&f, f.good, f.ca, 0, NULL);
    CHECK(!a.from_cache && b.from_cache && b.cacheable);
    CHECK(a.der_len == b.der_len && memcmp(a.der, b.der, a.der_len) == 0);
    CHECK(a.next_update_ms == b.next_update_ms);
    /* a SHA-256 CertID is answered afresh and still verifies */
    X509 *cert = f.good, *issuer = f.ca;
    size_t len;
    rb_error err = {0};
    rb_ocsp_answer c = {0};
    uint8_t *der = make_request(&cert, &issuer, 1, EVP_sha256(), 0, &len, NULL);
    REQUIRE(rb_ocsp_respond(f.r, &f.ctx, der, len, &c, &err) == RB_OK);
    OPENSSL_free(der);
    OCSP_BASICRESP *bs = verified(&f, &c);
    REQUIRE(bs != NULL);
    CHECK(status_of(bs, f.good, f.ca, EVP_sha256()).status == V_OCSP_CERTSTATUS_GOOD);
    CHECK(!c.from_cache);
    OCSP_BASICRESP_free(bs);
    rb_ocsp_answer_clear(&a);
    rb_ocsp_answer_clear(&b);
    rb_ocsp_answer_clear(&c);
    fixture_free(&f);
}

TEST(ocsp_cache_row_deleted_resigns_new_status)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    rb_ocsp_answer a = ask(&f, f.good, f.ca, 0, NULL);
    rb_ocsp_answer_clear(&a);
    /* what a revocation does, in one transaction */
    REQUIRE(exec_ok(&f, "BEGIN; UPDATE certificates SET status = 'revoked', revoked_ms = 1000, "
                        "reason = 4 WHERE serial = '0A11'; "
                        "DELETE FROM ocsp_responses WHERE serial = '0A11'; COMMIT"));
    a = ask(&f, f.good, f.ca, 0, NULL);
    CHECK(!a.from_cache);
    OCSP_BASICRESP *bs = verified(&f, &a);
    REQUIRE(bs != NULL);
    seen s = status_of(bs, f.good, f.ca, NULL);
    CHECK(s.status == V_OCSP_CERTSTATUS_REVOKED && s.reason == 4 && s.revoked_s == 1);
    OCSP_BASICRESP_free(bs);
    rb_ocsp_answer_clear(&a);
    a = ask(&f, f.good, f.ca, 0, NULL);
    CHECK(a.from_cache);
    rb_ocsp_answer_clear(&a);
    fixture_free(&f);
}

TEST(ocsp_cache_expired_resigns)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    rb_ocsp_answer a = ask(&f, f.good, f.ca, 0, NULL);
    f.ctx.clock.fixed_ms = a.next_update_ms; /* the instant it stops being good */
    rb_ocsp_answer b = ask(&f, f.good, f.ca, 0, NULL);
    CHECK(!b.from_cache && b.this_update_ms == a.next_update_ms);
    rb_ocsp_answer c = ask(&f, f.good, f.ca, 0, NULL);
    CHECK(c.from_cache && c.der_len == b.der_len && memcmp(c.der, b.der, b.der_len) == 0);
    rb_ocsp_answer_clear(&a);
    rb_ocsp_answer_clear(&b);
    rb_ocsp_answer_clear(&c);
    fixture_free(&f);
}

TEST(ocsp_cache_put_refuses_stale_status)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    rb_error err = {0};
    ocsp_cert_state state;
    REQUIRE(ocsp_state_read(&f.ctx, f.r->issuers[0], "0A11", &state, &err) == RB_OK);
    CHECK(state.known && strcmp(state.status, "valid") == 0);
    /* a revocation lands between reading the status and storing the answer */
    REQUIRE(exec_ok(&f, "UPDATE certificates SET status = 'revoked', revoked_ms = 5 "
                        "WHERE serial = '0A11'"));
    int stored = 1;
    REQUIRE(rb_store_begin(f.ctx.store, &err) == RB_OK);
    CHECK(ocsp_cache_put(&f.ctx, "0A11", &state, 1, 2, (const uint8_t *)"x", 1, &stored, &err) ==
          RB_OK);
    CHECK(stored == 0);
    REQUIRE(rb_store_commit(f.ctx.store, &err) == RB_OK);
    REQUIRE(ocsp_state_read(&f.ctx, f.r->issuers[0], "0A11", &state, &err) == RB_OK);
    REQUIRE(rb_store_begin(f.ctx.store, &err) == RB_OK);
    CHECK(ocsp_cache_put(&f.ctx, "0A11", &state, 1, 2, (const uint8_t *)"x", 1, &stored, &err) ==
          RB_OK);
    CHECK(stored == 1);
    REQUIRE(rb_store_commit(f.ctx.store, &err) == RB_OK);
    fixture_free(&f);
}

TEST(ocsp_presign_all)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    rb_error err = {0};
    size_t count = 0;
    REQUIRE(rb_ocsp_presign_all(f.r, &f.ctx, 0, &count, &err) == RB_OK);
    CHECK(count == 3); /* good, revoked, suspended; the expired one is left to on-demand */
    REQUIRE(rb_ocsp_presign_all(f.r, &f.ctx, 0, &count, &err) == RB_OK);
    CHECK(count == 0);
    X509 *certs[] = {f.good, f.revoked, f.suspended};
    int expect[] = {V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_REVOKED, V_OCSP_CERTSTATUS_REVOKED};
    for (int i = 0; i < 3; i++) {
        rb_ocsp_answer a = ask(&f, certs[i], f.ca, 0, NULL);
        CHECK(a.from_cache);
        OCSP_BASICRESP *bs = verified(&f, &a);
        CHECK(bs != NULL && status_of(bs, certs[i], f.ca, NULL).status == expect[i]);
        OCSP_BASICRESP_free(bs);
        rb_ocsp_answer_clear(&a);
    }
    /* within refresh_ms of nextUpdate everything is signed again */
    REQUIRE(rb_ocsp_presign_all(f.r, &f.ctx, RB_OCSP_DEFAULT_VALIDITY_MS + HOUR_MS, &count, &err) ==
            RB_OK);
    CHECK(count == 3);
    fixture_free(&f);
}

/* Responses a full pass would still sign: 0 when the incremental passes missed nothing. */
static size_t left_for_a_full_pass(fixture *f, int64_t refresh_ms)
{
    rb_error err = {0};
    size_t count = 99;
    if (rb_ocsp_presign_all(f->r, &f->ctx, refresh_ms, &count, &err) != RB_OK)
        fprintf(stderr, "  presign: %s\n", err.message);
    return count;
}

TEST(ocsp_presign_since_signs_what_changed)
{
    fixture f;
    REQUIRE(fixture_init(&f, 1));
    f.ctx.clock.fixed_ms = rb_ctx_now_ms(&f.ctx);
    rb_error err = {0};
    rb_ocsp_presign_cursor cursor = {0};
    size_t count = 0;
    REQUIRE(exec_ok(&f, "INSERT INTO cert_events (audit_seq, serial, at_ms, event, detail) "
                        "VALUES (1, '0A11', 0, 'issue', '{}'), (2, '0B22', 0, 'issue', '{}')"));
    /* The first pass is a full one, and takes the events so far into account. */
    REQUIRE(rb_ocsp_presign_since(f.r, &f.ctx, 0, &cursor, &count, &err) == RB_OK);
    CHECK(count == 3 && cursor.seen_seq == 2 && cursor.full_pass_ms == rb_ctx_now_ms(&f.ctx));
    REQUIRE(rb_ocsp_presign_since(f.r, &f.ctx, 0, &cursor, &count, &err) == RB_OK);
    CHECK(count == 0 && cursor.seen_seq == 2);
    /* A revocation deletes the answer and adds an event, twice for the same certificate
     * here: one new answer. An event for the expired certificate signs nothing. */
    REQUIRE(exec_ok(&f, "UPDATE certificates SET status = 'revoked', revoked_ms = 5, reason = 1 "
                        "WHERE serial = '0A11'"));
    REQUIRE(exec_ok(&f, "DELETE FROM ocsp_responses WHERE serial = '0A11'"));
    REQUIRE(exec_ok(&f, "INSERT INTO cert_events (audit_seq, serial, at_ms, event, detail) "
                        "VALUES (3, '0A11', 0, 'revoke', '{}'), (4, '0A11', 0, 'revoke', '{}'), "
                        "(5, '0D44', 0, 'revoke', '{}')"));
    REQUIRE(rb_ocsp_presign_since(f.r, &f.ctx, 0, &cursor, &count, &err) == RB_OK);
    CHECK(count == 1 && cursor.seen_seq == 5);
    rb_ocsp_answer a = ask(&f, f.good, f.ca, 0, NULL);
    OCSP_BASICRESP *bs = verified(&f, &a);
    CHECK(a.from_cache && bs != NULL &&
          status_of(bs, f.good, f.ca, NULL).status == V_OCSP_CERTSTATUS_REVOKED);
    OCSP_BASICRESP_free(bs);
    rb_ocsp_answer_clear(&a);
    /* An answer removed without an event is not seen until it would fall due... */
    REQUIRE(exec_ok(&f, "DELETE FROM ocsp_responses WHERE serial = '0C33'"));
    REQUIRE(rb_ocsp_presign_since(f.r, &f.ctx, 0, &cursor, &count, &err) == RB_OK);
    CHECK(count == 0);
    CHECK(left_for_a_full_pass(&f, 0) == 1);
    /* ... while answers within refresh_ms of their nextUpdate are found through their index. */
    REQUIRE(rb_ocsp_presign_since(f.r, &f.ctx, RB_OCSP_DEFAULT_VALIDITY_MS + HOUR_MS, &cursor,
                                  &count, &err) == RB_OK);
    CHECK(count == 3);
    CHECK(left_for_a_full_pass(&f, 0) == 0);
    /* A stale answer for an expired certificate is deleted, a fresh one kept. */
    REQUIRE(exec_ok(&f, "INSERT INTO ocsp_responses (serial, this_update_ms, next_update_ms, der) "
                        "VALUES ('0D44', 0, 1, 'x')"));
    REQUIRE(rb_ocsp_presign_since(f.r, &f.ctx, 0, &cursor, &count, &err) == RB_OK);
    CHECK(test_query_int(&f.ctx, "SELECT count(*) FROM ocsp_responses WHERE serial = '0D44'") == 0);
    CHECK(test_query_int(&f.ctx, "SELECT count(*) FROM ocsp_responses") == 3);
    /* A day after the last full pass, the next pass is a full one again. */
    REQUIRE(exec_ok(&f, "DELETE FROM ocsp_responses WHERE serial = '0C33'"));
    f.ctx.clock.fixed_ms += RB_OCSP_FULL_PASS_MS;
    REQUIRE(rb_ocsp_presign_since(f.r, &f.ctx, 0, &cursor, &count, &err) == RB_OK);
    CHECK(count >= 1 && cursor.full_pass_ms == rb_ctx_now_ms(&f.ctx));
    CHECK(left_for_a_full_pass(&f, 0) == 0);
    fixture_free(&f);
}

TEST(ocsp_responder_checks_delegation)
{
    fixture f;
    REQUIRE(fixture_init(&f, 0));
    rb_error err = {0};
    REQUIRE(rb_ocsp_responder_new(NULL, &f.r, &err) == RB_OK);
    /* a CA certificate has no OCSPSigning */
    CHECK(rb_ocsp_responder_add_issuer(f.r, "issuing", f.ca, f.ca, f.ca_key, 0, &err) == RB_EINVAL);
    CHECK(strstr(err.rule, "RFC 6960") != NULL);
    rb_error_clear(&err);
    /* a responder certified by another CA */
    CHECK(rb_ocsp_responder_add_issuer(f.r, "other", f.other_ca, f.responder, f.responder_key, 0,
                                       &err) == RB_EINVAL);
    rb_error_clear(&err);
    /* the wrong key */
    CHECK(rb_ocsp_responder_add_issuer(f.r, "issuing", f.ca, f.responder, f.other_key, 0, &err) !=
          RB_OK);
    CHECK(rb_ocsp_responder_count(f.r) == 0);
    fixture_free(&f);
}

TEST(ocsp_responder_load_from_store)
{
    fixture f;
    REQUIRE(fixture_init(&f, 0));
    rb_error err = {0};
    setenv("RUBRICA_KEY_PASS", "ocsp-unit-test", 1);
    char store_ref[600];
    snprintf(store_ref, sizeof(store_ref), "file:%s", test_tmpdir());
    rb_key *key = NULL;
    char *ref = NULL;
    REQUIRE(rb_key_generate(store_ref, "responder2", RB_KEY_EC_P256, NULL, &key, &ref, &err) ==
            RB_OK);
    X509 *responder2 =
        make_cert("Test OCSP 2", "05", rb_key_get0_public(key), f.ca, f.ca_key, "ocsp");
    REQUIRE(exec_ok(&f, "DELETE FROM authorities WHERE name = 'ocsp'"));
    REQUIRE(insert_authority(&f, "ocsp-2", "ocsp", "issuing", responder2, ref));
    REQUIRE(exec_ok(&f, "INSERT INTO settings (name, value) VALUES ('ocsp_validity_seconds', "
                        "'7200')"));
    REQUIRE(rb_ocsp_responder_load(&f.ctx, NULL, &f.r, &err) == RB_OK);
    CHECK(rb_ocsp_responder_count(f.r) == 1);
    rb_ocsp_answer a = ask(&f, f.revoked, f.ca, 0, NULL);
    OCSP_BASICRESP *bs = verified(&f, &a);
    CHECK(bs != NULL);
    CHECK(a.next_update_ms - a.this_update_ms == 7200 * 1000);
    OCSP_BASICRESP_free(bs);
    rb_ocsp_answer_clear(&a);
    rb_ocsp_responder_free(f.r);
    f.r = NULL;
    /* a bad setting is refused with a message */
    REQUIRE(exec_ok(&f, "UPDATE settings SET value = '5' WHERE name = 'ocsp_validity_seconds'"));
    CHECK(rb_ocsp_responder_load(&f.ctx, NULL, &f.r, &err) == RB_EINVAL);
    CHECK(strstr(err.message, "ocsp_validity_seconds") != NULL);
    X509_free(responder2);
    rb_key_free(key);
    free(ref);
    fixture_free(&f);
}
