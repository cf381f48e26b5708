/*
 * Suite "stats": every counter of fp_pool_stats, and the documented snapshot
 * invariants while threads acquire, release and trim.
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static test_log tlog;

START_TEST(counters_follow_operations)
{
    test_log_reset(&tlog);
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 64, 32, 3, &tlog);
    cfg.min_frames = 1;
    fp_pool *p;
    ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(p, &st), 0);
    ck_assert_uint_eq(st.capacity, 3);
    ck_assert_uint_eq(st.min_frames, 1);
    ck_assert_uint_eq(st.allocated, 1);
    ck_assert_uint_eq(st.idle, 1);
    ck_assert_uint_eq(st.live, 0);
    /* GRAY8 64x32, align 64: 64 * 32 bytes of plane + 64 of tail padding */
    ck_assert_uint_eq(st.frame_bytes, 64 * 32 + 64);
    ck_assert_uint_ge(st.reserved_bytes, st.frame_bytes + 3 * 200);
    ck_assert_int_eq(st.closed, 0);

    fp_frame *f[3], *x;
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fp_pool_acquire(p, 0, &f[i]), 0);
    ck_assert_int_eq(fp_pool_acquire(p, 0, &x), FP_ERR(EAGAIN));
    ck_assert_int_eq(fp_pool_acquire(p, 0, &x), FP_ERR(EAGAIN));
    uint64_t t0 = test_now_ns();
    ck_assert_int_eq(fp_pool_acquire(p, 5000, &x), FP_ERR(ETIMEDOUT));
    uint64_t waited = test_now_ns() - t0;
    fp_pool_get_stats(p, &st);
    ck_assert_uint_eq(st.live, 3);
    ck_assert_uint_eq(st.allocated, 3);
    ck_assert_uint_eq(st.idle, 0);
    ck_assert_uint_eq(st.peak_live, 3);
    ck_assert_uint_eq(st.acquired, 3);
    ck_assert_uint_eq(st.released, 0);
    ck_assert_uint_eq(st.exhausted, 2);
    ck_assert_uint_eq(st.timeouts, 1);
    ck_assert_uint_eq(st.waits, 1);
    ck_assert_uint_ge(st.wait_ns_total, 5000000u);
    ck_assert_uint_le(st.wait_ns_total, waited);
    ck_assert_uint_eq(st.wait_ns_max, st.wait_ns_total);
    ck_assert_uint_ge(st.reserved_bytes, 3 * st.frame_bytes);

    fp_frame *dup = f[0];
    fp_frame_unref(&f[0]);
    fp_frame_unref(&dup);
    fp_pool_get_stats(p, &st);
    ck_assert_uint_eq(st.misuse, 1);
    ck_assert_uint_eq(st.released, 1);
    ck_assert_uint_eq(st.live, 2);

    fp_pool_close(p);
    fp_pool_get_stats(p, &st);
    ck_assert_int_eq(st.closed, 1);
    fp_frame_unref(&f[1]);
    fp_frame_unref(&f[2]);
    fp_pool_get_stats(p, &st);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, st.released);
    ck_assert_uint_eq(st.peak_live, 3);
    ck_assert_int_eq(fp_pool_get_stats(NULL, &st), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_pool_get_stats(p, NULL), FP_ERR(EINVAL));
    fp_pool_unref(&p);
}
END_TEST

/* ------------------------------------------------------------------------- */

static fp_pool *spool;
static _Atomic int done;
static _Atomic uint64_t ok_acquires;

static void *hammer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    fp_frame *held[4] = { 0 };
    int n = getenv("FP_TEST_UNDER_VALGRIND") ? 3000 : 100000;
    for (int i = 0; i < n; i++) {
        int k = (int)(rand_r(&seed) % 4);
        if (held[k]) {
            fp_frame_unref(&held[k]);
        } else if (fp_pool_acquire(spool, (rand_r(&seed) & 1) ? 0 : 100, &held[k]) == 0) {
            atomic_fetch_add(&ok_acquires, 1);
            if (rand_r(&seed) % 8 == 0) {
                fp_frame *r = fp_frame_ref(held[k]);
                fp_frame_unref(&r);
            }
        }
        if (i % 5000 == 0 && seed % 3 == 0)
            fp_pool_trim(spool);
    }
    for (int k = 0; k < 4; k++)
        fp_frame_unref(&held[k]);
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    uint64_t last_acq = 0, last_rel = 0;
    int snapshots = 0;
    while (!atomic_load(&done) || snapshots < 10) {
        fp_pool_stats st;
        ck_assert_int_eq(fp_pool_get_stats(spool, &st), 0);
        ck_assert_uint_eq(st.live, st.acquired - st.released);
        ck_assert_uint_le(st.live, st.capacity);
        ck_assert_uint_le(st.allocated, st.capacity);
        ck_assert_uint_eq(st.allocated, st.live + st.idle);
        ck_assert_uint_le(st.peak_live, st.capacity);
        ck_assert_uint_ge(st.acquired, last_acq);
        ck_assert_uint_ge(st.released, last_rel);
        last_acq = st.acquired;
        last_rel = st.released;
        snapshots++;
    }
    return (void *)(intptr_t)snapshots;
}

START_TEST(invariants_under_stress)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 32, 32, 10, NULL);
    cfg.min_frames = 2;
    ck_assert_int_eq(fp_pool_create(&spool, &cfg), 0);
    atomic_store(&done, 0);
    atomic_store(&ok_acquires, 0);
    pthread_t w[3], r;
    pthread_create(&r, NULL, reader, NULL);
    for (int i = 0; i < 3; i++)
        pthread_create(&w[i], NULL, hammer, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < 3; i++)
        pthread_join(w[i], NULL);
    atomic_store(&done, 1);
    void *snaps;
    pthread_join(r, &snaps);
    ck_assert_int_ge((int)(intptr_t)snaps, 10);
    fp_pool_stats st;
    fp_pool_get_stats(spool, &st);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, atomic_load(&ok_acquires));
    ck_assert_uint_eq(st.released, st.acquired);
    ck_assert_uint_eq(st.misuse, 0);
    fp_pool_unref(&spool);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("counters");
    tcase_add_test(tc, counters_follow_operations);
    suite_add_tcase(s, tc);
    tc = tcase_create("concurrency");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, invariants_under_stress);
    suite_add_tcase(s, tc);
    return s;
}
