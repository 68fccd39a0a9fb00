/*
 * Building and signing subscriber certificates. Extensions common to all
 * certificates of a profile are encoded once per issuer and copied into each
 * certificate; only the serial, validity, subject, key identifier, SAN and
 * (when limits are stated) the policy notice differ per certificate. The
 * signing context and the signature algorithm are set up once per issuer, and
 * the to-be-signed part is encoded once: the bytes signed are the bytes stored.
 */
#include "ca/issuer.h"

#include "pki/lint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rb_issuer {
    rb_authority *ca;
    rb_jurisdiction *jurisdiction;
    char base_url[256];
    char cps_uri[300];
    STACK_OF(X509_EXTENSION) **profile_exts; /* per profile, built on first use */
    rb_csr_reader *csr_reader;
    rb_lint_memo *lint_memo;   /* the profile extensions that passed the linter */
    EVP_MD_CTX *sign_template; /* initialised with the CA key; copied per certificate */
    EVP_MD_CTX *sign_ctx;
    X509_ALGOR *sig_alg; /* the signature AlgorithmIdentifier, and its DER */
    unsigned char *sig_alg_der;
    int sig_alg_der_len;
    void *scratch; /* rb_issuer_scratch */
    size_t scratch_size;
};

static GENERAL_NAME *uri_name(const char *uri)
{
    GENERAL_NAME *name = GENERAL_NAME_new();
    ASN1_IA5STRING *text = ASN1_IA5STRING_new();
    if (name == NULL || text == NULL || !ASN1_STRING_set(text, uri, -1)) {
        GENERAL_NAME_free(name);
        ASN1_IA5STRING_free(text);
        return NULL;
    }
    GENERAL_NAME_set0_value(name, GEN_URI, text);
    return name;
}

AUTHORITY_INFO_ACCESS *rb_ext_aia(const char *base_url, const char *ca_name, int with_ocsp)
{
    AUTHORITY_INFO_ACCESS *aia = AUTHORITY_INFO_ACCESS_new();
    char uri[512];
    for (int i = 0; aia && i < (with_ocsp ? 2 : 1); i++) {
        ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
        if (i == 0)
            snprintf(uri, sizeof(uri), "%s/ca/%s.crt", base_url, ca_name);
        else
            snprintf(uri, sizeof(uri), "%s/ocsp", base_url);
        if (ad == NULL) {
            AUTHORITY_INFO_ACCESS_free(aia);
            return NULL;
        }
        ASN1_OBJECT_free(ad->method);
        ad->method = OBJ_nid2obj(i == 0 ? NID_ad_ca_issuers : NID_ad_OCSP);
        GENERAL_NAME_free(ad->location);
        ad->location = uri_name(uri);
        sk_ACCESS_DESCRIPTION_push(aia, ad);
    }
    return aia;
}

STACK_OF(DIST_POINT) *rb_ext_crldp(const char *base_url, const char *ca_name)
{
    char uri[512];
    snprintf(uri, sizeof(uri), "%s/crl/%s.crl", base_url, ca_name);
    STACK_OF(DIST_POINT) *points = sk_DIST_POINT_new_null();
    DIST_POINT *dp = DIST_POINT_new();
    DIST_POINT_NAME *dpn = DIST_POINT_NAME_new();
    GENERAL_NAMES *names = GENERAL_NAMES_new();
    GENERAL_NAME *name = uri_name(uri);
    if (points == NULL || dp == NULL || dpn == NULL || names == NULL || name == NULL) {
        sk_DIST_POINT_free(points);
        DIST_POINT_free(dp);
        DIST_POINT_NAME_free(dpn);
        GENERAL_NAMES_free(names);
        GENERAL_NAME_free(name);
        return NULL;
    }
    sk_GENERAL_NAME_push(names, name);
    dpn->type = 0;
    dpn->name.fullname = names;
    dp->distpoint = dpn;
    sk_DIST_POINT_push(points, dp);
    return points;
}

