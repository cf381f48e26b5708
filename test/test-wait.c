/*
 * Suite "wait": exhaustion, bounded and unbounded waits, wake-ups on release,
 * close and last unref, and the wait statistics.
 * SPDX-License-Identifier: MIT
 *
 * Worker threads never call ck_assert (under CK_FORK=no a failed assertion
 * longjmps, which is undefined from another thread): they record their results
 * and the main thread asserts after pthread_join.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"


static bool under_valgrind(void)
{
    return getenv("FP_TEST_UNDER_VALGRIND") != NULL;
}

/* Liveness guard for polling loops: generous, never a performance bound. */
static uint64_t guard_ns(void)
{
    return (under_valgrind() ? 300ull : 60ull) * 1000000000ull;
}

static void check_invariants(fp_pool *pool, const char *where)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_msg(st.live == st.acquired - st.released, "%s: live %u != acquired %llu - released %llu",
                  where, st.live, (unsigned long long)st.acquired, (unsigned long long)st.released);
    ck_assert_msg(st.live <= st.capacity, "%s: live %u > capacity %u", where, st.live, st.capacity);
    ck_assert_msg(st.allocated == st.live + st.idle, "%s: allocated %u != live %u + idle %u", where,
                  st.allocated, st.live, st.idle);
    ck_assert_msg(st.allocated <= st.capacity, "%s: allocated %u > capacity %u", where, st.allocated,
                  st.capacity);
    ck_assert_msg(st.peak_live <= st.capacity, "%s: peak_live %u > capacity %u", where, st.peak_live,
                  st.capacity);
}

static fp_pool_stats stats_of(fp_pool *pool)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    return st;
}

/* Polls until `n` acquires have registered as waiters (stats.waits). */
static void wait_for_waits(fp_pool *pool, uint64_t n)
{
    uint64_t t0 = test_now_ns();
    for (;;) {
        fp_pool_stats st = stats_of(pool);
        if (st.waits >= n)
            return;
        ck_assert_msg(test_now_ns() - t0 < guard_ns(), "only %llu of %llu waiters ever blocked",
                      (unsigned long long)st.waits, (unsigned long long)n);
        test_sleep_us(500);
    }
}

/* ------------------------------------------------------------------------- */
/* A waiter thread                                                           */

typedef struct waiter {
    pthread_t th;
    fp_pool *pool;
    int64_t timeout_us;
    bool release_at_once;   /* release a frame it got right away */
    _Atomic int started;
    _Atomic int finished;
    _Atomic int *successes; /* shared counter of waiters that got a frame, or NULL */
    int ret;
    fp_frame *frame;
    int unref_ret;
    uint64_t elapsed_ns;
} waiter;

static void *waiter_main(void *arg)
{
    waiter *w = arg;
    atomic_store(&w->started, 1);
    uint64_t t0 = test_now_ns();
    w->ret = fp_pool_acquire(w->pool, w->timeout_us, &w->frame);
    w->elapsed_ns = test_now_ns() - t0;
    if (w->ret == 0 && w->successes)
        atomic_fetch_add(w->successes, 1);
    if (w->ret == 0 && w->release_at_once)
        w->unref_ret = fp_frame_unref(&w->frame);
    atomic_store(&w->finished, 1);
    return NULL;
}

static void waiter_start(waiter *w, fp_pool *pool, int64_t timeout_us, _Atomic int *successes,
                         bool release_at_once)
{
    memset(w, 0, sizeof(*w));
    w->pool = pool;
    w->timeout_us = timeout_us;
    w->successes = successes;
    w->release_at_once = release_at_once;
    w->frame = (fp_frame *)(uintptr_t)1; /* must be overwritten by acquire */
    ck_assert_int_eq(pthread_create(&w->th, NULL, waiter_main, w), 0);
}

static void waiter_join(waiter *w)
{
    ck_assert_int_eq(pthread_join(w->th, NULL), 0);
}

/* ------------------------------------------------------------------------- */
/* Fixture                                                                   */

static test_log g_log;
static fp_pool *g_pool;

static void setup(void)
{
    test_log_reset(&g_log);
    g_pool = NULL;
}

static void teardown(void)
{
    fp_pool_unref(&g_pool);
}

static fp_pool *make_pool(int min_frames, int max_frames)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 64, 16, max_frames, &g_log);
    cfg.min_frames = min_frames;
    ck_assert_int_eq(fp_pool_create(&g_pool, &cfg), 0);
    ck_assert_ptr_nonnull(g_pool);
    return g_pool;
}

