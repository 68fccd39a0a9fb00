/*
 * Unit tests of src/store. Every STORE_TEST runs twice: against a fresh SQLite
 * file and, when RUBRICA_TEST_PG names a server, against a fresh schema on
 * that PostgreSQL server (dropped when the run ends). The test names end in
 * _sqlite or _postgres so a failure says which back end broke.
 */
#include "harness.h"

#include "store/migrate.h"
#include "store/sqlite_checkpoint.h"
#include "store/store.h"

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCATION_LEN 1024

typedef void (*store_case)(const char *location);

static void run_on_sqlite(store_case fn)
{
    char location[LOCATION_LEN];
    snprintf(location, sizeof(location), "%s/rubrica.db", test_tmpdir());
    fn(location);
}

/* Schemas made on the PostgreSQL server, dropped at exit. */
static char schemas[256][48];
static int schema_count;

static void drop_schemas(void)
{
    rb_store *store = NULL;
    rb_error err = {0};
    if (rb_store_open(test_postgres_url(), &store, &err) != RB_OK) {
        fprintf(stderr, "could not drop the test schemas: %s\n", err.message);
        return;
    }
    for (int i = 0; i < schema_count; i++) {
        char sql[96];
        snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %.47s CASCADE", schemas[i]);
        if (rb_store_exec(store, sql, &err) != RB_OK)
            fprintf(stderr, "could not drop %s: %s\n", schemas[i], err.message);
    }
    rb_store_close(store);
}

/* Makes a new schema and a URL whose search_path points at it. */
static int fresh_postgres(char *location, size_t len)
{
    const char *base = test_postgres_url();
    if (schema_count == (int)(sizeof(schemas) / sizeof(schemas[0])))
        return -1;
    char *name = schemas[schema_count];
    snprintf(name, sizeof(schemas[0]), "t_%lx_%d_%d", (unsigned long)time(NULL), (int)getpid(),
             schema_count);
    rb_store *store = NULL;
    rb_error err = {0};
    char sql[96];
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %.47s", name);
    if (rb_store_open(base, &store, &err) != RB_OK || rb_store_exec(store, sql, &err) != RB_OK) {
        fprintf(stderr, "  cannot make a test schema: %s\n", err.message);
        rb_store_close(store);
        return -1;
    }
    rb_store_close(store);
    if (schema_count++ == 0)
        atexit(drop_schemas);
    snprintf(location, len, "%s%coptions=-csearch_path%%3D%s", base, strchr(base, '?') ? '&' : '?',
             name);
    return 0;
}

static void run_on_postgres(store_case fn)
{
    char location[LOCATION_LEN];
    if (fresh_postgres(location, sizeof(location)) != 0) {
        test_fail(__FILE__, __LINE__, "fresh_postgres");
        return;
    }
    fn(location);
}

/*
 * Defines name(location) and registers it as store_<name>_sqlite and, when
 * a PostgreSQL server is configured, store_<name>_postgres.
 */
