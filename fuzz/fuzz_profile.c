/*
 * libFuzzer target for the jurisdiction files (src/pki/profile.c), which
 * operators edit by hand: any bytes must give either a jurisdiction whose
 * every setting passed its check, or one refusal — never a crash, a leak or
 * a read out of bounds. What is accepted is checked against the rules the
 * issuer relies on: profiles are found by their names, every document type a
 * profile accepts has an identifier prefix, strings that reach certificates
 * are clean text, and no profile grants certificate or CRL signing.
 *
 * Build and run all targets: fuzz/run (FUZZ_SECONDS per target); build only:
 *   make FUZZ=1 BUILD=build-fuzz fuzz
 * The seed corpus is the four shipped files, profiles/{PE,PA,PY,SV}.json,
 * which fuzz/run copies from there.
 */
#include "core/reader.h"
#include "pki/idcheck.h"
#include "pki/profile.h"

#include <openssl/x509v3.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int condition)
{
    if (!condition)
        __builtin_trap();
}

static int clean(const char *text)
{
    rb_error ignored = {0};
    return rb_text_check("text", text, SIZE_MAX, &ignored) == RB_OK;
}

static void check_profile(const rb_jurisdiction *j, const rb_profile *p)
{
    rb_error err = {0};
    char prefix[64];
    require(p->name[0] != '\0' && rb_jurisdiction_profile(j, p->name, &err) == p);
    require(clean(p->description) && clean(p->policy_oid) && clean(p->notice));
    require(p->key_usage != 0 && !(p->key_usage & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)));
    require(p->max_validity_days >= 1 && p->max_validity_days <= j->max_validity_days);
    require(p->eku_count <= RB_PROFILE_MAX_EKU && p->id_type_count <= RB_PROFILE_MAX_ID_TYPES);
    for (size_t i = 0; i < p->id_type_count; i++)
        require(rb_jurisdiction_id_prefix(j, p->id_types[i], j->country, prefix, sizeof(prefix),
                                          &err) == RB_OK &&
                clean(prefix));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rb_jurisdiction *j = NULL;
    rb_error err = {0};
    if (size > RB_JURISDICTION_MAX_BYTES)
        return 0;
    if (rb_jurisdiction_parse("fuzz.json", (const char *)data, size, &j, &err) != RB_OK) {
        require(j == NULL && err.message[0] != '\0');
        return 0;
    }
    require(strlen(j->code) == 2 && strlen(j->country) == 2 && clean(j->name));
    require(clean(j->cps_uri) && rb_id_type_known(j->org_id_type));
    require(j->profile_count >= 1);
    char prefix[64];
    require(rb_jurisdiction_id_prefix(j, j->national_id, j->country, prefix, sizeof(prefix),
                                      &err) == RB_OK);
    for (size_t i = 0; i < j->profile_count; i++)
        check_profile(j, &j->profiles[i]);
    rb_jurisdiction_free(j);
    return 0;
}
