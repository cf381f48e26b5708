/*
 * libFuzzer target: the input is a program of pool operations over up to
 * four pools, 32 frame references and two scopes. A model of what the
 * program holds is checked against the library after every step; at the end
 * everything is released and every pool must be gone (LSan checks the
 * memory).
 * SPDX-License-Identifier: MIT
 *
 * Built two ways (test/fuzz/meson.build): with -fsanitize=fuzzer when the
 * meson option `fuzz` is enabled and the compiler is clang (scripts/fuzz),
 * and with replay.c's main() as the test `fuzz-replay`, which runs the
 * committed corpus on every test run.
 *
 * Checked after every operation, for every pool the program still holds:
 *   stats.live == acquired - released, live <= capacity,
 *   allocated == live + idle, allocated <= capacity,
 *   stats.live == the frames the model holds, acquired/exhausted/misuse ==
 *   the model's counts, closed == the model's flag;
 * and on every acquire: the frame is not one the program already holds,
 * its planes are aligned and (FP_POOL_ZERO) zeroed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <framepool/framepool.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPOOLS 4
#define NHANDLES 32
#define NSCOPES 2
#define SCOPE_MAX 24
#define NSTALE 4
#define NFRAMES (NPOOLS * 8)

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_pool: %s:%d: check failed: %s: ", __FILE__, \
                    __LINE__, #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

typedef struct mpool {
    fp_pool *p;          /* the program's reference; NULL when dropped */
    bool exists;         /* the pool object is alive (reference or live frames) */
    bool closed;
    int capacity, min_frames, align;
    unsigned flags;
    uint64_t acquired, exhausted, misuse;
    uint64_t cp;         /* last checkpoint */
    uint64_t cp_order;   /* acquires (model order) before it */
    bool has_cp;
    fp_frame *stale[NSTALE]; /* released frames of this pool */
} mpool;

typedef struct mframe {  /* one live frame the program holds references to */
    fp_frame *f;         /* NULL: entry unused */
    int pool;
    uint64_t order;      /* model acquire order */
    char tag[32];
    bool long_lived;
} mframe;

typedef struct state {
    const uint8_t *in;
    size_t size, pos;
    mpool pools[NPOOLS];
    fp_frame *handles[NHANDLES];
    fp_scope scopes[NSCOPES];
    mframe frames[NFRAMES];
    uint64_t order;
    uint64_t foreign;    /* expected growth of fp_misuse_count() */
} state;

static FILE *devnull;

static void quiet(void *opaque, int level, const char *msg)
{
    (void)opaque;
    (void)level;
    (void)msg;
}

static uint8_t next(state *s)
{
    return s->pos < s->size ? s->in[s->pos++] : 0;
}

static uint16_t next16(state *s)
{
    uint16_t v = next(s);
    return (uint16_t)(v | (uint16_t)next(s) << 8);
}

/* ------------------------------------------------------------------------- */
/* Model queries                                                             */

static mframe *frame_of(state *s, const fp_frame *f)
{
    for (int i = 0; i < NFRAMES; i++)
        if (s->frames[i].f && s->frames[i].f == f)
            return &s->frames[i];
    return NULL;
}

static int refs_of(state *s, const fp_frame *f)
{
    int n = 0;
    for (int i = 0; i < NHANDLES; i++)
        n += s->handles[i] == f;
    for (int k = 0; k < NSCOPES; k++)
        for (size_t i = 0; i < s->scopes[k].count; i++)
            n += s->scopes[k].items[i] == f;
    return n;
}

static uint32_t live_of(state *s, int pool)
{
    uint32_t n = 0;
    for (int i = 0; i < NFRAMES; i++)
        n += s->frames[i].f && s->frames[i].pool == pool;
    return n;
}

static int free_handle(state *s, uint8_t hint)
{
    for (int i = 0; i < NHANDLES; i++) {
        int h = (hint + i) % NHANDLES;
        if (!s->handles[h])
            return h;
    }
    return -1;
}

static int used_handle(state *s, uint8_t hint)
{
    for (int i = 0; i < NHANDLES; i++) {
        int h = (hint + i) % NHANDLES;
        if (s->handles[h])
            return h;
    }
    return -1;
}

