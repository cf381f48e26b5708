/*
 * The free list's head word: its only owner. Every read-modify-write of
 * pool->head is one of the named operations below; no other file touches the
 * word or its H_* layout.
 * SPDX-License-Identifier: MIT
 *
 * Layout of the 64-bit head:
 *   bits  0..15  index of the top free slot (FP_NIL when empty)
 *   bits 16..31  frames out of the free list ("out"): the frames' collective
 *                reference on the pool
 *   bit  32      W: threads are waiting (set and cleared under pool->lock)
 *   bit  33      O: orphaned, no holder is left (the app dropped its last
 *                reference and no waiter is registered)
 *   bits 34..63  ABA tag, incremented by every operation that removes or
 *                claims slots
 *
 * Rules, each stated once here:
 *  - ABA: a pop's CAS compares the whole word, and every operation that takes
 *    slots off the stack (pop, claim, detach-all) bumps the tag, so a stale
 *    {top, next} pair read before a pop/push/pop sequence fails.
 *  - Sequence refresh: the tag doubles as the acquire sequence number, widened
 *    to 64 bits against pool->seq_hint. Whichever operation produces a tag
 *    whose low 24 bits are zero refreshes the hint (fl_note_tag), so the hint
 *    stays within 2^24 of every tag in use and the signed 30-bit difference is
 *    exact (fl_seq_of_tag).
 *  - Waking: a push that replaces a head with W set keeps its out count (so
 *    the pool outlives the wake-up) and the caller signals, then puts the
 *    count back with fl_put_out().
 *  - Lifetime: the pool is freed by whichever operation produces
 *    {out == 0, O}: fl_push (returns FL_FREE), fl_put_out and fl_orphan
 *    (return true). That operation is the caller's last access to the pool.
 */
#ifndef FP_FREELIST_H
#define FP_FREELIST_H

#include "internal.h"

#define FP_NIL FP_SLOT_NIL
#define H_IDX(h) ((uint32_t)((h) & 0xFFFFu))
#define H_OUT(h) ((uint32_t)(((h) >> 16) & 0xFFFFu))
#define H_W ((uint64_t)1 << 32)
#define H_O ((uint64_t)1 << 33)
#define H_TAG_SHIFT 34
#define H_TAG_BITS 30
#define H_TAG(h) ((uint32_t)((h) >> H_TAG_SHIFT))
#define H_MAKE(idx, out, flags, tag) \
    ((uint64_t)(idx) | ((uint64_t)(out) << 16) | (flags) | ((uint64_t)(tag) << H_TAG_SHIFT))
#define H_OUT_ONE ((uint64_t)1 << 16)
#define H_TAG_ONE ((uint64_t)1 << H_TAG_SHIFT)
#define H_IDX_MASK ((uint64_t)0xFFFF)
/* A pop: new top, one more out, next tag (wrapping out of the top bits). */
#define H_POP(h, next) ((((h) & ~H_IDX_MASK) | (next)) + H_OUT_ONE + H_TAG_ONE)
/* The widening hint is refreshed when the low 24 tag bits are zero. */
#define H_HINT_DUE(h) (((h) & ((uint64_t)0xFFFFFF << H_TAG_SHIFT)) == 0)

/* ------------------------------------------------------------------------- */
/* Sequence numbers                                                          */

static inline uint64_t fl_seq_of_tag(const fp_pool *pool, uint32_t tag)
{
    uint64_t hint = atomic_load_explicit(&pool->seq_hint, RLX);
    int32_t d = (int32_t)((tag - (uint32_t)hint) << (32 - H_TAG_BITS)) >> (32 - H_TAG_BITS);
    return hint + (uint64_t)(int64_t)d;
}

/* The hint refresh of a new tag (see the rules above). Not FP_COLD: GCC
 * then moves the whole inlined fast path after a pop into .text.cold
 * (+7 instructions per acquire). */
FP_HIDDEN void fp__fl_note_tag(fp_pool *pool, uint32_t tag);
static inline void fl_note_tag(fp_pool *pool, uint64_t nh)
{
    if (FP_UNLIKELY(H_HINT_DUE(nh)))
        fp__fl_note_tag(pool, H_TAG(nh));
}

/* The sequence of the last acquisition (a checkpoint). */
static inline uint64_t fl_checkpoint(fp_pool *pool)
{
    uint64_t h = atomic_load_explicit(&pool->head, ACQ);
    return fl_seq_of_tag(pool, H_TAG(h));
}

/* ------------------------------------------------------------------------- */
/* Taking slots                                                              */

/* Pops the top free slot; returns it (NULL when empty) and the new head. */
static inline fp_slot *fl_pop(fp_pool *pool, uint64_t *nh_out)
{
    uint64_t h = atomic_load_explicit(&pool->head, ACQ), nh;
    fp_slot *s;
    do {
        uint32_t idx = H_IDX(h);
        if (FP_UNLIKELY(idx == FP_NIL))
            return NULL;
        s = fp__slot_at(pool->slots, idx);
        nh = H_POP(h, atomic_load_explicit(&s->next, RLX));
        FP_INJECT();
    } while (!atomic_compare_exchange_weak_explicit(&pool->head, &h, nh, ACQ, ACQ));
    fl_note_tag(pool, nh);
    *nh_out = nh;
    return s;
}

