/*
 * Suite "alloc": allocation failures, through the pixel allocator hook and by
 * failing the library's own malloc/calloc/posix_memalign calls.
 * SPDX-License-Identifier: MIT
 *
 * This suite links the static library with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=posix_memalign,--wrap=free
 * (see test/meson.build), so every call to those functions from the library's
 * objects (and from this executable's own objects, Check included) goes
 * through the __wrap_* functions below, as in dav1d's
 * tests/libfuzzer/alloc_fail.c. Nothing fails unless the test arms the
 * counter, and it arms it only around the call under test. While armed,
 * successful allocations are recorded and removed again when freed, so a test
 * can check that a failed call left nothing allocated.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* ------------------------------------------------------------------------- */
/* Allocation wrappers                                                       */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
int __real_posix_memalign(void **ptr, size_t align, size_t size);
void __real_free(void *ptr);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
int __wrap_posix_memalign(void **ptr, size_t align, size_t size);
void __wrap_free(void *ptr);

#define TRACK_MAX 256

static pthread_mutex_t wrap_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int wrap_armed;
static _Atomic int wrap_tracking; /* tracked[] is not empty */
static int wrap_calls;
static int wrap_fail_at;
static void *tracked[TRACK_MAX];
static int ntracked;
static int track_overflow;

/* Counts the call when armed; returns true when this one must fail. */
static bool wrap_should_fail(void)
{
    if (!atomic_load(&wrap_armed))
        return false;
    pthread_mutex_lock(&wrap_lock);
    bool fail = ++wrap_calls == wrap_fail_at;
    pthread_mutex_unlock(&wrap_lock);
    return fail;
}

static void wrap_track(void *p)
{
    if (!p || !atomic_load(&wrap_armed))
        return;
    pthread_mutex_lock(&wrap_lock);
    if (ntracked < TRACK_MAX)
        tracked[ntracked++] = p;
    else
        track_overflow = 1;
    atomic_store(&wrap_tracking, 1);
    pthread_mutex_unlock(&wrap_lock);
}

static void wrap_untrack(void *p)
{
    if (!p || !atomic_load(&wrap_tracking))
        return;
    pthread_mutex_lock(&wrap_lock);
    for (int i = 0; i < ntracked; i++) {
        if (tracked[i] == p) {
            tracked[i] = tracked[--ntracked];
            break;
        }
    }
    if (!ntracked)
        atomic_store(&wrap_tracking, 0);
    pthread_mutex_unlock(&wrap_lock);
}

void *__wrap_malloc(size_t size)
{
    if (wrap_should_fail())
        return NULL;
    void *p = __real_malloc(size);
    wrap_track(p);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (wrap_should_fail())
        return NULL;
    void *p = __real_calloc(n, size);
    wrap_track(p);
    return p;
}

int __wrap_posix_memalign(void **ptr, size_t align, size_t size)
{
    if (wrap_should_fail())
        return ENOMEM;
    int ret = __real_posix_memalign(ptr, align, size);
    if (!ret)
        wrap_track(*ptr);
    return ret;
}

void __wrap_free(void *ptr)
{
    wrap_untrack(ptr);
    __real_free(ptr);
}

/* The library's bookkeeping region (lib/region.h) allocates with mmap; its
 * test hooks count those allocations like the wrapped ones. */
bool fp__region_fail_hook(size_t size);
void fp__region_note_hook(void *p, size_t size, bool alloc);
bool fp__region_fail_hook(size_t size)
{
    (void)size;
    return wrap_should_fail();
}
void fp__region_note_hook(void *p, size_t size, bool alloc)
{
    (void)size;
    if (alloc)
        wrap_track(p);
    else
        wrap_untrack(p);
}

/* Arms the counter: the `fail_at`-th allocation from now fails (0: none). */
static void arm(int fail_at)
{
    pthread_mutex_lock(&wrap_lock);
    wrap_calls = 0;
    wrap_fail_at = fail_at;
    pthread_mutex_unlock(&wrap_lock);
    atomic_store(&wrap_armed, 1);
}

