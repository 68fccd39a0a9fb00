/*
 * Verifying the audit log. The walk reads the log in seq order a page at a
 * time, recomputing each record's hash and checking its link to the record
 * before it. At the first record that fails, a few targeted queries work out
 * what happened to it (edited, deleted, inserted or reordered) and which
 * record to name. Everything before that record is, by the hash chain, the
 * original log's first records in their original order.
 */
#include "audit/audit.h"

#include "core/hex.h"
#include "store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PAGE_ROWS 512

static const uint8_t zero_hash[RB_AUDIT_HASH_LEN];

/* The last record that passed (seq 0 and the zero hash before the first). */
typedef struct chain_pos {
    int64_t seq;
    uint8_t hash[RB_AUDIT_HASH_LEN];
} chain_pos;

/* The first record that failed a link or sequence check (its content is intact). */
typedef struct suspect {
    int64_t seq;
    uint8_t prev_hash[RB_AUDIT_HASH_LEN];
    uint8_t hash[RB_AUDIT_HASH_LEN];
} suspect;

const char *rb_audit_problem_name(rb_audit_problem problem)
{
    switch (problem) {
    case RB_AUDIT_OK:
        return "ok";
    case RB_AUDIT_EDITED:
        return "edited";
    case RB_AUDIT_DELETED:
        return "deleted";
    case RB_AUDIT_INSERTED:
        return "inserted";
    case RB_AUDIT_REORDERED:
        return "reordered";
    case RB_AUDIT_BAD_CHECKPOINT:
        return "bad-checkpoint";
    case RB_AUDIT_TRUNCATED:
        return "truncated";
    case RB_AUDIT_REWRITTEN:
        return "rewritten";
    }
    return "unknown";
}

void rb_audit_hash_hex(const uint8_t hash[RB_AUDIT_HASH_LEN], char out[2 * RB_AUDIT_HASH_LEN + 1])
{
    rb_hex_lower(hash, RB_AUDIT_HASH_LEN, out);
}

static void set_problem(rb_audit_report *out, rb_audit_problem problem, int64_t bad_seq,
                        int64_t other_seq, const char *fmt, ...) RB_PRINTF(5, 6);

static void set_problem(rb_audit_report *out, rb_audit_problem problem, int64_t bad_seq,
                        int64_t other_seq, const char *fmt, ...)
{
    va_list ap;
    out->problem = problem;
    out->bad_seq = bad_seq;
    out->other_seq = other_seq;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
}

/* "record 7", or "the start of the log" for the position before the first record. */
static const char *record_name(int64_t seq, char *buf, size_t len)
{
    if (seq == 0)
        snprintf(buf, len, "the start of the log");
    else
        snprintf(buf, len, "record %lld", (long long)seq);
    return buf;
}

/*
 * Finds the lowest seq other than exclude_seq whose stored hash is hash;
 * the zero hash names the start of the log (0). *found is -1 when none.
 * The hash column has no index: this scans, and runs only once a problem
 * has been found.
 */
static rb_status find_hash(rb_store *store, const uint8_t hash[RB_AUDIT_HASH_LEN],
                           int64_t exclude_seq, int64_t *found, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    *found = -1;
    if (memcmp(hash, zero_hash, RB_AUDIT_HASH_LEN) == 0) {
        *found = 0;
        return RB_OK;
    }
    rb_status status = rb_store_prepare(
        store, "SELECT seq FROM audit_log WHERE hash = $1 AND seq <> $2 ORDER BY seq LIMIT 1",
        &stmt, err);
    if (status == RB_OK)
        status = rb_stmt_bind_blob(stmt, 1, hash, RB_AUDIT_HASH_LEN);
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 2, exclude_seq);
    if (status == RB_OK)
        status = rb_stmt_step(stmt, &has_row, err);
    if (status == RB_OK && has_row)
        *found = rb_stmt_int64(stmt, 0);
    rb_stmt_reset(stmt);
    return status;
}

/* Copies a 32-byte blob column, or zeros when it has another length. */
static void copy_hash(rb_stmt *stmt, int col, uint8_t out[RB_AUDIT_HASH_LEN])
{
    size_t len = 0;
    const uint8_t *blob = rb_stmt_blob(stmt, col, &len);
    if (blob != NULL && len == RB_AUDIT_HASH_LEN)
        memcpy(out, blob, RB_AUDIT_HASH_LEN);
    else
        memset(out, 0, RB_AUDIT_HASH_LEN);
}

