/*
 * The public repository (Ley 4017 art. 32 n, art. 28 j): GET /repository
 * searches, as an HTML page in Spanish or as JSON, the certificates whose
 * holders consented to publication, and always lists revoked and suspended
 * serials (serial, time, reason, issuer: nothing personal). GET
 * /repository/cp and /repository/cps serve the policy documents.
 */
#include "http/routes.h"

#include "ca/ca.h"
#include "ca/init.h"
#include "core/log.h"
#include "core/reader.h"
#include "http/text.h"
#include "pki/x509util.h"

#include <stdlib.h>
#include <string.h>

#define QUERY_MAX       200
#define POLICY_MAX_SIZE (256 * 1024)

typedef struct search {
    const char *q; /* NULL or "": the newest published certificates */
    int limit, offset, json;
    json_t *published, *revoked; /* JSON mode */
    rb_strbuf *html;             /* HTML mode */
    char exact[RB_SERIAL_HEX_LEN];
    int rows;
} search;

/* The reason as a person reads it in Spanish; the JSON keeps rb_reason_name's stable names. */
static const char *reason_es(int reason)
{
    switch (reason) {
    case RB_REASON_KEY_COMPROMISE:
        return "compromiso de la clave";
    case RB_REASON_CA_COMPROMISE:
        return "compromiso de la EC";
    case RB_REASON_AFFILIATION_CHANGED:
        return "cambio de datos o de afiliación";
    case RB_REASON_SUPERSEDED:
        return "reemplazado";
    case RB_REASON_CESSATION_OF_OPERATION:
        return "cese de actividad";
    case RB_REASON_CERTIFICATE_HOLD:
        return "suspendido";
    case RB_REASON_PRIVILEGE_WITHDRAWN:
        return "retiro del privilegio";
    default:
        return "sin especificar";
    }
}

static const char *status_es(rb_cert_status status)
{
    return status == RB_CERT_VALID       ? "vigente"
           : status == RB_CERT_SUSPENDED ? "suspendido"
                                         : "revocado";
}

static int record_reason(const rb_cert_record *rec)
{
    if (rec->status == RB_CERT_SUSPENDED)
        return RB_REASON_CERTIFICATE_HOLD;
    return rec->reason < 0 ? 0 : rec->reason;
}

/* A published certificate: what the certificate itself shows, nothing the store adds. */
static int add_published(const rb_cert_record *rec, void *arg)
{
    search *s = arg;
    if (strcmp(rec->serial, s->exact) == 0 && s->rows > 0)
        return 0; /* already listed as the exact serial match */
    char nb[RB_TIME_TEXT_LEN], na[RB_TIME_TEXT_LEN];
    rb_time_format(rec->not_before_ms, nb, sizeof(nb));
    rb_time_format(rec->not_after_ms, na, sizeof(na));
    s->rows++;
    if (s->json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "serial", rec->serial, "issuer",
                              rec->issuer, "profile", rec->profile, "subject",
                              rec->subject ? rec->subject : "", "not_before", nb, "not_after", na,
                              "status", rb_cert_status_name(rec->status));
        json_array_append_new(s->published, o);
        return 0;
    }
    rb_strbuf *t = s->html;
    rb_strbuf_append(t, "<tr><td class=\"mono\">");
    rb_strbuf_append_html(t, rec->serial);
    rb_strbuf_append(t, "</td><td>");
    rb_strbuf_append_html(t, rec->subject ? rec->subject : "");
    rb_strbuf_append(t, "</td><td>");
    rb_strbuf_append_html(t, rec->profile);
    rb_strbuf_appendf(t, "</td><td>%.10s</td><td>%.10s</td><td>%s</td></tr>\n", nb, na,
                      status_es(rec->status));
    return 0;
}

