/*
 * Unit tests of src/auth: the role matrix, users, API tokens (only hashes
 * stored, revocation and disabled users take effect at once, near-misses
 * refused), TLS client certificates, and that every change is audited and a
 * failed one leaves nothing. Runs on SQLite and, when RUBRICA_TEST_PG is set,
 * on PostgreSQL in a schema of its own.
 */
#include "fixture.h"
#include "harness.h"

#include "auth/auth.h"
#include "store/migrate.h"
#include "store/store.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#define T0 1795000000000LL

/* Runs body once per available back end, each on a fresh migrated store. */
static void on_each_backend(void (*body)(rb_ctx *ctx))
{
    test_on_each_backend("auth", T0, "test:admin", body);
}

TEST(auth_role_matrix)
{
    CHECK(rb_user_role_allows(RB_USER_AUDITOR, RB_PERM_READ));
    CHECK(!rb_user_role_allows(RB_USER_AUDITOR, RB_PERM_ISSUE));
    CHECK(!rb_user_role_allows(RB_USER_AUDITOR, RB_PERM_LIFECYCLE));
    CHECK(!rb_user_role_allows(RB_USER_AUDITOR, RB_PERM_ADMIN));
    CHECK(rb_user_role_allows(RB_USER_OPERATOR, RB_PERM_READ));
    CHECK(rb_user_role_allows(RB_USER_OPERATOR, RB_PERM_ISSUE));
    CHECK(!rb_user_role_allows(RB_USER_OPERATOR, RB_PERM_LIFECYCLE));
    CHECK(!rb_user_role_allows(RB_USER_OPERATOR, RB_PERM_ADMIN));
    CHECK(rb_user_role_allows(RB_USER_APPROVER, RB_PERM_ISSUE));
    CHECK(rb_user_role_allows(RB_USER_APPROVER, RB_PERM_LIFECYCLE));
    CHECK(!rb_user_role_allows(RB_USER_APPROVER, RB_PERM_ADMIN));
    CHECK(rb_user_role_allows(RB_USER_CA_ADMIN, RB_PERM_ADMIN));
    CHECK(rb_user_role_allows(RB_USER_CA_ADMIN, RB_PERM_LIFECYCLE));
    CHECK(!rb_user_role_allows((rb_user_role)42, RB_PERM_READ));
}

TEST(auth_role_names)
{
    rb_error err = {0};
    rb_user_role role;
    static const rb_user_role all[] = {RB_USER_AUDITOR, RB_USER_OPERATOR, RB_USER_APPROVER,
                                       RB_USER_CA_ADMIN};
    for (int i = 0; i < 4; i++) {
        CHECK(rb_user_role_parse(rb_user_role_name(all[i]), &role, &err) == RB_OK);
        CHECK(role == all[i]);
    }
    CHECK_STR(rb_user_role_name(RB_USER_CA_ADMIN), "ca-admin");
    CHECK(rb_user_role_parse("root", &role, &err) == RB_EINVAL);
    CHECK(strstr(err.message, "operator, approver, ca-admin or auditor") != NULL);
    CHECK(rb_user_role_parse(NULL, &role, &err) == RB_EINVAL);
}

static void check_users(rb_ctx *ctx)
{
    rb_error err = {0};
    rb_user u;
    CHECK(rb_user_add(ctx, "alice", RB_USER_OPERATOR, &err) == RB_OK);
    CHECK(rb_user_get(ctx, "alice", &u, &err) == RB_OK);
    CHECK_STR(u.name, "alice");
    CHECK(u.role == RB_USER_OPERATOR && !u.disabled && u.created_ms == T0);
    int64_t audited = test_query_int(ctx, "SELECT COUNT(*) FROM audit_log");
    rb_error_clear(&err);
    CHECK(rb_user_add(ctx, "alice", RB_USER_AUDITOR, &err) == RB_ECONFLICT);
    CHECK(strstr(err.message, "already") != NULL);
    CHECK(test_query_int(ctx, "SELECT COUNT(*) FROM audit_log") == audited);
    static const char *const bad[] = {
        "",
        "-x",
        ".x",
        "a b",
        "a/b",
        "ñandú",
        "a12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rb_error_clear(&err);
        CHECK(rb_user_add(ctx, bad[i], RB_USER_AUDITOR, &err) == RB_EINVAL);
    }
    CHECK(rb_user_add(ctx, "bob.smith@ra-1", RB_USER_AUDITOR, &err) == RB_OK);
    rb_error_clear(&err);
    CHECK(rb_user_get(ctx, "nobody", &u, &err) == RB_ENOTFOUND);
    CHECK(test_query_int(ctx, "SELECT COUNT(*) FROM users") == 2);
    CHECK(test_query_int(ctx, "SELECT COUNT(*) FROM audit_log WHERE action = 'user.add'"
                              " AND actor = 'test:admin' AND object = 'user:alice'") == 1);
    CHECK(rb_user_disable(ctx, "alice", &err) == RB_OK);
    CHECK(rb_user_get(ctx, "alice", &u, &err) == RB_OK && u.disabled);
    rb_error_clear(&err);
    CHECK(rb_user_disable(ctx, "alice", &err) == RB_ESTATE);
    rb_error_clear(&err);
    CHECK(rb_user_disable(ctx, "nobody", &err) == RB_ENOTFOUND);
    CHECK(test_query_int(ctx, "SELECT COUNT(*) FROM audit_log WHERE action = 'user.disable'") == 1);
}

