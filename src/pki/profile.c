/*
 * Loading and validating the jurisdiction files that hold the certificate
 * profiles. Unknown keys are errors, not silently ignored, so a typo in an
 * operator's edit is caught before a certificate is issued from it.
 */
#include "pki/profile.h"

#include "core/reader.h"
#include "pki/idcheck.h"

#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const field_names[RB_FIELD_COUNT] = {
    "given_name", "surname",  "id_type", "id_number",   "email",   "organization",
    "org_id",     "org_unit", "title",   "profession",  "license", "locality",
    "region",     "country",  "limits",  "common_name",
};

static const struct {
    const char *name;
    unsigned bit;
} key_usages[] = {
    {"digitalSignature", KU_DIGITAL_SIGNATURE},
    {"nonRepudiation", KU_NON_REPUDIATION},
    {"keyEncipherment", KU_KEY_ENCIPHERMENT},
    {"dataEncipherment", KU_DATA_ENCIPHERMENT},
    {"keyAgreement", KU_KEY_AGREEMENT},
    {"keyCertSign", KU_KEY_CERT_SIGN},
    {"cRLSign", KU_CRL_SIGN},
};

static const struct {
    const char *name;
    int nid;
} ekus[] = {
    {"emailProtection", NID_email_protect}, {"clientAuth", NID_client_auth},
    {"timeStamping", NID_time_stamp},       {"OCSPSigning", NID_OCSP_sign},
    {"codeSigning", NID_code_sign},
};

const char *rb_field_name(rb_field field)
{
    return (unsigned)field < RB_FIELD_COUNT ? field_names[field] : NULL;
}

int rb_field_lookup(const char *name)
{
    for (int i = 0; i < RB_FIELD_COUNT; i++)
        if (strcmp(field_names[i], name) == 0)
            return i;
    return -1;
}

const char *rb_key_usage_names(unsigned key_usage, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(key_usages) / sizeof(key_usages[0]); i++) {
        if (!(key_usage & key_usages[i].bit))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", key_usages[i].name);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
    return buf;
}

/* Context for messages: which file and profile are being read. */
typedef struct loader {
    const char *path;
    const char *profile;
    rb_error *err;
} loader;

static rb_status bad(loader *l, const char *key, const char *what)
{
    if (l->profile)
        return rb_fail(l->err, RB_EINVAL, NULL, "%s: profile '%s': '%s' %s", l->path, l->profile,
                       key, what);
    return rb_fail(l->err, RB_EINVAL, NULL, "%s: '%s' %s", l->path, key, what);
}

/* Text that may reach a certificate or a terminal: UTF-8, no control characters. */
static int is_clean_text(const char *text)
{
    rb_error ignored = {0};
    return rb_text_check("text", text, SIZE_MAX, &ignored) == RB_OK;
}

/*
 * Profile and document type names are typed on command lines and appear in
 * URLs and records: lower-case letters, digits and '-', at most max_len long.
 */
static int is_plain_name(const char *name, size_t max_len)
{
    size_t n = strlen(name);
    if (n == 0 || n > max_len || name[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '-'))
            return 0;
    return 1;
}

int rb_country_code_ok(const char *code)
{
    return strlen(code) == 2 && code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' &&
           code[1] <= 'Z';
}

static rb_status get_string(loader *l, json_t *obj, const char *key, int required, char *out,
                            size_t len)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required)
            return bad(l, key, "is missing");
        out[0] = '\0';
        return RB_OK;
    }
    if (!json_is_string(v))
        return bad(l, key, "must be a string");
    if (strlen(json_string_value(v)) >= len)
        return bad(l, key, "is too long");
    if (!is_clean_text(json_string_value(v)))
        return bad(l, key, "must be UTF-8 text without control characters");
    snprintf(out, len, "%s", json_string_value(v));
    return RB_OK;
}

static rb_status get_int(loader *l, json_t *obj, const char *key, int required, int min, int max,
                         int *out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required)
            return bad(l, key, "is missing");
        return RB_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return bad(l, key, "must be a whole number in range");
    *out = (int)json_integer_value(v);
    return RB_OK;
}

static rb_status get_bool(loader *l, json_t *obj, const char *key, int *out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        *out = 0;
        return RB_OK;
    }
    if (!json_is_boolean(v))
        return bad(l, key, "must be true or false");
    *out = json_is_true(v);
    return RB_OK;
}

static rb_status check_keys(loader *l, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        (void)value;
        int known = key[0] == '_'; /* "_note" and friends are comments */
        for (const char *const *a = allowed; *a && !known; a++)
            known = strcmp(*a, key) == 0;
        if (!known)
            return bad(l, key, "is not a known setting");
    }
    return RB_OK;
}

