/*
 * Suite "poison": FP_POOL_POISON catches a write after release with each of
 * its three mechanisms:
 *  - the fill pattern (any build): idle memory is filled with 0xA5 and the
 *    next acquire of the slot finds the change, logs "written after release"
 *    naming the release site, and counts misuse (FP_POOL_STRICT: aborts);
 *  - ASan manual poisoning (ASan builds): the write itself stops the program
 *    with a use-after-poison report;
 *  - valgrind client requests (memcheck): the write is an "Invalid write".
 * The offending code runs in a helper executable (poison-child.c), started by
 * the tests, so that the report and the exit status can be checked from
 * outside: natively for the fill pattern and ASan, under valgrind for
 * memcheck. A test whose mechanism is absent from this build or machine
 * says so and passes without checking it.
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#if defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define TEST_ASAN 1
# endif
# if __has_feature(thread_sanitizer)
#  define TEST_TSAN 1
# endif
#endif
#if defined(__SANITIZE_ADDRESS__)
# define TEST_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
# define TEST_TSAN 1
#endif

static test_log g_log;

static void setup(void)
{
    test_log_reset(&g_log);
}

static void teardown(void)
{
}

/* Runs argv with stdout and stderr into `out`; returns the wait status. */
static int run(char *const argv[], char *out, size_t n)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t got;
    while ((got = read(fds[0], out + len, n - 1 - len)) > 0 && len < n - 1)
        len += (size_t)got;
    char sink[4096];
    while (read(fds[0], sink, sizeof(sink)) > 0) /* drain what did not fit */
        ;
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static const char *child_path(void)
{
    const char *p = getenv("FP_POISON_CHILD");
    ck_assert_msg(p != NULL, "FP_POISON_CHILD is not set (run through meson test)");
    return p;
}

static void skip(const char *why)
{
    printf("poison: %s: %s\n", tcase_name(), why);
    fflush(stdout);
}

static char out[65536];

/* ------------------------------------------------------------------------- */
/* The fill pattern                                                          */

static const char *const fill_modes[] = { "write", "tail", "chroma" };

START_TEST(fill_pattern_catches_write)
{
#ifdef TEST_ASAN
    skip("ASan build: the write itself is caught (see asan_catches_write)");
    return;
#endif
    char *argv[] = { (char *)child_path(), (char *)fill_modes[_i], NULL };
    int status = run(argv, out, sizeof(out));
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d: %s", status, out);
    ck_assert_msg(strstr(out, "frame memory was written after release"), "no report: %s", out);
    ck_assert_msg(strstr(out, "poison-child.c:"), "the report does not name the release site: %s", out);
    ck_assert_msg(strstr(out, "misuse 1"), "misuse not counted: %s", out);
}
END_TEST

START_TEST(fill_pattern_clean_run)
{
    char *argv[] = { (char *)child_path(), "clean", NULL };
    int status = run(argv, out, sizeof(out));
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d: %s", status, out);
    ck_assert_msg(strstr(out, "misuse 0"), "false positive: %s", out);
    ck_assert_msg(!strstr(out, "written after release"), "false positive: %s", out);
}
END_TEST

START_TEST(fill_pattern_strict_aborts)
{
#ifdef TEST_ASAN
    skip("ASan build: the write itself is caught");
    return;
#endif
    char *argv[] = { (char *)child_path(), "strict", NULL };
    int status = run(argv, out, sizeof(out));
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "child status %d: %s", status, out);
    ck_assert_msg(strstr(out, "written after release"), "no report: %s", out);
    ck_assert_msg(strstr(out, "FP_POOL_STRICT: aborting on misuse"), "no strict line: %s", out);
    ck_assert_msg(strstr(out, "framepool: pool \"poison-child\""), "no pool report: %s", out);
}
END_TEST

