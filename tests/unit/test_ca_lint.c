/*
 * Unit tests of the checks around issuance: the pre-issuance linter
 * (src/pki/lint.c), one certificate per broken rule, each named in err.rule;
 * subject construction from request fields (src/pki/subject.c); serial
 * normalisation and the subscriber key policy (src/pki/x509util.c).
 */
#include "harness.h"

#include "core/reader.h"
#include "pki/lint.h"
#include "pki/subject.h"
#include "pki/x509util.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

#define DAY_SECONDS 86400L

/* --- Fixture: a CA, a subscriber key and a certificate that passes every check ------------- */

typedef struct fixture {
    rb_jurisdiction *pe;
    const rb_profile *profile;
    EVP_PKEY *ca_key, *leaf_key;
    X509 *ca, *leaf;
    rb_lint_memo *memo; /* primed with the conforming leaf */
} fixture;

static EVP_PKEY *ec_key(const char *curve)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
}

static void delete_ext(X509 *cert, int nid)
{
    int i;
    while ((i = X509_get_ext_by_NID(cert, nid, -1)) >= 0)
        X509_EXTENSION_free(X509_delete_ext(cert, i));
}

/* Replaces extension nid with one made from an openssl.cnf-style value; NULL removes it. */
static int set_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    delete_ext(cert, nid);
    if (value == NULL)
        return 1;
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    int ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* certificatePolicies with one policy and, when notice is given, a UTF8String user notice. */
static int set_policy(X509 *cert, const char *oid, const char *notice)
{
    CERTIFICATEPOLICIES *policies = CERTIFICATEPOLICIES_new();
    POLICYINFO *info = POLICYINFO_new();
    int ok = policies && info && sk_POLICYINFO_push(policies, info);
    if (!ok)
        POLICYINFO_free(info);
    if (ok) {
        info->policyid = OBJ_txt2obj(oid, 1);
        ok = info->policyid != NULL;
    }
    if (ok && notice) {
        POLICYQUALINFO *qual = POLICYQUALINFO_new();
        info->qualifiers = sk_POLICYQUALINFO_new_null();
        ok = qual && info->qualifiers && sk_POLICYQUALINFO_push(info->qualifiers, qual);
        if (!ok)
            POLICYQUALINFO_free(qual);
        if (ok) {
            qual->pqualid = OBJ_nid2obj(NID_id_qt_unotice);
            qual->d.usernotice = USERNOTICE_new();
            ok = qual->d.usernotice != NULL;
        }
        if (ok) {
            qual->d.usernotice->exptext = ASN1_UTF8STRING_new();
            ok = qual->d.usernotice->exptext &&
                 ASN1_STRING_set(qual->d.usernotice->exptext, notice, -1);
        }
    }
    ok = ok &&
         X509_add1_ext_i2d(cert, NID_certificate_policies, policies, 0, X509V3_ADD_REPLACE) == 1;
    CERTIFICATEPOLICIES_free(policies);
    return ok;
}

static int set_validity(X509 *cert, long from_days, long to_days)
{
    time_t now = time(NULL);
    return X509_time_adj_ex(X509_getm_notBefore(cert), 0, from_days * DAY_SECONDS, &now) &&
           X509_time_adj_ex(X509_getm_notAfter(cert), 0, to_days * DAY_SECONDS, &now);
}

static int make_ca(fixture *f)
{
    X509_NAME *name = X509_NAME_new();
    f->ca = X509_new();
    f->ca_key = ec_key("P-256");
    int ok = name && f->ca && f->ca_key &&
             X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"PE", -1,
                                        -1, 0) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                        (const unsigned char *)"Test Issuing CA", -1, -1, 0) &&
             X509_set_version(f->ca, X509_VERSION_3) &&
             ASN1_INTEGER_set(X509_get_serialNumber(f->ca), 1) &&
             X509_set_subject_name(f->ca, name) && X509_set_issuer_name(f->ca, name) &&
             X509_set_pubkey(f->ca, f->ca_key) && set_validity(f->ca, -1, 3650) &&
             set_ext(f->ca, f->ca, NID_basic_constraints, "critical,CA:TRUE") &&
             set_ext(f->ca, f->ca, NID_key_usage, "critical,keyCertSign,cRLSign") &&
             set_ext(f->ca, f->ca, NID_subject_key_identifier, "hash") &&
             X509_sign(f->ca, f->ca_key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    return ok;
}

/* The profile's key usage as an openssl.cnf value ("critical,digitalSignature,..."). */
static void key_usage_text(unsigned bits, char *out, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{KU_DIGITAL_SIGNATURE, "digitalSignature"},
                 {KU_NON_REPUDIATION, "nonRepudiation"},
                 {KU_KEY_ENCIPHERMENT, "keyEncipherment"},
                 {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
                 {KU_KEY_AGREEMENT, "keyAgreement"},
                 {KU_KEY_CERT_SIGN, "keyCertSign"},
                 {KU_CRL_SIGN, "cRLSign"},
                 {KU_ENCIPHER_ONLY, "encipherOnly"},
                 {KU_DECIPHER_ONLY, "decipherOnly"}};
    snprintf(out, len, "critical");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (bits & names[i].bit)
            snprintf(out + strlen(out), len - strlen(out), ",%s", names[i].name);
}

