/*
 * soak: resident memory over millions of acquire/release cycles and over
 * repeated pool creation, and the bookkeeping bytes per slot.
 *
 *   soak [--cycles N] [--pool-cycles N] [--quick] [--plot FILE.svg] [--json FILE]
 *
 * 1. framepool core path, N cycles (default 10 million) of fp_pool_acquire +
 *    fp_frame_unref on a 1920x1080 yuv420p pool of 8 preallocated frames;
 * 2. framepool AVFrame path, N cycles of fp_av_acquire + av_frame_free;
 * 3. for comparison, FFmpeg without a pool, av_frame_alloc +
 *    av_frame_get_buffer + av_frame_free, for as many cycles as fit in the
 *    time run 2 took (at most N);
 * 4. --pool-cycles (default 1,000) create/destroy cycles of a 2560x1440 BGRA
 *    pool with min_frames 4 (4 x 14.7 MB allocated at creation; all 4 frames
 *    acquired and their first and last bytes written), RSS and heap measured
 *    after each destroy. Writing every page would make each cycle fault in
 *    59 MB afresh: ~0.4 s per cycle on these VMs (a first-touch page fault
 *    costs ~28 us here), far beyond the time budget; the heap-in-use column
 *    (mallinfo2) catches a leaked frame whether its pages were touched or not.
 *
 * 5. --pool-cycles (default 1,000) resolution changes of a decoder pool (AV,
 *    yuv420p, max_frames 8, min_frames 2): fp_av_pool_reconfigure() through
 *    640x360 -> 1280x720 -> 1920x1080 -> ..., two frames of the previous
 *    generation held across each change (as a decoder's references are) and
 *    released after three frames of the new one were taken; RSS and heap
 *    after each change.
 *
 * Every cycle of 1-3 writes the first byte of each plane, as a user would
 * touch the frame; the pixel pages are otherwise left alone (writing 3 MB per
 * cycle would measure memset, not the pool). RSS (/proc/self/statm) is
 * sampled 100 times per run; the slope is the least-squares fit over the
 * samples after the first 10% (warm-up), in bytes per million cycles.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/frame.h>

#include <framepool/av.h>
#include <framepool/framepool.h>
#ifdef HAVE_FP_VPL
# include <framepool/vpl.h>
#endif

#include "bench.h"

#define SAMPLES 100
#define WARMUP_FRACTION 0.10
#define PAGE_BYTES 4096.0

typedef struct series {
    const char *key, *label, *color;
    int n;                        ///< samples taken
    double x[SAMPLES + 1];        ///< cycles at the sample
    double y[SAMPLES + 1];        ///< RSS bytes
    double heap[SAMPLES + 1];     ///< malloc'd bytes in use (mallinfo2: uordblks + hblkhd)
    uint64_t cycles;              ///< cycles run
    double seconds;               ///< wall time
    double slope;                 ///< bytes per cycle after warm-up
    double growth;                ///< RSS at the end - RSS at the end of warm-up, bytes
    double fit_growth;            ///< slope * cycles after warm-up, bytes
    double lo, hi;                ///< min/max RSS after warm-up
    double heap_slope;            ///< bytes per cycle of heap in use after warm-up
    double heap_growth;           ///< heap in use at the end - at the end of warm-up
} series;

typedef struct options {
    uint64_t cycles;
    int pool_cycles;
    const char *plot, *json;
} options;

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void sample(series *s, uint64_t cycles)
{
    if (s->n > SAMPLES)
        return;
    s->x[s->n] = (double)cycles;
    s->y[s->n] = (double)bench_rss_bytes();
    s->heap[s->n] = (double)heap_in_use();
    s->n++;
}

static void analyse(series *s)
{
    int first = 0;
    double warm = s->x[s->n - 1] * WARMUP_FRACTION;
    while (first < s->n - 2 && s->x[first] < warm)
        first++;
    int m = s->n - first;
    s->slope = bench_slope(s->x + first, s->y + first, m);
    s->growth = s->y[s->n - 1] - s->y[first];
    s->fit_growth = s->slope * (s->x[s->n - 1] - s->x[first]);
    s->heap_slope = bench_slope(s->x + first, s->heap + first, m);
    s->heap_growth = s->heap[s->n - 1] - s->heap[first];
    s->lo = s->hi = s->y[first];
    for (int i = first; i < s->n; i++) {
        if (s->y[i] < s->lo)
            s->lo = s->y[i];
        if (s->y[i] > s->hi)
            s->hi = s->y[i];
    }
}

/* Zero growth, as far as RSS can tell: its unit is a page, so the fitted
 * growth over the measured window must stay below one page. */
