/*
 * Allocation-failure injection for the "allocfail" suites: the test binary
 * links the static library with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,
 *   --wrap=aligned_alloc,--wrap=free
 * so the library's own calls (and this executable's) go through allocwrap.c.
 * Nothing fails unless a test arms the counter around the call under test;
 * while armed, allocations are recorded and forgotten again when freed, so a
 * failed call can be checked to have left nothing behind.
 * SPDX-License-Identifier: MIT
 */
#ifndef FP_TEST_ALLOCWRAP_H
#define FP_TEST_ALLOCWRAP_H

#include <stdbool.h>
#include <stddef.h>

/* Arms the counter: the `fail_at`-th allocation from now fails (0: none). */
void aw_arm(int fail_at);
/* Disarms; returns the number of allocation calls made while armed. */
int aw_disarm(void);
/* Allocations made while armed and not freed since. */
int aw_outstanding(void);
/* Forgets everything (fixture setup/teardown). */
void aw_reset(void);
/* Counts one allocation attempt of an out-of-library wrapper (av_frame_alloc,
 * av_buffer_create); true when it must fail. */
bool aw_should_fail(void);
/* The allocation that failed last, by wrapped function name ("" when none). */
const char *aw_last_failed(void);
/* Records `p` as allocated by `what` (for wrappers of other allocators). */
void aw_track(void *p);
void aw_untrack(void *p);

#endif
