/*
 * The issuing context: an issuing CA with its key, the jurisdiction's
 * profiles, the base URL its certificates point to, and the extensions that
 * are the same for every certificate of a profile, built once. Private to
 * src/ca.
 */
#ifndef RB_CA_ISSUER_H
#define RB_CA_ISSUER_H

#include "ca/ca.h"
#include "ca/csr.h"
#include "pki/profile.h"
#include "pki/subject.h"
#include "pki/x509util.h"

typedef struct rb_issuer rb_issuer;

/* Opens the CA called ca_name (NULL: the issuing CA) with its key. */
rb_status rb_issuer_open(rb_ctx *ctx, const char *ca_name, const rb_key_secret *secret,
                         rb_issuer **out, rb_error *err) RB_MUST_CHECK;
void rb_issuer_free(rb_issuer *issuer);

const rb_jurisdiction *rb_issuer_get0_jurisdiction(const rb_issuer *issuer);
const rb_authority *rb_issuer_get0_authority(const rb_issuer *issuer);
/* The issuer's request reader (ca/csr.h); borrowed, used by the issuer's thread only. */
rb_csr_reader *rb_issuer_get0_csr_reader(rb_issuer *issuer);

/*
 * A zeroed block of at least size bytes, owned by the issuer and valid until
 * the next call: the working space of one batch (rb_ca_issue). Reused so that
 * a batch does not allocate and free a block large enough to make malloc
 * consolidate its free lists every time. NULL when out of memory.
 */
void *rb_issuer_scratch(rb_issuer *issuer, size_t size);

/*
 * Fills in cert (new, empty but for a subject that may already be built in
 * its own name), a subscriber certificate of profile for subject and the
 * public key spki (copied as encoded: re-encoding a key through OpenSSL 3's
 * encoders costs more than the signature), valid [not_before_ms,
 * not_after_ms]; lints it and signs it. Writes its DER to *der (OPENSSL_free;
 * the same bytes cert encodes to) and its serial in hex. Touches no store.
 */
rb_status rb_issuer_sign(rb_issuer *issuer, const rb_profile *profile, const rb_subject *subject,
                         const X509_PUBKEY *spki, int64_t not_before_ms, int64_t not_after_ms,
                         X509 *cert, unsigned char **der, size_t *der_len,
                         char serial_hex[RB_SERIAL_HEX_LEN], rb_error *err) RB_MUST_CHECK;

/* The base URL the certificates name when the store's base_url setting is unset. */
#define RB_DEFAULT_BASE_URL "http://127.0.0.1:8080"

/* Extension values shared with CA-certificate building in init.c (owned results). */
AUTHORITY_INFO_ACCESS *rb_ext_aia(const char *base_url, const char *ca_name, int with_ocsp);
STACK_OF(DIST_POINT) *rb_ext_crldp(const char *base_url, const char *ca_name);
ASN1_OCTET_STRING *rb_ext_ski(const X509_PUBKEY *spki);
AUTHORITY_KEYID *rb_ext_akid(X509 *issuer_cert);

/* Reads a jurisdiction's profile file from the data directory. */
rb_status rb_issuer_load_jurisdiction(rb_ctx *ctx, rb_jurisdiction **out,
                                      rb_error *err) RB_MUST_CHECK;

/* Revokes serial as superseded inside the caller's transaction (re-issue). */
rb_status rb_ca_supersede_in_transaction(rb_ctx *ctx, const char *serial,
                                         rb_error *err) RB_MUST_CHECK;

/*
 * Issues a certificate of profile for one of the provider's own keys (OCSP
 * responder, TSA), inside the caller's transaction.
 */
rb_status rb_ca_issue_own(rb_ctx *ctx, rb_issuer *issuer, const char *profile, json_t *fields,
                          EVP_PKEY *key, rb_issued *out, rb_error *err) RB_MUST_CHECK;

#endif