static int zero_growth(const series *s)
{
    return s->fit_growth < PAGE_BYTES;
}

static void touch(uint8_t *const data[], int planes, uint64_t i)
{
    for (int p = 0; p < planes; p++)
        if (data[p])
            data[p][0] = (uint8_t)i;
}

static void progress(const series *s, uint64_t i, uint64_t total)
{
    printf("  %-28s %10" PRIu64 " / %" PRIu64 " cycles  RSS %8.2f MiB\n", s->label, i, total,
           (double)bench_rss_bytes() / 1048576.0);
    fflush(stdout);
}

static fp_pool *make_core_pool(void)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "soak-core";
    cfg.format = FP_FMT_YUV420P;
    cfg.width = 1920;
    cfg.height = 1080;
    cfg.min_frames = 8;
    cfg.max_frames = 8;
    fp_pool *pool;
    if (fp_pool_create(&pool, &cfg) < 0)
        bench_die("fp_pool_create failed");
    return pool;
}

/* Samples are taken every cycles / SAMPLES cycles. */
static uint64_t sample_every(uint64_t cycles)
{
    return cycles / SAMPLES ? cycles / SAMPLES : 1;
}

/* After cycle i: an RSS sample when one is due, and a progress line every
 * tenth sample. Returns whether it sampled. */
static bool tick(series *s, uint64_t i, uint64_t every, uint64_t cycles)
{
    if (i % every)
        return false;
    sample(s, i);
    if (i % (every * 10) == 0)
        progress(s, i, cycles);
    return true;
}

static void run_core(series *s, uint64_t cycles)
{
    fp_pool *pool = make_core_pool();
    uint64_t every = sample_every(cycles), t0 = bench_now_ns();
    sample(s, 0);
    for (uint64_t i = 1; i <= cycles; i++) {
        fp_frame *f;
        if (fp_pool_acquire(pool, 0, &f) < 0)
            bench_die("fp_pool_acquire failed");
        touch(f->data, 3, i);
        fp_frame_unref(&f);
        tick(s, i, every, cycles);
    }
    s->seconds = (double)(bench_now_ns() - t0) / 1e9;
    s->cycles = cycles;
    fp_pool_unref(&pool);
}

static void run_av(series *s, uint64_t cycles)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "soak-av";
    cfg.min_frames = 8;
    cfg.max_frames = 8;
    fp_pool *pool;
    if (fp_av_pool_create(&pool, AV_PIX_FMT_YUV420P, 1920, 1080, &cfg) < 0)
        bench_die("fp_av_pool_create failed");
    uint64_t every = sample_every(cycles), t0 = bench_now_ns();
    sample(s, 0);
    for (uint64_t i = 1; i <= cycles; i++) {
        AVFrame *f;
        if (fp_av_acquire(pool, 0, &f) < 0)
            bench_die("fp_av_acquire failed");
        touch(f->data, 3, i);
        av_frame_free(&f);
        tick(s, i, every, cycles);
    }
    s->seconds = (double)(bench_now_ns() - t0) / 1e9;
    s->cycles = cycles;
    fp_pool_unref(&pool);
}

/* Samples at the same cycle counts as the pooled runs, until the time is up. */
static void run_ffmpeg(series *s, uint64_t cycles, double budget_s)
{
    uint64_t every = sample_every(cycles), t0 = bench_now_ns();
    uint64_t budget_ns = (uint64_t)(budget_s * 1e9), i;
    sample(s, 0);
    for (i = 1; i <= cycles; i++) {
        AVFrame *f = av_frame_alloc();
        if (!f)
            bench_die("av_frame_alloc failed");
        f->format = AV_PIX_FMT_YUV420P;
        f->width = 1920;
        f->height = 1080;
        if (av_frame_get_buffer(f, 0) < 0)
            bench_die("av_frame_get_buffer failed");
        touch(f->data, 3, i);
        av_frame_free(&f);
        if (tick(s, i, every, cycles) && bench_now_ns() - t0 >= budget_ns)
            break;
    }
    s->seconds = (double)(bench_now_ns() - t0) / 1e9;
    s->cycles = i > cycles ? cycles : i;
}

