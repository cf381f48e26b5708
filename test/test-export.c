/*
 * Suite "export": JSON (checked with Python's json parser), the Prometheus
 * text format (label escaping; promtool runs in test/promtool-check.sh) and
 * the registry under concurrent create/destroy.
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static test_log tlog;

static fp_pool *make(const char *name, int max)
{
    fp_pool_config cfg = test_config(FP_FMT_NV12, 64, 48, max, &tlog);
    cfg.name = name;
    fp_pool *p;
    ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
    return p;
}

/* Runs a Python snippet on a JSON file and returns its stdout. */
static void py_json(const char *path, const char *expr, char *out, size_t n)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(%s)' %s 2>&1", expr, path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t len = fread(out, 1, n - 1, p);
    out[len] = '\0';
    while (len && out[len - 1] == '\n')
        out[--len] = '\0';
    ck_assert_int_eq(pclose(p), 0);
}

static FILE *tmp(char *path)
{
    strcpy(path, "/tmp/fp-export-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w+");
    ck_assert_ptr_nonnull(f);
    return f;
}

START_TEST(pool_json_parses_with_real_values)
{
    test_log_reset(&tlog);
    const char *name = "cam \"1\" \\ x\ny";
    fp_pool *p = make(name, 4);
    fp_frame *a, *b;
    fp_pool_acquire(p, 0, &a); const int line = __LINE__;
    fp_pool_acquire(p, 0, &b);
    fp_frame_set_tag(b, "tag\"with\\quotes\t");
    fp_frame_ref(b);
    char path[64], out[1024];
    FILE *f = tmp(path);
    ck_assert_int_eq(fp_pool_write_json(p, f), 0);
    fclose(f);

    py_json(path, "d[\"live\"], d[\"capacity\"], d[\"acquired\"], d[\"released\"], d[\"idle\"], d[\"allocated\"]",
            out, sizeof(out));
    ck_assert_str_eq(out, "2 4 2 0 0 2");
    py_json(path, "len(d[\"live_frames\"]), d[\"live_frames\"][0][\"line\"], d[\"live_frames\"][1][\"refcount\"]",
            out, sizeof(out));
    char want[64];
    snprintf(want, sizeof(want), "2 %d 2", line);
    ck_assert_str_eq(out, want);
    py_json(path, "d[\"live_frames\"][1][\"tag\"] == \"tag\\\"with\\\\quotes\\t\"", out, sizeof(out));
    ck_assert_str_eq(out, "True");
    py_json(path, "d[\"live_frames\"][0][\"file\"].endswith(\"test-export.c\"), d[\"format\"], d[\"width\"], d[\"closed\"]",
            out, sizeof(out));
    ck_assert_str_eq(out, "True nv12 64 False");
    py_json(path, "repr(d[\"name\"])", out, sizeof(out));
    ck_assert_str_eq(out, "'cam \"1\" \\\\ x\\ny'");
    unlink(path);

    ck_assert_int_eq(fp_pool_write_json(NULL, stdout), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_pool_write_json(p, NULL), FP_ERR(EINVAL));
    fp_frame_unref(&a);
    fp_frame_unref(&b);
    fp_frame_unref(&b);
    fp_pool_unref(&p);
}
END_TEST

