/*
 * Users of the API and their roles: the role matrix, adding, listing and
 * disabling users, and registering their TLS client certificates. Each change
 * and its audit record commit together.
 */
#include "auth/auth.h"
#include "auth/internal.h"

#include "audit/audit.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = {"auditor", "operator", "approver", "ca-admin"};

/*
 * The role matrix. Rights grow with the role: an auditor only reads; an
 * operator (RA) also asks for issuance; an approver also revokes, suspends
 * and reinstates; a CA administrator may do everything.
 *
 *              read  issue  lifecycle  admin
 *   auditor     x
 *   operator    x     x
 *   approver    x     x       x
 *   ca-admin    x     x       x          x
 */
int rb_user_role_allows(rb_user_role role, rb_permission perm)
{
    switch (perm) {
    case RB_PERM_READ:
        return role >= RB_USER_AUDITOR && role <= RB_USER_CA_ADMIN;
    case RB_PERM_ISSUE:
        return role >= RB_USER_OPERATOR && role <= RB_USER_CA_ADMIN;
    case RB_PERM_LIFECYCLE:
        return role >= RB_USER_APPROVER && role <= RB_USER_CA_ADMIN;
    case RB_PERM_ADMIN:
        return role == RB_USER_CA_ADMIN;
    }
    return 0;
}

const char *rb_user_role_name(rb_user_role role)
{
    return (unsigned)role < 4 ? role_names[role] : "unknown";
}

rb_status rb_user_role_parse(const char *name, rb_user_role *out, rb_error *err)
{
    for (unsigned i = 0; name != NULL && i < 4; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *out = (rb_user_role)i;
            return RB_OK;
        }
    }
    return rb_fail(err, RB_EINVAL, NULL,
                   "unknown role '%s': use operator, approver, ca-admin or auditor",
                   name ? name : "");
}

static int name_char(char c, int first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return !first && (c == '.' || c == '_' || c == '@' || c == '-');
}

static rb_status check_name(const char *name, rb_error *err)
{
    size_t len = name ? strlen(name) : 0;
    int ok = len >= 1 && len <= RB_USER_NAME_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = name_char(name[i], i == 0);
    if (!ok)
        return rb_fail(err, RB_EINVAL, NULL,
                       "a user name has 1 to %d characters from a-z A-Z 0-9 . _ @ - and starts "
                       "with a letter or digit",
                       RB_USER_NAME_MAX);
    return RB_OK;
}

/* Commits when s is RB_OK, otherwise rolls back; returns the outcome. */
static rb_status finish(rb_ctx *ctx, rb_status s, rb_error *err)
{
    if (s == RB_OK)
        s = rb_store_commit(ctx->store, err);
    if (s != RB_OK)
        rb_store_rollback(ctx->store);
    return s;
}

rb_status auth_read_user(rb_stmt *stmt, rb_user *out, rb_error *err)
{
    rb_user u = {0};
    snprintf(u.name, sizeof(u.name), "%s", rb_stmt_text(stmt, 0));
    rb_status s = rb_user_role_parse(rb_stmt_text(stmt, 1), &u.role, err);
    u.disabled = rb_stmt_int64(stmt, 2) != 0;
    u.created_ms = rb_stmt_int64(stmt, 3);
    if (s == RB_OK)
        *out = u;
    return s;
}

rb_status rb_user_add(rb_ctx *ctx, const char *name, rb_user_role role, rb_error *err)
{
    rb_status s = check_name(name, err);
    if (s == RB_OK && (unsigned)role >= 4)
        s = rb_fail(err, RB_EINVAL, NULL, "unknown role");
    if (s == RB_OK)
        s = rb_store_begin(ctx->store, err);
    if (s != RB_OK)
        return s;
    rb_stmt *stmt;
    s = rb_store_prepare(
        ctx->store, "INSERT INTO users (name, role, disabled, created_ms) VALUES ($1, $2, 0, $3)",
        &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, name);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, rb_user_role_name(role));
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 3, rb_ctx_now_ms(ctx));
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    if (s == RB_ECONFLICT) {
        rb_error_clear(err);
        s = rb_fail(err, RB_ECONFLICT, NULL, "there is already a user called '%s'", name);
    }
    if (s == RB_OK) {
        char object[RB_USER_NAME_MAX + 8];
        snprintf(object, sizeof(object), "user:%s", name);
        json_t *detail = json_pack("{s:s}", "role", rb_user_role_name(role));
        s = rb_audit_append(ctx, "user.add", object, detail, NULL, err);
        json_decref(detail);
    }
    return finish(ctx, s, err);
}

rb_status rb_user_get(rb_ctx *ctx, const char *name, rb_user *out, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    rb_status s = rb_store_prepare(
        ctx->store, "SELECT " AUTH_USER_COLUMNS " FROM users u WHERE u.name = $1", &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, name);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s == RB_OK && has_row)
        s = auth_read_user(stmt, out, err);
    else if (s == RB_OK)
        s = rb_fail(err, RB_ENOTFOUND, NULL,
                    "there is no user called '%s' (see 'rubrica user list')", name);
    rb_stmt_reset(stmt);
    return s;
}

