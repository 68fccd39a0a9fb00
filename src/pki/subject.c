/*
 * Subject construction and validation. Each field goes through the text
 * check, its X.520 length bound and, for identity numbers, the national
 * check-digit algorithm, before any of it is put into a name.
 */
#include "pki/subject.h"

#include "core/reader.h"
#include "pki/idcheck.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* X.520 upper bounds, in characters. */
static const struct {
    rb_field field;
    size_t max_chars;
} bounds[] = {
    {RB_FIELD_GIVEN_NAME, 64},   {RB_FIELD_SURNAME, 64},
    {RB_FIELD_ID_NUMBER, 32},    {RB_FIELD_EMAIL, 128},
    {RB_FIELD_ORGANIZATION, 64}, {RB_FIELD_ORG_ID, 32},
    {RB_FIELD_ORG_UNIT, 64},     {RB_FIELD_TITLE, 64},
    {RB_FIELD_PROFESSION, 64},   {RB_FIELD_LICENSE, 32},
    {RB_FIELD_LOCALITY, 128},    {RB_FIELD_REGION, 128},
    {RB_FIELD_COUNTRY, 2},       {RB_FIELD_LIMITS, RB_LIMITS_MAX_CHARS},
    {RB_FIELD_COMMON_NAME, 64},  {RB_FIELD_ID_TYPE, 16},
};

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static const char *field_value(json_t *fields, rb_field field)
{
    json_t *v = json_object_get(fields, rb_field_name(field));
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Every field is known, allowed by the profile, a string, clean text within bounds. */
static rb_status check_fields(const rb_profile *p, json_t *fields, rb_error *err)
{
    const char *key;
    json_t *value;
    if (!json_is_object(fields))
        return rb_fail(err, RB_EINVAL, NULL, "subject fields must be an object of strings");
    json_object_foreach(fields, key, value)
    {
        int field = rb_field_lookup(key);
        if (field < 0)
            return rb_fail(err, RB_EINVAL, NULL, "unknown subject field '%s'", key);
        if (!((p->required | p->optional) & (1u << field)))
            return rb_fail(err, RB_EINVAL, NULL, "field '%s' is not part of profile '%s'", key,
                           p->name);
        if (!json_is_string(value))
            return rb_fail(err, RB_EINVAL, NULL, "field '%s' must be text", key);
        rb_status s = rb_text_check(key, json_string_value(value), 1024, err);
        if (s != RB_OK)
            return s;
        for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
            if (bounds[i].field == (rb_field)field &&
                utf8_chars(json_string_value(value)) > bounds[i].max_chars)
                return rb_fail(err, RB_EINVAL, "RFC 5280 appendix A (X.520 upper bounds)",
                               "field '%s' is longer than %zu characters", key,
                               bounds[i].max_chars);
    }
    for (int f = 0; f < RB_FIELD_COUNT; f++) {
        const char *v = field_value(fields, (rb_field)f);
        if ((p->required & (1u << f)) && (v == NULL || v[0] == '\0'))
            return rb_fail(err, RB_EINVAL, NULL, "profile '%s' requires the field '%s'", p->name,
                           rb_field_name((rb_field)f));
    }
    return RB_OK;
}

static rb_status check_passport(const char *value, char *out, size_t len, rb_error *err)
{
    size_t n = strlen(value);
    if (n == 0 || n > 27)
        return rb_fail(err, RB_EINVAL, "seed 002: passport",
                       "a passport number has 1 to 27 characters");
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)value[i]))
            return rb_fail(err, RB_EINVAL, "seed 002: passport",
                           "a passport number has only letters and digits");
    for (size_t i = 0; i <= n && i < len; i++)
        out[i] = (char)toupper((unsigned char)value[i]);
    return RB_OK;
}

