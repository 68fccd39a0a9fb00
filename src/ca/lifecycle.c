/*
 * The certificate lifecycle after issuance: revocation with an RFC 5280
 * reason and the legal cause beside it, suspension (certificateHold) where
 * the jurisdiction allows it, reinstatement, holds that run out becoming
 * permanent revocations, renewal and re-issue. Each change is a conditional
 * UPDATE inside one transaction with its event and audit record, so two
 * operators (or processes) acting at once cannot both succeed.
 */
#include "ca/issuer.h"

#include "core/reader.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int code;
    const char *cause;
} reasons[] = {
    {"unspecified", RB_REASON_UNSPECIFIED, "solicitud expresa del titular sin causa declarada"},
    {"key-compromise", RB_REASON_KEY_COMPROMISE,
     "clave o PIN perdido, expuesto o mal utilizado; dispositivo perdido"},
    {"ca-compromise", RB_REASON_CA_COMPROMISE, "compromiso de la entidad de certificación"},
    {"affiliation-changed", RB_REASON_AFFILIATION_CHANGED,
     "la información del certificado dejó de ser correcta; el titular dejó el cargo o la entidad"},
    {"superseded", RB_REASON_SUPERSEDED,
     "reemplazado por re-emisión, renovación o cambio de clave"},
    {"cessation-of-operation", RB_REASON_CESSATION_OF_OPERATION,
     "fallecimiento, disolución de la persona jurídica o cese de la entidad de certificación"},
    {"certificate-hold", RB_REASON_CERTIFICATE_HOLD, "suspensión"},
    {"privilege-withdrawn", RB_REASON_PRIVILEGE_WITHDRAWN,
     "datos falsos, orden judicial o administrativa, o incumplimiento de obligaciones"},
};
#define REASON_COUNT (sizeof(reasons) / sizeof(reasons[0]))

rb_status rb_reason_parse(const char *name, rb_revocation_reason *out, rb_error *err)
{
    for (size_t i = 0; i < REASON_COUNT; i++) {
        if (strcmp(reasons[i].name, name) == 0 && reasons[i].code != RB_REASON_CERTIFICATE_HOLD) {
            *out = (rb_revocation_reason)reasons[i].code;
            return RB_OK;
        }
    }
    return rb_fail(
        err, RB_EINVAL, "RFC 5280 5.3.1",
        "unknown revocation reason '%s': use unspecified, key-compromise, ca-compromise, "
        "affiliation-changed, superseded, cessation-of-operation or privilege-withdrawn "
        "(suspension is 'cert suspend')",
        name);
}

const char *rb_reason_name(int reason)
{
    for (size_t i = 0; i < REASON_COUNT; i++)
        if (reasons[i].code == reason)
            return reasons[i].name;
    return "unspecified";
}

const char *rb_reason_default_cause(int reason)
{
    for (size_t i = 0; i < REASON_COUNT; i++)
        if (reasons[i].code == reason)
            return reasons[i].cause;
    return reasons[0].cause;
}

/* Explains why a conditional update matched nothing. */
static rb_status explain_state(rb_ctx *ctx, const char *serial, const char *verb, rb_error *err)
{
    rb_cert_record rec;
    char when[RB_TIME_TEXT_LEN];
    rb_status s = rb_ca_get(ctx, serial, &rec, err);
    if (s != RB_OK)
        return s;
    if (rec.status == RB_CERT_REVOKED)
        s = rb_fail(err, RB_ESTATE, NULL, "cannot %s certificate %s: it was revoked on %s (%s)",
                    verb, serial, rb_time_format(rec.revoked_ms, when, sizeof(when)),
                    rb_reason_name(rec.reason));
    else
        s = rb_fail(err, RB_ESTATE, NULL, "cannot %s certificate %s: it is %s", verb, serial,
                    rb_cert_status_name(rec.status));
    rb_cert_record_clear(&rec);
    return s;
}

/*
 * Runs an UPDATE ... WHERE serial = $1 AND <state> RETURNING serial with the
 * given extra parameters ($7 only when with_expiry_reason); *changed tells
 * whether a row matched.
 */
