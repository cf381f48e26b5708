/*
 * Suite "misuse": every public function with NULL and garbage arguments, and
 * the classic lifetime mistakes — double releases, foreign frames, release
 * after close, acquire on a closed pool, dropping a pool with live frames and
 * releasing them from another thread. Each must give a clear error code or a
 * documented no-op, never a crash, and leave the books right. With
 * FP_POOL_STRICT the same misuse aborts with a report.
 * SPDX-License-Identifier: MIT
 *
 * Every checked call counts as one case (MCASE); the suite prints the total
 * for doc/reliability.md.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
/* For ref_saturates_at_int_max only: the slot behind a frame. */
#include "../lib/internal.h"

#ifdef HAVE_AV
# include <libavcodec/avcodec.h>
# include <libavutil/pixdesc.h>
# include <framepool/av.h>
#endif

static int cases;

/* One misuse case: the call and what it must give. */
#define MCASE(cond)                                                   \
    do {                                                              \
        cases++;                                                      \
        ck_assert_msg((cond), "misuse case failed: %s", #cond);       \
    } while (0)

static test_log g_log;
static fp_pool *pool;

static fp_pool *make_pool(unsigned flags, int max)
{
    fp_pool_config cfg = test_config(FP_FMT_YUV420P, 32, 16, max, &g_log);
    cfg.name = "misuse";
    cfg.flags = flags;
    fp_pool *p = NULL;
    ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
    return p;
}

static void setup(void)
{
    test_log_reset(&g_log);
    cases = 0;
    pool = make_pool(0, 3);
}

static void teardown(void)
{
    fp_pool_unref(&pool);
    printf("misuse: %d case(s) in this test\n", cases);
    fflush(stdout);
}

static fp_pool_stats stats_of(fp_pool *p)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(p, &st), 0);
    ck_assert_uint_eq(st.live, st.acquired - st.released);
    ck_assert_uint_le(st.live, st.capacity);
    ck_assert_uint_eq(st.allocated, st.live + st.idle);
    return st;
}

/* The pool still hands out every frame, distinct, and takes them back. */
static void check_intact(fp_pool *p, uint32_t live)
{
    fp_pool_stats st = stats_of(p);
    ck_assert_uint_eq(st.live, live);
    fp_frame *f[8] = { NULL };
    uint32_t n = st.capacity - st.live;
    ck_assert_uint_le(n, 8);
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_int_eq(fp_pool_acquire(p, 0, &f[i]), 0);
        for (uint32_t j = 0; j < i; j++)
            ck_assert_ptr_ne(f[i], f[j]);
        memset(f[i]->data[0], 0x77, f[i]->size);
    }
    fp_frame *extra = NULL;
    ck_assert_int_eq(fp_pool_acquire(p, 0, &extra), FP_ERR(EAGAIN));
    for (uint32_t i = 0; i < n; i++)
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
    ck_assert_uint_eq(stats_of(p).live, live);
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Heap blocks the size of an fp_frame, filled with garbage: what a caller
 * might pass by mistake (never a frame of any pool). */
static fp_frame *garbage_frame(uint64_t *seed)
{
    fp_frame *g = malloc(sizeof(*g));
    ck_assert_ptr_nonnull(g);
    for (size_t i = 0; i < sizeof(*g); i++)
        ((uint8_t *)g)[i] = (uint8_t)xorshift(seed);
    return g;
}

static int count_cb(const fp_live_frame *lf, void *ud)
{
    (void)lf;
    (*(int *)ud)++;
    return 0;
}

static int stop_cb(const fp_live_frame *lf, void *ud)
{
    (void)lf;
    (*(int *)ud)++;
    return 7;
}

/* ------------------------------------------------------------------------- */
/* NULL arguments to every core function                                     */

