/*
 * Suite "threads": multi-threaded stress with hand-offs between threads,
 * cross-thread release, concurrent stats readers, concurrent trim and
 * concurrent ref/unref of one frame.
 * SPDX-License-Identifier: MIT
 *
 * Worker threads never call ck_assert (under CK_FORK=no a failed assertion
 * longjmps, which is undefined from another thread): they record failures with
 * T_CHECK and the main thread asserts there were none after pthread_join.
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE /* syscall() */
#endif

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "common.h"

static bool under_valgrind(void)
{
    return getenv("FP_TEST_UNDER_VALGRIND") != NULL;
}


/* ------------------------------------------------------------------------- */
/* Fixture                                                                   */

static test_log g_log;

static void setup(void)
{
    test_reset_failures();
    test_log_reset(&g_log);
}

static void teardown(void)
{
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static uint64_t gettid_u64(void)
{
    return (uint64_t)syscall(SYS_gettid);
}

static void check_stats_invariants(const fp_pool_stats *st, const char *where)
{
    ck_assert_msg(st->live == st->acquired - st->released, "%s: live %u != acquired %llu - released %llu",
                  where, st->live, (unsigned long long)st->acquired, (unsigned long long)st->released);
    ck_assert_msg(st->live <= st->capacity, "%s: live %u > capacity %u", where, st->live, st->capacity);
    ck_assert_msg(st->allocated == st->live + st->idle, "%s: allocated %u != live %u + idle %u", where,
                  st->allocated, st->live, st->idle);
    ck_assert_msg(st->allocated <= st->capacity, "%s: allocated %u > capacity %u", where,
                  st->allocated, st->capacity);
    ck_assert_msg(st->peak_live <= st->capacity, "%s: peak_live %u > capacity %u", where,
                  st->peak_live, st->capacity);
}

/* ------------------------------------------------------------------------- */
/* Stress: acquire with timeouts, stamps, extra references, hand-offs        */

#define STRESS_THREADS 4
#define STRESS_CAPACITY 6
#define STRESS_MIN 2
#define QUEUE_CAP 4          /* < capacity: FP_WAIT_FOREVER can never deadlock */
#define STAMP_BYTES 256

typedef struct handoff {
    fp_frame *frame;
    uint64_t stamp;
    int slot;
} handoff;

typedef struct stress {
    fp_pool *pool;
    long iters_per_thread;
    /* Frame address -> slot index, filled on first sight. */
    _Atomic(fp_frame *) known[STRESS_CAPACITY];
    /* 1 while some thread owns the frame (from acquire to the last release). */
    _Atomic int owned[STRESS_CAPACITY];
    /* Test-side count of the references handed around, to know who drops last. */
    _Atomic int shares[STRESS_CAPACITY];

    pthread_mutex_t qlock;
    handoff q[QUEUE_CAP];
    int qhead, qlen;

    pthread_barrier_t start;
    _Atomic int stop;           /* for the trimmer */
    _Atomic int workers_left;

    _Atomic uint64_t acquires, eagain, etimedout, handoffs, shared, extra_refs;
    _Atomic uint64_t trims, trimmed;
} stress;

static int slot_index(stress *st, fp_frame *f)
{
    for (int i = 0; i < STRESS_CAPACITY; i++) {
        fp_frame *k = atomic_load(&st->known[i]);
        if (k == f)
            return i;
        if (!k) {
            fp_frame *expected = NULL;
            if (atomic_compare_exchange_strong(&st->known[i], &expected, f) || expected == f)
                return i;
        }
    }
    T_CHECK(0, "frame %p: more distinct frames than the capacity %d", (void *)f, STRESS_CAPACITY);
    return -1;
}

static void stamp_write(fp_frame *f, uint64_t stamp)
{
    for (size_t j = 0; j < STAMP_BYTES / 8; j++) {
        uint64_t v = stamp ^ (j * 0x9e3779b97f4a7c15ull);
        memcpy(f->data[0] + j * 8, &v, 8);
    }
    f->pts = (int64_t)(stamp >> 1);
}

static bool stamp_ok(const fp_frame *f, uint64_t stamp)
{
    if (f->pts != (int64_t)(stamp >> 1))
        return false;
    for (size_t j = 0; j < STAMP_BYTES / 8; j++) {
        uint64_t v;
        memcpy(&v, f->data[0] + j * 8, 8);
        if (v != (stamp ^ (j * 0x9e3779b97f4a7c15ull)))
            return false;
    }
    return true;
}

/* Drops one test-side share of the frame; the last share clears `owned`
 * before its release, so the slot is free in our books before the pool can
 * hand it out again. */
static void drop_share(stress *st, fp_frame *f, int slot, uint64_t stamp)
{
    T_CHECK(stamp_ok(f, stamp), "frame %p (slot %d): stamp %llx damaged while held", (void *)f, slot,
            (unsigned long long)stamp);
    T_CHECK(fp_frame_refcount(f) >= 1, "frame %p: refcount %d while held", (void *)f, fp_frame_refcount(f));
    if (atomic_fetch_sub(&st->shares[slot], 1) == 1)
        T_CHECK(atomic_exchange(&st->owned[slot], 0) == 1, "frame %p (slot %d): not owned at last release",
                (void *)f, slot);
    int ret = fp_frame_unref(&f);
    T_CHECK(ret == 0, "fp_frame_unref: %d (%s)", ret, fp_strerror(ret));
    T_CHECK(f == NULL, "fp_frame_unref left the pointer set");
}

static bool queue_push(stress *st, const handoff *h)
{
    bool ok = false;
    pthread_mutex_lock(&st->qlock);
    if (st->qlen < QUEUE_CAP) {
        st->q[(st->qhead + st->qlen) % QUEUE_CAP] = *h;
        st->qlen++;
        ok = true;
    }
    pthread_mutex_unlock(&st->qlock);
    return ok;
}

static bool queue_pop(stress *st, handoff *h)
{
    bool ok = false;
    pthread_mutex_lock(&st->qlock);
    if (st->qlen > 0) {
        *h = st->q[st->qhead];
        st->qhead = (st->qhead + 1) % QUEUE_CAP;
        st->qlen--;
        ok = true;
    }
    pthread_mutex_unlock(&st->qlock);
    return ok;
}

typedef struct worker {
    pthread_t th;
    stress *st;
    int id;
} worker;

static void *stress_worker(void *arg)
{
    worker *w = arg;
    stress *st = w->st;
    uint64_t rng = 0x2545F4914F6CDD1Dull * (uint64_t)(w->id + 1);
    handoff h;

    pthread_barrier_wait(&st->start);
    for (long it = 0; it < st->iters_per_thread; it++) {
        /* The receiver releases what others handed over. */
        if (queue_pop(st, &h))
            drop_share(st, h.frame, h.slot, h.stamp);

        uint64_t r = xorshift(&rng);
        int64_t timeout = (r & 7) == 0 ? 0 : (r & 7) == 1 ? FP_WAIT_FOREVER : 2000;
        fp_frame *f = NULL;
        int ret = fp_pool_acquire(st->pool, timeout, &f);
        if (ret == FP_ERR(EAGAIN) && timeout == 0) {
            atomic_fetch_add(&st->eagain, 1);
            continue;
        }
        if (ret == FP_ERR(ETIMEDOUT) && timeout > 0) {
            atomic_fetch_add(&st->etimedout, 1);
            continue;
        }
        T_CHECK(ret == 0, "fp_pool_acquire(%lld): %d (%s)", (long long)timeout, ret, fp_strerror(ret));
        if (ret != 0)
            continue;
        T_CHECK(f != NULL, "acquire succeeded with a NULL frame");
        if (!f)
            continue;
        atomic_fetch_add(&st->acquires, 1);
        int slot = slot_index(st, f);
        if (slot < 0) {
            fp_frame_unref(&f);
            continue;
        }
        T_CHECK(atomic_exchange(&st->owned[slot], 1) == 0, "frame %p (slot %d) handed out twice", (void *)f,
                slot);
        atomic_store(&st->shares[slot], 1);
        T_CHECK(fp_frame_refcount(f) == 1, "fresh frame has refcount %d", fp_frame_refcount(f));
        T_CHECK(fp_frame_is_writable(f) == 1, "fresh frame is not writable");
        T_CHECK(f->pts == FP_NOPTS, "fresh frame has pts %lld", (long long)f->pts);
        T_CHECK(f->data[0] != NULL && f->size >= STAMP_BYTES, "frame without memory");

        uint64_t stamp = ((uint64_t)(w->id + 1) << 56) ^ ((uint64_t)it << 8) ^ (r & 0xFF);
        stamp_write(f, stamp);

        switch ((r >> 8) % 4) {
        case 0: /* plain release */
            drop_share(st, f, slot, stamp);
            break;
        case 1: { /* extra references, dropped by this thread */
            int k = 1 + (int)((r >> 16) % 3);
            fp_frame *refs[3];
            for (int i = 0; i < k; i++) {
                refs[i] = fp_frame_ref(f);
                T_CHECK(refs[i] == f, "fp_frame_ref returned %p for %p", (void *)refs[i], (void *)f);
            }
            atomic_fetch_add(&st->extra_refs, (uint64_t)k);
            T_CHECK(fp_frame_refcount(f) == 1 + k, "refcount %d, expected %d", fp_frame_refcount(f), 1 + k);
            T_CHECK(fp_frame_is_writable(f) == 0, "a shared frame claims to be writable");
            for (int i = 0; i < k; i++) {
                if (!refs[i])
                    continue;
                int u = fp_frame_unref(&refs[i]);
                T_CHECK(u == 0, "extra unref: %d", u);
            }
            T_CHECK(fp_frame_refcount(f) == 1, "refcount %d after dropping the extras", fp_frame_refcount(f));
            T_CHECK(fp_frame_is_writable(f) == 1, "sole owner not writable");
            drop_share(st, f, slot, stamp);
            break;
        }
        case 2: /* hand the only reference to another thread */
            h.frame = f;
            h.stamp = stamp;
            h.slot = slot;
            if (queue_push(st, &h))
                atomic_fetch_add(&st->handoffs, 1);
            else
                drop_share(st, f, slot, stamp);
            break;
        default: { /* share: another thread gets a second reference */
            fp_frame *g = fp_frame_ref(f);
            T_CHECK(g == f, "fp_frame_ref returned %p for %p", (void *)g, (void *)f);
            if (!g) {
                drop_share(st, f, slot, stamp);
                break;
            }
            atomic_fetch_add(&st->shares[slot], 1);
            h.frame = g;
            h.stamp = stamp;
            h.slot = slot;
            if (queue_push(st, &h))
                atomic_fetch_add(&st->shared, 1);
            else
                drop_share(st, g, slot, stamp);
            drop_share(st, f, slot, stamp);
            break;
        }
        }
    }
    atomic_fetch_sub(&st->workers_left, 1);
    return NULL;
}

static void *trimmer(void *arg)
{
    stress *st = arg;
    pthread_barrier_wait(&st->start);
    while (!atomic_load(&st->stop)) {
        int n = fp_pool_trim(st->pool);
        T_CHECK(n >= 0, "fp_pool_trim: %d", n);
        atomic_fetch_add(&st->trims, 1);
        if (n > 0)
            atomic_fetch_add(&st->trimmed, (uint64_t)n);
        test_sleep_us(50);
    }
    return NULL;
}

static void run_stress(bool with_trim)
{
    long total = under_valgrind() ? 10000 : 200000;
    if (with_trim)
        total /= 2;
    stress *st = calloc(1, sizeof(*st));
    ck_assert_ptr_nonnull(st);
    test_alloc ta;
    memset(&ta, 0, sizeof(ta));

    fp_pool_config cfg = test_config(FP_FMT_RAW, STAMP_BYTES, 1, STRESS_CAPACITY, &g_log);
    cfg.min_frames = STRESS_MIN;
    cfg.allocator = test_allocator(&ta);
    ck_assert_int_eq(fp_pool_create(&st->pool, &cfg), 0);
    st->iters_per_thread = total / STRESS_THREADS;
    pthread_mutex_init(&st->qlock, NULL);
    pthread_barrier_init(&st->start, NULL, STRESS_THREADS + (with_trim ? 1 : 0));
    atomic_store(&st->workers_left, STRESS_THREADS);

    worker w[STRESS_THREADS];
    pthread_t trim_th;
    for (int i = 0; i < STRESS_THREADS; i++) {
        w[i].st = st;
        w[i].id = i;
        ck_assert_int_eq(pthread_create(&w[i].th, NULL, stress_worker, &w[i]), 0);
    }
    if (with_trim)
        ck_assert_int_eq(pthread_create(&trim_th, NULL, trimmer, st), 0);
    for (int i = 0; i < STRESS_THREADS; i++)
        ck_assert_int_eq(pthread_join(w[i].th, NULL), 0);
    atomic_store(&st->stop, 1);
    if (with_trim)
        ck_assert_int_eq(pthread_join(trim_th, NULL), 0);

    /* What is still queued gets released here. */
    handoff h;
    while (queue_pop(st, &h))
        drop_share(st, h.frame, h.slot, h.stamp);
    test_assert_no_failures();

    for (int i = 0; i < STRESS_CAPACITY; i++)
        ck_assert_int_eq(atomic_load(&st->owned[i]), 0);

    fp_pool_stats s;
    ck_assert_int_eq(fp_pool_get_stats(st->pool, &s), 0);
    check_stats_invariants(&s, "after stress");
    uint64_t acquires = atomic_load(&st->acquires);
    ck_assert_uint_gt(acquires, 0);
    ck_assert_uint_eq(s.live, 0);
    ck_assert_uint_eq(s.acquired, acquires);
    ck_assert_uint_eq(s.released, acquires);
    ck_assert_uint_eq(s.exhausted, atomic_load(&st->eagain));
    ck_assert_uint_eq(s.timeouts, atomic_load(&st->etimedout));
    ck_assert_uint_eq(s.misuse, 0);
    ck_assert_uint_eq(s.alloc_failures, 0);
    ck_assert_uint_ge(s.peak_live, 1);
    ck_assert_uint_eq(s.capacity, STRESS_CAPACITY);
    ck_assert_uint_eq(s.idle, s.allocated);
    ck_assert_int_eq(atomic_load(&ta.live), (int)s.allocated);
    if (with_trim) {
        ck_assert_uint_gt(atomic_load(&st->trims), 0);
        /* Quiet now: a trim leaves exactly min_frames. */
        int n = fp_pool_trim(st->pool);
        ck_assert_int_ge(n, 0);
        ck_assert_int_eq(fp_pool_get_stats(st->pool, &s), 0);
        ck_assert_uint_eq(s.allocated, STRESS_MIN);
        ck_assert_int_eq(atomic_load(&ta.live), STRESS_MIN);
        /* Frames are still fine after all that trimming. */
        fp_frame *f[STRESS_CAPACITY];
        for (int i = 0; i < STRESS_CAPACITY; i++) {
            ck_assert_int_eq(fp_pool_acquire(st->pool, 0, &f[i]), 0);
            stamp_write(f[i], (uint64_t)i * 0x1234567u);
        }
        for (int i = 0; i < STRESS_CAPACITY; i++) {
            ck_assert(stamp_ok(f[i], (uint64_t)i * 0x1234567u));
            ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
        }
    }
    fp_pool_unref(&st->pool);
    ck_assert_int_eq(atomic_load(&ta.live), 0);
    pthread_barrier_destroy(&st->start);
    pthread_mutex_destroy(&st->qlock);
    free(st);
}

START_TEST(test_stress_handoff)
{
    run_stress(false);
}
END_TEST

START_TEST(test_stress_with_trim)
{
    run_stress(true);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Release on a thread other than the acquirer                               */

#define XT_FRAMES 8

typedef struct xthread {
    fp_pool *pool;
    fp_frame *frames[XT_FRAMES];
    uint64_t tid;
    int ret[XT_FRAMES];
} xthread;

static void *xt_acquirer(void *arg)
{
    xthread *x = arg;
    x->tid = gettid_u64();
    for (int i = 0; i < XT_FRAMES; i++) {
        x->ret[i] = fp_pool_acquire(x->pool, 0, &x->frames[i]);
        if (x->ret[i] == 0)
            fp_frame_set_tag(x->frames[i], "xthread");
    }
    return NULL;
}

static void *xt_releaser(void *arg)
{
    xthread *x = arg;
    for (int i = 0; i < XT_FRAMES; i++)
        x->ret[i] = fp_frame_unref(&x->frames[i]);
    return NULL;
}

typedef struct xt_walk {
    int count;
    int bad_thread, bad_site, bad_tag, bad_refcount;
    uint64_t tid;
} xt_walk;

static int xt_walk_cb(const fp_live_frame *lf, void *ud)
{
    xt_walk *w = ud;
    w->count++;
    if (lf->thread != w->tid)
        w->bad_thread++;
    if (!lf->file || strcmp(lf->file, __FILE__) || !lf->func || strcmp(lf->func, "xt_acquirer"))
        w->bad_site++;
    if (!lf->tag || strcmp(lf->tag, "xthread"))
        w->bad_tag++;
    if (lf->refcount != 1)
        w->bad_refcount++;
    return 0;
}

/* Handing frames over a queue from a producer to a consumer thread. */
typedef struct pingpong {
    fp_pool *pool;
    long n;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    fp_frame *q[4];
    uint64_t stamps[4];
    int head, len;
    bool producer_done;
    uint64_t received;
} pingpong;

static void pp_producer_done(pingpong *p)
{
    pthread_mutex_lock(&p->lock);
    p->producer_done = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void *pp_producer(void *arg)
{
    pingpong *p = arg;
    for (long i = 0; i < p->n; i++) {
        fp_frame *f = NULL;
        int ret = fp_pool_acquire(p->pool, FP_WAIT_FOREVER, &f);
        T_CHECK(ret == 0 && f, "producer acquire: %d (%s)", ret, fp_strerror(ret));
        if (ret)
            break;
        uint64_t stamp = 0xC0FFEE0000000000ull + (uint64_t)i;
        stamp_write(f, stamp);
        pthread_mutex_lock(&p->lock);
        while (p->len == 4)
            pthread_cond_wait(&p->cond, &p->lock);
        p->q[(p->head + p->len) % 4] = f;
        p->stamps[(p->head + p->len) % 4] = stamp;
        p->len++;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
    }
    pp_producer_done(p);
    return NULL;
}

static void *pp_consumer(void *arg)
{
    pingpong *p = arg;
    for (long i = 0; i < p->n; i++) {
        pthread_mutex_lock(&p->lock);
        while (p->len == 0 && !p->producer_done)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->len == 0) { /* the producer gave up: it logged why */
            pthread_mutex_unlock(&p->lock);
            break;
        }
        fp_frame *f = p->q[p->head];
        uint64_t stamp = p->stamps[p->head];
        p->head = (p->head + 1) % 4;
        p->len--;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        T_CHECK(stamp == 0xC0FFEE0000000000ull + (uint64_t)i, "frames out of order");
        T_CHECK(stamp_ok(f, stamp), "stamp damaged in transit");
        T_CHECK(fp_frame_refcount(f) == 1, "refcount %d in transit", fp_frame_refcount(f));
        int ret = fp_frame_unref(&f);
        T_CHECK(ret == 0, "consumer unref: %d", ret);
        p->received++;
    }
    return NULL;
}

START_TEST(test_cross_thread_release)
{
    fp_pool_config cfg = test_config(FP_FMT_RAW, STAMP_BYTES, 1, XT_FRAMES, &g_log);
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);

    xthread x;
    memset(&x, 0, sizeof(x));
    x.pool = pool;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, xt_acquirer, &x), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    for (int i = 0; i < XT_FRAMES; i++) {
        ck_assert_int_eq(x.ret[i], 0);
        ck_assert_ptr_nonnull(x.frames[i]);
    }
    ck_assert_uint_ne(x.tid, gettid_u64());

    /* Tracking names the acquiring thread and site, not ours. */
    xt_walk walk;
    memset(&walk, 0, sizeof(walk));
    walk.tid = x.tid;
    ck_assert_int_eq(fp_pool_foreach_live(pool, xt_walk_cb, &walk), 0);
    ck_assert_int_eq(walk.count, XT_FRAMES);
    ck_assert_int_eq(walk.bad_thread, 0);
    ck_assert_int_eq(walk.bad_site, 0);
    ck_assert_int_eq(walk.bad_tag, 0);
    ck_assert_int_eq(walk.bad_refcount, 0);

    /* Released by a third thread. */
    ck_assert_int_eq(pthread_create(&th, NULL, xt_releaser, &x), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    for (int i = 0; i < XT_FRAMES; i++) {
        ck_assert_int_eq(x.ret[i], 0);
        ck_assert_ptr_null(x.frames[i]);
    }
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, XT_FRAMES);
    ck_assert_uint_eq(st.released, XT_FRAMES);
    ck_assert_uint_eq(st.misuse, 0);
    check_stats_invariants(&st, "cross-thread");

    /* Producer/consumer: every frame acquired on one thread and released on
     * another, with the producer blocking on the pool when the consumer lags. */
    pingpong *p = calloc(1, sizeof(*p));
    ck_assert_ptr_nonnull(p);
    p->pool = pool;
    p->n = under_valgrind() ? 2000 : 50000;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    pthread_t prod, cons;
    ck_assert_int_eq(pthread_create(&cons, NULL, pp_consumer, p), 0);
    ck_assert_int_eq(pthread_create(&prod, NULL, pp_producer, p), 0);
    ck_assert_int_eq(pthread_join(prod, NULL), 0);
    ck_assert_int_eq(pthread_join(cons, NULL), 0);
    test_assert_no_failures();
    ck_assert_uint_eq(p->received, (uint64_t)p->n);
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, XT_FRAMES + (uint64_t)p->n);
    ck_assert_uint_eq(st.released, XT_FRAMES + (uint64_t)p->n);
    ck_assert_uint_eq(st.timeouts, 0);
    ck_assert_uint_eq(st.misuse, 0);
    check_stats_invariants(&st, "producer/consumer");
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
    fp_pool_unref(&pool);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* A stats reader while threads hammer                                       */

