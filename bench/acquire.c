/*
 * acquire: nanoseconds per acquire+release, framepool against FFmpeg's
 * allocators and the floor (a bare lock-free stack), measured side by side in
 * one run, with the ratios doc/design.md "Performance targets" asks for.
 *
 *   acquire [--quick] [--json FILE] [--repeats N] [--min-ms MS] [--only KEY[,KEY...]]
 *
 * Every configuration (case x size x thread count) is calibrated so one
 * repeat lasts at least --min-ms (default 50, --quick 10), then run --repeats
 * times (default 11); the repeats of all cases of one size and thread count are
 * interleaved round-robin, so a noisy moment on the machine hits every case
 * alike. Reported: the median and min-max over the repeats of each thread's
 * CPU time (CLOCK_THREAD_CPUTIME_ID) and of wall time. The targets are judged
 * on CPU time: these 2-CPU machines are shared, and wall time there includes
 * whatever else ran. Nothing is pinned.
 *
 * With 2 threads every thread hammers the same pool (or stack, or allocator);
 * "aggregate" is wall time / all operations (throughput), "per thread" is
 * each thread's own time / its operations (latency as a thread sees it).
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/buffer.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>

#include <framepool/av.h>
#include <framepool/framepool.h>

#include "bench.h"
#include "floor.h"

#define MAX_THREADS 2
#define POOL_FRAMES 8 /* every pool and stack: 8 frames, all preallocated */
#define FF_ALIGN 64   /* framepool's alignment, for FFmpeg's image math too */

typedef struct run_ctx run_ctx;

typedef struct bench_case {
    const char *key;   ///< JSON name
    const char *label; ///< table row
    int (*setup)(run_ctx *c);
    void (*run)(run_ctx *c, int tid, uint64_t n);
    void (*teardown)(run_ctx *c);
} bench_case;

struct run_ctx {
    const bench_case *bc;
    int w, h, threads;
    fp_pool *pool;
    AVBufferPool *bp;
    AVFrame *frames[MAX_THREADS];
    floor_lf lf;
    floor_mx mx;
};

/* ------------------------------------------------------------------------- */
/* The cases. Each loop body is one acquire + one release, checked.          */

static int setup_core(run_ctx *c, unsigned flags)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "bench";
    cfg.format = FP_FMT_YUV420P;
    cfg.width = c->w;
    cfg.height = c->h;
    cfg.min_frames = POOL_FRAMES;
    cfg.max_frames = POOL_FRAMES;
    cfg.flags = flags;
    return fp_pool_create(&c->pool, &cfg);
}

static int setup_core_tracked(run_ctx *c) { return setup_core(c, 0); }
static int setup_core_untracked(run_ctx *c) { return setup_core(c, FP_POOL_NO_TRACK); }

/* A pool that went through a resolution change: made at half the size, a
 * frame held across fp_pool_reconfigure() to the measured size, then
 * returned (the old generation drained): generation 2. */
static int setup_core_reconfigured(run_ctx *c)
{
    int w = c->w, h = c->h;
    c->w = w / 2;
    c->h = h / 2;
    int ret = setup_core(c, 0);
    c->w = w;
    c->h = h;
    if (ret < 0)
        return ret;
    fp_frame *held;
    if ((ret = fp_pool_acquire(c->pool, 0, &held)) < 0)
        return ret;
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.format = FP_FMT_YUV420P;
    cfg.width = w;
    cfg.height = h;
    if ((ret = fp_pool_reconfigure(c->pool, &cfg)) != 2)
        return ret < 0 ? ret : FP_ERR(EPROTO);
    fp_frame_unref(&held);
    /* The slot the held frame had is backed anew at the next acquire: take them all once. */
    fp_frame *all[POOL_FRAMES];
    for (int i = 0; i < POOL_FRAMES; i++)
        if ((ret = fp_pool_acquire(c->pool, 0, &all[i])) < 0)
            return ret;
    for (int i = 0; i < POOL_FRAMES; i++)
        fp_frame_unref(&all[i]);
    fp_pool_stats st;
    fp_pool_get_stats(c->pool, &st);
    if (st.generation != 2 || st.old_generation_live != 0 || st.allocated != POOL_FRAMES)
        return FP_ERR(EPROTO);
    return 0;
}

static void run_core(run_ctx *c, int tid, uint64_t n)
{
    (void)tid;
    fp_pool *pool = c->pool;
    for (uint64_t i = 0; i < n; i++) {
        fp_frame *f;
        if (fp_pool_acquire(pool, 0, &f) < 0)
            bench_die("fp_pool_acquire failed");
        if (fp_frame_unref(&f) < 0)
            bench_die("fp_frame_unref failed");
    }
}

static void teardown_pool(run_ctx *c)
{
    fp_pool_unref(&c->pool);
}

static int alloc_frames(run_ctx *c)
{
    for (int t = 0; t < c->threads; t++)
        if (!(c->frames[t] = av_frame_alloc()))
            return FP_ERR(ENOMEM);
    return 0;
}

static void free_frames(run_ctx *c)
{
    for (int t = 0; t < MAX_THREADS; t++)
        av_frame_free(&c->frames[t]);
}

