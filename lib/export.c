/*
 * JSON and Prometheus text exports of pool stats.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "registry.h"

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
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
    fprintf(out, ", \"format\": \"%s\", \"width\": %d, \"height\": %d, \"closed\": %s, \"tracked\": %s,\n",
            fp_format_name(pool->format), pool->width, pool->height, st.closed ? "true" : "false",
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
    fprintf(out, "  \"held_by_runtime\": %" PRIu32 ", \"get_buffer_fallbacks\": %" PRIu64 ",\n  \"live_frames\": [",
            st.held_by_runtime, st.get_buffer_fallbacks);
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
    int ret = pool_json(pool, out);
    fputc('\n', out);
    if (ret < 0)
        return ret;
    return ferror(out) ? FP_ERR(EIO) : 0;
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
    json_walk w = { out, 0, 0 };
    fputs("{\"pools\": [", out);
    fp_registry_walk(registry_json_one, &w);
    fprintf(out, "%s], \"foreign_releases\": %" PRIu64 "}\n", w.n ? "\n" : "", fp_misuse_count());
    if (w.err)
        return w.err;
    return ferror(out) ? FP_ERR(EIO) : 0;
}

/* ------------------------------------------------------------------------- */
/* Prometheus text format 0.0.4                                              */

typedef struct prom_pool {
    uint64_t id;
    char name[64];
    fp_pool_stats st;
} prom_pool;

typedef struct prom_walk {
    prom_pool *pools;
    size_t n, cap;
    int err;
} prom_walk;

static int prom_collect(fp_pool *pool, void *ud)
{
    prom_walk *w = ud;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        prom_pool *p = realloc(w->pools, cap * sizeof(*p));
        if (!p) {
            w->err = FP_ERR(ENOMEM);
            return 1;
        }
        w->pools = p;
        w->cap = cap;
    }
    prom_pool *p = &w->pools[w->n++];
    p->id = pool->id;
    memcpy(p->name, pool->name, sizeof(p->name));
    fp_pool_get_stats(pool, &p->st);
    return 0;
}

/* Label values escape backslash, double quote and line feed. */
static void prom_label(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
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
    M64("framepool_frame_bytes", GAUGE, "Pixel bytes per frame, with alignment and padding.", frame_bytes),
    M64("framepool_reserved_bytes", GAUGE, "Bytes held by the pool: frame memory and bookkeeping.", reserved_bytes),
    MNS("framepool_oldest_live_seconds", GAUGE, "Age of the oldest live frame not marked long-lived.", oldest_live_ns),
};

int fp_registry_write_prometheus(FILE *out)
{
    if (!out)
        return FP_ERR(EINVAL);
    prom_walk w = { 0 };
    fp_registry_walk(prom_collect, &w);
    if (w.err) {
        free(w.pools);
        return w.err;
    }
    for (size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++) {
        const prom_metric *pm = &metrics[m];
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", pm->name, pm->help, pm->name,
                pm->type == COUNTER ? "counter" : "gauge");
        for (size_t i = 0; i < w.n; i++) {
            const char *base = (const char *)&w.pools[i].st + pm->offset;
            uint64_t v;
            if (pm->is32) {
                uint32_t v32;
                memcpy(&v32, base, sizeof(v32));
                v = v32;
            } else {
                memcpy(&v, base, sizeof(v));
            }
            fprintf(out, "%s{pool=\"", pm->name);
            prom_label(out, w.pools[i].name);
            fprintf(out, "\",id=\"%" PRIu64 "\"} ", w.pools[i].id);
            if (pm->scale)
                fprintf(out, "%.9g\n", (double)v * pm->scale);
            else
                fprintf(out, "%" PRIu64 "\n", v);
        }
    }
    fputs("# HELP framepool_closed Whether the pool was closed (1) or is open (0).\n"
          "# TYPE framepool_closed gauge\n", out);
    for (size_t i = 0; i < w.n; i++) {
        fputs("framepool_closed{pool=\"", out);
        prom_label(out, w.pools[i].name);
        fprintf(out, "\",id=\"%" PRIu64 "\"} %d\n", w.pools[i].id, w.pools[i].st.closed ? 1 : 0);
    }
    fprintf(out, "# HELP framepool_foreign_releases_total Releases of pointers that belong to no pool (process-wide).\n"
                 "# TYPE framepool_foreign_releases_total counter\n"
                 "framepool_foreign_releases_total %" PRIu64 "\n", fp_misuse_count());
    free(w.pools);
    return ferror(out) ? FP_ERR(EIO) : 0;
}
