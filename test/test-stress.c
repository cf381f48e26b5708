/*
 * Suite "stress": four threads for a bounded time mixing every operation on
 * two pools, with a ledger that proves no frame is ever handed out twice and
 * books that must balance at the end; plus a short soak whose memory
 * valgrind and LSan check.
 * SPDX-License-Identifier: MIT
 *
 * Pool A (the books pool) lives through the whole run: acquires with every
 * kind of timeout, references shared across threads through a queue, tags,
 * long-lived marks, scopes, stats, walks, checkpoints, reports, exports,
 * trim, the watchdog, and fp_pool_close near the end. Afterwards its counters
 * must equal the threads' own counts exactly.
 * Pool B (the lifetime pool) is dropped by its last application reference
 * while the workers still hold and exchange its frames; the workers release
 * them, and the last release frees it (it must leave the registry).
 *
 * Duration: 3 s, 0.6 s under valgrind (FP_TEST_UNDER_VALGRIND) or TSan; no
 * assertion depends on timing. Workers record failures (T_CHECK); the main
 * thread asserts after joining them.
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#if defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define TEST_TSAN 1
# endif
#endif
#if defined(__SANITIZE_THREAD__)
# define TEST_TSAN 1
#endif

static bool slow_mode(void)
{
#ifdef TEST_TSAN
    return true;
#endif
    return getenv("FP_TEST_UNDER_VALGRIND") != NULL;
}

static uint64_t run_ns(void)
{
    return slow_mode() ? 600000000ull : 3000000000ull;
}

/* Each worker also runs at least this many operations, whatever the clock
 * says (a loaded machine or valgrind's serialized threads must not turn the
 * run into a few dozen operations); the phases follow the same fractions. */
static uint64_t min_steps(void)
{
    return slow_mode() ? 4000 : 40000;
}


/* ------------------------------------------------------------------------- */
/* The ledger: every reference the test holds, per frame                      */

#define LEDGER_MAX 16

typedef struct ledger_entry {
    const fp_frame *f;
    int holders;     /* references held by workers and the queue */
    uint64_t stamp;  /* written into the pixels by the acquirer */
} ledger_entry;

static pthread_mutex_t ledger_lock = PTHREAD_MUTEX_INITIALIZER;
static ledger_entry ledger[LEDGER_MAX];

static ledger_entry *ledger_find(const fp_frame *f)
{
    for (int i = 0; i < LEDGER_MAX; i++)
        if (ledger[i].f == f)
            return &ledger[i];
    for (int i = 0; i < LEDGER_MAX; i++)
        if (!ledger[i].f) {
            ledger[i].f = f;
            ledger[i].holders = 0;
            return &ledger[i];
        }
    return NULL;
}

/* A fresh acquire: nobody may hold the frame. */
static void ledger_acquired(fp_frame *f, uint64_t stamp)
{
    memcpy(f->data[0], &stamp, sizeof(stamp));
    pthread_mutex_lock(&ledger_lock);
    ledger_entry *e = ledger_find(f);
    T_CHECK(e != NULL, "more distinct frames than the pools hold");
    if (e) {
        T_CHECK(e->holders == 0, "frame %p handed out while %d reference(s) are held", (void *)f, e->holders);
        e->holders = 1;
        e->stamp = stamp;
    }
    pthread_mutex_unlock(&ledger_lock);
}

static void ledger_add(const fp_frame *f)
{
    pthread_mutex_lock(&ledger_lock);
    ledger_entry *e = ledger_find(f);
    T_CHECK(e && e->holders > 0, "a reference to a frame nobody holds");
    if (e)
        e->holders++;
    pthread_mutex_unlock(&ledger_lock);
}

/* Before a reference is dropped: the pixels still carry the acquirer's stamp. */
static void ledger_drop(const fp_frame *f)
{
    uint64_t stamp;
    memcpy(&stamp, f->data[0], sizeof(stamp));
    pthread_mutex_lock(&ledger_lock);
    ledger_entry *e = ledger_find(f);
    T_CHECK(e && e->holders > 0, "dropping a reference nobody holds");
    if (e) {
        T_CHECK(stamp == e->stamp, "frame %p was overwritten while held (stamp %llx, want %llx)", (const void *)f,
                (unsigned long long)stamp, (unsigned long long)e->stamp);
        e->holders--;
    }
    pthread_mutex_unlock(&ledger_lock);
}

