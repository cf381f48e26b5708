/*
 * Suite "sites": pools tracked by creation site (issue 14, "Pool sites").
 * fp_pool_create() and the adapters' create functions record the caller's
 * site; fp_registry_report() groups every pool by it; FRAMEPOOL_TRACE=leaks
 * lists the pools never released; the exports carry it; cut tags are logged.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common.h"
#include "leak-child.h"

#ifdef HAVE_AV
# include <framepool/av.h>
#endif
#ifdef HAVE_VPL
# include <framepool/vpl.h>
#endif

static test_log tlog;

static fp_pool_config small_config(void)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 64, 32, 4, &tlog);
    cfg.min_frames = 1;
    return cfg;
}

/* Runs fn(out) into a memory stream and returns the text (static buffer). */
static char *capture(int (*fn)(FILE *), int *ret)
{
    static char *buf;
    static size_t len;
    free(buf);
    buf = NULL;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    *ret = fn(f);
    fclose(f);
    return buf;
}

static char *pool_json(fp_pool *p)
{
    static char *buf;
    static size_t len;
    free(buf);
    buf = NULL;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fp_pool_write_json(p, f), 0);
    fclose(f);
    return buf;
}

/* `"created_at": "<this file>:<line> in <func>()"` is in the pool's JSON. */
static void assert_created_at(fp_pool *p, int line, const char *func)
{
    char want[512];
    snprintf(want, sizeof(want), "\"created_at\": \"%s:%d in %s()\"", __FILE__, line, func);
    char *json = pool_json(p);
    ck_assert_msg(strstr(json, want), "want %s in %s", want, json);
}

static uint64_t frame_bytes(fp_pool *p)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(p, &st), 0);
    return (uint64_t)st.allocated * st.frame_bytes;
}

static uint64_t reserved(fp_pool *p)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(p, &st), 0);
    return st.reserved_bytes;
}

/* ------------------------------------------------------------------------- */

START_TEST(core_site_recorded)
{
    fp_pool_config cfg = small_config();
    fp_pool *p = NULL, *q = NULL, *r = NULL;
    int line = __LINE__; ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
    assert_created_at(p, line, __func__);
    /* The _at form, with the caller's strings. */
    ck_assert_int_eq(fp_pool_create_at(&q, &cfg, "server/session.c", 88, "session_open"), 0);
    ck_assert_ptr_nonnull(strstr(pool_json(q), "\"created_at\": \"server/session.c:88 in session_open()\""));
    /* The ABI's function records no site. */
    ck_assert_int_eq((fp_pool_create)(&r, &cfg), 0);
    ck_assert_ptr_nonnull(strstr(pool_json(r), "\"created_at\": null"));
    /* Errors are the same as before. */
    fp_pool *bad = (fp_pool *)&cfg;
    ck_assert_int_eq(fp_pool_create(&bad, NULL), FP_ERR(EINVAL));
    ck_assert_ptr_null(bad);
    ck_assert_int_eq(fp_pool_create_site(NULL, &cfg, NULL), FP_ERR(EINVAL));
    fp_pool_unref(&p);
    fp_pool_unref(&q);
    fp_pool_unref(&r);
}
END_TEST

