/*
 * The core pool: creation, the free list, acquire/release, waiting, lifetime.
 * SPDX-License-Identifier: MIT
 *
 * Design
 * ------
 * Every possible frame has a slot (internal.h) in one array allocated at
 * creation; slots never move, so a slot index or frame pointer is valid for the
 * pool's whole life. Pixel memory is attached to a slot lazily (or at creation
 * for min_frames) and detached by fp_pool_trim().
 *
 * Free slots form a LIFO stack linked through slot->next. The whole lock-free
 * state lives in one 64-bit head word (layout and every operation on it in
 * freelist.h): the top index,
 * the number of slots out of the stack ("out"), two flags and an ABA tag.
 *  - pop:  CAS {top, out, tag} -> {top->next, out + 1, tag + 1}
 *  - push: CAS {top, out}      -> {slot, out - 1}
 * ABA: the tag changes on every pop (and on every other operation that removes
 * or claims slots), so a stale {top, next} pair read before a pop/push/pop
 * sequence fails its CAS. The tag has 30 bits; a thread would have to stall for
 * exactly a multiple of 2^30 pops for the tag to repeat. The tag also serves as
 * the acquire sequence number (widened to 64 bits by fl_seq_of_tag()).
 *
 * Uncontended acquire + release is therefore two CASes on the head and one on
 * the slot's reference count, plus stores to the slot's own cache line.
 *
 * Waiting: an acquirer that finds the stack empty takes pool->lock, sets the W
 * flag in the head (an RMW, so it is ordered with every push) and pops again
 * before sleeping on pool->cond. A push that replaces a head with W set wakes a
 * waiter under the lock. Either the push precedes the W store in the head's
 * modification order, and the waiter's second pop sees the slot, or it follows,
 * and the pusher sees W: no wake-up is lost.
 *
 * Lifetime: "out" is the frames' collective reference on the pool; `holders`
 * counts the application (1 while app_refs > 0) plus threads registered as
 * waiters. When holders reaches 0 the O flag is set in the head. Whichever RMW
 * on the head produces {out == 0, O} (the last push, or the O store itself)
 * frees the pool, and that RMW is the thread's last access to the pool. A push
 * that must wake a waiter first pushes without decrementing out, so the pool
 * cannot disappear while it signals, then decrements out separately.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "freelist.h"
#include "internal.h"
#include "registry.h"

static void pool_destroy(fp_pool *pool);

/* ------------------------------------------------------------------------- */
/* Free list glue: what the callers of freelist.h do with its answers        */

void fp__fl_note_tag(fp_pool *pool, uint32_t tag)
{
    uint64_t seq = fl_seq_of_tag(pool, tag);
    uint64_t cur = atomic_load_explicit(&pool->seq_hint, RLX);
    while (seq > cur && !atomic_compare_exchange_weak_explicit(&pool->seq_hint, &cur, seq, RLX, RLX))
        ;
}

void fp__pool_forget_waiters(fp_pool *pool)
{
    fl_clear_waiting(pool);
}

uint64_t fp__pool_checkpoint_seq(fp_pool *pool)
{
    return fl_checkpoint(pool);
}

static void put_out(fp_pool *pool)
{
    if (fl_put_out(pool))
        pool_destroy(pool);
}

/* After a push that saw W (wake a waiter, then give back the count the push
 * kept) or produced {out == 0, O} (we returned the last frame of a dropped
 * pool). */
FP_COLD static void push_slow(fp_pool *pool, int r)
{
    if (r == FL_WAKE) {
        fp__lock(&pool->lock);
        pthread_cond_signal(&pool->cond);
        fp__unlock(&pool->lock);
        put_out(pool);
    } else {
        pool_destroy(pool);
    }
}

static inline void push_released(fp_pool *pool, fp_slot *s)
{
    int r = fl_push(pool, s);
    if (FP_UNLIKELY(r != FL_DONE))
        push_slow(pool, r);
}

/* ------------------------------------------------------------------------- */
/* Slot memory and generations                                               */

static void slot_set_planes(fp_slot *s, uint8_t *mem, const fp__geom *g)
{
    s->mem = mem;
    for (int i = 0; i < 4; i++) {
        s->frame.data[i] = (mem && i < g->layout.nb_planes) ? mem + g->layout.offset[i] : NULL;
        s->frame.linesize[i] = i < g->layout.nb_planes ? g->layout.linesize[i] : 0;
    }
    s->frame.width = g->width;
    s->frame.height = g->height;
    s->frame.format = g->format;
    s->frame.size = g->layout.size;
}

static inline fp__geom *cur_geom(fp_pool *pool)
{
    return atomic_load_explicit(&pool->geom, ACQ);
}

/* Whether pool->bytes can grow by `size` under max_bytes (lock held). */
static bool bytes_fit_locked(const fp_pool *pool, size_t size)
{
    return !pool->max_bytes || (pool->bytes <= pool->max_bytes && size <= pool->max_bytes - pool->bytes);
}

/* Gives an unbacked slot its geometry (lock held): the caller then backs it
 * unlocked, and calls unback_locked() if that fails. */
static void reserve_locked(fp_pool *pool, fp_slot *s, fp__geom *g)
{
    *fp__slot_geom_ref(pool, s->idx) = g;
    g->backed++;
    pool->bytes += g->layout.alloc_size;
}

/* Gives a slot the caller owns alone (taken off the unbacked list and
 * reserved) its memory; no lock held (the allocator is the user's callback).
 * The caller accounts for it in pool->allocated under the lock. */
static int slot_back(fp_pool *pool, fp_slot *s)
{
    FP_ASSERT_UNLOCKED("the allocator");
    const fp__geom *g = fp__slot_geom(pool, s);
    uint8_t *mem = pool->alloc.alloc(pool->alloc.opaque, g->layout.alloc_size, g->mem_align);
    if (!mem) {
        atomic_fetch_add_explicit(&pool->alloc_failures, 1, RLX);
        return FP_ERR(ENOMEM);
    }
    slot_set_planes(s, mem, g);
    if (pool->ops && pool->ops->slot_backed)
        pool->ops->slot_backed(pool, s);
    if (pool->flags & FP_POOL_POISON)
        fp__poison(pool, s);
    return 0;
}

/* What to free once pool->lock is let go: memory blocks (each starts with
 * the next block and its own size) and geometries nothing uses any more. */
typedef struct frees {
    uint8_t *mem;
    fp__geom *geoms;
} frees;

static void frees_run(fp_pool *pool, frees *fr)
{
    FP_ASSERT_UNLOCKED("the allocator");
    while (fr->mem) {
        uint8_t *mem = fr->mem;
        size_t size;
        memcpy(&fr->mem, mem, sizeof(fr->mem));
        memcpy(&size, mem + sizeof(fr->mem), sizeof(size));
        pool->alloc.free(pool->alloc.opaque, mem, size);
    }
    while (fr->geoms) {
        fp__geom *g = fr->geoms;
        fr->geoms = g->next;
        free(g);
    }
}

/* The last slot of older generations gave its memory back: releases and
 * acquires no longer need to look at generations. */
static void gen_flag_locked(fp_pool *pool, bool on)
{
    if (on) {
        atomic_fetch_or_explicit(&pool->slow_acq, FP_SLOW_GEN, RLX);
        atomic_fetch_or_explicit(&pool->slow_rel, FP_SLOW_GEN, RLX);
    } else {
        atomic_fetch_and_explicit(&pool->slow_acq, (uint8_t)~FP_SLOW_GEN, RLX);
        atomic_fetch_and_explicit(&pool->slow_rel, (uint8_t)~FP_SLOW_GEN, RLX);
    }
}

/* Takes a slot's memory away (lock held; the slot is idle and owned by the
 * caller, or was never backed after reserve_locked()): the memory goes on
 * `fr` (NULL with `mem` NULL: an allocation that failed), the slot on the
 * unbacked list. `was_backed`: count it out of pool->allocated. */
