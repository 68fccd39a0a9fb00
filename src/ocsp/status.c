/*
 * From the store to a SingleResponse: reading a certificate's status columns,
 * turning them into good / revoked (time, reason, invalidity date) / unknown,
 * and writing a signed answer to ocsp_responses without racing a revocation.
 */
#include "ocsp/internal.h"

#include "store/store.h"

#include <string.h>

rb_status ocsp_state_read(rb_ctx *ctx, const ocsp_issuer *issuer, const char *serial,
                          ocsp_cert_state *out, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    memset(out, 0, sizeof(*out));
    rb_status s =
        rb_store_prepare(ctx->store,
                         "SELECT " OCSP_STATE_COLUMNS("", "$3") " FROM certificates "
                                                                "WHERE serial = $1 AND issuer = $2",
                         &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, serial);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, issuer->name);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 3, rb_ctx_now_ms(ctx));
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s == RB_OK && has_row) {
        out->known = 1;
        snprintf(out->status, sizeof(out->status), "%s", rb_stmt_text(stmt, 0));
        out->revoked_ms = rb_stmt_int64(stmt, 1);
        out->reason = rb_stmt_int64(stmt, 2);
        out->invalidity_ms = rb_stmt_int64(stmt, 3);
        out->hold_until_ms = rb_stmt_int64(stmt, 4);
    }
    rb_stmt_reset(stmt);
    return s;
}

/* The CRLReason to state: RFC 5280 5.3.1 codes other than unspecified (0) and the unused 7. */
static int revocation_reason(const ocsp_cert_state *state)
{
    if (strcmp(state->status, "suspended") == 0)
        return OCSP_REVOKED_STATUS_CERTIFICATEHOLD;
    if (state->reason >= 1 && state->reason <= 10 && state->reason != 7)
        return (int)state->reason;
    return OCSP_REVOKED_STATUS_NOSTATUS;
}

static rb_status add_invalidity_date(OCSP_SINGLERESP *single, int64_t ms, rb_error *err)
{
    ASN1_GENERALIZEDTIME *when = ASN1_GENERALIZEDTIME_set(NULL, (time_t)(ms / 1000));
    int ok =
        when != NULL && OCSP_SINGLERESP_add1_ext_i2d(single, NID_invalidity_date, when, 0, 0) == 1;
    ASN1_GENERALIZEDTIME_free(when);
    return ok ? RB_OK : rb_fail_crypto(err, "could not add the invalidity date");
}

rb_status ocsp_add_single(OCSP_BASICRESP *bs, OCSP_CERTID *cid, const ocsp_cert_state *state,
                          int64_t this_ms, int64_t next_ms, rb_error *err)
{
    int revoked = state != NULL && state->known && strcmp(state->status, "valid") != 0;
    int status = state == NULL || !state->known ? V_OCSP_CERTSTATUS_UNKNOWN
                 : revoked                      ? V_OCSP_CERTSTATUS_REVOKED
                                                : V_OCSP_CERTSTATUS_GOOD;
    /* OpenSSL turns these into the GeneralizedTime RFC 6960 4.2.1 asks for. */
    ASN1_TIME *this_update = ASN1_TIME_set(NULL, (time_t)(this_ms / 1000));
    ASN1_TIME *next_update = ASN1_TIME_set(NULL, (time_t)(next_ms / 1000));
    int64_t at = revoked && state->revoked_ms >= 0 ? state->revoked_ms : this_ms;
    ASN1_TIME *revoked_at = revoked ? ASN1_TIME_set(NULL, (time_t)(at / 1000)) : NULL;
    rb_status s = RB_OK;
    if (this_update == NULL || next_update == NULL || (revoked && revoked_at == NULL))
        s = rb_fail_crypto(err, "could not encode the times of an OCSP response");
    OCSP_SINGLERESP *single = NULL;
    if (s == RB_OK) {
        single = OCSP_basic_add1_status(bs, cid, status, revoked ? revocation_reason(state) : 0,
                                        revoked_at, this_update, next_update);
        if (single == NULL)
            s = rb_fail_crypto(err, "could not add a status to the OCSP response");
    }
    if (s == RB_OK && revoked && state->invalidity_ms >= 0)
        s = add_invalidity_date(single, state->invalidity_ms, err);
    ASN1_TIME_free(this_update);
    ASN1_TIME_free(next_update);
    ASN1_TIME_free(revoked_at);
    return s;
}

int64_t ocsp_next_update_ms(const rb_ocsp_responder *r, const ocsp_cert_state *state,
                            int64_t this_ms)
{
    int64_t next = this_ms + r->validity_ms;
    if (state != NULL && state->known && strcmp(state->status, "suspended") == 0 &&
        state->hold_until_ms > this_ms && state->hold_until_ms < next)
        next = state->hold_until_ms;
    return next;
}

rb_status ocsp_sign_single(const rb_ocsp_responder *r, const ocsp_issuer *issuer,
                           const char *serial, const ocsp_cert_state *state, int64_t this_ms,
                           uint8_t **der, size_t *len, rb_error *err)
{
    OCSP_CERTID *cid = NULL;
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    rb_status s = bs ? RB_OK : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (s == RB_OK)
        s = ocsp_certid_for(issuer, serial, &cid, err);
    if (s == RB_OK)
        s = ocsp_add_single(bs, cid, state, this_ms, ocsp_next_update_ms(r, state, this_ms), err);
    if (s == RB_OK)
        s = ocsp_sign(issuer, bs, der, len, err);
    OCSP_CERTID_free(cid);
    OCSP_BASICRESP_free(bs);
    return s;
}

rb_status ocsp_cache_put(rb_ctx *ctx, const char *serial, const ocsp_cert_state *state,
                         int64_t this_ms, int64_t next_ms, const uint8_t *der, size_t len,
                         int *stored, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    *stored = 0;
    /*
     * A no-op UPDATE rather than a SELECT: it locks the certificate's row, so
     * in PostgreSQL a revocation in flight makes this wait and then see the
     * new status (and fail the check), while a revocation that comes after
     * deletes what is written here. In SQLite the write transaction already
     * excludes it.
     */
    rb_status s = rb_store_prepare(ctx->store,
                                   "UPDATE certificates SET status = status WHERE serial = $1 "
                                   "AND status = $2 AND coalesce(revoked_ms, -1) = $3 "
                                   "AND coalesce(reason, -1) = $4 "
                                   "AND coalesce(invalidity_ms, -1) = $5 RETURNING serial",
                                   &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, serial);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, state->status);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 3, state->revoked_ms);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 4, state->reason);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 5, state->invalidity_ms);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    rb_stmt_reset(stmt);
    if (s != RB_OK || !has_row)
        return s;
    s = rb_store_prepare(ctx->store,
                         "INSERT INTO ocsp_responses (serial, this_update_ms, next_update_ms, der) "
                         "VALUES ($1, $2, $3, $4) ON CONFLICT (serial) DO UPDATE SET "
                         "this_update_ms = excluded.this_update_ms, "
                         "next_update_ms = excluded.next_update_ms, der = excluded.der",
                         &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, serial);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 2, this_ms);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 3, next_ms);
    if (s == RB_OK)
        s = rb_stmt_bind_blob(stmt, 4, der, len);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    *stored = s == RB_OK;
    return s;
}
