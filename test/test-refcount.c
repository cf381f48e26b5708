/*
 * Suite "refcount": frame references, writability, double and foreign
 * releases, FP_POOL_STRICT, tags.
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MAX_FRAMES 3

static fp_pool *pool;
static test_alloc ta;
static test_log logbuf;

static fp_pool *make_pool(unsigned flags)
{
    memset(&ta, 0, sizeof(ta));
    test_log_reset(&logbuf);
    fp_pool_config cfg = test_config(FP_FMT_YUV420P, 32, 16, MAX_FRAMES, &logbuf);
    cfg.name = "reftest";
    cfg.flags = flags;
    cfg.allocator = test_allocator(&ta);
    fp_pool *p = NULL;
    int ret = fp_pool_create(&p, &cfg);
    ck_assert_msg(ret == 0, "fp_pool_create: %s", fp_strerror(ret));
    return p;
}

static void setup(void)
{
    pool = make_pool(0);
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

/* Acquires every frame of the pool: all distinct, then EAGAIN; releases them. */
static void check_pool_intact(void)
{
    fp_frame *f[MAX_FRAMES] = { NULL }, *extra = NULL;
    for (int i = 0; i < MAX_FRAMES; i++) {
        int ret = fp_pool_acquire(pool, 0, &f[i]);
        ck_assert_msg(ret == 0, "acquire %d of %d: %s", i + 1, MAX_FRAMES, fp_strerror(ret));
        ck_assert_int_eq(fp_frame_refcount(f[i]), 1);
        for (int j = 0; j < i; j++)
            ck_assert_msg(f[i] != f[j], "frames %d and %d are the same %p", j, i, (void *)f[i]);
        memset(f[i]->data[0], 0x30 + i, f[i]->size);
    }
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &extra), FP_ERR(EAGAIN));
    ck_assert_ptr_null(extra);
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.live, MAX_FRAMES);
    ck_assert(st.allocated == st.live + st.idle);
    ck_assert(st.live == st.acquired - st.released);
    for (int i = 0; i < MAX_FRAMES; i++) {
        ck_assert_int_eq(f[i]->data[0][0], 0x30 + i);
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
    }
    ck_assert_uint_eq(stats().live, 0);
}

/* ------------------------------------------------------------------------- */
/* Counting                                                                  */

START_TEST(test_ref_unref_counts)
{
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    ck_assert_int_eq(fp_frame_refcount(f), 1);
    ck_assert_int_eq(fp_frame_is_writable(f), 1);

    fp_frame *r = fp_frame_ref(f);
    ck_assert_ptr_eq(r, f);
    ck_assert_int_eq(fp_frame_refcount(f), 2);
    ck_assert_int_eq(fp_frame_is_writable(f), 0);
    ck_assert_int_eq(fp_frame_is_writable(r), 0);
    ck_assert_uint_eq(stats().live, 1);

    ck_assert_int_eq(fp_frame_unref(&r), 0);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(fp_frame_refcount(f), 1);
    ck_assert_int_eq(fp_frame_is_writable(f), 1);
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.live, 1);
    ck_assert_uint_eq(st.released, 0);

    ck_assert_int_eq(fp_frame_unref(&f), 0);
    ck_assert_ptr_null(f);
    st = stats();
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.released, 1);
    ck_assert_uint_eq(st.misuse, 0);
}
END_TEST