static void run_create_destroy(series *s, int cycles)
{
    uint64_t every = sample_every((uint64_t)cycles), t0 = bench_now_ns();
    sample(s, 0);
    for (int i = 1; i <= cycles; i++) {
        fp_pool_config cfg;
        fp_pool_config_default(&cfg);
        cfg.name = "soak-bgra";
        cfg.format = FP_FMT_BGRA;
        cfg.width = 2560;
        cfg.height = 1440;
        cfg.min_frames = 4;
        cfg.max_frames = 8;
        fp_pool *pool;
        if (fp_pool_create(&pool, &cfg) < 0)
            bench_die("fp_pool_create (2560x1440 BGRA) failed");
        fp_frame *f[4];
        for (int k = 0; k < 4; k++) {
            if (fp_pool_acquire(pool, 0, &f[k]) < 0)
                bench_die("fp_pool_acquire failed");
            f[k]->data[0][0] = (uint8_t)i;
            f[k]->data[0][f[k]->size - 1] = (uint8_t)i;
        }
        for (int k = 0; k < 4; k++)
            fp_frame_unref(&f[k]);
        fp_pool_unref(&pool);
        tick(s, (uint64_t)i, every, (uint64_t)cycles);
    }
    s->seconds = (double)(bench_now_ns() - t0) / 1e9;
    s->cycles = (uint64_t)cycles;
}

static void touch_corners(AVFrame *f, int i)
{
    f->data[0][0] = (uint8_t)i;
    f->data[0][(size_t)f->linesize[0] * (size_t)(f->height - 1) + (size_t)f->width - 1] = (uint8_t)i;
}

static void run_resolution_changes(series *s, int cycles)
{
    static const int sizes[3][2] = { { 640, 360 }, { 1280, 720 }, { 1920, 1080 } };
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "soak-generations";
    cfg.max_frames = 8;
    cfg.min_frames = 2;
    fp_pool *pool;
    if (fp_av_pool_create(&pool, AV_PIX_FMT_YUV420P, 640, 360, &cfg) < 0)
        bench_die("fp_av_pool_create failed");
    AVFrame *held[2] = { NULL, NULL };
    for (int k = 0; k < 2; k++) {
        if (fp_av_acquire(pool, 0, &held[k]) < 0)
            bench_die("fp_av_acquire failed");
        touch_corners(held[k], 0);
    }
    uint64_t every = sample_every((uint64_t)cycles), t0 = bench_now_ns();
    sample(s, 0);
    for (int i = 1; i <= cycles; i++) {
        const int *wh = sizes[i % 3];
        if (fp_av_pool_reconfigure(pool, AV_PIX_FMT_YUV420P, wh[0], wh[1]) != i + 1)
            bench_die("fp_av_pool_reconfigure failed");
        AVFrame *f[3];
        for (int k = 0; k < 3; k++) {
            if (fp_av_acquire(pool, 0, &f[k]) < 0)
                bench_die("fp_av_acquire after a resolution change failed");
            if (f[k]->width != wh[0])
                bench_die("a frame of an older generation was handed out");
            touch_corners(f[k], i);
        }
        av_frame_free(&held[0]);
        av_frame_free(&held[1]);
        held[0] = f[0];
        held[1] = f[1];
        av_frame_free(&f[2]);
        tick(s, (uint64_t)i, every, (uint64_t)cycles);
    }
    s->seconds = (double)(bench_now_ns() - t0) / 1e9;
    s->cycles = (uint64_t)cycles;
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    if (st.old_generation_live != 0 || st.generation != (uint32_t)cycles + 1)
        bench_die("generation books wrong after the resolution changes");
    av_frame_free(&held[0]);
    av_frame_free(&held[1]);
    fp_pool_unref(&pool);
}

/* ------------------------------------------------------------------------- */
/* Bookkeeping per slot                                                      */

typedef struct bookkeeping {
    const char *kind;
    int capacity, min_frames;
    double stats_per_slot; ///< (reserved_bytes - allocated * frame_bytes) / capacity
    double heap_per_slot;  ///< malloc'd bytes (mallinfo2) of creating the pool, minus pixels, / capacity
} bookkeeping;

enum { BK_CORE, BK_AV, BK_VPL };