static int ledger_holders_total(void)
{
    int n = 0;
    pthread_mutex_lock(&ledger_lock);
    for (int i = 0; i < LEDGER_MAX; i++)
        n += ledger[i].f ? ledger[i].holders : 0;
    pthread_mutex_unlock(&ledger_lock);
    return n;
}

/* ------------------------------------------------------------------------- */
/* The hand-off queue                                                        */

#define QUEUE_CAP 4

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static fp_frame *queue[QUEUE_CAP];
static int queue_len;

static bool queue_push(fp_frame *f)
{
    pthread_mutex_lock(&queue_lock);
    bool ok = queue_len < QUEUE_CAP;
    if (ok)
        queue[queue_len++] = f;
    pthread_mutex_unlock(&queue_lock);
    return ok;
}

static fp_frame *queue_pop(unsigned pick)
{
    pthread_mutex_lock(&queue_lock);
    fp_frame *f = NULL;
    if (queue_len) {
        int i = (int)(pick % (unsigned)queue_len);
        f = queue[i];
        queue[i] = queue[--queue_len];
    }
    pthread_mutex_unlock(&queue_lock);
    return f;
}

/* ------------------------------------------------------------------------- */
/* Workers                                                                   */

#define NTHREADS 4
#define LOCAL_MAX 2
#define A_CAP 8
#define B_CAP 4

static fp_pool *pool_a, *pool_b;
static FILE *devnull;
static uint64_t t_start, t_end, t_close, t_drop_b;
static _Atomic bool a_closed;  /* set after fp_pool_close(A) returned */
static _Atomic bool a_closing; /* set before it is called: ESHUTDOWN is legal from then on */
static _Atomic int b_refs_dropped;
static _Atomic uint64_t watchdog_hits;

typedef struct worker {
    int id;
    uint64_t rng;
    fp_pool *a, *b;          /* this worker's own references */
    fp_frame *local[LOCAL_MAX];
    /* what this worker saw on pool A */
    uint64_t acquired, eagain, etimedout, eshutdown;
    uint64_t ops;
    uint64_t steps;          /* operations run */
} worker;

static uint64_t rnd(worker *w)
{
    uint64_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return w->rng = x;
}

static int free_local(worker *w)
{
    for (int i = 0; i < LOCAL_MAX; i++)
        if (!w->local[i])
            return i;
    return -1;
}

static int used_local(worker *w, unsigned pick)
{
    for (int k = 0; k < LOCAL_MAX; k++) {
        int i = (int)((pick + (unsigned)k) % LOCAL_MAX);
        if (w->local[i])
            return i;
    }
    return -1;
}

static int nlocal(worker *w)
{
    int n = 0;
    for (int i = 0; i < LOCAL_MAX; i++)
        n += w->local[i] != NULL;
    return n;
}

static void drop_local(worker *w, int i)
{
    fp_frame *f = w->local[i];
    ledger_drop(f);
    int ret = fp_frame_unref(&w->local[i]);
    T_CHECK(ret == 0 && !w->local[i], "unref: %d", ret);
}

static void check_stats(fp_pool *p, const char *what)
{
    fp_pool_stats st;
    int ret = fp_pool_get_stats(p, &st);
    T_CHECK(ret == 0, "stats %s: %d", what, ret);
    T_CHECK(st.live == st.acquired - st.released, "%s: live %u != acquired %llu - released %llu", what, st.live,
            (unsigned long long)st.acquired, (unsigned long long)st.released);
    T_CHECK(st.live <= st.capacity, "%s: live %u > capacity %u", what, st.live, st.capacity);
    T_CHECK(st.allocated == st.live + st.idle, "%s: allocated %u != live %u + idle %u", what, st.allocated, st.live,
            st.idle);
    T_CHECK(st.allocated <= st.capacity && st.peak_live <= st.capacity, "%s: allocated %u peak %u", what,
            st.allocated, st.peak_live);
    T_CHECK(st.misuse == 0, "%s: misuse %llu", what, (unsigned long long)st.misuse);
}