ASN1_OCTET_STRING *rb_ext_ski(const X509_PUBKEY *spki)
{
    /* RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING. */
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const unsigned char *bits;
    int bits_len;
    ASN1_OCTET_STRING *ski = NULL;
    if (X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL, spki) == 1 &&
        EVP_Digest(bits, (size_t)bits_len, digest, &len, EVP_sha1(), NULL) == 1) {
        ski = ASN1_OCTET_STRING_new();
        if (ski && !ASN1_OCTET_STRING_set(ski, digest, (int)len)) {
            ASN1_OCTET_STRING_free(ski);
            ski = NULL;
        }
    }
    return ski;
}

/* Copies the algorithm and key bits of spki into the certificate, as encoded. */
static rb_status copy_public_key(X509 *cert, const X509_PUBKEY *spki, rb_error *err)
{
    const unsigned char *bits;
    int bits_len;
    X509_ALGOR *alg;
    if (X509_PUBKEY_get0_param(NULL, &bits, &bits_len, &alg, spki) != 1)
        return rb_fail_crypto(err, "the request's public key is malformed");
    if (!rb_pubkey_set_parts(X509_get_X509_PUBKEY(cert), alg, bits, bits_len))
        return rb_fail_crypto(err, "cannot copy the public key into the certificate");
    return RB_OK;
}

AUTHORITY_KEYID *rb_ext_akid(X509 *issuer_cert)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(issuer_cert);
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    if (akid == NULL || ski == NULL || (akid->keyid = ASN1_OCTET_STRING_dup(ski)) == NULL) {
        AUTHORITY_KEYID_free(akid);
        return NULL;
    }
    return akid;
}

static POLICYQUALINFO *notice_qualifier(const char *text)
{
    POLICYQUALINFO *qual = POLICYQUALINFO_new();
    USERNOTICE *notice = USERNOTICE_new();
    ASN1_UTF8STRING *explicit_text = ASN1_UTF8STRING_new();
    if (qual == NULL || notice == NULL || explicit_text == NULL ||
        !ASN1_STRING_set(explicit_text, text, -1)) {
        POLICYQUALINFO_free(qual);
        USERNOTICE_free(notice);
        ASN1_UTF8STRING_free(explicit_text);
        return NULL;
    }
    notice->exptext = explicit_text;
    qual->pqualid = OBJ_nid2obj(NID_id_qt_unotice);
    qual->d.usernotice = notice;
    return qual;
}

/* certificatePolicies: the profile's OID with the CPS URI, its notice and the limits. */
static CERTIFICATEPOLICIES *build_policies(const rb_issuer *issuer, const rb_profile *p,
                                           const char *limits)
{
    CERTIFICATEPOLICIES *policies = CERTIFICATEPOLICIES_new();
    POLICYINFO *info = POLICYINFO_new();
    POLICYQUALINFO *cps = POLICYQUALINFO_new();
    if (policies == NULL || info == NULL || cps == NULL)
        goto fail;
    sk_POLICYINFO_push(policies, info);
    info->policyid = OBJ_txt2obj(p->policy_oid, 1);
    info->qualifiers = sk_POLICYQUALINFO_new_null();
    cps->pqualid = OBJ_nid2obj(NID_id_qt_cps);
    cps->d.cpsuri = ASN1_IA5STRING_new();
    if (info->policyid == NULL || info->qualifiers == NULL || cps->d.cpsuri == NULL ||
        !ASN1_STRING_set(cps->d.cpsuri, issuer->cps_uri, -1))
        goto fail_cps;
    sk_POLICYQUALINFO_push(info->qualifiers, cps);
    if (p->notice[0])
        sk_POLICYQUALINFO_push(info->qualifiers, notice_qualifier(p->notice));
    if (limits != NULL && limits[0]) {
        char text[sizeof("Límites: ") + 4 * RB_LIMITS_MAX_CHARS];
        snprintf(text, sizeof(text), "Límites: %s", limits);
        sk_POLICYQUALINFO_push(info->qualifiers, notice_qualifier(text));
    }
    return policies;
fail_cps:
    POLICYQUALINFO_free(cps);
    cps = NULL;
fail:
    POLICYQUALINFO_free(cps);
    if (policies == NULL)
        POLICYINFO_free(info);
    CERTIFICATEPOLICIES_free(policies);
    return NULL;
}

