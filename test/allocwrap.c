/*
 * Allocation-failure injection (see allocwrap.h), after dav1d's
 * tests/libfuzzer/alloc_fail.c.
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "allocwrap.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *ptr, size_t size);
int __real_posix_memalign(void **ptr, size_t align, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);
void __real_free(void *ptr);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
int __wrap_posix_memalign(void **ptr, size_t align, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);
void __wrap_free(void *ptr);

#define TRACK_MAX 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int armed;
static _Atomic int tracking; /* tracked[] is not empty */
static int calls, fail_at;
static const char *last_failed = "";
static void *tracked[TRACK_MAX];
static int ntracked;

static bool should_fail(const char *what)
{
    if (!atomic_load(&armed))
        return false;
    pthread_mutex_lock(&lock);
    bool fail = ++calls == fail_at;
    if (fail)
        last_failed = what;
    pthread_mutex_unlock(&lock);
    return fail;
}

/* The library's bookkeeping region (lib/region.h) allocates with mmap; its
 * test hooks make those allocation points too. */
bool fp__region_fail_hook(size_t size);
void fp__region_note_hook(void *p, size_t size, bool alloc);
bool fp__region_fail_hook(size_t size)
{
    (void)size;
    return should_fail("region");
}
void fp__region_note_hook(void *p, size_t size, bool alloc)
{
    (void)size;
    if (alloc)
        aw_track(p);
    else
        aw_untrack(p);
}

bool aw_should_fail(void)
{
    return should_fail("adapter allocation");
}

void aw_track(void *p)
{
    if (!p || !atomic_load(&armed))
        return;
    pthread_mutex_lock(&lock);
    if (ntracked < TRACK_MAX)
        tracked[ntracked++] = p;
    else
        abort(); /* a test that allocates this much while armed is broken */
    atomic_store(&tracking, 1);
    pthread_mutex_unlock(&lock);
}

void aw_untrack(void *p)
{
    if (!p || !atomic_load(&tracking))
        return;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < ntracked; i++) {
        if (tracked[i] == p) {
            tracked[i] = tracked[--ntracked];
            break;
        }
    }
    if (!ntracked)
        atomic_store(&tracking, 0);
    pthread_mutex_unlock(&lock);
}

void *__wrap_malloc(size_t size)
{
    if (should_fail("malloc"))
        return NULL;
    void *p = __real_malloc(size);
    aw_track(p);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (should_fail("calloc"))
        return NULL;
    void *p = __real_calloc(n, size);
    aw_track(p);
    return p;
}

void *__wrap_realloc(void *ptr, size_t size)
{
    if (should_fail("realloc"))
        return NULL; /* ptr stays valid, as realloc promises */
    void *p = __real_realloc(ptr, size);
    if (p) {
        aw_untrack(ptr);
        aw_track(p);
    }
    return p;
}

int __wrap_posix_memalign(void **ptr, size_t align, size_t size)
{
    if (should_fail("posix_memalign"))
        return ENOMEM;
    int ret = __real_posix_memalign(ptr, align, size);
    if (!ret)
        aw_track(*ptr);
    return ret;
}

void *__wrap_aligned_alloc(size_t align, size_t size)
{
    if (should_fail("aligned_alloc"))
        return NULL;
    void *p = __real_aligned_alloc(align, size);
    aw_track(p);
    return p;
}

void __wrap_free(void *ptr)
{
    aw_untrack(ptr);
    __real_free(ptr);
}

void aw_arm(int n)
{
    pthread_mutex_lock(&lock);
    calls = 0;
    fail_at = n;
    last_failed = "";
    pthread_mutex_unlock(&lock);
    atomic_store(&armed, 1);
}

int aw_disarm(void)
{
    atomic_store(&armed, 0);
    pthread_mutex_lock(&lock);
    int n = calls;
    pthread_mutex_unlock(&lock);
    return n;
}

int aw_outstanding(void)
{
    pthread_mutex_lock(&lock);
    int n = ntracked;
    pthread_mutex_unlock(&lock);
    return n;
}

const char *aw_last_failed(void)
{
    pthread_mutex_lock(&lock);
    const char *s = last_failed;
    pthread_mutex_unlock(&lock);
    return s;
}

void aw_reset(void)
{
    atomic_store(&armed, 0);
    pthread_mutex_lock(&lock);
    calls = 0;
    fail_at = 0;
    last_failed = "";
    ntracked = 0;
    atomic_store(&tracking, 0);
    pthread_mutex_unlock(&lock);
}
