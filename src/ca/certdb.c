/*
 * Reading certificate records, and writing lifecycle events. Events go to the
 * audit log and to cert_events in the caller's transaction; whatever the
 * event, the certificate's cached OCSP response and its CA's CRL are marked
 * stale in that same transaction, so relying parties see the change at once.
 */
#include "ca/ca.h"

#include "audit/audit.h"
#include "pki/x509util.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {"valid", "suspended", "revoked"};

const char *rb_cert_status_name(rb_cert_status status)
{
    return (unsigned)status < 3 ? status_names[status] : "unknown";
}

void rb_cert_record_clear(rb_cert_record *rec)
{
    if (rec == NULL)
        return;
    free(rec->subject);
    free(rec->subject_id);
    free(rec->fields);
    free(rec->legal_cause);
    free(rec->replaces);
    free(rec->der);
    memset(rec, 0, sizeof(*rec));
}

#define RECORD_COLUMNS                                                                             \
    "serial, issuer, profile, subject, subject_id, fields, not_before_ms, not_after_ms, "          \
    "issued_ms, status, revoked_ms, reason, legal_cause, invalidity_ms, hold_until_ms, "           \
    "replaces, publish, der, hold_expiry_reason"

static char *dup_or_null(rb_stmt *stmt, int col)
{
    return rb_stmt_is_null(stmt, col) ? NULL : strdup(rb_stmt_text(stmt, col));
}

static int64_t int_or_zero(rb_stmt *stmt, int col)
{
    return rb_stmt_is_null(stmt, col) ? 0 : rb_stmt_int64(stmt, col);
}

static rb_status read_record(rb_stmt *stmt, rb_cert_record *rec, rb_error *err)
{
    memset(rec, 0, sizeof(*rec));
    snprintf(rec->serial, sizeof(rec->serial), "%s", rb_stmt_text(stmt, 0));
    snprintf(rec->issuer, sizeof(rec->issuer), "%s", rb_stmt_text(stmt, 1));
    snprintf(rec->profile, sizeof(rec->profile), "%s", rb_stmt_text(stmt, 2));
    rec->subject = dup_or_null(stmt, 3);
    rec->subject_id = dup_or_null(stmt, 4);
    rec->fields = dup_or_null(stmt, 5);
    rec->not_before_ms = rb_stmt_int64(stmt, 6);
    rec->not_after_ms = rb_stmt_int64(stmt, 7);
    rec->issued_ms = rb_stmt_int64(stmt, 8);
    const char *status = rb_stmt_text(stmt, 9);
    rec->status = strcmp(status, "revoked") == 0     ? RB_CERT_REVOKED
                  : strcmp(status, "suspended") == 0 ? RB_CERT_SUSPENDED
                                                     : RB_CERT_VALID;
    rec->revoked_ms = int_or_zero(stmt, 10);
    rec->reason = rb_stmt_is_null(stmt, 11) ? -1 : (int)rb_stmt_int64(stmt, 11);
    rec->legal_cause = dup_or_null(stmt, 12);
    rec->invalidity_ms = int_or_zero(stmt, 13);
    rec->hold_until_ms = int_or_zero(stmt, 14);
    rec->replaces = dup_or_null(stmt, 15);
    rec->publish = (int)rb_stmt_int64(stmt, 16);
    size_t len;
    const uint8_t *der = rb_stmt_blob(stmt, 17, &len);
    rec->der = malloc(len ? len : 1);
    if (rec->der == NULL || rec->subject == NULL || rec->fields == NULL) {
        rb_cert_record_clear(rec);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    memcpy(rec->der, der, len);
    rec->der_len = len;
    rec->hold_expiry_reason = (int)int_or_zero(stmt, 18);
    return RB_OK;
}

/*
 * A hold past its limit is reported as the revocation it has become, with
 * exactly what lifecycle.c's conversion writes (see RB_HOLD_EXPIRED_CAUSE),
 * whether or not the conversion has run yet.
 */
static rb_status apply_hold_limit(rb_cert_record *rec, int64_t now, rb_error *err)
{
    if (rec->status != RB_CERT_SUSPENDED || rec->hold_until_ms == 0 || rec->hold_until_ms > now)
        return RB_OK;
    char *cause = strdup(RB_HOLD_EXPIRED_CAUSE);
    if (cause == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    free(rec->legal_cause);
    rec->legal_cause = cause;
    rec->status = RB_CERT_REVOKED;
    rec->invalidity_ms = rec->revoked_ms;
    rec->revoked_ms = rec->hold_until_ms;
    rec->reason = rec->hold_expiry_reason;
    rec->hold_expiry_reason = 0;
    return RB_OK;
}

/* The status as reported: a hold past its limit ($6 is now) counts as revoked. */
#define EFFECTIVE_STATUS                                                                           \
    "(CASE WHEN status = 'suspended' AND hold_until_ms <= $6 THEN 'revoked' ELSE status END)"

rb_status rb_ca_get(rb_ctx *ctx, const char *serial, rb_cert_record *out, rb_error *err)
{
    char hex[RB_SERIAL_HEX_LEN];
    rb_stmt *stmt;
    int has_row;
    rb_status s = rb_serial_normalise(serial, hex, err);
    if (s == RB_OK)
        s = rb_store_prepare(ctx->store,
                             "SELECT " RECORD_COLUMNS " FROM certificates WHERE serial = $1", &stmt,
                             err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, hex);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s != RB_OK)
        return s;
    if (!has_row)
        s = rb_fail(err, RB_ENOTFOUND, NULL, "no certificate with serial %s", hex);
    else
        s = read_record(stmt, out, err);
    rb_stmt_reset(stmt);
    if (s == RB_OK && has_row) {
        s = apply_hold_limit(out, rb_ctx_now_ms(ctx), err);
        if (s != RB_OK)
            rb_cert_record_clear(out);
    }
    return s;
}

rb_status rb_ca_list(rb_ctx *ctx, const rb_cert_filter *f,
                     int (*fn)(const rb_cert_record *rec, void *arg), void *arg, rb_error *err)
{
    /* One statement with optional filters: a NULL parameter disables its condition. */
    static const char sql[] =
        "SELECT " RECORD_COLUMNS " FROM certificates WHERE"
        " (CAST($1 AS TEXT) IS NULL OR ($1 = 'expired' AND not_after_ms < $6)"
        "  OR ($1 <> 'expired' AND " EFFECTIVE_STATUS " = $1"
        "   AND ($1 <> 'valid' OR not_after_ms >= $6)))"
        " AND (CAST($2 AS TEXT) IS NULL OR subject LIKE $2 OR subject_id LIKE $2)"
        " AND (CAST($3 AS TEXT) IS NULL OR profile = $3)"
        " AND ($4 = 0 OR publish = 1)"
        " ORDER BY issued_ms DESC, serial LIMIT $5 OFFSET $7";
    /* One instant for the filter and the report: a hold lapsing mid-list reads the same in both. */
    int64_t now = rb_ctx_now_ms(ctx);
    char pattern[300];
    rb_stmt *stmt;
    rb_status s = rb_store_prepare(ctx->store, sql, &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, f->status);
    if (s == RB_OK && f->subject) {
        snprintf(pattern, sizeof(pattern), "%%%s%%", f->subject);
        s = rb_stmt_bind_text(stmt, 2, pattern);
    } else if (s == RB_OK) {
        s = rb_stmt_bind_null(stmt, 2);
    }
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 3, f->profile);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 4, f->published_only ? 1 : 0);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 5, f->limit > 0 ? f->limit : INT32_MAX);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 6, now);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 7, f->offset > 0 ? f->offset : 0);
    int has_row = 1;
    while (s == RB_OK) {
        s = rb_stmt_step(stmt, &has_row, err);
        if (s != RB_OK || !has_row)
            break;
        rb_cert_record rec;
        s = read_record(stmt, &rec, err);
        if (s == RB_OK)
            s = apply_hold_limit(&rec, now, err);
        int stop = s == RB_OK && fn(&rec, arg) != 0;
        rb_cert_record_clear(&rec);
        if (stop)
            break;
    }
    rb_stmt_reset(stmt);
    return s;
}

