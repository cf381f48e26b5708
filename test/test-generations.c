/*
 * Generations: fp_pool_reconfigure() and max_bytes on core pools.
 * SPDX-License-Identifier: MIT
 *
 * - the new geometry for new acquisitions, old frames valid with their own,
 *   freed when they return and never handed out again, idle ones freed at once
 * - the same geometry is no new generation; bad geometry, NULL, closed pools
 * - max_frames and max_bytes count every generation; waiters across a reconfigure
 * - min_frames of the new geometry backed by the reconfigure (and its
 *   allocation failure: counted, logged, the generation still taken)
 * - stats per generation; 4 threads acquiring and releasing while the
 *   geometry changes 300 times (under TSan in scripts/test, with injected
 *   yields in the inject build): every frame consistent, every byte freed
 *   with the size it was allocated with
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static test_log tlog;

/* An allocator that records each block's size in front of it and checks that
 * free gets the same size back (a generation's memory freed with another
 * generation's size would show here). */
typedef struct sized_alloc {
    _Atomic int calls, live, frees, bad_sizes, fail_at;
    _Atomic uint64_t live_bytes;
} sized_alloc;

#define SIZED_HDR 64

static void *sized_alloc_fn(void *opaque, size_t size, size_t align)
{
    sized_alloc *sa = opaque;
    int n = atomic_fetch_add(&sa->calls, 1) + 1;
    if (atomic_load(&sa->fail_at) && n == atomic_load(&sa->fail_at))
        return NULL;
    size_t hdr = align > SIZED_HDR ? align : SIZED_HDR;
    uint8_t *p = NULL;
    if (posix_memalign((void **)&p, align, size + hdr))
        return NULL;
    memcpy(p + hdr - sizeof(size_t), &size, sizeof(size));
    memcpy(p + hdr - 2 * sizeof(size_t), &hdr, sizeof(hdr));
    atomic_fetch_add(&sa->live, 1);
    atomic_fetch_add(&sa->live_bytes, size);
    return p + hdr;
}

static void sized_free_fn(void *opaque, void *ptr, size_t size)
{
    sized_alloc *sa = opaque;
    if (!ptr)
        return;
    uint8_t *q = ptr;
    size_t had, hdr;
    memcpy(&had, q - sizeof(size_t), sizeof(had));
    memcpy(&hdr, q - 2 * sizeof(size_t), sizeof(hdr));
    if (had != size)
        atomic_fetch_add(&sa->bad_sizes, 1);
    atomic_fetch_sub(&sa->live, 1);
    atomic_fetch_add(&sa->frees, 1);
    atomic_fetch_sub(&sa->live_bytes, had);
    free(q - hdr);
}

static sized_alloc sa;

static void setup(void)
{
    test_log_reset(&tlog);
    memset(&sa, 0, sizeof(sa));
}

static fp_pool_config gen_config(int w, int h, int max_frames)
{
    fp_pool_config cfg = test_config(FP_FMT_YUV420P, w, h, max_frames, &tlog);
    cfg.allocator = (fp_allocator){ sized_alloc_fn, sized_free_fn, &sa };
    cfg.name = "gen";
    return cfg;
}

static fp_pool *make(const fp_pool_config *cfg)
{
    fp_pool *p = NULL;
    int rc = fp_pool_create(&p, cfg);
    ck_assert_msg(rc == 0, "create: %s", fp_strerror(rc));
    return p;
}

static fp_pool_stats stats(fp_pool *p)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(p, &st), 0);
    return st;
}

static fp_frame *take(fp_pool *p)
{
    fp_frame *f = NULL;
    int rc = fp_pool_acquire(p, 0, &f);
    ck_assert_msg(rc == 0, "acquire: %s", fp_strerror(rc));
    return f;
}

/* Writes every byte the frame says it has (ASan/valgrind catch a frame whose
 * fields describe more than its memory). */
static void fill(fp_frame *f, uint8_t v)
{
    memset(f->data[0], v, f->size);
}