#define READER_CAPACITY 4

typedef struct hammer_ctx {
    fp_pool *pool;
    long iters;
    _Atomic int hammers_left;
    _Atomic uint64_t acquires;
    uint64_t snapshots, walks;
} hammer_ctx;

static void *hammer(void *arg)
{
    hammer_ctx *c = arg;
    uint64_t rng = (uint64_t)(uintptr_t)&rng | 1;
    for (long i = 0; i < c->iters; i++) {
        uint64_t r = xorshift(&rng);
        fp_frame *a = NULL, *b = NULL;
        int ret = fp_pool_acquire(c->pool, (r & 3) ? 1000 : 0, &a);
        T_CHECK(ret == 0 || ret == FP_ERR(ETIMEDOUT) || ret == FP_ERR(EAGAIN), "acquire: %d (%s)", ret,
                fp_strerror(ret));
        if (ret)
            continue;
        atomic_fetch_add(&c->acquires, 1);
        a->data[0][0] = (uint8_t)r;
        if ((r >> 4) & 1) {
            /* hold two for a moment */
            if (fp_pool_acquire(c->pool, 0, &b) == 0)
                atomic_fetch_add(&c->acquires, 1);
        }
        T_CHECK(a->data[0][0] == (uint8_t)r, "pixel changed under its owner");
        T_CHECK(fp_frame_unref(&a) == 0, "unref a");
        T_CHECK(fp_frame_unref(&b) == 0, "unref b");
    }
    atomic_fetch_sub(&c->hammers_left, 1);
    return NULL;
}