typedef struct walk_ud {
    int count;
    bool bad;
} walk_ud;

static int walk_cb(const fp_live_frame *lf, void *ud)
{
    walk_ud *w = ud;
    w->count++;
    if (lf->refcount < 0 || !lf->tag)
        w->bad = true;
    return 0;
}

typedef struct live_set {
    const fp_frame *f[A_CAP];
    int refs[A_CAP];
    int n;
} live_set;

static int collect_cb(const fp_live_frame *lf, void *ud)
{
    live_set *ls = ud;
    if (ls->n < A_CAP) {
        ls->f[ls->n] = lf->frame;
        ls->refs[ls->n++] = lf->refcount;
    }
    return 0;
}

static void watchdog_cb(const fp_live_frame *lf, void *ud)
{
    (void)ud;
    (void)lf;
    atomic_fetch_add(&watchdog_hits, 1);
}

static void do_acquire(worker *w, fp_pool *p, bool is_a)
{
    int slot = free_local(w);
    if (slot < 0)
        return;
    static const int64_t timeouts[] = { 0, 0, 50, 1000 };
    /* Wait forever only with nothing held: then no cycle of waiters can form
     * (the queue holds fewer frames than the pool). */
    int64_t timeout = nlocal(w) == 0 && (rnd(w) % 8 == 0) ? FP_WAIT_FOREVER : timeouts[rnd(w) % 4];
    bool closed_before = is_a && atomic_load(&a_closed);
    fp_frame *f = (fp_frame *)(uintptr_t)1;
    int ret = fp_pool_acquire(p, timeout, &f);
    if (ret == 0) {
        T_CHECK(!closed_before, "acquire succeeded on a closed pool");
        T_CHECK(fp_frame_refcount(f) == 1, "fresh frame refcount %d", fp_frame_refcount(f));
        ledger_acquired(f, ((uint64_t)w->id << 56) | ++w->ops);
        if (rnd(w) % 4 == 0) {
            char tag[32];
            snprintf(tag, sizeof(tag), "w%d-%llu", w->id, (unsigned long long)w->ops);
            fp_frame_set_tag(f, tag);
        }
        if (rnd(w) % 16 == 0)
            T_CHECK(fp_frame_set_long_lived(f) == 0, "long-lived");
        w->local[slot] = f;
        if (is_a)
            w->acquired++;
        return;
    }
    T_CHECK(f == NULL, "failed acquire left *out set");
    if (ret == FP_ERR(EAGAIN)) {
        T_CHECK(timeout == 0, "EAGAIN with timeout %lld", (long long)timeout);
        if (is_a)
            w->eagain++;
    } else if (ret == FP_ERR(ETIMEDOUT)) {
        T_CHECK(timeout > 0, "ETIMEDOUT with timeout %lld", (long long)timeout);
        if (is_a)
            w->etimedout++;
    } else if (ret == FP_ERR(ESHUTDOWN)) {
        T_CHECK(is_a && atomic_load(&a_closing), "ESHUTDOWN before close");
        if (is_a)
            w->eshutdown++;
    } else {
        T_CHECK(0, "acquire: %d (%s)", ret, fp_strerror(ret));
    }
}

