/*
 * The bookkeeping region: where every pool struct, slot array and adapter
 * per-pool object lives, so that "may I read n bytes at p?" is answered for
 * any pointer an application hands us before we read through it.
 * SPDX-License-Identifier: MIT
 *
 * One range of address space is reserved at first use (PROT_NONE,
 * MAP_NORESERVE: no memory, no commit charge) and carved in pages. A byte per
 * page says whether the page is in use (read/write, zero-filled when handed
 * out); a freed run goes back to PROT_NONE without memory. The check is a
 * subtraction, a compare and one or two loads of that byte map:
 * cheap enough for fp_frame_unref().
 *
 * When the reservation fails (a small RLIMIT_AS, an exotic platform), or the
 * region is full, allocations come from the heap and are entered in a sorted
 * table; pointers outside the region are looked up there (slower, under a
 * read lock, exact to the byte). The table is empty, and the lookup one load,
 * while everything fits in the region.
 *
 * A read through a checked pointer is safe as long as the object is not
 * freed concurrently: the objects are pools and their slots, which outlive
 * every frame and every reference the application holds. A pointer into a
 * pool freed on another thread between check and read is a use after free the
 * library cannot detect (doc/reliability.md).
 */
#ifndef FP_REGION_H
#define FP_REGION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FP_REGION_PAGE_SHIFT 12
#define FP_REGION_PAGE ((size_t)1 << FP_REGION_PAGE_SHIFT)

/* Read-mostly; written once when the region is reserved (size last, with
 * release: a reader that sees a size sees the rest). */
typedef struct fp__region_state {
    _Atomic uintptr_t base;
    _Atomic size_t size;              /* 0 until reserved (or never) */
    _Atomic(_Atomic uint8_t *) map;   /* one byte per page, plus one spare */
    _Atomic size_t heap_blocks;       /* table entries (heap allocations) */
} fp__region_state;
extern fp__region_state fp__region __attribute__((visibility("hidden")));

/* Zeroed memory for `size` bytes (page-aligned in the region, 64-aligned from
 * the heap); NULL when out of memory. Thread-safe. */
__attribute__((visibility("hidden"))) void *fp__region_alloc(size_t size);
/* Frees what fp__region_alloc(size) returned (NULL is ignored). */
__attribute__((visibility("hidden"))) void fp__region_free(void *p, size_t size);
/* The general check: heap table and n > one page. */
__attribute__((visibility("hidden"))) bool fp__region_readable_slow(const void *p, size_t n);

/* True when [p, p + n) lies in memory fp__region_alloc() handed out and has
 * not been freed. Never faults, never reads p. n > 0. */
static inline bool fp__region_readable(const void *p, size_t n)
{
    size_t size = atomic_load_explicit(&fp__region.size, memory_order_acquire);
    uintptr_t off = (uintptr_t)p - atomic_load_explicit(&fp__region.base, memory_order_relaxed);
    if (__builtin_expect(off < size && n <= FP_REGION_PAGE, 1)) {
        /* n <= one page: at most two pages, the last at most the spare entry. */
        _Atomic uint8_t *map = atomic_load_explicit(&fp__region.map, memory_order_relaxed);
        return atomic_load_explicit(&map[off >> FP_REGION_PAGE_SHIFT], memory_order_relaxed) &
               atomic_load_explicit(&map[(off + n - 1) >> FP_REGION_PAGE_SHIFT], memory_order_relaxed);
    }
    return fp__region_readable_slow(p, n);
}

/* Tests only (the static library). A test program may define these; the
 * library's weak references stay NULL everywhere else. fail: called before
 * each allocation, true makes it fail (NULL). note: called after each
 * successful allocation (alloc true) and before each free. */
__attribute__((weak, visibility("hidden"))) bool fp__region_fail_hook(size_t size);
__attribute__((weak, visibility("hidden"))) void fp__region_note_hook(void *p, size_t size, bool alloc);
/* Skips the reservation (heap and table only); 0, or FP_ERR(EBUSY) once the
 * region was set up. */
__attribute__((visibility("hidden"))) int fp__region_force_heap(void);
typedef struct fp__region_info {
    size_t reserved_bytes; /* 0: heap only */
    size_t pages_in_use;
    size_t heap_blocks;
} fp__region_info;
__attribute__((visibility("hidden"))) void fp__region_get_info(fp__region_info *info);

#endif /* FP_REGION_H */
