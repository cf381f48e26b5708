/*
 * Suite "allocfail": every public operation that allocates, with its 1st,
 * 2nd, ... Nth allocation failing until it succeeds. Each failure must return
 * a clean error, leave the pool usable with its books right, and leak
 * nothing (the wrappers in allocwrap.c see every block the library allocates;
 * valgrind and LSan check the rest).
 * SPDX-License-Identifier: MIT
 *
 * Complements suite "alloc" (test-alloc.c), which covers fp_pool_create, the
 * allocator hook's lazy growth, fp_pool_report and fp_pool_foreach_live on a
 * pool with live frames, and the first allocation of the leak report. Here:
 * lazy growth through the built-in allocator (every flag combination and
 * timeout kind), fp_scope_add at every growth step, fp_pool_write_json,
 * fp_registry_write_json, fp_registry_write_prometheus, fp_pool_report of an
 * empty and of a multi-site pool, every allocation of the leak report, and
 * fp_pool_create with flags and full preallocation.
 *
 * With the oneVPL adapter built: fp_vpl_pool_create and fp_vpl_acquire (lazy
 * growth) too (vpl.c allocates with the malloc family only).
 *
 * Each test prints "allocfail: <operation>: N allocation point(s)" so
 * doc/reliability.md can quote the figures.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocwrap.h"
#include "common.h"

#ifdef HAVE_VPL
# include <framepool/vpl.h>
#endif

static test_log g_log;

static void setup(void)
{
    aw_reset();
    test_log_reset(&g_log);
}

static void teardown(void)
{
    aw_reset();
}

static void check_books(fp_pool *pool, uint32_t live)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.live, live);
    ck_assert_uint_eq(st.live, st.acquired - st.released);
    ck_assert_uint_le(st.live, st.capacity);
    ck_assert_uint_eq(st.allocated, st.live + st.idle);
    ck_assert_uint_le(st.allocated, st.capacity);
}

/* Acquires every free frame (growing as needed), writes each, checks they are
 * distinct, then releases them: the pool is fully usable. */
static void check_usable(fp_pool *pool, uint32_t live)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    uint32_t n = st.capacity - st.live;
    fp_frame **f = calloc(n ? n : 1, sizeof(*f));
    ck_assert_ptr_nonnull(f);
    for (uint32_t i = 0; i < n; i++) {
        int ret = fp_pool_acquire(pool, 0, &f[i]);
        ck_assert_msg(ret == 0, "acquire %u of %u after a failure: %s", i + 1, n, fp_strerror(ret));
        memset(f[i]->data[0], (int)(0x40 + i), f[i]->size);
        for (uint32_t j = 0; j < i; j++)
            ck_assert_ptr_ne(f[i], f[j]);
    }
    fp_frame *extra = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &extra), FP_ERR(EAGAIN));
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_uint_eq(f[i]->data[0][f[i]->size - 1], (uint8_t)(0x40 + i));
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
    }
    free(f);
    check_books(pool, live);
}

static FILE *scratch(void)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    return f;
}

static void report_points(const char *op, int points)
{
    printf("allocfail: %s: %d allocation point(s), each failure clean\n", op, points);
    fflush(stdout);
}

/* ------------------------------------------------------------------------- */
/* Acquire with lazy growth through the built-in allocator                   */

static const unsigned growth_flags[] = { 0, FP_POOL_ZERO, FP_POOL_POISON, FP_POOL_NO_TRACK,
                                         FP_POOL_ZERO | FP_POOL_POISON | FP_POOL_NO_TRACK };
#define N_FLAGS ((int)(sizeof(growth_flags) / sizeof(growth_flags[0])))
static const int64_t growth_timeouts[] = { 0, 5000, FP_WAIT_FOREVER };
#define N_TIMEOUTS ((int)(sizeof(growth_timeouts) / sizeof(growth_timeouts[0])))