/* The record right after a suspect one, if any. */
typedef struct next_record {
    int exists;
    int64_t seq;
    uint8_t prev_hash[RB_AUDIT_HASH_LEN];
} next_record;

/*
 * Reads one page of the records after *cursor, counting into *count those
 * that keep linking from *expect (advanced as they do) until max. Sets *done
 * when the chain stops, max is reached or the log ends.
 */
static rb_status follow_page(rb_store *store, int64_t *cursor, uint8_t expect[RB_AUDIT_HASH_LEN],
                             int64_t max, int64_t *count, next_record *next, int *done,
                             rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0, rows = 0;
    rb_status status = rb_store_prepare(store,
                                        "SELECT seq, prev_hash, hash FROM audit_log WHERE seq > $1"
                                        " ORDER BY seq LIMIT $2",
                                        &stmt, err);
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 1, *cursor);
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 2, PAGE_ROWS);
    *done = 1;
    while (status == RB_OK) {
        status = rb_stmt_step(stmt, &has_row, err);
        if (status != RB_OK || !has_row)
            break;
        uint8_t prev[RB_AUDIT_HASH_LEN];
        copy_hash(stmt, 1, prev);
        if (!next->exists) {
            next->exists = 1;
            next->seq = rb_stmt_int64(stmt, 0);
            memcpy(next->prev_hash, prev, RB_AUDIT_HASH_LEN);
        }
        if (*count >= max || memcmp(prev, expect, RB_AUDIT_HASH_LEN) != 0)
            break;
        copy_hash(stmt, 2, expect);
        *cursor = rb_stmt_int64(stmt, 0);
        (*count)++;
        if (++rows == PAGE_ROWS) {
            *done = 0;
            break;
        }
    }
    rb_stmt_reset(stmt);
    return status;
}

/*
 * Follows the records after after_seq while each links to the one before,
 * starting from start_hash, and stops after max of them (max may be 0).
 * *count receives how many linked, *next the record right after after_seq.
 */
static rb_status follow_chain(rb_store *store, int64_t after_seq,
                              const uint8_t start_hash[RB_AUDIT_HASH_LEN], int64_t max,
                              int64_t *count, next_record *next, rb_error *err)
{
    uint8_t expect[RB_AUDIT_HASH_LEN];
    int64_t cursor = after_seq;
    int done = 0;
    rb_status status = RB_OK;
    memcpy(expect, start_hash, RB_AUDIT_HASH_LEN);
    *count = 0;
    memset(next, 0, sizeof(*next));
    while (status == RB_OK && !done)
        status = follow_page(store, &cursor, expect, max, count, next, &done, err);
    return status;
}

/*
 * A record r, whose seq follows p's, links to an earlier record t instead of
 * p: either the records between t and r (the branch) were inserted, or r
 * and the records chained after it (the tail) were. The smaller set is
 * taken to be the forgery; on a tie, the branch.
 */
static rb_status classify_earlier_link(rb_store *store, const suspect *r, const chain_pos *p,
                                       int64_t t, rb_audit_report *out, rb_error *err)
{
    int64_t branch = p->seq - t;
    int64_t after = 0;
    next_record next;
    char tname[48], pname[48];
    rb_status status = follow_chain(store, r->seq, r->hash, branch, &after, &next, err);
    if (status != RB_OK)
        return status;
    record_name(t, tname, sizeof(tname));
    record_name(p->seq, pname, sizeof(pname));
    if (1 + after < branch)
        set_problem(out, RB_AUDIT_INSERTED, r->seq, t, "it links to %s instead of %s", tname,
                    pname);
    else if (branch == 1)
        set_problem(out, RB_AUDIT_INSERTED, t + 1, t,
                    "it is not in the chain: record %lld links past it to %s", (long long)r->seq,
                    tname);
    else
        set_problem(out, RB_AUDIT_INSERTED, t + 1, t,
                    "records %lld to %lld are not in the chain: record %lld links past them to %s",
                    (long long)(t + 1), (long long)p->seq, (long long)r->seq, tname);
    return RB_OK;
}

/*
 * Works out what happened at r, the first record whose seq does not follow
 * p's or whose prev_hash is not p's hash (its own hash matched its content).
 */
