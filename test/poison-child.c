/*
 * Helper of suite "poison": uses a frame after releasing it, so the test can
 * watch from outside how it is caught (the fill pattern, an ASan report, a
 * valgrind error).
 *   poison-child MODE [FORMAT]
 * MODE: clean   acquire, write, release, acquire again (no misuse)
 *       write   ... and write one byte of the released frame before re-acquiring
 *       tail    ... write the last byte of the released allocation (tail padding)
 *       chroma  ... write into the released frame's second plane
 *       read    ... read the released frame
 *       strict  write, in an FP_POOL_STRICT pool: the next acquire aborts
 *       trim-strict  write, in an FP_POOL_STRICT pool, then fp_pool_trim: the
 *               trim finds the damage and aborts (it used to deadlock: the
 *               report ran under the lock the trim held)
 * Prints the pool's log lines as "log: ..." and "misuse N" on stdout.
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdbool.h>

#include <framepool/framepool.h>

static void log_cb(void *opaque, int level, const char *msg)
{
    (void)opaque;
    (void)level;
    printf("log: %s\n", msg);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "clean";
    alarm(20); /* a deadlock ends in SIGALRM, not a stuck test */
    bool strict = !strcmp(mode, "strict") || !strcmp(mode, "trim-strict");
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "poison-child";
    cfg.format = FP_FMT_NV12;
    cfg.width = 64;
    cfg.height = 32;
    cfg.max_frames = 1; /* the next acquire gets the same slot */
    cfg.flags = FP_POOL_POISON | (strict ? FP_POOL_STRICT : 0);
    cfg.log = log_cb;
    fp_pool *pool = NULL;
    if (fp_pool_create(&pool, &cfg) < 0)
        return 10;
    fp_frame *f = NULL;
    if (fp_pool_acquire(pool, 0, &f) < 0)
        return 11;
    memset(f->data[0], 0x11, f->size);
    uint8_t *y = f->data[0], *uv = f->data[1];
    size_t size = f->size;
    fp_frame_unref(&f); /* the release site the report names */

    volatile uint8_t sink = 0;
    if (!strcmp(mode, "write") || strict)
        y[5] = 0x42;
    else if (!strcmp(mode, "tail"))
        y[size + 63] = 0x42; /* 64 bytes of tail padding follow the planes */
    else if (!strcmp(mode, "chroma"))
        uv[3] = 0x42;
    else if (!strcmp(mode, "read"))
        sink = y[7];
    (void)sink;
    if (!strcmp(mode, "trim-strict")) {
        fp_pool_trim(pool);
        return 13; /* not reached: the trim aborts */
    }

    if (fp_pool_acquire(pool, 0, &f) < 0)
        return 12;
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    printf("misuse %llu\n", (unsigned long long)st.misuse);
    fp_frame_unref(&f);
    fp_pool_unref(&pool);
    return 0;
}
