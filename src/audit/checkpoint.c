/*
 * Signed checkpoints of the audit log (see checkpoint.h): a time-stamp
 * request over the chain head's hash goes to the provider's TSA like any
 * client's, the token is stored beside the record it fixes, and
 * verification checks the token with OpenSSL's RFC 3161 verifier against
 * the TSA's chain in the store, at the token's own time.
 */
#include "audit/checkpoint.h"

#include "ca/ca.h"
#include "core/clock.h"
#include "pki/x509util.h"
#include "store/store.h"

#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECKPOINT_COLUMNS "seq, head_hash, at_ms, signer, signature"
#define CHECKPOINT_ACTION  "audit.checkpoint"
/* A token is a few kilobytes (the TSA certificate is in it); anything far larger is not one. */
#define CHECKPOINT_MAX_TOKEN 65536

void rb_audit_checkpoint_clear(rb_audit_checkpoint *cp)
{
    free(cp->token);
    memset(cp, 0, sizeof(*cp));
}

/* Fills cp from a row of CHECKPOINT_COLUMNS. */
static rb_status read_checkpoint(rb_stmt *stmt, rb_audit_checkpoint *cp, rb_error *err)
{
    size_t len = 0;
    const uint8_t *hash = rb_stmt_blob(stmt, 1, &len);
    memset(cp, 0, sizeof(*cp));
    cp->seq = rb_stmt_int64(stmt, 0);
    if (hash != NULL && len == RB_AUDIT_HASH_LEN)
        memcpy(cp->head_hash, hash, len);
    cp->at_ms = rb_stmt_int64(stmt, 2);
    snprintf(cp->signer, sizeof(cp->signer), "%s", rb_stmt_text(stmt, 3));
    const uint8_t *token = rb_stmt_blob(stmt, 4, &len);
    cp->token = malloc(len ? len : 1);
    if (cp->token == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (len > 0)
        memcpy(cp->token, token, len);
    cp->token_len = len;
    return RB_OK;
}

rb_status rb_audit_checkpoint_list(rb_ctx *ctx, int (*fn)(const rb_audit_checkpoint *cp, void *arg),
                                   void *arg, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0, stop = 0;
    rb_status s = rb_store_prepare(
        ctx->store, "SELECT " CHECKPOINT_COLUMNS " FROM audit_checkpoint ORDER BY seq", &stmt, err);
    while (s == RB_OK && !stop && (s = rb_stmt_step(stmt, &has_row, err)) == RB_OK && has_row) {
        rb_audit_checkpoint cp;
        s = read_checkpoint(stmt, &cp, err);
        if (s == RB_OK)
            stop = fn(&cp, arg);
        rb_audit_checkpoint_clear(&cp);
    }
    rb_stmt_reset(stmt);
    return s;
}

/*
 * The newest record's seq and hash, and the newest checkpoint's seq and time
 * (0 when none). *news is 0 when nothing was logged since that checkpoint
 * but its own audit.checkpoint record.
 */
static rb_status read_heads(rb_ctx *ctx, int64_t *head_seq, uint8_t head_hash[RB_AUDIT_HASH_LEN],
                            int64_t *checkpoint_seq, int64_t *checkpoint_ms, int *news,
                            rb_error *err)
{
    rb_stmt *stmt;
    int has_row = 0, head_is_checkpoint = 0;
    size_t len = 0;
    *head_seq = *checkpoint_seq = *checkpoint_ms = 0;
    rb_status s = rb_store_prepare(
        ctx->store, "SELECT seq, hash, action FROM audit_log ORDER BY seq DESC LIMIT 1", &stmt,
        err);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s == RB_OK && has_row) {
        const uint8_t *hash = rb_stmt_blob(stmt, 1, &len);
        *head_seq = rb_stmt_int64(stmt, 0);
        head_is_checkpoint = strcmp(rb_stmt_text(stmt, 2), CHECKPOINT_ACTION) == 0;
        if (hash == NULL || len != RB_AUDIT_HASH_LEN)
            s = rb_fail(err, RB_ESTORE, NULL, "audit record %lld has no valid hash",
                        (long long)*head_seq);
        else
            memcpy(head_hash, hash, len);
    }
    if (s == RB_OK)
        rb_stmt_reset(stmt);
    if (s == RB_OK)
        s = rb_store_prepare(ctx->store,
                             "SELECT seq, at_ms FROM audit_checkpoint ORDER BY seq DESC LIMIT 1",
                             &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s == RB_OK && has_row) {
        *checkpoint_seq = rb_stmt_int64(stmt, 0);
        *checkpoint_ms = rb_stmt_int64(stmt, 1);
    }
    if (s == RB_OK)
        rb_stmt_reset(stmt);
    *news = *head_seq > *checkpoint_seq + (head_is_checkpoint ? 1 : 0);
    return s;
}