START_TEST(adapter_sites_recorded)
{
    int n = 0;
#ifdef HAVE_AV
    {
        fp_pool *p = NULL;
        int line = __LINE__; ck_assert_int_eq(fp_av_pool_create(&p, AV_PIX_FMT_YUV420P, 64, 48, NULL), 0);
        assert_created_at(p, line, __func__);
        fp_pool_unref(&p);
        ck_assert_int_eq(fp_av_pool_create_at(&p, AV_PIX_FMT_NV12, 64, 48, NULL, "dec.c", 5, "open_decoder"), 0);
        ck_assert_ptr_nonnull(strstr(pool_json(p), "\"created_at\": \"dec.c:5 in open_decoder()\""));
        fp_pool_unref(&p);
        ck_assert_int_eq((fp_av_pool_create)(&p, AV_PIX_FMT_NV12, 64, 48, NULL), 0);
        ck_assert_ptr_nonnull(strstr(pool_json(p), "\"created_at\": null"));
        fp_pool_unref(&p);
        n++;
    }
#endif
#ifdef HAVE_VPL
    {
        mfxFrameInfo info;
        memset(&info, 0, sizeof(info));
        info.FourCC = MFX_FOURCC_NV12;
        info.ChromaFormat = MFX_CHROMAFORMAT_YUV420;
        info.Width = info.CropW = 64;
        info.Height = info.CropH = 48;
        info.PicStruct = MFX_PICSTRUCT_PROGRESSIVE;
        fp_pool_config cfg = test_config(FP_FMT_NONE, 0, 0, 2, &tlog);
        fp_pool *p = NULL;
        int line = __LINE__; ck_assert_int_eq(fp_vpl_pool_create(&p, &info, &cfg), 0);
        assert_created_at(p, line, __func__);
        fp_pool_unref(&p);
        ck_assert_int_eq(fp_vpl_pool_create_at(&p, &info, &cfg, "enc.c", 9, "open_encoder"), 0);
        ck_assert_ptr_nonnull(strstr(pool_json(p), "\"created_at\": \"enc.c:9 in open_encoder()\""));
        fp_pool_unref(&p);
        ck_assert_int_eq((fp_vpl_pool_create)(&p, &info, &cfg), 0);
        ck_assert_ptr_nonnull(strstr(pool_json(p), "\"created_at\": null"));
        fp_pool_unref(&p);
        n++;
    }
#endif
    if (!n)
        fprintf(stderr, "SKIP adapter_sites_recorded: built without the FFmpeg and oneVPL adapters\n");
}
END_TEST

/* Two creation sites, one of them used twice, in an order that makes site B
 * the oldest: B's group comes first and holds both of B's pools. */
static int line_a, line_b;

static fp_pool *make_a(const char *name)
{
    fp_pool_config cfg = small_config();
    cfg.name = name;
    fp_pool *p = NULL;
    line_a = __LINE__; ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
    return p;
}

static fp_pool *make_b(const char *name)
{
    fp_pool_config cfg = test_config(FP_FMT_NV12, 128, 64, 3, &tlog);
    cfg.name = name;
    fp_pool *p = NULL;
    line_b = __LINE__; ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
    return p;
}

START_TEST(registry_report_groups_by_site)
{
    fp_pool *b1 = make_b("b-first");
    fp_pool *a1 = make_a("a-first");
    fp_pool *a2 = make_a("a-second");
    fp_pool *b2 = make_b("b-second");
    fp_frame *f1, *f2, *f3;
    ck_assert_int_eq(fp_pool_acquire(a1, 0, &f1), 0);
    ck_assert_int_eq(fp_pool_acquire(a2, 0, &f2), 0);
    ck_assert_int_eq(fp_pool_acquire(b2, 0, &f3), 0);

    int ret;
    char *out = capture(fp_registry_report, &ret);
    ck_assert_int_eq(ret, 0);
    static const char head[] = "framepool registry: 4 pools from 2 creation sites\n";
    ck_assert_msg(!strncmp(out, head, strlen(head)), "%.3000s", out);

    char site_a[512], site_b[512];
    snprintf(site_a, sizeof(site_a),
             "site %s:%d in make_a(): 2 pools, 2 live frames, %" PRIu64 " bytes in frames, %" PRIu64
             " bytes reserved\n",
             __FILE__, line_a, frame_bytes(a1) + frame_bytes(a2), reserved(a1) + reserved(a2));
    snprintf(site_b, sizeof(site_b),
             "site %s:%d in make_b(): 2 pools, 1 live frame, %" PRIu64 " bytes in frames, %" PRIu64
             " bytes reserved\n",
             __FILE__, line_b, frame_bytes(b1) + frame_bytes(b2), reserved(b1) + reserved(b2));
    char *pa = strstr(out, site_a), *pb = strstr(out, site_b);
    ck_assert_msg(pa, "want %s in %s", site_a, out);
    ck_assert_msg(pb, "want %s in %s", site_b, out);
    ck_assert_msg(pb < pa, "the oldest site (B) first: %s", out);

    /* Each pool's line under its site, oldest first. */
    char line[256];
    snprintf(line, sizeof(line), "  pool \"b-first\" id %" PRIu64 ": open, 0 live frames, %" PRIu64
             " bytes in frames, %" PRIu64 " bytes reserved\n", fp_pool_id(b1), frame_bytes(b1), reserved(b1));
    char *l1 = strstr(out, line);
    ck_assert_msg(l1 && l1 > pb && l1 < pa, "want %s under site B in %s", line, out);
    snprintf(line, sizeof(line), "  pool \"b-second\" id %" PRIu64 ": open, 1 live frame, ", fp_pool_id(b2));
    char *l2 = strstr(out, line);
    ck_assert_msg(l2 && l2 > l1 && l2 < pa, "want %s after b-first in %s", line, out);
    snprintf(line, sizeof(line), "  pool \"a-first\" id %" PRIu64 ": open, 1 live frame, ", fp_pool_id(a1));
    char *l3 = strstr(out, line);
    snprintf(line, sizeof(line), "  pool \"a-second\" id %" PRIu64 ": open, 1 live frame, ", fp_pool_id(a2));
    char *l4 = strstr(out, line);
    ck_assert_msg(l3 && l4 && pa < l3 && l3 < l4, "a-first, a-second under site A: %s", out);

    /* A closed pool (the application still holds it) says so. */
    fp_pool_close(a2);
    out = capture(fp_registry_report, &ret);
    snprintf(line, sizeof(line), "  pool \"a-second\" id %" PRIu64 ": closed, 1 live frame, ", fp_pool_id(a2));
    ck_assert_msg(strstr(out, line), "%.3000s", out);

    fp_frame_unref(&f1);
    fp_frame_unref(&f2);
    fp_frame_unref(&f3);
    fp_pool_unref(&a1);
    fp_pool_unref(&a2);
    fp_pool_unref(&b1);
    fp_pool_unref(&b2);
    out = capture(fp_registry_report, &ret);
    ck_assert_int_eq(ret, 0);
    ck_assert_str_eq(out, "framepool registry: 0 pools from 0 creation sites\n");
}
END_TEST

