/*
 * Loading the provider's own certificates and keys (root and issuing CAs,
 * OCSP responder, TSA) from the store, and the settings table that records
 * how the CA was initialised.
 */
#include "ca/ca.h"

#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = {"root", "issuing", "ocsp", "tsa"};

const char *rb_authority_role_name(rb_authority_role role)
{
    return (unsigned)role < 4 ? role_names[role] : "unknown";
}

static int role_from_name(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(role_names[i], name) == 0)
            return i;
    return -1;
}

rb_status rb_setting_get(rb_ctx *ctx, const char *name, char **out, rb_error *err)
{
    rb_stmt *stmt;
    int has_row;
    rb_status s =
        rb_store_prepare(ctx->store, "SELECT value FROM settings WHERE name = $1", &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, name);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s != RB_OK)
        return s;
    *out = has_row ? strdup(rb_stmt_text(stmt, 0)) : NULL;
    rb_stmt_reset(stmt);
    if (has_row && *out == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    return RB_OK;
}

rb_status rb_setting_set(rb_ctx *ctx, const char *name, const char *value, rb_error *err)
{
    rb_stmt *stmt;
    rb_status s = rb_store_prepare(ctx->store,
                                   "INSERT INTO settings (name, value) VALUES ($1, $2) "
                                   "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                                   &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, name);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, value);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    return s;
}

/* A file: reference relative to the data directory becomes absolute. */
static void resolve_key_ref(const rb_ctx *ctx, const char *ref, char *out, size_t len)
{
    if (strncmp(ref, "file:", 5) == 0 && ref[5] != '/' && ctx->data_dir != NULL)
        snprintf(out, len, "file:%s/%s", ctx->data_dir, ref + 5);
    else
        snprintf(out, len, "%s", ref);
}

static rb_status load_row(rb_ctx *ctx, rb_stmt *stmt, int with_key, const rb_key_secret *secret,
                          rb_authority **out, rb_error *err)
{
    rb_authority *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    snprintf(a->name, sizeof(a->name), "%s", rb_stmt_text(stmt, 0));
    a->role = (rb_authority_role)role_from_name(rb_stmt_text(stmt, 1));
    snprintf(a->issuer, sizeof(a->issuer), "%s", rb_stmt_text(stmt, 2));
    char ref[4200];
    resolve_key_ref(ctx, rb_stmt_text(stmt, 3), ref, sizeof(ref));
    size_t len;
    const unsigned char *der = rb_stmt_blob(stmt, 4, &len);
    a->cert = d2i_X509(NULL, &der, (long)len);
    rb_status s =
        a->cert ? RB_OK : rb_fail_crypto(err, "the stored certificate of %s is damaged", a->name);
    if (s == RB_OK && with_key)
        s = rb_key_load(ref, secret, &a->key, err);
    if (s == RB_OK && with_key && X509_check_private_key(a->cert, rb_key_get0_pkey(a->key)) != 1 &&
        !rb_key_is_hardware(a->key))
        s = rb_fail_crypto(err, "the key of %s does not match its certificate", a->name);
    if (s != RB_OK) {
        rb_authority_free(a);
        return s;
    }
    *out = a;
    return RB_OK;
}

rb_status rb_authority_load(rb_ctx *ctx, const char *name, rb_authority_role role, int with_key,
                            const rb_key_secret *secret, rb_authority **out, rb_error *err)
{
    rb_stmt *stmt;
    int has_row;
    rb_status s;
    if (name != NULL) {
        s = rb_store_prepare(ctx->store,
                             "SELECT name, role, issuer, key_ref, cert_der FROM authorities "
                             "WHERE name = $1",
                             &stmt, err);
        if (s == RB_OK)
            s = rb_stmt_bind_text(stmt, 1, name);
    } else {
        s = rb_store_prepare(ctx->store,
                             "SELECT name, role, issuer, key_ref, cert_der FROM authorities "
                             "WHERE role = $1 ORDER BY created_ms DESC LIMIT 1",
                             &stmt, err);
        if (s == RB_OK)
            s = rb_stmt_bind_text(stmt, 1, rb_authority_role_name(role));
    }
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s != RB_OK)
        return s;
    if (!has_row) {
        rb_stmt_reset(stmt);
        if (name != NULL)
            return rb_fail(err, RB_ENOTFOUND, NULL,
                           "there is no CA called '%s' (see 'rubrica ca list')", name);
        return rb_fail(err, RB_ENOTFOUND, NULL,
                       "no %s certificate: initialise the CA first with 'rubrica init'",
                       rb_authority_role_name(role));
    }
    s = load_row(ctx, stmt, with_key, secret, out, err);
    rb_stmt_reset(stmt);
    return s;
}

void rb_authority_free(rb_authority *authority)
{
    if (authority == NULL)
        return;
    X509_free(authority->cert);
    rb_key_free(authority->key);
    free(authority);
}

rb_status rb_authority_chain(rb_ctx *ctx, const rb_authority *authority, STACK_OF(X509) **out,
                             rb_error *err)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    if (chain == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    X509_up_ref(authority->cert);
    sk_X509_push(chain, authority->cert);
    char issuer[64];
    snprintf(issuer, sizeof(issuer), "%s", authority->issuer);
    int at_root = strcmp(authority->issuer, authority->name) == 0;
    rb_status s = RB_OK;
    for (int depth = 0; !at_root && depth < 8; depth++) {
        rb_authority *up = NULL;
        s = rb_authority_load(ctx, issuer, RB_ROLE_ROOT, 0, NULL, &up, err);
        if (s != RB_OK)
            break;
        X509_up_ref(up->cert);
        sk_X509_push(chain, up->cert);
        at_root = strcmp(up->issuer, up->name) == 0;
        snprintf(issuer, sizeof(issuer), "%s", up->issuer);
        rb_authority_free(up);
    }
    if (s != RB_OK) {
        sk_X509_pop_free(chain, X509_free);
        return s;
    }
    *out = chain;
    return RB_OK;
}
