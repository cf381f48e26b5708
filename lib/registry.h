/*
 * Process-wide registry of pools (registry.c).
 * SPDX-License-Identifier: MIT
 */
#ifndef FP_REGISTRY_H
#define FP_REGISTRY_H

#include "internal.h"

FP_HIDDEN void fp_registry_add(fp_pool *pool);
FP_HIDDEN void fp_registry_remove(fp_pool *pool);
/* Calls fn for every registered pool with the registry locked: pools cannot be
 * freed during the walk. Stops when fn returns non-zero and returns that. */
FP_HIDDEN int fp_registry_walk(int (*fn)(fp_pool *pool, void *ud), void *ud);

#endif
