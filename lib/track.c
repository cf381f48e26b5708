/*
 * Tracking records: who acquired each live frame, where, when; walks over the
 * live frames, checkpoints, reports and leak reports.
 * SPDX-License-Identifier: MIT
 *
 * A slot's record is written only by the thread that owns the frame and read
 * by walkers on any thread. slot->gen is the sequence lock: the owner writes
 * the record and then makes gen odd (release); a walker reads gen (acquire),
 * the record, then gen again, and keeps the copy only when both reads match.
 */
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const char *or_q(const char *s) { return s ? s : "?"; }

void fp__track_double_release(fp_slot *s, const fp_site *site)
{
    fp_pool *pool = s->pool;
    if (!pool->track) {
        fp__log(pool, FP_LOG_ERROR, "double release of frame %p at %s:%d in %s() (tracking off)",
               (void *)&s->frame, or_q(fp__site_file(site)), fp__site_line(site), or_q(fp__site_func(site)));
        return;
    }
    const fp_site *acq = fp__rec_acquire_site(s);
    const fp_site *rel = fp__rec_release_site(s);
    fp__log(pool, FP_LOG_ERROR,
           "double release of frame %p at %s:%d in %s(): acquired at %s:%d in %s(), "
           "already released at %s:%d in %s()",
           (void *)&s->frame, or_q(fp__site_file(site)), fp__site_line(site), or_q(fp__site_func(site)),
           or_q(fp__site_file(acq)), fp__site_line(acq), or_q(fp__site_func(acq)),
           or_q(fp__site_file(rel)), fp__site_line(rel), or_q(fp__site_func(rel)));
}

/* A frame whose references are all gone: the caller's pointer is stale. */
FP_COLD static bool not_live(fp_slot *s, const char *what)
{
    if (FP_LIKELY(atomic_load_explicit(&s->refs, ACQ) > 0))
        return false;
    fp__log(s->pool, FP_LOG_ERROR, "%s of frame %p, which is not live (already released): ignored", what,
           (void *)&s->frame);
    fp__pool_note_misuse(s->pool);
    return true;
}

/*
 * The tag has its own sequence lock in marks (FP_MARK_TAG_SEQ): it changes
 * while the frame is live, outside the gen seqlock, and any holder of a
 * reference may set it. A setter makes the count odd with a CAS (which also
 * keeps setters from overlapping), writes the words, and makes it even again;
 * walkers read the count, the words, the count (snap_slot()).
 */
/* Makes the tag count odd; returns the new value. */
static uint16_t tag_lock(fp_slot *s)
{
    uint16_t m = atomic_load_explicit(&s->marks, RLX);
    for (unsigned spins = 0;; spins++) {
        if (m & FP_MARK_TAG_BUSY) { /* another setter: a few stores away */
            if (spins > 16)
                sched_yield();
            m = atomic_load_explicit(&s->marks, RLX);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&s->marks, &m, (uint16_t)(m + FP_MARK_TAG_BUSY), ACQ, RLX))
            break;
    }
    atomic_thread_fence(REL); /* the busy mark before the words (pairs with snap_slot's fence) */
    return (uint16_t)(m + FP_MARK_TAG_BUSY);
}

/* Makes the count even again, unless the word was reset meanwhile (the frame
 * was released and acquired again under a caller that held no reference):
 * the new acquisition's marks are not ours to touch. */
static void tag_unlock(fp_slot *s, uint16_t busy)
{
    uint16_t cur = busy;
    while (!atomic_compare_exchange_weak_explicit(&s->marks, &cur, (uint16_t)(cur + FP_MARK_TAG_BUSY), REL, RLX))
        if ((cur & FP_MARK_TAG_SEQ) != (busy & FP_MARK_TAG_SEQ))
            break;
}