static int setup_fp_av(run_ctx *c)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "bench-av";
    cfg.min_frames = POOL_FRAMES;
    cfg.max_frames = POOL_FRAMES;
    int ret = fp_av_pool_create(&c->pool, AV_PIX_FMT_YUV420P, c->w, c->h, &cfg);
    return ret < 0 ? ret : alloc_frames(c);
}

static void teardown_fp_av(run_ctx *c)
{
    free_frames(c);
    fp_pool_unref(&c->pool);
}

static void run_fp_av_acquire(run_ctx *c, int tid, uint64_t n)
{
    (void)tid;
    fp_pool *pool = c->pool;
    for (uint64_t i = 0; i < n; i++) {
        AVFrame *f;
        if (fp_av_acquire(pool, 0, &f) < 0)
            bench_die("fp_av_acquire failed");
        av_frame_free(&f);
    }
}

static void run_fp_av_dropin(run_ctx *c, int tid, uint64_t n)
{
    fp_pool *pool = c->pool;
    AVFrame *f = c->frames[tid];
    for (uint64_t i = 0; i < n; i++) {
        f->format = AV_PIX_FMT_YUV420P;
        f->width = c->w;
        f->height = c->h;
        if (fp_av_frame_get_buffer(pool, f, 0) < 0)
            bench_die("fp_av_frame_get_buffer failed");
        av_frame_unref(f);
    }
}

static int setup_nothing(run_ctx *c)
{
    (void)c;
    return 0;
}

static void teardown_nothing(run_ctx *c)
{
    (void)c;
}

static void run_ff_raw(run_ctx *c, int tid, uint64_t n)
{
    (void)tid;
    for (uint64_t i = 0; i < n; i++) {
        AVFrame *f = av_frame_alloc();
        if (!f)
            bench_die("av_frame_alloc failed");
        f->format = AV_PIX_FMT_YUV420P;
        f->width = c->w;
        f->height = c->h;
        if (av_frame_get_buffer(f, 0) < 0)
            bench_die("av_frame_get_buffer failed");
        av_frame_free(&f);
    }
}

static int setup_ff_bufpool(run_ctx *c)
{
    int size = av_image_get_buffer_size(AV_PIX_FMT_YUV420P, c->w, c->h, FF_ALIGN);
    if (size < 0)
        return size;
    c->bp = av_buffer_pool_init((size_t)size, NULL);
    if (!c->bp)
        return FP_ERR(ENOMEM);
    /* Fill the pool like framepool's preallocated frames. */
    AVBufferRef *held[POOL_FRAMES];
    for (int i = 0; i < POOL_FRAMES; i++)
        if (!(held[i] = av_buffer_pool_get(c->bp)))
            return FP_ERR(ENOMEM);
    for (int i = 0; i < POOL_FRAMES; i++)
        av_buffer_unref(&held[i]);
    return alloc_frames(c);
}

static void teardown_ff_bufpool(run_ctx *c)
{
    free_frames(c);
    av_buffer_pool_uninit(&c->bp);
}

static void run_ff_bufpool(run_ctx *c, int tid, uint64_t n)
{
    (void)tid;
    AVBufferPool *bp = c->bp;
    for (uint64_t i = 0; i < n; i++) {
        AVBufferRef *b = av_buffer_pool_get(bp);
        if (!b)
            bench_die("av_buffer_pool_get failed");
        av_buffer_unref(&b);
    }
}

/* What an FFmpeg user does to get a frame from an AVBufferPool. */
static void ff_pool_fill(run_ctx *c, AVFrame *f)
{
    f->buf[0] = av_buffer_pool_get(c->bp);
    if (!f->buf[0])
        bench_die("av_buffer_pool_get failed");
    if (av_image_fill_arrays(f->data, f->linesize, f->buf[0]->data, AV_PIX_FMT_YUV420P, c->w, c->h,
                             FF_ALIGN) < 0)
        bench_die("av_image_fill_arrays failed");
    f->format = AV_PIX_FMT_YUV420P;
    f->width = c->w;
    f->height = c->h;
}

static void run_ff_bufpool_frame(run_ctx *c, int tid, uint64_t n)
{
    (void)tid;
    for (uint64_t i = 0; i < n; i++) {
        AVFrame *f = av_frame_alloc();
        if (!f)
            bench_die("av_frame_alloc failed");
        ff_pool_fill(c, f);
        av_frame_free(&f);
    }
}

static void run_ff_bufpool_frame_reuse(run_ctx *c, int tid, uint64_t n)
{
    AVFrame *f = c->frames[tid];
    for (uint64_t i = 0; i < n; i++) {
        ff_pool_fill(c, f);
        av_frame_unref(f);
    }
}

/* The pieces that decide the AVFrame comparison: the AVBuffer that
 * av_buffer_create allocates (framepool's path must, FFmpeg's pool embeds
 * it) and the plane computation that framepool precomputes per slot. */
static void no_free(void *opaque, uint8_t *data)
{
    (void)opaque;
    (void)data;
}

static void run_ff_buffer_create(run_ctx *c, int tid, uint64_t n)
{
    (void)c;
    static uint8_t data[64];
    (void)tid;
    for (uint64_t i = 0; i < n; i++) {
        AVBufferRef *b = av_buffer_create(data, sizeof(data), no_free, NULL, 0);
        if (!b)
            bench_die("av_buffer_create failed");
        av_buffer_unref(&b);
    }
}

