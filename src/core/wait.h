/*
 * Timed waits on condition variables against the monotonic clock, so a
 * change of the wall clock neither shortens nor stretches them.
 */
#ifndef RB_CORE_WAIT_H
#define RB_CORE_WAIT_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Initialises cond to time its waits on CLOCK_MONOTONIC. */
void rb_cond_init_monotonic(pthread_cond_t *cond);

/* The monotonic instant us microseconds after from (now when from is NULL). */
struct timespec rb_monotonic_after(const struct timespec *from, int64_t us);

#endif
