/*
 * The context every library operation runs in: the store it reads and writes,
 * the clock it takes time from, who is acting (recorded in the audit log) and
 * the data directory holding keys and profiles. Owned by the front end; one
 * per thread, since a store connection is not shared between threads.
 */
#ifndef RB_CORE_CONTEXT_H
#define RB_CORE_CONTEXT_H

#include "core/clock.h"

struct rb_store;

typedef struct rb_ctx {
    struct rb_store *store;
    rb_clock clock;
    const char *actor;    /* e.g. "cli:root", "api:alice"; never NULL */
    const char *data_dir; /* may be NULL for operations that need no files */
} rb_ctx;

static inline int64_t rb_ctx_now_ms(const rb_ctx *ctx)
{
    return rb_clock_now_ms(&ctx->clock);
}

#endif
