/*
 * Suite "track": acquire/release sites, tags, threads, ages, checkpoints,
 * long-lived frames, the watchdog, reports and leak reports.
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common.h"

static fp_pool *pool;
static test_log tlog;

static void setup(void)
{
    test_log_reset(&tlog);
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 64, 32, 8, &tlog);
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
}

static void teardown(void)
{
    fp_pool_unref(&pool);
}

#define MAX_SEEN 16
typedef struct seen {
    int n;
    fp_live_frame f[MAX_SEEN];
    char tags[MAX_SEEN][32];
} seen;

static int collect(const fp_live_frame *live, void *ud)
{
    seen *s = ud;
    if (s->n < MAX_SEEN) {
        s->f[s->n] = *live;
        snprintf(s->tags[s->n], sizeof(s->tags[0]), "%s", live->tag);
        s->f[s->n].tag = s->tags[s->n];
        s->n++;
    }
    return 0;
}

START_TEST(site_recorded_exactly)
{
    fp_frame *f;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0); const int line = __LINE__;
    seen s = { 0 };
    ck_assert_int_eq(fp_pool_foreach_live(pool, collect, &s), 0);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_eq(s.f[0].frame, f);
    ck_assert_str_eq(s.f[0].file, __FILE__);
    ck_assert_int_eq(s.f[0].line, line);
    ck_assert_str_eq(s.f[0].func, __func__);
    ck_assert_uint_eq(s.f[0].thread, (uint64_t)syscall(SYS_gettid));
    ck_assert_int_eq(s.f[0].refcount, 1);
    ck_assert_str_eq(s.f[0].tag, "");
    ck_assert_int_eq(s.f[0].long_lived, 0);
    fp_frame_ref(f);
    s.n = 0;
    fp_pool_foreach_live(pool, collect, &s);
    ck_assert_int_eq(s.f[0].refcount, 2);
    fp_frame_unref(&f);
    ck_assert_ptr_null(f);
    s.n = 0;
    fp_pool_foreach_live(pool, collect, &s);
    ck_assert_int_eq(s.n, 1); /* one reference left */
}
END_TEST

static void *acquire_in_thread(void *arg)
{
    fp_frame **out = arg;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, out), 0);
    return (void *)(uintptr_t)syscall(SYS_gettid);
}

START_TEST(thread_recorded)
{
    fp_frame *f = NULL;
    pthread_t th;
    void *tid;
    pthread_create(&th, NULL, acquire_in_thread, &f);
    pthread_join(th, &tid);
    ck_assert_ptr_nonnull(f);
    seen s = { 0 };
    fp_pool_foreach_live(pool, collect, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_uint_eq(s.f[0].thread, (uint64_t)(uintptr_t)tid);
    ck_assert_uint_ne(s.f[0].thread, (uint64_t)syscall(SYS_gettid));
    fp_frame_unref(&f);
}
END_TEST

START_TEST(tags_copied_and_cleared)
{
    fp_frame *f, *g;
    char buf[64];
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    strcpy(buf, "stream-7");
    fp_frame_set_tag(f, buf);
    memset(buf, 'x', sizeof(buf) - 1); /* the pool kept a copy */
    buf[sizeof(buf) - 1] = '\0';
    seen s = { 0 };
    fp_pool_foreach_live(pool, collect, &s);
    ck_assert_str_eq(s.f[0].tag, "stream-7");
    fp_frame_set_tag(f, buf); /* 63 bytes: truncated to FP_TAG_MAX */
    s.n = 0;
    fp_pool_foreach_live(pool, collect, &s);
    ck_assert_uint_eq(strlen(s.f[0].tag), FP_TAG_MAX);
    fp_frame_unref(&f);
    /* LIFO: the same slot comes back, without the old tag */
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &g), 0);
    s.n = 0;
    fp_pool_foreach_live(pool, collect, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_str_eq(s.f[0].tag, "");
    fp_frame_set_tag(g, NULL);
    fp_frame_unref(&g);
}
END_TEST

