/*
 * X.509 helpers: serials, key fingerprints, name text, time conversion,
 * extensions, and the subscriber key policy.
 */
#include "pki/x509util.h"

#include "core/hex.h"
#include <ctype.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rb_status rb_serial_random(ASN1_INTEGER **out, char hex[RB_SERIAL_HEX_LEN], rb_error *err)
{
    unsigned char bytes[RB_SERIAL_BYTES];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1)
        return rb_fail_crypto(err, "the random generator failed");
    bytes[0] &= 0x7F;
    if (bytes[0] == 0)
        bytes[0] = 0x01;
    BIGNUM *bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
    ASN1_INTEGER *serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    BN_free(bn);
    if (serial == NULL)
        return rb_fail_crypto(err, "cannot encode a serial number");
    rb_hex_upper(bytes, sizeof(bytes), hex);
    *out = serial;
    return RB_OK;
}

rb_status rb_serial_normalise(const char *text, char hex[RB_SERIAL_HEX_LEN], rb_error *err)
{
    char digits[2 * RB_SERIAL_BYTES + 2];
    size_t n = 0;
    for (const char *p = text; *p; p++) {
        if (*p == ':')
            continue;
        if (!isxdigit((unsigned char)*p))
            return rb_fail(
                err, RB_EINVAL, NULL,
                "'%s' is not a serial number: use hex as 'openssl x509 -serial' prints it", text);
        if (n == 0 && *p == '0' && p[1] != '\0')
            continue; /* leading zeros carry no value */
        if (n >= 2 * RB_SERIAL_BYTES + 1)
            return rb_fail(err, RB_EINVAL, "RFC 5280 4.1.2.2",
                           "serial number '%.48s...' is longer than 20 octets", text);
        digits[n++] = (char)toupper((unsigned char)*p);
    }
    if (n == 0)
        return rb_fail(err, RB_EINVAL, NULL, "empty serial number");
    digits[n] = '\0';
    /* openssl prints whole octets: pad an odd count with one leading zero. */
    char padded[sizeof(digits) + 1];
    snprintf(padded, sizeof(padded), "%s%s", n % 2 ? "0" : "", digits);
    if (strlen(padded) > 2 * RB_SERIAL_BYTES)
        return rb_fail(err, RB_EINVAL, "RFC 5280 4.1.2.2",
                       "serial number is longer than 20 octets");
    memcpy(hex, padded, strlen(padded) + 1);
    return RB_OK;
}

void rb_serial_to_hex(const ASN1_INTEGER *serial, char *hex, size_t len)
{
    static const char digits[] = "0123456789ABCDEF";
    const unsigned char *data = ASN1_STRING_get0_data(serial);
    int n = ASN1_STRING_length(serial);
    size_t used = 0;
    for (int i = 0; i < n && used + 2 < len; i++) {
        hex[used++] = digits[data[i] >> 4];
        hex[used++] = digits[data[i] & 15];
    }
    hex[used] = '\0';
}

rb_status rb_spki_sha256_hex(const X509_PUBKEY *spki, char out[65], rb_error *err)
{
    unsigned char *der = NULL, digest[32];
    int len = i2d_X509_PUBKEY(spki, &der);
    if (len <= 0)
        return rb_fail_crypto(err, "cannot encode the public key");
    SHA256(der, (size_t)len, digest);
    OPENSSL_free(der);
    rb_hex_lower(digest, 32, out);
    return RB_OK;
}

const char *rb_name_text(const X509_NAME *name, char *buf, size_t len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    buf[0] = '\0';
    if (bio == NULL)
        return buf;
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    int n = BIO_read(bio, buf, (int)len - 1);
    buf[n > 0 ? n : 0] = '\0';
    BIO_free(bio);
    return buf;
}

int64_t rb_asn1_time_ms(const ASN1_TIME *t)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm) * 1000;
}

rb_status rb_asn1_time_set_ms(ASN1_TIME *t, int64_t ms, rb_error *err)
{
    if (t == NULL || ASN1_TIME_set(t, (time_t)(ms / 1000)) == NULL)
        return rb_fail_crypto(err, "cannot encode a time");
    return RB_OK;
}

rb_status rb_x509_add_ext(X509 *cert, int nid, int critical, void *value, rb_error *err)
{
    if (X509_add1_ext_i2d(cert, nid, value, critical, X509V3_ADD_REPLACE) != 1)
        return rb_fail_crypto(err, "cannot add extension %s", OBJ_nid2sn(nid));
    return RB_OK;
}

const EVP_MD *rb_signing_digest(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "EC")) {
        int bits = EVP_PKEY_get_bits(key);
        if (bits > 384)
            return EVP_sha512();
        if (bits > 256)
            return EVP_sha384();
    }
    return EVP_sha256();
}

