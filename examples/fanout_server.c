/*
 * fanout_server: the shape of a live transcoding server on a bounded pool.
 *
 *   ingest thread --(one reference per output)--> "hd"    queue 12, 10 ms/frame
 *   (60 fps into a                            --> "sd"    queue 4,   5 ms/frame
 *    pool of 10 frames)                       --> "thumb" queue 2, every 10th frame, 40 ms
 *
 * The ingest thread renders frames into a bounded core pool at a fixed rate
 * and hands a reference to each output's bounded queue (an output whose queue
 * is full skips that frame). A frame returns to the pool when the last output
 * drops its reference. Every 3 s the outputs stall for 300 ms (a storage
 * hiccup): the pool runs dry and the ingest thread, which waits at most one
 * frame period for a frame, drops input frames instead of growing memory.
 *
 * Every second: a stats line, and the Prometheus exposition of every pool
 * written atomically (temporary file + rename) to --prom FILE, for
 * node_exporter's textfile collector. The watchdog reports any frame held
 * longer than --watchdog MS. At the end: the pool report; exit status 1 when
 * frames are still live (leaked).
 *
 *   fanout_server [--seconds N] [--fps N] [--size WxH] [--pool N]
 *                 [--watchdog MS] [--prom FILE] [--json FILE]
 *                 [--leak worker-exit|fan-out|early-return]
 *
 * --leak injects one classic leak, so the output shows it being caught:
 *   worker-exit   the "sd" output exits at 2 s holding its frame, and its
 *                 queue is never drained;
 *   fan-out       every 60th frame an error path returns after the outputs'
 *                 references were taken, without dropping them;
 *   early-return  "hd" skips the release when encoding a frame fails
 *                 (every 90th frame).
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <framepool/framepool.h>

enum leak_kind { LEAK_NONE, LEAK_WORKER_EXIT, LEAK_FAN_OUT, LEAK_EARLY_RETURN };

typedef struct options {
    double seconds;
    int fps;
    int width, height;
    int pool_frames;
    int watchdog_ms;
    const char *prom;
    const char *json;
    enum leak_kind leak;
} options;

/* ------------------------------------------------------------------------- */
/* A bounded queue of frame references; the queue owns what it holds.       */

#define QUEUE_MAX 16

typedef struct queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    fp_frame *items[QUEUE_MAX];
    int cap, head, count, closed;
} queue;

static void queue_init(queue *q, int cap)
{
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->cap = cap;
    q->head = q->count = q->closed = 0;
}

/* Never blocks: 0 when the queue took the reference, -1 when it is full or
 * closed (the caller still owns the reference). */
static int queue_try_push(queue *q, fp_frame *f)
{
    int ret = -1;
    pthread_mutex_lock(&q->lock);
    if (!q->closed && q->count < q->cap) {
        q->items[(q->head + q->count++) % QUEUE_MAX] = f;
        pthread_cond_signal(&q->cond);
        ret = 0;
    }
    pthread_mutex_unlock(&q->lock);
    return ret;
}

/* Blocks; NULL once the queue is closed and empty. */
static fp_frame *queue_pop(queue *q)
{
    fp_frame *f = NULL;
    pthread_mutex_lock(&q->lock);
    while (!q->count && !q->closed)
        pthread_cond_wait(&q->cond, &q->lock);
    if (q->count) {
        f = q->items[q->head];
        q->head = (q->head + 1) % QUEUE_MAX;
        q->count--;
    }
    pthread_mutex_unlock(&q->lock);
    return f;
}

static void queue_close(queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

/* ------------------------------------------------------------------------- */
/* Outputs                                                                    */

typedef struct server server;

typedef struct worker {
    const char *name;
    int queue_len;
    int every;         /* takes every Nth frame */
    int work_ms;       /* processing time per frame */
    queue q;
    pthread_t thread;
    server *srv;
    atomic_int alive;  /* the ingest thread feeds live outputs only */
    atomic_uint_fast64_t done, skipped, errors;
} worker;

enum { HD, SD, THUMB, NWORKERS };

struct server {
    options opt;
    fp_pool *pool;
    worker workers[NWORKERS];
    atomic_int stop;
    atomic_uint_fast64_t ingested, dropped, fanout_errors;
    struct timespec start;
};

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

static double elapsed_s(const server *s)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - s->start.tv_sec) + (double)(now.tv_nsec - s->start.tv_nsec) / 1e9;
}

/* Stand-in for encoding: read the pixels, take some time, stall on the
 * storage hiccup, fail now and then. */
