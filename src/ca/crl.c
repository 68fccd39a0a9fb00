/*
 * Certificate revocation lists (RFC 5280 section 5): the complete CRL and the
 * delta CRL of each CA. Both are kept in the store and regenerated when their
 * nextUpdate comes near or as soon as a lifecycle change has marked them
 * stale, with CRL numbers from one sequence that only ever grows, under a
 * lock so two processes never issue the same number. A delta lists what
 * changed since the stored complete CRL by comparing its entries with the
 * current ones.
 */
#include "ca/crl.h"
#include "core/log.h"

#include "audit/audit.h"
#include "ca/issuer.h"
#include "store/store.h"

#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

/* A CRL is refreshed once less than this share of its validity is left. */
#define REFRESH_FRACTION 4

/* RFC 5280 5.3.1: reasonCode is omitted rather than stated as unspecified. */
static rb_status set_reason(X509_REVOKED *entry, int reason, const char *serial_hex, rb_error *err)
{
    if (reason == RB_REASON_UNSPECIFIED)
        return RB_OK;
    ASN1_ENUMERATED *code = ASN1_ENUMERATED_new();
    rb_status s = RB_OK;
    if (code == NULL || !ASN1_ENUMERATED_set(code, reason) ||
        !X509_REVOKED_add1_ext_i2d(entry, NID_crl_reason, code, 0, 0))
        s = rb_fail_crypto(err, "cannot encode the reason of %s", serial_hex);
    ASN1_ENUMERATED_free(code);
    return s;
}

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
    if (s == RB_OK)
        s = set_reason(entry, reason, serial_hex, err);
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

/* The fields every CRL of ca carries: version 2, issuer, times, AKI and CRL number. */
static rb_status crl_skeleton(const rb_authority *ca, int64_t number, int64_t now, int64_t next,
                              X509_CRL **out, rb_error *err)
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

/* RFC 5280 5.2.6: the complete CRL points at its delta, {base_url}/crl/{ca}-delta.crl. */
static rb_status add_freshest(rb_ctx *ctx, X509_CRL *crl, const char *ca, rb_error *err)
{
    char *base_url = NULL, delta_name[80];
    rb_status s = rb_setting_get(ctx, "base_url", &base_url, err);
    if (s != RB_OK)
        return s;
    snprintf(delta_name, sizeof(delta_name), "%s-delta", ca);
    STACK_OF(DIST_POINT) *points =
        rb_ext_crldp(base_url ? base_url : RB_DEFAULT_BASE_URL, delta_name);
    if (points == NULL || !X509_CRL_add1_ext_i2d(crl, NID_freshest_crl, points, 0, 0))
        s = rb_fail_crypto(err, "cannot add the Freshest CRL extension of %s", ca);
    sk_DIST_POINT_pop_free(points, DIST_POINT_free);
    free(base_url);
    return s;
}

/* RFC 5280 5.2.4: deltaCRLIndicator, critical, naming the base CRL number. */
static rb_status add_delta_indicator(X509_CRL *crl, int64_t base_number, rb_error *err)
{
    ASN1_INTEGER *base = ASN1_INTEGER_new();
    rb_status s = RB_OK;
    if (base == NULL || !ASN1_INTEGER_set_int64(base, base_number) ||
        !X509_CRL_add1_ext_i2d(crl, NID_delta_crl, base, 1, 0))
        s = rb_fail_crypto(err, "cannot add the delta CRL indicator");
    ASN1_INTEGER_free(base);
    return s;
}

/* Whether entry appears in crl with exactly the same encoding (date, reason, invalidity). */
static int same_entry(X509_CRL *crl, X509_REVOKED *entry)
{
    X509_REVOKED *other = NULL;
    if (X509_CRL_get0_by_serial(crl, &other, X509_REVOKED_get0_serialNumber(entry)) != 1)
        return 0;
    unsigned char *a = NULL, *b = NULL;
    int la = i2d_X509_REVOKED(entry, &a), lb = i2d_X509_REVOKED(other, &b);
    int same = la > 0 && la == lb && memcmp(a, b, (size_t)la) == 0;
    OPENSSL_free(a);
    OPENSSL_free(b);
    return same;
}

