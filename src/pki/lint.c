/*
 * The pre-issuance linter. Each check is a small function that names the
 * RFC 5280 (or RFC 3161 / RFC 6960 / profile) rule it enforces.
 */
#include "pki/lint.h"

#include "pki/x509util.h"

#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

static rb_status fail(rb_error *err, const char *rule, const char *message)
{
    return rb_fail(err, RB_EINVAL, rule, "certificate check failed: %s", message);
}

static rb_status lint_serial(X509 *cert, rb_error *err)
{
    const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
    if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER)
        return fail(err, "RFC 5280 4.1.2.2", "the serial number is negative");
    if (ASN1_STRING_length(serial) > 20)
        return fail(err, "RFC 5280 4.1.2.2", "the serial number is longer than 20 octets");
    if (ASN1_STRING_length(serial) == 0 || ASN1_STRING_get0_data(serial)[0] == 0)
        return fail(err, "RFC 5280 4.1.2.2", "the serial number is zero or not minimally encoded");
    return RB_OK;
}

static rb_status lint_validity(X509 *cert, const rb_profile *p, X509 *issuer, rb_error *err)
{
    int64_t nb = rb_asn1_time_ms(X509_get0_notBefore(cert));
    int64_t na = rb_asn1_time_ms(X509_get0_notAfter(cert));
    if (nb == 0 || na == 0 || na <= nb)
        return fail(err, "RFC 5280 4.1.2.5", "notAfter is not later than notBefore");
    if (na - nb > (int64_t)p->max_validity_days * 86400000)
        return fail(err, "profile: max_validity_days",
                    "the validity is longer than the profile allows");
    if (na > rb_asn1_time_ms(X509_get0_notAfter(issuer)))
        return fail(err, "RFC 5280 6.1.3 (validity nesting)",
                    "the certificate would outlive the issuing CA's certificate");
    if (nb < rb_asn1_time_ms(X509_get0_notBefore(issuer)))
        return fail(err, "RFC 5280 6.1.3 (validity nesting)",
                    "the certificate would start before the issuing CA's certificate");
    return RB_OK;
}

static rb_status lint_names(X509 *cert, X509 *issuer, rb_error *err)
{
    if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer)) != 0)
        return fail(err, "RFC 5280 4.1.2.4", "the issuer name is not the CA's subject name");
    const X509_NAME *subject = X509_get_subject_name(cert);
    if (X509_NAME_entry_count(subject) == 0)
        return fail(err, "RFC 5280 4.1.2.6", "the subject is empty");
    if (X509_NAME_get_index_by_NID(subject, NID_commonName, -1) < 0)
        return fail(err, "profile: subject", "the subject has no common name");
    int c = X509_NAME_get_index_by_NID(subject, NID_countryName, -1);
    if (c >= 0) {
        const ASN1_STRING *country = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, c));
        if (ASN1_STRING_length(country) != 2 || ASN1_STRING_type(country) != V_ASN1_PRINTABLESTRING)
            return fail(err, "RFC 5280 appendix A (X520countryName)",
                        "the country is not a two-letter PrintableString");
    }
    return RB_OK;
}

static rb_status lint_unique_extensions(X509 *cert, rb_error *err)
{
    int count = X509_get_ext_count(cert);
    for (int i = 0; i < count; i++) {
        const ASN1_OBJECT *a = X509_EXTENSION_get_object(X509_get_ext(cert, i));
        for (int k = i + 1; k < count; k++)
            if (OBJ_cmp(a, X509_EXTENSION_get_object(X509_get_ext(cert, k))) == 0)
                return fail(err, "RFC 5280 4.2", "an extension appears more than once");
    }
    return RB_OK;
}

static rb_status lint_usage(X509 *cert, const rb_profile *p, rb_error *err)
{
    int critical = -1;
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(cert, NID_basic_constraints, &critical, NULL);
    int is_ca = bc && bc->ca;
    BASIC_CONSTRAINTS_free(bc);
    if (is_ca)
        return fail(err, "RFC 5280 4.2.1.9", "a subscriber certificate must not be a CA");
    ASN1_BIT_STRING *ku = X509_get_ext_d2i(cert, NID_key_usage, &critical, NULL);
    /* Decoded by hand: the cached-extension accessors need a signed certificate. */
    unsigned bits = 0;
    if (ku != NULL && ku->length > 0)
        bits = ku->data[0] | (ku->length > 1 ? (unsigned)ku->data[1] << 8 : 0);
    ASN1_BIT_STRING_free(ku);
    if (ku == NULL || !critical)
        return fail(err, "RFC 5280 4.2.1.3", "keyUsage is missing or not critical");
    if (bits != p->key_usage)
        return fail(err, "profile: key_usage", "keyUsage differs from the profile");
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, &critical, NULL);
    int n = eku ? sk_ASN1_OBJECT_num(eku) : 0;
    int matches = (size_t)n == p->eku_count;
    for (int i = 0; matches && i < n; i++)
        matches = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == p->eku_nids[i];
    EXTENDED_KEY_USAGE_free(eku);
    if (!matches)
        return fail(err, "profile: extended_key_usage",
                    "extendedKeyUsage differs from the profile");
    if (n > 0 && p->eku_nids[0] == NID_time_stamp && (n != 1 || !critical))
        return fail(err, "RFC 3161 2.3",
                    "a TSA certificate needs timeStamping as its only, "
                    "critical, extended key usage");
    if (p->ocsp_nocheck && X509_get_ext_by_NID(cert, NID_id_pkix_OCSP_noCheck, -1) < 0)
        return fail(err, "RFC 6960 4.2.2.2.1", "an OCSP responder certificate needs ocsp-nocheck");
    return RB_OK;
}

