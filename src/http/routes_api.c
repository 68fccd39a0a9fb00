/*
 * /api/v1/: the JSON API for CA operations (docs/api/openapi.yaml). Each call
 * is authenticated (Bearer token or registered TLS client certificate),
 * checked against the caller's role (rb_user_role_allows: auditor reads;
 * operator also issues; approver also revokes, suspends, reinstates; ca-admin
 * everything), and recorded in the audit log whether it was allowed or
 * refused. A refusal changes nothing else. A client address that keeps
 * failing to authenticate is answered 429 for a while without being checked
 * or audited one by one (ratelimit.h); one api.throttled record per block
 * says how many attempts were turned away. The library does the work; this
 * file only parses, authorises, maps errors and formats.
 */
#include "http/routes.h"

#include "audit/audit.h"
#include "auth/auth.h"
#include "ca/ca.h"
#include "ca/crl.h"
#include "ca/csr.h"
#include "ca/issuer.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/perthread.h"
#include "core/reader.h"
#include "http/ratelimit.h"
#include "http/text.h"
#include "pki/x509util.h"
#include "store/store.h"

#include <openssl/x509_vfy.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define API_PREFIX    "/api/v1/"
#define SUMMARY_BATCH 16 /* api.throttled records written per request, at most */

struct rb_http_api {
    rb_key_secret secret;    /* where the issuing key's passphrase or PIN comes from */
    rb_perthread *issuers;   /* issuer_slot per pool thread */
    rb_client_trust *trust;  /* anchors for client certificates; NULL refuses them all */
    http_ratelimit *limiter; /* failed authentications per client address */
};

/*
 * rb_issuer builds and caches its extensions lazily and owns a CSR reader,
 * neither of them thread-safe, so each pool thread opens its own issuer on
 * its first issuance and keeps it (the key is loaded once per thread).
 */
typedef struct issuer_slot {
    rb_issuer *issuer;
} issuer_slot;

typedef enum api_verb {
    VERB_LIST,
    VERB_ISSUE,
    VERB_SHOW,
    VERB_REVOKE,
    VERB_SUSPEND,
    VERB_REINSTATE,
    VERB_UNKNOWN,
} api_verb;

static const struct {
    const char *action; /* audit action */
    rb_permission perm;
    int metric; /* counter bumped on success, or -1 */
} verbs[] = {
    [VERB_LIST] = {"api.list", RB_PERM_READ, -1},
    [VERB_ISSUE] = {"api.issue", RB_PERM_ISSUE, RB_METRIC_CERTS_ISSUED},
    [VERB_SHOW] = {"api.show", RB_PERM_READ, -1},
    [VERB_REVOKE] = {"api.revoke", RB_PERM_LIFECYCLE, RB_METRIC_CERTS_REVOKED},
    [VERB_SUSPEND] = {"api.suspend", RB_PERM_LIFECYCLE, RB_METRIC_CERTS_SUSPENDED},
    [VERB_REINSTATE] = {"api.reinstate", RB_PERM_LIFECYCLE, -1},
    [VERB_UNKNOWN] = {"api.unknown", RB_PERM_READ, -1},
};

/* One API call: the route it resolved to, the caller, and the outcome to audit. */
typedef struct api_call {
    rb_http_request *req;
    rb_http_response *resp;
    rb_http_api *api;
    api_verb verb;
    int method_ok;                  /* 0: known path, wrong method (405) */
    char serial[RB_SERIAL_HEX_LEN]; /* normalised serial from the path, or "" */
    int bad_serial;                 /* the path names something that cannot be a serial */
    rb_user user;
    int authenticated;
    const char *auth_method;   /* "token" or "client-certificate" */
    rb_client_cert_check cert; /* what was found, when auth_method is a certificate */
    int64_t blocked_ms;        /* this failure started a block of that length */
    char actor[RB_USER_NAME_MAX + 8];
    char object[64];
    const char *error_code; /* NULL on success */
    json_t *detail;         /* extra audit detail (owned) */
} api_call;

/* ---- construction ---- */

static void *slot_make(void *arg, rb_error *err)
{
    (void)arg;
    issuer_slot *slot = calloc(1, sizeof(*slot));
    if (slot == NULL)
        rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    return slot;
}

static void slot_free(void *value)
{
    issuer_slot *slot = value;
    rb_ca_close_issuer(slot->issuer);
    free(slot);
}