static bookkeeping measure_bookkeeping(int kind, int capacity, int min_frames)
{
    static const char *const names[] = { "core pool", "AVFrame pool", "oneVPL pool" };
    bookkeeping b = { names[kind], capacity, min_frames, 0, 0 };
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.min_frames = min_frames;
    cfg.max_frames = capacity;
    size_t before = heap_in_use();
    fp_pool *pool;
    int ret;
    if (kind == BK_AV) {
        ret = fp_av_pool_create(&pool, AV_PIX_FMT_YUV420P, 1920, 1080, &cfg);
#ifdef HAVE_FP_VPL
    } else if (kind == BK_VPL) {
        mfxFrameInfo info;
        memset(&info, 0, sizeof(info));
        info.FourCC = MFX_FOURCC_I420;
        info.ChromaFormat = MFX_CHROMAFORMAT_YUV420;
        info.Width = 1920;
        info.Height = 1088;
        info.CropW = 1920;
        info.CropH = 1080;
        info.PicStruct = MFX_PICSTRUCT_PROGRESSIVE;
        ret = fp_vpl_pool_create(&pool, &info, &cfg);
#endif
    } else {
        cfg.format = FP_FMT_YUV420P;
        cfg.width = 1920;
        cfg.height = 1080;
        ret = fp_pool_create(&pool, &cfg);
    }
    if (ret < 0)
        bench_die("pool for bookkeeping: %s", fp_strerror(ret));
    size_t after = heap_in_use();
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    double pixels = (double)st.allocated * (double)st.frame_bytes;
    b.stats_per_slot = ((double)st.reserved_bytes - pixels) / capacity;
    b.heap_per_slot = ((double)(after - before) - pixels) / capacity;
    fp_pool_unref(&pool);
    return b;
}

/* ------------------------------------------------------------------------- */
/* SVG                                                                       */

static double nice_step(double range, int ticks)
{
    double raw = range / ticks, mag = 1;
    while (mag * 10 <= raw)
        mag *= 10;
    while (mag > raw)
        mag /= 10;
    double r = raw / mag;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

static void svg_text(FILE *f, double x, double y, const char *anchor, int size, const char *weight, const char *text)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\"%s%s%s>", x, y, anchor, size,
            weight ? " font-weight=\"" : "", weight ? weight : "", weight ? "\"" : "");
    for (const char *p = text; *p; p++) {
        if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '>')
            fputs("&gt;", f);
        else if (*p == '&')
            fputs("&amp;", f);
        else
            fputc(*p, f);
    }
    fputs("</text>\n", f);
}

/* One chart: RSS (MiB) against cycles (x / xdiv, labelled xunit). */
static void svg_panel(FILE *f, double px, double py, double pw, double ph, const char *title, const char *xunit,
                      double xdiv, series *const *ss, int ns, const char *const *legend)
{
    double l = px + 70, r = px + pw - 20, t = py + 40, b = py + ph - 56 - 18.0 * ns;
    double xmax = 0, ymax = 0;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < ss[k]->n; i++) {
            if (ss[k]->x[i] / xdiv > xmax)
                xmax = ss[k]->x[i] / xdiv;
            if (ss[k]->y[i] / 1048576.0 > ymax)
                ymax = ss[k]->y[i] / 1048576.0;
        }
    if (xmax <= 0)
        xmax = 1;
    double ystep = nice_step(ymax > 0 ? ymax * 1.15 : 1, 5), xstep = nice_step(xmax, 5);
    double ytop = ystep * (double)(int)(ymax * 1.15 / ystep + 1);
    double xtop = xstep * (double)(int)(xmax / xstep + 0.999);
    if (xtop < xmax)
        xtop += xstep;
#define SX(v) (l + (v) / xtop * (r - l))
#define SY(v) (b - (v) / ytop * (b - t))
    svg_text(f, px + pw / 2, py + 22, "middle", 15, "bold", title);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999\"/>\n", l, t,
            r - l, b - t);
    char buf[160];
    for (double v = 0; v <= ytop + ystep / 2; v += ystep) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", l, SY(v), r, SY(v));
        snprintf(buf, sizeof(buf), "%g", v);
        svg_text(f, l - 6, SY(v) + 4, "end", 11, NULL, buf);
    }
    for (double v = 0; v <= xtop + xstep / 2; v += xstep) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", SX(v), t, SX(v), b);
        snprintf(buf, sizeof(buf), "%g", v);
        svg_text(f, SX(v), b + 16, "middle", 11, NULL, buf);
    }
    svg_text(f, (l + r) / 2, b + 36, "middle", 12, NULL, xunit);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 %.1f %.1f)\">"
               "resident memory (MiB)</text>\n",
            px + 18, (t + b) / 2, px + 18, (t + b) / 2);
    for (int k = 0; k < ns; k++) {
        const series *s = ss[k];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", s->color);
        for (int i = 0; i < s->n; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", SX(s->x[i] / xdiv), SY(s->y[i] / 1048576.0));
        fputs("\"/>\n", f);
        double ly = b + 58 + 18 * k;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>\n", l + 12,
                ly - 4, l + 36, ly - 4, s->color);
        svg_text(f, l + 42, ly, "start", 12, NULL, legend[k]);
    }
