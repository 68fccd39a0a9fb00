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
 * GET /crl/{ca}.crl (prefix "/crl/"): the CA's current CRL, DER, re-signed
 * when stale; arg is the const rb_key_secret * that unlocks the CA keys.
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
 * The API's shared state: the key secret and one issuer per pool thread.
 * Create before the server starts, free after it stops (rb_http_api_free
 * accepts NULL). secret is copied; the strings it points to must outlive api.
 */
typedef struct rb_http_api rb_http_api;
rb_status rb_http_api_new(const rb_key_secret *secret, rb_http_api **out,
                          rb_error *err) RB_MUST_CHECK;
void rb_http_api_free(rb_http_api *api);

/* GET and POST under /api/v1/ (prefix routes): arg is an rb_http_api *. */
void rb_http_handle_api(rb_http_request *req, rb_http_response *resp, void *arg);

#endif