/* Disarms; returns the number of allocation calls made while armed. */
static int disarm(void)
{
    atomic_store(&wrap_armed, 0);
    pthread_mutex_lock(&wrap_lock);
    int n = wrap_calls;
    pthread_mutex_unlock(&wrap_lock);
    return n;
}

/* Allocations made while armed and not freed since. */
static int still_allocated(void)
{
    pthread_mutex_lock(&wrap_lock);
    int n = ntracked;
    pthread_mutex_unlock(&wrap_lock);
    return n;
}

static void wrap_reset(void)
{
    atomic_store(&wrap_armed, 0);
    pthread_mutex_lock(&wrap_lock);
    wrap_calls = 0;
    wrap_fail_at = 0;
    ntracked = 0;
    track_overflow = 0;
    atomic_store(&wrap_tracking, 0);
    pthread_mutex_unlock(&wrap_lock);
}

/* ------------------------------------------------------------------------- */
/* Fixture and helpers                                                       */

static test_log g_log;
static test_alloc g_ta;

static void setup(void)
{
    wrap_reset();
    test_log_reset(&g_log);
    memset(&g_ta, 0, sizeof(g_ta));
}

static void teardown(void)
{
    wrap_reset();
}

static void check_invariants(fp_pool *pool)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.live, st.acquired - st.released);
    ck_assert_uint_le(st.live, st.capacity);
    ck_assert_uint_eq(st.allocated, st.live + st.idle);
    ck_assert_uint_le(st.allocated, st.capacity);
}

static void fill(fp_frame *f, uint8_t v)
{
    memset(f->data[0], v, f->size);
}

static bool filled_with(const fp_frame *f, uint8_t v)
{
    for (size_t i = 0; i < f->size; i++)
        if (f->data[0][i] != v)
            return false;
    return true;
}

/* ------------------------------------------------------------------------- */
/* (1) Through the allocator hook                                            */

/* min_frames 4: failing any of the 4 preallocations fails the create cleanly. */
START_TEST(test_hook_create_prealloc)
{
    const int fail_at = _i + 1; /* 1..5; 5 succeeds */
    fp_pool_config cfg = test_config(FP_FMT_YUV420P, 64, 32, 8, &g_log);
    cfg.min_frames = 4;
    g_ta.fail_at = fail_at;
    cfg.allocator = test_allocator(&g_ta);
    fp_pool *pool = (fp_pool *)(uintptr_t)1;
    int ret = fp_pool_create(&pool, &cfg);
    if (fail_at <= 4) {
        ck_assert_int_eq(ret, FP_ERR(ENOMEM));
        ck_assert_ptr_null(pool);
        ck_assert_int_eq(atomic_load(&g_ta.calls), fail_at);
        ck_assert_int_eq(atomic_load(&g_ta.live), 0);
        ck_assert_int_eq(atomic_load(&g_ta.frees), fail_at - 1);
        ck_assert_msg(test_log_has(&g_log, "out of memory"), "no log line for the failure");
        char want[64];
        snprintf(want, sizeof(want), "frame %d of 4", fail_at);
        ck_assert_msg(test_log_has(&g_log, want), "the log line does not name %s", want);
    } else {
        ck_assert_int_eq(ret, 0);
        ck_assert_ptr_nonnull(pool);
        ck_assert_int_eq(atomic_load(&g_ta.calls), 4);
        ck_assert_int_eq(atomic_load(&g_ta.live), 4);
        fp_pool_stats st;
        ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
        ck_assert_uint_eq(st.allocated, 4);
        ck_assert_uint_eq(st.alloc_failures, 0);
        ck_assert_int_eq(atomic_load(&g_log.count), 0);
        fp_pool_unref(&pool);
        ck_assert_int_eq(atomic_load(&g_ta.live), 0);
    }
}
END_TEST

