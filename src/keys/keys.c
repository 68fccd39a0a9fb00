/*
 * The key interface: key type names, reading passphrases and PINs from a file
 * or the environment, dispatch to the file and PKCS#11 back ends by the
 * store's or reference's scheme, and the operations common to both (public
 * key, thread-safe signing, freeing).
 */
#include "keys/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>

#define LABEL_MAX 64

static const rb_key_type_info key_types[] = {
    {RB_KEY_EC_P256, "ec-p256", 1, NID_X9_62_prime256v1, "P-256", 0},
    {RB_KEY_EC_P384, "ec-p384", 1, NID_secp384r1, "P-384", 0},
    {RB_KEY_RSA_2048, "rsa-2048", 0, 0, NULL, 2048},
    {RB_KEY_RSA_3072, "rsa-3072", 0, 0, NULL, 3072},
    {RB_KEY_RSA_4096, "rsa-4096", 0, 0, NULL, 4096},
};

#define KEY_TYPE_COUNT (sizeof(key_types) / sizeof(key_types[0]))

const rb_key_type_info *rb_key_type_info_get(rb_key_type type)
{
    for (size_t i = 0; i < KEY_TYPE_COUNT; i++)
        if (key_types[i].type == type)
            return &key_types[i];
    return NULL;
}

rb_status rb_key_type_parse(const char *name, rb_key_type *out, rb_error *err)
{
    if (name == NULL)
        return rb_fail(err, RB_EINVAL, NULL, "no key type given");
    for (size_t i = 0; i < KEY_TYPE_COUNT; i++) {
        if (strcmp(name, key_types[i].name) == 0) {
            *out = key_types[i].type;
            return RB_OK;
        }
    }
    return rb_fail(err, RB_EINVAL, NULL,
                   "unknown key type '%s': use ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096",
                   name);
}

const char *rb_key_type_name(rb_key_type type)
{
    const rb_key_type_info *info = rb_key_type_info_get(type);
    return info ? info->name : "?";
}

/* Reads the first line of path into buf; the file is read with read(2) so no stdio buffer keeps a
 * copy. */
