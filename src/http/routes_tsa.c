/*
 * POST /tsa: RFC 3161 time-stamping over HTTP (section 3.4). The query comes
 * as application/timestamp-query and the answer goes back as
 * application/timestamp-reply, held back until the token's record is
 * committed (rb_tsa_respond_async + rb_http_defer), so the pool thread is free
 * for other clients while the record writer commits a group.
 */
#include "http/routes.h"

#include "tsa/tsa.h"

#include <string.h>
#include <strings.h>

/* Whether the Content-Type header names type, ignoring case and any parameters. */
static int content_type_is(const rb_http_request *req, const char *type)
{
    const char *value = rb_http_header(req, "Content-Type");
    size_t n = strlen(type);
    if (value == NULL || strncasecmp(value, type, n) != 0)
        return 0;
    return value[n] == '\0' || value[n] == ';' || value[n] == ' ';
}

static void record_done(void *arg, rb_status status)
{
    rb_http_release(arg, status == RB_OK);
}

void rb_http_handle_tsa(rb_http_request *req, rb_http_response *resp, void *arg)
{
    rb_tsa *tsa = arg;
    if (tsa == NULL) {
        rb_http_respond_error(resp, 503, "tsa_unavailable",
                              "this server has no time-stamping certificate");
        return;
    }
    if (!content_type_is(req, "application/timestamp-query")) {
        rb_http_respond_error(resp, 415, "unsupported_media_type",
                              "send the query as application/timestamp-query (RFC 3161 3.4)");
        return;
    }
    rb_http_deferral *deferral = rb_http_defer(req);
    uint8_t *der = NULL;
    size_t len = 0;
    rb_error err = {0};
    if (rb_tsa_respond_async(tsa, req->ctx, req->body, req->body_len, &der, &len, record_done,
                             deferral, &err) != RB_OK) {
        rb_http_respond_error(resp, 500, "tsa_failed", "the time-stamping unit failed");
        rb_http_release(deferral, 1);
        return;
    }
    /* Safe even if record_done already ran: nothing is sent before this handler returns. */
    rb_http_respond_take(resp, 200, "application/timestamp-reply", der, len);
}
