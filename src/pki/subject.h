/*
 * Turning a request's verified subject fields into a certificate subject:
 * the distinguished name (with the ETSI EN 319 412-1 identifiers of the
 * jurisdiction: PNOPE-..., NTRPE-...), the subject alternative name, and the
 * normalised fields kept with the certificate record. The subject is built
 * from the profile and the fields, never copied from the CSR.
 */
#ifndef RB_PKI_SUBJECT_H
#define RB_PKI_SUBJECT_H

#include <jansson.h>
#include <openssl/x509v3.h>

#include "core/error.h"
#include "pki/profile.h"

/*
 * The limits go into a user notice as "Límites: <limits>", and RFC 5280
 * 4.2.1.4 allows an explicitText of at most 200 characters: 9 for the prefix,
 * 191 for the limits (in UTF-8, up to 4 bytes each).
 */
#define RB_LIMITS_MAX_CHARS 191

typedef struct rb_subject {
    X509_NAME *name; /* owned, unless built with rb_subject_build_in */
    int name_borrowed;
    GENERAL_NAMES *san;   /* NULL when there is no e-mail address */
    char subject_id[128]; /* serialNumber or organizationIdentifier, for search */
    /* limits of representation or competence, may be empty */
    char limits[4 * RB_LIMITS_MAX_CHARS + 1];
    json_t *fields; /* the normalised fields (owned) */
} rb_subject;

/*
 * Validates fields (a JSON object of strings, borrowed) against the profile
 * and the jurisdiction — known fields only, those the profile allows, the
 * required ones present, UTF-8 without control characters, lengths within
 * X.520 upper bounds, ID numbers with valid check digits — and builds the
 * subject. On failure the message names the field and the rule.
 */
rb_status rb_subject_build(const rb_jurisdiction *jurisdiction, const rb_profile *profile,
                           json_t *fields, rb_subject *out, rb_error *err) RB_MUST_CHECK;

/*
 * The same, building the name into name (borrowed; empty, e.g. the subject
 * name of a certificate being built, so the name is not copied into it).
 */
rb_status rb_subject_build_in(const rb_jurisdiction *jurisdiction, const rb_profile *profile,
                              json_t *fields, X509_NAME *name, rb_subject *out,
                              rb_error *err) RB_MUST_CHECK;

/* Frees what rb_subject_build allocated; the struct itself is the caller's. */
void rb_subject_clear(rb_subject *subject);

#endif
