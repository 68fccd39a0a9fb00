/*
 * GET /crl/{ca}.crl, GET /crl/{ca}-delta.crl and GET /ca/{ca}.crt: the CRL and
 * CA certificate distribution points the certificates' CRLDP and AIA and the
 * complete CRL's Freshest CRL name (RFC 5280 4.2.1.13, 4.2.2.1, 5.2.6). Both are DER, as RFC 5280
 * requires for HTTP, with Last-Modified and Cache-Control so caches can help without hiding a
 * revocation for long.
 */
#include "http/routes.h"

#include "ca/crl.h"
#include "core/log.h"
#include "http/text.h"
#include "pki/x509util.h"

#include <stdlib.h>
#include <string.h>

#define CRL_PREFIX "/crl/"
#define CA_PREFIX  "/ca/"
/*
 * A CRL may be reused by caches for at most this long (and never past its
 * nextUpdate): a revocation reaches the CRL at once, so a long cache would
 * only delay it. OCSP is the immediate channel; this keeps CRLs close to it.
 */
#define CRL_MAX_AGE_S 60
#define CA_MAX_AGE_S  86400

/*
 * Copies the CA name out of path (prefix + name + suffix) into name.
 * Returns 0 unless the name is 1 to 63 characters from A-Z a-z 0-9 . _ -.
 */
static int ca_name_from_path(const char *path, const char *prefix, const char *suffix, char *name,
                             size_t len)
{
    size_t p = strlen(prefix), s = strlen(suffix), total = strlen(path);
    if (total <= p + s || strncmp(path, prefix, p) != 0 || strcmp(path + total - s, suffix) != 0)
        return 0;
    size_t n = total - p - s;
    if (n >= len || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = path[p + i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    memcpy(name, path + p, n);
    name[n] = '\0';
    return 1;
}

static void unknown_ca(rb_http_response *resp)
{
    rb_http_respond_error(resp, 404, "unknown_ca",
                          "there is no certification authority by that name");
}

/* Answers a library failure: 404 for a name that is not one of our CAs, else 503/500. */
static void ca_failure(rb_http_response *resp, const rb_error *err)
{
    if (err->status == RB_ENOTFOUND || err->status == RB_EINVAL) {
        unknown_ca(resp);
        return;
    }
    rb_log(RB_LOG_ERROR, "distribution: %s", err->message);
    if (err->status == RB_ESTORE)
        rb_http_respond_error(resp, 503, "store_unavailable",
                              "the service cannot reach its database; try again shortly");
    else
        rb_http_respond_error(resp, 500, "internal", "the CA could not produce the answer");
}

/* Sends der with Last-Modified and max-age, or 304 when the client's copy is current. */
static void send_der(rb_http_request *req, rb_http_response *resp, const char *type, uint8_t *der,
                     size_t len, int64_t modified_ms, int64_t max_age_s)
{
    char value[64];
    snprintf(value, sizeof(value), "public, max-age=%lld, no-transform", (long long)max_age_s);
    rb_http_add_header(resp, "Cache-Control", value);
    rb_http_add_header(resp, "Last-Modified", rb_http_date(modified_ms, value, sizeof(value)));
    if (rb_http_not_modified_since(req, modified_ms)) {
        free(der);
        rb_http_respond_take(resp, 304, type, NULL, 0);
        return;
    }
    rb_http_respond_take(resp, 200, type, der, len);
}

/*
 * Read-only: the stored CRL as last signed. The maintenance thread of
 * `rubrica serve` and the lifecycle changes keep it fresh; a GET never writes.
 * "{ca}-delta.crl" is the delta CRL of {ca}, unless a CA has that whole name.
 */
static rb_status stored_crl(rb_ctx *ctx, const char *path, uint8_t **der, size_t *len,
                            rb_error *err)
{
    char name[64];
    if (ca_name_from_path(path, CRL_PREFIX, "-delta.crl", name, sizeof(name))) {
        rb_status s = rb_ca_crl_stored(ctx, name, RB_CRL_DELTA, der, len, err);
        if (s != RB_ENOTFOUND)
            return s;
    }
    if (!ca_name_from_path(path, CRL_PREFIX, ".crl", name, sizeof(name)))
        return rb_fail(err, RB_ENOTFOUND, NULL, "no such CRL");
    return rb_ca_crl_stored(ctx, name, RB_CRL_FULL, der, len, err);
}

void rb_http_handle_crl(rb_http_request *req, rb_http_response *resp, void *arg)
{
    (void)arg;
    uint8_t *der = NULL;
    size_t len = 0;
    rb_error err = {0};
    rb_status s = stored_crl(req->ctx, req->path, &der, &len, &err);
    if (s == RB_ESTATE) {
        rb_log(RB_LOG_WARN, "distribution: %s", err.message);
        rb_http_respond_error(resp, 503, "crl_not_signed",
                              "the CA has not signed this CRL yet; try again shortly");
        return;
    }
    if (s != RB_OK) {
        ca_failure(resp, &err);
        return;
    }
    const unsigned char *p = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
    if (crl == NULL) {
        free(der);
        rb_log(RB_LOG_ERROR, "distribution: the stored CRL for %s does not parse", req->path);
        rb_http_respond_error(resp, 500, "internal", "the stored CRL is damaged");
        return;
    }
    int64_t now = rb_ctx_now_ms(req->ctx);
    int64_t this_update = rb_asn1_time_ms(X509_CRL_get0_lastUpdate(crl));
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
    int64_t left = next ? (rb_asn1_time_ms(next) - now) / 1000 : 0;
    X509_CRL_free(crl);
    if (left <= 0)
        rb_log(RB_LOG_WARN,
               "distribution: %s is past its nextUpdate; is the CA key available "
               "to the maintenance thread?",
               req->path);
    int64_t max_age = left < 0 ? 0 : left < CRL_MAX_AGE_S ? left : CRL_MAX_AGE_S;
    send_der(req, resp, "application/pkix-crl", der, len, this_update, max_age);
}

void rb_http_handle_ca_cert(rb_http_request *req, rb_http_response *resp, void *arg)
{
    (void)arg;
    char name[64];
    if (!ca_name_from_path(req->path, CA_PREFIX, ".crt", name, sizeof(name))) {
        unknown_ca(resp);
        return;
    }
    rb_authority *ca = NULL;
    rb_error err = {0};
    if (rb_authority_load(req->ctx, name, RB_ROLE_ROOT, 0, NULL, &ca, &err) != RB_OK) {
        ca_failure(resp, &err);
        return;
    }
    /* Only certification authorities live here; the OCSP and TSA certificates travel in their
     * responses. */
    if (ca->role != RB_ROLE_ROOT && ca->role != RB_ROLE_ISSUING) {
        rb_authority_free(ca);
        unknown_ca(resp);
        return;
    }
    unsigned char *der = NULL;
    int len = i2d_X509(ca->cert, &der);
    int64_t modified = rb_asn1_time_ms(X509_get0_notBefore(ca->cert));
    rb_authority_free(ca);
    uint8_t *copy = len > 0 ? malloc((size_t)len) : NULL;
    if (copy == NULL) {
        OPENSSL_free(der);
        rb_http_respond_error(resp, 500, "internal", "cannot encode the certificate");
        return;
    }
    memcpy(copy, der, (size_t)len);
    OPENSSL_free(der);
    send_der(req, resp, "application/pkix-cert", copy, (size_t)len, modified, CA_MAX_AGE_S);
}