static rb_status get_fields(loader *l, json_t *obj, const char *key, unsigned *out)
{
    json_t *list = json_object_get(obj, key), *item;
    size_t i;
    *out = 0;
    if (list == NULL)
        return RB_OK;
    if (!json_is_array(list))
        return bad(l, key, "must be a list of field names");
    json_array_foreach(list, i, item)
    {
        int field = json_is_string(item) ? rb_field_lookup(json_string_value(item)) : -1;
        if (field < 0)
            return bad(l, key, "names an unknown field");
        *out |= 1u << field;
    }
    return RB_OK;
}

static rb_status get_key_usage(loader *l, json_t *obj, rb_profile *p)
{
    json_t *list = json_object_get(obj, "key_usage"), *item;
    size_t i;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return bad(l, "key_usage", "must be a non-empty list");
    json_array_foreach(list, i, item)
    {
        size_t k, n = sizeof(key_usages) / sizeof(key_usages[0]);
        for (k = 0; k < n; k++)
            if (json_is_string(item) && strcmp(json_string_value(item), key_usages[k].name) == 0)
                break;
        if (k == n)
            return bad(l, "key_usage", "names an unknown key usage");
        if (key_usages[k].bit & (KU_KEY_CERT_SIGN | KU_CRL_SIGN))
            return bad(l, "key_usage", "may not grant certificate or CRL signing to a subscriber");
        p->key_usage |= key_usages[k].bit;
    }
    return RB_OK;
}

static rb_status get_eku(loader *l, json_t *obj, rb_profile *p)
{
    json_t *list = json_object_get(obj, "extended_key_usage"), *item;
    size_t i;
    if (list == NULL)
        return RB_OK;
    if (!json_is_array(list) || json_array_size(list) > RB_PROFILE_MAX_EKU)
        return bad(l, "extended_key_usage", "must be a list of at most 4 purposes");
    json_array_foreach(list, i, item)
    {
        size_t k, n = sizeof(ekus) / sizeof(ekus[0]);
        for (k = 0; k < n; k++)
            if (json_is_string(item) && strcmp(json_string_value(item), ekus[k].name) == 0)
                break;
        if (k == n)
            return bad(l, "extended_key_usage", "names an unknown purpose");
        p->eku_nids[p->eku_count++] = ekus[k].nid;
    }
    return RB_OK;
}

static rb_status get_id_types(loader *l, json_t *obj, const rb_jurisdiction *j, rb_profile *p)
{
    json_t *list = json_object_get(obj, "id_types"), *item;
    size_t i;
    if (list == NULL)
        return RB_OK;
    if (!json_is_array(list) || json_array_size(list) > RB_PROFILE_MAX_ID_TYPES)
        return bad(l, "id_types", "must be a list of at most 6 document types");
    json_array_foreach(list, i, item)
    {
        if (!json_is_string(item) ||
            json_object_get(j->id_prefixes, json_string_value(item)) == NULL)
            return bad(l, "id_types", "names a document type the jurisdiction does not define");
        snprintf(p->id_types[p->id_type_count++], sizeof(p->id_types[0]), "%s",
                 json_string_value(item));
    }
    return RB_OK;
}

static rb_status load_profile(loader *l, const char *name, json_t *obj, const rb_jurisdiction *j,
                              rb_profile *p)
{
    static const char *const allowed[] = {"description",
                                          "subject",
                                          "id_types",
                                          "required",
                                          "optional",
                                          "key_usage",
                                          "extended_key_usage",
                                          "eku_critical",
                                          "ocsp_nocheck",
                                          "max_validity_days",
                                          "policy_oid",
                                          "notice",
                                          NULL};
    char subject[16];
    if (!is_plain_name(name, sizeof(p->name) - 1))
        return bad(l, "profiles",
                   "names a profile with other than lower-case letters, digits and '-' "
                   "(at most 47)");
    l->profile = name;
    if (!json_is_object(obj))
        return bad(l, name, "must be an object");
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->max_validity_days = j->max_validity_days;
    rb_status s = check_keys(l, obj, allowed);
    if (s == RB_OK)
        s = get_string(l, obj, "description", 1, p->description, sizeof(p->description));
    if (s == RB_OK)
        s = get_string(l, obj, "subject", 1, subject, sizeof(subject));
    if (s == RB_OK) {
        if (strcmp(subject, "person") == 0)
            p->subject = RB_SUBJECT_PERSON;
        else if (strcmp(subject, "organization") == 0)
            p->subject = RB_SUBJECT_ORGANIZATION;
        else if (strcmp(subject, "service") == 0)
            p->subject = RB_SUBJECT_SERVICE;
        else
            s = bad(l, "subject", "must be person, organization or service");
    }
    if (s == RB_OK)
        s = get_id_types(l, obj, j, p);
    if (s == RB_OK)
        s = get_fields(l, obj, "required", &p->required);
    if (s == RB_OK)
        s = get_fields(l, obj, "optional", &p->optional);
    if (s == RB_OK)
        s = get_key_usage(l, obj, p);
    if (s == RB_OK)
        s = get_eku(l, obj, p);
    if (s == RB_OK)
        s = get_bool(l, obj, "eku_critical", &p->eku_critical);
    if (s == RB_OK)
        s = get_bool(l, obj, "ocsp_nocheck", &p->ocsp_nocheck);
    if (s == RB_OK)
        s = get_int(l, obj, "max_validity_days", 0, 1, j->max_validity_days, &p->max_validity_days);
    if (s == RB_OK)
        s = get_string(l, obj, "policy_oid", 1, p->policy_oid, sizeof(p->policy_oid));
    if (s == RB_OK) {
        ASN1_OBJECT *oid = OBJ_txt2obj(p->policy_oid, 1);
        if (oid == NULL)
            s = bad(l, "policy_oid", "is not a dotted OID");
        ASN1_OBJECT_free(oid);
    }
    if (s == RB_OK)
        s = get_string(l, obj, "notice", 0, p->notice, sizeof(p->notice));
    if (s == RB_OK && p->subject == RB_SUBJECT_PERSON &&
        !(p->required & (1u << RB_FIELD_ID_NUMBER)))
        s = bad(l, "required", "must include id_number for a person");
    if (s == RB_OK && p->subject == RB_SUBJECT_PERSON && p->id_type_count == 0)
        s = bad(l, "id_types", "must list the accepted documents for a person");
    l->profile = NULL;
    return s;
}