/* RUBRICA_API_AUTH_LIMIT=FAILURES/SECONDS, e.g. "10/60"; unset: the defaults. */
static rb_status limit_config(http_ratelimit_config *cfg, rb_error *err)
{
    const char *text = getenv("RUBRICA_API_AUTH_LIMIT");
    memset(cfg, 0, sizeof(*cfg));
    if (text == NULL || text[0] == '\0')
        return RB_OK;
    char *end;
    long failures = strtol(text, &end, 10);
    long seconds = *end == '/' ? strtol(end + 1, &end, 10) : -1;
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || failures < 1 || failures > 10000 ||
        seconds < 1 || seconds > 86400)
        return rb_fail(err, RB_EINVAL, NULL,
                       "RUBRICA_API_AUTH_LIMIT is FAILURES/SECONDS (1 to 10000 failed "
                       "authentications per 1 to 86400 seconds), e.g. 10/60");
    cfg->max_failures = (unsigned)failures;
    cfg->window_ms = (int64_t)seconds * 1000;
    return RB_OK;
}

rb_status rb_http_api_new(const rb_key_secret *secret, rb_http_api **out, rb_error *err)
{
    http_ratelimit_config limits;
    rb_status s = limit_config(&limits, err);
    if (s != RB_OK)
        return s;
    rb_http_api *api = calloc(1, sizeof(*api));
    if (api == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (secret != NULL)
        api->secret = *secret;
    s = http_ratelimit_new(&limits, &api->limiter, err);
    if (s == RB_OK)
        s = rb_perthread_new(slot_make, slot_free, api, &api->issuers, err);
    if (s != RB_OK) {
        rb_http_api_free(api);
        return s;
    }
    *out = api;
    return RB_OK;
}

rb_status rb_http_api_set_client_trust(rb_http_api *api, const char *pem, size_t len, rb_error *err)
{
    rb_client_trust *trust = NULL;
    rb_status s = rb_client_trust_new(pem, len, &trust, err);
    if (s == RB_OK) {
        rb_client_trust_free(api->trust);
        api->trust = trust;
    }
    return s;
}

void rb_http_api_free(rb_http_api *api)
{
    if (api == NULL)
        return;
    rb_perthread_free(api->issuers);
    rb_client_trust_free(api->trust);
    http_ratelimit_free(api->limiter);
    free(api);
}

/* ---- responses ---- */

static void respond_json(api_call *c, int status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL) {
        c->error_code = "out_of_memory";
        rb_http_respond_error(c->resp, 500, "out_of_memory", "out of memory");
        return;
    }
    size_t len = strlen(text);
    char *body = realloc(text, len + 2);
    if (body == NULL) {
        free(text);
        rb_http_respond_error(c->resp, 500, "out_of_memory", "out of memory");
        return;
    }
    body[len] = '\n';
    body[len + 1] = '\0';
    rb_http_respond_take(c->resp, status, "application/json", (uint8_t *)body, len + 1);
}

/* {"error": {"code", "message"[, "rule"]}} */
static void api_error(api_call *c, int status, const char *code, const char *message,
                      const char *rule)
{
    c->error_code = code;
    json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    if (doc != NULL && rule != NULL && rule[0] != '\0')
        json_object_set_new(json_object_get(doc, "error"), "rule", json_string(rule));
    respond_json(c, status, doc);
}

/*
 * Maps a library failure to HTTP. missing_is_404: the object named in the path
 * does not exist (404) rather than something named in the body (422).
 */
static void library_error(api_call *c, const rb_error *err, int missing_is_404)
{
    switch (err->status) {
    case RB_EINVAL:
        api_error(c, 422, "rule_violation", err->message, err->rule);
        return;
    case RB_ENOTFOUND:
        if (missing_is_404)
            api_error(c, 404, "not_found", err->message, NULL);
        else
            api_error(c, 422, "rule_violation", err->message, err->rule);
        return;
    case RB_ECONFLICT:
        api_error(c, 409, "conflict", err->message, err->rule);
        return;
    case RB_ESTATE:
        api_error(c, 409, "invalid_state", err->message, err->rule);
        return;
    case RB_ESTORE:
        rb_log(RB_LOG_ERROR, "api: %s", err->message);
        api_error(c, 503, "store_unavailable",
                  "the service cannot reach its database; try again shortly", NULL);
        return;
    default:
        rb_log(RB_LOG_ERROR, "api: %s (%s)", err->message, err->crypto);
        api_error(c, 500, "internal", "the operation failed inside the CA; see the server log",
                  NULL);
        return;
    }
}

/* ---- routing and authentication ---- */