#define STORE_TEST(name)                                                                           \
    static void name(const char *location);                                                        \
    static void name##_sqlite(void)                                                                \
    {                                                                                              \
        run_on_sqlite(name);                                                                       \
    }                                                                                              \
    static void name##_postgres(void)                                                              \
    {                                                                                              \
        run_on_postgres(name);                                                                     \
    }                                                                                              \
    static test_case name##_sqlite_case = {"store_" #name "_sqlite", name##_sqlite, NULL};         \
    static test_case name##_postgres_case = {"store_" #name "_postgres", name##_postgres, NULL};   \
    __attribute__((constructor)) static void name##_register(void)                                 \
    {                                                                                              \
        test_register(&name##_sqlite_case);                                                        \
        if (test_postgres_url() != NULL)                                                           \
            test_register(&name##_postgres_case);                                                  \
    }                                                                                              \
    static void name(const char *location)

/* Like STORE_TEST for what only PostgreSQL has; registered only with a server. */
#define POSTGRES_TEST(name)                                                                        \
    static void name(const char *location);                                                        \
    static void name##_postgres(void)                                                              \
    {                                                                                              \
        run_on_postgres(name);                                                                     \
    }                                                                                              \
    static test_case name##_case = {"store_" #name, name##_postgres, NULL};                        \
    __attribute__((constructor)) static void name##_register(void)                                 \
    {                                                                                              \
        if (test_postgres_url() != NULL)                                                           \
            test_register(&name##_case);                                                           \
    }                                                                                              \
    static void name(const char *location)

static rb_store *open_store(const char *location)
{
    rb_store *store = NULL;
    rb_error err = {0};
    if (rb_store_open(location, &store, &err) != RB_OK) {
        fprintf(stderr, "  cannot open %s: %s\n", location, err.message);
        return NULL;
    }
    return store;
}

/* Runs a query returning one integer; -1 on failure. */
static int64_t query_int(rb_store *store, const char *sql)
{
    rb_stmt *stmt;
    rb_error err = {0};
    int has_row = 0;
    int64_t value = -1;
    if (rb_store_prepare(store, sql, &stmt, &err) != RB_OK ||
        rb_stmt_step(stmt, &has_row, &err) != RB_OK) {
        fprintf(stderr, "  %s: %s\n", sql, err.message);
        return -1;
    }
    if (has_row)
        value = rb_stmt_int64(stmt, 0);
    rb_stmt_reset(stmt);
    return value;
}

static const char create_items[] =
    "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT, n BIGINT, data {blob})";
static const char insert_item[] = "INSERT INTO items (id, name, n, data) VALUES ($1, $2, $3, $4)";

/* Inserts (id, name) with n and data NULL. */
static rb_status insert_named(rb_store *store, int64_t id, const char *name, rb_error *err)
{
    rb_stmt *stmt;
    rb_status status = rb_store_prepare(store, insert_item, &stmt, err);
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 1, id);
    if (status == RB_OK)
        status = rb_stmt_bind_text(stmt, 2, name);
    if (status == RB_OK)
        status = rb_stmt_run(stmt, err);
    return status;
}

static rb_store *open_with_items(const char *location)
{
    rb_store *store = open_store(location);
    rb_error err = {0};
    if (store != NULL && rb_store_exec(store, create_items, &err) != RB_OK) {
        fprintf(stderr, "  %s\n", err.message);
        rb_store_close(store);
        return NULL;
    }
    return store;
}

STORE_TEST(migrations_apply_once)
{
    rb_store *store = open_store(location);
    REQUIRE(store != NULL);
    rb_clock clock = {.fixed_ms = 1764000000123};
    rb_error err = {0};
    size_t count;
    rb_schema_migrations(&count);
    rb_migration_status rows[64];
    REQUIRE(count <= 64);
    CHECK(rb_store_schema_status(store, rows, &err) == RB_OK);
    for (size_t i = 0; i < count; i++)
        CHECK(!rows[i].applied && rows[i].applied_ms == 0);

    int applied = -1;
    CHECK(rb_store_migrate(store, &clock, &applied, &err) == RB_OK);
    CHECK(applied == (int)count);
    CHECK(rb_store_migrate(store, &clock, &applied, &err) == RB_OK);
    CHECK(applied == 0);
    CHECK(!rb_store_in_transaction(store));
    CHECK(query_int(store, "SELECT COUNT(*) FROM schema_migrations") == (int64_t)count);

    CHECK(rb_store_schema_status(store, rows, &err) == RB_OK);
    for (size_t i = 0; i < count; i++) {
        CHECK(rows[i].applied);
        CHECK(rows[i].applied_ms == clock.fixed_ms);
        CHECK(rows[i].version == (int)i + 1);
    }
    rb_store_close(store);

    /* A second connection finds the schema current. */
    store = open_store(location);
    REQUIRE(store != NULL);
    CHECK(rb_store_migrate(store, &clock, &applied, &err) == RB_OK);
    CHECK(applied == 0);
    rb_store_close(store);
}

STORE_TEST(newer_schema_refused)
{
    rb_store *store = open_store(location);
    REQUIRE(store != NULL);
    rb_error err = {0};
    REQUIRE(rb_store_migrate(store, NULL, NULL, &err) == RB_OK);
    CHECK(rb_store_exec(store,
                        "INSERT INTO schema_migrations VALUES (100000, 'from the future', 1)",
                        &err) == RB_OK);
    CHECK(rb_store_migrate(store, NULL, NULL, &err) == RB_ESTATE);
    CHECK(strstr(err.message, "newer") != NULL);
    CHECK(!rb_store_in_transaction(store));
    rb_store_close(store);
}

/* Inserts one row of every kind of value through one cached statement. */
static rb_status insert_values(rb_store *store, int64_t id, const char *name, int64_t n,
                               const uint8_t *data, size_t len, rb_error *err)
{
    rb_stmt *stmt;
    rb_status status = rb_store_prepare(store, insert_item, &stmt, err);
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 1, id);
    if (status == RB_OK)
        status = rb_stmt_bind_text(stmt, 2, name);
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 3, n);
    if (status == RB_OK)
        status = rb_stmt_bind_blob(stmt, 4, data, len);
    if (status == RB_OK)
        status = rb_stmt_run(stmt, err);
    return status;
}

