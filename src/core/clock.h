/*
 * The one source of time in librubrica: UTC milliseconds since the epoch.
 * A clock is a small value the caller owns; tests (and only tests) pin it to a
 * fixed instant so lifecycle rules that depend on time can be exercised.
 */
#ifndef RB_CORE_CLOCK_H
#define RB_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct rb_clock {
    int64_t fixed_ms; /* 0: follow the system clock; otherwise this instant, advancing never */
} rb_clock;

/* Current UTC time in milliseconds. clock may be NULL (system clock). */
int64_t rb_clock_now_ms(const rb_clock *clock);

/*
 * Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (at least RB_TIME_TEXT_LEN
 * bytes). Returns buf.
 */
#define RB_TIME_TEXT_LEN 32
const char *rb_time_format(int64_t ms, char *buf, size_t len);

/*
 * Parses an RFC 3339 UTC time ("2026-11-22T10:00:00Z", optional ".mmm") or a
 * bare date ("2026-11-22", midnight UTC) into milliseconds.
 */
rb_status rb_time_parse(const char *text, int64_t *out_ms, rb_error *err) RB_MUST_CHECK;

#endif