/* A revoked or suspended serial, of any holder: serial, time, reason and issuer only. */
static int add_revoked(const rb_cert_record *rec, void *arg)
{
    search *s = arg;
    char at[RB_TIME_TEXT_LEN];
    rb_time_format(rec->revoked_ms, at, sizeof(at));
    int reason = record_reason(rec);
    s->rows++;
    if (s->json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "serial", rec->serial, "issuer", rec->issuer,
                              "status", rb_cert_status_name(rec->status), "revoked_at", at,
                              "reason", rb_reason_name(reason));
        json_array_append_new(s->revoked, o);
        return 0;
    }
    rb_strbuf_append(s->html, "<tr><td class=\"mono\">");
    rb_strbuf_append_html(s->html, rec->serial);
    rb_strbuf_append(s->html, "</td><td>");
    rb_strbuf_append_html(s->html, rec->issuer);
    rb_strbuf_appendf(s->html, "</td><td>%s</td><td>%s</td></tr>\n", at, reason_es(reason));
    return 0;
}

/* The exact serial the query names, when it names one that was published. */
static rb_status find_exact(rb_ctx *ctx, search *s, rb_error *err)
{
    rb_cert_record rec;
    rb_error ignored = {0};
    if (s->q == NULL || rb_serial_normalise(s->q, s->exact, &ignored) != RB_OK)
        return RB_OK;
    rb_status st = rb_ca_get(ctx, s->exact, &rec, &ignored);
    if (st == RB_ENOTFOUND || st == RB_EINVAL)
        return RB_OK;
    if (st != RB_OK)
        return rb_fail(err, st, NULL, "%s", ignored.message);
    if (rec.publish)
        add_published(&rec, s);
    rb_cert_record_clear(&rec);
    return RB_OK;
}

static rb_status run_search(rb_ctx *ctx, search *s, rb_error *err)
{
    rb_status st = find_exact(ctx, s, err);
    rb_cert_filter published = {.subject = s->q && s->q[0] ? s->q : NULL,
                                .published_only = 1,
                                .limit = s->limit,
                                .offset = s->offset};
    if (st == RB_OK)
        st = rb_ca_list(ctx, &published, add_published, s, err);
    return st;
}

static rb_status run_revoked(rb_ctx *ctx, search *s, rb_error *err)
{
    static const char *const statuses[] = {"revoked", "suspended"};
    rb_status st = RB_OK;
    for (int i = 0; i < 2 && st == RB_OK; i++) {
        rb_cert_filter f = {.status = statuses[i], .limit = s->limit, .offset = s->offset};
        st = rb_ca_list(ctx, &f, add_revoked, s, err);
    }
    return st;
}

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"es\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>%s — Repositorio público</title>\n<style>\n"
    "body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;"
    "color:#1d2329;line-height:1.5}\n"
    "h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}\n"
    "table{border-collapse:collapse;width:100%%;font-size:.9rem}\n"
    "th,td{border-bottom:1px solid #d5dae0;padding:.35rem .5rem;text-align:left;"
    "vertical-align:top}\n"
    "th{background:#f1f4f7}.mono{font-family:ui-monospace,monospace;word-break:break-all}\n"
    "form{margin:1rem 0}input[type=search]{width:24rem;max-width:70%%;padding:.4rem}\n"
    "button{padding:.4rem .9rem}.note{color:#55606b;font-size:.9rem}\n"
    "pre{white-space:pre-wrap;background:#f7f9fb;padding:1rem;border:1px solid #d5dae0}\n"
    "</style>\n</head>\n<body>\n";

static void page_links(rb_strbuf *t)
{
    rb_strbuf_append(t, "<p><a href=\"/repository\">Repositorio</a> · "
                        "<a href=\"/repository/cp\">Política de certificación (CP)</a> · "
                        "<a href=\"/repository/cps\">Declaración de prácticas (CPS)</a> · "
                        "<a href=\"/ca/root.crt\">Certificado raíz</a> · "
                        "<a href=\"/ca/issuing.crt\">Certificado de la EC emisora</a> · "
                        "<a href=\"/crl/issuing.crl\">Lista de revocación (CRL)</a></p>\n");
}

