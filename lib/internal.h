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
#include <stdio.h>

#include "framepool/framepool.h"
#include "region.h"

#define FP_HIDDEN __attribute__((visibility("hidden")))
#define FP_LIKELY(x) __builtin_expect(!!(x), 1)
#define FP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FP_PRINTF(a, b) __attribute__((format(printf, a, b)))
/* Slow paths kept out of line so the hot paths stay small. */
#define FP_COLD __attribute__((noinline, cold))

/* Protocol points of the yield-injection build (-Dinject_yields=true, for
 * stress runs under TSan): a random sched_yield or short sleep there widens
 * the race windows. Free list CASes, the holder drop, release, sweep,
 * snapshot and watchdog call it. Compiled out otherwise. */
#ifdef FP_INJECT_YIELDS
FP_HIDDEN void fp__inject_point(void);
# define FP_INJECT() fp__inject_point()
#else
# define FP_INJECT() ((void)0)
#endif

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release
#define ACQREL memory_order_acq_rel

/* ---------------------------------------------------------------------------
 * Plane layout (layout.c)
 */
typedef struct fp__layout {
    int nb_planes;
    int linesize[4];
    size_t offset[4];
    size_t size;       /* bytes the planes use */
    size_t alloc_size; /* size + tail padding, what the allocator is asked for */
} fp__layout;

/* Tail padding after the last plane, for SIMD that reads past the end. */
#define FP_TAIL_PADDING 64

/* Shared helpers of the layout code (layout.c, av.c, vpl.c). */
#define FP_MAX_ALIGN 4096
static inline bool fp__align_ok(int align)
{
    return align >= 1 && align <= FP_MAX_ALIGN && !(align & (align - 1));
}
/* v rounded up to a power of two a; the caller knows it cannot overflow
 * (layout.c's checked form is for user-sized values). */
static inline size_t fp__align_up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}
/* The invalid-align log line, one wording for every create function. */
FP_HIDDEN void fp__log_bad_align(const fp_pool_config *cfg);

/* Why a geometry cannot be laid out (the config validation's log line). */
enum fp_layout_why {
    FP_LAYOUT_OK,
    FP_LAYOUT_BAD_FORMAT,      /* not an enum fp_format value */
    FP_LAYOUT_BAD_ALIGN,       /* not a power of two in 1..4096 */
    FP_LAYOUT_RAW_NEEDS_SIZE,  /* FP_FMT_RAW with buffer_size 0 */
    FP_LAYOUT_RAW_WIDTH,       /* FP_FMT_RAW with a width */
    FP_LAYOUT_RAW_HEIGHT,      /* FP_FMT_RAW with a height */
    FP_LAYOUT_BAD_WIDTH,       /* outside 1..FP_MAX_DIMENSION */
    FP_LAYOUT_ODD_WIDTH,       /* a two-pixel sample format with an odd width */
    FP_LAYOUT_BAD_HEIGHT,      /* outside 1..FP_MAX_DIMENSION */
    FP_LAYOUT_IMAGE_SIZE,      /* an image format with a buffer_size */
    FP_LAYOUT_OVERFLOW_WIDTH,  /* a line or plane size overflows */
    FP_LAYOUT_OVERFLOW_HEIGHT, /* the frame size overflows */
    FP_LAYOUT_OVERFLOW_SIZE,   /* buffer_size plus padding overflows */
};

/* Fills `out`; returns 0, FP_ERR(EINVAL) or FP_ERR(EOVERFLOW) with `*why`
 * saying which input is bad. */
FP_HIDDEN int fp__layout_compute(enum fp_format fmt, int width, int height, int align,
                                size_t raw_size, fp__layout *out, enum fp_layout_why *why);
FP_HIDDEN const char *fp__format_name(int fmt);

/* ---------------------------------------------------------------------------
 * Geometries (generations). A geometry says how the frames of one generation
 * are laid out. It never changes once published: the current one is
 * pool->geom; after fp_pool_reconfigure() older ones stay on pool->old_geoms
 * while some slot still has memory laid out by them, and are freed (under
 * pool->lock) when the last such slot gives its memory back.
 */
