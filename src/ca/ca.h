/*
 * The certification authority: its hierarchy (root, issuing CAs, the OCSP
 * responder and TSA certificates), issuance from PKCS#10 requests, the
 * certificate lifecycle and CRLs. All state lives in the store; a loaded
 * rb_authority holds one of the provider's certificates with its key.
 */
#ifndef RB_CA_CA_H
#define RB_CA_CA_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "core/context.h"
#include "core/error.h"
#include "keys/keys.h"

typedef enum rb_authority_role {
    RB_ROLE_ROOT,
    RB_ROLE_ISSUING,
    RB_ROLE_OCSP,
    RB_ROLE_TSA,
} rb_authority_role;

/* One of the provider's own certificates and its key, loaded from the store. */
typedef struct rb_authority {
    char name[64];
    char issuer[64]; /* name of the authority that certified it (itself for a root) */
    rb_authority_role role;
    X509 *cert;
    rb_key *key; /* NULL when loaded without the key */
} rb_authority;

/*
 * Loads the authority called name (or, when name is NULL, the first one with
 * the given role) from the store. With_key loads its private key too, using
 * secret (NULL: the environment). Free with rb_authority_free.
 */
rb_status rb_authority_load(rb_ctx *ctx, const char *name, rb_authority_role role, int with_key,
                            const rb_key_secret *secret, rb_authority **out,
                            rb_error *err) RB_MUST_CHECK;
void rb_authority_free(rb_authority *authority);

/*
 * The chain from authority up to (and including) its root, leaf first, as
 * owned X509 references in a new stack (sk_X509_pop_free(chain, X509_free)).
 */
rb_status rb_authority_chain(rb_ctx *ctx, const rb_authority *authority, STACK_OF(X509) **out,
                             rb_error *err) RB_MUST_CHECK;

/* A setting from the settings table (owned copy in out), or NULL if unset. */
rb_status rb_setting_get(rb_ctx *ctx, const char *name, char **out, rb_error *err) RB_MUST_CHECK;

/* The current status of a subscriber certificate, as OCSP and CRLs report it. */
typedef enum rb_cert_status {
    RB_CERT_VALID,
    RB_CERT_SUSPENDED,
    RB_CERT_REVOKED,
} rb_cert_status;

#endif