START_TEST(oldest_first_and_ages)
{
    fp_frame *f[3];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
        if (i == 0)
            test_sleep_us(60000);
    }
    seen s = { 0 };
    fp_pool_foreach_live(pool, collect, &s);
    ck_assert_int_eq(s.n, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_eq(s.f[i].frame, f[i]);
    ck_assert_uint_lt(s.f[0].seq, s.f[1].seq);
    ck_assert_uint_lt(s.f[1].seq, s.f[2].seq);
    /* The hot-path clock is coarse (one scheduler tick), hence the margin. */
    ck_assert_uint_ge(s.f[0].age_ns, 40000000u);
    ck_assert_uint_ge(s.f[0].age_ns, s.f[2].age_ns);
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    ck_assert_uint_ge(st.oldest_live_ns, 40000000u);
    for (int i = 0; i < 3; i++)
        fp_frame_unref(&f[i]);
    fp_pool_get_stats(pool, &st);
    ck_assert_uint_eq(st.oldest_live_ns, 0);
}
END_TEST

static int stop_after_one(const fp_live_frame *live, void *ud)
{
    (void)live;
    (*(int *)ud)++;
    return 42;
}

START_TEST(foreach_stops)
{
    fp_frame *a, *b;
    fp_pool_acquire(pool, 0, &a);
    fp_pool_acquire(pool, 0, &b);
    int calls = 0;
    ck_assert_int_eq(fp_pool_foreach_live(pool, stop_after_one, &calls), 42);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(fp_pool_foreach_live(NULL, stop_after_one, &calls), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_pool_foreach_live(pool, NULL, NULL), FP_ERR(EINVAL));
    fp_frame_unref(&a);
    fp_frame_unref(&b);
}
END_TEST

START_TEST(checkpoint_lists_what_was_taken_since)
{
    fp_frame *before, *b, *c;
    fp_pool_acquire(pool, 0, &before);
    uint64_t cp = fp_pool_checkpoint(pool);
    fp_pool_acquire(pool, 0, &b);
    fp_pool_acquire(pool, 0, &c);
    fp_frame_unref(&b);
    seen s = { 0 };
    ck_assert_int_eq(fp_pool_foreach_live_since(pool, cp, collect, &s), 0);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_eq(s.f[0].frame, c);
    ck_assert_uint_gt(s.f[0].seq, cp);
    /* A later checkpoint sees nothing new. */
    s.n = 0;
    fp_pool_foreach_live_since(pool, fp_pool_checkpoint(pool), collect, &s);
    ck_assert_int_eq(s.n, 0);
    /* Checkpoint 0 means everything. */
    s.n = 0;
    fp_pool_foreach_live_since(pool, 0, collect, &s);
    ck_assert_int_eq(s.n, 2);
    ck_assert_uint_eq(fp_pool_checkpoint(NULL), 0);
    fp_frame_unref(&before);
    fp_frame_unref(&c);
}
END_TEST

START_TEST(double_release_names_both_sites)
{
    fp_frame *f, *copy;
    char acq[64], rel1[64], rel2[64];
    fp_pool_acquire(pool, 0, &f); snprintf(acq, sizeof(acq), "%s:%d", __FILE__, __LINE__);
    copy = f;
    fp_frame_unref(&f); snprintf(rel1, sizeof(rel1), "%s:%d", __FILE__, __LINE__);
    ck_assert_int_eq(fp_frame_unref(&copy), FP_ERR(EALREADY)); snprintf(rel2, sizeof(rel2), "%s:%d", __FILE__, __LINE__);
    ck_assert(test_log_has(&tlog, "double release"));
    ck_assert(test_log_has(&tlog, acq));
    ck_assert(test_log_has(&tlog, rel1));
    ck_assert(test_log_has(&tlog, rel2));
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    ck_assert_uint_eq(st.misuse, 1);
    ck_assert_uint_eq(st.live, 0);
}
END_TEST