START_TEST(acquire_lazy_growth)
{
    const unsigned flags = growth_flags[_i / N_TIMEOUTS];
    const int64_t timeout = growth_timeouts[_i % N_TIMEOUTS];
    fp_pool_config cfg = test_config(FP_FMT_YUV420P, 48, 32, 4, &g_log);
    cfg.min_frames = 1;
    cfg.flags = flags;
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);

    /* Two frames live (the preallocated one and one grown): the next acquire grows. */
    fp_frame *held[2] = { NULL, NULL };
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &held[0]), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &held[1]), 0);
    memset(held[0]->data[0], 0x11, held[0]->size);
    memset(held[1]->data[0], 0x22, held[1]->size);

    /* How many allocations a growing acquire makes. */
    fp_frame *f = NULL;
    aw_arm(0);
    int ret = fp_pool_acquire(pool, timeout, &f);
    int calls = aw_disarm();
    ck_assert_int_eq(ret, 0);
    ck_assert_int_ge(calls, 1);
    ck_assert_int_eq(aw_outstanding(), 1); /* the new frame's pixels */
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    ck_assert_int_eq(fp_pool_trim(pool), 1); /* back to 2 allocated: the next acquire grows again */
    ck_assert_int_eq(aw_outstanding(), 0);

    for (int n = 1; n <= calls; n++) {
        test_log_reset(&g_log);
        fp_pool_stats before, after;
        ck_assert_int_eq(fp_pool_get_stats(pool, &before), 0);
        f = (fp_frame *)(uintptr_t)1;
        aw_arm(n);
        ret = fp_pool_acquire(pool, timeout, &f);
        aw_disarm();
        ck_assert_msg(ret == FP_ERR(ENOMEM), "allocation %d failing: %d (%s)", n, ret, fp_strerror(ret));
        ck_assert_ptr_null(f);
        ck_assert_int_eq(aw_outstanding(), 0);
        ck_assert_msg(test_log_has(&g_log, "out of memory"), "allocation %d: no log line", n);
        ck_assert_int_eq(fp_pool_get_stats(pool, &after), 0);
        ck_assert_uint_eq(after.alloc_failures, before.alloc_failures + 1);
        ck_assert_uint_eq(after.acquired, before.acquired);
        ck_assert_uint_eq(after.exhausted, before.exhausted);
        ck_assert_uint_eq(after.timeouts, before.timeouts);
        ck_assert_uint_eq(after.allocated, 2);
        check_books(pool, 2);
    }
    /* The frames held across the failures are untouched, and the pool grows again. */
    ck_assert_uint_eq(held[0]->data[0][held[0]->size - 1], 0x11);
    ck_assert_uint_eq(held[1]->data[0][0], 0x22);
    check_usable(pool, 2);
    ck_assert_int_eq(fp_frame_unref(&held[0]), 0);
    ck_assert_int_eq(fp_frame_unref(&held[1]), 0);
    check_books(pool, 0);
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.misuse, 0); /* poisoning saw no stray write */
    fp_pool_unref(&pool);
    if (_i == 0)
        report_points("fp_pool_acquire (lazy growth)", calls);
}
END_TEST

