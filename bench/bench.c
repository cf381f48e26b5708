/*
 * Helpers shared by the bench programs.
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(const double *v, int n, double *min, double *max)
{
    if (n <= 0) {
        if (min)
            *min = 0;
        if (max)
            *max = 0;
        return 0;
    }
    double *s = malloc(sizeof(*s) * (size_t)n);
    if (!s)
        bench_die("out of memory");
    memcpy(s, v, sizeof(*s) * (size_t)n);
    qsort(s, (size_t)n, sizeof(*s), cmp_double);
    double med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    if (min)
        *min = s[0];
    if (max)
        *max = s[n - 1];
    free(s);
    return med;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
}

void bench_machine_get(bench_machine *m)
{
    memset(m, 0, sizeof(*m));
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(m->date, sizeof(m->date), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (gethostname(m->host, sizeof(m->host) - 1))
        snprintf(m->host, sizeof(m->host), "?");
    snprintf(m->cpu, sizeof(m->cpu), "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof(line), f)) {
            if (!strncmp(line, "model name", 10)) {
                const char *c = strchr(line, ':');
                if (c) {
                    c++;
                    while (*c == ' ' || *c == '\t')
                        c++;
                    snprintf(m->cpu, sizeof(m->cpu), "%s", c);
                    trim(m->cpu);
                }
                break;
            }
        }
        fclose(f);
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    m->nproc = n > 0 ? (int)n : 0;
    struct utsname u;
    if (!uname(&u))
        snprintf(m->kernel, sizeof(m->kernel), "%s %s", u.sysname, u.release);
#if defined(__clang__)
    snprintf(m->compiler, sizeof(m->compiler), "clang %s", __clang_version__);
#elif defined(__GNUC__)
    snprintf(m->compiler, sizeof(m->compiler), "gcc %s", __VERSION__);
#else
    snprintf(m->compiler, sizeof(m->compiler), "unknown compiler");
#endif
    trim(m->compiler);
    snprintf(m->load, sizeof(m->load), "?");
    f = fopen("/proc/loadavg", "r");
    if (f) {
        double a, b, c;
        if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
            snprintf(m->load, sizeof(m->load), "%.2f %.2f %.2f", a, b, c);
        fclose(f);
    }
#if defined(__OPTIMIZE__)
    snprintf(m->buildtype, sizeof(m->buildtype), "optimized");
#else
    snprintf(m->buildtype, sizeof(m->buildtype), "NOT optimized");
#endif
}

void bench_machine_print(const bench_machine *m, FILE *out)
{
    fprintf(out, "%s, %s (%d CPUs), %s, %s, %s; load average %s\n", m->date, m->cpu, m->nproc, m->kernel,
            m->compiler, m->buildtype, m->load);
}

void bench_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

void bench_machine_json(const bench_machine *m, FILE *out)
{
    fputs("{\"date\": ", out);
    bench_json_str(out, m->date);
    fputs(", \"host\": ", out);
    bench_json_str(out, m->host);
    fputs(", \"cpu\": ", out);
    bench_json_str(out, m->cpu);
    fprintf(out, ", \"nproc\": %d, \"kernel\": ", m->nproc);
    bench_json_str(out, m->kernel);
    fputs(", \"compiler\": ", out);
    bench_json_str(out, m->compiler);
    fputs(", \"build\": ", out);
    bench_json_str(out, m->buildtype);
    fputs(", \"loadavg\": ", out);
    bench_json_str(out, m->load);
    fputc('}', out);
}

uint64_t bench_rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return resident > 0 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

double bench_slope(const double *x, const double *y, int n)
{
    if (n < 2)
        return 0;
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
    }
    return sxx > 0 ? sxy / sxx : 0;
}

static void *do_nothing(void *arg)
{
    return arg;
}

void bench_become_multithreaded(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, do_nothing, NULL))
        bench_die("pthread_create failed");
    pthread_join(t, NULL);
}

FILE *bench_fopen(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        bench_die("cannot write %s: %s", path, strerror(errno));
    return f;
}
