/*
 * Suite "edges": the code around the lock-free core. Callbacks that re-enter
 * the library (no deadlock: none runs under a framepool lock), registry walks
 * with slow writers, the watchdog's lifetime, fork() and pthread_cancel, and
 * saturating time arithmetic. Each test is a regression test for a defect
 * that was reproduced against the public API.
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/internal.h"
#include "common.h"

static test_log g_log;

static fp_pool *make_pool(const char *name, int max_frames, test_log *log)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 32, 16, max_frames, log);
    cfg.name = name;
    fp_pool *p = NULL;
    ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
    return p;
}

static FILE *devnull(void)
{
    FILE *f = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(f);
    return f;
}

/* ------------------------------------------------------------------------- */
/* Callbacks that call back into the library                                 */

typedef struct reenter {
    _Atomic int calls;
    fp_pool *victim_pool; /* dropped by the app, kept alive by victim_frame */
    fp_frame *victim_frame;
} reenter;

/* A watchdog callback that exports everything, creates and drops a pool, and
 * releases the last frame of a pool the app has dropped. */
static void reentering_watchdog(const fp_live_frame *live, void *ud)
{
    (void)live;
    reenter *r = ud;
    atomic_fetch_add(&r->calls, 1);
    FILE *f = devnull();
    ck_assert_int_eq(fp_registry_write_json(f), 0);
    ck_assert_int_eq(fp_registry_write_prometheus(f), 0);
    fclose(f);
    fp_pool *tmp = make_pool("made-in-callback", 2, NULL);
    fp_pool_unref(&tmp);
    fp_frame_unref(&r->victim_frame); /* frees the dropped pool, mid-walk */
}

START_TEST(watchdog_callback_reenters_during_registry_walk)
{
    reenter r = { 0 };
    fp_pool *pool = make_pool("watched", 2, &g_log);
    r.victim_pool = make_pool("victim", 2, &g_log);
    uint64_t victim_id = fp_pool_id(r.victim_pool);
    ck_assert_int_eq(fp_pool_acquire(r.victim_pool, 0, &r.victim_frame), 0);
    fp_pool_unref(&r.victim_pool);
    ck_assert(test_registry_has(victim_id));

    fp_frame *stale;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &stale), 0);
    ck_assert_int_eq(fp_pool_set_watchdog(pool, 1000, reentering_watchdog, &r), 0);
    test_sleep_us(20000);
    /* The scan runs inside a walk over the registry; before the fix every
     * call in the callback waited for the registry lock the walk held. */
    fp_registry_maintain();
    ck_assert_int_eq(atomic_load(&r.calls), 1);
    ck_assert(!test_registry_has(victim_id));
    fp_frame_unref(&stale);
    fp_pool_unref(&pool);
}
END_TEST

/* A log callback that reads the pool's stats: called on an allocation
 * failure in the acquire slow path, which used to log under pool->lock. */
typedef struct stats_logger {
    fp_pool *pool;
    _Atomic int lines;
    uint32_t live_seen;
} stats_logger;

static void stats_log_cb(void *opaque, int level, const char *msg)
{
    (void)level;
    (void)msg;
    stats_logger *l = opaque;
    fp_pool_stats st;
    if (l->pool && fp_pool_get_stats(l->pool, &st) == 0)
        l->live_seen = st.live;
    atomic_fetch_add(&l->lines, 1);
}

START_TEST(log_callback_reads_stats_on_alloc_failure)
{
    stats_logger l = { 0 };
    test_alloc ta = { .fail_at = 2 };
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 32, 16, 4, NULL);
    cfg.allocator = test_allocator(&ta);
    cfg.log = stats_log_cb;
    cfg.log_opaque = &l;
    fp_pool *pool;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    l.pool = pool;
    fp_frame *a, *b;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &a), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &b), FP_ERR(ENOMEM));
    ck_assert_int_ge(atomic_load(&l.lines), 1);
    ck_assert_uint_eq(l.live_seen, 1);
    /* The slot whose backing failed is not lost: the next acquire backs it. */
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &b), 0);
    fp_frame_unref(&a);
    fp_frame_unref(&b);
    l.pool = NULL;
    fp_pool_unref(&pool);
    ck_assert_int_eq(atomic_load(&ta.live), 0);
}
END_TEST

/* An allocator that exports: the allocator is a user callback too and runs
 * with no lock held. */