static size_t frame_bytes_of(int w, int h)
{
    fp_pool_config cfg = gen_config(w, h, 1);
    fp_pool *p = make(&cfg);
    size_t b = stats(p).frame_bytes;
    fp_pool_unref(&p);
    return b;
}

static int reconf(fp_pool *p, int w, int h)
{
    fp_pool_config cfg = gen_config(w, h, 1);
    return fp_pool_reconfigure(p, &cfg);
}

START_TEST(new_geometry_old_frames_valid)
{
    fp_pool_config cfg = gen_config(64, 48, 8);
    fp_pool *p = make(&cfg);
    ck_assert_uint_eq(stats(p).generation, 1);
    fp_frame *a = take(p), *b = take(p);
    fill(a, 1);
    fill(b, 2);
    size_t small = stats(p).frame_bytes;

    ck_assert_int_eq(reconf(p, 128, 96), 2);
    fp_pool_stats st = stats(p);
    ck_assert_uint_eq(st.generation, 2);
    ck_assert_uint_eq(st.old_generation_live, 2);
    ck_assert_uint_eq(st.old_generation_bytes, 2 * small);
    ck_assert_uint_gt(st.frame_bytes, small);

    fp_frame *c = take(p);
    ck_assert_int_eq(c->width, 128);
    ck_assert_int_eq(c->height, 96);
    fill(c, 3);
    /* The old frames keep their geometry and contents. */
    ck_assert_int_eq(a->width, 64);
    ck_assert_int_eq(b->height, 48);
    ck_assert_int_eq(a->data[0][a->size - 1], 1);
    ck_assert_int_eq(b->data[0][0], 2);

    int frees = atomic_load(&sa.frees);
    fp_frame_unref(&a);
    ck_assert_int_eq(atomic_load(&sa.frees), frees + 1); /* freed when it returns */
    st = stats(p);
    ck_assert_uint_eq(st.old_generation_live, 1);
    ck_assert_uint_eq(st.allocated, 2);
    fp_frame_unref(&b);
    st = stats(p);
    ck_assert_uint_eq(st.old_generation_live, 0);
    ck_assert_uint_eq(st.old_generation_bytes, 0);
    ck_assert_uint_eq(st.allocated, 1);
    ck_assert_uint_eq(st.live, 1);

    /* Never handed out again: every frame of the pool is the new geometry. */
    fp_frame *all[8];
    all[0] = c;
    for (int i = 1; i < 8; i++) {
        all[i] = take(p);
        ck_assert_int_eq(all[i]->width, 128);
        fill(all[i], 4);
    }
    for (int i = 0; i < 8; i++)
        fp_frame_unref(&all[i]);
    st = stats(p);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, st.released);
    ck_assert_uint_eq(st.acquired, 10);
    fp_pool_unref(&p);
    ck_assert_int_eq(atomic_load(&sa.live), 0);
    ck_assert_int_eq(atomic_load(&sa.bad_sizes), 0);
}
END_TEST

START_TEST(idle_frames_freed_and_min_frames_rebacked)
{
    fp_pool_config cfg = gen_config(64, 48, 6);
    cfg.min_frames = 2;
    fp_pool *p = make(&cfg);
    fp_frame *f = take(p);
    fp_frame *g = take(p);
    fp_frame *h = take(p); /* a third, beyond min_frames */
    fp_frame_unref(&g);
    fp_frame_unref(&h);
    ck_assert_uint_eq(stats(p).allocated, 3);
    ck_assert_uint_eq(stats(p).idle, 2);
    ck_assert_int_eq(reconf(p, 96, 64), 2);
    fp_pool_stats st = stats(p);
    /* the 2 idle old frames freed; 2 new ones backed for min_frames; f still out */
    ck_assert_int_eq(atomic_load(&sa.frees), 2);
    ck_assert_uint_eq(st.allocated, 3);
    ck_assert_uint_eq(st.idle, 2);
    ck_assert_uint_eq(st.old_generation_live, 1);
    /* trim keeps the new geometry's min_frames */
    ck_assert_int_eq(fp_pool_trim(p), 0);
    fp_frame_unref(&f);
    st = stats(p);
    ck_assert_uint_eq(st.allocated, 2);
    ck_assert_uint_eq(st.old_generation_bytes, 0);
    ck_assert_uint_eq(atomic_load(&sa.live_bytes), 2 * st.frame_bytes);
    fp_pool_unref(&p);
    ck_assert_int_eq(atomic_load(&sa.live), 0);
    ck_assert_int_eq(atomic_load(&sa.bad_sizes), 0);
}
END_TEST