static bool is_stale_pointer_live(state *s, const fp_frame *f)
{
    return frame_of(s, f) != NULL;
}

static void forget_stale(mpool *mp, const fp_frame *f)
{
    for (int i = 0; i < NSTALE; i++)
        if (mp->stale[i] == f)
            mp->stale[i] = NULL;
}

/* A reference of `f` went away; when it was the last, the frame returned. */
static void model_dropped_ref(state *s, fp_frame *f)
{
    if (refs_of(s, f) > 0)
        return;
    mframe *m = frame_of(s, f);
    CHECK(m, "dropped a reference of a frame the model does not know");
    mpool *mp = &s->pools[m->pool];
    memmove(&mp->stale[1], &mp->stale[0], (NSTALE - 1) * sizeof(mp->stale[0]));
    mp->stale[0] = f;
    m->f = NULL;
    if (!mp->p && live_of(s, (int)(mp - s->pools)) == 0) {
        mp->exists = false; /* the last frame freed the dropped pool */
        memset(mp->stale, 0, sizeof(mp->stale));
    }
}

/* References in items[0..n) went away (a scope ended); a frame may be there
 * more than once. */
static void model_dropped_refs(state *s, fp_frame *const *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = items[j] == items[i];
        if (!seen)
            model_dropped_ref(s, items[i]);
    }
}

/* ------------------------------------------------------------------------- */
/* Invariants                                                                */

typedef struct walk {
    state *s;
    int pool;
    uint64_t since_order;
    uint32_t count;
} walk;

static int walk_cb(const fp_live_frame *lf, void *ud)
{
    walk *w = ud;
    mframe *m = frame_of(w->s, lf->frame);
    CHECK(m && m->pool == w->pool, "walk reported frame %p the program does not hold", (const void *)lf->frame);
    CHECK(m->order > w->since_order, "walk since checkpoint reported a frame acquired before it");
    CHECK(lf->refcount == refs_of(w->s, lf->frame), "walk refcount %d, model %d", lf->refcount,
          refs_of(w->s, lf->frame));
    CHECK(lf->tag && !strcmp(lf->tag, m->tag), "walk tag \"%s\", model \"%s\"", lf->tag ? lf->tag : "(null)",
          m->tag);
    CHECK(lf->long_lived == m->long_lived, "long_lived %d, model %d", lf->long_lived, m->long_lived);
    w->count++;
    return 0;
}

static void check_pool(state *s, int k)
{
    mpool *mp = &s->pools[k];
    if (!mp->p)
        return;
    fp_pool_stats st;
    CHECK(fp_pool_get_stats(mp->p, &st) == 0, "get_stats failed");
    uint32_t live = live_of(s, k);
    CHECK(st.live == st.acquired - st.released, "live %u != acquired %llu - released %llu", st.live,
          (unsigned long long)st.acquired, (unsigned long long)st.released);
    CHECK(st.live <= st.capacity, "live %u > capacity %u", st.live, st.capacity);
    CHECK(st.allocated == st.live + st.idle, "allocated %u != live %u + idle %u", st.allocated, st.live, st.idle);
    CHECK(st.allocated <= st.capacity, "allocated %u > capacity %u", st.allocated, st.capacity);
    CHECK(st.capacity == (uint32_t)mp->capacity, "capacity %u, model %d", st.capacity, mp->capacity);
    CHECK(st.live == live, "pool %d: stats.live %u, the program holds %u", k, st.live, live);
    CHECK(st.acquired == mp->acquired, "acquired %llu, model %llu", (unsigned long long)st.acquired,
          (unsigned long long)mp->acquired);
    CHECK(st.exhausted == mp->exhausted, "exhausted %llu, model %llu", (unsigned long long)st.exhausted,
          (unsigned long long)mp->exhausted);
    CHECK(st.misuse == mp->misuse, "misuse %llu, model %llu", (unsigned long long)st.misuse,
          (unsigned long long)mp->misuse);
    CHECK(!!st.closed == mp->closed, "closed %d, model %d", st.closed, mp->closed);
    CHECK(st.peak_live >= st.live && st.peak_live <= st.capacity, "peak_live %u", st.peak_live);
    CHECK(st.allocated >= (uint32_t)mp->min_frames || st.alloc_failures, "allocated %u < min_frames %d",
          st.allocated, mp->min_frames);
}

