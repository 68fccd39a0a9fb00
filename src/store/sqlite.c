/*
 * SQLite back end: one database file in WAL mode with foreign keys enforced
 * and full fsync on commit, so a committed record survives a crash or a power
 * cut. Placeholders are $1, $2 ... and are bound by name.
 */
#include "store/backend.h"
#include "store/sqlite_checkpoint.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static rb_status fail_sqlite(sqlite3 *db, int rc, rb_error *err, const char *what)
{
    int primary = rc & 0xFF;
    rb_status status = RB_ESTORE;
    if (primary == SQLITE_CONSTRAINT)
        status = RB_ECONFLICT;
    else if (primary == SQLITE_NOMEM)
        status = RB_ENOMEM;
    const char *detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
        return rb_fail(err, RB_ESTORE, NULL,
                       "%s: the database file is damaged or is not a "
                       "Rúbrica database (%s)",
                       what, detail);
    if (primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN || primary == SQLITE_PERM)
        return rb_fail(err, RB_ESTORE, NULL, "%s: the database file cannot be written (%s)", what,
                       detail);
    return rb_fail(err, status, NULL, "%s: %s", what, detail);
}

/* One connection. */
typedef struct sqlite_conn {
    sqlite3 *db;
    int wal;                          /* the journal mode is WAL */
    const volatile uint32_t *wal_hdr; /* the wal-index header, once mapped */
    rb_sqlite_checkpointer *ckpt;     /* WAL mode: checkpoints off the commit path */
} sqlite_conn;

static void sqlite_close(void *impl)
{
    sqlite_conn *conn = impl;
    rb_sqlite_checkpointer_free(conn->ckpt); /* first: closing the last connection checkpoints */
    sqlite3_close_v2(conn->db);
    free(conn);
}

