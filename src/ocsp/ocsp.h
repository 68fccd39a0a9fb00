/*
 * The OCSP responder (RFC 6960, with the RFC 5019 lightweight profile): parses
 * a request, answers each CertID from the certificates table, and signs with
 * the delegated responder certificate of the issuing CA. Answers to plain
 * single requests are pre-signed and kept in ocsp_responses, which every
 * lifecycle change clears for its serial in its own transaction.
 *
 * Threads: one rb_ocsp_responder is built at start-up and shared by every
 * thread; each thread passes its own rb_ctx (its own store connection). The
 * one thing kept in memory is a copy of recently served ocsp_responses rows,
 * each used only while the store's change counter (rb_store_change_counter)
 * has not moved since it was read: a revocation committed by any process is
 * answered by the next query. Where the store has no such counter
 * (PostgreSQL), every answer comes from the store, so several processes
 * sharing one PostgreSQL always agree.
 */
#ifndef RB_OCSP_OCSP_H
#define RB_OCSP_OCSP_H

#include <openssl/ocsp.h>
#include <stddef.h>
#include <stdint.h>

#include "core/context.h"
#include "core/error.h"
#include "keys/keys.h"

/* Requests larger than this are refused unread (a one-CertID request is ~80 bytes). */
#define RB_OCSP_MAX_REQUEST_BYTES (64 * 1024)
/*
 * More CertIDs than this in one request is a malformedRequest. RFC 5019 2.1.1
 * clients send exactly one; answering only some of them would break RFC 6960
 * 4.2.1 (one SingleResponse per Request).
 */
#define RB_OCSP_MAX_CERTIDS 16
/* RFC 8954 2.1: nonces of 1 to 32 octets are echoed; others are ignored. */
#define RB_OCSP_MAX_NONCE 32
/* Default nextUpdate - thisUpdate of a response. */
#define RB_OCSP_DEFAULT_VALIDITY_MS (24LL * 3600 * 1000)
/* The settings-table entry that overrides it, in seconds (300 to 864000). */
#define RB_OCSP_VALIDITY_SETTING "ocsp_validity_seconds"

/* ---- requests ---------------------------------------------------------- */

/* One CertID of a request; pointers borrow from the parsed request. */
typedef struct rb_ocsp_certid {
    OCSP_CERTID *id; /* as the client sent it */
    int hash_nid;    /* NID of hashAlgorithm, NID_undef if unknown */
    const uint8_t *name_hash, *key_hash;
    size_t name_hash_len, key_hash_len;
    char serial[41]; /* upper-case hex; "" if it cannot be one of ours */
} rb_ocsp_certid;

typedef struct rb_ocsp_request {
    OCSP_REQUEST *req; /* owned */
    size_t count;
    rb_ocsp_certid ids[RB_OCSP_MAX_CERTIDS];
    int has_nonce; /* a nonce of 1..RB_OCSP_MAX_NONCE octets that must be echoed */
} rb_ocsp_request;

/*
 * Parses a DER OCSPRequest of at most RB_OCSP_MAX_REQUEST_BYTES with no
 * trailing bytes, holding 1 to RB_OCSP_MAX_CERTIDS CertIDs. On failure
 * returns RB_EINVAL naming the rule and leaves *out cleared (safe to pass to
 * rb_ocsp_request_clear). Release with rb_ocsp_request_clear.
 */
rb_status rb_ocsp_request_parse(const uint8_t *der, size_t len, rb_ocsp_request *out,
                                rb_error *err) RB_MUST_CHECK;
void rb_ocsp_request_clear(rb_ocsp_request *req);

/*
 * Recognises the common RFC 5019 2.1.1 request without allocating: exactly
 * one Request with a SHA-1 CertID and a positive serial of at most 20
 * octets, no version, requestorName, extensions or signature, in strict DER.
 * Returns 1 and fills *out (id NULL; hashes borrow from der) when der is
 * that; 0 otherwise, and then rb_ocsp_request_parse decides. Whatever it
 * accepts, rb_ocsp_request_parse reads the same way (fuzz_ocsp_request
 * checks this).
 */
int rb_ocsp_request_parse_simple(const uint8_t *der, size_t len, rb_ocsp_certid *out);

/* ---- the responder ----------------------------------------------------- */

typedef struct rb_ocsp_responder rb_ocsp_responder;

typedef struct rb_ocsp_config {
    int64_t validity_ms; /* nextUpdate - thisUpdate; 0 means RB_OCSP_DEFAULT_VALIDITY_MS */
} rb_ocsp_config;

/* An empty responder (config may be NULL for the defaults). Free with rb_ocsp_responder_free. */
rb_status rb_ocsp_responder_new(const rb_ocsp_config *config, rb_ocsp_responder **out,
                                rb_error *err) RB_MUST_CHECK;

/*
 * Serves the certificates that the issuing CA called name (certificates.issuer)
 * issued, with certificate ca_cert, answering with signer_cert/signer_key.
 * The signer must be a delegated responder (RFC 6960 4.2.2.2): issued by
 * ca_cert, with extendedKeyUsage id-kp-OCSPSigning, and signer_key must match
 * it. Certificates and key are referenced, not consumed. serialise makes
 * signatures with this key one at a time (PKCS#11 token keys).
 */