#undef SX
#undef SY
}

static void legend_line(char *buf, size_t n, const series *s, double per, const char *unit)
{
    snprintf(buf, n, "%s (%.3gM cycles, %.1f s): %.1f..%.1f MiB, slope %+.0f B per %s", s->label,
             (double)s->cycles / 1e6, s->seconds, s->lo / 1048576.0, s->hi / 1048576.0, s->slope * per, unit);
}

static void write_svg(const char *path, series *core, series *av, series *ff, series *cd, const bench_machine *m)
{
    FILE *f = bench_fopen(path);
    double w = 900, h = 800;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            w, h, w, h);
    char l0[200], l1[200], l2[200], l3[200], title[400];
    legend_line(l0, sizeof(l0), core, 1e6, "1M cycles");
    legend_line(l1, sizeof(l1), av, 1e6, "1M cycles");
    legend_line(l2, sizeof(l2), ff, 1e6, "1M cycles");
    series *top[] = { core, av, ff };
    const char *const top_legend[] = { l0, l1, l2 };
    svg_panel(f, 0, 0, w, 480, "RSS over acquire/release cycles: 1920x1080 yuv420p, pools of 8 frames",
              "cycles (millions)", 1e6, top, 3, top_legend);
    snprintf(l3, sizeof(l3), "create/destroy (%d cycles, %.1f s): %.1f..%.1f MiB, slope %+.0f B per 1000 cycles",
             (int)cd->cycles, cd->seconds, cd->lo / 1048576.0, cd->hi / 1048576.0, cd->slope * 1000);
    series *bottom[] = { cd };
    const char *const bottom_legend[] = { l3 };
    svg_panel(f, 0, 480, w, 290, "RSS after each pool destroy: 2560x1440 BGRA, min_frames 4 (4 x 14.7 MB allocated)",
              "create/destroy cycles", 1, bottom, 1, bottom_legend);
    snprintf(title, sizeof(title), "bench/soak, %s, %s (%d CPUs), %s", m->date, m->cpu, m->nproc, m->kernel);
    svg_text(f, w / 2, h - 10, "middle", 11, NULL, title);
    fputs("</svg>\n", f);
    if (fclose(f))
        bench_die("writing %s failed", path);
}

/* ------------------------------------------------------------------------- */

static void json_series(FILE *f, const series *s, int last)
{
    fprintf(f, "    {\"key\": \"%s\", \"label\": ", s->key);
    bench_json_str(f, s->label);
    fprintf(f,
            ", \"cycles\": %" PRIu64 ", \"seconds\": %.3f, \"slope_bytes_per_cycle\": %.6f, "
            "\"slope_bytes_per_million\": %.1f, \"growth_after_warmup_bytes\": %.0f, \"fit_growth_bytes\": %.0f, "
            "\"rss_min\": %.0f, \"rss_max\": %.0f, \"zero_growth\": %s, \"heap_slope_bytes_per_cycle\": %.6f, "
            "\"heap_growth_after_warmup_bytes\": %.0f,\n     \"samples_cycles_rss_heap\": [",
            s->cycles, s->seconds, s->slope, s->slope * 1e6, s->growth, s->fit_growth, s->lo, s->hi,
            zero_growth(s) ? "true" : "false", s->heap_slope, s->heap_growth);
    for (int i = 0; i < s->n; i++)
        fprintf(f, "%s[%.0f, %.0f, %.0f]", i ? ", " : "", s->x[i], s->y[i], s->heap[i]);
    fprintf(f, "]}%s\n", last ? "" : ",");
}