/* A pool the application dropped while a frame was still held stays alive,
 * and the report says so, until the frame returns. */
START_TEST(dropped_pool_alive_for_held_frames)
{
    test_log_reset(&tlog);
    fp_pool_config cfg = small_config();
    cfg.name = "dropped";
    cfg.log_level = FP_LOG_ERROR; /* the drop's leak warning is not the point here */
    fp_pool *p = NULL;
    int line = __LINE__; ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
    uint64_t id = fp_pool_id(p);
    fp_frame *f;
    ck_assert_int_eq(fp_pool_acquire(p, 0, &f), 0);
    uint64_t fb = frame_bytes(p), rb = reserved(p);
    fp_pool_unref(&p);

    int ret;
    char *out = capture(fp_registry_report, &ret);
    ck_assert_int_eq(ret, 0);
    char want[512];
    snprintf(want, sizeof(want),
             "site %s:%d in %s(): 1 pool (1 dropped, alive for held frames), 1 live frame, %" PRIu64
             " bytes in frames, %" PRIu64 " bytes reserved\n"
             "  pool \"dropped\" id %" PRIu64 ": dropped by the application, alive for 1 held frame, %" PRIu64
             " bytes in frames, %" PRIu64 " bytes reserved\n",
             __FILE__, line, __func__, fb, rb, id, fb, rb);
    ck_assert_msg(strstr(out, want), "want %s in %.3000s", want, out);

    /* Prometheus: the site counts it as a pool and as dropped. */
    out = capture(fp_registry_write_prometheus, &ret);
    ck_assert_int_eq(ret, 0);
    snprintf(want, sizeof(want), "framepool_site_dropped_pools{site=\"%s:%d\"} 1\n", __FILE__, line);
    ck_assert_msg(strstr(out, want), "want %s in %.3000s", want, out);
    snprintf(want, sizeof(want), "framepool_site_live_frames{site=\"%s:%d\"} 1\n", __FILE__, line);
    ck_assert_msg(strstr(out, want), "want %s in %.3000s", want, out);

    fp_frame_unref(&f); /* the last frame frees the pool */
    out = capture(fp_registry_report, &ret);
    ck_assert_str_eq(out, "framepool registry: 0 pools from 0 creation sites\n");
}
END_TEST

static int sites_line;

static fp_pool *per_session(void)
{
    fp_pool_config cfg = small_config();
    fp_pool *p = NULL;
    sites_line = __LINE__; ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
    return p;
}