static int report_to_string(fp_pool *p, char *buf, size_t n)
{
    FILE *m = fmemopen(buf, n, "w");
    ck_assert_ptr_nonnull(m);
    int ret = fp_pool_report(p, m);
    fclose(m);
    return ret;
}

static void acquire_site_b(fp_frame **f)
{
    ck_assert_int_eq(fp_pool_acquire(pool, 0, f), 0);
}

START_TEST(report_groups_by_site_oldest_first)
{
    fp_frame *a[3], *b[2];
    for (int i = 0; i < 2; i++)
        acquire_site_b(&b[i]);
    test_sleep_us(20000);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &a[i]), 0);
    fp_frame_set_tag(b[0], "cam-2");
    static char buf[8192];
    ck_assert_int_eq(report_to_string(pool, buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "pool \"test\""));
    ck_assert_ptr_nonnull(strstr(buf, "live 5"));
    char *site_b = strstr(buf, "in acquire_site_b()");
    char *site_a = strstr(buf, "in report_groups_by_site_oldest_first_fn()");
    ck_assert_ptr_nonnull(site_b);
    ck_assert_ptr_nonnull(site_a);
    ck_assert(site_b < site_a); /* oldest site first */
    ck_assert_ptr_nonnull(strstr(buf, "   2  oldest"));
    ck_assert_ptr_nonnull(strstr(buf, "   3  oldest"));
    ck_assert_ptr_nonnull(strstr(buf, "tag \"cam-2\""));
    for (int i = 0; i < 3; i++)
        fp_frame_unref(&a[i]);
    for (int i = 0; i < 2; i++)
        fp_frame_unref(&b[i]);
    ck_assert_int_eq(report_to_string(pool, buf, sizeof(buf)), 0);
    ck_assert_ptr_null(strstr(buf, "live frames by acquire site"));
    ck_assert_int_eq(fp_pool_report(NULL, stdout), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_pool_report(pool, NULL), FP_ERR(EINVAL));
}
END_TEST

START_TEST(leak_report_on_last_unref)
{
    fp_frame *f, *kept;
    char site[64];
    fp_pool_acquire(pool, 0, &f); snprintf(site, sizeof(site), "%s:%d", __FILE__, __LINE__);
    fp_pool_acquire(pool, 0, &kept);
    fp_frame_set_long_lived(kept);
    fp_pool *p = pool;
    pool = NULL;
    fp_pool_unref(&p);
    ck_assert(test_log_has(&tlog, "1 frame still live"));
    ck_assert(test_log_has(&tlog, site));
    /* the long-lived frame is not reported as a leak */
    int leak_lines = 0;
    for (int i = 0; i < atomic_load(&tlog.count); i++)
        leak_lines += strstr(tlog.lines[i], "leak:") != NULL;
    ck_assert_int_eq(leak_lines, 1);
    fp_frame_unref(&f);
    fp_frame_unref(&kept); /* frees the pool */
}
END_TEST

static void acquire_at_one_site(fp_frame **f)
{
    ck_assert_int_eq(fp_pool_acquire(pool, 0, f), 0);
}

START_TEST(leak_report_leaves_out_long_lived_of_the_same_site)
{
    fp_frame *kept, *leaked;
    acquire_at_one_site(&kept);
    fp_frame_set_long_lived(kept);
    fp_frame_set_tag(kept, "logo");
    test_sleep_us(150000);
    acquire_at_one_site(&leaked);
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    /* the kept frame is older, but oldest_live_ns only counts frames that may be leaks */
    ck_assert_uint_lt(st.oldest_live_ns, 100000000u);
    fp_pool *p = pool;
    pool = NULL;
    fp_pool_unref(&p);
    ck_assert(test_log_has(&tlog, "1 frame still live"));
    int leak_lines = 0;
    for (int i = 0; i < atomic_load(&tlog.count); i++) {
        if (strstr(tlog.lines[i], "leak:")) {
            leak_lines++;
            ck_assert_msg(strstr(tlog.lines[i], "   1  oldest"), "%s", tlog.lines[i]);
            ck_assert_msg(!strstr(tlog.lines[i], "logo"), "%s", tlog.lines[i]);
        }
    }
    ck_assert_int_eq(leak_lines, 1);
    fp_frame_unref(&leaked);
    fp_frame_unref(&kept);
}
END_TEST

