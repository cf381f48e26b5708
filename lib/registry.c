/*
 * Process-wide registry of pools, so that a server can export every pool's
 * stats and leak reports without knowing its pools. Intrusive: registering
 * allocates nothing.
 * SPDX-License-Identifier: MIT
 *
 * Walks never run their callback with the registry lock held: they pin the
 * pool they visit (pool->pins, under the lock), unlock, call, lock again and
 * move on. A pool whose last frame and holder go while it is pinned is only
 * marked doomed; the last unpin unlinks and frees it, after unlocking.
 *
 * fork(): the prepare handler takes the registry lock and then every pool's
 * lock (the documented order), so the child starts with none of them held by
 * a thread that does not exist there; the child re-initializes them and
 * forgets the parent's waiters and thread ids.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "region.h"
#include "registry.h"

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static fp_pool *reg_first, *reg_last; /* newest, oldest */
static uint64_t reg_next_id = 1;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static bool in_child; /* this process is a fork() child of the one that made the pools */
static uint64_t child_first_id; /* in a child: pools with smaller ids are the parent's */

#ifndef NDEBUG
_Thread_local int fp__locks_held;

void fp__assert_unlocked(const char *what)
{
    if (fp__locks_held > 0) {
        fprintf(stderr, "framepool: internal error: %s called with %d framepool lock(s) held\n", what,
                fp__locks_held);
        abort();
    }
}
#endif

static int report_leak(fp_pool *pool, void *ud)
{
    (void)ud;
    fp__track_leak_report(pool, FP_LOG_WARN, "process exit (FRAMEPOOL_TRACE=leaks)");
    return 0;
}

/* Pools the application never released (it still holds a reference at exit),
 * one line per creation site: a per-session pool that is never dropped shows
 * as one site with a count that grows with the sessions. Pools dropped with
 * frames still held were reported above by their frames. */
static void report_unreleased(void)
{
    fp__sites s;
    if (fp__sites_collect(&s, true) < 0) {
        fp__log_cfg(NULL, FP_LOG_WARN, "process exit (FRAMEPOOL_TRACE=leaks): out of memory listing the pools never released");
        return;
    }
    fp__sites_sort_by_age(&s);
    for (size_t i = 0; i < s.ngroups; i++) {
        const fp__site_group *g = &s.groups[i];
        char site[320];
        fp__site_text(site, sizeof(site), g->site, true);
        fp__log_cfg(NULL, FP_LOG_WARN,
                    "process exit (FRAMEPOOL_TRACE=leaks): %zu %s never released, created at %s: %" PRIu64
                    " live %s, %" PRIu64 " bytes in frames, %" PRIu64 " bytes reserved (%.1f MiB)",
                    g->n, g->n == 1 ? "pool" : "pools", site, g->live, g->live == 1 ? "frame" : "frames",
                    g->frame_bytes, g->reserved_bytes, (double)g->reserved_bytes / (1024.0 * 1024.0));
    }
    fp__sites_free(&s);
}

static void at_exit_report(void)
{
    fp__registry_walk(report_leak, NULL);
    report_unreleased();
}

static void unlink_locked(fp_pool *pool)
{
    if (pool->reg_prev)
        pool->reg_prev->reg_next = pool->reg_next;
    else if (reg_first == pool)
        reg_first = pool->reg_next;
    if (pool->reg_next)
        pool->reg_next->reg_prev = pool->reg_prev;
    else if (reg_last == pool)
        reg_last = pool->reg_prev;
    pool->reg_prev = pool->reg_next = NULL;
}

/* fork() handlers: registry lock, then every pool's lock, oldest first. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&reg_lock);
    for (fp_pool *p = reg_last; p; p = p->reg_prev)
        pthread_mutex_lock(&p->lock);
    fp__region_fork_prepare();
}

static void fork_parent(void)
{
    fp__region_fork_parent();
    for (fp_pool *p = reg_first; p; p = p->reg_next)
        pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&reg_lock);
}

static void fork_child(void)
{
    fp__region_fork_child();
    fp__cached_tid = 0; /* the child has a thread id of its own */
    in_child = true;
    for (fp_pool *p = reg_first; p; p = p->reg_next) {
        /* The parent's waiters do not exist here: forget them (and their
         * holds), and start the lock and condition variable afresh. */
        pthread_mutex_init(&p->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&p->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (p->waiters) {
            atomic_fetch_sub_explicit(&p->holders, p->waiters, RLX);
            p->waiters = 0;
            fp__pool_forget_waiters(p);
        }
        p->watchdog_running = 0;
        p->pins = 0;
        p->fork_seq = fp__pool_checkpoint_seq(p);
    }
    child_first_id = reg_next_id;
    pthread_mutex_init(&reg_lock, NULL);
}

static void reg_init(void)
{
    if (fp__trace_flags() & FP__TRACE_LEAKS)
        atexit(at_exit_report);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void fp__registry_add(fp_pool *pool)
{
    pthread_once(&reg_once, reg_init);
    fp__lock(&reg_lock);
    pool->id = reg_next_id++;
    pool->reg_prev = NULL;
    pool->reg_next = reg_first;
    if (reg_first)
        reg_first->reg_prev = pool;
    else
        reg_last = pool;
    reg_first = pool;
    fp__unlock(&reg_lock);
}

bool fp__registry_remove(fp_pool *pool)
{
    fp__lock(&reg_lock);
    bool now = pool->pins == 0;
    if (now)
        unlink_locked(pool);
    else
        pool->doomed = true;
    fp__unlock(&reg_lock);
    return now;
}

bool fp__registry_in_child(void)
{
    return in_child;
}

bool fp__registry_from_parent(const fp_pool *pool)
{
    return in_child && pool->id < child_first_id;
}

/* Drops a walk's pin; returns the pool when it was the last pin of a doomed
 * pool, now unlinked, for the caller to free after unlocking. */
static fp_pool *unpin_locked(fp_pool *p)
{
    if (--p->pins == 0 && p->doomed) {
        unlink_locked(p);
        return p;
    }
    return NULL;
}

int fp__registry_walk(int (*fn)(fp_pool *pool, void *ud), void *ud)
{
    int ret = 0;
    fp__lock(&reg_lock);
    fp_pool *p = reg_last;
    if (p)
        p->pins++;
    while (p) {
        if (!p->doomed && !ret) {
            fp__unlock(&reg_lock);
            ret = fn(p, ud);
            fp__lock(&reg_lock);
        }
        /* Pin the next one before letting go of this one: a pinned pool
         * stays linked, so its reg_prev stays valid. */
        fp_pool *next = ret ? NULL : p->reg_prev;
        if (next)
            next->pins++;
        fp_pool *dead = unpin_locked(p);
        if (dead) {
            fp__unlock(&reg_lock);
            fp__pool_free(dead);
            fp__lock(&reg_lock);
        }
        p = next;
    }
    fp__unlock(&reg_lock);
    return ret;
}
