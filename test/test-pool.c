/*
 * Suite "pool": acquiring up to the bound, preallocation and lazy growth,
 * trim, close, the pool's own lifetime and the stats invariants.
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static fp_pool *pool;
static test_alloc ta;
static test_log logbuf;

static char not_a_frame[1];
#define SENTINEL_FRAME ((fp_frame *)(void *)not_a_frame)

/* Replaces the fixture's pool (which must have no live frames) with a new one
 * that allocates through `ta` and logs into `logbuf`, both reset. */
static void reopen(enum fp_format fmt, int min_frames, int max_frames, unsigned flags)
{
    fp_pool_unref(&pool);
    memset(&ta, 0, sizeof(ta));
    test_log_reset(&logbuf);
    fp_pool_config cfg = test_config(fmt, 32, 16, max_frames, &logbuf);
    cfg.name = "pooltest";
    cfg.min_frames = min_frames;
    cfg.flags = flags;
    cfg.allocator = test_allocator(&ta);
    int ret = fp_pool_create(&pool, &cfg);
    ck_assert_msg(ret == 0, "fp_pool_create: %s", fp_strerror(ret));
}

static void setup(void)
{
    pool = NULL;
    reopen(FP_FMT_GRAY8, 0, 4, 0);
}

static void teardown(void)
{
    fp_pool_unref(&pool);
}

static fp_pool_stats stats(void)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    return st;
}

static void check_invariants(const fp_pool_stats *st)
{
    ck_assert_msg(st->live == st->acquired - st->released, "live %u, acquired %llu, released %llu",
                  st->live, (unsigned long long)st->acquired, (unsigned long long)st->released);
    ck_assert_msg(st->allocated == st->live + st->idle, "allocated %u, live %u, idle %u", st->allocated,
                  st->live, st->idle);
    ck_assert_msg(st->live <= st->capacity, "live %u > capacity %u", st->live, st->capacity);
    ck_assert_msg(st->allocated <= st->capacity, "allocated %u > capacity %u", st->allocated,
                  st->capacity);
    ck_assert_msg(st->peak_live >= st->live && st->peak_live <= st->capacity, "peak_live %u (live %u)",
                  st->peak_live, st->live);
}

/* "file:line" occurs in `s`, not followed by another digit. */
static int has_site(const char *s, const char *file, int line)
{
    char site[512];
    snprintf(site, sizeof(site), "%s:%d", file, line);
    size_t n = strlen(site);
    for (const char *p = strstr(s, site); p; p = strstr(p + 1, site))
        if (p[n] < '0' || p[n] > '9')
            return 1;
    return 0;
}

static int log_has_site(const char *file, int line)
{
    int n = atomic_load(&logbuf.count);
    for (int i = 0; i < n && i < 64; i++)
        if (has_site(logbuf.lines[i], file, line))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Bound and growth                                                          */

START_TEST(test_acquire_until_exhausted)
{
    fp_frame *f[4] = { NULL };
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
        ck_assert_ptr_nonnull(f[i]);
    }
    fp_frame *extra = SENTINEL_FRAME;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &extra), FP_ERR(EAGAIN));
    ck_assert_ptr_null(extra);
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.exhausted, 1);
    ck_assert_uint_eq(st.live, 4);
    ck_assert_uint_eq(st.acquired, 4);
    ck_assert_uint_eq(st.waits, 0);
    ck_assert_uint_eq(st.timeouts, 0);

    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &extra), FP_ERR(EAGAIN));
    st = stats();
    ck_assert_uint_eq(st.exhausted, 4);
    ck_assert_uint_eq(st.acquired, 4);
    ck_assert_uint_eq(st.live, 4);
    check_invariants(&st);

    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
    st = stats();
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.released, 4);
    ck_assert_uint_eq(st.exhausted, 4);
    check_invariants(&st);
}
END_TEST

START_TEST(test_min_frames_preallocated)
{
    reopen(FP_FMT_GRAY8, 3, 8, 0);
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.allocated, 3);
    ck_assert_uint_eq(st.idle, 3);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.min_frames, 3);
    ck_assert_uint_eq(st.capacity, 8);
    ck_assert_int_eq(atomic_load(&ta.calls), 3);
    ck_assert_int_eq(atomic_load(&ta.live), 3);

    /* The preallocated frames are handed out before anything new is allocated. */
    fp_frame *f[4] = { NULL };
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
    ck_assert_int_eq(atomic_load(&ta.calls), 3);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[3]), 0);
    ck_assert_int_eq(atomic_load(&ta.calls), 4);
    st = stats();
    ck_assert_uint_eq(st.allocated, 4);
    ck_assert_uint_eq(st.live, 4);
    check_invariants(&st);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
}
END_TEST