static int encode(worker *w, const fp_frame *f)
{
    volatile uint8_t sink = f->data[0][0] ^ f->data[1][0];
    (void)sink;
    sleep_ms(f->pts % 180 == 130 ? 300 : w->work_ms);
    return f->pts % 90 == 45 ? -1 : 0; /* "rate control rejected the frame" */
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (;;) {
        FP_AUTO_FRAME fp_frame *f = queue_pop(&w->q);
        if (!f)
            break;
        if (encode(w, f) < 0) {
            atomic_fetch_add(&w->errors, 1);
            continue; /* FP_AUTO_FRAME releases f on this path too */
        }
        atomic_fetch_add(&w->done, 1);
    }
    return NULL;
}

/* --leak early-return: the same loop written without the helper. */
static void *worker_main_leaky(void *arg)
{
    worker *w = arg;
    fp_frame *f;
    while ((f = queue_pop(&w->q))) {
        if (encode(w, f) < 0) {
            atomic_fetch_add(&w->errors, 1);
            continue; /* BUG (on purpose): f is never released */
        }
        atomic_fetch_add(&w->done, 1);
        fp_frame_unref(&f);
    }
    return NULL;
}

/* --leak worker-exit: the output is reconfigured at 2 s and its thread
 * returns holding the frame it was working on; nobody drains its queue. */
static void *worker_main_exits(void *arg)
{
    worker *w = arg;
    fp_frame *f;
    while ((f = queue_pop(&w->q))) {
        if (elapsed_s(w->srv) >= 2.0) {
            atomic_store(&w->alive, 0);
            printf("[%5.2fs] %s: reconfigured, worker thread exits\n", elapsed_s(w->srv), w->name);
            return NULL; /* BUG (on purpose): f and the queued frames stay referenced */
        }
        if (encode(w, f) < 0)
            atomic_fetch_add(&w->errors, 1);
        else
            atomic_fetch_add(&w->done, 1);
        fp_frame_unref(&f);
    }
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* Ingest                                                                     */

/* Stand-in for a muxer/segmenter step between taking the outputs'
 * references and handing them over; it fails once a second. */
static int segmenter_ready(int64_t n)
{
    return n % 60 != 30;
}

/* Takes one reference per output that wants frame n and hands them over.
 * The scope owns the references until each is handed to a queue, so every
 * error return releases them. */
static void fan_out(server *s, fp_frame *f)
{
    FP_SCOPE(refs);
    fp_frame *r[NWORKERS] = { 0 };
    for (int i = 0; i < NWORKERS; i++) {
        worker *w = &s->workers[i];
        if (f->pts % w->every || !atomic_load(&w->alive))
            continue;
        r[i] = fp_frame_ref(f);
        if (!r[i] || fp_scope_add(&refs, r[i]) < 0)
            return;
    }
    if (!segmenter_ready(f->pts)) {
        atomic_fetch_add(&s->fanout_errors, 1);
        return; /* the scope releases the references taken above */
    }
    for (int i = 0; i < NWORKERS; i++) {
        if (!r[i])
            continue;
        fp_scope_take(&refs, r[i]);
        if (queue_try_push(&s->workers[i].q, r[i]) < 0) {
            atomic_fetch_add(&s->workers[i].skipped, 1);
            fp_frame_unref(&r[i]); /* queue full: this output skips the frame */
        }
    }
}

/* --leak fan-out: the same hand-over with a plain array. */
static void fan_out_leaky(server *s, fp_frame *f)
{
    fp_frame *r[NWORKERS] = { 0 };
    for (int i = 0; i < NWORKERS; i++) {
        worker *w = &s->workers[i];
        if (f->pts % w->every || !atomic_load(&w->alive))
            continue;
        r[i] = fp_frame_ref(f);
    }
    if (!segmenter_ready(f->pts)) {
        atomic_fetch_add(&s->fanout_errors, 1);
        return; /* BUG (on purpose): r[] is never released */
    }
    for (int i = 0; i < NWORKERS; i++) {
        if (r[i] && queue_try_push(&s->workers[i].q, r[i]) < 0) {
            atomic_fetch_add(&s->workers[i].skipped, 1);
            fp_frame_unref(&r[i]);
        }
    }
}

/* "Decodes" frame n: a moving gradient, cheap to draw. */
static void render(fp_frame *f, int64_t n)
{
    for (int y = 0; y < f->height; y++)
        memset(f->data[0] + (size_t)y * (size_t)f->linesize[0], (int)((y + n * 4) & 0xff), (size_t)f->width);
    for (int y = 0; y < (f->height + 1) / 2; y++)
        memset(f->data[1] + (size_t)y * (size_t)f->linesize[1], 128, (size_t)f->width);
}

static void *ingest_main(void *arg)
{
    server *s = arg;
    const int64_t period_ns = 1000000000 / s->opt.fps;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (int64_t n = 0; !atomic_load(&s->stop); n++) {
        next.tv_nsec += (long)period_ns;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
        /* Backpressure: wait at most one frame period, then drop this input
         * frame rather than fall behind (a live source does not wait). */
        fp_frame *f;
        int ret = fp_pool_acquire(s->pool, period_ns / 1000, &f);
        if (ret == FP_ERR(ETIMEDOUT)) {
            atomic_fetch_add(&s->dropped, 1);
            continue;
        }
        if (ret < 0) {
            fprintf(stderr, "ingest: %s\n", fp_strerror(ret));
            break;
        }
        render(f, n);
        f->pts = n;
        if (s->opt.leak == LEAK_FAN_OUT)
            fan_out_leaky(s, f);
        else
            fan_out(s, f);
        fp_frame_unref(&f); /* the ingest thread's own reference */
        atomic_fetch_add(&s->ingested, 1);
    }
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* Reporting                                                                  */

static void on_stale(const fp_live_frame *l, void *ud)
{
    server *s = ud;
    printf("[%5.2fs] watchdog: frame pts %" PRId64 " held %.0f ms (limit %d ms), refs %d, acquired at %s:%d in %s()\n",
           elapsed_s(s), l->frame->pts, (double)l->age_ns / 1e6, s->opt.watchdog_ms, l->refcount, l->file,
           l->line, l->func);
}

static int write_prom(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ret = fp_registry_write_prometheus(f);
    if (fclose(f) != 0 || ret < 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}

static void stats_header(void)
{
    printf("%7s %8s %7s %5s %4s %5s %8s %8s  %-16s %-16s %s\n", "time", "ingest", "dropped", "live",
           "peak", "waits", "timeouts", "wait-max", "hd done/skip", "sd done/skip", "thumb done/skip");
}

static void stats_line(server *s)
{
    fp_pool_stats st;
    fp_pool_get_stats(s->pool, &st); /* also runs the watchdog scan */
    char w[NWORKERS][24];
    for (int i = 0; i < NWORKERS; i++)
        snprintf(w[i], sizeof(w[i]), "%" PRIu64 "/%" PRIu64 "%s", (uint64_t)atomic_load(&s->workers[i].done),
                 (uint64_t)atomic_load(&s->workers[i].skipped), atomic_load(&s->workers[i].alive) ? "" : " (gone)");
    printf("%6.1fs %8" PRIu64 " %7" PRIu64 " %2" PRIu32 "/%-2" PRIu32 " %4" PRIu32 " %5" PRIu64 " %8" PRIu64
           " %6.1fms  %-16s %-16s %s\n",
           elapsed_s(s), (uint64_t)atomic_load(&s->ingested), (uint64_t)atomic_load(&s->dropped), st.live,
           st.capacity, st.peak_live, st.waits, st.timeouts, (double)st.wait_ns_max / 1e6, w[HD], w[SD], w[THUMB]);
    fflush(stdout);
}

/* ------------------------------------------------------------------------- */

static atomic_int interrupted;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted, 1);
}

static _Noreturn void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--seconds N] [--fps N] [--size WxH] [--pool N] [--watchdog MS]\n"
            "          [--prom FILE] [--json FILE] [--leak worker-exit|fan-out|early-return]\n",
            argv0);
    exit(2);
}

