/*
 * The HTTP layer of `rubrica serve`, on libmicrohttpd: a pool of threads,
 * keep-alive, limits, a route table, per-thread store connections, an access
 * log, /healthz and /metrics, HTTPS, and a graceful stop. Handlers only parse
 * the request, call librubrica and fill a response; one file per group of
 * routes (routes_tsa.c, routes_ocsp.c, ...), each exporting an rb_http_route
 * table that serve.c lists.
 */
#ifndef RB_HTTP_SERVER_H
#define RB_HTTP_SERVER_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "core/context.h"
#include "core/error.h"

typedef struct rb_http_server rb_http_server;

/* One request, valid for the duration of the handler call. */
typedef struct rb_http_request {
    const char *method;
    const char *path;    /* without the query string */
    const uint8_t *body; /* NUL-terminated for convenience; may hold NULs */
    size_t body_len;
    char client_addr[64]; /* numeric address of the peer */
    rb_ctx *ctx;          /* this thread's context: its own store connection and clock */
    void *internal;       /* private to server.c */
} rb_http_request;

/* A query-string argument or a request header (case-insensitive), or NULL. Borrowed. */
const char *rb_http_query(const rb_http_request *req, const char *name);
const char *rb_http_header(const rb_http_request *req, const char *name);

/* The TLS client certificate, if the peer sent one (owned: X509_free), else NULL. */
X509 *rb_http_client_cert(const rb_http_request *req);

#define RB_HTTP_MAX_HEADERS 8

/* What a handler fills in. The server sends it and frees body. */
typedef struct rb_http_response {
    int status;
    const char *content_type; /* static string */
    uint8_t *body;            /* malloc'd; owned by the response */
    size_t body_len;
    int header_count;
    struct {
        char name[48];
        char value[208];
    } headers[RB_HTTP_MAX_HEADERS];
} rb_http_response;

/* Sets status, type and a copy of data as the body. Fails only for lack of memory. */
rb_status rb_http_respond(rb_http_response *resp, int status, const char *content_type,
                          const void *data, size_t len) RB_MUST_CHECK;
/* Like rb_http_respond but takes ownership of data (malloc'd). */
void rb_http_respond_take(rb_http_response *resp, int status, const char *content_type,
                          uint8_t *data, size_t len);
/* A JSON error body {"error":{"code":code,"message":message}}. */
void rb_http_respond_error(rb_http_response *resp, int status, const char *code,
                           const char *message);
/* Adds a header (name and value are copied, truncated to fit). Returns -1 when full. */
int rb_http_add_header(rb_http_response *resp, const char *name, const char *value);

typedef void (*rb_http_handler)(rb_http_request *req, rb_http_response *resp, void *arg);

/*
 * A route: method and path. path is matched exactly, or as a prefix when
 * prefix is set ("/crl/" matches "/crl/root.crl"). A path that matches with
 * another method gets 405; a path no route matches gets 404.
 */
typedef struct rb_http_route {
    const char *method;
    const char *path;
    int prefix;
    rb_http_handler handler;
    void *arg;
} rb_http_route;

/*
 * Holding a response back: a handler whose answer may only leave once some
 * other work completes (the TSA's token record being committed) calls
 * rb_http_defer, fills the response as usual and returns; whoever completes
 * the work calls rb_http_release, from any thread, exactly once. Meanwhile the
 * connection is suspended and the pool thread serves others. With ok == 0 the
 * response is replaced by a 503 error.
 */
typedef struct rb_http_deferral rb_http_deferral;
rb_http_deferral *rb_http_defer(rb_http_request *req);
void rb_http_release(rb_http_deferral *deferral, int ok);

typedef struct rb_http_config {
    const char *listen;       /* "ADDR:PORT" or "[V6ADDR]:PORT"; port 0 picks a free one */
    const char *db;           /* store location each thread connects to; NULL: no store */
    const char *data_dir;     /* for rb_ctx; may be NULL */
    rb_clock clock;           /* copied into each thread's rb_ctx */
    unsigned threads;         /* pool size; 0: one per core */
    size_t max_body;          /* bytes; larger bodies get 413. 0: 1 MiB */
    unsigned max_connections; /* 0: 1024 */
    unsigned timeout_s;       /* idle or slow connections are dropped after this; 0: 30 */
    const char *tls_cert_pem; /* with tls_key_pem: serve HTTPS */
    const char *tls_key_pem;
    const char *tls_trust_pem; /* CA certificates: ask clients for a certificate */
    int access_log_fd;         /* where access-log lines go (buffered, see accesslog.h); -1: none.
                                  0 means stderr */
} rb_http_config;

/*
 * Creates a server for routes (copied; /healthz and /metrics are added) and
 * starts listening. cfg's strings must outlive the server. Owned; stop and
 * free with rb_http_server_stop.
 */
rb_status rb_http_server_start(const rb_http_config *cfg, const rb_http_route *routes,
                               size_t route_count, rb_http_server **out,
                               rb_error *err) RB_MUST_CHECK;

/* The port listened on (useful with port 0). */
unsigned rb_http_server_port(const rb_http_server *srv);
/* "http" or "https". */
const char *rb_http_server_scheme(const rb_http_server *srv);

/*
 * Stops accepting connections, waits up to grace_ms for requests in flight
 * to finish, closes every connection and store, and frees srv. NULL is a no-op.
 */
void rb_http_server_stop(rb_http_server *srv, int grace_ms);

#endif
