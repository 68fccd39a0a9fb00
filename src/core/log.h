/*
 * Logging to stderr with levels. The level is set once by the front end at
 * start-up; the library only ever calls rb_log.
 */
#ifndef RB_CORE_LOG_H
#define RB_CORE_LOG_H

#include "core/error.h"

typedef enum rb_log_level {
    RB_LOG_ERROR = 0,
    RB_LOG_WARN,
    RB_LOG_INFO,
    RB_LOG_DEBUG,
} rb_log_level;

/* Sets the most verbose level that is written. Call before starting threads. */
void rb_log_set_level(rb_log_level level);

/* Parses "error", "warn", "info" or "debug". Returns RB_EINVAL otherwise. */
rb_status rb_log_parse_level(const char *name, rb_log_level *out) RB_MUST_CHECK;

/* Writes one line "TIME LEVEL message" to stderr if level is enabled. */
void rb_log(rb_log_level level, const char *fmt, ...) RB_PRINTF(2, 3);

#endif
