/*
 * Private to src/http: request counters and latency histograms per route,
 * and their Prometheus text form. Lock-free: every pool
 * thread bumps C11 atomics.
 */
#ifndef RB_HTTP_STATS_H
#define RB_HTTP_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_STATUS_SLOTS  18
#define HTTP_LATENCY_SLOTS 14 /* the bounds in stats.c, then +Inf */

typedef struct http_route_stats {
    const char *label; /* the route's path, or "unmatched" */
    _Atomic uint64_t by_status[HTTP_STATUS_SLOTS];
    _Atomic uint64_t by_latency[HTTP_LATENCY_SLOTS];
    _Atomic uint64_t latency_us_sum;
    _Atomic uint64_t count;
} http_route_stats;

void http_stats_record(http_route_stats *stats, int status, uint64_t latency_us);

/*
 * Appends the Prometheus text for count routes and the process counters of
 * core/metrics.h to a new malloc'd buffer. Returns NULL for lack of memory.
 */
char *http_stats_render(const http_route_stats *routes, size_t count, size_t *len);

#endif
