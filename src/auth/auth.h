/*
 * Who may use the API: users with one role each, the API tokens and TLS
 * client certificates that authenticate them, and the matrix of what each
 * role may do. Every change is audited in the same transaction; nothing
 * here prints or keeps state outside the store.
 */
#ifndef RB_AUTH_AUTH_H
#define RB_AUTH_AUTH_H

#include <openssl/x509.h>
#include <stdint.h>

#include "core/context.h"
#include "core/error.h"

/* A user's role (not to be confused with rb_authority_role, a CA certificate's). */
typedef enum rb_user_role {
    RB_USER_AUDITOR,  /* reads certificates and the audit log; changes nothing */
    RB_USER_OPERATOR, /* RA operator: reads and requests issuance */
    RB_USER_APPROVER, /* operator's rights plus revoke, suspend and reinstate */
    RB_USER_CA_ADMIN, /* everything, including what later administration calls add */
} rb_user_role;

/* What an API call needs; each role's set is fixed in rb_user_role_allows. */
typedef enum rb_permission {
    RB_PERM_READ,      /* list and show certificates */
    RB_PERM_ISSUE,     /* issue from a CSR */
    RB_PERM_LIFECYCLE, /* revoke, suspend, reinstate */
    RB_PERM_ADMIN,     /* users, tokens, settings */
} rb_permission;

/* Whether role grants perm (the role matrix; docs/api/openapi.yaml repeats it). */
int rb_user_role_allows(rb_user_role role, rb_permission perm);

/* "auditor", "operator", "approver", "ca-admin". */
const char *rb_user_role_name(rb_user_role role);
/* The inverse of rb_user_role_name; RB_EINVAL naming the valid roles otherwise. */
rb_status rb_user_role_parse(const char *name, rb_user_role *out, rb_error *err) RB_MUST_CHECK;

#define RB_USER_NAME_MAX 64

typedef struct rb_user {
    char name[RB_USER_NAME_MAX + 1];
    rb_user_role role;
    int disabled;
    int64_t created_ms;
} rb_user;

/*
 * Adds a user. name: 1 to 64 characters from a-z A-Z 0-9 . _ @ - starting
 * with a letter or digit. RB_ECONFLICT if the name is taken. Audited
 * ("user.add").
 */
rb_status rb_user_add(rb_ctx *ctx, const char *name, rb_user_role role,
                      rb_error *err) RB_MUST_CHECK;

/* Loads one user (disabled ones too); RB_ENOTFOUND if there is none. */
rb_status rb_user_get(rb_ctx *ctx, const char *name, rb_user *out, rb_error *err) RB_MUST_CHECK;

/* Calls fn for every user in name order; fn returns non-zero to stop. */
rb_status rb_user_list(rb_ctx *ctx, int (*fn)(const rb_user *user, void *arg), void *arg,
                       rb_error *err) RB_MUST_CHECK;

/*
 * Disables a user: their tokens and certificates stop authenticating at once.
 * RB_ESTATE if already disabled. Audited ("user.disable").
 */
rb_status rb_user_disable(rb_ctx *ctx, const char *name, rb_error *err) RB_MUST_CHECK;

/*
 * Registers a TLS client certificate for user (by the SHA-256 of its DER):
 * the pin that maps a verified certificate to its user. Refuses (RB_EINVAL)
 * a certificate outside its validity now, or whose extensions forbid TLS
 * client authentication, and (RB_ESTATE) one of ours that is revoked or
 * suspended. Audited ("user.cert_add").
 */
rb_status rb_user_add_client_cert(rb_ctx *ctx, const char *user, X509 *cert,
                                  rb_error *err) RB_MUST_CHECK;

/* 32 random bytes in unpadded base64url. */
#define RB_TOKEN_TEXT_LEN 44 /* 43 characters and a NUL */
#define RB_TOKEN_ID_LEN   17 /* 16 hex digits and a NUL */

/* A token as listed: never the token itself. */
typedef struct rb_token_info {
    char id[RB_TOKEN_ID_LEN];
    char user[RB_USER_NAME_MAX + 1];
    char last4[5];
    int64_t created_ms;
    int64_t revoked_ms; /* 0 while active */
} rb_token_info;

/*
 * Creates an API token for an enabled user. Writes the token text (shown to
 * the person once; only its hash is stored) and its id. Audited
 * ("token.create", without the token).
 */
rb_status rb_token_create(rb_ctx *ctx, const char *user, char token[RB_TOKEN_TEXT_LEN],
                          char id[RB_TOKEN_ID_LEN], rb_error *err) RB_MUST_CHECK;