START_TEST(null_arguments_core)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 8, 8, 2, &g_log);
    fp_pool *p = (fp_pool *)(uintptr_t)1;
    fp_frame *f = (fp_frame *)(uintptr_t)1;
    fp_pool_stats st;
    FILE *out = tmpfile();
    ck_assert_ptr_nonnull(out);
    uint64_t misuse = fp_misuse_count();

    fp_pool_config_default(NULL); /* no-op */
    MCASE(fp_pool_create(NULL, &cfg) == FP_ERR(EINVAL));
    MCASE(fp_pool_create(&p, NULL) == FP_ERR(EINVAL) && p == NULL);
    MCASE(fp_pool_create(NULL, NULL) == FP_ERR(EINVAL));
    MCASE(fp_pool_acquire(NULL, 0, &f) == FP_ERR(EINVAL) && f == NULL);
    MCASE(fp_pool_acquire(pool, 0, NULL) == FP_ERR(EINVAL));
    MCASE(fp_pool_acquire(NULL, FP_WAIT_FOREVER, NULL) == FP_ERR(EINVAL));
    MCASE(fp_pool_acquire_at(pool, 0, NULL, NULL, 0, NULL) == FP_ERR(EINVAL));
    MCASE(fp_frame_ref(NULL) == NULL);
    MCASE(fp_frame_unref(NULL) == 0);
    f = NULL;
    MCASE(fp_frame_unref(&f) == 0 && f == NULL);
    MCASE(fp_frame_unref_at(&f, NULL, 0, NULL) == 0);
    MCASE(fp_frame_refcount(NULL) == FP_ERR(EINVAL));
    MCASE(fp_frame_is_writable(NULL) == 0);
    fp_frame_set_tag(NULL, "x");
    fp_frame_set_tag(NULL, NULL);
    cases += 2;
    MCASE(fp_frame_set_long_lived(NULL) == FP_ERR(EINVAL));
    fp_frame_autorelease(NULL);
    fp_frame_autorelease(&f);
    cases += 2;
    fp_pool_close(NULL);
    cases++;
    MCASE(fp_pool_ref(NULL) == NULL);
    fp_pool_unref(NULL);
    p = NULL;
    fp_pool_unref(&p);
    cases += 2;
    MCASE(fp_pool_get_stats(NULL, &st) == FP_ERR(EINVAL));
    MCASE(fp_pool_get_stats(pool, NULL) == FP_ERR(EINVAL));
    int n = 0;
    MCASE(fp_pool_foreach_live(NULL, count_cb, &n) == FP_ERR(EINVAL));
    MCASE(fp_pool_foreach_live(pool, NULL, &n) == FP_ERR(EINVAL));
    MCASE(fp_pool_foreach_live_since(NULL, 0, count_cb, &n) == FP_ERR(EINVAL));
    MCASE(fp_pool_foreach_live_since(pool, 0, NULL, &n) == FP_ERR(EINVAL));
    MCASE(n == 0);
    MCASE(fp_pool_checkpoint(NULL) == 0);
    MCASE(fp_pool_report(NULL, out) == FP_ERR(EINVAL));
    MCASE(fp_pool_report(pool, NULL) == FP_ERR(EINVAL));
    MCASE(fp_pool_trim(NULL) == FP_ERR(EINVAL));
    MCASE(fp_pool_name(NULL) != NULL && fp_pool_name(NULL)[0] == '\0');
    MCASE(fp_pool_id(NULL) == 0);
    MCASE(fp_pool_set_watchdog(NULL, 1000, NULL, NULL) == FP_ERR(EINVAL));
    MCASE(fp_pool_watchdog_check(NULL) == FP_ERR(EINVAL));
    MCASE(fp_pool_write_json(NULL, out) == FP_ERR(EINVAL));
    MCASE(fp_pool_write_json(pool, NULL) == FP_ERR(EINVAL));
    MCASE(fp_registry_write_json(NULL) == FP_ERR(EINVAL));
    MCASE(fp_registry_write_prometheus(NULL) == FP_ERR(EINVAL));
    fp_scope_begin(NULL);
    fp_scope_end(NULL);
    cases += 2;
    fp_scope s;
    fp_scope_begin(&s);
    MCASE(fp_scope_add(NULL, NULL) == FP_ERR(EINVAL));
    MCASE(fp_scope_add(&s, NULL) == FP_ERR(EINVAL));
    MCASE(fp_scope_take(NULL, NULL) == FP_ERR(EINVAL));
    MCASE(fp_scope_take(&s, NULL) == FP_ERR(EINVAL));
    fp_scope_end(&s);
    MCASE(fp_strerror(0) != NULL && fp_strerror(FP_ERR(EINVAL)) != NULL);
    MCASE(fp_strerror(INT_MIN) != NULL && fp_strerror(INT_MAX) != NULL && fp_strerror(-99999) != NULL);
    MCASE(fp_strerror(5) != NULL && fp_strerror(FP_ERR(ENOSPC)) != NULL);
    MCASE(fp_version() == FP_VERSION);
    fclose(out);

    MCASE(fp_misuse_count() == misuse); /* NULL is never counted as misuse */
    check_intact(pool, 0);
    MCASE(stats_of(pool).misuse == 0);
}
END_TEST

/* Out-of-range numbers: timeouts, watchdog ages. */
START_TEST(bad_numbers)
{
    fp_frame *f = (fp_frame *)(uintptr_t)1;
    MCASE(fp_pool_acquire(pool, -2, &f) == FP_ERR(EINVAL) && f == NULL);
    MCASE(fp_pool_acquire(pool, INT64_MIN, &f) == FP_ERR(EINVAL) && f == NULL);
    MCASE(fp_pool_set_watchdog(pool, -1, NULL, NULL) == FP_ERR(EINVAL));
    MCASE(fp_pool_set_watchdog(pool, INT64_MIN, NULL, NULL) == FP_ERR(EINVAL));
    /* Enormous, but valid: never overflows a deadline. */
    MCASE(fp_pool_acquire(pool, INT64_MAX, &f) == 0);
    MCASE(fp_frame_unref(&f) == 0);
    MCASE(fp_pool_set_watchdog(pool, INT64_MAX / 1000, NULL, NULL) == 0);
    MCASE(fp_pool_watchdog_check(pool) == 0);
    MCASE(fp_pool_set_watchdog(pool, 0, NULL, NULL) == 0);
    /* An untracked pool has no ages to watch. */
    fp_pool *u = make_pool(FP_POOL_NO_TRACK, 1);
    MCASE(fp_pool_set_watchdog(u, 1000, NULL, NULL) == FP_ERR(EINVAL));
    MCASE(fp_pool_set_watchdog(u, 0, NULL, NULL) == 0);
    MCASE(fp_pool_checkpoint(pool) >= fp_pool_checkpoint(pool) - 1);
    int n = 0;
    MCASE(fp_pool_foreach_live_since(pool, UINT64_MAX, count_cb, &n) == 0 && n == 0);
    fp_pool_unref(&u);
    check_intact(pool, 0);
}
END_TEST

