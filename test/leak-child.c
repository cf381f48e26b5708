/*
 * Child process for the track suite: leaks one frame and exits, so that
 * FRAMEPOOL_TRACE=leaks has something to report at exit.
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>

#include <framepool/framepool.h>

static fp_pool *make(const char *name)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = name;
    cfg.format = FP_FMT_GRAY8;
    cfg.width = 32;
    cfg.height = 32;
    cfg.max_frames = 4;
    fp_pool *p = NULL;
    if (fp_pool_create(&p, &cfg) < 0)
        exit(3);
    return p;
}

static int handle_request(fp_pool *pool)
{
    fp_frame *f;
    if (fp_pool_acquire(pool, 0, &f) < 0)
        return -1;
    fp_frame_set_tag(f, "request-42");
    return -1; /* the early error return that forgets f */
}

int main(void)
{
    fp_pool *leaky = make("leaky");
    fp_pool *clean = make("clean");
    fp_frame *f;
    if (fp_pool_acquire(clean, 0, &f) == 0)
        fp_frame_unref(&f);
    handle_request(leaky);
    /* A server that never tears its pools down: only the exit report can tell. */
    return 0;
}