/* fp_pool_create with flags and min_frames == max_frames: every allocation. */
START_TEST(create_full_prealloc)
{
    fp_pool_config cfg = test_config(FP_FMT_RAW, 1000, 1, 5, &g_log);
    cfg.min_frames = 5;
    cfg.flags = growth_flags[_i];
    fp_pool *pool = NULL;
    aw_arm(0);
    int ret = fp_pool_create(&pool, &cfg);
    int calls = aw_disarm();
    ck_assert_int_eq(ret, 0);
    ck_assert_int_ge(calls, 2 + 5);
    fp_pool_unref(&pool);
    ck_assert_int_eq(aw_outstanding(), 0);
    for (int n = 1; n <= calls; n++) {
        test_log_reset(&g_log);
        pool = (fp_pool *)(uintptr_t)1;
        aw_arm(n);
        ret = fp_pool_create(&pool, &cfg);
        aw_disarm();
        ck_assert_msg(ret == FP_ERR(ENOMEM), "allocation %d failing: %d (%s)", n, ret, fp_strerror(ret));
        ck_assert_ptr_null(pool);
        ck_assert_msg(aw_outstanding() == 0, "allocation %d: %d block(s) leaked", n, aw_outstanding());
        ck_assert(test_log_has(&g_log, "out of memory"));
    }
    aw_arm(calls + 1);
    ret = fp_pool_create(&pool, &cfg);
    aw_disarm();
    ck_assert_int_eq(ret, 0);
    check_usable(pool, 0);
    fp_pool_unref(&pool);
    ck_assert_int_eq(aw_outstanding(), 0);
    if (_i == 0)
        report_points("fp_pool_create (min_frames = max_frames = 5)", calls);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* fp_scope_add at every growth step                                         */

START_TEST(scope_add_every_growth)
{
    const int max = 70;
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 16, 16, max, &g_log);
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    fp_scope s;
    fp_scope_begin(&s);
    int points = 0;
    uint32_t held = 0;
    for (int i = 0; i < 64; i++) {
        fp_frame *f = NULL;
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
        held++;
        aw_arm(0);
        int ret = fp_scope_add(&s, f);
        int calls = aw_disarm();
        ck_assert_int_eq(ret, 0);
        if (calls == 0)
            continue;
        /* That add grew the scope: undo it and replay it with each allocation failing. */
        ck_assert_int_eq(calls, 1);
        points++;
        ck_assert_int_eq(fp_scope_take(&s, f), 0);
        /* The grown array stays: start over with the same frames, so the scope is full again. */
        size_t count = s.count;
        fp_frame **keep = malloc(count * sizeof(*keep));
        ck_assert_ptr_nonnull(keep);
        memcpy(keep, s.items, count * sizeof(*keep));
        for (size_t k = count; k-- > 0;)
            ck_assert_int_eq(fp_scope_take(&s, keep[k]), 0);
        fp_scope_end(&s); /* empty: frees the heap array, releases nothing */
        fp_scope_begin(&s);
        for (size_t k = 0; k < count; k++)
            ck_assert_int_eq(fp_scope_add(&s, keep[k]), 0);
        free(keep);
        ck_assert_uint_eq(s.count, count);
        ck_assert_uint_eq(s.cap, count); /* full again: the next add must grow */

        test_log_reset(&g_log);
        aw_arm(1);
        ret = fp_scope_add(&s, f);
        aw_disarm();
        ck_assert_int_eq(ret, FP_ERR(ENOMEM));
        ck_assert_int_eq(aw_outstanding(), 0);
        ck_assert_uint_eq(s.count, count);
        ck_assert(test_log_has(&g_log, "frame released"));
        held--; /* the scope released the frame it could not hold */
        check_books(pool, held);
        /* The scope still grows and the pool still hands out frames. */
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
        held++;
        ck_assert_int_eq(fp_scope_add(&s, f), 0);
        ck_assert_uint_eq(s.count, count + 1);
    }
    check_books(pool, held);
    fp_scope_end(&s);
    check_books(pool, 0);
    ck_assert_int_eq(aw_outstanding(), 0);
    ck_assert_int_eq(points, 3); /* 8 -> 16 -> 32 -> 64 */
    check_usable(pool, 0);
    fp_pool_unref(&pool);
    report_points("fp_scope_add (growth 8->16->32->64)", points);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Export writers                                                            */

#define N_EXPORT_POOLS 3

typedef struct export_fixture {
    fp_pool *pools[N_EXPORT_POOLS];
    fp_frame *frames[N_EXPORT_POOLS][2];
    fp_pool *closed;         /* dropped by the app with a frame live: still registered */
    fp_frame *closed_frame;
} export_fixture;

static void export_setup(export_fixture *x)
{
    memset(x, 0, sizeof(*x));
    for (int i = 0; i < N_EXPORT_POOLS; i++) {
        fp_pool_config cfg = test_config(FP_FMT_NV12, 32, 16, 4, &g_log);
        cfg.name = i == 0 ? "exp-a" : i == 1 ? "exp \"b\"" : "exp-c";
        ck_assert_int_eq(fp_pool_create(&x->pools[i], &cfg), 0);
        for (int k = 0; k < 2; k++) {
            ck_assert_int_eq(fp_pool_acquire(x->pools[i], 0, &x->frames[i][k]), 0);
            fp_frame_set_tag(x->frames[i][k], "export");
        }
    }
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 16, 16, 2, &g_log);
    cfg.name = "exp-closed";
    ck_assert_int_eq(fp_pool_create(&x->closed, &cfg), 0);
    ck_assert_int_eq(fp_pool_acquire(x->closed, 0, &x->closed_frame), 0);
    fp_pool_unref(&x->closed); /* leak report, then the pool waits for its frame */
}

static void export_check_and_teardown(export_fixture *x)
{
    for (int i = 0; i < N_EXPORT_POOLS; i++) {
        check_usable(x->pools[i], 2);
        for (int k = 0; k < 2; k++)
            ck_assert_int_eq(fp_frame_unref(&x->frames[i][k]), 0);
        check_books(x->pools[i], 0);
        fp_pool_unref(&x->pools[i]);
    }
    ck_assert_int_eq(fp_frame_unref(&x->closed_frame), 0); /* frees the closed pool */
}