START_TEST(prometheus_per_site)
{
    fp_pool *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = per_session();
    fp_pool_config cfg = small_config();
    fp_pool *other = NULL;
    ck_assert_int_eq(fp_pool_create_at(&other, &cfg, "we\"ird\\path\n.c", 3, "f"), 0);
    int ret;
    char *out = capture(fp_registry_write_prometheus, &ret);
    ck_assert_int_eq(ret, 0);
    char want[512];
    snprintf(want, sizeof(want), "framepool_site_pools{site=\"%s:%d\"} 3\n", __FILE__, sites_line);
    ck_assert_msg(strstr(out, want), "want %s in %.3000s", want, out);
    snprintf(want, sizeof(want), "framepool_site_reserved_bytes{site=\"%s:%d\"} %" PRIu64 "\n", __FILE__, sites_line,
             reserved(p[0]) + reserved(p[1]) + reserved(p[2]));
    ck_assert_msg(strstr(out, want), "want %s in %.3000s", want, out);
    snprintf(want, sizeof(want), "framepool_site_dropped_pools{site=\"%s:%d\"} 0\n", __FILE__, sites_line);
    ck_assert_msg(strstr(out, want), "want %s in %.3000s", want, out);
    /* Label escaping: backslash, quote, line feed. */
    ck_assert_msg(strstr(out, "framepool_site_pools{site=\"we\\\"ird\\\\path\\n.c:3\"} 1\n"), "%.3000s", out);
    ck_assert_msg(strstr(out, "# TYPE framepool_site_pools gauge\n"), "%.3000s", out);
    /* Per-pool series are still there, once per pool. */
    snprintf(want, sizeof(want), "framepool_live_frames{pool=\"test\",id=\"%" PRIu64 "\"} 0\n", fp_pool_id(p[2]));
    ck_assert_msg(strstr(out, want), "want %s in %.3000s", want, out);

    /* The registry JSON carries the site per pool. */
    out = capture(fp_registry_write_json, &ret);
    ck_assert_int_eq(ret, 0);
    snprintf(want, sizeof(want), "\"created_at\": \"%s:%d in per_session()\"", __FILE__, sites_line);
    ck_assert_msg(strstr(out, want), "want %s in %.3000s", want, out);
    ck_assert_msg(strstr(out, "\"created_at\": \"we\\\"ird\\\\path\\n.c:3 in f()\""), "%.3000s", out);

    for (int i = 0; i < 3; i++)
        fp_pool_unref(&p[i]);
    fp_pool_unref(&other);
}
END_TEST

START_TEST(registry_report_errors)
{
    ck_assert_int_eq(fp_registry_report(NULL), FP_ERR(EINVAL));
    fp_pool *p = make_a("to-dev-full");
    FILE *full = fopen("/dev/full", "w");
    ck_assert_msg(full != NULL, "no /dev/full");
    ck_assert_int_eq(fp_registry_report(full), FP_ERR(EIO));
    clearerr(full);
    ck_assert_int_eq(fp_registry_write_prometheus(full), FP_ERR(EIO));
    fclose(full);
    FILE *null = fopen("/dev/null", "w");
    ck_assert_int_eq(fp_registry_report(null), 0);
    fclose(null);
    fp_pool_unref(&p);
}
END_TEST

/* A pure read: the report runs no watchdog (and no other callback). */
static int watchdog_calls;
static void on_stale(const fp_live_frame *live, void *ud)
{
    (void)live;
    (void)ud;
    watchdog_calls++;
}

START_TEST(registry_report_is_pure_read)
{
    fp_pool *p = make_a("watched");
    fp_frame *f;
    ck_assert_int_eq(fp_pool_acquire(p, 0, &f), 0);
    watchdog_calls = 0;
    ck_assert_int_eq(fp_pool_set_watchdog(p, 1, on_stale, NULL), 0);
    test_sleep_us(20000);
    int ret;
    capture(fp_registry_report, &ret);
    ck_assert_int_eq(ret, 0);
    ck_assert_int_eq(watchdog_calls, 0);
    ck_assert_int_eq(fp_pool_watchdog_check(p), 1); /* it was due: only the explicit step ran it */
    ck_assert_int_eq(watchdog_calls, 1);
    fp_frame_unref(&f);
    fp_pool_unref(&p);
}
END_TEST

/* FRAMEPOOL_TRACE=leaks: 50 sessions each create a pool and never release it. */
static void run_child(const char *env, const char *arg, char *out, size_t n, int *status)
{
    const char *child = getenv("FP_LEAK_CHILD");
    ck_assert_msg(child != NULL, "FP_LEAK_CHILD is not set (run through meson test)");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s %s 2>&1", env, child, arg);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t len = fread(out, 1, n - 1, p);
    out[len] = '\0';
    *status = pclose(p);
}