/* A DER TimeStampReq for a SHA-256 hash, with a fresh nonce, asking for the TSA certificate. */
static rb_status build_request(const uint8_t hash[RB_AUDIT_HASH_LEN], uint8_t **der, int *der_len,
                               rb_error *err)
{
    TS_REQ *req = TS_REQ_new();
    TS_MSG_IMPRINT *imprint = TS_MSG_IMPRINT_new();
    X509_ALGOR *algorithm = X509_ALGOR_new();
    ASN1_INTEGER *nonce = NULL;
    unsigned char nonce_bytes[8];
    BIGNUM *bn = NULL;
    int ok = req && imprint && algorithm && RAND_bytes(nonce_bytes, sizeof(nonce_bytes)) == 1 &&
             (bn = BN_bin2bn(nonce_bytes, sizeof(nonce_bytes), NULL)) != NULL &&
             (nonce = BN_to_ASN1_INTEGER(bn, NULL)) != NULL && TS_REQ_set_version(req, 1) &&
             X509_ALGOR_set0(algorithm, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) &&
             TS_MSG_IMPRINT_set_algo(imprint, algorithm) &&
             TS_MSG_IMPRINT_set_msg(imprint, (unsigned char *)hash, RB_AUDIT_HASH_LEN) &&
             TS_REQ_set_msg_imprint(req, imprint) && TS_REQ_set_nonce(req, nonce) &&
             TS_REQ_set_cert_req(req, 1);
    *der = NULL;
    *der_len = ok ? i2d_TS_REQ(req, der) : -1;
    BN_free(bn);
    ASN1_INTEGER_free(nonce);
    X509_ALGOR_free(algorithm);
    TS_MSG_IMPRINT_free(imprint);
    TS_REQ_free(req);
    return *der_len > 0 ? RB_OK : rb_fail_crypto(err, "cannot build the checkpoint's request");
}

/* The token of a granted DER TimeStampResp, as malloc'd DER, and its genTime. */
static rb_status token_of(const uint8_t *resp_der, size_t resp_len, uint8_t **token,
                          size_t *token_len, int64_t *gen_time_ms, rb_error *err)
{
    const unsigned char *p = resp_der;
    TS_RESP *resp = d2i_TS_RESP(NULL, &p, (long)resp_len);
    long status =
        resp ? ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp))) : -1;
    PKCS7 *p7 = resp && (status == 0 || status == 1) ? TS_RESP_get_token(resp) : NULL;
    TS_TST_INFO *info = p7 ? TS_RESP_get_tst_info(resp) : NULL;
    unsigned char *der = NULL;
    int len = info ? i2d_PKCS7(p7, &der) : -1;
    rb_status s = RB_OK;
    if (len <= 0 || (*token = malloc((size_t)len)) == NULL) {
        s = rb_fail(err, RB_EINTERNAL, NULL, "the TSA did not grant the checkpoint's time-stamp");
    } else {
        memcpy(*token, der, (size_t)len);
        *token_len = (size_t)len;
        *gen_time_ms = rb_asn1_time_ms(TS_TST_INFO_get_time(info));
    }
    OPENSSL_free(der);
    TS_RESP_free(resp);
    return s;
}

static rb_status store_checkpoint(rb_ctx *ctx, const rb_audit_checkpoint *cp, rb_error *err)
{
    rb_stmt *stmt;
    char head[2 * RB_AUDIT_HASH_LEN + 1], object[48];
    rb_audit_hash_hex(cp->head_hash, head);
    snprintf(object, sizeof(object), "audit:%lld", (long long)cp->seq);
    json_t *detail = json_pack("{s:s,s:I,s:s,s:I}", "head", head, "seq", (json_int_t)cp->seq, "tsa",
                               cp->signer, "token_bytes", (json_int_t)cp->token_len);
    rb_status s =
        detail ? rb_store_begin(ctx->store, err) : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (s == RB_OK)
        s = rb_store_prepare(ctx->store,
                             "INSERT INTO audit_checkpoint (" CHECKPOINT_COLUMNS
                             ") VALUES ($1, $2, $3, $4, $5)",
                             &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 1, cp->seq);
    if (s == RB_OK)
        s = rb_stmt_bind_blob(stmt, 2, cp->head_hash, RB_AUDIT_HASH_LEN);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 3, cp->at_ms);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 4, cp->signer);
    if (s == RB_OK)
        s = rb_stmt_bind_blob(stmt, 5, cp->token, cp->token_len);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    if (s == RB_OK)
        s = rb_audit_append(ctx, CHECKPOINT_ACTION, object, detail, NULL, err);
    if (s == RB_OK)
        s = rb_store_commit(ctx->store, err);
    else if (detail != NULL)
        rb_store_rollback(ctx->store);
    json_decref(detail);
    return s;
}