START_TEST(test_min_equals_max)
{
    reopen(FP_FMT_NV12, 4, 4, 0);
    ck_assert_int_eq(atomic_load(&ta.calls), 4);
    fp_frame *f[4] = { NULL }, *extra = NULL;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &extra), FP_ERR(EAGAIN));
    ck_assert_int_eq(atomic_load(&ta.calls), 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
    ck_assert_int_eq(fp_pool_trim(pool), 0);
    ck_assert_int_eq(atomic_load(&ta.live), 4);
}
END_TEST

START_TEST(test_lazy_growth)
{
    reopen(FP_FMT_GRAY8, 0, 5, 0);
    ck_assert_int_eq(atomic_load(&ta.calls), 0);
    ck_assert_uint_eq(stats().allocated, 0);

    fp_frame *f[5] = { NULL }, *extra = NULL;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
        ck_assert_int_eq(atomic_load(&ta.calls), i + 1);
        ck_assert_uint_eq(stats().allocated, (unsigned)i + 1);
    }
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &extra), FP_ERR(EAGAIN));
    ck_assert_int_eq(atomic_load(&ta.calls), 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);

    /* Reuse never allocates again. */
    for (int round = 0; round < 50; round++) {
        int n = 1 + round % 5;
        for (int i = 0; i < n; i++)
            ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
        for (int i = 0; i < n; i++)
            ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
    }
    ck_assert_int_eq(atomic_load(&ta.calls), 5);
    ck_assert_int_eq(atomic_load(&ta.live), 5);
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.allocated, 5);
    ck_assert_uint_eq(st.peak_live, 5);
    check_invariants(&st);
}
END_TEST

START_TEST(test_frames_distinct)
{
    fp_frame *f[4] = { NULL };
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
    for (int i = 0; i < 4; i++) {
        for (int j = i + 1; j < 4; j++) {
            ck_assert_ptr_ne(f[i], f[j]);
            ck_assert_msg(f[i]->data[0] + f[i]->size <= f[j]->data[0] ||
                              f[j]->data[0] + f[j]->size <= f[i]->data[0],
                          "pixel memory of frames %d and %d overlaps", i, j);
        }
        memset(f[i]->data[0], 0x10 + i, f[i]->size);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(f[i]->data[0][0], 0x10 + i);
        ck_assert_int_eq(f[i]->data[0][f[i]->size - 1], 0x10 + i);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
}
END_TEST

START_TEST(test_release_makes_reusable)
{
    fp_frame *f[4] = { NULL }, *g = NULL;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
    for (int victim = 0; victim < 4; victim++) {
        fp_frame *old = f[victim];
        ck_assert_int_eq(fp_frame_unref(&f[victim]), 0);
        ck_assert_ptr_null(f[victim]);
        ck_assert_uint_eq(stats().live, 3);
        /* The only free frame is the one just released. */
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[victim]), 0);
        ck_assert_ptr_eq(f[victim], old);
        ck_assert_int_eq(fp_frame_refcount(f[victim]), 1);
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &g), FP_ERR(EAGAIN));
    }
    ck_assert_int_eq(atomic_load(&ta.calls), 4);
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.acquired, 8);
    ck_assert_uint_eq(st.released, 4);
    check_invariants(&st);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
}
END_TEST

START_TEST(test_pts_opaque_reset)
{
    reopen(FP_FMT_YUV420P, 0, 1, 0);
    int x = 0;
    fp_frame *f = NULL;
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
        ck_assert(f->pts == FP_NOPTS);
        ck_assert_ptr_null(f->opaque);
        f->pts = 42 + round;
        f->opaque = &x;
        ck_assert_int_eq(fp_frame_unref(&f), 0);
    }
}
END_TEST

START_TEST(test_zero_flag)
{
    reopen(FP_FMT_YUV420P, 0, 1, FP_POOL_ZERO);
    fp_frame *f = NULL;
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
        for (size_t i = 0; i < f->size; i++)
            ck_assert_msg(f->data[0][i] == 0, "round %d: byte %zu of %zu is 0x%02x", round, i, f->size,
                          f->data[0][i]);
        memset(f->data[0], 0xEE, f->size); /* dirty it before release */
        ck_assert_int_eq(fp_frame_unref(&f), 0);
    }
    ck_assert_int_eq(atomic_load(&ta.calls), 1); /* the same frame each round */
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Argument checks                                                           */