/* Configs of garbage numbers: an error or a working pool, never a crash. */
START_TEST(garbage_configs)
{
    static const int dims[] = { INT_MIN, -1, 0, 1, 2, 3, 63, 64, 1000, FP_MAX_DIMENSION + 1, INT_MAX };
    static const int counts[] = { INT_MIN, -1, 0, 1, 2, 3, FP_MAX_FRAMES + 1, INT_MAX };
    static const int aligns[] = { INT_MIN, -64, 0, 1, 3, 16, 64, 100, 4096, 8192, INT_MAX };
    static const size_t sizes[] = { 0, 1, 4096, SIZE_MAX - 8, SIZE_MAX };
    static const unsigned flags[] = { 0, FP_POOL_NO_TRACK, FP_POOL_STRICT, 1u << 4, UINT_MAX };
    static const int levels[] = { INT_MIN, -1, FP_LOG_ERROR, FP_LOG_DEBUG, 4, INT_MAX };
    static const int64_t gb[] = { INT64_MIN, -2, -1, 0, INT64_MAX };
#define PICK(a) a[xorshift(&seed) % (sizeof(a) / sizeof(a[0]))]
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    int ok = 0, rejected = 0;
    for (int i = 0; i < 3000; i++) {
        fp_pool_config cfg;
        fp_pool_config_default(&cfg);
        cfg.name = (i & 1) ? "garbage" : NULL;
        cfg.log = test_log_cb;
        cfg.log_opaque = &g_log;
        /* A valid config with 0..3 fields replaced by garbage. */
        cfg.format = (enum fp_format)(1 + xorshift(&seed) % (FP_FMT_COUNT - 1));
        if (cfg.format == FP_FMT_RAW) {
            cfg.buffer_size = 4096;
        } else {
            cfg.width = 64;
            cfg.height = 48;
        }
        cfg.max_frames = 4;
        int mutations = (int)(xorshift(&seed) % 4);
        for (int m = 0; m < mutations; m++) {
            switch (xorshift(&seed) % 11) {
            case 0: cfg.format = (enum fp_format)((int)(xorshift(&seed) % 16) - 2); break;
            case 1: cfg.width = PICK(dims); break;
            case 2: cfg.height = PICK(dims); break;
            case 3: cfg.align = PICK(aligns); break;
            case 4: cfg.buffer_size = PICK(sizes); break;
            case 5: cfg.max_frames = PICK(counts); break;
            case 6: cfg.min_frames = PICK(counts) > 3 && cfg.max_frames < INT_MAX ? cfg.max_frames + 1 : PICK(counts); break;
            case 7: cfg.flags = PICK(flags); break;
            case 8: cfg.log_level = PICK(levels); break;
            case 9: cfg.get_buffer_timeout_us = PICK(gb); break;
            default:
                if (xorshift(&seed) & 1)
                    cfg.reserved[xorshift(&seed) % sizeof(cfg.reserved)] = 1;
                else
                    cfg.allocator.alloc = test_alloc_alloc; /* without free: EINVAL */
                break;
            }
        }
        if (cfg.min_frames > 3)
            cfg.min_frames = 3; /* keep memory small when the rest is valid */
        test_log_reset(&g_log);
        fp_pool *p = (fp_pool *)(uintptr_t)1;
        int ret = fp_pool_create(&p, &cfg);
        cases++;
        if (ret < 0) {
            ck_assert_msg(ret == FP_ERR(EINVAL) || ret == FP_ERR(EOVERFLOW) || ret == FP_ERR(ENOMEM),
                          "config %d: %d (%s)", i, ret, fp_strerror(ret));
            ck_assert_ptr_null(p);
            /* A line names the problem, unless the config asked for silence
             * at a level that hides errors (it cannot: errors always log). */
            ck_assert_msg(atomic_load(&g_log.total) >= 1, "config %d rejected without a log line", i);
            rejected++;
            continue;
        }
        ok++;
        ck_assert_ptr_nonnull(p);
        fp_frame *f = NULL;
        ret = fp_pool_acquire(p, 0, &f);
        ck_assert_int_eq(ret, 0);
        ck_assert_uint_ge(f->size, 1);
        f->data[0][0] = 1;
        f->data[0][f->size - 1] = 2;
        ck_assert_int_eq(fp_frame_unref(&f), 0);
        fp_pool_unref(&p);
    }
#undef PICK
    ck_assert_int_gt(ok, 300);
    ck_assert_int_gt(rejected, 1000);
    printf("misuse: garbage configs: %d accepted, %d rejected\n", ok, rejected);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Frames: double, foreign, stale, garbage                                   */

START_TEST(double_and_stale_releases)
{
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    fp_frame *copy = f, *copy2 = f;
    MCASE(fp_frame_ref(f) == f);
    MCASE(fp_frame_unref(&f) == 0 && f == NULL);
    MCASE(fp_frame_unref(&f) == 0);             /* same variable: NULL, a no-op */
    MCASE(fp_frame_unref(&copy) == 0);          /* the second reference */
    MCASE(fp_frame_unref(&copy2) == FP_ERR(EALREADY) && copy2 == NULL);
    MCASE(test_log_has(&g_log, "double release"));
    fp_frame *stale = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &stale), 0);
    fp_frame *keep = stale;
    ck_assert_int_eq(fp_frame_unref(&stale), 0);
    stale = keep;
    MCASE(fp_frame_ref(stale) == NULL);
    MCASE(fp_frame_refcount(stale) == 0);
    MCASE(fp_frame_is_writable(stale) == 0);
    /* Labels of a released frame are refused: logged, counted, the record
     * left as it is (issue 12 item 13). */
    test_log_reset(&g_log);
    fp_frame_set_tag(stale, "late");
    MCASE(test_log_has(&g_log, "fp_frame_set_tag of frame") && test_log_has(&g_log, "not live"));
    MCASE(stats_of(pool).misuse == 3);
    MCASE(fp_frame_set_long_lived(stale) == FP_ERR(EINVAL));
    MCASE(test_log_has(&g_log, "fp_frame_set_long_lived of frame"));
    MCASE(stats_of(pool).misuse == 4);
    fp_frame_autorelease(&stale); /* a double release through the cleanup helper */
    MCASE(stale == NULL);
    MCASE(stats_of(pool).misuse == 5);
    /* The slot is clean on its next acquire. */
    fp_frame *again[3] = { NULL };
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &again[i]), 0);
    int n = 0;
    ck_assert_int_eq(fp_pool_foreach_live(pool, count_cb, &n), 0);
    MCASE(n == 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fp_frame_unref(&again[i]), 0);
    /* A stopping callback's value comes back. */
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &again[0]), 0);
    n = 0;
    MCASE(fp_pool_foreach_live(pool, stop_cb, &n) == 7 && n == 1);
    ck_assert_int_eq(fp_frame_unref(&again[0]), 0);
    check_intact(pool, 0);
    MCASE(stats_of(pool).released == stats_of(pool).acquired);
}
END_TEST

