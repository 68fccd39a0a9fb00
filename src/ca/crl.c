/*
 * Certificate revocation lists (RFC 5280 section 5). A CA's current CRL is
 * kept in the store; it is regenerated when its nextUpdate comes near or as
 * soon as a lifecycle change has marked it stale, with a CRL number that only
 * ever grows, under a lock so two processes never issue the same number.
 */
#include "ca/crl.h"

#include "audit/audit.h"
#include "ca/issuer.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* A CRL is refreshed once less than this share of its validity is left. */
#define REFRESH_FRACTION 4

static rb_status add_entry(X509_CRL *crl, rb_stmt *stmt, rb_error *err)
{
    char serial_hex[RB_SERIAL_HEX_LEN];
    snprintf(serial_hex, sizeof(serial_hex), "%s", rb_stmt_text(stmt, 0));
    int suspended = strcmp(rb_stmt_text(stmt, 4), "suspended") == 0;
    int reason = rb_stmt_is_null(stmt, 2) ? 0 : (int)rb_stmt_int64(stmt, 2);
    if (suspended)
        reason = RB_REASON_CERTIFICATE_HOLD;
    X509_REVOKED *entry = X509_REVOKED_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *when = ASN1_TIME_new();
    rb_status s = entry && when && BN_hex2bn(&bn, serial_hex) &&
                          (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL
                      ? RB_OK
                      : rb_fail_crypto(err, "cannot encode CRL entry %s", serial_hex);
    if (s == RB_OK && !X509_REVOKED_set_serialNumber(entry, serial))
        s = rb_fail_crypto(err, "cannot encode CRL entry %s", serial_hex);
    if (s == RB_OK)
        s = rb_asn1_time_set_ms(when, rb_stmt_int64(stmt, 1), err);
    if (s == RB_OK && !X509_REVOKED_set_revocationDate(entry, when))
        s = rb_fail_crypto(err, "cannot encode CRL entry %s", serial_hex);
    if (s == RB_OK && reason != RB_REASON_UNSPECIFIED) {
        /* RFC 5280 5.3.1: omit reasonCode rather than use unspecified. */
        ASN1_ENUMERATED *code = ASN1_ENUMERATED_new();
        if (code == NULL || !ASN1_ENUMERATED_set(code, reason) ||
            !X509_REVOKED_add1_ext_i2d(entry, NID_crl_reason, code, 0, 0))
            s = rb_fail_crypto(err, "cannot encode the reason of %s", serial_hex);
        ASN1_ENUMERATED_free(code);
    }
    if (s == RB_OK && !suspended && !rb_stmt_is_null(stmt, 3)) {
        ASN1_GENERALIZEDTIME *invalidity =
            ASN1_GENERALIZEDTIME_set(NULL, rb_stmt_int64(stmt, 3) / 1000);
        if (invalidity == NULL ||
            !X509_REVOKED_add1_ext_i2d(entry, NID_invalidity_date, invalidity, 0, 0))
            s = rb_fail_crypto(err, "cannot encode the invalidity date of %s", serial_hex);
        ASN1_GENERALIZEDTIME_free(invalidity);
    }
    if (s == RB_OK && !X509_CRL_add0_revoked(crl, entry))
        s = rb_fail_crypto(err, "cannot add %s to the CRL", serial_hex);
    if (s != RB_OK)
        X509_REVOKED_free(entry);
    BN_free(bn);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    return s;
}

static rb_status add_entries(rb_ctx *ctx, X509_CRL *crl, const char *ca, rb_error *err)
{
    rb_stmt *stmt;
    rb_status s = rb_store_prepare(ctx->store,
                                   "SELECT serial, revoked_ms, reason, invalidity_ms, status "
                                   "FROM certificates WHERE issuer = $1 AND status <> 'valid' "
                                   "ORDER BY serial",
                                   &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, ca);
    int has_row = 1;
    while (s == RB_OK) {
        s = rb_stmt_step(stmt, &has_row, err);
        if (s != RB_OK || !has_row)
            break;
        s = add_entry(crl, stmt, err);
    }
    rb_stmt_reset(stmt);
    return s;
}

static rb_status build_crl(rb_ctx *ctx, const rb_authority *ca, int64_t number, int64_t now,
                           int64_t next, X509_CRL **out, rb_error *err)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *this_update = ASN1_TIME_new(), *next_update = ASN1_TIME_new();
    ASN1_INTEGER *crl_number = ASN1_INTEGER_new();
    AUTHORITY_KEYID *akid = rb_ext_akid(ca->cert);
    rb_status s = crl && this_update && next_update && crl_number && akid
                      ? RB_OK
                      : rb_fail_crypto(err, "cannot build the CRL of %s", ca->name);
    if (s == RB_OK && (!X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
                       !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) ||
                       !ASN1_INTEGER_set_int64(crl_number, number)))
        s = rb_fail_crypto(err, "cannot build the CRL of %s", ca->name);
    if (s == RB_OK)
        s = rb_asn1_time_set_ms(this_update, now, err);
    if (s == RB_OK)
        s = rb_asn1_time_set_ms(next_update, next, err);
    if (s == RB_OK && (!X509_CRL_set1_lastUpdate(crl, this_update) ||
                       !X509_CRL_set1_nextUpdate(crl, next_update) ||
                       !X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0) ||
                       !X509_CRL_add1_ext_i2d(crl, NID_crl_number, crl_number, 0, 0)))
        s = rb_fail_crypto(err, "cannot build the CRL of %s", ca->name);
    if (s == RB_OK)
        s = add_entries(ctx, crl, ca->name, err);
    EVP_PKEY *key = s == RB_OK ? rb_key_get0_pkey(ca->key) : NULL;
    if (s == RB_OK && (!X509_CRL_sort(crl) || X509_CRL_sign(crl, key, rb_signing_digest(key)) <= 0))
        s = rb_fail_crypto(err, "%s could not sign its CRL", ca->name);
    ASN1_TIME_free(this_update);
    ASN1_TIME_free(next_update);
    ASN1_INTEGER_free(crl_number);
    AUTHORITY_KEYID_free(akid);
    if (s != RB_OK) {
        X509_CRL_free(crl);
        return s;
    }
    *out = crl;
    return RB_OK;
}