void fp_frame_set_tag(fp_frame *frame, const char *tag)
{
    fp_slot *s = fp__slot_of(frame);
    if (!s || not_live(s, "fp_frame_set_tag"))
        return;
    uint64_t w[FP_TAG_WORDS] = { 0 };
    size_t kept = 0;
    if (tag)
        memcpy(w, tag, kept = fp__utf8_cut(tag, FP_TAG_MAX));
    uint16_t busy = tag_lock(s);
    for (int i = 0; i < FP_TAG_WORDS; i++)
        atomic_store_explicit(&s->tag[i], w[i], RLX);
    tag_unlock(s, busy);
    /* Not cut silently: the first cut tag of a pool is logged. */
    if (FP_UNLIKELY(tag && tag[kept]) && !atomic_load_explicit(&s->pool->tag_cut_logged, RLX) &&
        !atomic_exchange_explicit(&s->pool->tag_cut_logged, true, RLX))
        fp__log(s->pool, FP_LOG_WARN,
                "fp_frame_set_tag: tag \"%s\" cut to its first %zu bytes (\"%.*s\"; tags keep at most %d); "
                "further cut tags of this pool are not logged",
                tag, kept, (int)kept, tag, FP_TAG_MAX);
}

/* ------------------------------------------------------------------------- */
/* Snapshots                                                                 */

typedef struct live_rec {
    fp_live_frame pub;
    uint64_t acq_time;
    uint64_t gen; /* the slot's generation the copy was taken at */
    char tag[FP_TAG_WORDS * 8];
} live_rec;

/* A deferred surface whose runtime has unlocked it: returned in all but the
 * sweep's move to the free list, so walks and stats do not call it live. */
static bool returned_unswept(fp_slot *s, int refcount)
{
    const fp__pool_ops *ops = s->pool->ops;
    return refcount == 0 && ops && ops->can_return && ops->can_return(s->pool, s);
}

/* Optimistic reads of a tag that keeps changing before the walker takes the
 * tag's lock itself, so that a setter in a loop cannot starve it. */
#define TAG_SPINS 64

/* Copies the slot's record if it is live and the copy is consistent. A frame
 * live for the whole call is always copied: its gen does not move, and a tag
 * write only delays the copy. */
static bool snap_slot(fp_slot *s, live_rec *r, uint64_t now)
{
    int gen_changes = 0;
    for (unsigned spins = 0;; spins++) {
        FP_INJECT();
        uint64_t g1 = atomic_load_explicit(&s->gen, ACQ);
        if (!(g1 & 1))
            return false;
        bool locked = spins >= TAG_SPINS;
        uint16_t busy = locked ? tag_lock(s) : 0;
        uint16_t m1 = atomic_load_explicit(&s->marks, ACQ);
        r->pub.frame = &s->frame;
        const fp_site *acq = atomic_load_explicit(&s->acq_site, RLX);
        const fp_site *rel = atomic_load_explicit(&s->rel_site, RLX);
        r->pub.thread = atomic_load_explicit(&s->acq_tid, RLX);
        r->acq_time = atomic_load_explicit(&s->acq_time, RLX);
        r->pub.refcount = atomic_load_explicit(&s->refs, RLX);
        r->pub.seq = atomic_load_explicit(&s->seq, RLX);
        r->pub.long_lived = !!(m1 & FP_MARK_LONG_LIVED);
        uint64_t w[FP_TAG_WORDS];
        for (int i = 0; i < FP_TAG_WORDS; i++)
            w[i] = atomic_load_explicit(&s->tag[i], RLX);
        atomic_thread_fence(ACQ);
        uint16_t m2 = atomic_load_explicit(&s->marks, RLX);
        if (locked)
            tag_unlock(s, busy);
        if (atomic_load_explicit(&s->gen, RLX) != g1) {
            if (++gen_changes == 4)
                return false; /* the slot is cycling too fast to be called live */
            continue;
        }
        if (!locked && ((m1 & FP_MARK_TAG_BUSY) || ((m1 ^ m2) & FP_MARK_TAG_SEQ))) {
            if (spins > 16)
                sched_yield();
            continue;
        }
        /* Sites are immutable and never freed: read them after the check. */
        r->pub.file = fp__site_file(acq);
        r->pub.line = fp__site_line(acq);
        r->pub.func = fp__site_func(acq);
        r->pub.release_file = fp__site_file(rel);
        r->pub.release_line = fp__site_line(rel);
        memcpy(r->tag, w, sizeof(r->tag));
        r->tag[sizeof(r->tag) - 1] = '\0';
        r->pub.tag = r->tag;
        r->pub.age_ns = now > r->acq_time ? now - r->acq_time : 0;
        r->gen = g1;
        return !returned_unswept(s, r->pub.refcount);
    }
}