static rb_status push_ext(STACK_OF(X509_EXTENSION) *exts, int nid, int critical, void *value,
                          rb_error *err)
{
    X509_EXTENSION *ext = value ? X509V3_EXT_i2d(nid, critical, value) : NULL;
    if (ext == NULL || !sk_X509_EXTENSION_push(exts, ext)) {
        X509_EXTENSION_free(ext);
        return rb_fail_crypto(err, "cannot encode extension %s", OBJ_nid2sn(nid));
    }
    return RB_OK;
}

static rb_status build_profile_exts(rb_issuer *issuer, const rb_profile *p,
                                    STACK_OF(X509_EXTENSION) **out, rb_error *err)
{
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
    EXTENDED_KEY_USAGE *eku = p->eku_count ? sk_ASN1_OBJECT_new_null() : NULL;
    CERTIFICATEPOLICIES *policies = build_policies(issuer, p, NULL);
    AUTHORITY_KEYID *akid = rb_ext_akid(issuer->ca->cert);
    AUTHORITY_INFO_ACCESS *aia = rb_ext_aia(issuer->base_url, issuer->ca->name, !p->ocsp_nocheck);
    STACK_OF(DIST_POINT) *crldp = rb_ext_crldp(issuer->base_url, issuer->ca->name);
    ASN1_NULL *nocheck = p->ocsp_nocheck ? ASN1_NULL_new() : NULL;
    rb_status s = exts ? RB_OK : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    for (int bit = 0; s == RB_OK && ku && bit < 9; bit++) {
        /* KU_* constants are the DER bits of the first two octets, bit 0 = 0x80. */
        unsigned mask = bit < 8 ? 0x80u >> bit : 0x8000u;
        if (p->key_usage & mask)
            ASN1_BIT_STRING_set_bit(ku, bit, 1);
    }
    for (size_t i = 0; eku && i < p->eku_count; i++)
        sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(p->eku_nids[i]));
    if (s == RB_OK)
        s = push_ext(exts, NID_basic_constraints, 1, bc, err);
    if (s == RB_OK)
        s = push_ext(exts, NID_key_usage, 1, ku, err);
    if (s == RB_OK && p->eku_count)
        s = push_ext(exts, NID_ext_key_usage, p->eku_critical, eku, err);
    if (s == RB_OK)
        s = push_ext(exts, NID_authority_key_identifier, 0, akid, err);
    if (s == RB_OK)
        s = push_ext(exts, NID_info_access, 0, aia, err);
    if (s == RB_OK)
        s = push_ext(exts, NID_crl_distribution_points, 0, crldp, err);
    if (s == RB_OK)
        s = push_ext(exts, NID_certificate_policies, 0, policies, err);
    if (s == RB_OK && p->ocsp_nocheck)
        s = push_ext(exts, NID_id_pkix_OCSP_noCheck, 0, nocheck, err);
    BASIC_CONSTRAINTS_free(bc);
    ASN1_BIT_STRING_free(ku);
    sk_ASN1_OBJECT_free(eku); /* the NID objects are static */
    CERTIFICATEPOLICIES_free(policies);
    AUTHORITY_KEYID_free(akid);
    AUTHORITY_INFO_ACCESS_free(aia);
    sk_DIST_POINT_pop_free(crldp, DIST_POINT_free);
    ASN1_NULL_free(nocheck);
    if (s != RB_OK) {
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        return s;
    }
    *out = exts;
    return RB_OK;
}

