/*
 * Creating a certification provider's hierarchy in an empty data directory.
 */
#ifndef RB_CA_INIT_H
#define RB_CA_INIT_H

#include "ca/ca.h"

#ifndef RB_SHARE_DIR
#define RB_SHARE_DIR "."
#endif

typedef struct rb_init_params {
    const char *jurisdiction; /* PE, PA, PY or SV */
    rb_key_type key_type;
    const char *org;           /* the provider's name, in every CA subject */
    const char *base_url;      /* where AIA, CRLDP and CPS point, without a trailing slash */
    const char *hsm_uri;       /* pkcs11: URI of the token for all keys; NULL for key files */
    const char *root_name;     /* default "root" */
    const char *issuing_name;  /* default "issuing" */
    const char *profiles_file; /* NULL: the shipped profiles/<jurisdiction>.json */
    rb_key_secret secret;      /* passphrase or PIN source */
} rb_init_params;

/*
 * Creates the root CA, the issuing CA, the OCSP responder and TSA
 * certificates and their keys, and records them with the settings. Refuses
 * (RB_ESTATE, nothing changed) when the data directory is already initialised.
 */
rb_status rb_ca_init(rb_ctx *ctx, const rb_init_params *params, rb_error *err) RB_MUST_CHECK;

#endif
