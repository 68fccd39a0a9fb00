/*
 * A migrated store for a unit test, on SQLite (a file in the test's temp
 * directory) or on PostgreSQL (a schema of its own, dropped afterwards), with
 * a context whose clock is fixed and whose actor is named.
 */
#ifndef RB_TEST_FIXTURE_H
#define RB_TEST_FIXTURE_H

#include "core/context.h"

#include <stddef.h>
#include <stdint.h>

typedef struct test_store {
    rb_ctx ctx;
    char schema[64]; /* the PostgreSQL schema, or "" */
} test_store;

/*
 * Opens and migrates a store on backend ("sqlite" or "postgres"), named name
 * (the SQLite file or the schema's prefix), with the clock at now_ms and the
 * given actor. Returns 0 when the back end is not available here (PostgreSQL
 * without RUBRICA_TEST_PG) or on failure, which it records.
 */
int test_store_open(test_store *t, const char *backend, const char *name, int64_t now_ms,
                    const char *actor);
void test_store_close(test_store *t);

/* Runs body once per available back end, each time on a fresh migrated store. */
void test_on_each_backend(const char *name, int64_t now_ms, const char *actor,
                          void (*body)(rb_ctx *ctx));

/*
 * A Peruvian provider (P-256 keys in files) initialised with rb_ca_init on a
 * SQLite file in the test's temp directory: ctx is filled in (store,
 * data_dir, actor; the clock fixed at now_ms, or the real one for 0) and the
 * file's path written to db. Returns 0, printing why, on failure.
 */
int test_provider_open(rb_ctx *ctx, int64_t now_ms, char *db, size_t db_len);

/* The first column of the first row of sql (a count, say), or -1 when it cannot be read. */
int64_t test_query_int(rb_ctx *ctx, const char *sql);

#endif