static int add_profile_exts(fixture *f)
{
    const rb_profile *p = f->profile;
    char ku[200], eku[200] = "";
    key_usage_text(p->key_usage, ku, sizeof(ku));
    for (size_t i = 0; i < p->eku_count; i++)
        snprintf(eku + strlen(eku), sizeof(eku) - strlen(eku), "%s%s",
                 i == 0 ? (p->eku_critical ? "critical," : "") : ",", OBJ_nid2sn(p->eku_nids[i]));
    return set_ext(f->leaf, f->ca, NID_basic_constraints, "critical,CA:FALSE") &&
           set_ext(f->leaf, f->ca, NID_key_usage, ku) &&
           set_ext(f->leaf, f->ca, NID_ext_key_usage, p->eku_count ? eku : NULL) &&
           set_ext(f->leaf, f->ca, NID_subject_key_identifier, "hash") &&
           set_ext(f->leaf, f->ca, NID_authority_key_identifier, "keyid:always") &&
           set_ext(
               f->leaf, f->ca, NID_info_access,
               "caIssuers;URI:http://ca.example/ca/issuing.crt,OCSP;URI:http://ca.example/ocsp") &&
           set_ext(f->leaf, f->ca, NID_crl_distribution_points,
                   "URI:http://ca.example/crl/issuing.crl") &&
           set_policy(f->leaf, p->policy_oid, p->notice) &&
           (!p->ocsp_nocheck || set_ext(f->leaf, f->ca, NID_id_pkix_OCSP_noCheck, "ignored"));
}

/* Loads profiles/PE.json and builds a CA and a conforming leaf of the named profile. */
static int fixture_open(fixture *f, const char *profile)
{
    rb_error err = {0};
    memset(f, 0, sizeof(*f));
    if (rb_jurisdiction_load("profiles/PE.json", &f->pe, &err) != RB_OK) {
        fprintf(stderr, "  profiles/PE.json: %s\n", err.message);
        return 0;
    }
    f->profile = rb_jurisdiction_profile(f->pe, profile, &err);
    if (f->profile == NULL || !make_ca(f))
        return 0;
    ASN1_INTEGER *serial = NULL;
    char hex[RB_SERIAL_HEX_LEN];
    X509_NAME *name = X509_NAME_new();
    f->leaf = X509_new();
    f->leaf_key = ec_key("P-256");
    int ok = rb_serial_random(&serial, hex, &err) == RB_OK && name && f->leaf && f->leaf_key &&
             X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"PE", -1,
                                        -1, 0) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                        (const unsigned char *)"José Pérez", -1, -1, 0) &&
             X509_set_version(f->leaf, X509_VERSION_3) && X509_set_serialNumber(f->leaf, serial) &&
             X509_set_subject_name(f->leaf, name) &&
             X509_set_issuer_name(f->leaf, X509_get_subject_name(f->ca)) &&
             X509_set_pubkey(f->leaf, f->leaf_key) && set_validity(f->leaf, 0, 365) &&
             add_profile_exts(f);
    ASN1_INTEGER_free(serial);
    X509_NAME_free(name);
    /* What the issuer's memo holds after a good certificate of the profile. */
    f->memo = ok ? rb_lint_memo_new() : NULL;
    ok = ok && f->memo && rb_lint_leaf_memo(f->leaf, f->profile, f->ca, f->memo, &err) == RB_OK;
    return ok;
}

static void fixture_close(fixture *f)
{
    rb_lint_memo_free(f->memo);
    X509_free(f->leaf);
    X509_free(f->ca);
    EVP_PKEY_free(f->leaf_key);
    EVP_PKEY_free(f->ca_key);
    rb_jurisdiction_free(f->pe);
}

/* 1 when the linter refuses f->leaf naming exactly rule (or passes when rule is NULL). */
static int lint_says_with(fixture *f, rb_lint_memo *memo, const char *rule)
{
    rb_error err = {0};
    rb_status s = rb_lint_leaf_memo(f->leaf, f->profile, f->ca, memo, &err);
    if (rule == NULL && s == RB_OK)
        return 1;
    if (rule != NULL && s == RB_EINVAL && strcmp(err.rule, rule) == 0)
        return 1;
    fprintf(stderr, "  lint%s: expected %s, got status %d rule '%s' (%s)\n",
            memo ? " (with the memo of a good leaf)" : "", rule ? rule : "pass", (int)s, err.rule,
            err.message);
    return 0;
}

/*
 * The same answer without a memo and with the memo of the conforming leaf
 * (the issuer's case): what the memo remembers must never let a change pass.
 */
static int lint_says(fixture *f, const char *rule)
{
    int without = lint_says_with(f, NULL, rule);
    return lint_says_with(f, f->memo, rule) && without;
}

/* --- The linter ------------------------------------------------------------------------------ */

TEST(lint_accepts_conforming_leaves_of_each_profile)
{
    static const char *const profiles[] = {
        "natural-person", "legal-representative", "e-invoice", "agent", "tsa", "ocsp"};
    for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        fixture f;
        CHECK(fixture_open(&f, profiles[i]));
        CHECK(f.leaf == NULL || lint_says(&f, NULL));
        fixture_close(&f);
    }
}