static void check_all(state *s)
{
    for (int k = 0; k < NPOOLS; k++)
        check_pool(s, k);
    /* No frame is held under two model entries (handed out twice). */
    for (int i = 0; i < NFRAMES; i++)
        for (int j = i + 1; s->frames[i].f && j < NFRAMES; j++)
            CHECK(s->frames[i].f != s->frames[j].f, "frame %p listed twice", (void *)s->frames[i].f);
    CHECK(fp_misuse_count() >= s->foreign, "foreign misuse count went backwards");
}

/* ------------------------------------------------------------------------- */
/* Operations                                                                */

static int pick_dim(state *s)
{
    uint8_t b = next(s);
    if (b == 255)
        return FP_MAX_DIMENSION + 1;
    if (b == 254)
        return 0;
    if (b == 253)
        return -1;
    return (int)(b % 128) + 1 + (int)(next(s) % 2) * 128; /* 1..256: big enough for every layout path */
}

static void op_create(state *s)
{
    int k = next(s) % NPOOLS;
    mpool *mp = &s->pools[k];
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = (next(s) & 1) ? "fuzz \"pool\"\n\\" : NULL;
    cfg.format = (enum fp_format)(next(s) % (FP_FMT_COUNT + 1));
    uint8_t a = next(s);
    if (cfg.format == FP_FMT_RAW && !(a & 0x80)) {
        cfg.buffer_size = (size_t)next16(s) + (a & 1 ? 0 : 1);
    } else {
        cfg.width = pick_dim(s);
        cfg.height = pick_dim(s);
        if (a & 0x40)
            cfg.buffer_size = next(s);
    }
    uint8_t al = next(s);
    cfg.align = (al & 0x80) ? (int)(al & 0x7f) : 1 << (al % 14);
    cfg.max_frames = next(s) % 10;         /* 0 is invalid; at most 9 */
    cfg.min_frames = (int)(next(s) % 11) - 1;
    uint8_t fl = next(s);
    cfg.flags = fl & (FP_POOL_NO_TRACK | FP_POOL_ZERO | FP_POOL_POISON);
    if (fl & 0x80)
        cfg.flags |= 0x100; /* unknown bit: EINVAL */
    cfg.log = quiet;
    cfg.log_level = next(s) % 4;
    if (mp->exists) {
        /* The slot is in use: creating into it would lose the model's pool. */
        fp_pool *tmp = NULL;
        int ret = fp_pool_create(&tmp, &cfg);
        CHECK((ret == 0) == (tmp != NULL), "create returned %d with pool %p", ret, (void *)tmp);
        fp_pool_unref(&tmp);
        return;
    }
    fp_pool *p = (fp_pool *)(uintptr_t)1;
    int ret = fp_pool_create(&p, &cfg);
    if (ret < 0) {
        CHECK(p == NULL, "failed create left *out set");
        CHECK(ret == FP_ERR(EINVAL) || ret == FP_ERR(EOVERFLOW) || ret == FP_ERR(ENOMEM), "create: %d", ret);
        return;
    }
    CHECK(p, "create returned 0 without a pool");
    CHECK(cfg.max_frames >= 1 && cfg.min_frames >= 0 && cfg.min_frames <= cfg.max_frames,
          "create accepted min %d max %d", cfg.min_frames, cfg.max_frames);
    CHECK(!(cfg.flags & 0x100), "create accepted unknown flags");
    memset(mp, 0, sizeof(*mp));
    mp->p = p;
    mp->exists = true;
    mp->capacity = cfg.max_frames;
    mp->min_frames = cfg.min_frames;
    mp->align = cfg.align;
    mp->flags = cfg.flags;
}