/* One more slot out without popping (a freshly backed slot); the new head. */
static inline uint64_t fl_claim(fp_pool *pool)
{
    FP_INJECT();
    uint64_t nh = atomic_fetch_add_explicit(&pool->head, H_OUT_ONE + H_TAG_ONE, ACQREL) + H_OUT_ONE + H_TAG_ONE;
    fl_note_tag(pool, nh);
    return nh;
}

/* Takes the whole stack (trim, reconfigure): returns the old top; acquirers
 * see it empty. Bumps the tag like a pop. A release: what the caller stored
 * before (a reconfigure's FP_SLOW_GEN) is seen by every later pop. */
static inline uint32_t fl_detach_all(fp_pool *pool)
{
    uint64_t h = atomic_load_explicit(&pool->head, ACQ), nh;
    do {
        nh = (h | FP_NIL) + H_TAG_ONE;
        FP_INJECT();
    } while (!atomic_compare_exchange_weak_explicit(&pool->head, &h, nh, ACQREL, ACQ));
    fl_note_tag(pool, nh);
    return H_IDX(h);
}

/* ------------------------------------------------------------------------- */
/* Returning slots                                                           */

#define FL_DONE 0 /* pushed, nothing more to do */
#define FL_WAKE 1 /* W was set: the push kept its out count; signal, then fl_put_out */
#define FL_FREE 2 /* the push produced {out == 0, O}: free the pool */

/* Pushes a released slot (it was out). */
static inline int fl_push(fp_pool *pool, fp_slot *s)
{
    uint64_t h = atomic_load_explicit(&pool->head, RLX), nh;
    do {
        atomic_store_explicit(&s->next, H_IDX(h), RLX);
        nh = ((h & ~H_IDX_MASK) | s->idx) - H_OUT_ONE;
        if (FP_UNLIKELY(h & H_W))
            nh += H_OUT_ONE;
        FP_INJECT();
    } while (!atomic_compare_exchange_weak_explicit(&pool->head, &h, nh, ACQREL, RLX));
    if (FP_LIKELY(!(h & (H_W | H_O))))
        return FL_DONE;
    if (h & H_W)
        return FL_WAKE;
    return H_OUT(nh) == 0 ? FL_FREE : FL_DONE;
}

/* Pushes a released slot but keeps its out count (deferred slots returned by
 * a sweep under pool->lock, which must not free the pool it holds the lock
 * of): the caller calls fl_put_out() once per slot after unlocking. */
static inline void fl_push_keep_out(fp_pool *pool, fp_slot *s)
{
    uint64_t h = atomic_load_explicit(&pool->head, RLX), nh;
    do {
        atomic_store_explicit(&s->next, H_IDX(h), RLX);
        nh = (h & ~H_IDX_MASK) | s->idx;
        FP_INJECT();
    } while (!atomic_compare_exchange_weak_explicit(&pool->head, &h, nh, ACQREL, RLX));
}

/* Pushes a slot that was not out (creation, trim). */
static inline void fl_push_idle(fp_pool *pool, fp_slot *s)
{
    fl_push_keep_out(pool, s);
}

/* Drops one out count; true when the caller must free the pool. */
static inline bool fl_put_out(fp_pool *pool)
{
    FP_INJECT();
    uint64_t old = atomic_fetch_sub_explicit(&pool->head, H_OUT_ONE, ACQREL);
    return H_OUT(old) == 1 && (old & H_O);
}

/* ------------------------------------------------------------------------- */
/* Flags                                                                     */

/* W, under pool->lock: the first waiter sets it, the last clears it. */
static inline void fl_set_waiting(fp_pool *pool)
{
    FP_INJECT();
    atomic_fetch_or_explicit(&pool->head, H_W, ACQREL);
}

static inline void fl_clear_waiting(fp_pool *pool)
{
    FP_INJECT();
    atomic_fetch_and_explicit(&pool->head, ~H_W, ACQREL);
}

/* The last holder is gone: sets O; true when no frame is out either, and the
 * caller must free the pool. */
static inline bool fl_orphan(fp_pool *pool)
{
    FP_INJECT();
    uint64_t old = atomic_fetch_or_explicit(&pool->head, H_O, ACQREL);
    return H_OUT(old) == 0;
}

/* Frames out (for peaks and tests; a plain load). */
static inline uint32_t fl_out(const fp_pool *pool)
{
    return H_OUT(atomic_load_explicit(&pool->head, RLX));
}

static inline uint32_t fl_out_of(uint64_t nh) { return H_OUT(nh); }
static inline uint32_t fl_tag_of(uint64_t nh) { return H_TAG(nh); }

/* The initial head: empty stack, nothing out, no flags. */
static inline void fl_init(fp_pool *pool)
{
    atomic_init(&pool->head, H_MAKE(FP_NIL, 0, 0, 0));
}

#endif /* FP_FREELIST_H */
