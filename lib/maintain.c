/*
 * Housekeeping as explicit steps: deferred-surface sweeps and watchdog scans,
 * never run by reads (stats, reports, exports).
 * SPDX-License-Identifier: MIT
 */
#include "internal.h"
#include "registry.h"

/* The caller holds a reference or a registry pin: the sweep may return the
 * last frame of a dropped pool, whose free is then deferred to the unpin. */
static int maintain(fp_pool *pool)
{
    int n = fp__pool_sweep(pool);
    fp__watchdog_scan(pool);
    return n;
}

int fp_pool_maintain(fp_pool *pool)
{
    if (!pool)
        return FP_ERR(EINVAL);
    return maintain(pool);
}

static int maintain_one(fp_pool *pool, void *ud)
{
    *(int *)ud += maintain(pool);
    return 0;
}

int fp_registry_maintain(void)
{
    int n = 0;
    fp__registry_walk(maintain_one, &n);
    return n;
}