/* ------------------------------------------------------------------------- */
/* Tests                                                                     */

/* timeout 0 on an exhausted pool: EAGAIN at once, counted as exhausted, no wait. */
START_TEST(test_nowait_eagain)
{
    /* _i == 0: lazily grown pool; 1: preallocated */
    fp_pool *pool = make_pool(_i ? 2 : 0, 2);
    fp_frame *a = NULL, *b = NULL, *c = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &a), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &b), 0);
    ck_assert_ptr_ne(a, b);
    c = (fp_frame *)(uintptr_t)1;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &c), FP_ERR(EAGAIN));
    ck_assert_ptr_null(c);
    c = (fp_frame *)(uintptr_t)1;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &c), FP_ERR(EAGAIN));
    ck_assert_ptr_null(c);

    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.exhausted, 2);
    ck_assert_uint_eq(st.waits, 0);
    ck_assert_uint_eq(st.timeouts, 0);
    ck_assert_uint_eq(st.wait_ns_total, 0);
    ck_assert_uint_eq(st.wait_ns_max, 0);
    ck_assert_uint_eq(st.live, 2);
    ck_assert_uint_eq(st.acquired, 2);
    check_invariants(pool, "exhausted");

    /* A frame coming back makes the next non-waiting acquire succeed. */
    ck_assert_int_eq(fp_frame_unref(&a), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &c), 0);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(fp_frame_unref(&b), 0);
    ck_assert_int_eq(fp_frame_unref(&c), 0);
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.exhausted, 2);
    check_invariants(pool, "after release");
}
END_TEST

static const int64_t bounded_timeouts_us[] = { 20000, 1000, 1 };

/* A bounded wait on an exhausted pool times out after at least the timeout. */
START_TEST(test_bounded_timeout)
{
    const int64_t timeout = bounded_timeouts_us[_i];
    const uint64_t timeout_ns = (uint64_t)timeout * 1000u;
    fp_pool *pool = make_pool(0, 1);
    fp_frame *held = NULL, *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &held), 0);

    for (int round = 1; round <= 2; round++) {
        f = (fp_frame *)(uintptr_t)1;
        uint64_t t0 = test_now_ns();
        int ret = fp_pool_acquire(pool, timeout, &f);
        uint64_t elapsed = test_now_ns() - t0;
        ck_assert_int_eq(ret, FP_ERR(ETIMEDOUT));
        ck_assert_ptr_null(f);
        ck_assert_msg(elapsed >= timeout_ns, "timed out after %llu ns, before the %lld us timeout",
                      (unsigned long long)elapsed, (long long)timeout);

        fp_pool_stats st = stats_of(pool);
        ck_assert_uint_eq(st.timeouts, (uint64_t)round);
        ck_assert_uint_eq(st.waits, (uint64_t)round);
        ck_assert_uint_eq(st.exhausted, 0);
        ck_assert_msg(st.wait_ns_max >= timeout_ns, "wait_ns_max %llu < timeout %llu ns",
                      (unsigned long long)st.wait_ns_max, (unsigned long long)timeout_ns);
        ck_assert_msg(st.wait_ns_total >= (uint64_t)round * timeout_ns,
                      "wait_ns_total %llu < %d x timeout %llu ns", (unsigned long long)st.wait_ns_total,
                      round, (unsigned long long)timeout_ns);
        ck_assert_msg(st.wait_ns_total >= st.wait_ns_max, "wait_ns_total %llu < wait_ns_max %llu",
                      (unsigned long long)st.wait_ns_total, (unsigned long long)st.wait_ns_max);
        ck_assert_uint_eq(st.live, 1);
        ck_assert_uint_eq(st.acquired, 1);
        check_invariants(pool, "after timeout");
    }
    /* The held frame is unaffected and the pool works. */
    ck_assert_int_eq(fp_frame_refcount(held), 1);
    ck_assert_int_eq(fp_frame_unref(&held), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, timeout, &f), 0);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.timeouts, 2);
    ck_assert_uint_eq(st.live, 0);
    check_invariants(pool, "end");
}
END_TEST

static const int64_t long_timeouts_us[] = { FP_WAIT_FOREVER, 30 * 1000000 };

