/*
 * `rubrica serve`: brings up the online services (TSA, OCSP, CRL and CA
 * distribution, repository, API) on one HTTP server and runs until SIGTERM or
 * SIGINT, then stops gracefully. The route table below is where each group of
 * routes is registered.
 */
#include "cli/cli.h"

#include "core/log.h"
#include "core/reader.h"
#include "http/maintenance.h"
#include "http/routes.h"
#include "http/server.h"
#include "ocsp/ocsp.h"
#include "tsa/tsa.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TLS_PEM_MAX   (256 * 1024)
#define STOP_GRACE_MS 10000

enum {
    OPT_LISTEN = 1,
    OPT_THREADS,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_CLIENT_CA,
    OPT_ACCESS_LOG,
    OPT_TIMEOUT,
    OPT_MAINTENANCE_INTERVAL,
    OPT_CHECKPOINT_INTERVAL
};

static const struct option serve_options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA},
    {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"maintenance-interval", required_argument, NULL, OPT_MAINTENANCE_INTERVAL},
    {"checkpoint-interval", required_argument, NULL, OPT_CHECKPOINT_INTERVAL},
    CLI_GLOBAL_OPTIONS,
    {NULL, 0, NULL, 0},
};

typedef struct serve_options_t {
    cli_globals g;
    const char *listen, *tls_cert, *tls_key, *tls_client_ca, *access_log;
    unsigned threads, timeout_s, maintenance_s, checkpoint_s;
} serve_opts;

/* What the services need, loaded once and shared by every pool thread. */
typedef struct services {
    rb_tsa *tsa;
    rb_ocsp_responder *ocsp;
    rb_http_api *api;
} services;

/* A route and the name printed for it at start-up (NULL: not announced). */
typedef struct listed_route {
    rb_http_route route;
    const char *announce;
} listed_route;

/*
 * The route table: one line per route. OCSP, CRL/CA distribution, the
 * repository and the API add theirs here.
 */
static size_t build_routes(const services *svc, listed_route *out, size_t cap)
{
    const listed_route all[] = {
        {{"POST", "/tsa", 0, rb_http_handle_tsa, svc->tsa}, "TSA /tsa"},
        {{"POST", "/ocsp", 0, rb_http_handle_ocsp_post, svc->ocsp}, "OCSP /ocsp"},
        {{"GET", "/ocsp/", 1, rb_http_handle_ocsp_get, svc->ocsp}, NULL},
        {{"GET", "/crl/", 1, rb_http_handle_crl, NULL}, "CRL /crl/{ca}.crl, /crl/{ca}-delta.crl"},
        {{"GET", "/ca/", 1, rb_http_handle_ca_cert, NULL}, "CA /ca/{ca}.crt"},
        {{"GET", "/repository", 0, rb_http_handle_repository, NULL}, "repository /repository"},
        {{"GET", "/repository/cp", 0, rb_http_handle_policy, NULL}, NULL},
        {{"GET", "/repository/cps", 0, rb_http_handle_policy, NULL}, NULL},
        {{"GET", "/api/v1/", 1, rb_http_handle_api, svc->api}, "API /api/v1/"},
        {{"POST", "/api/v1/", 1, rb_http_handle_api, svc->api}, NULL},
    };
    size_t n = sizeof(all) / sizeof(all[0]);
    if (n > cap)
        n = cap;
    memcpy(out, all, n * sizeof(all[0]));
    return n;
}

/* optarg as a whole number from 1 to max, for the option name; what it is, for the message. */
static int parse_count(const cli_command *cmd, const char *name, const char *what, long max,
                       unsigned *out)
{
    char *end;
    long n = strtol(optarg, &end, 10);
    if (*optarg == '\0' || *end != '\0' || n < 1 || n > max)
        return cli_usage_error(cmd, "%s takes %s from 1 to %ld", name, what, max);
    *out = (unsigned)n;
    return 0;
}

