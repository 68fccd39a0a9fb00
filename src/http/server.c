/*
 * libmicrohttpd glue: one daemon with its own thread pool (each pool thread
 * polls its share of connections and runs handlers), request bodies gathered
 * up to a limit, routing, per-thread rb_ctx with a lazily opened store
 * connection, deferred responses through suspend/resume, and a graceful stop
 * (quiesce, let requests in flight finish, then close everything).
 */
#include "http/server.h"

#include "core/log.h"
#include "core/perthread.h"
#include "http/accesslog.h"
#include "http/stats.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY  (1024 * 1024)
#define DEFAULT_MAX_CONN  1024
#define DEFAULT_TIMEOUT_S 30
/*
 * Request line and headers must fit in this, and libmicrohttpd clears all of
 * it for every request: 16 KiB holds any sane request and costs a quarter of
 * the default 64 KiB.
 */
#define MEMORY_PER_CONN (16 * 1024)
#define BUILTIN_ROUTES  2

struct rb_http_server {
    rb_http_config cfg;
    rb_http_route *routes;
    size_t route_count;
    http_route_stats *stats; /* route_count + 1: the last counts unmatched requests */
    struct MHD_Daemon *daemon;
    rb_perthread *threads; /* rb_ctx per pool thread */
    rb_perthread *spares;  /* http_spare per pool thread */
    http_log *log;         /* NULL: no access log */
    struct sockaddr_storage addr;
    _Atomic int in_flight;
    _Atomic int stopping;
    unsigned port;
};

/* One request from first header to completion; also what rb_http_defer returns. */
typedef struct rb_http_deferral {
    rb_http_server *srv;
    struct MHD_Connection *conn;
    struct timespec start;
    size_t route; /* index into srv->stats */
    char method[16], version[16];
    char *path;
    size_t path_cap;
    uint8_t *body;
    size_t body_len, body_cap;
    int too_large;
    rb_http_request req;
    rb_http_response resp;
    int handled;
    int sent_status;
    size_t sent_bytes;
    pthread_mutex_t lock; /* guards the three fields below */
    int deferred, suspended, released, release_ok;
} request_state;

/* ---- responses ---- */

rb_status rb_http_respond(rb_http_response *resp, int status, const char *content_type,
                          const void *data, size_t len)
{
    uint8_t *copy = malloc(len + 1);
    if (copy == NULL)
        return RB_ENOMEM;
    if (len > 0)
        memcpy(copy, data, len);
    rb_http_respond_take(resp, status, content_type, copy, len);
    return RB_OK;
}

void rb_http_respond_take(rb_http_response *resp, int status, const char *content_type,
                          uint8_t *data, size_t len)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = content_type;
    resp->body = data;
    resp->body_len = len;
}

void rb_http_respond_error(rb_http_response *resp, int status, const char *code,
                           const char *message)
{
    json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL) {
        rb_http_respond_take(resp, status, "application/json", NULL, 0);
        return;
    }
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL; the body is counted, not terminated */
    rb_http_respond_take(resp, status, "application/json", (uint8_t *)text, len + 1);
}

int rb_http_add_header(rb_http_response *resp, const char *name, const char *value)
{
    if (resp->header_count >= RB_HTTP_MAX_HEADERS)
        return -1;
    int i = resp->header_count++;
    snprintf(resp->headers[i].name, sizeof(resp->headers[i].name), "%s", name);
    snprintf(resp->headers[i].value, sizeof(resp->headers[i].value), "%s", value);
    return 0;
}

/* ---- request accessors ---- */