void rb_key_facts_of(EVP_PKEY *key, rb_key_facts *out)
{
    memset(out, 0, sizeof(*out));
    out->type = NID_undef;
    out->bits = EVP_PKEY_get_bits(key);
    const char *name = EVP_PKEY_get0_type_name(key);
    snprintf(out->type_name, sizeof(out->type_name), "%s", name ? name : "unknown");
    if (EVP_PKEY_is_a(key, "RSA")) {
        out->type = EVP_PKEY_RSA;
    } else if (EVP_PKEY_is_a(key, "EC")) {
        char encoding[32] = "";
        size_t len = 0;
        out->type = EVP_PKEY_EC;
        /* OpenSSL names the curve even when the key spells out its parameters. */
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, encoding, sizeof(encoding),
                                       &len);
        out->explicit_curve = strcmp(encoding, OSSL_PKEY_EC_ENCODING_EXPLICIT) == 0;
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, out->curve,
                                       sizeof(out->curve), &len);
    }
}

rb_status rb_check_key_facts(const rb_key_facts *facts, rb_error *err)
{
    if (facts->type == EVP_PKEY_RSA) {
        if (facts->bits < 2048)
            return rb_fail(err, RB_EINVAL, "key policy: RSA keys of at least 2048 bits",
                           "the RSA key has %d bits; at least 2048 are required", facts->bits);
        if (facts->bits > 8192)
            return rb_fail(err, RB_EINVAL, "key policy: RSA keys of at most 8192 bits",
                           "the RSA key has %d bits; at most 8192 are accepted", facts->bits);
        return RB_OK;
    }
    if (facts->type == EVP_PKEY_EC) {
        const char *curve = facts->curve;
        if (facts->explicit_curve)
            return rb_fail(err, RB_EINVAL, "RFC 5480 2.1.1: EC keys name their curve",
                           "the EC key spells out its curve parameters; only named curves "
                           "(P-256, P-384, P-521) are accepted");
        if (strcmp(curve, "prime256v1") == 0 || strcmp(curve, "secp384r1") == 0 ||
            strcmp(curve, "secp521r1") == 0)
            return RB_OK;
        return rb_fail(err, RB_EINVAL, "key policy: EC keys on P-256, P-384 or P-521",
                       "the EC key is on curve '%s'; only P-256, P-384 and P-521 are accepted",
                       curve[0] ? curve : "(explicit parameters)");
    }
    return rb_fail(err, RB_EINVAL, "key policy: RSA or EC keys",
                   "the key type %s is not accepted; use RSA (2048+) or EC (P-256/P-384/P-521)",
                   facts->type_name[0] ? facts->type_name : "unknown");
}

rb_status rb_check_public_key(EVP_PKEY *key, rb_error *err)
{
    rb_key_facts facts;
    rb_key_facts_of(key, &facts);
    return rb_check_key_facts(&facts, err);
}

rb_status rb_x509_read_pem_stack(const char *pem, size_t len, STACK_OF(X509) **out, rb_error *err)
{
    BIO *bio = len <= INT32_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    STACK_OF(X509) *certs = sk_X509_new_null();
    rb_status s = bio && certs ? RB_OK : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    X509 *cert;
    while (s == RB_OK && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(certs, cert)) {
            X509_free(cert);
            s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
        }
    }
    ERR_clear_error(); /* the read that ended the loop left "no start line" */
    BIO_free(bio);
    if (s != RB_OK) {
        sk_X509_pop_free(certs, X509_free);
        return s;
    }
    *out = certs;
    return RB_OK;
}

char *rb_x509_to_pem(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (bio != NULL && PEM_write_bio_X509(bio, cert) == 1) {
        char *data;
        long len = BIO_get_mem_data(bio, &data);
        out = malloc((size_t)len + 1);
        if (out != NULL) {
            memcpy(out, data, (size_t)len);
            out[len] = '\0';
        }
    }
    BIO_free(bio);
    return out;
}

int rb_pubkey_set_parts(X509_PUBKEY *dst, const X509_ALGOR *alg, const unsigned char *bits,
                        int bits_len)
{
    const ASN1_OBJECT *oid;
    const void *param;
    int ptype;
    X509_ALGOR_get0(&oid, &ptype, &param, alg);
    int has_param = ptype == V_ASN1_OBJECT || ptype == V_ASN1_SEQUENCE;
    if (!has_param && ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
        return 0;
    void *param_copy = NULL;
    if (ptype == V_ASN1_OBJECT)
        param_copy = OBJ_dup(param);
    else if (ptype == V_ASN1_SEQUENCE)
        param_copy = ASN1_STRING_dup(param);
    ASN1_OBJECT *oid_copy = OBJ_dup(oid);
    unsigned char *bits_copy = OPENSSL_memdup(bits, (size_t)bits_len);
    if (oid_copy != NULL && bits_copy != NULL && has_param == (param_copy != NULL) &&
        X509_PUBKEY_set0_param(dst, oid_copy, ptype, param_copy, bits_copy, bits_len) == 1)
        return 1;
    ASN1_OBJECT_free(oid_copy);
    OPENSSL_free(bits_copy);
    if (ptype == V_ASN1_OBJECT)
        ASN1_OBJECT_free(param_copy);
    else
        ASN1_STRING_free(param_copy);
    return 0;
}