START_TEST(same_geometry_is_no_generation)
{
    fp_pool_config cfg = gen_config(64, 48, 4);
    fp_pool *p = make(&cfg);
    fp_frame *f = take(p);
    fp_frame_unref(&f);
    int calls = atomic_load(&sa.calls);
    ck_assert_int_eq(fp_pool_reconfigure(p, &cfg), 1);
    ck_assert_int_eq(reconf(p, 64, 48), 1);
    ck_assert_int_eq(atomic_load(&sa.frees), 0);
    ck_assert_uint_eq(stats(p).idle, 1);
    ck_assert_int_eq(reconf(p, 32, 32), 2);
    ck_assert_int_eq(reconf(p, 64, 48), 3); /* back again is a new generation */
    ck_assert_int_eq(atomic_load(&sa.calls), calls);
    fp_pool_unref(&p);
    ck_assert_int_eq(atomic_load(&sa.live), 0);
}
END_TEST

START_TEST(bad_reconfigure_refused)
{
    fp_pool_config cfg = gen_config(64, 48, 4);
    fp_pool *p = make(&cfg);
    fp_frame *f = take(p);
    fp_pool_config bad = cfg;
    bad.width = 0;
    test_log_reset(&tlog);
    ck_assert_int_eq(fp_pool_reconfigure(p, &bad), FP_ERR(EINVAL));
    ck_assert_int_eq(atomic_load(&tlog.total), 1);
    ck_assert_msg(test_log_has(&tlog, "width"), "%s", tlog.lines[0]);
    bad = cfg;
    bad.format = (enum fp_format)99;
    ck_assert_int_eq(fp_pool_reconfigure(p, &bad), FP_ERR(EINVAL));
    bad = cfg;
    bad.align = 3;
    ck_assert_int_eq(fp_pool_reconfigure(p, &bad), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_pool_reconfigure(p, NULL), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_pool_reconfigure(NULL, &cfg), FP_ERR(EINVAL));
    int not_a_pool[64] = { 0 };
    ck_assert_int_eq(fp_pool_reconfigure((fp_pool *)(void *)not_a_pool, &cfg), FP_ERR(EINVAL));
    fp_pool_stats st = stats(p);
    ck_assert_uint_eq(st.generation, 1);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_int_eq(f->width, 64);
    fp_pool_close(p);
    ck_assert_int_eq(reconf(p, 32, 32), FP_ERR(ESHUTDOWN));
    fp_frame_unref(&f);
    fp_pool_unref(&p);
    ck_assert_int_eq(atomic_load(&sa.live), 0);
}
END_TEST

/* max_frames counts every generation: old frames out keep the new one waiting. */
START_TEST(max_frames_across_generations)
{
    fp_pool_config cfg = gen_config(64, 48, 3);
    fp_pool *p = make(&cfg);
    fp_frame *f[3];
    for (int i = 0; i < 3; i++)
        f[i] = take(p);
    ck_assert_int_eq(reconf(p, 128, 96), 2);
    fp_frame *n = NULL;
    ck_assert_int_eq(fp_pool_acquire(p, 0, &n), FP_ERR(EAGAIN));
    fp_frame_unref(&f[0]);
    n = take(p);
    ck_assert_int_eq(n->width, 128);
    fill(n, 9);
    ck_assert_int_eq(fp_pool_acquire(p, 0, &f[0]), FP_ERR(EAGAIN));
    fp_pool_stats st = stats(p);
    ck_assert_uint_eq(st.live, 3);
    ck_assert_uint_eq(st.old_generation_live, 2);
    fp_frame_unref(&f[1]);
    fp_frame_unref(&f[2]);
    fp_frame_unref(&n);
    fp_pool_unref(&p);
    ck_assert_int_eq(atomic_load(&sa.live), 0);
    ck_assert_int_eq(atomic_load(&sa.bad_sizes), 0);
}
END_TEST