/* The frame returns when the last reference goes, whichever one that is. */
START_TEST(test_last_reference_returns_slot)
{
    enum { N = 5 };
    for (int last = 0; last < N; last++) {
        fp_frame *refs[N] = { NULL };
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &refs[0]), 0);
        for (int i = 1; i < N; i++)
            ck_assert_ptr_eq(refs[i] = fp_frame_ref(refs[0]), refs[0]);
        ck_assert_int_eq(fp_frame_refcount(refs[0]), N);
        uint64_t released0 = stats().released;

        int dropped = 0;
        for (int i = 0; i < N; i++) {
            if (i == last)
                continue;
            ck_assert_int_eq(fp_frame_unref(&refs[i]), 0);
            dropped++;
            ck_assert_int_eq(fp_frame_refcount(refs[last]), N - dropped);
            ck_assert_int_eq(fp_frame_is_writable(refs[last]), N - dropped == 1);
            fp_pool_stats st = stats();
            ck_assert_uint_eq(st.live, 1);
            ck_assert_uint_eq(st.released, released0);
        }
        ck_assert_int_eq(fp_frame_unref(&refs[last]), 0);
        fp_pool_stats st = stats();
        ck_assert_uint_eq(st.live, 0);
        ck_assert_uint_eq(st.released, released0 + 1);
    }
    ck_assert_uint_eq(stats().misuse, 0);
}
END_TEST

START_TEST(test_many_references)
{
    enum { N = 1000 };
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    for (int i = 0; i < N; i++)
        ck_assert_ptr_eq(fp_frame_ref(f), f);
    ck_assert_int_eq(fp_frame_refcount(f), N + 1);
    for (int i = 0; i < N; i++) {
        fp_frame *r = f;
        ck_assert_int_eq(fp_frame_unref(&r), 0);
    }
    ck_assert_int_eq(fp_frame_refcount(f), 1);
    ck_assert_uint_eq(stats().live, 1);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    ck_assert_uint_eq(stats().live, 0);
}
END_TEST

START_TEST(test_unref_null_safe)
{
    uint64_t global = fp_misuse_count();
    ck_assert_int_eq(fp_frame_unref(NULL), 0);
    fp_frame *n = NULL;
    ck_assert_int_eq(fp_frame_unref(&n), 0);
    ck_assert_ptr_null(n);
    ck_assert_ptr_null(fp_frame_ref(NULL));
    ck_assert_int_eq(fp_frame_refcount(NULL), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_frame_is_writable(NULL), 0);
    fp_frame_set_tag(NULL, "x");

    /* Releasing through the same variable twice is a no-op the second time. */
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    ck_assert_ptr_null(f);

    ck_assert_uint_eq(fp_misuse_count(), global);
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.misuse, 0);
    ck_assert_uint_eq(st.released, 1);
    ck_assert_int_eq(atomic_load(&logbuf.total), 0);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Double release                                                            */

START_TEST(test_double_release)
{
    uint64_t global = fp_misuse_count();
    fp_frame *f = NULL, *other = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &other), 0);
    int acq_line = __LINE__; ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    fp_frame *copy = f;
    int rel1_line = __LINE__; ck_assert_int_eq(fp_frame_unref(&f), 0);
    ck_assert_int_eq(atomic_load(&logbuf.total), 0);

    int rel2_line = __LINE__; ck_assert_int_eq(fp_frame_unref(&copy), FP_ERR(EALREADY));
    ck_assert_ptr_null(copy);

    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.misuse, 1);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_uint_eq(st.acquired, 2);
    ck_assert_uint_eq(st.released, 1);
    ck_assert_uint_eq(fp_misuse_count(), global); /* a pool's frame: counted on the pool */

    ck_assert_int_eq(atomic_load(&logbuf.total), 1);
    const char *line = logbuf.lines[0];
    ck_assert_msg(has_site(line, __FILE__, acq_line), "acquire site %s:%d missing from: %s", __FILE__,
                  acq_line, line);
    ck_assert_msg(has_site(line, __FILE__, rel1_line), "first release site %s:%d missing from: %s",
                  __FILE__, rel1_line, line);
    ck_assert_msg(has_site(line, __FILE__, rel2_line), "second release site %s:%d missing from: %s",
                  __FILE__, rel2_line, line);

    /* The other frame is unaffected and the pool is intact. */
    ck_assert_int_eq(fp_frame_refcount(other), 1);
    ck_assert_int_eq(fp_frame_unref(&other), 0);
    check_pool_intact();
    st = stats();
    ck_assert_uint_eq(st.misuse, 1);
    ck_assert_uint_eq(st.live, 0);
}
END_TEST