START_TEST(registry_json_lists_live_and_closed_pools)
{
    test_log_reset(&tlog);
    fp_pool *p1 = make("reg-one", 2), *p2 = make("reg-two", 2), *p3 = make("reg-three", 2);
    uint64_t id1 = fp_pool_id(p1), id2 = fp_pool_id(p2), id3 = fp_pool_id(p3);
    ck_assert(id1 && id2 && id3 && id1 != id2 && id2 != id3);
    fp_frame *leak;
    fp_pool_acquire(p2, 0, &leak);
    fp_pool_unref(&p2); /* closed, but its frame is live: stays registered */
    fp_pool_unref(&p3); /* freed: leaves the registry */

    char path[64], out[1024], expr[512];
    FILE *f = tmp(path);
    ck_assert_int_eq(fp_registry_write_json(f), 0);
    fclose(f);
    snprintf(expr, sizeof(expr),
             "sorted((p[\"name\"], p[\"closed\"], p[\"live\"]) for p in d[\"pools\"] if p[\"id\"] in (%llu, %llu, %llu))",
             (unsigned long long)id1, (unsigned long long)id2, (unsigned long long)id3);
    py_json(path, expr, out, sizeof(out));
    ck_assert_str_eq(out, "[('reg-one', False, 0), ('reg-two', True, 1)]");
    py_json(path, "type(d[\"foreign_releases\"]).__name__", out, sizeof(out));
    ck_assert_str_eq(out, "int");
    unlink(path);

    fp_frame_unref(&leak); /* frees reg-two */
    f = tmp(path);
    fp_registry_write_json(f);
    fclose(f);
    py_json(path, expr, out, sizeof(out));
    ck_assert_str_eq(out, "[('reg-one', False, 0)]");
    unlink(path);
    fp_pool_unref(&p1);
    ck_assert_int_eq(fp_registry_write_json(NULL), FP_ERR(EINVAL));
}
END_TEST

START_TEST(prometheus_lines_and_escaping)
{
    test_log_reset(&tlog);
    fp_pool *p = make("a\"b\\c\nd", 3);
    fp_frame *f;
    fp_pool_acquire(p, 0, &f);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    ck_assert_int_eq(fp_registry_write_prometheus(m), 0);
    fclose(m);
    char want[256];
    snprintf(want, sizeof(want), "framepool_live_frames{pool=\"a\\\"b\\\\c\\nd\",id=\"%llu\"} 1\n",
             (unsigned long long)fp_pool_id(p));
    ck_assert_msg(strstr(buf, want), "missing %s", want);
    snprintf(want, sizeof(want), "framepool_acquired_total{pool=\"a\\\"b\\\\c\\nd\",id=\"%llu\"} 1\n",
             (unsigned long long)fp_pool_id(p));
    ck_assert_msg(strstr(buf, want), "missing %s", want);
    ck_assert_ptr_nonnull(strstr(buf, "# TYPE framepool_acquired_total counter\n"));
    ck_assert_ptr_nonnull(strstr(buf, "# TYPE framepool_live_frames gauge\n"));
    ck_assert_ptr_nonnull(strstr(buf, "# TYPE framepool_wait_seconds_total counter\n"));
    ck_assert_ptr_nonnull(strstr(buf, "# HELP framepool_reserved_bytes "));
    ck_assert_ptr_nonnull(strstr(buf, "framepool_foreign_releases_total "));
    /* Every TYPE appears once, even with several pools. */
    fp_pool *q = make("second", 1);
    free(buf);
    m = open_memstream(&buf, &len);
    fp_registry_write_prometheus(m);
    fclose(m);
    int types = 0;
    for (char *s = buf; (s = strstr(s, "# TYPE framepool_live_frames ")); s++)
        types++;
    ck_assert_int_eq(types, 1);
    free(buf);
    fp_pool_unref(&q);
    fp_frame_unref(&f);
    fp_pool_unref(&p);
    ck_assert_int_eq(fp_registry_write_prometheus(NULL), FP_ERR(EINVAL));
}
END_TEST

/* 33 x "é" is 66 bytes: the 63-byte name buffer ends inside the 32nd. */
static void utf8_name(char *buf)
{
    buf[0] = '\0';
    for (int i = 0; i < 33; i++)
        strcat(buf, "\xc3\xa9");
}

/* Issue 12 item 11: names and tags cut inside a character, and bytes that
 * are not UTF-8, still make JSON that Python decodes (strictly: json.load
 * of a file opened as UTF-8 fails on any invalid byte). */