typedef struct update_args {
    int64_t at_ms, reason, invalidity_ms, hold_until_ms, expiry_reason;
    int with_expiry_reason;
    const char *cause;
} update_args;

static rb_status run_update(rb_ctx *ctx, const char *sql, const char *serial, const update_args *a,
                            int *changed, rb_error *err)
{
    rb_stmt *stmt;
    rb_status s = rb_store_prepare(ctx->store, sql, &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, serial);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 2, a->at_ms);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 3, a->reason);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 4, a->cause);
    if (s == RB_OK)
        s = a->invalidity_ms ? rb_stmt_bind_int64(stmt, 5, a->invalidity_ms)
                             : rb_stmt_bind_null(stmt, 5);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 6, a->hold_until_ms);
    if (s == RB_OK && a->with_expiry_reason)
        s = rb_stmt_bind_int64(stmt, 7, a->expiry_reason);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, changed, err);
    rb_stmt_reset(stmt);
    return s;
}

/* A hold that has reached its limit ($2 is now) is no longer a hold: it cannot be revoked again. */
static const char revoke_sql[] =
    "UPDATE certificates SET status = 'revoked', revoked_ms = $2, reason = $3, legal_cause = $4,"
    " invalidity_ms = $5, hold_until_ms = NULLIF($6, 0), hold_expiry_reason = NULL"
    " WHERE serial = $1 AND (status = 'valid' OR (status = 'suspended' AND hold_until_ms > $2))"
    " RETURNING serial";

/* The revocation itself, inside the caller's transaction. */
static rb_status revoke_in_transaction(rb_ctx *ctx, const char *serial, int reason,
                                       const char *cause, int64_t invalidity_ms, int64_t at_ms,
                                       rb_error *err)
{
    update_args a = {.at_ms = at_ms,
                     .reason = reason,
                     .invalidity_ms = invalidity_ms,
                     .cause = cause && cause[0] ? cause : rb_reason_default_cause(reason)};
    int changed = 0;
    rb_status s = run_update(ctx, revoke_sql, serial, &a, &changed, err);
    if (s == RB_OK && !changed)
        return explain_state(ctx, serial, "revoke", err);
    json_t *detail =
        json_pack("{s:s,s:s}", "reason", rb_reason_name(reason), "legal_cause", a.cause);
    if (invalidity_ms)
        json_object_set_new(detail, "invalidity_ms", json_integer(invalidity_ms));
    if (s == RB_OK)
        s = rb_ca_record_event(ctx, serial, "revoke", detail, err);
    json_decref(detail);
    return s;
}

/* Runs body in a transaction after normalising the serial. */
static rb_status in_transaction(rb_ctx *ctx, const char *serial_text,
                                char serial[RB_SERIAL_HEX_LEN], rb_error *err)
{
    rb_status s = rb_serial_normalise(serial_text, serial, err);
    if (s == RB_OK)
        s = rb_store_begin(ctx->store, err);
    return s;
}

static rb_status finish(rb_ctx *ctx, rb_status s, rb_error *err)
{
    if (s == RB_OK)
        return rb_store_commit(ctx->store, err);
    rb_store_rollback(ctx->store);
    return s;
}

rb_status rb_ca_revoke(rb_ctx *ctx, const char *serial_text, rb_revocation_reason reason,
                       const char *legal_cause, int64_t invalidity_ms, rb_error *err)
{
    char serial[RB_SERIAL_HEX_LEN];
    if (reason == RB_REASON_CERTIFICATE_HOLD)
        return rb_fail(err, RB_EINVAL, "RFC 5280 5.3.1", "use suspend for certificateHold");
    if (legal_cause != NULL) {
        rb_status s = rb_text_check("legal cause", legal_cause, 500, err);
        if (s != RB_OK)
            return s;
    }
    if (invalidity_ms > rb_ctx_now_ms(ctx))
        return rb_fail(err, RB_EINVAL, "RFC 5280 5.3.2",
                       "the invalidity date cannot be in the future");
    rb_status s = in_transaction(ctx, serial_text, serial, err);
    if (s != RB_OK)
        return s;
    s = revoke_in_transaction(ctx, serial, reason, legal_cause, invalidity_ms, rb_ctx_now_ms(ctx),
                              err);
    return finish(ctx, s, err);
}

