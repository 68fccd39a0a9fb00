/*
 * The audit log: append-only and hash-chained. Each record holds its
 * sequence number, UTC time in milliseconds, actor, action, object, a JSON
 * detail and the hash of the previous record; its own hash covers all of
 * those except the sequence number, so the chain itself fixes the order.
 * A record is always appended inside the transaction of the change it
 * records. Signed checkpoints (checkpoint.h: the TSA time-stamping the chain
 * head) build on this.
 */
#ifndef RB_AUDIT_AUDIT_H
#define RB_AUDIT_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "core/context.h"
#include "core/error.h"

#define RB_AUDIT_HASH_LEN 32

typedef struct rb_audit_record {
    int64_t seq;
    int64_t at_ms;
    char *actor;
    char *action; /* dotted verb, e.g. "cert.issue", "cert.revoke", "api.denied" */
    char *object; /* what it acted on, e.g. "cert:4F1A..." */
    char *detail; /* compact JSON with sorted keys */
    uint8_t prev_hash[RB_AUDIT_HASH_LEN];
    uint8_t hash[RB_AUDIT_HASH_LEN];
} rb_audit_record;

/*
 * Appends a record for ctx->actor at the current time. Must run inside a
 * transaction (rb_store_begin) so it commits or rolls back with the change.
 * detail is borrowed and may be NULL ({}). *out_seq (may be NULL) receives the
 * new sequence number.
 */
rb_status rb_audit_append(rb_ctx *ctx, const char *action, const char *object, json_t *detail,
                          int64_t *out_seq, rb_error *err) RB_MUST_CHECK;
/*
 * The text an audit detail is kept as: compact JSON with sorted keys, "{}"
 * for NULL. malloc'd (free); NULL, with err set, when out of memory.
 */
char *rb_audit_detail_text(const json_t *detail, rb_error *err);

/*
 * The same with the detail already encoded: detail_json is a JSON object as
 * json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) writes it (borrowed).
 */
rb_status rb_audit_append_text(rb_ctx *ctx, const char *action, const char *object,
                               const char *detail_json, int64_t *out_seq,
                               rb_error *err) RB_MUST_CHECK;

/* Computes the hash a record must carry, from its fields and prev_hash. */
void rb_audit_record_hash(const rb_audit_record *rec, uint8_t out[RB_AUDIT_HASH_LEN]);

/* Frees the strings of a record filled by the audit functions (not rec itself). */
void rb_audit_record_clear(rb_audit_record *rec);

/* ---- Verification (verify.c) ---- */

/* What rb_audit_verify found; new kinds (checkpoints) are added at the end. */
typedef enum rb_audit_problem {
    RB_AUDIT_OK = 0,
    RB_AUDIT_EDITED,    /* a record's stored hash does not match its content */
    RB_AUDIT_DELETED,   /* a record is missing from the chain */
    RB_AUDIT_INSERTED,  /* a record that does not belong to the chain is in the log */
    RB_AUDIT_REORDERED, /* records are in the wrong sequence order */
    /* Found by the signed checkpoints (checkpoint.h): */
    RB_AUDIT_BAD_CHECKPOINT, /* a checkpoint's time-stamp token does not verify */
    RB_AUDIT_TRUNCATED,      /* the log ends before a record a checkpoint fixed */
    RB_AUDIT_REWRITTEN,      /* a record's hash is not the one a checkpoint fixed */
} rb_audit_problem;

/*
 * The outcome of a verification. Later checks (the signed checkpoints) add
 * fields at the end; callers zero-initialise it and read only what they know.
 */
typedef struct rb_audit_report {
    rb_audit_problem problem;
    int64_t records;                      /* records that passed, in seq order */
    int64_t head_seq;                     /* the last record that passed; 0 for none */
    uint8_t head_hash[RB_AUDIT_HASH_LEN]; /* its hash; all zeros for none */
    int64_t bad_seq;                      /* the record the problem names; 0 when OK */
    int64_t other_seq;                    /* the other record involved; 0 start, -1 none */
    char reason[256];                     /* why, for a person; "" when OK */
    /* Filled by rb_audit_verify_with_checkpoints (checkpoint.h): */
    int64_t checkpoints;    /* checkpoints that verified */
    int64_t checkpoint_seq; /* the newest one's record; 0 for none */
    int64_t checkpoint_ms;  /* its time */
} rb_audit_report;

/*
 * Walks the whole log in seq order, a page at a time (memory does not grow
 * with the log), checking each record's hash against its content and its
 * link to the record before it. Fills *out with the count and head hash, or
 * with the first problem: its kind, the record it names and the reason.
 * Returns RB_OK whenever the walk completed, whether or not the log is
 * intact (read out->problem); an error only when the store failed.
 * Records appended or removed at the end cannot be told from the chain
 * alone: the signed checkpoints cover that.
 */
rb_status rb_audit_verify(rb_ctx *ctx, rb_audit_report *out, rb_error *err) RB_MUST_CHECK;

/* "edited", "deleted", "inserted", "reordered" (or "ok"). Static string. */
const char *rb_audit_problem_name(rb_audit_problem problem);

/* Writes 2 * RB_AUDIT_HASH_LEN lower-case hex digits and a NUL into out. */
void rb_audit_hash_hex(const uint8_t hash[RB_AUDIT_HASH_LEN], char out[2 * RB_AUDIT_HASH_LEN + 1]);

/* ---- Listing (list.c) ---- */

/* Which records rb_audit_list returns; a zeroed filter selects all, oldest first. */
typedef struct rb_audit_filter {
    const char *action; /* exact, or a prefix when it ends in '.' ("cert."); NULL: any */
    const char *actor;  /* exact; NULL: any */
    const char *object; /* exact; NULL: any */
    int64_t since_ms;   /* at_ms >= since_ms; 0: no lower bound */
    int64_t until_ms;   /* at_ms < until_ms; 0: no upper bound */
    int64_t min_seq;    /* seq >= min_seq; 0: from the first */
    int64_t max_seq;    /* seq <= max_seq; 0: to the last */
    int64_t limit;      /* at most this many records; 0: no limit */
    int newest_first;   /* 1: descending seq; 0: ascending */
} rb_audit_filter;

/*
 * Called once per record; rec is borrowed for the call. Returning anything
 * but RB_OK stops the listing, and rb_audit_list returns that status.
 */
typedef rb_status (*rb_audit_list_fn)(const rb_audit_record *rec, void *arg, rb_error *err);

/*
 * Calls fn for each record that matches filter (NULL: all), in the order it
 * asks for. Records are read a page at a time and fn runs between pages, so
 * fn may use the store itself and memory does not grow with the log.
 */
rb_status rb_audit_list(rb_ctx *ctx, const rb_audit_filter *filter, rb_audit_list_fn fn, void *arg,
                        rb_error *err) RB_MUST_CHECK;

/* ---- Manual entries (manual.c) ---- */

/*
 * Appends an operator's manual entry (a key ceremony, an inspection) in its
 * own transaction. action must match [a-z][a-z0-9_.-]* (at most 64 bytes);
 * object is non-empty text without control characters (at most 512 bytes);
 * detail_json is NULL or the text of a JSON object (at most 64 KiB) whose
 * keys and strings are text without control characters. Nothing is written
 * when a check fails. *out_seq (may be NULL) receives the new seq.
 */
rb_status rb_audit_record_manual(rb_ctx *ctx, const char *action, const char *object,
                                 const char *detail_json, int64_t *out_seq,
                                 rb_error *err) RB_MUST_CHECK;

#endif
