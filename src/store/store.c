/*
 * The back-end-independent half of the store: choosing a back end from the
 * location, transactions, the prepared-statement cache and dialect tokens.
 */
#include "store/backend.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rb_stmt {
    rb_store *store;
    void *impl;
    char *sql;
};

struct rb_store {
    const rb_store_ops *ops;
    void *impl;
    rb_store_kind kind;
    int in_transaction;
    uint64_t transaction_id; /* while in_transaction */
    char description[256];
    rb_stmt **cache;
    size_t cache_len, cache_cap;
};

static int is_postgres_url(const char *location)
{
    return strncmp(location, "postgres://", 11) == 0 || strncmp(location, "postgresql://", 13) == 0;
}

/*
 * Copies a URL for display with the password blanked: the one in the user
 * information (between ':' and the last '@' before the path) and the value of
 * a password= query parameter.
 */
static void describe_url(const char *url, char *out, size_t len)
{
    const char *scheme_end = strstr(url, "://");
    const char *authority = scheme_end ? scheme_end + 3 : url;
    size_t span = strcspn(authority, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < span; i++)
        if (authority[i] == '@')
            at = authority + i;
    const char *colon = at ? memchr(authority, ':', (size_t)(at - authority)) : NULL;
    if (colon != NULL)
        snprintf(out, len, "%.*s:***%s", (int)(colon - url), url, at);
    else
        snprintf(out, len, "%s", url);
    char *query = strchr(out, '?');
    char *password = query ? strstr(query, "password=") : NULL;
    if (password != NULL && (password[-1] == '?' || password[-1] == '&')) {
        char *value = password + strlen("password=");
        size_t value_len = strcspn(value, "&#");
        if (value_len > 0 && strlen(out) - value_len + 3 < len) {
            memmove(value + 3, value + value_len, strlen(value + value_len) + 1);
            memcpy(value, "***", 3);
        }
    }
}