rb_status rb_ca_suspend(rb_ctx *ctx, const char *serial_text, int64_t until_ms,
                        rb_revocation_reason expiry_reason, const char *legal_cause, rb_error *err)
{
    rb_jurisdiction *j = NULL;
    char serial[RB_SERIAL_HEX_LEN];
    if (expiry_reason == RB_REASON_CERTIFICATE_HOLD)
        return rb_fail(err, RB_EINVAL, "RFC 5280 5.3.1",
                       "a hold that runs out cannot become another hold: state the reason of "
                       "the revocation it becomes, or none");
    rb_status s = rb_issuer_load_jurisdiction(ctx, &j, err);
    if (s != RB_OK)
        return s;
    int64_t now = rb_ctx_now_ms(ctx), max_ms = (int64_t)j->suspension_max_days * 86400000;
    if (!j->suspension_allowed)
        s = rb_fail(err, RB_ESTATE, NULL,
                    "%s does not provide for suspending certificates; "
                    "revoke it instead",
                    j->name);
    else if (until_ms == 0)
        until_ms = now + max_ms;
    if (s == RB_OK && (until_ms <= now || until_ms > now + max_ms))
        s = rb_fail(err, RB_EINVAL, NULL,
                    "a suspension must end in the future and within %d days (%s)",
                    j->suspension_max_days, j->name);
    if (s == RB_OK && legal_cause != NULL)
        s = rb_text_check("legal cause", legal_cause, 500, err);
    rb_jurisdiction_free(j);
    if (s == RB_OK)
        s = in_transaction(ctx, serial_text, serial, err);
    if (s != RB_OK)
        return s;
    update_args a = {.at_ms = now,
                     .reason = RB_REASON_CERTIFICATE_HOLD,
                     .hold_until_ms = until_ms,
                     .expiry_reason = expiry_reason,
                     .with_expiry_reason = 1,
                     .cause = legal_cause ? legal_cause : rb_reason_default_cause(6)};
    int changed = 0;
    s = run_update(ctx,
                   "UPDATE certificates SET status = 'suspended', revoked_ms = $2, reason = $3,"
                   " legal_cause = $4, invalidity_ms = $5, hold_until_ms = $6,"
                   " hold_expiry_reason = $7 WHERE serial = $1 AND status = 'valid'"
                   " RETURNING serial",
                   serial, &a, &changed, err);
    if (s == RB_OK && !changed)
        s = explain_state(ctx, serial, "suspend", err);
    json_t *detail = json_pack("{s:I,s:s,s:s}", "until_ms", (json_int_t)until_ms, "legal_cause",
                               a.cause, "expiry_reason", rb_reason_name(expiry_reason));
    if (s == RB_OK)
        s = rb_ca_record_event(ctx, serial, "suspend", detail, err);
    json_decref(detail);
    return finish(ctx, s, err);
}

rb_status rb_ca_reinstate(rb_ctx *ctx, const char *serial_text, rb_error *err)
{
    char serial[RB_SERIAL_HEX_LEN];
    rb_status s = in_transaction(ctx, serial_text, serial, err);
    if (s != RB_OK)
        return s;
    rb_stmt *stmt;
    int changed = 0;
    /* Past its limit the hold is already a revocation (explain_state says so). */
    s = rb_store_prepare(
        ctx->store,
        "UPDATE certificates SET status = 'valid', revoked_ms = NULL, reason = NULL,"
        " legal_cause = NULL, invalidity_ms = NULL, hold_until_ms = NULL,"
        " hold_expiry_reason = NULL"
        " WHERE serial = $1 AND status = 'suspended' AND hold_until_ms > $2 RETURNING serial",
        &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, serial);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 2, rb_ctx_now_ms(ctx));
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &changed, err);
    if (s == RB_OK)
        rb_stmt_reset(stmt);
    if (s == RB_OK && !changed)
        s = explain_state(ctx, serial, "reinstate", err);
    if (s == RB_OK)
        s = rb_ca_record_event(ctx, serial, "reinstate", NULL, err);
    return finish(ctx, s, err);
}