START_TEST(no_leak_report_when_clean)
{
    fp_frame *f;
    fp_pool_acquire(pool, 0, &f);
    fp_frame_unref(&f);
    fp_pool_unref(&pool);
    ck_assert_int_eq(atomic_load(&tlog.total), 0);
}
END_TEST

START_TEST(long_lived_listed_but_not_leaked)
{
    fp_frame *f;
    fp_pool_acquire(pool, 0, &f);
    ck_assert_int_eq(fp_frame_set_long_lived(f), 0);
    seen s = { 0 };
    fp_pool_foreach_live(pool, collect, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.f[0].long_lived, 1);
    ck_assert_int_eq(fp_frame_set_long_lived(NULL), FP_ERR(EINVAL));
    fp_frame_unref(&f);
    /* cleared on return */
    fp_pool_acquire(pool, 0, &f);
    s.n = 0;
    fp_pool_foreach_live(pool, collect, &s);
    ck_assert_int_eq(s.f[0].long_lived, 0);
    fp_frame_unref(&f);
}
END_TEST

typedef struct wd_hits {
    int n;
    const fp_frame *last;
    int line;
} wd_hits;

static void wd_cb(const fp_live_frame *live, void *ud)
{
    wd_hits *h = ud;
    h->n++;
    h->last = live->frame;
    h->line = live->line;
}

START_TEST(watchdog_fires_once_per_stale_frame)
{
    wd_hits hits = { 0 };
    fp_frame *stale, *fresh, *ll;
    ck_assert_int_eq(fp_pool_set_watchdog(pool, 30000, wd_cb, &hits), 0);
    fp_pool_acquire(pool, 0, &stale); const int line = __LINE__;
    fp_pool_acquire(pool, 0, &ll);
    fp_frame_set_long_lived(ll);
    ck_assert_int_eq(fp_pool_watchdog_check(pool), 0);
    test_sleep_us(80000);
    fp_pool_acquire(pool, 0, &fresh); /* an acquire after max_age/4 scans */
    ck_assert_int_eq(hits.n, 1);
    ck_assert_ptr_eq(hits.last, stale);
    ck_assert_int_eq(hits.line, line);
    ck_assert_int_eq(fp_pool_watchdog_check(pool), 0); /* once */
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    ck_assert_int_eq(hits.n, 1);
    /* A new acquisition of the same slot can be reported again. */
    fp_frame_unref(&stale);
    fp_pool_acquire(pool, 0, &stale);
    test_sleep_us(80000);
    ck_assert_int_eq(fp_pool_watchdog_check(pool), 2); /* stale and fresh */
    ck_assert_int_eq(hits.n, 3);
    /* Off. */
    ck_assert_int_eq(fp_pool_set_watchdog(pool, 0, NULL, NULL), 0);
    fp_frame_unref(&stale);
    fp_pool_acquire(pool, 0, &stale);
    test_sleep_us(10000);
    ck_assert_int_eq(fp_pool_watchdog_check(pool), 0);
    ck_assert_int_eq(fp_pool_set_watchdog(pool, -1, NULL, NULL), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_pool_watchdog_check(NULL), FP_ERR(EINVAL));
    fp_frame_unref(&stale);
    fp_frame_unref(&fresh);
    fp_frame_unref(&ll);
}
END_TEST