START_TEST(foreign_and_garbage_frames)
{
    uint64_t seed = 88172645463325252ull;
    uint64_t before = fp_misuse_count();
    int foreign = 0;
    fp_frame *live = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &live), 0);

    /* A copy of a live frame's struct is not the frame. */
    fp_frame copy = *live;
    fp_frame *pc = &copy;
    MCASE(fp_frame_unref(&pc) == FP_ERR(EINVAL) && pc == NULL);
    foreign++;
    pc = &copy;
    MCASE(fp_frame_ref(pc) == NULL);
    foreign++;
    MCASE(fp_frame_refcount(pc) == FP_ERR(EINVAL));
    foreign++;
    MCASE(fp_frame_is_writable(pc) == 0);
    foreign++;
    MCASE(fp_frame_set_long_lived(pc) == FP_ERR(EINVAL));
    fp_frame_set_tag(pc, "copy");
    /* Zeroed, and garbage. */
    fp_frame zero;
    memset(&zero, 0, sizeof(zero));
    fp_frame *pz = &zero;
    MCASE(fp_frame_unref(&pz) == FP_ERR(EINVAL));
    foreign++;
    for (int i = 0; i < 200; i++) {
        fp_frame *g = garbage_frame(&seed), *pg = g;
        MCASE(fp_frame_unref(&pg) == FP_ERR(EINVAL) && pg == NULL);
        MCASE(fp_frame_ref(g) == NULL);
        MCASE(fp_frame_refcount(g) == FP_ERR(EINVAL));
        foreign++;
        MCASE(fp_frame_set_long_lived(g) == FP_ERR(EINVAL));
        fp_frame_set_tag(g, "garbage");
        fp_scope s;
        fp_scope_begin(&s);
        MCASE(fp_scope_add(&s, g) == FP_ERR(EINVAL) && s.count == 0);
        MCASE(fp_scope_take(&s, g) == FP_ERR(ENOENT));
        fp_scope_end(&s);
        foreign += 2;
        free(g);
    }
    MCASE(fp_misuse_count() == before + (uint64_t)foreign);
    /* Nothing in the pool changed: the live frame is intact. */
    MCASE(fp_frame_refcount(live) == 1);
    MCASE(stats_of(pool).misuse == 0);
    check_intact(pool, 1);
    ck_assert_int_eq(fp_frame_unref(&live), 0);
}
END_TEST

/* A frame of one pool is never confused with another pool's. */
START_TEST(frames_of_two_pools)
{
    fp_pool *other = make_pool(0, 2);
    fp_frame *a = NULL, *b = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &a), 0);
    ck_assert_int_eq(fp_pool_acquire(other, 0, &b), 0);
    fp_frame *b2 = b;
    ck_assert_int_eq(fp_frame_unref(&b), 0);
    MCASE(fp_frame_unref(&b2) == FP_ERR(EALREADY));
    MCASE(stats_of(other).misuse == 1 && stats_of(pool).misuse == 0);
    fp_pool_unref(&other);
    check_intact(pool, 1);
    ck_assert_int_eq(fp_frame_unref(&a), 0);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Reference counts at their limits, sites in log lines (issue 12 items 13, 14) */

/* Runs fn with stderr captured into out. */
static void capture_stderr(void (*fn)(void *), void *ud, char *out, size_t n)
{
    char path[] = "/tmp/fp-misuse-stderr-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn(ud);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t len = pread(fd, out, n - 1, 0);
    out[len > 0 ? len : 0] = '\0';
    close(fd);
    unlink(path);
}

static int foreign_ref_line;
static void ref_foreign(void *ud)
{
    fp_frame *g = ud;
    fp_frame *r = fp_frame_ref(g); foreign_ref_line = __LINE__;
    ck_assert_ptr_null(r);
}

START_TEST(ref_logs_the_callers_site)
{
    uint64_t seed = 2463534242ull;
    fp_frame *g = garbage_frame(&seed);
    char out[2048], want[128];
    uint64_t before = fp_misuse_count();
    capture_stderr(ref_foreign, g, out, sizeof(out));
    snprintf(want, sizeof(want), "test-misuse.c:%d in ref_foreign(): not a frame of any framepool pool", foreign_ref_line);
    ck_assert_msg(strstr(out, want), "missing \"%s\" in \"%s\"", want, out);
    MCASE(fp_misuse_count() == before + 1);
    /* The function form (ABI, #undef) and the _at form. */
    MCASE((fp_frame_ref)(g) == NULL);
    MCASE(fp_frame_ref_at(g, "here.c", 12, "there") == NULL);
    MCASE(fp_misuse_count() == before + 3);
    free(g);

    /* A stale frame: the pool's log names the site. */
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    fp_frame *stale = f;
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    test_log_reset(&g_log);
    MCASE(fp_frame_ref_at(stale, "stale.c", 77, "user") == NULL);
    MCASE(test_log_has(&g_log, "fp_frame_ref at stale.c:77 in user() of a frame that is not live"));
    MCASE(stats_of(pool).misuse == 1);
}
END_TEST

/* Like the kernel's refcount_t: past INT_MAX the count stays put; the frame
 * is pinned (never returned, never handed out twice); logged once, counted. */
START_TEST(ref_saturates_at_int_max)
{
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    fp_slot *s = fp__slot_of(f); /* 2^31 real references would take too long */
    ck_assert_ptr_nonnull(s);
    atomic_store(&s->refs, INT_MAX - 1);
    test_log_reset(&g_log);
    MCASE(fp_frame_ref(f) == f);
    MCASE(fp_frame_refcount(f) == INT_MAX);
    MCASE(stats_of(pool).misuse == 0);
    MCASE(fp_frame_ref(f) == f); /* saturated: the pointer stays valid */
    MCASE(fp_frame_ref(f) == f);
    MCASE(fp_frame_refcount(f) == INT_MAX); /* never wraps */
    MCASE(stats_of(pool).misuse == 2);
    MCASE(test_log_has(&g_log, "has INT_MAX references: the count saturates"));
    MCASE(atomic_load(&g_log.total) == 1); /* logged once */
    /* Releases leave a saturated count alone: the frame stays live. */
    fp_frame *r = f;
    MCASE(fp_frame_unref(&r) == 0 && r == NULL);
    MCASE(fp_frame_refcount(f) == INT_MAX);
    MCASE(stats_of(pool).live == 1);
    MCASE(stats_of(pool).released == 0);
    /* Let the test's pool go: a real program never gets its frame back. */
    atomic_store(&s->refs, 1);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    check_intact(pool, 0);
}
END_TEST

