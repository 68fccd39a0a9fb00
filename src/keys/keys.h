/*
 * One interface to the private keys the provider itself holds (CA, OCSP
 * responder, TSA): an encrypted PKCS#8 file for development, or an object on
 * a PKCS#11 token (an HSM; SoftHSM2 in tests) addressed by an RFC 7512 URI.
 * Either way the caller gets an EVP_PKEY it can sign with; with a token the
 * private key never leaves it. Subscriber keys never come near this module.
 */
#ifndef RB_KEYS_KEYS_H
#define RB_KEYS_KEYS_H

#include <openssl/evp.h>

#include "core/error.h"

typedef struct rb_key rb_key;

typedef enum rb_key_type {
    RB_KEY_EC_P256,
    RB_KEY_EC_P384,
    RB_KEY_RSA_2048,
    RB_KEY_RSA_3072,
    RB_KEY_RSA_4096,
} rb_key_type;

/* Parses "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096". */
rb_status rb_key_type_parse(const char *name, rb_key_type *out, rb_error *err) RB_MUST_CHECK;
const char *rb_key_type_name(rb_key_type type);

/*
 * Where secrets come from. Never from the command line: a file holding the
 * passphrase or PIN, or an environment variable naming it. When both are
 * NULL, RUBRICA_KEY_PASS (files) and RUBRICA_PKCS11_PIN (tokens) are read.
 */
typedef struct rb_key_secret {
    const char *pass_file; /* path of a file whose first line is the secret */
    const char *pass_env;  /* name of an environment variable holding it */
} rb_key_secret;

/*
 * Generates a key and stores it, returning an owned handle and a reference
 * string (owned, free()) to record in the store and give to rb_key_load later:
 *  - store "file:DIR": writes DIR/<label>.key as encrypted PKCS#8
 *    (AES-256-CBC, PBKDF2), refuses to overwrite; the reference is
 *    "file:DIR/<label>.key".
 *  - store "pkcs11:token=...;..." : generates on the token with CKA_LABEL and
 *    CKA_ID from label, private key sensitive and not extractable; the
 *    reference is a pkcs11: URI naming that object. The module is taken from
 *    the URI's module-path attribute or RUBRICA_PKCS11_MODULE, default
 *    /usr/lib/softhsm/libsofthsm2.so.
 */
rb_status rb_key_generate(const char *store, const char *label, rb_key_type type,
                          const rb_key_secret *secret, rb_key **out, char **out_ref,
                          rb_error *err) RB_MUST_CHECK;

/* Opens a key by the reference rb_key_generate returned. */
rb_status rb_key_load(const char *ref, const rb_key_secret *secret, rb_key **out,
                      rb_error *err) RB_MUST_CHECK;

/* The signing key (borrowed; valid until rb_key_free). Token-backed for PKCS#11. */
EVP_PKEY *rb_key_get0_pkey(const rb_key *key);

/* Whether the key lives on a PKCS#11 token. */
int rb_key_is_hardware(const rb_key *key);

/* Frees the handle (and clears any key material held in memory). NULL is a no-op. */
void rb_key_free(rb_key *key);

#endif
