/*
 * The handlers of each group of routes, one file each (routes_tsa.c,
 * routes_ocsp.c, ...). serve.c lists them in its route table with the object
 * each one needs as arg; adding a group means a declaration here and one line
 * there.
 */
#ifndef RB_HTTP_ROUTES_H
#define RB_HTTP_ROUTES_H

#include "http/server.h"
#include "keys/keys.h"

/* POST /tsa (RFC 3161 3.4): arg is an rb_tsa *, or NULL when no TSA is set up (503). */
void rb_http_handle_tsa(rb_http_request *req, rb_http_response *resp, void *arg);

/*
 * POST /ocsp and GET /ocsp/{base64} (prefix route "/ocsp/"), RFC 6960 A.1 and
 * RFC 5019 5: arg is an rb_ocsp_responder *, or NULL when no responder is set up (503).
 */
void rb_http_handle_ocsp_post(rb_http_request *req, rb_http_response *resp, void *arg);
void rb_http_handle_ocsp_get(rb_http_request *req, rb_http_response *resp, void *arg);

/*
 * GET /crl/{ca}.crl and /crl/{ca}-delta.crl (prefix "/crl/"): the CA's stored
 * complete or delta CRL, DER, read-only (the maintenance thread re-signs
 * them); arg unused.
 * GET /ca/{ca}.crt (prefix "/ca/"): a CA certificate, DER; arg unused.
 */
void rb_http_handle_crl(rb_http_request *req, rb_http_response *resp, void *arg);
void rb_http_handle_ca_cert(rb_http_request *req, rb_http_response *resp, void *arg);

/*
 * GET /repository[?q=&format=json|html&limit=&offset=]: published certificates
 * (holder's consent) and revoked serials. GET /repository/cp and
 * /repository/cps[?format=md]: the policy documents. arg unused.
 */
void rb_http_handle_repository(rb_http_request *req, rb_http_response *resp, void *arg);
void rb_http_handle_policy(rb_http_request *req, rb_http_response *resp, void *arg);

/*
 * The API's shared state: the key secret, one issuer per pool thread, the
 * client-certificate anchors and the failed-authentication limiter
 * (RUBRICA_API_AUTH_LIMIT=FAILURES/SECONDS, default 10/60).
 * Create before the server starts, free after it stops (rb_http_api_free
 * accepts NULL). secret is copied; the strings it points to must outlive api.
 */
typedef struct rb_http_api rb_http_api;
rb_status rb_http_api_new(const rb_key_secret *secret, rb_http_api **out,
                          rb_error *err) RB_MUST_CHECK;
/*
 * The anchors TLS client certificates must chain to (the PEM given to
 * --tls-client-ca, copied). Without them every client certificate is refused.
 * Call before the server starts.
 */
rb_status rb_http_api_set_client_trust(rb_http_api *api, const char *pem, size_t len,
                                       rb_error *err) RB_MUST_CHECK;
/*
 * Records every pending summary of throttled attempts (api.throttled) with
 * ctx, e.g. after the server stopped; otherwise they are recorded by the
 * next API call after their block ends.
 */
void rb_http_api_flush(rb_http_api *api, rb_ctx *ctx);
void rb_http_api_free(rb_http_api *api);

/* GET and POST under /api/v1/ (prefix routes): arg is an rb_http_api *. */
void rb_http_handle_api(rb_http_request *req, rb_http_response *resp, void *arg);

#endif