START_TEST(watchdog_logs_without_callback)
{
    fp_frame *f;
    ck_assert_int_eq(fp_pool_set_watchdog(pool, 10000, NULL, NULL), 0);
    fp_pool_acquire(pool, 0, &f); char site[64]; snprintf(site, sizeof(site), "%s:%d", __FILE__, __LINE__);
    fp_frame_set_tag(f, "slow-consumer");
    test_sleep_us(40000);
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st); /* a read: runs no watchdog */
    ck_assert(!test_log_has(&tlog, "watchdog"));
    ck_assert_int_eq(fp_pool_maintain(pool), 0); /* the explicit step does */
    ck_assert(test_log_has(&tlog, "watchdog"));
    ck_assert(test_log_has(&tlog, site));
    ck_assert(test_log_has(&tlog, "slow-consumer"));
    fp_frame_unref(&f);
}
END_TEST

START_TEST(untracked_pool)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 16, 16, 4, &tlog);
    cfg.flags = FP_POOL_NO_TRACK;
    fp_pool *p;
    ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
    fp_frame *f;
    fp_pool_acquire(p, 0, &f);
    seen s = { 0 };
    fp_pool_foreach_live(p, collect, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_null(s.f[0].file);
    ck_assert_int_eq(fp_pool_set_watchdog(p, 1000, NULL, NULL), FP_ERR(EINVAL));
    static char buf[4096];
    ck_assert_int_eq(report_to_string(p, buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "untracked"));
    fp_frame *copy = f;
    fp_frame_unref(&f);
    ck_assert_int_eq(fp_frame_unref(&copy), FP_ERR(EALREADY));
    fp_pool_unref(&p);
}
END_TEST

/* FRAMEPOOL_TRACE=leaks: a child process leaks a frame and exits. */
static int run_child(const char *env, char *out, size_t n, int *status)
{
    const char *child = getenv("FP_LEAK_CHILD");
    ck_assert_msg(child != NULL, "FP_LEAK_CHILD is not set (run through meson test)");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s 2>&1", env, child);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t len = fread(out, 1, n - 1, p);
    out[len] = '\0';
    *status = pclose(p);
    return (int)len;
}

START_TEST(trace_leaks_at_exit)
{
    static char out[8192];
    int status;
    run_child("FRAMEPOOL_TRACE=leaks", out, sizeof(out), &status);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0); /* exit status unchanged */
    ck_assert_msg(strstr(out, "process exit (FRAMEPOOL_TRACE=leaks) with 1 frame still live"), "%s", out);
    ck_assert_msg(strstr(out, "leak-child.c:"), "%s", out);
    ck_assert_msg(strstr(out, "in handle_request()"), "%s", out);
    ck_assert_msg(strstr(out, "tag \"request-42\""), "%s", out);
    ck_assert_msg(!strstr(out, "pool \"clean\""), "%s", out); /* clean pools say nothing */

    run_child("FRAMEPOOL_TRACE=", out, sizeof(out), &status);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_msg(!strstr(out, "leak"), "%s", out);
}
END_TEST

/* Issue 12 item 14: FRAMEPOOL_TRACE is a list of whole words; an unknown
 * word warns once and turns nothing on. */
START_TEST(trace_words_parsed)
{
    static char out[8192];
    int status;
    static const char *const off[] = { "FRAMEPOOL_TRACE=noleaks", "FRAMEPOOL_TRACE=leaks=0",
                                       "FRAMEPOOL_TRACE=leaks,noleaks", "FRAMEPOOL_TRACE=leaksx" };
    for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
        run_child(off[i], out, sizeof(out), &status);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ck_assert_msg(!strstr(out, "still live"), "%s: %s", off[i], out);
    }
    ck_assert_msg(strstr(out, "FRAMEPOOL_TRACE: unknown word \"leaksx\" ignored"), "%s", out);

    run_child("FRAMEPOOL_TRACE=' bogus , leaks=1,other'", out, sizeof(out), &status);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_msg(strstr(out, "with 1 frame still live"), "%s", out);
    ck_assert_msg(strstr(out, "unknown word \"bogus\""), "%s", out);
    int warnings = 0;
    for (const char *c = out; (c = strstr(c, "unknown word")); c++)
        warnings++;
    ck_assert_int_eq(warnings, 1); /* once, naming the first */
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Sites: the `_at` functions (file, line, func looked up in the site table)
 * and the `_site` ones (a pointer) record the same thing. */

