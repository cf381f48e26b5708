/*
 * bounded_pool: a producer and a slower consumer sharing a bounded pool of
 * 1080p NV12 frames. Shows backpressure (the producer waits instead of
 * allocating more), exhaustion with a zero timeout, the stats, and a leak
 * being named by file:line in the report.
 *
 *   bounded_pool [frames]        default 300 frames
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <framepool/framepool.h>

#define QUEUE_LEN 16

/* A tiny blocking queue of frame references between the two threads. */
typedef struct queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    fp_frame *items[QUEUE_LEN];
    int head, count, done;
} queue;

static void queue_push(queue *q, fp_frame *f)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == QUEUE_LEN)
        pthread_cond_wait(&q->cond, &q->lock);
    q->items[(q->head + q->count++) % QUEUE_LEN] = f;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

static fp_frame *queue_pop(queue *q)
{
    fp_frame *f = NULL;
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->done)
        pthread_cond_wait(&q->cond, &q->lock);
    if (q->count) {
        f = q->items[q->head];
        q->head = (q->head + 1) % QUEUE_LEN;
        q->count--;
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    return f;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { 0, ms * 1000000L };
    nanosleep(&ts, NULL);
}

/* The "encoder": slower than the producer, so the pool fills up. */
static void *consumer(void *arg)
{
    queue *q = arg;
    fp_frame *f;
    uint64_t sum = 0;
    while ((f = queue_pop(q))) {
        sum += f->data[0][0] + f->data[1][1]; /* touch the pixels */
        sleep_ms(3);
        fp_frame_unref(&f);
    }
    return (void *)(uintptr_t)sum;
}

static void print_stats(fp_pool *pool, const char *when)
{
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    printf("%-22s live %2" PRIu32 "/%" PRIu32 "  peak %2" PRIu32 "  acquired %5" PRIu64
           "  released %5" PRIu64 "  waits %4" PRIu64 "  exhausted %" PRIu64 "  memory %.1f MiB\n",
           when, st.live, st.capacity, st.peak_live, st.acquired, st.released, st.waits, st.exhausted,
           (double)st.reserved_bytes / (1 << 20));
}

int main(int argc, char **argv)
{
    int frames = argc > 1 ? atoi(argv[1]) : 300;
    if (frames <= 0) {
        fprintf(stderr, "usage: %s [frames]\n", argv[0]);
        return 2;
    }

    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "demo-1080p";
    cfg.format = FP_FMT_NV12;
    cfg.width = 1920;
    cfg.height = 1080;
    cfg.min_frames = 2;
    cfg.max_frames = 8; /* the bound: 8 frames of 3 MB, however slow the consumer */

    fp_pool *pool;
    int ret = fp_pool_create(&pool, &cfg);
    if (ret < 0) {
        fprintf(stderr, "fp_pool_create: %s\n", fp_strerror(ret));
        return 1;
    }
    printf("pool \"%s\": NV12 1920x1080, %d..%d frames\n\n", fp_pool_name(pool), cfg.min_frames,
           cfg.max_frames);
    print_stats(pool, "created");

    queue q = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
    pthread_t th;
    pthread_create(&th, NULL, consumer, &q);

    /* The producer: waits up to 100 ms for a frame, never allocates past 8. */
    for (int i = 0; i < frames; i++) {
        fp_frame *f;
        ret = fp_pool_acquire(pool, 100000, &f);
        if (ret < 0) {
            fprintf(stderr, "acquire: %s\n", fp_strerror(ret));
            break;
        }
        memset(f->data[0], i & 0xff, (size_t)f->linesize[0] * 16); /* "decode" a little */
        f->pts = i;
        queue_push(&q, f); /* the consumer now owns this reference */
        if (i % 100 == 99) {
            char when[32];
            snprintf(when, sizeof(when), "after %d frames", i + 1);
            print_stats(pool, when);
        }
    }

    /* With every frame in flight, a zero-timeout acquire fails at once. */
    fp_frame *held[8] = { 0 };
    int n = 0;
    while (n < 8 && fp_pool_acquire(pool, 1000000, &held[n]) == 0)
        n++;
    fp_frame *extra = NULL;
    ret = fp_pool_acquire(pool, 0, &extra);
    printf("\nholding %d frames; acquire with timeout 0 -> %s\n", n, fp_strerror(ret));
    for (int i = 0; i < n; i++)
        fp_frame_unref(&held[i]);

    pthread_mutex_lock(&q.lock);
    q.done = 1;
    pthread_cond_broadcast(&q.cond);
    pthread_mutex_unlock(&q.lock);
    pthread_join(th, NULL);
    print_stats(pool, "drained");

    /* A leak, on purpose: an error path that forgets its frame. */
    fp_frame *leaked;
    fp_pool_acquire(pool, 0, &leaked);
    fp_frame_set_tag(leaked, "forgotten-on-error-path");
    printf("\nreport with one frame leaked on purpose:\n");
    fp_pool_report(pool, stdout);

    fp_frame_unref(&leaked);
    printf("\nafter releasing it:\n");
    fp_pool_report(pool, stdout);
    fp_pool_unref(&pool);
    return 0;
}
