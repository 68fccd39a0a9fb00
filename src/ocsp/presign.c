/*
 * Pre-signing: walks the unexpired certificates of each served CA whose
 * stored answer is missing or close to its nextUpdate, signs outside any
 * transaction, and stores each batch in one short transaction, so the write
 * lock is held for inserts only and a lifecycle change is never kept waiting
 * behind signatures. A full walk reads every certificate; between full walks
 * only the certificates with new events and the answers falling due are read.
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

/*
 * Which certificates a walk visits, and where it resumes: every one in serial
 * order (a full pass), those with an event in (key, top_seq] in event
 * order, or those whose stored answer is due, in (nextUpdate, serial) order.
 */
typedef enum presign_walk { WALK_ALL, WALK_EVENTS, WALK_DUE } presign_walk;

typedef struct presign_position {
    presign_walk walk;
    int64_t key; /* the last event's audit_seq, or the last answer's nextUpdate */
    char serial[41];
    int64_t top_seq; /* WALK_EVENTS: the last event of the range */
} presign_position;

/* $1 issuer, $2 now, $3 refresh before; then the walk's own parameters. */
#define PRESIGN_STATE "c.serial, " OCSP_STATE_COLUMNS("c.", "$2")
#define PRESIGN_NEEDED                                                                             \
    "c.issuer = $1 AND c.not_after_ms > $2 AND (r.serial IS NULL OR r.next_update_ms <= $3)"

static const char *const walk_sql[] = {
    [WALK_ALL] = "SELECT 0, " PRESIGN_STATE " FROM certificates c "
                 "LEFT JOIN ocsp_responses r ON r.serial = c.serial "
                 "WHERE " PRESIGN_NEEDED " AND c.serial > $4 ORDER BY c.serial LIMIT 128",
    /* The serials of the events, not the event rows: a certificate issued and
     * revoked in the range is one answer. */
    [WALK_EVENTS] = "SELECT e.audit_seq, " PRESIGN_STATE " FROM cert_events e "
                    "JOIN certificates c ON c.serial = e.serial "
                    "LEFT JOIN ocsp_responses r ON r.serial = c.serial "
                    "WHERE e.audit_seq > $4 AND e.audit_seq <= $5 AND " PRESIGN_NEEDED
                    " ORDER BY e.audit_seq LIMIT 128",
    /* Migration 10's index (next_update_ms, serial) serves the range and the order. */
    [WALK_DUE] = "SELECT r.next_update_ms, " PRESIGN_STATE " FROM ocsp_responses r "
                 "JOIN certificates c ON c.serial = r.serial "
                 "WHERE r.next_update_ms <= $3 AND (r.next_update_ms, r.serial) > ($4, $5) "
                 "AND " PRESIGN_NEEDED " ORDER BY r.next_update_ms, r.serial LIMIT 128",
};

static rb_status bind_position(rb_stmt *stmt, const presign_position *at)
{
    switch (at->walk) {
    case WALK_ALL:
        return rb_stmt_bind_text(stmt, 4, at->serial);
    case WALK_EVENTS: {
        rb_status s = rb_stmt_bind_int64(stmt, 4, at->key);
        return s == RB_OK ? rb_stmt_bind_int64(stmt, 5, at->top_seq) : s;
    }
    case WALK_DUE: {
        rb_status s = rb_stmt_bind_int64(stmt, 4, at->key);
        return s == RB_OK ? rb_stmt_bind_text(stmt, 5, at->serial) : s;
    }
    }
    return RB_EINTERNAL;
}

/*
 * The next batch of certificates after *at that need an answer, each serial
 * once; *at moves past the rows read (*rows of them, 0 at the end).
 */