STORE_TEST(values_round_trip)
{
    rb_store *store = open_with_items(location);
    REQUIRE(store != NULL);
    rb_error err = {0};
    static const char spanish[] = "Ñandú: año, pingüino, €";
    static const uint8_t with_nul[] = {0x00, 0x01, 0x00, 0xff, '\\', 'x', 0x00};
    static uint8_t big[70000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + i / 256);

    CHECK(insert_values(store, 1, spanish, INT64_MAX, with_nul, sizeof(with_nul), &err) == RB_OK);
    CHECK(insert_values(store, 2, "", INT64_MIN, (const uint8_t *)"", 0, &err) == RB_OK);
    CHECK(insert_values(store, 3, "big", -1, big, sizeof(big), &err) == RB_OK);
    rb_stmt *stmt;
    REQUIRE(rb_store_prepare(store, insert_item, &stmt, &err) == RB_OK);
    CHECK(rb_stmt_bind_int64(stmt, 1, 4) == RB_OK);
    CHECK(rb_stmt_bind_text(stmt, 2, NULL) == RB_OK);
    CHECK(rb_stmt_bind_null(stmt, 3) == RB_OK);
    CHECK(rb_stmt_bind_blob(stmt, 4, NULL, 0) == RB_OK);
    CHECK(rb_stmt_run(stmt, &err) == RB_OK);

    REQUIRE(rb_store_prepare(store, "SELECT id, name, n, data FROM items ORDER BY id", &stmt,
                             &err) == RB_OK);
    int has_row = 0;
    size_t len = 99;
    const uint8_t *data;
    REQUIRE(rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row);
    CHECK(rb_stmt_int64(stmt, 0) == 1);
    CHECK_STR(rb_stmt_text(stmt, 1), spanish);
    CHECK(rb_stmt_int64(stmt, 2) == INT64_MAX);
    CHECK_STR(rb_stmt_text(stmt, 2), "9223372036854775807");
    data = rb_stmt_blob(stmt, 3, &len);
    CHECK(len == sizeof(with_nul) && data != NULL && memcmp(data, with_nul, len) == 0);

    REQUIRE(rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row);
    CHECK(!rb_stmt_is_null(stmt, 1));
    CHECK_STR(rb_stmt_text(stmt, 1), "");
    CHECK(rb_stmt_int64(stmt, 2) == INT64_MIN);
    CHECK(!rb_stmt_is_null(stmt, 3));
    rb_stmt_blob(stmt, 3, &len);
    CHECK(len == 0);

    REQUIRE(rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row);
    CHECK(rb_stmt_int64(stmt, 2) == -1);
    data = rb_stmt_blob(stmt, 3, &len);
    CHECK(len == sizeof(big) && data != NULL && memcmp(data, big, len) == 0);

    REQUIRE(rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row);
    for (int col = 1; col <= 3; col++)
        CHECK(rb_stmt_is_null(stmt, col));
    CHECK_STR(rb_stmt_text(stmt, 1), "");
    CHECK(rb_stmt_int64(stmt, 2) == 0);
    CHECK(rb_stmt_blob(stmt, 3, &len) == NULL && len == 0);

    CHECK(rb_stmt_step(stmt, &has_row, &err) == RB_OK && !has_row);
    rb_stmt_reset(stmt);

    /* Parameters in a WHERE clause, and truth values read as 1 and 0. */
    REQUIRE(rb_store_prepare(store, "SELECT COUNT(*), 2 > 1, 1 > 2 FROM items WHERE name = $1",
                             &stmt, &err) == RB_OK);
    CHECK(rb_stmt_bind_text(stmt, 1, spanish) == RB_OK);
    REQUIRE(rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row);
    CHECK(rb_stmt_int64(stmt, 0) == 1);
    CHECK(rb_stmt_int64(stmt, 1) == 1);
    CHECK(rb_stmt_int64(stmt, 2) == 0);
    rb_stmt_reset(stmt);
    rb_store_close(store);
}