/* Revokes a token by id. RB_ENOTFOUND, or RB_ESTATE if already revoked. Audited. */
rb_status rb_token_revoke(rb_ctx *ctx, const char *id, rb_error *err) RB_MUST_CHECK;

/* Calls fn for each token (of user, or of everyone when user is NULL), oldest first. */
rb_status rb_token_list(rb_ctx *ctx, const char *user,
                        int (*fn)(const rb_token_info *token, void *arg), void *arg,
                        rb_error *err) RB_MUST_CHECK;

/*
 * Authenticates a bearer token: finds the active token with that hash whose
 * user is enabled, and writes the user to *out. Any failure to match is
 * RB_EPERM with the same message, so a caller learns nothing about why.
 * Read-only.
 */
rb_status rb_auth_token(rb_ctx *ctx, const char *bearer, rb_user *out, rb_error *err) RB_MUST_CHECK;

/* ---- TLS client certificates (clientcert.c) ---- */

/*
 * The trust anchors TLS client certificates must chain to (the file given to
 * `serve --tls-client-ca`). Every certificate in it is an anchor, so a file
 * holding only an issuing CA is enough. Immutable once made: any number of
 * threads may verify against one at once.
 */
typedef struct rb_client_trust rb_client_trust;

/* Parses pem (one or more certificates, at most len bytes). Owned; RB_EINVAL if none. */
rb_status rb_client_trust_new(const char *pem, size_t len, rb_client_trust **out,
                              rb_error *err) RB_MUST_CHECK;
/* NULL is a no-op. */
void rb_client_trust_free(rb_client_trust *trust);

/* Why a client certificate was refused; stable, the API's error codes repeat them. */
typedef enum rb_client_cert_verdict {
    RB_CLIENT_CERT_OK,
    RB_CLIENT_CERT_UNTRUSTED,     /* no chain to an anchor (or no anchors configured) */
    RB_CLIENT_CERT_EXPIRED,       /* it, or a CA above it, is past notAfter */
    RB_CLIENT_CERT_NOT_YET_VALID, /* it, or a CA above it, is before notBefore */
    RB_CLIENT_CERT_WRONG_PURPOSE, /* its extensions forbid TLS client authentication */
    RB_CLIENT_CERT_REVOKED,       /* issued by one of our CAs and revoked */
    RB_CLIENT_CERT_SUSPENDED,     /* issued by one of our CAs and on hold */
    RB_CLIENT_CERT_UNREGISTERED,  /* verified, but not registered to an enabled user */
} rb_client_cert_verdict;

/* "client_certificate_untrusted", "client_certificate_expired", ... ("ok"). Static. */
const char *rb_client_cert_verdict_code(rb_client_cert_verdict verdict);

/* What rb_auth_client_cert found, for the audit record of a refusal. */
typedef struct rb_client_cert_check {
    rb_client_cert_verdict verdict;
    int verify_error;  /* X509_V_ERR_* from chain verification, 0 if it passed */
    int verify_depth;  /* the chain position it names (0: the client's own) */
    char sha256[65];   /* hex SHA-256 of the DER */
    char serial[48];   /* upper-case hex */
    char subject[256]; /* RFC 2253, truncated */
    char issuer[256];  /* RFC 2253, truncated */
} rb_client_cert_check;

/*
 * Authenticates a TLS client certificate, in this order: it chains to trust
 * (X509_verify_cert, purpose sslclient, at ctx's clock; the client sends no
 * intermediates we use, so trust must hold them), it is within validity,
 * when one of our CAs issued it (the certificates table holds this very
 * certificate) it is neither revoked nor suspended, and it is registered with
 * rb_user_add_client_cert to an enabled user. RB_OK with *out filled; RB_EPERM
 * with check->verdict naming the first rule broken; another status when the
 * store failed. check (always filled) may be NULL. trust NULL refuses every
 * certificate. Read-only.
 */
rb_status rb_auth_client_cert(rb_ctx *ctx, const rb_client_trust *trust, X509 *cert, rb_user *out,
                              rb_client_cert_check *check, rb_error *err) RB_MUST_CHECK;

/*
 * The part of the checks that needs no anchors: validity at ctx's clock,
 * purpose, and our own revocation status. Fills check (verdict OK when all
 * pass); returns an error only when the store failed. Used at registration
 * and by rb_auth_client_cert.
 */
rb_status rb_client_cert_inspect(rb_ctx *ctx, X509 *cert, rb_client_cert_check *check,
                                 rb_error *err) RB_MUST_CHECK;

#endif