static const char dyn_file[] = "wrapper.c";
static const char dyn_func[] = "wrapped_acquire";

START_TEST(at_and_site_record_the_same)
{
    static const fp_site here = { "static.c", "static_fn", 7 };
    fp_frame *a, *b, *c;
    ck_assert_int_eq(fp_pool_acquire_at(pool, 0, &a, dyn_file, 42, dyn_func), 0);
    ck_assert_int_eq(fp_pool_acquire_site(pool, 0, &b, &here), 0);
    ck_assert_int_eq(fp_pool_acquire_site(pool, 0, &c, NULL), 0);
    seen s = { 0 };
    fp_pool_foreach_live(pool, collect, &s);
    ck_assert_int_eq(s.n, 3);
    for (int i = 0; i < 3; i++) {
        if (s.f[i].frame == a) {
            ck_assert_ptr_eq(s.f[i].file, dyn_file); /* the caller's string, not a copy */
            ck_assert_int_eq(s.f[i].line, 42);
            ck_assert_ptr_eq(s.f[i].func, dyn_func);
        } else if (s.f[i].frame == b) {
            ck_assert_str_eq(s.f[i].file, "static.c");
            ck_assert_int_eq(s.f[i].line, 7);
            ck_assert_str_eq(s.f[i].func, "static_fn");
        } else {
            ck_assert_ptr_eq(s.f[i].frame, c);
            ck_assert_ptr_null(s.f[i].file); /* unknown site */
            ck_assert_int_eq(s.f[i].line, 0);
        }
    }
    /* Release sites too: a double release names the `_at` and `_site` ones. */
    fp_frame *copy = a;
    static const fp_site rel = { "release.c", "release_fn", 9 };
    ck_assert_int_eq(fp_frame_unref_site(&a, &rel), 0);
    ck_assert_int_eq(fp_frame_unref_at(&copy, dyn_file, 77, dyn_func), FP_ERR(EALREADY));
    ck_assert(test_log_has(&tlog, "at wrapper.c:77 in wrapped_acquire(): acquired at wrapper.c:42 in "
                                  "wrapped_acquire(), already released at release.c:9 in release_fn()"));
    ck_assert_int_eq(fp_frame_unref_site(&b, NULL), 0);
    ck_assert_int_eq(fp_frame_unref_at(&c, NULL, 0, NULL), 0);
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.misuse, 1);
}
END_TEST