static rb_status check_email(const char *value, rb_error *err)
{
    const char *at = strchr(value, '@');
    int ok = at != NULL && at != value && strchr(at + 1, '@') == NULL && strchr(at, '.') != NULL &&
             value[strlen(value) - 1] != '.';
    for (const char *p = value; ok && *p; p++)
        ok = (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7F;
    if (!ok)
        return rb_fail(err, RB_EINVAL, "RFC 5280 4.2.1.6 (rfc822Name)",
                       "field 'email' is not an e-mail address like nombre@dominio.pe");
    return RB_OK;
}

static rb_status add_entry(X509_NAME *name, int nid, int type, const char *value, rb_error *err)
{
    if (value == NULL || value[0] == '\0')
        return RB_OK;
    if (!X509_NAME_add_entry_by_NID(name, nid, type, (const unsigned char *)value, -1, -1, 0))
        return rb_fail_crypto(err, "cannot put %s into the subject", OBJ_nid2sn(nid));
    return RB_OK;
}

/* serialNumber for a person: prefix of the document type + normalised number. */
static rb_status person_identifier(const rb_jurisdiction *j, const rb_profile *p, json_t *fields,
                                   const char *country, rb_subject *out, rb_error *err)
{
    const char *id_type = field_value(fields, RB_FIELD_ID_TYPE);
    if (id_type == NULL)
        id_type = j->national_id;
    size_t i;
    for (i = 0; i < p->id_type_count; i++)
        if (strcmp(p->id_types[i], id_type) == 0)
            break;
    if (i == p->id_type_count)
        return rb_fail(err, RB_EINVAL, NULL, "id_type '%s' is not accepted by profile '%s'",
                       id_type, p->name);
    char number[RB_ID_NORMALISED_MAX], prefix[24];
    const char *value = field_value(fields, RB_FIELD_ID_NUMBER);
    rb_status s = strcmp(id_type, "passport") == 0
                      ? check_passport(value, number, sizeof(number), err)
                      : rb_id_check(id_type, value, NULL, number, sizeof(number), err);
    if (s == RB_OK)
        s = rb_jurisdiction_id_prefix(j, id_type, country, prefix, sizeof(prefix), err);
    if (s != RB_OK)
        return s;
    snprintf(out->subject_id, sizeof(out->subject_id), "%s%s", prefix, number);
    json_object_set_new(out->fields, "id_type", json_string(id_type));
    json_object_set_new(out->fields, "id_number", json_string(number));
    return RB_OK;
}

/* organizationIdentifier: the jurisdiction's tax-ID prefix + normalised number. */
static rb_status organization_identifier(const rb_jurisdiction *j, const char *value, char *out,
                                         size_t len, rb_error *err)
{
    char number[RB_ID_NORMALISED_MAX];
    rb_status s = rb_id_check(j->org_id_type, value, NULL, number, sizeof(number), err);
    if (s != RB_OK)
        return s;
    char *dv = strstr(number, " DV ");
    if (dv != NULL) /* Panama: "RUC DV NN" becomes "RUC-NN" */
        memmove(dv + 1, dv + 4, strlen(dv + 4) + 1), dv[0] = '-';
    snprintf(out, len, "%s%s", j->org_id_prefix, number);
    return RB_OK;
}

static rb_status build_name(const rb_profile *p, json_t *f, const char *country,
                            const char *org_identifier, rb_subject *out, rb_error *err)
{
    char common_name[160], description[200] = "";
    const char *gn = field_value(f, RB_FIELD_GIVEN_NAME), *sn = field_value(f, RB_FIELD_SURNAME);
    const char *cn = field_value(f, RB_FIELD_COMMON_NAME);
    if (p->subject == RB_SUBJECT_PERSON)
        snprintf(common_name, sizeof(common_name), "%s %s", gn, sn);
    else
        snprintf(common_name, sizeof(common_name), "%s",
                 cn ? cn : field_value(f, RB_FIELD_ORGANIZATION));
    if (utf8_chars(common_name) > 64)
        return rb_fail(err, RB_EINVAL, "RFC 5280 appendix A (ub-common-name 64)",
                       "the common name '%s' is longer than 64 characters", common_name);
    if (field_value(f, RB_FIELD_PROFESSION))
        snprintf(description, sizeof(description), "Profesión: %s; registro: %s",
                 field_value(f, RB_FIELD_PROFESSION), field_value(f, RB_FIELD_LICENSE));
    X509_NAME *name = out->name;
    rb_status s = add_entry(name, NID_countryName, V_ASN1_PRINTABLESTRING, country, err);
    if (s == RB_OK)
        s = add_entry(name, NID_stateOrProvinceName, MBSTRING_UTF8, field_value(f, RB_FIELD_REGION),
                      err);
    if (s == RB_OK)
        s = add_entry(name, NID_localityName, MBSTRING_UTF8, field_value(f, RB_FIELD_LOCALITY),
                      err);
    if (s == RB_OK)
        s = add_entry(name, NID_organizationName, MBSTRING_UTF8,
                      field_value(f, RB_FIELD_ORGANIZATION), err);
    if (s == RB_OK)
        s = add_entry(name, NID_organizationalUnitName, MBSTRING_UTF8,
                      field_value(f, RB_FIELD_ORG_UNIT), err);
    if (s == RB_OK)
        s = add_entry(name, NID_organizationIdentifier, MBSTRING_UTF8, org_identifier, err);
    if (s == RB_OK)
        s = add_entry(name, NID_title, MBSTRING_UTF8, field_value(f, RB_FIELD_TITLE), err);
    if (s == RB_OK && p->subject == RB_SUBJECT_PERSON)
        s = add_entry(name, NID_surname, MBSTRING_UTF8, sn, err);
    if (s == RB_OK && p->subject == RB_SUBJECT_PERSON)
        s = add_entry(name, NID_givenName, MBSTRING_UTF8, gn, err);
    if (s == RB_OK && p->subject == RB_SUBJECT_PERSON)
        s = add_entry(name, NID_serialNumber, V_ASN1_PRINTABLESTRING, out->subject_id, err);
    if (s == RB_OK)
        s = add_entry(name, NID_description, MBSTRING_UTF8, description, err);
    if (s == RB_OK)
        s = add_entry(name, NID_commonName, MBSTRING_UTF8, common_name, err);
    return s;
}

static rb_status build_san(const char *email, rb_subject *out, rb_error *err)
{
    if (email == NULL)
        return RB_OK;
    rb_status s = check_email(email, err);
    if (s != RB_OK)
        return s;
    GENERAL_NAME *gen = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    out->san = GENERAL_NAMES_new();
    if (gen == NULL || ia5 == NULL || out->san == NULL || !ASN1_STRING_set(ia5, email, -1)) {
        GENERAL_NAME_free(gen);
        ASN1_IA5STRING_free(ia5);
        return rb_fail_crypto(err, "cannot encode the e-mail address");
    }
    GENERAL_NAME_set0_value(gen, GEN_EMAIL, ia5);
    sk_GENERAL_NAME_push(out->san, gen);
    return RB_OK;
}

rb_status rb_subject_build(const rb_jurisdiction *j, const rb_profile *p, json_t *fields,
                           rb_subject *out, rb_error *err)
{
    X509_NAME *name = X509_NAME_new();
    if (name == NULL) {
        memset(out, 0, sizeof(*out));
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    rb_status s = rb_subject_build_in(j, p, fields, name, out, err);
    if (s != RB_OK)
        X509_NAME_free(name);
    else
        out->name_borrowed = 0;
    return s;
}

rb_status rb_subject_build_in(const rb_jurisdiction *j, const rb_profile *p, json_t *fields,
                              X509_NAME *name, rb_subject *out, rb_error *err)
{
    memset(out, 0, sizeof(*out));
    rb_status s = check_fields(p, fields, err);
    if (s != RB_OK)
        return s;
    out->name = name;
    out->name_borrowed = 1;
    out->fields = json_deep_copy(fields);
    if (out->fields == NULL) {
        rb_subject_clear(out);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    const char *country = field_value(fields, RB_FIELD_COUNTRY);
    if (country == NULL)
        country = j->country;
    if (!rb_country_code_ok(country))
        s = rb_fail(err, RB_EINVAL, "RFC 5280 appendix A (ISO 3166 country code)",
                    "field 'country' must be two capital letters, like PE");
    json_object_set_new(out->fields, "country", json_string(country));
    if (s == RB_OK && p->subject == RB_SUBJECT_PERSON)
        s = person_identifier(j, p, fields, country, out, err);
    char org_identifier[128] = "";
    const char *org_id = field_value(fields, RB_FIELD_ORG_ID);
    if (s == RB_OK && org_id != NULL) {
        s = organization_identifier(j, org_id, org_identifier, sizeof(org_identifier), err);
        if (s == RB_OK && p->subject != RB_SUBJECT_PERSON)
            snprintf(out->subject_id, sizeof(out->subject_id), "%s", org_identifier);
    }
    if (s == RB_OK)
        s = build_name(p, fields, country, org_identifier, out, err);
    if (s == RB_OK)
        s = build_san(field_value(fields, RB_FIELD_EMAIL), out, err);
    if (s == RB_OK && field_value(fields, RB_FIELD_LIMITS))
        snprintf(out->limits, sizeof(out->limits), "%s", field_value(fields, RB_FIELD_LIMITS));
    if (s != RB_OK)
        rb_subject_clear(out);
    return s;
}

void rb_subject_clear(rb_subject *subject)
{
    if (subject == NULL)
        return;
    if (!subject->name_borrowed)
        X509_NAME_free(subject->name);
    GENERAL_NAMES_free(subject->san);
    json_decref(subject->fields);
    memset(subject, 0, sizeof(*subject));
}