static rb_status exec_with_text(rb_ctx *ctx, const char *sql, const char *value, rb_error *err)
{
    rb_stmt *stmt;
    rb_status s = rb_store_prepare(ctx->store, sql, &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, value);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    return s;
}

rb_status rb_ca_record_event(rb_ctx *ctx, const char *serial, const char *event, json_t *detail,
                             rb_error *err)
{
    char *text = rb_audit_detail_text(detail, err);
    if (text == NULL)
        return RB_ENOMEM;
    rb_status s = rb_ca_record_event_text(ctx, serial, event, text, err);
    free(text);
    return s;
}

rb_status rb_ca_record_event_text(rb_ctx *ctx, const char *serial, const char *event,
                                  const char *detail_json, rb_error *err)
{
    char action[64], object[64];
    int64_t seq = 0;
    snprintf(action, sizeof(action), "cert.%s", event);
    snprintf(object, sizeof(object), "cert:%s", serial);
    rb_status s = rb_audit_append_text(ctx, action, object, detail_json, &seq, err);
    rb_stmt *stmt = NULL;
    if (s == RB_OK)
        s = rb_store_prepare(ctx->store,
                             "INSERT INTO cert_events (audit_seq, serial, at_ms, event, detail) "
                             "VALUES ($1, $2, $3, $4, $5)",
                             &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 1, seq);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, serial);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 3, rb_ctx_now_ms(ctx));
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 4, event);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 5, detail_json);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    /* A new certificate has no cached answer yet; any other event changes its status. */
    if (s == RB_OK && strcmp(event, "issue") != 0)
        s = exec_with_text(ctx, "DELETE FROM ocsp_responses WHERE serial = $1", serial, err);
    if (s == RB_OK && strcmp(event, "issue") != 0)
        s = exec_with_text(ctx,
                           "UPDATE crls SET next_update_ms = 0 WHERE issuer = "
                           "(SELECT issuer FROM certificates WHERE serial = $1)",
                           serial, err);
    if (s == RB_OK && strcmp(event, "issue") != 0)
        s = exec_with_text(ctx,
                           "UPDATE delta_crls SET next_update_ms = 0 WHERE issuer = "
                           "(SELECT issuer FROM certificates WHERE serial = $1)",
                           serial, err);
    return s;
}

