/*
 * framepool internals shared by the files in lib/.
 * SPDX-License-Identifier: MIT
 */
#ifndef FP_INTERNAL_H
#define FP_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framepool/framepool.h"
#include "region.h"

#define FP_HIDDEN __attribute__((visibility("hidden")))
#define FP_LIKELY(x) __builtin_expect(!!(x), 1)
#define FP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FP_PRINTF(a, b) __attribute__((format(printf, a, b)))
/* Slow paths kept out of line so the hot paths stay small. */
#define FP_COLD __attribute__((noinline, cold))

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release
#define ACQREL memory_order_acq_rel

/* ---------------------------------------------------------------------------
 * Plane layout (layout.c)
 */
typedef struct fp_layout {
    int nb_planes;
    int linesize[4];
    size_t offset[4];
    size_t size;       /* bytes the planes use */
    size_t alloc_size; /* size + tail padding, what the allocator is asked for */
} fp_layout;

/* Tail padding after the last plane, for SIMD that reads past the end. */
#define FP_TAIL_PADDING 64

/* Fills `out`; returns 0, FP_ERR(EINVAL) with `*field` naming the bad input, or
 * FP_ERR(EOVERFLOW). */
FP_HIDDEN int fp_layout_compute(enum fp_format fmt, int width, int height, int align,
                                size_t raw_size, fp_layout *out, const char **field);
FP_HIDDEN const char *fp_format_name(int fmt);

/* ---------------------------------------------------------------------------
 * Slots. One per possible frame, allocated for max_frames at creation and never
 * moved, so an index or a frame pointer stays valid for the pool's lifetime and
 * a stale read of a slot is never a read of freed memory.
 *
 * `gen` counts state changes: odd while the frame is live. It doubles as the
 * per-slot acquire/release counters (acquires = (gen + 1) / 2, releases =
 * gen / 2) and as the sequence lock for the tracking fields.
 *
 * The tracking fields are written only by the frame's owner and read by report
 * walkers on other threads, hence relaxed atomics (plain moves on x86).
 */
#define FP_TAG_WORDS 3 /* 24-byte tag, NUL-terminated */
_Static_assert(FP_TAG_WORDS * 8 == FP_TAG_MAX + 1, "FP_TAG_MAX matches the slot");

/* Three cache lines. The first holds the read-mostly public fields, the
 * second everything an acquire+release cycle writes besides the tracking
 * record (pts, opaque, gen, refs, next, time), the third the record: a
 * cycle dirties two lines, and a slot never shares a line with a neighbour. */
typedef struct fp_slot {
    fp_frame frame;                  /* 0..95 */
    struct fp_pool *pool;
    _Atomic uint64_t gen;
    _Atomic int refs;
    _Atomic uint32_t next;           /* free list / unbacked list link */
    _Atomic uint64_t acq_time;       /* fp_clock_now() units */
    /* 128: the tracking record */
    _Atomic(const fp_site *) acq_site;
    _Atomic(const fp_site *) rel_site;
    _Atomic uint64_t seq;
    uint8_t *mem;                    /* pixel memory; NULL while unbacked (guarded by pool->lock) */
    _Atomic uint32_t acq_tid;        /* kernel thread id (pid_max is at most 2^22) */
    uint16_t idx;                    /* own index, constant (FP_MAX_FRAMES <= 32768) */
    _Atomic uint16_t marks;          /* FP_MARK_* */
    _Atomic uint64_t tag[FP_TAG_WORDS];
} fp_slot;

#define FP_SLOT_SIZE 192
_Static_assert(sizeof(fp_slot) == FP_SLOT_SIZE, "fp_slot is three cache lines");
_Static_assert(offsetof(fp_slot, gen) / 64 == 1 && offsetof(fp_slot, acq_time) / 64 == 1 &&
                   offsetof(fp_slot, frame.pts) / 64 == 1 && offsetof(fp_slot, frame.opaque) / 64 == 1,
               "the fields every cycle writes share one cache line");

#define FP_MARK_LONG_LIVED (1u << 0)
#define FP_MARK_WATCHDOG   (1u << 1)

static inline fp_slot *fp_slot_at(fp_slot *slots, uint32_t i)
{
    return slots + i;
}

/* The private word of a pool frame is its own address mixed with a constant:
 * a copy of the struct elsewhere, zeroed memory or another library's struct
 * does not match, and checking it reads nothing past the public struct. */
#define FP_FRAME_KEY ((uintptr_t)0x9e3779b97f4a7c15ull)
static inline uintptr_t fp_frame_key(const fp_frame *f) { return (uintptr_t)f ^ FP_FRAME_KEY; }

