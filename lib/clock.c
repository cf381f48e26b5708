/*
 * Clocks and thread identity for tracking (the hot-path parts are inline in
 * internal.h).
 * SPDX-License-Identifier: MIT
 */
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "internal.h"

uint64_t fp_clock_precise(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

_Thread_local uint64_t fp_cached_tid __attribute__((tls_model("initial-exec")));

uint64_t fp_thread_id_slow(void)
{
    fp_cached_tid = (uint64_t)syscall(SYS_gettid);
    return fp_cached_tid;
}