/* A reference taken with fp_frame_ref and dropped once too often. */
START_TEST(test_double_release_after_refs)
{
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    fp_frame *r = fp_frame_ref(f);
    fp_frame *stale1 = f, *stale2 = f;
    ck_assert_int_eq(fp_frame_unref(&r), 0);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    ck_assert_uint_eq(stats().live, 0);
    ck_assert_int_eq(fp_frame_unref(&stale1), FP_ERR(EALREADY));
    ck_assert_int_eq(fp_frame_unref(&stale2), FP_ERR(EALREADY));
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.misuse, 2);
    ck_assert_uint_eq(st.released, 1);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_int_eq(atomic_load(&logbuf.total), 2);
    check_pool_intact();
}
END_TEST

START_TEST(test_ref_released_frame)
{
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    fp_frame *stale = f;
    ck_assert_int_eq(fp_frame_unref(&f), 0);

    ck_assert_ptr_null(fp_frame_ref(stale));
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.misuse, 1);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_int_eq(atomic_load(&logbuf.total), 1);
    ck_assert_int_eq(fp_frame_refcount(stale), 0);
    ck_assert_int_eq(fp_frame_is_writable(stale), 0);

    /* The failed ref left no reference behind. */
    check_pool_intact();
    ck_assert_uint_eq(stats().misuse, 1);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Foreign frames                                                            */

enum { FOREIGN_ZEROED, FOREIGN_COPY, FOREIGN_HEAP_COPY, FOREIGN_GARBAGE, FOREIGN_KINDS };

static const char *const foreign_names[FOREIGN_KINDS] = { "zeroed stack frame", "struct copy",
                                                          "heap copy", "garbage block" };

START_TEST(test_foreign_frame)
{
    fp_frame *real = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &real), 0);
    fp_pool_stats before = stats();

    fp_frame stack;
    fp_frame *heap = NULL;
    fp_frame *p = NULL;
    switch (_i) {
    case FOREIGN_ZEROED:
        memset(&stack, 0, sizeof(stack));
        p = &stack;
        break;
    case FOREIGN_COPY:
        stack = *real;
        p = &stack;
        break;
    case FOREIGN_HEAP_COPY:
        heap = malloc(sizeof(*heap)); /* exactly the public struct: reading past it is caught */
        ck_assert_ptr_nonnull(heap);
        memcpy(heap, real, sizeof(*heap));
        p = heap;
        break;
    case FOREIGN_GARBAGE: {
        heap = malloc(sizeof(*heap));
        ck_assert_ptr_nonnull(heap);
        uint32_t x = 0xC0FFEEu;
        unsigned char *b = (unsigned char *)heap;
        for (size_t i = 0; i < sizeof(*heap); i++) {
            x = x * 1103515245u + 12345u;
            b[i] = (unsigned char)(x >> 16);
        }
        p = heap;
        break;
    }
    default:
        ck_abort_msg("bad loop index %d", _i);
    }
    const char *what = foreign_names[_i];
    fp_frame *keep = p;

    uint64_t g0 = fp_misuse_count();
    ck_assert_msg(fp_frame_unref(&p) == FP_ERR(EINVAL), "%s: unref did not return EINVAL", what);
    ck_assert_msg(p == NULL, "%s: unref left the pointer set", what);
    ck_assert_msg(fp_misuse_count() == g0 + 1, "%s: misuse count %llu -> %llu after unref", what,
                  (unsigned long long)g0, (unsigned long long)fp_misuse_count());

    uint64_t g1 = fp_misuse_count();
    ck_assert_msg(fp_frame_ref(keep) == NULL, "%s: ref did not return NULL", what);
    ck_assert_msg(fp_misuse_count() == g1 + 1, "%s: misuse count %llu -> %llu after ref", what,
                  (unsigned long long)g1, (unsigned long long)fp_misuse_count());

    ck_assert_msg(fp_frame_refcount(keep) == FP_ERR(EINVAL), "%s: refcount %d", what,
                  fp_frame_refcount(keep));
    ck_assert_msg(fp_frame_is_writable(keep) == 0, "%s: reported writable", what);
    fp_frame_set_tag(keep, "foreign");

    /* The pool whose frame was copied saw nothing. */
    fp_pool_stats after = stats();
    ck_assert_uint_eq(after.misuse, before.misuse);
    ck_assert_uint_eq(after.live, 1);
    ck_assert_uint_eq(after.acquired, before.acquired);
    ck_assert_uint_eq(after.released, before.released);
    ck_assert_int_eq(fp_frame_refcount(real), 1);
    ck_assert_int_eq(fp_frame_is_writable(real), 1);
    ck_assert_int_eq(atomic_load(&logbuf.total), 0);

    free(heap);
    ck_assert_int_eq(fp_frame_unref(&real), 0);
    check_pool_intact();
}
END_TEST