START_TEST(fill_pattern_strict_trim_aborts)
{
#ifdef TEST_ASAN
    skip("ASan build: the write itself is caught");
    return;
#endif
    char *argv[] = { (char *)child_path(), "trim-strict", NULL };
    int status = run(argv, out, sizeof(out));
    /* SIGALRM would mean the trim deadlocked in the strict report. */
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "child status %d: %s", status, out);
    ck_assert_msg(strstr(out, "written after release"), "no report: %s", out);
    ck_assert_msg(strstr(out, "framepool: pool \"poison-child\""), "no pool report: %s", out);
}
END_TEST

/* In process: idle memory holds the pattern (only readable without ASan and
 * outside valgrind, where idle memory is inaccessible). */
START_TEST(idle_memory_is_filled)
{
#ifdef TEST_ASAN
    skip("ASan build: idle memory is poisoned, not readable");
    return;
#endif
    if (getenv("FP_TEST_UNDER_VALGRIND")) {
        skip("under valgrind idle memory is inaccessible");
        return;
    }
    fp_pool_config cfg = test_config(FP_FMT_YUV420P, 32, 16, 2, &g_log);
    cfg.flags = FP_POOL_POISON;
    cfg.min_frames = 1;
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    memset(f->data[0], 0, f->size);
    const volatile uint8_t *p = f->data[0];
    size_t n = f->size;
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(p[i] == 0xA5, "idle byte %zu is 0x%02x, not the pattern", i, p[i]);
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.misuse, 0);
    fp_pool_unref(&pool);
}
END_TEST

/* Heavy correct use of a poisoned pool: no false positive, ZERO still zeroes,
 * trim and lazy growth keep the poisoning consistent. */
START_TEST(no_false_positives)
{
    fp_pool_config cfg = test_config(FP_FMT_NV12, 48, 32, 4, &g_log);
    cfg.flags = FP_POOL_POISON | (_i ? FP_POOL_ZERO : 0);
    cfg.min_frames = 1;
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    fp_frame *f[4] = { NULL };
    for (int round = 0; round < 200; round++) {
        int k = 1 + round % 4;
        for (int i = 0; i < k; i++) {
            ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
            if (_i) {
                ck_assert_uint_eq(f[i]->data[0][0], 0);
                ck_assert_uint_eq(f[i]->data[1][f[i]->linesize[1] - 1], 0);
            }
            memset(f[i]->data[0], round & 0xFF, f[i]->size);
        }
        for (int i = 0; i < k; i++)
            ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
        if (round % 7 == 0)
            ck_assert_int_ge(fp_pool_trim(pool), 0);
    }
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.misuse, 0);
    ck_assert_int_eq(atomic_load(&g_log.total), 0);
    fp_pool_unref(&pool);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* ASan manual poisoning                                                     */

START_TEST(asan_catches_write)
{
#ifndef TEST_ASAN
    skip("not an ASan build (scripts/test runs this in build-asan)");
    return;
#else
    char *argv[] = { (char *)child_path(), (char *)fill_modes[_i], NULL };
    int status = run(argv, out, sizeof(out));
    ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "the write went unnoticed: %s", out);
    ck_assert_msg(strstr(out, "ERROR: AddressSanitizer: use-after-poison"), "no ASan report: %s", out);
    ck_assert_msg(strstr(out, "WRITE of size 1"), "not reported as a write: %s", out);
    ck_assert_msg(strstr(out, "poison-child.c"), "the report does not point at the write: %s", out);
    ck_assert_msg(!strstr(out, "misuse "), "the child went on after the write: %s", out);
#endif
}
END_TEST

START_TEST(asan_catches_read)
{
#ifndef TEST_ASAN
    skip("not an ASan build");
    return;
#else
    char *argv[] = { (char *)child_path(), "read", NULL };
    int status = run(argv, out, sizeof(out));
    ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "the read went unnoticed: %s", out);
    ck_assert_msg(strstr(out, "use-after-poison") && strstr(out, "READ of size 1"), "no ASan report: %s", out);
