/*
 * What a store back end provides. Private to src/store: the rest of the
 * library sees only store.h.
 */
#ifndef RB_STORE_BACKEND_H
#define RB_STORE_BACKEND_H

#include "store/store.h"

typedef struct rb_store_ops {
    void (*close)(void *impl);
    rb_status (*exec)(void *impl, const char *sql, rb_error *err);
    rb_status (*prepare)(void *impl, const char *sql, void **stmt_impl, rb_error *err);
    void (*finalize)(void *stmt_impl);
    rb_status (*bind_text)(void *stmt_impl, int index, const char *text);
    rb_status (*bind_int64)(void *stmt_impl, int index, int64_t value);
    rb_status (*bind_blob)(void *stmt_impl, int index, const void *data, size_t len);
    rb_status (*bind_null)(void *stmt_impl, int index);
    rb_status (*step)(void *stmt_impl, int *has_row, rb_error *err);
    int (*is_null)(void *stmt_impl, int col);
    const char *(*text)(void *stmt_impl, int col);
    int64_t (*int64)(void *stmt_impl, int col);
    const uint8_t *(*blob)(void *stmt_impl, int col, size_t *len);
    void (*reset)(void *stmt_impl);
    /* See rb_store_change_counter; NULL when the back end has none. */
    uint64_t (*change_counter)(void *impl);
    /* SQL that starts a write transaction (SQLite takes the write lock at once). */
    const char *begin_sql;
} rb_store_ops;

/* Each back end's constructor; description receives a printable location. */
rb_status rb_sqlite_open(const char *path, void **impl, const rb_store_ops **ops, rb_error *err);
rb_status rb_postgres_open(const char *url, void **impl, const rb_store_ops **ops, rb_error *err);

/*
 * Rewrites the dialect tokens in sql for kind into a new string the caller
 * frees: {blob} becomes BLOB or BYTEA.
 */
char *rb_store_translate(rb_store_kind kind, const char *sql);

#endif