static void render_html(search *s, rb_ctx *ctx, rb_error *err, rb_status *st)
{
    rb_strbuf *t = s->html;
    rb_strbuf_appendf(t, page_head, "Rúbrica");
    rb_strbuf_append(t, "<h1>Repositorio público de certificados</h1>\n");
    page_links(t);
    rb_strbuf_append(t, "<form method=\"get\" action=\"/repository\" role=\"search\">\n"
                        "<label for=\"q\">Buscar por nombre, número de documento o número de "
                        "serie:</label><br>\n<input type=\"search\" id=\"q\" name=\"q\" "
                        "maxlength=\"200\" value=\"");
    rb_strbuf_append_html(t, s->q ? s->q : "");
    rb_strbuf_append(t, "\">\n<button type=\"submit\">Buscar</button>\n</form>\n"
                        "<p class=\"note\">Solo se muestran los certificados cuyos titulares "
                        "consintieron su publicación. Los números de serie revocados o "
                        "suspendidos se publican siempre, sin datos personales.</p>\n");
    rb_strbuf_append(t, "<h2>Certificados publicados</h2>\n<table>\n<tr><th>Número de serie</th>"
                        "<th>Titular</th><th>Perfil</th><th>Desde</th><th>Hasta</th>"
                        "<th>Estado</th></tr>\n");
    *st = run_search(ctx, s, err);
    if (*st == RB_OK && s->rows == 0)
        rb_strbuf_append(t, "<tr><td colspan=\"6\">Ningún certificado publicado coincide con la "
                            "búsqueda.</td></tr>\n");
    rb_strbuf_append(t, "</table>\n<h2>Certificados revocados y suspendidos</h2>\n<table>\n"
                        "<tr><th>Número de serie</th><th>EC emisora</th><th>Fecha (UTC)</th>"
                        "<th>Motivo</th></tr>\n");
    s->rows = 0;
    if (*st == RB_OK)
        *st = run_revoked(ctx, s, err);
    if (*st == RB_OK && s->rows == 0)
        rb_strbuf_append(t, "<tr><td colspan=\"4\">No hay certificados revocados.</td></tr>\n");
    rb_strbuf_appendf(t,
                      "</table>\n<p class=\"note\">Se muestran hasta %d entradas por lista; la CRL "
                      "y el servicio OCSP dan el estado completo y al instante. Datos también en "
                      "<a href=\"/repository?format=json\">JSON</a>.</p>\n</body>\n</html>\n",
                      s->limit);
}

static void respond_failure(rb_http_response *resp, const rb_error *err)
{
    rb_log(RB_LOG_ERROR, "repository: %s", err->message);
    rb_http_respond_error(resp, 503, "store_unavailable",
                          "the repository cannot reach its database; try again shortly");
}