static void unback_locked(fp_pool *pool, fp_slot *s, frees *fr, bool was_backed)
{
    fp__geom *g = *fp__slot_geom_ref(pool, s->idx);
    uint8_t *mem = s->mem;
    if (mem) {
        size_t size = g->layout.alloc_size;
        memcpy(mem, &fr->mem, sizeof(fr->mem));
        memcpy(mem + sizeof(fr->mem), &size, sizeof(size));
        fr->mem = mem;
    }
    slot_set_planes(s, NULL, g);
    *fp__slot_geom_ref(pool, s->idx) = NULL;
    pool->bytes -= g->layout.alloc_size;
    if (was_backed)
        atomic_fetch_sub_explicit(&pool->allocated, 1, RLX);
    atomic_store_explicit(&s->next, pool->unbacked, RLX);
    pool->unbacked = s->idx;
    g->backed--;
    if (g != cur_geom(pool)) {
        if (--pool->old_backed == 0)
            gen_flag_locked(pool, false);
        if (g->backed == 0) {
            fp__geom **link = &pool->old_geoms;
            while (*link != g)
                link = &(*link)->next;
            *link = g->next;
            g->next = fr->geoms;
            fr->geoms = g;
        }
    }
}

/* Whether a backed slot's memory is of an older generation. The pointer
 * comparison needs no lock: the slot's geometry stays allocated while the
 * slot has memory, and the current one only ever moves to a newer one. */
static inline bool slot_is_old(fp_pool *pool, const fp_slot *s)
{
    return *fp__slot_geom_ref(pool, s->idx) != atomic_load_explicit(&pool->geom, RLX);
}

/* A slot of an older generation that is out (popped idle, or released by
 * its last holder and made idle) gives its memory back instead of being
 * reused; waiters may now back a slot of the new geometry. Drops the out
 * count last (it may free the pool). */
FP_COLD static void retire_out_slot(fp_pool *pool, fp_slot *s, bool idle)
{
    frees fr = { NULL, NULL };
    fp__lock(&pool->lock);
    if (idle && (pool->flags & FP_POOL_POISON))
        (void)fp__unpoison(pool, s); /* older memory: a write after its release is not this frame's concern */
    unback_locked(pool, s, &fr, true);
    if (pool->waiters)
        pthread_cond_broadcast(&pool->cond);
    fp__unlock(&pool->lock);
    frees_run(pool, &fr);
    put_out(pool);
}

FP_COLD static void report_poison_damage(fp_pool *pool, const fp_site *rel)
{
    const char *f = fp__site_file(rel);
    fp__log(pool, FP_LOG_ERROR, "frame memory was written after release (last released at %s:%d)", f ? f : "?",
           fp__site_line(rel));
    fp__pool_note_misuse(pool);
}

/* ------------------------------------------------------------------------- */
/* Creation and destruction                                                  */

void fp_pool_config_default(fp_pool_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->align = 64;
    cfg->log_level = FP_LOG_WARN;
    cfg->get_buffer_timeout_us = 100000;
    cfg->decoder_overdraft = 2;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

#define FP_KNOWN_FLAGS (FP_POOL_NO_TRACK | FP_POOL_ZERO | FP_POOL_POISON | FP_POOL_STRICT)

static void log_layout_error(const fp_pool_config *cfg, enum fp_layout_why why)
{
    const char *fmt = fp__format_name(cfg->format);
    switch (why) {
    case FP_LAYOUT_BAD_FORMAT:
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: format %d is not an enum fp_format value", (int)cfg->format);
        break;
    case FP_LAYOUT_BAD_ALIGN:
        fp__log_bad_align(cfg);
        break;
    case FP_LAYOUT_RAW_NEEDS_SIZE:
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: buffer_size %zu must be > 0 for FP_FMT_RAW", cfg->buffer_size);
        break;
    case FP_LAYOUT_IMAGE_SIZE:
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: buffer_size %zu must be 0 for image formats",
                   cfg->buffer_size);
        break;
    case FP_LAYOUT_RAW_WIDTH:
    case FP_LAYOUT_RAW_HEIGHT:
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: %s must be 0 for FP_FMT_RAW",
                   why == FP_LAYOUT_RAW_WIDTH ? "width" : "height");
        break;
    case FP_LAYOUT_ODD_WIDTH:
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: width %d must be even for %s", cfg->width, fmt);
        break;
    case FP_LAYOUT_BAD_WIDTH:
    case FP_LAYOUT_BAD_HEIGHT:
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: %s %d is outside 1..%d",
                   why == FP_LAYOUT_BAD_WIDTH ? "width" : "height",
                   why == FP_LAYOUT_BAD_WIDTH ? cfg->width : cfg->height, FP_MAX_DIMENSION);
        break;
    case FP_LAYOUT_OVERFLOW_WIDTH:
    case FP_LAYOUT_OVERFLOW_HEIGHT:
    case FP_LAYOUT_OVERFLOW_SIZE:
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: %s: frame size of %s %dx%d (buffer_size %zu) overflows",
                   why == FP_LAYOUT_OVERFLOW_WIDTH ? "width" : why == FP_LAYOUT_OVERFLOW_HEIGHT ? "height"
                                                                                               : "buffer_size",
                   fmt, cfg->width, cfg->height, cfg->buffer_size);
        break;
    case FP_LAYOUT_OK:
        break;
    }
}

void fp__log_bad_align(const fp_pool_config *cfg)
{
    fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: align %d is not a power of two in 1..%d", cfg->align,
                FP_MAX_ALIGN);
}

/* geometry: GEOM_COMPUTE (the core lays the frames out), GEOM_EXPLICIT (an
 * adapter did), GEOM_NONE (it comes later). */
enum { GEOM_COMPUTE, GEOM_EXPLICIT, GEOM_NONE };
static int validate(const fp_pool_config *cfg, fp__layout *layout, int geometry)
{
    if (cfg->max_frames <= 0 || cfg->max_frames > FP_MAX_FRAMES) {
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: max_frames %d is outside 1..%d%s",
                   cfg->max_frames, FP_MAX_FRAMES,
                   cfg->max_frames == 0 ? " (a bounded pool needs a bound)" : "");
        return FP_ERR(EINVAL);
    }
    if (cfg->min_frames < 0 || cfg->min_frames > cfg->max_frames) {
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: min_frames %d is outside 0..max_frames (%d)",
                   cfg->min_frames, cfg->max_frames);
        return FP_ERR(EINVAL);
    }
    if (cfg->flags & ~FP_KNOWN_FLAGS) {
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: flags 0x%x has unknown bits 0x%x", cfg->flags,
                   cfg->flags & ~FP_KNOWN_FLAGS);
        return FP_ERR(EINVAL);
    }
    if (!cfg->allocator.alloc != !cfg->allocator.free) {
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: allocator needs both alloc and free");
        return FP_ERR(EINVAL);
    }
    if (cfg->log_level < FP_LOG_ERROR || cfg->log_level > FP_LOG_DEBUG) {
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: log_level %d is outside %d..%d", cfg->log_level,
                   FP_LOG_ERROR, FP_LOG_DEBUG);
        return FP_ERR(EINVAL);
    }
    if (cfg->get_buffer_timeout_us < FP_WAIT_FOREVER) {
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: get_buffer_timeout_us %lld is negative",
                   (long long)cfg->get_buffer_timeout_us);
        return FP_ERR(EINVAL);
    }
    if (!all_zero(cfg->reserved, sizeof(cfg->reserved))) {
        fp__log_cfg(cfg, FP_LOG_ERROR,
                   "invalid config: reserved bytes are not zero (initialize with fp_pool_config_default)");
        return FP_ERR(EINVAL);
    }
    /* 0.3 fields not implemented yet are refused, never silently ignored. */
    if (cfg->budget || cfg->idle_timeout_us) {
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: budget and idle_timeout_us are not supported by this build");
        return FP_ERR(ENOTSUP);
    }
    if (geometry == GEOM_NONE)
        return 0;
    if (geometry == GEOM_EXPLICIT) {
        /* The adapter laid the frame out; the geometry bounds still hold. */
        enum fp_layout_why why = FP_LAYOUT_OK;
        if (cfg->width < 1 || cfg->width > FP_MAX_DIMENSION)
            why = FP_LAYOUT_BAD_WIDTH;
        else if (cfg->height < 1 || cfg->height > FP_MAX_DIMENSION)
            why = FP_LAYOUT_BAD_HEIGHT;
        if (why != FP_LAYOUT_OK) {
            log_layout_error(cfg, why);
            return FP_ERR(EINVAL);
        }
        return 0;
    }
    enum fp_layout_why why;
    int ret = fp__layout_compute(cfg->format, cfg->width, cfg->height, cfg->align, cfg->buffer_size, layout, &why);
    if (ret < 0)
        log_layout_error(cfg, why);
    return ret;
}