static char long_msg[4096];
static _Atomic int long_msgs;
static void long_log(void *opaque, int level, const char *msg)
{
    (void)opaque;
    (void)level;
    if (strstr(msg, "double release"))
        snprintf(long_msg, sizeof(long_msg), "%s", msg);
    atomic_fetch_add(&long_msgs, 1);
}

/* A long name or path costs its middle, never the reason of the line. */
START_TEST(long_strings_keep_the_reason)
{
    static char path[3000], name[200];
    memset(path, 'p', sizeof(path) - 1);
    memcpy(path + sizeof(path) - 8, "/file.c", 8);
    memset(name, 'n', sizeof(name) - 1);
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 16, 16, 2, NULL);
    cfg.name = name;
    cfg.log = long_log;
    fp_pool *p = NULL;
    ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire_at(p, 0, &f, path, 5, "fn"), 0);
    fp_frame *copy = f;
    ck_assert_int_eq(fp_frame_unref_at(&f, path, 6, "fn"), 0);
    MCASE(fp_frame_unref_at(&copy, path, 7, "fn") == FP_ERR(EALREADY));
    MCASE(strstr(long_msg, "double release of frame") != NULL);
    MCASE(strstr(long_msg, "/file.c:7 in fn(): acquired at ") != NULL);
    MCASE(strstr(long_msg, "/file.c:5 in fn(), already released at ") != NULL);
    MCASE(strstr(long_msg, "/file.c:6 in fn()") != NULL); /* the end of the line survives too */
    MCASE(strstr(long_msg, "ppp...ppp") != NULL);
    MCASE(strlen(long_msg) < 1000);
    fp_pool_unref(&p);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Scopes                                                                    */

START_TEST(scope_misuse)
{
    fp_scope zero;
    memset(&zero, 0, sizeof(zero)); /* never begun */
    fp_scope_end(&zero);            /* no-op */
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    MCASE(fp_scope_add(&zero, f) == 0); /* begins itself */
    MCASE(fp_scope_take(&zero, f) == 0);
    MCASE(fp_scope_take(&zero, f) == FP_ERR(ENOENT));
    MCASE(fp_scope_add(&zero, f) == 0);
    fp_scope_end(&zero);
    fp_scope_end(&zero); /* twice: a no-op */
    MCASE(stats_of(pool).live == 0);
    /* A released frame added to a scope: refused at the add, counted once,
     * not released again when the scope ends (issue 12 item 13). */
    fp_scope s;
    fp_scope_begin(&s);
    fp_frame *stale = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &stale), 0);
    fp_frame *keep = stale;
    ck_assert_int_eq(fp_frame_unref(&stale), 0);
    test_log_reset(&g_log);
    MCASE(fp_scope_add(&s, keep) == FP_ERR(EINVAL));
    MCASE(s.count == 0);
    MCASE(test_log_has(&g_log, "fp_scope_add of frame") && test_log_has(&g_log, "not live"));
    fp_scope_end(&s);
    MCASE(stats_of(pool).misuse == 1);
    MCASE(!test_log_has(&g_log, "double release"));
    check_intact(pool, 0);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Close, and the pool's lifetime                                            */

START_TEST(release_after_close_and_acquire_on_closed)
{
    fp_frame *f[2] = { NULL, NULL };
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[0]), 0);
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[1]), 0);
    fp_frame *r0 = fp_frame_ref(f[0]);
    fp_pool_close(pool);
    fp_pool_close(pool); /* idempotent */
    cases += 2;
    fp_frame *g = (fp_frame *)(uintptr_t)1;
    MCASE(fp_pool_acquire(pool, 0, &g) == FP_ERR(ESHUTDOWN) && g == NULL);
    MCASE(fp_pool_acquire(pool, 1000, &g) == FP_ERR(ESHUTDOWN) && g == NULL);
    MCASE(fp_pool_acquire(pool, FP_WAIT_FOREVER, &g) == FP_ERR(ESHUTDOWN) && g == NULL);
    /* Live frames stay valid and return as usual. */
    memset(f[0]->data[0], 1, f[0]->size);
    fp_frame *r1 = fp_frame_ref(r0);
    MCASE(r1 == r0);
    MCASE(fp_frame_unref(&r0) == 0);
    MCASE(fp_frame_unref(&f[0]) == 0);
    MCASE(fp_frame_refcount(f[1]) == 1);
    MCASE(fp_frame_unref(&f[1]) == 0);
    fp_pool_stats st = stats_of(pool);
    MCASE(st.closed && st.live == 1 && st.released == 1);
    FILE *out = tmpfile();
    ck_assert_ptr_nonnull(out);
    MCASE(fp_pool_report(pool, out) == 0);
    MCASE(fp_pool_write_json(pool, out) == 0);
    MCASE(fp_pool_trim(pool) == 1); /* the returned frame; the live one stays */
    fclose(out);
    int n = 0;
    ck_assert_int_eq(fp_pool_foreach_live(pool, count_cb, &n), 0);
    MCASE(n == 1);
    /* The last reference of the last frame, after close. */
    MCASE(fp_frame_unref(&r1) == 0);
    MCASE(stats_of(pool).live == 0);
    fp_frame *held = NULL;
    MCASE(fp_pool_acquire(pool, 0, &held) == FP_ERR(ESHUTDOWN));
}
END_TEST

typedef struct releaser {
    fp_frame *frames[3];
    int results[3];
} releaser;

static void *release_thread(void *arg)
{
    releaser *r = arg;
    for (int i = 0; i < 3; i++)
        r->results[i] = fp_frame_unref(&r->frames[i]);
    return NULL;
}

