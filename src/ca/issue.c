/*
 * Issuance from PKCS#10 requests. The CA never sees a subscriber's private
 * key: it certifies a public key only after the request's signature proves
 * possession. Every certificate is recorded with its issuance event and
 * audit record in the same transaction, committed before it is returned.
 */
#include "ca/issuer.h"

#include "audit/audit.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rb_status rb_ca_open_issuer(rb_ctx *ctx, const char *ca_name, const rb_key_secret *secret,
                            rb_issuer **out, rb_error *err)
{
    return rb_issuer_open(ctx, ca_name, secret, out, err);
}

void rb_ca_close_issuer(rb_issuer *issuer)
{
    rb_issuer_free(issuer);
}

/* A public key may be certified again only for the same subject. */
static rb_status check_key_reuse(rb_ctx *ctx, const char *spki, const char *subject, rb_error *err)
{
    rb_stmt *stmt;
    int has_row;
    rb_status s =
        rb_store_prepare(ctx->store,
                         "SELECT serial, subject FROM certificates WHERE spki_sha256 = $1 "
                         "AND subject <> $2 LIMIT 1",
                         &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, spki);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, subject);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s == RB_OK && has_row)
        s = rb_fail(err, RB_ECONFLICT, "key policy: one key, one subject",
                    "this public key is already certified for another subject (certificate %s)",
                    rb_stmt_text(stmt, 0));
    rb_stmt_reset(stmt);
    return s;
}

typedef struct prepared {
    rb_csr *csr;
    rb_subject subject;
    const rb_profile *profile;
    char spki[65];
    char subject_text[1024];
    X509 *cert;
    unsigned char *der; /* cert's encoding, signed once and stored as is */
    size_t der_len;
    char serial[RB_SERIAL_HEX_LEN];
    int64_t not_before_ms, not_after_ms;
} prepared;

/* Validates the subject and validity for key and signs; shared by CSR and own-key issuance. */
static rb_status prepare_key(rb_ctx *ctx, rb_issuer *issuer, const char *profile, json_t *fields,
                             int days, const rb_key_facts *key, const X509_PUBKEY *spki,
                             prepared *out, rb_error *err)
{
    const rb_jurisdiction *j = rb_issuer_get0_jurisdiction(issuer);
    out->profile = rb_jurisdiction_profile(j, profile ? profile : "", err);
    if (out->profile == NULL)
        return RB_EINVAL;
    if (days == 0)
        days = out->profile->max_validity_days;
    if (days < 1 || days > out->profile->max_validity_days)
        return rb_fail(err, RB_EINVAL, "profile: max_validity_days",
                       "a validity of %d days is outside 1..%d, the maximum of profile '%s' in %s",
                       days, out->profile->max_validity_days, out->profile->name, j->name);
    rb_status s = rb_check_key_facts(key, err);
    out->cert = s == RB_OK ? X509_new() : NULL;
    if (s == RB_OK && out->cert == NULL)
        s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    /* The subject is built in the certificate's own name, so it is not copied there. */
    if (s == RB_OK)
        s = rb_subject_build_in(j, out->profile, fields, X509_get_subject_name(out->cert),
                                &out->subject, err);
    if (s == RB_OK)
        s = rb_spki_sha256_hex(spki, out->spki, err);
    if (s == RB_OK) {
        rb_name_text(out->subject.name, out->subject_text, sizeof(out->subject_text));
        s = check_key_reuse(ctx, out->spki, out->subject_text, err);
    }
    out->not_before_ms = rb_ctx_now_ms(ctx) / 1000 * 1000;
    out->not_after_ms = out->not_before_ms + (int64_t)days * 86400000;
    if (s == RB_OK)
        s = rb_issuer_sign(issuer, out->profile, &out->subject, spki, out->not_before_ms,
                           out->not_after_ms, out->cert, &out->der, &out->der_len, out->serial,
                           err);
    return s;
}