TEST(lint_refuses_a_version_1_certificate)
{
    fixture f;
    REQUIRE(fixture_open(&f, "natural-person"));
    CHECK(X509_set_version(f.leaf, X509_VERSION_1));
    CHECK(lint_says(&f, "RFC 5280 4.1.2.1"));
    fixture_close(&f);
}

/* Sets the leaf's serial to the given content octets, as encoded (no normalisation). */
static int set_serial_bytes(X509 *cert, const unsigned char *bytes, int len, int negative)
{
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    int ok = serial && ASN1_STRING_set(serial, bytes, len);
    if (ok && negative)
        serial->type = V_ASN1_NEG_INTEGER;
    ok = ok && X509_set_serialNumber(cert, serial);
    ASN1_INTEGER_free(serial);
    return ok;
}

TEST(lint_refuses_bad_serial_numbers)
{
    static const unsigned char long_serial[21] = {0x11, 2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                                  12,   13, 14, 15, 16, 17, 18, 19, 20, 21};
    static const unsigned char padded[2] = {0x00, 0x01}, zero[1] = {0x00}, five[1] = {0x05};
    fixture f;
    REQUIRE(fixture_open(&f, "natural-person"));
    CHECK(set_serial_bytes(f.leaf, long_serial, 21, 0));
    CHECK(lint_says(&f, "RFC 5280 4.1.2.2"));
    CHECK(set_serial_bytes(f.leaf, long_serial, 20, 0));
    CHECK(lint_says(&f, NULL));
    CHECK(set_serial_bytes(f.leaf, five, 1, 1));
    CHECK(lint_says(&f, "RFC 5280 4.1.2.2"));
    CHECK(set_serial_bytes(f.leaf, zero, 1, 0));
    CHECK(lint_says(&f, "RFC 5280 4.1.2.2"));
    CHECK(set_serial_bytes(f.leaf, padded, 2, 0));
    CHECK(lint_says(&f, "RFC 5280 4.1.2.2"));
    fixture_close(&f);
}

TEST(lint_refuses_validity_outside_the_profile_and_the_ca)
{
    fixture f;
    REQUIRE(fixture_open(&f, "natural-person"));
    REQUIRE(f.profile->max_validity_days == 1095);
    CHECK(set_validity(f.leaf, 0, 1095));
    CHECK(lint_says(&f, NULL));
    CHECK(set_validity(f.leaf, 0, 1096));
    CHECK(lint_says(&f, "profile: max_validity_days"));
    CHECK(set_validity(f.leaf, 10, 10));
    CHECK(lint_says(&f, "RFC 5280 4.1.2.5"));
    CHECK(set_validity(f.leaf, 5, 1));
    CHECK(lint_says(&f, "RFC 5280 4.1.2.5"));
    CHECK(set_validity(f.leaf, -2, 300));
    CHECK(lint_says(&f, "RFC 5280 6.1.3 (validity nesting)"));
    CHECK(set_validity(f.ca, -1, 100));
    CHECK(set_validity(f.leaf, 0, 101));
    CHECK(lint_says(&f, "RFC 5280 6.1.3 (validity nesting)"));
    fixture_close(&f);
}

TEST(lint_refuses_bad_names)
{
    fixture f;
    REQUIRE(fixture_open(&f, "natural-person"));
    X509_NAME *other = X509_NAME_new();
    CHECK(X509_NAME_add_entry_by_txt(other, "CN", MBSTRING_ASC, (const unsigned char *)"Other CA",
                                     -1, -1, 0));
    CHECK(X509_set_issuer_name(f.leaf, other));
    CHECK(lint_says(&f, "RFC 5280 4.1.2.4"));
    CHECK(X509_set_issuer_name(f.leaf, X509_get_subject_name(f.ca)));
    X509_NAME_free(other);

    X509_NAME *no_cn = X509_NAME_new();
    CHECK(X509_NAME_add_entry_by_txt(no_cn, "O", MBSTRING_ASC, (const unsigned char *)"ACME", -1,
                                     -1, 0));
    CHECK(X509_set_subject_name(f.leaf, no_cn));
    CHECK(lint_says(&f, "profile: subject"));
    X509_NAME_free(no_cn);

    X509_NAME *empty = X509_NAME_new();
    CHECK(X509_set_subject_name(f.leaf, empty));
    CHECK(lint_says(&f, "RFC 5280 4.1.2.6"));
    X509_NAME_free(empty);

    X509_NAME *country = X509_NAME_new();
    CHECK(X509_NAME_add_entry_by_NID(country, NID_countryName, V_ASN1_UTF8STRING,
                                     (const unsigned char *)"PE", -1, -1, 0));
    CHECK(X509_NAME_add_entry_by_txt(country, "CN", MBSTRING_ASC, (const unsigned char *)"X", -1,
                                     -1, 0));
    CHECK(X509_set_subject_name(f.leaf, country));
    CHECK(lint_says(&f, "RFC 5280 appendix A (X520countryName)"));
    X509_NAME_free(country);
    fixture_close(&f);
}