/* Dropping the pool with live frames, then releasing them from another thread. */
START_TEST(unref_with_live_frames_release_elsewhere)
{
    fp_pool *p = make_pool(0, 4);
    uint64_t id = fp_pool_id(p);
    releaser r;
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(fp_pool_acquire(p, 0, &r.frames[0]), 0);
    ck_assert_int_eq(fp_pool_acquire(p, 0, &r.frames[1]), 0);
    r.frames[2] = fp_frame_ref(r.frames[1]);
    fp_frame_set_tag(r.frames[0], "left-behind");
    fp_pool *dangling = p; /* what a buggy caller keeps */
    test_log_reset(&g_log);
    fp_pool_unref(&p);
    MCASE(p == NULL);
    MCASE(test_log_has(&g_log, "2 frames still live") && test_log_has(&g_log, "left-behind"));
    MCASE(test_registry_has(id)); /* reported as closed until the last frame returns */
    /* While frames keep it alive, a stale pointer can neither resurrect it
     * nor drop a reference it does not have. */
    MCASE(fp_pool_ref(dangling) == NULL);
    fp_pool *d2 = dangling;
    fp_pool_unref(&d2);
    MCASE(d2 == NULL);
    MCASE(test_log_has(&g_log, "no application reference left"));
    fp_frame *g = NULL;
    MCASE(fp_pool_acquire(dangling, 0, &g) == FP_ERR(ESHUTDOWN));
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, release_thread, &r), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    for (int i = 0; i < 3; i++)
        MCASE(r.results[i] == 0 && r.frames[i] == NULL);
    MCASE(!test_registry_has(id)); /* freed by the other thread's last release */
}
END_TEST

/* Two threads drop the last two references of a frame of a dropped pool at once. */
static void *unref_one(void *arg)
{
    fp_frame **f = arg;
    return (void *)(intptr_t)fp_frame_unref(f);
}

START_TEST(racing_last_releases_of_dropped_pool)
{
    for (int round = 0; round < 50; round++) {
        fp_pool_config cfg = test_config(FP_FMT_GRAY8, 8, 8, 2, &g_log);
        cfg.log_level = FP_LOG_ERROR; /* no leak lines */
        fp_pool *p = NULL;
        ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
        uint64_t id = fp_pool_id(p);
        fp_frame *a = NULL, *b = NULL;
        ck_assert_int_eq(fp_pool_acquire(p, 0, &a), 0);
        b = fp_frame_ref(a);
        fp_pool_unref(&p);
        pthread_t t1, t2;
        void *r1, *r2;
        ck_assert_int_eq(pthread_create(&t1, NULL, unref_one, &a), 0);
        ck_assert_int_eq(pthread_create(&t2, NULL, unref_one, &b), 0);
        pthread_join(t1, &r1);
        pthread_join(t2, &r2);
        ck_assert_int_eq((int)(intptr_t)r1, 0);
        ck_assert_int_eq((int)(intptr_t)r2, 0);
        ck_assert(!test_registry_has(id));
    }
    cases += 50;
}
END_TEST

/* Writing a report to a stream that cannot be written: EIO, nothing else. */
START_TEST(unwritable_streams)
{
    FILE *ro = fopen("/dev/null", "r");
    ck_assert_ptr_nonnull(ro);
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    MCASE(fp_pool_report(pool, ro) == FP_ERR(EIO));
    clearerr(ro);
    MCASE(fp_pool_write_json(pool, ro) == FP_ERR(EIO));
    clearerr(ro);
    MCASE(fp_registry_write_json(ro) == FP_ERR(EIO));
    clearerr(ro);
    MCASE(fp_registry_write_prometheus(ro) == FP_ERR(EIO));
    fclose(ro);
    check_intact(pool, 1);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* FP_POOL_STRICT                                                            */

static fp_pool *strict;

static void strict_setup(void)
{
    test_log_reset(&g_log);
    cases = 0;
    strict = make_pool(FP_POOL_STRICT, 2);
}

static void strict_teardown(void)
{
    fp_pool_unref(&strict);
    printf("misuse: %d case(s) in this test\n", cases);
    fflush(stdout);
}

START_TEST(strict_double_release)
{
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(strict, 0, &f), 0);
    fp_frame *copy = f;
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    fp_frame_unref(&copy);
    ck_abort_msg("FP_POOL_STRICT: a double release returned");
}
END_TEST

START_TEST(strict_ref_of_released)
{
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(strict, 0, &f), 0);
    fp_frame *copy = f;
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    (void)fp_frame_ref(copy);
    ck_abort_msg("FP_POOL_STRICT: a reference to a released frame returned");
}
END_TEST

START_TEST(strict_scope_end_of_released)
{
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(strict, 0, &f), 0);
    fp_frame *copy = f;
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    fp_scope s;
    fp_scope_begin(&s);
    fp_scope_add(&s, copy); /* refused as misuse: aborts here */
    fp_scope_end(&s);
    ck_abort_msg("FP_POOL_STRICT: a scope taking a released frame returned");
}
END_TEST

START_TEST(strict_ref_of_dropped_pool)
{
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(strict, 0, &f), 0);
    fp_pool *dangling = strict;
    fp_pool_unref(&strict);
    (void)fp_pool_ref(dangling);
    ck_abort_msg("FP_POOL_STRICT: fp_pool_ref of a dropped pool returned");
}
END_TEST

/* The abort comes with a report on stderr: checked in a child of our own, so
 * this runs with CK_FORK=no too. */
