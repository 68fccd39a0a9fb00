/*
 * PKCS#10 requests (RFC 2986) read with our own ASN.1 template: the public
 * key stays raw, so the usual keys (EC on the accepted curves, RSA) are built
 * from their parameters with a key-import context reused across requests (an
 * EC request's point is loaded into a key the reader keeps per curve);
 * anything else goes through OpenSSL's generic key decoder, as before. The
 * signature is checked over the request info exactly as it was received.
 */
#include "ca/csr.h"

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

/*
 * The ASN.1 templates of a PKCS#10 request (RFC 2986). clang-format cannot read
 * OpenSSL's template macros, so this block keeps its own layout.
 */
// clang-format off

/* SubjectPublicKeyInfo, undecoded (X509_PUBKEY would decode the key on d2i). */
typedef struct csr_key_info {
    X509_ALGOR *algorithm;
    ASN1_BIT_STRING *public_key;
} csr_key_info;

ASN1_SEQUENCE(csr_key_info) = {
    ASN1_SIMPLE(csr_key_info, algorithm, X509_ALGOR),
    ASN1_SIMPLE(csr_key_info, public_key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(csr_key_info)

/* CertificationRequestInfo, its encoding kept for the signature check. */
typedef struct csr_info {
    ASN1_ENCODING enc;
    ASN1_INTEGER *version;
    X509_NAME *subject;
    csr_key_info *key;
    STACK_OF(X509_ATTRIBUTE) *attributes;
} csr_info;

ASN1_SEQUENCE_enc(csr_info, enc, NULL) = {
    ASN1_SIMPLE(csr_info, version, ASN1_INTEGER),
    ASN1_SIMPLE(csr_info, subject, X509_NAME),
    ASN1_SIMPLE(csr_info, key, csr_key_info),
    /* OPTIONAL as in OpenSSL's X509_REQ_INFO: some requesters omit the empty [0]. */
    ASN1_IMP_SET_OF_OPT(csr_info, attributes, X509_ATTRIBUTE, 0),
} static_ASN1_SEQUENCE_END_ref(csr_info, csr_info)

typedef struct csr_request {
    csr_info *info;
    X509_ALGOR *signature_algorithm;
    ASN1_BIT_STRING *signature;
} csr_request;

ASN1_SEQUENCE(csr_request) = {
    ASN1_SIMPLE(csr_request, info, csr_info),
    ASN1_SIMPLE(csr_request, signature_algorithm, X509_ALGOR),
    ASN1_SIMPLE(csr_request, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(csr_request)

/* RSAPublicKey (RFC 8017 A.1.1). */
typedef struct csr_rsa_key {
    ASN1_INTEGER *modulus;
    ASN1_INTEGER *exponent;
} csr_rsa_key;

ASN1_SEQUENCE(csr_rsa_key) = {
    ASN1_SIMPLE(csr_rsa_key, modulus, ASN1_INTEGER),
    ASN1_SIMPLE(csr_rsa_key, exponent, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(csr_rsa_key)

struct rb_csr {
    csr_request *request;
    X509_PUBKEY *spki;
    rb_key_facts facts;
};

// clang-format on

#define RB_CSR_CURVES 3

struct rb_csr_reader {
    EVP_PKEY_CTX *ec_import, *rsa_import;
    /* P-256, P-384, P-521 keys that each request's point is loaded into in turn */
    EVP_PKEY *ec_key[RB_CSR_CURVES];
};

static EVP_PKEY_CTX *import_ctx(const char *type)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

rb_status rb_csr_reader_new(rb_csr_reader **out, rb_error *err)
{
    rb_csr_reader *reader = calloc(1, sizeof(*reader));
    if (reader == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    reader->ec_import = import_ctx("EC");
    reader->rsa_import = import_ctx("RSA");
    if (reader->ec_import == NULL || reader->rsa_import == NULL) {
        rb_csr_reader_free(reader);
        return rb_fail_crypto(err, "cannot prepare EC and RSA key import");
    }
    *out = reader;
    return RB_OK;
}

void rb_csr_reader_free(rb_csr_reader *reader)
{
    if (reader == NULL)
        return;
    EVP_PKEY_CTX_free(reader->ec_import);
    EVP_PKEY_CTX_free(reader->rsa_import);
    for (int i = 0; i < RB_CSR_CURVES; i++)
        EVP_PKEY_free(reader->ec_key[i]);
    free(reader);
}

void rb_csr_free(rb_csr *csr)
{
    if (csr == NULL)
        return;
    ASN1_item_free((ASN1_VALUE *)csr->request, ASN1_ITEM_rptr(csr_request));
    X509_PUBKEY_free(csr->spki);
    free(csr);
}

EVP_PKEY *rb_csr_get1_pkey(const rb_csr *csr)
{
    unsigned char *der = NULL;
    int der_len = i2d_X509_PUBKEY(csr->spki, &der);
    const unsigned char *p = der;
    EVP_PKEY *key = der_len > 0 ? d2i_PUBKEY(NULL, &p, der_len) : NULL;
    OPENSSL_free(der);
    return key;
}

const rb_key_facts *rb_csr_get0_key_facts(const rb_csr *csr)
{
    return &csr->facts;
}

const X509_PUBKEY *rb_csr_get0_spki(const rb_csr *csr)
{
    return csr->spki;
}

/*
 * An EC key on one of the accepted named curves, borrowed from the reader and
 * valid until its next request, or NULL (then the generic decoder decides).
 * The reader keeps one key per curve, which holds the curve with its
 * precomputed values, and loads each request's point into it: building the
 * group from its name for every request costs a quarter of the signature
 * check, and copying a key with its group most of the rest. Loading the
 * point checks that it is on the curve.
 */
static EVP_PKEY *import_ec(rb_csr_reader *reader, const void *param, int ptype,
                           const ASN1_BIT_STRING *bits, rb_key_facts *facts)
{
    static const int curves[RB_CSR_CURVES] = {NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1};
    static const int curve_bits[RB_CSR_CURVES] = {256, 384, 521};
    if (ptype != V_ASN1_OBJECT)
        return NULL;
    int curve = OBJ_obj2nid(param), slot = 0;
    while (slot < RB_CSR_CURVES && curves[slot] != curve)
        slot++;
    if (slot == RB_CSR_CURVES)
        return NULL;
    if (reader->ec_key[slot] == NULL) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)OBJ_nid2sn(curve),
                                             0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_PKEY_fromdata(reader->ec_import, &reader->ec_key[slot], EVP_PKEY_KEY_PARAMETERS,
                              params) != 1)
            return NULL;
    }
    EVP_PKEY *key = reader->ec_key[slot];
    if (EVP_PKEY_set1_encoded_public_key(key, bits->data, (size_t)bits->length) != 1) {
        /* The point may be half loaded: start the next request from a fresh key. */
        EVP_PKEY_free(key);
        reader->ec_key[slot] = NULL;
        return NULL;
    }
    memset(facts, 0, sizeof(*facts));
    facts->type = EVP_PKEY_EC;
    facts->bits = curve_bits[slot];
    snprintf(facts->curve, sizeof(facts->curve), "%s", OBJ_nid2sn(curve));
    snprintf(facts->type_name, sizeof(facts->type_name), "EC");
    return key;
}

/* An RSA key from a well-formed RSAPublicKey with positive integers, or NULL. */
static EVP_PKEY *import_rsa(rb_csr_reader *reader, int ptype, const ASN1_BIT_STRING *bits)
{
    if (ptype != V_ASN1_NULL)
        return NULL;
    const unsigned char *p = bits->data;
    csr_rsa_key *rsa =
        (csr_rsa_key *)ASN1_item_d2i(NULL, &p, bits->length, ASN1_ITEM_rptr(csr_rsa_key));
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *build = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *key = NULL;
    if (rsa == NULL || p != bits->data + bits->length ||
        ASN1_STRING_type(rsa->modulus) != V_ASN1_INTEGER ||
        ASN1_STRING_type(rsa->exponent) != V_ASN1_INTEGER)
        goto done;
    n = ASN1_INTEGER_to_BN(rsa->modulus, NULL);
    e = ASN1_INTEGER_to_BN(rsa->exponent, NULL);
    build = OSSL_PARAM_BLD_new();
    if (n == NULL || e == NULL || BN_is_zero(n) || BN_is_zero(e) || build == NULL ||
        !OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_E, e))
        goto done;
    params = OSSL_PARAM_BLD_to_param(build);
    if (params == NULL ||
        EVP_PKEY_fromdata(reader->rsa_import, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
done:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(build);
    BN_free(n);
    BN_free(e);
    ASN1_item_free((ASN1_VALUE *)rsa, ASN1_ITEM_rptr(csr_rsa_key));
    return key;
}

/* A copy of the key info as an X509_PUBKEY, without decoding the key. */
static X509_PUBKEY *copy_spki(const csr_key_info *key)
{
    X509_PUBKEY *spki = X509_PUBKEY_new();
    if (spki != NULL &&
        rb_pubkey_set_parts(spki, key->algorithm, key->public_key->data, key->public_key->length))
        return spki;
    X509_PUBKEY_free(spki);
    return NULL;
}

/*
 * The request's key, checked well-formed (the key policy is applied later),
 * into *key; *owned is set when the caller must free it (otherwise it is the
 * reader's). Notes the key's facts in csr.
 */
static rb_status build_key(rb_csr_reader *reader, rb_csr *csr, EVP_PKEY **key_out, int *owned,
                           rb_error *err)
{
    const csr_key_info *key = csr->request->info->key;
    const ASN1_BIT_STRING *bits = key->public_key;
    if (bits->length <= 0 || ((bits->flags & ASN1_STRING_FLAG_BITS_LEFT) && (bits->flags & 0x07)))
        return rb_fail(err, RB_EINVAL, "RFC 5280 4.1.2.7",
                       "the request's public key is empty or not a whole number of octets");
    csr->spki = copy_spki(key);
    if (csr->spki == NULL)
        return rb_fail_crypto(err, "the request's public key is malformed");
    const ASN1_OBJECT *oid;
    const void *param;
    int ptype;
    X509_ALGOR_get0(&oid, &ptype, &param, key->algorithm);
    EVP_PKEY *pkey = NULL;
    *owned = 1;
    switch (OBJ_obj2nid(oid)) {
    case NID_X9_62_id_ecPublicKey:
        pkey = import_ec(reader, param, ptype, bits, &csr->facts);
        *owned = pkey == NULL;
        break;
    case NID_rsaEncryption:
        pkey = import_rsa(reader, ptype, bits);
        break;
    default:
        break;
    }
    if (pkey == NULL) {
        /* Any other key: OpenSSL's decoders, so the key policy can name what it is. */
        ERR_clear_error();
        pkey = rb_csr_get1_pkey(csr);
    }
    if (pkey == NULL)
        return rb_fail_crypto(err, "the request's public key is malformed or of an unknown type");
    if (*owned)
        rb_key_facts_of(pkey, &csr->facts);
    *key_out = pkey;
    return RB_OK;
}

/* DER of a request given as PEM or DER; *owned is set when *der must be freed. */
static rb_status request_der(const uint8_t *data, size_t len, const uint8_t **der, size_t *der_len,
                             unsigned char **owned, rb_error *err)
{
    static const char pem_marker[] = "-----BEGIN";
    *owned = NULL;
    if (data == NULL || len == 0)
        return rb_fail(err, RB_EINVAL, "RFC 2986", "the certificate request is empty");
    if (len > RB_CSR_MAX_BYTES)
        return rb_fail(err, RB_EINVAL, "RFC 2986",
                       "the certificate request is larger than %d bytes", RB_CSR_MAX_BYTES);
    if (len < sizeof(pem_marker) - 1 || !memmem(data, len, pem_marker, sizeof(pem_marker) - 1)) {
        *der = data;
        *der_len = len;
        return RB_OK;
    }
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    long pem_len = 0;
    int ok = bio != NULL &&
             PEM_bytes_read_bio(owned, &pem_len, NULL, PEM_STRING_X509_REQ, bio, NULL, NULL) == 1;
    BIO_free(bio);
    if (!ok || pem_len <= 0) {
        OPENSSL_free(*owned);
        *owned = NULL;
        return rb_fail_crypto(err, "the certificate request is not a PKCS#10 request in PEM or "
                                   "DER (RFC 2986)");
    }
    *der = *owned;
    *der_len = (size_t)pem_len;
    return RB_OK;
}

static rb_status decode(const uint8_t *der, size_t len, rb_csr *csr, rb_error *err)
{
    const unsigned char *p = der;
    csr->request = (csr_request *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(csr_request));
    if (csr->request == NULL || p != der + len)
        return rb_fail_crypto(err, "the certificate request is not a PKCS#10 request in PEM or "
                                   "DER (RFC 2986)");
    const ASN1_INTEGER *version = csr->request->info->version;
    if (ASN1_STRING_type(version) != V_ASN1_INTEGER || ASN1_INTEGER_get(version) != 0)
        return rb_fail(err, RB_EINVAL, "RFC 2986 4.1",
                       "the certificate request's version is not 1 (encoded 0)");
    return RB_OK;
}

rb_status rb_csr_read(rb_csr_reader *reader, const uint8_t *data, size_t len, rb_csr **out,
                      rb_error *err)
{
    const uint8_t *der = NULL;
    size_t der_len = 0;
    unsigned char *owned = NULL;
    rb_csr_reader *temporary = NULL;
    EVP_PKEY *key = NULL;
    int key_owned = 0;
    rb_csr *csr = calloc(1, sizeof(*csr));
    rb_status s = csr ? RB_OK : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (s == RB_OK)
        s = request_der(data, len, &der, &der_len, &owned, err);
    if (s == RB_OK)
        s = decode(der, der_len, csr, err);
    if (s == RB_OK && reader == NULL)
        s = rb_csr_reader_new(&temporary, err);
    if (s == RB_OK)
        s = build_key(reader ? reader : temporary, csr, &key, &key_owned, err);
    if (s == RB_OK && ASN1_item_verify_ex(
                          ASN1_ITEM_rptr(csr_info), csr->request->signature_algorithm,
                          csr->request->signature, csr->request->info, NULL, key, NULL, NULL) != 1)
        s = rb_fail_crypto(err, "the certificate request's signature does not verify: it was "
                                "not signed by the key it asks to certify (proof of possession)");
    if (key_owned)
        EVP_PKEY_free(key);
    OPENSSL_free(owned);
    rb_csr_reader_free(temporary);
    if (s != RB_OK) {
        rb_csr_free(csr);
        return s;
    }
    *out = csr;
    return RB_OK;
}

rb_status rb_csr_parse(const uint8_t *data, size_t len, X509_REQ **out, rb_error *err)
{
    rb_csr *csr = NULL;
    rb_status s = rb_csr_read(NULL, data, len, &csr, err);
    if (s != RB_OK)
        return s;
    /* What rb_csr_read accepted, OpenSSL must read as well. */
    unsigned char *der = NULL;
    int der_len = ASN1_item_i2d((ASN1_VALUE *)csr->request, &der, ASN1_ITEM_rptr(csr_request));
    const unsigned char *p = der;
    X509_REQ *req = der_len > 0 ? d2i_X509_REQ(NULL, &p, der_len) : NULL;
    OPENSSL_free(der);
    rb_csr_free(csr);
    if (req == NULL)
        return rb_fail_crypto(err, "the certificate request is not a PKCS#10 request in PEM or "
                                   "DER (RFC 2986)");
    *out = req;
    return RB_OK;
}