STORE_TEST(returning)
{
    rb_store *store = open_with_items(location);
    REQUIRE(store != NULL);
    rb_error err = {0};
    rb_stmt *stmt;
    int has_row = 0;
    REQUIRE(rb_store_prepare(store,
                             "INSERT INTO items (id, name, n) VALUES ($1, $2, $3) "
                             "RETURNING id * 2, name, n",
                             &stmt, &err) == RB_OK);
    CHECK(rb_stmt_bind_int64(stmt, 1, 21) == RB_OK);
    CHECK(rb_stmt_bind_text(stmt, 2, "Peña") == RB_OK);
    CHECK(rb_stmt_bind_int64(stmt, 3, 7) == RB_OK);
    REQUIRE(rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row);
    CHECK(rb_stmt_int64(stmt, 0) == 42);
    CHECK_STR(rb_stmt_text(stmt, 1), "Peña");
    CHECK(rb_stmt_int64(stmt, 2) == 7);
    CHECK(rb_stmt_step(stmt, &has_row, &err) == RB_OK && !has_row);
    rb_stmt_reset(stmt);

    REQUIRE(rb_store_prepare(store, "UPDATE items SET n = n + 1 WHERE id = $1 RETURNING n", &stmt,
                             &err) == RB_OK);
    CHECK(rb_stmt_bind_int64(stmt, 1, 21) == RB_OK);
    REQUIRE(rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row);
    CHECK(rb_stmt_int64(stmt, 0) == 8);
    rb_stmt_reset(stmt);

    /* RETURNING of a statement that matched nothing gives no row. */
    CHECK(rb_stmt_bind_int64(stmt, 1, 99) == RB_OK);
    CHECK(rb_stmt_step(stmt, &has_row, &err) == RB_OK && !has_row);
    rb_stmt_reset(stmt);
    rb_store_close(store);
}

STORE_TEST(unique_violation_is_conflict)
{
    rb_store *store = open_with_items(location);
    REQUIRE(store != NULL);
    rb_error err = {0};
    REQUIRE(rb_store_begin(store, &err) == RB_OK);
    CHECK(insert_named(store, 1, "first", &err) == RB_OK);
    CHECK(insert_named(store, 2, "second", &err) == RB_OK);
    CHECK(insert_named(store, 1, "again", &err) == RB_ECONFLICT);
    CHECK(err.status == RB_ECONFLICT && err.message[0] != '\0');
    rb_store_rollback(store);
    CHECK(!rb_store_in_transaction(store));
    CHECK(query_int(store, "SELECT COUNT(*) FROM items") == 0);

    /* Outside a transaction the failed statement leaves the store usable. */
    rb_error_clear(&err);
    CHECK(insert_named(store, 1, "first", &err) == RB_OK);
    CHECK(insert_named(store, 1, "again", &err) == RB_ECONFLICT);
    CHECK(insert_named(store, 2, "second", &err) == RB_OK);
    CHECK(query_int(store, "SELECT COUNT(*) FROM items") == 2);
    rb_store_close(store);
}

STORE_TEST(foreign_key_violation_is_conflict)
{
    rb_store *store = open_store(location);
    REQUIRE(store != NULL);
    rb_error err = {0};
    REQUIRE(rb_store_exec(store,
                          "CREATE TABLE parent (id BIGINT PRIMARY KEY);"
                          "CREATE TABLE child (id BIGINT PRIMARY KEY,"
                          " parent BIGINT NOT NULL REFERENCES parent (id))",
                          &err) == RB_OK);
    CHECK(rb_store_exec(store, "INSERT INTO child VALUES (1, 42)", &err) == RB_ECONFLICT);
    CHECK(query_int(store, "SELECT COUNT(*) FROM child") == 0);
    rb_store_close(store);
}