/* max_bytes: a bound in bytes that holds when the geometry grows. */
START_TEST(max_bytes_bounds_growth)
{
    size_t small = frame_bytes_of(64, 48), large = frame_bytes_of(128, 96);
    ck_assert_uint_gt(2 * large, 5 * small); /* a large frame does not fit next to 2 small ones */
    fp_pool_config cfg = gen_config(64, 48, 16);
    cfg.max_bytes = 4 * small + small / 2;
    fp_pool *p = make(&cfg);
    fp_frame *f[5] = { 0 };
    for (int i = 0; i < 4; i++)
        f[i] = take(p);
    ck_assert_int_eq(fp_pool_acquire(p, 0, &f[4]), FP_ERR(EAGAIN)); /* 16 frames allowed, not 5 * small bytes */
    ck_assert_uint_eq(stats(p).exhausted, 1);
    fp_frame_unref(&f[2]);
    fp_frame_unref(&f[3]);
    ck_assert_int_eq(reconf(p, 128, 96), 2);
    /* 2 small frames out (2 * small bytes): a large one does not fit next to them */
    fp_frame *l = NULL;
    ck_assert_int_eq(fp_pool_acquire(p, 0, &l), FP_ERR(EAGAIN));
    fp_frame_unref(&f[0]);
    fp_frame_unref(&f[1]);
    l = take(p);
    ck_assert_int_eq(l->width, 128);
    fp_frame *l2 = NULL;
    ck_assert_int_eq(fp_pool_acquire(p, 0, &l2), FP_ERR(EAGAIN));
    fp_pool_stats st = stats(p);
    ck_assert_uint_le(st.allocated * st.frame_bytes, cfg.max_bytes);
    ck_assert_uint_le(atomic_load(&sa.live_bytes), cfg.max_bytes);
    fp_frame_unref(&l);
    fp_pool_unref(&p);

    /* min_frames that max_bytes cannot hold: refused at creation and at reconfigure */
    cfg = gen_config(64, 48, 16);
    cfg.max_bytes = 2 * small;
    cfg.min_frames = 3;
    test_log_reset(&tlog);
    p = NULL;
    ck_assert_int_eq(fp_pool_create(&p, &cfg), FP_ERR(EINVAL));
    ck_assert_ptr_null(p);
    ck_assert(test_log_has(&tlog, "max_bytes"));
    cfg.min_frames = 2;
    p = make(&cfg);
    ck_assert_int_eq(reconf(p, 128, 96), FP_ERR(EINVAL));
    ck_assert_uint_eq(stats(p).generation, 1);
    fp_pool_unref(&p);
    ck_assert_int_eq(atomic_load(&sa.live), 0);
}
END_TEST

typedef struct waiter {
    fp_pool *pool;
    fp_frame *got;
    int rc;
} waiter;

static void *wait_thread(void *arg)
{
    waiter *w = arg;
    w->rc = fp_pool_acquire(w->pool, FP_WAIT_FOREVER, &w->got);
    return NULL;
}

/* A waiter on a full pool keeps waiting across a reconfigure and gets a frame
 * of the new geometry when an old one returns (its slot is freed and backed
 * anew). */
START_TEST(waiter_across_reconfigure)
{
    fp_pool_config cfg = gen_config(64, 48, 2);
    fp_pool *p = make(&cfg);
    fp_frame *a = take(p), *b = take(p);
    waiter w = { p, NULL, 1 };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
    while (stats(p).waits == 0)
        test_sleep_us(1000);
    ck_assert_int_eq(reconf(p, 128, 96), 2);
    test_sleep_us(20000);
    ck_assert_int_eq(w.rc, 1); /* still waiting */
    fp_frame_unref(&a);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(w.rc, 0);
    ck_assert_int_eq(w.got->width, 128);
    fill(w.got, 5);
    fp_frame_unref(&w.got);
    fp_frame_unref(&b);
    fp_pool_stats st = stats(p);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.old_generation_live, 0);
    fp_pool_unref(&p);
    ck_assert_int_eq(atomic_load(&sa.live), 0);
    ck_assert_int_eq(atomic_load(&sa.bad_sizes), 0);
}
END_TEST