/* Resolves the path after /api/v1/ to a verb and, where there is one, a serial. */
static void resolve(api_call *c)
{
    const char *rest = c->req->path + strlen(API_PREFIX);
    int post = strcmp(c->req->method, "POST") == 0;
    static const char coll[] = "certificates";
    c->verb = VERB_UNKNOWN;
    c->method_ok = 1;
    if (strncmp(rest, coll, sizeof(coll) - 1) != 0)
        return;
    rest += sizeof(coll) - 1;
    if (*rest == '\0') {
        c->verb = post ? VERB_ISSUE : VERB_LIST;
        return;
    }
    if (*rest != '/')
        return;
    rest++;
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *action = slash ? slash + 1 : NULL;
    char text[80];
    rb_error ignored = {0};
    if (n == 0)
        return;
    if (action == NULL)
        c->verb = VERB_SHOW;
    else if (strcmp(action, "revoke") == 0)
        c->verb = VERB_REVOKE;
    else if (strcmp(action, "suspend") == 0)
        c->verb = VERB_SUSPEND;
    else if (strcmp(action, "reinstate") == 0)
        c->verb = VERB_REINSTATE;
    else
        return;
    c->method_ok = (c->verb == VERB_SHOW) != post;
    if (n >= sizeof(text)) {
        c->bad_serial = 1;
        return;
    }
    memcpy(text, rest, n);
    text[n] = '\0';
    c->bad_serial = rb_serial_normalise(text, c->serial, &ignored) != RB_OK;
}

/*
 * Identifies the caller. Returns RB_OK with c->user filled, RB_EPERM with
 * *reason set when the credentials are missing or wrong, or a store failure.
 */
static rb_status authenticate(api_call *c, const char **reason, rb_error *err)
{
    const char *header = rb_http_header(c->req, "Authorization");
    rb_status s;
    if (header != NULL) {
        *reason = "invalid_token";
        if (strncasecmp(header, "Bearer ", 7) != 0)
            return RB_EPERM;
        const char *token = header + 7;
        while (*token == ' ')
            token++;
        c->auth_method = "token";
        s = rb_auth_token(c->req->ctx, token, &c->user, err);
    } else {
        X509 *cert = rb_http_client_cert(c->req);
        *reason = "no_credentials";
        if (cert == NULL)
            return RB_EPERM;
        c->auth_method = "client-certificate";
        s = rb_auth_client_cert(c->req->ctx, c->api->trust, cert, &c->user, &c->cert, err);
        *reason = rb_client_cert_verdict_code(c->cert.verdict);
        X509_free(cert);
    }
    return s;
}

/* ---- audit ---- */

/*
 * Appends the call's audit record (action, or api.denied when denied) in its
 * own transaction: method, path, HTTP status, error code, client address.
 */
static rb_status audit_call(api_call *c, const char *action, rb_error *err)
{
    rb_ctx *ctx = c->req->ctx;
    char path[201];
    snprintf(path, sizeof(path), "%s", c->req->path);
    json_t *detail = c->detail ? c->detail : json_object();
    c->detail = NULL;
    json_object_set_new(detail, "method", json_string(c->req->method));
    json_object_set_new(detail, "path", json_string(path));
    json_object_set_new(detail, "status", json_integer(c->resp->status));
    json_object_set_new(detail, "client", json_string(c->req->client_addr));
    if (c->error_code != NULL)
        json_object_set_new(detail, "error", json_string(c->error_code));
    if (c->auth_method != NULL)
        json_object_set_new(detail, "auth", json_string(c->auth_method));
    const char *object = c->object[0] ? c->object : "api";
    rb_status s = rb_store_begin(ctx->store, err);
    if (s == RB_OK)
        s = rb_audit_append(ctx, action, object, detail, NULL, err);
    if (s == RB_OK)
        s = rb_store_commit(ctx->store, err);
    if (s != RB_OK)
        rb_store_rollback(ctx->store);
    json_decref(detail);
    return s;
}

/* What a person should read for each refusal of a client certificate. */
static const char *cert_message(rb_client_cert_verdict verdict)
{
    switch (verdict) {
    case RB_CLIENT_CERT_EXPIRED:
        return "the TLS client certificate, or a CA certificate above it, has expired";
    case RB_CLIENT_CERT_NOT_YET_VALID:
        return "the TLS client certificate, or a CA certificate above it, is not valid yet";
    case RB_CLIENT_CERT_WRONG_PURPOSE:
        return "the TLS client certificate is not allowed for TLS client authentication";
    case RB_CLIENT_CERT_REVOKED:
        return "the TLS client certificate has been revoked";
    case RB_CLIENT_CERT_SUSPENDED:
        return "the TLS client certificate is suspended";
    case RB_CLIENT_CERT_UNREGISTERED:
        return "the TLS client certificate is not registered to an enabled user "
               "('rubrica user add-cert')";
    default:
        return "the TLS client certificate does not chain to a CA this server trusts for "
               "clients";
    }
}

