/*
 * The handlers of each group of routes, one file each (routes_tsa.c,
 * routes_ocsp.c, ...). serve.c lists them in its route table with the object
 * each one needs as arg; adding a group means a declaration here and one line
 * there.
 */
#ifndef RB_HTTP_ROUTES_H
#define RB_HTTP_ROUTES_H

#include "http/server.h"

/* POST /tsa (RFC 3161 3.4): arg is an rb_tsa *, or NULL when no TSA is set up (503). */
void rb_http_handle_tsa(rb_http_request *req, rb_http_response *resp, void *arg);

/*
 * POST /ocsp and GET /ocsp/{base64} (prefix route "/ocsp/"), RFC 6960 A.1 and
 * RFC 5019 5: arg is an rb_ocsp_responder *, or NULL when no responder is set up (503).
 */
void rb_http_handle_ocsp_post(rb_http_request *req, rb_http_response *resp, void *arg);
void rb_http_handle_ocsp_get(rb_http_request *req, rb_http_response *resp, void *arg);

#endif