static rb_status lint_ski(X509 *cert, rb_error *err)
{
    ASN1_OCTET_STRING *ski = X509_get_ext_d2i(cert, NID_subject_key_identifier, NULL, NULL);
    int has_ski = ski != NULL;
    ASN1_OCTET_STRING_free(ski);
    if (!has_ski)
        return fail(err, "RFC 5280 4.2.1.2", "subjectKeyIdentifier is missing");
    return RB_OK;
}

static rb_status lint_aki(X509 *cert, X509 *issuer, rb_error *err)
{
    AUTHORITY_KEYID *aki = X509_get_ext_d2i(cert, NID_authority_key_identifier, NULL, NULL);
    const ASN1_OCTET_STRING *issuer_ski = X509_get0_subject_key_id(issuer);
    int aki_ok = aki != NULL && aki->keyid != NULL && issuer_ski != NULL &&
                 ASN1_OCTET_STRING_cmp(aki->keyid, issuer_ski) == 0;
    AUTHORITY_KEYID_free(aki);
    if (!aki_ok)
        return fail(err, "RFC 5280 4.2.1.1",
                    "authorityKeyIdentifier is missing or does not match the CA's key");
    return RB_OK;
}

static int uri_is_http(const GENERAL_NAME *name)
{
    if (name->type != GEN_URI)
        return 0;
    const char *uri = (const char *)ASN1_STRING_get0_data(name->d.uniformResourceIdentifier);
    return strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0;
}

/* Characters, not bytes: a UTF8String's continuation bytes and a BMPString's pairs count once. */
static int display_text_chars(const ASN1_STRING *text)
{
    const unsigned char *data = ASN1_STRING_get0_data(text);
    int len = ASN1_STRING_length(text), chars = 0;
    if (ASN1_STRING_type(text) == V_ASN1_BMPSTRING)
        return len / 2;
    if (ASN1_STRING_type(text) != V_ASN1_UTF8STRING)
        return len;
    for (int i = 0; i < len; i++)
        chars += (data[i] & 0xC0) != 0x80;
    return chars;
}

static rb_status lint_pointers(X509 *cert, const rb_profile *p, rb_error *err)
{
    AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(cert, NID_info_access, NULL, NULL);
    int ok = aia != NULL && sk_ACCESS_DESCRIPTION_num(aia) > 0;
    for (int i = 0; ok && i < sk_ACCESS_DESCRIPTION_num(aia); i++)
        ok = uri_is_http(sk_ACCESS_DESCRIPTION_value(aia, i)->location);
    AUTHORITY_INFO_ACCESS_free(aia);
    if (!ok)
        return fail(err, "RFC 5280 4.2.2.1", "authorityInfoAccess is missing or not an http URI");
    STACK_OF(DIST_POINT) *crldp = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
    ok = crldp != NULL && sk_DIST_POINT_num(crldp) > 0;
    DIST_POINT *dp = ok ? sk_DIST_POINT_value(crldp, 0) : NULL;
    ok = ok && dp->distpoint && dp->distpoint->type == 0 &&
         sk_GENERAL_NAME_num(dp->distpoint->name.fullname) > 0 &&
         uri_is_http(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0));
    sk_DIST_POINT_pop_free(crldp, DIST_POINT_free);
    if (!ok)
        return fail(err, "RFC 5280 4.2.1.13",
                    "cRLDistributionPoints is missing or not an http URI");
    CERTIFICATEPOLICIES *policies = X509_get_ext_d2i(cert, NID_certificate_policies, NULL, NULL);
    ASN1_OBJECT *wanted = OBJ_txt2obj(p->policy_oid, 1);
    int found = 0, notice_ok = 1;
    for (int i = 0; policies && i < sk_POLICYINFO_num(policies); i++) {
        POLICYINFO *info = sk_POLICYINFO_value(policies, i);
        found |= wanted && OBJ_cmp(info->policyid, wanted) == 0;
        for (int q = 0; info->qualifiers && q < sk_POLICYQUALINFO_num(info->qualifiers); q++) {
            POLICYQUALINFO *qual = sk_POLICYQUALINFO_value(info->qualifiers, q);
            if (OBJ_obj2nid(qual->pqualid) == NID_id_qt_unotice && qual->d.usernotice->exptext &&
                display_text_chars(qual->d.usernotice->exptext) > 200)
                notice_ok = 0;
        }
    }
    ASN1_OBJECT_free(wanted);
    CERTIFICATEPOLICIES_free(policies);
    if (!found)
        return fail(err, "profile: policy_oid", "certificatePolicies lacks the profile's policy");
    if (!notice_ok)
        return fail(err, "RFC 5280 4.2.1.4", "a user notice's explicitText exceeds 200 characters");
    return RB_OK;
}

