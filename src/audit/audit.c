/*
 * Appending to the audit log. The record hash is SHA-256 over a
 * length-prefixed encoding of (time, actor, action, object, detail,
 * previous hash); the first record's previous hash is all zeros.
 */
#include "audit/audit.h"

#include "store/store.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static void hash_field(EVP_MD_CTX *md, const void *data, size_t len)
{
    uint8_t prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    EVP_DigestUpdate(md, prefix, sizeof(prefix));
    EVP_DigestUpdate(md, data, len);
}

void rb_audit_record_hash(const rb_audit_record *rec, uint8_t out[RB_AUDIT_HASH_LEN])
{
    uint8_t when[8];
    for (int i = 0; i < 8; i++)
        when[i] = (uint8_t)((uint64_t)rec->at_ms >> (56 - 8 * i));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int len = RB_AUDIT_HASH_LEN;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    hash_field(md, "rubrica-audit-v1", 16);
    hash_field(md, when, sizeof(when));
    hash_field(md, rec->actor, strlen(rec->actor));
    hash_field(md, rec->action, strlen(rec->action));
    hash_field(md, rec->object, strlen(rec->object));
    hash_field(md, rec->detail, strlen(rec->detail));
    hash_field(md, rec->prev_hash, RB_AUDIT_HASH_LEN);
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
}

void rb_audit_record_clear(rb_audit_record *rec)
{
    if (rec == NULL)
        return;
    free(rec->actor);
    free(rec->action);
    free(rec->object);
    free(rec->detail);
    rec->actor = rec->action = rec->object = rec->detail = NULL;
}

/*
 * The head this thread appended last, and the transaction it belongs to:
 * within one transaction (a batch of certificates) the head need not be read
 * back for every record. Only this file writes the log, and only inside a
 * transaction, which holds the write lock (SQLite) or the advisory lock taken
 * below (PostgreSQL) until it ends.
 */
static _Thread_local struct {
    uint64_t transaction;
    int64_t seq;
    uint8_t hash[RB_AUDIT_HASH_LEN];
} last_head;

/* Reads the chain head; an empty log has seq 0 and an all-zero hash. */
static rb_status read_head(rb_store *store, int64_t *seq, uint8_t hash[RB_AUDIT_HASH_LEN],
                           rb_error *err)
{
    rb_stmt *stmt;
    int has_row;
    rb_status status = RB_OK;
    if (last_head.transaction != 0 && last_head.transaction == rb_store_transaction_id(store)) {
        *seq = last_head.seq;
        memcpy(hash, last_head.hash, RB_AUDIT_HASH_LEN);
        return RB_OK;
    }
    if (rb_store_get_kind(store) == RB_STORE_POSTGRES)
        status = rb_store_exec(store, "SELECT pg_advisory_xact_lock(72617563)", err);
    if (status == RB_OK)
        status = rb_store_prepare(
            store, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", &stmt, err);
    if (status == RB_OK)
        status = rb_stmt_step(stmt, &has_row, err);
    if (status != RB_OK)
        return status;
    *seq = 0;
    memset(hash, 0, RB_AUDIT_HASH_LEN);
    if (has_row) {
        size_t len;
        const uint8_t *stored = rb_stmt_blob(stmt, 1, &len);
        *seq = rb_stmt_int64(stmt, 0);
        if (len == RB_AUDIT_HASH_LEN)
            memcpy(hash, stored, len);
    }
    rb_stmt_reset(stmt);
    return RB_OK;
}

char *rb_audit_detail_text(const json_t *detail, rb_error *err)
{
    char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
    if (text == NULL)
        rb_fail(err, RB_ENOMEM, NULL, "cannot encode audit detail");
    return text;
}

rb_status rb_audit_append(rb_ctx *ctx, const char *action, const char *object, json_t *detail,
                          int64_t *out_seq, rb_error *err)
{
    char *detail_text = rb_audit_detail_text(detail, err);
    if (detail_text == NULL)
        return RB_ENOMEM;
    rb_status status = rb_audit_append_text(ctx, action, object, detail_text, out_seq, err);
    free(detail_text);
    return status;
}

rb_status rb_audit_append_text(rb_ctx *ctx, const char *action, const char *object,
                               const char *detail_json, int64_t *out_seq, rb_error *err)
{
    if (!rb_store_in_transaction(ctx->store))
        return rb_fail(err, RB_EINTERNAL, NULL, "audit record '%s' written outside a transaction",
                       action);
    rb_audit_record rec = {.at_ms = rb_ctx_now_ms(ctx),
                           .actor = (char *)ctx->actor,
                           .action = (char *)action,
                           .object = (char *)object,
                           .detail = (char *)detail_json};
    int64_t head_seq;
    rb_status status = read_head(ctx->store, &head_seq, rec.prev_hash, err);
    rb_stmt *stmt = NULL;
    if (status == RB_OK) {
        rec.seq = head_seq + 1;
        rb_audit_record_hash(&rec, rec.hash);
        status =
            rb_store_prepare(ctx->store,
                             "INSERT INTO audit_log (seq, at_ms, actor, action, object, detail,"
                             " prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                             &stmt, err);
    }
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 1, rec.seq);
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 2, rec.at_ms);
    if (status == RB_OK)
        status = rb_stmt_bind_text(stmt, 3, rec.actor);
    if (status == RB_OK)
        status = rb_stmt_bind_text(stmt, 4, rec.action);
    if (status == RB_OK)
        status = rb_stmt_bind_text(stmt, 5, rec.object);
    if (status == RB_OK)
        status = rb_stmt_bind_text(stmt, 6, rec.detail);
    if (status == RB_OK)
        status = rb_stmt_bind_blob(stmt, 7, rec.prev_hash, RB_AUDIT_HASH_LEN);
    if (status == RB_OK)
        status = rb_stmt_bind_blob(stmt, 8, rec.hash, RB_AUDIT_HASH_LEN);
    if (status == RB_OK)
        status = rb_stmt_run(stmt, err);
    if (status == RB_OK) {
        last_head.transaction = rb_store_transaction_id(ctx->store);
        last_head.seq = rec.seq;
        memcpy(last_head.hash, rec.hash, RB_AUDIT_HASH_LEN);
    }
    if (status == RB_OK && out_seq != NULL)
        *out_seq = rec.seq;
    return status;
}
