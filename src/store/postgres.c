/*
 * PostgreSQL back end over libpq. Each statement is prepared on the server
 * once, under a name unique to the connection; parameters travel as text,
 * blobs in binary; results come back as text, bytea decoded from its escaped
 * form. Every session runs in UTC and UTF-8 with synchronous commit on, so a
 * COMMIT returns only once the record is durable.
 */
#include "store/backend.h"

#include "core/log.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The OID of boolean in PostgreSQL's catalog (fixed since the first release). */
#define PG_BOOL_OID 16
/* Seconds to wait for a server, unless the URL or PGCONNECT_TIMEOUT says otherwise. */
#define PG_CONNECT_TIMEOUT "10"

typedef struct pg_conn {
    PGconn *conn;
    unsigned long prepared; /* statements prepared so far, to name the next one */
} pg_conn;

typedef struct pg_stmt {
    pg_conn *pg;
    char name[32];
    int on_server; /* the server holds a prepared statement under name */
    int nparams;
    char **values;    /* owned copies; NULL sends SQL NULL */
    int *lengths;     /* used for binary values only */
    int *formats;     /* 0 text, 1 binary */
    PGresult *result; /* non-NULL once executed, until reset */
    int row;          /* current row, -1 before the first step */
    int ncols;
    unsigned char **blobs; /* the current row's decoded bytea, by column */
    size_t *blob_lens;
} pg_stmt;

/*
 * Copies a libpq message onto one line: line breaks (and the indentation
 * after them) become "; ", trailing white space is dropped.
 */
static void one_line(const char *in, char *out, size_t len)
{
    size_t used = 0;
    if (len == 0)
        return;
    for (const char *p = in; *p && used + 3 < len; p++) {
        if (*p != '\n') {
            out[used++] = *p == '\t' ? ' ' : *p;
            continue;
        }
        while (p[1] == '\n' || p[1] == '\t' || p[1] == ' ')
            p++;
        if (p[1] != '\0') {
            out[used++] = ';';
            out[used++] = ' ';
        }
    }
    while (used > 0 && (out[used - 1] == ' ' || out[used - 1] == '\n'))
        used--;
    out[used] = '\0';
}

/* Replaces every occurrence of secret in text with "***", truncating to len. */
static void blank_secret(char *text, size_t len, const char *secret, size_t secret_len)
{
    if (secret == NULL || secret_len == 0 || len == 0)
        return;
    char out[1024];
    size_t used = 0;
    for (const char *p = text; *p != '\0' && used + 4 < sizeof(out);) {
        if (strncmp(p, secret, secret_len) == 0) {
            memcpy(out + used, "***", 3);
            used += 3;
            p += secret_len;
        } else {
            out[used++] = *p++;
        }
    }
    if (used >= len)
        used = len - 1;
    memcpy(text, out, used);
    text[used] = '\0';
}

/*
 * Blanks the password of url wherever it appears in text: the raw form from
 * the URL's user information (libpq quotes undecodable URLs back) and the
 * decoded form when the URL could be parsed.
 */
static void hide_password(char *text, size_t len, const char *url, const char *decoded)
{
    const char *authority = strstr(url, "://");
    if (authority != NULL) {
        authority += 3;
        size_t span = strcspn(authority, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < span; i++)
            if (authority[i] == '@')
                at = authority + i;
        const char *colon = at ? memchr(authority, ':', (size_t)(at - authority)) : NULL;
        if (colon != NULL)
            blank_secret(text, len, colon + 1, (size_t)(at - colon - 1));
    }
    if (decoded != NULL)
        blank_secret(text, len, decoded, strlen(decoded));
}

static rb_status fail_result(pg_conn *pg, const PGresult *res, rb_error *err)
{
    char message[400];
    if (res == NULL || PQstatus(pg->conn) == CONNECTION_BAD) {
        one_line(PQerrorMessage(pg->conn), message, sizeof(message));
        if (PQstatus(pg->conn) == CONNECTION_BAD)
            return rb_fail(err, RB_ESTORE, NULL,
                           "database: the connection to PostgreSQL was lost: %s", message);
        return rb_fail(err, RB_ENOMEM, NULL, "database: %s", message);
    }
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    one_line(primary ? primary : PQresultErrorMessage(res), message, sizeof(message));
    if (state == NULL)
        return rb_fail(err, RB_ESTORE, NULL, "database: %s", message);
    if (strcmp(state, "23505") == 0 || strcmp(state, "23503") == 0) {
        if (constraint == NULL || strstr(message, constraint) != NULL)
            return rb_fail(err, RB_ECONFLICT, NULL, "database: %s", message);
        return rb_fail(err, RB_ECONFLICT, NULL, "database: %s (constraint %s)", message,
                       constraint);
    }
    return rb_fail(err, RB_ESTORE, NULL, "database: %s (SQLSTATE %s)", message, state);
}

