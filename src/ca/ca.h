/*
 * The certification authority: its hierarchy (root, issuing CAs, the OCSP
 * responder and TSA certificates), issuance from PKCS#10 requests, the
 * certificate lifecycle and CRLs. All state lives in the store; a loaded
 * rb_authority holds one of the provider's certificates with its key.
 */
#ifndef RB_CA_CA_H
#define RB_CA_CA_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "core/context.h"
#include "core/error.h"
#include "keys/keys.h"

typedef enum rb_authority_role {
    RB_ROLE_ROOT,
    RB_ROLE_ISSUING,
    RB_ROLE_OCSP,
    RB_ROLE_TSA,
} rb_authority_role;

/* One of the provider's own certificates and its key, loaded from the store. */
typedef struct rb_authority {
    char name[64];
    char issuer[64]; /* name of the authority that certified it (itself for a root) */
    rb_authority_role role;
    X509 *cert;
    rb_key *key; /* NULL when loaded without the key */
} rb_authority;

/*
 * Loads the authority called name (or, when name is NULL, the first one with
 * the given role) from the store. With_key loads its private key too, using
 * secret (NULL: the environment). Free with rb_authority_free.
 */
rb_status rb_authority_load(rb_ctx *ctx, const char *name, rb_authority_role role, int with_key,
                            const rb_key_secret *secret, rb_authority **out,
                            rb_error *err) RB_MUST_CHECK;
void rb_authority_free(rb_authority *authority);

/*
 * The chain from authority up to (and including) its root, leaf first, as
 * owned X509 references in a new stack (sk_X509_pop_free(chain, X509_free)).
 */
rb_status rb_authority_chain(rb_ctx *ctx, const rb_authority *authority, STACK_OF(X509) **out,
                             rb_error *err) RB_MUST_CHECK;

/* "root", "issuing", "ocsp" or "tsa". */
const char *rb_authority_role_name(rb_authority_role role);

/* A setting from the settings table (owned copy in out, free()), or NULL if unset. */
rb_status rb_setting_get(rb_ctx *ctx, const char *name, char **out, rb_error *err) RB_MUST_CHECK;
/* Sets a setting; run inside a transaction. */
rb_status rb_setting_set(rb_ctx *ctx, const char *name, const char *value,
                         rb_error *err) RB_MUST_CHECK;

/* The current status of a subscriber certificate, as OCSP and CRLs report it. */
typedef enum rb_cert_status {
    RB_CERT_VALID,
    RB_CERT_SUSPENDED,
    RB_CERT_REVOKED,
} rb_cert_status;

/* Limits on outside input. */
#define RB_CSR_MAX_BYTES (64 * 1024)

typedef struct rb_issuer rb_issuer;

/* A request to certify a subscriber's key: only from their own PKCS#10 request. */
typedef struct rb_issue_request {
    const uint8_t *csr; /* PEM or DER, at most RB_CSR_MAX_BYTES */
    size_t csr_len;
    const char *profile;
    json_t *fields;       /* verified subject fields (borrowed): given_name, id_number ... */
    int days;             /* 0: the profile's maximum */
    int publish;          /* the holder consents to publication in the repository */
    const char *replaces; /* serial this renews or re-issues, or NULL */
    int supersede;        /* revoke `replaces` as superseded in the same transaction */
} rb_issue_request;

typedef struct rb_issued {
    char serial[41];
    X509 *cert; /* owned by the caller */
} rb_issued;

/*
 * Issues certificates for n requests in one transaction: verifies each CSR's
 * signature (proof of possession), the key policy, that the key is not
 * certified for another subject, the subject fields and validity against the
 * profile; builds, lints and signs; records each certificate, its issuance
 * event and audit record; commits durably; only then fills out[]. All or
 * nothing: on failure nothing is written and err names the request (for
 * n > 1) and the rule.
 */
