/*
 * Pools grouped by creation site: fp_registry_report(), the never-released
 * part of the FRAMEPOOL_TRACE=leaks exit report (registry.c) and the
 * Prometheus per-site gauges (export.c).
 * SPDX-License-Identifier: MIT
 *
 * One registry walk copies what each pool says about itself (stats snapshot,
 * site, whether the application still holds it) into a heap array, with no
 * lock held while the array grows; grouping and output happen after the walk.
 * A pure read: fp_pool_get_stats() runs no sweep and no callback.
 *
 * Sites are grouped by contents (file, line and function compared as
 * strings), not by record address: an `_at` caller passing copies of the
 * same strings, or the same site reached through FP_SITE_HERE() records in
 * two translation units of one header, are one site.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "registry.h"

typedef struct collect_walk {
    fp__sites *s;
    size_t cap;
    bool unreleased;
    int err;
} collect_walk;

static int collect_one(fp_pool *pool, void *ud)
{
    collect_walk *w = ud;
    bool dropped = atomic_load_explicit(&pool->app_refs, RLX) <= 0;
    bool from_parent = fp__registry_from_parent(pool);
    if (w->unreleased && (dropped || from_parent))
        return 0;
    if (w->s->npools == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        fp__site_pool *p = realloc(w->s->pools, cap * sizeof(*p));
        if (!p) {
            w->err = FP_ERR(ENOMEM);
            return 1;
        }
        w->s->pools = p;
        w->cap = cap;
    }
    fp__site_pool *p = &w->s->pools[w->s->npools++];
    p->id = pool->id;
    p->site = pool->create_site;
    memcpy(p->name, pool->name, sizeof(p->name));
    fp_pool_get_stats(pool, &p->st);
    p->dropped = dropped;
    p->from_parent = from_parent;
    return 0;
}

static int str_cmp(const char *a, const char *b)
{
    if (a == b)
        return 0;
    if (!a || !b)
        return a ? 1 : -1;
    return strcmp(a, b);
}

/* Unknown site first, then by file, line, function. */
static int site_cmp(const fp_site *a, const fp_site *b)
{
    if (a == b)
        return 0;
    if (!a || !b)
        return a ? 1 : -1;
    int c = str_cmp(a->file, b->file);
    if (c)
        return c;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return str_cmp(a->func, b->func);
}

static int pool_cmp(const void *x, const void *y)
{
    const fp__site_pool *a = x, *b = y;
    int c = site_cmp(a->site, b->site);
    if (c)
        return c;
    return a->id < b->id ? -1 : a->id > b->id;
}

int fp__sites_collect(fp__sites *s, bool unreleased)
{
    memset(s, 0, sizeof(*s));
    collect_walk w = { .s = s, .unreleased = unreleased };
    fp__registry_walk(collect_one, &w);
    if (w.err) {
        fp__sites_free(s);
        return w.err;
    }
    if (!s->npools)
        return 0;
    qsort(s->pools, s->npools, sizeof(*s->pools), pool_cmp);
    /* At most one group per pool. */
    if (!(s->groups = calloc(s->npools, sizeof(*s->groups)))) {
        fp__sites_free(s);
        return FP_ERR(ENOMEM);
    }
    for (size_t i = 0; i < s->npools; i++) {
        const fp__site_pool *p = &s->pools[i];
        fp__site_group *g = s->ngroups ? &s->groups[s->ngroups - 1] : NULL;
        if (!g || site_cmp(g->site, p->site) != 0) {
            g = &s->groups[s->ngroups++];
            g->site = p->site;
            g->first = i;
            g->oldest_id = p->id; /* pools of a site are sorted by id */
        }
        g->n++;
        g->dropped += p->dropped;
        g->live += p->st.live;
        g->frame_bytes += (uint64_t)p->st.allocated * p->st.frame_bytes;
        g->reserved_bytes += p->st.reserved_bytes;
    }
    return 0;
}

static int group_age_cmp(const void *x, const void *y)
{
    uint64_t a = ((const fp__site_group *)x)->oldest_id, b = ((const fp__site_group *)y)->oldest_id;
    return a < b ? -1 : a > b;
}

void fp__sites_sort_by_age(fp__sites *s)
{
    if (s->ngroups > 1)
        qsort(s->groups, s->ngroups, sizeof(*s->groups), group_age_cmp);
}

void fp__sites_free(fp__sites *s)
{
    free(s->pools);
    free(s->groups);
    memset(s, 0, sizeof(*s));
}

size_t fp__site_text(char *dst, size_t cap, const fp_site *site, bool with_func)
{
    if (!cap)
        return 0;
    if (!site) {
        int n = snprintf(dst, cap, "unknown site");
        return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    }
    char file[192], func[96];
    fp__esc_text(file, sizeof(file), site->file ? site->file : "?", 160);
    fp__esc_text(func, sizeof(func), site->func ? site->func : "?", 64);
    int n = with_func ? snprintf(dst, cap, "%s:%d in %s()", file, site->line, func)
                      : snprintf(dst, cap, "%s:%d", file, site->line);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* ------------------------------------------------------------------------- */
/* fp_registry_report                                                        */

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static void report_pool(FILE *out, const fp__site_pool *p)
{
    char name[256];
    fp__esc_text(name, sizeof(name), p->name, 64);
    fprintf(out, "  pool \"%s\" id %" PRIu64 ": ", name, p->id);
    if (p->dropped)
        fprintf(out, "dropped by the application, alive for %" PRIu32 " held %s", p->st.live,
                plural(p->st.live, "frame", "frames"));
    else
        fprintf(out, "%s, %" PRIu32 " live %s", p->st.closed ? "closed" : "open", p->st.live,
                plural(p->st.live, "frame", "frames"));
    fprintf(out, ", %" PRIu64 " bytes in frames, %" PRIu64 " bytes reserved\n",
            (uint64_t)p->st.allocated * p->st.frame_bytes, p->st.reserved_bytes);
}

int fp_registry_report(FILE *out)
{
    if (!out)
        return FP_ERR(EINVAL);
    fp__sites s;
    int ret = fp__sites_collect(&s, false);
    if (ret < 0)
        return ret;
    fp__sites_sort_by_age(&s);
    fp__membuf m;
    if ((ret = fp__membuf_open(&m)) < 0) {
        fp__sites_free(&s);
        return ret;
    }
    fprintf(m.f, "framepool registry: %zu %s from %zu creation %s\n", s.npools, plural(s.npools, "pool", "pools"),
            s.ngroups, plural(s.ngroups, "site", "sites"));
    for (size_t i = 0; i < s.ngroups; i++) {
        const fp__site_group *g = &s.groups[i];
        char site[320];
        fp__site_text(site, sizeof(site), g->site, true);
        fprintf(m.f, "site %s: %zu %s", site, g->n, plural(g->n, "pool", "pools"));
        if (g->dropped)
            fprintf(m.f, " (%" PRIu64 " dropped, alive for held frames)", g->dropped);
        fprintf(m.f, ", %" PRIu64 " live %s, %" PRIu64 " bytes in frames, %" PRIu64 " bytes reserved\n", g->live,
                plural(g->live, "frame", "frames"), g->frame_bytes, g->reserved_bytes);
        for (size_t k = 0; k < g->n; k++)
            report_pool(m.f, &s.pools[g->first + k]);
    }
    fp__sites_free(&s);
    return fp__membuf_finish(&m, out);
}