rb_status rb_issuer_load_jurisdiction(rb_ctx *ctx, rb_jurisdiction **out, rb_error *err)
{
    char *code = NULL, path[4200];
    rb_status s = rb_setting_get(ctx, "jurisdiction", &code, err);
    if (s == RB_OK && code == NULL)
        s = rb_fail(err, RB_ESTATE, NULL, "the CA is not initialised: run 'rubrica init' first");
    if (s == RB_OK) {
        snprintf(path, sizeof(path), "%s/profiles/%s.json", ctx->data_dir ? ctx->data_dir : ".",
                 code);
        s = rb_jurisdiction_load(path, out, err);
    }
    free(code);
    return s;
}

/*
 * The signature AlgorithmIdentifier of the CA key, written as OpenSSL writes
 * it (RFC 5758 3.2: no parameters for ECDSA; RFC 4055 5: NULL for RSA
 * PKCS#1 v1.5), and a signing context that each certificate's signature
 * starts from as a copy, instead of looking up the algorithm every time.
 */
static rb_status prepare_signing(rb_issuer *issuer, rb_error *err)
{
    EVP_PKEY *key = rb_key_get0_pkey(issuer->ca->key);
    const EVP_MD *md = rb_signing_digest(key);
    int key_type = EVP_PKEY_get_base_id(key), sig_nid = NID_undef;
    if (!OBJ_find_sigid_by_algs(&sig_nid, EVP_MD_get_type(md), key_type))
        return rb_fail(err, RB_EINVAL, NULL, "the key of CA '%s' cannot sign certificates",
                       issuer->ca->name);
    issuer->sig_alg = X509_ALGOR_new();
    issuer->sign_template = EVP_MD_CTX_new();
    issuer->sign_ctx = EVP_MD_CTX_new();
    if (issuer->sig_alg == NULL || issuer->sign_template == NULL || issuer->sign_ctx == NULL ||
        !X509_ALGOR_set0(issuer->sig_alg, OBJ_nid2obj(sig_nid),
                         key_type == EVP_PKEY_RSA ? V_ASN1_NULL : V_ASN1_UNDEF, NULL))
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    issuer->sig_alg_der_len = i2d_X509_ALGOR(issuer->sig_alg, &issuer->sig_alg_der);
    if (issuer->sig_alg_der_len <= 0 ||
        EVP_DigestSignInit(issuer->sign_template, NULL, md, NULL, key) != 1)
        return rb_fail_crypto(err, "cannot prepare the key of CA '%s' for signing",
                              issuer->ca->name);
    return RB_OK;
}