/* The audit detail of a refused client certificate: which one, and what failed. */
static json_t *cert_detail(const rb_client_cert_check *check)
{
    json_t *d = json_pack("{s:s,s:s,s:s,s:s}", "sha256", check->sha256, "serial", check->serial,
                          "subject", check->subject, "issuer", check->issuer);
    if (d != NULL && check->verify_error != 0) {
        json_object_set_new(d, "verify_error",
                            json_string(X509_verify_cert_error_string(check->verify_error)));
        json_object_set_new(d, "verify_depth", json_integer(check->verify_depth));
    }
    return d;
}

/*
 * Refuses the call (401 or 403) and records the refusal. A refused client
 * certificate gets an error code naming the rule it broke; a token learns
 * nothing about why.
 */
static void deny(api_call *c, int status, const char *reason)
{
    int by_cert = status == 401 && strncmp(reason, "client_certificate_", 19) == 0;
    const char *message =
        status == 401 ? "authenticate with 'Authorization: Bearer <token>' or a registered TLS "
                        "client certificate"
                      : "your role does not allow this operation";
    if (by_cert) {
        rb_http_add_header(c->resp, "WWW-Authenticate", "Bearer realm=\"rubrica\"");
        api_error(c, 401, reason, cert_message(c->cert.verdict), NULL);
    } else if (status == 401) {
        rb_http_add_header(c->resp, "WWW-Authenticate",
                           strcmp(reason, "invalid_token") == 0
                               ? "Bearer realm=\"rubrica\", error=\"invalid_token\""
                               : "Bearer realm=\"rubrica\"");
        api_error(c, 401, "unauthenticated", message, NULL);
    } else {
        api_error(c, 403, "forbidden", message, NULL);
    }
    c->detail = json_pack("{s:s,s:s}", "reason", reason, "wanted", verbs[c->verb].action);
    if (c->authenticated) {
        json_object_set_new(c->detail, "user", json_string(c->user.name));
        json_object_set_new(c->detail, "role", json_string(rb_user_role_name(c->user.role)));
    }
    if (by_cert)
        json_object_set_new(c->detail, "client_certificate", cert_detail(&c->cert));
    if (c->blocked_ms > 0) /* the last attempt audited before the address is throttled */
        json_object_set_new(c->detail, "throttled_for_s", json_integer(c->blocked_ms / 1000));
    snprintf(c->object, sizeof(c->object), "api");
    rb_error err = {0};
    if (audit_call(c, "api.denied", &err) != RB_OK)
        rb_log(RB_LOG_ERROR, "api: cannot audit a refused call: %s", err.message);
}

/* ---- throttling ---- */

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Answers 429 without touching the store: the address failed too often. */
static void too_many(api_call *c, int64_t wait_ms)
{
    char retry[24], message[160];
    int64_t seconds = (wait_ms + 999) / 1000;
    snprintf(retry, sizeof(retry), "%lld", (long long)seconds);
    snprintf(message, sizeof(message),
             "too many failed authentications from your address; try again in %lld seconds",
             (long long)seconds);
    rb_http_add_header(c->resp, "Retry-After", retry);
    api_error(c, 429, "too_many_failed_authentications", message, NULL);
}

/* A limiter time (monotonic) as RFC 3339, through the wall clock now. */
static json_t *limiter_time(rb_ctx *ctx, int64_t mono_now, int64_t mono)
{
    char text[RB_TIME_TEXT_LEN];
    return json_string(rb_time_format(rb_ctx_now_ms(ctx) - (mono_now - mono), text, sizeof(text)));
}

