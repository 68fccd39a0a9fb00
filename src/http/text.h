/*
 * Text the route handlers build: a growable buffer with HTML escaping for
 * pages, and the HTTP date format for Last-Modified and If-Modified-Since.
 * Shared by the distribution, repository and API routes.
 */
#ifndef RB_HTTP_TEXT_H
#define RB_HTTP_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "http/server.h"

/* A growing NUL-terminated string. Zero-initialise; once an append fails, failed stays set. */
typedef struct rb_strbuf {
    char *data;
    size_t len, cap;
    int failed;
} rb_strbuf;

void rb_strbuf_append(rb_strbuf *t, const char *s);
void rb_strbuf_appendf(rb_strbuf *t, const char *fmt, ...) RB_PRINTF(2, 3);
/* Appends s with & < > " ' replaced by character references: safe in text and quoted attributes. */
void rb_strbuf_append_html(rb_strbuf *t, const char *s);
/* Frees the buffer and zeroes t. */
void rb_strbuf_clear(rb_strbuf *t);
/*
 * Hands the text to resp as its body (status, content_type static) and
 * empties t; a failed text becomes a 500 instead.
 */
void rb_strbuf_respond(rb_strbuf *t, rb_http_response *resp, int status, const char *content_type);

/* Listings page by limit and offset: the limit when none is asked, and the most allowed. */
#define RB_HTTP_PAGE_DEFAULT 100
#define RB_HTTP_PAGE_MAX     1000
/* A count from a query parameter: fallback when text is NULL, -1 unless 0..max in decimal. */
int rb_http_query_count(const char *text, int fallback, int max);

#define RB_HTTP_DATE_LEN 32
/* An IMF-fixdate (RFC 9110 5.6.7) of ms, independent of the locale. Returns buf. */
const char *rb_http_date(int64_t ms, char *buf, size_t len);

/*
 * Whether the request's If-Modified-Since is at or after last_modified_ms
 * (RFC 9110 13.1.3; only the IMF-fixdate form is understood, anything else
 * means "send it").
 */
int rb_http_not_modified_since(const rb_http_request *req, int64_t last_modified_ms);

#endif