static rb_status secret_from_file(const char *path, const char *what, char *buf, size_t len,
                                  rb_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rb_fail(err, errno == ENOENT ? RB_ENOTFOUND : RB_EIO, NULL,
                       "cannot read the %s file %s: %s", what, path, strerror(errno));
    size_t used = 0;
    rb_status st = RB_OK;
    while (used < len - 1 && memchr(buf, '\n', used) == NULL) {
        ssize_t n = read(fd, buf + used, len - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = rb_fail(err, RB_EIO, NULL, "cannot read the %s file %s: %s", what, path,
                         strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    char *newline = memchr(buf, '\n', used);
    if (newline == NULL && used == len - 1) {
        st = rb_fail(err, RB_EINVAL, NULL, "the first line of the %s file %s is too long", what,
                     path);
        goto done;
    }
    if (newline != NULL)
        *newline = '\0';
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\r')
        buf[n - 1] = '\0';
    if (buf[0] == '\0')
        st = rb_fail(err, RB_EINVAL, NULL, "the %s file %s is empty", what, path);
done:
    close(fd);
    return st;
}

static rb_status secret_from_env(const char *name, const char *what, const char *hint, char *buf,
                                 size_t len, rb_error *err)
{
    const char *value = getenv(name);
    if (value == NULL || value[0] == '\0')
        return rb_fail(err, RB_EINVAL, NULL, "no %s: %s", what, hint);
    if (strlen(value) >= len)
        return rb_fail(err, RB_EINVAL, NULL, "the %s in %s is too long", what, name);
    memcpy(buf, value, strlen(value) + 1);
    return RB_OK;
}

rb_status rb_key_secret_read(const rb_key_secret *secret, const char *default_env, const char *what,
                             const char *hint, char *buf, size_t len, rb_error *err)
{
    buf[0] = '\0';
    if (secret != NULL && secret->pass_file != NULL)
        return secret_from_file(secret->pass_file, what, buf, len, err);
    if (secret != NULL && secret->pass_env != NULL) {
        char named[160];
        snprintf(named, sizeof(named), "the environment variable %s is not set", secret->pass_env);
        return secret_from_env(secret->pass_env, what, named, buf, len, err);
    }
    return secret_from_env(default_env, what, hint, buf, len, err);
}

rb_status rb_key_wrap(EVP_PKEY *pkey, struct p11_module *module, rb_key **out, rb_error *err)
{
    rb_key *key = calloc(1, sizeof(*key));
    unsigned char *der = NULL;
    rb_status st = RB_OK;
    if (key == NULL) {
        st = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
        goto fail;
    }
    /* A DER round trip gives a provider-native public key whatever backs pkey. */
    int der_len = i2d_PUBKEY(pkey, &der);
    const unsigned char *p = der;
    if (der_len > 0)
        key->pub = d2i_PUBKEY(NULL, &p, der_len);
    if (key->pub == NULL) {
        st = rb_fail_crypto(err, "cannot read the public half of the key");
        goto fail;
    }
    OPENSSL_free(der);
    key->pkey = pkey;
    key->module = module;
    *out = key;
    return RB_OK;
fail:
    OPENSSL_free(der);
    if (key != NULL)
        EVP_PKEY_free(key->pub);
    free(key);
    if (module != NULL)
        rb_keyp11_release(pkey, module);
    else
        EVP_PKEY_free(pkey);
    return st;
}

static int label_ok(const char *label)
{
    size_t n = label ? strlen(label) : 0;
    if (n == 0 || n > LABEL_MAX || label[0] == '.')
        return 0;
    return strspn(label, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int has_scheme(const char *s, const char *scheme)
{
    size_t n = strlen(scheme);
    return strncasecmp(s, scheme, n) == 0;
}

rb_status rb_key_generate(const char *store, const char *label, rb_key_type type,
                          const rb_key_secret *secret, rb_key **out, char **out_ref, rb_error *err)
{
    if (rb_key_type_info_get(type) == NULL)
        return rb_fail(err, RB_EINVAL, NULL, "unknown key type %d", (int)type);
    if (!label_ok(label))
        return rb_fail(err, RB_EINVAL, NULL,
                       "invalid key label '%s': use 1 to %d characters from A-Z a-z 0-9 . _ -, "
                       "not starting with '.'",
                       label ? label : "", LABEL_MAX);
    if (store == NULL)
        return rb_fail(err, RB_EINVAL, NULL, "no key store given: use file:DIR or pkcs11:...");
    if (has_scheme(store, "file:"))
        return rb_keyfile_generate(store + 5, label, type, secret, out, out_ref, err);
    if (has_scheme(store, "pkcs11:"))
        return rb_keyp11_generate(store, label, type, secret, out, out_ref, err);
    return rb_fail(err, RB_EINVAL, NULL, "unknown key store '%s': use file:DIR or pkcs11:...",
                   store);
}

rb_status rb_key_load(const char *ref, const rb_key_secret *secret, rb_key **out, rb_error *err)
{
    if (ref == NULL)
        return rb_fail(err, RB_EINVAL, NULL, "no key reference given");
    if (has_scheme(ref, "file:"))
        return rb_keyfile_load(ref + 5, secret, out, err);
    if (has_scheme(ref, "pkcs11:"))
        return rb_keyp11_load(ref, secret, out, err);
    return rb_fail(err, RB_EINVAL, NULL,
                   "unknown key reference '%s': expected file:PATH or pkcs11:...", ref);
}

EVP_PKEY *rb_key_get0_pkey(const rb_key *key)
{
    return key ? key->pkey : NULL;
}

EVP_PKEY *rb_key_get0_public(const rb_key *key)
{
    return key ? key->pub : NULL;
}

int rb_key_is_hardware(const rb_key *key)
{
    return key != NULL && key->module != NULL;
}

rb_status rb_key_sign(const rb_key *key, const EVP_MD *md, const uint8_t *tbs, size_t tbs_len,
                      uint8_t *sig, size_t *sig_len, rb_error *err)
{
    if (key == NULL || sig_len == NULL || (tbs == NULL && tbs_len > 0))
        return rb_fail(err, RB_EINVAL, NULL, "rb_key_sign: missing argument");
    if (md == NULL)
        md = EVP_sha256();
    if (sig == NULL) {
        *sig_len = (size_t)EVP_PKEY_get_size(key->pkey);
        return RB_OK;
    }
    /*
     * No lock: each call has its own EVP_MD_CTX, and a token key takes a
     * PKCS#11 session of its own for each operation (see pkcs11.c).
     */
    rb_status st = RB_OK;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = 0;
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, md, NULL, key->pkey) != 1 ||
        EVP_DigestSign(ctx, NULL, &len, tbs, tbs_len) != 1) {
        st = rb_fail_crypto(err, "cannot start a signature with the key");
        goto done;
    }
    if (*sig_len < len) {
        st = rb_fail(err, RB_EINVAL, NULL, "signature buffer too small (%zu bytes, need %zu)",
                     *sig_len, len);
        goto done;
    }
    len = *sig_len;
    if (EVP_DigestSign(ctx, sig, &len, tbs, tbs_len) != 1) {
        st = rb_fail_crypto(err, "signing failed");
        goto done;
    }
    *sig_len = len;
done:
    EVP_MD_CTX_free(ctx);
    return st;
}

void rb_key_free(rb_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->pub);
    if (key->module != NULL)
        rb_keyp11_release(key->pkey, key->module);
    else
        EVP_PKEY_free(key->pkey); /* OpenSSL clears private key material when freeing it */
    free(key);
}