/* One api.throttled record per summary, in one transaction; logged if that fails. */
static void record_summaries(const rb_http_api *api, rb_ctx *ctx, int64_t mono_now,
                             const http_ratelimit_summary *sums, size_t n)
{
    http_ratelimit_config cfg = http_ratelimit_get_config(api->limiter);
    const char *previous_actor = ctx->actor;
    ctx->actor = "api:anonymous";
    rb_error err = {0};
    rb_status s = rb_store_begin(ctx->store, &err);
    for (size_t i = 0; s == RB_OK && i < n; i++) {
        const http_ratelimit_summary *sum = &sums[i];
        json_t *detail =
            json_pack("{s:s,s:I,s:I,s:o,s:o,s:I,s:I}", "client", sum->client, "suppressed",
                      (json_int_t)sum->suppressed, "clients", (json_int_t)sum->clients, "first_at",
                      limiter_time(ctx, mono_now, sum->first_ms), "last_at",
                      limiter_time(ctx, mono_now, sum->last_ms), "max_failures",
                      (json_int_t)cfg.max_failures, "window_s", (json_int_t)(cfg.window_ms / 1000));
        if (detail != NULL && sum->blocked_until_ms != 0)
            json_object_set_new(detail, "blocked_until",
                                limiter_time(ctx, mono_now, sum->blocked_until_ms));
        s = rb_audit_append(ctx, "api.throttled", "api", detail, NULL, &err);
        json_decref(detail);
    }
    if (s == RB_OK)
        s = rb_store_commit(ctx->store, &err);
    if (s != RB_OK) {
        rb_store_rollback(ctx->store);
        rb_log(RB_LOG_ERROR, "api: cannot audit throttled attempts: %s", err.message);
        for (size_t i = 0; i < n; i++)
            rb_log(RB_LOG_ERROR, "api: unaudited: %llu attempts from %s suppressed",
                   (unsigned long long)sums[i].suppressed, sums[i].client);
    }
    ctx->actor = previous_actor;
}

/* Records the summaries that are due (all of them when all is set). */
static void audit_throttled(const rb_http_api *api, rb_ctx *ctx, int all)
{
    http_ratelimit_summary sums[SUMMARY_BATCH];
    int64_t now = monotonic_ms();
    size_t n;
    do {
        n = http_ratelimit_take(api->limiter, now, all, sums, SUMMARY_BATCH);
        if (n > 0)
            record_summaries(api, ctx, now, sums, n);
    } while (all && n > 0);
}

void rb_http_api_flush(rb_http_api *api, rb_ctx *ctx)
{
    if (api != NULL && ctx != NULL && ctx->store != NULL)
        audit_throttled(api, ctx, 1);
}

/* ---- request bodies ---- */

/*
 * Parses the body as a JSON object whose keys are all in allowed. An empty
 * body is an empty object when empty_ok. Answers 400/415 itself and returns
 * NULL on failure.
 */
static json_t *parse_body(api_call *c, const char *const *allowed, int empty_ok)
{
    const rb_http_request *req = c->req;
    if (req->body_len == 0 && empty_ok)
        return json_object();
    const char *type = rb_http_header(req, "Content-Type");
    if (type == NULL || strncasecmp(type, "application/json", 16) != 0 ||
        (type[16] != '\0' && type[16] != ';' && type[16] != ' ')) {
        api_error(c, 415, "unsupported_media_type", "send the body as application/json", NULL);
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL || !json_is_object(doc)) {
        char message[300];
        snprintf(message, sizeof(message), "the body is not a JSON object%s%s", doc ? "" : ": ",
                 doc ? "" : jerr.text);
        json_decref(doc);
        api_error(c, 400, "invalid_request", message, NULL);
        return NULL;
    }
    const char *key;
    json_t *value;
    json_object_foreach(doc, key, value)
    {
        int known = 0;
        for (size_t i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            char message[200];
            snprintf(message, sizeof(message), "unknown member '%.64s' in the request", key);
            json_decref(doc);
            api_error(c, 400, "invalid_request", message, NULL);
            return NULL;
        }
    }
    return doc;
}

