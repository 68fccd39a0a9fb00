/*
 * UTC clock and the text form of instants used in the store, the audit log and
 * every report: RFC 3339 with milliseconds and a literal Z.
 */
#include "core/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t rb_clock_now_ms(const rb_clock *clock)
{
    if (clock != NULL && clock->fixed_ms != 0)
        return clock->fixed_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *rb_time_format(int64_t ms, char *buf, size_t len)
{
    time_t secs = (time_t)(ms / 1000);
    int millis = (int)(ms % 1000);
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return buf;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

rb_status rb_time_parse(const char *text, int64_t *out_ms, rb_error *err)
{
    int year, month, day, hour = 0, minute = 0, second = 0, millis = 0, used = 0;
    size_t len = text ? strlen(text) : 0;
    if (len < 10 || len > 30)
        goto bad;
    if (sscanf(text, "%4d-%2d-%2d%n", &year, &month, &day, &used) != 3 || used != 10)
        goto bad;
    if (len > 10) {
        int more = 0;
        if ((text[10] != 'T' && text[10] != ' ') ||
            sscanf(text + 11, "%2d:%2d:%2d%n", &hour, &minute, &second, &more) != 3 || more != 8)
            goto bad;
        const char *rest = text + 19;
        if (*rest == '.') {
            int digits = 0;
            rest++;
            while (*rest >= '0' && *rest <= '9') {
                if (digits < 3)
                    millis = millis * 10 + (*rest - '0');
                digits++;
                rest++;
            }
            if (digits == 0)
                goto bad;
            for (; digits < 3; digits++)
                millis *= 10;
        }
        if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0)
            goto bad;
    }
    if (year < 1950 || year > 9999 || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60)
        goto bad;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = month - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = minute,
                    .tm_sec = second};
    *out_ms = (int64_t)timegm(&tm) * 1000 + millis;
    return RB_OK;
bad:
    return rb_fail(err, RB_EINVAL, "RFC 3339", "'%s' is not a UTC time like 2026-11-22T10:00:00Z",
                   text ? text : "");
}