static const int64_t growth_timeouts[] = { 0, 1000, FP_WAIT_FOREVER };
#define N_GROWTH_TIMEOUTS ((int)(sizeof(growth_timeouts) / sizeof(growth_timeouts[0])))

/* min 0, max 4: the k-th lazy growth fails; the pool stays usable. */
START_TEST(test_hook_lazy_growth)
{
    const int k = _i / N_GROWTH_TIMEOUTS + 1; /* 1..4 */
    const int64_t timeout = growth_timeouts[_i % N_GROWTH_TIMEOUTS];
    fp_pool_config cfg = test_config(FP_FMT_NV12, 32, 16, 4, &g_log);
    g_ta.fail_at = k;
    cfg.allocator = test_allocator(&g_ta);
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    ck_assert_int_eq(atomic_load(&g_ta.calls), 0);

    fp_frame *frames[4] = { NULL };
    int n = 0;
    for (; n < k - 1; n++) {
        ck_assert_int_eq(fp_pool_acquire(pool, timeout, &frames[n]), 0);
        fill(frames[n], (uint8_t)(0x10 + n));
    }
    fp_frame *f = (fp_frame *)(uintptr_t)1;
    ck_assert_int_eq(fp_pool_acquire(pool, timeout, &f), FP_ERR(ENOMEM));
    ck_assert_ptr_null(f);
    ck_assert_msg(test_log_has(&g_log, "out of memory"), "no log line for the failed growth");

    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.alloc_failures, 1);
    ck_assert_uint_eq(st.allocated, (uint32_t)(k - 1));
    ck_assert_uint_eq(st.live, (uint32_t)(k - 1));
    ck_assert_uint_eq(st.acquired, (uint64_t)(k - 1));
    ck_assert_uint_eq(st.exhausted, 0);
    ck_assert_uint_eq(st.timeouts, 0);
    ck_assert_int_eq(atomic_load(&g_ta.live), k - 1);
    check_invariants(pool);

    /* Still usable: the next growth succeeds, up to the capacity. */
    for (; n < 4; n++) {
        ck_assert_int_eq(fp_pool_acquire(pool, timeout, &frames[n]), 0);
        fill(frames[n], (uint8_t)(0x10 + n));
    }
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), FP_ERR(EAGAIN));
    /* Frames acquired before the failure are untouched. */
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(filled_with(frames[i], (uint8_t)(0x10 + i)), "frame %d was modified", i);
        ck_assert_int_eq(fp_frame_refcount(frames[i]), 1);
        for (int j = 0; j < i; j++)
            ck_assert_ptr_ne(frames[i], frames[j]);
    }
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.alloc_failures, 1);
    ck_assert_uint_eq(st.allocated, 4);
    ck_assert_uint_eq(st.live, 4);
    ck_assert_int_eq(atomic_load(&g_ta.live), 4);
    ck_assert_int_eq(atomic_load(&g_ta.calls), 5);
    check_invariants(pool);

    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(fp_frame_unref(&frames[i]), 0);
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.released, 4);
    fp_pool_unref(&pool);
    ck_assert_int_eq(atomic_load(&g_ta.live), 0);
    ck_assert_int_eq(atomic_load(&g_ta.frees), 4);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* (2) The library's own allocations                                         */