/* Frees everything; the pool must have no frame out and no holder (or never
 * have been shared). No lock held: the allocator and the adapter run here. */
static void pool_free(fp_pool *pool, bool adapter_too)
{
    FP_ASSERT_UNLOCKED("pool_free");
    for (uint32_t i = 0; pool->slots && i < pool->capacity; i++) {
        fp_slot *s = fp__slot_at(pool->slots, i);
        if (s->mem) {
            const fp__geom *g = fp__slot_geom(pool, s);
            if (pool->flags & FP_POOL_POISON)
                (void)fp__unpoison(pool, s); /* nobody is left to tell */
            pool->alloc.free(pool->alloc.opaque, s->mem, g->layout.alloc_size);
            slot_set_planes(s, NULL, g);
        }
        s->frame.fp_private = 0;
    }
    if (adapter_too && pool->ops && pool->ops->destroy)
        pool->ops->destroy(pool);
    free(atomic_load_explicit(&pool->geom, RLX));
    while (pool->old_geoms) {
        fp__geom *g = pool->old_geoms;
        pool->old_geoms = g->next;
        free(g);
    }
    if (pool->geom_own)
        free(pool->geom_base);
    if (pool->sync_ready) {
        pthread_cond_destroy(&pool->cond);
        pthread_mutex_destroy(&pool->lock);
    }
    fp__region_free(pool->extra, pool->extra_size * pool->capacity);
    fp__region_free(pool->slots, (size_t)pool->capacity * FP_SLOT_SIZE);
    pool->magic = 0;
    fp__region_free(pool, sizeof(*pool));
}

void fp__pool_free(fp_pool *pool)
{
    pool_free(pool, true);
}

static void pool_destroy(fp_pool *pool)
{
    /* The RMW that decided this was our last access; see everyone else's. */
    atomic_thread_fence(ACQ);
    if (fp__registry_remove(pool))
        pool_free(pool, true);
    /* else a registry walk has it pinned: its unpin frees it */
}

int fp_pool_create_site(fp_pool **out, const fp_pool_config *cfg, const fp_site *site)
{
    fp__pool_params params = { .cfg = cfg, .site = site };
    return fp__pool_create_ex(out, &params);
}

int fp_pool_create_at(fp_pool **out, const fp_pool_config *cfg, const char *file, int line, const char *func)
{
    return fp_pool_create_site(out, cfg, fp__site_intern(file, line, func));
}

/* The ABI's function (and for callers who #undef the macro): no site. */
int (fp_pool_create)(fp_pool **out, const fp_pool_config *cfg)
{
    return fp_pool_create_site(out, cfg, NULL);
}

static int init_sync(fp_pool *pool)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca))
        return FP_ERR(ENOMEM);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int ret = FP_ERR(ENOMEM);
    if (!pthread_mutex_init(&pool->lock, NULL)) {
        if (!pthread_cond_init(&pool->cond, &ca))
            ret = 0;
        else
            pthread_mutex_destroy(&pool->lock);
    }
    pthread_condattr_destroy(&ca);
    return ret;
}

int fp__pool_create_ex(fp_pool **out, const fp__pool_params *params)
{
    const fp_pool_config *cfg = params->cfg;
    fp_pool *pool = NULL;
    const char *what = NULL; /* what ran out of memory */
    int ret;
    if (out)
        *out = NULL;
    if (!out || !cfg) {
        fp__log_cfg(cfg, FP_LOG_ERROR, "fp_pool_create: %s is NULL", !out ? "out" : "cfg");
        return FP_ERR(EINVAL);
    }
    fp__layout layout = { 0 };
    ret = validate(cfg, &layout, params->no_geometry ? GEOM_NONE : params->layout ? GEOM_EXPLICIT : GEOM_COMPUTE);
    if (ret < 0)
        return ret;
    if (params->layout)
        layout = *params->layout;
    if (params->no_geometry)
        layout = (fp__layout){ 0 };
    if (cfg->max_bytes && cfg->min_frames &&
        (layout.alloc_size > cfg->max_bytes || (uint64_t)cfg->min_frames > cfg->max_bytes / layout.alloc_size)) {
        fp__log_cfg(cfg, FP_LOG_ERROR, "invalid config: min_frames %d of %zu bytes exceed max_bytes %llu",
                    cfg->min_frames, layout.alloc_size, (unsigned long long)cfg->max_bytes);
        return FP_ERR(EINVAL);
    }

    /* Pool, slots and per-slot state come from the region (region.h), zeroed,
     * so pointers to them can be checked before anything reads through them. */
    ret = FP_ERR(ENOMEM);
    what = "the pool";
    if (!(pool = fp__region_alloc(sizeof(*pool))))
        goto error;
    pool->magic = FP_POOL_MAGIC ^ (uintptr_t)pool;
    pool->capacity = (uint32_t)cfg->max_frames;
    pool->ops = params->ops;
    pool->adapter = params->adapter;
    pool->create_site = params->site;
    pool->flags = cfg->flags;
    pool->max_bytes = cfg->max_bytes;
    if (cfg->allocator.alloc) {
        pool->alloc = cfg->allocator;
    } else {
        pool->alloc.alloc = fp__default_alloc;
        pool->alloc.free = fp__default_free;
    }
    pool->log = cfg->log;
    pool->log_opaque = cfg->log_opaque;
    pool->log_level = cfg->log_level;
    fp__strlcpy_utf8(pool->name, sizeof(pool->name), cfg->name ? cfg->name : "pool");

    what = "the slots";
    if (!(pool->slots = fp__region_alloc((size_t)cfg->max_frames * FP_SLOT_SIZE)))
        goto error;
    what = "the geometry";
    fp__geom *g = calloc(1, sizeof(*g));
    if (!g)
        goto error;
    g->gen = params->no_geometry ? 0 : 1;
    g->width = cfg->format == FP_FMT_RAW ? 0 : cfg->width;
    g->height = cfg->format == FP_FMT_RAW ? 0 : cfg->height;
    g->format = params->layout ? params->frame_format : (int)cfg->format;
    g->mem_align = cfg->align < 16 ? 16 : (size_t)cfg->align;
    g->layout = layout;
    if (params->geom_adapter)
        memcpy(g->adapter, params->geom_adapter, sizeof(g->adapter));
    atomic_init(&pool->geom, g);

    if (params->extra_size) {
        what = "the adapter's per-slot state";
        size_t extra_size = (params->extra_size + 63) & ~(size_t)63;
        if (!(pool->extra = fp__region_alloc(extra_size * (size_t)cfg->max_frames)))
            goto error;
        pool->extra_size = extra_size;
    }
    if (pool->extra_size && pool->extra_size - params->extra_size >= sizeof(fp__geom *)) {
        /* The slot's geometry pointer in the rounding slack of its block. */
        pool->geom_base = pool->extra + pool->extra_size - sizeof(fp__geom *);
        pool->geom_stride = pool->extra_size;
    } else {
        what = "the slots' geometries";
        if (!(pool->geom_base = calloc((size_t)cfg->max_frames, sizeof(fp__geom *))))
            goto error;
        pool->geom_own = true;
        pool->geom_stride = sizeof(fp__geom *);
    }
    what = "the lock";
    if (init_sync(pool) < 0)
        goto error;
    pool->sync_ready = true;

    pool->track = !(cfg->flags & FP_POOL_NO_TRACK);
    atomic_init(&pool->slow_rel, (uint8_t)((pool->track ? 0 : FP_SLOW_UNTRACKED) |
                                           ((cfg->flags & FP_POOL_POISON) ? FP_SLOW_FLAGS : 0) |
                                           (params->ops && params->ops->can_return ? FP_SLOW_ADAPTER : 0)));
    atomic_init(&pool->slow_acq, (uint8_t)((pool->track ? 0 : FP_SLOW_UNTRACKED) |
                                           ((cfg->flags & (FP_POOL_ZERO | FP_POOL_POISON)) ? FP_SLOW_FLAGS : 0)));
    pool->min_frames = cfg->min_frames;
    pool->get_buffer_timeout_us = cfg->get_buffer_timeout_us;
    atomic_init(&pool->app_refs, 1);
    atomic_init(&pool->holders, 1);
    fl_init(pool);
    atomic_init(&pool->watchdog_next, UINT64_MAX);

    /* Every slot starts unbacked: the unbacked list is 0, 1, 2, ... */
    for (uint32_t i = 0; i < pool->capacity; i++) {
        fp_slot *s = fp__slot_at(pool->slots, i);
        s->pool = pool;
        s->idx = (uint16_t)i;
        slot_set_planes(s, NULL, g);
        s->frame.pts = FP_NOPTS;
        s->frame.fp_private = fp__frame_key(&s->frame);
        atomic_init(&s->next, i + 1 < pool->capacity ? i + 1 : FP_NIL);
    }
    pool->pending = FP_NIL;
    pool->pending_tail = FP_NIL;

    /* Preallocate min_frames and push them, last first, so slot 0 is on top
     * (a pool without a geometry yet does it when it gets one). */
    int prealloc = params->no_geometry ? 0 : cfg->min_frames;
    for (int i = 0; i < prealloc; i++) {
        reserve_locked(pool, fp__slot_at(pool->slots, (uint32_t)i), g); /* not shared yet */
        if (slot_back(pool, fp__slot_at(pool->slots, (uint32_t)i)) < 0) {
            fp__log(pool, FP_LOG_ERROR, "fp_pool_create: out of memory preallocating frame %d of %d (%zu bytes each)",
                   i + 1, cfg->min_frames, layout.alloc_size);
            what = NULL;
            goto error;
        }
        atomic_fetch_add_explicit(&pool->allocated, 1, RLX);
    }
    pool->unbacked = (uint32_t)prealloc < pool->capacity ? (uint32_t)prealloc : FP_NIL;
    for (int i = prealloc - 1; i >= 0; i--)
        fl_push_idle(pool, fp__slot_at(pool->slots, (uint32_t)i));

    fp__registry_add(pool);
    fp__log(pool, FP_LOG_DEBUG, "created: %s %dx%d, %zu bytes per frame, %d..%d frames",
           fp__format_name(cfg->format), cfg->width, cfg->height, layout.alloc_size, cfg->min_frames,
           cfg->max_frames);
    *out = pool;
    return 0;

error:
    if (what)
        fp__log_cfg(cfg, FP_LOG_ERROR, "fp_pool_create: out of memory for %s (%d frames)", what, cfg->max_frames);
    if (pool)
        pool_free(pool, false); /* the adapter frees its own state on failure */
    return ret;
}