/* A waiter blocked in another thread gets the frame the main thread releases. */
START_TEST(test_waiter_gets_released_frame)
{
    fp_pool *pool = make_pool(0, 1);
    fp_frame *held = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &held), 0);
    fp_frame *orig = held;
    held->pts = 1234;

    waiter w;
    waiter_start(&w, pool, long_timeouts_us[_i], NULL, false);
    while (!atomic_load(&w.started))
        test_sleep_us(100);
    /* Let it block (not needed for correctness: a release before it blocks
     * hands it the frame through the fast path). */
    wait_for_waits(pool, 1);
    ck_assert_int_eq(atomic_load(&w.finished), 0); /* nothing to return yet */

    ck_assert_int_eq(fp_frame_unref(&held), 0);
    ck_assert_ptr_null(held);
    waiter_join(&w);

    ck_assert_int_eq(w.ret, 0);
    ck_assert_ptr_eq(w.frame, orig); /* capacity 1: the same slot */
    ck_assert_int_eq(fp_frame_refcount(w.frame), 1);
    ck_assert_int_eq(w.frame->pts, FP_NOPTS);

    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.waits, 1);
    ck_assert_uint_eq(st.timeouts, 0);
    ck_assert_uint_eq(st.acquired, 2);
    ck_assert_uint_eq(st.released, 1);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_uint_gt(st.wait_ns_max, 0);
    check_invariants(pool, "after hand-over");

    ck_assert_int_eq(fp_frame_unref(&w.frame), 0);
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.released, 2);
}
END_TEST

/* fp_pool_close wakes every blocked waiter with ESHUTDOWN, also when a frame
 * comes back right after the close (the waiters must not take it). */
START_TEST(test_close_wakes_all)
{
    enum { N = 4 };
    fp_pool *pool = make_pool(0, 1);
    fp_frame *held = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &held), 0);

    waiter w[N];
    for (int i = 0; i < N; i++)
        waiter_start(&w[i], pool, (_i && (i & 1)) ? 60 * 1000000 : FP_WAIT_FOREVER, NULL, false);
    wait_for_waits(pool, N);

    fp_pool_close(pool);
    fp_pool_close(pool); /* idempotent */
    if (_i) {
        /* The frame returns while the woken waiters may still be on their way
         * out: they were woken by the close and must report it. */
        ck_assert_int_eq(fp_frame_unref(&held), 0);
    }
    for (int i = 0; i < N; i++) {
        waiter_join(&w[i]);
        ck_assert_msg(w[i].ret == FP_ERR(ESHUTDOWN), "waiter %d: %d (%s), expected ESHUTDOWN", i,
                      w[i].ret, fp_strerror(w[i].ret));
        ck_assert_ptr_null(w[i].frame);
    }
    fp_pool_stats st = stats_of(pool);
    ck_assert_int_ne(st.closed, 0);
    ck_assert_uint_eq(st.waits, N);
    ck_assert_uint_eq(st.timeouts, 0);
    ck_assert_uint_eq(st.acquired, 1);
    check_invariants(pool, "after close");

    /* The live frame stays valid and returns normally. */
    if (!_i) {
        ck_assert_int_eq(fp_frame_refcount(held), 1);
        ck_assert_int_eq(fp_frame_unref(&held), 0);
    }
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.released, 1);

    /* Later acquires fail at once, even with frames idle. */
    fp_frame *f = (fp_frame *)(uintptr_t)1;
    ck_assert_int_eq(fp_pool_acquire(pool, FP_WAIT_FOREVER, &f), FP_ERR(ESHUTDOWN));
    ck_assert_ptr_null(f);
    st = stats_of(pool);
    ck_assert_uint_eq(st.waits, N);
    ck_assert_uint_eq(st.acquired, 1);
}
END_TEST

/* Acquire after close: ESHUTDOWN without waiting, whatever the timeout. */
START_TEST(test_acquire_after_close)
{
    fp_pool *pool = make_pool(2, 2);
    fp_frame *live = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &live), 0);
    fp_pool_close(pool);

    const int64_t timeouts[] = { 0, 1000, 60 * 1000000, FP_WAIT_FOREVER };
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
        fp_frame *f = (fp_frame *)(uintptr_t)1;
        ck_assert_int_eq(fp_pool_acquire(pool, timeouts[i], &f), FP_ERR(ESHUTDOWN));
        ck_assert_ptr_null(f);
    }
    fp_pool_stats st = stats_of(pool);
    ck_assert_int_ne(st.closed, 0);
    ck_assert_uint_eq(st.waits, 0);
    ck_assert_uint_eq(st.timeouts, 0);
    ck_assert_uint_eq(st.exhausted, 0);
    ck_assert_uint_eq(st.acquired, 1);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_uint_eq(st.idle, 1);

    /* The frame acquired before the close still works and returns. */
    ck_assert_int_eq(fp_frame_refcount(live), 1);
    ck_assert_ptr_eq(fp_frame_ref(live), live);
    ck_assert_int_eq(fp_frame_unref(&live), 0);
    ck_assert_ptr_null(live);
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 1); /* one reference is still held */
}
END_TEST