START_TEST(test_negative_timeout)
{
    static const int64_t bad[] = { -2, -1000, INT64_MIN };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        fp_frame *f = SENTINEL_FRAME;
        ck_assert_int_eq(fp_pool_acquire(pool, bad[k], &f), FP_ERR(EINVAL));
        ck_assert_ptr_null(f);
    }
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.acquired, 0);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.exhausted, 0);
    ck_assert_uint_eq(st.timeouts, 0);
    ck_assert_int_eq(atomic_load(&ta.calls), 0);

    /* -1 is FP_WAIT_FOREVER, not an error: with a frame free it returns at once. */
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, FP_WAIT_FOREVER, &f), 0);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
}
END_TEST

START_TEST(test_null_arguments)
{
    fp_frame *f = SENTINEL_FRAME;
    ck_assert_int_eq(fp_pool_acquire(NULL, 0, &f), FP_ERR(EINVAL));
    ck_assert_ptr_null(f);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, NULL), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_pool_acquire(pool, FP_WAIT_FOREVER, NULL), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_pool_acquire(NULL, 0, NULL), FP_ERR(EINVAL));
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.acquired, 0);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_int_eq(atomic_load(&ta.calls), 0);

    ck_assert_int_eq(fp_pool_get_stats(NULL, &st), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_pool_get_stats(pool, NULL), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_pool_trim(NULL), FP_ERR(EINVAL));
    fp_pool_close(NULL);
    ck_assert_ptr_null(fp_pool_ref(NULL));
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Trim                                                                      */

START_TEST(test_trim_frees_idle_above_min)
{
    reopen(FP_FMT_GRAY8, 2, 6, 0);
    fp_frame *f[6] = { NULL };
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
    ck_assert_int_eq(atomic_load(&ta.calls), 6);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.allocated, 6);
    ck_assert_uint_eq(st.idle, 6);

    ck_assert_int_eq(fp_pool_trim(pool), 4);
    st = stats();
    ck_assert_uint_eq(st.allocated, 2);
    ck_assert_uint_eq(st.idle, 2);
    ck_assert_uint_eq(st.live, 0);
    check_invariants(&st);
    ck_assert_int_eq(atomic_load(&ta.frees), 4);
    ck_assert_int_eq(atomic_load(&ta.live), 2);

    /* Nothing above min_frames is left. */
    ck_assert_int_eq(fp_pool_trim(pool), 0);
    ck_assert_int_eq(atomic_load(&ta.frees), 4);
    ck_assert_uint_eq(stats().allocated, 2);
}
END_TEST

START_TEST(test_trim_keeps_live)
{
    reopen(FP_FMT_GRAY8, 2, 6, 0);
    fp_frame *f[6] = { NULL };
    uint8_t *mem[6];
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
        mem[i] = f[i]->data[0];
        memset(f[i]->data[0], 0x30 + i, f[i]->size);
    }
    for (int i = 0; i < 6; i += 2) /* release 0, 2, 4; keep 1, 3, 5 */
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);

    /* 3 idle, 6 allocated, min 2: all 3 idle ones go, the live ones stay. */
    ck_assert_int_eq(fp_pool_trim(pool), 3);
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.allocated, 3);
    ck_assert_uint_eq(st.live, 3);
    ck_assert_uint_eq(st.idle, 0);
    check_invariants(&st);
    ck_assert_int_eq(atomic_load(&ta.live), 3);
    for (int i = 1; i < 6; i += 2) {
        ck_assert_ptr_eq(f[i]->data[0], mem[i]);
        ck_assert_int_eq(fp_frame_refcount(f[i]), 1);
        for (size_t b = 0; b < f[i]->size; b++)
            ck_assert_msg(f[i]->data[0][b] == 0x30 + i, "live frame %d changed at byte %zu", i, b);
        memset(f[i]->data[0], 0x60 + i, f[i]->size);
    }
    for (int i = 1; i < 6; i += 2)
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);

    /* Now 3 idle, min 2: one goes. */
    ck_assert_int_eq(fp_pool_trim(pool), 1);
    st = stats();
    ck_assert_uint_eq(st.allocated, 2);
    check_invariants(&st);
    ck_assert_int_eq(atomic_load(&ta.live), 2);
}
END_TEST

