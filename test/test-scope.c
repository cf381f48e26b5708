/*
 * Suite "scope": FP_AUTO_FRAME, fp_frame_steal, fp_scope and FP_SCOPE release
 * on every path; fp_scope_add never leaks, even when it cannot grow.
 * Linked with -Wl,--wrap=realloc to make the scope's growth fail on demand.
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

void *__real_realloc(void *ptr, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
static _Atomic int fail_realloc;

void *__wrap_realloc(void *ptr, size_t size)
{
    if (atomic_load(&fail_realloc))
        return NULL;
    return __real_realloc(ptr, size);
}

static fp_pool *pool;
static test_log tlog;

static void setup(void)
{
    test_log_reset(&tlog);
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 16, 16, 64, &tlog);
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
}

static void teardown(void)
{
    atomic_store(&fail_realloc, 0);
    fp_pool_unref(&pool);
}

static uint32_t live(void)
{
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    return st.live;
}

/* A function with several exits, each of which must release. */
static int auto_frame_paths(int exit_at, fp_frame **keep)
{
    FP_AUTO_FRAME fp_frame *a = NULL;
    FP_AUTO_FRAME fp_frame *b = NULL;
    if (fp_pool_acquire(pool, 0, &a) < 0)
        return -1;
    if (exit_at == 1)
        return -1;
    if (fp_pool_acquire(pool, 0, &b) < 0)
        return -1;
    if (exit_at == 2)
        return -2;
    if (keep)
        *keep = fp_frame_steal(&b);
    return 0;
}

START_TEST(auto_frame_releases_on_every_return)
{
    for (int exit_at = 0; exit_at <= 2; exit_at++) {
        auto_frame_paths(exit_at, NULL);
        ck_assert_uint_eq(live(), 0);
    }
    fp_frame *kept = NULL;
    ck_assert_int_eq(auto_frame_paths(0, &kept), 0);
    ck_assert_ptr_nonnull(kept);
    ck_assert_uint_eq(live(), 1); /* stolen: survives the scope */
    ck_assert_int_eq(fp_frame_refcount(kept), 1);
    fp_frame_unref(&kept);
    ck_assert_uint_eq(live(), 0);
}
END_TEST

START_TEST(steal_nulls_the_variable)
{
    fp_frame *f;
    fp_pool_acquire(pool, 0, &f);
    fp_frame *g = fp_frame_steal(&f);
    ck_assert_ptr_null(f);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(fp_frame_unref(&f), 0); /* NULL-safe */
    fp_frame_unref(&g);
    ck_assert_uint_eq(live(), 0);
}
END_TEST

START_TEST(scope_releases_everything_beyond_inline)
{
    fp_scope s;
    fp_scope_begin(&s);
    for (int i = 0; i < 40; i++) { /* > FP_SCOPE_INLINE: spills to the heap */
        fp_frame *f;
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
        ck_assert_int_eq(fp_scope_add(&s, f), 0);
    }
    ck_assert_uint_eq(s.count, 40);
    ck_assert_uint_eq(live(), 40);
    fp_scope_end(&s);
    ck_assert_uint_eq(live(), 0);
    ck_assert_uint_eq(s.count, 0);
    fp_scope_end(&s); /* idempotent */
    fp_scope_end(NULL);
    /* reusable */
    fp_frame *f;
    fp_pool_acquire(pool, 0, &f);
    ck_assert_int_eq(fp_scope_add(&s, f), 0);
    fp_scope_end(&s);
    ck_assert_uint_eq(live(), 0);
}
END_TEST

static int scoped_loop_body(int i)
{
    FP_SCOPE(s);
    for (int k = 0; k < 3; k++) {
        fp_frame *f;
        if (fp_pool_acquire(pool, 0, &f) < 0)
            return -1;
        fp_scope_add(&s, f);
        if (i % 3 == k)
            return -k; /* an early exit at a different point every iteration */
    }
    return 0;
}

START_TEST(scope_macro_releases_at_exit)
{
    for (int i = 0; i < 100; i++) {
        scoped_loop_body(i);
        ck_assert_uint_eq(live(), 0);
    }
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    ck_assert_uint_eq(st.acquired, st.released);
    ck_assert_uint_le(st.peak_live, 3); /* deterministic: never grows across iterations */
}
END_TEST

START_TEST(take_removes_most_recent_occurrence)
{
    fp_scope s;
    fp_scope_begin(&s);
    fp_frame *a, *b;
    fp_pool_acquire(pool, 0, &a);
    fp_pool_acquire(pool, 0, &b);
    fp_scope_add(&s, a);
    fp_scope_add(&s, b);
    fp_scope_add(&s, fp_frame_ref(a)); /* a twice */
    ck_assert_int_eq(fp_frame_refcount(a), 2);
    ck_assert_int_eq(fp_scope_take(&s, a), 0);
    ck_assert_uint_eq(s.count, 2);
    ck_assert_ptr_eq(s.items[0], a); /* the earlier occurrence stays */
    ck_assert_ptr_eq(s.items[1], b);
    ck_assert_int_eq(fp_scope_take(&s, b), 0);
    ck_assert_int_eq(fp_scope_take(&s, b), FP_ERR(ENOENT));
    ck_assert_int_eq(fp_scope_take(NULL, b), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_scope_take(&s, NULL), FP_ERR(EINVAL));
    fp_scope_end(&s); /* releases one reference of a */
    ck_assert_int_eq(fp_frame_refcount(a), 1);
    ck_assert_int_eq(fp_frame_refcount(b), 1);
    fp_frame_unref(&a);
    fp_frame_unref(&b);
    ck_assert_uint_eq(live(), 0);
}
END_TEST