TEST(lint_refuses_a_repeated_extension)
{
    fixture f;
    REQUIRE(fixture_open(&f, "natural-person"));
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, f.ca, f.leaf, NULL, NULL, 0);
    X509_EXTENSION *again =
        X509V3_EXT_conf_nid(NULL, &v3, NID_crl_distribution_points, "URI:http://x.example/c.crl");
    REQUIRE(again != NULL);
    CHECK(X509_add_ext(f.leaf, again, -1));
    X509_EXTENSION_free(again);
    CHECK(lint_says(&f, "RFC 5280 4.2"));
    fixture_close(&f);
}

TEST(lint_refuses_wrong_key_usage)
{
    fixture f;
    REQUIRE(fixture_open(&f, "natural-person"));
    CHECK(set_ext(f.leaf, f.ca, NID_basic_constraints, "critical,CA:TRUE"));
    CHECK(lint_says(&f, "RFC 5280 4.2.1.9"));
    CHECK(set_ext(f.leaf, f.ca, NID_basic_constraints, "critical,CA:FALSE"));
    CHECK(set_ext(f.leaf, f.ca, NID_key_usage, NULL));
    CHECK(lint_says(&f, "RFC 5280 4.2.1.3"));
    CHECK(set_ext(f.leaf, f.ca, NID_key_usage, "digitalSignature,nonRepudiation"));
    CHECK(lint_says(&f, "RFC 5280 4.2.1.3"));
    CHECK(set_ext(f.leaf, f.ca, NID_key_usage, "critical,digitalSignature"));
    CHECK(lint_says(&f, "profile: key_usage"));
    CHECK(set_ext(f.leaf, f.ca, NID_key_usage,
                  "critical,digitalSignature,nonRepudiation,keyCertSign"));
    CHECK(lint_says(&f, "profile: key_usage"));
    CHECK(set_ext(f.leaf, f.ca, NID_key_usage, "critical,digitalSignature,nonRepudiation"));
    CHECK(set_ext(f.leaf, f.ca, NID_ext_key_usage, "serverAuth"));
    CHECK(lint_says(&f, "profile: extended_key_usage"));
    CHECK(set_ext(f.leaf, f.ca, NID_ext_key_usage, NULL));
    CHECK(lint_says(&f, "profile: extended_key_usage"));
    CHECK(set_ext(f.leaf, f.ca, NID_ext_key_usage, "emailProtection,clientAuth"));
    CHECK(lint_says(&f, "profile: extended_key_usage"));
    fixture_close(&f);
}

TEST(lint_refuses_a_tsa_certificate_whose_eku_is_not_critical_or_not_alone)
{
    fixture f;
    REQUIRE(fixture_open(&f, "tsa"));
    CHECK(lint_says(&f, NULL));
    CHECK(set_ext(f.leaf, f.ca, NID_ext_key_usage, "timeStamping"));
    CHECK(lint_says(&f, "RFC 3161 2.3"));
    CHECK(set_ext(f.leaf, f.ca, NID_ext_key_usage, "critical,timeStamping,emailProtection"));
    CHECK(lint_says(&f, "profile: extended_key_usage"));
    fixture_close(&f);
}

TEST(lint_refuses_an_ocsp_certificate_without_nocheck)
{
    fixture f;
    REQUIRE(fixture_open(&f, "ocsp"));
    CHECK(lint_says(&f, NULL));
    delete_ext(f.leaf, NID_id_pkix_OCSP_noCheck);
    CHECK(lint_says(&f, "RFC 6960 4.2.2.2.1"));
    fixture_close(&f);
}

TEST(lint_refuses_missing_or_wrong_key_identifiers)
{
    fixture f;
    REQUIRE(fixture_open(&f, "natural-person"));
    CHECK(set_ext(f.leaf, f.ca, NID_subject_key_identifier, NULL));
    CHECK(lint_says(&f, "RFC 5280 4.2.1.2"));
    CHECK(set_ext(f.leaf, f.ca, NID_subject_key_identifier, "hash"));
    CHECK(set_ext(f.leaf, f.ca, NID_authority_key_identifier, NULL));
    CHECK(lint_says(&f, "RFC 5280 4.2.1.1"));
    /* An AKI naming another key: the leaf's own SKI is the wrong one. */
    CHECK(set_ext(f.leaf, f.leaf, NID_authority_key_identifier, "keyid:always"));
    CHECK(lint_says(&f, "RFC 5280 4.2.1.1"));
    fixture_close(&f);
}

TEST(lint_refuses_missing_or_non_http_pointers)
{
    fixture f;
    REQUIRE(fixture_open(&f, "natural-person"));
    CHECK(set_ext(f.leaf, f.ca, NID_info_access, NULL));
    CHECK(lint_says(&f, "RFC 5280 4.2.2.1"));
    CHECK(set_ext(f.leaf, f.ca, NID_info_access, "caIssuers;URI:ldap://ca.example/cn=CA"));
    CHECK(lint_says(&f, "RFC 5280 4.2.2.1"));
    CHECK(set_ext(f.leaf, f.ca, NID_info_access, "OCSP;URI:https://ca.example/ocsp"));
    CHECK(lint_says(&f, NULL));
    CHECK(set_ext(f.leaf, f.ca, NID_crl_distribution_points, NULL));
    CHECK(lint_says(&f, "RFC 5280 4.2.1.13"));
    CHECK(set_ext(f.leaf, f.ca, NID_crl_distribution_points, "URI:file:///etc/crl"));
    CHECK(lint_says(&f, "RFC 5280 4.2.1.13"));
    fixture_close(&f);
}