static void prepared_clear(prepared *p)
{
    rb_csr_free(p->csr);
    rb_subject_clear(&p->subject); /* before the certificate that holds its name */
    X509_free(p->cert);
    OPENSSL_free(p->der);
}

/*
 * Appends text as a JSON string, escaped as jansson's json_dumps escapes it
 * (RFC 8259 7: the quote, the backslash and control characters; UTF-8 as is).
 * Returns the new length, or cap when it does not fit.
 */
static size_t json_put_string(char *out, size_t len, size_t cap, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    if (len < cap)
        out[len++] = '"';
    for (const unsigned char *c = (const unsigned char *)text; *c && len < cap; c++) {
        const char *short_escape = *c == '"'    ? "\\\""
                                   : *c == '\\' ? "\\\\"
                                   : *c == '\b' ? "\\b"
                                   : *c == '\f' ? "\\f"
                                   : *c == '\n' ? "\\n"
                                   : *c == '\r' ? "\\r"
                                   : *c == '\t' ? "\\t"
                                                : NULL;
        char escape[7] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15], '\0'};
        const char *piece = short_escape ? short_escape : *c < 0x20 ? escape : NULL;
        if (piece == NULL) {
            out[len++] = (char)*c;
            continue;
        }
        size_t n = strlen(piece);
        if (cap - len < n)
            return cap;
        memcpy(out + len, piece, n);
        len += n;
    }
    if (len >= cap - 1)
        return cap;
    out[len++] = '"';
    out[len] = '\0';
    return len;
}

/*
 * The issuance event's detail, the object {ca, not_after_ms, profile,
 * replaces (when renewing), subject} written with its keys sorted, exactly as
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS) would write it, without building
 * and serialising a JSON object per certificate.
 */
static rb_status issue_detail(const rb_issuer *issuer, const rb_issue_request *req,
                              const prepared *p, char *out, size_t cap, rb_error *err)
{
    size_t len = (size_t)snprintf(out, cap, "{\"ca\":");
    len = json_put_string(out, len, cap, rb_issuer_get0_authority(issuer)->name);
    if (len < cap)
        len += (size_t)snprintf(out + len, cap - len,
                                ",\"not_after_ms\":%lld,\"profile\":", (long long)p->not_after_ms);
    if (len < cap)
        len = json_put_string(out, len, cap, p->profile->name);
    if (len < cap && req->replaces) {
        len += (size_t)snprintf(out + len, cap - len, ",\"replaces\":");
        if (len < cap)
            len = json_put_string(out, len, cap, req->replaces);
    }
    if (len < cap)
        len += (size_t)snprintf(out + len, cap - len, ",\"subject\":");
    if (len < cap)
        len = json_put_string(out, len, cap, p->subject_text);
    if (len < cap)
        len += (size_t)snprintf(out + len, cap - len, "}");
    if (len >= cap)
        return rb_fail(err, RB_EINTERNAL, NULL, "the issuance event's detail is too long");
    return RB_OK;
}

static rb_status record_one(rb_ctx *ctx, rb_issuer *issuer, const rb_issue_request *req,
                            prepared *p, rb_error *err)
{
    char *fields = json_dumps(p->subject.fields, JSON_COMPACT | JSON_SORT_KEYS);
    rb_stmt *stmt;
    rb_status s = rb_store_prepare(
        ctx->store,
        "INSERT INTO certificates (serial, issuer, profile, subject, subject_id, spki_sha256, "
        "fields, not_before_ms, not_after_ms, issued_ms, status, replaces, publish, der) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'valid', $11, $12, $13)",
        &stmt, err);
    if (s == RB_OK && fields == NULL)
        s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, p->serial);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, rb_issuer_get0_authority(issuer)->name);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 3, p->profile->name);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 4, p->subject_text);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 5, p->subject.subject_id[0] ? p->subject.subject_id : NULL);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 6, p->spki);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 7, fields);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 8, p->not_before_ms);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 9, p->not_after_ms);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 10, rb_ctx_now_ms(ctx));
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 11, req->replaces);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 12, req->publish ? 1 : 0);
    if (s == RB_OK)
        s = rb_stmt_bind_blob(stmt, 13, p->der, p->der_len);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    free(fields);
    if (s != RB_OK)
        return s;
    /* Six times the subject: every character of it could need a \u00XX escape. */
    char detail[6 * sizeof(p->subject_text) + 1024];
    s = issue_detail(issuer, req, p, detail, sizeof(detail), err);
    if (s == RB_OK)
        s = rb_ca_record_event_text(ctx, p->serial, "issue", detail, err);
    if (s == RB_OK && req->supersede && req->replaces)
        s = rb_ca_supersede_in_transaction(ctx, req->replaces, err);
    return s;
}