static fp_pool *alloc_pool;
static void *exporting_alloc(void *opaque, size_t size, size_t align)
{
    (void)opaque;
    fp_pool_stats st;
    if (alloc_pool)
        ck_assert_int_eq(fp_pool_get_stats(alloc_pool, &st), 0);
    FILE *f = devnull();
    fp_registry_write_json(f);
    fclose(f);
    void *p = NULL;
    return posix_memalign(&p, align, size) ? NULL : p;
}
static void plain_free(void *opaque, void *ptr, size_t size)
{
    (void)opaque;
    (void)size;
    free(ptr);
}

START_TEST(allocator_callback_reenters)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 32, 16, 3, NULL);
    cfg.allocator.alloc = exporting_alloc;
    cfg.allocator.free = plain_free;
    fp_pool *pool;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    alloc_pool = pool;
    fp_frame *f[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
    for (int i = 0; i < 3; i++)
        fp_frame_unref(&f[i]);
    alloc_pool = NULL;
    ck_assert_int_eq(fp_pool_trim(pool), 3);
    fp_pool_unref(&pool);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* The watchdog's lifetime                                                   */

static _Atomic int uaf_calls;
static void counting_watchdog(const fp_live_frame *live, void *ud)
{
    (void)live;
    int *p = ud; /* freed by the app after its fp_pool_unref: ASan sees a use */
    (*p)++;
    atomic_fetch_add(&uaf_calls, 1);
}

START_TEST(watchdog_dies_with_the_app_reference)
{
    fp_pool *pool = make_pool("dropped-watched", 2, &g_log);
    int *ud = calloc(1, sizeof(*ud));
    fp_frame *f;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    ck_assert_int_eq(fp_pool_set_watchdog(pool, 1000, counting_watchdog, ud), 0);
    fp_pool_unref(&pool); /* the frame keeps the pool */
    free(ud);
    test_sleep_us(20000);
    fp_registry_maintain();
    FILE *out = devnull();
    fp_registry_write_json(out);
    fp_registry_write_prometheus(out);
    fclose(out);
    ck_assert_int_eq(atomic_load(&uaf_calls), 0);
    fp_frame_unref(&f);
}
END_TEST

typedef struct slow_cb {
    _Atomic int inside;
    _Atomic int done;
} slow_cb;

static void slow_watchdog(const fp_live_frame *live, void *ud)
{
    (void)live;
    slow_cb *s = ud;
    atomic_store(&s->inside, 1);
    test_sleep_us(200000);
    atomic_store(&s->inside, 0);
    atomic_store(&s->done, 1);
}

static void *scan_thread(void *arg)
{
    fp_pool_watchdog_check(arg);
    return NULL;
}

START_TEST(watchdog_off_waits_for_running_callback)
{
    slow_cb s = { 0 };
    fp_pool *pool = make_pool("slow-watchdog", 2, &g_log);
    fp_frame *f;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    ck_assert_int_eq(fp_pool_set_watchdog(pool, 1000, slow_watchdog, &s), 0);
    test_sleep_us(10000);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, scan_thread, pool), 0);
    while (!atomic_load(&s.inside))
        test_sleep_us(1000);
    ck_assert_int_eq(fp_pool_set_watchdog(pool, 0, NULL, NULL), 0);
    /* Returned only after the callback did: `ud` may be freed now. */
    ck_assert_int_eq(atomic_load(&s.inside), 0);
    ck_assert_int_eq(atomic_load(&s.done), 1);
    pthread_join(t, NULL);
    fp_frame_unref(&f);
    fp_pool_unref(&pool);
}
END_TEST

static void self_off_watchdog(const fp_live_frame *live, void *ud)
{
    fp_pool *pool = ud;
    (void)live;
    /* Turning its own watchdog off must not wait for itself. */
    ck_assert_int_eq(fp_pool_set_watchdog(pool, 0, NULL, NULL), 0);
}