TEST(auth_users)
{
    on_each_backend(check_users);
}

typedef struct token_search {
    const char *id;
    rb_token_info found;
    int seen;
} token_search;

static int collect_token(const rb_token_info *t, void *arg)
{
    token_search *search = arg;
    search->seen++;
    if (strcmp(t->id, search->id) == 0)
        search->found = *t;
    return 0;
}

static void check_tokens(rb_ctx *ctx)
{
    rb_error err = {0};
    rb_user u;
    char token[RB_TOKEN_TEXT_LEN], id[RB_TOKEN_ID_LEN];
    char token2[RB_TOKEN_TEXT_LEN], id2[RB_TOKEN_ID_LEN];
    REQUIRE(rb_user_add(ctx, "carol", RB_USER_APPROVER, &err) == RB_OK);
    REQUIRE(rb_token_create(ctx, "carol", token, id, &err) == RB_OK);
    REQUIRE(rb_token_create(ctx, "carol", token2, id2, &err) == RB_OK);
    CHECK(strlen(token) == 43 && strlen(id) == 16);
    CHECK(strcmp(token, token2) != 0 && strcmp(id, id2) != 0);
    CHECK(strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
    /* Only the hash is stored. */
    char sql[300];
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM api_tokens WHERE token_hash = '%s' OR id = '%s'", token, token);
    CHECK(test_query_int(ctx, sql) == 0);
    CHECK(test_query_int(ctx, "SELECT COUNT(*) FROM audit_log WHERE action = 'token.create'") == 2);
    CHECK(test_query_int(ctx, "SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%\"token\"%'") ==
          0);

    memset(&u, 0, sizeof(u));
    CHECK(rb_auth_token(ctx, token, &u, &err) == RB_OK);
    CHECK_STR(u.name, "carol");
    CHECK(u.role == RB_USER_APPROVER);

    /* Near misses, wrong shapes and nothing at all are refused alike. */
    char near[RB_TOKEN_TEXT_LEN];
    memcpy(near, token, sizeof(near));
    near[42] = near[42] == 'A' ? 'B' : 'A';
    rb_error_clear(&err);
    CHECK(rb_auth_token(ctx, near, &u, &err) == RB_EPERM);
    char longer[RB_TOKEN_TEXT_LEN + 1];
    snprintf(longer, sizeof(longer), "%sA", token);
    rb_error_clear(&err);
    CHECK(rb_auth_token(ctx, longer, &u, &err) == RB_EPERM);
    rb_error_clear(&err);
    CHECK(rb_auth_token(ctx, "", &u, &err) == RB_EPERM);
    rb_error_clear(&err);
    CHECK(rb_auth_token(ctx, NULL, &u, &err) == RB_EPERM);
    rb_error_clear(&err);
    CHECK(rb_auth_token(ctx, "' OR '1'='1", &u, &err) == RB_EPERM);

    /* Listing shows the last four characters, never the token. */
    token_search search = {.id = id2};
    CHECK(rb_token_list(ctx, "carol", collect_token, &search, &err) == RB_OK);
    CHECK(search.seen == 2);
    CHECK_STR(search.found.id, id2);
    CHECK_STR(search.found.last4, token2 + 39);
    CHECK_STR(search.found.user, "carol");
    CHECK(search.found.revoked_ms == 0);

    /* Revocation takes effect at once and only for that token. */
    CHECK(rb_token_revoke(ctx, id, &err) == RB_OK);
    rb_error_clear(&err);
    CHECK(rb_auth_token(ctx, token, &u, &err) == RB_EPERM);
    CHECK(rb_auth_token(ctx, token2, &u, &err) == RB_OK);
    rb_error_clear(&err);
    CHECK(rb_token_revoke(ctx, id, &err) == RB_ESTATE);
    rb_error_clear(&err);
    CHECK(rb_token_revoke(ctx, "0000000000000000", &err) == RB_ENOTFOUND);

    /* A disabled user's tokens stop working, and they get no new ones. */
    CHECK(rb_user_disable(ctx, "carol", &err) == RB_OK);
    rb_error_clear(&err);
    CHECK(rb_auth_token(ctx, token2, &u, &err) == RB_EPERM);
    int64_t tokens = test_query_int(ctx, "SELECT COUNT(*) FROM api_tokens");
    rb_error_clear(&err);
    CHECK(rb_token_create(ctx, "carol", token, id, &err) == RB_ESTATE);
    rb_error_clear(&err);
    CHECK(rb_token_create(ctx, "nobody", token, id, &err) == RB_ENOTFOUND);
    CHECK(test_query_int(ctx, "SELECT COUNT(*) FROM api_tokens") == tokens);
}

TEST(auth_tokens)
{
    on_each_backend(check_tokens);
}

/* A self-signed P-256 certificate valid [from_ms, to_ms]. */
static X509 *make_cert(const char *cn, int64_t from_ms, int64_t to_ms)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    if (key == NULL || cert == NULL) {
        EVP_PKEY_free(key);
        X509_free(cert);
        return NULL;
    }
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(cert, name);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)(from_ms / 1000));
    ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)(to_ms / 1000));
    X509_set_pubkey(cert, key);
    X509_sign(cert, key, EVP_sha256());
    EVP_PKEY_free(key);
    return cert;
}

