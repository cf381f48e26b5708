/*
 * FP_POOL_POISON: make idle pixel memory unusable so a write after release is
 * caught. Under AddressSanitizer the memory is marked poisoned, under valgrind
 * memcheck it is marked inaccessible; otherwise it is filled with a pattern
 * that fp_unpoison() checks when the frame is handed out again.
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
void fp_poison(fp_pool *pool, fp_slot *s)
{
    uint8_t *p = s->mem + pool->layout.offset[0];
    size_t n = pool->layout.alloc_size - pool->layout.offset[0];
    memset(p, POISON_BYTE, n);
#ifdef FP_ASAN
    ASAN_POISON_MEMORY_REGION(p, n);
#endif
#ifdef FP_HAVE_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(p, n);
#endif
}

void fp_unpoison(fp_pool *pool, fp_slot *s)
{
    uint8_t *p = s->mem + pool->layout.offset[0];
    size_t n = pool->layout.alloc_size - pool->layout.offset[0];
#ifdef FP_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
#ifdef FP_HAVE_VALGRIND
    VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
    /* Without a sanitizer, a changed pattern is the evidence of a write after
     * release. Checking costs a pass over the frame; POISON is a debug mode. */
    bool bad = false;
    for (size_t i = 0; i < n && !bad; i++)
        bad = p[i] != POISON_BYTE;
    if (bad) {
        const fp_site *rel = atomic_load_explicit(&s->rel_site, ACQ);
        const char *f = fp_site_file(rel);
        fp_log(pool, FP_LOG_ERROR, "frame memory was written after release (last released at %s:%d)",
               f ? f : "?", fp_site_line(rel));
        fp_pool_note_misuse(pool);
    }
}