/* The last application reference goes while threads are blocked in acquire:
 * they wake with ESHUTDOWN and the pool is freed once they and the frame are
 * gone. _i == 0: join first, then release the frame; 1: release the frame at
 * once, racing with the waiters' exit; 2: the same with more waiters, so that
 * some are still inside the pool when the frame returns (ASan and valgrind
 * catch a pool freed under them). */
START_TEST(test_unref_wakes_waiters)
{
    enum { MAXN = 16 };
    const int N = _i == 2 ? MAXN : 4;
    test_alloc ta;
    memset(&ta, 0, sizeof(ta));
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 64, 16, 1, &g_log);
    cfg.allocator = test_allocator(&ta);
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    fp_frame *held = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &held), 0);
    ck_assert_int_eq(atomic_load(&ta.live), 1);

    waiter w[MAXN];
    for (int i = 0; i < N; i++)
        waiter_start(&w[i], pool, FP_WAIT_FOREVER, NULL, false);
    /* Only while we hold a reference may we look at the pool. */
    wait_for_waits(pool, (uint64_t)N);

    fp_pool_unref(&pool);
    ck_assert_ptr_null(pool);
    if (_i)
        ck_assert_int_eq(fp_frame_unref(&held), 0);
    for (int i = 0; i < N; i++) {
        waiter_join(&w[i]);
        ck_assert_msg(w[i].ret == FP_ERR(ESHUTDOWN), "waiter %d: %d (%s), expected ESHUTDOWN", i,
                      w[i].ret, fp_strerror(w[i].ret));
        ck_assert_ptr_null(w[i].frame);
    }
    if (!_i) {
        /* A live frame keeps the pool (and its memory) alive. */
        ck_assert_int_eq(atomic_load(&ta.live), 1);
        ck_assert_int_eq(fp_frame_refcount(held), 1);
        ck_assert_int_eq(fp_frame_unref(&held), 0);
    }
    /* The frame and the waiters are gone: the pool freed its pixels. */
    ck_assert_int_eq(atomic_load(&ta.live), 0);
    ck_assert_int_eq(atomic_load(&ta.frees), 1);
    /* Dropping the reference with a live frame logged a leak report. */
    ck_assert_msg(test_log_has(&g_log, "still live"), "no leak report was logged");
}
END_TEST

/* N waiters, N releases: each release lets exactly one more waiter through. */
START_TEST(test_each_release_wakes_one)
{
    enum { N = 6 };
    fp_pool *pool = make_pool(0, N);
    fp_frame *held[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &held[i]), 0);

    _Atomic int successes = 0;
    waiter w[N];
    for (int i = 0; i < N; i++)
        waiter_start(&w[i], pool, _i ? 60 * 1000000 : FP_WAIT_FOREVER, &successes, false);
    wait_for_waits(pool, N);
    ck_assert_int_eq(atomic_load(&successes), 0);

    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(fp_frame_unref(&held[i]), 0);
        uint64_t t0 = test_now_ns();
        while (atomic_load(&successes) < i + 1) {
            ck_assert_msg(test_now_ns() - t0 < guard_ns(), "release %d woke nobody", i + 1);
            test_sleep_us(200);
        }
        /* One frame, one waiter: never more. */
        test_sleep_us(1000);
        ck_assert_int_eq(atomic_load(&successes), i + 1);
    }
    fp_frame *seen[N];
    for (int i = 0; i < N; i++) {
        waiter_join(&w[i]);
        ck_assert_int_eq(w[i].ret, 0);
        ck_assert_ptr_nonnull(w[i].frame);
        ck_assert_int_eq(fp_frame_refcount(w[i].frame), 1);
        seen[i] = w[i].frame;
        for (int j = 0; j < i; j++)
            ck_assert_ptr_ne(seen[i], seen[j]);
    }
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.waits, N);
    ck_assert_uint_eq(st.timeouts, 0);
    ck_assert_uint_eq(st.acquired, 2 * N);
    ck_assert_uint_eq(st.released, N);
    ck_assert_uint_eq(st.live, N);
    ck_assert_uint_eq(st.peak_live, N);
    check_invariants(pool, "all waiters served");
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(fp_frame_unref(&w[i].frame), 0);
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.released, 2 * N);
}
END_TEST

