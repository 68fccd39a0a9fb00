/*
 * POST /ocsp and GET /ocsp/{base64}: OCSP over HTTP (RFC 6960 appendix A,
 * RFC 5019 section 5). Both hand the DER request to rb_ocsp_respond; GET
 * answers carry the caching headers of RFC 5019 6.2 so that HTTP caches and
 * CDNs can serve pre-signed responses until their nextUpdate.
 */
#include "http/routes.h"
#include "http/text.h"

#include "core/hex.h"
#include "core/log.h"
#include "ocsp/ocsp.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define OCSP_PREFIX "/ocsp/"
/* A base64 GET request longer than this cannot hold a request we accept. */
#define MAX_GET_TEXT (RB_OCSP_MAX_REQUEST_BYTES / 3 * 4 + 4)

/* RFC 6960 A.1: Content-Type must be application/ocsp-request when given. */
static int content_type_acceptable(const rb_http_request *req)
{
    const char *value = rb_http_header(req, "Content-Type");
    static const char type[] = "application/ocsp-request";
    size_t n = sizeof(type) - 1;
    if (value == NULL)
        return 1;
    return strncasecmp(value, type, n) == 0 &&
           (value[n] == '\0' || value[n] == ';' || value[n] == ' ');
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Percent-decodes text into a new string, mapping the URL-safe alphabet to
 * standard base64 on the way (some clients send '-' and '_'). NULL when a
 * %XX escape is broken or memory runs out.
 */
static char *url_decode(const char *text)
{
    size_t len = strlen(text);
    char *out = malloc(len + 1);
    size_t used = 0;
    for (size_t i = 0; out != NULL && i < len; i++) {
        char c = text[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_value(text[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value(text[i + 2]) : -1;
            if (lo < 0) {
                free(out);
                return NULL;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        out[used++] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    if (out != NULL)
        out[used] = '\0';
    return out;
}

/* Decodes base64 text (padding optional) into a new buffer; NULL if it is not base64. */
static uint8_t *base64_decode(const char *text, size_t *out_len)
{
    size_t len = strlen(text);
    uint8_t *out = malloc(len / 4 * 3 + 6);
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    int n = 0, tail = 0, ok = out != NULL && ctx != NULL;
    if (ok) {
        EVP_DecodeInit(ctx);
        ok = EVP_DecodeUpdate(ctx, out, &n, (const unsigned char *)text, (int)len) >= 0 &&
             EVP_DecodeFinal(ctx, out + n, &tail) == 1;
    }
    EVP_ENCODE_CTX_free(ctx);
    if (!ok) {
        free(out);
        return NULL;
    }
    *out_len = (size_t)(n + tail);
    return out;
}

/* RFC 5019 6.2: the ETag is the SHA-1 of the OCSPResponse. Writes "\"hex\"". */
static void entity_tag(const rb_ocsp_answer *answer, char out[SHA_DIGEST_LENGTH * 2 + 3])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1(answer->der, answer->der_len, md);
    out[0] = '"';
    rb_hex_lower(md, SHA_DIGEST_LENGTH, out + 1);
    out[1 + 2 * SHA_DIGEST_LENGTH] = '"';
    out[2 + 2 * SHA_DIGEST_LENGTH] = '\0';
}

static void add_cache_headers(const rb_http_request *req, rb_http_response *resp,
                              const rb_ocsp_answer *answer)
{
    if (!answer->cacheable) {
        rb_http_add_header(resp, "Cache-Control", "no-cache");
        return;
    }
    int64_t now = rb_ctx_now_ms(req->ctx);
    int64_t max_age = answer->next_update_ms > now ? (answer->next_update_ms - now) / 1000 : 0;
    char value[128], tag[SHA_DIGEST_LENGTH * 2 + 3];
    snprintf(value, sizeof(value), "max-age=%lld, public, no-transform, must-revalidate",
             (long long)max_age);
    rb_http_add_header(resp, "Cache-Control", value);
    entity_tag(answer, tag);
    rb_http_add_header(resp, "ETag", tag);
    rb_http_date(answer->this_update_ms, value, sizeof(value));
    rb_http_add_header(resp, "Last-Modified", value);
    rb_http_date(answer->next_update_ms, value, sizeof(value));
    rb_http_add_header(resp, "Expires", value);
}

/* Answers der; for GET (get set) with caching headers and If-None-Match. */
static void answer(rb_http_request *req, rb_http_response *resp, const rb_ocsp_responder *r,
                   const uint8_t *der, size_t len, int get)
{
    rb_ocsp_answer a = {0};
    rb_error err = {0};
    if (rb_ocsp_respond(r, req->ctx, der, len, &a, &err) != RB_OK) {
        rb_http_respond_error(resp, 500, "ocsp_failed", "the OCSP responder ran out of memory");
        return;
    }
    if (a.response_status == OCSP_RESPONSE_STATUS_INTERNALERROR)
        rb_log(RB_LOG_ERROR, "ocsp: %s", err.message);
    if (get)
        add_cache_headers(req, resp, &a);
    const char *match = get ? rb_http_header(req, "If-None-Match") : NULL;
    char tag[SHA_DIGEST_LENGTH * 2 + 3];
    if (match != NULL && a.cacheable) {
        entity_tag(&a, tag);
        if (strcmp(match, tag) == 0) {
            rb_ocsp_answer_clear(&a);
            rb_http_respond_take(resp, 304, "application/ocsp-response", NULL, 0);
            return;
        }
    }
    /* Every OCSPResponse, error statuses included, travels as 200 (RFC 6960 A.1). */
    rb_http_respond_take(resp, 200, "application/ocsp-response", a.der, a.der_len);
}

static int unavailable(const rb_ocsp_responder *r, rb_http_response *resp)
{
    if (r != NULL)
        return 0;
    rb_http_respond_error(resp, 503, "ocsp_unavailable",
                          "this server has no OCSP responder certificate");
    return 1;
}

void rb_http_handle_ocsp_post(rb_http_request *req, rb_http_response *resp, void *arg)
{
    const rb_ocsp_responder *r = arg;
    if (unavailable(r, resp))
        return;
    if (!content_type_acceptable(req)) {
        rb_http_respond_error(resp, 415, "unsupported_media_type",
                              "send the request as application/ocsp-request (RFC 6960 A.1.1)");
        return;
    }
    answer(req, resp, r, req->body, req->body_len, 0);
}

void rb_http_handle_ocsp_get(rb_http_request *req, rb_http_response *resp, void *arg)
{
    const rb_ocsp_responder *r = arg;
    if (unavailable(r, resp))
        return;
    const char *encoded = req->path + strlen(OCSP_PREFIX);
    if (strncmp(req->path, OCSP_PREFIX, strlen(OCSP_PREFIX)) != 0 ||
        strlen(encoded) > MAX_GET_TEXT) {
        answer(req, resp, r, NULL, 0, 1); /* malformedRequest */
        return;
    }
    char *text = url_decode(encoded);
    size_t len = 0;
    uint8_t *der = text ? base64_decode(text, &len) : NULL;
    answer(req, resp, r, der, der ? len : 0, 1);
    free(der);
    free(text);
}