/* A CA certificate and key, self-signed, valid around T0. */
static X509 *make_ca(const char *cn, EVP_PKEY **key_out)
{
    int64_t year = 365LL * 86400000LL;
    X509 *ca = make_cert(cn, T0 - year, T0 + year);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (ca == NULL || key == NULL) {
        X509_free(ca);
        EVP_PKEY_free(key);
        return NULL;
    }
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, ca, ca, NULL, NULL, 0);
    X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_EXTENSION *ku = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign");
    X509_add_ext(ca, bc, -1);
    X509_add_ext(ca, ku, -1);
    X509_EXTENSION_free(bc);
    X509_EXTENSION_free(ku);
    X509_set_pubkey(ca, key);
    X509_sign(ca, key, EVP_sha256());
    *key_out = key;
    return ca;
}

/* A certificate issued by ca, valid [from_ms, to_ms], with extendedKeyUsage eku (or none). */
static X509 *make_leaf(X509 *ca, EVP_PKEY *ca_key, const char *cn, long serial, int64_t from_ms,
                       int64_t to_ms, const char *eku)
{
    X509 *cert = make_cert(cn, from_ms, to_ms);
    if (cert == NULL)
        return NULL;
    X509_set_issuer_name(cert, X509_get_subject_name(ca));
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    if (eku != NULL) {
        X509V3_CTX v3;
        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, ca, cert, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, eku);
        X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
    }
    X509_sign(cert, ca_key, EVP_sha256());
    return cert;
}

static rb_client_trust *trust_of(X509 *ca)
{
    rb_error err = {0};
    rb_client_trust *trust = NULL;
    char *pem = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, ca);
    long len = BIO_get_mem_data(bio, &pem);
    if (rb_client_trust_new(pem, (size_t)len, &trust, &err) != RB_OK)
        trust = NULL;
    BIO_free(bio);
    return trust;
}

/* Records cert as one of ours (an issuing CA "issuing") with status. */
static void record_as_ours(rb_ctx *ctx, X509 *cert, const char *serial, const char *status)
{
    rb_error err = {0};
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    rb_stmt *stmt;
    CHECK(rb_store_exec(ctx->store,
                        "INSERT INTO authorities (name, role, issuer, key_ref, subject, serial,"
                        " not_before_ms, not_after_ms, created_ms, cert_der) SELECT 'issuing',"
                        " 'issuing', 'issuing', 'x', 'CN=ca', '01', 0, 0, 0, 'x' WHERE NOT EXISTS"
                        " (SELECT 1 FROM authorities WHERE name = 'issuing')",
                        &err) == RB_OK);
    CHECK(rb_store_prepare(ctx->store,
                           "INSERT INTO certificates (serial, issuer, profile, subject,"
                           " spki_sha256, fields, not_before_ms, not_after_ms, issued_ms, status,"
                           " der) VALUES ($1, 'issuing', 'p', 'CN=x', 'x', '{}', 0, 0, 0, $2, $3)",
                           &stmt, &err) == RB_OK);
    CHECK(rb_stmt_bind_text(stmt, 1, serial) == RB_OK);
    CHECK(rb_stmt_bind_text(stmt, 2, status) == RB_OK);
    CHECK(rb_stmt_bind_blob(stmt, 3, der, (size_t)len) == RB_OK);
    CHECK(rb_stmt_run(stmt, &err) == RB_OK);
    OPENSSL_free(der);
}