static void run_ff_fill_arrays(run_ctx *c, int tid, uint64_t n)
{
    (void)tid;
    uint8_t *data[4];
    int linesize[4];
    static const uint8_t base[64];
    for (uint64_t i = 0; i < n; i++) {
        if (av_image_fill_arrays(data, linesize, base, AV_PIX_FMT_YUV420P, c->w, c->h, FF_ALIGN) < 0)
            bench_die("av_image_fill_arrays failed");
        __asm__ volatile("" : : "r"(data), "r"(linesize) : "memory");
    }
}

static int setup_floor_lf(run_ctx *c)
{
    return floor_lf_init(&c->lf, POOL_FRAMES, NULL) ? FP_ERR(ENOMEM) : 0;
}

static void teardown_floor_lf(run_ctx *c)
{
    floor_lf_free(&c->lf);
}

static void run_floor_lf(run_ctx *c, int tid, uint64_t n)
{
    (void)tid;
    floor_lf *s = &c->lf;
    for (uint64_t i = 0; i < n; i++) {
        floor_node *node = floor_lf_pop(s);
        if (!node)
            bench_die("floor_lf_pop: empty");
        floor_lf_push(s, node);
    }
}

static void run_floor_rc(run_ctx *c, int tid, uint64_t n)
{
    (void)tid;
    floor_lf *s = &c->lf;
    for (uint64_t i = 0; i < n; i++) {
        floor_node *node = floor_rc_acquire(s);
        if (!node)
            bench_die("floor_rc_acquire: empty");
        if (floor_rc_release(s, node) < 0)
            bench_die("floor_rc_release: count was 0");
    }
}

static int setup_floor_mx(run_ctx *c)
{
    return floor_mx_init(&c->mx, POOL_FRAMES, NULL) ? FP_ERR(ENOMEM) : 0;
}

static void teardown_floor_mx(run_ctx *c)
{
    floor_mx_free(&c->mx);
}

static void run_floor_mx(run_ctx *c, int tid, uint64_t n)
{
    (void)tid;
    floor_mx *s = &c->mx;
    for (uint64_t i = 0; i < n; i++) {
        floor_node *node = floor_mx_pop(s);
        if (!node)
            bench_die("floor_mx_pop: empty");
        floor_mx_push(s, node);
    }
}

enum {
    C_CORE_TRACKED,
    C_CORE_UNTRACKED,
    C_CORE_RECONFIGURED,
    C_FP_AV_ACQUIRE,
    C_FP_AV_DROPIN,
    C_FF_RAW,
    C_FF_BUFPOOL,
    C_FF_BUFPOOL_FRAME,
    C_FF_BUFPOOL_FRAME_REUSE,
    C_FLOOR_MUTEX,
    C_FLOOR_LOCKFREE,
    C_FLOOR_REFCOUNT,
    C_FF_BUFFER_CREATE,
    C_FF_FILL_ARRAYS,
    C_COUNT
};

static const bench_case cases[C_COUNT] = {
    [C_CORE_TRACKED] = { "fp_core_tracked", "framepool core, tracked (acquire+unref)", setup_core_tracked,
                         run_core, teardown_pool },
    [C_CORE_UNTRACKED] = { "fp_core_untracked", "framepool core, FP_POOL_NO_TRACK", setup_core_untracked,
                           run_core, teardown_pool },
    [C_CORE_RECONFIGURED] = { "fp_core_reconfigured", "framepool core, tracked, after a reconfigure",
                              setup_core_reconfigured, run_core, teardown_pool },
    [C_FP_AV_ACQUIRE] = { "fp_av_acquire", "framepool fp_av_acquire+av_frame_free", setup_fp_av,
                          run_fp_av_acquire, teardown_fp_av },
    [C_FP_AV_DROPIN] = { "fp_av_dropin", "framepool fp_av_frame_get_buffer+unref", setup_fp_av,
                         run_fp_av_dropin, teardown_fp_av },
    [C_FF_RAW] = { "ff_raw", "FFmpeg frame_alloc+get_buffer+free", setup_nothing, run_ff_raw,
                   teardown_nothing },
    [C_FF_BUFPOOL] = { "ff_bufpool", "FFmpeg av_buffer_pool_get+unref", setup_ff_bufpool, run_ff_bufpool,
                       teardown_ff_bufpool },
    [C_FF_BUFPOOL_FRAME] = { "ff_bufpool_frame", "FFmpeg AVBufferPool AVFrame (alloc..free)", setup_ff_bufpool,
                             run_ff_bufpool_frame, teardown_ff_bufpool },
    [C_FF_BUFPOOL_FRAME_REUSE] = { "ff_bufpool_frame_reuse", "FFmpeg AVBufferPool, reused AVFrame+unref",
                                   setup_ff_bufpool, run_ff_bufpool_frame_reuse, teardown_ff_bufpool },
    [C_FLOOR_MUTEX] = { "floor_mutex", "bare mutex stack (pop+push)", setup_floor_mx, run_floor_mx,
                        teardown_floor_mx },
    [C_FLOOR_LOCKFREE] = { "floor_lockfree", "bare lock-free tagged stack (the floor)", setup_floor_lf,
                           run_floor_lf, teardown_floor_lf },
    [C_FLOOR_REFCOUNT] = { "floor_refcount", "lock-free stack + refcount CAS (refcounted floor)", setup_floor_lf,
                           run_floor_rc, teardown_floor_lf },
    [C_FF_BUFFER_CREATE] = { "ff_buffer_create", "FFmpeg av_buffer_create+unref (AVBuffer+ref)", setup_nothing,
                             run_ff_buffer_create, teardown_nothing },
    [C_FF_FILL_ARRAYS] = { "ff_fill_arrays", "FFmpeg av_image_fill_arrays alone", setup_nothing,
                           run_ff_fill_arrays, teardown_nothing },
};

