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
 * Registers a TLS client certificate for user (by the SHA-256 of its DER).
 * The TLS handshake proves the client holds the certificate's key, so the
 * pinned fingerprint alone identifies the user. Audited ("user.cert_add").
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

/*
 * Authenticates a TLS client certificate registered with
 * rb_user_add_client_cert, within its validity, for an enabled user.
 * RB_EPERM otherwise. Read-only.
 */
rb_status rb_auth_client_cert(rb_ctx *ctx, X509 *cert, rb_user *out, rb_error *err) RB_MUST_CHECK;

#endif