static int count_cb(const fp_live_frame *lf, void *ud)
{
    int *n = ud;
    (*n)++;
    T_CHECK(lf->frame != NULL, "live frame without a frame");
    return 0;
}

static void *stats_reader(void *arg)
{
    hammer_ctx *c = arg;
    fp_pool_stats prev, cur;
    memset(&prev, 0, sizeof(prev));
    do {
        int ret = fp_pool_get_stats(c->pool, &cur);
        T_CHECK(ret == 0, "fp_pool_get_stats: %d", ret);
        c->snapshots++;
        T_CHECK(cur.live == cur.acquired - cur.released, "live %u != acquired %llu - released %llu", cur.live,
                (unsigned long long)cur.acquired, (unsigned long long)cur.released);
        T_CHECK(cur.live <= cur.capacity, "live %u > capacity %u", cur.live, cur.capacity);
        T_CHECK(cur.allocated == cur.live + cur.idle, "allocated %u != live %u + idle %u", cur.allocated,
                cur.live, cur.idle);
        T_CHECK(cur.allocated <= cur.capacity, "allocated %u > capacity %u", cur.allocated, cur.capacity);
        T_CHECK(cur.peak_live <= cur.capacity, "peak_live %u > capacity %u", cur.peak_live, cur.capacity);
        T_CHECK(cur.acquired >= prev.acquired, "acquired went back: %llu -> %llu",
                (unsigned long long)prev.acquired, (unsigned long long)cur.acquired);
        T_CHECK(cur.released >= prev.released, "released went back: %llu -> %llu",
                (unsigned long long)prev.released, (unsigned long long)cur.released);
        T_CHECK(cur.timeouts >= prev.timeouts && cur.waits >= prev.waits && cur.exhausted >= prev.exhausted &&
                    cur.peak_live >= prev.peak_live,
                "a counter went back");
        prev = cur;
        if ((c->snapshots & 15) == 0) {
            int n = 0;
            ret = fp_pool_foreach_live(c->pool, count_cb, &n);
            T_CHECK(ret == 0, "fp_pool_foreach_live: %d", ret);
            T_CHECK(n >= 0 && n <= READER_CAPACITY, "%d live frames reported, capacity %d", n, READER_CAPACITY);
            c->walks++;
        }
        sched_yield();
    } while (atomic_load(&c->hammers_left) > 0);
    return NULL;
}

