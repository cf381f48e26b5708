/*
 * Stats snapshots.
 * SPDX-License-Identifier: MIT
 *
 * acquired/released/live are summed from the per-slot generation counters
 * (gen odd = live; a slot has been acquired (gen + 1) / 2 times and released
 * gen / 2 times), each read once. So every snapshot satisfies
 * live == acquired - released and live <= capacity exactly, and the totals
 * never go backwards, without any shared counter on the hot path. Holding the
 * pool lock keeps the set of backed slots fixed, so live <= allocated.
 *
 * A snapshot is a pure read: it runs no sweep, no watchdog and no callback
 * (fp_pool_maintain() and fp_registry_maintain() are the explicit steps that
 * do). Deferred oneVPL surfaces whose runtime has unlocked them since the last
 * sweep are counted as released and idle, as the sweep would make them.
 */
#include <string.h>

#include "internal.h"

/* New counters come out of the reserved space: the struct keeps its size (ABI). */
_Static_assert(sizeof(fp_pool_stats) == 30 * 8, "fp_pool_stats changed size");
_Static_assert(sizeof(fp_pool_config) == 160 || sizeof(void *) != 8, "fp_pool_config changed size");

int fp_pool_get_stats(fp_pool *pool, fp_pool_stats *st)
{
    if (!pool || !st)
        return FP_ERR(EINVAL);
    memset(st, 0, sizeof(*st));
    uint64_t acquired = 0, released = 0, oldest = UINT64_MAX;
    uint32_t live = 0;

    uint32_t old_live = 0;
    uint64_t old_bytes = 0;
    fp__lock(&pool->lock);
    const fp__geom *cur = atomic_load_explicit(&pool->geom, RLX);
    uint32_t allocated = atomic_load_explicit(&pool->allocated, RLX);
    for (uint32_t i = 0; i < pool->capacity; i++) {
        fp_slot *s = fp__slot_at(pool->slots, i);
        uint64_t g = atomic_load_explicit(&s->gen, ACQ);
        acquired += (g + 1) / 2;
        released += g / 2;
        const fp__geom *sg = *fp__slot_geom_ref(pool, i);
        bool old = sg && sg != cur;
        if (old)
            old_bytes += sg->layout.alloc_size;
        if (g & 1) {
            live++;
            old_live += old;
            if (pool->track) {
                uint64_t t = fp__rec_age_base(s);
                if (t < oldest)
                    oldest = t;
            }
        }
    }
    /* Deferred surfaces the runtime has unlocked since the last sweep: returned
     * in all but the move back to the free list, which is a sweep's job. Count
     * them as released and idle (the pending list is guarded by the lock). */
    uint32_t pending = 0, returnable = 0;
    uint64_t gone = 0;
    for (uint32_t i = pool->pending; i != FP_SLOT_NIL; i = atomic_load_explicit(&fp__slot_at(pool->slots, i)->next, RLX)) {
        pending++;
        fp_slot *s = fp__slot_at(pool->slots, i);
        if (pool->ops->can_return(pool, s)) {
            returnable++;
            const fp__geom *sg = *fp__slot_geom_ref(pool, i);
            if (sg != cur) {
                /* the sweep will free it: returned, and its memory as good as gone */
                old_live--;
                old_bytes -= sg->layout.alloc_size;
                gone += sg->layout.alloc_size;
                allocated--;
            }
        }
    }
    uint64_t bytes = pool->bytes - gone;
    size_t frame_bytes = cur->layout.alloc_size;
    uint32_t generation = cur->gen;
    fp__unlock(&pool->lock);
    live -= returnable;
    released += returnable;

    st->capacity = pool->capacity;
    st->allocated = allocated;
    st->live = live;
    st->idle = allocated - live;
    st->peak_live = atomic_load_explicit(&pool->peak_out, RLX);
    if (st->peak_live < live)
        st->peak_live = live;
    st->min_frames = (uint32_t)pool->min_frames;
    st->acquired = acquired;
    st->released = released;
    st->exhausted = atomic_load_explicit(&pool->exhausted, RLX);
    st->timeouts = atomic_load_explicit(&pool->timeouts, RLX);
    st->waits = atomic_load_explicit(&pool->waits, RLX);
    st->wait_ns_total = atomic_load_explicit(&pool->wait_ns_total, RLX);
    st->wait_ns_max = atomic_load_explicit(&pool->wait_ns_max, RLX);
    st->misuse = atomic_load_explicit(&pool->misuse, RLX);
    st->alloc_failures = atomic_load_explicit(&pool->alloc_failures, RLX);
    st->get_buffer_fallbacks = atomic_load_explicit(&pool->get_buffer_fallbacks, RLX);
    st->get_buffer_exhausted = atomic_load_explicit(&pool->get_buffer_exhausted, RLX);
    st->get_buffer_overdraft = atomic_load_explicit(&pool->get_buffer_overdraft, RLX);
    st->get_buffer_bypassed = atomic_load_explicit(&pool->get_buffer_bypassed, RLX);
    st->frame_bytes = frame_bytes;
    st->reserved_bytes = bytes + (uint64_t)pool->capacity * (FP_SLOT_SIZE + (pool->geom_own ? pool->geom_stride : 0) + pool->extra_size) +
                         sizeof(*pool);
    if (live && oldest != UINT64_MAX) {
        uint64_t now = fp__clock_now();
        st->oldest_live_ns = now > oldest ? now - oldest : 0;
    }
    st->closed = atomic_load_explicit(&pool->closed, RLX);
    st->held_by_runtime = pending - returnable;
    st->generation = generation;
    st->old_generation_live = old_live;
    st->old_generation_bytes = old_bytes;
    return 0;
}