TEST(lint_refuses_the_wrong_policy_and_long_notices)
{
    fixture f;
    REQUIRE(fixture_open(&f, "natural-person"));
    CHECK(set_policy(f.leaf, "2.999.1.2", NULL));
    CHECK(lint_says(&f, "profile: policy_oid"));
    delete_ext(f.leaf, NID_certificate_policies);
    CHECK(lint_says(&f, "profile: policy_oid"));
    /* RFC 5280 4.2.1.4: explicitText of at most 200 characters, not bytes. */
    char text[1024] = "";
    for (int i = 0; i < 200; i++)
        strcat(text, "é");
    CHECK(set_policy(f.leaf, f.profile->policy_oid, text));
    CHECK(lint_says(&f, NULL));
    strcat(text, "x");
    CHECK(set_policy(f.leaf, f.profile->policy_oid, text));
    CHECK(lint_says(&f, "RFC 5280 4.2.1.4"));
    memset(text, 'a', 201);
    text[201] = '\0';
    CHECK(set_policy(f.leaf, f.profile->policy_oid, text));
    CHECK(lint_says(&f, "RFC 5280 4.2.1.4"));
    fixture_close(&f);
}

/* --- Subjects -------------------------------------------------------------------------------- */

/* Builds the subject of profile from "name=value" pairs; fills err on failure. */
static rb_status build(const rb_jurisdiction *j, const char *profile, rb_subject *out,
                       rb_error *err, ...)
{
    json_t *fields = json_object();
    va_list ap;
    va_start(ap, err);
    for (const char *pair = va_arg(ap, const char *); pair; pair = va_arg(ap, const char *)) {
        const char *eq = strchr(pair, '=');
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - pair), pair);
        json_object_set_new(fields, key, json_string(eq + 1));
    }
    va_end(ap);
    const rb_profile *p = rb_jurisdiction_profile(j, profile, err);
    rb_status s = p ? rb_subject_build(j, p, fields, out, err) : RB_EINVAL;
    json_decref(fields);
    return s;
}

/* The text of the first entry of nid in name, or "" (a static buffer). */
static const char *entry(const X509_NAME *name, int nid)
{
    static char text[256];
    text[0] = '\0';
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i >= 0) {
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
        snprintf(text, sizeof(text), "%.*s", ASN1_STRING_length(v),
                 (const char *)ASN1_STRING_get0_data(v));
    }
    return text;
}

static rb_jurisdiction *load_pe(void)
{
    rb_jurisdiction *j = NULL;
    rb_error err = {0};
    if (rb_jurisdiction_load("profiles/PE.json", &j, &err) != RB_OK)
        fprintf(stderr, "  profiles/PE.json: %s\n", err.message);
    return j;
}

TEST(subject_of_a_natural_person_carries_the_etsi_identifier)
{
    rb_jurisdiction *j = load_pe();
    REQUIRE(j != NULL);
    rb_subject s;
    rb_error err = {0};
    REQUIRE(build(j, "natural-person", &s, &err, "given_name=José", "surname=Pérez",
                  "id_number=10117410-2", "email=jose@example.pe", NULL) == RB_OK);
    CHECK_STR(entry(s.name, NID_serialNumber), "PNOPE-10117410");
    CHECK_STR(entry(s.name, NID_commonName), "José Pérez");
    CHECK_STR(entry(s.name, NID_givenName), "José");
    CHECK_STR(entry(s.name, NID_countryName), "PE");
    CHECK_STR(s.subject_id, "PNOPE-10117410");
    CHECK_STR(json_string_value(json_object_get(s.fields, "id_type")), "pe-dni");
    CHECK_STR(json_string_value(json_object_get(s.fields, "country")), "PE");
    CHECK(s.san != NULL && sk_GENERAL_NAME_num(s.san) == 1);
    rb_subject_clear(&s);
    CHECK(s.name == NULL && s.fields == NULL);
    rb_jurisdiction_free(j);
}

TEST(subject_of_an_organization_and_a_foreigner)
{
    rb_jurisdiction *j = load_pe();
    REQUIRE(j != NULL);
    rb_subject s;
    rb_error err = {0};
    REQUIRE(build(j, "e-invoice", &s, &err, "organization=Empresa SAC", "org_id=20512333797",
                  NULL) == RB_OK);
    CHECK_STR(entry(s.name, NID_organizationIdentifier), "NTRPE-20512333797");
    CHECK_STR(entry(s.name, NID_commonName), "Empresa SAC");
    CHECK_STR(s.subject_id, "NTRPE-20512333797");
    CHECK(X509_NAME_get_index_by_NID(s.name, NID_serialNumber, -1) < 0);
    rb_subject_clear(&s);
    REQUIRE(build(j, "foreign-person", &s, &err, "given_name=Anne", "surname=Martin",
                  "id_type=passport", "id_number=x1234567", NULL) == RB_OK);
    CHECK_STR(entry(s.name, NID_serialNumber), "PASPE-X1234567");
    rb_subject_clear(&s);
    REQUIRE(build(j, "foreign-person", &s, &err, "given_name=Anne", "surname=Martin",
                  "id_type=pe-ce", "id_number=AB12345", NULL) == RB_OK);
    CHECK_STR(entry(s.name, NID_serialNumber), "PE:CE-AB12345");
    rb_subject_clear(&s);
    rb_jurisdiction_free(j);
}