/* A removeFromCRL entry (RFC 5280 5.3.1) for a serial listed in the base and no longer on hold. */
static rb_status add_removal(X509_CRL *delta, const X509_REVOKED *gone, int64_t now, rb_error *err)
{
    X509_REVOKED *entry = X509_REVOKED_new();
    ASN1_TIME *when = ASN1_TIME_new();
    rb_status s = entry && when ? RB_OK : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (s == RB_OK &&
        !X509_REVOKED_set_serialNumber(entry, (ASN1_INTEGER *)X509_REVOKED_get0_serialNumber(gone)))
        s = rb_fail_crypto(err, "cannot encode a removeFromCRL entry");
    if (s == RB_OK)
        s = rb_asn1_time_set_ms(when, now, err);
    if (s == RB_OK && !X509_REVOKED_set_revocationDate(entry, when))
        s = rb_fail_crypto(err, "cannot encode a removeFromCRL entry");
    if (s == RB_OK)
        s = set_reason(entry, CRL_REASON_REMOVE_FROM_CRL, "(removeFromCRL)", err);
    if (s == RB_OK && !X509_CRL_add0_revoked(delta, entry))
        s = rb_fail_crypto(err, "cannot add a removeFromCRL entry");
    if (s != RB_OK)
        X509_REVOKED_free(entry);
    ASN1_TIME_free(when);
    return s;
}

/*
 * The entries of a delta CRL against base: every current entry the base lacks
 * or lists differently (a new revocation or hold, a hold that became a
 * revocation), and removeFromCRL for base entries that are gone (a released
 * hold).
 */
static rb_status add_delta_entries(rb_ctx *ctx, X509_CRL *delta, const char *ca, X509_CRL *base,
                                   int64_t now, rb_error *err)
{
    X509_CRL *current = X509_CRL_new();
    rb_status s = current ? add_entries(ctx, current, ca, err)
                          : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    STACK_OF(X509_REVOKED) *now_listed = s == RB_OK ? X509_CRL_get_REVOKED(current) : NULL;
    for (int i = 0; s == RB_OK && i < sk_X509_REVOKED_num(now_listed); i++) {
        X509_REVOKED *entry = sk_X509_REVOKED_value(now_listed, i);
        if (same_entry(base, entry))
            continue;
        X509_REVOKED *copy = X509_REVOKED_dup(entry);
        if (copy == NULL || !X509_CRL_add0_revoked(delta, copy)) {
            X509_REVOKED_free(copy);
            s = rb_fail_crypto(err, "cannot add an entry to the delta CRL");
        }
    }
    STACK_OF(X509_REVOKED) *base_listed = X509_CRL_get_REVOKED(base);
    for (int i = 0; s == RB_OK && i < sk_X509_REVOKED_num(base_listed); i++) {
        X509_REVOKED *entry = sk_X509_REVOKED_value(base_listed, i), *still = NULL;
        if (X509_CRL_get0_by_serial(current, &still, X509_REVOKED_get0_serialNumber(entry)) == 0)
            s = add_removal(delta, entry, now, err);
    }
    X509_CRL_free(current);
    return s;
}

/* What a CRL is built from: the CA (with its key), its number, times and, for a delta, the base. */
typedef struct crl_plan {
    const rb_authority *ca;
    rb_crl_kind kind;
    int64_t number, now, next;
    X509_CRL *base; /* delta only: the stored complete CRL */
    int64_t base_number;
} crl_plan;

static rb_status build_crl(rb_ctx *ctx, const crl_plan *p, unsigned char **der, int *der_len,
                           rb_error *err)
{
    X509_CRL *crl = NULL;
    rb_status s = crl_skeleton(p->ca, p->number, p->now, p->next, &crl, err);
    if (s == RB_OK && p->kind == RB_CRL_FULL)
        s = add_freshest(ctx, crl, p->ca->name, err);
    if (s == RB_OK && p->kind == RB_CRL_FULL)
        s = add_entries(ctx, crl, p->ca->name, err);
    if (s == RB_OK && p->kind == RB_CRL_DELTA)
        s = add_delta_indicator(crl, p->base_number, err);
    if (s == RB_OK && p->kind == RB_CRL_DELTA)
        s = add_delta_entries(ctx, crl, p->ca->name, p->base, p->now, err);
    EVP_PKEY *key = s == RB_OK ? rb_key_get0_pkey(p->ca->key) : NULL;
    if (s == RB_OK && (!X509_CRL_sort(crl) || X509_CRL_sign(crl, key, rb_signing_digest(key)) <= 0))
        s = rb_fail_crypto(err, "%s could not sign its CRL", p->ca->name);
    if (s == RB_OK && (*der_len = i2d_X509_CRL(crl, der)) <= 0)
        s = rb_fail_crypto(err, "cannot encode the CRL of %s", p->ca->name);
    X509_CRL_free(crl);
    return s;
}

