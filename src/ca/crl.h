/*
 * The current CRL of a certification authority.
 */
#ifndef RB_CA_CRL_H
#define RB_CA_CRL_H

#include "ca/ca.h"

/*
 * Returns the current DER CRL of ca_name (NULL: the issuing CA) in a new
 * buffer the caller frees. The stored CRL is served while fresh; otherwise
 * (or with force) a new one with the next CRL number is signed, stored and
 * audited. Holds past their limit are turned into revocations first.
 */
rb_status rb_ca_crl_current(rb_ctx *ctx, const char *ca_name, const rb_key_secret *secret,
                            int force, uint8_t **out, size_t *out_len, rb_error *err) RB_MUST_CHECK;

#endif
