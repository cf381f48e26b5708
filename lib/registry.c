/*
 * Process-wide registry of pools, so that a server can export every pool's
 * stats and leak reports without knowing its pools. Intrusive: registering
 * allocates nothing.
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "registry.h"

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static fp_pool *reg_first;
static uint64_t reg_next_id = 1;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;

static int report_leak(fp_pool *pool, void *ud)
{
    (void)ud;
    fp_track_leak_report(pool, FP_LOG_WARN, "process exit (FRAMEPOOL_TRACE=leaks)");
    return 0;
}

static void at_exit_report(void)
{
    fp_registry_walk(report_leak, NULL);
}

static void reg_init(void)
{
    if (fp__trace_flags() & FP__TRACE_LEAKS)
        atexit(at_exit_report);
}

void fp_registry_add(fp_pool *pool)
{
    pthread_once(&reg_once, reg_init);
    pthread_mutex_lock(&reg_lock);
    pool->id = reg_next_id++;
    pool->reg_prev = NULL;
    pool->reg_next = reg_first;
    if (reg_first)
        reg_first->reg_prev = pool;
    reg_first = pool;
    pthread_mutex_unlock(&reg_lock);
}

void fp_registry_remove(fp_pool *pool)
{
    pthread_mutex_lock(&reg_lock);
    if (pool->reg_prev)
        pool->reg_prev->reg_next = pool->reg_next;
    else if (reg_first == pool)
        reg_first = pool->reg_next;
    if (pool->reg_next)
        pool->reg_next->reg_prev = pool->reg_prev;
    pool->reg_prev = pool->reg_next = NULL;
    pthread_mutex_unlock(&reg_lock);
}

int fp_registry_walk(int (*fn)(fp_pool *pool, void *ud), void *ud)
{
    int ret = 0;
    pthread_mutex_lock(&reg_lock);
    /* Oldest first: walk to the tail, then back. */
    fp_pool *p = reg_first;
    while (p && p->reg_next)
        p = p->reg_next;
    for (; p && !ret; p = p->reg_prev)
        ret = fn(p, ud);
    pthread_mutex_unlock(&reg_lock);
    return ret;
}