static rb_status sqlite_exec(void *impl, const char *sql, rb_error *err)
{
    sqlite_conn *conn = impl;
    int rc = sqlite3_exec(conn->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return fail_sqlite(conn->db, rc, err, "database");
    return RB_OK;
}

static rb_status sqlite_prepare(void *impl, const char *sql, void **stmt_impl, rb_error *err)
{
    sqlite_conn *conn = impl;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(conn->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK)
        return fail_sqlite(conn->db, rc, err, "database");
    *stmt_impl = stmt;
    return RB_OK;
}

static void sqlite_finalize(void *stmt_impl)
{
    sqlite3_finalize(stmt_impl);
}

/* Maps the 1-based $N of the SQL text to SQLite's parameter index. */
static int parameter_index(sqlite3_stmt *stmt, int index)
{
    char name[16], digits[12];
    size_t n = 0, len = 0;
    /* Written by hand: snprintf costs more than the lookup, on every bind. */
    unsigned value = index > 0 ? (unsigned)index : 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    name[len++] = '$';
    while (n > 0)
        name[len++] = digits[--n];
    name[len] = '\0';
    return sqlite3_bind_parameter_index(stmt, name);
}

static rb_status bind_result(int rc)
{
    return rc == SQLITE_OK ? RB_OK : RB_EINTERNAL;
}

static rb_status sqlite_bind_text(void *stmt_impl, int index, const char *text)
{
    return bind_result(sqlite3_bind_text(stmt_impl, parameter_index(stmt_impl, index), text, -1,
                                         SQLITE_TRANSIENT));
}

static rb_status sqlite_bind_int64(void *stmt_impl, int index, int64_t value)
{
    return bind_result(sqlite3_bind_int64(stmt_impl, parameter_index(stmt_impl, index), value));
}

static rb_status sqlite_bind_blob(void *stmt_impl, int index, const void *data, size_t len)
{
    return bind_result(sqlite3_bind_blob64(stmt_impl, parameter_index(stmt_impl, index), data, len,
                                           SQLITE_TRANSIENT));
}

static rb_status sqlite_bind_null(void *stmt_impl, int index)
{
    return bind_result(sqlite3_bind_null(stmt_impl, parameter_index(stmt_impl, index)));
}

static rb_status sqlite_step(void *stmt_impl, int *has_row, rb_error *err)
{
    int rc = sqlite3_step(stmt_impl);
    if (rc == SQLITE_ROW) {
        *has_row = 1;
        return RB_OK;
    }
    *has_row = 0;
    if (rc == SQLITE_DONE)
        return RB_OK;
    sqlite3 *db = sqlite3_db_handle(stmt_impl);
    rb_status status = fail_sqlite(db, sqlite3_extended_errcode(db), err, "database");
    sqlite3_reset(stmt_impl);
    return status;
}

static int sqlite_is_null(void *stmt_impl, int col)
{
    return sqlite3_column_type(stmt_impl, col) == SQLITE_NULL;
}

static const char *sqlite_text(void *stmt_impl, int col)
{
    return (const char *)sqlite3_column_text(stmt_impl, col);
}

static int64_t column_int64(void *stmt_impl, int col)
{
    return sqlite3_column_int64(stmt_impl, col);
}

static const uint8_t *sqlite_blob(void *stmt_impl, int col, size_t *len)
{
    const uint8_t *data = sqlite3_column_blob(stmt_impl, col);
    *len = (size_t)sqlite3_column_bytes(stmt_impl, col);
    return data;
}

static void sqlite_reset(void *stmt_impl)
{
    sqlite3_reset(stmt_impl);
    sqlite3_clear_bindings(stmt_impl);
}

/*
 * The change counter comes from the wal-index header, the first 96 bytes of
 * the -shm file every connection to a WAL database maps (file format:
 * https://www.sqlite.org/walformat.html, section 2.1, stable across SQLite
 * versions since they share it). Every commit increments iChange (word 2)
 * and rewrites the header's checksum (word 10), writing the second copy
 * first and the first copy last; a reader that finds the two copies equal
 * and initialised has a consistent header. Reading it is what SQLite itself
 * does before each read transaction, minus the locks.
 */
#define WAL_HDR_WORDS     12 /* 48 bytes per copy */
#define WAL_INDEX_VERSION 3007000u
#define WAL_INDEX_PAGE    32768

static const volatile uint32_t *map_wal_header(sqlite_conn *conn)
{
    sqlite3_file *file = NULL;
    if (!conn->wal ||
        sqlite3_file_control(conn->db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
        file == NULL || file->pMethods == NULL || file->pMethods->iVersion < 2 ||
        file->pMethods->xShmMap == NULL)
        return NULL;
    volatile void *region = NULL;
    if (file->pMethods->xShmMap(file, 0, WAL_INDEX_PAGE, 0, &region) != SQLITE_OK)
        return NULL;
    return (const volatile uint32_t *)region;
}

static uint64_t sqlite_change_counter(void *impl)
{
    sqlite_conn *conn = impl;
    if (conn->wal_hdr == NULL && (conn->wal_hdr = map_wal_header(conn)) == NULL)
        return 0;
    uint32_t first[WAL_HDR_WORDS], second[WAL_HDR_WORDS];
    for (int i = 0; i < WAL_HDR_WORDS; i++)
        first[i] = conn->wal_hdr[i];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (int i = 0; i < WAL_HDR_WORDS; i++)
        second[i] = conn->wal_hdr[WAL_HDR_WORDS + i];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    int is_init = ((const uint8_t *)first)[12];
    if (memcmp(first, second, sizeof(first)) != 0 || !is_init || first[0] != WAL_INDEX_VERSION)
        return 0;                                /* being written, or not a header we know */
    return (uint64_t)first[10] << 32 | first[2]; /* header checksum, iChange */
}

static const rb_store_ops sqlite_ops = {
    .close = sqlite_close,
    .exec = sqlite_exec,
    .prepare = sqlite_prepare,
    .finalize = sqlite_finalize,
    .bind_text = sqlite_bind_text,
    .bind_int64 = sqlite_bind_int64,
    .bind_blob = sqlite_bind_blob,
    .bind_null = sqlite_bind_null,
    .step = sqlite_step,
    .is_null = sqlite_is_null,
    .text = sqlite_text,
    .int64 = column_int64,
    .blob = sqlite_blob,
    .reset = sqlite_reset,
    .change_counter = sqlite_change_counter,
    .begin_sql = "BEGIN IMMEDIATE",
};

/* Refuses a path whose directory is missing, so a typo never creates a tree. */
static rb_status check_directory(const char *path, rb_error *err)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return RB_OK;
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return rb_fail(err, RB_EIO, NULL, "the directory %s does not exist", dir);
    return RB_OK;
}

/* Whether the connection's journal mode is WAL (it stays in rollback mode where WAL cannot work).
 */
static int journal_is_wal(sqlite3 *db)
{
    sqlite3_stmt *stmt = NULL;
    int wal = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(stmt, 0);
        wal = mode != NULL && strcmp((const char *)mode, "wal") == 0;
    }
    sqlite3_finalize(stmt);
    return wal;
}

rb_status rb_sqlite_open(const char *path, void **impl, const rb_store_ops **ops, rb_error *err)
{
    rb_status status = check_directory(path, err);
    if (status != RB_OK)
        return status;
    if (access(path, F_OK) == 0 && access(path, W_OK) != 0)
        return rb_fail(err, RB_ESTORE, NULL, "the database file %s is read-only", path);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        status = fail_sqlite(db, rc, err, path);
        sqlite3_close_v2(db);
        return status;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_extended_result_codes(db, 1);
    /* Reading the schema version forces SQLite to check the file header.
     * Switching a new file to WAL takes an exclusive lock without calling the
     * busy handler, so two processes opening a fresh store at once can see
     * SQLITE_BUSY here: wait and try again, for as long as the busy timeout. */
    for (int attempt = 0;; attempt++) {
        rc = sqlite3_exec(db,
                          "PRAGMA schema_version; PRAGMA journal_mode=WAL; "
                          "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                          /* Issuance inserts into several indexes at random
                           * places (serial, key hash): past a million rows the
                           * default 2 MB cache re-reads their pages for every
                           * certificate. This does not change durability. */
                          "PRAGMA cache_size=-32768;",
                          NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY || attempt >= 500)
            break;
        sqlite3_sleep(20);
    }
    if (rc != SQLITE_OK) {
        status = fail_sqlite(db, rc, err, path);
        sqlite3_close_v2(db);
        return status;
    }
    sqlite_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        sqlite3_close_v2(db);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    conn->db = db;
    conn->wal = journal_is_wal(db);
    if (conn->wal)
        conn->ckpt = rb_sqlite_checkpointer_attach(db, path);
    *impl = conn;
    *ops = &sqlite_ops;
    return RB_OK;
}