/*
 * Requests are read and their signatures checked first, outside the
 * transaction (no store access). Then, inside it, each one in turn is checked
 * against the store, signed and recorded, so that the one-key-one-subject
 * check also sees the certificates issued earlier in the same batch, and no
 * certificate is signed before its checks have passed.
 */
rb_status rb_ca_issue(rb_ctx *ctx, rb_issuer *issuer, const rb_issue_request *requests, size_t n,
                      rb_issued *out, rb_error *err)
{
    prepared *work = rb_issuer_scratch(issuer, (n ? n : 1) * sizeof(*work));
    if (work == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    rb_csr_reader *reader = rb_issuer_get0_csr_reader(issuer);
    rb_status s = RB_OK;
    size_t i, failed = 0; /* 1 + the index of the request that failed */
    for (i = 0; s == RB_OK && i < n; i++)
        s = rb_csr_read(reader, requests[i].csr, requests[i].csr_len, &work[i].csr, err);
    if (s != RB_OK)
        failed = i;
    if (s == RB_OK)
        s = rb_store_begin(ctx->store, err);
    for (i = 0; s == RB_OK && i < n; i++) {
        const rb_issue_request *req = &requests[i];
        s = prepare_key(ctx, issuer, req->profile, req->fields, req->days,
                        rb_csr_get0_key_facts(work[i].csr), rb_csr_get0_spki(work[i].csr), &work[i],
                        err);
        if (s == RB_OK)
            s = record_one(ctx, issuer, req, &work[i], err);
        if (s != RB_OK)
            failed = i + 1;
    }
    if (s == RB_OK)
        s = rb_store_commit(ctx->store, err);
    else
        rb_store_rollback(ctx->store);
    if (s != RB_OK && n > 1 && failed > 0) {
        char again[sizeof(err->message)];
        snprintf(again, sizeof(again), "request %zu: %.480s", failed, err->message);
        snprintf(err->message, sizeof(err->message), "%s", again);
    }
    for (i = 0; i < n; i++) {
        if (s == RB_OK) {
            memcpy(out[i].serial, work[i].serial, sizeof(out[i].serial));
            out[i].cert = work[i].cert;
            work[i].cert = NULL;
        }
        prepared_clear(&work[i]);
    }
    return s;
}

rb_status rb_ca_issue_own(rb_ctx *ctx, rb_issuer *issuer, const char *profile, json_t *fields,
                          EVP_PKEY *key, rb_issued *out, rb_error *err)
{
    prepared work;
    memset(&work, 0, sizeof(work));
    rb_issue_request request = {.profile = profile, .fields = fields};
    X509_PUBKEY *spki = NULL;
    rb_key_facts facts;
    rb_key_facts_of(key, &facts);
    rb_status s = X509_PUBKEY_set(&spki, key) == 1
                      ? RB_OK
                      : rb_fail_crypto(err, "cannot encode the public key");
    if (s == RB_OK)
        s = prepare_key(ctx, issuer, profile, fields, 0, &facts, spki, &work, err);
    X509_PUBKEY_free(spki);
    if (s == RB_OK)
        s = record_one(ctx, issuer, &request, &work, err);
    if (s == RB_OK) {
        memcpy(out->serial, work.serial, sizeof(out->serial));
        out->cert = work.cert;
        work.cert = NULL;
    }
    prepared_clear(&work);
    return s;
}