static int parse_serve_options(int argc, char **argv, serve_opts *o)
{
    const cli_command *cmd = &cli_serve_command[0];
    int opt, rc = 0;
    cli_getopt_reset();
    while (rc == 0 && (opt = getopt_long(argc, argv, "", serve_options, NULL)) != -1) {
        if (cli_global_option(opt, &o->g, cmd))
            continue;
        switch (opt) {
        case OPT_LISTEN:
            o->listen = optarg;
            break;
        case OPT_THREADS:
            rc = parse_count(cmd, "--threads", "a number", 256, &o->threads);
            break;
        case OPT_TLS_CERT:
            o->tls_cert = optarg;
            break;
        case OPT_TLS_KEY:
            o->tls_key = optarg;
            break;
        case OPT_TLS_CLIENT_CA:
            o->tls_client_ca = optarg;
            break;
        case OPT_ACCESS_LOG:
            o->access_log = optarg;
            break;
        case OPT_TIMEOUT:
            rc = parse_count(cmd, "--timeout", "a number of seconds", 3600, &o->timeout_s);
            break;
        case OPT_MAINTENANCE_INTERVAL:
            rc = parse_count(cmd, "--maintenance-interval", "a number of seconds",
                             RB_MAINTENANCE_MAX_INTERVAL_S, &o->maintenance_s);
            break;
        case OPT_CHECKPOINT_INTERVAL:
            rc = parse_count(cmd, "--checkpoint-interval", "a number of seconds",
                             RB_MAINTENANCE_MAX_INTERVAL_S, &o->checkpoint_s);
            break;
        }
    }
    if (rc != 0)
        return rc;
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if ((o->tls_cert == NULL) != (o->tls_key == NULL))
        return cli_usage_error(cmd, "--tls-cert and --tls-key go together");
    if (o->tls_client_ca != NULL && o->tls_cert == NULL)
        return cli_usage_error(cmd, "--tls-client-ca needs --tls-cert and --tls-key");
    return 0;
}

static int load_pem(const char *path, char **out)
{
    if (path == NULL) {
        *out = NULL;
        return 0;
    }
    rb_error err = {0};
    uint8_t *data;
    size_t len;
    if (rb_read_file(path, TLS_PEM_MAX, &data, &len, &err) != RB_OK)
        return cli_report(&err);
    *out = (char *)data;
    return 0;
}

/* Loads the TSA from the store; a missing TSA certificate only disables /tsa. */
static int load_tsa(rb_ctx *ctx, const char *db, const rb_key_secret *secret, rb_tsa **out)
{
    rb_error err = {0};
    rb_status s = cli_open_tsa(ctx, db, secret, out, &err);
    if (s == RB_ENOTFOUND) {
        rb_log(RB_LOG_WARN, "%s; /tsa will answer 503", err.message);
        *out = NULL;
        return 0;
    }
    return s == RB_OK ? 0 : cli_report(&err);
}

/*
 * Loads the OCSP responder; a store without a responder certificate only
 * disables /ocsp. The answers that are missing or expiring are pre-signed by
 * the maintenance thread, in the background, so that a large CA starts
 * serving at once (until then a missing answer is signed on first request).
 */
static int load_ocsp(rb_ctx *ctx, const rb_key_secret *secret, rb_ocsp_responder **out)
{
    rb_error err = {0};
    rb_ocsp_responder *r = NULL;
    rb_status s = rb_ocsp_responder_load(ctx, secret, &r, &err);
    if (s == RB_ENOTFOUND) {
        rb_log(RB_LOG_WARN, "%s; /ocsp will answer 503", err.message);
        *out = NULL;
        return 0;
    }
    if (s != RB_OK)
        return cli_report(&err);
    *out = r;
    return 0;
}

/*
 * The first maintenance pass, before anything is served: expired holds become
 * revocations and every CA has a current complete and delta CRL. A CA key that
 * cannot be unlocked only costs a warning: the stored CRLs are served as they are.
 */
