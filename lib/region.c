/*
 * The bookkeeping region (see region.h).
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "region.h"

#ifdef FP_HAVE_VALGRIND
# include <valgrind/memcheck.h>
#else
# define VALGRIND_MALLOCLIKE_BLOCK(p, size, rz, zeroed) ((void)0)
# define VALGRIND_FREELIKE_BLOCK(p, rz) ((void)0)
#endif

/* LeakSanitizer scans the heap, stacks and globals, not our mappings: the
 * region is a root, or pixel memory reachable only through slots (a pool
 * alive at exit, a pool kept for a runtime's locked surface) shows as leaked. */
#if defined(__SANITIZE_ADDRESS__)
# define FP_HAVE_LSAN 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define FP_HAVE_LSAN 1
# endif
#endif
#ifdef FP_HAVE_LSAN
# include <sanitizer/lsan_interface.h>
#endif

#ifndef MAP_NORESERVE
# define MAP_NORESERVE 0
#endif

fp__region_state fp__region;

/* Reservation sizes tried in turn: 4 GiB is 2^20 pages (a 1 MiB page map,
 * touched only where pools live), tens of thousands of pools. */
static const size_t reserve_sizes[] = { (size_t)4 << 30, (size_t)1 << 30, (size_t)256 << 20 };

enum { REGION_UNSET, REGION_RESERVED, REGION_HEAP };

/* Guards everything below but the heap table. */
static pthread_mutex_t region_lock = PTHREAD_MUTEX_INITIALIZER;
static int region_mode;          /* REGION_* */
static uint8_t *region_base;
static size_t region_pages;      /* usable pages; one more is reserved for the last guard */
static uint8_t *page_used;       /* one byte per page */
static size_t first_free;        /* no free page below it */
static size_t top_pages;         /* fp__region.top in pages */
static size_t pages_in_use;

/* The heap table: sorted by start, guarded by table_lock. */
typedef struct heap_block {
    uintptr_t start, end;
} heap_block;
static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static heap_block *table;
static size_t table_len, table_cap;

static void reserve_locked(void)
{
    region_mode = REGION_HEAP;
    for (size_t i = 0; i < sizeof(reserve_sizes) / sizeof(reserve_sizes[0]); i++) {
        size_t size = reserve_sizes[i], pages = size >> FP_REGION_PAGE_SHIFT;
        void *base = mmap(NULL, size + FP_REGION_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                          -1, 0);
        if (base == MAP_FAILED)
            continue;
        void *map = mmap(NULL, pages, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        /* The first guard page. */
        if (map == MAP_FAILED || mprotect(base, FP_REGION_PAGE, PROT_READ)) {
            if (map != MAP_FAILED)
                munmap(map, pages);
            munmap(base, size + FP_REGION_PAGE);
            continue;
        }
#ifdef FP_HAVE_LSAN
        __lsan_register_root_region(base, size + FP_REGION_PAGE);
#endif
        region_base = base;
        region_pages = pages;
        page_used = map;
        region_mode = REGION_RESERVED;
        atomic_store_explicit(&fp__region.base, (uintptr_t)base, RLX);
        return;
    }
}

/* First fit from the hint; the start page, or SIZE_MAX when full. */
static size_t find_run_locked(size_t n)
{
    size_t run = 0;
    for (size_t i = first_free; i < region_pages; i++) {
        if (page_used[i]) {
            run = 0;
            continue;
        }
        if (++run == n)
            return i + 1 - n;
    }
    return SIZE_MAX;
}

static void *region_take_locked(size_t size)
{
    size_t n = (size + FP_REGION_PAGE - 1) >> FP_REGION_PAGE_SHIFT;
    size_t first = find_run_locked(n);
    if (first == SIZE_MAX)
        return NULL;
    uint8_t *p = region_base + (first << FP_REGION_PAGE_SHIFT);
    /* The pages are zero: fresh from the reservation, or remapped by a free. */
    if (mprotect(p, n << FP_REGION_PAGE_SHIFT, PROT_READ | PROT_WRITE))
        return NULL;
    if (first + n > top_pages) {
        /* Raising top: the page above the new top becomes the guard. */
        if (mprotect(region_base + ((first + n) << FP_REGION_PAGE_SHIFT), FP_REGION_PAGE, PROT_READ)) {
            mmap(p, n << FP_REGION_PAGE_SHIFT, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                 -1, 0);
            return NULL;
        }
        top_pages = first + n;
        atomic_store_explicit(&fp__region.top, top_pages << FP_REGION_PAGE_SHIFT, REL);
    }
    memset(page_used + first, 1, n);
    if (first == first_free)
        first_free = first + n;
    pages_in_use += n;
    return p;
}

static bool region_give_locked(void *ptr, size_t size)
{
    if (region_mode != REGION_RESERVED || (uint8_t *)ptr < region_base ||
        (uint8_t *)ptr >= region_base + (region_pages << FP_REGION_PAGE_SHIFT))
        return false;
    size_t first = (size_t)((uint8_t *)ptr - region_base) >> FP_REGION_PAGE_SHIFT;
    size_t n = (size + FP_REGION_PAGE - 1) >> FP_REGION_PAGE_SHIFT;
    /* A fresh read-only mapping in place drops the memory and its commit
     * charge; late readers see zeros, writers fault, the next user gets zero
     * pages. Should it fail, the pages stay mapped and are zeroed by hand. */
    if (mmap(ptr, n << FP_REGION_PAGE_SHIFT, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
             -1, 0) == MAP_FAILED)
        memset(ptr, 0, n << FP_REGION_PAGE_SHIFT);
    memset(page_used + first, 0, n);
    if (first < first_free)
        first_free = first;
    pages_in_use -= n;
    return true;
}

/* ------------------------------------------------------------------------- */
/* Heap blocks                                                               */

/* Index of the last block starting at or below `a`, or SIZE_MAX. */
static size_t table_find(uintptr_t a)
{
    size_t lo = 0, hi = table_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (table[mid].start <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : SIZE_MAX;
}

static void *heap_take(size_t size)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, size) || !p)
        return NULL;
    memset(p, 0, size);
    pthread_rwlock_wrlock(&table_lock);
    if (table_len == table_cap) {
        size_t cap = table_cap ? table_cap * 2 : 16;
        heap_block *t = realloc(table, cap * sizeof(*t));
        if (!t) {
            pthread_rwlock_unlock(&table_lock);
            free(p);
            return NULL;
        }
        table = t;
        table_cap = cap;
    }
    size_t at = table_find((uintptr_t)p) + 1; /* SIZE_MAX + 1 == 0 */
    memmove(&table[at + 1], &table[at], (table_len - at) * sizeof(*table));
    table[at] = (heap_block){ (uintptr_t)p, (uintptr_t)p + size };
    table_len++;
    atomic_store_explicit(&fp__region.heap_blocks, table_len, REL);
    pthread_rwlock_unlock(&table_lock);
    return p;
}