rb_status rb_audit_checkpoint_make(rb_ctx *ctx, rb_tsa *tsa, int *made, rb_audit_checkpoint *out,
                                   rb_error *err)
{
    rb_audit_checkpoint cp;
    int64_t last_seq = 0, last_ms = 0;
    uint8_t *req = NULL, *resp = NULL;
    size_t resp_len = 0;
    int req_len = 0, news = 0;
    const char *signer = rb_tsa_get0_authority_name(tsa);
    memset(&cp, 0, sizeof(cp));
    *made = 0;
    if (signer == NULL)
        return rb_fail(err, RB_EINVAL, NULL, "checkpoints need the TSA loaded from the store");
    rb_status s = read_heads(ctx, &cp.seq, cp.head_hash, &last_seq, &last_ms, &news, err);
    if (s != RB_OK || !news)
        return s; /* an empty log, or nothing new since the last checkpoint */
    snprintf(cp.signer, sizeof(cp.signer), "%s", signer);
    s = build_request(cp.head_hash, &req, &req_len, err);
    if (s == RB_OK)
        s = rb_tsa_respond(tsa, ctx, req, (size_t)req_len, &resp, &resp_len, err);
    if (s == RB_OK)
        s = token_of(resp, resp_len, &cp.token, &cp.token_len, &cp.at_ms, err);
    if (s == RB_OK)
        s = store_checkpoint(ctx, &cp, err);
    OPENSSL_free(req);
    free(resp);
    *made = s == RB_OK;
    if (s == RB_ECONFLICT)
        s = RB_OK; /* another process fixed the same record first: its checkpoint stands */
    if (*made && out != NULL)
        *out = cp;
    else
        rb_audit_checkpoint_clear(&cp);
    return s;
}

rb_status rb_audit_checkpoint_if_due(rb_ctx *ctx, rb_tsa *tsa, int64_t interval_ms, int *made,
                                     rb_error *err)
{
    int64_t head_seq = 0, last_seq = 0, last_ms = 0;
    uint8_t head_hash[RB_AUDIT_HASH_LEN];
    int news = 0;
    *made = 0;
    rb_status s = read_heads(ctx, &head_seq, head_hash, &last_seq, &last_ms, &news, err);
    if (s != RB_OK || !news || (last_seq != 0 && rb_ctx_now_ms(ctx) - last_ms < interval_ms))
        return s;
    return rb_audit_checkpoint_make(ctx, tsa, made, NULL, err);
}

/* What a token is checked against: the trusted certificates, the others, who may sign. */
typedef struct token_trust {
    X509_STORE *store;
    STACK_OF(X509) *untrusted;
    STACK_OF(X509) *signers;
} token_trust;

static void token_trust_clear(token_trust *t)
{
    X509_STORE_free(t->store);
    sk_X509_pop_free(t->untrusted, X509_free);
    sk_X509_pop_free(t->signers, X509_free);
    memset(t, 0, sizeof(*t));
}

/* certs, each with a reference of its own, in a new stack. */
static STACK_OF(X509) *copy_certs(const STACK_OF(X509) *certs)
{
    STACK_OF(X509) *copy = sk_X509_new_null();
    for (int i = 0; copy != NULL && i < sk_X509_num(certs); i++) {
        X509 *cert = sk_X509_value(certs, i);
        if (!sk_X509_push(copy, cert)) {
            sk_X509_pop_free(copy, X509_free);
            return NULL;
        }
        X509_up_ref(cert);
    }
    return copy;
}

/*
 * From the store: the TSA authority named signer may sign, and its chain
 * ends in the store's root. Whoever can write the store can also change
 * these; pinned certificates do not have that weakness.
 */
