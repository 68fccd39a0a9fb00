/*
 * Shared between the files of src/keys (not part of the public interface):
 * the rb_key structure, the table of key types, secret reading, and the entry
 * points of the two back ends, file.c (encrypted PKCS#8) and pkcs11.c (tokens).
 */
#ifndef RB_KEYS_INTERNAL_H
#define RB_KEYS_INTERNAL_H

#include "keys/keys.h"

/* Longest passphrase or PIN accepted, terminating NUL included. */
#define RB_KEY_SECRET_MAX 1024

struct p11_module;

struct rb_key {
    EVP_PKEY *pkey;            /* signing key; token-backed when module != NULL */
    EVP_PKEY *pub;             /* the same public key, provider-native, no private part */
    struct p11_module *module; /* PKCS#11 module the key lives in, or NULL for a file key */
};

/* What generating each rb_key_type means. */
typedef struct rb_key_type_info {
    rb_key_type type;
    const char *name; /* "ec-p256", ... */
    int is_ec;
    int curve_nid;         /* EC only */
    const char *curve;     /* EC only: OpenSSL group name */
    unsigned int rsa_bits; /* RSA only; the public exponent is always 65537 */
} rb_key_type_info;

/* The entry for type, or NULL when type is out of range. */
const rb_key_type_info *rb_key_type_info_get(rb_key_type type);

/*
 * Reads a secret into buf (NUL-terminated): secret->pass_file's first line,
 * else the variable secret->pass_env, else the variable default_env. what
 * names the secret in messages ("passphrase", "PIN") and hint says how to
 * give one. The caller clears buf with OPENSSL_cleanse whatever the result.
 */
rb_status rb_key_secret_read(const rb_key_secret *secret, const char *default_env, const char *what,
                             const char *hint, char *buf, size_t len, rb_error *err) RB_MUST_CHECK;

/*
 * Wraps pkey (ownership taken, freed on failure too) in a new handle; module
 * is the PKCS#11 module reference the handle will hold (released on failure).
 */
rb_status rb_key_wrap(EVP_PKEY *pkey, struct p11_module *module, rb_key **out,
                      rb_error *err) RB_MUST_CHECK;

/* file.c: path is DIR for generate, the key file for load. */
rb_status rb_keyfile_generate(const char *dir, const char *label, rb_key_type type,
                              const rb_key_secret *secret, rb_key **out, char **out_ref,
                              rb_error *err) RB_MUST_CHECK;
rb_status rb_keyfile_load(const char *path, const rb_key_secret *secret, rb_key **out,
                          rb_error *err) RB_MUST_CHECK;

/* pkcs11.c: uri is the whole "pkcs11:..." string. */
rb_status rb_keyp11_generate(const char *uri, const char *label, rb_key_type type,
                             const rb_key_secret *secret, rb_key **out, char **out_ref,
                             rb_error *err) RB_MUST_CHECK;
rb_status rb_keyp11_load(const char *uri, const rb_key_secret *secret, rb_key **out,
                         rb_error *err) RB_MUST_CHECK;
/* Frees pkey (a token key of module) and drops the handle's module reference. */
void rb_keyp11_release(EVP_PKEY *pkey, struct p11_module *module);

#endif
