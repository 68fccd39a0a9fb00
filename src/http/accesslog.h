/*
 * Private to src/http: the access log, one line per request, buffered per
 * thread so that a busy server makes one write(2) per few dozen lines rather
 * than one per request. A flusher thread writes every buffer out at least
 * every HTTP_LOG_FLUSH_MS, and http_log_close writes out whatever is left, so
 * a graceful stop loses no line.
 */
#ifndef RB_HTTP_ACCESSLOG_H
#define RB_HTTP_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define HTTP_LOG_FLUSH_MS 100

typedef struct http_log http_log;

/* Starts logging to fd (not closed by us) and the flusher thread. Owned; see http_log_close. */
rb_status http_log_open(int fd, http_log **out, rb_error *err) RB_MUST_CHECK;

/*
 * Appends one line in Common Log Format, with milliseconds in the time and
 * the latency appended:
 *   127.0.0.1 - - [18/Nov/2026:10:00:00.123 +0000] "POST /tsa HTTP/1.1" 200 1234 0.512ms
 * The path is cut at 200 bytes and control characters and quotes are
 * replaced, so a client cannot forge lines. Safe from any thread. NULL log: no-op.
 */
void http_log_line(http_log *log, const char *client, const char *method, const char *path,
                   const char *version, int status, size_t bytes, uint64_t latency_us);

/*
 * Stops the flusher, writes out every thread's buffer and frees log. Call
 * once no thread logs any more. NULL is a no-op.
 */
void http_log_close(http_log *log);

#endif