static rb_status load_settings(loader *l, json_t *doc, rb_jurisdiction *j)
{
    static const char *const allowed[] = {"jurisdiction",
                                          "name",
                                          "country",
                                          "law",
                                          "max_validity_days",
                                          "renewal_window_days",
                                          "suspension",
                                          "crl_validity_hours",
                                          "retention_years",
                                          "national_id",
                                          "id_types",
                                          "org_id",
                                          "cps_uri",
                                          "profiles",
                                          NULL};
    json_t *suspension = json_object_get(doc, "suspension");
    json_t *org = json_object_get(doc, "org_id");
    rb_status s = check_keys(l, doc, allowed);
    if (s == RB_OK)
        s = get_string(l, doc, "jurisdiction", 1, j->code, sizeof(j->code));
    if (s == RB_OK)
        s = get_string(l, doc, "name", 1, j->name, sizeof(j->name));
    if (s == RB_OK && !rb_country_code_ok(j->code))
        s = bad(l, "jurisdiction", "must be a two-letter code in capitals, like PE");
    if (s == RB_OK)
        s = get_string(l, doc, "country", 1, j->country, sizeof(j->country));
    if (s == RB_OK && !rb_country_code_ok(j->country))
        s = bad(l, "country", "must be a two-letter code in capitals, like PE");
    if (s == RB_OK)
        s = get_string(l, doc, "law", 0, j->law, sizeof(j->law));
    if (s == RB_OK)
        s = get_int(l, doc, "max_validity_days", 1, 1, 3660, &j->max_validity_days);
    j->renewal_window_days = 21;
    if (s == RB_OK)
        s = get_int(l, doc, "renewal_window_days", 0, 0, 365, &j->renewal_window_days);
    j->crl_validity_hours = 24;
    if (s == RB_OK)
        s = get_int(l, doc, "crl_validity_hours", 0, 1, 24 * 31, &j->crl_validity_hours);
    j->retention_years = 10;
    if (s == RB_OK)
        s = get_int(l, doc, "retention_years", 0, 1, 100, &j->retention_years);
    if (s == RB_OK && !json_is_object(suspension))
        s = bad(l, "suspension", "must be an object {allowed, max_days}");
    if (s == RB_OK)
        s = get_bool(l, suspension, "allowed", &j->suspension_allowed);
    if (s == RB_OK)
        s = get_int(l, suspension, "max_days", 1, 0, 3660, &j->suspension_max_days);
    if (s == RB_OK && j->suspension_allowed && j->suspension_max_days == 0)
        s = bad(l, "suspension", "allows suspension but gives no max_days");
    if (s == RB_OK)
        s = get_string(l, doc, "national_id", 1, j->national_id, sizeof(j->national_id));
    if (s == RB_OK && !json_is_object(org))
        s = bad(l, "org_id", "must be an object {type, prefix}");
    if (s == RB_OK)
        s = get_string(l, org, "type", 1, j->org_id_type, sizeof(j->org_id_type));
    if (s == RB_OK && !rb_id_type_known(j->org_id_type))
        s = bad(l, "org_id", "names a document type no validator checks (see 'rubrica id check')");
    if (s == RB_OK)
        s = get_string(l, org, "prefix", 1, j->org_id_prefix, sizeof(j->org_id_prefix));
    if (s == RB_OK)
        s = get_string(l, doc, "cps_uri", 1, j->cps_uri, sizeof(j->cps_uri));
    return s;
}

