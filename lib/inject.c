/*
 * The yield-injection build (meson -Dinject_yields=true): random yields and
 * short sleeps at the protocol points (FP_INJECT() in internal.h), so stress
 * tests under TSan explore interleavings a quiet 2-core machine rarely shows.
 * Never part of a release build.
 * SPDX-License-Identifier: MIT
 */
#include <sched.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"

static _Thread_local uint64_t rng;

void fp__inject_point(void)
{
    if (!rng)
        rng = (uint64_t)(uintptr_t)&rng * 0x9e3779b97f4a7c15ull | 1;
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    unsigned r = (unsigned)(rng >> 40) & 1023;
    if (r < 96) {
        sched_yield();
    } else if (r < 100) {
        struct timespec ts = { 0, (long)(1000 + (rng & 0xFFFF)) }; /* 1..66 us */
        nanosleep(&ts, NULL);
    }
}