static rb_status classify(rb_store *store, const suspect *r, const chain_pos *p,
                          rb_audit_report *out, rb_error *err)
{
    int64_t target, copy_of;
    char name[48];
    rb_status status = find_hash(store, r->prev_hash, r->seq, &target, err);
    if (status != RB_OK)
        return status;
    if (target > r->seq) {
        set_problem(out, RB_AUDIT_REORDERED, r->seq, target,
                    "it links to record %lld, which comes after it", (long long)target);
        return RB_OK;
    }
    if (r->seq != p->seq + 1) {
        set_problem(out, RB_AUDIT_DELETED, p->seq + 1, -1,
                    "record %lld is missing: the sequence jumps from %lld to %lld",
                    (long long)(p->seq + 1), (long long)p->seq, (long long)r->seq);
        return RB_OK;
    }
    status = find_hash(store, r->hash, r->seq, &copy_of, err);
    if (status != RB_OK)
        return status;
    if (copy_of > 0 && copy_of < r->seq) {
        set_problem(out, RB_AUDIT_INSERTED, r->seq, copy_of, "it is a copy of record %lld",
                    (long long)copy_of);
        return RB_OK;
    }
    int64_t ignored;
    next_record next;
    status = follow_chain(store, r->seq, r->hash, 0, &ignored, &next, err);
    if (status != RB_OK)
        return status;
    record_name(p->seq, name, sizeof(name));
    if (next.exists && memcmp(next.prev_hash, p->hash, RB_AUDIT_HASH_LEN) == 0) {
        set_problem(out, RB_AUDIT_INSERTED, r->seq, p->seq,
                    "it does not link to %s, and record %lld links past it to %s", name,
                    (long long)next.seq, name);
        return RB_OK;
    }
    if (target >= 0)
        return classify_earlier_link(store, r, p, target, out, err);
    set_problem(out, RB_AUDIT_DELETED, r->seq, -1,
                "the record before it is missing: it links to a record that is not in the log");
    return RB_OK;
}

/*
 * Checks one record read by the walk against the chain so far. Returns 1
 * and fills *bad (link problems) or out (an edit) when the record fails.
 */
static int check_record(rb_stmt *stmt, const chain_pos *p, suspect *bad, rb_audit_report *out)
{
    size_t prev_len = 0, hash_len = 0;
    rb_audit_record rec = {
        .seq = rb_stmt_int64(stmt, 0),
        .at_ms = rb_stmt_int64(stmt, 1),
        .actor = (char *)rb_stmt_text(stmt, 2),
        .action = (char *)rb_stmt_text(stmt, 3),
        .object = (char *)rb_stmt_text(stmt, 4),
        .detail = (char *)rb_stmt_text(stmt, 5),
    };
    const uint8_t *prev = rb_stmt_blob(stmt, 6, &prev_len);
    const uint8_t *stored = rb_stmt_blob(stmt, 7, &hash_len);
    uint8_t computed[RB_AUDIT_HASH_LEN];
    if (rec.seq > p->seq + 1) {
        /* A gap comes before anything wrong with the record after it. */
        bad->seq = rec.seq;
        copy_hash(stmt, 6, bad->prev_hash);
        copy_hash(stmt, 7, bad->hash);
        return 1;
    }
    int intact = prev != NULL && prev_len == RB_AUDIT_HASH_LEN && stored != NULL &&
                 hash_len == RB_AUDIT_HASH_LEN;
    if (intact) {
        memcpy(rec.prev_hash, prev, RB_AUDIT_HASH_LEN);
        rb_audit_record_hash(&rec, computed);
        intact = memcmp(computed, stored, RB_AUDIT_HASH_LEN) == 0;
    }
    if (!intact) {
        set_problem(out, RB_AUDIT_EDITED, rec.seq, -1, "stored hash does not match its content");
        return 1;
    }
    if (memcmp(prev, p->hash, RB_AUDIT_HASH_LEN) == 0)
        return 0;
    bad->seq = rec.seq;
    memcpy(bad->prev_hash, prev, RB_AUDIT_HASH_LEN);
    memcpy(bad->hash, stored, RB_AUDIT_HASH_LEN);
    return 1;
}

/* Finds the lowest seq of a record whose prev_hash is hash; -1 when none. */
static rb_status find_link_to(rb_store *store, const uint8_t hash[RB_AUDIT_HASH_LEN],
                              int64_t *found, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    *found = -1;
    rb_status status = rb_store_prepare(
        store, "SELECT seq FROM audit_log WHERE prev_hash = $1 ORDER BY seq LIMIT 1", &stmt, err);
    if (status == RB_OK)
        status = rb_stmt_bind_blob(stmt, 1, hash, RB_AUDIT_HASH_LEN);
    if (status == RB_OK)
        status = rb_stmt_step(stmt, &has_row, err);
    if (status == RB_OK && has_row)
        *found = rb_stmt_int64(stmt, 0);
    rb_stmt_reset(stmt);
    return status;
}