static void heap_give(void *p)
{
    pthread_rwlock_wrlock(&table_lock);
    size_t at = table_find((uintptr_t)p);
    if (at != SIZE_MAX && table[at].start == (uintptr_t)p) {
        memmove(&table[at], &table[at + 1], (table_len - at - 1) * sizeof(*table));
        table_len--;
        atomic_store_explicit(&fp__region.heap_blocks, table_len, REL);
    }
    if (!table_len) {
        free(table);
        table = NULL;
        table_cap = 0;
    }
    pthread_rwlock_unlock(&table_lock);
    free(p);
}

/* ------------------------------------------------------------------------- */

void *fp__region_alloc(size_t size)
{
    if (!size || size > ((size_t)1 << 40))
        return NULL;
    if (fp__region_fail_hook && fp__region_fail_hook(size))
        return NULL;
    pthread_mutex_lock(&region_lock);
    if (region_mode == REGION_UNSET)
        reserve_locked();
    void *p = region_mode == REGION_RESERVED ? region_take_locked(size) : NULL;
    pthread_mutex_unlock(&region_lock);
    if (p)
        VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, 1); /* leak checks see region blocks */
    else
        p = heap_take(size); /* heap only, or the region is full */
    if (p && fp__region_note_hook)
        fp__region_note_hook(p, size, true);
    return p;
}

void fp__region_free(void *p, size_t size)
{
    if (!p)
        return;
    if (fp__region_note_hook)
        fp__region_note_hook(p, size, false);
    pthread_mutex_lock(&region_lock);
    bool ours = region_give_locked(p, size);
    pthread_mutex_unlock(&region_lock);
    if (ours)
        VALGRIND_FREELIKE_BLOCK(p, 0);
    else
        heap_give(p);
}

bool fp__region_readable_slow(const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    if (!n || a + n < a)
        return false;
    uintptr_t off = a - atomic_load_explicit(&fp__region.base, RLX);
    size_t top = atomic_load_explicit(&fp__region.top, ACQ);
    if (off < top)
        return n <= top + FP_REGION_PAGE - off; /* up to the guard page */
    if (!atomic_load_explicit(&fp__region.heap_blocks, ACQ))
        return false;
    pthread_rwlock_rdlock(&table_lock);
    size_t at = table_find(a);
    bool ok = at != SIZE_MAX && a + n <= table[at].end;
    pthread_rwlock_unlock(&table_lock);
    return ok;
}

fp_slot *fp__slot_of_slow(const fp_frame *f)
{
    return fp__region_readable_slow(f, sizeof(*f)) ? fp__slot_of_key(f) : NULL;
}

int fp__region_force_heap(void)
{
    pthread_mutex_lock(&region_lock);
    int ret = region_mode == REGION_UNSET ? (region_mode = REGION_HEAP, 0) : FP_ERR(EBUSY);
    pthread_mutex_unlock(&region_lock);
    return ret;
}

void fp__region_get_info(fp__region_info *info)
{
    pthread_mutex_lock(&region_lock);
    info->reserved_bytes = region_mode == REGION_RESERVED ? region_pages << FP_REGION_PAGE_SHIFT : 0;
    info->pages_in_use = pages_in_use;
    pthread_mutex_unlock(&region_lock);
    pthread_rwlock_rdlock(&table_lock);
    info->heap_blocks = table_len;
    pthread_rwlock_unlock(&table_lock);
}

/* fork(): registry.c's handlers take these after the pool locks, so a child
 * never inherits them held by a thread that does not exist there. */
void fp__region_fork_prepare(void)
{
    pthread_mutex_lock(&region_lock);
    pthread_rwlock_wrlock(&table_lock);
}

void fp__region_fork_parent(void)
{
    pthread_rwlock_unlock(&table_lock);
    pthread_mutex_unlock(&region_lock);
}

void fp__region_fork_child(void)
{
    pthread_rwlock_init(&table_lock, NULL);
    pthread_mutex_init(&region_lock, NULL);
}