START_TEST(watchdog_callback_turns_itself_off)
{
    fp_pool *pool = make_pool("self-off", 3, &g_log);
    fp_frame *f[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
    ck_assert_int_eq(fp_pool_set_watchdog(pool, 1000, self_off_watchdog, pool), 0);
    test_sleep_us(10000);
    /* Two stale frames, but the callback turned the watchdog off after one. */
    ck_assert_int_eq(fp_pool_watchdog_check(pool), 1);
    for (int i = 0; i < 2; i++)
        fp_frame_unref(&f[i]);
    fp_pool_unref(&pool);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Writers that block                                                        */

typedef struct blocked_writer {
    FILE *f;
    _Atomic int started, finished;
    int ret;
} blocked_writer;

static void *json_writer(void *arg)
{
    blocked_writer *w = arg;
    atomic_store(&w->started, 1);
    w->ret = fp_registry_write_json(w->f);
    atomic_store(&w->finished, 1);
    fclose(w->f); /* EOF for the reader */
    return NULL;
}

START_TEST(slow_export_reader_blocks_nobody)
{
    /* Enough pools that the export is larger than the pipe's buffer. */
    enum { NPOOLS = 300 };
    fp_pool *pools[NPOOLS];
    for (int i = 0; i < NPOOLS; i++)
        pools[i] = make_pool("a-pool-with-a-long-name-to-fill-the-pipe", 1, NULL);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    blocked_writer w = { .f = fdopen(fds[1], "w") };
    ck_assert_ptr_nonnull(w.f);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, json_writer, &w), 0);
    while (!atomic_load(&w.started))
        test_sleep_us(1000);
    test_sleep_us(100000); /* the writer is now blocked on the full pipe */

    uint64_t t0 = test_now_ns();
    fp_pool *p = make_pool("while-exporting", 2, NULL);
    fp_frame *f;
    ck_assert_int_eq(fp_pool_acquire(p, 0, &f), 0);
    fp_pool_unref(&p);
    fp_frame_unref(&f); /* the last frame of a dropped pool: frees it */
    fp_pool *q = make_pool("while-exporting-2", 2, NULL);
    fp_pool_unref(&q);
    uint64_t took = test_now_ns() - t0;
    ck_assert_msg(!atomic_load(&w.finished), "the export did not block (test setup)");
    ck_assert_msg(took < 2000000000ull, "create/unref blocked behind the export for %llu ms",
                  (unsigned long long)(took / 1000000));

    /* Drain the pipe: the export finishes and is valid. */
    char buf[65536];
    FILE *r = fdopen(fds[0], "r");
    size_t total = 0, n;
    while ((n = fread(buf, 1, sizeof(buf), r)) > 0)
        total += n;
    pthread_join(t, NULL);
    fclose(r);
    ck_assert_int_eq(w.ret, 0);
    ck_assert_uint_gt(total, 65536);
    for (int i = 0; i < NPOOLS; i++)
        fp_pool_unref(&pools[i]);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* fork()                                                                    */

static _Atomic int busy_stop;
static void *busy_thread(void *arg)
{
    fp_pool *pool = arg;
    FILE *f = devnull();
    while (!atomic_load(&busy_stop)) {
        fp_pool_stats st;
        fp_pool_get_stats(pool, &st);
        fp_registry_write_json(f);
        fp_frame *fr;
        if (fp_pool_acquire(pool, 0, &fr) == 0)
            fp_frame_unref(&fr);
        fp_pool_trim(pool);
        fp_registry_maintain();
    }
    fclose(f);
    return NULL;
}

/* In a child forked while another thread of the parent used the library:
 * every lock must be usable (a hang is caught by the alarm). */
static void child_alarm(unsigned s)
{
    signal(SIGALRM, SIG_DFL); /* not Check's handler, which kills the whole group */
    alarm(s);
}

static int child_work(fp_pool *inherited)
{
    child_alarm(30);
    fp_frame *f = NULL;
    if (fp_pool_acquire(inherited, 0, &f) < 0 && fp_pool_trim(inherited) < 0)
        return 2;
    FILE *out = fopen("/dev/null", "w");
    if (!out || fp_registry_write_json(out) < 0)
        return 3;
    fclose(out);
    fp_pool *mine = make_pool("child-pool", 2, NULL);
    fp_frame *g;
    if (fp_pool_acquire(mine, 0, &g) < 0)
        return 4;
    fp_pool_stats st;
    if (fp_pool_get_stats(mine, &st) < 0 || st.live != 1)
        return 5;
    fp_frame_unref(&g);
    fp_pool_unref(&mine);
    fp_frame_unref(&f);
    fp_registry_maintain();
    return 0;
}

/* Ends a fork() child with `code`. Under valgrind the child's exit leak check
 * would report the busy thread's in-flight buffers (memory of a thread that
 * does not exist in the child) as lost: exec a shell that exits with the
 * code instead, which ends valgrind's watch without a leak check (memory
 * errors in the child are still reported before). */
static void child_exit(int code)
{
    if (getenv("FP_TEST_UNDER_VALGRIND")) {
        char cmd[32];
        snprintf(cmd, sizeof(cmd), "exit %d", code);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    }
    _exit(code);
}

static int tid_of_live(const fp_live_frame *live, void *ud)
{
    *(uint64_t *)ud = live->thread;
    return 1;
}

START_TEST(fork_while_another_thread_works)
{
#if defined(__SANITIZE_ADDRESS__)
    /* GCC 12's ASan allocator takes no lock around fork(): a child forked
     * while the busy thread is inside malloc hangs in ASan's own mutex (seen
     * with gdb: SizeClassAllocator64::GetFromAllocator). The normal build,
     * valgrind and TSan runs of this suite cover the test. */
    printf("edges: fork_while_another_thread_works: not run under ASan (its allocator is not fork-safe)\n");
    return;
#endif
    fp_pool *pool = make_pool("forked", 4, NULL);
    atomic_store(&busy_stop, 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, busy_thread, pool), 0);
    int failed = 0;
    for (int i = 0; i < 20; i++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            child_exit(child_work(pool));
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            printf("edges: fork child %d: status 0x%x\n", i, status);
            failed++;
        }
    }
    atomic_store(&busy_stop, 1);
    pthread_join(t, NULL);
    ck_assert_msg(failed == 0, "%d of 20 children failed or hung", failed);
    fp_pool_unref(&pool);
}
END_TEST

