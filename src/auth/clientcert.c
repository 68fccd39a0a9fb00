/*
 * TLS client certificates as API credentials: the anchors they must chain to,
 * the checks a CA operator expects (chain, validity, purpose, and for
 * certificates our own CAs issued, revocation and suspension), and the pin
 * that maps a verified certificate to its user. Nothing here writes.
 */
#include "auth/auth.h"
#include "auth/internal.h"

#include "core/hex.h"
#include "ca/ca.h"
#include "pki/x509util.h"
#include "store/store.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <stdlib.h>
#include <string.h>

struct rb_client_trust {
    STACK_OF(X509) *anchors; /* read-only once built: shared by every pool thread */
};

static const char *const verdict_codes[] = {
    [RB_CLIENT_CERT_OK] = "ok",
    [RB_CLIENT_CERT_UNTRUSTED] = "client_certificate_untrusted",
    [RB_CLIENT_CERT_EXPIRED] = "client_certificate_expired",
    [RB_CLIENT_CERT_NOT_YET_VALID] = "client_certificate_not_yet_valid",
    [RB_CLIENT_CERT_WRONG_PURPOSE] = "client_certificate_wrong_purpose",
    [RB_CLIENT_CERT_REVOKED] = "client_certificate_revoked",
    [RB_CLIENT_CERT_SUSPENDED] = "client_certificate_suspended",
    [RB_CLIENT_CERT_UNREGISTERED] = "client_certificate_unregistered",
};

const char *rb_client_cert_verdict_code(rb_client_cert_verdict verdict)
{
    if ((unsigned)verdict >= sizeof(verdict_codes) / sizeof(verdict_codes[0]))
        return "client_certificate_untrusted";
    return verdict_codes[verdict];
}

rb_status rb_client_trust_new(const char *pem, size_t len, rb_client_trust **out, rb_error *err)
{
    rb_client_trust *trust = calloc(1, sizeof(*trust));
    rb_status s = trust ? rb_x509_read_pem_stack(pem, len, &trust->anchors, err)
                        : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    /* Caches the extensions now, so verifying threads only ever read them. */
    for (int i = 0; s == RB_OK && i < sk_X509_num(trust->anchors); i++)
        X509_check_purpose(sk_X509_value(trust->anchors, i), -1, 0);
    if (s == RB_OK && sk_X509_num(trust->anchors) == 0)
        s = rb_fail(err, RB_EINVAL, NULL,
                    "the client CA file holds no PEM certificate; give the CA certificates "
                    "that issue the API's client certificates");
    if (s != RB_OK) {
        rb_client_trust_free(trust);
        return s;
    }
    *out = trust;
    return RB_OK;
}

void rb_client_trust_free(rb_client_trust *trust)
{
    if (trust == NULL)
        return;
    sk_X509_pop_free(trust->anchors, X509_free);
    free(trust);
}

/* Fills the identifying fields of check; only a digest failure is an error. */
static rb_status describe(X509 *cert, rb_client_cert_check *check, rb_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    memset(check, 0, sizeof(*check));
    if (cert == NULL || !X509_digest(cert, EVP_sha256(), md, &len) || len != 32)
        return rb_fail_crypto(err, "cannot compute the certificate's fingerprint");
    rb_hex_lower(md, len, check->sha256);
    rb_serial_to_hex(X509_get0_serialNumber(cert), check->serial, sizeof(check->serial));
    rb_name_text(X509_get_subject_name(cert), check->subject, sizeof(check->subject));
    rb_name_text(X509_get_issuer_name(cert), check->issuer, sizeof(check->issuer));
    return RB_OK;
}

static rb_client_cert_verdict verdict_of(int verify_error)
{
    switch (verify_error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return RB_CLIENT_CERT_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return RB_CLIENT_CERT_NOT_YET_VALID;
    case X509_V_ERR_INVALID_PURPOSE:
        return RB_CLIENT_CERT_WRONG_PURPOSE;
    default:
        return RB_CLIENT_CERT_UNTRUSTED;
    }
}

/*
 * RFC 5280 6.1 path validation by OpenSSL against the anchors, for TLS client
 * use, at now_ms. The anchors go in as a trusted stack rather than an
 * X509_STORE: lookups then read the stack and take no store-wide lock.
 */
static rb_status verify_chain(const rb_client_trust *trust, X509 *cert, int64_t now_ms,
                              rb_client_cert_check *check, rb_error *err)
{
    X509_STORE_CTX *vctx = X509_STORE_CTX_new();
    if (vctx == NULL || !X509_STORE_CTX_init(vctx, NULL, cert, NULL)) {
        X509_STORE_CTX_free(vctx);
        return rb_fail_crypto(err, "cannot set up certificate verification");
    }
    X509_STORE_CTX_set0_trusted_stack(vctx, trust->anchors);
    X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_CLIENT);
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(vctx);
    X509_VERIFY_PARAM_set_time(param, (time_t)(now_ms / 1000));
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    if (X509_verify_cert(vctx) != 1) {
        check->verify_error = X509_STORE_CTX_get_error(vctx);
        check->verify_depth = X509_STORE_CTX_get_error_depth(vctx);
        if (check->verify_error == X509_V_OK) /* failed without saying why */
            check->verify_error = X509_V_ERR_UNSPECIFIED;
        check->verdict = verdict_of(check->verify_error);
    }
    X509_STORE_CTX_free(vctx);
    ERR_clear_error();
    return RB_OK;
}