static void op_acquire(state *s)
{
    int k = next(s) % NPOOLS;
    mpool *mp = &s->pools[k];
    int h = free_handle(s, next(s));
    if (!mp->p || h < 0)
        return;
    uint32_t live = live_of(s, k);
    fp_frame *f = (fp_frame *)(uintptr_t)1;
    int ret = fp_pool_acquire(mp->p, 0, &f);
    if (mp->closed) {
        CHECK(ret == FP_ERR(ESHUTDOWN) && !f, "acquire on a closed pool: %d", ret);
        return;
    }
    if (live >= (uint32_t)mp->capacity) {
        CHECK(ret == FP_ERR(EAGAIN) && !f, "acquire on an exhausted pool: %d", ret);
        mp->exhausted++;
        return;
    }
    CHECK(ret == 0 && f, "acquire with %u of %d live: %d", live, mp->capacity, ret);
    CHECK(!frame_of(s, f), "frame %p handed out while the program holds it", (void *)f);
    for (int i = 0; i < NHANDLES; i++)
        CHECK(s->handles[i] != f, "frame %p handed out twice", (void *)f);
    CHECK(fp_frame_refcount(f) == 1 && fp_frame_is_writable(f), "new frame has refcount %d",
          fp_frame_refcount(f));
    CHECK(f->pts == FP_NOPTS && f->opaque == NULL, "pts/opaque not reset");
    CHECK(f->data[0] && f->size > 0, "frame without memory");
    size_t align = (size_t)(mp->align > 0 ? mp->align : 1);
    for (int i = 0; i < 4; i++)
        CHECK(!f->data[i] || (uintptr_t)f->data[i] % align == 0, "plane %d not aligned to %zu", i, align);
    if (mp->flags & FP_POOL_ZERO)
        CHECK(f->data[0][0] == 0 && f->data[0][f->size - 1] == 0, "FP_POOL_ZERO frame not zeroed");
    mp->acquired++;
    forget_stale(mp, f);
    mframe *m = NULL;
    for (int i = 0; i < NFRAMES && !m; i++)
        if (!s->frames[i].f)
            m = &s->frames[i];
    CHECK(m, "model frame table full");
    memset(m, 0, sizeof(*m));
    m->f = f;
    m->pool = k;
    m->order = ++s->order;
    s->handles[h] = f;
}

static void op_ref(state *s)
{
    int from = used_handle(s, next(s));
    int to = free_handle(s, next(s));
    if (from < 0 || to < 0)
        return;
    fp_frame *f = s->handles[from];
    int before = fp_frame_refcount(f);
    CHECK(before == refs_of(s, f), "refcount %d, model %d", before, refs_of(s, f));
    CHECK(fp_frame_ref(f) == f, "ref of a live frame failed");
    s->handles[to] = f;
    CHECK(fp_frame_refcount(f) == before + 1 && !fp_frame_is_writable(f), "ref did not count");
}

static void op_unref(state *s)
{
    int h = used_handle(s, next(s));
    if (h < 0)
        return;
    fp_frame *f = s->handles[h];
    int ret = fp_frame_unref(&s->handles[h]);
    CHECK(ret == 0 && s->handles[h] == NULL, "unref: %d", ret);
    model_dropped_ref(s, f);
}

/* Releases a pointer to a frame the program no longer holds. */
static void op_double_unref(state *s)
{
    int k = next(s) % NPOOLS;
    mpool *mp = &s->pools[k];
    fp_frame *f = mp->stale[next(s) % NSTALE];
    if (!mp->exists || !f || is_stale_pointer_live(s, f))
        return;
    bool ref = next(s) & 1;
    if (ref) {
        CHECK(fp_frame_ref(f) == NULL, "ref of a released frame succeeded");
    } else {
        fp_frame *copy = f;
        int ret = fp_frame_unref(&copy);
        CHECK(ret == FP_ERR(EALREADY) && !copy, "double unref: %d", ret);
    }
    CHECK(fp_frame_refcount(f) == 0, "released frame has refcount %d", fp_frame_refcount(f));
    mp->misuse++;
}