TEST(subject_of_a_panama_organization_checks_the_declared_dv)
{
    rb_jurisdiction *j = NULL;
    rb_error err = {0};
    REQUIRE(rb_jurisdiction_load("profiles/PA.json", &j, &err) == RB_OK);
    rb_subject s;
    /* Without a DV it is computed (DOMAIN §5, worked example 8-274-125: 91). */
    REQUIRE(build(j, "e-invoice", &s, &err, "organization=Ferretería Ejemplo", "org_id=8-274-125",
                  NULL) == RB_OK);
    CHECK_STR(entry(s.name, NID_organizationIdentifier), "NTRPA-8-274-125-91");
    rb_subject_clear(&s);
    REQUIRE(build(j, "e-invoice", &s, &err, "organization=Ferretería Ejemplo",
                  "org_id=8-274-125 DV 91", NULL) == RB_OK);
    CHECK_STR(entry(s.name, NID_organizationIdentifier), "NTRPA-8-274-125-91");
    rb_subject_clear(&s);
    /* A mistyped RUC with the holder's DV: refused, not given another taxpayer's DV. */
    CHECK(build(j, "e-invoice", &s, &err, "organization=Ferretería Ejemplo",
                "org_id=8-274-126 DV 91", NULL) == RB_EINVAL);
    CHECK(strstr(err.message, "the DV of RUC 8-274-126 is") != NULL);
    CHECK(strcmp(err.rule, "DOMAIN §5 Panama RUC: DV") == 0);
    rb_subject_clear(&s);
    rb_jurisdiction_free(j);
}

/* 1 when building fails with RB_EINVAL, a message containing needle and a cleared subject. */
static int refused(rb_status status, const rb_subject *s, const rb_error *err, const char *needle)
{
    if (status == RB_EINVAL && strstr(err->message, needle) && s->name == NULL &&
        s->fields == NULL && s->san == NULL)
        return 1;
    fprintf(stderr, "  expected a refusal naming '%s', got %d: %s\n", needle, (int)status,
            err->message);
    return 0;
}