/* A stored CRL row. */
typedef struct crl_row {
    int exists;
    int64_t number, base_number, this_update, next_update;
    uint8_t *der; /* owned copy when asked for */
    size_t len;
} crl_row;

static rb_status copy_blob_of(const uint8_t *data, size_t len, uint8_t **out, size_t *out_len,
                              rb_error *err)
{
    *out = malloc(len ? len : 1);
    if (*out == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    memcpy(*out, data, len);
    *out_len = len;
    return RB_OK;
}

static rb_status copy_blob(rb_stmt *stmt, int col, uint8_t **out, size_t *len, rb_error *err)
{
    size_t stored_len = 0;
    const uint8_t *stored = rb_stmt_blob(stmt, col, &stored_len);
    return copy_blob_of(stored, stored_len, out, len, err);
}

/* Reads the stored CRL of kind (or the delta base) for ca into row, with its DER when with_der. */
typedef enum row_table { ROW_FULL, ROW_DELTA, ROW_BASE } row_table;

static rb_status read_row(rb_ctx *ctx, const char *ca, row_table table, int with_der, crl_row *row,
                          rb_error *err)
{
    static const char *const sql[] = {
        "SELECT crl_number, crl_number, this_update_ms, next_update_ms, der "
        "FROM crls WHERE issuer = $1",
        "SELECT crl_number, base_crl_number, this_update_ms, next_update_ms, der "
        "FROM delta_crls WHERE issuer = $1",
        "SELECT crl_number, crl_number, 0, 0, der FROM crl_bases WHERE issuer = $1",
    };
    rb_stmt *stmt;
    int has_row = 0;
    memset(row, 0, sizeof(*row));
    rb_status s = rb_store_prepare(ctx->store, sql[table], &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, ca);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s == RB_OK && has_row) {
        row->exists = 1;
        row->number = rb_stmt_int64(stmt, 0);
        row->base_number = rb_stmt_int64(stmt, 1);
        row->this_update = rb_stmt_int64(stmt, 2);
        row->next_update = rb_stmt_int64(stmt, 3);
        if (with_der)
            s = copy_blob(stmt, 4, &row->der, &row->len, err);
    }
    rb_stmt_reset(stmt);
    return s;
}

/* Whether a row can still be served: not marked stale, and more than a quarter of its life left. */
static int row_fresh(const crl_row *row, int64_t now)
{
    return row->exists &&
           row->next_update - now > (row->next_update - row->this_update) / REFRESH_FRACTION;
}

/* The stored CRLs of a CA and what they say about freshness. */
typedef struct crl_state {
    crl_row full, delta, base;
    int fresh; /* the CRL of the kind asked for can be served as is */
} crl_state;

static void state_clear(crl_state *st)
{
    free(st->full.der);
    free(st->delta.der);
    free(st->base.der);
    memset(st, 0, sizeof(*st));
}

/*
 * A delta is fresh when it is relative to the current base and newer than
 * the complete CRL (RFC 5280 5.2.4: a relying party pairs it with any
 * complete CRL numbered from its base up to below its own number).
 */
static rb_status read_state(rb_ctx *ctx, const char *ca, rb_crl_kind kind, int64_t now,
                            crl_state *st, rb_error *err)
{
    memset(st, 0, sizeof(*st));
    int delta = kind == RB_CRL_DELTA;
    rb_status s = read_row(ctx, ca, ROW_FULL, !delta, &st->full, err);
    if (s == RB_OK)
        s = read_row(ctx, ca, ROW_DELTA, delta, &st->delta, err);
    if (s == RB_OK) /* the base's number only: its DER is read when a delta is signed */
        s = read_row(ctx, ca, ROW_BASE, 0, &st->base, err);
    if (s != RB_OK)
        return s;
    if (!delta)
        st->fresh = row_fresh(&st->full, now);
    else
        st->fresh = row_fresh(&st->delta, now) && st->base.exists &&
                    st->delta.base_number == st->base.number && st->delta.number > st->full.number;
    return RB_OK;
}