/* An optional string member: 0 and *out NULL when absent, -1 (400 sent) when not a string. */
static int member_string(api_call *c, json_t *doc, const char *name, const char **out)
{
    json_t *v = json_object_get(doc, name);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        char message[120];
        snprintf(message, sizeof(message), "'%s' must be a string", name);
        api_error(c, 400, "invalid_request", message, NULL);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* An optional RFC 3339 time member in milliseconds (0 when absent); -1 with 400 sent. */
static int member_time(api_call *c, json_t *doc, const char *name, int64_t *out)
{
    const char *text;
    rb_error err = {0};
    *out = 0;
    if (member_string(c, doc, name, &text) != 0)
        return -1;
    if (text != NULL && rb_time_parse(text, out, &err) != RB_OK) {
        api_error(c, 400, "invalid_request", err.message, NULL);
        return -1;
    }
    return 0;
}

/* ---- operations ---- */

/* Answers with the certificate's record (with PEM and its history). */
static void respond_record(api_call *c, int status)
{
    rb_cert_record rec;
    rb_error err = {0};
    json_t *history = NULL;
    if (rb_ca_get(c->req->ctx, c->serial, &rec, &err) != RB_OK) {
        library_error(c, &err, 1);
        return;
    }
    rb_status s = rb_ca_history(c->req->ctx, &rec, &history, &err);
    json_t *doc = s == RB_OK ? rb_cert_record_to_json(&rec, 1) : NULL;
    rb_cert_record_clear(&rec);
    if (s != RB_OK) {
        library_error(c, &err, 1);
        return;
    }
    json_object_set_new(doc, "history", history);
    respond_json(c, status, doc);
}

static rb_issuer *thread_issuer(api_call *c, rb_error *err)
{
    void *value = NULL;
    if (rb_perthread_get(c->api->issuers, &value, err) != RB_OK)
        return NULL;
    issuer_slot *slot = value;
    if (slot->issuer == NULL &&
        rb_ca_open_issuer(c->req->ctx, NULL, &c->api->secret, &slot->issuer, err) != RB_OK)
        return NULL;
    return slot->issuer;
}

static void do_issue(api_call *c)
{
    static const char *const allowed[] = {"csr", "profile", "fields", "days", "publish", NULL};
    json_t *doc = parse_body(c, allowed, 0);
    if (doc == NULL)
        return;
    const char *csr = NULL, *profile = NULL;
    json_t *fields = json_object_get(doc, "fields");
    json_t *days = json_object_get(doc, "days");
    json_t *publish = json_object_get(doc, "publish");
    if (member_string(c, doc, "csr", &csr) != 0 || member_string(c, doc, "profile", &profile) != 0)
        goto done;
    if (csr == NULL || profile == NULL || (fields != NULL && !json_is_object(fields)) ||
        (days != NULL && (!json_is_integer(days) || json_integer_value(days) < 0 ||
                          json_integer_value(days) > 36600)) ||
        (publish != NULL && !json_is_boolean(publish))) {
        api_error(c, 400, "invalid_request",
                  "give 'csr' (PEM) and 'profile' (strings); 'fields' is an object, 'days' a "
                  "number of days, 'publish' true or false",
                  NULL);
        goto done;
    }
    json_object_set_new(c->detail, "profile", json_string(profile));
    rb_error err = {0};
    rb_issuer *issuer = thread_issuer(c, &err);
    if (issuer == NULL) {
        rb_log(RB_LOG_ERROR, "api: cannot open the issuing CA: %s", err.message);
        api_error(c, 503, "ca_unavailable", "the issuing CA cannot be opened; see the server log",
                  NULL);
        goto done;
    }
    /* The library reports an unreadable CSR as a crypto failure; here it is the caller's fault.
     * Read with the issuer's reader, as rb_ca_issue will (bounded to RB_CSR_MAX_BYTES). */
    size_t csr_len = strlen(csr);
    rb_csr *parsed = NULL;
    if (rb_csr_read(rb_issuer_get0_csr_reader(issuer), (const uint8_t *)csr, csr_len, &parsed,
                    &err) != RB_OK) {
        api_error(c, 422, "invalid_csr", err.message, err.rule);
        goto done;
    }
    rb_csr_free(parsed);
    json_t *no_fields = fields ? NULL : json_object();
    rb_issue_request ireq = {.csr = (const uint8_t *)csr,
                             .csr_len = csr_len,
                             .profile = profile,
                             .fields = fields ? fields : no_fields,
                             .days = days ? (int)json_integer_value(days) : 0,
                             .publish = publish ? json_is_true(publish) : 0};
    rb_issued issued = {0};
    rb_status s = rb_ca_issue(c->req->ctx, issuer, &ireq, 1, &issued, &err);
    json_decref(no_fields);
    if (s != RB_OK) {
        library_error(c, &err, 0);
        goto done;
    }
    X509_free(issued.cert);
    snprintf(c->serial, sizeof(c->serial), "%s", issued.serial);
    snprintf(c->object, sizeof(c->object), "cert:%s", c->serial);
    char location[128];
    snprintf(location, sizeof(location), API_PREFIX "certificates/%s", c->serial);
    rb_http_add_header(c->resp, "Location", location);
    respond_record(c, 201);
done:
    json_decref(doc);
}

static int list_one(const rb_cert_record *rec, void *arg)
{
    json_array_append_new(arg, rb_cert_record_to_json(rec, 0));
    return 0;
}

static void do_list(api_call *c)
{
    static const char *const statuses[] = {"valid", "suspended", "revoked", "expired"};
    rb_cert_filter f = {.status = rb_http_query(c->req, "status"),
                        .subject = rb_http_query(c->req, "subject"),
                        .profile = rb_http_query(c->req, "profile")};
    int known = f.status == NULL;
    for (size_t i = 0; i < 4 && !known; i++)
        known = strcmp(statuses[i], f.status) == 0;
    rb_error err = {0};
    f.limit =
        rb_http_query_count(rb_http_query(c->req, "limit"), RB_HTTP_PAGE_DEFAULT, RB_HTTP_PAGE_MAX);
    f.offset = rb_http_query_count(rb_http_query(c->req, "offset"), 0, 10000000);
    if (!known || f.limit < 0 || f.offset < 0 ||
        (f.subject != NULL && rb_text_check("subject", f.subject, 200, &err) != RB_OK) ||
        (f.profile != NULL && rb_text_check("profile", f.profile, 47, &err) != RB_OK)) {
        api_error(c, 400, "invalid_request",
                  "status is valid, suspended, revoked or expired; limit 0 to 1000; offset >= 0; "
                  "subject at most 200 characters",
                  NULL);
        return;
    }
    if (f.limit == 0)
        f.limit = RB_HTTP_PAGE_DEFAULT;
    json_object_set_new(c->detail, "filter",
                        json_pack("{s:s?,s:s?,s:s?}", "status", f.status, "subject", f.subject,
                                  "profile", f.profile));
    json_t *list = json_array();
    if (rb_ca_list(c->req->ctx, &f, list_one, list, &err) != RB_OK) {
        json_decref(list);
        library_error(c, &err, 0);
        return;
    }
    snprintf(c->object, sizeof(c->object), "certificates");
    respond_json(
        c, 200,
        json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(list), "certificates", list));
}