/* ------------------------------------------------------------------------- */
/* FP_POOL_STRICT                                                            */

static fp_pool *strict_pool;

static void strict_setup(void)
{
    strict_pool = make_pool(FP_POOL_STRICT);
}

static void strict_teardown(void)
{
    fp_pool_unref(&strict_pool);
}

START_TEST(test_strict_double_release_aborts)
{
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(strict_pool, 0, &f), 0);
    fp_frame *copy = f;
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    fp_frame_unref(&copy); /* must not return */
    ck_abort_msg("FP_POOL_STRICT: double release returned");
}
END_TEST

START_TEST(test_strict_ref_released_aborts)
{
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(strict_pool, 0, &f), 0);
    fp_frame *stale = f;
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    (void)fp_frame_ref(stale); /* must not return */
    ck_abort_msg("FP_POOL_STRICT: ref of a released frame returned");
}
END_TEST

/* Correct use of a strict pool does not abort. */
START_TEST(test_strict_correct_use)
{
    fp_frame *f[MAX_FRAMES] = { NULL }, *extra = NULL;
    for (int i = 0; i < MAX_FRAMES; i++)
        ck_assert_int_eq(fp_pool_acquire(strict_pool, 0, &f[i]), 0);
    ck_assert_int_eq(fp_pool_acquire(strict_pool, 0, &extra), FP_ERR(EAGAIN));
    fp_frame *r = fp_frame_ref(f[0]);
    ck_assert_int_eq(fp_frame_unref(&r), 0);
    ck_assert_int_eq(fp_frame_unref(&r), 0);
    ck_assert_int_eq(fp_frame_unref(NULL), 0);
    for (int i = 0; i < MAX_FRAMES; i++)
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(strict_pool, &st), 0);
    ck_assert_uint_eq(st.misuse, 0);
    ck_assert_uint_eq(st.live, 0);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Tags                                                                      */

typedef struct tag_seen {
    int count;
    const fp_frame *want;
    int found;
    char tag[64];
    int tagged; /* frames with a non-empty tag */
} tag_seen;

static int collect_tag(const fp_live_frame *live, void *ud)
{
    tag_seen *ts = ud;
    ts->count++;
    if (live->tag && live->tag[0])
        ts->tagged++;
    if (live->frame == ts->want) {
        ts->found++;
        snprintf(ts->tag, sizeof(ts->tag), "%s", live->tag ? live->tag : "(null)");
    }
    return 0;
}

static tag_seen tag_of(const fp_frame *f)
{
    tag_seen ts = { 0 };
    ts.want = f;
    ck_assert_int_eq(fp_pool_foreach_live(pool, collect_tag, &ts), 0);
    if (f)
        ck_assert_int_eq(ts.found, 1);
    return ts;
}

