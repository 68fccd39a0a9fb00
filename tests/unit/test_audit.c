/*
 * Unit tests of src/audit: appending inside transactions, verifying the chain
 * and classifying each kind of tampering done with raw SQL, listing with
 * filters, and manual entries. Each test runs on SQLite and, when
 * RUBRICA_TEST_PG is set and the PostgreSQL back end is built, on PostgreSQL
 * in a schema of its own.
 */
#include "fixture.h"
#include "harness.h"

#include "audit/audit.h"
#include "store/migrate.h"
#include "store/store.h"

#include <stdlib.h>
#include <unistd.h>

#define T0 1795000000000LL /* 2026-11-18T... UTC */

static const char *const actions[] = {"cert.issue", "cert.revoke", "key.ceremony", "api.denied",
                                      "certificate.renamed"};

/* Runs body once per available back end, each on a fresh migrated store. */
static void on_each_backend(void (*body)(rb_ctx *ctx))
{
    test_on_each_backend("audit", T0, "test:alice", body);
}

/* Appends records first..last in one transaction, one second apart. */
static int append_range(rb_ctx *ctx, int first, int last)
{
    rb_error err = {0};
    if (rb_store_begin(ctx->store, &err) != RB_OK)
        return 0;
    for (int i = first; i <= last; i++) {
        char object[32];
        int64_t seq = 0;
        snprintf(object, sizeof(object), "obj:%d", i);
        json_t *detail = json_pack("{s:i,s:s}", "i", i, "note", "ñandú");
        ctx->clock.fixed_ms = T0 + (int64_t)i * 1000;
        ctx->actor = i % 2 ? "test:alice" : "test:bob";
        rb_status status = rb_audit_append(ctx, actions[i % 5], object, detail, &seq, &err);
        json_decref(detail);
        if (status != RB_OK || seq != i) {
            fprintf(stderr, "  append %d: %s\n", i, err.message);
            rb_store_rollback(ctx->store);
            return 0;
        }
    }
    return rb_store_commit(ctx->store, &err) == RB_OK;
}

static int run_sql(rb_ctx *ctx, const char *sql)
{
    rb_error err = {0};
    if (rb_store_exec(ctx->store, sql, &err) == RB_OK)
        return 1;
    fprintf(stderr, "  %s: %s\n", sql, err.message);
    return 0;
}

static int64_t count_rows(rb_ctx *ctx)
{
    return test_query_int(ctx, "SELECT count(*) FROM audit_log");
}

/* Verifies and checks the problem and the record it names. */
static int verify_is(rb_ctx *ctx, rb_audit_problem problem, int64_t bad_seq)
{
    rb_audit_report report = {0};
    rb_error err = {0};
    if (rb_audit_verify(ctx, &report, &err) != RB_OK) {
        fprintf(stderr, "  verify failed: %s\n", err.message);
        return 0;
    }
    if (report.problem == problem && report.bad_seq == bad_seq)
        return 1;
    fprintf(stderr, "  expected %s at %lld, got %s at %lld (%s)\n", rb_audit_problem_name(problem),
            (long long)bad_seq, rb_audit_problem_name(report.problem), (long long)report.bad_seq,
            report.reason);
    return 0;
}

/* Moves records with seq >= from up by delta (negative: down), in two safe steps. */
static int shift_seqs(rb_ctx *ctx, int64_t from, int64_t delta)
{
    char sql[200];
    snprintf(sql, sizeof(sql), "UPDATE audit_log SET seq = -(seq + %lld) WHERE seq >= %lld",
             (long long)delta, (long long)from);
    return run_sql(ctx, sql) && run_sql(ctx, "UPDATE audit_log SET seq = -seq WHERE seq < 0");
}

static int swap_seqs(rb_ctx *ctx, int a, int b)
{
    char sql[300];
    snprintf(sql, sizeof(sql),
             "UPDATE audit_log SET seq = -1 WHERE seq = %d;"
             " UPDATE audit_log SET seq = %d WHERE seq = %d;"
             " UPDATE audit_log SET seq = %d WHERE seq = -1",
             a, a, b, b);
    return run_sql(ctx, sql);
}