static void first_maintenance(rb_ctx *ctx, const rb_key_secret *secret)
{
    rb_error err = {0};
    rb_maintenance_report r;
    if (rb_maintenance_pass(ctx, secret, NULL, NULL, NULL, &r, &err) != RB_OK)
        rb_log(RB_LOG_WARN, "maintenance: %s", err.message);
    else if (r.crls_signed || r.holds_converted)
        rb_log(RB_LOG_INFO, "maintenance: %d CRLs signed, %d expired holds revoked", r.crls_signed,
               r.holds_converted);
}

static int start_api(const rb_key_secret *secret, rb_http_api **out)
{
    rb_error err = {0};
    return rb_http_api_new(secret, out, &err) == RB_OK ? 0 : cli_report(&err);
}

/* Client certificates must chain to the --tls-client-ca certificates (the API checks). */
static int trust_clients(rb_http_api *api, const char *pem)
{
    rb_error err = {0};
    if (pem == NULL)
        return 0;
    return rb_http_api_set_client_trust(api, pem, strlen(pem), &err) == RB_OK ? 0
                                                                              : cli_report(&err);
}

static void announce(const rb_http_server *srv, const char *listen, const listed_route *routes,
                     size_t count)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", listen);
    char *colon = strrchr(host, ':');
    if (colon != NULL)
        *colon = '\0';
    printf("rubrica: serving %s://%s:%u (", rb_http_server_scheme(srv), host,
           rb_http_server_port(srv));
    for (size_t i = 0; i < count; i++)
        if (routes[i].announce != NULL)
            printf("%s, ", routes[i].announce);
    printf("health /healthz, metrics /metrics)\n");
    fflush(stdout);
}