#define FP_GEOM_ADAPTER 96 /* the adapter's part (AV: pixel format, padding; vpl: mfxFrameInfo) */
typedef struct fp__geom {
    uint32_t gen;                /* 1, 2, ...; 0: no geometry yet (a decoder pool before its first frame) */
    int width, height, format;   /* the frames' fp_frame fields */
    size_t mem_align;            /* max(align, 16) */
    fp__layout layout;
    uint32_t backed;             /* slots with memory of this geometry (pool->lock) */
    struct fp__geom *next;       /* the next older geometry still backing slots (pool->lock) */
    alignas(16) unsigned char adapter[FP_GEOM_ADAPTER];
} fp__geom;

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
    _Atomic uint64_t acq_time;       /* fp__clock_now() units */
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

/* FP_MARK_*: the tracking record's marks, in record.h. */

static inline fp_slot *fp__slot_at(fp_slot *slots, uint32_t i)
{
    return slots + i;
}

/* The private word of a pool frame is its own address mixed with a constant:
 * a copy of the struct elsewhere, zeroed memory or another library's struct
 * does not match, and checking it reads nothing past the public struct. */
#define FP_FRAME_KEY ((uintptr_t)0x9e3779b97f4a7c15ull)
static inline uintptr_t fp__frame_key(const fp_frame *f) { return (uintptr_t)f ^ FP_FRAME_KEY; }

/* Slot arrays live in the bookkeeping region (region.h): a pointer that is
 * not in it (a small heap object, a stack struct, NULL) is refused before its
 * private word is read. */
