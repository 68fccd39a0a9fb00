/*
 * The access log: each thread appends its lines to its own buffer (found
 * through a thread-local pointer, so the hot path takes only an uncontended
 * lock), and writes it out when the next line would not fit. A flusher thread
 * writes every buffer out each HTTP_LOG_FLUSH_MS, so a quiet server's lines
 * still appear promptly. Buffers are PIPE_BUF bytes: one write(2) of whole
 * lines never interleaves with another writer's, even on a pipe.
 */
#include "http/accesslog.h"

#include "core/wait.h"
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUFFER_BYTES  PIPE_BUF
#define MAX_LINE      512
#define MAX_LOG_PATH  200
#define MAX_LOG_TOKEN 16

typedef struct log_buffer {
    struct log_buffer *next;
    pthread_mutex_t lock; /* guards used and data against the flusher */
    size_t used;
    time_t second; /* what when spells; only the owning thread touches these two */
    char when[32];
    char data[BUFFER_BYTES];
} log_buffer;

struct http_log {
    int fd;
    uint64_t id; /* tells this log's thread-local buffers from an earlier log's */
    pthread_mutex_t list_lock;
    log_buffer *buffers;
    pthread_t flusher;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    int stopping;
};

static _Atomic uint64_t next_log_id = 1;
static _Thread_local uint64_t thread_log_id;
static _Thread_local log_buffer *thread_buffer;

/* Writes all of data; a full disk or a closed pipe must not stop the service, so errors are
 * dropped. */
static void write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static void flush_locked(const http_log *log, log_buffer *b)
{
    write_all(log->fd, b->data, b->used);
    b->used = 0;
}

static void flush_all(http_log *log)
{
    pthread_mutex_lock(&log->list_lock);
    for (log_buffer *b = log->buffers; b != NULL; b = b->next) {
        pthread_mutex_lock(&b->lock);
        flush_locked(log, b);
        pthread_mutex_unlock(&b->lock);
    }
    pthread_mutex_unlock(&log->list_lock);
}

static void *flusher_main(void *arg)
{
    http_log *log = arg;
    pthread_mutex_lock(&log->stop_lock);
    while (!log->stopping) {
        struct timespec until = rb_monotonic_after(NULL, HTTP_LOG_FLUSH_MS * 1000L);
        pthread_cond_timedwait(&log->stop_cond, &log->stop_lock, &until);
        pthread_mutex_unlock(&log->stop_lock);
        flush_all(log);
        pthread_mutex_lock(&log->stop_lock);
    }
    pthread_mutex_unlock(&log->stop_lock);
    return NULL;
}

rb_status http_log_open(int fd, http_log **out, rb_error *err)
{
    http_log *log = calloc(1, sizeof(*log));
    if (log == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    log->fd = fd;
    log->id = atomic_fetch_add(&next_log_id, 1);
    pthread_mutex_init(&log->list_lock, NULL);
    pthread_mutex_init(&log->stop_lock, NULL);
    rb_cond_init_monotonic(&log->stop_cond);
    if (pthread_create(&log->flusher, NULL, flusher_main, log) != 0) {
        pthread_mutex_destroy(&log->list_lock);
        pthread_mutex_destroy(&log->stop_lock);
        pthread_cond_destroy(&log->stop_cond);
        free(log);
        return rb_fail(err, RB_EINTERNAL, NULL, "could not start the access-log flusher");
    }
    *out = log;
    return RB_OK;
}

void http_log_close(http_log *log)
{
    if (log == NULL)
        return;
    pthread_mutex_lock(&log->stop_lock);
    log->stopping = 1;
    pthread_cond_signal(&log->stop_cond);
    pthread_mutex_unlock(&log->stop_lock);
    pthread_join(log->flusher, NULL);
    flush_all(log);
    for (log_buffer *b = log->buffers, *next; b != NULL; b = next) {
        next = b->next;
        pthread_mutex_destroy(&b->lock);
        free(b);
    }
    pthread_mutex_destroy(&log->list_lock);
    pthread_mutex_destroy(&log->stop_lock);
    pthread_cond_destroy(&log->stop_cond);
    free(log);
}

/* The calling thread's buffer for log, made on first use; NULL for lack of memory. */
static log_buffer *own_buffer(http_log *log)
{
    if (thread_log_id == log->id)
        return thread_buffer;
    log_buffer *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    pthread_mutex_init(&b->lock, NULL);
    b->second = -1;
    pthread_mutex_lock(&log->list_lock);
    b->next = log->buffers;
    log->buffers = b;
    pthread_mutex_unlock(&log->list_lock);
    thread_log_id = log->id;
    thread_buffer = b;
    return b;
}

/* A bounded line under construction; text that does not fit is cut. */
typedef struct line {
    char *at, *end;
} line;

/* Our own text, copied as is. */
static void put_raw(line *l, const char *text)
{
    while (*text != '\0' && l->at < l->end)
        *l->at++ = *text++;
}

/* A client's text: at most max bytes, control characters and quotes replaced. */
static void put_text(line *l, const char *text, size_t max)
{
    for (size_t i = 0; text[i] != '\0' && i < max && l->at < l->end; i++) {
        unsigned char c = (unsigned char)text[i];
        *l->at++ = c < 0x20 || c == 0x7f || c == '"' ? '?' : (char)c;
    }
}

static void put_number(line *l, uint64_t value, int min_digits)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0 || n < min_digits);
    while (n > 0 && l->at < l->end)
        *l->at++ = digits[--n];
}