TEST(subject_refuses_bad_fields_naming_them)
{
    rb_jurisdiction *j = load_pe();
    REQUIRE(j != NULL);
    rb_subject s;
    rb_error e = {0};
#define REFUSED(needle, ...)                                                                       \
    do {                                                                                           \
        memset(&e, 0, sizeof(e));                                                                  \
        CHECK(refused(build(j, __VA_ARGS__, NULL), &s, &e, needle));                               \
    } while (0)
    REFUSED("check", "natural-person", &s, &e, "given_name=A", "surname=B", "id_number=10117410-3");
    REFUSED("shoe", "natural-person", &s, &e, "given_name=A", "surname=B", "id_number=10117410-2",
            "shoe=42");
    REFUSED("organization", "natural-person", &s, &e, "given_name=A", "surname=B",
            "id_number=10117410-2", "organization=X");
    REFUSED("surname", "natural-person", &s, &e, "given_name=A", "id_number=10117410-2");
    REFUSED("id_number", "natural-person", &s, &e, "given_name=A", "surname=B", "id_number=");
    REFUSED("given_name", "natural-person", &s, &e, "given_name=A\x01", "surname=B",
            "id_number=10117410-2");
    REFUSED("country", "natural-person", &s, &e, "given_name=A", "surname=B",
            "id_number=10117410-2", "country=pe");
    REFUSED("passport", "natural-person", &s, &e, "given_name=A", "surname=B",
            "id_number=10117410-2", "id_type=passport");
    REFUSED("email", "natural-person", &s, &e, "given_name=A", "surname=B", "id_number=10117410-2",
            "email=no-at-sign");
    REFUSED("RUC", "e-invoice", &s, &e, "organization=X", "org_id=20512333798");
    REFUSED("64", "natural-person", &s, &e, "given_name=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "surname=bbbbbbbbbbbbbbbbbbbbbbbbb", "id_number=10117410-2");
#undef REFUSED
    memset(&e, 0, sizeof(e));
    json_t *fields =
        json_pack("{s:s, s:s, s:i}", "given_name", "A", "surname", "B", "id_number", 10117410);
    CHECK(refused(
        rb_subject_build(j, rb_jurisdiction_profile(j, "natural-person", &e), fields, &s, &e), &s,
        &e, "id_number"));
    json_decref(fields);
    rb_jurisdiction_free(j);
}

TEST(subject_keeps_limits_whole_up_to_the_notice_bound)
{
    rb_jurisdiction *j = load_pe();
    REQUIRE(j != NULL);
    char limits[8 + 4 * (RB_LIMITS_MAX_CHARS + 1)] = "limits=";
    for (int i = 0; i < RB_LIMITS_MAX_CHARS; i++)
        strcat(limits, "€"); /* three bytes each */
    rb_subject s;
    rb_error err = {0};
    REQUIRE(build(j, "legal-representative", &s, &err, "given_name=A", "surname=B",
                  "id_number=10117410-2", "organization=X", "org_id=20512333797", limits,
                  NULL) == RB_OK);
    CHECK_STR(s.limits, limits + strlen("limits="));
    rb_subject_clear(&s);
    strcat(limits, "€");
    CHECK(
        refused(build(j, "legal-representative", &s, &err, "given_name=A", "surname=B",
                      "id_number=10117410-2", "organization=X", "org_id=20512333797", limits, NULL),
                &s, &err, "limits"));
    rb_jurisdiction_free(j);
}

/* --- Serials and the key policy -------------------------------------------------------------- */

static int normalises(const char *in, const char *expected)
{
    char hex[RB_SERIAL_HEX_LEN] = "untouched";
    rb_error err = {0};
    if (rb_serial_normalise(in, hex, &err) == RB_OK && strcmp(hex, expected) == 0)
        return 1;
    fprintf(stderr, "  serial '%s' gave '%s' (%s), expected '%s'\n", in, hex, err.message,
            expected);
    return 0;
}

static int serial_refused(const char *in, const char *rule)
{
    char hex[RB_SERIAL_HEX_LEN];
    rb_error err = {0};
    return rb_serial_normalise(in, hex, &err) == RB_EINVAL && strcmp(err.rule, rule) == 0;
}

TEST(serial_normalise_accepts_the_forms_openssl_prints)
{
    CHECK(normalises("396AB2CAA1ABE5A832C92A18A8CD9FDBA393EC11",
                     "396AB2CAA1ABE5A832C92A18A8CD9FDBA393EC11"));
    CHECK(normalises("396ab2caa1abe5a832c92a18a8cd9fdba393ec11",
                     "396AB2CAA1ABE5A832C92A18A8CD9FDBA393EC11"));
    CHECK(normalises("39:6a:b2:ca:a1:ab:e5:a8:32:c9:2a:18:a8:cd:9f:db:a3:93:ec:11",
                     "396AB2CAA1ABE5A832C92A18A8CD9FDBA393EC11"));
    CHECK(normalises("00:39:6a", "396A"));
    CHECK(normalises("abc", "0ABC"));
    CHECK(normalises("0", "00"));
    CHECK(normalises("000000", "00"));
    CHECK(serial_refused("", ""));
    CHECK(serial_refused("xyz", ""));
    CHECK(serial_refused("12 34", ""));
    CHECK(serial_refused("0x1234", ""));
    CHECK(serial_refused("396AB2CAA1ABE5A832C92A18A8CD9FDBA393EC1122", "RFC 5280 4.1.2.2"));
    CHECK(serial_refused("1396AB2CAA1ABE5A832C92A18A8CD9FDBA393EC11", "RFC 5280 4.1.2.2"));
}

TEST(serial_random_is_twenty_positive_octets)
{
    for (int i = 0; i < 200; i++) {
        ASN1_INTEGER *serial = NULL;
        char hex[RB_SERIAL_HEX_LEN];
        rb_error err = {0};
        REQUIRE(rb_serial_random(&serial, hex, &err) == RB_OK);
        CHECK(ASN1_STRING_length(serial) == 20 && ASN1_STRING_type(serial) == V_ASN1_INTEGER);
        CHECK(ASN1_STRING_get0_data(serial)[0] >= 1 && ASN1_STRING_get0_data(serial)[0] <= 0x7F);
        char printed[RB_SERIAL_HEX_LEN];
        rb_serial_to_hex(serial, printed, sizeof(printed));
        CHECK_STR(printed, hex);
        ASN1_INTEGER_free(serial);
    }
}

static int key_policy(EVP_PKEY *key, const char *rule)
{
    rb_error err = {0};
    rb_status s = key ? rb_check_public_key(key, &err) : RB_EINTERNAL;
    EVP_PKEY_free(key);
    if ((rule == NULL && s == RB_OK) || (rule && s == RB_EINVAL && strcmp(err.rule, rule) == 0))
        return 1;
    fprintf(stderr, "  key policy: expected %s, got %d '%s' (%s)\n", rule ? rule : "pass", (int)s,
            err.rule, err.message);
    return 0;
}

/* A P-256 key as a peer would send it with explicit curve parameters, decoded back. */
static EVP_PKEY *explicit_p256(void)
{
    EVP_PKEY *key = NULL, *decoded = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0),
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING,
                                         OSSL_PKEY_EC_ENCODING_EXPLICIT, 0),
        OSSL_PARAM_construct_end(),
    };
    unsigned char *der = NULL;
    if (ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_CTX_set_params(ctx, params) == 1 &&
        EVP_PKEY_generate(ctx, &key) == 1) {
        int len = i2d_PUBKEY(key, &der);
        const unsigned char *p = der;
        decoded = len > 0 ? d2i_PUBKEY(NULL, &p, len) : NULL;
    }
    OPENSSL_free(der);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(ctx);
    return decoded;
}

