/*
 * Shared helpers for the Check suites.
 * SPDX-License-Identifier: MIT
 */
#ifndef FP_TEST_COMMON_H
#define FP_TEST_COMMON_H

#include <check.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <framepool/framepool.h>

/* Each suite file defines this; test/main.c runs it. */
Suite *fp_test_suite(void);

/* Collects log lines so tests can assert on them. Thread-safe. */
typedef struct test_log {
    char lines[64][512];
    _Atomic int count;
    _Atomic int total;
} test_log;

void test_log_cb(void *opaque, int level, const char *msg);
void test_log_reset(test_log *log);
/* 1 when some collected line contains `needle`. */
int test_log_has(test_log *log, const char *needle);

/* A config with sane defaults: format, geometry and max_frames, logging into `log` (may be NULL). */
fp_pool_config test_config(enum fp_format fmt, int w, int h, int max_frames, test_log *log);

/* An allocator that fails the Nth call (1-based; 0 = never) and counts live blocks. */
typedef struct test_alloc {
    int fail_at;
    _Atomic int calls;
    _Atomic int live;
    _Atomic int frees;
} test_alloc;
void *test_alloc_alloc(void *opaque, size_t size, size_t align);
void test_alloc_free(void *opaque, void *ptr, size_t size);
fp_allocator test_allocator(test_alloc *ta);

/* Failures seen on worker threads (Check's asserts only work on the test's
 * own thread): T_CHECK records the first one, test_assert_no_failures()
 * fails the test with it, test_reset_failures() starts over. */
void test_note_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void test_assert_no_failures(void);
void test_reset_failures(void);
#define T_CHECK(cond, ...)                                   \
    do {                                                     \
        if (!(cond))                                         \
            test_note_fail(__FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

/* Whether the process-wide registry (its JSON export) lists the pool `id`. */
bool test_registry_has(uint64_t id);

/* Sleeps for `us` microseconds. */
void test_sleep_us(int64_t us);
/* CLOCK_MONOTONIC in ns. */
uint64_t test_now_ns(void);

#endif