#endif
}
END_TEST

/* ------------------------------------------------------------------------- */
/* valgrind client requests                                                  */

/* Why memcheck cannot run the helper here, or NULL when it can. */
static const char *valgrind_unavailable(void)
{
#if defined(TEST_ASAN) || defined(TEST_TSAN)
    return "sanitizer build (valgrind cannot run it)";
#endif
#ifndef FP_TEST_HAVE_VALGRIND_H
    return "the library was built without valgrind/memcheck.h (no client requests)";
#endif
    if (getenv("FP_TEST_UNDER_VALGRIND"))
        return "already running under valgrind";
    const char *vg = getenv("FP_VALGRIND");
    if (!vg || !vg[0] || access(vg, X_OK) != 0)
        return "valgrind is not installed";
    return NULL;
}

/* "ERROR SUMMARY: N errors" of a valgrind run. */
static long error_count(const char *text)
{
    const char *p = strstr(text, "ERROR SUMMARY: ");
    ck_assert_msg(p != NULL, "no ERROR SUMMARY in: %s", text);
    return strtol(p + strlen("ERROR SUMMARY: "), NULL, 10);
}

static int run_valgrind(const char *mode)
{
    char *argv[] = { (char *)getenv("FP_VALGRIND"), "--error-exitcode=99", "--leak-check=no",
                     (char *)child_path(), (char *)mode, NULL };
    return run(argv, out, sizeof(out));
}

START_TEST(valgrind_catches_write)
{
    const char *why = valgrind_unavailable();
    if (why) {
        skip(why);
        return;
    }
    int status = run_valgrind(fill_modes[_i]);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 99, "valgrind status %d: %s", status, out);
    ck_assert_msg(strstr(out, "Invalid write of size 1"), "no invalid write reported: %s", out);
    ck_assert_msg(strstr(out, "poison-child.c"), "the error does not point at the write: %s", out);
    long errors = error_count(out);
    ck_assert_msg(errors == 1, "%ld errors, expected exactly the write: %s", errors, out);
    /* The write did land, so the pattern check reports it as well. */
    ck_assert_msg(strstr(out, "written after release") && strstr(out, "misuse 1"), "%s", out);
}
END_TEST

START_TEST(valgrind_catches_read)
{
    const char *why = valgrind_unavailable();
    if (why) {
        skip(why);
        return;
    }
    int status = run_valgrind("read");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 99, "valgrind status %d: %s", status, out);
    ck_assert_msg(strstr(out, "Invalid read of size 1"), "no invalid read reported: %s", out);
    ck_assert_int_eq(error_count(out), 1);
}
END_TEST

START_TEST(valgrind_clean_run)
{
    const char *why = valgrind_unavailable();
    if (why) {
        skip(why);
        return;
    }
    int status = run_valgrind("clean");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "valgrind status %d: %s", status, out);
    ck_assert_int_eq(error_count(out), 0);
    ck_assert_msg(strstr(out, "misuse 0"), "%s", out);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("poison");
    TCase *tc = tcase_create("pattern");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, fill_pattern_catches_write, 0, 3);
    tcase_add_test(tc, fill_pattern_clean_run);
    tcase_add_test(tc, fill_pattern_strict_aborts);
    tcase_add_test(tc, fill_pattern_strict_trim_aborts);
    tcase_add_test(tc, idle_memory_is_filled);
    tcase_add_loop_test(tc, no_false_positives, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("asan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, asan_catches_write, 0, 3);
    tcase_add_test(tc, asan_catches_read);
    suite_add_tcase(s, tc);

    tc = tcase_create("valgrind");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, valgrind_catches_write, 0, 3);
    tcase_add_test(tc, valgrind_catches_read);
    tcase_add_test(tc, valgrind_clean_run);
    suite_add_tcase(s, tc);
    return s;
}
