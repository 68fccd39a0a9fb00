/*
 * Time-stamp tokens encoded directly (see token.h): a small DER writer, the
 * parts every token shares encoded once by tsa_token_signer_new, and
 * tsa_token_build, which writes TSTInfo (RFC 3161 2.4.2), the signed
 * attributes (contentType, signingTime, messageDigest and the RFC 5816
 * signingCertificateV2), the CMS SignedData (RFC 5652 5) around them and the
 * TimeStampResp, in the shape OpenSSL's TS_RESP_CTX gives them.
 */
#include "tsa/token.h"

#include "core/hex.h"
#include <openssl/ess.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a growable DER buffer ---- */

typedef struct dbuf {
    uint8_t *p;
    size_t len, cap;
    int failed;
} dbuf;

static void put(dbuf *b, const void *data, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *grown = realloc(b->p, cap);
        if (grown == NULL) {
            b->failed = 1;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* An identifier octet and a definite length in the shortest form. */
static void put_header(dbuf *b, uint8_t tag, size_t len)
{
    uint8_t h[6];
    size_t n = 0;
    h[n++] = tag;
    if (len < 0x80) {
        h[n++] = (uint8_t)len;
    } else {
        int octets = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;
        h[n++] = (uint8_t)(0x80 | octets);
        for (int i = octets - 1; i >= 0; i--)
            h[n++] = (uint8_t)(len >> (8 * i));
    }
    put(b, h, n);
}

static void put_tlv(dbuf *b, uint8_t tag, const void *data, size_t len)
{
    put_header(b, tag, len);
    put(b, data, len);
}

/* Appends what an OpenSSL i2d function writes for obj. */
#define put_i2d(b, fn, obj)                                                                        \
    do {                                                                                           \
        unsigned char *enc_ = NULL;                                                                \
        int n_ = fn(obj, &enc_);                                                                   \
        if (n_ <= 0)                                                                               \
            (b)->failed = 1;                                                                       \
        else                                                                                       \
            put((b), enc_, (size_t)n_);                                                            \
        OPENSSL_free(enc_);                                                                        \
    } while (0)

static void dbuf_free(dbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* ---- what every token shares ---- */

struct tsa_token_signer {
    EVP_PKEY *key;
    const ASN1_OBJECT *policy; /* borrowed from the rb_tsa, as are others */
    const STACK_OF(ASN1_OBJECT) *others;
    char policy_text[TSA_MAX_POLICY];
    dbuf policy_der, accuracy;     /* accuracy: empty when not stated */
    dbuf signed_data_oid, tst_oid; /* OIDs of the ContentInfo and eContent types */
    dbuf signing_time_oid, digest_oid;
    dbuf digest_alg, signature_alg; /* AlgorithmIdentifiers */
    dbuf sid;                       /* IssuerAndSerialNumber of the TSA certificate */
    dbuf certs;                     /* [0] IMPLICIT SET OF Certificate, for certReq */
    dbuf content_type_attr, ess_attr;
};

void tsa_token_signer_free(tsa_token_signer *s)
{
    if (s == NULL)
        return;
    dbuf *all[] = {&s->policy_der, &s->accuracy,          &s->signed_data_oid,
                   &s->tst_oid,    &s->signing_time_oid,  &s->digest_oid,
                   &s->digest_alg, &s->signature_alg,     &s->sid,
                   &s->certs,      &s->content_type_attr, &s->ess_attr};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        dbuf_free(all[i]);
    EVP_PKEY_free(s->key);
    free(s);
}

static void put_oid(dbuf *b, int nid)
{
    const ASN1_OBJECT *obj = OBJ_nid2obj(nid);
    if (obj == NULL)
        b->failed = 1;
    else
        put_i2d(b, i2d_ASN1_OBJECT, obj);
}

/* AlgorithmIdentifier; with_null: parameters NULL, as OpenSSL writes digest algorithms. */
static void put_alg(dbuf *b, int nid, int with_null)
{
    dbuf oid = {0};
    put_oid(&oid, nid);
    if (with_null)
        put(&oid, "\x05\x00", 2);
    b->failed |= oid.failed;
    put_tlv(b, 0x30, oid.p, oid.len);
    dbuf_free(&oid);
}

/* Attribute ::= SEQUENCE { attrType OID, attrValues SET { value } }, value already DER. */
static void put_attr(dbuf *b, const dbuf *type_oid, const uint8_t *value, size_t value_len)
{
    size_t set_len = 1 + (value_len < 0x80 ? 1 : value_len < 0x100 ? 2 : 3) + value_len;
    put_header(b, 0x30, type_oid->len + set_len);
    put(b, type_oid->p, type_oid->len);
    put_tlv(b, 0x31, value, value_len);
    b->failed |= type_oid->failed;
}

/* Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER OPTIONAL }: the set parts.
 */
static void put_accuracy(dbuf *b, int accuracy_ms)
{
    if (accuracy_ms <= 0)
        return;
    dbuf parts = {0};
    int secs = accuracy_ms / 1000, millis = accuracy_ms % 1000;
    ASN1_INTEGER *n = ASN1_INTEGER_new();
    if (n == NULL)
        parts.failed = 1;
    if (n != NULL && secs > 0) {
        ASN1_INTEGER_set(n, secs);
        put_i2d(&parts, i2d_ASN1_INTEGER, n);
    }
    if (n != NULL && millis > 0) {
        ASN1_INTEGER_set(n, millis);
        dbuf value = {0};
        put_i2d(&value, i2d_ASN1_INTEGER, n);
        if (value.len > 2) /* [0] IMPLICIT: the INTEGER's contents under tag 0x80 */
            put_tlv(&parts, 0x80, value.p + 2, value.len - 2);
        parts.failed |= value.failed;
        dbuf_free(&value);
    }
    ASN1_INTEGER_free(n);
    b->failed |= parts.failed;
    put_tlv(b, 0x30, parts.p, parts.len);
    dbuf_free(&parts);
}

static void put_identity(tsa_token_signer *s, X509 *cert, STACK_OF(X509) *chain)
{
    dbuf sid = {0};
    put_i2d(&sid, i2d_X509_NAME, X509_get_issuer_name(cert));
    put_i2d(&sid, i2d_ASN1_INTEGER, X509_get0_serialNumber(cert));
    s->sid.failed |= sid.failed;
    put_tlv(&s->sid, 0x30, sid.p, sid.len);
    dbuf_free(&sid);

    dbuf all = {0};
    put_i2d(&all, i2d_X509, cert);
    for (int i = 0; i < sk_X509_num(chain); i++)
        put_i2d(&all, i2d_X509, sk_X509_value(chain, i));
    s->certs.failed |= all.failed;
    put_tlv(&s->certs, 0xa0, all.p, all.len);
    dbuf_free(&all);

    /* RFC 5816: ESSCertIDv2 with SHA-256 (the default, so left out) and no issuerSerial. */
    ESS_SIGNING_CERT_V2 *sc = OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), cert, NULL, 0);
    dbuf value = {0}, oid = {0};
    if (sc == NULL)
        value.failed = 1;
    else
        put_i2d(&value, i2d_ESS_SIGNING_CERT_V2, sc);
    ESS_SIGNING_CERT_V2_free(sc);
    put_oid(&oid, NID_id_smime_aa_signingCertificateV2);
    s->ess_attr.failed |= value.failed;
    put_attr(&s->ess_attr, &oid, value.p, value.len);
    dbuf_free(&value);
    dbuf_free(&oid);
}

rb_status tsa_token_signer_new(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
                               const ASN1_OBJECT *policy, const STACK_OF(ASN1_OBJECT) *others,
                               int accuracy_ms, tsa_token_signer **out, rb_error *err)
{
    if (!EVP_PKEY_is_a(key, "EC") || EVP_PKEY_get_bits(key) != 256)
        return RB_ENOTFOUND;
    tsa_token_signer *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    EVP_PKEY_up_ref(key);
    s->key = key;
    s->policy = policy;
    s->others = others;
    OBJ_obj2txt(s->policy_text, sizeof(s->policy_text), policy, 1);
    put_i2d(&s->policy_der, i2d_ASN1_OBJECT, policy);
    put_accuracy(&s->accuracy, accuracy_ms);
    put_oid(&s->signed_data_oid, NID_pkcs7_signed);
    put_oid(&s->tst_oid, NID_id_smime_ct_TSTInfo);
    put_oid(&s->signing_time_oid, NID_pkcs9_signingTime);
    put_oid(&s->digest_oid, NID_pkcs9_messageDigest);
    put_alg(&s->digest_alg, NID_sha256, 1);
    put_alg(&s->signature_alg, NID_ecdsa_with_SHA256, 0);
    dbuf type_oid = {0};
    put_oid(&type_oid, NID_pkcs9_contentType);
    put_attr(&s->content_type_attr, &type_oid, s->tst_oid.p, s->tst_oid.len);
    dbuf_free(&type_oid);
    put_identity(s, cert, chain);
    dbuf *all[] = {&s->policy_der, &s->accuracy,          &s->signed_data_oid,
                   &s->tst_oid,    &s->signing_time_oid,  &s->digest_oid,
                   &s->digest_alg, &s->signature_alg,     &s->sid,
                   &s->certs,      &s->content_type_attr, &s->ess_attr};
    int failed = 0;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        failed |= all[i]->failed;
    EVP_PKEY_CTX *probe = failed ? NULL : tsa_token_sign_ctx(s);
    if (probe == NULL) {
        tsa_token_signer_free(s);
        return rb_fail_crypto(err, "could not prepare the time-stamp token encoder");
    }
    EVP_PKEY_CTX_free(probe);
    *out = s;
    return RB_OK;
}

EVP_PKEY_CTX *tsa_token_sign_ctx(const tsa_token_signer *s)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->key, NULL);
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* ---- the query ---- */