/* Slot arrays live in the bookkeeping region (region.h): a pointer that is
 * not in it (a small heap object, a stack struct, NULL) is refused before its
 * private word is read. */
static inline fp_slot *fp__slot_of_key(const fp_frame *f)
{
    if (f->fp_private != fp_frame_key(f))
        return NULL;
    return (fp_slot *)((char *)f - offsetof(fp_slot, frame));
}
/* The inline half, for hot paths: NULL for anything outside the region,
 * which includes heap-allocated slot arrays; such callers retry with
 * fp__slot_of_slow() off their fast path (a call on it would cost the caller
 * a stack frame). */
static inline fp_slot *fp__slot_of_region(const fp_frame *f)
{
    uintptr_t off = (uintptr_t)f - atomic_load_explicit(&fp__region.base, memory_order_relaxed);
    if (FP_UNLIKELY(off >= atomic_load_explicit(&fp__region.top, memory_order_acquire)))
        return NULL;
    return fp__slot_of_key(f);
}
/* Outside the region: the heap table (region.c). */
FP_HIDDEN fp_slot *fp__slot_of_slow(const fp_frame *f);
static inline fp_slot *fp_slot_of(const fp_frame *f)
{
    if (!fp__region_readable(f, sizeof(*f)))
        return NULL;
    return fp__slot_of_key(f);
}

/* ---------------------------------------------------------------------------
 * The head word of the free list (see pool.c for the protocol):
 *   bits  0..15  index of the top free slot (FP_NIL when empty)
 *   bits 16..31  frames out of the free list ("out"): the pool's life count
 *   bit  32      W: threads are waiting
 *   bit  33      O: no holder is left (the app dropped its last reference)
 *   bits 34..63  ABA tag, incremented by every pop
 */
#define FP_NIL 0xFFFFu
#define H_IDX(h) ((uint32_t)((h) & 0xFFFFu))
#define H_OUT(h) ((uint32_t)(((h) >> 16) & 0xFFFFu))
#define H_W ((uint64_t)1 << 32)
#define H_O ((uint64_t)1 << 33)
#define H_TAG_SHIFT 34
#define H_TAG_BITS 30
#define H_TAG(h) ((uint32_t)((h) >> H_TAG_SHIFT))
#define H_MAKE(idx, out, flags, tag) \
    ((uint64_t)(idx) | ((uint64_t)(out) << 16) | (flags) | ((uint64_t)(tag) << H_TAG_SHIFT))
#define H_FLAGS(h) ((h) & (H_W | H_O))
#define H_TAG_MASK ((1u << H_TAG_BITS) - 1)
#define H_OUT_ONE ((uint64_t)1 << 16)
#define H_TAG_ONE ((uint64_t)1 << H_TAG_SHIFT)
/* A pop: new top, one more out, next tag (wrapping out of the top bits). */
#define H_POP(h, next) ((((h) & ~(uint64_t)0xFFFF) | (next)) + H_OUT_ONE + H_TAG_ONE)
/* The widening hint is refreshed when the low 24 tag bits are zero. */
#define H_HINT_DUE(h) (((h) & ((uint64_t)0xFFFFFF << H_TAG_SHIFT)) == 0)

/* ---------------------------------------------------------------------------
 * Adapters (av.c, vpl.c) create pools through fp_pool_create_ex() with their
 * own layout, per-slot state and hooks.
 */
typedef struct fp_pool_ops {
    const char *kind; /* "av", "vpl" */
    /* The last reference was dropped: true returns the slot now; false defers
     * it (it stays live, "held by runtime") until a sweep finds it true. */
    bool (*can_return)(fp_pool *pool, fp_slot *s);
    /* The slot just got pixel memory (planes set): set up per-slot state. */
    void (*slot_backed)(fp_pool *pool, fp_slot *s);
    /* The pool is being freed: free the adapter state. */
    void (*destroy)(fp_pool *pool);
    /* Optional: the frame's reference count seen by the application, given
     * the core's `refs` (> 0), e.g. plus references held outside the core
     * (FFmpeg's AVBufferRefs). Must not block or call back. */
    int (*refcount)(fp_pool *pool, fp_slot *s, int refs);
} fp_pool_ops;

typedef struct fp_pool_params {
    const fp_pool_config *cfg;
    const fp_layout *layout; /* NULL: computed from cfg */
    int frame_format;        /* fp_frame::format when layout is given */
    const fp_pool_ops *ops;
    size_t extra_size;       /* per-slot adapter bytes (fp_slot_extra) */
    void *adapter;           /* pool-level adapter state, freed by ops->destroy */
} fp_pool_params;