/* Pointers that belong to no pool: garbage on the stack, a copy of a frame. */
static void op_foreign(state *s)
{
    fp_frame fake;
    uint8_t how = next(s);
    if (how & 1) {
        int h = used_handle(s, next(s));
        if (h < 0)
            return;
        memcpy(&fake, s->handles[h], sizeof(fake)); /* a copy is not the frame */
    } else {
        for (size_t i = 0; i < sizeof(fake); i++)
            ((uint8_t *)&fake)[i] = next(s);
    }
    uint64_t before = fp_misuse_count();
    fp_frame *p = &fake;
    switch ((how >> 1) % 5) {
    case 0:
        CHECK(fp_frame_unref(&p) == FP_ERR(EINVAL) && !p, "foreign unref");
        s->foreign++;
        CHECK(fp_misuse_count() == before + 1, "foreign unref not counted");
        break;
    case 1:
        CHECK(fp_frame_ref(p) == NULL, "foreign ref");
        s->foreign++;
        CHECK(fp_misuse_count() == before + 1, "foreign ref not counted");
        break;
    case 2:
        CHECK(fp_frame_refcount(p) == FP_ERR(EINVAL) && !fp_frame_is_writable(p), "foreign refcount");
        s->foreign += 2; /* both are counted (issue 12) */
        CHECK(fp_frame_set_long_lived(p) == FP_ERR(EINVAL), "foreign long-lived");
        fp_frame_set_tag(p, "x"); /* a no-op */
        break;
    case 3: {
        fp_scope *sc = &s->scopes[next(s) % NSCOPES];
        size_t count = sc->count;
        CHECK(fp_scope_add(sc, p) == FP_ERR(EINVAL) && sc->count == count, "foreign scope add");
        break;
    }
    default: {
        fp_scope *sc = &s->scopes[next(s) % NSCOPES];
        CHECK(fp_scope_take(sc, p) == FP_ERR(ENOENT), "foreign scope take");
        break;
    }
    }
}

static void op_tag(state *s)
{
    int h = used_handle(s, next(s));
    if (h < 0)
        return;
    char tag[48];
    size_t n = next(s) % sizeof(tag);
    for (size_t i = 0; i < n; i++)
        tag[i] = (char)(next(s) | 1); /* no NUL inside */
    tag[n] = '\0';
    mframe *m = frame_of(s, s->handles[h]);
    bool clear = n == 0 && (next(s) & 1);
    fp_frame_set_tag(s->handles[h], clear ? NULL : tag);
    /* The library keeps at most FP_TAG_MAX bytes, cut before a UTF-8
     * character that would not fit (up to 3 bytes back, only when those are
     * continuation bytes of a character that starts in the tag). */
    memset(m->tag, 0, sizeof(m->tag));
    if (!clear) {
        size_t keep = n;
        if (keep > FP_TAG_MAX) {
            keep = FP_TAG_MAX;
            for (int back = 0; back < 3 && keep > 0 && ((unsigned char)tag[keep] & 0xC0) == 0x80; back++)
                keep--;
            if (((unsigned char)tag[keep] & 0xC0) == 0x80)
                keep = FP_TAG_MAX;
        }
        memcpy(m->tag, tag, keep);
    }
}

static void op_long_lived(state *s)
{
    int h = used_handle(s, next(s));
    if (h < 0)
        return;
    CHECK(fp_frame_set_long_lived(s->handles[h]) == 0, "set_long_lived");
    frame_of(s, s->handles[h])->long_lived = true;
}

static void op_write(state *s)
{
    int h = used_handle(s, next(s));
    if (h < 0)
        return;
    fp_frame *f = s->handles[h];
    if (refs_of(s, f) != 1)
        return;
    CHECK(fp_frame_is_writable(f), "sole holder cannot write");
    memset(f->data[0], next(s), f->size);
    f->pts = 42;
    f->opaque = s;
}

static void op_scope(state *s)
{
    uint8_t b = next(s);
    fp_scope *sc = &s->scopes[(b >> 2) % NSCOPES];
    switch (b % 4) {
    case 0: { /* add: the handle's reference moves into the scope */
        int h = used_handle(s, next(s));
        if (h < 0 || sc->count >= SCOPE_MAX)
            return;
        int ret = fp_scope_add(sc, s->handles[h]);
        CHECK(ret == 0, "scope add: %d", ret);
        s->handles[h] = NULL;
        break;
    }
    case 1: { /* take: back into a handle */
        int h = free_handle(s, next(s));
        if (h < 0 || !sc->count)
            return;
        fp_frame *f = sc->items[next(s) % sc->count];
        size_t count = sc->count;
        CHECK(fp_scope_take(sc, f) == 0 && sc->count == count - 1, "scope take");
        s->handles[h] = f;
        break;
    }
    case 2: { /* end: releases everything, most recent first */
        size_t n = sc->count;
        fp_frame *items[SCOPE_MAX];
        memcpy(items, sc->items, n * sizeof(*items));
        fp_scope_end(sc);
        CHECK(sc->count == 0, "scope end left %zu", sc->count);
        model_dropped_refs(s, items, n);
        fp_scope_end(sc); /* idempotent */
        break;
    }
    default: { /* take of a frame the scope does not hold */
        int h = used_handle(s, next(s));
        if (h < 0)
            return;
        fp_frame *f = s->handles[h];
        bool in = false;
        for (size_t i = 0; i < sc->count; i++)
            in |= sc->items[i] == f;
        if (!in)
            CHECK(fp_scope_take(sc, f) == FP_ERR(ENOENT), "take of a frame not in the scope");
        break;
    }
    }
}