rb_status rb_ca_issue(rb_ctx *ctx, rb_issuer *issuer, const rb_issue_request *requests, size_t n,
                      rb_issued *out, rb_error *err) RB_MUST_CHECK;

/* Opens the issuing context of the CA called ca_name (NULL: the default issuing CA). */
rb_status rb_ca_open_issuer(rb_ctx *ctx, const char *ca_name, const rb_key_secret *secret,
                            rb_issuer **out, rb_error *err) RB_MUST_CHECK;
void rb_ca_close_issuer(rb_issuer *issuer);

/* Parses a CSR (PEM or DER, bounded) and verifies its self-signature. */
rb_status rb_csr_parse(const uint8_t *data, size_t len, X509_REQ **out,
                       rb_error *err) RB_MUST_CHECK;

/* RFC 5280 5.3.1 reason codes, by the names the CLI and API use. */
typedef enum rb_revocation_reason {
    RB_REASON_UNSPECIFIED = 0,
    RB_REASON_KEY_COMPROMISE = 1,
    RB_REASON_CA_COMPROMISE = 2,
    RB_REASON_AFFILIATION_CHANGED = 3,
    RB_REASON_SUPERSEDED = 4,
    RB_REASON_CESSATION_OF_OPERATION = 5,
    RB_REASON_CERTIFICATE_HOLD = 6,
    RB_REASON_PRIVILEGE_WITHDRAWN = 9,
} rb_revocation_reason;

/* "key-compromise" -> RB_REASON_KEY_COMPROMISE; certificate-hold is not accepted here. */
rb_status rb_reason_parse(const char *name, rb_revocation_reason *out, rb_error *err) RB_MUST_CHECK;
const char *rb_reason_name(int reason);
/* The legal cause (DOMAIN.md section 4) recorded when the operator states none. */
const char *rb_reason_default_cause(int reason);

/* A subscriber certificate's record. Strings are owned; free with rb_cert_record_clear. */
typedef struct rb_cert_record {
    char serial[41];
    char issuer[64];
    char profile[48];
    char *subject;
    char *subject_id;
    char *fields; /* JSON */
    int64_t not_before_ms, not_after_ms, issued_ms;
    rb_cert_status status;
    int64_t revoked_ms; /* 0 unless revoked or suspended */
    int reason;         /* -1 when none */
    char *legal_cause;
    int64_t invalidity_ms;  /* 0 when not stated */
    int64_t hold_until_ms;  /* 0 unless suspended (or revoked because the hold ran out) */
    int hold_expiry_reason; /* while suspended: the reason it takes at hold_until_ms */
    char *replaces;
    int publish;
    uint8_t *der;
    size_t der_len;
} rb_cert_record;

void rb_cert_record_clear(rb_cert_record *rec);
/* The record as JSON (new reference), as the CLI's --json and the API show it. */
json_t *rb_cert_record_to_json(const rb_cert_record *rec, int with_pem);
/*
 * The certificate's history, oldest first, as a new JSON array of {at, event,
 * audit_seq, detail}: its issuance (from the record), then every later
 * event (suspend, reinstate, revoke) with the audit record that logged it.
 */
rb_status rb_ca_history(rb_ctx *ctx, const rb_cert_record *rec, json_t **out,
                        rb_error *err) RB_MUST_CHECK;
const char *rb_cert_status_name(rb_cert_status status);

/* Loads a certificate record by serial (any form rb_serial_normalise accepts). */
rb_status rb_ca_get(rb_ctx *ctx, const char *serial, rb_cert_record *out,
                    rb_error *err) RB_MUST_CHECK;

typedef struct rb_cert_filter {
    const char *status;  /* "valid", "suspended", "revoked", "expired" or NULL */
    const char *subject; /* substring of the subject or its identifier, or NULL */
    const char *profile; /* or NULL */
    int published_only;  /* only certificates whose holder consented to publication */
    int limit;           /* 0: no limit */
    int offset;
} rb_cert_filter;