const char *fp_pool_name(const fp_pool *pool)
{
    return pool ? pool->name : "";
}

uint64_t fp_pool_id(const fp_pool *pool)
{
    return pool ? pool->id : 0;
}

/* ------------------------------------------------------------------------- */
/* Lifetime                                                                  */

static void drop_holder(fp_pool *pool)
{
    if (atomic_fetch_sub_explicit(&pool->holders, 1, ACQREL) != 1)
        return;
    if (fl_orphan(pool))
        pool_destroy(pool);
}

fp_pool *fp_pool_ref(fp_pool *pool)
{
    if (!pool)
        return NULL;
    int old = atomic_fetch_add_explicit(&pool->app_refs, 1, RLX);
    if (FP_UNLIKELY(old <= 0)) {
        /* The app already dropped its last reference: the pool is closing and
         * may be freed any time; refuse to resurrect it. */
        atomic_fetch_sub_explicit(&pool->app_refs, 1, RLX);
        fp__log(pool, FP_LOG_ERROR, "fp_pool_ref on a pool whose last reference was dropped");
        fp__pool_note_misuse(pool);
        return NULL;
    }
    return pool;
}

void fp_pool_close(fp_pool *pool)
{
    if (!pool)
        return;
    fp__lock(&pool->lock);
    atomic_store_explicit(&pool->closed, true, RLX);
    atomic_fetch_or_explicit(&pool->slow_acq, FP_SLOW_CLOSED, RLX);
    pthread_cond_broadcast(&pool->cond);
    fp__unlock(&pool->lock);
}

void fp_pool_unref(fp_pool **pp)
{
    if (!pp || !*pp)
        return;
    fp_pool *pool = *pp;
    *pp = NULL;
    int old = atomic_fetch_sub_explicit(&pool->app_refs, 1, ACQREL);
    if (FP_UNLIKELY(old <= 0)) {
        atomic_fetch_add_explicit(&pool->app_refs, 1, RLX);
        fp__log(pool, FP_LOG_ERROR, "fp_pool_unref: the pool has no application reference left");
        fp__pool_note_misuse(pool);
        return;
    }
    if (old != 1)
        return;
    fp_pool_close(pool);
    /* The app's watchdog callback and ud die with its reference; waits for a
     * callback running on another thread (never for one on this thread). */
    fp__watchdog_disable(pool);
    fp__pool_sweep(pool); /* surfaces a runtime has unlocked are not leaks; our hold keeps the pool */
    fp__track_leak_report(pool, FP_LOG_WARN, "last application reference dropped");
    drop_holder(pool);
}

void fp__pool_note_misuse(fp_pool *pool)
{
    atomic_fetch_add_explicit(&pool->misuse, 1, RLX);
    if (pool->flags & FP_POOL_STRICT) {
        FP_ASSERT_UNLOCKED("FP_POOL_STRICT's report");
        fp__log(pool, FP_LOG_ERROR, "FP_POOL_STRICT: aborting on misuse");
        fp_pool_report(pool, stderr);
        abort();
    }
}

/* ------------------------------------------------------------------------- */
/* Acquire                                                                   */

/* out can exceed capacity by the pushes that keep their count while they
 * wake a waiter. Waiters exist only after the pool was found exhausted with
 * every slot backed, i.e. once out reached capacity, so clamping is exact. */
FP_COLD static void update_peak(fp_pool *pool, uint64_t nh)
{
    uint32_t out = fl_out_of(nh);
    uint32_t peak = atomic_load_explicit(&pool->peak_out, RLX);
    if (out > pool->capacity)
        out = pool->capacity;
    while (out > peak && !atomic_compare_exchange_weak_explicit(&pool->peak_out, &peak, out, RLX, RLX))
        ;
}

/* How often waiters look at deferred slots (at most 1 ms). */
#define FP_PENDING_POLL_NS 500000u

/* Saturates instead of wrapping: 2^61 us is "forever" (~73,000 years). */
static uint64_t deadline_after(int64_t timeout_us)
{
    if (timeout_us == FP_WAIT_FOREVER)
        return UINT64_MAX;
    uint64_t now = fp__clock_precise();
    uint64_t d;
    if (__builtin_mul_overflow((uint64_t)timeout_us, (uint64_t)1000, &d) || d > UINT64_MAX - now)
        return UINT64_MAX;
    return now + d;
}

static void wait_until_locked(fp_pool *pool, uint64_t deadline)
{
    FP_LOCK_COUNT(-1); /* the wait releases the lock */
    if (deadline == UINT64_MAX) {
        pthread_cond_wait(&pool->cond, &pool->lock);
    } else {
        struct timespec ts = { .tv_sec = (time_t)(deadline / 1000000000u),
                               .tv_nsec = (long)(deadline % 1000000000u) };
        pthread_cond_timedwait(&pool->cond, &pool->lock, &ts);
    }
    FP_LOCK_COUNT(1);
}

static int sweep_locked(fp_pool *pool, int limit, frees *fr);

/* A waiting acquirer's registration, undone on every exit: return, error and
 * pthread_cancel (the cleanup handler runs with the lock held). */