/*
 * The extensions whose checks depend only on their encoding, the profile
 * and the issuer: a profile makes them the same for every certificate.
 */
static const int fixed_nids[] = {
    NID_basic_constraints,    NID_key_usage,
    NID_ext_key_usage,        NID_authority_key_identifier,
    NID_info_access,          NID_crl_distribution_points,
    NID_certificate_policies, NID_id_pkix_OCSP_noCheck,
};

#define FIXED_KEY_MAX 4096

struct rb_lint_memo {
    const rb_profile *profile;
    const X509 *issuer;
    size_t key_len; /* 0: nothing remembered */
    unsigned char key[FIXED_KEY_MAX];
};

rb_lint_memo *rb_lint_memo_new(void)
{
    return calloc(1, sizeof(rb_lint_memo));
}

void rb_lint_memo_free(rb_lint_memo *memo)
{
    free(memo);
}

/*
 * The fixed extensions of cert as one string of bytes: for each, in the
 * order of fixed_nids, whether it is present and critical, its length and
 * its value. Returns the length, or 0 when it does not fit in key.
 */
static size_t fixed_key(X509 *cert, unsigned char key[FIXED_KEY_MAX])
{
    size_t len = 0;
    for (size_t i = 0; i < sizeof(fixed_nids) / sizeof(fixed_nids[0]); i++) {
        int at = X509_get_ext_by_NID(cert, fixed_nids[i], -1);
        X509_EXTENSION *ext = at >= 0 ? X509_get_ext(cert, at) : NULL;
        const ASN1_OCTET_STRING *value = ext ? X509_EXTENSION_get_data(ext) : NULL;
        size_t value_len = value ? (size_t)ASN1_STRING_length(value) : 0;
        if (FIXED_KEY_MAX - len < 5 + value_len)
            return 0;
        key[len++] = ext == NULL ? 0 : X509_EXTENSION_get_critical(ext) ? 2 : 1;
        for (int shift = 24; shift >= 0; shift -= 8)
            key[len++] = (unsigned char)(value_len >> shift);
        if (value_len > 0)
            memcpy(key + len, ASN1_STRING_get0_data(value), value_len);
        len += value_len;
    }
    return len;
}

/* The extension checks, in the order their failures are reported. */
static rb_status lint_extensions(X509 *cert, const rb_profile *p, X509 *issuer, rb_error *err)
{
    rb_status s = lint_usage(cert, p, err);
    if (s == RB_OK)
        s = lint_ski(cert, err);
    if (s == RB_OK)
        s = lint_aki(cert, issuer, err);
    if (s == RB_OK)
        s = lint_pointers(cert, p, err);
    return s;
}

/*
 * lint_extensions, of which only the subject key identifier (different in
 * every certificate) is checked again when the fixed extensions are byte for
 * byte those that passed last time, for the same profile and issuer.
 */
static rb_status lint_extensions_memo(X509 *cert, const rb_profile *p, X509 *issuer,
                                      rb_lint_memo *memo, rb_error *err)
{
    unsigned char key[FIXED_KEY_MAX];
    size_t key_len = memo ? fixed_key(cert, key) : 0;
    if (key_len > 0 && memo->profile == p && memo->issuer == issuer && memo->key_len == key_len &&
        memcmp(memo->key, key, key_len) == 0)
        return lint_ski(cert, err);
    rb_status s = lint_extensions(cert, p, issuer, err);
    if (s == RB_OK && key_len > 0) {
        memo->profile = p;
        memo->issuer = issuer;
        memo->key_len = key_len;
        memcpy(memo->key, key, key_len);
    }
    return s;
}

rb_status rb_lint_leaf_memo(X509 *cert, const rb_profile *p, X509 *issuer, rb_lint_memo *memo,
                            rb_error *err)
{
    if (X509_get_version(cert) != X509_VERSION_3)
        return fail(err, "RFC 5280 4.1.2.1", "the certificate is not version 3");
    rb_status s = lint_serial(cert, err);
    if (s == RB_OK)
        s = lint_validity(cert, p, issuer, err);
    if (s == RB_OK)
        s = lint_names(cert, issuer, err);
    if (s == RB_OK)
        s = lint_unique_extensions(cert, err);
    if (s == RB_OK)
        s = lint_extensions_memo(cert, p, issuer, memo, err);
    /* The key itself was checked against the key policy when the request was read. */
    return s;
}
