/*
 * Suite "region": the bookkeeping region (lib/region.h) that pools, slot
 * arrays and adapter objects are carved from, so pointers can be checked
 * before the library reads through them. Links the static library for the
 * internal functions; FP_TEST_REGION_HEAP=1 runs the same tests with the
 * reservation skipped (the heap-and-table fallback).
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "region.h"

static bool heap_mode;

/* Failure injection: the fail_at-th region allocation from arming fails. */
static _Atomic int hook_calls, hook_fail_at, hook_live;
bool fp__region_fail_hook(size_t size);
void fp__region_note_hook(void *p, size_t size, bool alloc);
bool fp__region_fail_hook(size_t size)
{
    (void)size;
    int fail_at = atomic_load(&hook_fail_at);
    return fail_at && atomic_fetch_add(&hook_calls, 1) + 1 == fail_at;
}
void fp__region_note_hook(void *p, size_t size, bool alloc)
{
    (void)p;
    (void)size;
    atomic_fetch_add(&hook_live, alloc ? 1 : -1);
}

static fp__region_info info_now(void)
{
    fp__region_info i;
    fp__region_get_info(&i);
    return i;
}

START_TEST(mode)
{
    void *p = fp__region_alloc(100);
    ck_assert_ptr_nonnull(p);
    fp__region_info i = info_now();
    if (heap_mode) {
        ck_assert_uint_eq(i.reserved_bytes, 0);
        ck_assert_uint_ge(i.heap_blocks, 1);
        ck_assert_int_eq(fp__region_force_heap(), FP_ERR(EBUSY));
    } else {
        ck_assert_uint_ge(i.reserved_bytes, (size_t)256 << 20);
        ck_assert_uint_ge(i.pages_in_use, 1);
        ck_assert_uint_eq(i.heap_blocks, 0);
        ck_assert_uint_eq((uintptr_t)p % FP_REGION_PAGE, 0);
        ck_assert_int_eq(fp__region_force_heap(), FP_ERR(EBUSY)); /* too late */
    }
    fp__region_free(p, 100);
}
END_TEST