/* Fails the 1st, 2nd, ... allocation of fp_pool_create until it succeeds. */
START_TEST(test_wrap_create)
{
    fp_pool_config cfg = test_config(FP_FMT_YUV420P, 64, 32, 8, &g_log);
    cfg.min_frames = 3;
    fp_pool *pool = NULL;

    /* How many allocations a successful create makes. */
    arm(0);
    int ret = fp_pool_create(&pool, &cfg);
    int calls = disarm();
    ck_assert_int_eq(ret, 0);
    ck_assert_msg(calls >= 2 + cfg.min_frames, "create made only %d allocations", calls);
    ck_assert_int_eq(still_allocated(), calls);
    fp_pool_unref(&pool);
    ck_assert_int_eq(still_allocated(), 0);
    ck_assert_int_eq(track_overflow, 0);

    int failures = 0;
    for (int n = 1;; n++) {
        ck_assert_msg(n <= calls + 1, "fp_pool_create still fails at allocation %d", n);
        test_log_reset(&g_log);
        pool = (fp_pool *)(uintptr_t)1;
        arm(n);
        ret = fp_pool_create(&pool, &cfg);
        disarm();
        if (ret == 0)
            break;
        failures++;
        ck_assert_msg(ret == FP_ERR(ENOMEM), "allocation %d failed: %d (%s), expected ENOMEM", n, ret,
                      fp_strerror(ret));
        ck_assert_ptr_null(pool);
        ck_assert_msg(still_allocated() == 0, "failing allocation %d leaked %d block(s)", n,
                      still_allocated());
        ck_assert_msg(test_log_has(&g_log, "out of memory"), "failing allocation %d was not logged", n);
    }
    ck_assert_int_eq(failures, calls);
    ck_assert_ptr_nonnull(pool);
    /* The pool made after all those failures works. */
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    check_invariants(pool);
    fp_pool_unref(&pool);
    ck_assert_int_eq(still_allocated(), 0);
}
END_TEST

/* A pool with two live frames, for the report and walk tests. */
static fp_pool *pool_with_live(fp_frame **a, fp_frame **b)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 32, 8, 4, &g_log);
    cfg.min_frames = 1;
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, a), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, b), 0);
    fp_frame_set_tag(*a, "alpha");
    fill(*a, 0xA1);
    fill(*b, 0xB2);
    return pool;
}

/* After a failed call the pool still hands out and takes back frames. */
static void check_still_works(fp_pool *pool, uint32_t live)
{
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    fill(f, 0x5A);
    ck_assert(filled_with(f, 0x5A));
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.live, live);
    check_invariants(pool);
}