/* ------------------------------------------------------------------------- */
/* Running                                                                   */

typedef struct sample {
    uint64_t elapsed_ns; ///< wall time, first start to last end
    double agg_ns;       ///< elapsed / all operations
    double thread_ns;    ///< mean over threads of own time / own operations
    double cpu_ns;       ///< mean over threads of own CPU time / own operations
    double busy;         ///< all threads' CPU time / (threads x elapsed): 1 = all ran all the time
} sample;

typedef struct worker_arg {
    run_ctx *c;
    int tid;
    uint64_t n;
    pthread_barrier_t *bar;
    uint64_t t0, t1, c0, c1;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    pthread_barrier_wait(a->bar);
    a->t0 = bench_now_ns();
    a->c0 = bench_thread_cpu_ns();
    a->c->bc->run(a->c, a->tid, a->n);
    a->c1 = bench_thread_cpu_ns();
    a->t1 = bench_now_ns();
    return NULL;
}

static sample run_once(run_ctx *c, uint64_t n)
{
    sample s;
    if (c->threads == 1) {
        uint64_t t0 = bench_now_ns(), c0 = bench_thread_cpu_ns();
        c->bc->run(c, 0, n);
        uint64_t c1 = bench_thread_cpu_ns();
        s.elapsed_ns = bench_now_ns() - t0;
        s.agg_ns = s.thread_ns = (double)s.elapsed_ns / (double)n;
        s.cpu_ns = (double)(c1 - c0) / (double)n;
        s.busy = s.elapsed_ns ? (double)(c1 - c0) / (double)s.elapsed_ns : 0;
        return s;
    }
    pthread_barrier_t bar;
    pthread_t th[MAX_THREADS];
    worker_arg args[MAX_THREADS];
    pthread_barrier_init(&bar, NULL, (unsigned)c->threads);
    for (int t = 0; t < c->threads; t++) {
        args[t] = (worker_arg){ .c = c, .tid = t, .n = n, .bar = &bar };
        if (pthread_create(&th[t], NULL, worker, &args[t]))
            bench_die("pthread_create failed");
    }
    uint64_t first = UINT64_MAX, last = 0;
    double sum = 0, csum = 0;
    for (int t = 0; t < c->threads; t++) {
        pthread_join(th[t], NULL);
        if (args[t].t0 < first)
            first = args[t].t0;
        if (args[t].t1 > last)
            last = args[t].t1;
        sum += (double)(args[t].t1 - args[t].t0) / (double)n;
        csum += (double)(args[t].c1 - args[t].c0) / (double)n;
    }
    pthread_barrier_destroy(&bar);
    s.elapsed_ns = last - first;
    s.agg_ns = (double)s.elapsed_ns / ((double)n * c->threads);
    s.thread_ns = sum / c->threads;
    s.cpu_ns = csum / c->threads;
    s.busy = s.elapsed_ns ? csum * (double)n / ((double)s.elapsed_ns * c->threads) : 0;
    return s;
}

/* Finds n so one repeat lasts about target_ns; also warms everything up. */
static uint64_t calibrate(run_ctx *c, uint64_t target_ns)
{
    uint64_t n = 64;
    for (;;) {
        sample s = run_once(c, n);
        if (s.elapsed_ns >= target_ns / 4) {
            double scaled = (double)n * (double)target_ns / (double)(s.elapsed_ns ? s.elapsed_ns : 1);
            n = (uint64_t)(scaled * 1.1) + 1;
            return n;
        }
        n *= s.elapsed_ns < target_ns / 64 ? 8 : 2;
    }
}

typedef struct result {
    int valid;
    uint64_t n;      ///< operations per thread per repeat
    double med, min, max;            ///< aggregate ns/op
    double tmed, tmin, tmax;         ///< per-thread ns/op
    double cmed, cmin, cmax;         ///< per-thread CPU ns/op
    double busy;                     ///< median of sample.busy
    double ms_med;                   ///< wall ms per repeat
    double *rep_wall, *rep_cpu;      ///< every repeat's aggregate wall and per-thread CPU ns/op
    int nrep;
} result;

typedef struct options {
    int repeats;
    int min_ms;
    const char *json;
    unsigned only; /* bit per case; 0 = all */
} options;

static const int sizes[][2] = { { 640, 360 }, { 1920, 1080 } };
#define NSIZES 2
static const int thread_counts[] = { 1, 2 };
#define NTHREADS 2

static result results[NSIZES][C_COUNT][NTHREADS];

static int selected(const options *o, int ci)
{
    return !o->only || (o->only & (1u << ci));
}