static int accepted_policy(const tsa_token_signer *s, const ASN1_OBJECT *asked)
{
    if (OBJ_cmp(asked, s->policy) == 0)
        return 1;
    for (int i = 0; i < sk_ASN1_OBJECT_num(s->others); i++)
        if (OBJ_cmp(asked, sk_ASN1_OBJECT_value(s->others, i)) == 0)
            return 1;
    return 0;
}

int tsa_token_takes(const tsa_token_signer *s, TS_REQ *query)
{
    if (s == NULL || TS_REQ_get_version(query) != 1 || TS_REQ_get_ext_count(query) != 0)
        return 0;
    TS_MSG_IMPRINT *imprint = TS_REQ_get_msg_imprint(query);
    const X509_ALGOR *alg = TS_MSG_IMPRINT_get_algo(imprint);
    const ASN1_OBJECT *alg_oid;
    int param_type;
    const void *param;
    X509_ALGOR_get0(&alg_oid, &param_type, &param, alg);
    int nid = OBJ_obj2nid(alg_oid);
    int want = nid == NID_sha256 ? 32 : nid == NID_sha384 ? 48 : nid == NID_sha512 ? 64 : 0;
    if (want == 0 || (param_type != V_ASN1_UNDEF && param_type != V_ASN1_NULL) ||
        ASN1_STRING_length(TS_MSG_IMPRINT_get_msg(imprint)) != want)
        return 0;
    const ASN1_OBJECT *asked = TS_REQ_get_policy_id(query);
    return asked == NULL || accepted_policy(s, asked);
}

