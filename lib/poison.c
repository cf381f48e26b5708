/*
 * FP_POOL_POISON: make idle pixel memory unusable so a write after release is
 * caught. Under AddressSanitizer the memory is marked poisoned, under valgrind
 * memcheck it is marked inaccessible; otherwise it is filled with a pattern
 * that fp__unpoison() checks when the frame is handed out again.
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "internal.h"

#if defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define FP_ASAN 1
# endif
#endif
#if defined(__SANITIZE_ADDRESS__)
# define FP_ASAN 1
#endif

#ifdef FP_ASAN
# include <sanitizer/asan_interface.h>
#endif
#ifdef FP_HAVE_VALGRIND
# include <valgrind/memcheck.h>
#endif

#define POISON_BYTE 0xA5

/* From the first plane on: an adapter may keep a header before it. */
void fp__poison(fp_pool *pool, fp_slot *s)
{
    const fp__layout *l = &fp__slot_geom(pool, s)->layout;
    uint8_t *p = s->mem + l->offset[0];
    size_t n = l->alloc_size - l->offset[0];
    memset(p, POISON_BYTE, n);
#ifdef FP_ASAN
    ASAN_POISON_MEMORY_REGION(p, n);
#endif
#ifdef FP_HAVE_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(p, n);
#endif
}

/* Makes the memory usable again; true when the pattern shows a write after
 * release. Reports nothing itself: callers may hold pool->lock and report once
 * they have let go of it (a STRICT pool's report takes the lock). */
bool fp__unpoison(fp_pool *pool, fp_slot *s)
{
    const fp__layout *l = &fp__slot_geom(pool, s)->layout;
    uint8_t *p = s->mem + l->offset[0];
    size_t n = l->alloc_size - l->offset[0];
#ifdef FP_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
#ifdef FP_HAVE_VALGRIND
    VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
    /* Without a sanitizer, a changed pattern is the evidence of a write after
     * release. Checking costs a pass over the frame; POISON is a debug mode. */
    for (size_t i = 0; i < n; i++)
        if (p[i] != POISON_BYTE)
            return true;
    return false;
}