const char *rb_http_query(const rb_http_request *req, const char *name)
{
    const request_state *st = req->internal;
    return MHD_lookup_connection_value(st->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *rb_http_header(const rb_http_request *req, const char *name)
{
    const request_state *st = req->internal;
    return MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, name);
}

/*
 * libmicrohttpd hands out the GnuTLS session; the peer's certificate comes from
 * gnutls_certificate_get_peers. libmicrohttpd has already loaded GnuTLS, so we
 * look the function up rather than link GnuTLS ourselves (the Makefile does
 * not list it).
 */
typedef const gnutls_datum_t *(*get_peers_fn)(gnutls_session_t, unsigned int *);

X509 *rb_http_client_cert(const rb_http_request *req)
{
    const request_state *st = req->internal;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (info == NULL || info->tls_session == NULL)
        return NULL;
    get_peers_fn get_peers = (get_peers_fn)dlsym(RTLD_DEFAULT, "gnutls_certificate_get_peers");
    if (get_peers == NULL)
        return NULL;
    unsigned int count = 0;
    const gnutls_datum_t *certs = get_peers(info->tls_session, &count);
    if (certs == NULL || count == 0)
        return NULL;
    const unsigned char *p = certs[0].data;
    return d2i_X509(NULL, &p, (long)certs[0].size);
}

/* ---- deferral ---- */

rb_http_deferral *rb_http_defer(rb_http_request *req)
{
    request_state *st = req->internal;
    pthread_mutex_lock(&st->lock);
    st->deferred = 1;
    pthread_mutex_unlock(&st->lock);
    return st;
}

void rb_http_release(rb_http_deferral *st, int ok)
{
    pthread_mutex_lock(&st->lock);
    st->released = 1;
    st->release_ok = ok;
    int resume = st->suspended;
    /* Resuming under the lock: the connection cannot complete (and st be freed) before. */
    if (resume)
        MHD_resume_connection(st->conn);
    pthread_mutex_unlock(&st->lock);
}

/* ---- per-thread context ---- */

static void *thread_make(void *arg, rb_error *err)
{
    const rb_http_server *srv = arg;
    rb_ctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        rb_fail(err, RB_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    ctx->clock = srv->cfg.clock;
    ctx->actor = "http";
    ctx->data_dir = srv->cfg.data_dir;
    if (srv->cfg.db != NULL && rb_store_open(srv->cfg.db, &ctx->store, err) != RB_OK) {
        free(ctx);
        return NULL;
    }
    return ctx;
}

static void thread_free(void *value)
{
    rb_ctx *ctx = value;
    rb_store_close(ctx->store);
    free(ctx);
}

/* ---- built-in routes ---- */

static void handle_healthz(rb_http_request *req, rb_http_response *resp, void *arg)
{
    (void)arg;
    rb_error err = {0};
    rb_stmt *stmt;
    int has_row = 0;
    rb_status s = RB_OK;
    if (req->ctx->store != NULL) {
        s = rb_store_prepare(req->ctx->store, "SELECT 1", &stmt, &err);
        if (s == RB_OK)
            s = rb_stmt_step(stmt, &has_row, &err);
        if (s == RB_OK)
            rb_stmt_reset(stmt);
    }
    if (s != RB_OK) {
        rb_http_respond_error(resp, 503, "store_unavailable", err.message);
        return;
    }
    static const char ok[] = "{\"status\":\"ok\"}\n";
    if (rb_http_respond(resp, 200, "application/json", ok, sizeof(ok) - 1) != RB_OK)
        rb_http_respond_error(resp, 500, "out_of_memory", "out of memory");
}

static void handle_metrics(rb_http_request *req, rb_http_response *resp, void *arg)
{
    (void)req;
    const rb_http_server *srv = arg;
    size_t len;
    char *text = http_stats_render(srv->stats, srv->route_count + 1, &len);
    if (text == NULL) {
        rb_http_respond_error(resp, 500, "out_of_memory", "out of memory");
        return;
    }
    rb_http_respond_take(resp, 200, "text/plain; version=0.0.4; charset=utf-8", (uint8_t *)text,
                         len);
}

/* ---- routing ---- */

static int path_matches(const rb_http_route *route, const char *path)
{
    if (route->prefix)
        return strncmp(path, route->path, strlen(route->path)) == 0;
    return strcmp(path, route->path) == 0;
}

/* Index of the route for method and path; -1 with allow filled when only the method is wrong. */
static long find_route(const rb_http_server *srv, const char *method, const char *path, char *allow,
                       size_t allow_len)
{
    allow[0] = '\0';
    for (size_t i = 0; i < srv->route_count; i++) {
        const rb_http_route *r = &srv->routes[i];
        if (!path_matches(r, path))
            continue;
        if (strcmp(r->method, method) == 0)
            return (long)i;
        size_t used = strlen(allow);
        snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", r->method);
    }
    return -1;
}

static void dispatch(request_state *st)
{
    rb_http_server *srv = st->srv;
    char allow[128];
    long route = find_route(srv, st->method, st->path, allow, sizeof(allow));
    if (route < 0 && allow[0] != '\0') {
        rb_http_respond_error(&st->resp, 405, "method_not_allowed",
                              "this path does not accept that method");
        rb_http_add_header(&st->resp, "Allow", allow);
        return;
    }
    if (route < 0) {
        rb_http_respond_error(&st->resp, 404, "not_found", "there is nothing at this path");
        return;
    }
    st->route = (size_t)route;
    rb_error err = {0};
    void *ctx;
    if (rb_perthread_get(srv->threads, &ctx, &err) != RB_OK) {
        rb_log(RB_LOG_ERROR, "http: no database connection: %s", err.message);
        rb_http_respond_error(&st->resp, 503, "store_unavailable",
                              "the service cannot reach its database; try again shortly");
        return;
    }
    st->req.ctx = ctx;
    st->req.body = st->body_len > 0 ? st->body : (const uint8_t *)"";
    st->req.body_len = st->body_len;
    srv->routes[route].handler(&st->req, &st->resp, srv->routes[route].arg);
    if (st->resp.status == 0)
        rb_http_respond_error(&st->resp, 500, "internal", "the handler gave no answer");
}

/* ---- libmicrohttpd callbacks ---- */

/*
 * Each pool thread keeps the state of its last finished request, buffers
 * included, for its next one: a keep-alive client then costs no allocation
 * per request here (and no malloc_consolidate, which every free-then-calloc of
 * a state this size set off).
 */
#define SPARE_MAX_BODY (64 * 1024) /* larger body buffers are not kept */

typedef struct http_spare {
    request_state *st;
} http_spare;

static void state_destroy(request_state *st)
{
    free(st->resp.body);
    free(st->body);
    free(st->path);
    free(st);
}

static void *spare_make(void *arg, rb_error *err)
{
    (void)arg;
    http_spare *spare = calloc(1, sizeof(*spare));
    if (spare == NULL)
        rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    return spare;
}

static void spare_free(void *value)
{
    http_spare *spare = value;
    if (spare->st != NULL)
        state_destroy(spare->st);
    free(spare);
}

/* A cleared state, the thread's spare if it has one (its buffers kept), else a new one. */
static request_state *state_take(rb_http_server *srv)
{
    http_spare *spare = NULL;
    rb_error ignored = {0};
    if (rb_perthread_get(srv->spares, (void **)&spare, &ignored) != RB_OK || spare->st == NULL)
        return calloc(1, sizeof(request_state));
    request_state *st = spare->st;
    spare->st = NULL;
    char *path = st->path;
    size_t path_cap = st->path_cap;
    uint8_t *body = st->body;
    size_t body_cap = st->body_cap;
    memset(st, 0, sizeof(*st));
    st->path = path;
    st->path_cap = path_cap;
    st->body = body;
    st->body_cap = body_cap;
    return st;
}

static void state_free(request_state *st)
{
    /*
     * rb_http_release resumes the connection with st->lock held, so this
     * request can complete before that thread has unlocked: wait for it to
     * let go before the state is reused or freed.
     */
    pthread_mutex_lock(&st->lock);
    pthread_mutex_unlock(&st->lock);
    pthread_mutex_destroy(&st->lock);
    free(st->resp.body);
    st->resp.body = NULL;
    http_spare *spare = NULL;
    rb_error ignored = {0};
    if (st->body_cap <= SPARE_MAX_BODY &&
        rb_perthread_get(st->srv->spares, (void **)&spare, &ignored) == RB_OK &&
        spare->st == NULL) {
        spare->st = st;
        return;
    }
    state_destroy(st);
}

static request_state *state_new(rb_http_server *srv, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version)
{
    request_state *st = state_take(srv);
    if (st == NULL)
        return NULL;
    size_t url_len = strlen(url);
    if (url_len + 1 > st->path_cap) {
        char *grown = realloc(st->path, url_len + 1);
        if (grown == NULL) {
            state_destroy(st);
            return NULL;
        }
        st->path = grown;
        st->path_cap = url_len + 1;
    }
    memcpy(st->path, url, url_len + 1);
    clock_gettime(CLOCK_MONOTONIC, &st->start);
    st->srv = srv;
    st->conn = conn;
    st->route = srv->route_count;
    snprintf(st->method, sizeof(st->method), "%s", method);
    snprintf(st->version, sizeof(st->version), "%s", version);
    pthread_mutex_init(&st->lock, NULL);
    st->req.method = st->method;
    st->req.path = st->path;
    st->req.internal = st;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    if (sa != NULL && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  st->req.client_addr, sizeof(st->req.client_addr));
    else if (sa != NULL && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  st->req.client_addr, sizeof(st->req.client_addr));
    else
        snprintf(st->req.client_addr, sizeof(st->req.client_addr), "-");
    return st;
}

static enum MHD_Result send_response(request_state *st)
{
    rb_http_response *resp = &st->resp;
    if (st->deferred && !st->release_ok)
        rb_http_respond_error(resp, 503, "not_recorded",
                              "the answer could not be recorded, so it was not sent; try again");
    struct MHD_Response *r;
    if (resp->body != NULL)
        r = MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
    else
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    resp->body = NULL; /* now owned by libmicrohttpd */
    if (resp->content_type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    for (int i = 0; i < resp->header_count; i++)
        MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
    if (atomic_load(&st->srv->stopping))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    st->sent_status = resp->status;
    st->sent_bytes = resp->body_len;
    enum MHD_Result rc = MHD_queue_response(st->conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return rc;
}

static int too_large(request_state *st)
{
    rb_http_respond_error(&st->resp, 413, "body_too_large", "the request body is too large");
    return send_response(st);
}

static int append_body(request_state *st, const char *data, size_t len)
{
    size_t max = st->srv->cfg.max_body;
    if (st->too_large || st->body_len + len > max) {
        st->too_large = 1;
        return 0;
    }
    if (st->body_len + len + 1 > st->body_cap) {
        size_t cap = st->body_cap ? st->body_cap * 2 : 4096;
        while (cap < st->body_len + len + 1)
            cap *= 2;
        if (cap > max + 1)
            cap = max + 1;
        uint8_t *grown = realloc(st->body, cap);
        if (grown == NULL)
            return -1;
        st->body = grown;
        st->body_cap = cap;
    }
    memcpy(st->body + st->body_len, data, len);
    st->body_len += len;
    st->body[st->body_len] = '\0';
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    request_state *st = *con_cls;
    if (st == NULL) {
        st = state_new(cls, conn, url, method, version);
        if (st == NULL)
            return MHD_NO;
        *con_cls = st;
        atomic_fetch_add(&st->srv->in_flight, 1);
        const char *length =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length != NULL && strtoull(length, NULL, 10) > st->srv->cfg.max_body) {
            st->too_large = 1;
            return too_large(st) ? MHD_YES : MHD_NO;
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (append_body(st, upload_data, *upload_data_size) != 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (st->handled)
        return send_response(st); /* resumed after rb_http_release */
    if (st->too_large)
        return too_large(st) ? MHD_YES : MHD_NO;
    dispatch(st);
    st->handled = 1;
    pthread_mutex_lock(&st->lock);
    if (st->deferred && !st->released) {
        st->suspended = 1;
        MHD_suspend_connection(conn);
        pthread_mutex_unlock(&st->lock);
        return MHD_YES;
    }
    pthread_mutex_unlock(&st->lock);
    return send_response(st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    rb_http_server *srv = cls;
    request_state *st = *con_cls;
    if (st == NULL)
        return;
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    int64_t us =
        (end.tv_sec - st->start.tv_sec) * 1000000LL + (end.tv_nsec - st->start.tv_nsec) / 1000;
    int status = st->sent_status ? st->sent_status : 499; /* the client went away first */
    http_stats_record(&srv->stats[st->route], status, us > 0 ? (uint64_t)us : 0);
    http_log_line(srv->log, st->req.client_addr, st->method, st->path, st->version, status,
                  st->sent_bytes, us > 0 ? (uint64_t)us : 0);
    state_free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char text[512];
    vsnprintf(text, sizeof(text), fmt, ap);
    text[strcspn(text, "\n")] = '\0';
    rb_log(RB_LOG_WARN, "http: %s", text);
}

/* ---- start and stop ---- */

/* Parses "HOST:PORT" or "[V6]:PORT" into srv->addr. */
static rb_status parse_listen(const char *listen, struct sockaddr_storage *out, rb_error *err)
{
    char host[256];
    const char *port;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - listen) > sizeof(host))
            return rb_fail(err, RB_EINVAL, NULL, "listen address '%s' is not [ADDRESS]:PORT",
                           listen);
        snprintf(host, sizeof(host), "%.*s", (int)(close - listen - 1), listen + 1);
        port = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (colon == NULL || (size_t)(colon - listen) >= sizeof(host))
            return rb_fail(err, RB_EINVAL, NULL, "listen address '%s' is not ADDRESS:PORT", listen);
        snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
        port = colon + 1;
    }
    char *end;
    long number = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || number < 0 || number > 65535)
        return rb_fail(err, RB_EINVAL, NULL, "'%s' is not a port number (0 to 65535)", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &found);
    if (rc != 0)
        return rb_fail(err, RB_EINVAL, NULL, "cannot listen on '%s': %s", listen, gai_strerror(rc));
    memcpy(out, found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    return RB_OK;
}

static rb_status make_server(const rb_http_config *cfg, const rb_http_route *routes,
                             size_t route_count, rb_http_server **out, rb_error *err)
{
    rb_http_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    srv->cfg = *cfg;
    if (srv->cfg.max_body == 0)
        srv->cfg.max_body = DEFAULT_MAX_BODY;
    if (srv->cfg.max_connections == 0)
        srv->cfg.max_connections = DEFAULT_MAX_CONN;
    if (srv->cfg.timeout_s == 0)
        srv->cfg.timeout_s = DEFAULT_TIMEOUT_S;
    if (srv->cfg.threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        srv->cfg.threads = cores > 0 ? (unsigned)cores : 1;
    }
    if (srv->cfg.access_log_fd == 0)
        srv->cfg.access_log_fd = STDERR_FILENO;
    srv->route_count = route_count + BUILTIN_ROUTES;
    srv->routes = calloc(srv->route_count, sizeof(*srv->routes));
    srv->stats = calloc(srv->route_count + 1, sizeof(*srv->stats));
    if (srv->routes == NULL || srv->stats == NULL) {
        free(srv->routes);
        free(srv->stats);
        free(srv);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    srv->routes[0] = (rb_http_route){"GET", "/healthz", 0, handle_healthz, srv};
    srv->routes[1] = (rb_http_route){"GET", "/metrics", 0, handle_metrics, srv};
    memcpy(srv->routes + BUILTIN_ROUTES, routes, route_count * sizeof(*routes));
    for (size_t i = 0; i < srv->route_count; i++)
        srv->stats[i].label = srv->routes[i].path;
    srv->stats[srv->route_count].label = "unmatched";
    *out = srv;
    return RB_OK;
}

static void free_server(rb_http_server *srv)
{
    http_log_close(srv->log); /* writes out what the pool threads buffered */
    rb_perthread_free(srv->threads);
    rb_perthread_free(srv->spares);
    free(srv->routes);
    free(srv->stats);
    free(srv);
}

rb_status rb_http_server_start(const rb_http_config *cfg, const rb_http_route *routes,
                               size_t route_count, rb_http_server **out, rb_error *err)
{
    rb_http_server *srv = NULL;
    rb_status s = make_server(cfg, routes, route_count, &srv, err);
    if (s != RB_OK)
        return s;
    s = parse_listen(cfg->listen ? cfg->listen : "127.0.0.1:8080", &srv->addr, err);
    if (s == RB_OK)
        s = rb_perthread_new(thread_make, thread_free, srv, &srv->threads, err);
    if (s == RB_OK)
        s = rb_perthread_new(spare_make, spare_free, srv, &srv->spares, err);
    if (s == RB_OK && srv->cfg.access_log_fd >= 0)
        s = http_log_open(srv->cfg.access_log_fd, &srv->log, err);
    if (s != RB_OK) {
        free_server(srv);
        return s;
    }
    /* AUTO picks epoll on Linux; TURBO reads and writes before asking epoll whether it may. */
    unsigned flags =
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (srv->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem options[16];
    int n = 0;
    /* The logger first, so that libmicrohttpd's complaints about later options reach it. */
    options[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL};
    options[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &srv->addr};
    options[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, srv->cfg.threads, NULL};
    options[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, srv->cfg.max_connections, NULL};
    options[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, srv->cfg.timeout_s, NULL};
    options[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, MEMORY_PER_CONN, NULL};
    options[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL};
    options[n++] =
        (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv};
    if (cfg->tls_cert_pem != NULL && cfg->tls_key_pem != NULL) {
        flags |= MHD_USE_TLS;
        options[n++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->tls_cert_pem};
        options[n++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key_pem};
        if (cfg->tls_trust_pem != NULL)
            options[n++] =
                (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)cfg->tls_trust_pem};
    }
    options[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, options,
                                   MHD_OPTION_END);
    if (srv->daemon == NULL) {
        free_server(srv);
        return rb_fail(err, RB_EIO, NULL,
                       "cannot serve on %s: the address is in use or not ours, or the TLS "
                       "certificate and key are not usable",
                       cfg->listen ? cfg->listen : "127.0.0.1:8080");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : 0;
    *out = srv;
    return RB_OK;
}

unsigned rb_http_server_port(const rb_http_server *srv)
{
    return srv->port;
}

const char *rb_http_server_scheme(const rb_http_server *srv)
{
    return srv->cfg.tls_cert_pem != NULL && srv->cfg.tls_key_pem != NULL ? "https" : "http";
}

void rb_http_server_stop(rb_http_server *srv, int grace_ms)
{
    if (srv == NULL)
        return;
    atomic_store(&srv->stopping, 1);
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    struct timespec tick = {0, 5 * 1000 * 1000};
    for (int waited = 0; atomic_load(&srv->in_flight) > 0 && waited < grace_ms; waited += 5)
        nanosleep(&tick, NULL);
    if (atomic_load(&srv->in_flight) > 0)
        rb_log(RB_LOG_WARN, "http: %d requests still running after %d ms; closing them",
               atomic_load(&srv->in_flight), grace_ms);
    MHD_stop_daemon(srv->daemon);
    free_server(srv);
}
