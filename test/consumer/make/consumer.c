/*
 * A program that uses an installed framepool: found with pkg-config, built
 * by a plain Makefile. Acquires, references and releases frames, prints the
 * report, and checks the stats and the library version.
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>

#include <framepool/framepool.h>

int main(void)
{
    if (fp_version() != FP_VERSION) {
        fprintf(stderr, "headers are %#x, library is %#x\n", FP_VERSION, fp_version());
        return 1;
    }
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "consumer";
    cfg.format = FP_FMT_NV12;
    cfg.width = 640;
    cfg.height = 360;
    cfg.max_frames = 4;

    fp_pool *pool;
    int ret = fp_pool_create(&pool, &cfg);
    if (ret < 0) {
        fprintf(stderr, "fp_pool_create: %s\n", fp_strerror(ret));
        return 1;
    }
    fp_frame *a, *b;
    if (fp_pool_acquire(pool, 0, &a) < 0 || fp_pool_acquire(pool, 0, &b) < 0)
        return 1;
    fp_frame *ref = fp_frame_ref(a);
    fp_frame_set_tag(b, "kept for the report");
    fp_frame_unref(&a);
    fp_frame_unref(&ref); /* a's last reference: back to the pool */

    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    fp_pool_report(pool, stdout);
    int ok = st.live == 1 && st.acquired == 2 && st.released == 1 && st.capacity == 4;

    fp_frame_unref(&b);
    fp_pool_unref(&pool);
    printf("consumer (pkg-config, Makefile): %s, framepool %u.%u.%u\n", ok ? "ok" : "FAILED",
           fp_version() >> 16, (fp_version() >> 8) & 0xff, fp_version() & 0xff);
    return ok ? 0 : 1;
}
