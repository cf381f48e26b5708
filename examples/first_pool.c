/*
 * first_pool: the program of doc/guide.md's "ten minutes" section. A bounded
 * pool, a few frames taken and shared, one forgotten, and the report that
 * names it.
 *
 *   cc first_pool.c $(pkg-config --cflags --libs framepool) -o first_pool
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>

#include <framepool/framepool.h>

int main(void)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "camera-720p";
    cfg.format = FP_FMT_NV12;
    cfg.width = 1280;
    cfg.height = 720;
    cfg.min_frames = 2; /* allocated now */
    cfg.max_frames = 4; /* the hard bound */

    fp_pool *pool;
    int ret = fp_pool_create(&pool, &cfg);
    if (ret < 0) {
        fprintf(stderr, "fp_pool_create: %s\n", fp_strerror(ret));
        return 1;
    }

    fp_frame *a, *b;                         /* 0 = do not wait if the pool is empty */
    if (fp_pool_acquire(pool, 0, &a) < 0 || fp_pool_acquire(pool, 0, &b) < 0)
        return 1;                            /* refcount 1 each: a and b are ours */
    a->pts = 0;
    fp_frame *shared = fp_frame_ref(a);      /* a second owner, e.g. an encoder */
    fp_frame_unref(&a);                      /* a == NULL now; the frame lives on */
    fp_frame_unref(&shared);                 /* the last reference: back to the pool */

    fp_frame_set_tag(b, "forgotten");        /* b is never released: a leak */

    fp_frame *more[4];
    int n = 0;
    while (n < 4 && (ret = fp_pool_acquire(pool, 0, &more[n])) == 0)
        n++;
    printf("took %d more frames, then: %s\n\n", n, fp_strerror(ret));
    for (int i = 0; i < n; i++)
        fp_frame_unref(&more[i]);

    fp_pool_report(pool, stdout);
    fp_pool_unref(&pool); /* b is still live: a leak report goes to stderr */
    return 0;
}