START_TEST(test_stats_reader)
{
    enum { HAMMERS = 3 };
    fp_pool_config cfg = test_config(FP_FMT_RAW, 64, 1, READER_CAPACITY, &g_log);
    cfg.min_frames = 1;
    hammer_ctx c;
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(fp_pool_create(&c.pool, &cfg), 0);
    c.iters = under_valgrind() ? 3000 : 60000;
    atomic_store(&c.hammers_left, HAMMERS);

    pthread_t h[HAMMERS], r;
    ck_assert_int_eq(pthread_create(&r, NULL, stats_reader, &c), 0);
    for (int i = 0; i < HAMMERS; i++)
        ck_assert_int_eq(pthread_create(&h[i], NULL, hammer, &c), 0);
    for (int i = 0; i < HAMMERS; i++)
        ck_assert_int_eq(pthread_join(h[i], NULL), 0);
    ck_assert_int_eq(pthread_join(r, NULL), 0);
    test_assert_no_failures();
    ck_assert_uint_gt(c.snapshots, 0);

    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(c.pool, &st), 0);
    check_stats_invariants(&st, "after hammering");
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, atomic_load(&c.acquires));
    ck_assert_uint_eq(st.released, st.acquired);
    fp_pool_unref(&c.pool);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Concurrent ref/unref of one frame                                         */