/* Reads the stored CRL; *fresh says whether it can still be served. */
static rb_status read_current(rb_ctx *ctx, const char *ca, int64_t now, int64_t *number,
                              uint8_t **der, size_t *len, int *fresh, rb_error *err)
{
    rb_stmt *stmt;
    int has_row;
    rb_status s = rb_store_prepare(ctx->store,
                                   "SELECT crl_number, this_update_ms, next_update_ms, der "
                                   "FROM crls WHERE issuer = $1",
                                   &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, ca);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s != RB_OK)
        return s;
    *number = 0;
    *fresh = 0;
    if (has_row) {
        int64_t this_update = rb_stmt_int64(stmt, 1), next_update = rb_stmt_int64(stmt, 2);
        *number = rb_stmt_int64(stmt, 0);
        *fresh = next_update - now > (next_update - this_update) / REFRESH_FRACTION;
        if (*fresh && der != NULL) {
            const uint8_t *stored = rb_stmt_blob(stmt, 3, len);
            *der = malloc(*len);
            if (*der == NULL)
                s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
            else
                memcpy(*der, stored, *len);
        }
    }
    rb_stmt_reset(stmt);
    return s;
}

static rb_status store_crl(rb_ctx *ctx, const char *ca, int64_t number, int64_t now, int64_t next,
                           const uint8_t *der, size_t len, rb_error *err)
{
    rb_stmt *stmt;
    rb_status s = rb_store_prepare(
        ctx->store,
        "INSERT INTO crls (issuer, crl_number, this_update_ms, next_update_ms, der)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issuer) DO UPDATE SET"
        " crl_number = excluded.crl_number, this_update_ms = excluded.this_update_ms,"
        " next_update_ms = excluded.next_update_ms, der = excluded.der",
        &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, ca);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 2, number);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 3, now);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 4, next);
    if (s == RB_OK)
        s = rb_stmt_bind_blob(stmt, 5, der, len);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    json_t *detail = json_pack("{s:I,s:I}", "crl_number", (json_int_t)number, "next_update_ms",
                               (json_int_t)next);
    char object[80];
    snprintf(object, sizeof(object), "crl:%s", ca);
    if (s == RB_OK)
        s = rb_audit_append(ctx, "crl.issue", object, detail, NULL, err);
    json_decref(detail);
    return s;
}

