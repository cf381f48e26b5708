/*
 * JSON and Prometheus text exports of pool stats.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "registry.h"

/* A JSON string of an application string: UTF-8 passes through, a byte that
 * starts no character becomes U+FFFD, a character cut by the end of the
 * buffer it was copied into is dropped (see strutil.c). */
static void json_string(FILE *out, const char *s)
{
    const char *p = s ? s : "";
    fputc('"', out);
    for (int n; (n = fp__utf8_char(p)) != 0 && n != FP__UTF8_CUT; p += n > 0 ? n : 1) {
        if (n == FP__UTF8_BAD) {
            fputs("\\ufffd", out);
            continue;
        }
        unsigned char c = (unsigned char)*p;
        if (n > 1)
            fwrite(p, 1, (size_t)n, out);
        else if (c == '"')
            fputs("\\\"", out);
        else if (c == '\\')
            fputs("\\\\", out);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* Exports are rendered into memory (nothing is written to the caller's
 * stream during a walk, so a slow reader holds up nobody) and then written
 * out in one go; errors of buffered writes show after the flush. */
int fp__membuf_open(fp__membuf *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    return m->f ? 0 : FP_ERR(ENOMEM);
}

int fp__membuf_finish(fp__membuf *m, FILE *out)
{
    int ret = 0;
    if (ferror(m->f))
        ret = FP_ERR(ENOMEM);
    if (fclose(m->f) != 0) /* the last flush into memory; sets buf and len */
        ret = FP_ERR(ENOMEM);
    m->f = NULL;
    if (!ret && out) {
        if (m->len && fwrite(m->buf, 1, m->len, out) != m->len)
            ret = FP_ERR(EIO);
        /* A buffered stream reports a failed write only once it flushes. */
        if (fflush(out) != 0 || ferror(out))
            ret = FP_ERR(EIO);
    }
    free(m->buf);
    m->buf = NULL;
    m->len = 0;
    return ret;
}

static int write_live(const fp_live_frame *f, void *ud)
{
    FILE *out = ((void **)ud)[0];
    int *first = ((void **)ud)[1];
    fputs(*first ? "\n    " : ",\n    ", out);
    *first = 0;
    fprintf(out, "{\"seq\": %" PRIu64 ", \"file\": ", f->seq);
    if (f->file)
        json_string(out, f->file);
    else
        fputs("null", out);
    fprintf(out, ", \"line\": %d, \"func\": ", f->line);
    if (f->func)
        json_string(out, f->func);
    else
        fputs("null", out);
    fprintf(out, ", \"thread\": %" PRIu64 ", \"age_ns\": %" PRIu64 ", \"refcount\": %d, \"tag\": ", f->thread,
            f->age_ns, f->refcount);
    json_string(out, f->tag);
    fprintf(out, ", \"long_lived\": %s}", f->long_lived ? "true" : "false");
    return 0;
}

static int pool_json(fp_pool *pool, FILE *out)
{
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    fprintf(out, "{\"id\": %" PRIu64 ", \"name\": ", pool->id);
    json_string(out, pool->name);
    fputs(", \"created_at\": ", out);
    const fp_site *site = pool->create_site;
    if (site) {
        char at[1024];
        snprintf(at, sizeof(at), "%s:%d in %s()", site->file ? site->file : "?", site->line,
                 site->func ? site->func : "?");
        json_string(out, at);
    } else {
        fputs("null", out);
    }
    fp__geom geom;
    fp__pool_geom_copy(pool, &geom);
    fprintf(out, ", \"format\": \"%s\", \"width\": %d, \"height\": %d, \"generation\": %" PRIu32
                 ", \"old_generation_live\": %" PRIu32 ", \"old_generation_bytes\": %" PRIu64
                 ", \"closed\": %s, \"tracked\": %s,\n",
            fp__format_name(geom.format), geom.width, geom.height, st.generation, st.old_generation_live,
            st.old_generation_bytes, st.closed ? "true" : "false",
            pool->track ? "true" : "false");
    fprintf(out,
            "  \"capacity\": %" PRIu32 ", \"allocated\": %" PRIu32 ", \"live\": %" PRIu32 ", \"idle\": %" PRIu32
            ", \"peak_live\": %" PRIu32 ", \"min_frames\": %" PRIu32 ",\n",
            st.capacity, st.allocated, st.live, st.idle, st.peak_live, st.min_frames);
    fprintf(out,
            "  \"acquired\": %" PRIu64 ", \"released\": %" PRIu64 ", \"exhausted\": %" PRIu64
            ", \"timeouts\": %" PRIu64 ", \"waits\": %" PRIu64 ", \"wait_ns_total\": %" PRIu64
            ", \"wait_ns_max\": %" PRIu64 ",\n",
            st.acquired, st.released, st.exhausted, st.timeouts, st.waits, st.wait_ns_total, st.wait_ns_max);
    fprintf(out,
            "  \"misuse\": %" PRIu64 ", \"alloc_failures\": %" PRIu64 ", \"frame_bytes\": %" PRIu64
            ", \"reserved_bytes\": %" PRIu64 ", \"oldest_live_ns\": %" PRIu64 ",\n",
            st.misuse, st.alloc_failures, st.frame_bytes, st.reserved_bytes, st.oldest_live_ns);
    fprintf(out, "  \"held_by_runtime\": %" PRIu32 ", \"get_buffer_fallbacks\": %" PRIu64
                 ", \"get_buffer_exhausted\": %" PRIu64 ", \"get_buffer_overdraft\": %" PRIu64
                 ", \"get_buffer_bypassed\": %" PRIu64 ",\n  \"live_frames\": [",
            st.held_by_runtime, st.get_buffer_fallbacks, st.get_buffer_exhausted, st.get_buffer_overdraft,
            st.get_buffer_bypassed);
    int first = 1;
    void *ud[2] = { out, &first };
    int ret = fp_pool_foreach_live(pool, write_live, ud);
    fputs(first ? "]}" : "\n  ]}", out);
    return ret < 0 ? ret : 0;
}

int fp_pool_write_json(fp_pool *pool, FILE *out)
{
    if (!pool || !out)
        return FP_ERR(EINVAL);
    fp__membuf m;
    int ret = fp__membuf_open(&m);
    if (ret < 0)
        return ret;
    ret = pool_json(pool, m.f);
    fputc('\n', m.f);
    int wr = fp__membuf_finish(&m, ret < 0 ? NULL : out);
    return ret < 0 ? ret : wr;
}

typedef struct json_walk {
    FILE *out;
    int n;
    int err;
} json_walk;

static int registry_json_one(fp_pool *pool, void *ud)
{
    json_walk *w = ud;
    fputs(w->n++ ? ",\n" : "\n", w->out);
    int ret = pool_json(pool, w->out);
    if (ret < 0 && !w->err)
        w->err = ret;
    return 0;
}

int fp_registry_write_json(FILE *out)
{
    if (!out)
        return FP_ERR(EINVAL);
    fp__membuf m;
    int ret = fp__membuf_open(&m);
    if (ret < 0)
        return ret;
    json_walk w = { m.f, 0, 0 };
    fputs("{\"pools\": [", m.f);
    fp__registry_walk(registry_json_one, &w);
    fprintf(m.f, "%s], \"foreign_releases\": %" PRIu64 "}\n", w.n ? "\n" : "", fp_misuse_count());
    ret = fp__membuf_finish(&m, w.err < 0 ? NULL : out);
    return w.err < 0 ? w.err : ret;
}

/* ------------------------------------------------------------------------- */
/* Prometheus text format 0.0.4                                              */

/* One registry walk (fp__sites_collect) feeds both the per-pool series and
 * the per-site ones, so they agree with each other. */
static int id_cmp(const void *x, const void *y)
{
    uint64_t a = (*(fp__site_pool *const *)x)->id, b = (*(fp__site_pool *const *)y)->id;
    return a < b ? -1 : a > b;
}

/* Label values escape backslash, double quote and line feed, and must be
 * UTF-8: a byte that starts no character becomes U+FFFD, a character cut by
 * the end of the name buffer is dropped. */
static void prom_label(FILE *out, const char *s)
{
    for (int n; (n = fp__utf8_char(s)) != 0 && n != FP__UTF8_CUT; s += n > 0 ? n : 1) {
        if (n == FP__UTF8_BAD)
            fputs("\xef\xbf\xbd", out);
        else if (n > 1)
            fwrite(s, 1, (size_t)n, out);
        else if (*s == '\\')
            fputs("\\\\", out);
        else if (*s == '"')
            fputs("\\\"", out);
        else if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

typedef enum { GAUGE, COUNTER } prom_type;

typedef struct prom_metric {
    const char *name;
    prom_type type;
    const char *help;
    double scale; /* multiplier to base units; 0 = integer value as is */
    size_t offset;
    int is32;
} prom_metric;

#define M32(n, t, h, f) { n, t, h, 0, offsetof(fp_pool_stats, f), 1 }
#define M64(n, t, h, f) { n, t, h, 0, offsetof(fp_pool_stats, f), 0 }
#define MNS(n, t, h, f) { n, t, h, 1e-9, offsetof(fp_pool_stats, f), 0 }

static const prom_metric metrics[] = {
    M32("framepool_capacity_frames", GAUGE, "Maximum number of frames (max_frames).", capacity),
    M32("framepool_allocated_frames", GAUGE, "Frames that currently have pixel memory.", allocated),
    M32("framepool_live_frames", GAUGE, "Frames handed out and not yet returned.", live),
    M32("framepool_idle_frames", GAUGE, "Allocated frames waiting in the pool.", idle),
    M32("framepool_peak_live_frames", GAUGE, "Highest number of live frames seen.", peak_live),
    M32("framepool_min_frames", GAUGE, "Frames kept allocated by trim (min_frames).", min_frames),
    M32("framepool_held_by_runtime_frames", GAUGE, "Live frames released by the application but still held by a runtime (oneVPL Data.Locked).", held_by_runtime),
    M64("framepool_acquired_total", COUNTER, "Successful acquires.", acquired),
    M64("framepool_released_total", COUNTER, "Frames returned to the pool.", released),
    M64("framepool_exhausted_total", COUNTER, "Acquires refused because the pool was empty and the caller would not wait.", exhausted),
    M64("framepool_timeouts_total", COUNTER, "Acquires that timed out waiting for a frame.", timeouts),
    M64("framepool_waits_total", COUNTER, "Acquires that had to wait for a frame.", waits),
    MNS("framepool_wait_seconds_total", COUNTER, "Time spent waiting for frames.", wait_ns_total),
    MNS("framepool_wait_max_seconds", GAUGE, "Longest single wait for a frame.", wait_ns_max),
    M64("framepool_misuse_total", COUNTER, "Detected misuse: double releases, references to dead frames.", misuse),
    M64("framepool_alloc_failures_total", COUNTER, "Frame memory allocations that failed.", alloc_failures),
    M64("framepool_get_buffer_fallbacks_total", COUNTER, "Decoder get_buffer2 calls served by the default allocator.", get_buffer_fallbacks),
    M64("framepool_get_buffer_exhausted_total", COUNTER, "Decoder get_buffer2 calls refused because the pool stayed empty.", get_buffer_exhausted),
    M64("framepool_get_buffer_overdraft_total", COUNTER, "Decoder get_buffer2 calls served beyond max_frames by the decoder overdraft.", get_buffer_overdraft),
    M64("framepool_get_buffer_bypassed_total", COUNTER, "Decoders found allocating their own frames (no DR1, never calling get_buffer2).", get_buffer_bypassed),
    M64("framepool_frame_bytes", GAUGE, "Pixel bytes per frame of the current generation, with alignment and padding.", frame_bytes),
    M32("framepool_generation", GAUGE, "Current generation (geometry) of the pool: +1 per reconfigure.", generation),
    M32("framepool_old_generation_live_frames", GAUGE, "Live frames of older generations, freed when they return.", old_generation_live),
    M64("framepool_old_generation_bytes", GAUGE, "Pixel bytes of the live frames of older generations.", old_generation_bytes),
    M64("framepool_reserved_bytes", GAUGE, "Bytes held by the pool: frame memory and bookkeeping.", reserved_bytes),
    MNS("framepool_oldest_live_seconds", GAUGE, "Age of the oldest live frame not marked long-lived.", oldest_live_ns),
};

/* The `site` label: "file:line" (escaped), "unknown" without a site. */
static void prom_site_label(FILE *out, const fp_site *site)
{
    if (!site) {
        fputs("unknown", out);
        return;
    }
    prom_label(out, site->file ? site->file : "?");
    fprintf(out, ":%d", site->line);
}

/* Groups that differ only in function share a `site` label: merged. */
static bool same_label(const fp_site *a, const fp_site *b)
{
    if (!a || !b)
        return a == b;
    return a->line == b->line && (a->file == b->file || (a->file && b->file && !strcmp(a->file, b->file)));
}

typedef struct prom_site_metric {
    const char *name;
    const char *help;
    size_t offset; /* in fp__site_group; SITE_POOLS: the pool count */
} prom_site_metric;

#define SITE_POOLS ((size_t)-1)
static const prom_site_metric site_metrics[] = {
    { "framepool_site_pools", "Pools created at this site that are alive (open, or dropped by the application and alive for held frames).", SITE_POOLS },
    { "framepool_site_dropped_pools", "Pools created at this site that the application dropped, alive because frames are still held.", offsetof(fp__site_group, dropped) },
    { "framepool_site_live_frames", "Live frames of the pools created at this site.", offsetof(fp__site_group, live) },
    { "framepool_site_reserved_bytes", "Bytes held by the pools created at this site: frame memory and bookkeeping.", offsetof(fp__site_group, reserved_bytes) },
};

static uint64_t site_value(const fp__site_group *g, size_t offset)
{
    if (offset == SITE_POOLS)
        return g->n;
    uint64_t v;
    memcpy(&v, (const char *)g + offset, sizeof(v));
    return v;
}

int fp_registry_write_prometheus(FILE *out)
{
    if (!out)
        return FP_ERR(EINVAL);
    fp__sites sites;
    int ret = fp__sites_collect(&sites, false);
    if (ret < 0)
        return ret;
    fp__site_pool **order = malloc((sites.npools ? sites.npools : 1) * sizeof(*order));
    fp__membuf mb;
    if (!order || (ret = fp__membuf_open(&mb)) < 0) {
        free(order);
        fp__sites_free(&sites);
        return order ? ret : FP_ERR(ENOMEM);
    }
    for (size_t i = 0; i < sites.npools; i++)
        order[i] = &sites.pools[i];
    if (sites.npools > 1)
        qsort(order, sites.npools, sizeof(*order), id_cmp); /* oldest pool first, as before */
    FILE *real_out = out;
    out = mb.f;
    for (size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++) {
        const prom_metric *pm = &metrics[m];
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", pm->name, pm->help, pm->name,
                pm->type == COUNTER ? "counter" : "gauge");
        for (size_t i = 0; i < sites.npools; i++) {
            const char *base = (const char *)&order[i]->st + pm->offset;
            uint64_t v;
            if (pm->is32) {
                uint32_t v32;
                memcpy(&v32, base, sizeof(v32));
                v = v32;
            } else {
                memcpy(&v, base, sizeof(v));
            }
            fprintf(out, "%s{pool=\"", pm->name);
            prom_label(out, order[i]->name);
            fprintf(out, "\",id=\"%" PRIu64 "\"} ", order[i]->id);
            if (pm->scale)
                fprintf(out, "%.9g\n", (double)v * pm->scale);
            else
                fprintf(out, "%" PRIu64 "\n", v);
        }
    }
    fputs("# HELP framepool_closed Whether the pool was closed (1) or is open (0).\n"
          "# TYPE framepool_closed gauge\n", out);
    for (size_t i = 0; i < sites.npools; i++) {
        fputs("framepool_closed{pool=\"", out);
        prom_label(out, order[i]->name);
        fprintf(out, "\",id=\"%" PRIu64 "\"} %d\n", order[i]->id, order[i]->st.closed ? 1 : 0);
    }
    for (size_t m = 0; m < sizeof(site_metrics) / sizeof(site_metrics[0]); m++) {
        const prom_site_metric *sm = &site_metrics[m];
        fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", sm->name, sm->help, sm->name);
        for (size_t i = 0; i < sites.ngroups;) {
            const fp__site_group *g = &sites.groups[i];
            uint64_t v = 0;
            size_t k = i;
            for (; k < sites.ngroups && same_label(sites.groups[k].site, g->site); k++)
                v += site_value(&sites.groups[k], sm->offset);
            fprintf(out, "%s{site=\"", sm->name);
            prom_site_label(out, g->site);
            fprintf(out, "\"} %" PRIu64 "\n", v);
            i = k;
        }
    }
    fprintf(out, "# HELP framepool_foreign_releases_total Releases of pointers that belong to no pool (process-wide).\n"
                 "# TYPE framepool_foreign_releases_total counter\n"
                 "framepool_foreign_releases_total %" PRIu64 "\n", fp_misuse_count());
    free(order);
    fp__sites_free(&sites);
    return fp__membuf_finish(&mb, real_out);
}
