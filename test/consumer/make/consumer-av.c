/*
 * The FFmpeg adapter from an installed framepool: pooled AVFrames that come
 * back to the pool when the last reference (here a clone's) is freed.
 * Built by the Makefile when <framepool/av.h> is installed.
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>

#include <framepool/av.h>

int main(void)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "consumer-av";
    cfg.max_frames = 2;
    fp_pool *pool;
    int ret = fp_av_pool_create(&pool, AV_PIX_FMT_YUV420P, 320, 240, &cfg);
    if (ret < 0) {
        fprintf(stderr, "fp_av_pool_create: %s\n", fp_strerror(ret));
        return 1;
    }
    AVFrame *frame;
    if (fp_av_acquire(pool, 0, &frame) < 0)
        return 1;
    AVFrame *clone = av_frame_clone(frame); /* a second reference to the same buffer */
    av_frame_free(&frame);

    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    int ok = clone && st.live == 1;
    av_frame_free(&clone); /* the last reference: the frame returns */
    fp_pool_get_stats(pool, &st);
    ok = ok && st.live == 0 && st.released == 1;

    fp_pool_unref(&pool);
    printf("consumer-av (pkg-config, Makefile): %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