START_TEST(site_table_overflow_is_bounded)
{
    /* More distinct `_at` sites than the table holds: every acquire still
     * works, later sites are recorded as the overflow site, logged once. */
    fp_frame *f;
    int overflowed = 0;
    for (int line = 1; line <= 5000; line++) {
        ck_assert_int_eq(fp_pool_acquire_at(pool, 0, &f, dyn_file, line, dyn_func), 0);
        seen s = { 0 };
        fp_pool_foreach_live(pool, collect, &s);
        ck_assert_int_eq(s.n, 1);
        if (s.f[0].line == line)
            ck_assert_ptr_eq(s.f[0].file, dyn_file);
        else {
            ck_assert_int_gt(line, 2048); /* a half-full table finds room for every site */
            ck_assert_int_eq(s.f[0].line, 0);
            ck_assert_ptr_nonnull(strstr(s.f[0].file, "distinct call sites"));
            overflowed++;
        }
        ck_assert_int_eq(fp_frame_unref_at(&f, dyn_file, line, dyn_func), 0);
    }
    ck_assert_int_ge(overflowed, 5000 - 4096);
    ck_assert_int_le(overflowed, 5000 - 3686); /* the table fills to at least 90% */
    /* A site seen before still maps to its entry. */
    ck_assert_int_eq(fp_pool_acquire_at(pool, 0, &f, dyn_file, 1, dyn_func), 0);
    seen s = { 0 };
    fp_pool_foreach_live(pool, collect, &s);
    ck_assert_int_eq(s.f[0].line, 1);
    fp_frame_unref(&f);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Walks under concurrency                                                   */

#define BIG_POOL 8192
#define CHURN 96

typedef struct churn_arg {
    fp_pool *pool;
    _Atomic int stop;
    _Atomic long cycles;
} churn_arg;

/* Takes CHURN frames (the lowest slots, see below) and gives them back. */
static void *churn_low_slots(void *ud)
{
    churn_arg *a = ud;
    fp_frame *f[CHURN];
    while (!atomic_load(&a->stop)) {
        int n = 0;
        while (n < CHURN && fp_pool_acquire(a->pool, 0, &f[n]) == 0)
            n++;
        while (n)
            fp_frame_unref(&f[--n]);
        atomic_fetch_add(&a->cycles, 1);
    }
    return NULL;
}

typedef struct find_arg {
    const fp_frame *want;
    int found;
    int n;
} find_arg;

static int find_frame(const fp_live_frame *live, void *ud)
{
    find_arg *a = ud;
    a->found += live->frame == a->want;
    a->n++;
    return 0;
}

static int by_address(const void *x, const void *y)
{
    const fp_frame *a = *(fp_frame *const *)x, *b = *(fp_frame *const *)y;
    return a < b ? -1 : a > b;
}

/* Issue 12 item 6: a frame live for the whole walk is always listed, even
 * when frames acquired during the walk outnumber the live count taken before
 * it (the snapshot array used to stop at that count plus 8). */
START_TEST(walk_never_omits_a_frame_live_throughout)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 16, 16, BIG_POOL, &tlog);
    fp_pool *big;
    ck_assert_int_eq(fp_pool_create(&big, &cfg), 0);
    static fp_frame *all[BIG_POOL];
    for (int i = 0; i < BIG_POOL; i++)
        ck_assert_int_eq(fp_pool_acquire(big, 0, &all[i]), 0);
    /* Slots are one array: the highest address is the last slot a walk
     * visits. Keep it; release the rest highest first, so the free list
     * hands out the lowest slots first. */
    qsort(all, BIG_POOL, sizeof(all[0]), by_address);
    fp_frame *old = all[BIG_POOL - 1];
    fp_frame_set_tag(old, "old");
    for (int i = BIG_POOL - 2; i >= 0; i--)
        fp_frame_unref(&all[i]);

    churn_arg ca = { .pool = big };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, churn_low_slots, &ca), 0);
    while (atomic_load(&ca.cycles) < 2)
        sched_yield();
    int walks = 0, missed = 0, crowded = 0;
    uint64_t end = test_now_ns() + 1500000000ull;
    while (walks < 2000 && test_now_ns() < end) {
        find_arg fa = { .want = old };
        ck_assert_int_eq(fp_pool_foreach_live(big, find_frame, &fa), 0);
        walks++;
        missed += fa.found != 1;
        crowded += fa.n > 9;
    }
    atomic_store(&ca.stop, 1);
    pthread_join(th, NULL);
    ck_assert_msg(missed == 0, "%d of %d walks missed the old frame (churn cycles %ld, %d crowded walks)", missed,
                  walks, atomic_load(&ca.cycles), crowded);
    ck_assert_int_gt(walks, 10);

    /* The JSON export and the report list it too (they walk the same way). */
    fp_frame_unref(&old);
    fp_pool_unref(&big);
}
END_TEST

