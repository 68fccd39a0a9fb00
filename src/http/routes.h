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

#endif