/* Reads the stored hash of record seq. */
static int stored_hash(rb_ctx *ctx, int64_t seq, uint8_t out[RB_AUDIT_HASH_LEN])
{
    rb_stmt *stmt;
    rb_error err = {0};
    int has_row = 0, ok = 0;
    size_t len = 0;
    if (rb_store_prepare(ctx->store, "SELECT hash FROM audit_log WHERE seq = $1", &stmt, &err) ==
            RB_OK &&
        rb_stmt_bind_int64(stmt, 1, seq) == RB_OK && rb_stmt_step(stmt, &has_row, &err) == RB_OK &&
        has_row) {
        const uint8_t *blob = rb_stmt_blob(stmt, 0, &len);
        ok = len == RB_AUDIT_HASH_LEN;
        if (ok)
            memcpy(out, blob, len);
    }
    rb_stmt_reset(stmt);
    return ok;
}

/*
 * Writes a forged record at seq with a correctly computed hash, linking to
 * the record link_to (0: the start of the log), as someone with write access
 * to the database could.
 */
static int forge(rb_ctx *ctx, int64_t seq, int64_t link_to)
{
    rb_audit_record rec = {.seq = seq,
                           .at_ms = T0 + 500,
                           .actor = "test:mallory",
                           .action = "cert.issue",
                           .object = "obj:forged",
                           .detail = "{}"};
    rb_stmt *stmt;
    rb_error err = {0};
    if (link_to > 0 && !stored_hash(ctx, link_to, rec.prev_hash))
        return 0;
    rb_audit_record_hash(&rec, rec.hash);
    if (rb_store_prepare(ctx->store,
                         "INSERT INTO audit_log (seq, at_ms, actor, action, object, detail,"
                         " prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                         &stmt, &err) != RB_OK)
        return 0;
    rb_status status = rb_stmt_bind_int64(stmt, 1, rec.seq);
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 2, rec.at_ms);
    if (status == RB_OK)
        status = rb_stmt_bind_text(stmt, 3, rec.actor);
    if (status == RB_OK)
        status = rb_stmt_bind_text(stmt, 4, rec.action);
    if (status == RB_OK)
        status = rb_stmt_bind_text(stmt, 5, rec.object);
    if (status == RB_OK)
        status = rb_stmt_bind_text(stmt, 6, rec.detail);
    if (status == RB_OK)
        status = rb_stmt_bind_blob(stmt, 7, rec.prev_hash, RB_AUDIT_HASH_LEN);
    if (status == RB_OK)
        status = rb_stmt_bind_blob(stmt, 8, rec.hash, RB_AUDIT_HASH_LEN);
    if (status == RB_OK)
        status = rb_stmt_run(stmt, &err);
    return status == RB_OK;
}

/* Copies record from to a new row at seq (a verbatim duplicate). */
static int copy_row(rb_ctx *ctx, int from, int seq)
{
    char sql[300];
    snprintf(sql, sizeof(sql),
             "INSERT INTO audit_log (seq, at_ms, actor, action, object, detail, prev_hash, hash)"
             " SELECT %d, at_ms, actor, action, object, detail, prev_hash, hash"
             " FROM audit_log WHERE seq = %d",
             seq, from);
    return run_sql(ctx, sql);
}

/* ---- appending and a clean log ---- */

static void body_append_and_verify(rb_ctx *ctx)
{
    rb_error err = {0};
    rb_audit_report report = {0};
    int64_t seq = 0;
    REQUIRE(rb_audit_verify(ctx, &report, &err) == RB_OK);
    CHECK(report.problem == RB_AUDIT_OK && report.records == 0 && report.head_seq == 0);

    /* Outside a transaction: refused. */
    CHECK(rb_audit_append(ctx, "cert.issue", "obj:x", NULL, &seq, &err) == RB_EINTERNAL);
    rb_error_clear(&err);

    /* Rolled back: nothing left, and the next append reuses the seq. */
    REQUIRE(rb_store_begin(ctx->store, &err) == RB_OK);
    REQUIRE(rb_audit_append(ctx, "cert.issue", "obj:x", NULL, &seq, &err) == RB_OK);
    CHECK(seq == 1);
    rb_store_rollback(ctx->store);
    CHECK(count_rows(ctx) == 0);

    REQUIRE(append_range(ctx, 1, 8));
    CHECK(count_rows(ctx) == 8);
    memset(&report, 0, sizeof(report));
    REQUIRE(rb_audit_verify(ctx, &report, &err) == RB_OK);
    CHECK(report.problem == RB_AUDIT_OK);
    CHECK(report.records == 8 && report.head_seq == 8);
    uint8_t head[RB_AUDIT_HASH_LEN];
    REQUIRE(stored_hash(ctx, 8, head));
    CHECK(memcmp(report.head_hash, head, RB_AUDIT_HASH_LEN) == 0);
    char hex[2 * RB_AUDIT_HASH_LEN + 1];
    rb_audit_hash_hex(head, hex);
    CHECK(strlen(hex) == 64);
}

TEST(audit_append_rollback_verify)
{
    on_each_backend(body_append_and_verify);
}

/* ---- edited ---- */

static void body_edited(rb_ctx *ctx)
{
    REQUIRE(append_range(ctx, 1, 8));
    REQUIRE(run_sql(ctx, "UPDATE audit_log SET object = 'obj:evil' WHERE seq = 5"));
    CHECK(verify_is(ctx, RB_AUDIT_EDITED, 5));
    REQUIRE(run_sql(ctx, "UPDATE audit_log SET at_ms = at_ms + 1 WHERE seq = 2"));
    CHECK(verify_is(ctx, RB_AUDIT_EDITED, 2));
    /* Changing the stored hash itself is an edit of that record, not of the next. */
    REQUIRE(run_sql(ctx, "UPDATE audit_log SET hash = prev_hash WHERE seq = 1"));
    CHECK(verify_is(ctx, RB_AUDIT_EDITED, 1));
}

TEST(audit_verify_edited)
{
    on_each_backend(body_edited);
}

static void body_edited_prev_hash(rb_ctx *ctx)
{
    REQUIRE(append_range(ctx, 1, 8));
    REQUIRE(run_sql(ctx, "UPDATE audit_log SET prev_hash = (SELECT hash FROM audit_log"
                         " WHERE seq = 1) WHERE seq = 7"));
    CHECK(verify_is(ctx, RB_AUDIT_EDITED, 7));
}

TEST(audit_verify_edited_link)
{
    on_each_backend(body_edited_prev_hash);
}

/* ---- deleted ---- */

static void body_deleted(rb_ctx *ctx)
{
    REQUIRE(append_range(ctx, 1, 8));
    REQUIRE(run_sql(ctx, "DELETE FROM audit_log WHERE seq = 4"));
    CHECK(verify_is(ctx, RB_AUDIT_DELETED, 4));
    /* Renumbered so there is no gap: the chain still shows it. */
    REQUIRE(shift_seqs(ctx, 5, -1));
    CHECK(count_rows(ctx) == 7);
    CHECK(verify_is(ctx, RB_AUDIT_DELETED, 4));
}

TEST(audit_verify_deleted)
{
    on_each_backend(body_deleted);
}

static void body_deleted_first_and_several(rb_ctx *ctx)
{
    REQUIRE(append_range(ctx, 1, 8));
    REQUIRE(run_sql(ctx, "DELETE FROM audit_log WHERE seq = 1"));
    CHECK(verify_is(ctx, RB_AUDIT_DELETED, 1));
    REQUIRE(shift_seqs(ctx, 2, -1));
    CHECK(verify_is(ctx, RB_AUDIT_DELETED, 1));
    /* Now 1..7 hold the old 2..8; remove the old 5 and 6 and renumber. */
    REQUIRE(run_sql(ctx, "DELETE FROM audit_log WHERE seq IN (4, 5)"));
    REQUIRE(shift_seqs(ctx, 6, -2));
    CHECK(verify_is(ctx, RB_AUDIT_DELETED, 1));
}

TEST(audit_verify_deleted_first)
{
    on_each_backend(body_deleted_first_and_several);
}

static void body_deleted_two_renumbered(rb_ctx *ctx)
{
    REQUIRE(append_range(ctx, 1, 8));
    REQUIRE(run_sql(ctx, "DELETE FROM audit_log WHERE seq IN (5, 6)"));
    REQUIRE(shift_seqs(ctx, 7, -2));
    CHECK(verify_is(ctx, RB_AUDIT_DELETED, 5));
    /* Then an earlier one as well: the first gap in the chain is named. */
    REQUIRE(run_sql(ctx, "DELETE FROM audit_log WHERE seq = 4"));
    REQUIRE(shift_seqs(ctx, 5, -1));
    CHECK(verify_is(ctx, RB_AUDIT_DELETED, 4));
}

TEST(audit_verify_deleted_renumbered)
{
    on_each_backend(body_deleted_two_renumbered);
}

/* ---- inserted ---- */

static void body_inserted_forged(rb_ctx *ctx)
{
    REQUIRE(append_range(ctx, 1, 8));
    /* A forged record with a correct hash and link, the later ones renumbered. */
    REQUIRE(shift_seqs(ctx, 5, 1));
    REQUIRE(forge(ctx, 5, 4));
    CHECK(verify_is(ctx, RB_AUDIT_INSERTED, 5));
}

TEST(audit_verify_inserted_forged)
{
    on_each_backend(body_inserted_forged);
}

static void body_inserted_edges(rb_ctx *ctx)
{
    REQUIRE(append_range(ctx, 1, 8));
    /* Before the first record, linked to the start of the log. */
    REQUIRE(shift_seqs(ctx, 1, 1));
    REQUIRE(forge(ctx, 1, 0));
    CHECK(verify_is(ctx, RB_AUDIT_INSERTED, 1));
    REQUIRE(run_sql(ctx, "DELETE FROM audit_log WHERE seq = 1"));
    REQUIRE(shift_seqs(ctx, 2, -1));
    CHECK(verify_is(ctx, RB_AUDIT_OK, 0));
    /* Just before the last record. */
    REQUIRE(shift_seqs(ctx, 8, 1));
    REQUIRE(forge(ctx, 8, 7));
    CHECK(verify_is(ctx, RB_AUDIT_INSERTED, 8));
    REQUIRE(run_sql(ctx, "DELETE FROM audit_log WHERE seq = 8"));
    REQUIRE(shift_seqs(ctx, 9, -1));
    /* Appended, linking back into the chain. */
    REQUIRE(forge(ctx, 9, 3));
    CHECK(verify_is(ctx, RB_AUDIT_INSERTED, 9));
    REQUIRE(run_sql(ctx, "DELETE FROM audit_log WHERE seq = 9"));
    /* Inserted with a link to nothing, while the next record links past it. */
    REQUIRE(shift_seqs(ctx, 3, 1));
    REQUIRE(forge(ctx, 3, 0));
    CHECK(verify_is(ctx, RB_AUDIT_INSERTED, 3));
}

TEST(audit_verify_inserted_edges)
{
    on_each_backend(body_inserted_edges);
}

static void body_inserted_copy(rb_ctx *ctx)
{
    REQUIRE(append_range(ctx, 1, 8));
    /* A verbatim copy of record 5 placed after it, the later ones renumbered. */
    REQUIRE(shift_seqs(ctx, 6, 1));
    REQUIRE(copy_row(ctx, 5, 6));
    CHECK(verify_is(ctx, RB_AUDIT_INSERTED, 6));
    REQUIRE(run_sql(ctx, "DELETE FROM audit_log WHERE seq = 6"));
    REQUIRE(shift_seqs(ctx, 7, -1));
    CHECK(verify_is(ctx, RB_AUDIT_OK, 0));
    /* A copy of record 3 appended at the end. */
    REQUIRE(copy_row(ctx, 3, 9));
    CHECK(verify_is(ctx, RB_AUDIT_INSERTED, 9));
}

TEST(audit_verify_inserted_copy)
{
    on_each_backend(body_inserted_copy);
}

/* ---- reordered ---- */

static void body_reordered(rb_ctx *ctx)
{
    REQUIRE(append_range(ctx, 1, 8));
    REQUIRE(swap_seqs(ctx, 3, 6));
    CHECK(verify_is(ctx, RB_AUDIT_REORDERED, 3));
    REQUIRE(swap_seqs(ctx, 3, 6));
    CHECK(verify_is(ctx, RB_AUDIT_OK, 0));
    REQUIRE(swap_seqs(ctx, 4, 5));
    CHECK(verify_is(ctx, RB_AUDIT_REORDERED, 4));
    REQUIRE(swap_seqs(ctx, 4, 5));
    REQUIRE(swap_seqs(ctx, 1, 2));
    CHECK(verify_is(ctx, RB_AUDIT_REORDERED, 1));
    REQUIRE(swap_seqs(ctx, 1, 2));
    REQUIRE(swap_seqs(ctx, 7, 8));
    CHECK(verify_is(ctx, RB_AUDIT_REORDERED, 7));
}

TEST(audit_verify_reordered)
{
    on_each_backend(body_reordered);
}

static void body_low_seqs(rb_ctx *ctx)
{
    REQUIRE(append_range(ctx, 1, 8));
    /* Moved below 1, where the walk does not go: a middle record, the last one. */
    REQUIRE(run_sql(ctx, "UPDATE audit_log SET seq = 0 WHERE seq = 3"));
    CHECK(verify_is(ctx, RB_AUDIT_REORDERED, 0));
    REQUIRE(run_sql(ctx, "UPDATE audit_log SET seq = 3 WHERE seq = 0"));
    REQUIRE(run_sql(ctx, "UPDATE audit_log SET seq = -2 WHERE seq = 8"));
    CHECK(verify_is(ctx, RB_AUDIT_REORDERED, -2));
    REQUIRE(run_sql(ctx, "UPDATE audit_log SET seq = 8 WHERE seq = -2"));
    CHECK(verify_is(ctx, RB_AUDIT_OK, 0));
    /* A forged record there, claiming to start the log. */
    REQUIRE(forge(ctx, -3, 0));
    CHECK(verify_is(ctx, RB_AUDIT_INSERTED, -3));
}

TEST(audit_verify_low_seqs)
{
    on_each_backend(body_low_seqs);
}

/* ---- many pages ---- */

static void body_long_log(rb_ctx *ctx)
{
    REQUIRE(append_range(ctx, 1, 1300));
    CHECK(verify_is(ctx, RB_AUDIT_OK, 0));
    REQUIRE(run_sql(ctx, "UPDATE audit_log SET detail = '{}' WHERE seq = 1100"));
    CHECK(verify_is(ctx, RB_AUDIT_EDITED, 1100));
    REQUIRE(run_sql(ctx, "DELETE FROM audit_log WHERE seq = 512"));
    CHECK(verify_is(ctx, RB_AUDIT_DELETED, 512));
    REQUIRE(shift_seqs(ctx, 513, -1));
    CHECK(verify_is(ctx, RB_AUDIT_DELETED, 512));
    rb_audit_report report = {0};
    rb_error err = {0};
    REQUIRE(rb_audit_verify(ctx, &report, &err) == RB_OK);
    CHECK(report.records == 511 && report.head_seq == 511);
}

TEST(audit_verify_long_log)
{
    on_each_backend(body_long_log);
}

/* ---- list ---- */

typedef struct collected {
    int count;
    int64_t seqs[700];
    int stop_after;
} collected;

static rb_status collect(const rb_audit_record *rec, void *arg, rb_error *err)
{
    collected *c = arg;
    if (c->stop_after && c->count == c->stop_after)
        return rb_fail(err, RB_ESTATE, NULL, "stop");
    if (c->count < 700)
        c->seqs[c->count] = rec->seq;
    c->count++;
    return RB_OK;
}

static int list_count(rb_ctx *ctx, const rb_audit_filter *filter, collected *c)
{
    rb_error err = {0};
    memset(c, 0, sizeof(*c));
    if (rb_audit_list(ctx, filter, collect, c, &err) != RB_OK) {
        fprintf(stderr, "  list: %s\n", err.message);
        return -1;
    }
    return c->count;
}

static void body_list(rb_ctx *ctx)
{
    collected c;
    REQUIRE(append_range(ctx, 1, 20));
    CHECK(list_count(ctx, NULL, &c) == 20);
    CHECK(c.seqs[0] == 1 && c.seqs[19] == 20);

    rb_audit_filter f = {.action = "cert."};
    CHECK(list_count(ctx, &f, &c) == 8); /* cert.issue, cert.revoke; not certificate.* */
    f = (rb_audit_filter){.action = "cert.issue"};
    CHECK(list_count(ctx, &f, &c) == 4);
    CHECK(c.seqs[0] == 5 && c.seqs[3] == 20);
    f = (rb_audit_filter){.action = "cert"};
    CHECK(list_count(ctx, &f, &c) == 0);
    f = (rb_audit_filter){.actor = "test:bob"};
    CHECK(list_count(ctx, &f, &c) == 10);
    f = (rb_audit_filter){.object = "obj:7"};
    CHECK(list_count(ctx, &f, &c) == 1 && c.seqs[0] == 7);
    f = (rb_audit_filter){.since_ms = T0 + 5000, .until_ms = T0 + 9000};
    CHECK(list_count(ctx, &f, &c) == 4 && c.seqs[0] == 5 && c.seqs[3] == 8);
    f = (rb_audit_filter){.min_seq = 3, .max_seq = 6};
    CHECK(list_count(ctx, &f, &c) == 4 && c.seqs[0] == 3);
    f = (rb_audit_filter){.newest_first = 1, .limit = 3};
    CHECK(list_count(ctx, &f, &c) == 3 && c.seqs[0] == 20 && c.seqs[2] == 18);
    f = (rb_audit_filter){.action = "cert.", .actor = "test:alice", .newest_first = 1};
    CHECK(list_count(ctx, &f, &c) == 4 && c.seqs[0] == 15 && c.seqs[3] == 1);

    /* A callback's failure stops the listing and is returned. */
    rb_error err = {0};
    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    CHECK(rb_audit_list(ctx, NULL, collect, &c, &err) == RB_ESTATE);
    CHECK(c.count == 2);
}

TEST(audit_list_filters)
{
    on_each_backend(body_list);
}

static void body_list_pages(rb_ctx *ctx)
{
    collected c;
    REQUIRE(append_range(ctx, 1, 600));
    rb_audit_filter f = {.newest_first = 1};
    CHECK(list_count(ctx, &f, &c) == 600);
    CHECK(c.seqs[0] == 600 && c.seqs[599] == 1);
    f = (rb_audit_filter){.newest_first = 1, .limit = 300, .max_seq = 550};
    CHECK(list_count(ctx, &f, &c) == 300 && c.seqs[0] == 550 && c.seqs[299] == 251);
    f = (rb_audit_filter){.action = "key.", .limit = 100, .min_seq = 10};
    CHECK(list_count(ctx, &f, &c) == 100 && c.seqs[0] == 12 && c.seqs[99] == 507);
}

TEST(audit_list_pages)
{
    on_each_backend(body_list_pages);
}

/* ---- manual entries ---- */

static void body_manual(rb_ctx *ctx)
{
    rb_error err = {0};
    int64_t seq = 0;
    CHECK(rb_audit_record_manual(ctx, "key.ceremony", "ca:root", "{\"room\": \"B2\"}", &seq,
                                 &err) == RB_OK);
    CHECK(seq == 1);
    CHECK(rb_audit_record_manual(ctx, "inspection", "site:lima", NULL, &seq, &err) == RB_OK);
    CHECK(seq == 2);
    static const char *const bad_actions[] = {"Key.ceremony", "1key", "key ceremony", "",
                                              "key/x",        "ñ"};
    for (size_t i = 0; i < sizeof(bad_actions) / sizeof(bad_actions[0]); i++) {
        rb_error_clear(&err);
        CHECK(rb_audit_record_manual(ctx, bad_actions[i], "x", NULL, NULL, &err) == RB_EINVAL);
    }
    static const char *const bad_details[] = {"[1]",
                                              "\"text\"",
                                              "{\"a\":",
                                              "{\"a\": \"\\u0001\"}",
                                              "{\"a\": 1, \"a\": 2}",
                                              "{\"\\u0007\": 1}"};
    for (size_t i = 0; i < sizeof(bad_details) / sizeof(bad_details[0]); i++) {
        rb_error_clear(&err);
        CHECK(rb_audit_record_manual(ctx, "note", "x", bad_details[i], NULL, &err) == RB_EINVAL);
    }
    rb_error_clear(&err);
    CHECK(rb_audit_record_manual(ctx, "note", "bad\x01object", NULL, NULL, &err) == RB_EINVAL);
    rb_error_clear(&err);
    CHECK(rb_audit_record_manual(ctx, "note", "", NULL, NULL, &err) == RB_EINVAL);
    CHECK(count_rows(ctx) == 2);
    CHECK(!rb_store_in_transaction(ctx->store));
    CHECK(verify_is(ctx, RB_AUDIT_OK, 0));
}

TEST(audit_record_manual)
{
    on_each_backend(body_manual);
}