typedef int (*writer_fn)(export_fixture *x, FILE *out);

static int w_registry_json(export_fixture *x, FILE *out)
{
    (void)x;
    return fp_registry_write_json(out);
}

static int w_registry_prom(export_fixture *x, FILE *out)
{
    (void)x;
    return fp_registry_write_prometheus(out);
}

static int w_pool_json(export_fixture *x, FILE *out)
{
    return fp_pool_write_json(x->pools[1], out);
}

static int w_pool_report(export_fixture *x, FILE *out)
{
    return fp_pool_report(x->pools[2], out);
}

static int run_writer_failures(export_fixture *x, writer_fn w, const char *what, int min_calls)
{
    FILE *out = scratch();
    aw_arm(0);
    int ret = w(x, out);
    int calls = aw_disarm();
    fclose(out);
    ck_assert_int_eq(ret, 0);
    ck_assert_msg(calls >= min_calls, "%s made %d allocations, expected >= %d", what, calls, min_calls);
    ck_assert_int_eq(aw_outstanding(), 0);
    for (int n = 1; n <= calls; n++) {
        out = scratch();
        aw_arm(n);
        ret = w(x, out);
        aw_disarm();
        ck_assert_msg(ret == FP_ERR(ENOMEM), "%s with allocation %d failing: %d (%s)", what, n, ret,
                      fp_strerror(ret));
        ck_assert_msg(aw_outstanding() == 0, "%s with allocation %d failing leaked %d block(s)", what, n,
                      aw_outstanding());
        fclose(out);
        for (int i = 0; i < N_EXPORT_POOLS; i++)
            check_books(x->pools[i], 2);
    }
    out = scratch();
    aw_arm(calls + 1);
    ret = w(x, out);
    aw_disarm();
    ck_assert_int_eq(ret, 0);
    ck_assert_int_gt(ftell(out), 0);
    fclose(out);
    return calls;
}

START_TEST(registry_write_json)
{
    export_fixture x;
    export_setup(&x);
    /* One snapshot per pool with live frames (the closed pool too). */
    int calls = run_writer_failures(&x, w_registry_json, "fp_registry_write_json", N_EXPORT_POOLS + 1);
    export_check_and_teardown(&x);
    report_points("fp_registry_write_json (4 pools with live frames)", calls);
}
END_TEST

START_TEST(registry_write_prometheus)
{
    export_fixture x;
    export_setup(&x);
    /* More than 16 pools: the collector's array grows twice. */
    enum { EXTRA = 16 };
    fp_pool *extra[EXTRA];
    for (int i = 0; i < EXTRA; i++) {
        fp_pool_config cfg = test_config(FP_FMT_GRAY8, 8, 8, 1, &g_log);
        cfg.name = "prom-extra";
        ck_assert_int_eq(fp_pool_create(&extra[i], &cfg), 0);
    }
    int calls = run_writer_failures(&x, w_registry_prom, "fp_registry_write_prometheus", 2);
    /* A failed export writes nothing: no half-written exposition. */
    FILE *out = scratch();
    aw_arm(1);
    int ret = fp_registry_write_prometheus(out);
    aw_disarm();
    ck_assert_int_eq(ret, FP_ERR(ENOMEM));
    ck_assert_int_eq(ftell(out), 0);
    fclose(out);
    for (int i = 0; i < EXTRA; i++)
        fp_pool_unref(&extra[i]);
    export_check_and_teardown(&x);
    report_points("fp_registry_write_prometheus (20 pools)", calls);
}
END_TEST

START_TEST(pool_write_json)
{
    export_fixture x;
    export_setup(&x);
    int calls = run_writer_failures(&x, w_pool_json, "fp_pool_write_json", 1);
    export_check_and_teardown(&x);
    report_points("fp_pool_write_json", calls);
}
END_TEST

START_TEST(pool_report_multi_site)
{
    export_fixture x;
    export_setup(&x);
    fp_pool_stats st;
    int calls = run_writer_failures(&x, w_pool_report, "fp_pool_report", 2);
    ck_assert_int_eq(fp_pool_get_stats(x.pools[2], &st), 0);
    ck_assert_uint_eq(st.misuse, 0);
    export_check_and_teardown(&x);
    report_points("fp_pool_report (live frames)", calls);
}
END_TEST