/*
 * Sequence numbers start at 1, and the walk starts there; a row below it
 * that is tied to the chain (a record links to it, or it links to a record)
 * was moved there: reordered; one that is not was put there: inserted.
 * Sets *failed when there is such a row.
 */
static rb_status check_low_seqs(rb_store *store, rb_audit_report *out, int *failed, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    int64_t seq = 0, linked_from = -1, links_to = -1;
    uint8_t prev[RB_AUDIT_HASH_LEN], hash[RB_AUDIT_HASH_LEN];
    rb_status status = rb_store_prepare(store,
                                        "SELECT seq, prev_hash, hash FROM audit_log WHERE seq < 1"
                                        " ORDER BY seq LIMIT 1",
                                        &stmt, err);
    if (status == RB_OK)
        status = rb_stmt_step(stmt, &has_row, err);
    if (status == RB_OK && has_row) {
        seq = rb_stmt_int64(stmt, 0);
        copy_hash(stmt, 1, prev);
        copy_hash(stmt, 2, hash);
    }
    rb_stmt_reset(stmt);
    if (status != RB_OK || !has_row)
        return status;
    status = find_link_to(store, hash, &linked_from, err);
    if (status == RB_OK)
        status = find_hash(store, prev, seq, &links_to, err);
    if (status != RB_OK)
        return status;
    *failed = 1;
    if (linked_from >= 0)
        set_problem(out, RB_AUDIT_REORDERED, seq, linked_from,
                    "sequence numbers start at 1, and record %lld links to it",
                    (long long)linked_from);
    else if (links_to > 0)
        set_problem(out, RB_AUDIT_REORDERED, seq, links_to,
                    "sequence numbers start at 1, and it links to record %lld",
                    (long long)links_to);
    else
        set_problem(out, RB_AUDIT_INSERTED, seq, -1,
                    "sequence numbers start at 1, and it is not tied to the chain");
    return RB_OK;
}

/*
 * Reads one page of records after p->seq and checks them, advancing p and
 * out->records. *rows receives how many were read; *failed is set when a
 * record fails (out holds an edit, or *bad a record to classify).
 */
static rb_status walk_page(rb_store *store, chain_pos *p, rb_audit_report *out, suspect *bad,
                           int *failed, int *rows, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    *rows = 0;
    rb_status status =
        rb_store_prepare(store,
                         "SELECT seq, at_ms, actor, action, object, detail, prev_hash, hash"
                         " FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                         &stmt, err);
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 1, p->seq);
    if (status == RB_OK)
        status = rb_stmt_bind_int64(stmt, 2, PAGE_ROWS);
    while (status == RB_OK && !*failed) {
        status = rb_stmt_step(stmt, &has_row, err);
        if (status != RB_OK || !has_row)
            break;
        (*rows)++;
        if (check_record(stmt, p, bad, out)) {
            *failed = 1;
            break;
        }
        p->seq = rb_stmt_int64(stmt, 0);
        copy_hash(stmt, 7, p->hash);
        out->records++;
    }
    rb_stmt_reset(stmt);
    return status;
}

rb_status rb_audit_verify(rb_ctx *ctx, rb_audit_report *out, rb_error *err)
{
    rb_audit_report report = {.problem = RB_AUDIT_OK, .other_seq = -1};
    chain_pos p = {0};
    suspect bad = {0};
    int failed = 0, rows = PAGE_ROWS;
    rb_status status = check_low_seqs(ctx->store, &report, &failed, err);
    while (status == RB_OK && !failed && rows == PAGE_ROWS)
        status = walk_page(ctx->store, &p, &report, &bad, &failed, &rows, err);
    /* An edit is already in the report; a broken link needs classifying. */
    if (status == RB_OK && failed && report.problem == RB_AUDIT_OK)
        status = classify(ctx->store, &bad, &p, &report, err);
    if (status != RB_OK)
        return status;
    report.head_seq = p.seq;
    memcpy(report.head_hash, p.hash, RB_AUDIT_HASH_LEN);
    *out = report;
    return RB_OK;
}
