/*
 * The CRLs of a certification authority: the complete CRL and its delta CRL
 * (RFC 5280 5.2.4), both kept in the store and numbered from one sequence.
 */
#ifndef RB_CA_CRL_H
#define RB_CA_CRL_H

#include "ca/ca.h"

typedef enum rb_crl_kind {
    RB_CRL_FULL,  /* every revoked or held certificate of the CA */
    RB_CRL_DELTA, /* the changes since the stored complete CRL (its base) */
} rb_crl_kind;

/*
 * Returns the current DER CRL of kind for ca_name (NULL: the issuing CA) in
 * a new buffer the caller frees. The stored CRL is returned while fresh;
 * otherwise (or with force) a new one with the next CRL number is signed,
 * stored and audited in one transaction that first turns the CA's holds past
 * their limit into revocations. A delta CRL is stale too once a newer
 * complete CRL exists; a delta asked for before any complete CRL signs the
 * complete one first. A complete CRL names its delta in a Freshest CRL
 * extension ({base_url}/crl/{ca}-delta.crl).
 */
rb_status rb_ca_crl_current(rb_ctx *ctx, const char *ca_name, rb_crl_kind kind,
                            const rb_key_secret *secret, int force, uint8_t **out, size_t *out_len,
                            rb_error *err) RB_MUST_CHECK;

/*
 * Read-only: the stored DER CRL of kind for ca_name, as last signed, in a new
 * buffer the caller frees. RB_ENOTFOUND or RB_EINVAL when ca_name is not a
 * certification authority; RB_ESTATE when it has no such CRL yet.
 */
rb_status rb_ca_crl_stored(rb_ctx *ctx, const char *ca_name, rb_crl_kind kind, uint8_t **out,
                           size_t *out_len, rb_error *err) RB_MUST_CHECK;

/*
 * Re-signs, for every root and issuing CA, the complete and then the delta
 * CRL when stale (as rb_ca_crl_current decides). *signed_count (may be NULL)
 * receives how many CRLs were signed. Stops at the first failure.
 */
rb_status rb_ca_crl_refresh_all(rb_ctx *ctx, const rb_key_secret *secret, int *signed_count,
                                rb_error *err) RB_MUST_CHECK;

#endif