static int by_seq(const void *a, const void *b)
{
    const live_rec *x = a, *y = b;
    return x->pub.seq < y->pub.seq ? -1 : x->pub.seq > y->pub.seq;
}

/* Collects the live frames with seq > since, oldest first. *out is malloc'ed. */
static int snapshot(fp_pool *pool, uint64_t since, live_rec **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    uint64_t now = fp__clock_now();
    size_t n = 0;
    for (uint32_t i = 0; i < pool->capacity; i++)
        n += atomic_load_explicit(&fp__slot_at(pool->slots, i)->gen, RLX) & 1;
    if (!n)
        return 0;
    /* The count only sizes the first allocation: frames that become live
     * during the walk may fill it before a slot that was live all along is
     * reached, so the array grows (doubling, at most to capacity) rather than
     * cutting the walk short. */
    size_t cap = n + 8 < pool->capacity ? n + 8 : pool->capacity;
    live_rec *recs = malloc(cap * sizeof(*recs));
    if (!recs)
        return FP_ERR(ENOMEM);
    size_t k = 0;
    for (uint32_t i = 0; i < pool->capacity; i++) {
        fp_slot *s = fp__slot_at(pool->slots, i);
        live_rec r;
        if (!snap_slot(s, &r, now) || (since != 0 && r.pub.seq <= since))
            continue;
        if (k == cap) {
            size_t ncap = cap * 2 < pool->capacity ? cap * 2 : pool->capacity;
            live_rec *grown = realloc(recs, ncap * sizeof(*recs));
            if (!grown) {
                free(recs);
                return FP_ERR(ENOMEM);
            }
            recs = grown;
            cap = ncap;
        }
        if (!pool->track) {
            r.pub.file = r.pub.func = NULL;
            r.pub.release_file = NULL;
            r.pub.age_ns = 0;
            r.pub.thread = 0;
        }
        recs[k++] = r;
    }
    qsort(recs, k, sizeof(*recs), by_seq);
    for (size_t i = 0; i < k; i++)
        recs[i].pub.tag = recs[i].tag; /* the sort moved the records */
    *out = recs;
    *count = k;
    return 0;
}

int fp_pool_foreach_live_since(fp_pool *pool, uint64_t checkpoint, fp_live_cb cb, void *ud)
{
    if (!pool || !cb)
        return FP_ERR(EINVAL);
    live_rec *recs;
    size_t n;
    int ret = snapshot(pool, checkpoint, &recs, &n);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < n && !ret; i++)
        ret = cb(&recs[i].pub, ud);
    free(recs);
    return ret;
}

int fp_pool_foreach_live(fp_pool *pool, fp_live_cb cb, void *ud)
{
    return fp_pool_foreach_live_since(pool, 0, cb, ud);
}

uint64_t fp_pool_checkpoint(fp_pool *pool)
{
    if (!pool)
        return 0;
    return fp__pool_checkpoint_seq(pool);
}

/* ------------------------------------------------------------------------- */
/* Reports                                                                   */

typedef struct site_group {
    const live_rec *first; /* oldest frame of the site */
    size_t count;
    size_t long_lived;
} site_group;

static int same_site(const fp_live_frame *a, const fp_live_frame *b)
{
    return a->line == b->line && (a->file == b->file || (a->file && b->file && !strcmp(a->file, b->file))) &&
           (a->func == b->func || (a->func && b->func && !strcmp(a->func, b->func)));
}

/* Groups the records (sorted oldest first) by acquire site; groups come out
 * oldest first because each group is keyed by its first (oldest) record. */
static site_group *group_sites(const live_rec *recs, size_t n, size_t *ngroups)
{
    site_group *g = calloc(n ? n : 1, sizeof(*g));
    size_t k = 0;
    if (!g)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < k && !same_site(&g[j].first->pub, &recs[i].pub))
            j++;
        if (j == k)
            g[k++].first = &recs[i];
        g[j].count++;
        g[j].long_lived += recs[i].pub.long_lived;
    }
    *ngroups = k;
    return g;
}