/* The reconfigure's min_frames allocation fails: the generation is taken,
 * the failure counted and logged, acquires allocate later. */
START_TEST(min_frames_allocation_failure)
{
    fp_pool_config cfg = gen_config(64, 48, 4);
    cfg.min_frames = 2;
    fp_pool *p = make(&cfg);
    atomic_store(&sa.fail_at, atomic_load(&sa.calls) + 2); /* the second of the new geometry */
    test_log_reset(&tlog);
    ck_assert_int_eq(reconf(p, 96, 64), 2);
    fp_pool_stats st = stats(p);
    ck_assert_uint_eq(st.alloc_failures, 1);
    ck_assert_uint_eq(st.allocated, 1);
    ck_assert(test_log_has(&tlog, "out of memory"));
    fp_frame *f = take(p), *g = take(p); /* the second allocates now */
    ck_assert_int_eq(g->width, 96);
    fp_frame_unref(&f);
    fp_frame_unref(&g);
    fp_pool_unref(&p);
    ck_assert_int_eq(atomic_load(&sa.live), 0);
}
END_TEST

/* FP_FMT_RAW buffers change size too. */
START_TEST(raw_buffers_change_size)
{
    fp_pool_config cfg = test_config(FP_FMT_RAW, 0, 0, 4, &tlog);
    cfg.buffer_size = 1000;
    cfg.allocator = (fp_allocator){ sized_alloc_fn, sized_free_fn, &sa };
    fp_pool *p = make(&cfg);
    fp_frame *f = take(p);
    ck_assert_uint_ge(f->size, 1000);
    cfg.buffer_size = 5000;
    ck_assert_int_eq(fp_pool_reconfigure(p, &cfg), 2);
    fp_frame *g = take(p);
    ck_assert_uint_ge(g->size, 5000);
    fill(g, 7);
    ck_assert_uint_lt(f->size, 5000);
    fp_frame_unref(&f);
    fp_frame_unref(&g);
    fp_pool_unref(&p);
    ck_assert_int_eq(atomic_load(&sa.live), 0);
    ck_assert_int_eq(atomic_load(&sa.bad_sizes), 0);
}
END_TEST

/* The pool is dropped while frames of two old generations are out: the last
 * of them frees everything. */
START_TEST(pool_dropped_with_old_generations_out)
{
    fp_pool_config cfg = gen_config(64, 48, 4);
    fp_pool *p = make(&cfg);
    fp_frame *a = take(p);
    ck_assert_int_eq(reconf(p, 96, 64), 2);
    fp_frame *b = take(p);
    ck_assert_int_eq(reconf(p, 32, 32), 3);
    fp_frame *c = take(p);
    fp_pool_unref(&p);
    fill(a, 1);
    fill(b, 2);
    fill(c, 3);
    fp_frame_unref(&b);
    fp_frame_unref(&a);
    ck_assert_int_gt(atomic_load(&sa.live), 0);
    fp_frame_unref(&c);
    ck_assert_int_eq(atomic_load(&sa.live), 0);
    ck_assert_int_eq(atomic_load(&sa.bad_sizes), 0);
}
END_TEST

/* ------------------------------------------------------------------------- */

static const int geo[3][2] = { { 64, 48 }, { 96, 64 }, { 32, 16 } };

typedef struct churn {
    fp_pool *pool;
    _Atomic int *stop;
    unsigned seed;
    long frames;
} churn;