STORE_TEST(commit_visible_to_second_connection)
{
    rb_store *writer = open_with_items(location);
    REQUIRE(writer != NULL);
    rb_store *reader = open_store(location);
    REQUIRE(reader != NULL);
    rb_error err = {0};
    REQUIRE(rb_store_begin(writer, &err) == RB_OK);
    CHECK(rb_store_in_transaction(writer));
    CHECK(insert_named(writer, 1, "uno", &err) == RB_OK);
    CHECK(query_int(writer, "SELECT COUNT(*) FROM items") == 1);
    CHECK(query_int(reader, "SELECT COUNT(*) FROM items") == 0);
    CHECK(rb_store_commit(writer, &err) == RB_OK);
    CHECK(!rb_store_in_transaction(writer));
    CHECK(query_int(reader, "SELECT COUNT(*) FROM items") == 1);
    rb_store_close(reader);
    rb_store_close(writer);
}

STORE_TEST(statement_cache)
{
    rb_store *store = open_with_items(location);
    REQUIRE(store != NULL);
    rb_error err = {0};
    for (int i = 1; i <= 3; i++)
        CHECK(insert_named(store, i, "x", &err) == RB_OK);
    const char *sql = "SELECT id FROM items ORDER BY id";
    rb_stmt *first, *again, *other;
    int has_row = 0;
    REQUIRE(rb_store_prepare(store, sql, &first, &err) == RB_OK);
    REQUIRE(rb_stmt_step(first, &has_row, &err) == RB_OK && has_row);
    REQUIRE(rb_stmt_step(first, &has_row, &err) == RB_OK && has_row);
    CHECK(rb_stmt_int64(first, 0) == 2);

    /* The same text gives back the same statement, reset to run again. */
    REQUIRE(rb_store_prepare(store, sql, &again, &err) == RB_OK);
    CHECK(again == first);
    REQUIRE(rb_stmt_step(again, &has_row, &err) == RB_OK && has_row);
    CHECK(rb_stmt_int64(again, 0) == 1);
    rb_stmt_reset(again);

    REQUIRE(rb_store_prepare(store, "SELECT id FROM items ORDER BY id DESC", &other, &err) ==
            RB_OK);
    CHECK(other != first);
    REQUIRE(rb_stmt_step(other, &has_row, &err) == RB_OK && has_row);
    CHECK(rb_stmt_int64(other, 0) == 3);
    rb_stmt_reset(other);
    rb_store_close(store);
}

STORE_TEST(rollback_leaves_nothing)
{
    rb_store *store = open_with_items(location);
    REQUIRE(store != NULL);
    rb_error err = {0};
    CHECK(insert_named(store, 1, "kept", &err) == RB_OK);
    REQUIRE(rb_store_begin(store, &err) == RB_OK);
    CHECK(rb_store_begin(store, &err) == RB_EINTERNAL); /* no nesting */
    rb_error_clear(&err);
    CHECK(insert_named(store, 2, "dos", &err) == RB_OK);
    CHECK(insert_named(store, 3, "tres", &err) == RB_OK);
    CHECK(rb_store_exec(store, "UPDATE items SET name = 'changed' WHERE id = 1", &err) == RB_OK);
    CHECK(rb_store_exec(store, "DELETE FROM items WHERE id = 2", &err) == RB_OK);
    CHECK(query_int(store, "SELECT COUNT(*) FROM items") == 2);
    rb_store_rollback(store);
    CHECK(query_int(store, "SELECT COUNT(*) FROM items") == 1);
    CHECK(query_int(store, "SELECT COUNT(*) FROM items WHERE name = 'kept'") == 1);

    /* Closing with a transaction open rolls it back. */
    REQUIRE(rb_store_begin(store, &err) == RB_OK);
    CHECK(insert_named(store, 4, "cuatro", &err) == RB_OK);
    rb_store_close(store);
    store = open_store(location);
    REQUIRE(store != NULL);
    CHECK(query_int(store, "SELECT COUNT(*) FROM items") == 1);
    rb_store_close(store);
}