static void op_close(state *s)
{
    mpool *mp = &s->pools[next(s) % NPOOLS];
    if (!mp->p)
        return;
    fp_pool_close(mp->p);
    mp->closed = true;
}

static void op_export(state *s)
{
    uint8_t b = next(s);
    mpool *mp = &s->pools[(b >> 3) % NPOOLS];
    switch (b % 5) {
    case 0:
        if (mp->p)
            CHECK(fp_pool_report(mp->p, devnull) == 0, "report");
        break;
    case 1:
        if (mp->p)
            CHECK(fp_pool_write_json(mp->p, devnull) == 0, "pool json");
        break;
    case 2:
        CHECK(fp_registry_write_json(devnull) == 0, "registry json");
        break;
    case 3:
        CHECK(fp_registry_write_prometheus(devnull) == 0, "prometheus");
        break;
    default:
        if (mp->p) {
            CHECK(fp_pool_name(mp->p)[0] != '\0', "pool name");
            CHECK(fp_pool_id(mp->p) != 0, "pool id");
        }
        break;
    }
}

static void op_trim(state *s)
{
    int k = next(s) % NPOOLS;
    mpool *mp = &s->pools[k];
    if (!mp->p)
        return;
    fp_pool_stats before, after;
    CHECK(fp_pool_get_stats(mp->p, &before) == 0, "stats");
    int freed = fp_pool_trim(mp->p);
    CHECK(fp_pool_get_stats(mp->p, &after) == 0, "stats");
    uint32_t want = before.live > (uint32_t)mp->min_frames ? before.live : (uint32_t)mp->min_frames;
    if (want > before.allocated)
        want = before.allocated;
    CHECK(freed >= 0 && after.allocated == want && (uint32_t)freed == before.allocated - want,
          "trim freed %d: allocated %u -> %u (live %u, min %d)", freed, before.allocated, after.allocated,
          before.live, mp->min_frames);
}

static void op_checkpoint(state *s)
{
    uint8_t b = next(s);
    int k = (b >> 1) % NPOOLS;
    mpool *mp = &s->pools[k];
    if (!mp->p)
        return;
    if ((b & 1) || !mp->has_cp) {
        mp->cp = fp_pool_checkpoint(mp->p);
        mp->cp_order = s->order;
        mp->has_cp = true;
    }
    walk w = { s, k, mp->cp_order, 0 };
    CHECK(fp_pool_foreach_live_since(mp->p, mp->cp, walk_cb, &w) == 0, "foreach_since");
    uint32_t want = 0;
    for (int i = 0; i < NFRAMES; i++)
        want += s->frames[i].f && s->frames[i].pool == k && s->frames[i].order > mp->cp_order;
    CHECK(w.count == want, "foreach_since listed %u, model %u", w.count, want);
    walk all = { s, k, 0, 0 };
    CHECK(fp_pool_foreach_live(mp->p, walk_cb, &all) == 0, "foreach");
    CHECK(all.count == live_of(s, k), "foreach listed %u, model %u", all.count, live_of(s, k));
}

static void op_watchdog(state *s)
{
    uint8_t b = next(s);
    mpool *mp = &s->pools[(b >> 1) % NPOOLS];
    if (!mp->p)
        return;
    int64_t age = (b & 1) ? 1 : 0;
    int ret = fp_pool_set_watchdog(mp->p, age, NULL, NULL);
    if (age && (mp->flags & FP_POOL_NO_TRACK)) {
        CHECK(ret == FP_ERR(EINVAL), "watchdog on an untracked pool: %d", ret);
        return;
    }
    CHECK(ret == 0, "set_watchdog: %d", ret);
    CHECK(fp_pool_watchdog_check(mp->p) >= 0, "watchdog_check");
}