rb_status rb_user_list(rb_ctx *ctx, int (*fn)(const rb_user *user, void *arg), void *arg,
                       rb_error *err)
{
    rb_stmt *stmt = NULL;
    rb_status s = rb_store_prepare(
        ctx->store, "SELECT " AUTH_USER_COLUMNS " FROM users u ORDER BY u.name", &stmt, err);
    int has_row = 1;
    while (s == RB_OK) {
        s = rb_stmt_step(stmt, &has_row, err);
        if (s != RB_OK || !has_row)
            break;
        rb_user u;
        s = auth_read_user(stmt, &u, err);
        if (s == RB_OK && fn(&u, arg) != 0)
            break;
    }
    rb_stmt_reset(stmt);
    return s;
}

rb_status rb_user_disable(rb_ctx *ctx, const char *name, rb_error *err)
{
    rb_user user;
    rb_status s = rb_store_begin(ctx->store, err);
    if (s != RB_OK)
        return s;
    s = rb_user_get(ctx, name, &user, err);
    if (s == RB_OK && user.disabled)
        s = rb_fail(err, RB_ESTATE, NULL, "user '%s' is already disabled", name);
    rb_stmt *stmt;
    if (s == RB_OK)
        s = rb_store_prepare(ctx->store, "UPDATE users SET disabled = 1 WHERE name = $1", &stmt,
                             err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, name);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    if (s == RB_OK) {
        char object[RB_USER_NAME_MAX + 8];
        snprintf(object, sizeof(object), "user:%s", name);
        s = rb_audit_append(ctx, "user.disable", object, NULL, NULL, err);
    }
    return finish(ctx, s, err);
}

/* Why a certificate cannot be registered, for the person registering it. */
static rb_status refuse_registration(const rb_client_cert_check *check, rb_error *err)
{
    switch (check->verdict) {
    case RB_CLIENT_CERT_EXPIRED:
        return rb_fail(err, RB_EINVAL, "RFC 5280 4.1.2.5",
                       "the certificate has expired; register a current one");
    case RB_CLIENT_CERT_NOT_YET_VALID:
        return rb_fail(err, RB_EINVAL, "RFC 5280 4.1.2.5",
                       "the certificate is not valid yet; register it once it is");
    case RB_CLIENT_CERT_WRONG_PURPOSE:
        return rb_fail(err, RB_EINVAL, "RFC 5280 4.2.1.12",
                       "the certificate's key usage or extended key usage does not allow TLS "
                       "client authentication (id-kp-clientAuth)");
    case RB_CLIENT_CERT_REVOKED:
    case RB_CLIENT_CERT_SUSPENDED:
        return rb_fail(err, RB_ESTATE, NULL, "the certificate is %s (serial %s)",
                       check->verdict == RB_CLIENT_CERT_REVOKED ? "revoked" : "suspended",
                       check->serial);
    default:
        return RB_OK;
    }
}

rb_status rb_user_add_client_cert(rb_ctx *ctx, const char *user, X509 *cert, rb_error *err)
{
    rb_client_cert_check check;
    const char *fingerprint = check.sha256, *subject = check.subject;
    rb_user u;
    rb_status s = rb_client_cert_inspect(ctx, cert, &check, err);
    if (s == RB_OK)
        s = refuse_registration(&check, err);
    if (s == RB_OK)
        s = rb_store_begin(ctx->store, err);
    if (s != RB_OK)
        return s;
    s = rb_user_get(ctx, user, &u, err);
    if (s == RB_OK && u.disabled)
        s = rb_fail(err, RB_ESTATE, NULL, "user '%s' is disabled", user);
    rb_stmt *stmt;
    if (s == RB_OK)
        s = rb_store_prepare(
            ctx->store,
            "INSERT INTO client_certs (cert_sha256, user_name, subject, created_ms)"
            " VALUES ($1, $2, $3, $4)",
            &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, fingerprint);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, user);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 3, subject);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 4, rb_ctx_now_ms(ctx));
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    if (s == RB_ECONFLICT) {
        rb_error_clear(err);
        s = rb_fail(err, RB_ECONFLICT, NULL, "this certificate is already registered");
    }
    if (s == RB_OK) {
        char object[RB_USER_NAME_MAX + 8];
        snprintf(object, sizeof(object), "user:%s", user);
        json_t *detail = json_pack("{s:s,s:s,s:s,s:s}", "cert_sha256", fingerprint, "subject",
                                   subject, "issuer", check.issuer, "serial", check.serial);
        s = rb_audit_append(ctx, "user.cert_add", object, detail, NULL, err);
        json_decref(detail);
    }
    return finish(ctx, s, err);
}