/* An empty pool's report still allocates its (empty) site table. */
START_TEST(pool_report_empty)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 16, 16, 2, &g_log);
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    FILE *out = scratch();
    aw_arm(0);
    int ret = fp_pool_report(pool, out);
    int calls = aw_disarm();
    ck_assert_int_eq(ret, 0);
    ck_assert_int_ge(calls, 1);
    fclose(out);
    for (int n = 1; n <= calls; n++) {
        out = scratch();
        aw_arm(n);
        ret = fp_pool_report(pool, out);
        aw_disarm();
        ck_assert_int_eq(ret, FP_ERR(ENOMEM));
        fclose(out);
        ck_assert_int_eq(aw_outstanding(), 0);
        check_usable(pool, 0);
    }
    fp_pool_unref(&pool);
    report_points("fp_pool_report (no live frames)", calls);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* The leak report on the last fp_pool_unref                                 */

static fp_pool *leaky_pool(fp_frame **a, fp_frame **b, fp_frame **c)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 32, 8, 4, &g_log);
    cfg.name = "leaky";
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, a), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, b), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, c), 0);
    fp_frame_set_long_lived(*c);
    return pool;
}

START_TEST(leak_report_every_allocation)
{
    fp_frame *a = NULL, *b = NULL, *c = NULL;
    fp_pool *pool = leaky_pool(&a, &b, &c);
    test_log_reset(&g_log);
    aw_arm(0);
    fp_pool_unref(&pool);
    int calls = aw_disarm();
    ck_assert_int_ge(calls, 2); /* the snapshot and the site table */
    ck_assert(test_log_has(&g_log, "2 frames still live"));
    ck_assert(test_log_has(&g_log, "leak: "));
    ck_assert_int_eq(aw_outstanding(), 0);
    ck_assert_int_eq(fp_frame_unref(&a), 0);
    ck_assert_int_eq(fp_frame_unref(&b), 0);
    ck_assert_int_eq(fp_frame_unref(&c), 0);

    for (int n = 1; n <= calls; n++) {
        pool = leaky_pool(&a, &b, &c);
        test_log_reset(&g_log);
        aw_arm(n);
        fp_pool_unref(&pool);
        aw_disarm();
        ck_assert_ptr_null(pool);
        ck_assert_int_eq(aw_outstanding(), 0);
        /* Always a line saying what happened; the site lines need the table. */
        ck_assert_msg(test_log_has(&g_log, "leak report skipped") || test_log_has(&g_log, "2 frames still live"),
                      "allocation %d failing: no leak line", n);
        ck_assert(!test_log_has(&g_log, "leak: "));
        /* The frames stay valid and the pool closed; releasing them frees it. */
        memset(a->data[0], 1, a->size);
        ck_assert_int_eq(fp_frame_unref(&a), 0);
        ck_assert_int_eq(fp_frame_unref(&b), 0);
        ck_assert_int_eq(fp_frame_unref(&c), 0);
    }
    report_points("leak report (last fp_pool_unref with live frames)", calls);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* The oneVPL adapter                                                        */

#ifdef HAVE_VPL
static mfxFrameInfo nv12_info(int w, int h)
{
    mfxFrameInfo i;
    memset(&i, 0, sizeof(i));
    i.FourCC = MFX_FOURCC_NV12;
    i.Width = (mfxU16)w;
    i.Height = (mfxU16)h;
    i.CropW = (mfxU16)w;
    i.CropH = (mfxU16)h;
    i.PicStruct = MFX_PICSTRUCT_PROGRESSIVE;
    i.FrameRateExtN = 30;
    i.FrameRateExtD = 1;
    i.ChromaFormat = MFX_CHROMAFORMAT_YUV420;
    return i;
}

START_TEST(vpl_pool_create)
{
    mfxFrameInfo info = nv12_info(64, 32);
    fp_pool_config cfg = test_config(FP_FMT_NONE, 0, 0, 4, &g_log);
    cfg.min_frames = 2;
    fp_pool *pool = NULL;
    aw_arm(0);
    int ret = fp_vpl_pool_create(&pool, &info, &cfg);
    int calls = aw_disarm();
    ck_assert_msg(ret == 0, "fp_vpl_pool_create: %s", fp_strerror(ret));
    ck_assert_int_ge(calls, 4 + 2); /* adapter state, pool, slots, per-slot state, two frames */
    fp_pool_unref(&pool);
    ck_assert_int_eq(aw_outstanding(), 0);
    for (int n = 1; n <= calls; n++) {
        test_log_reset(&g_log);
        pool = (fp_pool *)(uintptr_t)1;
        aw_arm(n);
        ret = fp_vpl_pool_create(&pool, &info, &cfg);
        aw_disarm();
        ck_assert_msg(ret == FP_ERR(ENOMEM), "allocation %d failing: %d (%s)", n, ret, fp_strerror(ret));
        ck_assert_ptr_null(pool);
        ck_assert_msg(aw_outstanding() == 0, "allocation %d failing leaked %d block(s)", n, aw_outstanding());
        ck_assert_msg(test_log_has(&g_log, "out of memory"), "allocation %d failing was not logged", n);
    }
    ck_assert_int_eq(fp_vpl_pool_create(&pool, &info, &cfg), 0);
    check_usable(pool, 0);
    fp_pool_unref(&pool);
    ck_assert_int_eq(aw_outstanding(), 0);
    report_points("fp_vpl_pool_create (min_frames 2)", calls);
}
END_TEST

START_TEST(vpl_acquire)
{
    mfxFrameInfo info = nv12_info(64, 32);
    fp_pool_config cfg = test_config(FP_FMT_NONE, 0, 0, 3, &g_log);
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_vpl_pool_create(&pool, &info, &cfg), 0);
    mfxFrameSurface1 *held = NULL, *s = NULL;
    ck_assert_int_eq(fp_vpl_acquire(pool, 0, &held), 0);
    aw_arm(0);
    int ret = fp_vpl_acquire(pool, 0, &s);
    int calls = aw_disarm();
    ck_assert_int_eq(ret, 0);
    ck_assert_int_ge(calls, 1);
    ck_assert_int_eq(fp_vpl_release(&s), 0);
    ck_assert_int_eq(fp_pool_trim(pool), 1);
    ck_assert_int_eq(aw_outstanding(), 0);
    for (int n = 1; n <= calls; n++) {
        test_log_reset(&g_log);
        s = (mfxFrameSurface1 *)(uintptr_t)1;
        aw_arm(n);
        ret = fp_vpl_acquire(pool, FP_WAIT_FOREVER, &s);
        aw_disarm();
        ck_assert_msg(ret == FP_ERR(ENOMEM), "allocation %d failing: %d (%s)", n, ret, fp_strerror(ret));
        ck_assert_ptr_null(s);
        ck_assert_int_eq(aw_outstanding(), 0);
        check_books(pool, 1);
    }
    /* Still usable: every surface once more. */
    mfxFrameSurface1 *all[2] = { NULL, NULL };
    ck_assert_int_eq(fp_vpl_acquire(pool, 0, &all[0]), 0);
    ck_assert_int_eq(fp_vpl_acquire(pool, 0, &all[1]), 0);
    ck_assert_ptr_ne(all[0], all[1]);
    ck_assert_int_eq(fp_vpl_acquire(pool, 0, &s), FP_ERR(EAGAIN));
    ck_assert_int_eq(fp_vpl_release(&all[0]), 0);
    ck_assert_int_eq(fp_vpl_release(&all[1]), 0);
    ck_assert_int_eq(fp_vpl_release(&held), 0);
    check_books(pool, 0);
    fp_pool_unref(&pool);
    report_points("fp_vpl_acquire (lazy growth)", calls);
}
END_TEST
#endif

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("allocfail");
    TCase *tc = tcase_create("acquire");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, acquire_lazy_growth, 0, N_FLAGS * N_TIMEOUTS);
    tcase_add_loop_test(tc, create_full_prealloc, 0, N_FLAGS);
    suite_add_tcase(s, tc);

    tc = tcase_create("scope");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, scope_add_every_growth);
    suite_add_tcase(s, tc);

    tc = tcase_create("export");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, registry_write_json);
    tcase_add_test(tc, registry_write_prometheus);
    tcase_add_test(tc, pool_write_json);
    tcase_add_test(tc, pool_report_multi_site);
    tcase_add_test(tc, pool_report_empty);
    suite_add_tcase(s, tc);

    tc = tcase_create("leak-report");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, leak_report_every_allocation);
    suite_add_tcase(s, tc);

#ifdef HAVE_VPL
    tc = tcase_create("vpl");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, vpl_pool_create);
    tcase_add_test(tc, vpl_acquire);
    suite_add_tcase(s, tc);
#endif
    return s;
}
