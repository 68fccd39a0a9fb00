/*
 * Pre-signing: walks the unexpired certificates of each served CA whose
 * stored answer is missing or close to its nextUpdate, signs outside any
 * transaction, and stores each batch in one short transaction, so the write
 * lock is held for inserts only and a lifecycle change is never kept waiting
 * behind signatures.
 */
#include "ocsp/internal.h"

#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#define PRESIGN_BATCH 128

typedef struct presign_item {
    char serial[41];
    ocsp_cert_state state;
    uint8_t *der;
    size_t len;
} presign_item;

/* The next batch of certificates after serial `after` that need an answer. */
static rb_status select_batch(rb_ctx *ctx, const ocsp_issuer *issuer, const char *after,
                              int64_t now, int64_t refresh_before, presign_item *items,
                              size_t *count, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    *count = 0;
    rb_status s = rb_store_prepare(
        ctx->store,
        "SELECT c.serial, " OCSP_STATE_COLUMNS(
            "c.",
            "$3") " FROM certificates c "
                  "LEFT JOIN ocsp_responses r ON r.serial = c.serial "
                  "WHERE c.issuer = $1 AND c.serial > $2 AND c.not_after_ms > $3 "
                  "AND (r.serial IS NULL OR r.next_update_ms <= $4) ORDER BY c.serial LIMIT 128",
        &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, issuer->name);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, after);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 3, now);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 4, refresh_before);
    while (s == RB_OK && *count < PRESIGN_BATCH) {
        s = rb_stmt_step(stmt, &has_row, err);
        if (s != RB_OK || !has_row)
            break;
        presign_item *it = &items[(*count)++];
        memset(it, 0, sizeof(*it));
        snprintf(it->serial, sizeof(it->serial), "%s", rb_stmt_text(stmt, 0));
        it->state.known = 1;
        snprintf(it->state.status, sizeof(it->state.status), "%s", rb_stmt_text(stmt, 1));
        it->state.revoked_ms = rb_stmt_int64(stmt, 2);
        it->state.reason = rb_stmt_int64(stmt, 3);
        it->state.invalidity_ms = rb_stmt_int64(stmt, 4);
        it->state.hold_until_ms = rb_stmt_int64(stmt, 5);
    }
    rb_stmt_reset(stmt);
    return s;
}

static rb_status store_batch(const rb_ocsp_responder *r, rb_ctx *ctx, const presign_item *items,
                             size_t count, int64_t now, size_t *stored_count, rb_error *err)
{
    rb_status s = rb_store_begin(ctx->store, err);
    size_t stored_here = 0;
    for (size_t i = 0; s == RB_OK && i < count; i++) {
        int stored = 0;
        s = ocsp_cache_put(ctx, items[i].serial, &items[i].state, now,
                           ocsp_next_update_ms(r, &items[i].state, now), items[i].der, items[i].len,
                           &stored, err);
        stored_here += (size_t)stored;
    }
    if (s == RB_OK)
        s = rb_store_commit(ctx->store, err);
    else
        rb_store_rollback(ctx->store);
    if (s == RB_OK)
        *stored_count += stored_here;
    return s;
}

static rb_status presign_issuer(const rb_ocsp_responder *r, rb_ctx *ctx, const ocsp_issuer *issuer,
                                int64_t refresh_ms, presign_item *items, size_t *stored,
                                rb_error *err)
{
    char after[41] = "";
    rb_status s = RB_OK;
    for (;;) {
        int64_t now = rb_ctx_now_ms(ctx);
        size_t count = 0;
        s = select_batch(ctx, issuer, after, now, now + refresh_ms, items, &count, err);
        if (s != RB_OK || count == 0)
            break;
        for (size_t i = 0; s == RB_OK && i < count; i++)
            s = ocsp_sign_single(r, issuer, items[i].serial, &items[i].state, now, &items[i].der,
                                 &items[i].len, err);
        if (s == RB_OK)
            s = store_batch(r, ctx, items, count, now, stored, err);
        for (size_t i = 0; i < count; i++)
            free(items[i].der);
        if (s != RB_OK)
            break;
        snprintf(after, sizeof(after), "%s", items[count - 1].serial);
    }
    return s;
}

rb_status rb_ocsp_presign_all(const rb_ocsp_responder *r, rb_ctx *ctx, int64_t refresh_ms,
                              size_t *signed_count, rb_error *err)
{
    if (rb_store_in_transaction(ctx->store))
        return rb_fail(err, RB_EINTERNAL, NULL, "rb_ocsp_presign_all runs its own transactions");
    presign_item *items = calloc(PRESIGN_BATCH, sizeof(*items));
    if (items == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (refresh_ms <= 0)
        refresh_ms = r->validity_ms / 2;
    size_t stored = 0;
    rb_status s = RB_OK;
    for (size_t i = 0; s == RB_OK && i < r->count; i++)
        s = presign_issuer(r, ctx, r->issuers[i], refresh_ms, items, &stored, err);
    free(items);
    if (s == RB_OK && signed_count != NULL)
        *signed_count = stored;
    return s;
}
