/*
 * Helpers shared by the bench programs: clocks, medians, the machine
 * description, JSON strings, resident memory.
 * SPDX-License-Identifier: MIT
 */
#ifndef FP_BENCH_H
#define FP_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__) || defined(__clang__)
# define BENCH_NORETURN __attribute__((noreturn))
# define BENCH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
# define BENCH_NORETURN
# define BENCH_PRINTF(a, b)
#endif

/** CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/** CPU time of the calling thread in nanoseconds (CLOCK_THREAD_CPUTIME_ID). */
uint64_t bench_thread_cpu_ns(void);

/** Prints "bench: <message>" to stderr and exits with status 1. */
BENCH_NORETURN void bench_die(const char *fmt, ...) BENCH_PRINTF(1, 2);

/** Median of `n` values (sorts a copy); min and max through the pointers when not NULL. */
double bench_median(const double *v, int n, double *min, double *max);

/** What the tables are headed with and the JSON records. */
typedef struct bench_machine {
    char date[32];      ///< UTC, ISO 8601
    char host[64];
    char cpu[128];      ///< "model name" of /proc/cpuinfo
    int nproc;          ///< online CPUs
    char kernel[160];   ///< uname -sr
    char compiler[96];  ///< the compiler that built the bench
    char buildtype[32]; ///< optimization as compiled (__OPTIMIZE__)
    char load[64];      ///< /proc/loadavg (1, 5, 15 minutes) when the program started
} bench_machine;

void bench_machine_get(bench_machine *m);
/** One line: "date, cpu (n CPUs), kernel, compiler, build, load average". */
void bench_machine_print(const bench_machine *m, FILE *out);
/** Writes the fields as a JSON object (no trailing newline). */
void bench_machine_json(const bench_machine *m, FILE *out);

/** Writes `s` as a JSON string literal. */
void bench_json_str(FILE *out, const char *s);

/** Resident set size of this process in bytes (/proc/self/statm), 0 when unknown. */
uint64_t bench_rss_bytes(void);

/** Least-squares slope of y over x for n points (0 when n < 2 or x is constant). */
double bench_slope(const double *x, const double *y, int n);

/**
 * Starts and joins a thread that does nothing. glibc runs lighter code while a
 * process has never had a second thread (pthread_mutex_lock and malloc skip
 * their atomic instructions: an uncontended lock/unlock pair costs ~3x less
 * here); a video pipeline is never in that state, and measuring some rows
 * before and some after the first thread would bias them. Every bench calls
 * this first.
 */
void bench_become_multithreaded(void);

/** Opens `path` for writing or dies. */
FILE *bench_fopen(const char *path);

#endif /* FP_BENCH_H */