static inline fp_slot *fp__slot_of_key(const fp_frame *f)
{
    if (f->fp_private != fp__frame_key(f))
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
static inline fp_slot *fp__slot_of(const fp_frame *f)
{
    if (!fp__region_readable(f, sizeof(*f)))
        return NULL;
    return fp__slot_of_key(f);
}

/* The free list's head word and its operations: freelist.h, its only owner.
 * The end of a slot list (free, unbacked, deferred) is FP_SLOT_NIL. */
#define FP_SLOT_NIL 0xFFFFu

/* ---------------------------------------------------------------------------
 * Adapters (av.c, vpl.c) create pools through fp__pool_create_ex() with their
 * own layout, per-slot state and hooks.
 */
typedef struct fp__pool_ops {
    const char *kind; /* "av", "vpl" */
    /* The last reference was dropped: true returns the slot now; false defers
     * it (it stays live, "held by runtime") until a sweep finds it true. */
    bool (*can_return)(fp_pool *pool, fp_slot *s);
    /* The slot just got pixel memory (planes set): set up per-slot state. */
    void (*slot_backed)(fp_pool *pool, fp_slot *s);
    /* The pool is being freed: free the adapter state. */
    void (*destroy)(fp_pool *pool);
    /* Optional: lays out a new generation for fp_pool_reconfigure(); fills
     * g's format/width/height/layout/mem_align/adapter from cfg. 0 or a
     * negative errno after logging why. Without it the core's own layout of
     * cfg is used (and adapters' pools refuse reconfiguring). */
    int (*reconfigure)(fp_pool *pool, const fp_pool_config *cfg, fp__geom *g);
    /* Optional: the frame's reference count seen by the application, given
     * the core's `refs` (> 0), e.g. plus references held outside the core
     * (FFmpeg's AVBufferRefs). Must not block or call back. */
    int (*refcount)(fp_pool *pool, fp_slot *s, int refs);
} fp__pool_ops;

typedef struct fp__pool_params {
    const fp_pool_config *cfg;
    const fp__layout *layout; /* NULL: computed from cfg */
    int frame_format;        /* fp_frame::format when layout is given */
    const fp__pool_ops *ops;
    size_t extra_size;       /* per-slot adapter bytes (fp__slot_extra) */
    void *adapter;           /* pool-level adapter state, freed by ops->destroy */
    const fp_site *site;     /* creation site (NULL: unknown) */
    const void *geom_adapter; /* FP_GEOM_ADAPTER bytes for the first geometry (NULL: zeros) */
    bool no_geometry;        /* the geometry comes later (fp__pool_set_geometry); layout ignored */
} fp__pool_params;

FP_HIDDEN int fp__pool_create_ex(fp_pool **out, const fp__pool_params *params);
/* Makes `g` (filled by the caller: format, width, height, mem_align, layout,
 * adapter) the pool's new generation, unless it equals the current one.
 * Idle frames of older generations are freed; live ones are freed when they
 * return. Then backs min_frames of the new geometry. Returns the current
 * generation (> 0) or FP_ERR(ESHUTDOWN)/FP_ERR(ENOMEM). Takes pool->lock
 * (not across the allocator). */
FP_HIDDEN int fp__pool_set_geometry(fp_pool *pool, const fp__geom *g);
/* A copy of the current geometry, read under pool->lock. */
FP_HIDDEN void fp__pool_geom_copy(fp_pool *pool, fp__geom *out);

#define FP_SLOW_CLOSED    (1u << 0) /* acquires fail (ESHUTDOWN) */
#define FP_SLOW_UNTRACKED (1u << 1) /* FP_POOL_NO_TRACK */
#define FP_SLOW_FLAGS     (1u << 2) /* FP_POOL_ZERO or FP_POOL_POISON */
#define FP_SLOW_ADAPTER   (1u << 3) /* ops->can_return may defer a release */
#define FP_SLOW_GEN       (1u << 4) /* slots of an older generation still have memory */

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
    _Atomic uint8_t slow_rel;       /* FP_SLOW_* but CLOSED */
    _Atomic uint64_t seq_hint;      /* a recent 64-bit sequence, to widen the 30-bit tag */
    _Atomic uint32_t peak_out;
    fp_allocator alloc;
    fp_log_cb log;
    void *log_opaque;
    int log_level;
    int min_frames;
    uint64_t max_bytes;             /* cfg.max_bytes (0: no cap) */
    char name[64];
    /* The current geometry: replaced under pool->lock, read with an acquire
     * load. Its pointer is compared without the lock (a slot's geometry is
     * alive while the slot has memory), dereferenced under the lock or by a
     * thread that keeps a slot of it backed. */
    _Atomic(fp__geom *) geom;
    /* Per slot: the geometry of its memory (NULL: unbacked), a pointer at
     * geom_base + idx * geom_stride: in the last 8 bytes of each adapter's
     * per-slot block (its 64-byte rounding has room), or an array of its
     * own for core pools. Bookkeeping stays <= 256 bytes per slot. */
    uint8_t *geom_base;
    size_t geom_stride;
    bool geom_own;                  /* geom_base is our own allocation */

    /* Slow path: guarded by lock unless atomic. */
    alignas(64) pthread_mutex_t lock;
    pthread_cond_t cond;
    int waiters;
    uint32_t unbacked;              /* list of slots without memory, linked by next */
    _Atomic uint32_t allocated;
    fp__geom *old_geoms;            /* older geometries still backing slots */
    uint32_t old_backed;            /* slots whose memory is of an older geometry */
    uint64_t bytes;                 /* pixel bytes of every backed slot (alloc_size each) */
    _Atomic int app_refs;
    _Atomic int holders;            /* 1 while app_refs > 0, plus registered waiters */
    _Atomic uint64_t exhausted, timeouts, waits, wait_ns_total, wait_ns_max;
    _Atomic uint64_t misuse, alloc_failures, get_buffer_fallbacks;
    _Atomic uint64_t get_buffer_exhausted, get_buffer_overdraft, get_buffer_bypassed; /* set by av.c */
    int64_t get_buffer_timeout_us;
    bool sync_ready;                /* lock and cond initialized (creation's error exit) */
    /* Watchdog (track.c): age limit in ns (0 = off), next scan time for the
     * acquire-triggered scan (UINT64_MAX = never), callback under lock. */
    _Atomic uint64_t watchdog_age;
    _Atomic uint64_t watchdog_next;
    fp_watchdog_cb watchdog_cb;
    void *watchdog_ud;

    /* Adapter hooks and state (see fp__pool_ops). */
    const fp__pool_ops *ops;
    void *adapter;
    uint8_t *extra;
    size_t extra_size;
    /* Deferred slots: released by the app, still held by a runtime. A list
     * linked by next, guarded by lock; npending is read without it. */
    uint32_t pending, pending_tail;
    _Atomic uint32_t npending;

    /* Watchdog callbacks running now (guarded by lock): a watchdog change
     * waits for them, so the app's ud is not used after it returns. */
    int watchdog_running;
    /* Sequence at the last fork(), in the child: older frames are the
     * parent's and stay out of the child's exit leak report. */
    uint64_t fork_seq;

    /* Registry links and pins, guarded by the registry lock. A walk pins the
     * pool it is visiting; a pool whose last frame and holder went while
     * pinned is "doomed" and freed by the last unpin. */
    struct fp_pool *reg_prev, *reg_next;
    uint64_t id;
    int pins;
    bool doomed;

    /* FP_POOL_MAGIC ^ own address while the pool exists (fp__pool_check). */
    uintptr_t magic;

    /* Creation site (fp_pool_create_site(); NULL: unknown), constant. */
    const fp_site *create_site;
    /* fp_frame_set_tag() has logged a cut tag of this pool. */
    _Atomic bool tag_cut_logged;
};