void rb_http_handle_repository(rb_http_request *req, rb_http_response *resp, void *arg)
{
    (void)arg;
    const char *format = rb_http_query(req, "format");
    search s = {.q = rb_http_query(req, "q")};
    s.json = format != NULL && strcmp(format, "json") == 0;
    s.limit =
        rb_http_query_count(rb_http_query(req, "limit"), RB_HTTP_PAGE_DEFAULT, RB_HTTP_PAGE_MAX);
    s.offset = rb_http_query_count(rb_http_query(req, "offset"), 0, 1000000);
    rb_error err = {0};
    if (format != NULL && !s.json && strcmp(format, "html") != 0) {
        rb_http_respond_error(resp, 400, "invalid_request", "format is html or json");
        return;
    }
    if ((s.q != NULL && rb_text_check("q", s.q, QUERY_MAX, &err) != RB_OK) || s.limit < 0 ||
        s.offset < 0) {
        rb_http_respond_error(resp, 400, "invalid_request",
                              "q is text of at most 200 characters; limit 0 to 1000; offset >= 0");
        return;
    }
    if (s.limit == 0)
        s.limit = RB_HTTP_PAGE_DEFAULT;
    rb_status st;
    if (s.json) {
        s.published = json_array();
        s.revoked = json_array();
        st = run_search(req->ctx, &s, &err);
        if (st == RB_OK)
            st = run_revoked(req->ctx, &s, &err);
        json_t *body = json_pack("{s:s?,s:o,s:o}", "query", s.q, "certificates", s.published,
                                 "revoked", s.revoked);
        char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (st != RB_OK) {
            free(text);
            respond_failure(resp, &err);
            return;
        }
        if (text == NULL) {
            rb_http_respond_error(resp, 500, "out_of_memory", "out of memory");
            return;
        }
        rb_http_respond_take(resp, 200, "application/json", (uint8_t *)text, strlen(text));
        rb_http_add_header(resp, "Cache-Control", "no-cache");
        return;
    }
    rb_strbuf page = {0};
    s.html = &page;
    render_html(&s, req->ctx, &err, &st);
    if (st != RB_OK) {
        rb_strbuf_clear(&page);
        respond_failure(resp, &err);
        return;
    }
    rb_http_add_header(resp, "Cache-Control", "no-cache");
    rb_http_add_header(resp, "Content-Security-Policy",
                       "default-src 'none'; style-src 'unsafe-inline'");
    rb_strbuf_respond(&page, resp, 200, "text/html; charset=utf-8");
}

/*
 * Reads a policy document: the operator's own copy in DATA/policies/ when
 * there is one, else the one shipped in docs/policies/.
 */
static rb_status read_policy(const rb_ctx *ctx, const char *name, uint8_t **out, size_t *len,
                             rb_error *err)
{
    char path[4096];
    if (ctx->data_dir != NULL) {
        snprintf(path, sizeof(path), "%s/policies/%s.md", ctx->data_dir, name);
        rb_error ignored = {0};
        if (rb_read_file(path, POLICY_MAX_SIZE, out, len, &ignored) == RB_OK)
            return RB_OK;
    }
    snprintf(path, sizeof(path), "%s/docs/policies/%s.md", RB_SHARE_DIR, name);
    return rb_read_file(path, POLICY_MAX_SIZE, out, len, err);
}

void rb_http_handle_policy(rb_http_request *req, rb_http_response *resp, void *arg)
{
    (void)arg;
    const char *name = strcmp(req->path, "/repository/cp") == 0 ? "cp" : "cps";
    const char *format = rb_http_query(req, "format");
    uint8_t *doc = NULL;
    size_t len = 0;
    rb_error err = {0};
    if (read_policy(req->ctx, name, &doc, &len, &err) != RB_OK) {
        rb_log(RB_LOG_ERROR, "repository: %s", err.message);
        rb_http_respond_error(resp, 404, "not_found", "this policy document is not published");
        return;
    }
    rb_http_add_header(resp, "Cache-Control", "public, max-age=3600");
    if (format != NULL && strcmp(format, "md") == 0) {
        rb_http_respond_take(resp, 200, "text/markdown; charset=utf-8", doc, len);
        return;
    }
    rb_strbuf page = {0};
    rb_strbuf_appendf(&page, page_head,
                      strcmp(name, "cp") == 0 ? "Política de certificación"
                                              : "Declaración de prácticas de certificación");
    page_links(&page);
    rb_strbuf_append(&page, "<pre>");
    rb_strbuf_append_html(&page, (const char *)doc);
    rb_strbuf_appendf(&page,
                      "</pre>\n<p class=\"note\"><a href=\"/repository/%s?format=md\">"
                      "Texto original (Markdown)</a></p>\n</body>\n</html>\n",
                      name);
    free(doc);
    rb_http_add_header(resp, "Content-Security-Policy",
                       "default-src 'none'; style-src 'unsafe-inline'");
    rb_strbuf_respond(&page, resp, 200, "text/html; charset=utf-8");
}