START_TEST(alloc_free_readable)
{
    fp__region_info before = info_now();
    size_t sizes[] = { 1, 64, 4096, 4097, 3 * 4096 + 5, 1 << 20 };
    uint8_t *blocks[6];
    for (int i = 0; i < 6; i++) {
        uint8_t *p = blocks[i] = fp__region_alloc(sizes[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % 64, 0);
        for (size_t j = 0; j < sizes[i]; j++)
            ck_assert_uint_eq(p[j], 0);
        memset(p, 0xA5, sizes[i]);
        ck_assert(fp__region_readable(p, 1));
        ck_assert(fp__region_readable(p, sizes[i]));
        ck_assert(fp__region_readable(p + sizes[i] - 1, 1));
        if (heap_mode) /* exact to the byte */
            ck_assert(!fp__region_readable(p, sizes[i] + 1));
    }
    for (int i = 0; i < 6; i++)
        for (int k = i + 1; k < 6; k++)
            ck_assert(blocks[i] + sizes[i] <= blocks[k] || blocks[k] + sizes[k] <= blocks[i]);

    /* What is not the region's. */
    int on_stack = 0;
    void *heap = malloc(16);
    ck_assert(!fp__region_readable(NULL, 1));
    ck_assert(!fp__region_readable(&on_stack, sizeof(on_stack)));
    ck_assert(!fp__region_readable(heap, 16));
    ck_assert(!fp__region_readable((void *)(uintptr_t)0x4141414141414141ull, 8));
    ck_assert(!fp__region_readable((void *)(uintptr_t)-8, 16)); /* wraps */
    free(heap);

    for (int i = 0; i < 6; i++)
        fp__region_free(blocks[i], sizes[i]);
    fp__region_free(NULL, 10);
    fp__region_info after = info_now();
    ck_assert_uint_eq(after.pages_in_use, before.pages_in_use);
    ck_assert_uint_eq(after.heap_blocks, before.heap_blocks);
    if (!heap_mode) {
        /* Freed pages read as zero (nothing faults; memcheck, told of the
         * free, would flag the read), and are reused first. */
        ck_assert(fp__region_readable(blocks[2], 8));
        if (!getenv("FP_TEST_UNDER_VALGRIND"))
            ck_assert_uint_eq(blocks[2][0], 0);
        uint8_t *again = fp__region_alloc(sizes[0]);
        ck_assert_ptr_eq(again, blocks[0]);
        ck_assert_uint_eq(again[0], 0);
        fp__region_free(again, sizes[0]);
    } else {
        ck_assert(!fp__region_readable(blocks[2], 8));
    }
}
END_TEST

/* Every region allocation of a pool's creation fails once: ENOMEM, a log
 * line, nothing left behind. */
static void create_until_success(const char *what, int (*create)(fp_pool **, test_log *), int min_points)
{
    test_log log;
    fp_pool *pool = NULL;
    atomic_store(&hook_live, 0);
    int n = 1;
    for (;; n++) {
        ck_assert_msg(n < 32, "%s: still failing at region allocation %d", what, n);
        test_log_reset(&log);
        atomic_store(&hook_calls, 0);
        atomic_store(&hook_fail_at, n);
        int ret = create(&pool, &log);
        atomic_store(&hook_fail_at, 0);
        if (ret == 0)
            break;
        ck_assert_msg(ret == FP_ERR(ENOMEM), "%s: region allocation %d failing gave %d", what, n, ret);
        ck_assert_ptr_null(pool);
        ck_assert_msg(atomic_load(&hook_live) == 0, "%s: region allocation %d failing leaked %d block(s)", what,
                      n, atomic_load(&hook_live));
        ck_assert_msg(test_log_has(&log, "out of memory"), "%s: region allocation %d failing was not logged",
                      what, n);
    }
    ck_assert_msg(n - 1 >= min_points, "%s: only %d region allocation(s)", what, n - 1);
    ck_assert_int_gt(atomic_load(&hook_live), 0);
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    ck_assert_int_eq(fp_frame_refcount(f), 1);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    fp_pool_unref(&pool);
    ck_assert_int_eq(atomic_load(&hook_live), 0);
    printf("region: %s: %d region allocation point(s), each failure clean\n", what, n - 1);
}

static int create_core(fp_pool **out, test_log *log)
{
    fp_pool_config cfg = test_config(FP_FMT_NV12, 64, 32, 40, log);
    cfg.min_frames = 2;
    return fp_pool_create(out, &cfg);
}

START_TEST(alloc_failure_core)
{
    create_until_success("fp_pool_create", create_core, 2); /* pool, slots */
}
END_TEST

/* Pools made and dropped leave the region as they found it. */
START_TEST(create_destroy_cycles)
{
    fp__region_info before = info_now();
    fp_pool *keep = NULL;
    ck_assert_int_eq(create_core(&keep, NULL), 0);
    fp__region_info one = info_now();
    for (int i = 0; i < 1000; i++) {
        fp_pool *p = NULL;
        ck_assert_int_eq(create_core(&p, NULL), 0);
        fp_frame *f = NULL;
        ck_assert_int_eq(fp_pool_acquire(p, 0, &f), 0);
        ck_assert_int_eq(fp_frame_unref(&f), 0);
        fp_pool_unref(&p);
        fp__region_info now = info_now();
        ck_assert_uint_eq(now.pages_in_use, one.pages_in_use);
        ck_assert_uint_eq(now.heap_blocks, one.heap_blocks);
    }
    fp_pool_unref(&keep);
    fp__region_info after = info_now();
    ck_assert_uint_eq(after.pages_in_use, before.pages_in_use);
    ck_assert_uint_eq(after.heap_blocks, before.heap_blocks);
}
END_TEST

/* Frames of pools in either mode are recognised, foreign pointers not. */
START_TEST(frames_recognised)
{
    fp_pool *p = NULL;
    ck_assert_int_eq(create_core(&p, NULL), 0);
    fp_frame *f[3] = { NULL, NULL, NULL };
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fp_pool_acquire(p, 0, &f[i]), 0);
    ck_assert_ptr_eq(fp_frame_ref(f[1]), f[1]);
    ck_assert_int_eq(fp_frame_refcount(f[1]), 2);
    ck_assert_int_eq(fp_frame_is_writable(f[1]), 0);
    ck_assert_int_eq(fp_frame_is_writable(f[0]), 1);
    fp_frame *extra = f[1];
    ck_assert_int_eq(fp_frame_unref(&extra), 0);
    ck_assert_int_eq(fp_frame_refcount(f[1]), 1);
    uint64_t before = fp_misuse_count();
    fp_frame *small = calloc(1, 8), *ps = small;
    ck_assert_int_eq(fp_frame_unref(&ps), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_frame_refcount(small), FP_ERR(EINVAL));
    ck_assert_uint_eq(fp_misuse_count(), before + 2);
    free(small);
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(p, &st), 0);
    ck_assert_uint_eq(st.live, 3);
    ck_assert_uint_eq(st.misuse, 0);
    ck_assert_int_eq(fp_frame_unref(&f[1]), 0);
    ck_assert_int_eq(fp_frame_unref(&f[0]), 0);
    ck_assert_int_eq(fp_frame_unref(&f[2]), 0);
    ck_assert_int_eq(fp_pool_get_stats(p, &st), 0);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.released, 3);
    fp_pool_unref(&p);
}
END_TEST

Suite *fp_test_suite(void)
{
    const char *env = getenv("FP_TEST_REGION_HEAP");
    heap_mode = env && !strcmp(env, "1");
    if (heap_mode && fp__region_force_heap() < 0) {
        fprintf(stderr, "region: the region was set up before the test could skip it\n");
        exit(1);
    }
    Suite *s = suite_create(heap_mode ? "region-heap" : "region");
    TCase *tc = tcase_create("region");
    tcase_add_test(tc, mode);
    tcase_add_test(tc, alloc_free_readable);
    tcase_add_test(tc, alloc_failure_core);
    tcase_add_test(tc, create_destroy_cycles);
    tcase_add_test(tc, frames_recognised);
    suite_add_tcase(s, tc);
    return s;
}
