/*
 * core_instr: the measured loops of bench/acquire, one per run, for counting
 * instructions under callgrind (scripts/bench-callgrind runs each mode for N
 * and 2N iterations and divides the difference by N, so setup and teardown
 * cancel out).
 *
 *   core_instr MODE N
 *
 * Links libframepool and libavutil only: valgrind cannot run programs that
 * load libavcodec on this machine (see test/valgrind-wrap.sh). The FFmpeg
 * paths measured here all live in libavutil.
 *
 * Setup does not depend on N, and nothing is printed, so two runs differ only
 * by the extra N iterations.
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include <framepool/framepool.h>
#ifdef HAVE_FP_AV
# include <libavutil/buffer.h>
# include <libavutil/frame.h>
# include <libavutil/imgutils.h>
# include <framepool/av.h>
#endif

#include "bench.h"
#include "floor.h"

#define POOL_FRAMES 8
#define FF_ALIGN 64
#define W 1920
#define H 1080

static fp_pool *core_pool(unsigned flags)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.format = FP_FMT_YUV420P;
    cfg.width = W;
    cfg.height = H;
    cfg.min_frames = POOL_FRAMES;
    cfg.max_frames = POOL_FRAMES;
    cfg.flags = flags;
    fp_pool *pool;
    if (fp_pool_create(&pool, &cfg) < 0)
        bench_die("fp_pool_create failed");
    return pool;
}

static void run_core(unsigned flags, uint64_t n)
{
    fp_pool *pool = core_pool(flags);
    for (uint64_t i = 0; i < n; i++) {
        fp_frame *f;
        if (fp_pool_acquire(pool, 0, &f) < 0)
            bench_die("fp_pool_acquire failed");
        if (fp_frame_unref(&f) < 0)
            bench_die("fp_frame_unref failed");
    }
    fp_pool_unref(&pool);
}

static void run_floor_lf(uint64_t n)
{
    floor_lf s;
    if (floor_lf_init(&s, POOL_FRAMES, NULL))
        bench_die("out of memory");
    for (uint64_t i = 0; i < n; i++) {
        floor_node *node = floor_lf_pop(&s);
        if (!node)
            bench_die("empty");
        floor_lf_push(&s, node);
    }
    floor_lf_free(&s);
}

static void run_floor_rc(uint64_t n)
{
    floor_lf s;
    if (floor_lf_init(&s, POOL_FRAMES, NULL))
        bench_die("out of memory");
    for (uint64_t i = 0; i < n; i++) {
        floor_node *node = floor_rc_acquire(&s);
        if (!node)
            bench_die("empty");
        if (floor_rc_release(&s, node) < 0)
            bench_die("count was 0");
    }
    floor_lf_free(&s);
}

static void run_floor_mx(uint64_t n)
{
    floor_mx s;
    if (floor_mx_init(&s, POOL_FRAMES, NULL))
        bench_die("out of memory");
    for (uint64_t i = 0; i < n; i++) {
        floor_node *node = floor_mx_pop(&s);
        if (!node)
            bench_die("empty");
        floor_mx_push(&s, node);
    }
    floor_mx_free(&s);
}

#ifdef HAVE_FP_AV
static fp_pool *av_pool(void)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.min_frames = POOL_FRAMES;
    cfg.max_frames = POOL_FRAMES;
    fp_pool *pool;
    if (fp_av_pool_create(&pool, AV_PIX_FMT_YUV420P, W, H, &cfg) < 0)
        bench_die("fp_av_pool_create failed");
    return pool;
}

static void run_fp_av_acquire(uint64_t n)
{
    fp_pool *pool = av_pool();
    for (uint64_t i = 0; i < n; i++) {
        AVFrame *f;
        if (fp_av_acquire(pool, 0, &f) < 0)
            bench_die("fp_av_acquire failed");
        av_frame_free(&f);
    }
    fp_pool_unref(&pool);
}

static void run_fp_av_dropin(uint64_t n)
{
    fp_pool *pool = av_pool();
    AVFrame *f = av_frame_alloc();
    if (!f)
        bench_die("out of memory");
    for (uint64_t i = 0; i < n; i++) {
        f->format = AV_PIX_FMT_YUV420P;
        f->width = W;
        f->height = H;
        if (fp_av_frame_get_buffer(pool, f, 0) < 0)
            bench_die("fp_av_frame_get_buffer failed");
        av_frame_unref(f);
    }
    av_frame_free(&f);
    fp_pool_unref(&pool);
}

static void run_ff_raw(int w, int h, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        AVFrame *f = av_frame_alloc();
        if (!f)
            bench_die("out of memory");
        f->format = AV_PIX_FMT_YUV420P;
        f->width = w;
        f->height = h;
        if (av_frame_get_buffer(f, 0) < 0)
            bench_die("av_frame_get_buffer failed");
        av_frame_free(&f);
    }
}

static AVBufferPool *ff_pool(void)
{
    AVBufferPool *bp = av_buffer_pool_init((size_t)av_image_get_buffer_size(AV_PIX_FMT_YUV420P, W, H, FF_ALIGN), NULL);
    AVBufferRef *held[POOL_FRAMES];
    if (!bp)
        bench_die("out of memory");
    for (int i = 0; i < POOL_FRAMES; i++)
        if (!(held[i] = av_buffer_pool_get(bp)))
            bench_die("out of memory");
    for (int i = 0; i < POOL_FRAMES; i++)
        av_buffer_unref(&held[i]);
    return bp;
}

static void run_ff_bufpool(uint64_t n)
{
    AVBufferPool *bp = ff_pool();
    for (uint64_t i = 0; i < n; i++) {
        AVBufferRef *b = av_buffer_pool_get(bp);
        if (!b)
            bench_die("av_buffer_pool_get failed");
        av_buffer_unref(&b);
    }
    av_buffer_pool_uninit(&bp);
}

static void ff_fill(AVBufferPool *bp, AVFrame *f)
{
    if (!(f->buf[0] = av_buffer_pool_get(bp)))
        bench_die("av_buffer_pool_get failed");
    if (av_image_fill_arrays(f->data, f->linesize, f->buf[0]->data, AV_PIX_FMT_YUV420P, W, H, FF_ALIGN) < 0)
        bench_die("av_image_fill_arrays failed");
    f->format = AV_PIX_FMT_YUV420P;
    f->width = W;
    f->height = H;
}

static void run_ff_bufpool_frame(int reuse, uint64_t n)
{
    AVBufferPool *bp = ff_pool();
    AVFrame *kept = reuse ? av_frame_alloc() : NULL;
    if (reuse && !kept)
        bench_die("out of memory");
    for (uint64_t i = 0; i < n; i++) {
        if (reuse) {
            ff_fill(bp, kept);
            av_frame_unref(kept);
        } else {
            AVFrame *f = av_frame_alloc();
            if (!f)
                bench_die("out of memory");
            ff_fill(bp, f);
            av_frame_free(&f);
        }
    }
    av_frame_free(&kept);
    av_buffer_pool_uninit(&bp);
}
#endif

static const char *const modes[] = {
    "floor_lockfree", "floor_refcount", "floor_mutex", "fp_core_tracked", "fp_core_untracked",
#ifdef HAVE_FP_AV
    "fp_av_acquire", "fp_av_dropin", "ff_bufpool", "ff_bufpool_frame", "ff_bufpool_frame_reuse",
    "ff_raw_360p", "ff_raw_1080p",
#endif
};

static void usage(void)
{
    fprintf(stderr, "usage: core_instr MODE N\nmodes:");
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        fprintf(stderr, " %s", modes[i]);
    fputc('\n', stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--list")) {
        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
            printf("%s\n", modes[i]);
        return 0;
    }
    if (argc != 3)
        usage();
    const char *mode = argv[1];
    char *end;
    uint64_t n = strtoull(argv[2], &end, 10);
    if (*end || !n)
        usage();
    bench_become_multithreaded(); /* as bench/acquire does */
    if (!strcmp(mode, "floor_lockfree"))
        run_floor_lf(n);
    else if (!strcmp(mode, "floor_refcount"))
        run_floor_rc(n);
    else if (!strcmp(mode, "floor_mutex"))
        run_floor_mx(n);
    else if (!strcmp(mode, "fp_core_tracked"))
        run_core(0, n);
    else if (!strcmp(mode, "fp_core_untracked"))
        run_core(FP_POOL_NO_TRACK, n);
#ifdef HAVE_FP_AV
    else if (!strcmp(mode, "fp_av_acquire"))
        run_fp_av_acquire(n);
    else if (!strcmp(mode, "fp_av_dropin"))
        run_fp_av_dropin(n);
    else if (!strcmp(mode, "ff_bufpool"))
        run_ff_bufpool(n);
    else if (!strcmp(mode, "ff_bufpool_frame"))
        run_ff_bufpool_frame(0, n);
    else if (!strcmp(mode, "ff_bufpool_frame_reuse"))
        run_ff_bufpool_frame(1, n);
    else if (!strcmp(mode, "ff_raw_360p"))
        run_ff_raw(640, 360, n);
    else if (!strcmp(mode, "ff_raw_1080p"))
        run_ff_raw(W, H, n);
#endif
    else
        usage();
    return 0;
}