rb_status rb_issuer_open(rb_ctx *ctx, const char *ca_name, const rb_key_secret *secret,
                         rb_issuer **out, rb_error *err)
{
    rb_issuer *issuer = calloc(1, sizeof(*issuer));
    char *base_url = NULL;
    if (issuer == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    rb_status s = rb_issuer_load_jurisdiction(ctx, &issuer->jurisdiction, err);
    if (s == RB_OK)
        s = rb_setting_get(ctx, "base_url", &base_url, err);
    if (s == RB_OK)
        s = rb_authority_load(ctx, ca_name, RB_ROLE_ISSUING, 1, secret, &issuer->ca, err);
    if (s == RB_OK && issuer->ca->role != RB_ROLE_ISSUING && issuer->ca->role != RB_ROLE_ROOT)
        s = rb_fail(err, RB_EINVAL, NULL, "'%s' is not a certification authority", ca_name);
    if (s == RB_OK) {
        snprintf(issuer->base_url, sizeof(issuer->base_url), "%s",
                 base_url ? base_url : RB_DEFAULT_BASE_URL);
        const char *cps = issuer->jurisdiction->cps_uri, *slot = strstr(cps, "{base_url}");
        if (slot)
            snprintf(issuer->cps_uri, sizeof(issuer->cps_uri), "%.*s%s%s", (int)(slot - cps), cps,
                     issuer->base_url, slot + strlen("{base_url}"));
        else
            snprintf(issuer->cps_uri, sizeof(issuer->cps_uri), "%s", cps);
        issuer->profile_exts =
            calloc(issuer->jurisdiction->profile_count, sizeof(*issuer->profile_exts));
        if (issuer->profile_exts == NULL)
            s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    if (s == RB_OK)
        s = rb_csr_reader_new(&issuer->csr_reader, err);
    if (s == RB_OK && (issuer->lint_memo = rb_lint_memo_new()) == NULL)
        s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (s == RB_OK)
        s = prepare_signing(issuer, err);
    free(base_url);
    if (s != RB_OK) {
        rb_issuer_free(issuer);
        return s;
    }
    *out = issuer;
    return RB_OK;
}

void rb_issuer_free(rb_issuer *issuer)
{
    if (issuer == NULL)
        return;
    for (size_t i = 0; issuer->profile_exts && i < issuer->jurisdiction->profile_count; i++)
        sk_X509_EXTENSION_pop_free(issuer->profile_exts[i], X509_EXTENSION_free);
    free(issuer->profile_exts);
    rb_csr_reader_free(issuer->csr_reader);
    rb_lint_memo_free(issuer->lint_memo);
    EVP_MD_CTX_free(issuer->sign_template);
    EVP_MD_CTX_free(issuer->sign_ctx);
    X509_ALGOR_free(issuer->sig_alg);
    OPENSSL_free(issuer->sig_alg_der);
    free(issuer->scratch);
    rb_jurisdiction_free(issuer->jurisdiction);
    rb_authority_free(issuer->ca);
    free(issuer);
}

const rb_jurisdiction *rb_issuer_get0_jurisdiction(const rb_issuer *issuer)
{
    return issuer->jurisdiction;
}

const rb_authority *rb_issuer_get0_authority(const rb_issuer *issuer)
{
    return issuer->ca;
}

rb_csr_reader *rb_issuer_get0_csr_reader(rb_issuer *issuer)
{
    return issuer->csr_reader;
}

void *rb_issuer_scratch(rb_issuer *issuer, size_t size)
{
    if (size > issuer->scratch_size) {
        void *bigger = realloc(issuer->scratch, size);
        if (bigger == NULL)
            return NULL;
        issuer->scratch = bigger;
        issuer->scratch_size = size;
    }
    memset(issuer->scratch, 0, size);
    return issuer->scratch;
}

static rb_status add_profile_exts(rb_issuer *issuer, const rb_profile *p, X509 *cert,
                                  int skip_policies, rb_error *err)
{
    size_t index = (size_t)(p - issuer->jurisdiction->profiles);
    if (index >= issuer->jurisdiction->profile_count)
        return rb_fail(err, RB_EINTERNAL, NULL, "profile does not belong to this issuer");
    if (issuer->profile_exts[index] == NULL) {
        rb_status s = build_profile_exts(issuer, p, &issuer->profile_exts[index], err);
        if (s != RB_OK)
            return s;
    }
    STACK_OF(X509_EXTENSION) *exts = issuer->profile_exts[index];
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
        if (skip_policies &&
            OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_certificate_policies)
            continue;
        /*
         * X509_add_ext copies an extension by encoding and decoding it; a
         * copy made from its parts is the same extension for a fraction of
         * that, and goes onto the certificate's own list of extensions,
         * which X509_get0_extensions returns once there is one.
         */
        STACK_OF(X509_EXTENSION) *own = (STACK_OF(X509_EXTENSION) *)X509_get0_extensions(cert);
        if (own == NULL) {
            if (!X509_add_ext(cert, ext, -1))
                return rb_fail_crypto(err, "cannot add an extension");
            continue;
        }
        X509_EXTENSION *copy = X509_EXTENSION_create_by_OBJ(NULL, X509_EXTENSION_get_object(ext),
                                                            X509_EXTENSION_get_critical(ext),
                                                            X509_EXTENSION_get_data(ext));
        if (copy == NULL || !sk_X509_EXTENSION_push(own, copy)) {
            X509_EXTENSION_free(copy);
            return rb_fail_crypto(err, "cannot add an extension");
        }
    }
    return RB_OK;
}

/* Writes a DER length (X.690 8.1.3) into out; returns the octets written (at most 5). */
static size_t der_length(unsigned char *out, size_t len)
{
    if (len < 0x80) {
        out[0] = (unsigned char)len;
        return 1;
    }
    size_t n = len < 0x100 ? 1 : len < 0x10000 ? 2 : len < 0x1000000 ? 3 : 4;
    out[0] = (unsigned char)(0x80 | n);
    for (size_t i = 0; i < n; i++)
        out[1 + i] = (unsigned char)(len >> (8 * (n - 1 - i)));
    return 1 + n;
}

/* The signature over tbs, from a copy of the issuer's prepared signing context. */
static rb_status sign_tbs(rb_issuer *issuer, const unsigned char *tbs, size_t tbs_len,
                          unsigned char *sig, size_t *sig_len, rb_error *err)
{
    if (EVP_MD_CTX_copy_ex(issuer->sign_ctx, issuer->sign_template) != 1 ||
        EVP_DigestSign(issuer->sign_ctx, sig, sig_len, tbs, tbs_len) != 1)
        return rb_fail_crypto(err, "the CA could not sign the certificate");
    return RB_OK;
}

/*
 * Encodes the to-be-signed part once, signs those bytes and writes the
 * certificate, SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
 * (RFC 5280 4.1), into *out (OPENSSL_free). The algorithm and signature are
 * also set in cert, which then encodes to the same bytes. OpenSSL has no
 * setters for them other than X509_sign, which would encode the
 * certificate a second time for the store, so they are written in place.
 */
static rb_status sign_and_encode(rb_issuer *issuer, X509 *cert, unsigned char **out,
                                 size_t *out_len, rb_error *err)
{
    const ASN1_BIT_STRING *signature;
    const X509_ALGOR *outer_alg;
    X509_get0_signature(&signature, &outer_alg, cert);
    ASN1_BIT_STRING *bits = (ASN1_BIT_STRING *)signature;
    unsigned char *tbs = NULL, sig[1024];
    size_t sig_len = sizeof(sig);
    if ((size_t)EVP_PKEY_get_size(rb_key_get0_pkey(issuer->ca->key)) > sizeof(sig))
        return rb_fail(err, RB_EINVAL, NULL, "the CA key's signatures are too large");
    if (X509_ALGOR_copy((X509_ALGOR *)X509_get0_tbs_sigalg(cert), issuer->sig_alg) != 1 ||
        X509_ALGOR_copy((X509_ALGOR *)outer_alg, issuer->sig_alg) != 1)
        return rb_fail_crypto(err, "cannot set the signature algorithm");
    int tbs_len = i2d_re_X509_tbs(cert, &tbs);
    rb_status s = tbs_len > 0 ? RB_OK : rb_fail_crypto(err, "cannot encode the certificate");
    if (s == RB_OK)
        s = sign_tbs(issuer, tbs, (size_t)tbs_len, sig, &sig_len, err);
    if (s == RB_OK && ASN1_BIT_STRING_set(bits, sig, (int)sig_len) != 1)
        s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    unsigned char *der = NULL, bit_head[8] = {V_ASN1_BIT_STRING};
    unsigned char seq_head[8] = {V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED};
    size_t der_len = 0, bit_head_len = 0, seq_head_len = 0;
    if (s == RB_OK) {
        bits->flags &= ~0x07; /* no unused bits */
        bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
        bit_head_len = 1 + der_length(bit_head + 1, sig_len + 1);
        bit_head[bit_head_len++] = 0x00; /* the unused-bits octet */
        size_t body = (size_t)tbs_len + (size_t)issuer->sig_alg_der_len + bit_head_len + sig_len;
        seq_head_len = 1 + der_length(seq_head + 1, body);
        der_len = seq_head_len + body;
        der = OPENSSL_malloc(der_len);
        if (der == NULL)
            s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    if (s == RB_OK) {
        unsigned char *p = der;
        memcpy(p, seq_head, seq_head_len);
        p += seq_head_len;
        memcpy(p, tbs, (size_t)tbs_len);
        p += tbs_len;
        memcpy(p, issuer->sig_alg_der, (size_t)issuer->sig_alg_der_len);
        p += issuer->sig_alg_der_len;
        memcpy(p, bit_head, bit_head_len);
        memcpy(p + bit_head_len, sig, sig_len);
    }
    OPENSSL_free(tbs);
    if (s != RB_OK) {
        OPENSSL_free(der);
        return s;
    }
    *out = der;
    *out_len = der_len;
    return RB_OK;
}

rb_status rb_issuer_sign(rb_issuer *issuer, const rb_profile *p, const rb_subject *subject,
                         const X509_PUBKEY *spki, int64_t not_before_ms, int64_t not_after_ms,
                         X509 *cert, unsigned char **der, size_t *der_len,
                         char serial_hex[RB_SERIAL_HEX_LEN], rb_error *err)
{
    ASN1_INTEGER *serial = NULL;
    ASN1_OCTET_STRING *ski = NULL;
    CERTIFICATEPOLICIES *policies = NULL;
    rb_status s = rb_serial_random(&serial, serial_hex, err);
    /* A subject built in the certificate's own name (rb_subject_build_in) needs no copy. */
    if (s == RB_OK &&
        (!X509_set_version(cert, X509_VERSION_3) || !X509_set_serialNumber(cert, serial) ||
         !X509_set_issuer_name(cert, X509_get_subject_name(issuer->ca->cert)) ||
         (X509_get_subject_name(cert) != subject->name &&
          !X509_set_subject_name(cert, subject->name))))
        s = rb_fail_crypto(err, "cannot fill in the certificate");
    if (s == RB_OK)
        s = copy_public_key(cert, spki, err);
    if (s == RB_OK)
        s = rb_asn1_time_set_ms(X509_getm_notBefore(cert), not_before_ms, err);
    if (s == RB_OK)
        s = rb_asn1_time_set_ms(X509_getm_notAfter(cert), not_after_ms, err);
    int custom_policies = subject->limits[0] != '\0';
    if (s == RB_OK)
        s = add_profile_exts(issuer, p, cert, custom_policies, err);
    if (s == RB_OK && custom_policies) {
        policies = build_policies(issuer, p, subject->limits);
        s = policies ? rb_x509_add_ext(cert, NID_certificate_policies, 0, policies, err)
                     : rb_fail_crypto(err, "cannot encode the certificate policies");
    }
    if (s == RB_OK) {
        ski = rb_ext_ski(spki);
        s = ski ? rb_x509_add_ext(cert, NID_subject_key_identifier, 0, ski, err)
                : rb_fail_crypto(err, "cannot compute the subject key identifier");
    }
    if (s == RB_OK && subject->san != NULL)
        s = rb_x509_add_ext(cert, NID_subject_alt_name, 0, subject->san, err);
    if (s == RB_OK)
        s = rb_lint_leaf_memo(cert, p, issuer->ca->cert, issuer->lint_memo, err);
    if (s == RB_OK)
        s = sign_and_encode(issuer, cert, der, der_len, err);
    ASN1_INTEGER_free(serial);
    ASN1_OCTET_STRING_free(ski);
    CERTIFICATEPOLICIES_free(policies);
    return s;
}
