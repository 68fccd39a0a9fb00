/*
 * Counting requests for /metrics. Counts are per
 * route and status code (the codes we send, plus "other"), latencies go into
 * a fixed-bucket histogram in the shape Prometheus expects (cumulative le
 * buckets, _sum and _count).
 */
#include "http/stats.h"

#include "core/error.h"
#include "core/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int status_codes[HTTP_STATUS_SLOTS - 1] = {
    200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503,
};

/* Upper bounds in microseconds of all but the last (+Inf) bucket. */
static const uint64_t latency_bounds_us[HTTP_LATENCY_SLOTS - 1] = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000,
};

static int status_slot(int status)
{
    for (int i = 0; i < HTTP_STATUS_SLOTS - 1; i++)
        if (status_codes[i] == status)
            return i;
    return HTTP_STATUS_SLOTS - 1;
}

void http_stats_record(http_route_stats *stats, int status, uint64_t latency_us)
{
    int bucket = 0;
    while (bucket < HTTP_LATENCY_SLOTS - 1 && latency_us > latency_bounds_us[bucket])
        bucket++;
    atomic_fetch_add_explicit(&stats->by_status[status_slot(status)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&stats->by_latency[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&stats->latency_us_sum, latency_us, memory_order_relaxed);
    atomic_fetch_add_explicit(&stats->count, 1, memory_order_relaxed);
}

typedef struct text {
    char *data;
    size_t len, cap;
    int failed;
} text;

static void append(text *t, const char *fmt, ...) RB_PRINTF(2, 3);

static void append(text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *grown = realloc(t->data, cap);
        if (grown == NULL) {
            t->failed = 1;
            return;
        }
        t->data = grown;
        t->cap = cap;
    }
}

static uint64_t load(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void render_requests(text *t, const http_route_stats *routes, size_t count)
{
    append(t, "# HELP rubrica_http_requests_total HTTP requests answered, by route and status.\n"
              "# TYPE rubrica_http_requests_total counter\n");
    for (size_t r = 0; r < count; r++)
        for (int i = 0; i < HTTP_STATUS_SLOTS; i++) {
            uint64_t n = load(&routes[r].by_status[i]);
            if (n == 0)
                continue;
            if (i < HTTP_STATUS_SLOTS - 1)
                append(t, "rubrica_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                       routes[r].label, status_codes[i], (unsigned long long)n);
            else
                append(t, "rubrica_http_requests_total{route=\"%s\",code=\"other\"} %llu\n",
                       routes[r].label, (unsigned long long)n);
        }
}

static void render_latency(text *t, const http_route_stats *routes, size_t count)
{
    append(t, "# HELP rubrica_http_request_duration_seconds Time from request to response.\n"
              "# TYPE rubrica_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < count; r++) {
        uint64_t total = load(&routes[r].count);
        if (total == 0)
            continue;
        uint64_t cumulative = 0;
        for (int i = 0; i < HTTP_LATENCY_SLOTS; i++) {
            cumulative += load(&routes[r].by_latency[i]);
            if (i < HTTP_LATENCY_SLOTS - 1)
                append(t,
                       "rubrica_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                       "%llu\n",
                       routes[r].label, (double)latency_bounds_us[i] / 1e6,
                       (unsigned long long)cumulative);
            else
                append(t,
                       "rubrica_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                       "%llu\n",
                       routes[r].label, (unsigned long long)cumulative);
        }
        append(t, "rubrica_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", routes[r].label,
               (double)load(&routes[r].latency_us_sum) / 1e6);
        append(t, "rubrica_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
               routes[r].label, (unsigned long long)total);
    }
}

char *http_stats_render(const http_route_stats *routes, size_t count, size_t *len)
{
    text t = {.data = malloc(4096), .cap = 4096};
    if (t.data == NULL)
        return NULL;
    render_requests(&t, routes, count);
    render_latency(&t, routes, count);
    for (int m = 0; m < RB_METRIC_COUNT; m++)
        append(&t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", rb_metric_name(m),
               rb_metric_help(m), rb_metric_name(m), rb_metric_name(m),
               (unsigned long long)rb_metrics_get(m));
    if (t.failed) {
        free(t.data);
        return NULL;
    }
    *len = t.len;
    return t.data;
}