#define SHARERS 4

typedef struct share_ctx {
    fp_frame *frame;
    pthread_barrier_t *go;
    long loops;
    fp_frame *mine; /* the reference this thread drops at the end */
} share_ctx;

static void *sharer(void *arg)
{
    share_ctx *c = arg;
    pthread_barrier_wait(c->go);
    for (long i = 0; i < c->loops; i++) {
        fp_frame *g = fp_frame_ref(c->frame);
        T_CHECK(g == c->frame, "fp_frame_ref: %p", (void *)g);
        int rc = fp_frame_refcount(c->frame);
        T_CHECK(rc >= 2, "refcount %d while two references are held here", rc);
        int ret = fp_frame_unref(&g);
        T_CHECK(ret == 0 && g == NULL, "fp_frame_unref: %d", ret);
    }
    int ret = fp_frame_unref(&c->mine);
    T_CHECK(ret == 0, "final unref: %d", ret);
    return NULL;
}

START_TEST(test_shared_ref_unref)
{
    fp_pool_config cfg = test_config(FP_FMT_RAW, 64, 1, 2, &g_log);
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    const int rounds = under_valgrind() ? 20 : 300;
    const long loops = under_valgrind() ? 200 : 2000;
    pthread_barrier_t go;

    for (int round = 0; round < rounds; round++) {
        fp_pool_stats before, after;
        ck_assert_int_eq(fp_pool_get_stats(pool, &before), 0);
        fp_frame *f = NULL;
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
        ck_assert_int_eq(pthread_barrier_init(&go, NULL, SHARERS + 1), 0);
        share_ctx c[SHARERS];
        pthread_t th[SHARERS];
        for (int i = 0; i < SHARERS; i++) {
            c[i].frame = f;
            c[i].go = &go;
            c[i].loops = loops;
            c[i].mine = fp_frame_ref(f);
            ck_assert_ptr_eq(c[i].mine, f);
        }
        ck_assert_int_eq(fp_frame_refcount(f), SHARERS + 1);
        for (int i = 0; i < SHARERS; i++)
            ck_assert_int_eq(pthread_create(&th[i], NULL, sharer, &c[i]), 0);
        fp_frame *mine = f;
        pthread_barrier_wait(&go);
        /* The main thread's reference goes at some point during the storm. */
        for (long i = 0; i < (round % 3) * loops / 2; i++) {
            fp_frame *g = fp_frame_ref(f);
            ck_assert_ptr_eq(g, f);
            ck_assert_int_eq(fp_frame_unref(&g), 0);
        }
        ck_assert_int_eq(fp_frame_unref(&mine), 0);
        for (int i = 0; i < SHARERS; i++)
            ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        pthread_barrier_destroy(&go);
        test_assert_no_failures();

        /* All references gone: the slot returned exactly once. */
        ck_assert_int_eq(fp_frame_refcount(f), 0);
        ck_assert_int_eq(fp_pool_get_stats(pool, &after), 0);
        ck_assert_uint_eq(after.acquired, before.acquired + 1);
        ck_assert_uint_eq(after.released, before.released + 1);
        ck_assert_uint_eq(after.live, 0);
        ck_assert_uint_eq(after.misuse, 0);
        check_stats_invariants(&after, "after a shared round");
    }
    fp_pool_unref(&pool);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("stress");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stress_handoff);
    tcase_add_test(tc, test_stress_with_trim);
    suite_add_tcase(s, tc);

    tc = tcase_create("concurrency");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_cross_thread_release);
    tcase_add_test(tc, test_stats_reader);
    tcase_add_test(tc, test_shared_ref_unref);
    suite_add_tcase(s, tc);
    return s;
}
