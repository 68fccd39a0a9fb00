/*
 * What the files of src/ocsp share and nothing else sees: the served issuers
 * with their precomputed CertID hashes, a certificate's status as the store
 * holds it, and the steps of building, signing and caching a response.
 */
#ifndef RB_OCSP_INTERNAL_H
#define RB_OCSP_INTERNAL_H

#include <pthread.h>

#include "ocsp/ocsp.h"

struct rb_authority;

/* CertID hash algorithms matched against precomputed hashes. */
#define OCSP_HASH_ALGS 4

typedef struct ocsp_issuer {
    char name[64]; /* certificates.issuer of the certificates it issued */
    X509 *ca;
    X509 *signer;
    EVP_PKEY *key;
    const EVP_MD *md; /* the digest the signer signs with */
    int serialise;
    pthread_mutex_t lock; /* taken around signing when serialise */
    struct {
        int nid;
        unsigned int len;
        uint8_t name[EVP_MAX_MD_SIZE], key[EVP_MAX_MD_SIZE];
    } hashes[OCSP_HASH_ALGS];
} ocsp_issuer;

typedef struct ocsp_hot_entry ocsp_hot_entry;

struct rb_ocsp_responder {
    int64_t validity_ms;
    ocsp_hot_entry *hot; /* hotcache.c; NULL when it could not be allocated */
    pthread_mutex_t hot_lock;
    ocsp_issuer **issuers;
    size_t count;
    struct rb_authority **owned; /* responder authorities the loader keeps alive */
    size_t owned_count;
};

/* A certificate's status columns; -1 stands for NULL. */
typedef struct ocsp_cert_state {
    int known;       /* 0: no such serial under this issuer */
    char status[16]; /* 'valid', 'suspended' or 'revoked' */
    int64_t revoked_ms, reason, invalidity_ms;
    int64_t hold_until_ms; /* the limit of a suspension, or -1 */
} ocsp_cert_state;

/*
 * The five state columns of certificates (prefix P, e.g. "c."), as of the time
 * in parameter NOW: a suspension past its limit that the maintenance thread
 * has not converted yet already reads as the revocation it becomes (dated at
 * the limit, with the reason stated at suspension and the hold's start as
 * invalidity date, as src/ca/lifecycle.c writes it). Such a state does not
 * match the row, so ocsp_cache_put never keeps an answer made from it.
 */
#define OCSP_LAPSED(P, NOW) "(" P "status = 'suspended' AND " P "hold_until_ms <= " NOW ")"
#define OCSP_STATE_COLUMNS(P, NOW)                                                                 \
    "CASE WHEN " OCSP_LAPSED(                                                                      \
        P, NOW) " THEN 'revoked' ELSE " P "status END, "                                           \
                "CASE WHEN " OCSP_LAPSED(                                                          \
                    P, NOW) " THEN " P "hold_until_ms "                                            \
                            "ELSE coalesce(" P "revoked_ms, -1) END, "                             \
                            "CASE WHEN " OCSP_LAPSED(                                              \
                                P, NOW) " THEN coalesce(" P "hold_expiry_reason, 0) "              \
                                        "ELSE coalesce(" P "reason, -1) END, "                     \
                                        "CASE WHEN " OCSP_LAPSED(                                  \
                                            P, NOW) " THEN coalesce(" P "revoked_ms, -1) "         \
                                                    "ELSE coalesce(" P "invalidity_ms, -1) END, "  \
                                                    "coalesce(" P "hold_until_ms, -1)"

/*
 * The nextUpdate of an answer made at this_ms: the responder's validity, but
 * no later than the limit of a suspension, when the answer will change.
 */
int64_t ocsp_next_update_ms(const rb_ocsp_responder *r, const ocsp_cert_state *state,
                            int64_t this_ms);

/* The in-memory answer cache (hotcache.c). init fails only for lack of memory. */
rb_status ocsp_hot_init(rb_ocsp_responder *r) RB_MUST_CHECK;
void ocsp_hot_free(rb_ocsp_responder *r);
/*
 * Copies into *out (der malloc'd; times set) the answer kept for serial under
 * issuer if it was read from the store at change counter counter (see
 * rb_store_change_counter; 0 never matches) and is before its nextUpdate.
 * Returns 1 on a hit.
 */
int ocsp_hot_get(const rb_ocsp_responder *r, const ocsp_issuer *issuer, const char *serial,
                 uint64_t counter, int64_t now, rb_ocsp_answer *out);
/* Keeps a copy of answer, read from ocsp_responses after the counter was. Best effort. */
void ocsp_hot_put(const rb_ocsp_responder *r, const ocsp_issuer *issuer, const char *serial,
                  uint64_t counter, const rb_ocsp_answer *answer);

/* The issuer whose name and key hashes the CertID carries, or NULL. */
const ocsp_issuer *ocsp_issuer_find(const rb_ocsp_responder *r, const rb_ocsp_certid *id);

/* Reads the status of serial as issued by issuer. */
rb_status ocsp_state_read(rb_ctx *ctx, const ocsp_issuer *issuer, const char *serial,
                          ocsp_cert_state *out, rb_error *err) RB_MUST_CHECK;

/* Adds the SingleResponse for cid (copied) in state, or "unknown" when state is NULL. */
rb_status ocsp_add_single(OCSP_BASICRESP *bs, OCSP_CERTID *cid, const ocsp_cert_state *state,
                          int64_t this_ms, int64_t next_ms, rb_error *err) RB_MUST_CHECK;

/* The SHA-1 CertID of serial (hex) under issuer, as pre-signed responses carry it. */
rb_status ocsp_certid_for(const ocsp_issuer *issuer, const char *serial, OCSP_CERTID **out,
                          rb_error *err) RB_MUST_CHECK;

/*
 * Signs bs with the issuer's responder (responderID byKey, responder
 * certificate included) and encodes the successful OCSPResponse into a new
 * buffer the caller frees.
 */
rb_status ocsp_sign(const ocsp_issuer *issuer, OCSP_BASICRESP *bs, uint8_t **der, size_t *len,
                    rb_error *err) RB_MUST_CHECK;

/* A signed single response for serial in state, valid from this_ms for the configured time. */
rb_status ocsp_sign_single(const rb_ocsp_responder *r, const ocsp_issuer *issuer,
                           const char *serial, const ocsp_cert_state *state, int64_t this_ms,
                           uint8_t **der, size_t *len, rb_error *err) RB_MUST_CHECK;

/*
 * Stores der as the cached response of serial, inside the caller's
 * transaction, only if the certificate still has the status columns in
 * state: the row lock taken by the check orders this write after any
 * concurrent lifecycle change, whose own delete then removes it. *stored is
 * 1 when written.
 */
rb_status ocsp_cache_put(rb_ctx *ctx, const char *serial, const ocsp_cert_state *state,
                         int64_t this_ms, int64_t next_ms, const uint8_t *der, size_t len,
                         int *stored, rb_error *err) RB_MUST_CHECK;

#endif