static options parse(int argc, char **argv)
{
    options o = { 8.0, 60, 1280, 720, 10, 500, "/tmp/framepool.prom", NULL, LEAK_NONE };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage(argv[0]);
        i++;
        if (!strcmp(a, "--seconds"))
            o.seconds = atof(v);
        else if (!strcmp(a, "--fps"))
            o.fps = atoi(v);
        else if (!strcmp(a, "--size") && sscanf(v, "%dx%d", &o.width, &o.height) == 2)
            ;
        else if (!strcmp(a, "--pool"))
            o.pool_frames = atoi(v);
        else if (!strcmp(a, "--watchdog"))
            o.watchdog_ms = atoi(v);
        else if (!strcmp(a, "--prom"))
            o.prom = v;
        else if (!strcmp(a, "--json"))
            o.json = v;
        else if (!strcmp(a, "--leak") && !strcmp(v, "worker-exit"))
            o.leak = LEAK_WORKER_EXIT;
        else if (!strcmp(a, "--leak") && !strcmp(v, "fan-out"))
            o.leak = LEAK_FAN_OUT;
        else if (!strcmp(a, "--leak") && !strcmp(v, "early-return"))
            o.leak = LEAK_EARLY_RETURN;
        else
            usage(argv[0]);
    }
    if (o.seconds <= 0 || o.fps < 1 || o.fps > 1000 || o.width < 2 || o.height < 2 || o.pool_frames < 1 ||
        o.watchdog_ms < 0)
        usage(argv[0]);
    return o;
}

