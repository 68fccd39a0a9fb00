/*
 * One interface to the private keys the provider itself holds (CA, OCSP
 * responder, TSA): an encrypted PKCS#8 file for development, or an object on
 * a PKCS#11 token (an HSM; SoftHSM2 in tests) addressed by an RFC 7512 URI.
 * Either way the caller gets an EVP_PKEY it can sign with; with a token the
 * private key never leaves it. Subscriber keys never come near this module.
 *
 * Threads: once loaded, a handle may be shared by any number of threads, and
 * rb_key_sign or OpenSSL calls on rb_key_get0_pkey (X509_sign,
 * EVP_DigestSign, with one EVP_MD_CTX per call) may run on it concurrently:
 * for token keys libp11 (0.4.12 and later) gives each private-key operation
 * a PKCS#11 session of its own from a per-token pool. rb_key_generate,
 * rb_key_load and rb_key_free may be called from any thread; a handle must not
 * be freed while another thread still signs with it.
 */
#ifndef RB_KEYS_KEYS_H
#define RB_KEYS_KEYS_H

#include <stddef.h>
#include <stdint.h>

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
/* The name rb_key_type_parse accepts for type (static string), "?" if out of range. */
const char *rb_key_type_name(rb_key_type type);

/*
 * Where secrets come from. Never from the command line: a file holding the
 * passphrase or PIN, or an environment variable naming it. When both are
 * NULL, RUBRICA_KEY_PASS (files) and RUBRICA_PKCS11_PIN (tokens) are read.
 * pass_file wins over pass_env. A PIN given in the URI (pin-source, or
 * pin-value) wins over all of these.
 */
typedef struct rb_key_secret {
    const char *pass_file; /* path of a file whose first line is the secret */
    const char *pass_env;  /* name of an environment variable holding it */
} rb_key_secret;

/*
 * Generates a key and stores it. label names the key: 1 to 64 characters
 * from A-Z a-z 0-9 . _ - not starting with '.'. Returns an owned handle in
 * *out and a reference string in *out_ref (owned, free()) to record in the
 * store and give to rb_key_load later:
 *  - store "file:DIR": writes DIR/<label>.key as encrypted PKCS#8
 *    (AES-256-CBC, PBKDF2-HMAC-SHA256), mode 0600, refuses to overwrite
 *    (RB_ECONFLICT); the reference is "file:DIR/<label>.key".
 *  - store "pkcs11:token=...;..." : generates on the token with CKA_LABEL and
 *    CKA_ID from label, private key sensitive and not extractable; refuses a
 *    label already used by a key on the token (RB_ECONFLICT). The reference
 *    is "pkcs11:token=T;object=LABEL;type=private", followed by the store's
 *    module-path and pin-source if it had them (never its pin-value). The
 *    module is taken from the URI's module-path attribute or
 *    RUBRICA_PKCS11_MODULE, default /usr/lib/softhsm/libsofthsm2.so.
 * A missing secret, a wrong passphrase or PIN, an unknown token are each
 * reported with a message saying what to do. *out and *out_ref are written
 * only on success.
 */
rb_status rb_key_generate(const char *store, const char *label, rb_key_type type,
                          const rb_key_secret *secret, rb_key **out, char **out_ref,
                          rb_error *err) RB_MUST_CHECK;

/*
 * Opens a key by the reference rb_key_generate returned ("file:PATH" or a
 * pkcs11: URI naming a private key by object= and/or id=). Returns an owned
 * handle in *out (written only on success). A wrong passphrase or PIN is
 * RB_EPERM, a missing key RB_ENOTFOUND. PKCS#11 login belongs to the whole
 * process: while another handle holds a key on the same token, the token is
 * logged in already and no PIN is read. Handles on one module share one
 * libp11 context, unloaded with the last of them.
 */
rb_status rb_key_load(const char *ref, const rb_key_secret *secret, rb_key **out,
                      rb_error *err) RB_MUST_CHECK;

/*
 * The signing key (borrowed; valid until rb_key_free). Token-backed for
 * PKCS#11: usable with X509_sign, X509_CRL_sign, OCSP_basic_sign,
 * EVP_DigestSign..., from several threads at once (see the top of this file).
 */
EVP_PKEY *rb_key_get0_pkey(const rb_key *key);

/*
 * The public half of the key, as a plain OpenSSL key without private parts
 * (borrowed; valid until rb_key_free): for X509_set_pubkey, X509_verify,
 * EVP_DigestVerify. Safe to use from several threads.
 */
EVP_PKEY *rb_key_get0_public(const rb_key *key);

/*
 * Signs tbs in one shot with md (SHA-256 when NULL; PKCS#1 v1.5 for RSA,
 * DER-encoded ECDSA-Sig-Value for EC). On entry *sig_len is the size of sig;
 * on success it is the signature's length. With sig NULL, sets *sig_len to
 * the largest signature the key can make and returns RB_OK. A buffer too
 * small is RB_EINVAL. May be called concurrently on one handle.
 */
rb_status rb_key_sign(const rb_key *key, const EVP_MD *md, const uint8_t *tbs, size_t tbs_len,
                      uint8_t *sig, size_t *sig_len, rb_error *err) RB_MUST_CHECK;

/* Whether the key lives on a PKCS#11 token. */
int rb_key_is_hardware(const rb_key *key);

/* Frees the handle (and clears any key material held in memory). NULL is a no-op. */
void rb_key_free(rb_key *key);

#endif