static rb_status load_id_prefixes(loader *l, json_t *doc, rb_jurisdiction *j)
{
    json_t *types = json_object_get(doc, "id_types"), *entry;
    const char *key;
    if (!json_is_object(types) || json_object_size(types) == 0)
        return bad(l, "id_types", "must map document types to their identifier prefix");
    j->id_prefixes = json_object();
    json_object_foreach(types, key, entry)
    {
        json_t *prefix = json_object_get(entry, "prefix");
        if (!is_plain_name(key, RB_ID_TYPE_MAX_LEN))
            return bad(l, "id_types",
                       "names a document type with other than lower-case letters, digits and "
                       "'-' (at most 15)");
        /* A passport has no check digit: its number is only checked for form. */
        if (strcmp(key, "passport") != 0 && !rb_id_type_known(key))
            return bad(l, "id_types",
                       "names a document type no validator checks (see 'rubrica id check')");
        if (!json_is_string(prefix) || strlen(json_string_value(prefix)) > 15 ||
            !is_clean_text(json_string_value(prefix)))
            return bad(l, "id_types", "needs a short prefix string for every type");
        json_object_set(j->id_prefixes, key, prefix);
    }
    if (json_object_get(j->id_prefixes, j->national_id) == NULL)
        return bad(l, "national_id", "is not one of id_types");
    return RB_OK;
}

rb_status rb_jurisdiction_load(const char *path, rb_jurisdiction **out, rb_error *err)
{
    uint8_t *text = NULL;
    size_t len = 0;
    rb_status s = rb_read_file(path, RB_JURISDICTION_MAX_BYTES, &text, &len, err);
    if (s == RB_OK)
        s = rb_jurisdiction_parse(path, (const char *)text, len, out, err);
    free(text);
    return s;
}

rb_status rb_jurisdiction_parse(const char *source, const char *text, size_t len,
                                rb_jurisdiction **out, rb_error *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        return rb_fail(err, RB_EINVAL, NULL, "%s: line %d: %s", source, jerr.line, jerr.text);
    loader l = {.path = source, .err = err};
    rb_jurisdiction *j = calloc(1, sizeof(*j));
    json_t *profiles = json_object_get(doc, "profiles"), *entry;
    const char *name;
    rb_status s = j ? RB_OK : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (s == RB_OK && !json_is_object(doc))
        s = bad(&l, "(top level)", "must be an object");
    if (s == RB_OK)
        s = load_settings(&l, doc, j);
    if (s == RB_OK)
        s = load_id_prefixes(&l, doc, j);
    if (s == RB_OK && (!json_is_object(profiles) || json_object_size(profiles) == 0))
        s = bad(&l, "profiles", "must hold at least one profile");
    if (s == RB_OK) {
        j->profiles = calloc(json_object_size(profiles), sizeof(*j->profiles));
        if (j->profiles == NULL)
            s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    if (s == RB_OK) {
        json_object_foreach(profiles, name, entry)
        {
            s = load_profile(&l, name, entry, j, &j->profiles[j->profile_count]);
            if (s != RB_OK)
                break;
            j->profile_count++;
        }
    }
    json_decref(doc);
    if (s != RB_OK) {
        rb_jurisdiction_free(j);
        return s;
    }
    *out = j;
    return RB_OK;
}

void rb_jurisdiction_free(rb_jurisdiction *j)
{
    if (j == NULL)
        return;
    json_decref(j->id_prefixes);
    free(j->profiles);
    free(j);
}

const rb_profile *rb_jurisdiction_profile(const rb_jurisdiction *j, const char *name, rb_error *err)
{
    for (size_t i = 0; i < j->profile_count; i++)
        if (strcmp(j->profiles[i].name, name) == 0)
            return &j->profiles[i];
    rb_fail(err, RB_EINVAL, NULL, "unknown profile '%s' (see 'rubrica profile list')", name);
    return NULL;
}

rb_status rb_jurisdiction_id_prefix(const rb_jurisdiction *j, const char *id_type,
                                    const char *country, char *out, size_t len, rb_error *err)
{
    json_t *prefix = json_object_get(j->id_prefixes, id_type);
    if (!json_is_string(prefix))
        return rb_fail(err, RB_EINVAL, NULL, "id_type '%s' is not used in %s", id_type, j->name);
    const char *template = json_string_value(prefix);
    const char *slot = strstr(template, "{country}");
    if (slot == NULL)
        snprintf(out, len, "%s", template);
    else
        snprintf(out, len, "%.*s%s%s", (int)(slot - template), template, country,
                 slot + strlen("{country}"));
    return RB_OK;
}