/*
 * Whether one of our CAs issued this very certificate (same serial and same
 * DER: a foreign CA may reuse a serial), and if so whether it is revoked or
 * suspended. A store failure is an error: we cannot say it is not revoked.
 */
static rb_status own_status(rb_ctx *ctx, X509 *cert, rb_client_cert_check *check, rb_error *err)
{
    rb_cert_record rec;
    rb_error lookup = {0};
    rb_status s = rb_ca_get(ctx, check->serial, &rec, &lookup);
    if (s == RB_ENOTFOUND || s == RB_EINVAL)
        return RB_OK;
    if (s != RB_OK) {
        *err = lookup;
        return s;
    }
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    int ours = len > 0 && rec.der != NULL && (size_t)len == rec.der_len &&
               memcmp(der, rec.der, rec.der_len) == 0;
    OPENSSL_free(der);
    if (len <= 0) {
        rb_cert_record_clear(&rec);
        return rb_fail_crypto(err, "cannot encode the client certificate");
    }
    if (ours && rec.status == RB_CERT_REVOKED)
        check->verdict = RB_CLIENT_CERT_REVOKED;
    else if (ours && rec.status == RB_CERT_SUSPENDED)
        check->verdict = RB_CLIENT_CERT_SUSPENDED;
    rb_cert_record_clear(&rec);
    return RB_OK;
}

rb_status rb_client_cert_inspect(rb_ctx *ctx, X509 *cert, rb_client_cert_check *check,
                                 rb_error *err)
{
    int64_t now = rb_ctx_now_ms(ctx);
    rb_status s = describe(cert, check, err);
    if (s != RB_OK)
        return s;
    if (rb_asn1_time_ms(X509_get0_notAfter(cert)) < now)
        check->verdict = RB_CLIENT_CERT_EXPIRED;
    else if (rb_asn1_time_ms(X509_get0_notBefore(cert)) > now)
        check->verdict = RB_CLIENT_CERT_NOT_YET_VALID;
    else if (X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) != 1)
        check->verdict = RB_CLIENT_CERT_WRONG_PURPOSE;
    ERR_clear_error();
    if (check->verdict == RB_CLIENT_CERT_OK)
        s = own_status(ctx, cert, check, err);
    return s;
}

/* The enabled user check->sha256 is pinned to, or RB_CLIENT_CERT_UNREGISTERED. */
static rb_status pinned_user(rb_ctx *ctx, rb_client_cert_check *check, rb_user *out, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    rb_user user;
    rb_status s = rb_store_prepare(ctx->store,
                                   "SELECT " AUTH_USER_COLUMNS " FROM client_certs c"
                                   " JOIN users u ON u.name = c.user_name"
                                   " WHERE c.cert_sha256 = $1 AND u.disabled = 0",
                                   &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, check->sha256);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s == RB_OK && has_row)
        s = auth_read_user(stmt, &user, err);
    rb_stmt_reset(stmt);
    if (s == RB_OK && !has_row)
        check->verdict = RB_CLIENT_CERT_UNREGISTERED;
    else if (s == RB_OK)
        *out = user;
    return s;
}

rb_status rb_auth_client_cert(rb_ctx *ctx, const rb_client_trust *trust, X509 *cert, rb_user *out,
                              rb_client_cert_check *check, rb_error *err)
{
    rb_client_cert_check local;
    if (check == NULL)
        check = &local;
    rb_status s = describe(cert, check, err);
    if (s != RB_OK) {
        check->verdict = RB_CLIENT_CERT_UNTRUSTED;
        return s;
    }
    if (trust == NULL)
        check->verdict = RB_CLIENT_CERT_UNTRUSTED;
    else
        s = verify_chain(trust, cert, rb_ctx_now_ms(ctx), check, err);
    if (s == RB_OK && check->verdict == RB_CLIENT_CERT_OK)
        s = own_status(ctx, cert, check, err);
    if (s == RB_OK && check->verdict == RB_CLIENT_CERT_OK)
        s = pinned_user(ctx, check, out, err);
    if (s == RB_OK && check->verdict != RB_CLIENT_CERT_OK)
        s = rb_fail(err, RB_EPERM, NULL, "the client certificate is not accepted: %s",
                    rb_client_cert_verdict_code(check->verdict));
    return s;
}
