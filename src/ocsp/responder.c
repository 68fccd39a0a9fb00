/*
 * The responder object: the issuing CAs it serves, each with its delegated
 * responder certificate and key, and the CertID hashes of each CA computed
 * once (SHA-1, SHA-256, SHA-384, SHA-512) so that matching a request costs a
 * few memcmp calls. Also signing, the one place a response gets its signature.
 */
#include "ocsp/internal.h"

#include "ca/ca.h"
#include "pki/x509util.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

rb_status rb_ocsp_responder_new(const rb_ocsp_config *config, rb_ocsp_responder **out,
                                rb_error *err)
{
    rb_ocsp_responder *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    r->validity_ms =
        config && config->validity_ms > 0 ? config->validity_ms : RB_OCSP_DEFAULT_VALIDITY_MS;
    if (ocsp_hot_init(r) != RB_OK) {
        free(r);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    *out = r;
    return RB_OK;
}

static void issuer_free(ocsp_issuer *issuer)
{
    if (issuer == NULL)
        return;
    X509_free(issuer->ca);
    X509_free(issuer->signer);
    EVP_PKEY_free(issuer->key);
    pthread_mutex_destroy(&issuer->lock);
    free(issuer);
}

void rb_ocsp_responder_free(rb_ocsp_responder *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->count; i++)
        issuer_free(r->issuers[i]);
    free(r->issuers);
    for (size_t i = 0; i < r->owned_count; i++)
        rb_authority_free(r->owned[i]);
    free(r->owned);
    ocsp_hot_free(r);
    free(r);
}

size_t rb_ocsp_responder_count(const rb_ocsp_responder *r)
{
    return r->count;
}

/* RFC 6960 4.2.2.2: a delegated responder is certified directly by the CA, for OCSPSigning. */
static rb_status check_delegation(const char *name, X509 *ca, X509 *signer, EVP_PKEY *key,
                                  int serialise, rb_error *err)
{
    if (X509_check_issued(ca, signer) != X509_V_OK ||
        X509_verify(signer, X509_get0_pubkey(ca)) != 1) {
        ERR_clear_error();
        return rb_fail(err, RB_EINVAL, "RFC 6960 4.2.2.2",
                       "the OCSP responder certificate for %s was not issued by that CA", name);
    }
    if ((X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) == 0 ||
        (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN) == 0)
        return rb_fail(err, RB_EINVAL, "RFC 6960 4.2.2.2",
                       "the OCSP responder certificate for %s lacks extendedKeyUsage OCSPSigning",
                       name);
    /* Token keys may not expose the public half in a comparable form. */
    if (!serialise && X509_check_private_key(signer, key) != 1)
        return rb_fail_crypto(err, "the OCSP responder key for %s does not match its certificate",
                              name);
    return RB_OK;
}

static rb_status compute_hashes(ocsp_issuer *issuer, rb_error *err)
{
    static const int nids[OCSP_HASH_ALGS] = {NID_sha1, NID_sha256, NID_sha384, NID_sha512};
    for (int i = 0; i < OCSP_HASH_ALGS; i++) {
        const EVP_MD *md = EVP_get_digestbynid(nids[i]);
        unsigned int name_len = 0, key_len = 0;
        if (md == NULL ||
            X509_NAME_digest(X509_get_subject_name(issuer->ca), md, issuer->hashes[i].name,
                             &name_len) != 1 ||
            X509_pubkey_digest(issuer->ca, md, issuer->hashes[i].key, &key_len) != 1 ||
            name_len != key_len)
            return rb_fail_crypto(err, "could not hash the name and key of CA %s", issuer->name);
        issuer->hashes[i].nid = nids[i];
        issuer->hashes[i].len = name_len;
    }
    return RB_OK;
}