static void one_op(worker *w, uint64_t now)
{
    unsigned op = (unsigned)(rnd(w) % 20);
    switch (op) {
    case 0: case 1: case 2: case 3:
        if (!atomic_load(&a_closed) || op == 0)
            do_acquire(w, w->a, true);
        break;
    case 4:
        if (w->b)
            do_acquire(w, w->b, false);
        break;
    case 5: case 6: case 7: { /* release one (until the close: then keep them for the end) */
        if (atomic_load(&a_closed))
            break;
        int i = used_local(w, (unsigned)rnd(w));
        if (i >= 0)
            drop_local(w, i);
        break;
    }
    case 8: { /* another reference of a held frame, kept locally */
        int i = used_local(w, (unsigned)rnd(w)), j = free_local(w);
        if (i < 0 || j < 0)
            break;
        ledger_add(w->local[i]);
        fp_frame *r = fp_frame_ref(w->local[i]);
        T_CHECK(r == w->local[i], "ref of a held frame failed");
        w->local[j] = r;
        break;
    }
    case 9: { /* hand a reference to another thread */
        int i = used_local(w, (unsigned)rnd(w));
        if (i < 0)
            break;
        if (queue_push(w->local[i]))
            w->local[i] = NULL;
        else
            drop_local(w, i);
        break;
    }
    case 10: case 11: { /* take one */
        int j = free_local(w);
        if (j < 0)
            break;
        fp_frame *f = queue_pop((unsigned)rnd(w));
        if (f) {
            T_CHECK(fp_frame_refcount(f) >= 1, "queued frame has refcount %d", fp_frame_refcount(f));
            w->local[j] = f;
        }
        break;
    }
    case 12:
        check_stats(w->a, "A");
        if (w->b)
            check_stats(w->b, "B");
        break;
    case 13: {
        walk_ud ud = { 0, false };
        uint64_t cp = fp_pool_checkpoint(w->a);
        T_CHECK(fp_pool_foreach_live(w->a, walk_cb, &ud) == 0, "foreach");
        T_CHECK(ud.count <= A_CAP && !ud.bad, "walk saw %d frames", ud.count);
        ud.count = 0;
        T_CHECK(fp_pool_foreach_live_since(w->a, cp, walk_cb, &ud) == 0, "foreach_since");
        T_CHECK(ud.count <= A_CAP, "walk since saw %d", ud.count);
        break;
    }
    case 14:
        switch (rnd(w) % 4) {
        case 0: T_CHECK(fp_pool_report(w->a, devnull) == 0, "report"); break;
        case 1: T_CHECK(fp_pool_write_json(w->a, devnull) == 0, "json"); break;
        case 2: T_CHECK(fp_registry_write_json(devnull) == 0, "registry json"); break;
        default: T_CHECK(fp_registry_write_prometheus(devnull) == 0, "prometheus"); break;
        }
        break;
    case 15:
        T_CHECK(fp_pool_trim(rnd(w) & 1 && w->b ? w->b : w->a) >= 0, "trim");
        break;
    case 16:
        T_CHECK(fp_pool_watchdog_check(w->a) >= 0, "watchdog");
        break;
    case 17: { /* a scope that takes this worker's references and ends */
        if (atomic_load(&a_closed))
            break;
        fp_scope s;
        fp_scope_begin(&s);
        for (int i = 0; i < LOCAL_MAX; i++) {
            if (!w->local[i])
                continue;
            ledger_drop(w->local[i]);
            T_CHECK(fp_scope_add(&s, w->local[i]) == 0, "scope add");
            w->local[i] = NULL;
        }
        fp_scope_end(&s);
        break;
    }
    case 18: { /* tag from a thread that holds a reference */
        int i = used_local(w, (unsigned)rnd(w));
        if (i >= 0)
            fp_frame_set_tag(w->local[i], (rnd(w) & 1) ? "retagged" : NULL);
        break;
    }
    default: {
        fp_pool_stats st;
        T_CHECK(fp_pool_get_stats(w->a, &st) == 0 && st.live <= A_CAP, "stats");
        break;
    }
    }
    (void)now;
}

/* Closes A; an acquire right after it must see the close. */
static void close_a(worker *w)
{
    atomic_store(&a_closing, true);
    fp_pool_close(w->a);
    atomic_store(&a_closed, true);
    fp_frame *f = (fp_frame *)(uintptr_t)1;
    int ret = fp_pool_acquire(w->a, 1000, &f);
    T_CHECK(ret == FP_ERR(ESHUTDOWN) && !f, "acquire after close: %d", ret);
    w->eshutdown++;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    const uint64_t min = min_steps();
    for (;; w->steps++) {
        uint64_t now = test_now_ns();
        if (now >= t_end && w->steps >= min)
            break;
        if (w->id == 0 && now >= t_close && w->steps >= min * 8 / 10 && !atomic_load(&a_closed))
            close_a(w);
        if (w->b && now >= t_drop_b && w->steps >= min * 6 / 10) {
            /* Stop acquiring from B; keep its frames. */
            fp_pool_unref(&w->b);
            atomic_fetch_add(&b_refs_dropped, 1);
        }
        one_op(w, now);
    }
    if (w->id == 0 && !atomic_load(&a_closed))
        close_a(w); /* the run was too short to reach t_close */
    /* Leave what fits in the queue for the main thread (so the books at the
     * end include live frames, of both pools), release the rest. */
    for (int i = 0; i < LOCAL_MAX; i++) {
        if (!w->local[i])
            continue;
        if (queue_push(w->local[i]))
            w->local[i] = NULL;
        else
            drop_local(w, i);
    }
    if (w->b) {
        fp_pool_unref(&w->b);
        atomic_fetch_add(&b_refs_dropped, 1);
    }
    fp_pool_unref(&w->a);
    return NULL;
}