typedef struct wait_reg {
    fp_pool *pool;
    bool waiting;
    uint64_t start;
} wait_reg;

static void wait_reg_end_locked(wait_reg *w)
{
    fp_pool *pool = w->pool;
    if (!w->waiting)
        return;
    if (--pool->waiters == 0)
        fl_clear_waiting(pool);
    uint64_t waited = fp__clock_precise() - w->start;
    atomic_fetch_add_explicit(&pool->wait_ns_total, waited, RLX);
    uint64_t max = atomic_load_explicit(&pool->wait_ns_max, RLX);
    while (waited > max && !atomic_compare_exchange_weak_explicit(&pool->wait_ns_max, &max, waited, RLX, RLX))
        ;
}

/* pthread_cancel inside the condition wait: the thread leaves with the lock
 * re-acquired; undo the registration, unlock, and drop the waiter's hold. */
static void wait_cancelled(void *arg)
{
    wait_reg *w = arg;
    FP_LOCK_COUNT(1); /* the cancelled wait re-took the lock */
    wait_reg_end_locked(w);
    fp__unlock(&w->pool->lock);
    if (w->waiting)
        drop_holder(w->pool);
}

/* What the slow path did besides its result, handled after unlocking. */
typedef struct slow_out {
    int swept;         /* deferred slots returned, each keeping its out count */
    bool alloc_failed; /* log the allocation failure */
    size_t alloc_size; /* of the allocation that failed */
    bool no_geometry;  /* the pool has no geometry yet */
    frees fr;          /* memory given back on the way */
} slow_out;

/* The loop of acquire_slow(), with pool->lock held (released around the
 * allocator and while waiting). */
static int acquire_loop_locked(fp_pool *pool, int64_t timeout_us, fp_slot **got, uint64_t *nh, wait_reg *w,
                               slow_out *so)
{
    uint64_t deadline = 0;
    for (;;) {
        if (atomic_load_explicit(&pool->closed, RLX))
            return FP_ERR(ESHUTDOWN);
        if (atomic_load_explicit(&pool->npending, RLX))
            so->swept += sweep_locked(pool, 1, &so->fr);
        if ((*got = fl_pop(pool, nh)))
            return 0;
        fp__geom *g = cur_geom(pool);
        if (FP_UNLIKELY(!g->gen)) {
            so->no_geometry = true;
            return FP_ERR(ENODATA);
        }
        if (pool->unbacked != FP_NIL && bytes_fit_locked(pool, g->layout.alloc_size)) {
            /* Take the slot off the unbacked list, then allocate unlocked. */
            fp_slot *s = fp__slot_at(pool->slots, pool->unbacked);
            pool->unbacked = atomic_load_explicit(&s->next, RLX);
            reserve_locked(pool, s, g);
            fp__unlock(&pool->lock);
            /* The cleanup handler expects the lock held: no cancellation
             * point while it is not (the allocator is the user's code). */
            int cs;
            pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
            int ret = slot_back(pool, s);
            pthread_setcancelstate(cs, NULL);
            fp__lock(&pool->lock);
            if (ret < 0) {
                unback_locked(pool, s, &so->fr, false);
                so->alloc_failed = true;
                so->alloc_size = g->layout.alloc_size;
                return ret;
            }
            atomic_fetch_add_explicit(&pool->allocated, 1, RLX);
            *nh = fl_claim(pool);
            if (FP_UNLIKELY(g != cur_geom(pool))) {
                /* Reconfigured while we allocated: that memory is old already. */
                unback_locked(pool, s, &so->fr, true);
                so->swept++; /* the claim's out count, dropped after unlocking */
                continue;
            }
            *got = s;
            return 0;
        }
        if (timeout_us == 0) {
            atomic_fetch_add_explicit(&pool->exhausted, 1, RLX);
            return FP_ERR(EAGAIN);
        }
        if (!w->waiting) {
            /* Register, then pop once more before sleeping (see the top comment). */
            w->waiting = true;
            atomic_fetch_add_explicit(&pool->holders, 1, RLX);
            if (pool->waiters++ == 0)
                fl_set_waiting(pool);
            atomic_fetch_add_explicit(&pool->waits, 1, RLX);
            w->start = fp__clock_precise();
            deadline = deadline_after(timeout_us);
            continue;
        }
        if (fp__clock_precise() >= deadline) {
            atomic_fetch_add_explicit(&pool->timeouts, 1, RLX);
            return FP_ERR(ETIMEDOUT);
        }
        if (atomic_load_explicit(&pool->npending, RLX)) {
            /* Runtimes lower Data.Locked without telling anyone: poll. */
            uint64_t poll = fp__clock_precise() + FP_PENDING_POLL_NS;
            wait_until_locked(pool, poll < deadline ? poll : deadline);
        } else {
            wait_until_locked(pool, deadline);
        }
    }
}

/* The pool was empty (or closed) when we looked: back a slot, wait or fail.
 * The lock is never held across the allocator or a log line. On success
 * returns the slot and the head after taking it. A thread cancelled while
 * waiting leaves the pool as if it had timed out. Not instrumented by ASan:
 * GCC 12's ASan aborts in __asan_handle_no_return when cancellation unwinds
 * through the cleanup landing pad here (the frame does nothing ASan checks). */
FP_COLD __attribute__((no_sanitize_address)) static int acquire_slow(fp_pool *pool, int64_t timeout_us, fp_slot **got, uint64_t *nh)
{
    int ret;
    wait_reg w = { pool, false, 0 };
    slow_out so = { 0, false, 0, false, { NULL, NULL } };

    fp__lock(&pool->lock);
    pthread_cleanup_push(wait_cancelled, &w);
    ret = acquire_loop_locked(pool, timeout_us, got, nh, &w, &so);
    pthread_cleanup_pop(0);
    wait_reg_end_locked(&w);
    fp__unlock(&pool->lock);
    frees_run(pool, &so.fr);
    /* We hold the app's reference (or a waiter's hold): none of these can
     * free the pool. */
    while (so.swept-- > 0)
        put_out(pool);
    if (w.waiting)
        drop_holder(pool);
    if (so.alloc_failed)
        fp__log(pool, FP_LOG_ERROR, "acquire: out of memory allocating a frame of %zu bytes", so.alloc_size);
    if (so.no_geometry)
        fp__log(pool, FP_LOG_ERROR, "acquire: the pool has no geometry yet (a decoder pool gets it from the "
                                    "decoder's first frame, or call fp_pool_reconfigure)");
    return ret;
}

FP_COLD static int acquire_bad_args(fp_pool *pool, int64_t timeout_us, fp_frame **out, const fp_site *site)
{
    (void)timeout_us;
    if (out)
        *out = NULL;
    const char *file = fp__site_file(site);
    int line = fp__site_line(site);
    if (pool)
        fp__log(pool, FP_LOG_ERROR, "fp_pool_acquire at %s:%d: %s", file ? file : "?", line,
               !out ? "out is NULL" : "negative timeout (use 0 or FP_WAIT_FOREVER)");
    else
        fp__log_cfg(NULL, FP_LOG_ERROR, "fp_pool_acquire at %s:%d: pool is NULL", file ? file : "?", line);
    return FP_ERR(EINVAL);
}

/* Poisoning, zeroing: flags that make the frame cost more than the hot path. */
FP_COLD static void acquire_flags(fp_pool *pool, fp_slot *s)
{
    if ((pool->flags & FP_POOL_POISON) && fp__unpoison(pool, s))
        report_poison_damage(pool, fp__rec_release_site(s));
    if (pool->flags & FP_POOL_ZERO) {
        const fp__layout *l = &fp__slot_geom(pool, s)->layout;
        memset(s->mem + l->offset[0], 0, l->size - l->offset[0]);
    }
}

/* Hands a slot just taken from the free list (head now `nh`, its tag already
 * checked by the pop) to the caller. `slow` is the pool's gate byte: the
 * fast path passes 0 or FP_SLOW_UNTRACKED, and since this is inlined there,
 * the flag checks fold away. The record first, then the time (the one call),
 * then gen makes the frame live. */