/* Calls fn for each matching record, newest first; fn returns non-zero to stop. */
rb_status rb_ca_list(rb_ctx *ctx, const rb_cert_filter *filter,
                     int (*fn)(const rb_cert_record *rec, void *arg), void *arg,
                     rb_error *err) RB_MUST_CHECK;

/*
 * What a hold becomes when it reaches its limit without reinstatement: a
 * revocation dated at hold_until_ms, with the reason chosen when suspending,
 * this legal cause, and the start of the hold as invalidity date. rb_ca_get
 * and rb_ca_list report a hold past its limit this way even before the store
 * has converted it, so every reader agrees with what the conversion writes.
 */
#define RB_HOLD_EXPIRED_CAUSE "la suspensión venció sin reactivación"

/* Lifecycle: each change, its event, its audit record and the invalidation of the
 * cached OCSP response and CRL commit together. Times are UTC milliseconds. */
rb_status rb_ca_revoke(rb_ctx *ctx, const char *serial, rb_revocation_reason reason,
                       const char *legal_cause, int64_t invalidity_ms, rb_error *err) RB_MUST_CHECK;
/*
 * Suspends (certificateHold) until until_ms (0: the jurisdiction's maximum).
 * expiry_reason is the reason of the revocation the hold becomes if it
 * reaches its limit (RB_REASON_UNSPECIFIED when none was stated).
 */
rb_status rb_ca_suspend(rb_ctx *ctx, const char *serial, int64_t until_ms,
                        rb_revocation_reason expiry_reason, const char *legal_cause,
                        rb_error *err) RB_MUST_CHECK;
/* Lifts a hold; a hold past its limit is a revocation and cannot be lifted. */
rb_status rb_ca_reinstate(rb_ctx *ctx, const char *serial, rb_error *err) RB_MUST_CHECK;
/*
 * Turns holds past their limit into permanent revocations (see
 * RB_HOLD_EXPIRED_CAUSE), each with its event and audit record, in one
 * transaction; *count (may be NULL) receives how many.
 */
rb_status rb_ca_expire_holds(rb_ctx *ctx, int *count, rb_error *err) RB_MUST_CHECK;
/*
 * The same inside the caller's transaction, for the certificates of the CA
 * called issuer only (NULL: every CA). *count may be NULL.
 */
rb_status rb_ca_expire_holds_in_transaction(rb_ctx *ctx, const char *issuer, int *count,
                                            rb_error *err) RB_MUST_CHECK;
/* Whether a hold of the CA called issuer (NULL: any) is past its limit and not yet converted. */
rb_status rb_ca_expired_hold_pending(rb_ctx *ctx, const char *issuer, int *pending,
                                     rb_error *err) RB_MUST_CHECK;
/* The earliest limit of a current hold (*out_ms = 0 when nothing is on hold). */
rb_status rb_ca_next_hold_limit(rb_ctx *ctx, int64_t *out_ms, rb_error *err) RB_MUST_CHECK;

/*
 * Renewal (same subject and fields, new validity, from a CSR that may reuse
 * the key; the old certificate stays valid until it expires) and re-issue
 * (a new key is required; the old certificate is revoked as superseded).
 */
rb_status rb_ca_renew(rb_ctx *ctx, rb_issuer *issuer, const char *serial, const uint8_t *csr,
                      size_t csr_len, int days, int reissue, int force, rb_issued *out,
                      rb_error *err) RB_MUST_CHECK;

/* Appends a lifecycle event for serial: the audit record and the cert_events row.
 * Must run inside a transaction. */
rb_status rb_ca_record_event(rb_ctx *ctx, const char *serial, const char *event, json_t *detail,
                             rb_error *err) RB_MUST_CHECK;
/* The same with the detail already encoded as rb_audit_append_text takes it. */
rb_status rb_ca_record_event_text(rb_ctx *ctx, const char *serial, const char *event,
                                  const char *detail_json, rb_error *err) RB_MUST_CHECK;

#endif