static void fmt_age(char *buf, size_t n, uint64_t ns)
{
    if (ns >= 60000000000ull)
        snprintf(buf, n, "%.1f min", (double)ns / 60e9);
    else if (ns >= 1000000000ull)
        snprintf(buf, n, "%.1f s", (double)ns / 1e9);
    else
        snprintf(buf, n, "%.1f ms", (double)ns / 1e6);
}

static void fmt_bytes(char *buf, size_t n, uint64_t b)
{
    if (b >= (1ull << 30))
        snprintf(buf, n, "%.1f GiB", (double)b / (double)(1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(buf, n, "%.1f MiB", (double)b / (double)(1ull << 20));
    else if (b >= 1024)
        snprintf(buf, n, "%.1f KiB", (double)b / 1024.0);
    else
        snprintf(buf, n, "%" PRIu64 " B", b);
}

/* One line per site. The file, function and tag are the application's: they
 * are escaped, so a newline in a tag cannot start a line of its own. */
static void site_line(char *buf, size_t n, const site_group *g, bool track)
{
    char age[32], file[168], func[88], tag[4 * FP_TAG_MAX + 1];
    const fp_live_frame *f = &g->first->pub;
    if (!track) {
        snprintf(buf, n, "%4zu  (untracked pool: FP_POOL_NO_TRACK)", g->count);
        return;
    }
    fmt_age(age, sizeof(age), f->age_ns);
    fp__esc_text(file, sizeof(file), or_q(f->file), sizeof(file) - 1);
    fp__esc_text(func, sizeof(func), or_q(f->func), sizeof(func) - 1);
    int len = snprintf(buf, n, "%4zu  oldest %-9s %s:%d in %s() thread %" PRIu64, g->count, age, file, f->line,
                       func, f->thread);
    if (len > 0 && (size_t)len < n && f->tag[0]) {
        fp__esc_text(tag, sizeof(tag), f->tag, sizeof(tag) - 1);
        len += snprintf(buf + len, n - (size_t)len, " tag \"%s\"", tag);
    }
    if (len > 0 && (size_t)len < n && g->long_lived)
        snprintf(buf + len, n - (size_t)len, " (%zu long-lived)", g->long_lived);
}

/* The report is rendered into memory and written out at the end. */
static int render_report(fp_pool *pool, FILE *out, const live_rec *recs, size_t n)
{
    fp_pool_stats st;
    size_t ng = 0;
    fp_pool_get_stats(pool, &st);
    site_group *groups = group_sites(recs, n, &ng);
    if (!groups)
        return FP_ERR(ENOMEM);
    char fb[32], rb[32], wm[32], name[4 * 63 + 1];
    fmt_bytes(fb, sizeof(fb), st.frame_bytes);
    fmt_bytes(rb, sizeof(rb), st.reserved_bytes);
    fmt_age(wm, sizeof(wm), st.wait_ns_max);
    fp__esc_text(name, sizeof(name), pool->name, sizeof(name) - 1);
    fprintf(out, "framepool: pool \"%s\" (id %" PRIu64 ")%s\n", name, pool->id, st.closed ? " [closed]" : "");
    fprintf(out, "  frames   live %" PRIu32 "  idle %" PRIu32 "  allocated %" PRIu32 "  capacity %" PRIu32
                 "  peak %" PRIu32 "\n",
            st.live, st.idle, st.allocated, st.capacity, st.peak_live);
    fprintf(out, "  totals   acquired %" PRIu64 "  released %" PRIu64 "  exhausted %" PRIu64
                 "  timeouts %" PRIu64 "  waits %" PRIu64 " (max %s)  misuse %" PRIu64 "\n",
            st.acquired, st.released, st.exhausted, st.timeouts, st.waits, wm, st.misuse);
    if (st.get_buffer_fallbacks || st.get_buffer_exhausted || st.get_buffer_overdraft || st.get_buffer_bypassed)
        fprintf(out, "  decoder  fallbacks %" PRIu64 "  exhausted %" PRIu64 "  overdraft %" PRIu64 "  bypassed %" PRIu64 "\n",
                st.get_buffer_fallbacks, st.get_buffer_exhausted, st.get_buffer_overdraft, st.get_buffer_bypassed);
    fprintf(out, "  memory   %s per frame, %s reserved\n", fb, rb);
    if (st.generation != 1) {
        char ob[32];
        fmt_bytes(ob, sizeof(ob), st.old_generation_bytes);
        fprintf(out, "  geometry generation %" PRIu32 "; older generations: %" PRIu32 " live frames, %s\n",
                st.generation, st.old_generation_live, ob);
    }
    if (n) {
        fprintf(out, "  live frames by acquire site, oldest first:\n");
        char line[512];
        for (size_t i = 0; i < ng; i++) {
            site_line(line, sizeof(line), &groups[i], pool->track);
            fprintf(out, "    %s\n", line);
        }
    }
    free(groups);
    return 0;
}

int fp_pool_report(fp_pool *pool, FILE *out)
{
    if (!pool || !out)
        return FP_ERR(EINVAL);
    live_rec *recs;
    size_t n;
    int ret = snapshot(pool, 0, &recs, &n);
    if (ret < 0)
        return ret;
    fp__membuf m;
    ret = fp__membuf_open(&m);
    if (ret == 0) {
        ret = render_report(pool, m.f, recs, n);
        int wr = fp__membuf_finish(&m, ret < 0 ? NULL : out);
        if (!ret)
            ret = wr;
    }
    free(recs);
    return ret;
}

void fp__track_leak_report(fp_pool *pool, int level, const char *why)
{
    live_rec *recs;
    size_t n, ng = 0, leaked = 0;
    if (snapshot(pool, 0, &recs, &n) < 0) {
        fp__log(pool, level, "%s; leak report skipped: out of memory", why);
        return;
    }
    /* Long-lived frames are meant to stay: leave them out of the groups; so
     * are, in a fork() child, the frames the parent acquired. */
    for (size_t i = 0; i < n; i++)
        if (!recs[i].pub.long_lived && recs[i].pub.seq > pool->fork_seq)
            recs[leaked++] = recs[i];
    for (size_t i = 0; i < leaked; i++)
        recs[i].pub.tag = recs[i].tag; /* the compaction moved the records */
    if (!leaked) {
        free(recs);
        return;
    }
    site_group *groups = group_sites(recs, leaked, &ng);
    fp__geom geom;
    fp__pool_geom_copy(pool, &geom);
    fp__log(pool, level, "%s with %zu frame%s still live (%zu bytes each)%s", why, leaked,
           leaked == 1 ? "" : "s", geom.layout.alloc_size, groups ? ", by acquire site:" : "");
    char line[512];
    for (size_t i = 0; groups && i < ng; i++) {
        site_line(line, sizeof(line), &groups[i], pool->track);
        fp__log(pool, level, "  leak: %.511s", line); /* escaped already: the precision keeps it whole */
    }
    free(groups);
    free(recs);
}

/* ------------------------------------------------------------------------- */
/* Long-lived frames and the watchdog                                        */

int fp_frame_set_long_lived(fp_frame *frame)
{
    fp_slot *s = fp__slot_of(frame);
    if (!s || not_live(s, "fp_frame_set_long_lived"))
        return FP_ERR(EINVAL);
    atomic_fetch_or_explicit(&s->marks, FP_MARK_LONG_LIVED, RLX);
    return 0;
}

/* A watchdog callback running on this thread (set_watchdog from inside it
 * must not wait for itself). */
static _Thread_local const fp_pool *wd_self;

/* Clears or sets the callback, then waits until callbacks taken before the
 * change have returned (those on this thread excepted). */
static void watchdog_set(fp_pool *pool, uint64_t age, fp_watchdog_cb cb, void *ud)
{
    fp__lock(&pool->lock);
    pool->watchdog_cb = cb;
    pool->watchdog_ud = ud;
    atomic_store_explicit(&pool->watchdog_age, age, RLX);
    atomic_store_explicit(&pool->watchdog_next, age ? fp__clock_now() + age / 4 : UINT64_MAX, RLX);
    int self = wd_self == pool;
    while (pool->watchdog_running > self) {
        fp__unlock(&pool->lock);
        struct timespec ts = { 0, 200000 }; /* 0.2 ms: callbacks are short */
        nanosleep(&ts, NULL);
        fp__lock(&pool->lock);
    }
    fp__unlock(&pool->lock);
}

int fp_pool_set_watchdog(fp_pool *pool, int64_t max_age_us, fp_watchdog_cb cb, void *ud)
{
    if (!pool || max_age_us < 0)
        return FP_ERR(EINVAL);
    if (max_age_us > 0 && !pool->track) {
        fp__log(pool, FP_LOG_ERROR, "fp_pool_set_watchdog: the pool was created with FP_POOL_NO_TRACK");
        return FP_ERR(EINVAL);
    }
    /* Saturates: an age past 2^64 ns (584 years) is still an age, not 0 (off). */
    uint64_t age;
    if (__builtin_mul_overflow((uint64_t)max_age_us, (uint64_t)1000, &age))
        age = UINT64_MAX;
    watchdog_set(pool, age, cb, ud);
    return 0;
}

void fp__watchdog_disable(fp_pool *pool)
{
    if (atomic_load_explicit(&pool->watchdog_age, RLX) || pool->watchdog_running)
        watchdog_set(pool, 0, NULL, NULL);
}

int fp__watchdog_scan(fp_pool *pool)
{
    uint64_t age = atomic_load_explicit(&pool->watchdog_age, RLX);
    if (!age)
        return 0;
    fp__lock(&pool->lock);
    fp_watchdog_cb cb = pool->watchdog_cb;
    void *ud = pool->watchdog_ud;
    age = atomic_load_explicit(&pool->watchdog_age, RLX);
    pool->watchdog_running++;
    fp__unlock(&pool->lock);

    const fp_pool *outer = wd_self;
    wd_self = pool;
    int reported = 0;
    uint64_t now = fp__clock_now();
    for (uint32_t i = 0; age && i < pool->capacity; i++) {
        fp_slot *s = fp__slot_at(pool->slots, i);
        live_rec r;
        if (!snap_slot(s, &r, now) || r.pub.long_lived || r.pub.age_ns < age)
            continue;
        FP_INJECT();
        uint32_t old = atomic_fetch_or_explicit(&s->marks, FP_MARK_WATCHDOG, ACQREL);
        if (old & FP_MARK_WATCHDOG)
            continue; /* reported before (or by a concurrent scan) */
        if (atomic_load_explicit(&s->gen, ACQ) != r.gen) {
            /* The frame went back and was taken again since the snapshot:
             * the mark belongs to nobody; the new acquisition is not stale. */
            atomic_fetch_and_explicit(&s->marks, (uint16_t)~FP_MARK_WATCHDOG, RLX);
            continue;
        }
        reported++;
        FP_ASSERT_UNLOCKED("the watchdog callback");
        if (cb) {
            cb(&r.pub, ud);
            /* The callback may have turned the watchdog off or changed it. */
            if (atomic_load_explicit(&pool->watchdog_age, RLX) != age)
                break;
        } else {
            char a[32];
            fmt_age(a, sizeof(a), r.pub.age_ns);
            fp__log(pool, FP_LOG_WARN, "watchdog: frame %p held for %s (limit %.1f ms), acquired at %s:%d in %s() "
                   "thread %" PRIu64 "%s%s%s", (const void *)r.pub.frame, a, (double)age / 1e6, or_q(r.pub.file),
                   r.pub.line, or_q(r.pub.func), r.pub.thread, r.tag[0] ? " tag \"" : "", r.tag,
                   r.tag[0] ? "\"" : "");
        }
    }
    wd_self = outer;
    fp__lock(&pool->lock);
    pool->watchdog_running--;
    fp__unlock(&pool->lock);
    return reported;
}

int fp_pool_watchdog_check(fp_pool *pool)
{
    if (!pool)
        return FP_ERR(EINVAL);
    return fp__watchdog_scan(pool);
}

void fp__watchdog_tick(fp_pool *pool, uint64_t now)
{
    uint64_t next = atomic_load_explicit(&pool->watchdog_next, RLX);
    uint64_t age = atomic_load_explicit(&pool->watchdog_age, RLX);
    if (now < next || !age)
        return;
    uint64_t step = age / 4 ? age / 4 : 1;
    if (!atomic_compare_exchange_strong_explicit(&pool->watchdog_next, &next, now + step, RLX, RLX))
        return; /* another thread scans */
    fp__watchdog_scan(pool);
}