static inline __attribute__((always_inline)) int hand_out(fp_pool *pool, fp_slot *s, uint64_t nh,
                                                          fp_frame **out, const fp_site *site,
                                                          unsigned slow)
{
    if (FP_UNLIKELY(fl_out_of(nh) > atomic_load_explicit(&pool->peak_out, RLX)))
        update_peak(pool, nh);
    atomic_store_explicit(&s->refs, 1, RLX);
    s->frame.pts = FP_NOPTS;
    s->frame.opaque = NULL;
    *out = &s->frame;
    uint64_t seq = fl_seq_of_tag(pool, fl_tag_of(nh));
    uint64_t now = 0;
    if (FP_LIKELY(!(slow & FP_SLOW_UNTRACKED))) {
        fp__rec_acquire(s, seq, site);
        now = fp__clock_now();
        fp__rec_set_time(s, now);
    } else {
        fp__rec_acquire_untracked(s, seq);
    }
    if (FP_UNLIKELY(slow & FP_SLOW_FLAGS))
        acquire_flags(pool, s);
    atomic_store_explicit(&s->gen, atomic_load_explicit(&s->gen, RLX) + 1, REL);
    if (!(slow & FP_SLOW_UNTRACKED) && FP_UNLIKELY(now >= atomic_load_explicit(&pool->watchdog_next, RLX)))
        fp__watchdog_tick(pool, now);
    return 0;
}

/* Acquires off the fast path: closed or flagged pools, an empty free list,
 * and pools with frames of older generations. `s` is a slot the fast path
 * popped already (NULL: none). A popped slot of an older generation (pushed
 * by a release that raced with fp_pool_reconfigure) gives its memory back
 * and the acquire goes on. */
FP_COLD static int acquire_general(fp_pool *pool, int64_t timeout_us, fp_frame **out, const fp_site *site,
                                   fp_slot *s, uint64_t nh)
{
    for (;;) {
        if (s && atomic_load_explicit(&pool->closed, RLX)) {
            push_released(pool, s); /* never handed out: put it back */
            s = NULL;
        }
        if (!s && (atomic_load_explicit(&pool->closed, RLX) || !(s = fl_pop(pool, &nh)))) {
            int ret = acquire_slow(pool, timeout_us, &s, &nh);
            if (ret < 0) {
                *out = NULL;
                return ret;
            }
        }
        unsigned slow = atomic_load_explicit(&pool->slow_acq, RLX);
        if (FP_UNLIKELY(slow & FP_SLOW_GEN) && slot_is_old(pool, s)) {
            retire_out_slot(pool, s, true);
            s = NULL;
            continue;
        }
        return hand_out(pool, s, nh, out, site, slow);
    }
}

/* The fast path: a pool that is open, without ZERO/POISON, with a free
 * frame of the current generation; tracked (the default) or not. The gate
 * byte is read after the pop: the pop's acquire synchronizes with
 * fp_pool_reconfigure()'s release of the stack (every change of the head is
 * a read-modify-write, so the release sequence carries through later
 * pushes), so a slot of an older generation found on the stack is always
 * seen with FP_SLOW_GEN set. */
int fp__pool_acquire_internal(fp_pool *pool, int64_t timeout_us, fp_frame **out, const fp_site *site)
{
    if (FP_UNLIKELY(!pool))
        return acquire_bad_args(pool, timeout_us, out, site);
    if (FP_UNLIKELY(!out))
        return acquire_bad_args(pool, timeout_us, out, site);
    if (FP_UNLIKELY(timeout_us < FP_WAIT_FOREVER))
        return acquire_bad_args(pool, timeout_us, out, site);
    fp_slot *s;
    uint64_t nh;
    if (FP_UNLIKELY(!(s = fl_pop(pool, &nh))))
        return acquire_general(pool, timeout_us, out, site, NULL, 0);
    unsigned slow = atomic_load_explicit(&pool->slow_acq, RLX);
    if (FP_UNLIKELY(slow & ~FP_SLOW_UNTRACKED))
        return acquire_general(pool, timeout_us, out, site, s, nh);
    return hand_out(pool, s, nh, out, site, slow);
}

/* Exported under the public name, without a PLT hop for the adapters. */
extern __typeof__(fp_pool_acquire_site) fp_pool_acquire_site
    __attribute__((alias("fp__pool_acquire_internal"), visibility("default")));

int fp_pool_acquire_at(fp_pool *pool, int64_t timeout_us, fp_frame **out, const char *file, int line,
                       const char *func)
{
    return fp__pool_acquire_internal(pool, timeout_us, out, fp__site_intern_pool(fp__pool_check(pool) ? pool : NULL, file, line, func));
}

/* ------------------------------------------------------------------------- */
/* References and release                                                    */

/* Makes the slot idle (poisoned first when `poison`) and pushes it. */
static inline void return_slot(fp_pool *pool, fp_slot *s, bool poison)
{
    FP_INJECT();
    atomic_store_explicit(&s->gen, atomic_load_explicit(&s->gen, RLX) + 1, REL);
    if (FP_UNLIKELY(poison))
        fp__poison(pool, s);
    push_released(pool, s);
}

/* Returns up to `limit` deferred slots whose runtime let go, oldest first:
 * runtimes unlock roughly in submission order, so an acquirer that needs one
 * slot usually finds it at the head instead of walking the whole list.
 * Each returned slot keeps its out count (fl_push_keep_out): the caller
 * calls put_out() once per returned slot after unlocking, which may free a
 * pool whose app already let go. */
static int sweep_locked(fp_pool *pool, int limit, frees *fr)
{
    int n = 0;
    uint32_t *link = &pool->pending, last_kept = FP_NIL;
    while (*link != FP_NIL && n < limit) {
        fp_slot *s = fp__slot_at(pool->slots, *link);
        uint32_t next = atomic_load_explicit(&s->next, RLX);
        FP_INJECT();
        if (pool->ops->can_return(pool, s)) {
            /* Idle (and poisoned) before it is visible in the stack. */
            atomic_store_explicit(&s->gen, atomic_load_explicit(&s->gen, RLX) + 1, REL);
            *link = next;
            if (slot_is_old(pool, s)) {
                unback_locked(pool, s, fr, true); /* its out count is dropped by the caller */
            } else {
                if (FP_UNLIKELY(pool->flags & FP_POOL_POISON))
                    fp__poison(pool, s);
                fl_push_keep_out(pool, s);
            }
            atomic_fetch_sub_explicit(&pool->npending, 1, RLX);
            n++;
        } else {
            last_kept = s->idx;
            link = (uint32_t *)&s->next; /* guarded by the lock while pending */
        }
    }
    /* Stopped early, the old tail is still the last element; otherwise it is
     * the last slot kept. */
    if (*link == FP_NIL)
        pool->pending_tail = last_kept;
    if (n && pool->waiters)
        pthread_cond_broadcast(&pool->cond);
    return n;
}

int fp__pool_sweep(fp_pool *pool)
{
    if (!atomic_load_explicit(&pool->npending, RLX))
        return 0;
    frees fr = { NULL, NULL };
    fp__lock(&pool->lock);
    int n = sweep_locked(pool, INT_MAX, &fr);
    fp__unlock(&pool->lock);
    frees_run(pool, &fr);
    for (int i = 0; i < n; i++)
        put_out(pool); /* the last may free the pool (deferred while pinned) */
    return n;
}

void fp__pool_release_slot(fp_pool *pool, fp_slot *s)
{
    if (!pool->ops || !pool->ops->can_return || pool->ops->can_return(pool, s)) {
        if ((atomic_load_explicit(&pool->slow_rel, RLX) & FP_SLOW_GEN) && slot_is_old(pool, s)) {
            /* An older generation's frame: freed, never reused. */
            FP_INJECT();
            atomic_store_explicit(&s->gen, atomic_load_explicit(&s->gen, RLX) + 1, REL);
            retire_out_slot(pool, s, false);
            return;
        }
        return_slot(pool, s, pool->flags & FP_POOL_POISON);
        return;
    }
    /* Held by a runtime: it stays out (and live) until a sweep returns it.
     * Waiters switch to polling, so wake them. */
    fp__lock(&pool->lock);
    /* Appended: the list is in release order (see sweep_locked). */
    atomic_store_explicit(&s->next, FP_NIL, RLX);
    if (pool->pending == FP_NIL)
        pool->pending = s->idx;
    else
        atomic_store_explicit(&fp__slot_at(pool->slots, pool->pending_tail)->next, s->idx, RLX);
    pool->pending_tail = s->idx;
    atomic_fetch_add_explicit(&pool->npending, 1, RLX);
    if (pool->waiters)
        pthread_cond_broadcast(&pool->cond);
    fp__unlock(&pool->lock);
}

