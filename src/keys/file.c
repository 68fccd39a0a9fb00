/*
 * File keys, for development: a key generated in memory by OpenSSL and kept
 * on disk as encrypted PKCS#8 in PEM ("ENCRYPTED PRIVATE KEY"), PBES2 with
 * PBKDF2-HMAC-SHA256 and AES-256-CBC. Files are created 0600 and never
 * overwritten; only encrypted files are read back.
 */
#include "keys/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

/*
 * PBKDF2 iterations. OpenSSL's default for PKCS#8 is 2048, too few against
 * offline guessing of a stolen CA key file; this costs about 0.1 s per
 * generate or load.
 */
#define PBKDF2_ITERATIONS 100000

#define PASS_HINT "set RUBRICA_KEY_PASS or give --pass-file"

static EVP_PKEY *generate_pkey(const rb_key_type_info *info)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, info->is_ec ? "EC" : "RSA", NULL);
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1)
        goto done;
    OSSL_PARAM params[3];
    unsigned int bits = info->rsa_bits;
    unsigned int exponent = 65537;
    if (info->is_ec) {
        /* Named-curve encoding: explicit parameters are refused by RFC 5480. */
        params[0] =
            OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)info->curve, 0);
        params[1] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING,
                                                     (char *)OSSL_PKEY_EC_ENCODING_GROUP, 0);
    } else {
        params[0] = OSSL_PARAM_construct_uint(OSSL_PKEY_PARAM_RSA_BITS, &bits);
        params[1] = OSSL_PARAM_construct_uint(OSSL_PKEY_PARAM_RSA_E, &exponent);
    }
    params[2] = OSSL_PARAM_construct_end();
    if (EVP_PKEY_CTX_set_params(ctx, params) != 1)
        goto done;
    if (EVP_PKEY_generate(ctx, &pkey) != 1)
        pkey = NULL;
done:
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* Encrypts pkey under pass and writes it as PEM to fd. */
static rb_status write_encrypted(int fd, const char *path, EVP_PKEY *pkey, const char *pass,
                                 rb_error *err)
{
    rb_status st = RB_OK;
    X509_SIG *p8 = NULL;
    PKCS8_PRIV_KEY_INFO *info = EVP_PKEY2PKCS8(pkey);
    BIO *bio = BIO_new_fd(fd, BIO_NOCLOSE);
    if (info == NULL || bio == NULL) {
        st = rb_fail_crypto(err, "cannot encode the new key");
        goto done;
    }
    p8 = PKCS8_encrypt_ex(-1, EVP_aes_256_cbc(), pass, (int)strlen(pass), NULL, 0,
                          PBKDF2_ITERATIONS, info, NULL, NULL);
    if (p8 == NULL) {
        st = rb_fail_crypto(err, "cannot encrypt the new key");
        goto done;
    }
    if (PEM_write_bio_PKCS8(bio, p8) != 1 || BIO_flush(bio) != 1) {
        st = rb_fail_crypto(err, "cannot write %s", path);
        goto done;
    }
    if (fsync(fd) != 0)
        st = rb_fail(err, RB_EIO, NULL, "cannot write %s: %s", path, strerror(errno));
done:
    X509_SIG_free(p8);
    PKCS8_PRIV_KEY_INFO_free(info); /* clears the private key octets */
    BIO_free(bio);
    return st;
}

static char *key_path(const char *dir, const char *label)
{
    size_t dir_len = strlen(dir);
    while (dir_len > 1 && dir[dir_len - 1] == '/')
        dir_len--;
    size_t len = dir_len + 1 + strlen(label) + sizeof(".key");
    char *path = malloc(len);
    if (path != NULL)
        snprintf(path, len, "%.*s/%s.key", (int)dir_len, dir, label);
    return path;
}