/* Blocks SIGTERM and SIGINT in every thread (the pool inherits the mask) and waits for one. */
static int wait_for_stop(const sigset_t *set)
{
    int sig = 0;
    sigwait(set, &sig);
    rb_log(RB_LOG_INFO, "received %s; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    return sig;
}

static int serve(serve_opts *o)
{
    rb_ctx ctx;
    int rc = cli_open(&o->g, &ctx);
    if (rc != 0)
        return rc;
    char db[4096];
    cli_db_location(&ctx, &o->g, db, sizeof(db));
    services svc = {0};
    char *cert_pem = NULL, *key_pem = NULL, *trust_pem = NULL;
    int log_fd = 0;
    rb_key_secret secret = {.pass_file = o->g.pass_file};
    first_maintenance(&ctx, &secret);
    rc = load_tsa(&ctx, db, &secret, &svc.tsa);
    if (rc == 0)
        rc = start_api(&secret, &svc.api);
    if (rc == 0)
        rc = load_ocsp(&ctx, &secret, &svc.ocsp);
    if (rc == 0)
        rc = load_pem(o->tls_cert, &cert_pem);
    if (rc == 0)
        rc = load_pem(o->tls_key, &key_pem);
    if (rc == 0)
        rc = load_pem(o->tls_client_ca, &trust_pem);
    if (rc == 0)
        rc = trust_clients(svc.api, trust_pem);
    if (rc == 0 && o->access_log != NULL && strcmp(o->access_log, "off") == 0)
        log_fd = -1;
    else if (rc == 0 && o->access_log != NULL &&
             (log_fd = open(o->access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
        fprintf(stderr, "rubrica: cannot write the access log %s\n", o->access_log);
        rc = CLI_EXIT_FAIL;
    }
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    listed_route listed[32];
    rb_http_route routes[32];
    size_t count = build_routes(&svc, listed, 32);
    for (size_t i = 0; i < count; i++)
        routes[i] = listed[i].route;
    rb_http_config cfg = {
        .listen = o->listen ? o->listen : "127.0.0.1:8080",
        .db = db,
        .data_dir = ctx.data_dir,
        .clock = ctx.clock,
        .threads = o->threads,
        .timeout_s = o->timeout_s,
        .tls_cert_pem = cert_pem,
        .tls_key_pem = key_pem,
        .tls_trust_pem = trust_pem,
        .access_log_fd = log_fd,
    };
    rb_http_server *srv = NULL;
    rb_maintenance *maintenance = NULL;
    rb_maintenance_config mcfg = {
        .db = db,
        .data_dir = ctx.data_dir,
        .clock = ctx.clock,
        .secret = &secret,
        .ocsp = svc.ocsp,
        .interval_s = o->maintenance_s,
        .checkpoints = {
            .tsa = svc.tsa,
            .interval_ms =
                1000LL * (o->checkpoint_s ? o->checkpoint_s : RB_CHECKPOINT_DEFAULT_INTERVAL_S),
        }};
    rb_error err = {0};
    if (rc == 0 && rb_maintenance_start(&mcfg, &maintenance, &err) != RB_OK)
        rc = cli_report(&err);
    if (rc == 0 && rb_http_server_start(&cfg, routes, count, &srv, &err) != RB_OK)
        rc = cli_report(&err);
    if (rc == 0) {
        announce(srv, cfg.listen, listed, count);
        wait_for_stop(&stop_signals);
        rb_http_server_stop(srv, STOP_GRACE_MS); /* deferred TSA answers finish here */
    }
    rb_maintenance_stop(maintenance); /* before the OCSP responder it signs with */
    rb_tsa_free(svc.tsa);             /* after the server: its writer commits what is queued */
    rb_ocsp_responder_free(svc.ocsp);
    rb_http_api_flush(svc.api, &ctx); /* throttled attempts still owed a record */
    rb_http_api_free(svc.api);        /* after the server: its pool threads used the issuers */
    if (log_fd > 0)
        close(log_fd);
    free(cert_pem);
    if (key_pem != NULL)
        OPENSSL_cleanse(key_pem, strlen(key_pem));
    free(key_pem);
    free(trust_pem);
    cli_close(&ctx);
    return rc;
}

int cli_run_serve(int argc, char **argv)
{
    serve_opts o = {0};
    int rc = parse_serve_options(argc, argv, &o);
    return rc != 0 ? rc : serve(&o);
}

const cli_command cli_serve_command[] = {
    {"serve", "run the online services (TSA, OCSP, CRL, repository, API) over HTTP",
     "[--listen ADDR:PORT] [--data DIR] [--db URL] [--threads N]\n"
     "       [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]] [--access-log FILE|off]\n"
     "       [--timeout SECONDS] [--maintenance-interval SECONDS] [--checkpoint-interval "
     "SECONDS]\n\n"
     "Serves on 127.0.0.1:8080 unless told otherwise (port 0 picks a free port) and prints\n"
     "the URLs once listening. Runs until SIGTERM or SIGINT, then lets requests in flight\n"
     "finish. --threads defaults to the number of cores; the access log goes to stderr\n"
     "unless --access-log names a file (or is off). Idle or slow connections are dropped\n"
     "after --timeout seconds (default 30). The CA keys (to re-sign a stale CRL and to issue\n"
     "through the API) are unlocked with --pass-file FILE or RUBRICA_KEY_PASS.\n\n"
     "A maintenance thread runs every --maintenance-interval seconds (default 60, and\n"
     "also the moment a hold reaches its limit): holds past their limit become\n"
     "revocations, complete and delta CRLs are re-signed before their nextUpdate or after\n"
     "a change, and pre-signed OCSP responses before they expire (the first pass and one a\n"
     "day read every certificate; the others only what changed). GET /crl/{ca}.crl and\n"
     "/crl/{ca}-delta.crl only read the stored CRLs. Once --checkpoint-interval seconds\n"
     "(default 3600) have passed since the last signed audit checkpoint and something was\n"
     "logged, the TSA time-stamps the audit log's head ('rubrica audit checkpoints').\n\n"
     "With --tls-client-ca the API also accepts TLS client certificates: they must chain\n"
     "to a certificate in FILE (intermediates included there), be valid now, not be revoked\n"
     "or suspended if this CA issued them, and be registered with 'rubrica user add-cert'.\n"
     "An address that fails to authenticate FAILURES times within SECONDS is answered 429\n"
     "for SECONDS (RUBRICA_API_AUTH_LIMIT=FAILURES/SECONDS, default 10/60).",
     cli_run_serve, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
