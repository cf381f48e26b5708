/*
 * The tracking record of a slot: its one home. Every write of the record is
 * one of the inline writers below; the readers outside the walker (track.c's
 * snap_slot, the one consistent copy) are the inline readers below.
 * SPDX-License-Identifier: MIT
 *
 * Fields (struct fp_slot, internal.h): acq_site, acq_tid, acq_time, seq, marks,
 * tag[], rel_site.
 *
 * Protocol. The record is written only by the thread that owns the frame and
 * read by walkers on any thread. slot->gen is the sequence lock: the owner
 * writes the record, then makes gen odd (release store, pool.c's hand_out);
 * a walker reads gen (acquire), the record, an acquire fence, and gen again,
 * and keeps the copy only when both reads match. The fields are relaxed
 * atomics (plain moves on x86). The tag has a lock of its own in marks
 * (FP_MARK_TAG_*), since fp_frame_set_tag() writes it while the frame is live.
 * rel_site is stored with release and loaded with acquire, so a reader also
 * sees the fields of a site the site table has just filled.
 * Included by internal.h.
 */
#ifndef FP_RECORD_H
#define FP_RECORD_H

#define FP_MARK_LONG_LIVED (1u << 0)
#define FP_MARK_WATCHDOG   (1u << 1)
/* Bits 2..15 of marks: the tag's sequence count (track.c), odd (FP_MARK_TAG_BUSY
 * set) while fp_frame_set_tag() writes the tag words. */
#define FP_MARK_TAG_BUSY   (1u << 2)
#define FP_MARK_TAG_SEQ    ((uint16_t)~(FP_MARK_TAG_BUSY - 1))

/* Acquire, tracked: everything but the time (the caller stores it with
 * fp__rec_set_time, after the one clock read). */
static inline void fp__rec_acquire(fp_slot *s, uint64_t seq, const fp_site *site)
{
    /* Orders these stores after the previous owner's gen store for walkers
     * (pairs with the walker's acquire fence). */
    atomic_thread_fence(REL);
    atomic_store_explicit(&s->acq_site, site, RLX);
    atomic_store_explicit(&s->acq_tid, (uint32_t)fp__thread_id(), RLX);
    atomic_store_explicit(&s->seq, seq, RLX);
    atomic_store_explicit(&s->marks, 0, RLX);
    atomic_store_explicit(&s->tag[0], 0, RLX);
}

static inline void fp__rec_set_time(fp_slot *s, uint64_t now)
{
    atomic_store_explicit(&s->acq_time, now, RLX);
}

/* Acquire, untracked pool: no site or time, but the sequence (checkpoints),
 * the long-lived mark and the tag are per acquisition all the same. */
static inline void fp__rec_acquire_untracked(fp_slot *s, uint64_t seq)
{
    atomic_thread_fence(REL); /* after the previous owner's gen, for walkers */
    atomic_store_explicit(&s->seq, seq, RLX);
    atomic_store_explicit(&s->marks, 0, RLX);
    atomic_store_explicit(&s->tag[0], 0, RLX);
}

/* The last reference went at `site`. */
static inline void fp__rec_release(fp_slot *s, const fp_site *site)
{
    atomic_store_explicit(&s->rel_site, site, REL);
}

/* Readers for reports outside a walk (double release, poison damage,
 * oneVPL misuse): single fields, no consistency with the rest needed. */
static inline const fp_site *fp__rec_release_site(const fp_slot *s)
{
    return atomic_load_explicit(&s->rel_site, ACQ);
}

static inline const fp_site *fp__rec_acquire_site(const fp_slot *s)
{
    return atomic_load_explicit(&s->acq_site, ACQ);
}

/* The acquire time of a live frame for oldest_live_ns, or UINT64_MAX for a
 * long-lived one (kept out of ages). */
static inline uint64_t fp__rec_age_base(const fp_slot *s)
{
    if (atomic_load_explicit(&s->marks, RLX) & FP_MARK_LONG_LIVED)
        return UINT64_MAX;
    return atomic_load_explicit(&s->acq_time, RLX);
}

#endif /* FP_RECORD_H */
