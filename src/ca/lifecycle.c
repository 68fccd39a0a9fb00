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
 * given extra parameters; *changed tells whether a row matched.
 */
typedef struct update_args {
    int64_t at_ms, reason, invalidity_ms, hold_until_ms;
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
    if (s == RB_OK)
        s = rb_stmt_step(stmt, changed, err);
    rb_stmt_reset(stmt);
    return s;
}

static const char revoke_sql[] =
    "UPDATE certificates SET status = 'revoked', revoked_ms = $2, reason = $3, legal_cause = $4,"
    " invalidity_ms = $5, hold_until_ms = NULLIF($6, 0)"
    " WHERE serial = $1 AND status IN ('valid', 'suspended') RETURNING serial";

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
                        const char *legal_cause, rb_error *err)
{
    rb_jurisdiction *j = NULL;
    char serial[RB_SERIAL_HEX_LEN];
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
                     .cause = legal_cause ? legal_cause : rb_reason_default_cause(6)};
    int changed = 0;
    s = run_update(ctx,
                   "UPDATE certificates SET status = 'suspended', revoked_ms = $2, reason = $3,"
                   " legal_cause = $4, invalidity_ms = $5, hold_until_ms = $6"
                   " WHERE serial = $1 AND status = 'valid' RETURNING serial",
                   serial, &a, &changed, err);
    if (s == RB_OK && !changed)
        s = explain_state(ctx, serial, "suspend", err);
    json_t *detail =
        json_pack("{s:I,s:s}", "until_ms", (json_int_t)until_ms, "legal_cause", a.cause);
    if (s == RB_OK)
        s = rb_ca_record_event(ctx, serial, "suspend", detail, err);
    json_decref(detail);
    return finish(ctx, s, err);
}

rb_status rb_ca_reinstate(rb_ctx *ctx, const char *serial_text, rb_error *err)
{
    char serial[RB_SERIAL_HEX_LEN];
    rb_status s = rb_ca_expire_holds(ctx, NULL, err);
    if (s == RB_OK)
        s = in_transaction(ctx, serial_text, serial, err);
    if (s != RB_OK)
        return s;
    rb_stmt *stmt;
    int changed = 0;
    s = rb_store_prepare(
        ctx->store,
        "UPDATE certificates SET status = 'valid', revoked_ms = NULL, reason = NULL,"
        " legal_cause = NULL, invalidity_ms = NULL, hold_until_ms = NULL"
        " WHERE serial = $1 AND status = 'suspended' RETURNING serial",
        &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, serial);
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

rb_status rb_ca_expire_holds(rb_ctx *ctx, int *count, rb_error *err)
{
    int64_t now = rb_ctx_now_ms(ctx);
    int done = 0;
    rb_status s = rb_store_begin(ctx->store, err);
    rb_stmt *stmt;
    for (int more = 1; s == RB_OK && more;) {
        char serial[RB_SERIAL_HEX_LEN] = "";
        int64_t until = 0;
        s = rb_store_prepare(ctx->store,
                             "SELECT serial, hold_until_ms FROM certificates WHERE status = "
                             "'suspended' AND hold_until_ms <= $1 LIMIT 1",
                             &stmt, err);
        if (s == RB_OK)
            s = rb_stmt_bind_int64(stmt, 1, now);
        if (s == RB_OK)
            s = rb_stmt_step(stmt, &more, err);
        if (s == RB_OK && more) {
            snprintf(serial, sizeof(serial), "%s", rb_stmt_text(stmt, 0));
            until = rb_stmt_int64(stmt, 1);
        }
        if (s == RB_OK)
            rb_stmt_reset(stmt);
        if (s != RB_OK || !more)
            break;
        /* The hold ran out: the certificate is extinguished as of the hold's end. */
        s = revoke_in_transaction(ctx, serial, RB_REASON_UNSPECIFIED,
                                  "la suspensión venció sin reactivación", 0, until, err);
        done++;
    }
    if (s == RB_OK && done == 0) {
        rb_store_rollback(ctx->store);
    } else {
        s = finish(ctx, s, err);
    }
    if (s == RB_OK && count)
        *count = done;
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
        if (old_cert == NULL || EVP_PKEY_eq(X509_get0_pubkey(old_cert), rb_csr_get0_pkey(req)) == 1)
            s = rb_fail(err, RB_EINVAL, "re-issue",
                        "a re-issue needs a new key; this request "
                        "certifies the same key as %s",
                        old.serial);
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
