/*
 * Private to src/tsa: time-stamp tokens encoded directly, for the common case
 * (an EC P-256 file key, a query OpenSSL would grant). Everything that does
 * not change between tokens (the signer's identifier, its certificates, the
 * ESSCertIDv2 attribute, the algorithm identifiers, the policy and accuracy)
 * is encoded once; a token then costs one SHA-256 of the TSTInfo, one of the
 * signed attributes, and one ECDSA signature. Queries this path does not take
 * go through OpenSSL's TS_RESP_CTX, which words every refusal.
 */
#ifndef RB_TSA_TOKEN_H
#define RB_TSA_TOKEN_H

#include <openssl/ts.h>

#include "tsa/records.h"

typedef struct tsa_token_signer tsa_token_signer;

/*
 * Precomputes what every token shares. chain may be NULL; others may be
 * NULL. Returns RB_ENOTFOUND (and nothing in *out) when the key is not one
 * this path signs with: then only OpenSSL's path is used. Free with
 * tsa_token_signer_free (NULL is a no-op).
 */
rb_status tsa_token_signer_new(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
                               const ASN1_OBJECT *policy, const STACK_OF(ASN1_OBJECT) *others,
                               int accuracy_ms, tsa_token_signer **out,
                               rb_error *err) RB_MUST_CHECK;
void tsa_token_signer_free(tsa_token_signer *s);

/* A signing context for one thread (EVP_PKEY_CTX is not shared), or NULL. */
EVP_PKEY_CTX *tsa_token_sign_ctx(const tsa_token_signer *s);

/*
 * Whether query (parsed, trailing bytes and nonce size already checked) is
 * one OpenSSL would grant: version 1, no extensions, a SHA-2 imprint of the
 * right length with absent or NULL parameters, and no policy or an accepted
 * one.
 */
int tsa_token_takes(const tsa_token_signer *s, TS_REQ *query);

/*
 * Builds the granted TimeStampResp for query (see tsa_token_takes) with
 * serial (TSA_SERIAL_BYTES, positive, first octet non-zero) at at_ms, signing
 * with sign_ctx. *der is malloc'd. Fills rec's serial, time, policy, imprint,
 * nonce and token hash.
 */
rb_status tsa_token_build(const tsa_token_signer *s, EVP_PKEY_CTX *sign_ctx, TS_REQ *query,
                          const uint8_t *serial, int64_t at_ms, uint8_t **der, size_t *len,
                          tsa_record *rec, rb_error *err) RB_MUST_CHECK;

#endif