static rb_status store_row(rb_ctx *ctx, const char *ca, const crl_plan *p, const uint8_t *der,
                           size_t len, rb_error *err)
{
    rb_stmt *stmt;
    int delta = p->kind == RB_CRL_DELTA;
    rb_status s = rb_store_prepare(
        ctx->store,
        delta ? "INSERT INTO delta_crls (issuer, crl_number, this_update_ms, next_update_ms, der,"
                " base_crl_number) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (issuer) DO UPDATE"
                " SET crl_number = excluded.crl_number, this_update_ms = excluded.this_update_ms,"
                " next_update_ms = excluded.next_update_ms, der = excluded.der,"
                " base_crl_number = excluded.base_crl_number"
              : "INSERT INTO crls (issuer, crl_number, this_update_ms, next_update_ms, der)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issuer) DO UPDATE SET"
                " crl_number = excluded.crl_number, this_update_ms = excluded.this_update_ms,"
                " next_update_ms = excluded.next_update_ms, der = excluded.der",
        &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, ca);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 2, p->number);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 3, p->now);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 4, p->next);
    if (s == RB_OK)
        s = rb_stmt_bind_blob(stmt, 5, der, len);
    if (s == RB_OK && delta)
        s = rb_stmt_bind_int64(stmt, 6, p->base_number);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    json_t *detail = json_pack("{s:I,s:I}", "crl_number", (json_int_t)p->number, "next_update_ms",
                               (json_int_t)p->next);
    if (delta)
        json_object_set_new(detail, "base_crl_number", json_integer(p->base_number));
    char object[80];
    snprintf(object, sizeof(object), "crl:%s", ca);
    if (s == RB_OK)
        s = rb_audit_append(ctx, delta ? "crl.issue_delta" : "crl.issue", object, detail, NULL,
                            err);
    json_decref(detail);
    return s;
}

/* Makes the complete CRL just signed the base of the deltas that follow. */
static rb_status store_base(rb_ctx *ctx, const char *ca, int64_t number, const uint8_t *der,
                            size_t len, rb_error *err)
{
    rb_stmt *stmt;
    rb_status s = rb_store_prepare(
        ctx->store,
        "INSERT INTO crl_bases (issuer, crl_number, der) VALUES ($1, $2, $3)"
        " ON CONFLICT (issuer) DO UPDATE SET crl_number = excluded.crl_number, der = excluded.der",
        &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, ca);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 2, number);
    if (s == RB_OK)
        s = rb_stmt_bind_blob(stmt, 3, der, len);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
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

/* Loads ca_name (NULL: the issuing CA) and checks that it is a certification authority. */
static rb_status load_ca(rb_ctx *ctx, const char *ca_name, int with_key,
                         const rb_key_secret *secret, rb_authority **out, rb_error *err)
{
    rb_status s = rb_authority_load(ctx, ca_name, RB_ROLE_ISSUING, with_key, secret, out, err);
    if (s == RB_OK && (*out)->role != RB_ROLE_ROOT && (*out)->role != RB_ROLE_ISSUING) {
        s = rb_fail(err, RB_EINVAL, NULL, "'%s' is not a certification authority", (*out)->name);
        rb_authority_free(*out);
        *out = NULL;
    }
    return s;
}

/* Signs and stores one CRL of plan's kind inside the caller's transaction; *der is owned. */
static rb_status sign_and_store(rb_ctx *ctx, crl_plan *p, uint8_t **out, size_t *out_len,
                                rb_error *err)
{
    unsigned char *der = NULL;
    int der_len = 0;
    rb_status s = build_crl(ctx, p, &der, &der_len, err);
    if (s == RB_OK)
        s = store_row(ctx, p->ca->name, p, der, (size_t)der_len, err);
    if (s == RB_OK) {
        *out = malloc((size_t)der_len);
        if (*out == NULL)
            s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
        else
            memcpy(*out, der, (size_t)der_len), *out_len = (size_t)der_len;
    }
    OPENSSL_free(der);
    return s;
}