/* RB_OK when res reports success; otherwise fills err from it. */
static rb_status check_result(pg_conn *pg, const PGresult *res, rb_error *err)
{
    ExecStatusType kind = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (kind == PGRES_COMMAND_OK || kind == PGRES_TUPLES_OK || kind == PGRES_EMPTY_QUERY)
        return RB_OK;
    return fail_result(pg, res, err);
}

/* Notices (such as "relation already exists, skipping") are for debugging only. */
static void log_notice(void *arg, const char *message)
{
    char text[512];
    (void)arg;
    one_line(message, text, sizeof(text));
    rb_log(RB_LOG_DEBUG, "postgres: %s", text);
}

static void pg_close(void *impl)
{
    pg_conn *pg = impl;
    if (pg == NULL)
        return;
    PQfinish(pg->conn);
    free(pg);
}

static rb_status pg_exec(void *impl, const char *sql, rb_error *err)
{
    pg_conn *pg = impl;
    PGresult *res = PQexec(pg->conn, sql);
    rb_status status = check_result(pg, res, err);
    /*
     * COMMIT of a transaction in which a statement failed is answered with
     * ROLLBACK and no error; the caller must not believe its data is stored.
     */
    if (status == RB_OK && strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(res), "ROLLBACK") == 0)
        status = rb_fail(err, RB_ESTORE, NULL,
                         "database: the transaction was rolled back because a statement in it "
                         "failed");
    PQclear(res);
    return status;
}

static void clear_blobs(pg_stmt *stmt)
{
    for (int i = 0; stmt->blobs != NULL && i < stmt->ncols; i++) {
        PQfreemem(stmt->blobs[i]);
        stmt->blobs[i] = NULL;
        stmt->blob_lens[i] = 0;
    }
}

static void clear_result(pg_stmt *stmt)
{
    clear_blobs(stmt);
    free(stmt->blobs);
    free(stmt->blob_lens);
    stmt->blobs = NULL;
    stmt->blob_lens = NULL;
    stmt->ncols = 0;
    PQclear(stmt->result);
    stmt->result = NULL;
    stmt->row = -1;
}

static void pg_reset(void *stmt_impl)
{
    pg_stmt *stmt = stmt_impl;
    clear_result(stmt);
    for (int i = 0; i < stmt->nparams; i++) {
        free(stmt->values[i]);
        stmt->values[i] = NULL;
        stmt->lengths[i] = 0;
        stmt->formats[i] = 0;
    }
}

static void pg_finalize(void *stmt_impl)
{
    pg_stmt *stmt = stmt_impl;
    if (stmt == NULL)
        return;
    pg_reset(stmt);
    /*
     * Outside a transaction the server copy is dropped now; inside one a
     * failure would abort the caller's work, so it is left to disconnection.
     */
    PGconn *conn = stmt->pg->conn;
    if (stmt->on_server && PQstatus(conn) == CONNECTION_OK &&
        PQtransactionStatus(conn) == PQTRANS_IDLE) {
        char sql[64];
        snprintf(sql, sizeof(sql), "DEALLOCATE %s", stmt->name);
        PQclear(PQexec(conn, sql));
    }
    free(stmt->values);
    free(stmt->lengths);
    free(stmt->formats);
    free(stmt);
}