START_TEST(exit_report_names_unreleased_pools)
{
    /* The bytes of one session pool, as this library lays it out. */
    fp_pool_config cfg = leak_child_session_config();
    fp_pool *one = NULL;
    ck_assert_int_eq(fp_pool_create(&one, &cfg), 0);
    uint64_t fb = frame_bytes(one) * LEAK_CHILD_SESSIONS, rb = reserved(one) * LEAK_CHILD_SESSIONS;
    fp_pool_unref(&one);

    /* The child's __FILE__ is ours with the other file name (same directory). */
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        dir[0] = '\0';
    char want[1024];
    snprintf(want, sizeof(want),
             "framepool warning: process exit (FRAMEPOOL_TRACE=leaks): %d pools never released, created at "
             "%sleak-child.c:%d in session_init(): 0 live frames, %" PRIu64 " bytes in frames, %" PRIu64
             " bytes reserved (%.1f MiB)\n",
             LEAK_CHILD_SESSIONS, dir, LEAK_CHILD_SESSION_LINE, fb, rb, (double)rb / (1024.0 * 1024.0));

    static char out[16384];
    int status;
    run_child("FRAMEPOOL_TRACE=leaks", "sessions", out, sizeof(out), &status);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_str_eq(out, want);
    ck_assert_ptr_nonnull(strstr(out, "50 pools"));

    run_child("FRAMEPOOL_TRACE=", "sessions", out, sizeof(out), &status);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

/* Tags longer than FP_TAG_MAX are cut, and the first cut per pool is logged. */
START_TEST(tag_cut_logged_once_per_pool)
{
    test_log_reset(&tlog);
    fp_pool *p = make_a("tags");
    fp_pool *q = make_a("tags-2");
    fp_frame *f, *g;
    ck_assert_int_eq(fp_pool_acquire(p, 0, &f), 0);
    ck_assert_int_eq(fp_pool_acquire(q, 0, &g), 0);
    fp_frame_set_tag(f, "exactly-23-bytes-long!!"); /* fits: nothing logged */
    fp_frame_set_tag(f, NULL);
    ck_assert_int_eq(atomic_load(&tlog.total), 0);

    fp_frame_set_tag(f, "request-0123456789-abcdefgh"); /* 27 bytes */
    ck_assert_int_eq(atomic_load(&tlog.total), 1);
    ck_assert_msg(test_log_has(&tlog, "pool \"tags\": fp_frame_set_tag: tag \"request-0123456789-abcdefgh\" cut to "
                                      "its first 23 bytes (\"request-0123456789-abcd\"; tags keep at most 23)"),
                  "%s", tlog.lines[0]);
    fp_frame_set_tag(f, "another-tag-that-is-far-too-long");
    ck_assert_int_eq(atomic_load(&tlog.total), 1); /* once per pool */

    /* A cut at a UTF-8 boundary counts too: 8 x U+20AC is 24 bytes, 21 kept. */
    fp_frame_set_tag(g, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac");
    ck_assert_int_eq(atomic_load(&tlog.total), 2);
    ck_assert(test_log_has(&tlog, "pool \"tags-2\": fp_frame_set_tag: tag"));
    ck_assert(test_log_has(&tlog, "cut to its first 21 bytes"));

    fp_frame_unref(&f);
    fp_frame_unref(&g);
    fp_pool_unref(&p);
    fp_pool_unref(&q);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("sites");
    TCase *tc = tcase_create("create");
    tcase_add_test(tc, core_site_recorded);
    tcase_add_test(tc, adapter_sites_recorded);
    suite_add_tcase(s, tc);
    tc = tcase_create("registry_report");
    tcase_add_test(tc, registry_report_groups_by_site);
    tcase_add_test(tc, dropped_pool_alive_for_held_frames);
    tcase_add_test(tc, registry_report_errors);
    tcase_add_test(tc, registry_report_is_pure_read);
    suite_add_tcase(s, tc);
    tc = tcase_create("exports");
    tcase_add_test(tc, prometheus_per_site);
    suite_add_tcase(s, tc);
    tc = tcase_create("exit_report");
    tcase_add_test(tc, exit_report_names_unreleased_pools);
    suite_add_tcase(s, tc);
    tc = tcase_create("tags");
    tcase_add_test(tc, tag_cut_logged_once_per_pool);
    suite_add_tcase(s, tc);
    return s;
}