STORE_TEST(bad_statements_fail_cleanly)
{
    rb_store *store = open_with_items(location);
    REQUIRE(store != NULL);
    rb_error err = {0};
    rb_stmt *stmt;
    CHECK(rb_store_prepare(store, "SELEKT nothing", &stmt, &err) == RB_ESTORE);
    CHECK(err.message[0] != '\0');
    rb_error_clear(&err);
    CHECK(rb_store_exec(store, "SELECT * FROM no_such_table", &err) == RB_ESTORE);
    rb_error_clear(&err);
    CHECK(rb_store_commit(store, &err) == RB_EINTERNAL);
    REQUIRE(rb_store_prepare(store, "SELECT name FROM items WHERE id = $1", &stmt, &err) == RB_OK);
    CHECK(rb_stmt_bind_int64(stmt, 2, 1) != RB_OK);
    CHECK(rb_stmt_bind_int64(stmt, 0, 1) != RB_OK);
    rb_stmt_reset(stmt);
    /* The store still works after the failures. */
    CHECK(insert_named(store, 1, "ok", &err) == RB_OK);
    CHECK(query_int(store, "SELECT COUNT(*) FROM items") == 1);
    rb_store_close(store);
}

typedef struct migrator {
    const char *location;
    pthread_barrier_t *start;
    rb_status status;
    int applied;
    char message[512];
} migrator;

static void *migrate_thread(void *arg)
{
    migrator *m = arg;
    rb_store *store = NULL;
    rb_error err = {0};
    m->status = rb_store_open(m->location, &store, &err);
    pthread_barrier_wait(m->start);
    if (m->status == RB_OK)
        m->status = rb_store_migrate(store, NULL, &m->applied, &err);
    snprintf(m->message, sizeof(m->message), "%s", err.message);
    rb_store_close(store);
    return NULL;
}