static rb_status allocate_params(pg_stmt *stmt, int nparams, rb_error *err)
{
    size_t n = nparams > 0 ? (size_t)nparams : 1;
    stmt->values = calloc(n, sizeof(*stmt->values));
    stmt->lengths = calloc(n, sizeof(*stmt->lengths));
    stmt->formats = calloc(n, sizeof(*stmt->formats));
    if (stmt->values == NULL || stmt->lengths == NULL || stmt->formats == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory preparing a statement");
    stmt->nparams = nparams;
    return RB_OK;
}

static rb_status pg_prepare(void *impl, const char *sql, void **stmt_impl, rb_error *err)
{
    pg_conn *pg = impl;
    pg_stmt *stmt = calloc(1, sizeof(*stmt));
    if (stmt == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory preparing a statement");
    stmt->pg = pg;
    stmt->row = -1;
    snprintf(stmt->name, sizeof(stmt->name), "rb_%lu", ++pg->prepared);
    PGresult *res = PQprepare(pg->conn, stmt->name, sql, 0, NULL);
    rb_status status = check_result(pg, res, err);
    PQclear(res);
    if (status == RB_OK) {
        stmt->on_server = 1;
        /* The server counts the parameters; $N inside literals would fool a scan. */
        res = PQdescribePrepared(pg->conn, stmt->name);
        status = check_result(pg, res, err);
        if (status == RB_OK)
            status = allocate_params(stmt, PQnparams(res), err);
        PQclear(res);
    }
    if (status != RB_OK) {
        pg_finalize(stmt);
        return status;
    }
    *stmt_impl = stmt;
    return RB_OK;
}

/* Stores value (owned, may be NULL for SQL NULL) as parameter index. */
static rb_status set_param(pg_stmt *stmt, int index, char *value, int len, int format)
{
    if (index < 1 || index > stmt->nparams) {
        free(value);
        return RB_EINTERNAL;
    }
    free(stmt->values[index - 1]);
    stmt->values[index - 1] = value;
    stmt->lengths[index - 1] = len;
    stmt->formats[index - 1] = format;
    return RB_OK;
}

static rb_status pg_bind_text(void *stmt_impl, int index, const char *text)
{
    char *copy = strdup(text);
    if (copy == NULL)
        return RB_ENOMEM;
    return set_param(stmt_impl, index, copy, 0, 0);
}

static rb_status pg_bind_int64(void *stmt_impl, int index, int64_t value)
{
    char text[24];
    snprintf(text, sizeof(text), "%" PRId64, value);
    return pg_bind_text(stmt_impl, index, text);
}

static rb_status pg_bind_blob(void *stmt_impl, int index, const void *data, size_t len)
{
    if (len > INT_MAX)
        return RB_EINVAL;
    char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return RB_ENOMEM;
    memcpy(copy, data, len);
    return set_param(stmt_impl, index, copy, (int)len, 1);
}

static rb_status pg_bind_null(void *stmt_impl, int index)
{
    return set_param(stmt_impl, index, NULL, 0, 0);
}

static rb_status execute(pg_stmt *stmt, rb_error *err)
{
    PGresult *res =
        PQexecPrepared(stmt->pg->conn, stmt->name, stmt->nparams, (const char *const *)stmt->values,
                       stmt->lengths, stmt->formats, 0);
    rb_status status = check_result(stmt->pg, res, err);
    if (status != RB_OK) {
        PQclear(res);
        return status;
    }
    int ncols = PQnfields(res);
    size_t n = ncols > 0 ? (size_t)ncols : 1;
    stmt->blobs = calloc(n, sizeof(*stmt->blobs));
    stmt->blob_lens = calloc(n, sizeof(*stmt->blob_lens));
    stmt->result = res;
    stmt->ncols = ncols;
    stmt->row = -1;
    if (stmt->blobs == NULL || stmt->blob_lens == NULL) {
        clear_result(stmt);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory reading a result");
    }
    return RB_OK;
}

static rb_status pg_step(void *stmt_impl, int *has_row, rb_error *err)
{
    pg_stmt *stmt = stmt_impl;
    *has_row = 0;
    if (stmt->result == NULL) {
        rb_status status = execute(stmt, err);
        if (status != RB_OK)
            return status;
    }
    clear_blobs(stmt);
    int rows = PQntuples(stmt->result);
    if (stmt->row < rows)
        stmt->row++;
    *has_row = stmt->row < rows;
    return RB_OK;
}

/* The current row's value in col, or NULL when there is none or it is NULL. */
static const char *value_at(pg_stmt *stmt, int col)
{
    if (stmt->result == NULL || stmt->row < 0 || stmt->row >= PQntuples(stmt->result) || col < 0 ||
        col >= stmt->ncols || PQgetisnull(stmt->result, stmt->row, col))
        return NULL;
    return PQgetvalue(stmt->result, stmt->row, col);
}

static int pg_is_null(void *stmt_impl, int col)
{
    return value_at(stmt_impl, col) == NULL;
}

static const char *pg_text(void *stmt_impl, int col)
{
    return value_at(stmt_impl, col);
}

static int64_t pg_column_int64(void *stmt_impl, int col)
{
    pg_stmt *stmt = stmt_impl;
    const char *value = value_at(stmt, col);
    if (value == NULL)
        return 0;
    /* Booleans read as 1 and 0, as SQLite stores them. */
    if (PQftype(stmt->result, col) == PG_BOOL_OID)
        return value[0] == 't';
    return strtoll(value, NULL, 10);
}

static const uint8_t *pg_blob(void *stmt_impl, int col, size_t *len)
{
    pg_stmt *stmt = stmt_impl;
    const char *value = value_at(stmt, col);
    *len = 0;
    if (value == NULL)
        return NULL;
    if (stmt->blobs[col] == NULL) {
        size_t decoded_len = 0;
        unsigned char *decoded = PQunescapeBytea((const unsigned char *)value, &decoded_len);
        if (decoded == NULL)
            return NULL;
        stmt->blobs[col] = decoded;
        stmt->blob_lens[col] = decoded_len;
    }
    *len = stmt->blob_lens[col];
    return stmt->blobs[col];
}

static const rb_store_ops postgres_ops = {
    .close = pg_close,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .bind_text = pg_bind_text,
    .bind_int64 = pg_bind_int64,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .is_null = pg_is_null,
    .text = pg_text,
    .int64 = pg_column_int64,
    .blob = pg_blob,
    .reset = pg_reset,
    .begin_sql = "BEGIN ISOLATION LEVEL READ COMMITTED",
};

/* 1 when text is a comma-separated list of numbers from low to high (empty items allowed). */
static int is_number_list(const char *text, long low, long high)
{
    const char *p = text;
    while (*p) {
        size_t span = strcspn(p, ",");
        if (span > 0) {
            if (span > 9 || strspn(p, "0123456789") != span)
                return 0;
            long n = strtol(p, NULL, 10);
            if (n < low || n > high)
                return 0;
        }
        p += span;
        if (*p == ',')
            p++;
    }
    return 1;
}

/*
 * Parses url as libpq will and checks the numbers libpq only checks while
 * connecting, so that a typo is reported as a bad URL, not a network failure.
 */
static rb_status check_url(const char *url, rb_error *err)
{
    char *parse_error = NULL;
    char message[400];
    PQconninfoOption *options = PQconninfoParse(url, &parse_error);
    if (options == NULL) {
        one_line(parse_error ? parse_error : "out of memory", message, sizeof(message));
        PQfreemem(parse_error);
        hide_password(message, sizeof(message), url, NULL);
        return rb_fail(err, RB_EINVAL, NULL, "invalid PostgreSQL URL: %s", message);
    }
    rb_status status = RB_OK;
    for (PQconninfoOption *o = options; o->keyword != NULL && status == RB_OK; o++) {
        if (o->val == NULL)
            continue;
        if (strcmp(o->keyword, "port") == 0 && !is_number_list(o->val, 1, 65535))
            status = rb_fail(err, RB_EINVAL, NULL,
                             "invalid PostgreSQL URL: the port '%s' is not a number from 1 to "
                             "65535",
                             o->val);
        else if (strcmp(o->keyword, "connect_timeout") == 0 &&
                 !is_number_list(o->val, 0, 100000000))
            status = rb_fail(err, RB_EINVAL, NULL,
                             "invalid PostgreSQL URL: connect_timeout '%s' is not a number of "
                             "seconds",
                             o->val);
    }
    PQconninfoFree(options);
    return status;
}

/* Fills err for a connection that failed, naming the server that was tried. */
static rb_status fail_connect(PGconn *conn, const char *url, rb_error *err)
{
    char message[400], where[300];
    const char *host = PQhost(conn), *port = PQport(conn), *db = PQdb(conn);
    if (host == NULL || host[0] == '\0')
        snprintf(where, sizeof(where), "the default socket");
    else if (host[0] == '/' || host[0] == '@')
        snprintf(where, sizeof(where), "socket directory %s", host);
    else
        snprintf(where, sizeof(where), "host %s", host);
    if (port != NULL && port[0] != '\0')
        snprintf(where + strlen(where), sizeof(where) - strlen(where), " port %s", port);
    if (db != NULL && db[0] != '\0')
        snprintf(where + strlen(where), sizeof(where) - strlen(where), ", database %s", db);
    one_line(PQerrorMessage(conn), message, sizeof(message));
    hide_password(message, sizeof(message), url, PQpass(conn));
    hide_password(where, sizeof(where), url, PQpass(conn));
    return rb_fail(err, RB_ESTORE, NULL, "cannot connect to PostgreSQL at %s: %s", where, message);
}

/* Settings every session needs whatever the server's defaults are. */
static const char session_sql[] = "SET synchronous_commit = on; SET TimeZone = 'UTC'";

rb_status rb_postgres_open(const char *url, void **impl, const rb_store_ops **ops, rb_error *err)
{
    rb_status status = check_url(url, err);
    if (status != RB_OK)
        return status;
    /* Keywords before dbname are defaults the URL may override; those after are forced. */
    const char *keywords[] = {"connect_timeout", "fallback_application_name", "dbname",
                              "client_encoding", NULL};
    const char *values[] = {getenv("PGCONNECT_TIMEOUT") ? NULL : PG_CONNECT_TIMEOUT, "rubrica", url,
                            "UTF8", NULL};
    pg_conn *pg = calloc(1, sizeof(*pg));
    if (pg == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory opening the store");
    pg->conn = PQconnectdbParams(keywords, values, 1);
    if (pg->conn == NULL) {
        free(pg);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory connecting to PostgreSQL");
    }
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        status = fail_connect(pg->conn, url, err);
        pg_close(pg);
        return status;
    }
    PQsetNoticeProcessor(pg->conn, log_notice, NULL);
    status = pg_exec(pg, session_sql, err);
    if (status != RB_OK) {
        pg_close(pg);
        return status;
    }
    *impl = pg;
    *ops = &postgres_ops;
    return RB_OK;
}