static void run_group(const options *o, int si, int ti)
{
    run_ctx ctx[C_COUNT];
    uint64_t n[C_COUNT];
    double *agg[C_COUNT], *thr[C_COUNT], *cpu[C_COUNT], *ms[C_COUNT], *busy[C_COUNT];
    uint64_t target = (uint64_t)o->min_ms * 1000000u;

    for (int ci = 0; ci < C_COUNT; ci++) {
        if (!selected(o, ci))
            continue;
        ctx[ci] = (run_ctx){ .bc = &cases[ci], .w = sizes[si][0], .h = sizes[si][1],
                             .threads = thread_counts[ti] };
        int ret = cases[ci].setup(&ctx[ci]);
        if (ret < 0)
            bench_die("%s %dx%d: setup failed: %s", cases[ci].key, ctx[ci].w, ctx[ci].h, fp_strerror(ret));
        agg[ci] = calloc((size_t)o->repeats, sizeof(double));
        thr[ci] = calloc((size_t)o->repeats, sizeof(double));
        ms[ci] = calloc((size_t)o->repeats, sizeof(double));
        cpu[ci] = calloc((size_t)o->repeats, sizeof(double));
        busy[ci] = calloc((size_t)o->repeats, sizeof(double));
        if (!agg[ci] || !thr[ci] || !ms[ci] || !cpu[ci] || !busy[ci])
            bench_die("out of memory");
    }
    for (int ci = 0; ci < C_COUNT; ci++)
        if (selected(o, ci))
            n[ci] = calibrate(&ctx[ci], target);
    for (int r = 0; r < o->repeats; r++) {
        for (int ci = 0; ci < C_COUNT; ci++) {
            if (!selected(o, ci))
                continue;
            sample s = run_once(&ctx[ci], n[ci]);
            agg[ci][r] = s.agg_ns;
            thr[ci][r] = s.thread_ns;
            cpu[ci][r] = s.cpu_ns;
            busy[ci][r] = s.busy;
            ms[ci][r] = (double)s.elapsed_ns / 1e6;
        }
    }
    for (int ci = 0; ci < C_COUNT; ci++) {
        if (!selected(o, ci))
            continue;
        result *res = &results[si][ci][ti];
        res->valid = 1;
        res->n = n[ci];
        res->med = bench_median(agg[ci], o->repeats, &res->min, &res->max);
        res->tmed = bench_median(thr[ci], o->repeats, &res->tmin, &res->tmax);
        res->cmed = bench_median(cpu[ci], o->repeats, &res->cmin, &res->cmax);
        res->busy = bench_median(busy[ci], o->repeats, NULL, NULL);
        res->rep_wall = agg[ci];
        res->rep_cpu = cpu[ci];
        res->nrep = o->repeats;
        res->ms_med = bench_median(ms[ci], o->repeats, NULL, NULL);
        cases[ci].teardown(&ctx[ci]);
        free(thr[ci]);
        free(ms[ci]);
        free(busy[ci]);
    }
}

/* ------------------------------------------------------------------------- */
/* Ratios against doc/design.md's targets                                        */

enum target_kind { T_NONE, T_AT_MOST, T_AT_LEAST };

typedef struct ratio {
    char name[96];
    char size[16];
    double value;     ///< ratio of wall medians (informative)
    double value_min; ///< ratio of wall minima (informative)
    double value_cpu; ///< ratio of CPU-time medians (judged)
    enum target_kind kind;
    double target;
    double stretch; ///< 0: none
    double busy;    ///< 2-thread ratios: the lower busy fraction of the two rows; else 1
} ratio;

#define MAX_RATIOS 48
static ratio ratios[MAX_RATIOS];
static int nratios;

static void add_ratio(const char *name, int si, const result *num, const result *den, enum target_kind kind,
                      double target, double stretch)
{
    if (nratios >= MAX_RATIOS || !(den->med > 0) || !(den->min > 0))
        return;
    ratio *r = &ratios[nratios++];
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->size, sizeof(r->size), "%dx%d", sizes[si][0], sizes[si][1]);
    r->value = num->med / den->med;
    r->value_min = num->min / den->min;
    r->value_cpu = den->cmed > 0 ? num->cmed / den->cmed : 0;
    /* Only a 2-thread ratio needs both threads to have run at once; a
     * 1-thread row's busy (CPU / wall) just says how loaded the machine was,
     * which the CPU-time judgement already leaves out. */
    r->busy = !strstr(name, "2 threads") ? 1 : num->busy < den->busy ? num->busy : den->busy;
    r->kind = kind;
    r->target = target;
    r->stretch = stretch;
}

/* A 2-thread ratio means something only if both threads ran at once. */
#define MIN_BUSY 0.9

static int ratio_valid(const ratio *r)
{
    return r->busy >= MIN_BUSY;
}

static int ratio_met(const ratio *r)
{
    return r->kind == T_AT_MOST ? r->value_cpu <= r->target : r->value_cpu >= r->target;
}

static const result *res(int si, int ci, int ti)
{
    return results[si][ci][ti].valid ? &results[si][ci][ti] : NULL;
}

