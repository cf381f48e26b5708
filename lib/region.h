/*
 * The bookkeeping region: where every pool struct, slot array and adapter
 * per-pool object lives, so that "may I read n bytes at p?" is answered for
 * any pointer an application hands us before we read through it.
 * SPDX-License-Identifier: MIT
 *
 * One range of address space is reserved at first use (PROT_NONE,
 * MAP_NORESERVE: no memory, no commit charge) and carved in pages, first fit,
 * from the bottom. Pages handed out are read/write and zero; a freed run is
 * replaced by a fresh read-only mapping (no memory: reads see the zero page,
 * a stray write faults). So every page below the high-water mark `top` (plus
 * one read-only guard page above it) can be read without faulting, and the
 * check is a subtraction and a compare, cheap enough for fp_frame_unref():
 * what it guards is a read of a word that must then match a key mixed with
 * its own address (frames, pools, oneVPL interfaces), which zeroed or
 * recycled memory never does by accident.
 *
 * When the reservation fails (a small RLIMIT_AS, an exotic platform), or the
 * region is full, allocations come from the heap and are entered in a sorted
 * table; pointers outside the region are looked up there (slower, under a
 * read lock, exact to the byte). The table is empty, and the lookup one load,
 * while everything fits in the region.
 *
 * A read through a checked pointer never faults. Whether the object is still
 * the one the caller meant is the key's business: a pointer into a pool freed
 * since reads zeros (or a new pool's data) and fails its key; a slot re-used
 * by a new pool at the same address is the undetectable case of
 * doc/reliability.md.
 */
#ifndef FP_REGION_H
#define FP_REGION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FP_REGION_PAGE_SHIFT 12
#define FP_REGION_PAGE ((size_t)1 << FP_REGION_PAGE_SHIFT)

/* Read-mostly: base is written once, top only grows (release, after the
 * pages below it are mapped). */
typedef struct fp__region_state {
    _Atomic uintptr_t base;
    _Atomic size_t top;           /* bytes below which every page was handed out */
    _Atomic size_t heap_blocks;   /* table entries (heap allocations) */
} fp__region_state;
extern fp__region_state fp__region __attribute__((visibility("hidden")));

/* Zeroed memory for `size` bytes (page-aligned in the region, 64-aligned from
 * the heap); NULL when out of memory. Thread-safe. */
__attribute__((visibility("hidden"))) void *fp__region_alloc(size_t size);
/* Frees what fp__region_alloc(size) returned (NULL is ignored). */
__attribute__((visibility("hidden"))) void fp__region_free(void *p, size_t size);
/* The general check: heap table and n > one page. */
__attribute__((visibility("hidden"))) bool fp__region_readable_slow(const void *p, size_t n);

/* True when n bytes at p can be read without faulting and p lies in memory
 * fp__region_alloc() handed out (still, or before: then the bytes read zero).
 * Never reads p. n > 0. */
static inline bool fp__region_readable(const void *p, size_t n)
{
    uintptr_t off = (uintptr_t)p - atomic_load_explicit(&fp__region.base, memory_order_relaxed);
    /* n <= one page: the read ends at most in the guard page above top. */
    if (__builtin_expect(n <= FP_REGION_PAGE && off < atomic_load_explicit(&fp__region.top, memory_order_acquire), 1))
        return true;
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

/* fork() handlers (registry.c calls them last in prepare, first after). */
__attribute__((visibility("hidden"))) void fp__region_fork_prepare(void);
__attribute__((visibility("hidden"))) void fp__region_fork_parent(void);
__attribute__((visibility("hidden"))) void fp__region_fork_child(void);

#endif /* FP_REGION_H */