TEST(key_policy_accepts_the_named_curves_and_rsa_2048)
{
    CHECK(key_policy(ec_key("P-256"), NULL));
    CHECK(key_policy(ec_key("P-384"), NULL));
    CHECK(key_policy(ec_key("P-521"), NULL));
    CHECK(key_policy(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), NULL));
}

TEST(key_policy_refuses_weak_keys_other_curves_and_other_types)
{
    CHECK(key_policy(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024),
                     "key policy: RSA keys of at least 2048 bits"));
    CHECK(key_policy(ec_key("secp256k1"), "key policy: EC keys on P-256, P-384 or P-521"));
    CHECK(key_policy(ec_key("prime192v1"), "key policy: EC keys on P-256, P-384 or P-521"));
    CHECK(key_policy(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), "key policy: RSA or EC keys"));
    /* Regression: a P-256 key spelled out with explicit parameters was accepted and copied
     * into the certificate as specifiedCurve, which RFC 5480 forbids. */
    CHECK(key_policy(explicit_p256(), "RFC 5480 2.1.1: EC keys name their curve"));
}

/*
 * 1 when the shipped PE file with its first `from` replaced by `to` is
 * refused with a message containing needle; a replacement that does not apply
 * fails the check, so an edit of the shipped file cannot silently empty it.
 */
static int edited_pe_refused(const char *from, const char *to, const char *needle)
{
    uint8_t *text = NULL;
    size_t len = 0;
    rb_error err = {0};
    if (rb_read_file("profiles/PE.json", RB_JURISDICTION_MAX_BYTES, &text, &len, &err) != RB_OK)
        return 0;
    char *at = strstr((char *)text, from);
    size_t edited_len = len - (at ? strlen(from) : 0) + strlen(to);
    char *edited = malloc(edited_len + 1);
    int ok = at != NULL && edited != NULL;
    if (ok) {
        size_t head = (size_t)(at - (char *)text);
        memcpy(edited, text, head);
        memcpy(edited + head, to, strlen(to));
        memcpy(edited + head + strlen(to), at + strlen(from), len - head - strlen(from));
        rb_jurisdiction *j = NULL;
        ok = rb_jurisdiction_parse("PE.json", edited, edited_len, &j, &err) == RB_EINVAL &&
             j == NULL && strstr(err.message, needle) != NULL;
        if (!ok)
            fprintf(stderr, "  %s -> %s: %s\n", from, to, j ? "accepted" : err.message);
        rb_jurisdiction_free(j);
    }
    free(edited);
    free(text);
    return ok;
}

TEST(jurisdiction_files_are_checked_before_anything_reaches_a_certificate)
{
    rb_jurisdiction *j = NULL;
    rb_error err = {0};
    CHECK(rb_jurisdiction_parse("x.json", "{\"jurisdiction\": \"PE\"", 21, &j, &err) == RB_EINVAL);
    CHECK(strstr(err.message, "x.json: line 1") != NULL);
    CHECK(edited_pe_refused("\"jurisdiction\": \"PE\"", "\"jurisdiction\": \"pe\"",
                            "'jurisdiction' must be a two-letter code"));
    CHECK(
        edited_pe_refused("\"country\": \"PE\"", "\"country\": \"PER\"", "'country' is too long"));
    CHECK(edited_pe_refused("\"natural-person\": {", "\"Natural Person\": {",
                            "names a profile with other than lower-case letters"));
    CHECK(edited_pe_refused("\"pe-ce\": {", "\"pe-carne-de-extranjeria\": {",
                            "names a document type with other than lower-case letters"));
    CHECK(edited_pe_refused("\"pe-ce\": {", "\"pe-cedula\": {",
                            "names a document type no validator checks"));
    CHECK(edited_pe_refused("\"type\": \"pe-ruc\"", "\"type\": \"pe-nit\"",
                            "'org_id' names a document type no validator checks"));
    CHECK(edited_pe_refused("\"prefix\": \"PNOPE-\"", "\"prefix\": \"PNO\\u0007PE-\"",
                            "needs a short prefix string"));
    CHECK(edited_pe_refused("\"description\": \"Persona natural con documento nacional\"",
                            "\"description\": \"Persona\\u001b[2Jnatural\"",
                            "'description' must be UTF-8 text without control characters"));
    char *big = malloc(RB_JURISDICTION_MAX_BYTES + 2);
    REQUIRE(big != NULL);
    memset(big, ' ', RB_JURISDICTION_MAX_BYTES + 1);
    big[0] = '{';
    big[RB_JURISDICTION_MAX_BYTES] = '}';
    big[RB_JURISDICTION_MAX_BYTES + 1] = '\0';
    char path[1024];
    snprintf(path, sizeof(path), "%s/big.json", test_tmpdir());
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(big, f);
    fclose(f);
    free(big);
    rb_error_clear(&err);
    CHECK(rb_jurisdiction_load(path, &j, &err) == RB_EINVAL && j == NULL);
    CHECK(strstr(err.message, "larger than the limit") != NULL);
}
