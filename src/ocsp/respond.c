/*
 * Answering one OCSP request: the unsigned error statuses, the cached path
 * for plain RFC 5019 requests (one SHA-1 CertID, no nonce: one indexed read
 * of ocsp_responses when the answer is there), and fresh signing for the rest.
 */
#include "ocsp/internal.h"

#include "core/log.h"
#include "core/metrics.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

void rb_ocsp_answer_clear(rb_ocsp_answer *answer)
{
    if (answer == NULL)
        return;
    free(answer->der);
    memset(answer, 0, sizeof(*answer));
}

/* An unsigned OCSPResponse carrying only responseStatus (RFC 6960 4.2.1). */
static rb_status answer_error(int status, rb_ocsp_answer *out)
{
    OCSP_RESPONSE *resp = OCSP_response_create(status, NULL);
    int n = resp ? i2d_OCSP_RESPONSE(resp, NULL) : -1;
    uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
    uint8_t *p = buf;
    if (buf != NULL)
        i2d_OCSP_RESPONSE(resp, &p);
    OCSP_RESPONSE_free(resp);
    if (buf == NULL)
        return RB_ENOMEM;
    memset(out, 0, sizeof(*out));
    out->der = buf;
    out->der_len = (size_t)n;
    out->response_status = status;
    return RB_OK;
}

/* The stored answer for serial under issuer, if it has not passed its nextUpdate. */
static rb_status cache_get(rb_ctx *ctx, const ocsp_issuer *issuer, const char *serial, int64_t now,
                           rb_ocsp_answer *out, int *hit, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    *hit = 0;
    rb_status s =
        rb_store_prepare(ctx->store,
                         "SELECT r.der, r.this_update_ms, r.next_update_ms "
                         "FROM ocsp_responses r JOIN certificates c ON c.serial = r.serial "
                         "WHERE r.serial = $1 AND c.issuer = $2",
                         &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, serial);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, issuer->name);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s == RB_OK && has_row && rb_stmt_int64(stmt, 2) > now) {
        size_t len = 0;
        const uint8_t *der = rb_stmt_blob(stmt, 0, &len);
        uint8_t *copy = len > 0 ? malloc(len) : NULL;
        if (copy == NULL) {
            s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
        } else {
            memcpy(copy, der, len);
            out->der = copy;
            out->der_len = len;
            out->this_update_ms = out->produced_ms = rb_stmt_int64(stmt, 1);
            out->next_update_ms = rb_stmt_int64(stmt, 2);
            *hit = 1;
        }
    }
    rb_stmt_reset(stmt);
    return s;
}

/*
 * Keeps a freshly signed answer for the next client. Best effort: the answer
 * is sent whether or not this works, so a failure is only logged.
 */
static void cache_store(rb_ctx *ctx, const char *serial, const ocsp_cert_state *state,
                        const rb_ocsp_answer *answer)
{
    rb_error err = {0};
    int stored = 0;
    if (!state->known || rb_store_in_transaction(ctx->store))
        return;
    rb_status s = rb_store_begin(ctx->store, &err);
    if (s == RB_OK)
        s = ocsp_cache_put(ctx, serial, state, answer->this_update_ms, answer->next_update_ms,
                           answer->der, answer->der_len, &stored, &err);
    if (s == RB_OK)
        s = rb_store_commit(ctx->store, &err);
    else
        rb_store_rollback(ctx->store);
    if (s != RB_OK)
        rb_log(RB_LOG_WARN, "ocsp: could not cache the response for %s: %s", serial, err.message);
}

static rb_status answer_cached(const rb_ocsp_responder *r, rb_ctx *ctx, const ocsp_issuer *issuer,
                               const char *serial, int64_t now, rb_ocsp_answer *out, rb_error *err)
{
    /* Read before the row, so that any commit after the read moves it past what is kept. */
    uint64_t counter =
        rb_store_in_transaction(ctx->store) ? 0 : rb_store_change_counter(ctx->store);
    int hit = ocsp_hot_get(r, issuer, serial, counter, now, out);
    rb_status s = RB_OK;
    if (!hit) {
        s = cache_get(ctx, issuer, serial, now, out, &hit, err);
        if (s == RB_OK && hit)
            ocsp_hot_put(r, issuer, serial, counter, out);
    }
    if (s != RB_OK || hit) {
        out->from_cache = hit;
        out->cacheable = hit;
        return s;
    }
    ocsp_cert_state state;
    s = ocsp_state_read(ctx, issuer, serial, &state, err);
    if (s == RB_OK)
        s = ocsp_sign_single(r, issuer, serial, &state, now, &out->der, &out->der_len, err);
    if (s != RB_OK)
        return s;
    out->cacheable = 1;
    out->produced_ms = out->this_update_ms = now;
    out->next_update_ms = ocsp_next_update_ms(r, &state, now);
    cache_store(ctx, serial, &state, out);
    return RB_OK;
}

