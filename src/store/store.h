/*
 * The store: one SQL interface over two back ends, SQLite (the embedded
 * default, one file under the data directory) and PostgreSQL (shared by
 * several processes). SQL is written once, PostgreSQL-style ($1, $2 ...
 * placeholders, RETURNING); the few type names that differ are written as
 * tokens ({blob}) and translated per back end. Every multi-step change runs
 * between rb_store_begin and rb_store_commit.
 */
#ifndef RB_STORE_STORE_H
#define RB_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct rb_store rb_store;
typedef struct rb_stmt rb_stmt;

typedef enum rb_store_kind {
    RB_STORE_SQLITE,
    RB_STORE_POSTGRES,
} rb_store_kind;

/*
 * Opens a store. location is either a postgres:// or postgresql:// URL, or
 * the path of a SQLite file (created if missing, in an existing directory).
 * Does not apply migrations (see rb_store_migrate). On success *out is owned
 * by the caller and freed with rb_store_close.
 */
rb_status rb_store_open(const char *location, rb_store **out, rb_error *err) RB_MUST_CHECK;

/* Closes the store, rolling back an open transaction. NULL is a no-op. */
void rb_store_close(rb_store *store);

rb_store_kind rb_store_get_kind(const rb_store *store);
/* A printable description of the location, with any password removed. */
const char *rb_store_get0_description(const rb_store *store);

/* Starts a write transaction. Transactions do not nest. */
rb_status rb_store_begin(rb_store *store, rb_error *err) RB_MUST_CHECK;
/* Makes the transaction durable (fsync'd) before returning RB_OK. */
rb_status rb_store_commit(rb_store *store, rb_error *err) RB_MUST_CHECK;
/* Abandons the open transaction, if any. */
void rb_store_rollback(rb_store *store);
int rb_store_in_transaction(const rb_store *store);
/*
 * A number that identifies the open transaction, unique within the process
 * (0 outside a transaction), so a caller may keep what it read or wrote
 * inside that transaction until it ends.
 */
uint64_t rb_store_transaction_id(const rb_store *store);

/*
 * A number that changes whenever any connection, in this process or another,
 * commits to the store, read without a query or a system call: for caches of
 * rows that must see a commit made elsewhere at once. Read it before reading
 * the rows a cache keeps; they are current for as long as it does not change.
 * Returns 0 when the back end cannot tell cheaply (PostgreSQL, SQLite outside
 * WAL mode) or a commit is being published at this instant: read the store
 * then. Values from connections to the same database compare; values
 * from different databases mean nothing to each other.
 */
uint64_t rb_store_change_counter(rb_store *store);

/*
 * Serialises writers on one named resource until the transaction ends:
 * PostgreSQL takes an advisory transaction lock; SQLite already holds the
 * database's write lock from rb_store_begin.
 */
rb_status rb_store_lock(rb_store *store, const char *resource, rb_error *err) RB_MUST_CHECK;

/* Runs one or more statements without parameters (tokens are translated). */
rb_status rb_store_exec(rb_store *store, const char *sql, rb_error *err) RB_MUST_CHECK;

/*
 * Returns a prepared statement for sql, borrowed from the store's cache and
 * reset: the same sql text gives back the same statement, so hot paths pay
 * for preparation once. Valid until the store is closed; do not free it.
 */
rb_status rb_store_prepare(rb_store *store, const char *sql, rb_stmt **out,
                           rb_error *err) RB_MUST_CHECK;

/* Parameters are numbered from 1, as $1 in the SQL. Text and blobs are copied. */
rb_status rb_stmt_bind_text(rb_stmt *stmt, int index, const char *text) RB_MUST_CHECK;
rb_status rb_stmt_bind_int64(rb_stmt *stmt, int index, int64_t value) RB_MUST_CHECK;
rb_status rb_stmt_bind_blob(rb_stmt *stmt, int index, const void *data, size_t len) RB_MUST_CHECK;
rb_status rb_stmt_bind_null(rb_stmt *stmt, int index) RB_MUST_CHECK;

/*
 * Runs the statement or advances to the next row. *has_row is 1 when a row is
 * available through the column accessors, 0 when the statement is done.
 * A broken uniqueness or foreign-key rule gives RB_ECONFLICT.
 */
rb_status rb_stmt_step(rb_stmt *stmt, int *has_row, rb_error *err) RB_MUST_CHECK;

/* Column accessors, numbered from 0, valid until the next step or reset. */
int rb_stmt_is_null(rb_stmt *stmt, int col);
const char *rb_stmt_text(rb_stmt *stmt, int col); /* "" for NULL */
int64_t rb_stmt_int64(rb_stmt *stmt, int col);
const uint8_t *rb_stmt_blob(rb_stmt *stmt, int col, size_t *len);

/* Clears results and bindings so the statement can run again; NULL (what a
 * failed rb_store_prepare leaves) is allowed and does nothing. */
void rb_stmt_reset(rb_stmt *stmt);

/* Convenience: runs a statement that returns no rows (or ignores them). */
rb_status rb_stmt_run(rb_stmt *stmt, rb_error *err) RB_MUST_CHECK;

#endif