static char *read_all(FILE *f)
{
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *buf = calloc(1, (size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    return buf;
}

START_TEST(test_wrap_report)
{
    fp_frame *a = NULL, *b = NULL;
    fp_pool *pool = pool_with_live(&a, &b);

    FILE *out = tmpfile();
    ck_assert_ptr_nonnull(out);
    arm(0);
    int ret = fp_pool_report(pool, out);
    int calls = disarm();
    ck_assert_int_eq(ret, 0);
    ck_assert_msg(calls >= 1, "fp_pool_report with live frames made no allocation");
    ck_assert_int_eq(still_allocated(), 0);
    fclose(out);

    for (int n = 1; n <= calls; n++) {
        out = tmpfile();
        ck_assert_ptr_nonnull(out);
        arm(n);
        ret = fp_pool_report(pool, out);
        disarm();
        ck_assert_msg(ret == FP_ERR(ENOMEM), "report with allocation %d failing: %d (%s)", n, ret,
                      fp_strerror(ret));
        ck_assert_msg(still_allocated() == 0, "failed report %d leaked", n);
        fclose(out);
        check_still_works(pool, 2);
    }

    /* Enough memory again: the full report. */
    out = tmpfile();
    ck_assert_ptr_nonnull(out);
    arm(calls + 1);
    ret = fp_pool_report(pool, out);
    disarm();
    ck_assert_int_eq(ret, 0);
    char *text = read_all(out);
    fclose(out);
    ck_assert_msg(strstr(text, "live 2"), "report: %s", text);
    ck_assert_msg(strstr(text, "alpha"), "report lacks the tag: %s", text);
    free(text);

    ck_assert(filled_with(a, 0xA1));
    ck_assert(filled_with(b, 0xB2));
    ck_assert_int_eq(fp_frame_refcount(a), 1);
    ck_assert_int_eq(fp_frame_refcount(b), 1);
    ck_assert_int_eq(fp_frame_unref(&a), 0);
    ck_assert_int_eq(fp_frame_unref(&b), 0);
    fp_pool_unref(&pool);
}
END_TEST

typedef struct walk {
    int count;
    int tagged;
} walk;

static int walk_cb(const fp_live_frame *lf, void *ud)
{
    walk *w = ud;
    w->count++;
    w->tagged += lf->tag && !strcmp(lf->tag, "alpha");
    return 0;
}

START_TEST(test_wrap_foreach_live)
{
    fp_frame *a = NULL, *b = NULL;
    fp_pool *pool = pool_with_live(&a, &b);
    walk w = { 0, 0 };

    arm(0);
    int ret = fp_pool_foreach_live(pool, walk_cb, &w);
    int calls = disarm();
    ck_assert_int_eq(ret, 0);
    ck_assert_int_eq(w.count, 2);
    ck_assert_msg(calls >= 1, "fp_pool_foreach_live with live frames made no allocation");
    ck_assert_int_eq(still_allocated(), 0);

    for (int n = 1; n <= calls; n++) {
        memset(&w, 0, sizeof(w));
        arm(n);
        ret = fp_pool_foreach_live(pool, walk_cb, &w);
        disarm();
        ck_assert_msg(ret == FP_ERR(ENOMEM), "walk with allocation %d failing: %d (%s)", n, ret,
                      fp_strerror(ret));
        ck_assert_int_eq(w.count, 0);
        ck_assert_int_eq(still_allocated(), 0);
        check_still_works(pool, 2);
    }
    /* The same through fp_pool_foreach_live_since. */
    memset(&w, 0, sizeof(w));
    arm(1);
    ret = fp_pool_foreach_live_since(pool, 0, walk_cb, &w);
    disarm();
    ck_assert_int_eq(ret, FP_ERR(ENOMEM));
    ck_assert_int_eq(w.count, 0);

    memset(&w, 0, sizeof(w));
    ck_assert_int_eq(fp_pool_foreach_live(pool, walk_cb, &w), 0);
    ck_assert_int_eq(w.count, 2);
    ck_assert_int_eq(w.tagged, 1);
    ck_assert(filled_with(a, 0xA1));
    ck_assert(filled_with(b, 0xB2));

    ck_assert_int_eq(fp_frame_unref(&a), 0);
    ck_assert_int_eq(fp_frame_unref(&b), 0);
    fp_pool_unref(&pool);
}
END_TEST

/* Dropping the last reference with live frames when the leak report cannot
 * get memory: logged, the pool closes anyway, and it is freed with its last
 * frame. */
START_TEST(test_wrap_leak_report)
{
    fp_frame *a = NULL, *b = NULL;
    fp_pool *pool = pool_with_live(&a, &b);
    arm(1);
    fp_pool_unref(&pool);
    disarm();
    ck_assert_ptr_null(pool);
    ck_assert_msg(test_log_has(&g_log, "leak report skipped"), "no log line for the skipped report");
    ck_assert_int_eq(still_allocated(), 0);
    /* The frames are still valid; the pool goes with the last one (valgrind
     * and ASan check that it does). */
    fill(a, 1);
    ck_assert(filled_with(a, 1));
    ck_assert_int_eq(fp_frame_unref(&a), 0);
    ck_assert_int_eq(fp_frame_unref(&b), 0);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("hook");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_hook_create_prealloc, 0, 5);
    tcase_add_loop_test(tc, test_hook_lazy_growth, 0, 4 * N_GROWTH_TIMEOUTS);
    suite_add_tcase(s, tc);

    tc = tcase_create("wrap");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_wrap_create);
    tcase_add_test(tc, test_wrap_report);
    tcase_add_test(tc, test_wrap_foreach_live);
    tcase_add_test(tc, test_wrap_leak_report);
    suite_add_tcase(s, tc);
    return s;
}