/* ---- the token ---- */

static void put_time(dbuf *b, int64_t at_ms, int generalized)
{
    time_t t = (time_t)(at_ms / 1000);
    struct tm tm;
    char text[32];
    gmtime_r(&t, &tm);
    int year = tm.tm_year + 1900;
    if (!generalized && year >= 1950 && year < 2050) { /* UTCTime, as CMS writes signingTime */
        int n = snprintf(text, sizeof(text), "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        put_tlv(b, 0x17, text, (size_t)n);
        return;
    }
    size_t n = (size_t)snprintf(text, sizeof(text), "%04d%02d%02d%02d%02d%02d", year, tm.tm_mon + 1,
                                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    int ms = (int)(at_ms % 1000);
    if (generalized && ms > 0) { /* RFC 3161 2.4.2: no trailing zeros in the fraction */
        n += (size_t)snprintf(text + n, sizeof(text) - n, ".%03d", ms);
        while (text[n - 1] == '0')
            n--;
    }
    text[n++] = 'Z';
    put_tlv(b, 0x18, text, n);
}

static void put_tst_info(const tsa_token_signer *s, TS_REQ *query, const uint8_t *serial,
                         int64_t at_ms, dbuf *out)
{
    dbuf body = {0};
    put(&body, "\x02\x01\x01", 3); /* version v1 */
    const ASN1_OBJECT *asked = TS_REQ_get_policy_id(query);
    if (asked != NULL)
        put_i2d(&body, i2d_ASN1_OBJECT, asked);
    else
        put(&body, s->policy_der.p, s->policy_der.len);
    put_i2d(&body, i2d_TS_MSG_IMPRINT, TS_REQ_get_msg_imprint(query));
    put_tlv(&body, 0x02, serial, TSA_SERIAL_BYTES);
    put_time(&body, at_ms, 1);
    put(&body, s->accuracy.p, s->accuracy.len);
    const ASN1_INTEGER *nonce = TS_REQ_get_nonce(query);
    if (nonce != NULL)
        put_i2d(&body, i2d_ASN1_INTEGER, nonce);
    out->failed |= body.failed;
    put_tlv(out, 0x30, body.p, body.len);
    dbuf_free(&body);
}

typedef struct part {
    const uint8_t *p;
    size_t len;
} part;

/* DER orders a SET OF by the encodings, the shorter as if padded with zeros (X.690 11.6). */
static int part_cmp(const void *a, const void *b)
{
    const part *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* The signed attributes' contents (SET OF, sorted) for the TSTInfo tst. */
static void put_signed_attrs(const tsa_token_signer *s, const dbuf *tst, int64_t at_ms, dbuf *out)
{
    uint8_t digest[SHA256_DIGEST_LENGTH], octets[2 + SHA256_DIGEST_LENGTH];
    SHA256(tst->p, tst->len, digest);
    octets[0] = 0x04;
    octets[1] = SHA256_DIGEST_LENGTH;
    memcpy(octets + 2, digest, sizeof(digest));
    dbuf time_value = {0}, time_attr = {0}, digest_attr = {0};
    put_time(&time_value, at_ms, 0);
    put_attr(&time_attr, &s->signing_time_oid, time_value.p, time_value.len);
    put_attr(&digest_attr, &s->digest_oid, octets, sizeof(octets));
    part parts[] = {{s->content_type_attr.p, s->content_type_attr.len},
                    {time_attr.p, time_attr.len},
                    {digest_attr.p, digest_attr.len},
                    {s->ess_attr.p, s->ess_attr.len}};
    out->failed |= time_value.failed | time_attr.failed | digest_attr.failed;
    if (!out->failed) {
        qsort(parts, sizeof(parts) / sizeof(parts[0]), sizeof(parts[0]), part_cmp);
        for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
            put(out, parts[i].p, parts[i].len);
    }
    dbuf_free(&time_value);
    dbuf_free(&time_attr);
    dbuf_free(&digest_attr);
}

/* The SignerInfo: the signature is over the attributes encoded as a SET (RFC 5652 5.4). */
static void put_signer_info(const tsa_token_signer *s, EVP_PKEY_CTX *sign_ctx, const dbuf *attrs,
                            dbuf *out)
{
    dbuf set = {0}, body = {0};
    put_tlv(&set, 0x31, attrs->p, attrs->len);
    uint8_t digest[SHA256_DIGEST_LENGTH], sig[160];
    size_t sig_len = sizeof(sig);
    if (set.failed || SHA256(set.p, set.len, digest) == NULL ||
        EVP_PKEY_sign(sign_ctx, sig, &sig_len, digest, sizeof(digest)) != 1)
        out->failed = 1;
    dbuf_free(&set);
    if (out->failed)
        return;
    put(&body, "\x02\x01\x01", 3); /* version 1: issuerAndSerialNumber */
    put(&body, s->sid.p, s->sid.len);
    put(&body, s->digest_alg.p, s->digest_alg.len);
    put_tlv(&body, 0xa0, attrs->p, attrs->len);
    put(&body, s->signature_alg.p, s->signature_alg.len);
    put_tlv(&body, 0x04, sig, sig_len);
    out->failed |= body.failed;
    put_tlv(out, 0x30, body.p, body.len);
    dbuf_free(&body);
}

/* ContentInfo { signedData, [0] SignedData } around tst and the signer info. */
static void put_token(const tsa_token_signer *s, const dbuf *tst, const dbuf *signer_info,
                      int with_certs, dbuf *out)
{
    dbuf econtent = {0}, sd = {0}, sd_seq = {0}, wrapped = {0};
    dbuf octets = {0};
    put_tlv(&octets, 0x04, tst->p, tst->len);
    put(&econtent, s->tst_oid.p, s->tst_oid.len);
    put_tlv(&econtent, 0xa0, octets.p, octets.len);
    /* version 3: the encapsulated content is not id-data (RFC 5652 5.1) */
    put(&sd, "\x02\x01\x03", 3);
    put_tlv(&sd, 0x31, s->digest_alg.p, s->digest_alg.len);
    put_tlv(&sd, 0x30, econtent.p, econtent.len);
    if (with_certs)
        put(&sd, s->certs.p, s->certs.len);
    put_tlv(&sd, 0x31, signer_info->p, signer_info->len);
    put_tlv(&sd_seq, 0x30, sd.p, sd.len);
    put(&wrapped, s->signed_data_oid.p, s->signed_data_oid.len);
    put_tlv(&wrapped, 0xa0, sd_seq.p, sd_seq.len);
    out->failed |= octets.failed | econtent.failed | sd.failed | sd_seq.failed | wrapped.failed;
    put_tlv(out, 0x30, wrapped.p, wrapped.len);
    dbuf_free(&octets);
    dbuf_free(&econtent);
    dbuf_free(&sd);
    dbuf_free(&sd_seq);
    dbuf_free(&wrapped);
}

/* What the record keeps of the query (the token's hash is added by the caller). */
static void fill_record(const tsa_token_signer *s, TS_REQ *query, const uint8_t *serial,
                        int64_t at_ms, tsa_record *rec)
{
    rb_hex_upper(serial, TSA_SERIAL_BYTES, rec->serial);
    rec->at_ms = at_ms;
    const ASN1_OBJECT *asked = TS_REQ_get_policy_id(query);
    if (asked == NULL)
        memcpy(rec->policy, s->policy_text, sizeof(rec->policy));
    tsa_record_fill(rec, asked, TS_REQ_get_msg_imprint(query), TS_REQ_get_nonce(query));
}

rb_status tsa_token_build(const tsa_token_signer *s, EVP_PKEY_CTX *sign_ctx, TS_REQ *query,
                          const uint8_t *serial, int64_t at_ms, uint8_t **der, size_t *len,
                          tsa_record *rec, rb_error *err)
{
    dbuf tst = {0}, attrs = {0}, signer_info = {0}, token = {0}, resp = {0};
    put_tst_info(s, query, serial, at_ms, &tst);
    if (!tst.failed)
        put_signed_attrs(s, &tst, at_ms, &attrs);
    if (!tst.failed && !attrs.failed)
        put_signer_info(s, sign_ctx, &attrs, &signer_info);
    if (!signer_info.failed && signer_info.len > 0)
        put_token(s, &tst, &signer_info, TS_REQ_get_cert_req(query), &token);
    int failed = tst.failed | attrs.failed | signer_info.failed | token.failed || token.len == 0;
    if (!failed) {
        /* TimeStampResp { status { granted }, timeStampToken } */
        put_header(&resp, 0x30, 5 + token.len);
        put(&resp, "\x30\x03\x02\x01\x00", 5);
        put(&resp, token.p, token.len);
        failed = resp.failed;
    }
    if (!failed) {
        uint8_t hash[SHA256_DIGEST_LENGTH];
        SHA256(token.p, token.len, hash);
        fill_record(s, query, serial, at_ms, rec);
        rb_hex_lower(hash, sizeof(hash), rec->token_sha256);
    }
    dbuf_free(&tst);
    dbuf_free(&attrs);
    dbuf_free(&signer_info);
    dbuf_free(&token);
    if (failed) {
        dbuf_free(&resp);
        return rb_fail_crypto(err, "could not encode a time-stamp token");
    }
    *der = resp.p;
    *len = resp.len;
    return RB_OK;
}