FP_COLD static void foreign(const fp_frame *f, const char *what, const char *file, int line, const char *func)
{
    fp__misuse_global_inc();
    fp__log_cfg(NULL, FP_LOG_ERROR, "%s of %p at %s:%d in %s(): not a frame of any framepool pool", what,
               (const void *)f, file ? file : "?", line, func ? func : "?");
}

/* A reference of a frame with no references left, or past INT_MAX. */
FP_COLD static fp_frame *ref_refused(fp_slot *s, int v, const fp_site *site)
{
    static _Atomic int saturation_logged;
    if (v > 0) {
        /* Saturated, as the kernel's refcount_t: the count stays at INT_MAX
         * and the frame never returns to the pool (a leak, never a frame
         * handed out twice); the caller's pointer stays valid. */
        if (!atomic_exchange_explicit(&saturation_logged, 1, RLX))
            fp__log(s->pool, FP_LOG_ERROR,
                   "fp_frame_ref at %s:%d in %s(): frame %p has INT_MAX references: the count saturates and the frame "
                   "is never returned to the pool (logged once)",
                   fp__site_file(site) ? fp__site_file(site) : "?", fp__site_line(site),
                   fp__site_func(site) ? fp__site_func(site) : "?", (void *)&s->frame);
        fp__pool_note_misuse(s->pool);
        return &s->frame;
    }
    fp__log(s->pool, FP_LOG_ERROR, "fp_frame_ref at %s:%d in %s() of a frame that is not live (already released)",
           fp__site_file(site) ? fp__site_file(site) : "?", fp__site_line(site),
           fp__site_func(site) ? fp__site_func(site) : "?");
    fp__pool_note_misuse(s->pool);
    return NULL;
}

fp_frame *fp_frame_ref_site(fp_frame *frame, const fp_site *site)
{
    fp_slot *s = fp__slot_of(frame);
    if (FP_UNLIKELY(!s)) {
        if (frame)
            foreign(frame, "fp_frame_ref", fp__site_file(site), fp__site_line(site), fp__site_func(site));
        return NULL;
    }
    int v = atomic_load_explicit(&s->refs, RLX);
    do {
        /* One compare for both ends: v <= 0 (not live) or v == INT_MAX. */
        if (FP_UNLIKELY((unsigned)v - 1u >= (unsigned)INT_MAX - 1u))
            return ref_refused(s, v, site);
    } while (!atomic_compare_exchange_weak_explicit(&s->refs, &v, v + 1, RLX, RLX));
    return frame;
}

fp_frame *fp_frame_ref_at(fp_frame *frame, const char *file, int line, const char *func)
{
    fp_slot *s = fp__slot_of(frame);
    return fp_frame_ref_site(frame, fp__site_intern_pool(s ? s->pool : NULL, file, line, func));
}

/* The ABI's function (and for callers who #undef the macro): no site. */
fp_frame *(fp_frame_ref)(fp_frame *frame)
{
    return fp_frame_ref_site(frame, NULL);
}

FP_COLD static int double_release(fp_slot *s, const fp_site *site)
{
    fp__track_double_release(s, site);
    fp__pool_note_misuse(s->pool);
    return FP_ERR(EALREADY);
}

/* Drops one reference of a slot; the last returns it (or defers it). */
static inline int slot_unref(fp_slot *s, const fp_site *site)
{
    int v = atomic_load_explicit(&s->refs, RLX);
    do {
        FP_INJECT();
        /* v <= 0: a double release; v == INT_MAX: saturated. One compare. */
        if (FP_UNLIKELY((unsigned)v - 1u >= (unsigned)INT_MAX - 1u))
            return v > 0 ? 0 : double_release(s, site); /* saturated: pinned for good */
    } while (!atomic_compare_exchange_weak_explicit(&s->refs, &v, v - 1, ACQREL, RLX));
    if (v != 1)
        return 0;
    fp_pool *pool = s->pool;
    unsigned slow = atomic_load_explicit(&pool->slow_rel, RLX);
    if (FP_LIKELY(!(slow & FP_SLOW_UNTRACKED)))
        fp__rec_release(s, site);
    if (FP_UNLIKELY(slow & (FP_SLOW_ADAPTER | FP_SLOW_FLAGS | FP_SLOW_GEN)))
        fp__pool_release_slot(pool, s); /* defers for a runtime, or poisons */
    else
        return_slot(pool, s, false);
    return 0;
}

int fp__slot_unref(fp_slot *s, const fp_site *site)
{
    return slot_unref(s, site);
}

FP_COLD static int unref_foreign(fp_frame *frame, const fp_site *site)
{
    fp_slot *s = fp__slot_of_slow(frame); /* a heap slot array (region.h) */
    if (s)
        return fp__slot_unref(s, site);
    foreign(frame, "fp_frame_unref", fp__site_file(site), fp__site_line(site), fp__site_func(site));
    return FP_ERR(EINVAL);
}

int fp_frame_unref_site(fp_frame **pf, const fp_site *site)
{
    fp_frame *frame;
    if (!pf || !(frame = *pf))
        return 0;
    *pf = NULL;
    fp_slot *s = fp__slot_of_region(frame);
    if (FP_UNLIKELY(!s))
        return unref_foreign(frame, site);
    return slot_unref(s, site);
}

int fp_frame_unref_at(fp_frame **pf, const char *file, int line, const char *func)
{
    if (!pf || !*pf)
        return 0;
    return fp_frame_unref_site(pf, fp__site_intern(file, line, func));
}

/* The count the application sees: the core's, with the adapter's own
 * holders (FFmpeg's AVBufferRefs) when it has any. */
static int slot_refcount(fp_slot *s)
{
    int v = atomic_load_explicit(&s->refs, ACQ);
    const fp__pool_ops *ops = s->pool->ops;
    if (v > 0 && ops && ops->refcount)
        v = ops->refcount(s->pool, s, v);
    return v;
}

int fp_frame_refcount(const fp_frame *frame)
{
    fp_slot *s = fp__slot_of(frame);
    if (!s) {
        if (frame)
            foreign(frame, "fp_frame_refcount", NULL, 0, NULL);
        return FP_ERR(EINVAL);
    }
    return slot_refcount(s);
}

int fp_frame_is_writable(const fp_frame *frame)
{
    fp_slot *s = fp__slot_of(frame);
    if (!s) {
        if (frame)
            foreign(frame, "fp_frame_is_writable", NULL, 0, NULL);
        return 0;
    }
    return slot_refcount(s) == 1;
}

/* ------------------------------------------------------------------------- */
/* Trim                                                                      */

int fp_pool_trim(fp_pool *pool)
{
    if (!pool)
        return FP_ERR(EINVAL);
    int freed = 0, kept = 0, damaged = 0;
    const fp_site *damaged_rel = NULL;
    frees fr = { NULL, NULL };
    fp__lock(&pool->lock);
    fp__geom *cur = cur_geom(pool);
    /* Detach the whole stack; acquirers that find it empty meanwhile queue on
     * the lock we hold. Memory leaves its slot here and is freed unlocked. */
    uint32_t idx = fl_detach_all(pool);
    while (idx != FP_NIL) {
        fp_slot *s = fp__slot_at(pool->slots, idx);
        uint32_t next = atomic_load_explicit(&s->next, RLX);
        /* Older generations' idle frames always go; the current one keeps min_frames. */
        if (fp__slot_geom(pool, s) != cur || cur->backed > (uint32_t)pool->min_frames) {
            if ((pool->flags & FP_POOL_POISON) && fp__unpoison(pool, s) && !damaged++)
                damaged_rel = fp__rec_release_site(s);
            unback_locked(pool, s, &fr, true);
            freed++;
        } else {
            fl_push_idle(pool, s);
            kept++;
        }
        idx = next;
    }
    if ((kept || freed) && pool->waiters)
        pthread_cond_broadcast(&pool->cond); /* freed: room under max_bytes */
    fp__unlock(&pool->lock);
    frees_run(pool, &fr);
    if (damaged)
        report_poison_damage(pool, damaged_rel);
    if (freed)
        fp__log(pool, FP_LOG_DEBUG, "trim: freed %d idle frames", freed);
    return freed;
}