rb_status rb_ocsp_responder_add_issuer(rb_ocsp_responder *responder, const char *name,
                                       X509 *ca_cert, X509 *signer_cert, EVP_PKEY *signer_key,
                                       int serialise, rb_error *err) RB_MUST_CHECK;

/*
 * Builds a responder from the store: every authority with role 'issuing'
 * that has an 'ocsp' authority certified by it, with that responder's key
 * (secret as for rb_key_load; NULL: the environment), and the validity from
 * the RB_OCSP_VALIDITY_SETTING setting. An issuing CA without a responder
 * is skipped with a warning in the log. Fails with RB_ENOTFOUND when no CA
 * can be served.
 */
rb_status rb_ocsp_responder_load(rb_ctx *ctx, const rb_key_secret *secret, rb_ocsp_responder **out,
                                 rb_error *err) RB_MUST_CHECK;

/* NULL is a no-op. */
void rb_ocsp_responder_free(rb_ocsp_responder *responder);

/* How many issuing CAs the responder serves. */
size_t rb_ocsp_responder_count(const rb_ocsp_responder *responder);

/* ---- answering --------------------------------------------------------- */

typedef struct rb_ocsp_answer {
    uint8_t *der; /* the DER OCSPResponse to send; owned, see rb_ocsp_answer_clear */
    size_t der_len;
    int response_status; /* OCSP_RESPONSE_STATUS_*; SUCCESSFUL (0) when signed */
    /*
     * 1 when HTTP caches may keep the answer until next_update_ms (successful,
     * one CertID, no nonce): the GET headers of RFC 5019 6.2 apply.
     */
    int cacheable;
    int from_cache; /* 1 when served from ocsp_responses without signing */
    int64_t produced_ms, this_update_ms, next_update_ms; /* set when cacheable */
} rb_ocsp_answer;

/*
 * Answers the DER request der. Returns RB_OK whenever there is an
 * OCSPResponse to send, including the unsigned error statuses:
 * malformedRequest (unparseable or refused request), unauthorized (no CertID
 * names an issuer this responder serves, RFC 5019 2.2.3) and internalError
 * (the store or signing failed); err then says why, for the log. For a
 * request mixing served and foreign issuers, the foreign CertIDs are
 * "unknown" (RFC 6960 2.2). Nonce-less single-CertID requests with a SHA-1
 * CertID (the RFC 5019 2.1.1 form) are answered from ocsp_responses when a
 * row is there and not past nextUpdate, else signed and stored. Other
 * requests are signed afresh. Returns an error only when not even an error
 * response could be built (out of memory); *out is untouched then.
 */
rb_status rb_ocsp_respond(const rb_ocsp_responder *responder, rb_ctx *ctx, const uint8_t *der,
                          size_t len, rb_ocsp_answer *out, rb_error *err) RB_MUST_CHECK;

/* Frees the answer's bytes and clears it. */
void rb_ocsp_answer_clear(rb_ocsp_answer *answer);

/*
 * Signs and stores the response of every unexpired certificate of a served
 * CA whose stored response is missing or whose nextUpdate falls within
 * refresh_ms from now (0: half the validity). For start-up and a background
 * refresher; safe to run while lifecycle changes happen in other processes.
 * *signed_count (may be NULL) receives the number of responses stored.
 */
rb_status rb_ocsp_presign_all(const rb_ocsp_responder *responder, rb_ctx *ctx, int64_t refresh_ms,
                              size_t *signed_count, rb_error *err) RB_MUST_CHECK;

/* How far rb_ocsp_presign_since has looked; start from all zeros. */
typedef struct rb_ocsp_presign_cursor {
    int64_t seen_seq;     /* the highest cert_events.audit_seq taken into account */
    int64_t full_pass_ms; /* when the last full pass (rb_ocsp_presign_all) started; 0: never */
} rb_ocsp_presign_cursor;

/* A full pass is made at least this often, to catch anything the changes did not say. */
#define RB_OCSP_FULL_PASS_MS (24LL * 3600 * 1000)

/*
 * The same work as rb_ocsp_presign_all without reading every certificate:
 * the certificates with a lifecycle event (issuance included) after
 * cursor->seen_seq, and the stored responses whose nextUpdate falls within
 * refresh_ms (through their index). The first call, and one every
 * RB_OCSP_FULL_PASS_MS, makes a full pass instead. Answers past their
 * nextUpdate for certificates that have expired are deleted, so the answers
 * falling due stay few. On success the cursor
 * moves to the highest event seen when the pass started, so events committed
 * meanwhile are taken the next time.
 */
rb_status rb_ocsp_presign_since(const rb_ocsp_responder *responder, rb_ctx *ctx, int64_t refresh_ms,
                                rb_ocsp_presign_cursor *cursor, size_t *signed_count,
                                rb_error *err) RB_MUST_CHECK;

#endif