static void op_pool_unref(state *s)
{
    int k = next(s) % NPOOLS;
    mpool *mp = &s->pools[k];
    if (!mp->p)
        return;
    if (next(s) & 1) { /* an extra reference round trip changes nothing */
        fp_pool *extra = fp_pool_ref(mp->p);
        CHECK(extra == mp->p, "pool_ref");
        fp_pool_unref(&extra);
        CHECK(!extra, "unref did not clear");
        return;
    }
    fp_pool_unref(&mp->p);
    CHECK(!mp->p, "unref did not clear");
    mp->closed = true;
    if (live_of(s, k) == 0) {
        mp->exists = false;
        memset(mp->stale, 0, sizeof(mp->stale));
    }
}

static void op_refcount(state *s)
{
    int h = used_handle(s, next(s));
    if (h < 0)
        return;
    fp_frame *f = s->handles[h];
    CHECK(fp_frame_refcount(f) == refs_of(s, f), "refcount %d, model %d", fp_frame_refcount(f), refs_of(s, f));
    CHECK(fp_frame_is_writable(f) == (refs_of(s, f) == 1), "is_writable");
}

/* ------------------------------------------------------------------------- */

static void release_all(state *s)
{
    for (int k = 0; k < NSCOPES; k++) {
        size_t n = s->scopes[k].count;
        fp_frame *items[SCOPE_MAX];
        memcpy(items, s->scopes[k].items, n * sizeof(*items));
        fp_scope_end(&s->scopes[k]);
        model_dropped_refs(s, items, n);
    }
    for (int h = 0; h < NHANDLES; h++) {
        fp_frame *f = s->handles[h];
        if (!f)
            continue;
        CHECK(fp_frame_unref(&s->handles[h]) == 0, "final unref");
        model_dropped_ref(s, f);
        check_all(s);
    }
    for (int k = 0; k < NPOOLS; k++) {
        check_pool(s, k);
        fp_pool_unref(&s->pools[k].p);
    }
    for (int i = 0; i < NFRAMES; i++)
        CHECK(!s->frames[i].f, "model still holds a frame");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull) {
        devnull = fopen("/dev/null", "w");
        if (!devnull)
            abort();
    }
    static state st;
    state *s = &st;
    memset(s, 0, sizeof(*s));
    s->in = data;
    s->size = size;
    uint64_t foreign_before = fp_misuse_count();
    for (int k = 0; k < NSCOPES; k++)
        fp_scope_begin(&s->scopes[k]);

    for (int steps = 0; s->pos < s->size && steps < 2048; steps++) {
        switch (next(s) % 17) {
        case 0: op_create(s); break;
        case 1: case 2: op_acquire(s); break;
        case 3: op_ref(s); break;
        case 4: case 5: op_unref(s); break;
        case 6: op_double_unref(s); break;
        case 7: op_foreign(s); break;
        case 8: op_tag(s); break;
        case 9: op_long_lived(s); break;
        case 10: op_scope(s); break;
        case 11: op_close(s); break;
        case 12: op_export(s); break;
        case 13: op_trim(s); break;
        case 14: op_checkpoint(s); break;
        case 15: op_pool_unref(s); break;
        default:
            switch (next(s) % 3) {
            case 0: op_write(s); break;
            case 1: op_refcount(s); break;
            default: op_watchdog(s); break;
            }
        }
        check_all(s);
    }
    release_all(s);
    CHECK(fp_misuse_count() == foreign_before + s->foreign, "fp_misuse_count %llu, model %llu",
          (unsigned long long)fp_misuse_count(), (unsigned long long)(foreign_before + s->foreign));

    /* Every pool is gone: the registry is empty. */
    char buf[64] = { 0 };
    FILE *mem = fmemopen(buf, sizeof(buf) - 1, "w");
    CHECK(mem, "fmemopen");
    fp_registry_write_json(mem);
    fclose(mem);
    CHECK(!strncmp(buf, "{\"pools\": []", 12), "pools left in the registry: %s", buf);
    return 0;
}