START_TEST(test_trim_then_grow)
{
    fp_frame *f[4] = { NULL }, *extra = NULL;
    ck_assert_int_eq(fp_pool_trim(pool), 0); /* nothing allocated yet */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
    ck_assert_int_eq(fp_pool_trim(pool), 4);
    ck_assert_int_eq(atomic_load(&ta.live), 0);
    ck_assert_uint_eq(stats().allocated, 0);

    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
            memset(f[i]->data[0], i, f[i]->size);
        }
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &extra), FP_ERR(EAGAIN));
        ck_assert_int_eq(atomic_load(&ta.calls), 4 * (round + 2));
        fp_pool_stats st = stats();
        ck_assert_uint_eq(st.allocated, 4);
        ck_assert_uint_eq(st.live, 4);
        check_invariants(&st);
        for (int i = 0; i < 4; i++)
            ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
        ck_assert_int_eq(fp_pool_trim(pool), 4);
    }
    ck_assert_int_eq(atomic_load(&ta.live), 0);
    ck_assert_int_eq(atomic_load(&ta.frees), atomic_load(&ta.calls));
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Close                                                                     */

START_TEST(test_close)
{
    reopen(FP_FMT_GRAY8, 3, 4, 0);
    fp_frame *a = NULL, *b = NULL, *c = SENTINEL_FRAME;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &a), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &b), 0);
    ck_assert_int_eq(stats().closed, 0);

    fp_pool_close(pool);
    ck_assert_int_ne(stats().closed, 0);
    /* An idle frame and unused capacity are left, and still nothing is handed out. */
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &c), FP_ERR(ESHUTDOWN));
    ck_assert_ptr_null(c);
    ck_assert_int_eq(fp_pool_acquire(pool, 1000, &c), FP_ERR(ESHUTDOWN));
    ck_assert_int_eq(fp_pool_acquire(pool, FP_WAIT_FOREVER, &c), FP_ERR(ESHUTDOWN));
    ck_assert_ptr_null(c);

    /* Live frames stay valid and usable. */
    memset(a->data[0], 0xAB, a->size);
    memset(b->data[0], 0xCD, b->size);
    fp_frame *a2 = fp_frame_ref(a);
    ck_assert_ptr_eq(a2, a);
    ck_assert_int_eq(fp_frame_refcount(a), 2);
    ck_assert_int_eq(fp_frame_unref(&a2), 0);
    ck_assert_int_eq(fp_frame_is_writable(a), 1);

    fp_pool_close(pool); /* idempotent */
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &c), FP_ERR(ESHUTDOWN));

    ck_assert_int_eq(fp_frame_unref(&a), 0);
    ck_assert_int_eq(fp_frame_unref(&b), 0);
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, 2);
    ck_assert_uint_eq(st.released, 2);
    ck_assert_int_ne(st.closed, 0);
    check_invariants(&st);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &c), FP_ERR(ESHUTDOWN));

    fp_pool_unref(&pool);
    ck_assert_int_eq(atomic_load(&ta.live), 0);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Pool lifetime                                                             */

START_TEST(test_pool_outlives_frames)
{
    reopen(FP_FMT_YUV420P, 1, 4, 0);
    fp_frame *f[2] = { NULL };
    int acq_line = 0;
    for (int i = 0; i < 2; i++) {
        acq_line = __LINE__; ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
    }
    ck_assert_int_eq(atomic_load(&logbuf.total), 0);

    fp_pool_unref(&pool);
    ck_assert_ptr_null(pool);

    /* The report names the site that still holds frames. */
    ck_assert_int_ge(atomic_load(&logbuf.total), 1);
    ck_assert_msg(log_has_site(__FILE__, acq_line), "no leak report naming %s:%d; first line: %s",
                  __FILE__, acq_line, logbuf.lines[0]);

    /* Nothing was freed: both frames are still usable. */
    ck_assert_int_eq(atomic_load(&ta.live), 2);
    for (int i = 0; i < 2; i++) {
        memset(f[i]->data[0], 0x5C, f[i]->size);
        ck_assert_int_eq(fp_frame_refcount(f[i]), 1);
    }
    fp_frame *r = fp_frame_ref(f[0]);
    ck_assert_ptr_eq(r, f[0]);
    ck_assert_int_eq(fp_frame_unref(&r), 0);

    ck_assert_int_eq(fp_frame_unref(&f[0]), 0);
    ck_assert_int_eq(atomic_load(&ta.live), 2); /* one frame still holds the pool */
    memset(f[1]->data[0], 0x5D, f[1]->size);
    ck_assert_int_eq(fp_frame_unref(&f[1]), 0);
    /* The last frame took the pool with it. */
    ck_assert_int_eq(atomic_load(&ta.live), 0);
    ck_assert_int_eq(atomic_load(&ta.frees), atomic_load(&ta.calls));
}
END_TEST