START_TEST(add_enomem_releases_the_frame)
{
    fp_scope s;
    fp_scope_begin(&s);
    for (int i = 0; i < FP_SCOPE_INLINE; i++) {
        fp_frame *f;
        fp_pool_acquire(pool, 0, &f);
        ck_assert_int_eq(fp_scope_add(&s, f), 0);
    }
    fp_frame *f;
    fp_pool_acquire(pool, 0, &f);
    atomic_store(&fail_realloc, 1);
    ck_assert_int_eq(fp_scope_add(&s, f), FP_ERR(ENOMEM));
    atomic_store(&fail_realloc, 0);
    ck_assert(test_log_has(&tlog, "out of memory"));
    ck_assert_uint_eq(live(), FP_SCOPE_INLINE); /* the ninth frame went back */
    ck_assert_uint_eq(s.count, FP_SCOPE_INLINE);
    /* the scope still works and can grow now */
    fp_pool_acquire(pool, 0, &f);
    ck_assert_int_eq(fp_scope_add(&s, f), 0);
    fp_scope_end(&s);
    ck_assert_uint_eq(live(), 0);
}
END_TEST

START_TEST(add_rejects_bad_arguments)
{
    fp_scope s;
    fp_scope_begin(&s);
    fp_frame fake;
    memset(&fake, 0, sizeof(fake));
    ck_assert_int_eq(fp_scope_add(&s, NULL), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_scope_add(&s, &fake), FP_ERR(EINVAL));
    fp_frame *f;
    fp_pool_acquire(pool, 0, &f);
    ck_assert_int_eq(fp_scope_add(NULL, f), FP_ERR(EINVAL));
    fp_frame_unref(&f);
    ck_assert_uint_eq(s.count, 0);
    fp_scope_end(&s);
}
END_TEST

START_TEST(scope_release_site_is_the_begin_site)
{
    fp_scope s;
    fp_scope_begin(&s); char site[64]; snprintf(site, sizeof(site), "%s:%d", __FILE__, __LINE__);
    fp_frame *f, *alias;
    fp_pool_acquire(pool, 0, &f);
    alias = f;
    fp_scope_add(&s, f);
    fp_scope_end(&s);
    ck_assert_int_eq(fp_frame_unref(&alias), FP_ERR(EALREADY));
    ck_assert(test_log_has(&tlog, site)); /* "already released at <begin site>" */
}
END_TEST

/* Issue 12 item 14: when the table of `_at` sites is full, the warning goes
 * through the pool's log callback (once), not around it to stderr. Runs
 * last: the table stays full for the rest of the process (CK_FORK=no). */
START_TEST(site_table_full_warns_through_the_pool)
{
    static const char file[] = "scope-sites.c", func[] = "many";
    for (int line = 1; line <= 5000; line++) {
        fp_scope sc;
        fp_scope_begin_at(&sc, file, line, func);
        fp_frame *f = NULL;
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
        ck_assert_int_eq(fp_scope_add(&sc, f), 0);
        fp_scope_end(&sc);
    }
    ck_assert_uint_eq(live(), 0);
    ck_assert_msg(test_log_has(&tlog, "the table of call sites passed to fp_*_at() is full"),
                  "%d lines, first \"%s\"", atomic_load(&tlog.count), tlog.lines[0]);
    int n = 0;
    for (int i = 0; i < atomic_load(&tlog.count) && i < 64; i++)
        n += strstr(tlog.lines[i], "is full") != NULL;
    ck_assert_int_eq(n, 1);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("scope");
    TCase *tc = tcase_create("auto");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, auto_frame_releases_on_every_return);
    tcase_add_test(tc, steal_nulls_the_variable);
    suite_add_tcase(s, tc);

    tc = tcase_create("scope");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, scope_releases_everything_beyond_inline);
    tcase_add_test(tc, scope_macro_releases_at_exit);
    tcase_add_test(tc, take_removes_most_recent_occurrence);
    tcase_add_test(tc, add_enomem_releases_the_frame);
    tcase_add_test(tc, add_rejects_bad_arguments);
    tcase_add_test(tc, scope_release_site_is_the_begin_site);
    suite_add_tcase(s, tc);

    tc = tcase_create("sites");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, site_table_full_warns_through_the_pool);
    suite_add_tcase(s, tc);
    return s;
}