/* Authenticates cert and returns the verdict (OK with user filled, or the refusal). */
static rb_client_cert_verdict verdict(rb_ctx *ctx, const rb_client_trust *trust, X509 *cert,
                                      rb_user *u)
{
    rb_error err = {0};
    rb_client_cert_check check;
    memset(u, 0, sizeof(*u));
    rb_status s = rb_auth_client_cert(ctx, trust, cert, u, &check, &err);
    if (s == RB_OK)
        return check.verdict == RB_CLIENT_CERT_OK ? RB_CLIENT_CERT_OK : (rb_client_cert_verdict)-1;
    return s == RB_EPERM ? check.verdict : (rb_client_cert_verdict)-2;
}

static void check_client_certs(rb_ctx *ctx)
{
    rb_error err = {0};
    rb_user u;
    int64_t day = 86400000LL;
    EVP_PKEY *ca_key = NULL, *other_key = NULL;
    X509 *ca = make_ca("client CA", &ca_key);
    X509 *other_ca = make_ca("client CA", &other_key); /* same name, other key */
    REQUIRE(ca != NULL && other_ca != NULL);
    rb_client_trust *trust = trust_of(ca);
    REQUIRE(trust != NULL);
    const char *client = "clientAuth";
    X509 *good = make_leaf(ca, ca_key, "dave", 11, T0 - day, T0 + day, client);
    X509 *plain = make_leaf(ca, ca_key, "dave", 12, T0 - day, T0 + day, NULL);
    X509 *expired = make_leaf(ca, ca_key, "dave", 13, T0 - 2 * day, T0 - day, client);
    X509 *early = make_leaf(ca, ca_key, "dave", 14, T0 + day, T0 + 2 * day, client);
    X509 *server = make_leaf(ca, ca_key, "dave", 15, T0 - day, T0 + day, "serverAuth");
    X509 *forged = make_leaf(other_ca, other_key, "dave", 16, T0 - day, T0 + day, client);
    X509 *selfsigned = make_cert("dave", T0 - day, T0 + day);
    X509 *revoked = make_leaf(ca, ca_key, "dave", 0x17, T0 - day, T0 + day, client);
    X509 *held = make_leaf(ca, ca_key, "dave", 0x18, T0 - day, T0 + day, client);
    X509 *reused = make_leaf(ca, ca_key, "dave", 0x19, T0 - day, T0 + day, client);
    X509 *theirs = make_leaf(ca, ca_key, "eve", 0x19, T0 - day, T0 + day, client);
    REQUIRE(good && plain && expired && early && server && forged && selfsigned && revoked &&
            held && reused && theirs);

    /* Registration: the pin, refused for certificates that could never authenticate. */
    REQUIRE(rb_user_add(ctx, "dave", RB_USER_AUDITOR, &err) == RB_OK);
    CHECK(rb_user_add_client_cert(ctx, "dave", good, &err) == RB_OK);
    CHECK(rb_user_add_client_cert(ctx, "dave", plain, &err) == RB_OK);
    CHECK(rb_user_add_client_cert(ctx, "dave", forged, &err) == RB_OK);
    CHECK(rb_user_add_client_cert(ctx, "dave", selfsigned, &err) == RB_OK);
    CHECK(rb_user_add_client_cert(ctx, "dave", revoked, &err) == RB_OK);
    CHECK(rb_user_add_client_cert(ctx, "dave", held, &err) == RB_OK);
    CHECK(rb_user_add_client_cert(ctx, "dave", reused, &err) == RB_OK);
    rb_error_clear(&err);
    CHECK(rb_user_add_client_cert(ctx, "dave", expired, &err) == RB_EINVAL);
    CHECK(strstr(err.message, "expired") != NULL);
    rb_error_clear(&err);
    CHECK(rb_user_add_client_cert(ctx, "dave", early, &err) == RB_EINVAL);
    rb_error_clear(&err);
    CHECK(rb_user_add_client_cert(ctx, "dave", server, &err) == RB_EINVAL);
    CHECK(strstr(err.message, "clientAuth") != NULL);
    rb_error_clear(&err);
    CHECK(rb_user_add_client_cert(ctx, "dave", good, &err) == RB_ECONFLICT);
    rb_error_clear(&err);
    CHECK(rb_user_add_client_cert(ctx, "nobody", theirs, &err) == RB_ENOTFOUND);
    CHECK(test_query_int(ctx, "SELECT COUNT(*) FROM audit_log WHERE action = 'user.cert_add'") ==
          7);

    /* Chain, validity, purpose. */
    CHECK(verdict(ctx, trust, good, &u) == RB_CLIENT_CERT_OK);
    CHECK_STR(u.name, "dave");
    CHECK(u.role == RB_USER_AUDITOR);
    CHECK(verdict(ctx, trust, plain, &u) == RB_CLIENT_CERT_OK); /* no EKU: any use */
    CHECK(verdict(ctx, NULL, good, &u) == RB_CLIENT_CERT_UNTRUSTED);
    CHECK(verdict(ctx, trust, forged, &u) == RB_CLIENT_CERT_UNTRUSTED);
    CHECK(verdict(ctx, trust, selfsigned, &u) == RB_CLIENT_CERT_UNTRUSTED);
    CHECK(verdict(ctx, trust, expired, &u) == RB_CLIENT_CERT_EXPIRED);
    CHECK(verdict(ctx, trust, early, &u) == RB_CLIENT_CERT_NOT_YET_VALID);
    CHECK(verdict(ctx, trust, server, &u) == RB_CLIENT_CERT_WRONG_PURPOSE);
    CHECK(u.name[0] == '\0'); /* nothing written on refusal */
    rb_client_cert_check check;
    CHECK(rb_auth_client_cert(ctx, trust, forged, &u, &check, &err) == RB_EPERM);
    CHECK(check.verify_error != 0 && check.verify_depth == 0);
    CHECK_STR(check.serial, "10");
    CHECK(strlen(check.sha256) == 64);
    CHECK(strstr(check.subject, "dave") != NULL && strstr(check.issuer, "client CA") != NULL);
    CHECK_STR(rb_client_cert_verdict_code(check.verdict), "client_certificate_untrusted");

    /* The clock is ctx's: a day later, the good certificate has expired. */
    ctx->clock.fixed_ms = T0 + 2 * day;
    CHECK(verdict(ctx, trust, good, &u) == RB_CLIENT_CERT_EXPIRED);
    ctx->clock.fixed_ms = T0;

    /* Our own certificates: revocation and suspension count; a reused serial does not. */
    record_as_ours(ctx, revoked, "17", "revoked");
    record_as_ours(ctx, held, "18", "suspended");
    record_as_ours(ctx, theirs, "19", "revoked");
    CHECK(verdict(ctx, trust, revoked, &u) == RB_CLIENT_CERT_REVOKED);
    CHECK(verdict(ctx, trust, held, &u) == RB_CLIENT_CERT_SUSPENDED);
    CHECK(verdict(ctx, trust, reused, &u) == RB_CLIENT_CERT_OK);
    rb_error_clear(&err);
    CHECK(rb_user_add_client_cert(ctx, "dave", theirs, &err) == RB_ESTATE);

    /* The pin maps certificates to users; a verified certificate alone is not enough. */
    CHECK(verdict(ctx, trust, theirs, &u) == RB_CLIENT_CERT_REVOKED);
    X509 *unpinned = make_leaf(ca, ca_key, "dave", 0x20, T0 - day, T0 + day, client);
    CHECK(verdict(ctx, trust, unpinned, &u) == RB_CLIENT_CERT_UNREGISTERED);
    CHECK(rb_user_disable(ctx, "dave", &err) == RB_OK);
    CHECK(verdict(ctx, trust, good, &u) == RB_CLIENT_CERT_UNREGISTERED);

    /* A trust file without certificates is refused. */
    rb_client_trust *none = NULL;
    rb_error_clear(&err);
    CHECK(rb_client_trust_new("not a certificate", 17, &none, &err) == RB_EINVAL && none == NULL);
    rb_client_trust_free(NULL);

    rb_client_trust_free(trust);
    X509 *all[] = {ca,     other_ca,   good,    plain, expired, early,  server,
                   forged, selfsigned, revoked, held,  reused,  theirs, unpinned};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        X509_free(all[i]);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
}

TEST(auth_client_certs)
{
    on_each_backend(check_client_certs);
}
