/*
 * Applies the schema migrations of schema.c and reports which are applied.
 * The schema_migrations table records each version with its time.
 */
#include "store/migrate.h"

#include <string.h>

static const char create_bookkeeping[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)";

static rb_status lock_for_migration(rb_store *store, rb_error *err)
{
    /* SQLite's BEGIN IMMEDIATE already holds the write lock. */
    if (rb_store_get_kind(store) != RB_STORE_POSTGRES)
        return RB_OK;
    return rb_store_exec(store, "SELECT pg_advisory_xact_lock(72617562)", err);
}

static rb_status highest_applied(rb_store *store, int *out, rb_error *err)
{
    rb_stmt *stmt;
    int has_row;
    rb_status status = rb_store_prepare(
        store, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &stmt, err);
    if (status == RB_OK)
        status = rb_stmt_step(stmt, &has_row, err);
    if (status == RB_OK)
        *out = has_row ? (int)rb_stmt_int64(stmt, 0) : 0;
    if (status == RB_OK)
        rb_stmt_reset(stmt);
    return status;
}

static rb_status apply_one(rb_store *store, const rb_migration *m, int64_t now, rb_error *err)
{
    rb_status status = rb_store_exec(store, m->sql, err);
    if (status != RB_OK)
        return status;
    rb_stmt *stmt;
    status = rb_store_prepare(
        store, "INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)",
        &stmt, err);
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 1, m->version);
    if (status == RB_OK)
        status = rb_stmt_bind_text(stmt, 2, m->name);
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 3, now);
    if (status == RB_OK)
        status = rb_stmt_run(stmt, err);
    return status;
}

rb_status rb_store_migrate(rb_store *store, const rb_clock *clock, int *applied, rb_error *err)
{
    size_t count;
    const rb_migration *migrations = rb_schema_migrations(&count);
    int done = 0, current = 0;
    rb_status status = rb_store_begin(store, err);
    if (status != RB_OK)
        return status;
    status = lock_for_migration(store, err);
    if (status == RB_OK)
        status = rb_store_exec(store, create_bookkeeping, err);
    if (status == RB_OK)
        status = highest_applied(store, &current, err);
    if (status == RB_OK && current > migrations[count - 1].version)
        status = rb_fail(err, RB_ESTATE, NULL,
                         "the database schema (version %d) is newer than this program "
                         "(version %d): upgrade Rúbrica",
                         current, migrations[count - 1].version);
    for (size_t i = 0; status == RB_OK && i < count; i++) {
        if (migrations[i].version <= current)
            continue;
        status = apply_one(store, &migrations[i], rb_clock_now_ms(clock), err);
        done++;
    }
    if (status == RB_OK && done == 0) {
        rb_store_rollback(store);
    } else if (status == RB_OK) {
        status = rb_store_commit(store, err);
    } else {
        rb_store_rollback(store);
    }
    if (status == RB_OK && applied != NULL)
        *applied = done;
    return status;
}

rb_status rb_store_schema_status(rb_store *store, rb_migration_status *out, rb_error *err)
{
    size_t count;
    const rb_migration *migrations = rb_schema_migrations(&count);
    for (size_t i = 0; i < count; i++)
        out[i] =
            (rb_migration_status){.version = migrations[i].version, .name = migrations[i].name};
    rb_status status = rb_store_exec(store, create_bookkeeping, err);
    rb_stmt *stmt;
    if (status == RB_OK)
        status = rb_store_prepare(store, "SELECT version, applied_ms FROM schema_migrations", &stmt,
                                  err);
    int has_row = 1;
    while (status == RB_OK && has_row) {
        status = rb_stmt_step(stmt, &has_row, err);
        if (status != RB_OK || !has_row)
            break;
        int version = (int)rb_stmt_int64(stmt, 0);
        for (size_t i = 0; i < count; i++) {
            if (out[i].version == version) {
                out[i].applied = 1;
                out[i].applied_ms = rb_stmt_int64(stmt, 1);
            }
        }
    }
    return status;
}
