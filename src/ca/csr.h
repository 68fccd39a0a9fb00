/*
 * Reading PKCS#10 certification requests (RFC 2986) on the issuance path.
 * The request is decoded with our own ASN.1 template that keeps the public
 * key as raw bytes, so the key is built straight from its parameters instead
 * of through OpenSSL 3's generic key decoders, which cost more than the
 * signature check itself. Private to src/ca (and the tests and fuzz targets).
 */
#ifndef RB_CA_CSR_H
#define RB_CA_CSR_H

#include "ca/ca.h"
#include "pki/x509util.h"

typedef struct rb_csr rb_csr;

/*
 * What rb_csr_read reuses from one request to the next (key-import contexts,
 * a key per curve).
 * Not shared between threads: each issuer owns one.
 */
typedef struct rb_csr_reader rb_csr_reader;

rb_status rb_csr_reader_new(rb_csr_reader **out, rb_error *err) RB_MUST_CHECK;
void rb_csr_reader_free(rb_csr_reader *reader);

/*
 * Parses a request (PEM or DER, at most RB_CSR_MAX_BYTES, version 1 (0), no
 * trailing bytes) and verifies its signature with the key it carries (proof
 * of possession). reader may be NULL (a temporary one is used). On success
 * *out is owned by the caller (rb_csr_free). Does not apply the key policy.
 */
rb_status rb_csr_read(rb_csr_reader *reader, const uint8_t *data, size_t len, rb_csr **out,
                      rb_error *err) RB_MUST_CHECK;
void rb_csr_free(rb_csr *csr);

/*
 * The request's public key, decoded anew from its SubjectPublicKeyInfo by
 * OpenSSL's decoders (owned: EVP_PKEY_free), or NULL. Not for the issuance
 * path: the key that verified the request is not kept.
 */
EVP_PKEY *rb_csr_get1_pkey(const rb_csr *csr);
/* What the key policy needs to know of the request's key (pki/x509util.h); borrowed. */
const rb_key_facts *rb_csr_get0_key_facts(const rb_csr *csr);
/* The request's SubjectPublicKeyInfo (algorithm and key bits as received); borrowed. */
const X509_PUBKEY *rb_csr_get0_spki(const rb_csr *csr);

#endif