rb_status rb_ocsp_responder_add_issuer(rb_ocsp_responder *r, const char *name, X509 *ca_cert,
                                       X509 *signer_cert, EVP_PKEY *signer_key, int serialise,
                                       rb_error *err)
{
    rb_status s = check_delegation(name, ca_cert, signer_cert, signer_key, serialise, err);
    if (s != RB_OK)
        return s;
    ocsp_issuer **grown = realloc(r->issuers, (r->count + 1) * sizeof(*grown));
    ocsp_issuer *issuer = calloc(1, sizeof(*issuer));
    if (grown != NULL)
        r->issuers = grown;
    if (grown == NULL || issuer == NULL) {
        free(issuer);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    snprintf(issuer->name, sizeof(issuer->name), "%s", name);
    pthread_mutex_init(&issuer->lock, NULL);
    X509_up_ref(ca_cert);
    X509_up_ref(signer_cert);
    EVP_PKEY_up_ref(signer_key);
    issuer->ca = ca_cert;
    issuer->signer = signer_cert;
    issuer->key = signer_key;
    issuer->md = rb_signing_digest(signer_key);
    issuer->serialise = serialise;
    s = compute_hashes(issuer, err);
    if (s != RB_OK) {
        issuer_free(issuer);
        return s;
    }
    r->issuers[r->count++] = issuer;
    return RB_OK;
}

const ocsp_issuer *ocsp_issuer_find(const rb_ocsp_responder *r, const rb_ocsp_certid *id)
{
    for (size_t i = 0; i < r->count; i++) {
        const ocsp_issuer *issuer = r->issuers[i];
        for (int h = 0; h < OCSP_HASH_ALGS; h++) {
            size_t len = issuer->hashes[h].len;
            if (issuer->hashes[h].nid == id->hash_nid && id->name_hash_len == len &&
                id->key_hash_len == len && memcmp(id->key_hash, issuer->hashes[h].key, len) == 0 &&
                memcmp(id->name_hash, issuer->hashes[h].name, len) == 0)
                return issuer;
        }
    }
    return NULL;
}

rb_status ocsp_certid_for(const ocsp_issuer *issuer, const char *serial, OCSP_CERTID **out,
                          rb_error *err)
{
    BIGNUM *bn = NULL;
    ASN1_INTEGER *number = NULL;
    OCSP_CERTID *cid = NULL;
    if (BN_hex2bn(&bn, serial) == (int)strlen(serial))
        number = BN_to_ASN1_INTEGER(bn, NULL);
    if (number != NULL)
        cid = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(issuer->ca),
                               X509_get0_pubkey_bitstr(issuer->ca), number);
    BN_free(bn);
    ASN1_INTEGER_free(number);
    if (cid == NULL)
        return rb_fail_crypto(err, "could not build the CertID of serial %s", serial);
    *out = cid;
    return RB_OK;
}

static rb_status encode_response(OCSP_BASICRESP *bs, uint8_t **der, size_t *len, rb_error *err)
{
    OCSP_RESPONSE *resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
    int n = resp ? i2d_OCSP_RESPONSE(resp, NULL) : -1;
    uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
    uint8_t *p = buf;
    if (buf != NULL && i2d_OCSP_RESPONSE(resp, &p) != n) {
        free(buf);
        buf = NULL;
    }
    OCSP_RESPONSE_free(resp);
    if (buf == NULL)
        return rb_fail_crypto(err, "could not encode the OCSP response");
    *der = buf;
    *len = (size_t)n;
    return RB_OK;
}

rb_status ocsp_sign(const ocsp_issuer *issuer, OCSP_BASICRESP *bs, uint8_t **der, size_t *len,
                    rb_error *err)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    if (mctx == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    /* The mutex is the issuer's own; holding it does not change what callers see as const. */
    pthread_mutex_t *lock = (pthread_mutex_t *)&issuer->lock;
    if (issuer->serialise)
        pthread_mutex_lock(lock);
    int ok = EVP_DigestSignInit(mctx, NULL, issuer->md, NULL, issuer->key) == 1 &&
             OCSP_basic_sign_ctx(bs, issuer->signer, mctx, NULL, OCSP_RESPID_KEY) == 1;
    if (issuer->serialise)
        pthread_mutex_unlock(lock);
    EVP_MD_CTX_free(mctx);
    if (!ok)
        return rb_fail_crypto(err, "could not sign the OCSP response for %s", issuer->name);
    return encode_response(bs, der, len, err);
}