static json_t *time_or_null(int64_t ms)
{
    char when[RB_TIME_TEXT_LEN];
    return ms ? json_string(rb_time_format(ms, when, sizeof(when))) : json_null();
}

/* {at, event, audit_seq, detail}; audit_seq 0 and detail NULL leave them out. */
static json_t *history_entry(int64_t at_ms, const char *event, int64_t audit_seq,
                             const char *detail)
{
    json_t *entry = json_pack("{s:o,s:s}", "at", time_or_null(at_ms), "event", event);
    if (entry != NULL && audit_seq > 0)
        json_object_set_new(entry, "audit_seq", json_integer(audit_seq));
    json_t *parsed = detail ? json_loads(detail, 0, NULL) : NULL;
    if (entry != NULL && parsed != NULL && json_object_size(parsed) > 0)
        json_object_set_new(entry, "detail", parsed);
    else
        json_decref(parsed);
    return entry;
}

rb_status rb_ca_history(rb_ctx *ctx, const rb_cert_record *rec, json_t **out, rb_error *err)
{
    /* The condition on event matches the partial index cert_events_changes. */
    static const char sql[] = "SELECT audit_seq, at_ms, event, detail FROM cert_events"
                              " WHERE serial = $1 AND event <> 'issue' ORDER BY audit_seq";
    json_t *history = json_array();
    rb_stmt *stmt;
    int has_row = 0;
    rb_status s = history ? RB_OK : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (s == RB_OK)
        json_array_append_new(history, history_entry(rec->issued_ms, "issue", 0, NULL));
    if (s == RB_OK)
        s = rb_store_prepare(ctx->store, sql, &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, rec->serial);
    while (s == RB_OK && (s = rb_stmt_step(stmt, &has_row, err)) == RB_OK && has_row)
        json_array_append_new(history,
                              history_entry(rb_stmt_int64(stmt, 1), rb_stmt_text(stmt, 2),
                                            rb_stmt_int64(stmt, 0), rb_stmt_text(stmt, 3)));
    if (s == RB_OK)
        rb_stmt_reset(stmt);
    if (s != RB_OK) {
        json_decref(history);
        return s;
    }
    *out = history;
    return RB_OK;
}

json_t *rb_cert_record_to_json(const rb_cert_record *rec, int with_pem)
{
    json_error_t jerr;
    json_t *fields = json_loads(rec->fields, 0, &jerr);
    json_t *out =
        json_pack("{s:s,s:s,s:s,s:s,s:s?,s:o,s:o,s:o,s:o,s:s,s:b}", "serial", rec->serial, "issuer",
                  rec->issuer, "profile", rec->profile, "subject", rec->subject, "subject_id",
                  rec->subject_id, "fields", fields ? fields : json_object(), "not_before",
                  time_or_null(rec->not_before_ms), "not_after", time_or_null(rec->not_after_ms),
                  "issued_at", time_or_null(rec->issued_ms), "status",
                  rb_cert_status_name(rec->status), "publish", rec->publish);
    if (out == NULL)
        return NULL;
    if (rec->status != RB_CERT_VALID) {
        json_object_set_new(out, rec->status == RB_CERT_SUSPENDED ? "suspended_at" : "revoked_at",
                            time_or_null(rec->revoked_ms));
        json_object_set_new(out, "reason",
                            json_string(rec->status == RB_CERT_SUSPENDED
                                            ? "certificate-hold"
                                            : rb_reason_name(rec->reason < 0 ? 0 : rec->reason)));
        json_object_set_new(out, "legal_cause",
                            rec->legal_cause ? json_string(rec->legal_cause) : json_null());
        if (rec->invalidity_ms)
            json_object_set_new(out, "invalidity_date", time_or_null(rec->invalidity_ms));
        if (rec->hold_until_ms)
            json_object_set_new(out, "hold_until", time_or_null(rec->hold_until_ms));
        if (rec->status == RB_CERT_SUSPENDED)
            json_object_set_new(out, "reason_if_not_reinstated",
                                json_string(rb_reason_name(rec->hold_expiry_reason)));
    }
    if (rec->replaces)
        json_object_set_new(out, "replaces", json_string(rec->replaces));
    if (with_pem) {
        const unsigned char *p = rec->der;
        X509 *cert = d2i_X509(NULL, &p, (long)rec->der_len);
        char *pem = cert ? rb_x509_to_pem(cert) : NULL;
        if (pem)
            json_object_set_new(out, "pem", json_string(pem));
        free(pem);
        X509_free(cert);
    }
    return out;
}
