/*
 * Private to src/http: a limiter of failed authentications per client
 * address, so that a client guessing credentials cannot flood the store or
 * the audit log. Fixed memory (a table of STRIPES x WAYS entries, each stripe
 * with its own lock; nothing is allocated after creation), safe to share
 * between the pool threads. Times are the caller's monotonic milliseconds.
 *
 * A client gets max_failures failed attempts per window; the last of them
 * blocks it for one window, during which its attempts are refused without
 * being checked and only counted. Each block with suppressed attempts
 * becomes one summary, taken once the block is over (or at shutdown), so the
 * caller can record it: at most max_failures + 1 records per client per
 * window. IPv6 clients are counted per /64, the smallest block one
 * subscriber is usually given.
 */
#ifndef RB_HTTP_RATELIMIT_H
#define RB_HTTP_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define HTTP_RATELIMIT_DEFAULT_MAX    10
#define HTTP_RATELIMIT_DEFAULT_WINDOW 60000 /* ms */

typedef struct http_ratelimit http_ratelimit;

typedef struct http_ratelimit_config {
    unsigned max_failures; /* failures per window before a block; 0: the default */
    int64_t window_ms;     /* the window, and the length of a block; 0: the default */
} http_ratelimit_config;

/* One client's suppressed attempts during a block (or those of clients the table evicted). */
typedef struct http_ratelimit_summary {
    char client[64];  /* "192.0.2.7", "2001:db8:1:2::/64", or "*" for evicted clients */
    unsigned clients; /* 1, or how many evicted clients "*" stands for */
    uint64_t suppressed;
    int64_t first_ms; /* first and last suppressed attempt */
    int64_t last_ms;
    int64_t blocked_until_ms; /* when the block ended or ends; 0 for "*" */
} http_ratelimit_summary;

/* A limiter with cfg's limits (NULL: the defaults). Owned; free with http_ratelimit_free. */
rb_status http_ratelimit_new(const http_ratelimit_config *cfg, http_ratelimit **out,
                             rb_error *err) RB_MUST_CHECK;
/* NULL is a no-op. */
void http_ratelimit_free(http_ratelimit *rl);
/* The limits in force (defaults filled in). */
http_ratelimit_config http_ratelimit_get_config(const http_ratelimit *rl);

/*
 * Before authenticating client (a numeric address): 0 when it may try.
 * Otherwise it is blocked: the attempt is counted as suppressed and the
 * result is how many ms remain. Takes no lock unless a client sharing client's
 * stripe has failed recently.
 */
int64_t http_ratelimit_check(http_ratelimit *rl, const char *client, int64_t now_ms);

/*
 * After client failed to authenticate: counts the failure. Returns 0, or,
 * when this failure used up the allowance, the length of the block it starts.
 */
int64_t http_ratelimit_fail(http_ratelimit *rl, const char *client, int64_t now_ms);

/*
 * Moves up to max summaries into out and returns how many: those of blocks
 * over by now_ms, or of every block when all is set (at shutdown). Taken
 * counts start again from zero, so each suppressed attempt is summarised
 * once. One atomic load when nothing is due; 0 while another thread sweeps.
 */
size_t http_ratelimit_take(http_ratelimit *rl, int64_t now_ms, int all, http_ratelimit_summary *out,
                           size_t max);

#endif
