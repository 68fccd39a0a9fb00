/*
 * Small X.509 helpers shared by the CA, OCSP and CRL code: serial numbers
 * and their text form, public-key fingerprints, names as text, and adding
 * extensions built from OpenSSL's own types.
 */
#ifndef RB_PKI_X509UTIL_H
#define RB_PKI_X509UTIL_H

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/error.h"

#define RB_SERIAL_BYTES   20
#define RB_SERIAL_HEX_LEN (2 * RB_SERIAL_BYTES + 1)

/*
 * A fresh serial: 20 bytes from the CSPRNG, positive, first byte non-zero so
 * the DER encoding is always exactly 20 octets (RFC 5280 4.1.2.2). Writes the
 * upper-case hex form to hex.
 */
rb_status rb_serial_random(ASN1_INTEGER **out, char hex[RB_SERIAL_HEX_LEN],
                           rb_error *err) RB_MUST_CHECK;

/*
 * Normalises a serial typed by a person: hex in either case, optionally with
 * colons (as `openssl x509 -serial` or `-text` print it). Writes upper-case
 * hex without colons or leading zero bytes.
 */
rb_status rb_serial_normalise(const char *text, char hex[RB_SERIAL_HEX_LEN],
                              rb_error *err) RB_MUST_CHECK;

/* Upper-case hex of an ASN1_INTEGER's magnitude (as openssl prints it). */
void rb_serial_to_hex(const ASN1_INTEGER *serial, char *hex, size_t len);

/* Hex SHA-256 of the DER SubjectPublicKeyInfo (65 bytes out). */
rb_status rb_spki_sha256_hex(const X509_PUBKEY *spki, char out[65], rb_error *err) RB_MUST_CHECK;

/* An RFC 2253 rendering of name in UTF-8 into buf. Returns buf. */
const char *rb_name_text(const X509_NAME *name, char *buf, size_t len);

/* ASN1_TIME <-> milliseconds since the epoch. */
int64_t rb_asn1_time_ms(const ASN1_TIME *t);
/* Writes ms (whole seconds) into an existing time, e.g. X509_getm_notBefore(cert). */
rb_status rb_asn1_time_set_ms(ASN1_TIME *t, int64_t ms, rb_error *err) RB_MUST_CHECK;

/* Adds an extension of type nid with the given OpenSSL value (not consumed). */
rb_status rb_x509_add_ext(X509 *cert, int nid, int critical, void *value,
                          rb_error *err) RB_MUST_CHECK;

/* The digest a key signs with: SHA-384 for P-384, SHA-512 for P-521, else SHA-256. */
const EVP_MD *rb_signing_digest(EVP_PKEY *key);

/*
 * What the key policy looks at, taken from a key (rb_key_facts_of) or noted
 * while a request's key was read (ca/csr.h), so that the policy does not need
 * the decoded key.
 */
typedef struct rb_key_facts {
    int type;           /* EVP_PKEY_RSA, EVP_PKEY_EC, or NID_undef for any other type */
    int bits;           /* the RSA modulus size, the EC field size */
    int explicit_curve; /* EC: the parameters are spelled out instead of named */
    char curve[64];     /* EC: OpenSSL's short name of the curve ("prime256v1"), or "" */
    char type_name[32]; /* for messages: OpenSSL's name of the key type, or "unknown" */
} rb_key_facts;

void rb_key_facts_of(EVP_PKEY *key, rb_key_facts *out);

/*
 * Checks a subscriber public key: RSA of at least 2048 bits (and at most
 * 8192), or EC on P-256, P-384 or P-521. Names the rule on failure.
 */
rb_status rb_check_key_facts(const rb_key_facts *facts, rb_error *err) RB_MUST_CHECK;
/* The same for a key: rb_key_facts_of, then rb_check_key_facts. */
rb_status rb_check_public_key(EVP_PKEY *key, rb_error *err) RB_MUST_CHECK;

/* PEM of cert appended to a new string the caller frees. */
char *rb_x509_to_pem(X509 *cert);

/*
 * Every PEM certificate in pem[0..len), in order, into a new stack (free with
 * sk_X509_pop_free); the stack is empty when there is none. Text between the
 * certificates is ignored.
 */
rb_status rb_x509_read_pem_stack(const char *pem, size_t len, STACK_OF(X509) **out,
                                 rb_error *err) RB_MUST_CHECK;

/*
 * Sets dst to the key algorithm alg (OID and parameters: a named curve, NULL,
 * absent, or explicit parameters) and the key bits, copied as encoded.
 * Returns 1, or 0 on other parameters or lack of memory (dst unchanged).
 */
int rb_pubkey_set_parts(X509_PUBKEY *dst, const X509_ALGOR *alg, const unsigned char *bits,
                        int bits_len);

#endif
