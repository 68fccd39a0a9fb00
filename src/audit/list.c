/*
 * Listing the audit log with filters. The query is built from the filters in
 * use (so each shape is prepared once and can use the indexes) and read a
 * page at a time by seq; the caller's function runs between pages, with no
 * statement open, so it may use the store too.
 */
#include "audit/audit.h"

#include "store/store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_ROWS  256
#define MAX_PARAMS 10

/* A query under construction and the values of its parameters. */
typedef struct list_query {
    char sql[768];
    int nparams;
    int is_text[MAX_PARAMS];
    const char *text[MAX_PARAMS];
    int64_t number[MAX_PARAMS];
} list_query;

/* Append a condition whose %d becomes the new parameter's number. */
static void add_text(list_query *q, const char *condition, const char *value)
{
    size_t used = strlen(q->sql);
    q->is_text[q->nparams] = 1;
    q->text[q->nparams] = value;
    q->nparams++;
    snprintf(q->sql + used, sizeof(q->sql) - used, condition, q->nparams);
}

static void add_number(list_query *q, const char *condition, int64_t value)
{
    size_t used = strlen(q->sql);
    q->is_text[q->nparams] = 0;
    q->number[q->nparams] = value;
    q->nparams++;
    snprintf(q->sql + used, sizeof(q->sql) - used, condition, q->nparams);
}

/*
 * Builds the query for filter. Parameters $1 and $2 are the seq window, which
 * moves from page to page; the rest are the filters.
 */
static void build_query(const rb_audit_filter *f, list_query *q)
{
    memset(q, 0, sizeof(*q));
    snprintf(q->sql, sizeof(q->sql),
             "SELECT seq, at_ms, actor, action, object, detail, prev_hash, hash FROM audit_log"
             " WHERE seq >= $1 AND seq <= $2");
    q->nparams = 2;
    size_t action_len = f->action ? strlen(f->action) : 0;
    if (action_len > 0 && f->action[action_len - 1] == '.') {
        add_number(q, " AND substr(action, 1, CAST($%d AS INTEGER))", (int64_t)action_len);
        add_text(q, " = $%d", f->action);
    } else if (action_len > 0) {
        add_text(q, " AND action = $%d", f->action);
    }
    if (f->actor != NULL)
        add_text(q, " AND actor = $%d", f->actor);
    if (f->object != NULL)
        add_text(q, " AND object = $%d", f->object);
    if (f->since_ms != 0)
        add_number(q, " AND at_ms >= $%d", f->since_ms);
    if (f->until_ms != 0)
        add_number(q, " AND at_ms < $%d", f->until_ms);
    size_t used = strlen(q->sql);
    snprintf(q->sql + used, sizeof(q->sql) - used, " ORDER BY seq %s LIMIT $%d",
             f->newest_first ? "DESC" : "ASC", q->nparams + 1);
}

static rb_status bind_query(rb_stmt *stmt, const list_query *q, int64_t low, int64_t high,
                            int64_t page)
{
    rb_status status = rb_stmt_bind_int64(stmt, 1, low);
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 2, high);
    for (int i = 2; status == RB_OK && i < q->nparams; i++) {
        if (q->is_text[i])
            status = rb_stmt_bind_text(stmt, i + 1, q->text[i]);
        else
            status = rb_stmt_bind_int64(stmt, i + 1, q->number[i]);
    }
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, q->nparams + 1, page);
    return status;
}

static char *dup_text(const char *text)
{
    return strdup(text ? text : "");
}

/* Copies the current row into rec (owned strings). */
static rb_status read_row(rb_stmt *stmt, rb_audit_record *rec, rb_error *err)
{
    size_t len = 0;
    const uint8_t *blob;
    memset(rec, 0, sizeof(*rec));
    rec->seq = rb_stmt_int64(stmt, 0);
    rec->at_ms = rb_stmt_int64(stmt, 1);
    rec->actor = dup_text(rb_stmt_text(stmt, 2));
    rec->action = dup_text(rb_stmt_text(stmt, 3));
    rec->object = dup_text(rb_stmt_text(stmt, 4));
    rec->detail = dup_text(rb_stmt_text(stmt, 5));
    if (!rec->actor || !rec->action || !rec->object || !rec->detail) {
        rb_audit_record_clear(rec);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory reading the audit log");
    }
    blob = rb_stmt_blob(stmt, 6, &len);
    if (blob != NULL && len == RB_AUDIT_HASH_LEN)
        memcpy(rec->prev_hash, blob, len);
    blob = rb_stmt_blob(stmt, 7, &len);
    if (blob != NULL && len == RB_AUDIT_HASH_LEN)
        memcpy(rec->hash, blob, len);
    return RB_OK;
}

/* Reads up to want records in [low, high] into page; *count receives how many. */
static rb_status read_page(rb_store *store, const list_query *q, int64_t low, int64_t high,
                           int64_t want, rb_audit_record *page, int *count, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    *count = 0;
    rb_status status = rb_store_prepare(store, q->sql, &stmt, err);
    if (status == RB_OK)
        status = bind_query(stmt, q, low, high, want);
    while (status == RB_OK && *count < want) {
        status = rb_stmt_step(stmt, &has_row, err);
        if (status != RB_OK || !has_row)
            break;
        status = read_row(stmt, &page[*count], err);
        if (status == RB_OK)
            (*count)++;
    }
    rb_stmt_reset(stmt);
    return status;
}

rb_status rb_audit_list(rb_ctx *ctx, const rb_audit_filter *filter, rb_audit_list_fn fn, void *arg,
                        rb_error *err)
{
    static const rb_audit_filter all = {0};
    const rb_audit_filter *f = filter ? filter : &all;
    list_query q;
    build_query(f, &q);
    int64_t low = f->min_seq > 0 ? f->min_seq : 0;
    int64_t high = f->max_seq > 0 ? f->max_seq : INT64_MAX;
    int64_t left = f->limit > 0 ? f->limit : INT64_MAX;
    rb_audit_record *page = calloc(PAGE_ROWS, sizeof(*page));
    if (page == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory listing the audit log");
    rb_status status = RB_OK;
    int count = PAGE_ROWS;
    while (status == RB_OK && left > 0 && low <= high && count > 0) {
        int64_t want = left < PAGE_ROWS ? left : PAGE_ROWS;
        status = read_page(ctx->store, &q, low, high, want, page, &count, err);
        for (int i = 0; i < count; i++) {
            if (status == RB_OK)
                status = fn(&page[i], arg, err);
            rb_audit_record_clear(&page[i]);
        }
        if (count < want)
            break;
        left -= count;
        if (count > 0 && f->newest_first)
            high = page[count - 1].seq - 1;
        else if (count > 0)
            low = page[count - 1].seq + 1;
    }
    free(page);
    return status;
}
