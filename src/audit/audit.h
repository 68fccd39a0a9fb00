/*
 * The audit log: append-only and hash-chained. Each record holds its
 * sequence number, UTC time in milliseconds, actor, action, object, a JSON
 * detail and the hash of the previous record; its own hash covers all of
 * those except the sequence number, so the chain itself fixes the order.
 * A record is always appended inside the transaction of the change it
 * records. Checkpoints (the CA signing the chain head) build on this.
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
    char *action;  /* dotted verb, e.g. "cert.issue", "cert.revoke", "api.denied" */
    char *object;  /* what it acted on, e.g. "cert:4F1A..." */
    char *detail;  /* compact JSON with sorted keys */
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

/* Computes the hash a record must carry, from its fields and prev_hash. */
void rb_audit_record_hash(const rb_audit_record *rec, uint8_t out[RB_AUDIT_HASH_LEN]);

/* Frees the strings of a record filled by the audit functions (not rec itself). */
void rb_audit_record_clear(rb_audit_record *rec);

#endif