static void *churn_thread(void *arg)
{
    churn *c = arg;
    fp_frame *held[3] = { 0 };
    while (!atomic_load(c->stop)) {
        int k = (int)(rand_r(&c->seed) % 3);
        if (held[k]) {
            fp_frame_unref(&held[k]);
            continue;
        }
        fp_frame *f = NULL;
        int rc = fp_pool_acquire(c->pool, 1000, &f);
        if (rc == FP_ERR(ETIMEDOUT) || rc == FP_ERR(EAGAIN))
            continue;
        T_CHECK(rc == 0, "acquire: %s", fp_strerror(rc));
        if (rc)
            break;
        bool known = false;
        for (int g = 0; g < 3; g++)
            known = known || (f->width == geo[g][0] && f->height == geo[g][1]);
        T_CHECK(known, "frame %dx%d is no geometry of the pool", f->width, f->height);
        T_CHECK(f->linesize[0] >= f->width, "linesize %d < width %d", f->linesize[0], f->width);
        memset(f->data[0], (int)k, f->size);
        c->frames++;
        held[k] = f;
    }
    for (int k = 0; k < 3; k++)
        fp_frame_unref(&held[k]);
    return NULL;
}

START_TEST(reconfigure_under_churn)
{
    fp_pool_config cfg = gen_config(geo[0][0], geo[0][1], 8);
    cfg.min_frames = 2;
    fp_pool *p = make(&cfg);
    test_reset_failures();
    _Atomic int stop = 0;
    churn c[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (churn){ p, &stop, 1234u + (unsigned)i, 0 };
        ck_assert_int_eq(pthread_create(&t[i], NULL, churn_thread, &c[i]), 0);
    }
    int last = 1;
    for (int i = 1; i <= 300; i++) {
        int g = i % 3;
        int rc = reconf(p, geo[g][0], geo[g][1]);
        ck_assert_int_eq(rc, last + 1);
        last = rc;
        if (i % 7 == 0)
            ck_assert_int_ge(fp_pool_trim(p), 0);
        fp_pool_stats st = stats(p);
        ck_assert_uint_le(st.live, st.capacity);
        ck_assert_uint_le(st.old_generation_live, st.live);
        ck_assert_uint_eq(st.live, st.acquired - st.released);
        if (i % 50 == 0)
            test_sleep_us(2000);
    }
    atomic_store(&stop, 1);
    long frames = 0;
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        frames += c[i].frames;
    }
    test_assert_no_failures();
    fp_pool_stats st = stats(p);
    ck_assert_uint_eq(st.generation, 301);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.old_generation_live, 0);
    ck_assert_uint_eq(st.old_generation_bytes, 0);
    /* Only the current geometry is backed, and the allocator agrees. */
    ck_assert_int_eq(atomic_load(&sa.live), (int)st.allocated);
    ck_assert_uint_eq(atomic_load(&sa.live_bytes), (uint64_t)st.allocated * st.frame_bytes);
    fp_frame *all[8];
    for (int i = 0; i < 8; i++) {
        all[i] = take(p);
        ck_assert_int_eq(all[i]->width, geo[300 % 3][0]);
    }
    for (int i = 0; i < 8; i++)
        fp_frame_unref(&all[i]);
    fprintf(stderr, "generations: 300 reconfigures under 4 churning threads: %ld frames, %llu acquires\n", frames,
            (unsigned long long)st.acquired);
    fp_pool_unref(&p);
    ck_assert_int_eq(atomic_load(&sa.live), 0);
    ck_assert_int_eq(atomic_load(&sa.bad_sizes), 0);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("generations");
    TCase *tc = tcase_create("reconfigure");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, new_geometry_old_frames_valid);
    tcase_add_test(tc, idle_frames_freed_and_min_frames_rebacked);
    tcase_add_test(tc, same_geometry_is_no_generation);
    tcase_add_test(tc, bad_reconfigure_refused);
    tcase_add_test(tc, min_frames_allocation_failure);
    tcase_add_test(tc, raw_buffers_change_size);
    tcase_add_test(tc, pool_dropped_with_old_generations_out);
    suite_add_tcase(s, tc);
    tc = tcase_create("bounds");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, max_frames_across_generations);
    tcase_add_test(tc, max_bytes_bounds_growth);
    tcase_add_test(tc, waiter_across_reconfigure);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, reconfigure_under_churn);
    suite_add_tcase(s, tc);
    return s;
}