static const char *leak_name(enum leak_kind k)
{
    static const char *names[] = { "none", "worker-exit", "fan-out", "early-return" };
    return names[k];
}

int main(int argc, char **argv)
{
    static server srv;
    server *s = &srv;
    s->opt = parse(argc, argv);

    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "ingest";
    cfg.format = FP_FMT_NV12;
    cfg.width = s->opt.width;
    cfg.height = s->opt.height;
    cfg.min_frames = s->opt.pool_frames / 2;
    cfg.max_frames = s->opt.pool_frames;
    int ret = fp_pool_create(&s->pool, &cfg);
    if (ret < 0) {
        fprintf(stderr, "fp_pool_create: %s\n", fp_strerror(ret));
        return 1;
    }
    if (s->opt.watchdog_ms)
        fp_pool_set_watchdog(s->pool, (int64_t)s->opt.watchdog_ms * 1000, on_stale, s);

    static const struct { const char *name; int queue_len, every, work_ms; } outs[NWORKERS] = {
        [HD] = { "hd", 12, 1, 10 }, [SD] = { "sd", 4, 1, 5 }, [THUMB] = { "thumb", 2, 10, 40 },
    };
    clock_gettime(CLOCK_MONOTONIC, &s->start);
    for (int i = 0; i < NWORKERS; i++) {
        worker *w = &s->workers[i];
        w->name = outs[i].name;
        w->queue_len = outs[i].queue_len;
        w->every = outs[i].every;
        w->work_ms = outs[i].work_ms;
        w->srv = s;
        atomic_init(&w->alive, 1);
        queue_init(&w->q, w->queue_len);
        void *(*fn)(void *) = worker_main;
        if (i == HD && s->opt.leak == LEAK_EARLY_RETURN)
            fn = worker_main_leaky;
        else if (i == SD && s->opt.leak == LEAK_WORKER_EXIT)
            fn = worker_main_exits;
        pthread_create(&w->thread, NULL, fn, w);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("fanout_server: NV12 %dx%d at %d fps into a pool of %d frames (%d preallocated), %.0f s, "
           "watchdog %d ms, leak: %s\n",
           s->opt.width, s->opt.height, s->opt.fps, cfg.max_frames, cfg.min_frames, s->opt.seconds,
           s->opt.watchdog_ms, leak_name(s->opt.leak));
    printf("outputs: hd (queue 12, 10 ms/frame), sd (queue 4, 5 ms/frame), thumb (every 10th frame, queue 2, "
           "40 ms); all stall 300 ms every 3 s\n");
    printf("Prometheus exposition every second: %s\n\n", s->opt.prom);
    stats_header();

    pthread_t ingest;
    pthread_create(&ingest, NULL, ingest_main, s);
    int prom_failed = 0;
    for (int tick = 1; tick <= (int)(s->opt.seconds + 0.5) && !atomic_load(&interrupted); tick++) {
        struct timespec at = s->start;
        at.tv_sec += tick;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR && !atomic_load(&interrupted))
            ;
        stats_line(s);
        if (write_prom(s->opt.prom) < 0 && !prom_failed++)
            fprintf(stderr, "cannot write %s: %s\n", s->opt.prom, strerror(errno));
    }

    /* Shutdown: stop the source, let the outputs drain their queues. */
    atomic_store(&s->stop, 1);
    pthread_join(ingest, NULL);
    for (int i = 0; i < NWORKERS; i++)
        queue_close(&s->workers[i].q);
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(s->workers[i].thread, NULL);

    fp_pool_stats st;
    fp_pool_get_stats(s->pool, &st);
    printf("\nstopped: %" PRIu64 " frames ingested, %" PRIu64 " dropped (pool exhausted), %" PRIu64
           " fan-out errors, %" PRIu64 " encode errors; %" PRIu32 " frame%s still live\n\n",
           (uint64_t)atomic_load(&s->ingested), (uint64_t)atomic_load(&s->dropped),
           (uint64_t)atomic_load(&s->fanout_errors),
           (uint64_t)(atomic_load(&s->workers[HD].errors) + atomic_load(&s->workers[SD].errors) +
                      atomic_load(&s->workers[THUMB].errors)),
           st.live, st.live == 1 ? "" : "s");
    fp_pool_report(s->pool, stdout);
    write_prom(s->opt.prom);
    if (s->opt.json) {
        FILE *f = fopen(s->opt.json, "w");
        if (!f || fp_registry_write_json(f) < 0)
            fprintf(stderr, "cannot write %s\n", s->opt.json);
        if (f)
            fclose(f);
    }
    fflush(stdout);
    fp_pool_unref(&s->pool); /* logs a leak report when frames are still live */
    return st.live ? 1 : 0;
}