/*
 * The transaction that signs: under the CRL lock, converts the CA's holds
 * past their limit, reads the stored CRLs again (another process may have
 * signed meanwhile), and signs what is still needed. A complete CRL signed on
 * schedule (its predecessor near nextUpdate), forced, or first becomes the
 * base of the deltas; one re-signed only because something changed does not,
 * so the delta keeps listing every change since its base. A delta with no
 * base yet signs the complete CRL first.
 */
static rb_status sign_in_transaction(rb_ctx *ctx, const rb_authority *ca, rb_crl_kind kind,
                                     int force, int64_t now, int hours, uint8_t **out,
                                     size_t *out_len, int *signed_now, rb_error *err)
{
    crl_state st = {0};
    int converted = 0;
    int64_t validity = (int64_t)hours * 3600000;
    rb_status s = rb_store_lock(ctx->store, "crl", err);
    if (s == RB_OK)
        s = rb_ca_expire_holds_in_transaction(ctx, ca->name, &converted, err);
    if (s == RB_OK)
        s = read_state(ctx, ca->name, kind, now, &st, err);
    if (s != RB_OK || (st.fresh && !force && converted == 0)) {
        crl_row *row = kind == RB_CRL_FULL ? &st.full : &st.delta;
        if (s == RB_OK)
            *out = row->der, *out_len = row->len, row->der = NULL;
        state_clear(&st);
        return s;
    }
    /* Complete and delta CRLs share one sequence of numbers (RFC 5280 5.2.4). */
    int64_t last = st.full.number > st.delta.number ? st.full.number : st.delta.number;
    crl_plan plan = {.ca = ca, .kind = RB_CRL_FULL, .now = now, .next = now + validity};
    if (kind == RB_CRL_FULL || !st.base.exists) {
        uint8_t *full = NULL;
        size_t full_len = 0;
        int on_schedule = !st.full.exists || now - st.full.this_update >= validity * 3 / 4;
        plan.number = ++last;
        s = sign_and_store(ctx, &plan, &full, &full_len, err);
        *signed_now += s == RB_OK;
        if (s == RB_OK && (force || on_schedule || !st.base.exists)) {
            s = store_base(ctx, ca->name, plan.number, full, full_len, err);
            if (s == RB_OK && kind == RB_CRL_DELTA) { /* the new base is at hand */
                st.base.der = full, st.base.len = full_len, full = NULL;
                st.base.exists = 1;
            }
            st.base.number = plan.number;
        }
        if (s == RB_OK && kind == RB_CRL_FULL)
            *out = full, *out_len = full_len;
        else
            free(full);
    }
    if (s == RB_OK && kind == RB_CRL_DELTA && st.base.der == NULL)
        s = read_row(ctx, ca->name, ROW_BASE, 1, &st.base, err);
    if (s == RB_OK && kind == RB_CRL_DELTA) {
        const unsigned char *p = st.base.der;
        plan.base = d2i_X509_CRL(NULL, &p, (long)st.base.len);
        plan.kind = RB_CRL_DELTA;
        plan.number = ++last;
        plan.base_number = st.base.number;
        s = plan.base ? sign_and_store(ctx, &plan, out, out_len, err)
                      : rb_fail_crypto(err, "the stored base CRL of %s does not parse", ca->name);
        *signed_now += s == RB_OK;
        X509_CRL_free(plan.base);
    }
    state_clear(&st);
    return s;
}