START_TEST(fork_child_has_its_own_thread_id)
{
    fp_pool *pool = make_pool("forked-tid", 4, NULL);
    fp_frame *f;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0); /* caches the parent's tid */
    fp_frame_unref(&f);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        child_alarm(10);
        uint64_t got = 0, want = (uint64_t)syscall(SYS_gettid);
        fp_frame *g;
        if (fp_pool_acquire(pool, 0, &g) < 0)
            _exit(2);
        fp_pool_foreach_live(pool, tid_of_live, &got);
        uint64_t msg[2] = { got, want };
        ssize_t w = write(fds[1], msg, sizeof(msg));
        _exit(w == sizeof(msg) ? 0 : 3);
    }
    close(fds[1]);
    uint64_t msg[2] = { 0, 0 };
    ck_assert_int_eq(read(fds[0], msg, sizeof(msg)), (ssize_t)sizeof(msg));
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_uint_eq(msg[0], msg[1]);
    ck_assert_uint_ne(msg[0], (uint64_t)syscall(SYS_gettid));
    fp_pool_unref(&pool);
}
END_TEST

/* Runs `edge-child MODE` with FRAMEPOOL_TRACE=leaks; its output (stdout and
 * stderr) in out. Fails the test unless it exits 0. */
static void run_edge_child(const char *mode, char *out, size_t n)
{
    const char *child = getenv("FP_EDGE_CHILD");
    ck_assert_msg(child != NULL, "FP_EDGE_CHILD is not set (run through meson test)");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "FRAMEPOOL_TRACE=leaks %s %s 2>&1", child, mode);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t len = fread(out, 1, n - 1, p);
    out[len] = '\0';
    int status = pclose(p);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, out);
}

START_TEST(fork_child_exit_report_leaves_parent_frames_out)
{
    char out[16384];
    run_edge_child("fork-leaks", out, sizeof(out));
    /* The parent's report names its frame once; the child's names only its own. */
    ck_assert_msg(strstr(out, "parent-frame"), "the parent's leak is not reported: %s", out);
    ck_assert_msg(strstr(out, "child-frame"), "the child's leak is not reported: %s", out);
    const char *first = strstr(out, "parent-frame");
    ck_assert_msg(!strstr(first + 1, "parent-frame"), "the child reported the parent's frame: %s", out);
}
END_TEST