static test_log g_log;

START_TEST(four_threads_every_operation)
{
    test_reset_failures();
    memset(ledger, 0, sizeof(ledger));
    queue_len = 0;
    atomic_store(&a_closed, false);
    atomic_store(&a_closing, false);
    atomic_store(&b_refs_dropped, 0);
    atomic_store(&watchdog_hits, 0);
    test_log_reset(&g_log);
    devnull = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(devnull);

    fp_pool_config cfg = test_config(FP_FMT_NV12, 64, 32, A_CAP, &g_log);
    cfg.name = "stress-A";
    cfg.min_frames = 2;
    ck_assert_int_eq(fp_pool_create(&pool_a, &cfg), 0);
    ck_assert_int_eq(fp_pool_set_watchdog(pool_a, 2000, watchdog_cb, NULL), 0);
    cfg = test_config(FP_FMT_GRAY8, 32, 32, B_CAP, &g_log);
    cfg.name = "stress-B";
    cfg.flags = FP_POOL_NO_TRACK;
    cfg.log_level = FP_LOG_ERROR; /* its leak report is expected */
    ck_assert_int_eq(fp_pool_create(&pool_b, &cfg), 0);
    uint64_t b_id = fp_pool_id(pool_b);

    uint64_t dur = run_ns();
    t_start = test_now_ns();
    t_end = t_start + dur;
    t_close = t_start + dur * 8 / 10;
    t_drop_b = t_start + dur * 6 / 10;

    worker w[NTHREADS];
    pthread_t th[NTHREADS];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < NTHREADS; i++) {
        w[i].id = i;
        w[i].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        w[i].a = fp_pool_ref(pool_a);
        w[i].b = fp_pool_ref(pool_b);
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    /* While the workers run: drop B's last application reference once they
     * stopped acquiring from it, with its frames still live in their hands. */
    while (atomic_load(&b_refs_dropped) < NTHREADS)
        test_sleep_us(1000);
    fp_pool_unref(&pool_b); /* the last reference when the workers dropped theirs in time */
    for (int i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    test_assert_no_failures();

    /* The books of pool A. */
    uint64_t acquired = 0, eagain = 0, etimedout = 0, eshutdown = 0, ops = 0, steps = 0;
    for (int i = 0; i < NTHREADS; i++) {
        steps += w[i].steps;
        acquired += w[i].acquired;
        eagain += w[i].eagain;
        etimedout += w[i].etimedout;
        eshutdown += w[i].eshutdown;
        ops += w[i].ops;
    }
    int queued = queue_len;
    ck_assert_int_eq(ledger_holders_total(), queued);
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool_a, &st), 0);
    ck_assert_uint_eq(st.acquired, acquired);
    ck_assert_uint_eq(st.exhausted, eagain);
    ck_assert_uint_eq(st.timeouts, etimedout);
    ck_assert_uint_eq(st.live, st.acquired - st.released);
    ck_assert_uint_eq(st.allocated, st.live + st.idle);
    ck_assert_uint_le(st.peak_live, A_CAP);
    ck_assert_uint_eq(st.misuse, 0);
    ck_assert(st.closed);
    ck_assert_uint_gt(eshutdown, 0);
    /* What is left in the queue is exactly what is live: A's frames by the walk. */
    live_set ls = { 0 };
    ck_assert_int_eq(fp_pool_foreach_live(pool_a, collect_cb, &ls), 0);
    ck_assert_uint_eq((uint32_t)ls.n, st.live);
    int queued_a = 0;
    for (int i = 0; i < queued; i++) {
        ck_assert_int_ge(fp_frame_refcount(queue[i]), 1);
        for (int k = 0; k < ls.n; k++)
            queued_a += ls.f[k] == queue[i];
    }
    for (int k = 0; k < ls.n; k++) {
        int refs = 0;
        for (int i = 0; i < queued; i++)
            refs += ls.f[k] == queue[i];
        ck_assert_int_eq(ls.refs[k], refs);
    }
    int refs_a = 0;
    for (int k = 0; k < ls.n; k++)
        refs_a += ls.refs[k];
    ck_assert_int_eq(queued_a, refs_a);
    int distinct_a = 0;
    for (int k = 0; k < ls.n; k++)
        distinct_a += ls.refs[k] > 0;
    ck_assert_int_eq(distinct_a, ls.n);
    printf("stress: %.1f s, %llu operations, %llu acquires of A (%llu EAGAIN, %llu ETIMEDOUT, %llu ESHUTDOWN), "
           "%llu watchdog reports, %d frames left queued\n",
           (double)(test_now_ns() - t_start) / 1e9, (unsigned long long)steps, (unsigned long long)acquired, (unsigned long long)eagain,
           (unsigned long long)etimedout, (unsigned long long)eshutdown,
           (unsigned long long)atomic_load(&watchdog_hits), queued);

    /* Release the queue from another thread than the one that dropped B. */
    for (int i = 0; i < queued; i++) {
        ledger_drop(queue[i]);
        ck_assert_int_eq(fp_frame_unref(&queue[i]), 0);
    }
    queue_len = 0;
    ck_assert_int_eq(fp_pool_get_stats(pool_a, &st), 0);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.released, st.acquired);
    ck_assert(!test_registry_has(b_id)); /* B went with its last frame */
    fp_pool_unref(&pool_a);
    fclose(devnull);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Soak: many cycles through create, acquire, release, trim and destroy; the
 * memory checkers (valgrind in the valgrind setup, LSan in the ASan build)
 * must find nothing lost. */

