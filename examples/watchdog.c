/*
 * watchdog: the watchdog and long-lived frames in 30 lines. A frame held
 * longer than the limit is reported once, through the pool's log; a frame
 * marked long-lived is never reported, neither by the watchdog nor as a leak.
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>

#include <framepool/framepool.h>

int main(void)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "dec-out";
    cfg.format = FP_FMT_NV12;
    cfg.width = 640;
    cfg.height = 360;
    cfg.max_frames = 8;
    fp_pool *pool;
    if (fp_pool_create(&pool, &cfg) < 0)
        return 1;
    fp_pool_set_watchdog(pool, 100000, NULL, NULL); /* 100 ms; NULL: warn through the pool's log */

    fp_frame *logo, *f;
    if (fp_pool_acquire(pool, 0, &logo) < 0)
        return 1;
    fp_frame_set_long_lived(logo);                  /* kept on purpose: never reported */
    if (fp_pool_acquire(pool, 0, &f) < 0)
        return 1;
    fp_frame_set_tag(f, "stream-7");                /* forgotten */

    struct timespec ts = { 0, 150000000 };
    nanosleep(&ts, NULL);
    printf("newly reported: %d\n", fp_pool_watchdog_check(pool));
    printf("newly reported: %d\n", fp_pool_watchdog_check(pool)); /* once per acquisition */
    fp_pool_report(pool, stdout);
    fp_pool_unref(&pool); /* the logo is not reported: it is long-lived */
    return 0;
}