#define FP_POOL_MAGIC ((uintptr_t)0x46505f504f4f4c21ull) /* "FP_POOL!" */

/* Whether `p` is a live pool: in the region and carrying its magic. Reads
 * nothing through a pointer that fails the first test. */
static inline bool fp__pool_check(const fp_pool *p)
{
    return fp__region_readable(p, sizeof(*p)) && p->magic == (FP_POOL_MAGIC ^ (uintptr_t)p);
}

/* The slot of a frame known to be a pool frame (no check). */
static inline fp_slot *fp__slot_from_frame(const fp_frame *f)
{
    return (fp_slot *)((char *)f - offsetof(fp_slot, frame));
}

/* The geometry a backed slot's memory is laid out by; its owner (or the
 * lock holder) may read it. */
static inline fp__geom **fp__slot_geom_ref(const fp_pool *pool, uint32_t idx)
{
    return (fp__geom **)(void *)(pool->geom_base + (size_t)idx * pool->geom_stride);
}
static inline const fp__geom *fp__slot_geom(const fp_pool *pool, const fp_slot *s)
{
    return *fp__slot_geom_ref(pool, s->idx);
}

static inline void *fp__slot_extra(const fp_pool *pool, const fp_slot *s)
{
    return pool->extra + (size_t)s->idx * pool->extra_size;
}

/* ---------------------------------------------------------------------------
 * Locking (doc/design.md, "Locking", says the same at more length)
 *
 *   registry lock (registry.c)  ->  pool->lock  ->  (nothing)
 *
 * - The registry lock guards the list of pools, their ids, pins and the
 *   doomed flag. pool->lock guards the unbacked and deferred lists, waiters,
 *   the watchdog callback and ud, and the set of backed slots (allocated).
 * - A thread holding pool->lock never takes the registry lock; only fork()
 *   preparation takes pool locks with the registry lock held.
 * - No user callback (log, watchdog, allocator) and no public entry point runs
 *   with either lock held. Functions that must be called with pool->lock held
 *   end in _locked. In debug builds fp__lock()/fp__unlock() count the locks a
 *   thread holds and FP_ASSERT_UNLOCKED() checks that count before every
 *   callback.
 * - What blocks: pool->lock is held only for list and counter updates (no IO,
 *   no allocation, no callback), so every lock wait is short; only acquire
 *   waits (for a frame) and fp_pool_set_watchdog (for running callbacks).
 */
#ifndef NDEBUG
extern _Thread_local int fp__locks_held FP_HIDDEN;
# define FP_LOCK_COUNT(d) (fp__locks_held += (d))
FP_HIDDEN void fp__assert_unlocked(const char *what);
# define FP_ASSERT_UNLOCKED(what) fp__assert_unlocked(what)
#else
# define FP_LOCK_COUNT(d) ((void)0)
# define FP_ASSERT_UNLOCKED(what) ((void)0)
#endif
static inline void fp__lock(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    FP_LOCK_COUNT(1);
}
static inline void fp__unlock(pthread_mutex_t *m)
{
    FP_LOCK_COUNT(-1);
    pthread_mutex_unlock(m);
}

/* pool.c */
/* Drops one reference of a slot (fp_frame_unref_at() without the pointer
 * checks): 0, or FP_ERR(EALREADY) after logging and counting a double release. */
FP_HIDDEN int fp__slot_unref(fp_slot *s, const fp_site *site);
/* fp_pool_acquire_site() for adapters. */
FP_HIDDEN int fp__pool_acquire_internal(fp_pool *pool, int64_t timeout_us, fp_frame **out, const fp_site *site);
/* Returns deferred slots whose can_return is now true; the number returned.
 * May free the pool (its last frame returned after the app let go): the
 * caller must hold a reference or a registry pin (then the free is deferred
 * to the unpin). Takes pool->lock; calls no user callback under it. */
