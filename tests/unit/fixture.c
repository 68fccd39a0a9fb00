/*
 * The migrated-store fixture of the unit tests (see fixture.h).
 */
#include "fixture.h"

#include "harness.h"
#include "ca/init.h"
#include "store/migrate.h"
#include "store/store.h"

#include <unistd.h>

int test_store_open(test_store *t, const char *backend, const char *name, int64_t now_ms,
                    const char *actor)
{
    static int counter;
    rb_error err = {0};
    char location[600];
    memset(t, 0, sizeof(*t));
    if (strcmp(backend, "sqlite") == 0) {
        snprintf(location, sizeof(location), "%s/%s.db", test_tmpdir(), name);
    } else {
        if (test_postgres_url() == NULL)
            return 0;
        snprintf(location, sizeof(location), "%s", test_postgres_url());
    }
    if (rb_store_open(location, &t->ctx.store, &err) != RB_OK) {
        fprintf(stderr, "  cannot open %s: %s\n", backend, err.message);
        test_fail(__FILE__, __LINE__, "open store");
        return 0;
    }
    if (rb_store_get_kind(t->ctx.store) == RB_STORE_POSTGRES) {
        char sql[300];
        snprintf(t->schema, sizeof(t->schema), "%s_test_%d_%d", name, (int)getpid(), ++counter);
        snprintf(sql, sizeof(sql),
                 "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s; SET search_path TO %s",
                 t->schema, t->schema, t->schema);
        if (rb_store_exec(t->ctx.store, sql, &err) != RB_OK) {
            fprintf(stderr, "  %s\n", err.message);
            test_fail(__FILE__, __LINE__, "create test schema");
            rb_store_close(t->ctx.store);
            return 0;
        }
    }
    t->ctx.clock.fixed_ms = now_ms;
    t->ctx.actor = actor;
    if (rb_store_migrate(t->ctx.store, &t->ctx.clock, NULL, &err) != RB_OK) {
        fprintf(stderr, "  migrate %s: %s\n", backend, err.message);
        test_fail(__FILE__, __LINE__, "migrate");
        rb_store_close(t->ctx.store);
        return 0;
    }
    return 1;
}

void test_store_close(test_store *t)
{
    rb_error err = {0};
    if (t->schema[0] != '\0') {
        char sql[200];
        snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", t->schema);
        rb_store_rollback(t->ctx.store);
        if (rb_store_exec(t->ctx.store, sql, &err) != RB_OK)
            fprintf(stderr, "  could not drop %s: %s\n", t->schema, err.message);
    }
    rb_store_close(t->ctx.store);
}

void test_on_each_backend(const char *name, int64_t now_ms, const char *actor,
                          void (*body)(rb_ctx *ctx))
{
    static const char *const backends[] = {"sqlite", "postgres"};
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        test_store t;
        if (!test_store_open(&t, backends[i], name, now_ms, actor))
            continue;
        body(&t.ctx);
        test_store_close(&t);
    }
}

int test_provider_open(rb_ctx *ctx, int64_t now_ms, char *db, size_t db_len)
{
    rb_error err = {0};
    const char *dir = test_tmpdir();
    memset(ctx, 0, sizeof(*ctx));
    ctx->actor = "test:provider";
    ctx->data_dir = dir;
    ctx->clock.fixed_ms = now_ms;
    setenv("RUBRICA_KEY_PASS", "unit-test-passphrase", 0);
    snprintf(db, db_len, "%s/rubrica.db", dir);
    rb_init_params params = {.jurisdiction = "PE",
                             .key_type = RB_KEY_EC_P256,
                             .org = "Prueba",
                             .base_url = "http://127.0.0.1:8080",
                             .root_name = "root",
                             .issuing_name = "issuing"};
    if (rb_store_open(db, &ctx->store, &err) != RB_OK ||
        rb_store_migrate(ctx->store, &ctx->clock, NULL, &err) != RB_OK ||
        rb_ca_init(ctx, &params, &err) != RB_OK) {
        fprintf(stderr, "  %s\n", err.message);
        return 0;
    }
    return 1;
}

int64_t test_query_int(rb_ctx *ctx, const char *sql)
{
    rb_error err = {0};
    rb_stmt *stmt = NULL;
    int has_row = 0;
    int64_t n = -1;
    if (rb_store_prepare(ctx->store, sql, &stmt, &err) != RB_OK)
        return -1;
    if (rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row)
        n = rb_stmt_int64(stmt, 0);
    rb_stmt_reset(stmt);
    return n;
}
