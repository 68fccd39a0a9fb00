/*
 * Monotonic timed waits (see wait.h).
 */
#include "core/wait.h"

void rb_cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

struct timespec rb_monotonic_after(const struct timespec *from, int64_t us)
{
    struct timespec at;
    if (from != NULL)
        at = *from;
    else
        clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_sec += (time_t)(us / 1000000);
    at.tv_nsec += (long)(us % 1000000) * 1000L;
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
    }
    return at;
}
