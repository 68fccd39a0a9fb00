/*
 * Growable text with HTML escaping, and HTTP dates (see text.h).
 */
#include "http/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int reserve(rb_strbuf *t, size_t extra)
{
    if (t->failed)
        return 0;
    if (t->len + extra + 1 <= t->cap)
        return 1;
    size_t cap = t->cap ? t->cap : 1024;
    while (cap < t->len + extra + 1)
        cap *= 2;
    char *data = realloc(t->data, cap);
    if (data == NULL) {
        t->failed = 1;
        return 0;
    }
    t->data = data;
    t->cap = cap;
    return 1;
}

static void append_bytes(rb_strbuf *t, const char *s, size_t n)
{
    if (!reserve(t, n))
        return;
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

void rb_strbuf_append(rb_strbuf *t, const char *s)
{
    append_bytes(t, s, strlen(s));
}

void rb_strbuf_appendf(rb_strbuf *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(t, (size_t)n)) {
        t->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(t->data + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void rb_strbuf_append_html(rb_strbuf *t, const char *s)
{
    for (const char *p = s; *p != '\0'; p++) {
        const char *ref = NULL;
        switch (*p) {
        case '&':
            ref = "&amp;";
            break;
        case '<':
            ref = "&lt;";
            break;
        case '>':
            ref = "&gt;";
            break;
        case '"':
            ref = "&quot;";
            break;
        case '\'':
            ref = "&#39;";
            break;
        }
        if (ref != NULL)
            rb_strbuf_append(t, ref);
        else
            append_bytes(t, p, 1);
    }
}

void rb_strbuf_clear(rb_strbuf *t)
{
    free(t->data);
    memset(t, 0, sizeof(*t));
}

void rb_strbuf_respond(rb_strbuf *t, rb_http_response *resp, int status, const char *content_type)
{
    if (t->failed || t->data == NULL) {
        rb_strbuf_clear(t);
        rb_http_respond_error(resp, 500, "out_of_memory", "out of memory");
        return;
    }
    rb_http_respond_take(resp, status, content_type, (uint8_t *)t->data, t->len);
    memset(t, 0, sizeof(*t));
}

static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int rb_http_query_count(const char *text, int fallback, int max)
{
    if (text == NULL)
        return fallback;
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < 0 || v > max)
        return -1;
    return (int)v;
}

const char *rb_http_date(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

/* Parses an IMF-fixdate into seconds since the epoch; -1 if it is not one. */
static int64_t parse_http_date(const char *text)
{
    char wday[4], mon[4];
    int day, year, hour, min, sec, used = 0;
    if (sscanf(text, "%3s, %2d %3s %4d %2d:%2d:%2d GMT%n", wday, &day, mon, &year, &hour, &min,
               &sec, &used) != 7 ||
        used == 0 || text[used] != '\0')
        return -1;
    int m = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp(mon, months[i]) == 0)
            m = i;
    if (m < 0 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 || year < 1970)
        return -1;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = m,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_sec = sec};
    return (int64_t)timegm(&tm);
}

int rb_http_not_modified_since(const rb_http_request *req, int64_t last_modified_ms)
{
    const char *since = rb_http_header(req, "If-Modified-Since");
    if (since == NULL)
        return 0;
    int64_t t = parse_http_date(since);
    return t >= 0 && last_modified_ms / 1000 <= t;
}