FP_HIDDEN int fp_pool_create_ex(fp_pool **out, const fp_pool_params *params);

#define FP_SLOW_CLOSED    (1u << 0) /* acquires fail (ESHUTDOWN) */
#define FP_SLOW_UNTRACKED (1u << 1) /* FP_POOL_NO_TRACK */
#define FP_SLOW_FLAGS     (1u << 2) /* FP_POOL_ZERO or FP_POOL_POISON */
#define FP_SLOW_ADAPTER   (1u << 3) /* ops->can_return may defer a release */

/* ---------------------------------------------------------------------------
 * The pool.
 */
struct fp_pool {
    /* Written by every acquire and release: alone on its cache line. */
    alignas(64) _Atomic uint64_t head;

    /* Read-mostly. */
    alignas(64) fp_slot *slots;
    uint32_t capacity;
    unsigned flags;
    bool track;
    _Atomic bool closed;
    /* Non-zero sends acquires (slow_acq) or last releases (slow_rel) off the
     * fast path: one load and branch instead of one per feature. */
    _Atomic uint8_t slow_acq;       /* FP_SLOW_* */
    uint8_t slow_rel;               /* FP_SLOW_* but CLOSED */
    _Atomic uint64_t seq_hint;      /* a recent 64-bit sequence, to widen the 30-bit tag */
    _Atomic uint32_t peak_out;
    fp_layout layout;
    fp_allocator alloc;
    fp_log_cb log;
    void *log_opaque;
    int log_level;
    int min_frames;
    size_t mem_align;               /* max(align, 16) */
    int width, height, format;
    char name[64];

    /* Slow path: guarded by lock unless atomic. */
    alignas(64) pthread_mutex_t lock;
    pthread_cond_t cond;
    int waiters;
    uint32_t unbacked;              /* list of slots without memory, linked by next */
    _Atomic uint32_t allocated;
    _Atomic int app_refs;
    _Atomic int holders;            /* 1 while app_refs > 0, plus registered waiters */
    _Atomic uint64_t exhausted, timeouts, waits, wait_ns_total, wait_ns_max;
    _Atomic uint64_t misuse, alloc_failures, get_buffer_fallbacks;
    int64_t get_buffer_timeout_us;
    /* Watchdog (track.c): age limit in ns (0 = off), next scan time for the
     * acquire-triggered scan (UINT64_MAX = never), callback under lock. */
    _Atomic uint64_t watchdog_age;
    _Atomic uint64_t watchdog_next;
    fp_watchdog_cb watchdog_cb;
    void *watchdog_ud;

    /* Adapter hooks and state (see fp_pool_ops). */
    const fp_pool_ops *ops;
    void *adapter;
    uint8_t *extra;
    size_t extra_size;
    /* Deferred slots: released by the app, still held by a runtime. A list
     * linked by next, guarded by lock; npending is read without it. */
    uint32_t pending, pending_tail;
    _Atomic uint32_t npending;

    /* Registry links, guarded by the registry lock. */
    struct fp_pool *reg_prev, *reg_next;
    uint64_t id;

    /* FP_POOL_MAGIC ^ own address while the pool exists (fp__pool_check). */
    uintptr_t magic;
};

#define FP_POOL_MAGIC ((uintptr_t)0x46505f504f4f4c21ull) /* "FP_POOL!" */

/* Whether `p` is a live pool: in the region and carrying its magic. Reads
 * nothing through a pointer that fails the first test. */
static inline bool fp__pool_check(const fp_pool *p)
{
    return fp__region_readable(p, sizeof(*p)) && p->magic == (FP_POOL_MAGIC ^ (uintptr_t)p);
}

static inline void *fp_slot_extra(const fp_pool *pool, const fp_slot *s)
{
    return pool->extra + (size_t)s->idx * pool->extra_size;
}

/* pool.c */
/* Drops one reference of a slot (fp_frame_unref_at() without the pointer
 * checks): 0, or FP_ERR(EALREADY) after logging and counting a double release. */
FP_HIDDEN int fp_slot_unref(fp_slot *s, const fp_site *site);
/* fp_pool_acquire_site() for adapters. */
FP_HIDDEN int fp_pool_acquire_internal(fp_pool *pool, int64_t timeout_us, fp_frame **out, const fp_site *site);
/* Returns deferred slots whose can_return is now true; the number returned. */
FP_HIDDEN int fp_pool_sweep(fp_pool *pool);
/* The last reference of a frame was dropped (core unref, adapters' release
 * paths): returns the slot or defers it. */