static rb_status crl_hours(rb_ctx *ctx, int *hours, rb_error *err)
{
    rb_jurisdiction *j = NULL;
    rb_status s = rb_issuer_load_jurisdiction(ctx, &j, err);
    if (s == RB_OK)
        *hours = j->crl_validity_hours;
    rb_jurisdiction_free(j);
    return s;
}

rb_status rb_ca_crl_current(rb_ctx *ctx, const char *ca_name, const rb_key_secret *secret,
                            int force, uint8_t **out, size_t *out_len, rb_error *err)
{
    int64_t number, now = rb_ctx_now_ms(ctx) / 1000 * 1000;
    int fresh = 0, hours = 24;
    rb_authority *ca = NULL;
    rb_status s = rb_ca_expire_holds(ctx, NULL, err);
    if (s == RB_OK)
        s = rb_authority_load(ctx, ca_name, RB_ROLE_ISSUING, 0, NULL, &ca, err);
    if (s == RB_OK && ca->role != RB_ROLE_ROOT && ca->role != RB_ROLE_ISSUING)
        s = rb_fail(err, RB_EINVAL, NULL, "'%s' is not a certification authority", ca->name);
    if (s == RB_OK && !force)
        s = read_current(ctx, ca->name, now, &number, out, out_len, &fresh, err);
    if (s != RB_OK || fresh) {
        rb_authority_free(ca);
        return s;
    }
    char name[64];
    snprintf(name, sizeof(name), "%s", ca->name);
    rb_authority_free(ca);
    ca = NULL;
    s = crl_hours(ctx, &hours, err);
    if (s == RB_OK)
        s = rb_authority_load(ctx, name, RB_ROLE_ISSUING, 1, secret, &ca, err);
    if (s == RB_OK)
        s = rb_store_begin(ctx->store, err);
    if (s != RB_OK) {
        rb_authority_free(ca);
        return s;
    }
    s = rb_store_lock(ctx->store, "crl", err);
    /* Another process may have refreshed it while we waited for the lock. */
    if (s == RB_OK)
        s = read_current(ctx, name, now, &number, force ? NULL : out, out_len, &fresh, err);
    X509_CRL *crl = NULL;
    unsigned char *der = NULL;
    int der_len = 0;
    int64_t next = now + (int64_t)hours * 3600000;
    if (s == RB_OK && (force || !fresh)) {
        s = build_crl(ctx, ca, number + 1, now, next, &crl, err);
        if (s == RB_OK && (der_len = i2d_X509_CRL(crl, &der)) <= 0)
            s = rb_fail_crypto(err, "cannot encode the CRL");
        if (s == RB_OK)
            s = store_crl(ctx, name, number + 1, now, next, der, (size_t)der_len, err);
        if (s == RB_OK)
            s = rb_store_commit(ctx->store, err);
        if (s == RB_OK) {
            *out = malloc((size_t)der_len);
            if (*out == NULL)
                s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
            else
                memcpy(*out, der, (size_t)der_len), *out_len = (size_t)der_len;
        }
    }
    if (rb_store_in_transaction(ctx->store))
        rb_store_rollback(ctx->store);
    OPENSSL_free(der);
    X509_CRL_free(crl);
    rb_authority_free(ca);
    return s;
}