static void compute_ratios(void)
{
    for (int si = 0; si < NSIZES; si++) {
        const result *core = res(si, C_CORE_TRACKED, 0), *lf = res(si, C_FLOOR_LOCKFREE, 0);
        const result *bp = res(si, C_FF_BUFPOOL, 0), *raw = res(si, C_FF_RAW, 0);
        const result *core2 = res(si, C_CORE_TRACKED, 1), *lf2 = res(si, C_FLOOR_LOCKFREE, 1);
        const result *fpav = res(si, C_FP_AV_ACQUIRE, 0), *ffav = res(si, C_FF_BUFPOOL_FRAME, 0);
        const result *fpdi = res(si, C_FP_AV_DROPIN, 0), *ffre = res(si, C_FF_BUFPOOL_FRAME_REUSE, 0);
        const result *untr = res(si, C_CORE_UNTRACKED, 0);
        const result *recf = res(si, C_CORE_RECONFIGURED, 0);
        if (core && lf)
            add_ratio("core tracked / lock-free floor, 1 thread", si, core, lf, T_AT_MOST, 2.0, 0);
        if (core && recf)
            add_ratio("reconfigured pool (generation 2) / never reconfigured", si, recf, core, T_AT_MOST, 1.05, 0);
        if (core && bp)
            add_ratio("av_buffer_pool get+unref / core tracked", si, bp, core, T_AT_LEAST, 5.0, 0);
        if (core && raw)
            add_ratio(sizes[si][1] == 1080 ? "raw av_frame path / core tracked"
                                           : "raw av_frame path / core tracked (target is at 1080p)",
                      si, raw, core, sizes[si][1] == 1080 ? T_AT_LEAST : T_NONE, 30.0, 0);
        if (core2 && lf2)
            add_ratio("2 threads aggregate: core tracked / floor", si, core2, lf2, T_AT_MOST, 1.0, 0);
        if (fpav && ffav)
            add_ratio("FFmpeg AVBufferPool AVFrame / fp_av_acquire", si, ffav, fpav, T_AT_LEAST, 1.0, 1.2);
        if (fpdi && ffre)
            add_ratio("reused AVFrame: FFmpeg AVBufferPool / fp drop-in", si, ffre, fpdi, T_NONE, 0, 0);
        if (untr && lf)
            add_ratio("core untracked / lock-free floor, 1 thread", si, untr, lf, T_NONE, 0, 0);
        const result *rc = res(si, C_FLOOR_REFCOUNT, 0), *rc2 = res(si, C_FLOOR_REFCOUNT, 1);
        if (core && rc)
            add_ratio("core tracked / refcounted floor, 1 thread", si, core, rc, T_NONE, 0, 0);
        if (rc && lf)
            add_ratio("refcounted floor / lock-free floor, 1 thread", si, rc, lf, T_NONE, 0, 0);
        if (bp && rc)
            add_ratio("av_buffer_pool get+unref / refcounted floor", si, bp, rc, T_NONE, 0, 0);
        if (raw && rc && sizes[si][1] == 1080)
            add_ratio("raw av_frame path / refcounted floor", si, raw, rc, T_NONE, 0, 0);
        if (core2 && rc2)
            add_ratio("2 threads aggregate: core tracked / refcounted floor", si, core2, rc2, T_NONE, 0, 0);
        if (rc2 && lf2)
            add_ratio("2 threads aggregate: refcounted floor / floor", si, rc2, lf2, T_NONE, 0, 0);
        /* The best an AVFrame path through av_buffer_create can do: FFmpeg's
         * pooled AVFrame, minus its plane computation and its pool get+unref,
         * plus av_buffer_create+unref and the refcounted floor (a pool that
         * costs nothing beyond its refcount). */
        const result *cr = res(si, C_FF_BUFFER_CREATE, 0), *fill = res(si, C_FF_FILL_ARRAYS, 0);
        if (ffav && bp && cr && fill && rc) {
            static result bound[NSIZES];
            result *b = &bound[si];
            memset(b, 0, sizeof(*b));
            b->valid = 1;
            b->med = ffav->med - fill->med - bp->med + cr->med + rc->med;
            b->min = ffav->min - fill->min - bp->min + cr->min + rc->min;
            b->cmed = ffav->cmed - fill->cmed - bp->cmed + cr->cmed + rc->cmed;
            b->busy = 1;
            add_ratio("FFmpeg AVBufferPool AVFrame / bound for any av_buffer_create path", si, ffav, b, T_NONE, 0,
                      0);
            if (fpav)
                add_ratio("fp_av_acquire / that bound", si, fpav, b, T_NONE, 0, 0);
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Output                                                                    */

#define MAX_ATTEMPTS 3
static int attempts[NSIZES] = { 1, 1 };

/* The lowest busy fraction of the rows of a group. */
static double group_busy(int si, int ti)
{
    double lo = 1;
    for (int ci = 0; ci < C_COUNT; ci++)
        if (results[si][ci][ti].valid && results[si][ci][ti].busy < lo)
            lo = results[si][ci][ti].busy;
    return lo;
}

static void result_free(result *r)
{
    free(r->rep_wall);
    free(r->rep_cpu);
    memset(r, 0, sizeof(*r));
}

static void print_tables(const options *o, const bench_machine *m)
{
    printf("framepool bench/acquire: ns per acquire+release\n");
    printf("machine: ");
    bench_machine_print(m, stdout);
    printf("FFmpeg %s (libavutil %d.%d.%d, libavcodec %d.%d.%d)\n", av_version_info(),
           (int)(avutil_version() >> 16), (int)(avutil_version() >> 8 & 0xff), (int)(avutil_version() & 0xff),
           (int)(avcodec_version() >> 16), (int)(avcodec_version() >> 8 & 0xff), (int)(avcodec_version() & 0xff));
    printf("method: %d repeats per row, each >= %d ms, interleaved; median [min-max]; pools of %d preallocated\n"
           "        frames, yuv420p; nothing pinned; the process started a thread first (see bench.h)\n",
           o->repeats, o->min_ms, POOL_FRAMES);
    for (int si = 0; si < NSIZES; si++) {
        char title[32];
        snprintf(title, sizeof(title), "%dx%d yuv420p", sizes[si][0], sizes[si][1]);
        printf("\n  %-42s %-32s  %s\n", title, "  ----------- 1 thread -----------",
               "------------- 2 threads on one pool -------------");
        printf("  %-42s %22s %9s  %22s %9s %9s %5s\n", "ns per acquire+release", "CPU median [min-max]", "wall",
               "wall aggregate [min-max]", "/thread", "CPU/thr", "busy");
        if (attempts[si] > 1)
            printf("  (2 threads: measured %d times; the earlier attempts' threads did not run at once)\n",
                   attempts[si]);
        for (int ci = 0; ci < C_COUNT; ci++) {
            const result *r1 = res(si, ci, 0), *r2 = res(si, ci, 1);
            if (!r1 && !r2)
                continue;
            printf("  %-42s", cases[ci].label);
            for (int ti = 0; ti < NTHREADS; ti++) {
                const result *r = res(si, ci, ti);
                if (!r) {
                    printf(" %22s %9s", "-", "-");
                    if (ti)
                        printf(" %9s", "-");
                    continue;
                }
                char cell[64];
                if (ti) {
                    snprintf(cell, sizeof(cell), "%.1f [%.1f-%.1f]", r->med, r->min, r->max);
                    printf("  %22s %9.1f %9.1f %4.0f%%", cell, r->tmed, r->cmed, r->busy * 100);
                } else {
                    snprintf(cell, sizeof(cell), "%.1f [%.1f-%.1f]", r->cmed, r->cmin, r->cmax);
                    printf(" %22s %9.1f", cell, r->med);
                }
            }
            printf("\n");
        }
    }
    printf("\nCPU: the thread's own CPU time (CLOCK_THREAD_CPUTIME_ID): the cost of the code, without the time\n"
           "the thread sat descheduled while other processes ran on this shared machine; wall: elapsed time;\n"
           "/thread and CPU/thr: each thread's own wall and CPU time per operation; busy: both threads' CPU time\n"
           "/ (2 x wall time), i.e. how much of the time both threads actually ran at once (100%%: contended all along)\n");
    printf("\ndoc/design.md targets, as ratios of the medians above (same run). Judged on CPU-time medians (for 2\n"
           "threads: per-thread CPU time, equal to 2x the aggregate while both threads run); wall-time ratios of\n"
           "medians and of the fastest repeats are shown beside them, not judged\n");
    printf("  %-9s %-50s %8s  %8s  %8s  %-22s %s\n", "size", "ratio", "CPU", "wall med", "wall min", "target",
           "verdict");
    for (int i = 0; i < nratios; i++) {
        const ratio *r = &ratios[i];
        char tgt[48] = "-", why[80];
        const char *verdict = "(informative)";
        if (r->kind != T_NONE) {
            snprintf(tgt, sizeof(tgt), "%s %.3gx%s", r->kind == T_AT_MOST ? "<=" : ">=", r->target,
                     r->stretch > 0 ? ", stretch 1.2x" : "");
            verdict = ratio_met(r) ? "met" : "MISSED";
            if (r->stretch > 0 && ratio_met(r))
                verdict = r->value_cpu >= r->stretch ? "met, stretch met" : "met, stretch missed";
            if (!ratio_valid(r)) {
                snprintf(why, sizeof(why), "NOT MEASURED: threads ran at once %.0f%% of the time", r->busy * 100);
                verdict = why;
            }
        }
        printf("  %-9s %-50s %7.2fx  %7.2fx  %7.2fx  %-22s %s\n", r->size, r->name, r->value_cpu, r->value,
               r->value_min, tgt, verdict);
    }
}

static void write_json(const options *o, const bench_machine *m)
{
    FILE *f = bench_fopen(o->json);
    fputs("{\n  \"bench\": \"acquire\",\n  \"machine\": ", f);
    bench_machine_json(m, f);
    fputs(",\n  \"ffmpeg\": ", f);
    bench_json_str(f, av_version_info());
    fprintf(f, ",\n  \"repeats\": %d,\n  \"min_ms\": %d,\n  \"pool_frames\": %d,\n  \"unit\": \"ns per acquire+release\",\n",
            o->repeats, o->min_ms, POOL_FRAMES);
    fprintf(f, "  \"attempts_2_threads\": {\"%dx%d\": %d, \"%dx%d\": %d},\n", sizes[0][0], sizes[0][1], attempts[0],
            sizes[1][0], sizes[1][1], attempts[1]);
    fputs("  \"results\": [", f);
    int first = 1;
    for (int si = 0; si < NSIZES; si++)
        for (int ci = 0; ci < C_COUNT; ci++)
            for (int ti = 0; ti < NTHREADS; ti++) {
                const result *r = res(si, ci, ti);
                if (!r)
                    continue;
                fprintf(f, "%s\n    {\"case\": \"%s\", \"label\": ", first ? "" : ",", cases[ci].key);
                bench_json_str(f, cases[ci].label);
                fprintf(f,
                        ", \"width\": %d, \"height\": %d, \"threads\": %d, \"ops_per_thread\": %" PRIu64
                        ", \"wall_median_ns\": %.3f, \"wall_min_ns\": %.3f, \"wall_max_ns\": %.3f"
                        ", \"per_thread_wall_median_ns\": %.3f, \"per_thread_wall_min_ns\": %.3f"
                        ", \"per_thread_wall_max_ns\": %.3f, \"cpu_median_ns\": %.3f"
                        ", \"cpu_min_ns\": %.3f, \"cpu_max_ns\": %.3f, \"busy\": %.3f, \"repeat_ms\": %.1f",
                        sizes[si][0], sizes[si][1], thread_counts[ti], r->n, r->med, r->min, r->max, r->tmed,
                        r->tmin, r->tmax, r->cmed, r->cmin, r->cmax, r->busy, r->ms_med);
                fputs(",\n     \"repeats_wall_ns\": [", f);
                for (int k = 0; k < r->nrep; k++)
                    fprintf(f, "%s%.2f", k ? ", " : "", r->rep_wall[k]);
                fputs("], \"repeats_cpu_ns\": [", f);
                for (int k = 0; k < r->nrep; k++)
                    fprintf(f, "%s%.2f", k ? ", " : "", r->rep_cpu[k]);
                fputs("]}", f);
                first = 0;
            }
    fputs("\n  ],\n  \"ratios\": [", f);
    for (int i = 0; i < nratios; i++) {
        const ratio *r = &ratios[i];
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        bench_json_str(f, r->name);
        fprintf(f, ", \"size\": \"%s\", \"value_cpu\": %.4f, \"value_wall\": %.4f, \"value_wall_minima\": %.4f, "
                   "\"judged_on\": \"value_cpu\", \"target\": ",
                r->size, r->value_cpu, r->value, r->value_min);
        if (r->kind == T_NONE)
            fputs("null, \"met\": null", f);
        else
            fprintf(f, "\"%s %.2f\", \"met\": %s", r->kind == T_AT_MOST ? "<=" : ">=", r->target,
                    !ratio_valid(r) ? "null" : ratio_met(r) ? "true" : "false");
        fprintf(f, ", \"busy\": %.3f", r->busy);
        if (r->stretch > 0)
            fprintf(f, ", \"stretch\": \">= %.2f\", \"stretch_met\": %s", r->stretch,
                    r->value_cpu >= r->stretch ? "true" : "false");
        fputc('}', f);
    }
    fputs("\n  ]\n}\n", f);
    if (fclose(f))
        bench_die("writing %s failed", o->json);
}

static void usage(void)
{
    fprintf(stderr, "usage: acquire [--quick] [--json FILE] [--repeats N] [--min-ms MS] [--only KEY[,KEY...]]\n"
                    "cases:");
    for (int i = 0; i < C_COUNT; i++)
        fprintf(stderr, " %s", cases[i].key);
    fputc('\n', stderr);
    exit(2);
}

static unsigned parse_only(char *list)
{
    unsigned mask = 0;
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int found = 0;
        for (int i = 0; i < C_COUNT; i++)
            if (!strcmp(tok, cases[i].key))
                mask |= 1u << i, found = 1;
        if (!found)
            usage();
    }
    return mask;
}

int main(int argc, char **argv)
{
    options o = { .repeats = 11, .min_ms = 50 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick"))
            o.min_ms = 10;
        else if (!strcmp(a, "--json") && v)
            o.json = v, i++;
        else if (!strcmp(a, "--repeats") && v && atoi(v) >= 1)
            o.repeats = atoi(v), i++;
        else if (!strcmp(a, "--min-ms") && v && atoi(v) >= 1)
            o.min_ms = atoi(v), i++;
        else if (!strcmp(a, "--only") && v)
            o.only = parse_only(v), i++;
        else
            usage();
    }
    bench_become_multithreaded();
    av_log_set_level(AV_LOG_ERROR);
    bench_machine m;
    bench_machine_get(&m);
    for (int si = 0; si < NSIZES; si++)
        for (int ti = 0; ti < NTHREADS; ti++) {
            fprintf(stderr, "acquire: %dx%d, %d thread%s...\n", sizes[si][0], sizes[si][1], thread_counts[ti],
                    thread_counts[ti] > 1 ? "s" : "");
            run_group(&o, si, ti);
            /* Two threads on one pool measure contention only if they ran at
             * once; on a shared 2-CPU machine they sometimes do not. Retry the
             * whole group (judged by concurrency, never by the timings). */
            while (thread_counts[ti] > 1 && group_busy(si, ti) < MIN_BUSY && attempts[si] < MAX_ATTEMPTS) {
                attempts[si]++;
                fprintf(stderr, "acquire: %dx%d, 2 threads: the threads ran at once %.0f%% of the time; again "
                                "(attempt %d of %d)\n",
                        sizes[si][0], sizes[si][1], group_busy(si, ti) * 100, attempts[si], MAX_ATTEMPTS);
                for (int ci = 0; ci < C_COUNT; ci++)
                    result_free(&results[si][ci][ti]);
                run_group(&o, si, ti);
            }
        }
    compute_ratios();
    print_tables(&o, &m);
    if (o.json)
        write_json(&o, &m);
    return 0;
}