START_TEST(test_unref_without_frames)
{
    reopen(FP_FMT_GRAY8, 3, 4, 0);
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    ck_assert_int_eq(atomic_load(&ta.live), 3);
    fp_pool_unref(&pool);
    ck_assert_ptr_null(pool);
    ck_assert_int_eq(atomic_load(&ta.live), 0);
    ck_assert_int_eq(atomic_load(&ta.frees), 3);
    ck_assert_msg(atomic_load(&logbuf.total) == 0, "unexpected log line: %s", logbuf.lines[0]);
}
END_TEST

START_TEST(test_pool_ref_counting)
{
    reopen(FP_FMT_GRAY8, 2, 4, 0);
    fp_pool *second = fp_pool_ref(pool);
    ck_assert_ptr_eq(second, pool);
    fp_pool *third = fp_pool_ref(pool);
    ck_assert_ptr_eq(third, pool);

    fp_pool_unref(&pool);
    ck_assert_ptr_null(pool);
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(second, &st), 0);
    ck_assert_int_eq(st.closed, 0);
    ck_assert_int_eq(atomic_load(&ta.live), 2);

    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(second, 0, &f), 0);
    ck_assert_int_eq(fp_frame_unref(&f), 0);

    fp_pool_unref(&third);
    ck_assert_ptr_null(third);
    ck_assert_int_eq(fp_pool_get_stats(second, &st), 0);
    ck_assert_int_eq(st.closed, 0);
    ck_assert_uint_eq(st.acquired, 1);
    ck_assert_int_eq(fp_pool_acquire(second, 0, &f), 0);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    ck_assert_int_eq(atomic_load(&ta.live), 2);
    ck_assert_int_eq(atomic_load(&logbuf.total), 0);

    fp_pool_unref(&second);
    ck_assert_ptr_null(second);
    ck_assert_int_eq(atomic_load(&ta.live), 0);
}
END_TEST

START_TEST(test_pool_unref_null)
{
    fp_pool_unref(NULL);
    fp_pool *p = NULL;
    fp_pool_unref(&p);
    ck_assert_ptr_null(p);
    /* The fixture's pool is untouched. */
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    ck_assert_int_eq(stats().closed, 0);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Stats                                                                     */

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* A random walk of acquire/ref/unref/trim checked against a model after every step. */
START_TEST(test_stats_model)
{
    enum { MIN = 2, MAX = 6, HOLD = 64 };
    reopen(FP_FMT_NV12, MIN, MAX, 0);
    fp_frame *held[HOLD];
    int nheld = 0;
    uint32_t live = 0, allocated = MIN, peak = 0, allocs = MIN;
    uint64_t acquired = 0, released = 0, exhausted = 0;
    uint32_t seed = 12345;

    for (int step = 0; step < 3000; step++) {
        uint32_t op = lcg(&seed) % 100;
        if (op < 40 && nheld < HOLD) {
            fp_frame *f = NULL;
            int ret = fp_pool_acquire(pool, 0, &f);
            if (live < MAX) {
                ck_assert_msg(ret == 0, "step %d: acquire: %s", step, fp_strerror(ret));
                if (live == allocated) {
                    allocated++;
                    allocs++;
                }
                live++;
                acquired++;
                if (live > peak)
                    peak = live;
                held[nheld++] = f;
            } else {
                ck_assert_int_eq(ret, FP_ERR(EAGAIN));
                exhausted++;
            }
        } else if (op < 55 && nheld > 0 && nheld < HOLD) {
            fp_frame *f = held[lcg(&seed) % (uint32_t)nheld];
            ck_assert_ptr_eq(fp_frame_ref(f), f);
            held[nheld++] = f;
        } else if (op < 95 && nheld > 0) {
            int k = (int)(lcg(&seed) % (uint32_t)nheld);
            fp_frame *f = held[k];
            held[k] = held[--nheld];
            int others = 0;
            for (int j = 0; j < nheld; j++)
                others += held[j] == f;
            fp_frame *tmp = f;
            ck_assert_int_eq(fp_frame_unref(&tmp), 0);
            ck_assert_ptr_null(tmp);
            if (!others) {
                live--;
                released++;
            } else {
                ck_assert_int_eq(fp_frame_refcount(f), others);
            }
        } else if (op >= 95) {
            uint32_t idle = allocated - live;
            uint32_t above = allocated > MIN ? allocated - MIN : 0;
            uint32_t freed = idle < above ? idle : above;
            ck_assert_int_eq(fp_pool_trim(pool), (int)freed);
            allocated -= freed;
        }

        fp_pool_stats st = stats();
        check_invariants(&st);
        ck_assert_msg(st.live == live && st.allocated == allocated && st.acquired == acquired &&
                          st.released == released && st.exhausted == exhausted && st.peak_live == peak,
                      "step %d: stats live %u allocated %u acquired %llu released %llu exhausted %llu "
                      "peak %u; model %u %u %llu %llu %llu %u",
                      step, st.live, st.allocated, (unsigned long long)st.acquired,
                      (unsigned long long)st.released, (unsigned long long)st.exhausted, st.peak_live,
                      live, allocated, (unsigned long long)acquired, (unsigned long long)released,
                      (unsigned long long)exhausted, peak);
        ck_assert_uint_eq(st.capacity, MAX);
        ck_assert_uint_eq(st.min_frames, MIN);
        ck_assert_int_eq(atomic_load(&ta.live), (int)allocated);
        ck_assert_int_eq(atomic_load(&ta.calls), (int)allocs);
    }
    while (nheld > 0)
        ck_assert_int_eq(fp_frame_unref(&held[--nheld]), 0);
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, st.released);
    check_invariants(&st);
    ck_assert_int_gt((int)acquired, 100);
    ck_assert_int_gt((int)exhausted, 0);
}
END_TEST