rb_status rb_store_open(const char *location, rb_store **out, rb_error *err)
{
    if (location == NULL || location[0] == '\0')
        return rb_fail(err, RB_EINVAL, NULL, "no database given");
    rb_store *store = calloc(1, sizeof(*store));
    if (store == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory opening the store");
    rb_status status;
    if (is_postgres_url(location)) {
        store->kind = RB_STORE_POSTGRES;
        describe_url(location, store->description, sizeof(store->description));
        status = rb_postgres_open(location, &store->impl, &store->ops, err);
    } else if (strstr(location, "://") != NULL) {
        describe_url(location, store->description, sizeof(store->description));
        status =
            rb_fail(err, RB_EINVAL, NULL,
                    "unsupported database URL '%s': use postgres://user@host/db or a file path",
                    store->description);
    } else {
        store->kind = RB_STORE_SQLITE;
        snprintf(store->description, sizeof(store->description), "sqlite:%s", location);
        status = rb_sqlite_open(location, &store->impl, &store->ops, err);
    }
    if (status != RB_OK) {
        free(store);
        return status;
    }
    *out = store;
    return RB_OK;
}

void rb_store_close(rb_store *store)
{
    if (store == NULL)
        return;
    if (store->in_transaction)
        rb_store_rollback(store);
    for (size_t i = 0; i < store->cache_len; i++) {
        store->ops->finalize(store->cache[i]->impl);
        free(store->cache[i]->sql);
        free(store->cache[i]);
    }
    free(store->cache);
    store->ops->close(store->impl);
    free(store);
}

rb_store_kind rb_store_get_kind(const rb_store *store)
{
    return store->kind;
}

const char *rb_store_get0_description(const rb_store *store)
{
    return store->description;
}

rb_status rb_store_begin(rb_store *store, rb_error *err)
{
    if (store->in_transaction)
        return rb_fail(err, RB_EINTERNAL, NULL, "a transaction is already open");
    static _Atomic uint64_t last_transaction_id;
    rb_status status = store->ops->exec(store->impl, store->ops->begin_sql, err);
    if (status == RB_OK) {
        store->in_transaction = 1;
        store->transaction_id = atomic_fetch_add(&last_transaction_id, 1) + 1;
    }
    return status;
}

rb_status rb_store_commit(rb_store *store, rb_error *err)
{
    if (!store->in_transaction)
        return rb_fail(err, RB_EINTERNAL, NULL, "commit without a transaction");
    rb_status status = store->ops->exec(store->impl, "COMMIT", err);
    if (status != RB_OK) {
        rb_store_rollback(store);
        return status;
    }
    store->in_transaction = 0;
    return RB_OK;
}

void rb_store_rollback(rb_store *store)
{
    if (!store->in_transaction)
        return;
    for (size_t i = 0; i < store->cache_len; i++)
        store->ops->reset(store->cache[i]->impl);
    rb_error ignored = {0};
    (void)store->ops->exec(store->impl, "ROLLBACK", &ignored);
    store->in_transaction = 0;
}

int rb_store_in_transaction(const rb_store *store)
{
    return store->in_transaction;
}

uint64_t rb_store_transaction_id(const rb_store *store)
{
    return store->in_transaction ? store->transaction_id : 0;
}

uint64_t rb_store_change_counter(rb_store *store)
{
    if (store == NULL || store->ops->change_counter == NULL)
        return 0;
    return store->ops->change_counter(store->impl);
}

char *rb_store_translate(rb_store_kind kind, const char *sql)
{
    static const struct {
        const char *token, *sqlite, *postgres;
    } tokens[] = {
        {"{blob}", "BLOB", "BYTEA"},
    };
    size_t cap = strlen(sql) * 2 + 1;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    size_t used = 0;
    for (const char *p = sql; *p;) {
        size_t i, ntokens = sizeof(tokens) / sizeof(tokens[0]);
        for (i = 0; i < ntokens; i++) {
            size_t tlen = strlen(tokens[i].token);
            if (strncmp(p, tokens[i].token, tlen) == 0) {
                const char *with = kind == RB_STORE_SQLITE ? tokens[i].sqlite : tokens[i].postgres;
                size_t wlen = strlen(with);
                memcpy(out + used, with, wlen);
                used += wlen;
                p += tlen;
                break;
            }
        }
        if (i == ntokens)
            out[used++] = *p++;
    }
    out[used] = '\0';
    return out;
}

rb_status rb_store_exec(rb_store *store, const char *sql, rb_error *err)
{
    char *translated = rb_store_translate(store->kind, sql);
    if (translated == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    rb_status status = store->ops->exec(store->impl, translated, err);
    free(translated);
    return status;
}

static rb_stmt *cache_find(rb_store *store, const char *sql)
{
    for (size_t i = 0; i < store->cache_len; i++)
        if (strcmp(store->cache[i]->sql, sql) == 0)
            return store->cache[i];
    return NULL;
}

rb_status rb_store_prepare(rb_store *store, const char *sql, rb_stmt **out, rb_error *err)
{
    *out = NULL; /* so that a caller may reset what a failed prepare left */
    rb_stmt *stmt = cache_find(store, sql);
    if (stmt != NULL) {
        store->ops->reset(stmt->impl);
        *out = stmt;
        return RB_OK;
    }
    if (store->cache_len == store->cache_cap) {
        size_t cap = store->cache_cap ? store->cache_cap * 2 : 32;
        rb_stmt **bigger = realloc(store->cache, cap * sizeof(*bigger));
        if (bigger == NULL)
            return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
        store->cache = bigger;
        store->cache_cap = cap;
    }
    stmt = calloc(1, sizeof(*stmt));
    char *translated = rb_store_translate(store->kind, sql);
    if (stmt == NULL || translated == NULL || (stmt->sql = strdup(sql)) == NULL) {
        free(translated);
        free(stmt);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    rb_status status = store->ops->prepare(store->impl, translated, &stmt->impl, err);
    free(translated);
    if (status != RB_OK) {
        free(stmt->sql);
        free(stmt);
        return status;
    }
    stmt->store = store;
    store->cache[store->cache_len++] = stmt;
    *out = stmt;
    return RB_OK;
}

rb_status rb_stmt_bind_text(rb_stmt *stmt, int index, const char *text)
{
    if (text == NULL)
        return stmt->store->ops->bind_null(stmt->impl, index);
    return stmt->store->ops->bind_text(stmt->impl, index, text);
}

rb_status rb_stmt_bind_int64(rb_stmt *stmt, int index, int64_t value)
{
    return stmt->store->ops->bind_int64(stmt->impl, index, value);
}

rb_status rb_stmt_bind_blob(rb_stmt *stmt, int index, const void *data, size_t len)
{
    if (data == NULL)
        return stmt->store->ops->bind_null(stmt->impl, index);
    return stmt->store->ops->bind_blob(stmt->impl, index, data, len);
}

rb_status rb_stmt_bind_null(rb_stmt *stmt, int index)
{
    return stmt->store->ops->bind_null(stmt->impl, index);
}

rb_status rb_stmt_step(rb_stmt *stmt, int *has_row, rb_error *err)
{
    return stmt->store->ops->step(stmt->impl, has_row, err);
}

int rb_stmt_is_null(rb_stmt *stmt, int col)
{
    return stmt->store->ops->is_null(stmt->impl, col);
}

const char *rb_stmt_text(rb_stmt *stmt, int col)
{
    const char *text = stmt->store->ops->text(stmt->impl, col);
    return text ? text : "";
}

int64_t rb_stmt_int64(rb_stmt *stmt, int col)
{
    return stmt->store->ops->int64(stmt->impl, col);
}

const uint8_t *rb_stmt_blob(rb_stmt *stmt, int col, size_t *len)
{
    return stmt->store->ops->blob(stmt->impl, col, len);
}

void rb_stmt_reset(rb_stmt *stmt)
{
    if (stmt == NULL) /* a prepare that failed leaves nothing to reset */
        return;
    stmt->store->ops->reset(stmt->impl);
}

rb_status rb_stmt_run(rb_stmt *stmt, rb_error *err)
{
    int has_row;
    rb_status status = rb_stmt_step(stmt, &has_row, err);
    rb_stmt_reset(stmt);
    return status;
}

rb_status rb_store_lock(rb_store *store, const char *resource, rb_error *err)
{
    if (!store->in_transaction)
        return rb_fail(err, RB_EINTERNAL, NULL, "lock on %s outside a transaction", resource);
    if (store->kind != RB_STORE_POSTGRES)
        return RB_OK;
    /* FNV-1a of the name gives the advisory lock key. */
    uint64_t hash = 1469598103934665603ULL;
    for (const char *p = resource; *p; p++)
        hash = (hash ^ (unsigned char)*p) * 1099511628211ULL;
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)", (long long)(int64_t)hash);
    return store->ops->exec(store->impl, sql, err);
}