/* The next hold of issuer (NULL: any) past its limit at now; *found is 0 when none. */
static rb_status next_expired_hold(rb_ctx *ctx, const char *issuer, int64_t now,
                                   char serial[RB_SERIAL_HEX_LEN], int *found, rb_error *err)
{
    rb_stmt *stmt;
    rb_status s =
        rb_store_prepare(ctx->store,
                         "SELECT serial FROM certificates WHERE status = 'suspended'"
                         " AND hold_until_ms <= $1 AND (CAST($2 AS TEXT) IS NULL OR issuer = $2)"
                         " ORDER BY serial LIMIT 1",
                         &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 1, now);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, issuer);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, found, err);
    if (s == RB_OK && *found)
        snprintf(serial, RB_SERIAL_HEX_LEN, "%s", rb_stmt_text(stmt, 0));
    rb_stmt_reset(stmt);
    return s;
}

/*
 * The hold of serial ran out: the certificate is extinguished as of the
 * hold's end, with the reason stated when it was suspended and the start of
 * the hold as invalidity date (certdb.c reports unconverted holds the same way).
 */
static rb_status convert_hold(rb_ctx *ctx, const char *serial, int64_t now, rb_error *err)
{
    rb_stmt *stmt;
    int changed = 0;
    int64_t reason = 0, until = 0;
    rb_status s = rb_store_prepare(
        ctx->store,
        "UPDATE certificates SET status = 'revoked', revoked_ms = hold_until_ms,"
        " reason = coalesce(hold_expiry_reason, 0), legal_cause = $2, invalidity_ms = revoked_ms,"
        " hold_expiry_reason = NULL"
        " WHERE serial = $1 AND status = 'suspended' AND hold_until_ms <= $3"
        " RETURNING reason, revoked_ms",
        &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, serial);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, RB_HOLD_EXPIRED_CAUSE);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 3, now);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &changed, err);
    if (s == RB_OK && changed) {
        reason = rb_stmt_int64(stmt, 0);
        until = rb_stmt_int64(stmt, 1);
    }
    rb_stmt_reset(stmt);
    if (s != RB_OK || !changed)
        return s;
    json_t *detail =
        json_pack("{s:s,s:s,s:I,s:b}", "reason", rb_reason_name((int)reason), "legal_cause",
                  RB_HOLD_EXPIRED_CAUSE, "hold_until_ms", (json_int_t)until, "hold_expired", 1);
    s = rb_ca_record_event(ctx, serial, "revoke", detail, err);
    json_decref(detail);
    return s;
}

rb_status rb_ca_expire_holds_in_transaction(rb_ctx *ctx, const char *issuer, int *count,
                                            rb_error *err)
{
    int64_t now = rb_ctx_now_ms(ctx);
    int done = 0, found = 1;
    rb_status s = RB_OK;
    while (s == RB_OK && found) {
        char serial[RB_SERIAL_HEX_LEN] = "";
        s = next_expired_hold(ctx, issuer, now, serial, &found, err);
        if (s == RB_OK && found)
            s = convert_hold(ctx, serial, now, err);
        done += s == RB_OK && found;
    }
    if (s == RB_OK && count)
        *count = done;
    return s;
}

rb_status rb_ca_expire_holds(rb_ctx *ctx, int *count, rb_error *err)
{
    int done = 0, found = 0;
    char serial[RB_SERIAL_HEX_LEN];
    /* Most calls find nothing: look before taking the write lock. */
    rb_status s = next_expired_hold(ctx, NULL, rb_ctx_now_ms(ctx), serial, &found, err);
    if (s == RB_OK && found)
        s = rb_store_begin(ctx->store, err);
    if (s == RB_OK && found) {
        s = rb_ca_expire_holds_in_transaction(ctx, NULL, &done, err);
        s = finish(ctx, s, err);
    }
    if (s == RB_OK && count)
        *count = done;
    return s;
}