START_TEST(test_stats_basics)
{
    reopen(FP_FMT_RGBA, 1, 3, 0);
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.capacity, 3);
    ck_assert_uint_eq(st.allocated, 1);
    ck_assert_uint_eq(st.peak_live, 0);
    ck_assert_uint_ge(st.frame_bytes, 32u * 16u * 4u);
    ck_assert_uint_ge(st.reserved_bytes, st.allocated * st.frame_bytes);
    ck_assert_uint_eq(st.oldest_live_ns, 0);
    for (size_t i = 0; i < sizeof(st.reserved) / sizeof(st.reserved[0]); i++)
        ck_assert_uint_eq(st.reserved[i], 0);

    fp_frame *f[3] = { NULL };
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
    st = stats();
    ck_assert_uint_eq(st.peak_live, 3);
    ck_assert_uint_ge(st.reserved_bytes, 3 * st.frame_bytes);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[0]), 0);
    st = stats();
    ck_assert_uint_eq(st.live, 1);
    ck_assert_uint_eq(st.peak_live, 3);
    ck_assert_uint_eq(st.acquired, 4);
    ck_assert_uint_eq(st.released, 3);
    check_invariants(&st);
    ck_assert_int_eq(fp_frame_unref(&f[0]), 0);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("pool");

    TCase *tc = tcase_create("bound");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_acquire_until_exhausted);
    tcase_add_test(tc, test_min_frames_preallocated);
    tcase_add_test(tc, test_min_equals_max);
    tcase_add_test(tc, test_lazy_growth);
    tcase_add_test(tc, test_frames_distinct);
    tcase_add_test(tc, test_release_makes_reusable);
    tcase_add_test(tc, test_pts_opaque_reset);
    tcase_add_test(tc, test_zero_flag);
    suite_add_tcase(s, tc);

    tc = tcase_create("arguments");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_negative_timeout);
    tcase_add_test(tc, test_null_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("trim");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_trim_frees_idle_above_min);
    tcase_add_test(tc, test_trim_keeps_live);
    tcase_add_test(tc, test_trim_then_grow);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifetime");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_close);
    tcase_add_test(tc, test_pool_outlives_frames);
    tcase_add_test(tc, test_unref_without_frames);
    tcase_add_test(tc, test_pool_ref_counting);
    tcase_add_test(tc, test_pool_unref_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("stats");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stats_model);
    tcase_add_test(tc, test_stats_basics);
    suite_add_tcase(s, tc);

    return s;
}