static rb_status trust_from_store(rb_ctx *ctx, const char *signer, token_trust *t, rb_error *err)
{
    rb_authority *tsa = NULL;
    rb_status s = rb_authority_load(ctx, signer, RB_ROLE_TSA, 0, NULL, &tsa, err);
    if (s == RB_OK && tsa->role != RB_ROLE_TSA)
        s = rb_fail(err, RB_EINVAL, NULL, "'%s' is not a time-stamping authority", signer);
    if (s == RB_OK)
        s = rb_authority_chain(ctx, tsa, &t->untrusted, err);
    X509 *root = s == RB_OK ? sk_X509_pop(t->untrusted) : NULL;
    if (s == RB_OK &&
        ((t->store = X509_STORE_new()) == NULL || root == NULL ||
         X509_STORE_add_cert(t->store, root) != 1 || (t->signers = sk_X509_new_null()) == NULL ||
         !sk_X509_push(t->signers, tsa->cert)))
        s = rb_fail_crypto(err, "cannot load the TSA's chain");
    else if (s == RB_OK)
        X509_up_ref(tsa->cert);
    X509_free(root);
    rb_authority_free(tsa);
    return s;
}

/* Pinned: only these certificates may sign, and they are the trust anchors themselves. */
static rb_status trust_pinned(const STACK_OF(X509) *tsa_certs, token_trust *t, rb_error *err)
{
    t->store = X509_STORE_new();
    t->signers = copy_certs(tsa_certs);
    for (int i = 0; t->store != NULL && i < sk_X509_num(tsa_certs); i++)
        if (X509_STORE_add_cert(t->store, sk_X509_value(tsa_certs, i)) != 1)
            return rb_fail_crypto(err, "cannot load the given TSA certificates");
    if (t->store == NULL || t->signers == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    X509_STORE_set_flags(t->store, X509_V_FLAG_PARTIAL_CHAIN);
    return RB_OK;
}

/* Whether the token was signed with one of the allowed certificates, not just any TSA's. */
static int signed_by_one_of(PKCS7 *p7, STACK_OF(X509) *allowed)
{
    STACK_OF(X509) *signers = PKCS7_get0_signers(p7, allowed, 0);
    int ok = sk_X509_num(signers) == 1;
    X509 *signer = ok ? sk_X509_value(signers, 0) : NULL;
    sk_X509_free(signers);
    for (int i = 0; signer != NULL && i < sk_X509_num(allowed); i++)
        if (X509_cmp(signer, sk_X509_value(allowed, i)) == 0)
            return 1;
    return 0;
}

rb_status rb_audit_checkpoint_check_token(rb_ctx *ctx, const char *signer,
                                          const STACK_OF(X509) *tsa_certs, const uint8_t *token,
                                          size_t token_len,
                                          const uint8_t head_hash[RB_AUDIT_HASH_LEN],
                                          int64_t *gen_time_ms, rb_error *err)
{
    const unsigned char *p = token;
    PKCS7 *p7 = token_len <= CHECKPOINT_MAX_TOKEN ? d2i_PKCS7(NULL, &p, (long)token_len) : NULL;
    TS_TST_INFO *info = p7 && p == token + token_len ? PKCS7_to_TS_TST_INFO(p7) : NULL;
    if (info == NULL) {
        PKCS7_free(p7);
        return rb_fail_crypto(err, "the checkpoint's token is not an RFC 3161 time-stamp token");
    }
    const X509_ALGOR *algorithm = TS_MSG_IMPRINT_get_algo(TS_TST_INFO_get_msg_imprint(info));
    int64_t at_ms = rb_asn1_time_ms(TS_TST_INFO_get_time(info));
    token_trust trust = {0};
    rb_status s = OBJ_obj2nid(algorithm->algorithm) != NID_sha256
                      ? rb_fail(err, RB_EINVAL, "RFC 3161", "the token's imprint is not SHA-256")
                  : tsa_certs ? trust_pinned(tsa_certs, &trust, err)
                              : trust_from_store(ctx, signer, &trust, err);
    TS_VERIFY_CTX *verify = s == RB_OK ? TS_VERIFY_CTX_new() : NULL;
    unsigned char *imprint = verify ? OPENSSL_memdup(head_hash, RB_AUDIT_HASH_LEN) : NULL;
    if (s == RB_OK && imprint == NULL) {
        s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    } else if (s == RB_OK) {
        X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(trust.store), (time_t)(at_ms / 1000));
        /* The context takes the imprint, the store and the untrusted certificates. */
        TS_VERIFY_CTX_set_flags(verify, TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_IMPRINT);
        TS_VERIFY_CTX_set_imprint(verify, imprint, RB_AUDIT_HASH_LEN);
        TS_VERIFY_CTX_set_store(verify, trust.store);
        TS_VERIFY_CTS_set_certs(verify, trust.untrusted);
        trust.store = NULL;
        trust.untrusted = NULL;
        if (TS_RESP_verify_token(verify, p7) != 1)
            s = rb_fail_crypto(err, "the checkpoint's time-stamp token does not verify");
        else if (!signed_by_one_of(p7, trust.signers))
            s = rb_fail(err, RB_EINVAL, NULL, "the checkpoint's token was not signed by %s%s%s",
                        tsa_certs ? "one of the given TSA certificates" : "the TSA '",
                        tsa_certs ? "" : signer, tsa_certs ? "" : "'");
    }
    if (s == RB_OK && gen_time_ms != NULL)
        *gen_time_ms = at_ms;
    TS_VERIFY_CTX_free(verify);
    token_trust_clear(&trust);
    TS_TST_INFO_free(info);
    PKCS7_free(p7);
    return s;
}