rb_status rb_keyfile_generate(const char *dir, const char *label, rb_key_type type,
                              const rb_key_secret *secret, rb_key **out, char **out_ref,
                              rb_error *err)
{
    const rb_key_type_info *info = rb_key_type_info_get(type);
    char pass[RB_KEY_SECRET_MAX];
    char *path = NULL, *ref = NULL;
    EVP_PKEY *pkey = NULL;
    rb_key *key = NULL;
    int fd = -1;
    rb_status st = rb_key_secret_read(secret, "RUBRICA_KEY_PASS", "key passphrase", PASS_HINT, pass,
                                      sizeof(pass), err);
    if (st != RB_OK)
        goto done;
    if (dir[0] == '\0') {
        st = rb_fail(err, RB_EINVAL, NULL, "no directory given after file:");
        goto done;
    }
    path = key_path(dir, label);
    ref = path ? malloc(strlen(path) + sizeof("file:")) : NULL;
    if (ref == NULL) {
        st = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
        goto done;
    }
    sprintf(ref, "file:%s", path);
    /* O_EXCL: an existing key (or a link planted in its place) is never replaced. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            st = rb_fail(err, RB_ECONFLICT, NULL, "key file %s exists already: not overwritten",
                         path);
        else
            st = rb_fail(err, errno == ENOENT ? RB_ENOTFOUND : RB_EIO, NULL,
                         "cannot create key file %s: %s", path, strerror(errno));
        goto done;
    }
    pkey = generate_pkey(info);
    if (pkey == NULL) {
        st = rb_fail_crypto(err, "cannot generate a %s key", info->name);
        goto done;
    }
    st = write_encrypted(fd, path, pkey, pass, err);
    if (st != RB_OK)
        goto done;
    st = rb_key_wrap(pkey, NULL, &key, err);
    pkey = NULL;
done:
    OPENSSL_cleanse(pass, sizeof(pass));
    if (fd >= 0 && close(fd) != 0 && st == RB_OK)
        st = rb_fail(err, RB_EIO, NULL, "cannot write %s: %s", path, strerror(errno));
    if (fd >= 0 && st != RB_OK)
        unlink(path); /* only ever the file this call created */
    EVP_PKEY_free(pkey);
    free(path);
    if (st != RB_OK) {
        rb_key_free(key);
        free(ref);
        return st;
    }
    *out = key;
    *out_ref = ref;
    return RB_OK;
}

/* Refuses to prompt: a PEM block that asks for a password here is not ours. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static rb_status read_encrypted(const char *path, X509_SIG **out, rb_error *err)
{
    BIO *bio = BIO_new_file(path, "r");
    if (bio == NULL) {
        int e = errno;
        ERR_clear_error();
        return rb_fail(err, e == ENOENT ? RB_ENOTFOUND : RB_EIO, NULL,
                       "cannot open key file %s: %s", path, strerror(e));
    }
    X509_SIG *p8 = PEM_read_bio_PKCS8(bio, NULL, no_password, NULL);
    BIO_free(bio);
    if (p8 == NULL) {
        ERR_clear_error();
        return rb_fail(err, RB_EINVAL, NULL,
                       "%s is not an encrypted PKCS#8 key (PEM \"ENCRYPTED PRIVATE KEY\")", path);
    }
    *out = p8;
    return RB_OK;
}

rb_status rb_keyfile_load(const char *path, const rb_key_secret *secret, rb_key **out,
                          rb_error *err)
{
    char pass[RB_KEY_SECRET_MAX];
    X509_SIG *p8 = NULL;
    PKCS8_PRIV_KEY_INFO *info = NULL;
    EVP_PKEY *pkey = NULL;
    rb_status st = read_encrypted(path, &p8, err);
    if (st != RB_OK)
        goto done;
    st = rb_key_secret_read(secret, "RUBRICA_KEY_PASS", "key passphrase", PASS_HINT, pass,
                            sizeof(pass), err);
    if (st != RB_OK)
        goto done;
    info = PKCS8_decrypt_ex(p8, pass, (int)strlen(pass), NULL, NULL);
    if (info == NULL) {
        ERR_clear_error();
        st = rb_fail(err, RB_EPERM, NULL, "cannot decrypt %s: wrong passphrase?", path);
        goto done;
    }
    pkey = EVP_PKCS82PKEY_ex(info, NULL, NULL);
    if (pkey == NULL) {
        st = rb_fail_crypto(err, "%s does not hold a usable private key", path);
        goto done;
    }
    st = rb_key_wrap(pkey, NULL, out, err);
done:
    OPENSSL_cleanse(pass, sizeof(pass));
    PKCS8_PRIV_KEY_INFO_free(info);
    X509_SIG_free(p8);
    return st;
}