static rb_status select_batch(rb_ctx *ctx, const ocsp_issuer *issuer, presign_position *at,
                              int64_t now, int64_t refresh_before, presign_item *items,
                              size_t *count, size_t *rows, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    *count = 0;
    *rows = 0;
    rb_status s = rb_store_prepare(ctx->store, walk_sql[at->walk], &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, issuer->name);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 2, now);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 3, refresh_before);
    if (s == RB_OK)
        s = bind_position(stmt, at);
    while (s == RB_OK && *rows < PRESIGN_BATCH) {
        s = rb_stmt_step(stmt, &has_row, err);
        if (s != RB_OK || !has_row)
            break;
        (*rows)++;
        at->key = rb_stmt_int64(stmt, 0);
        snprintf(at->serial, sizeof(at->serial), "%s", rb_stmt_text(stmt, 1));
        size_t seen = 0;
        while (seen < *count && strcmp(items[seen].serial, at->serial) != 0)
            seen++;
        if (seen < *count)
            continue;
        presign_item *it = &items[(*count)++];
        memset(it, 0, sizeof(*it));
        snprintf(it->serial, sizeof(it->serial), "%s", at->serial);
        it->state.known = 1;
        snprintf(it->state.status, sizeof(it->state.status), "%s", rb_stmt_text(stmt, 2));
        it->state.revoked_ms = rb_stmt_int64(stmt, 3);
        it->state.reason = rb_stmt_int64(stmt, 4);
        it->state.invalidity_ms = rb_stmt_int64(stmt, 5);
        it->state.hold_until_ms = rb_stmt_int64(stmt, 6);
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

static rb_status presign_walk_issuer(const rb_ocsp_responder *r, rb_ctx *ctx,
                                     const ocsp_issuer *issuer, presign_position at,
                                     int64_t refresh_ms, presign_item *items, size_t *stored,
                                     rb_error *err)
{
    rb_status s = RB_OK;
    for (;;) {
        int64_t now = rb_ctx_now_ms(ctx);
        size_t count = 0, rows = 0;
        s = select_batch(ctx, issuer, &at, now, now + refresh_ms, items, &count, &rows, err);
        if (s != RB_OK || rows == 0)
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
    }
    return s;
}

/* Runs the walks of every served CA; *stored counts the answers kept. */
static rb_status presign_walks(const rb_ocsp_responder *r, rb_ctx *ctx, int64_t refresh_ms,
                               const presign_position *walks, size_t walk_count, size_t *stored,
                               rb_error *err)
{
    if (rb_store_in_transaction(ctx->store))
        return rb_fail(err, RB_EINTERNAL, NULL, "OCSP pre-signing runs its own transactions");
    presign_item *items = calloc(PRESIGN_BATCH, sizeof(*items));
    if (items == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (refresh_ms <= 0)
        refresh_ms = r->validity_ms / 2;
    rb_status s = RB_OK;
    for (size_t i = 0; s == RB_OK && i < r->count; i++)
        for (size_t w = 0; s == RB_OK && w < walk_count; w++)
            s = presign_walk_issuer(r, ctx, r->issuers[i], walks[w], refresh_ms, items, stored,
                                    err);
    free(items);
    return s;
}

/* The highest audit_seq of cert_events, 0 when there is none. */
static rb_status last_event_seq(rb_ctx *ctx, int64_t *seq, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    rb_status s =
        rb_store_prepare(ctx->store, "SELECT max(audit_seq) FROM cert_events", &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    *seq = s == RB_OK && has_row && !rb_stmt_is_null(stmt, 0) ? rb_stmt_int64(stmt, 0) : 0;
    if (stmt != NULL)
        rb_stmt_reset(stmt);
    return s;
}

rb_status rb_ocsp_presign_all(const rb_ocsp_responder *r, rb_ctx *ctx, int64_t refresh_ms,
                              size_t *signed_count, rb_error *err)
{
    presign_position all = {.walk = WALK_ALL};
    size_t stored = 0;
    rb_status s = presign_walks(r, ctx, refresh_ms, &all, 1, &stored, err);
    if (s == RB_OK && signed_count != NULL)
        *signed_count = stored;
    return s;
}

/*
 * Deletes the answers past their nextUpdate whose certificate has expired:
 * no walk signs them again and none is served, but the walk of answers
 * falling due would read them on every pass. The range comes from the due
 * index, so this reads only stale answers.
 */
static rb_status drop_expired_answers(rb_ctx *ctx, rb_error *err)
{
    rb_stmt *stmt = NULL;
    rb_status s = rb_store_begin(ctx->store, err);
    if (s == RB_OK)
        s = rb_store_prepare(ctx->store,
                             "DELETE FROM ocsp_responses WHERE next_update_ms <= $1 AND EXISTS "
                             "(SELECT 1 FROM certificates c WHERE c.serial = ocsp_responses.serial "
                             "AND c.not_after_ms <= $1)",
                             &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 1, rb_ctx_now_ms(ctx));
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    if (s == RB_OK)
        return rb_store_commit(ctx->store, err);
    rb_store_rollback(ctx->store);
    return s;
}

rb_status rb_ocsp_presign_since(const rb_ocsp_responder *r, rb_ctx *ctx, int64_t refresh_ms,
                                rb_ocsp_presign_cursor *cursor, size_t *signed_count, rb_error *err)
{
    int64_t started = rb_ctx_now_ms(ctx), top = 0;
    int full = cursor->full_pass_ms == 0 || started - cursor->full_pass_ms >= RB_OCSP_FULL_PASS_MS;
    /* Read first: an event committed while the walks run is taken next time. */
    rb_status s = last_event_seq(ctx, &top, err);
    const presign_position changes[] = {
        {.walk = WALK_EVENTS, .key = cursor->seen_seq, .top_seq = top},
        {.walk = WALK_DUE, .key = -1}};
    const presign_position all = {.walk = WALK_ALL};
    size_t stored = 0;
    if (s == RB_OK)
        s = presign_walks(r, ctx, refresh_ms, full ? &all : changes, full ? 1 : 2, &stored, err);
    if (s == RB_OK)
        s = drop_expired_answers(ctx, err);
    if (s != RB_OK)
        return s;
    cursor->seen_seq = top;
    if (full)
        cursor->full_pass_ms = started;
    if (signed_count != NULL)
        *signed_count = stored;
    return RB_OK;
}