/*
 * After a revocation, suspension or reinstatement: the CRLs (read-only at
 * GET /crl/) are re-signed at once, and the record is the answer. The change
 * is committed already; if signing fails, the maintenance thread retries.
 */
static void respond_changed(api_call *c)
{
    rb_error err = {0};
    if (rb_ca_crl_refresh_all(c->req->ctx, &c->api->secret, NULL, &err) != RB_OK)
        rb_log(RB_LOG_WARN, "api: the CRLs were not re-signed after a change to %s: %s", c->serial,
               err.message);
    respond_record(c, 200);
}

static void do_revoke(api_call *c)
{
    static const char *const allowed[] = {"reason", "cause", "invalidity", NULL};
    json_t *doc = parse_body(c, allowed, 0);
    const char *reason_text = NULL, *cause = NULL;
    int64_t invalidity = 0;
    rb_revocation_reason reason;
    rb_error err = {0};
    if (doc == NULL || member_string(c, doc, "reason", &reason_text) != 0 ||
        member_string(c, doc, "cause", &cause) != 0 ||
        member_time(c, doc, "invalidity", &invalidity) != 0)
        goto done;
    if (reason_text == NULL || rb_reason_parse(reason_text, &reason, &err) != RB_OK) {
        api_error(c, 400, "invalid_request",
                  reason_text ? err.message : "'reason' is required (RFC 5280 5.3.1 name)",
                  err.rule);
        goto done;
    }
    json_object_set_new(c->detail, "reason", json_string(reason_text));
    if (rb_ca_revoke(c->req->ctx, c->serial, reason, cause, invalidity, &err) != RB_OK)
        library_error(c, &err, 1);
    else
        respond_changed(c);
done:
    json_decref(doc);
}

static void do_suspend(api_call *c)
{
    static const char *const allowed[] = {"until", "cause", "reason", NULL};
    json_t *doc = parse_body(c, allowed, 1);
    const char *cause = NULL, *reason_text = NULL;
    int64_t until = 0;
    rb_revocation_reason expiry_reason = RB_REASON_UNSPECIFIED;
    rb_error err = {0};
    if (doc == NULL || member_string(c, doc, "cause", &cause) != 0 ||
        member_time(c, doc, "until", &until) != 0 ||
        member_string(c, doc, "reason", &reason_text) != 0)
        goto done;
    /* 'reason': what the hold becomes if it reaches its limit without reinstatement. */
    if (reason_text != NULL && rb_reason_parse(reason_text, &expiry_reason, &err) != RB_OK) {
        api_error(c, 400, "invalid_request", err.message, err.rule);
        goto done;
    }
    if (rb_ca_suspend(c->req->ctx, c->serial, until, expiry_reason, cause, &err) != RB_OK)
        library_error(c, &err, 1);
    else
        respond_changed(c);
done:
    json_decref(doc);
}

