/*
 * Building the responder from the store at start-up: each issuing CA paired
 * with the newest OCSP responder authority it certified, that responder's
 * key, and the response validity from the settings table.
 */
#include "ocsp/internal.h"

#include "ca/ca.h"
#include "core/log.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ISSUING 64

static rb_status read_validity(rb_ctx *ctx, rb_ocsp_config *config, rb_error *err)
{
    char *text = NULL;
    rb_status s = rb_setting_get(ctx, RB_OCSP_VALIDITY_SETTING, &text, err);
    if (s != RB_OK || text == NULL)
        return s;
    char *end = NULL;
    long long seconds = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || seconds < 300 || seconds > 864000)
        s = rb_fail(err, RB_EINVAL, NULL,
                    "setting %s is '%s': give whole seconds from 300 to 864000 (10 days)",
                    RB_OCSP_VALIDITY_SETTING, text);
    else
        config->validity_ms = seconds * 1000;
    free(text);
    return s;
}

typedef struct ca_pair {
    char ca[64], responder[64];
} ca_pair;

/* Names of the issuing CAs, and for each the newest responder it certified ("" if none). */
static rb_status list_pairs(rb_ctx *ctx, ca_pair *pairs, size_t *count, rb_error *err)
{
    rb_stmt *stmt;
    int has_row = 0;
    *count = 0;
    rb_status s = rb_store_prepare(
        ctx->store,
        "SELECT a.name, coalesce((SELECT o.name FROM authorities o WHERE o.role = 'ocsp' "
        "AND o.issuer = a.name ORDER BY o.created_ms DESC LIMIT 1), '') "
        "FROM authorities a WHERE a.role = 'issuing' ORDER BY a.name",
        &stmt, err);
    while (s == RB_OK && *count < MAX_ISSUING) {
        s = rb_stmt_step(stmt, &has_row, err);
        if (s != RB_OK || !has_row)
            break;
        snprintf(pairs[*count].ca, sizeof(pairs->ca), "%s", rb_stmt_text(stmt, 0));
        snprintf(pairs[*count].responder, sizeof(pairs->responder), "%s", rb_stmt_text(stmt, 1));
        (*count)++;
    }
    if (s == RB_OK)
        rb_stmt_reset(stmt);
    return s;
}

static rb_status keep(rb_ocsp_responder *r, rb_authority *a, rb_error *err)
{
    rb_authority **grown = realloc(r->owned, (r->owned_count + 1) * sizeof(*grown));
    if (grown == NULL) {
        rb_authority_free(a);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    r->owned = grown;
    r->owned[r->owned_count++] = a;
    return RB_OK;
}

static rb_status add_pair(rb_ocsp_responder *r, rb_ctx *ctx, const char *ca_name,
                          const char *responder_name, const rb_key_secret *secret, rb_error *err)
{
    rb_authority *ca = NULL, *responder = NULL;
    rb_status s = rb_authority_load(ctx, ca_name, RB_ROLE_ISSUING, 0, NULL, &ca, err);
    if (s == RB_OK)
        s = rb_authority_load(ctx, responder_name, RB_ROLE_OCSP, 1, secret, &responder, err);
    if (s == RB_OK)
        s = rb_ocsp_responder_add_issuer(r, ca_name, ca->cert, responder->cert,
                                         rb_key_get0_pkey(responder->key),
                                         rb_key_is_hardware(responder->key), err);
    rb_authority_free(ca);
    if (s == RB_OK)
        return keep(r, responder, err);
    rb_authority_free(responder);
    return s;
}

rb_status rb_ocsp_responder_load(rb_ctx *ctx, const rb_key_secret *secret, rb_ocsp_responder **out,
                                 rb_error *err)
{
    rb_ocsp_config config = {0};
    rb_ocsp_responder *r = NULL;
    size_t count = 0;
    ca_pair *pairs = calloc(MAX_ISSUING, sizeof(*pairs));
    rb_status s = pairs ? RB_OK : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (s == RB_OK)
        s = read_validity(ctx, &config, err);
    if (s == RB_OK)
        s = list_pairs(ctx, pairs, &count, err);
    if (s == RB_OK)
        s = rb_ocsp_responder_new(&config, &r, err);
    for (size_t i = 0; s == RB_OK && i < count; i++) {
        if (pairs[i].responder[0] == '\0')
            rb_log(RB_LOG_WARN, "ocsp: CA %s has no OCSP responder certificate; not served",
                   pairs[i].ca);
        else
            s = add_pair(r, ctx, pairs[i].ca, pairs[i].responder, secret, err);
    }
    free(pairs);
    if (s == RB_OK && r->count == 0)
        s = rb_fail(err, RB_ENOTFOUND, NULL,
                    "no issuing CA has an OCSP responder certificate: initialise the CA first "
                    "with 'rubrica init'");
    if (s != RB_OK) {
        rb_ocsp_responder_free(r);
        return s;
    }
    *out = r;
    return RB_OK;
}