START_TEST(strict_abort_prints_report)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fp_pool_config cfg = test_config(FP_FMT_GRAY8, 16, 16, 2, NULL); /* log to stderr */
        cfg.name = "strict-child";
        cfg.flags = FP_POOL_STRICT;
        fp_pool *p = NULL;
        if (fp_pool_create(&p, &cfg) < 0)
            _exit(10);
        fp_frame *keep = NULL, *f = NULL;
        if (fp_pool_acquire(p, 0, &keep) < 0 || fp_pool_acquire(p, 0, &f) < 0)
            _exit(11);
        fp_frame_set_tag(keep, "held-by-child");
        fp_frame *copy = f;
        fp_frame_unref(&f);
        fp_frame_unref(&copy); /* aborts */
        _exit(12);
    }
    close(fds[1]);
    char buf[8192];
    size_t len = 0;
    ssize_t got;
    while (len < sizeof(buf) - 1 && (got = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)got;
    buf[len] = '\0';
    close(fds[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    MCASE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    MCASE(strstr(buf, "double release") != NULL);
    MCASE(strstr(buf, "FP_POOL_STRICT: aborting on misuse") != NULL);
    MCASE(strstr(buf, "framepool: pool \"strict-child\"") != NULL);
    MCASE(strstr(buf, "misuse 1") != NULL);
    MCASE(strstr(buf, "held-by-child") != NULL);
}
END_TEST

/* Correct use never aborts, including every error that is not misuse. */
START_TEST(strict_errors_are_not_misuse)
{
    fp_frame *f[2] = { NULL, NULL }, *g = NULL;
    ck_assert_int_eq(fp_pool_acquire(strict, 0, &f[0]), 0);
    ck_assert_int_eq(fp_pool_acquire(strict, 0, &f[1]), 0);
    MCASE(fp_pool_acquire(strict, 0, &g) == FP_ERR(EAGAIN));
    MCASE(fp_pool_acquire(strict, 1000, &g) == FP_ERR(ETIMEDOUT));
    MCASE(fp_pool_acquire(strict, -5, &g) == FP_ERR(EINVAL));
    MCASE(fp_frame_unref(NULL) == 0);
    fp_pool_close(strict);
    MCASE(fp_pool_acquire(strict, 0, &g) == FP_ERR(ESHUTDOWN));
    for (int i = 0; i < 2; i++)
        MCASE(fp_frame_unref(&f[i]) == 0);
    MCASE(stats_of(strict).misuse == 0);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* The AVFrame adapter                                                       */

#ifdef HAVE_AV
START_TEST(av_misuse)
{
    fp_pool *ap = (fp_pool *)(uintptr_t)1;
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.max_frames = 2;
    cfg.log = test_log_cb;
    cfg.log_opaque = &g_log;
    MCASE(fp_av_pool_create(NULL, AV_PIX_FMT_YUV420P, 16, 16, &cfg) == FP_ERR(EINVAL));
    static const int bad_fmts[] = { AV_PIX_FMT_NONE, -7, 100000, AV_PIX_FMT_VAAPI, AV_PIX_FMT_MONOBLACK,
                                    AV_PIX_FMT_MONOWHITE };
    for (size_t i = 0; i < sizeof(bad_fmts) / sizeof(bad_fmts[0]); i++)
        MCASE(fp_av_pool_create(&ap, (enum AVPixelFormat)bad_fmts[i], 16, 16, &cfg) == FP_ERR(EINVAL) &&
              ap == NULL);
    static const int bad_dims[][2] = { { 0, 16 }, { 16, 0 }, { -1, 16 }, { 16, INT_MIN }, { 32769, 1 } };
    for (size_t i = 0; i < sizeof(bad_dims) / sizeof(bad_dims[0]); i++)
        MCASE(fp_av_pool_create(&ap, AV_PIX_FMT_NV12, bad_dims[i][0], bad_dims[i][1], &cfg) == FP_ERR(EINVAL));
    fp_pool_config c2 = cfg;
    c2.format = FP_FMT_NV12;
    MCASE(fp_av_pool_create(&ap, AV_PIX_FMT_YUV420P, 16, 16, &c2) == FP_ERR(EINVAL));
    c2 = cfg;
    c2.width = 8;
    MCASE(fp_av_pool_create(&ap, AV_PIX_FMT_YUV420P, 16, 16, &c2) == FP_ERR(EINVAL));
    c2 = cfg;
    c2.buffer_size = 10;
    MCASE(fp_av_pool_create(&ap, AV_PIX_FMT_YUV420P, 16, 16, &c2) == FP_ERR(EINVAL));
    c2 = cfg;
    c2.align = 3;
    MCASE(fp_av_pool_create(&ap, AV_PIX_FMT_YUV420P, 16, 16, &c2) == FP_ERR(EINVAL));
    c2 = cfg;
    c2.max_frames = 0;
    MCASE(fp_av_pool_create(&ap, AV_PIX_FMT_YUV420P, 16, 16, &c2) == FP_ERR(EINVAL));
    MCASE(ap == NULL);

    ck_assert_int_eq(fp_av_pool_create(&ap, AV_PIX_FMT_YUV420P, 16, 16, &cfg), 0);
    AVFrame *f = (AVFrame *)(uintptr_t)1;
    MCASE(fp_av_acquire(NULL, 0, &f) == FP_ERR(EINVAL));
    MCASE(fp_av_acquire(ap, 0, NULL) == FP_ERR(EINVAL));
    MCASE(fp_av_acquire(NULL, 0, NULL) == FP_ERR(EINVAL));
    f = (AVFrame *)(uintptr_t)1;
    MCASE(fp_av_acquire(pool, 0, &f) == FP_ERR(EINVAL) && f == NULL); /* a core pool */
    MCASE(fp_av_acquire(ap, -3, &f) == FP_ERR(EINVAL) && f == NULL);
    MCASE(fp_av_pool_format(NULL) == AV_PIX_FMT_NONE);
    MCASE(fp_av_pool_format(pool) == AV_PIX_FMT_NONE);
    MCASE(fp_av_pool_format(ap) == AV_PIX_FMT_YUV420P);

    AVFrame *fr = av_frame_alloc();
    ck_assert_ptr_nonnull(fr);
    MCASE(fp_av_frame_get_buffer(NULL, fr, 0) == FP_ERR(EINVAL));
    MCASE(fp_av_frame_get_buffer(ap, NULL, 0) == FP_ERR(EINVAL));
    MCASE(fp_av_frame_get_buffer(pool, fr, 0) == FP_ERR(EINVAL));
    fr->format = AV_PIX_FMT_NV12;
    fr->width = fr->height = 16;
    MCASE(fp_av_frame_get_buffer(ap, fr, 0) == FP_ERR(EINVAL)); /* wrong format */
    fr->format = AV_PIX_FMT_YUV420P;
    fr->width = 65; /* beyond the padding (16 -> 64) */
    MCASE(fp_av_frame_get_buffer(ap, fr, 0) == FP_ERR(EINVAL)); /* too wide */
    fr->width = 0;
    MCASE(fp_av_frame_get_buffer(ap, fr, 0) == FP_ERR(EINVAL));
    fr->width = 16;
    MCASE(fp_av_frame_get_buffer(ap, fr, 0) == 0);
    MCASE(fp_av_frame_get_buffer(ap, fr, 0) == FP_ERR(EINVAL)); /* already has buffers */
    MCASE(fp_av_frame_is_from(ap, fr) == 1);
    MCASE(fp_av_frame_is_from(pool, fr) == 0);
    MCASE(fp_av_frame_is_from(NULL, fr) == 0);
    MCASE(fp_av_frame_is_from(ap, NULL) == 0);
    MCASE(fp_av_frame_set_tag(fr, "av") == 0);
    MCASE(fp_av_frame_set_tag(NULL, "av") == FP_ERR(EINVAL));
    MCASE(fp_av_frame_pool_frame(NULL) == NULL);

    /* FFmpeg's own frames, and buffers that only look like ours. */
    AVFrame *plain = av_frame_alloc();
    plain->format = AV_PIX_FMT_YUV420P;
    plain->width = plain->height = 16;
    ck_assert_int_eq(av_frame_get_buffer(plain, 0), 0);
    /* Written pixels, as any frame an application passes around has (the
     * check reads the first 16 bytes of the buffer; memcheck flags that read
     * on never-written memory, although any content gives the right answer). */
    memset(plain->buf[0]->data, 0x10, plain->buf[0]->size);
    MCASE(fp_av_frame_pool_frame(plain) == NULL);
    MCASE(fp_av_frame_is_from(ap, plain) == 0);
    MCASE(fp_av_frame_set_tag(plain, "x") == FP_ERR(EINVAL));
    /* A buffer starting with our header but another opaque. */
    memcpy(plain->buf[0]->data, fr->buf[0]->data, 16);
    MCASE(fp_av_frame_pool_frame(plain) == NULL);
    av_frame_free(&plain);
    AVFrame *tiny = av_frame_alloc();
    tiny->buf[0] = av_buffer_alloc(4);
    ck_assert_ptr_nonnull(tiny->buf[0]);
    MCASE(fp_av_frame_pool_frame(tiny) == NULL);
    av_frame_free(&tiny);

    /* get_buffer2 with bad contexts (only `opaque` is read before the check). */
    AVCodecContext *avctx = calloc(1, sizeof(*avctx));
    ck_assert_ptr_nonnull(avctx);
    AVFrame *dec = av_frame_alloc();
    MCASE(fp_av_get_buffer2(NULL, dec, 0) == AVERROR(EINVAL));
    MCASE(fp_av_get_buffer2(avctx, NULL, 0) == AVERROR(EINVAL));
    MCASE(fp_av_get_buffer2(avctx, dec, 0) == AVERROR(EINVAL)); /* opaque NULL */
    avctx->opaque = pool;
    MCASE(fp_av_get_buffer2(avctx, dec, 0) == AVERROR(EINVAL)); /* a core pool */
    MCASE(dec->buf[0] == NULL);
    av_frame_free(&dec);
    free(avctx);

    /* Releasing the pool frame behind an AVFrame directly: the AVFrame's own
     * release later is a detected double release, not a corruption. */
    fp_frame *behind = fp_av_frame_pool_frame(fr);
    ck_assert_ptr_nonnull(behind);
    MCASE(fp_frame_unref(&behind) == 0);
    av_frame_free(&fr);
    MCASE(fr == NULL);
    av_frame_free(&fr); /* NULL: a no-op */
    fp_av_frame_autorelease(NULL);
    fp_av_frame_autorelease(&fr);
    cases += 2;
    fp_pool_stats st = stats_of(ap);
    MCASE(st.misuse == 1 && st.live == 0);

    /* Closed and exhausted. */
    AVFrame *x = NULL, *y = NULL, *z = (AVFrame *)(uintptr_t)1;
    MCASE(fp_av_acquire(ap, 0, &x) == 0 && fp_av_acquire(ap, 0, &y) == 0);
    MCASE(fp_av_acquire(ap, 0, &z) == FP_ERR(EAGAIN) && z == NULL);
    fp_pool_close(ap);
    av_frame_free(&x);
    MCASE(fp_av_acquire(ap, 0, &z) == FP_ERR(ESHUTDOWN) && z == NULL);
    fp_pool_unref(&ap); /* y still live: reported, freed with y */
    av_frame_free(&y);
}
END_TEST
#endif

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("misuse");
    TCase *tc = tcase_create("arguments");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, null_arguments_core);
    tcase_add_test(tc, bad_numbers);
    tcase_add_test(tc, garbage_configs);
    suite_add_tcase(s, tc);

    tc = tcase_create("frames");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, double_and_stale_releases);
    tcase_add_test(tc, foreign_and_garbage_frames);
    tcase_add_test(tc, frames_of_two_pools);
    tcase_add_test(tc, scope_misuse);
    tcase_add_test(tc, ref_logs_the_callers_site);
    tcase_add_test(tc, ref_saturates_at_int_max);
    tcase_add_test(tc, long_strings_keep_the_reason);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifetime");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, release_after_close_and_acquire_on_closed);
    tcase_add_test(tc, unref_with_live_frames_release_elsewhere);
    tcase_add_test(tc, racing_last_releases_of_dropped_pool);
    tcase_add_test(tc, unwritable_streams);
    suite_add_tcase(s, tc);

    tc = tcase_create("strict");
    tcase_add_checked_fixture(tc, strict_setup, strict_teardown);
    tcase_add_test(tc, strict_errors_are_not_misuse);
    tcase_add_test(tc, strict_abort_prints_report);
    /* An abort ends the process: Check can only expect it when it forks. */
    const char *fork_env = getenv("CK_FORK");
    if (!fork_env || strcmp(fork_env, "no") != 0) {
        tcase_add_test_raise_signal(tc, strict_double_release, SIGABRT);
        tcase_add_test_raise_signal(tc, strict_ref_of_released, SIGABRT);
        tcase_add_test_raise_signal(tc, strict_scope_end_of_released, SIGABRT);
        tcase_add_test_raise_signal(tc, strict_ref_of_dropped_pool, SIGABRT);
    }
    suite_add_tcase(s, tc);

#ifdef HAVE_AV
    tc = tcase_create("av");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, av_misuse);
    suite_add_tcase(s, tc);
#endif
    return s;
}