STORE_TEST(concurrent_migrations_apply_once)
{
    pthread_barrier_t start;
    pthread_t threads[2];
    migrator m[2];
    REQUIRE(pthread_barrier_init(&start, NULL, 2) == 0);
    for (int i = 0; i < 2; i++) {
        m[i] = (migrator){.location = location, .start = &start, .applied = -1};
        REQUIRE(pthread_create(&threads[i], NULL, migrate_thread, &m[i]) == 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start);
    size_t count;
    rb_schema_migrations(&count);
    for (int i = 0; i < 2; i++) {
        if (m[i].status != RB_OK)
            fprintf(stderr, "  migrator %d: %s\n", i, m[i].message);
        CHECK(m[i].status == RB_OK);
    }
    CHECK(m[0].applied + m[1].applied == (int)count);
    CHECK(m[0].applied == 0 || m[1].applied == 0);
    rb_store *store = open_store(location);
    REQUIRE(store != NULL);
    CHECK(query_int(store, "SELECT COUNT(*) FROM schema_migrations") == (int64_t)count);
    CHECK(query_int(store, "SELECT COUNT(DISTINCT version) FROM schema_migrations") ==
          (int64_t)count);
    rb_store_close(store);
}

POSTGRES_TEST(postgres_session_settings)
{
    rb_store *store = open_store(location);
    REQUIRE(store != NULL);
    CHECK(rb_store_get_kind(store) == RB_STORE_POSTGRES);
    rb_error err = {0};
    rb_stmt *stmt;
    int has_row = 0;
    REQUIRE(rb_store_prepare(store,
                             "SELECT current_setting('synchronous_commit'),"
                             " current_setting('TimeZone'), current_setting('client_encoding'),"
                             " current_setting('transaction_isolation')",
                             &stmt, &err) == RB_OK);
    REQUIRE(rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row);
    CHECK_STR(rb_stmt_text(stmt, 0), "on");
    CHECK_STR(rb_stmt_text(stmt, 1), "UTC");
    CHECK_STR(rb_stmt_text(stmt, 2), "UTF8");
    rb_stmt_reset(stmt);
    REQUIRE(rb_store_begin(store, &err) == RB_OK);
    REQUIRE(rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row);
    CHECK_STR(rb_stmt_text(stmt, 3), "read committed");
    rb_store_rollback(store);
    rb_store_close(store);
}

/* PostgreSQL turns the COMMIT of a failed transaction into a ROLLBACK. */
POSTGRES_TEST(postgres_commit_after_failure_refused)
{
    rb_store *store = open_with_items(location);
    REQUIRE(store != NULL);
    rb_error err = {0};
    REQUIRE(rb_store_begin(store, &err) == RB_OK);
    CHECK(insert_named(store, 1, "one", &err) == RB_OK);
    CHECK(insert_named(store, 1, "one again", &err) == RB_ECONFLICT);
    CHECK(strstr(err.message, "items_pkey") != NULL);
    rb_error_clear(&err);
    CHECK(rb_store_commit(store, &err) != RB_OK);
    CHECK(!rb_store_in_transaction(store));
    CHECK(query_int(store, "SELECT COUNT(*) FROM items") == 0);
    rb_store_close(store);
}

/* A connection the server ends is reported, and closing it afterwards is safe. */
POSTGRES_TEST(postgres_lost_connection)
{
    rb_store *victim = open_store(location);
    rb_store *killer = open_store(location);
    REQUIRE(victim != NULL && killer != NULL);
    int64_t pid = query_int(victim, "SELECT pg_backend_pid()");
    REQUIRE(pid > 0);
    rb_stmt *stmt;
    rb_error err = {0};
    REQUIRE(rb_store_prepare(killer, "SELECT pg_terminate_backend($1)", &stmt, &err) == RB_OK);
    CHECK(rb_stmt_bind_int64(stmt, 1, pid) == RB_OK);
    CHECK(rb_stmt_run(stmt, &err) == RB_OK);
    CHECK(rb_store_exec(victim, "SELECT 1", &err) == RB_ESTORE);
    CHECK(strstr(err.message, "connection") != NULL);
    rb_error_clear(&err);
    CHECK(rb_store_prepare(victim, "SELECT pg_backend_pid()", &stmt, &err) == RB_OK);
    int has_row = 1;
    CHECK(rb_stmt_step(stmt, &has_row, &err) == RB_ESTORE && !has_row);
    rb_store_close(victim);
    rb_store_close(killer);
}

POSTGRES_TEST(postgres_description_hides_password)
{
    char with_password[LOCATION_LEN + 32];
    snprintf(with_password, sizeof(with_password), "%s&password=hunter2", location);
    rb_store *store = open_store(with_password);
    REQUIRE(store != NULL);
    CHECK(strstr(rb_store_get0_description(store), "hunter2") == NULL);
    CHECK(strstr(rb_store_get0_description(store), "password=***") != NULL);
    rb_store_close(store);
}

/* Opening fails with a message that names the problem and keeps the password out. */
static void check_open_fails(const char *location, rb_status expected, const char *needle)
{
    rb_store *store = NULL;
    rb_error err = {0};
    CHECK(rb_store_open(location, &store, &err) == expected);
    CHECK(store == NULL);
    CHECK(strstr(err.message, needle) != NULL);
    CHECK(strstr(err.message, "hunter2") == NULL);
    CHECK(strchr(err.message, '\n') == NULL);
}

TEST(store_open_errors)
{
    check_open_fails("", RB_EINVAL, "no database");
    check_open_fails("mysql://u:hunter2@host/db", RB_EINVAL, "unsupported");
    check_open_fails("postgres://u:hunter2@host:notaport/db", RB_EINVAL, "port 'notaport'");
    check_open_fails("postgres://u:hunter2@[::1", RB_EINVAL, "IPv6");
    check_open_fails("postgres://u:hunter2@host/db?nonsense=1", RB_EINVAL, "nonsense");
    check_open_fails("postgresql://u:hunter2@/db?host=/nonexistent-rubrica-socket", RB_ESTORE,
                     "/nonexistent-rubrica-socket");
    check_open_fails("postgresql://u:hunter2@127.0.0.1:1/db", RB_ESTORE, "127.0.0.1 port 1");
    check_open_fails("/nonexistent-rubrica-dir/rubrica.db", RB_EIO, "does not exist");
}

TEST(store_sqlite_damaged_file_untouched)
{
    char path[LOCATION_LEN];
    snprintf(path, sizeof(path), "%s/rubrica.db", test_tmpdir());
    uint8_t junk[8192], after[sizeof(junk) + 1];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 131 + 17);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    REQUIRE(fwrite(junk, 1, sizeof(junk), f) == sizeof(junk));
    fclose(f);
    rb_store *store = NULL;
    rb_error err = {0};
    rb_status status = rb_store_open(path, &store, &err);
    if (status == RB_OK)
        status = rb_store_migrate(store, NULL, NULL, &err);
    rb_store_close(store);
    CHECK(status == RB_ESTORE);
    CHECK(strstr(err.message, "damaged") != NULL);
    f = fopen(path, "rb");
    REQUIRE(f != NULL);
    CHECK(fread(after, 1, sizeof(after), f) == sizeof(junk));
    fclose(f);
    CHECK(memcmp(junk, after, sizeof(junk)) == 0);
}

