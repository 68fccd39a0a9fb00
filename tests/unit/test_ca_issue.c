/*
 * Issuance end to end on a throwaway SQLite provider: the bytes stored are
 * the bytes signed, each certificate verifies under the issuing CA's key, the
 * audit chain holds across a batch, and one key cannot be certified for two
 * subjects within one batch.
 */
#include "fixture.h"
#include "harness.h"

#include "audit/audit.h"
#include "ca/ca.h"
#include "ca/init.h"
#include "store/migrate.h"
#include "store/store.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>

static int open_provider(rb_ctx *ctx, rb_issuer **issuer)
{
    rb_error err = {0};
    char db[600];
    if (!test_provider_open(ctx, 0, db, sizeof(db)))
        return 0;
    ctx->actor = "test:issuer";
    if (rb_ca_open_issuer(ctx, NULL, NULL, issuer, &err) != RB_OK) {
        fprintf(stderr, "  %s\n", err.message);
        return 0;
    }
    return 1;
}

/* A DER PKCS#10 request signed by key (OPENSSL_free). */
static int make_csr(EVP_PKEY *key, unsigned char **der)
{
    X509_REQ *req = X509_REQ_new();
    int len = -1;
    if (req != NULL && X509_REQ_set_pubkey(req, key) && X509_REQ_sign(req, key, EVP_sha256()) > 0)
        len = i2d_X509_REQ(req, der);
    X509_REQ_free(req);
    return len;
}

static void issue_batch(rb_ctx *ctx, rb_issuer *issuer, EVP_PKEY **keys, size_t n, rb_issued *out,
                        rb_status *status, rb_error *err)
{
    rb_issue_request reqs[4] = {0};
    unsigned char *csrs[4] = {NULL};
    json_t *fields[4] = {NULL};
    for (size_t i = 0; i < n; i++) {
        char dni[16];
        snprintf(dni, sizeof(dni), "%08d", 20000000 + (int)(rand() % 1000000) * 4 + (int)i);
        int len = make_csr(keys[i], &csrs[i]);
        fields[i] =
            json_pack("{s:s,s:s,s:s}", "given_name", "Rosa", "surname", "Huamán", "id_number", dni);
        reqs[i] = (rb_issue_request){.csr = csrs[i],
                                     .csr_len = len > 0 ? (size_t)len : 0,
                                     .profile = "natural-person",
                                     .fields = fields[i]};
    }
    *status = rb_ca_issue(ctx, issuer, reqs, n, out, err);
    for (size_t i = 0; i < n; i++) {
        OPENSSL_free(csrs[i]);
        json_decref(fields[i]);
    }
}

TEST(issue_stores_the_signed_bytes_and_chains_the_audit_log)
{
    rb_ctx ctx;
    rb_issuer *issuer = NULL;
    REQUIRE(open_provider(&ctx, &issuer));
    EVP_PKEY *keys[3] = {EVP_EC_gen("P-256"), EVP_EC_gen("P-256"), EVP_EC_gen("P-256")};
    rb_issued out[3];
    memset(out, 0, sizeof(out));
    rb_error err = {0};
    rb_status s;
    rb_authority *ca = NULL;
    static const char events[] = "SELECT count(*) FROM cert_events WHERE event = 'issue'";
    int64_t events_before = test_query_int(&ctx, events);
    issue_batch(&ctx, issuer, keys, 3, out, &s, &err);
    CHECK(s == RB_OK);
    REQUIRE(rb_authority_load(&ctx, NULL, RB_ROLE_ISSUING, 0, NULL, &ca, &err) == RB_OK);
    for (int i = 0; s == RB_OK && i < 3; i++) {
        rb_cert_record rec;
        unsigned char *der = NULL;
        int der_len = i2d_X509(out[i].cert, &der);
        CHECK(X509_verify(out[i].cert, X509_get0_pubkey(ca->cert)) == 1);
        unsigned char *spki = NULL, *want = NULL;
        int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(out[i].cert), &spki);
        int want_len = i2d_PUBKEY(keys[i], &want);
        CHECK(spki_len > 0 && spki_len == want_len && memcmp(spki, want, (size_t)want_len) == 0);
        OPENSSL_free(spki);
        OPENSSL_free(want);
        CHECK(rb_ca_get(&ctx, out[i].serial, &rec, &err) == RB_OK);
        CHECK(der_len > 0 && rec.der_len == (size_t)der_len &&
              memcmp(rec.der, der, rec.der_len) == 0);
        /* What was stored also parses back and verifies on its own. */
        const unsigned char *p = rec.der;
        X509 *back = d2i_X509(NULL, &p, (long)rec.der_len);
        CHECK(back != NULL && X509_verify(back, X509_get0_pubkey(ca->cert)) == 1);
        X509_free(back);
        OPENSSL_free(der);
        rb_cert_record_clear(&rec);
        X509_free(out[i].cert);
    }
    rb_audit_report report = {0};
    CHECK(rb_audit_verify(&ctx, &report, &err) == RB_OK);
    CHECK(report.problem == RB_AUDIT_OK);
    CHECK(test_query_int(&ctx, events) == events_before + 3);
    rb_authority_free(ca);
    for (int i = 0; i < 3; i++)
        EVP_PKEY_free(keys[i]);
    rb_ca_close_issuer(issuer);
    rb_store_close(ctx.store);
}