static void print_series(const series *s, double per, const char *unit)
{
    printf("  %-25s %9" PRIu64 " %7.2f  %7.2f..%7.2f  %+10.1f B %+8.0f B  %+10.1f B %+8.0f B  %s per %s\n",
           s->label, s->cycles, s->seconds, s->lo / 1048576.0, s->hi / 1048576.0, s->slope * per, s->growth,
           s->heap_slope * per, s->heap_growth, zero_growth(s) ? "met   " : "MISSED", unit);
}

static void usage(void)
{
    fprintf(stderr, "usage: soak [--cycles N] [--pool-cycles N] [--quick] [--plot FILE.svg] [--json FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    options o = { .cycles = 10000000, .pool_cycles = 1000 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--cycles") && v && strtoull(v, NULL, 10) >= 100)
            o.cycles = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--pool-cycles") && v && atoi(v) >= 10)
            o.pool_cycles = atoi(v), i++;
        else if (!strcmp(a, "--quick"))
            o.cycles = 1000000, o.pool_cycles = 100;
        else if (!strcmp(a, "--plot") && v)
            o.plot = v, i++;
        else if (!strcmp(a, "--json") && v)
            o.json = v, i++;
        else
            usage();
    }
    bench_become_multithreaded();
    av_log_set_level(AV_LOG_ERROR);
    bench_machine m;
    bench_machine_get(&m);
    printf("framepool bench/soak: resident memory over cycles\nmachine: ");
    bench_machine_print(&m, stdout);
    printf("FFmpeg %s (libavcodec %d.%d.%d linked)\n", av_version_info(), (int)(avcodec_version() >> 16),
           (int)(avcodec_version() >> 8 & 0xff), (int)(avcodec_version() & 0xff));
    printf("RSS sampled %d times per run; slope: least squares after the first %.0f%% of cycles\n\n", SAMPLES,
           WARMUP_FRACTION * 100);
    fflush(stdout);

    static series core = { .key = "fp_core", .label = "framepool core", .color = "#1f77b4" };
    static series av = { .key = "fp_av", .label = "framepool AVFrame", .color = "#2ca02c" };
    static series ff = { .key = "ff_unpooled", .label = "FFmpeg unpooled", .color = "#d62728" };
    static series cd = { .key = "create_destroy", .label = "create/destroy 2560x1440", .color = "#9467bd" };
    static series rc = { .key = "resolution_changes", .label = "decoder pool resolution changes", .color = "#8c564b" };

    run_core(&core, o.cycles);
    run_av(&av, o.cycles);
    printf("  (FFmpeg unpooled runs as long as the framepool AVFrame run took, %.2f s, at most %" PRIu64
           " cycles)\n", av.seconds, o.cycles);
    fflush(stdout);
    run_ffmpeg(&ff, o.cycles, av.seconds);
    run_create_destroy(&cd, o.pool_cycles);
    run_resolution_changes(&rc, o.pool_cycles);
    analyse(&core);
    analyse(&av);
    analyse(&ff);
    analyse(&cd);
    analyse(&rc);

    printf("\nafter warm-up (the first 10%% of cycles): RSS range, least-squares slope and end-start growth;\n"
           "heap = malloc'd bytes in use (mallinfo2); zero growth = fitted RSS growth below one 4 KiB page\n");
    printf("  %-25s %9s %7s  %16s  %12s %10s  %12s %10s  %s\n", "run", "cycles", "seconds", "RSS MiB",
           "RSS slope", "growth", "heap slope", "growth", "zero growth; slopes");
    print_series(&core, 1e6, "1M cycles");
    print_series(&av, 1e6, "1M cycles");
    print_series(&ff, 1e6, "1M cycles");
    print_series(&cd, 1000, "1000 cycles");
    print_series(&rc, 1000, "1000 changes");

    bookkeeping bk[] = {
        measure_bookkeeping(BK_CORE, 8, 8), measure_bookkeeping(BK_CORE, 64, 0),
        measure_bookkeeping(BK_CORE, 1024, 0), measure_bookkeeping(BK_AV, 8, 8),
        measure_bookkeeping(BK_AV, 64, 0), measure_bookkeeping(BK_AV, 1024, 0),
#ifdef HAVE_FP_VPL
        measure_bookkeeping(BK_VPL, 8, 8), measure_bookkeeping(BK_VPL, 64, 0),
        measure_bookkeeping(BK_VPL, 1024, 0),
#endif
    };
    int nbk = (int)(sizeof(bk) / sizeof(bk[0]));
    printf("\nbookkeeping beyond pixel memory, spread over the slots (the pool's fixed part included):\n");
    printf("  %-14s %8s %10s  %26s  %24s\n", "pool", "capacity", "min_frames", "fp_pool_stats (reserved)",
           "heap (mallinfo2) check");
    for (int i = 0; i < nbk; i++)
        printf("  %-14s %8d %10d  %20.1f B %-5s %20.1f B %s\n", bk[i].kind, bk[i].capacity, bk[i].min_frames,
               bk[i].stats_per_slot, bk[i].stats_per_slot <= 256 ? "<=256" : ">256", bk[i].heap_per_slot,
               bk[i].heap_per_slot <= 256 ? "<=256" : ">256");
    /* Split into a per-slot and a per-pool part from each kind's two pools
     * without pixels (64 and 1024 slots). */
    double marginal[3], fixed[3], hmarginal[3], hfixed[3];
    int nkinds = nbk / 3;
    for (int k = 0; k < nkinds; k++) {
        const bookkeeping *b64 = &bk[3 * k + 1], *b1k = &bk[3 * k + 2];
        marginal[k] = (b1k->stats_per_slot * 1024 - b64->stats_per_slot * 64) / (1024 - 64);
        fixed[k] = b64->stats_per_slot * 64 - marginal[k] * 64;
        hmarginal[k] = (b1k->heap_per_slot * 1024 - b64->heap_per_slot * 64) / (1024 - 64);
        hfixed[k] = b64->heap_per_slot * 64 - hmarginal[k] * 64;
        printf("  %-14s split: %5.1f B per slot + %4.0f B per pool (stats); %5.1f B per slot + %4.0f B per pool "
               "(heap)\n",
               b64->kind, marginal[k], fixed[k], hmarginal[k], hfixed[k]);
    }
    /* The target is per slot: each slot's own bookkeeping, which is what
     * grows with max_frames; the pool's fixed part is printed beside it. */
    printf("doc/design.md target \"bookkeeping <= 256 bytes per slot beyond the pixel memory\" (per slot, from the split):\n");
    for (int k = 0; k < nkinds; k++)
        printf("  %-14s %5.1f B per slot (heap check %5.1f B)  %s\n", bk[3 * k].kind, marginal[k], hmarginal[k],
               marginal[k] <= 256 && hmarginal[k] <= 256 ? "met" : "MISSED");

    if (o.plot) {
        write_svg(o.plot, &core, &av, &ff, &cd, &m);
        printf("\nplot: %s\n", o.plot);
    }
    if (o.json) {
        FILE *f = bench_fopen(o.json);
        fputs("{\n  \"bench\": \"soak\",\n  \"machine\": ", f);
        bench_machine_json(&m, f);
        fputs(",\n  \"ffmpeg\": ", f);
        bench_json_str(f, av_version_info());
        fprintf(f, ",\n  \"warmup_fraction\": %.2f,\n  \"series\": [\n", WARMUP_FRACTION);
        json_series(f, &core, 0);
        json_series(f, &av, 0);
        json_series(f, &ff, 0);
        json_series(f, &cd, 0);
        json_series(f, &rc, 1);
        fputs("  ],\n  \"bookkeeping\": [", f);
        for (int i = 0; i < nbk; i++)
            fprintf(f, "%s\n    {\"pool\": \"%s\", \"capacity\": %d, \"min_frames\": %d, \"stats_bytes_per_slot\": %.1f, "
                       "\"heap_bytes_per_slot\": %.1f, \"met\": %s}",
                    i ? "," : "", bk[i].kind, bk[i].capacity, bk[i].min_frames, bk[i].stats_per_slot,
                    bk[i].heap_per_slot, bk[i].stats_per_slot <= 256 ? "true" : "false"); /* amortized */
        fputs("\n  ],\n  \"bookkeeping_split\": [", f);
        for (int k = 0; k < nkinds; k++)
            fprintf(f, "%s\n    {\"pool\": \"%s\", \"per_slot\": %.1f, \"per_pool\": %.0f, \"heap_per_slot\": %.1f, "
                       "\"heap_per_pool\": %.0f, \"met\": %s}",
                    k ? "," : "", bk[3 * k].kind, marginal[k], fixed[k], hmarginal[k], hfixed[k],
                    marginal[k] <= 256 && hmarginal[k] <= 256 ? "true" : "false");
        fputs("\n  ]\n}\n", f);
        if (fclose(f))
            bench_die("writing %s failed", o.json);
    }
    return 0;
}