typedef struct tag_arg {
    fp_frame *frame;
    _Atomic int stop;
    _Atomic long sets;
} tag_arg;

#define TAG_A "aaaaaaaaaaaaaaaaaaaaaaa" /* 23 bytes: all three words */
#define TAG_B "bbbbbbbbbbbbbbbb"        /* 16 bytes: two words and a NUL word */

static void *flip_tags(void *ud)
{
    tag_arg *a = ud;
    for (long i = 0; !atomic_load(&a->stop); i++) {
        fp_frame_set_tag(a->frame, (i & 1) ? TAG_B : TAG_A);
        atomic_fetch_add(&a->sets, 1);
    }
    return NULL;
}

typedef struct tag_seen {
    long a, b, torn;
    char bad[32];
} tag_seen;

static int check_tag(const fp_live_frame *live, void *ud)
{
    tag_seen *t = ud;
    if (!strcmp(live->tag, TAG_A))
        t->a++;
    else if (!strcmp(live->tag, TAG_B))
        t->b++;
    else if (!t->torn++)
        snprintf(t->bad, sizeof(t->bad), "%s", live->tag);
    return 0;
}

/* Issue 12 item 10: a walk reads a tag as one of the values set, never a mix
 * of two (the setter runs while the walker copies the record). */
START_TEST(tags_never_torn)
{
    fp_frame *f;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    fp_frame_set_tag(f, TAG_A);
    tag_arg ta = { .frame = f };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, flip_tags, &ta), 0);
    tag_seen t = { 0 };
    uint64_t end = test_now_ns() + 500000000ull;
    long walks = 0;
    while ((walks < 20000 || atomic_load(&ta.sets) < 1000) && test_now_ns() < end) {
        ck_assert_int_eq(fp_pool_foreach_live(pool, check_tag, &t), 0);
        walks++;
    }
    atomic_store(&ta.stop, 1);
    pthread_join(th, NULL);
    ck_assert_msg(t.torn == 0, "%ld of %ld walks saw a torn tag (e.g. \"%s\")", t.torn, walks, t.bad);
    ck_assert_int_eq(t.a + t.b, walks);
    ck_assert_int_gt(atomic_load(&ta.sets), 0);
    fp_frame_unref(&f);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("track");
    TCase *tc = tcase_create("records");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, site_recorded_exactly);
    tcase_add_test(tc, thread_recorded);
    tcase_add_test(tc, tags_copied_and_cleared);
    tcase_add_test(tc, oldest_first_and_ages);
    tcase_add_test(tc, foreach_stops);
    tcase_add_test(tc, checkpoint_lists_what_was_taken_since);
    tcase_add_test(tc, double_release_names_both_sites);
    tcase_add_test(tc, long_lived_listed_but_not_leaked);
    tcase_add_test(tc, untracked_pool);
    suite_add_tcase(s, tc);

    tc = tcase_create("reports");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, report_groups_by_site_oldest_first);
    tcase_add_test(tc, leak_report_on_last_unref);
    tcase_add_test(tc, leak_report_leaves_out_long_lived_of_the_same_site);
    tcase_add_test(tc, no_leak_report_when_clean);
    tcase_add_test(tc, trace_leaks_at_exit);
    tcase_add_test(tc, trace_words_parsed);
    suite_add_tcase(s, tc);

    tc = tcase_create("watchdog");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, watchdog_fires_once_per_stale_frame);
    tcase_add_test(tc, watchdog_logs_without_callback);
    suite_add_tcase(s, tc);

    tc = tcase_create("sites");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, at_and_site_record_the_same);
    tcase_add_test(tc, site_table_overflow_is_bounded);
    suite_add_tcase(s, tc);

    tc = tcase_create("concurrent walks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, walk_never_omits_a_frame_live_throughout);
    tcase_add_test(tc, tags_never_torn);
    suite_add_tcase(s, tc);
    return s;
}