/*
 * Signs an answer to the whole request with the responder of the first served
 * CertID. A delegated responder speaks only for its own CA (RFC 6960
 * 4.2.2.2), so CertIDs of other CAs are answered "unknown".
 */
static rb_status answer_fresh(const rb_ocsp_responder *r, rb_ctx *ctx, const rb_ocsp_request *req,
                              const ocsp_issuer *const *issuers, int64_t now, rb_ocsp_answer *out,
                              rb_error *err)
{
    const ocsp_issuer *signer = NULL;
    for (size_t i = 0; i < req->count && signer == NULL; i++)
        signer = issuers[i];
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    rb_status s = bs ? RB_OK : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; s == RB_OK && i < req->count; i++) {
        const rb_ocsp_certid *id = &req->ids[i];
        ocsp_cert_state state = {0};
        if (issuers[i] == signer && id->serial[0] != '\0')
            s = ocsp_state_read(ctx, signer, id->serial, &state, err);
        if (s == RB_OK)
            s = ocsp_add_single(bs, id->id, &state, now, ocsp_next_update_ms(r, &state, now), err);
    }
    if (s == RB_OK && req->has_nonce && OCSP_copy_nonce(bs, req->req) != 1)
        s = rb_fail_crypto(err, "could not copy the nonce into the OCSP response");
    if (s == RB_OK)
        s = ocsp_sign(signer, bs, &out->der, &out->der_len, err);
    OCSP_BASICRESP_free(bs);
    return s;
}

/* Hands answer over as *out, or an unsigned internalError when making it failed (s). */
static rb_status deliver(rb_status s, rb_ocsp_answer *answer, rb_ocsp_answer *out)
{
    if (s != RB_OK) {
        rb_ocsp_answer_clear(answer);
        return answer_error(OCSP_RESPONSE_STATUS_INTERNALERROR, out);
    }
    rb_metrics_add(RB_METRIC_OCSP_RESPONSES, 1);
    *out = *answer;
    return RB_OK;
}

/*
 * The RFC 5019 request read without OpenSSL's parser. Returns 1 when it
 * answered (*s says how), 0 when the request is for the general path.
 */
static int respond_simple(const rb_ocsp_responder *r, rb_ctx *ctx, const uint8_t *der, size_t len,
                          rb_ocsp_answer *out, rb_status *s, rb_error *err)
{
    rb_ocsp_certid id;
    if (!rb_ocsp_request_parse_simple(der, len, &id))
        return 0;
    const ocsp_issuer *issuer = ocsp_issuer_find(r, &id);
    if (issuer == NULL)
        return 0; /* the general path words the refusal */
    rb_ocsp_answer answer = {0};
    *s = deliver(answer_cached(r, ctx, issuer, id.serial, rb_ctx_now_ms(ctx), &answer, err),
                 &answer, out);
    return 1;
}

rb_status rb_ocsp_respond(const rb_ocsp_responder *r, rb_ctx *ctx, const uint8_t *der, size_t len,
                          rb_ocsp_answer *out, rb_error *err)
{
    rb_status s;
    if (respond_simple(r, ctx, der, len, out, &s, err))
        return s;
    rb_ocsp_request req;
    if (rb_ocsp_request_parse(der, len, &req, err) != RB_OK)
        return answer_error(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, out);
    const ocsp_issuer *issuers[RB_OCSP_MAX_CERTIDS];
    int served = 0;
    for (size_t i = 0; i < req.count; i++) {
        issuers[i] = ocsp_issuer_find(r, &req.ids[i]);
        served |= issuers[i] != NULL;
    }
    if (!served) {
        rb_fail(err, RB_ENOTFOUND, "RFC 5019 2.2.3",
                "the OCSP request names no CA this responder serves");
        s = answer_error(OCSP_RESPONSE_STATUS_UNAUTHORIZED, out);
        rb_ocsp_request_clear(&req);
        return s;
    }
    rb_ocsp_answer answer = {0};
    int64_t now = rb_ctx_now_ms(ctx);
    const rb_ocsp_certid *first = &req.ids[0];
    if (req.count == 1 && !req.has_nonce && first->hash_nid == NID_sha1 && first->serial[0])
        s = answer_cached(r, ctx, issuers[0], first->serial, now, &answer, err);
    else
        s = answer_fresh(r, ctx, &req, issuers, now, &answer, err);
    rb_ocsp_request_clear(&req);
    return deliver(s, &answer, out);
}
