/*
 * What test/leak-child.c's "sessions" mode does, for the suites that check
 * its exit report.
 * SPDX-License-Identifier: MIT
 */
#ifndef FP_TEST_LEAK_CHILD_H
#define FP_TEST_LEAK_CHILD_H

#include <framepool/framepool.h>

#define LEAK_CHILD_SESSIONS 50
/* The line of session_init()'s fp_pool_create() (checked there at compile time). */
#define LEAK_CHILD_SESSION_LINE 50

/* One session's pool: 640x360 NV12, two frames preallocated, at most four. */
static inline fp_pool_config leak_child_session_config(void)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "capture";
    cfg.format = FP_FMT_NV12;
    cfg.width = 640;
    cfg.height = 360;
    cfg.min_frames = 2;
    cfg.max_frames = 4;
    return cfg;
}

#endif