/* rb_ca_crl_current, also telling how many CRLs it signed. */
static rb_status crl_current(rb_ctx *ctx, const char *ca_name, rb_crl_kind kind,
                             const rb_key_secret *secret, int force, uint8_t **out, size_t *out_len,
                             int *signed_now, rb_error *err)
{
    int64_t now = rb_ctx_now_ms(ctx) / 1000 * 1000;
    int hours = 24, pending = 0;
    rb_authority *ca = NULL;
    crl_state st = {0};
    rb_status s = load_ca(ctx, ca_name, 0, NULL, &ca, err);
    char name[64];
    if (s == RB_OK)
        snprintf(name, sizeof(name), "%s", ca->name);
    rb_authority_free(ca);
    ca = NULL;
    if (s == RB_OK && !force)
        s = rb_ca_expired_hold_pending(ctx, name, &pending, err);
    if (s == RB_OK && !force)
        s = read_state(ctx, name, kind, now, &st, err);
    if (s != RB_OK || (st.fresh && !pending)) {
        crl_row *row = kind == RB_CRL_FULL ? &st.full : &st.delta;
        if (s == RB_OK)
            *out = row->der, *out_len = row->len, row->der = NULL;
        state_clear(&st);
        return s;
    }
    state_clear(&st);
    s = crl_hours(ctx, &hours, err);
    if (s == RB_OK)
        s = load_ca(ctx, name, 1, secret, &ca, err);
    if (s == RB_OK)
        s = rb_store_begin(ctx->store, err);
    if (s == RB_OK)
        s = sign_in_transaction(ctx, ca, kind, force, now, hours, out, out_len, signed_now, err);
    if (s == RB_OK && rb_store_in_transaction(ctx->store))
        s = rb_store_commit(ctx->store, err);
    if (s != RB_OK && *out != NULL) {
        free(*out);
        *out = NULL;
    }
    if (rb_store_in_transaction(ctx->store))
        rb_store_rollback(ctx->store);
    rb_authority_free(ca);
    return s;
}

rb_status rb_ca_crl_current(rb_ctx *ctx, const char *ca_name, rb_crl_kind kind,
                            const rb_key_secret *secret, int force, uint8_t **out, size_t *out_len,
                            rb_error *err)
{
    int signed_now = 0;
    uint8_t *der = NULL;
    size_t len = 0;
    rb_status s = crl_current(ctx, ca_name, kind, secret, force, &der, &len, &signed_now, err);
    if (s == RB_OK)
        *out = der, *out_len = len;
    return s;
}

rb_status rb_ca_crl_stored(rb_ctx *ctx, const char *ca_name, rb_crl_kind kind, uint8_t **out,
                           size_t *out_len, rb_error *err)
{
    rb_authority *ca = NULL;
    crl_row row;
    rb_status s = load_ca(ctx, ca_name, 0, NULL, &ca, err);
    if (s == RB_OK)
        s = read_row(ctx, ca->name, kind == RB_CRL_FULL ? ROW_FULL : ROW_DELTA, 1, &row, err);
    if (s == RB_OK && !row.exists)
        s = rb_fail(err, RB_ESTATE, NULL, "%s has not signed a %s CRL yet", ca->name,
                    kind == RB_CRL_FULL ? "complete" : "delta");
    rb_authority_free(ca);
    if (s != RB_OK)
        return s;
    *out = row.der;
    *out_len = row.len;
    return RB_OK;
}

#define MAX_CAS 64

rb_status rb_ca_crl_refresh_all(rb_ctx *ctx, const rb_key_secret *secret, int *signed_count,
                                rb_error *err)
{
    char(*names)[64] = calloc(MAX_CAS, sizeof(*names));
    size_t count = 0;
    int has_row = 1, total = 0;
    rb_stmt *stmt = NULL;
    rb_status s = names ? RB_OK : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (s == RB_OK)
        s = rb_store_prepare(ctx->store,
                             "SELECT name FROM authorities WHERE role IN ('root', 'issuing') "
                             "ORDER BY name",
                             &stmt, err);
    while (s == RB_OK && count < MAX_CAS) {
        s = rb_stmt_step(stmt, &has_row, err);
        if (s != RB_OK || !has_row)
            break;
        snprintf(names[count++], 64, "%s", rb_stmt_text(stmt, 0));
    }
    rb_stmt_reset(stmt);
    if (s == RB_OK && count == MAX_CAS)
        rb_log(RB_LOG_WARN, "crl: only the first %d certification authorities are refreshed",
               MAX_CAS);
    for (size_t i = 0; s == RB_OK && i < count; i++) {
        for (int kind = RB_CRL_FULL; s == RB_OK && kind <= RB_CRL_DELTA; kind++) {
            uint8_t *der = NULL;
            size_t len = 0;
            s = crl_current(ctx, names[i], (rb_crl_kind)kind, secret, 0, &der, &len, &total, err);
            free(der);
        }
    }
    free(names);
    if (s == RB_OK && signed_count != NULL)
        *signed_count = total;
    return s;
}