START_TEST(soak_create_cycle_destroy)
{
    int pools = getenv("FP_TEST_UNDER_VALGRIND") ? 40 : 400;
    uint64_t cycles = 0;
    for (int i = 0; i < pools; i++) {
        fp_pool_config cfg = test_config((enum fp_format)(1 + i % (FP_FMT_COUNT - 1)), 64, 32, 4, NULL);
        if (cfg.format == FP_FMT_RAW)
            cfg.buffer_size = 1000;
        cfg.min_frames = i % 3;
        cfg.flags = (unsigned)(i % 8) & (FP_POOL_NO_TRACK | FP_POOL_ZERO | FP_POOL_POISON);
        fp_pool *p = NULL;
        ck_assert_int_eq(fp_pool_create(&p, &cfg), 0);
        fp_frame *f[4] = { NULL };
        for (int r = 0; r < 50; r++) {
            int k = 1 + (r + i) % 4;
            for (int j = 0; j < k; j++) {
                ck_assert_int_eq(fp_pool_acquire(p, 0, &f[j]), 0);
                f[j]->data[0][0] = (uint8_t)r;
            }
            for (int j = 0; j < k; j++)
                ck_assert_int_eq(fp_frame_unref(&f[j]), 0);
            cycles += (uint64_t)k;
            if (r % 10 == 9)
                fp_pool_trim(p);
        }
        fp_pool_stats st;
        ck_assert_int_eq(fp_pool_get_stats(p, &st), 0);
        ck_assert_uint_eq(st.live, 0);
        ck_assert_uint_eq(st.misuse, 0);
        fp_pool_unref(&p);
    }
    printf("stress: soak %d pools, %llu acquire/release cycles\n", pools, (unsigned long long)cycles);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("stress");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, four_threads_every_operation);
    suite_add_tcase(s, tc);
    tc = tcase_create("soak");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, soak_create_cycle_destroy);
    suite_add_tcase(s, tc);
    return s;
}