START_TEST(test_tag_copied)
{
    fp_frame *f = NULL, *g = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &g), 0);
    ck_assert_str_eq(tag_of(f).tag, "");

    char *buf = strdup("stream-7");
    ck_assert_ptr_nonnull(buf);
    fp_frame_set_tag(f, buf);
    memset(buf, 'X', strlen(buf));
    free(buf);

    tag_seen ts = tag_of(f);
    ck_assert_str_eq(ts.tag, "stream-7");
    ck_assert_int_eq(ts.count, 2);
    ck_assert_int_eq(ts.tagged, 1);
    ck_assert_str_eq(tag_of(g).tag, "");

    fp_frame_set_tag(f, "other");
    ck_assert_str_eq(tag_of(f).tag, "other");
    fp_frame_set_tag(f, NULL);
    ck_assert_str_eq(tag_of(f).tag, "");
    fp_frame_set_tag(f, "");
    ck_assert_str_eq(tag_of(f).tag, "");

    ck_assert_int_eq(fp_frame_unref(&f), 0);
    ck_assert_int_eq(fp_frame_unref(&g), 0);
}
END_TEST

START_TEST(test_tag_truncated)
{
    static const size_t lens[] = { FP_TAG_MAX - 1, FP_TAG_MAX, FP_TAG_MAX + 1, 40, 200 };
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        char tag[256];
        for (size_t i = 0; i < lens[k]; i++)
            tag[i] = (char)('A' + i % 26);
        tag[lens[k]] = '\0';
        fp_frame_set_tag(f, tag);
        tag_seen ts = tag_of(f);
        size_t want = lens[k] < FP_TAG_MAX ? lens[k] : FP_TAG_MAX;
        ck_assert_msg(strlen(ts.tag) == want, "tag of %zu bytes reported with %zu", lens[k],
                      strlen(ts.tag));
        ck_assert_msg(memcmp(ts.tag, tag, want) == 0, "tag of %zu bytes reported as \"%s\"", lens[k],
                      ts.tag);
    }
    /* A shorter tag after a long one leaves nothing of the old one. */
    fp_frame_set_tag(f, "ab");
    ck_assert_str_eq(tag_of(f).tag, "ab");
    ck_assert_int_eq(fp_frame_unref(&f), 0);
}
END_TEST

START_TEST(test_tag_cleared_on_return)
{
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    fp_frame_set_tag(f, "gone-soon");
    ck_assert_int_eq(fp_frame_unref(&f), 0);

    fp_frame *all[MAX_FRAMES] = { NULL };
    for (int i = 0; i < MAX_FRAMES; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &all[i]), 0);
    tag_seen ts = tag_of(NULL);
    ck_assert_int_eq(ts.count, MAX_FRAMES);
    ck_assert_int_eq(ts.tagged, 0);
    for (int i = 0; i < MAX_FRAMES; i++)
        ck_assert_int_eq(fp_frame_unref(&all[i]), 0);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("refcount");

    TCase *tc = tcase_create("count");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ref_unref_counts);
    tcase_add_test(tc, test_last_reference_returns_slot);
    tcase_add_test(tc, test_many_references);
    tcase_add_test(tc, test_unref_null_safe);
    suite_add_tcase(s, tc);

    tc = tcase_create("misuse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_double_release);
    tcase_add_test(tc, test_double_release_after_refs);
    tcase_add_test(tc, test_ref_released_frame);
    tcase_add_loop_test(tc, test_foreign_frame, 0, FOREIGN_KINDS);
    suite_add_tcase(s, tc);

    tc = tcase_create("strict");
    tcase_add_checked_fixture(tc, strict_setup, strict_teardown);
    tcase_add_test(tc, test_strict_correct_use);
    /* An abort ends the process: only testable when Check forks per test. */
    const char *fork_env = getenv("CK_FORK");
    if (!fork_env || strcmp(fork_env, "no") != 0) {
        tcase_add_test_raise_signal(tc, test_strict_double_release_aborts, SIGABRT);
        tcase_add_test_raise_signal(tc, test_strict_ref_released_aborts, SIGABRT);
    }
    suite_add_tcase(s, tc);

    tc = tcase_create("tag");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tag_copied);
    tcase_add_test(tc, test_tag_truncated);
    tcase_add_test(tc, test_tag_cleared_on_return);
    suite_add_tcase(s, tc);

    return s;
}