TEST(issue_refuses_one_key_for_two_subjects_in_one_batch)
{
    rb_ctx ctx;
    rb_issuer *issuer = NULL;
    REQUIRE(open_provider(&ctx, &issuer));
    EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
    EVP_PKEY *keys[3] = {other, key, key};
    rb_issued out[3];
    memset(out, 0, sizeof(out));
    rb_error err = {0};
    rb_status s;
    int64_t before = test_query_int(&ctx, "SELECT count(*) FROM certificates");
    int64_t audit_before = test_query_int(&ctx, "SELECT count(*) FROM audit_log");
    issue_batch(&ctx, issuer, keys, 3, out, &s, &err);
    CHECK(s == RB_ECONFLICT);
    CHECK(strstr(err.message, "request 3") != NULL);
    CHECK(test_query_int(&ctx, "SELECT count(*) FROM certificates") == before);
    CHECK(test_query_int(&ctx, "SELECT count(*) FROM audit_log") == audit_before);
    /* The batch left nothing behind: the same key alone is issued afterwards. */
    keys[0] = key;
    issue_batch(&ctx, issuer, keys, 1, out, &s, &err);
    CHECK(s == RB_OK);
    if (s == RB_OK)
        X509_free(out[0].cert);
    rb_audit_report report = {0};
    CHECK(rb_audit_verify(&ctx, &report, &err) == RB_OK && report.problem == RB_AUDIT_OK);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    rb_ca_close_issuer(issuer);
    rb_store_close(ctx.store);
}

/* The text of column 0 of the first row of sql with $1 = value (malloc'd), or NULL. */
static char *text_where(rb_ctx *ctx, const char *sql, const char *value)
{
    rb_stmt *stmt = NULL;
    rb_error err = {0};
    int has_row = 0;
    char *out = NULL;
    if (rb_store_prepare(ctx->store, sql, &stmt, &err) == RB_OK &&
        rb_stmt_bind_text(stmt, 1, value) == RB_OK && rb_stmt_step(stmt, &has_row, &err) == RB_OK &&
        has_row)
        out = strdup(rb_stmt_text(stmt, 0));
    if (stmt != NULL)
        rb_stmt_reset(stmt);
    return out;
}

/*
 * The issuance event's detail is written without jansson; it must be the
 * bytes json_dumps writes for the same object, also when the subject needs
 * escaping (RFC 2253 writes a comma in a value as "\," and quotes as "\"").
 */
TEST(issue_event_detail_is_what_jansson_writes)
{
    rb_ctx ctx;
    rb_issuer *issuer = NULL;
    REQUIRE(open_provider(&ctx, &issuer));
    EVP_PKEY *key = EVP_EC_gen("P-256");
    unsigned char *csr = NULL;
    int len = make_csr(key, &csr);
    json_t *fields = json_pack("{s:s,s:s,s:s}", "given_name", "Ana \"Nené\"", "surname",
                               "Quispe, Ñahui", "id_number", "10117410");
    rb_issue_request req = {.csr = csr,
                            .csr_len = len > 0 ? (size_t)len : 0,
                            .profile = "natural-person",
                            .fields = fields};
    rb_issued out = {0};
    rb_error err = {0};
    rb_status s = rb_ca_issue(&ctx, issuer, &req, 1, &out, &err);
    CHECK(s == RB_OK);
    if (s != RB_OK)
        fprintf(stderr, "  %s\n", err.message);
    rb_cert_record rec;
    if (s == RB_OK && rb_ca_get(&ctx, out.serial, &rec, &err) == RB_OK) {
        json_t *want = json_pack("{s:s,s:I,s:s,s:s}", "ca", "issuing", "not_after_ms",
                                 (json_int_t)rec.not_after_ms, "profile", "natural-person",
                                 "subject", rec.subject);
        char *want_text = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
        char object[64];
        snprintf(object, sizeof(object), "cert:%s", out.serial);
        char *audit = text_where(&ctx, "SELECT detail FROM audit_log WHERE object = $1", object);
        char *event =
            text_where(&ctx, "SELECT detail FROM cert_events WHERE serial = $1", out.serial);
        CHECK(strchr(rec.subject, '\\') != NULL && strchr(rec.subject, '"') != NULL);
        CHECK(want_text && audit && strcmp(audit, want_text) == 0);
        CHECK(want_text && event && strcmp(event, want_text) == 0);
        if (want_text && audit && strcmp(audit, want_text) != 0)
            fprintf(stderr, "  audit detail %s\n  jansson      %s\n", audit, want_text);
        free(audit);
        free(event);
        free(want_text);
        json_decref(want);
        rb_cert_record_clear(&rec);
    }
    X509_free(out.cert);
    json_decref(fields);
    OPENSSL_free(csr);
    EVP_PKEY_free(key);
    rb_ca_close_issuer(issuer);
    rb_store_close(ctx.store);
}
