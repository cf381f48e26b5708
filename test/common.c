/*
 * Shared helpers for the Check suites.
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L /* posix_memalign, nanosleep, clock_gettime under -std=c11 */

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

void test_log_cb(void *opaque, int level, const char *msg)
{
    (void)level;
    test_log *log = opaque;
    int i = atomic_fetch_add(&log->count, 1);
    atomic_fetch_add(&log->total, 1);
    if (i < 64)
        snprintf(log->lines[i], sizeof(log->lines[i]), "%s", msg);
    else
        atomic_store(&log->count, 64);
}

void test_log_reset(test_log *log)
{
    memset(log, 0, sizeof(*log));
}

int test_log_has(test_log *log, const char *needle)
{
    int n = atomic_load(&log->count);
    for (int i = 0; i < n && i < 64; i++)
        if (strstr(log->lines[i], needle))
            return 1;
    return 0;
}

fp_pool_config test_config(enum fp_format fmt, int w, int h, int max_frames, test_log *log)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "test";
    cfg.format = fmt;
    if (fmt == FP_FMT_RAW) {
        cfg.buffer_size = (size_t)w * (size_t)(h > 0 ? h : 1);
    } else {
        cfg.width = w;
        cfg.height = h;
    }
    cfg.max_frames = max_frames;
    if (log) {
        cfg.log = test_log_cb;
        cfg.log_opaque = log;
    }
    return cfg;
}

void *test_alloc_alloc(void *opaque, size_t size, size_t align)
{
    test_alloc *ta = opaque;
    int n = atomic_fetch_add(&ta->calls, 1) + 1;
    if (ta->fail_at && n == ta->fail_at)
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align, size))
        return NULL;
    atomic_fetch_add(&ta->live, 1);
    return p;
}

void test_alloc_free(void *opaque, void *ptr, size_t size)
{
    (void)size;
    test_alloc *ta = opaque;
    if (ptr) {
        atomic_fetch_sub(&ta->live, 1);
        atomic_fetch_add(&ta->frees, 1);
    }
    free(ptr);
}

fp_allocator test_allocator(test_alloc *ta)
{
    fp_allocator a = { test_alloc_alloc, test_alloc_free, ta };
    return a;
}

void test_sleep_us(int64_t us)
{
    struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts))
        ;
}

uint64_t test_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int fail_count;
static char fail_first[512];

void test_note_fail(const char *file, int line, const char *fmt, ...)
{
    if (atomic_fetch_add(&fail_count, 1) != 0)
        return;
    pthread_mutex_lock(&fail_lock);
    int n = snprintf(fail_first, sizeof(fail_first), "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(fail_first))
        vsnprintf(fail_first + n, sizeof(fail_first) - (size_t)n, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&fail_lock);
}

void test_assert_no_failures(void)
{
    pthread_mutex_lock(&fail_lock);
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", fail_first);
    pthread_mutex_unlock(&fail_lock);
    ck_assert_msg(atomic_load(&fail_count) == 0, "%d failure(s) in worker threads; first: %s",
                  atomic_load(&fail_count), msg);
}

void test_reset_failures(void)
{
    pthread_mutex_lock(&fail_lock);
    atomic_store(&fail_count, 0);
    fail_first[0] = '\0';
    pthread_mutex_unlock(&fail_lock);
}

bool test_registry_has(uint64_t id)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(fp_registry_write_json(m), 0);
    fclose(m);
    char needle[64];
    snprintf(needle, sizeof(needle), "{\"id\": %llu,", (unsigned long long)id);
    bool found = strstr(buf, needle) != NULL;
    free(buf);
    return found;
}