rb_status rb_ca_expired_hold_pending(rb_ctx *ctx, const char *issuer, int *pending, rb_error *err)
{
    char serial[RB_SERIAL_HEX_LEN];
    return next_expired_hold(ctx, issuer, rb_ctx_now_ms(ctx), serial, pending, err);
}

rb_status rb_ca_next_hold_limit(rb_ctx *ctx, int64_t *out_ms, rb_error *err)
{
    rb_stmt *stmt;
    int has_row = 0;
    rb_status s = rb_store_prepare(
        ctx->store,
        "SELECT coalesce(min(hold_until_ms), 0) FROM certificates WHERE status = 'suspended'",
        &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s == RB_OK)
        *out_ms = has_row ? rb_stmt_int64(stmt, 0) : 0;
    rb_stmt_reset(stmt);
    return s;
}

rb_status rb_ca_renew(rb_ctx *ctx, rb_issuer *issuer, const char *serial, const uint8_t *csr,
                      size_t csr_len, int days, int reissue, int force, rb_issued *out,
                      rb_error *err)
{
    rb_cert_record old;
    rb_status s = rb_ca_get(ctx, serial, &old, err);
    if (s != RB_OK)
        return s;
    const rb_jurisdiction *j = rb_issuer_get0_jurisdiction(issuer);
    int64_t window_ms = (int64_t)j->renewal_window_days * 86400000, now = rb_ctx_now_ms(ctx);
    json_error_t jerr;
    json_t *fields = json_loads(old.fields, 0, &jerr);
    if (old.status != RB_CERT_VALID)
        s = rb_fail(err, RB_ESTATE, NULL,
                    "certificate %s is %s: only a valid certificate can be %s", old.serial,
                    rb_cert_status_name(old.status), reissue ? "re-issued" : "renewed");
    else if (!reissue && !force && old.not_after_ms - now > window_ms)
        s = rb_fail(err, RB_ESTATE, "renewal window",
                    "certificate %s can be renewed only in the last %d days before it expires "
                    "(use --force to override)",
                    old.serial, j->renewal_window_days);
    else if (fields == NULL)
        s = rb_fail(err, RB_EINTERNAL, NULL, "the stored fields of %s are damaged", old.serial);
    rb_csr *req = NULL;
    if (s == RB_OK && reissue)
        s = rb_csr_read(rb_issuer_get0_csr_reader(issuer), csr, csr_len, &req, err);
    if (s == RB_OK && reissue) {
        const unsigned char *p = old.der;
        X509 *old_cert = d2i_X509(NULL, &p, (long)old.der_len);
        EVP_PKEY *new_key = rb_csr_get1_pkey(req);
        if (new_key == NULL)
            s = rb_fail_crypto(err, "the request's public key cannot be decoded");
        else if (old_cert == NULL || EVP_PKEY_eq(X509_get0_pubkey(old_cert), new_key) == 1)
            s = rb_fail(err, RB_EINVAL, "re-issue",
                        "a re-issue needs a new key; this request "
                        "certifies the same key as %s",
                        old.serial);
        EVP_PKEY_free(new_key);
        X509_free(old_cert);
    }
    rb_csr_free(req);
    /* id_type and country are stored normalised; the fields map back one to one. */
    rb_issue_request request = {.csr = csr,
                                .csr_len = csr_len,
                                .profile = old.profile,
                                .fields = fields,
                                .days = days,
                                .publish = old.publish,
                                .replaces = old.serial,
                                .supersede = reissue};
    if (s == RB_OK)
        s = rb_ca_issue(ctx, issuer, &request, 1, out, err);
    json_decref(fields);
    rb_cert_record_clear(&old);
    return s;
}

rb_status rb_ca_supersede_in_transaction(rb_ctx *ctx, const char *serial, rb_error *err)
{
    return revoke_in_transaction(ctx, serial, RB_REASON_SUPERSEDED, NULL, 0, rb_ctx_now_ms(ctx),
                                 err);
}