FP_HIDDEN void fp_pool_release_slot(fp_pool *pool, fp_slot *s);
FP_HIDDEN uint64_t fp_pool_seq_of_tag(fp_pool *pool, uint32_t tag);
FP_HIDDEN void fp_pool_note_misuse(fp_pool *pool);

/* log.c */
FP_HIDDEN void fp_log(const fp_pool *pool, int level, const char *fmt, ...) FP_PRINTF(3, 4);
FP_HIDDEN void fp_log_cfg(const fp_pool_config *cfg, int level, const char *fmt, ...) FP_PRINTF(3, 4);
FP_HIDDEN void fp_misuse_global_inc(void);

/* clock.c: a cheap monotonic clock for the hot path, in ns.
 * CLOCK_MONOTONIC_COARSE is read from the vDSO without a syscall (resolution
 * one scheduler tick, plenty for frame ages); waits use the precise clock. */
#include <time.h>
#ifdef CLOCK_MONOTONIC_COARSE
# define FP_HOT_CLOCK CLOCK_MONOTONIC_COARSE
#else
# define FP_HOT_CLOCK CLOCK_MONOTONIC
#endif
typedef int (*fp_gettime_fn)(clockid_t, struct timespec *);
/* clock_gettime, or the vDSO's own function when found (clock.c). */
extern fp_gettime_fn fp_hot_gettime FP_HIDDEN;
static inline uint64_t fp_clock_now(void)
{
    struct timespec ts;
    fp_hot_gettime(FP_HOT_CLOCK, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
FP_HIDDEN uint64_t fp_clock_precise(void);
FP_HIDDEN uint64_t fp_thread_id_slow(void);
/* initial-exec: a plain %fs-relative load, no __tls_get_addr call. */
extern _Thread_local uint64_t fp_cached_tid FP_HIDDEN __attribute__((tls_model("initial-exec")));
static inline uint64_t fp_thread_id(void)
{
    uint64_t t = fp_cached_tid;
    return FP_LIKELY(t) ? t : fp_thread_id_slow();
}

/* alloc.c */
FP_HIDDEN void *fp_default_alloc(void *opaque, size_t size, size_t align);
FP_HIDDEN void fp_default_free(void *opaque, void *ptr, size_t size);

/* track.c */
/* The site of fp_*_at() callers: (file, line, func) looked up in a process-wide
 * table of sites (never freed, no allocation); NULL when all three are unset. */
FP_HIDDEN const fp_site *fp_site_intern(const char *file, int line, const char *func);
static inline const char *fp_site_file(const fp_site *s) { return s ? s->file : NULL; }
static inline const char *fp_site_func(const fp_site *s) { return s ? s->func : NULL; }
static inline int fp_site_line(const fp_site *s) { return s ? s->line : 0; }

/* Writes the acquire record but the time (see track.c for the sequence lock). */
static inline void fp_track_acquire(fp_slot *s, uint64_t seq, const fp_site *site)
{
    /* Orders these stores after the previous owner's gen store for walkers
     * (pairs with the walker's acquire fence). */
    atomic_thread_fence(REL);
    atomic_store_explicit(&s->acq_site, site, RLX);
    atomic_store_explicit(&s->acq_tid, (uint32_t)fp_thread_id(), RLX);
    atomic_store_explicit(&s->seq, seq, RLX);
    atomic_store_explicit(&s->marks, 0, RLX);
    atomic_store_explicit(&s->tag[0], 0, RLX);
}
/* Scans for stale frames when due at `now` (called after acquires). */
FP_HIDDEN FP_COLD void fp_watchdog_tick(fp_pool *pool, uint64_t now);
FP_HIDDEN int fp_watchdog_scan(fp_pool *pool);
/* Release: a reader that loads the pointer with acquire (double-release
 * reports) also sees the fields of a site the table has just filled. */
static inline void fp_track_release(fp_slot *s, const fp_site *site)
{
    atomic_store_explicit(&s->rel_site, site, REL);
}
FP_HIDDEN void fp_track_leak_report(fp_pool *pool, int level, const char *why);
FP_HIDDEN void fp_track_double_release(fp_slot *s, const fp_site *site);

/* poison.c */
FP_HIDDEN void fp_poison(fp_pool *pool, fp_slot *s);
FP_HIDDEN void fp_unpoison(fp_pool *pool, fp_slot *s);

#endif /* FP_INTERNAL_H */