/* Day/Mon/Year:HH:MM:SS of t, cached per second in b. */
static const char *time_text(log_buffer *b, time_t t)
{
    if (b == NULL || b->second != t) {
        static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        static _Thread_local char scratch[32];
        char *out = b ? b->when : scratch;
        struct tm tm;
        gmtime_r(&t, &tm);
        line l = {out, out + 31};
        put_number(&l, (uint64_t)tm.tm_mday, 2);
        put_raw(&l, "/");
        put_raw(&l, months[tm.tm_mon]);
        put_raw(&l, "/");
        put_number(&l, (uint64_t)tm.tm_year + 1900, 4);
        put_raw(&l, ":");
        put_number(&l, (uint64_t)tm.tm_hour, 2);
        put_raw(&l, ":");
        put_number(&l, (uint64_t)tm.tm_min, 2);
        put_raw(&l, ":");
        put_number(&l, (uint64_t)tm.tm_sec, 2);
        *l.at = '\0';
        if (b == NULL)
            return scratch;
        b->second = t;
    }
    return b->when;
}

void http_log_line(http_log *log, const char *client, const char *method, const char *path,
                   const char *version, int status, size_t bytes, uint64_t latency_us)
{
    if (log == NULL)
        return;
    log_buffer *b = own_buffer(log);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char text[MAX_LINE];
    line l = {text, text + sizeof(text) - 1}; /* room for the newline */
    put_text(&l, client, 64);
    put_raw(&l, " - - [");
    put_raw(&l, time_text(b, now.tv_sec));
    put_raw(&l, ".");
    put_number(&l, (uint64_t)(now.tv_nsec / 1000000), 3);
    put_raw(&l, " +0000] \"");
    put_text(&l, method, MAX_LOG_TOKEN);
    put_raw(&l, " ");
    put_text(&l, path, MAX_LOG_PATH);
    put_raw(&l, " ");
    put_text(&l, version, MAX_LOG_TOKEN);
    put_raw(&l, "\" ");
    put_number(&l, status > 0 ? (uint64_t)status : 0, 1);
    put_raw(&l, " ");
    put_number(&l, bytes, 1);
    put_raw(&l, " ");
    put_number(&l, latency_us / 1000, 1);
    put_raw(&l, ".");
    put_number(&l, latency_us % 1000, 3);
    put_raw(&l, "ms");
    *l.at++ = '\n';
    size_t len = (size_t)(l.at - text);
    if (b == NULL) {
        write_all(log->fd, text, len); /* no memory for a buffer: unbuffered, but logged */
        return;
    }
    pthread_mutex_lock(&b->lock);
    if (b->used + len > sizeof(b->data))
        flush_locked(log, b);
    memcpy(b->data + b->used, text, len);
    b->used += len;
    pthread_mutex_unlock(&b->lock);
}