START_TEST(exit_report_log_callback_exports)
{
    char out[16384];
    run_edge_child("exit-export", out, sizeof(out));
    ck_assert_msg(strstr(out, "exported during the exit report"), "no export from the log callback: %s", out);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* pthread_cancel                                                            */

static void *forever_waiter(void *arg)
{
    fp_frame *f = NULL;
    fp_pool_acquire((fp_pool *)arg, FP_WAIT_FOREVER, &f);
    fp_frame_unref(&f);
    return NULL;
}

START_TEST(cancel_waiting_acquirer)
{
    fp_pool *pool = make_pool("cancel", 1, &g_log);
    fp_frame *held;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &held), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, forever_waiter, pool), 0);
    fp_pool_stats st;
    do {
        test_sleep_us(1000);
        ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    } while (st.waits == 0);
    test_sleep_us(20000);
    ck_assert_int_eq(pthread_cancel(t), 0);
    void *res;
    ck_assert_int_eq(pthread_join(t, &res), 0);
    ck_assert_ptr_eq(res, PTHREAD_CANCELED);
    /* The release does not hang on a lock the cancelled thread kept, and the
     * frame is free again. */
    fp_frame_unref(&held);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &held), 0);
    fp_frame_unref(&held);
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.live, 0);
    fp_pool_unref(&pool); /* frees: the waiter's hold was dropped */
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Saturation                                                                */

typedef struct huge_wait {
    fp_pool *pool;
    int ret;
    fp_frame *f;
} huge_wait;

static void *huge_waiter(void *arg)
{
    huge_wait *h = arg;
    h->ret = fp_pool_acquire(h->pool, (int64_t)1 << 61, &h->f);
    return NULL;
}

START_TEST(huge_timeout_does_not_wrap)
{
    huge_wait h = { .pool = make_pool("huge-timeout", 1, &g_log) };
    fp_frame *held;
    ck_assert_int_eq(fp_pool_acquire(h.pool, 0, &held), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, huge_waiter, &h), 0);
    test_sleep_us(50000);
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(h.pool, &st), 0);
    ck_assert_uint_eq(st.timeouts, 0); /* 2^61 us * 1000 wrapped to ~2 us before */
    fp_frame_unref(&held);
    pthread_join(t, NULL);
    ck_assert_int_eq(h.ret, 0);
    fp_frame_unref(&h.f);
    fp_pool_unref(&h.pool);
}
END_TEST

START_TEST(huge_watchdog_age_stays_on)
{
    fp_pool *pool = make_pool("huge-age", 1, &g_log);
    ck_assert_int_eq(fp_pool_set_watchdog(pool, (int64_t)1 << 61, NULL, NULL), 0);
    /* 2^61 * 1000 is 125 * 2^64: wrapped, it was 0, i.e. off. */
    ck_assert_uint_eq(atomic_load(&pool->watchdog_age), UINT64_MAX);
    ck_assert_int_eq(fp_pool_set_watchdog(pool, INT64_MAX, NULL, NULL), 0);
    ck_assert_uint_eq(atomic_load(&pool->watchdog_age), UINT64_MAX);
    ck_assert_int_eq(fp_pool_set_watchdog(pool, 1000, NULL, NULL), 0);
    ck_assert_uint_eq(atomic_load(&pool->watchdog_age), 1000000);
    fp_pool_unref(&pool);
}
END_TEST

static void setup(void)
{
    test_log_reset(&g_log);
}

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("edges");
    TCase *tc = tcase_create("reenter");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, watchdog_callback_reenters_during_registry_walk);
    tcase_add_test(tc, log_callback_reads_stats_on_alloc_failure);
    tcase_add_test(tc, allocator_callback_reenters);
    tcase_add_test(tc, exit_report_log_callback_exports);
    suite_add_tcase(s, tc);

    tc = tcase_create("watchdog");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, watchdog_dies_with_the_app_reference);
    tcase_add_test(tc, watchdog_off_waits_for_running_callback);
    tcase_add_test(tc, watchdog_callback_turns_itself_off);
    tcase_add_test(tc, huge_watchdog_age_stays_on);
    suite_add_tcase(s, tc);

    tc = tcase_create("cancel");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, cancel_waiting_acquirer);
    suite_add_tcase(s, tc);

    tc = tcase_create("io");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, slow_export_reader_blocks_nobody);
    suite_add_tcase(s, tc);

    tc = tcase_create("process");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fork_while_another_thread_works);
    tcase_add_test(tc, fork_child_has_its_own_thread_id);
    tcase_add_test(tc, fork_child_exit_report_leaves_parent_frames_out);
    tcase_add_test(tc, huge_timeout_does_not_wrap);
    suite_add_tcase(s, tc);
    return s;
}
