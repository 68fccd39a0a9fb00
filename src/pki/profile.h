/*
 * Certificate profiles, as data: one file per jurisdiction (profiles/PE.json
 * and so on, copied into the data directory at init where the operator may
 * edit them) states the legal settings — maximum validity, suspension, ID
 * types and their ETSI identifier prefixes — and each profile's subject
 * fields, key usages, validity and policy. Files are validated on load; a
 * mistake is reported with the file, profile and key that is wrong.
 */
#ifndef RB_PKI_PROFILE_H
#define RB_PKI_PROFILE_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"

/* Subject fields a request may carry (the names used by --set and the API). */
typedef enum rb_field {
    RB_FIELD_GIVEN_NAME,
    RB_FIELD_SURNAME,
    RB_FIELD_ID_TYPE,
    RB_FIELD_ID_NUMBER,
    RB_FIELD_EMAIL,
    RB_FIELD_ORGANIZATION,
    RB_FIELD_ORG_ID,
    RB_FIELD_ORG_UNIT,
    RB_FIELD_TITLE,
    RB_FIELD_PROFESSION,
    RB_FIELD_LICENSE,
    RB_FIELD_LOCALITY,
    RB_FIELD_REGION,
    RB_FIELD_COUNTRY,
    RB_FIELD_LIMITS,
    RB_FIELD_COMMON_NAME,
    RB_FIELD_COUNT
} rb_field;

/* "given_name" etc.; NULL for an out-of-range value. */
const char *rb_field_name(rb_field field);
/* Returns the field for name, or -1. */
int rb_field_lookup(const char *name);

/* 1 when code is two capital letters, like PE (an ISO 3166-1 alpha-2 code's form), else 0. */
int rb_country_code_ok(const char *code);

typedef enum rb_subject_kind {
    RB_SUBJECT_PERSON,       /* a natural person, maybe in an organisation */
    RB_SUBJECT_ORGANIZATION, /* a legal person (e-invoice) */
    RB_SUBJECT_SERVICE,      /* a machine acting for an organisation (agent, TSA, OCSP) */
} rb_subject_kind;

#define RB_PROFILE_MAX_EKU      4
#define RB_PROFILE_MAX_ID_TYPES 6
#define RB_ID_TYPE_MAX_LEN      15 /* pe-dni, passport, ... */

typedef struct rb_profile {
    char name[48];
    char description[160];
    rb_subject_kind subject;
    unsigned required; /* bit (1u << rb_field) */
    unsigned optional;
    char id_types[RB_PROFILE_MAX_ID_TYPES][RB_ID_TYPE_MAX_LEN + 1]; /* accepted id_type values */
    size_t id_type_count;
    unsigned key_usage; /* OpenSSL KU_* bits */
    int eku_nids[RB_PROFILE_MAX_EKU];
    size_t eku_count;
    int eku_critical;
    int ocsp_nocheck;
    int max_validity_days;
    char policy_oid[64];
    char notice[400];
} rb_profile;

typedef struct rb_jurisdiction {
    char code[3]; /* PE, PA, PY, SV */
    char name[48];
    char country[3]; /* default subject country */
    char law[160];
    int max_validity_days;
    int renewal_window_days;
    int suspension_allowed;
    int suspension_max_days;
    int crl_validity_hours;
    int retention_years;
    char national_id[16];   /* the id_type used when a request names none */
    char org_id_type[16];   /* validator for org_id, e.g. pe-ruc */
    char org_id_prefix[16]; /* e.g. NTRPE- */
    char cps_uri[256];      /* may contain {base_url} */
    json_t *id_prefixes;    /* id_type -> prefix template, e.g. "PAS{country}-" */
    rb_profile *profiles;
    size_t profile_count;
} rb_jurisdiction;

/* A jurisdiction file larger than this is refused before it is parsed. */
#define RB_JURISDICTION_MAX_BYTES (1024 * 1024)

/* Loads and validates a jurisdiction file. Free with rb_jurisdiction_free. */
rb_status rb_jurisdiction_load(const char *path, rb_jurisdiction **out,
                               rb_error *err) RB_MUST_CHECK;

/*
 * The same from len bytes of JSON text already in memory; source names them
 * in messages (the file's path, say).
 */
rb_status rb_jurisdiction_parse(const char *source, const char *text, size_t len,
                                rb_jurisdiction **out, rb_error *err) RB_MUST_CHECK;
void rb_jurisdiction_free(rb_jurisdiction *jurisdiction);

/* The profile called name, borrowed from jurisdiction; NULL with an error if unknown. */
const rb_profile *rb_jurisdiction_profile(const rb_jurisdiction *jurisdiction, const char *name,
                                          rb_error *err);

/* Prefix for an id_type ("PNOPE-"), with {country} filled in; RB_EINVAL if unknown. */
rb_status rb_jurisdiction_id_prefix(const rb_jurisdiction *jurisdiction, const char *id_type,
                                    const char *country, char *out, size_t len,
                                    rb_error *err) RB_MUST_CHECK;

/* Names of key usage bits in the order of RFC 5280 (for display). */
const char *rb_key_usage_names(unsigned key_usage, char *buf, size_t len);

#endif
