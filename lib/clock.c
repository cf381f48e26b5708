/*
 * Time and thread identity for tracking.
 * SPDX-License-Identifier: MIT
 *
 * Acquire records a timestamp on every call, so the clock must cost a few ns:
 * CLOCK_MONOTONIC_COARSE is read from the vDSO without a syscall (resolution
 * one scheduler tick, plenty for frame ages). Waits use the precise clock.
 */
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "internal.h"

static uint64_t ts_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

uint64_t fp_clock_now(void)
{
    struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return ts_ns(&ts);
}

uint64_t fp_clock_precise(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts_ns(&ts);
}

static _Thread_local uint64_t cached_tid;

uint64_t fp_thread_id(void)
{
    if (FP_UNLIKELY(!cached_tid))
        cached_tid = (uint64_t)syscall(SYS_gettid);
    return cached_tid;
}
