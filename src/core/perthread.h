/*
 * Per-thread values created on first use: each thread that asks gets its own
 * (a store connection, an OpenSSL context that is not thread-safe), and the
 * owner frees them all at once after those threads have stopped. Used where a
 * pool of threads we do not create (libmicrohttpd's) needs private state.
 */
#ifndef RB_CORE_PERTHREAD_H
#define RB_CORE_PERTHREAD_H

#include "core/error.h"

typedef struct rb_perthread rb_perthread;

/* Builds one thread's value, or returns NULL and fills err. */
typedef void *(*rb_perthread_make_fn)(void *arg, rb_error *err);
/* Frees one value; called from whichever thread runs rb_perthread_free. */
typedef void (*rb_perthread_free_fn)(void *value);

/* Creates an empty set of per-thread values. Owned; free with rb_perthread_free. */
rb_status rb_perthread_new(rb_perthread_make_fn make, rb_perthread_free_fn destroy, void *arg,
                           rb_perthread **out, rb_error *err) RB_MUST_CHECK;

/*
 * The calling thread's value (borrowed), made on first call. A failed make is
 * not remembered: the next call tries again.
 */
rb_status rb_perthread_get(rb_perthread *pt, void **out, rb_error *err) RB_MUST_CHECK;

/*
 * Frees every thread's value and pt itself. Only once no thread uses pt any
 * more (e.g. after the server's threads have been joined). NULL is a no-op.
 */
void rb_perthread_free(rb_perthread *pt);

#endif