/* A waiter times out while others get frames: the pool stays consistent and
 * every frame ends up with exactly one owner. */
START_TEST(test_timeout_among_waiters)
{
    enum { W = 3 };
    fp_pool *pool = make_pool(0, 2);
    fp_frame *held[2];
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &held[0]), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &held[1]), 0);

    _Atomic int successes = 0;
    waiter shorty, w[W];
    bool joined[W] = { false };
    /* The short waiter returns a frame it gets at once, so that the others
     * can always be served by the two frames. */
    waiter_start(&shorty, pool, 2000, NULL, true);
    for (int i = 0; i < W; i++)
        waiter_start(&w[i], pool, FP_WAIT_FOREVER, &successes, false);
    wait_for_waits(pool, W + 1);

    /* One frame back now; the short waiter most likely times out meanwhile. */
    ck_assert_int_eq(fp_frame_unref(&held[0]), 0);
    waiter_join(&shorty);
    const bool timed_out = shorty.ret == FP_ERR(ETIMEDOUT);
    ck_assert_msg(shorty.ret == 0 || timed_out, "short waiter: %d (%s)", shorty.ret,
                  fp_strerror(shorty.ret));
    ck_assert_ptr_null(shorty.frame);
    if (timed_out)
        ck_assert_uint_ge(shorty.elapsed_ns, 2000u * 1000u);
    else
        ck_assert_int_eq(shorty.unref_ret, 0);
    check_invariants(pool, "after the short waiter");

    /* The second frame back: two of the three waiters get one each. */
    ck_assert_int_eq(fp_frame_unref(&held[1]), 0);
    uint64_t t0 = test_now_ns();
    while (atomic_load(&successes) < 2) {
        ck_assert_msg(test_now_ns() - t0 < guard_ns(), "released frames never reached the waiters");
        test_sleep_us(200);
    }
    int blocked = 0, done = -1;
    for (int i = 0; i < W; i++) {
        if (atomic_load(&w[i].finished))
            done = i;
        else
            blocked++;
    }
    ck_assert_int_eq(blocked, 1);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.live, 2);
    check_invariants(pool, "two waiters served");

    /* One served waiter gives its frame back: the last one gets it. */
    waiter_join(&w[done]);
    joined[done] = true;
    ck_assert_int_eq(w[done].ret, 0);
    ck_assert_int_eq(fp_frame_unref(&w[done].frame), 0);

    fp_frame *frames[W];
    int nframes = 0;
    for (int i = 0; i < W; i++) {
        if (joined[i])
            continue;
        waiter_join(&w[i]);
        ck_assert_int_eq(w[i].ret, 0);
        ck_assert_ptr_nonnull(w[i].frame);
        ck_assert_int_eq(fp_frame_refcount(w[i].frame), 1);
        frames[nframes++] = w[i].frame;
    }
    ck_assert_int_eq(nframes, 2);
    ck_assert_ptr_ne(frames[0], frames[1]);
    ck_assert_int_eq(atomic_load(&successes), 3);

    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 2);
    ck_assert_uint_eq(st.waits, W + 1);
    ck_assert_uint_eq(st.timeouts, timed_out ? 1u : 0u);
    ck_assert_uint_eq(st.acquired, 2u + W + (timed_out ? 0u : 1u));
    ck_assert_uint_eq(st.released, st.acquired - 2);
    check_invariants(pool, "end");
    for (int i = 0; i < nframes; i++)
        ck_assert_int_eq(fp_frame_unref(&frames[i]), 0);
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.allocated, 2);
    check_invariants(pool, "all returned");
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("wait");

    TCase *tc = tcase_create("timeouts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_nowait_eagain, 0, 2);
    tcase_add_loop_test(tc, test_bounded_timeout, 0,
                        (int)(sizeof(bounded_timeouts_us) / sizeof(bounded_timeouts_us[0])));
    tcase_add_test(tc, test_acquire_after_close);
    suite_add_tcase(s, tc);

    tc = tcase_create("wakeups");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_waiter_gets_released_frame, 0,
                        (int)(sizeof(long_timeouts_us) / sizeof(long_timeouts_us[0])));
    tcase_add_loop_test(tc, test_close_wakes_all, 0, 2);
    tcase_add_loop_test(tc, test_unref_wakes_waiters, 0, 3);
    tcase_add_loop_test(tc, test_each_release_wakes_one, 0, 2);
    tcase_add_test(tc, test_timeout_among_waiters);
    suite_add_tcase(s, tc);
    return s;
}