/* How many of this process's threads are named name (/proc/self/task/TID/comm). */
static int threads_named(const char *name)
{
    DIR *tasks = opendir("/proc/self/task");
    struct dirent *entry;
    int count = 0;
    while (tasks != NULL && (entry = readdir(tasks)) != NULL) {
        char path[300], comm[64] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", entry->d_name);
        FILE *f = fopen(path, "r");
        if (f != NULL && fgets(comm, sizeof(comm), f) != NULL) {
            comm[strcspn(comm, "\n")] = '\0';
            count += strcmp(comm, name) == 0;
        }
        if (f != NULL)
            fclose(f);
    }
    if (tasks != NULL)
        closedir(tasks);
    return count;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/*
 * Commits well past the checkpoint threshold: a checkpoint thread starts,
 * and while the store is still open the pages reach the database file itself
 * (copied from the WAL); closing stops the thread; after reopening every row
 * is there and the file passes integrity_check.
 */
TEST(store_sqlite_checkpoints_while_open)
{
    char path[LOCATION_LEN];
    snprintf(path, sizeof(path), "%s/rubrica.db", test_tmpdir());
    rb_store *store = NULL;
    rb_error err = {0};
    rb_stmt *stmt = NULL;
    enum { TRANSACTIONS = 40, ROWS = 60, BLOB = 3000 };
    static uint8_t blob[BLOB];
    memset(blob, 0x5a, sizeof(blob));
    int threads_before = threads_named(RB_SQLITE_CHECKPOINT_THREAD);
    REQUIRE(rb_store_open(path, &store, &err) == RB_OK);
    REQUIRE(rb_store_exec(store, "CREATE TABLE filler (b BLOB)", &err) == RB_OK);
    CHECK(threads_named(RB_SQLITE_CHECKPOINT_THREAD) == threads_before); /* none due yet */
    rb_status s = RB_OK;
    for (int t = 0; s == RB_OK && t < TRANSACTIONS; t++) {
        s = rb_store_begin(store, &err);
        for (int r = 0; s == RB_OK && r < ROWS; r++) {
            s = rb_store_prepare(store, "INSERT INTO filler (b) VALUES ($1)", &stmt, &err);
            if (s == RB_OK)
                s = rb_stmt_bind_blob(stmt, 1, blob, sizeof(blob));
            if (s == RB_OK)
                s = rb_stmt_run(stmt, &err);
        }
        if (s == RB_OK)
            s = rb_store_commit(store, &err);
    }
    CHECK(s == RB_OK);
    /* Half of what was written, in the database file before any close. */
    off_t want = (off_t)TRANSACTIONS * ROWS * BLOB / 2;
    for (int wait = 0; wait < 1000 && file_size(path) < want; wait++)
        usleep(10000);
    CHECK(file_size(path) >= want);
    CHECK(threads_named(RB_SQLITE_CHECKPOINT_THREAD) == threads_before + 1);
    rb_store_close(store);
    CHECK(threads_named(RB_SQLITE_CHECKPOINT_THREAD) == threads_before);
    store = NULL;
    int has_row = 0;
    REQUIRE(rb_store_open(path, &store, &err) == RB_OK);
    REQUIRE(rb_store_prepare(store, "SELECT count(*) FROM filler", &stmt, &err) == RB_OK);
    CHECK(rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row &&
          rb_stmt_int64(stmt, 0) == TRANSACTIONS * ROWS);
    rb_stmt_reset(stmt);
    REQUIRE(rb_store_prepare(store, "PRAGMA integrity_check", &stmt, &err) == RB_OK);
    CHECK(rb_stmt_step(stmt, &has_row, &err) == RB_OK && has_row &&
          strcmp(rb_stmt_text(stmt, 0), "ok") == 0);
    rb_stmt_reset(stmt);
    rb_store_close(store);
}
