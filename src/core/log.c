/*
 * One-line log records on stderr, each stamped with the UTC time. Written with
 * a single fprintf so lines from different threads do not interleave.
 */
#include "core/log.h"

#include "core/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static rb_log_level enabled_level = RB_LOG_WARN;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void rb_log_set_level(rb_log_level level)
{
    enabled_level = level;
}

rb_status rb_log_parse_level(const char *name, rb_log_level *out)
{
    for (int i = 0; i <= RB_LOG_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (rb_log_level)i;
            return RB_OK;
        }
    }
    return RB_EINVAL;
}

void rb_log(rb_log_level level, const char *fmt, ...)
{
    if (level > enabled_level)
        return;
    char when[RB_TIME_TEXT_LEN], line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s %s\n", rb_time_format(rb_clock_now_ms(NULL), when, sizeof(when)),
            level_names[level], line);
}