FP_HIDDEN int fp__pool_sweep(fp_pool *pool);
/* Frees a pool whose last frame and holder are gone (registry.c calls it on
 * the last unpin of a doomed pool). No lock held. */
FP_HIDDEN void fp__pool_free(fp_pool *pool);
/* The last reference of a frame was dropped (core unref, adapters' release
 * paths): returns the slot or defers it. */
FP_HIDDEN void fp__pool_release_slot(fp_pool *pool, fp_slot *s);
FP_HIDDEN void fp__pool_note_misuse(fp_pool *pool);

/* log.c */
FP_HIDDEN void fp__log(const fp_pool *pool, int level, const char *fmt, ...) FP_PRINTF(3, 4);
FP_HIDDEN void fp__log_cfg(const fp_pool_config *cfg, int level, const char *fmt, ...) FP_PRINTF(3, 4);
FP_HIDDEN void fp__misuse_global_inc(void);

/* clock.c: a cheap monotonic clock for the hot path, in ns.
 * CLOCK_MONOTONIC_COARSE is read from the vDSO without a syscall (resolution
 * one scheduler tick, plenty for frame ages); waits use the precise clock. */
#include <time.h>
#ifdef CLOCK_MONOTONIC_COARSE
# define FP_HOT_CLOCK CLOCK_MONOTONIC_COARSE
#else
# define FP_HOT_CLOCK CLOCK_MONOTONIC
#endif
typedef int (*fp__gettime_fn)(clockid_t, struct timespec *);
/* clock_gettime, or the vDSO's own function when found (clock.c). */
extern fp__gettime_fn fp__hot_gettime FP_HIDDEN;
static inline uint64_t fp__clock_now(void)
{
    struct timespec ts;
    fp__hot_gettime(FP_HOT_CLOCK, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
FP_HIDDEN uint64_t fp__clock_precise(void);
FP_HIDDEN uint64_t fp__thread_id_slow(void);
/* initial-exec: a plain %fs-relative load, no __tls_get_addr call. */
extern _Thread_local uint64_t fp__cached_tid FP_HIDDEN __attribute__((tls_model("initial-exec")));
static inline uint64_t fp__thread_id(void)
{
    uint64_t t = fp__cached_tid;
    return FP_LIKELY(t) ? t : fp__thread_id_slow();
}

/* alloc.c */
FP_HIDDEN void *fp__default_alloc(void *opaque, size_t size, size_t align);
FP_HIDDEN void fp__default_free(void *opaque, void *ptr, size_t size);

/* track.c */
/* The site of fp_*_at() callers: (file, line, func) looked up in a process-wide
 * table of sites (never freed, no allocation); NULL when all three are unset. */
FP_HIDDEN const fp_site *fp__site_intern(const char *file, int line, const char *func);
/* fp__site_intern() for a caller that has a pool: a table-full warning goes
 * through that pool's log callback (fp__site_intern() logs it to stderr). */
FP_HIDDEN const fp_site *fp__site_intern_pool(const fp_pool *pool, const char *file, int line, const char *func);
static inline const char *fp__site_file(const fp_site *s) { return s ? s->file : NULL; }
static inline const char *fp__site_func(const fp_site *s) { return s ? s->func : NULL; }
static inline int fp__site_line(const fp_site *s) { return s ? s->line : 0; }

/* Scans for stale frames when due at `now` (called after acquires). */
FP_HIDDEN FP_COLD void fp__watchdog_tick(fp_pool *pool, uint64_t now);
FP_HIDDEN int fp__watchdog_scan(fp_pool *pool);
/* Turns the watchdog off and waits until no callback of it runs on another
 * thread (fp_pool_unref: the app's ud dies with its reference). */
FP_HIDDEN void fp__watchdog_disable(fp_pool *pool);
FP_HIDDEN void fp__track_leak_report(fp_pool *pool, int level, const char *why);
FP_HIDDEN void fp__track_double_release(fp_slot *s, const fp_site *site);

/* registry.c */
FP_HIDDEN bool fp__registry_in_child(void);
/* In a fork() child: whether the pool was made by the parent (before fork). */
FP_HIDDEN bool fp__registry_from_parent(const fp_pool *pool);
/* pool.c, for the fork() child: clears W (the parent's waiters are gone). */
FP_HIDDEN void fp__pool_forget_waiters(fp_pool *pool);
/* The current acquire sequence (a checkpoint) without argument checks. */
FP_HIDDEN uint64_t fp__pool_checkpoint_seq(fp_pool *pool);

/* poison.c */
FP_HIDDEN void fp__poison(fp_pool *pool, fp_slot *s);
/* true when the idle memory was written (a write after release); logs nothing. */
FP_HIDDEN bool fp__unpoison(fp_pool *pool, fp_slot *s);

/* strutil.c: application strings (names, tags, sites) in outputs. */
#define FP__UTF8_BAD (-1) /* the byte starts no valid character: skip it */
#define FP__UTF8_CUT (-2) /* the string ends inside a character: drop the rest */
/* Length (1..4) of the valid UTF-8 character at s, 0 at its NUL, or one of the above. */
FP_HIDDEN int fp__utf8_char(const char *s);
/* Length of the longest prefix of s of at most max bytes that does not end
 * inside a character. */
FP_HIDDEN size_t fp__utf8_cut(const char *s, size_t max);
/* Copies src into dst[cap], cut at a character boundary; returns the length. */
FP_HIDDEN size_t fp__strlcpy_utf8(char *dst, size_t cap, const char *src);
/* Writes s into dst[cap] for one line of text, at most `limit` bytes: control
 * characters and bytes that are not UTF-8 become \n, \r, \t or \xHH; a
 * longer result keeps its start and end around "...". Returns the length. */
FP_HIDDEN size_t fp__esc_text(char *dst, size_t cap, const char *s, size_t limit);

/* export.c: exports and reports are rendered into memory, then written. */
typedef struct fp__membuf {
    FILE *f; /* an open_memstream(); write to it */
    char *buf;
    size_t len;
} fp__membuf;
/* 0 or FP_ERR(ENOMEM). `m` must stay where it is until fp__membuf_finish(). */
FP_HIDDEN int fp__membuf_open(fp__membuf *m);
/* Closes the buffer, writes it to `out` (NULL: nowhere) and flushes `out`;
 * frees the buffer. 0, FP_ERR(ENOMEM) (the buffer could not grow) or
 * FP_ERR(EIO) (writing or flushing `out` failed). */
FP_HIDDEN int fp__membuf_finish(fp__membuf *m, FILE *out);

/* trace.c: FRAMEPOOL_TRACE, parsed once (unknown words warn once). */
#define FP__TRACE_LEAKS (1u << 0) /* leak report of every pool at exit */
FP_HIDDEN unsigned fp__trace_flags(void);

/* sites.c: pools grouped by creation site (fp_registry_report, the exit
 * report, the Prometheus per-site gauges). A snapshot taken by one registry
 * walk; pure read. */
typedef struct fp__site_pool {
    uint64_t id;
    const fp_site *site;
    char name[64];
    fp_pool_stats st;
    bool dropped;  /* the application let go; alive for held frames */
    bool from_parent; /* fork() child: a pool of the parent */
} fp__site_pool;
typedef struct fp__site_group {
    const fp_site *site;
    size_t first, n;          /* pools[first .. first + n), oldest first */
    uint64_t oldest_id;       /* pools[first].id */
    uint64_t dropped, live, frame_bytes, reserved_bytes;
} fp__site_group;
typedef struct fp__sites {
    fp__site_pool *pools;     /* grouped by site, oldest first within a site */
    size_t npools;
    fp__site_group *groups;   /* by site contents (file, line, func) */
    size_t ngroups;
} fp__sites;
/* Snapshot of every registered pool; with `unreleased`, only the pools the
 * application still holds a reference to. 0 or FP_ERR(ENOMEM). */
FP_HIDDEN int fp__sites_collect(fp__sites *out, bool unreleased);
/* Orders the groups oldest first (by their oldest pool). */
FP_HIDDEN void fp__sites_sort_by_age(fp__sites *s);
FP_HIDDEN void fp__sites_free(fp__sites *s);
/* "file:line in func()" (escaped, one line) or "unknown site"; the length. */
FP_HIDDEN size_t fp__site_text(char *dst, size_t cap, const fp_site *site, bool with_func);

#include "record.h"

#endif /* FP_INTERNAL_H */