START_TEST(json_is_utf8_for_any_name_and_tag)
{
    test_log_reset(&tlog);
    char name[80];
    utf8_name(name);
    fp_pool *p = make(name, 2);
    fp_pool *q = make("bad\xff\xfe" "name\xc3(\xed\xa0\x80" "end", 2); /* stray bytes, a bad pair, a surrogate */
    fp_frame *f, *g;
    ck_assert_int_eq(fp_pool_acquire(p, 0, &f), 0);
    ck_assert_int_eq(fp_pool_acquire(q, 0, &g), 0);
    fp_frame_set_tag(f, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"); /* 8 x "€": 24 bytes */
    fp_frame_set_tag(g, "t\x80\n\x01");
    char path[64], out[1024], expr[512];

    FILE *fj = tmp(path);
    ck_assert_int_eq(fp_pool_write_json(p, fj), 0);
    fclose(fj);
    py_json(path, "d[\"name\"] == \"\\u00e9\" * 31, d[\"live_frames\"][0][\"tag\"] == \"\\u20ac\" * 7", out,
            sizeof(out));
    ck_assert_str_eq(out, "True True");
    unlink(path);

    fj = tmp(path);
    ck_assert_int_eq(fp_registry_write_json(fj), 0);
    fclose(fj);
    snprintf(expr, sizeof(expr),
             "[(p[\"name\"], [x[\"tag\"] for x in p[\"live_frames\"]]) for p in d[\"pools\"] if p[\"id\"] == %llu]",
             (unsigned long long)fp_pool_id(q));
    py_json(path, expr, out, sizeof(out));
    ck_assert_str_eq(out, "[('bad\xef\xbf\xbd\xef\xbf\xbdname\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                          "end', ['t\xef\xbf\xbd\\n\\x01'])]");
    unlink(path);

    /* The Prometheus labels are UTF-8 too (promtool-check.sh runs promtool on
     * the same kind of names). */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    ck_assert_int_eq(fp_registry_write_prometheus(m), 0);
    fclose(m);
    char want[256];
    snprintf(want, sizeof(want), "framepool_live_frames{pool=\"%.62s\",id=\"%llu\"} 1\n", name,
             (unsigned long long)fp_pool_id(p));
    ck_assert_msg(strstr(buf, want), "missing %s", want);
    snprintf(want, sizeof(want),
             "framepool_live_frames{pool=\"bad\xef\xbf\xbd\xef\xbf\xbdname\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
             "end\",id=\"%llu\"} 1\n", (unsigned long long)fp_pool_id(q));
    ck_assert_msg(strstr(buf, want), "missing %s", want);
    free(buf);

    fp_frame_unref(&f);
    fp_frame_unref(&g);
    fp_pool_unref(&p);
    fp_pool_unref(&q);
}
END_TEST

/* fflush before ferror: a full device fails on the flush, not the fprintf. */
START_TEST(full_device_gives_eio)
{
    FILE *full = fopen("/dev/full", "w");
    if (!full) {
        fprintf(stderr, "SKIP full_device_gives_eio: no /dev/full\n");
        return;
    }
    fp_pool *p = make("to-dev-full", 2);
    fp_frame *f;
    ck_assert_int_eq(fp_pool_acquire(p, 0, &f), 0);
    ck_assert_int_eq(fp_pool_report(p, full), FP_ERR(EIO));
    clearerr(full);
    ck_assert_int_eq(fp_pool_write_json(p, full), FP_ERR(EIO));
    clearerr(full);
    ck_assert_int_eq(fp_registry_write_json(full), FP_ERR(EIO));
    clearerr(full);
    ck_assert_int_eq(fp_registry_write_prometheus(full), FP_ERR(EIO));
    fclose(full);
    /* The same calls succeed on a working stream. */
    FILE *null = fopen("/dev/null", "w");
    ck_assert_int_eq(fp_pool_report(p, null), 0);
    ck_assert_int_eq(fp_pool_write_json(p, null), 0);
    ck_assert_int_eq(fp_registry_write_json(null), 0);
    ck_assert_int_eq(fp_registry_write_prometheus(null), 0);
    fclose(null);
    fp_frame_unref(&f);
    fp_pool_unref(&p);
}
END_TEST

/* Names, tags and sites never go raw into text: a newline in a tag cannot
 * forge a line of a report or of the log (one line per message). */
START_TEST(text_report_and_log_lines_escape_values)
{
    test_log_reset(&tlog);
    fp_pool *p = make("two\nlines", 2);
    fp_frame *f;
    ck_assert_int_eq(fp_pool_acquire_at(p, 0, &f, "file\n\x1b[31mred.c", 7, "fn\r"), 0);
    fp_frame_set_tag(f, "x\nframepool error: y");
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    ck_assert_int_eq(fp_pool_report(p, m), 0);
    fclose(m);
    int lines = 0;
    for (char *c = buf; *c; c++)
        lines += *c == '\n';
    ck_assert_msg(lines == 6, "%d lines:\n%s", lines, buf);
    ck_assert_ptr_nonnull(strstr(buf, "pool \"two\\nlines\""));
    ck_assert_ptr_nonnull(strstr(buf, "file\\n\\x1b[31mred.c:7 in fn\\r()"));
    ck_assert_ptr_nonnull(strstr(buf, "tag \"x\\nframepool error: y\""));
    free(buf);

    /* The leak report of the last unref goes through the log: every message
     * is one line, with the same escapes. */
    fp_pool_unref(&p);
    int n = atomic_load(&tlog.count);
    ck_assert_int_ge(n, 2);
    for (int i = 0; i < n && i < 64; i++)
        ck_assert_msg(!strchr(tlog.lines[i], '\n') && !strchr(tlog.lines[i], '\r') && !strchr(tlog.lines[i], '\x1b'),
                      "raw control character in \"%s\"", tlog.lines[i]);
    ck_assert(test_log_has(&tlog, "pool \"two\\nlines\": last application reference dropped"));
    ck_assert(test_log_has(&tlog, "tag \"x\\nframepool error: y\""));
    fp_frame_unref(&f);
}
END_TEST

static _Atomic int stop;

static void *churn(void *arg)
{
    int n = *(int *)arg;
    for (int i = 0; i < n; i++) {
        fp_pool_config cfg = test_config(FP_FMT_GRAY8, 16, 16, 2, NULL);
        cfg.name = "churn";
        cfg.log_level = FP_LOG_ERROR; /* the unref-before-release half logs leak reports */
        fp_pool *p;
        ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
        fp_frame *f;
        ck_assert_int_eq(fp_pool_acquire(p, 0, &f), 0);
        if (i & 1) {
            fp_pool_unref(&p); /* the frame's release frees the pool */
            fp_frame_unref(&f);
        } else {
            fp_frame_unref(&f);
            fp_pool_unref(&p);
        }
    }
    return NULL;
}

static void *exporter(void *arg)
{
    (void)arg;
    FILE *null = fopen("/dev/null", "w");
    int rounds = 0;
    while (!atomic_load(&stop) || rounds < 10) {
        ck_assert_int_eq(fp_registry_write_json(null), 0);
        ck_assert_int_eq(fp_registry_write_prometheus(null), 0);
        rounds++;
    }
    fclose(null);
    return NULL;
}

START_TEST(registry_concurrent_create_destroy)
{
    int n = getenv("FP_TEST_UNDER_VALGRIND") ? 200 : 3000;
    pthread_t c[3], e;
    atomic_store(&stop, 0);
    pthread_create(&e, NULL, exporter, NULL);
    for (int i = 0; i < 3; i++)
        pthread_create(&c[i], NULL, churn, &n);
    for (int i = 0; i < 3; i++)
        pthread_join(c[i], NULL);
    atomic_store(&stop, 1);
    pthread_join(e, NULL);
    /* every churn pool left the registry */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    fp_registry_write_json(m);
    fclose(m);
    ck_assert_msg(!strstr(buf, "\"churn\""), "%s", buf);
    free(buf);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, pool_json_parses_with_real_values);
    tcase_add_test(tc, registry_json_lists_live_and_closed_pools);
    tcase_add_test(tc, json_is_utf8_for_any_name_and_tag);
    tcase_add_test(tc, full_device_gives_eio);
    tcase_add_test(tc, text_report_and_log_lines_escape_values);
    suite_add_tcase(s, tc);
    tc = tcase_create("prometheus");
    tcase_add_test(tc, prometheus_lines_and_escaping);
    suite_add_tcase(s, tc);
    tc = tcase_create("registry");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, registry_concurrent_create_destroy);
    suite_add_tcase(s, tc);
    return s;
}