static void do_reinstate(api_call *c)
{
    static const char *const allowed[] = {NULL};
    json_t *doc = parse_body(c, allowed, 1);
    rb_error err = {0};
    if (doc != NULL && rb_ca_reinstate(c->req->ctx, c->serial, &err) != RB_OK)
        library_error(c, &err, 1);
    else if (doc != NULL)
        respond_changed(c);
    json_decref(doc);
}

static void perform(api_call *c)
{
    if (c->verb == VERB_UNKNOWN) {
        api_error(c, 404, "not_found", "there is no API endpoint at this path", NULL);
        return;
    }
    if (!c->method_ok) {
        rb_http_add_header(c->resp, "Allow", c->verb == VERB_SHOW ? "GET" : "POST");
        api_error(c, 405, "method_not_allowed", "this path does not accept that method", NULL);
        return;
    }
    if (c->verb != VERB_LIST && c->verb != VERB_ISSUE) {
        if (c->bad_serial) {
            api_error(c, 404, "not_found", "that is not a certificate serial number", NULL);
            return;
        }
        snprintf(c->object, sizeof(c->object), "cert:%s", c->serial);
    } else {
        snprintf(c->object, sizeof(c->object), "certificates");
    }
    switch (c->verb) {
    case VERB_LIST:
        do_list(c);
        break;
    case VERB_ISSUE:
        do_issue(c);
        break;
    case VERB_SHOW:
        respond_record(c, 200);
        break;
    case VERB_REVOKE:
        do_revoke(c);
        break;
    case VERB_SUSPEND:
        do_suspend(c);
        break;
    case VERB_REINSTATE:
        do_reinstate(c);
        break;
    case VERB_UNKNOWN:
        break;
    }
}

/* Replaces whatever was prepared with a 503: a read that cannot be audited is not answered. */
static void unaudited(api_call *c)
{
    c->resp->header_count = 0;
    api_error(c, 503, "audit_unavailable",
              "the call could not be recorded in the audit log; try again shortly", NULL);
}

void rb_http_handle_api(rb_http_request *req, rb_http_response *resp, void *arg)
{
    api_call c = {.req = req, .resp = resp, .api = arg};
    const char *previous_actor = req->ctx->actor;
    snprintf(c.actor, sizeof(c.actor), "api:anonymous");
    req->ctx->actor = c.actor;
    resolve(&c);
    const char *reason = NULL;
    rb_error err = {0};
    int64_t wait = http_ratelimit_check(c.api->limiter, req->client_addr, monotonic_ms());
    if (wait == 0)
        audit_throttled(c.api, req->ctx, 0); /* a 429 never touches the store */
    rb_status s = wait > 0 ? RB_OK : authenticate(&c, &reason, &err);
    if (wait > 0) {
        too_many(&c, wait);
    } else if (s == RB_EPERM) {
        c.blocked_ms = http_ratelimit_fail(c.api->limiter, req->client_addr, monotonic_ms());
        deny(&c, 401, reason);
    } else if (s != RB_OK) {
        rb_log(RB_LOG_ERROR, "api: cannot authenticate: %s", err.message);
        api_error(&c, 503, "store_unavailable", "the service cannot check credentials now", NULL);
    } else {
        c.authenticated = 1;
        snprintf(c.actor, sizeof(c.actor), "api:%s", c.user.name);
        if (!rb_user_role_allows(c.user.role, verbs[c.verb].perm)) {
            deny(&c, 403, "role");
        } else {
            c.detail = json_object();
            perform(&c);
            int ok = resp->status >= 200 && resp->status < 300;
            if (ok && verbs[c.verb].metric >= 0)
                rb_metrics_add((rb_metric)verbs[c.verb].metric, 1);
            if (audit_call(&c, verbs[c.verb].action, &err) != RB_OK) {
                rb_log(RB_LOG_ERROR, "api: cannot audit %s: %s", verbs[c.verb].action, err.message);
                /* A change already committed with its own audit record stands; a read does not. */
                if (verbs[c.verb].perm == RB_PERM_READ)
                    unaudited(&c);
            }
        }
    }
    json_decref(c.detail);
    req->ctx->actor = previous_actor;
}