static void set_problem(rb_audit_report *out, rb_audit_problem problem, int64_t seq,
                        const char *fmt, ...) RB_PRINTF(4, 5);

static void set_problem(rb_audit_report *out, rb_audit_problem problem, int64_t seq,
                        const char *fmt, ...)
{
    va_list ap;
    out->problem = problem;
    out->bad_seq = seq;
    out->other_seq = -1;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
}

/* The stored hash of record seq; *found is 0 when there is no such record. */
static rb_status record_hash(rb_ctx *ctx, int64_t seq, uint8_t hash[RB_AUDIT_HASH_LEN], int *found,
                             rb_error *err)
{
    rb_stmt *stmt;
    size_t len = 0;
    rb_status s =
        rb_store_prepare(ctx->store, "SELECT hash FROM audit_log WHERE seq = $1", &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 1, seq);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, found, err);
    if (s == RB_OK && *found) {
        const uint8_t *stored = rb_stmt_blob(stmt, 0, &len);
        memset(hash, 0, RB_AUDIT_HASH_LEN);
        if (stored != NULL && len == RB_AUDIT_HASH_LEN)
            memcpy(hash, stored, len);
    }
    if (s == RB_OK)
        rb_stmt_reset(stmt);
    return s;
}

typedef struct checkpoint_walk {
    rb_ctx *ctx;
    const STACK_OF(X509) *tsa_certs;
    rb_audit_report *report;
    rb_status status;
    rb_error *err;
} checkpoint_walk;

/* Checks one checkpoint against its token and the verified chain; non-zero stops the walk. */
static int check_one(const rb_audit_checkpoint *cp, void *arg)
{
    checkpoint_walk *w = arg;
    rb_audit_report *r = w->report;
    rb_error why = {0};
    char when[RB_TIME_TEXT_LEN];
    uint8_t hash[RB_AUDIT_HASH_LEN];
    int found = 0;
    rb_time_format(cp->at_ms, when, sizeof(when));
    if (rb_audit_checkpoint_check_token(w->ctx, cp->signer, w->tsa_certs, cp->token, cp->token_len,
                                        cp->head_hash, NULL, &why) != RB_OK) {
        set_problem(r, RB_AUDIT_BAD_CHECKPOINT, cp->seq, "the checkpoint of %s: %s", when,
                    why.message);
        return 1;
    }
    if (cp->seq > r->head_seq) {
        set_problem(r, RB_AUDIT_TRUNCATED, cp->seq,
                    "the log ends at record %lld, but a checkpoint signed at %s fixed record %lld:"
                    " records were removed from its end",
                    (long long)r->head_seq, when, (long long)cp->seq);
        return 1;
    }
    w->status = record_hash(w->ctx, cp->seq, hash, &found, w->err);
    if (w->status != RB_OK)
        return 1;
    if (!found || memcmp(hash, cp->head_hash, RB_AUDIT_HASH_LEN) != 0) {
        set_problem(r, RB_AUDIT_REWRITTEN, cp->seq,
                    "its hash is not the one the checkpoint signed at %s fixed: the log up to"
                    " this record was rewritten",
                    when);
        return 1;
    }
    r->checkpoints++;
    r->checkpoint_seq = cp->seq;
    r->checkpoint_ms = cp->at_ms;
    return 0;
}

rb_status rb_audit_verify_with_checkpoints(rb_ctx *ctx, const STACK_OF(X509) *tsa_certs,
                                           rb_audit_report *out, rb_error *err)
{
    rb_status s = rb_audit_verify(ctx, out, err);
    if (s != RB_OK || out->problem != RB_AUDIT_OK)
        return s;
    checkpoint_walk walk = {
        .ctx = ctx, .tsa_certs = tsa_certs, .report = out, .status = RB_OK, .err = err};
    s = rb_audit_checkpoint_list(ctx, check_one, &walk, err);
    return s != RB_OK ? s : walk.status;
}
