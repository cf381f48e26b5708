/*
 * Process-wide registry of pools (registry.c).
 * SPDX-License-Identifier: MIT
 */
#ifndef FP_REGISTRY_H
#define FP_REGISTRY_H

#include "internal.h"

FP_HIDDEN void fp__registry_add(fp_pool *pool);
/* The pool's last frame and holder are gone: takes it out of the registry and
 * returns true, so the caller frees it, or, while a walk has it pinned,
 * marks it doomed and returns false: the walk's unpin frees it. */
FP_HIDDEN bool fp__registry_remove(fp_pool *pool);
/* Calls fn for every registered pool, oldest first, with NO lock held: each
 * pool is pinned (cannot be freed) while fn runs, so fn may do IO, call user
 * callbacks, create and drop pools, or drop the last reference of the pool
 * it is given. Pools created during the walk may or may not be visited.
 * Stops when fn returns non-zero and returns that. */
FP_HIDDEN int fp__registry_walk(int (*fn)(fp_pool *pool, void *ud), void *ud);

#endif
