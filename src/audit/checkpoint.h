/*
 * Signed checkpoints of the audit log. The hash chain shows that no record
 * was edited, deleted or inserted, but anyone who can write the database can
 * recompute the whole chain, or cut records off its end. A checkpoint fixes
 * the chain head at one record with an RFC 3161 time-stamp token from the
 * provider's own TSA over the head's hash: it proves that the log up to that
 * record existed, exactly so, at that time, and no one without the TSA key
 * can make another. `openssl ts -verify -digest HEAD` checks a token
 * independently of Rúbrica.
 *
 * Built on the audit log and the TSA; the audit log itself depends on
 * neither.
 */
#ifndef RB_AUDIT_CHECKPOINT_H
#define RB_AUDIT_CHECKPOINT_H

#include "audit/audit.h"
#include "core/context.h"
#include "core/error.h"
#include "tsa/tsa.h"

/* One checkpoint as stored in audit_checkpoint. */
typedef struct rb_audit_checkpoint {
    int64_t seq;                          /* the record whose hash is fixed */
    uint8_t head_hash[RB_AUDIT_HASH_LEN]; /* that record's hash */
    int64_t at_ms;                        /* the token's genTime */
    char signer[64];                      /* the TSA authority's name */
    uint8_t *token;                       /* DER ContentInfo (SignedData) */
    size_t token_len;
} rb_audit_checkpoint;

void rb_audit_checkpoint_clear(rb_audit_checkpoint *cp);

/*
 * Time-stamps the current chain head with tsa, stores the checkpoint and
 * appends an audit.checkpoint record, in one transaction (the token is
 * obtained before it, since the TSA records its token on its own
 * connection). *made is 0, and nothing is written, when the log is empty,
 * nothing was logged since the last checkpoint, or another process (a second
 * `rubrica serve` on the same PostgreSQL) checkpointed the same record first.
 * out (may be NULL) receives the checkpoint.
 */
rb_status rb_audit_checkpoint_make(rb_ctx *ctx, rb_tsa *tsa, int *made, rb_audit_checkpoint *out,
                                   rb_error *err) RB_MUST_CHECK;

/*
 * The same, only once the newest checkpoint is at least interval_ms old (or
 * there is none) and records were appended after it: what `rubrica serve`
 * runs on each maintenance pass.
 */
rb_status rb_audit_checkpoint_if_due(rb_ctx *ctx, rb_tsa *tsa, int64_t interval_ms, int *made,
                                     rb_error *err) RB_MUST_CHECK;

/* Calls fn for each checkpoint, oldest first; fn returns non-zero to stop. */
rb_status rb_audit_checkpoint_list(rb_ctx *ctx, int (*fn)(const rb_audit_checkpoint *cp, void *arg),
                                   void *arg, rb_error *err) RB_MUST_CHECK;

/*
 * Checks that token is a time-stamp token over head_hash (SHA-256) that
 * verifies at the token's own time and was signed with an allowed
 * certificate: with tsa_certs (certificates of the provider's TSA obtained
 * outside the store), one of those; without, the certificate of the TSA
 * authority signer in the store, its chain ending in the store's root. A
 * timeStamping certificate merely chaining to the same root is not enough:
 * a subscriber can hold one. Only tsa_certs hold against someone who can
 * also rewrite the store's authorities. On success *gen_time_ms (may be
 * NULL) receives the token's genTime; RB_EINVAL with the reason otherwise.
 */
rb_status rb_audit_checkpoint_check_token(rb_ctx *ctx, const char *signer,
                                          const STACK_OF(X509) *tsa_certs, const uint8_t *token,
                                          size_t token_len,
                                          const uint8_t head_hash[RB_AUDIT_HASH_LEN],
                                          int64_t *gen_time_ms, rb_error *err) RB_MUST_CHECK;

/*
 * rb_audit_verify, then every checkpoint: its token must verify (against
 * tsa_certs when not NULL, as for rb_audit_checkpoint_check_token), the log
 * must still reach its record, and that record's hash must be the one the
 * token fixed. Fills the report's checkpoint fields; a failure is reported
 * as RB_AUDIT_BAD_CHECKPOINT, RB_AUDIT_TRUNCATED or RB_AUDIT_REWRITTEN.
 */
rb_status rb_audit_verify_with_checkpoints(rb_ctx *ctx, const STACK_OF(X509) *tsa_certs,
                                           rb_audit_report *out, rb_error *err) RB_MUST_CHECK;

#endif