/* ------------------------------------------------------------------------- */
/* Generations                                                               */

void fp__pool_geom_copy(fp_pool *pool, fp__geom *out)
{
    fp__lock(&pool->lock);
    *out = *cur_geom(pool);
    fp__unlock(&pool->lock);
    out->next = NULL;
}

static bool same_geometry(const fp__geom *a, const fp__geom *b)
{
    return a->format == b->format && a->width == b->width && a->height == b->height &&
           a->mem_align == b->mem_align && !memcmp(&a->layout, &b->layout, sizeof(a->layout)) &&
           !memcmp(a->adapter, b->adapter, sizeof(a->adapter));
}

/* Backs idle frames of the current geometry up to min_frames (after a
 * reconfigure: what creation does for the first one). Stops at the first
 * allocation failure (logged, counted) or when max_bytes is reached. */
static void prefill(fp_pool *pool)
{
    for (;;) {
        frees fr = { NULL, NULL };
        fp__lock(&pool->lock);
        fp__geom *g = cur_geom(pool);
        if (!g->gen || g->backed >= (uint32_t)pool->min_frames || pool->unbacked == FP_NIL ||
            !bytes_fit_locked(pool, g->layout.alloc_size) || atomic_load_explicit(&pool->closed, RLX)) {
            fp__unlock(&pool->lock);
            return;
        }
        fp_slot *s = fp__slot_at(pool->slots, pool->unbacked);
        pool->unbacked = atomic_load_explicit(&s->next, RLX);
        reserve_locked(pool, s, g);
        size_t size = g->layout.alloc_size;
        fp__unlock(&pool->lock);
        int ret = slot_back(pool, s);
        fp__lock(&pool->lock);
        if (ret < 0) {
            unback_locked(pool, s, &fr, false);
        } else {
            atomic_fetch_add_explicit(&pool->allocated, 1, RLX);
            if (g != cur_geom(pool)) {
                unback_locked(pool, s, &fr, true); /* reconfigured meanwhile */
            } else {
                fl_push_idle(pool, s);
                if (pool->waiters)
                    pthread_cond_broadcast(&pool->cond);
            }
        }
        fp__unlock(&pool->lock);
        frees_run(pool, &fr);
        if (ret < 0) {
            fp__log(pool, FP_LOG_ERROR, "reconfigure: out of memory backing min_frames (%zu bytes each)", size);
            return;
        }
    }
}

int fp__pool_set_geometry(fp_pool *pool, const fp__geom *want)
{
    fp__geom *ng = malloc(sizeof(*ng));
    if (!ng) {
        fp__log(pool, FP_LOG_ERROR, "reconfigure: out of memory");
        return FP_ERR(ENOMEM);
    }
    *ng = *want;
    ng->backed = 0;
    ng->next = NULL;
    frees fr = { NULL, NULL };
    uint32_t still_live = 0;
    int damaged = 0;
    const fp_site *damaged_rel = NULL;

    fp__lock(&pool->lock);
    fp__geom *cur = cur_geom(pool);
    if (atomic_load_explicit(&pool->closed, RLX) || (cur->gen && same_geometry(cur, ng))) {
        int ret = atomic_load_explicit(&pool->closed, RLX) ? FP_ERR(ESHUTDOWN) : (int)cur->gen;
        fp__unlock(&pool->lock);
        free(ng);
        return ret;
    }
    ng->gen = cur->gen + 1;
    if (cur->backed) {
        cur->next = pool->old_geoms;
        pool->old_geoms = cur;
        if (pool->old_backed == 0)
            gen_flag_locked(pool, true);
        pool->old_backed += cur->backed;
    } else {
        cur->next = fr.geoms;
        fr.geoms = cur;
    }
    atomic_store_explicit(&pool->geom, ng, REL);
    /* Every idle slot is of an older generation now: take the stack (a
     * release RMW, see fp__pool_acquire_internal) and free their memory. */
    uint32_t idx = fl_detach_all(pool);
    while (idx != FP_NIL) {
        fp_slot *s = fp__slot_at(pool->slots, idx);
        idx = atomic_load_explicit(&s->next, RLX);
        if ((pool->flags & FP_POOL_POISON) && fp__unpoison(pool, s) && !damaged++)
            damaged_rel = fp__rec_release_site(s);
        unback_locked(pool, s, &fr, true);
    }
    still_live = pool->old_backed;
    fp__geom now = *ng; /* ng may be replaced and freed once unlocked */
    if (pool->waiters)
        pthread_cond_broadcast(&pool->cond); /* slots to back with the new geometry */
    fp__unlock(&pool->lock);
    frees_run(pool, &fr);
    if (damaged)
        report_poison_damage(pool, damaged_rel);
    fp__log(pool, FP_LOG_DEBUG, "reconfigured: generation %u, %s %dx%d, %zu bytes per frame; %u frames of older "
            "generations still out", now.gen, fp__format_name(now.format), now.width, now.height,
            now.layout.alloc_size, still_live);
    prefill(pool);
    return (int)now.gen;
}

int fp_pool_reconfigure(fp_pool *pool, const fp_pool_config *cfg)
{
    if (!fp__pool_check(pool) || !cfg) {
        if (pool && !fp__pool_check(pool)) {
            fp__misuse_global_inc();
            fp__log_cfg(NULL, FP_LOG_ERROR, "fp_pool_reconfigure: %p is not a framepool pool", (void *)pool);
        } else if (!pool) {
            fp__log_cfg(NULL, FP_LOG_ERROR, "fp_pool_reconfigure: pool is NULL");
        } else {
            fp__log(pool, FP_LOG_ERROR, "fp_pool_reconfigure: cfg is NULL");
        }
        return FP_ERR(EINVAL);
    }
    fp__geom g;
    memset(&g, 0, sizeof(g));
    if (pool->ops && pool->ops->reconfigure) {
        int ret = pool->ops->reconfigure(pool, cfg, &g);
        if (ret < 0)
            return ret;
    } else if (pool->ops) {
        fp__log(pool, FP_LOG_ERROR, "fp_pool_reconfigure: %s pools cannot be reconfigured", pool->ops->kind);
        return FP_ERR(ENOTSUP);
    } else {
        enum fp_layout_why why;
        int ret = fp__layout_compute(cfg->format, cfg->width, cfg->height, cfg->align, cfg->buffer_size, &g.layout, &why);
        if (ret < 0) {
            fp_pool_config c = *cfg; /* the log line goes through the pool's callback */
            c.log = pool->log;
            c.log_opaque = pool->log_opaque;
            c.log_level = pool->log_level;
            c.name = pool->name;
            log_layout_error(&c, why);
            return ret;
        }
        g.format = (int)cfg->format;
        g.width = cfg->format == FP_FMT_RAW ? 0 : cfg->width;
        g.height = cfg->format == FP_FMT_RAW ? 0 : cfg->height;
        g.mem_align = cfg->align < 16 ? 16 : (size_t)cfg->align;
    }
    if (pool->max_bytes && (uint64_t)pool->min_frames * g.layout.alloc_size > pool->max_bytes) {
        fp__log(pool, FP_LOG_ERROR, "fp_pool_reconfigure: min_frames %d of %zu bytes exceed max_bytes %llu",
                pool->min_frames, g.layout.alloc_size, (unsigned long long)pool->max_bytes);
        return FP_ERR(EINVAL);
    }
    return fp__pool_set_geometry(pool, &g);
}
