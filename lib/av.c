/*
 * FFmpeg adapter: pool slots as refcounted AVFrames.
 * SPDX-License-Identifier: MIT
 *
 * Every AV slot's allocation starts with a 64-byte header (a magic word and
 * the slot's fp_frame), followed by the planes. The AVBufferRef handed to
 * FFmpeg covers the whole allocation, so for any AVBufferRef we can tell
 * whether it is ours by reading 16 bytes at buf->data — memory every buffer
 * of at least that size owns — without trusting its opaque pointer.
 * The layout, plane pointers and linesizes are computed once per pool (per
 * slot when memory is attached); an acquire only fills the AVFrame.
 *
 * The library links libavutil only. fp_av_get_buffer2() needs two libavcodec
 * functions; a caller of it has libavcodec loaded, so they are looked up at
 * the first call. Not linking libavcodec keeps its dependency tree (libjxl,
 * libhwy, x264, ...) out of every program that only pools AVFrames.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/cpu.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#include "framepool/av.h"
#include "internal.h"

#ifdef FP_HAVE_VALGRIND
# include <valgrind/memcheck.h>
#endif

#define AV_HEADER 64
#define AV_MAGIC ((uint64_t)0x4650415646524d31ull) /* "FPAVFRM1" */
#define AV_ALIGN 64
#define AV_MAX_OVERDRAFT 64 /* fp_pool_config::decoder_overdraft */

/* Overdraft frames outstanding: shared by the pool and its overdraft buffers,
 * which may outlive the pool (freed by the last of them). */
typedef struct av_overdraft {
    _Atomic int refs;
    _Atomic int out;
} av_overdraft;

/* The AV part of a geometry (fp__geom::adapter): the pixel format and the
 * padded size the planes are laid out for (frames up to it fit). */
typedef struct av_geom {
    enum AVPixelFormat fmt;
    int pad_w, pad_h;
} av_geom;
_Static_assert(sizeof(av_geom) <= FP_GEOM_ADAPTER, "av_geom fits the geometry");

static av_geom av_geom_of(const fp__geom *g)
{
    av_geom a;
    memcpy(&a, g->adapter, sizeof(a));
    return a;
}

typedef struct av_pool {
    _Atomic int fallback_logged;
    int overdraft_max;             /* cfg.decoder_overdraft */
    av_overdraft *overdraft;
    /* Set by the first refusal of a burst, cleared by the next frame the
     * pool serves: one log line per burst. */
    _Atomic int exhausted_burst;
    _Atomic int bypass_logged;
} av_pool;

typedef struct av_header {
    uint64_t magic;
    uint64_t frame_key; /* the fp_frame's address ^ AV_MAGIC */
} av_header;

/* Per-slot state (fp__slot_extra): the AVBuffer behind the slot's current
 * AVBufferRefs, so the core's refcount can include FFmpeg's references
 * (av_frame_ref, an encoder's queue). FFmpeg frees the AVBuffer right after
 * our free callback returns; the callback clears `buffer` and waits for
 * `readers` to drain, so a reader that saw the pointer finishes first
 * (seq_cst on both sides: either the reader sees NULL or the callback sees
 * the reader). */
typedef struct av_slot {
    _Atomic(AVBuffer *) buffer;
    _Atomic int readers;
} av_slot;

static int av_refcount(fp_pool *pool, fp_slot *s, int refs)
{
    av_slot *as = fp__slot_extra(pool, s);
    atomic_fetch_add(&as->readers, 1);
    AVBuffer *b = atomic_load(&as->buffer);
    int n = 0;
    if (b) {
        AVBufferRef probe = { .buffer = b }; /* av_buffer_get_ref_count reads ->buffer only */
        n = av_buffer_get_ref_count(&probe);
    }
    atomic_fetch_sub_explicit(&as->readers, 1, REL);
    /* The AVBuffer holds one core reference; its own count replaces it. */
    if (!b)
        return refs;
    return refs - 1 + n > 0 ? refs - 1 + n : 0;
}

/*
 * Pixel memory is zeroed once, when the slot gets it (as libavcodec's default
 * get_buffer2 does with av_buffer_allocz): some decoders read bytes of their
 * frames they never write (h264 among them), so without this their output
 * would depend on whatever the allocator returned, another stream's pixels
 * included. Reacquiring a backed slot costs nothing: it keeps its pixels, as
 * a buffer from FFmpeg's own AVBufferPool does.
 */
static void av_slot_backed(fp_pool *pool, fp_slot *s)
{
    av_header h = { AV_MAGIC, (uint64_t)(uintptr_t)&s->frame ^ AV_MAGIC };
    memcpy(s->mem, &h, sizeof(h));
    memset(s->mem + sizeof(h), 0, fp__slot_geom(pool, s)->layout.alloc_size - sizeof(h));
}

static void overdraft_unref(av_overdraft *od)
{
    if (atomic_fetch_sub_explicit(&od->refs, 1, memory_order_acq_rel) == 1)
        free(od);
}

static void av_destroy(fp_pool *pool)
{
    av_pool *st = pool->adapter;
    if (st)
        overdraft_unref(st->overdraft);
    free(st);
}

static int av_reconfigure(fp_pool *pool, const fp_pool_config *cfg, fp__geom *g);

static const fp__pool_ops av_ops = {
    .kind = "av",
    .slot_backed = av_slot_backed,
    .destroy = av_destroy,
    .reconfigure = av_reconfigure,
    .refcount = av_refcount,
};

/* Checks the pointer before reading through it (AVCodecContext.opaque may
 * be anything). */
static int not_av_pool(fp_pool *pool, const char *what);

static av_pool *av_state(const fp_pool *pool)
{
    return fp__pool_check(pool) && pool->ops == &av_ops ? pool->adapter : NULL;
}

static enum fp_format core_format(enum AVPixelFormat fmt)
{
    switch (fmt) {
    case AV_PIX_FMT_YUV420P: return FP_FMT_YUV420P;
    case AV_PIX_FMT_NV12: return FP_FMT_NV12;
    case AV_PIX_FMT_P010LE: return FP_FMT_P010;
    case AV_PIX_FMT_YUV422P: return FP_FMT_YUV422P;
    case AV_PIX_FMT_YUV444P: return FP_FMT_YUV444P;
    case AV_PIX_FMT_YUYV422: return FP_FMT_YUYV422;
    case AV_PIX_FMT_BGRA: return FP_FMT_BGRA;
    case AV_PIX_FMT_RGBA: return FP_FMT_RGBA;
    case AV_PIX_FMT_GRAY8: return FP_FMT_GRAY8;
    default: return FP_FMT_NONE;
    }
}

/* The padding every AV geometry has at least: width to 64, height to 32 + 2
 * (H.264's avcodec_align_dimensions2() adds 2 rows). */
static int default_pad_w(int w) { return (int)fp__align_up((size_t)w, 64); }
static int default_pad_h(int h) { return (int)fp__align_up((size_t)h, 32) + 2; }

/* libavutil's own plane math on the padded geometry pad_w x pad_h (0: the
 * default padding of w x h). */
static int av_layout(enum AVPixelFormat fmt, int w, int h, int pad_w, int pad_h, int align, fp__layout *out,
                     const char **why)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
    *out = (fp__layout){ 0 };
    if (!d) {
        *why = "is not a pixel format libavutil knows";
        return FP_ERR(EINVAL);
    }
    if (d->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM)) {
        *why = "is a hardware or bitstream format (not supported)";
        return FP_ERR(EINVAL);
    }
    if (w < 1 || w > FP_MAX_DIMENSION || h < 1 || h > FP_MAX_DIMENSION) {
        *why = "geometry is outside 1..32768";
        return FP_ERR(EINVAL);
    }
    if (pad_w < w || pad_h < h) {
        *why = "padding smaller than the frame";
        return FP_ERR(EINVAL);
    }
    int lines[4];
    if (av_image_fill_linesizes(lines, fmt, pad_w) < 0) {
        *why = "cannot be laid out by libavutil";
        return FP_ERR(EINVAL);
    }
    ptrdiff_t l[4];
    for (int i = 0; i < 4; i++)
        l[i] = (ptrdiff_t)fp__align_up((size_t)lines[i], (size_t)align);
    size_t sizes[4];
    if (av_image_fill_plane_sizes(sizes, fmt, pad_h, l) < 0) {
        *why = "frame size overflows";
        return FP_ERR(EOVERFLOW);
    }
    /* Palette formats (pal8): libavutil sizes plane 1 as the 256 x 4-byte
     * palette, linesize 0, as av_frame_get_buffer() lays it out. */
    size_t off = fp__align_up(AV_HEADER, (size_t)align); /* planes aligned even after the header */
    for (int i = 0; i < 4 && sizes[i]; i++) {
        if (l[i] > INT32_MAX || sizes[i] > SIZE_MAX / 2 - off) {
            *why = "frame size overflows";
            return FP_ERR(EOVERFLOW);
        }
        out->linesize[i] = (int)l[i];
        out->offset[i] = off;
        off = fp__align_up(off + sizes[i], (size_t)align);
        out->nb_planes = i + 1;
    }
    out->size = off;
    out->alloc_size = off + AV_INPUT_BUFFER_PADDING_SIZE;
    return 0;
}

/* Fills a geometry for fmt at w x h, laid out for pad_w x pad_h. */
static int av_make_geom(enum AVPixelFormat fmt, int w, int h, int pad_w, int pad_h, int align, fp__geom *g,
                        const char **why)
{
    memset(g, 0, sizeof(*g));
    int ret = av_layout(fmt, w, h, pad_w, pad_h, align, &g->layout, why);
    if (ret < 0)
        return ret;
    g->format = core_format(fmt);
    g->width = w;
    g->height = h;
    g->mem_align = (size_t)align;
    av_geom a = { fmt, pad_w, pad_h };
    memcpy(g->adapter, &a, sizeof(a));
    return 0;
}

static enum AVPixelFormat av_format_of_core(enum fp_format f)
{
    for (int i = 0; i < AV_PIX_FMT_NB; i++)
        if (core_format((enum AVPixelFormat)i) == f && f != FP_FMT_NONE)
            return (enum AVPixelFormat)i;
    return AV_PIX_FMT_NONE;
}

/* fp_pool_reconfigure() on an AV pool: cfg.format FP_FMT_NONE keeps the
 * pixel format; the default padding. */
static int av_reconfigure(fp_pool *pool, const fp_pool_config *cfg, fp__geom *g)
{
    fp__geom cur;
    fp__pool_geom_copy(pool, &cur);
    enum AVPixelFormat fmt = cfg->format == FP_FMT_NONE ? av_geom_of(&cur).fmt : av_format_of_core(cfg->format);
    if (fmt == AV_PIX_FMT_NONE) {
        fp__log(pool, FP_LOG_ERROR, "fp_pool_reconfigure: %s", cfg->format == FP_FMT_NONE
                    ? "the pool has no pixel format yet: give cfg.format, or use fp_av_pool_reconfigure()"
                    : "cfg.format has no FFmpeg pixel format");
        return FP_ERR(EINVAL);
    }
    if (cfg->buffer_size || !fp__align_ok(cfg->align)) {
        fp__log(pool, FP_LOG_ERROR, "fp_pool_reconfigure: %s", cfg->buffer_size ? "cfg.buffer_size must be 0 for video frames"
                                                                                : "cfg.align is not a power of two in 1..4096");
        return FP_ERR(EINVAL);
    }
    int align = cfg->align > AV_ALIGN ? cfg->align : AV_ALIGN;
    const char *why = NULL;
    int ret = av_make_geom(fmt, cfg->width, cfg->height, default_pad_w(cfg->width), default_pad_h(cfg->height), align,
                           g, &why);
    if (ret < 0)
        fp__log(pool, FP_LOG_ERROR, "fp_pool_reconfigure: pixel format %s at %dx%d: %s",
                av_get_pix_fmt_name(fmt) ? av_get_pix_fmt_name(fmt) : "?", cfg->width, cfg->height, why);
    return ret;
}

int fp_av_pool_reconfigure(fp_pool *pool, enum AVPixelFormat fmt, int width, int height)
{
    if (!av_state(pool))
        return not_av_pool(pool, "fp_av_pool_reconfigure");
    fp__geom cur, g;
    fp__pool_geom_copy(pool, &cur);
    int align = cur.mem_align > AV_ALIGN ? (int)cur.mem_align : AV_ALIGN;
    const char *why = NULL;
    int ret = av_make_geom(fmt, width, height, default_pad_w(width), default_pad_h(height), align, &g, &why);
    if (ret < 0) {
        const char *name = av_get_pix_fmt_name(fmt);
        fp__log(pool, FP_LOG_ERROR, "fp_av_pool_reconfigure: pixel format %s (%d) at %dx%d: %s", name ? name : "?",
                (int)fmt, width, height, why);
        return ret;
    }
    return fp__pool_set_geometry(pool, &g);
}

static int pool_create_site(fp_pool **out, enum AVPixelFormat fmt, int width, int height,
                            const fp_pool_config *user, const fp_site *site)
{
    fp_pool_config cfg;
    if (out)
        *out = NULL;
    if (user) {
        cfg = *user;
    } else {
        fp_pool_config_default(&cfg);
        cfg.max_frames = 16;
    }
    if (!out) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "fp_av_pool_create: out is NULL");
        return FP_ERR(EINVAL);
    }
    /* AV_PIX_FMT_NONE, 0, 0: a decoder pool that gets its geometry from the
     * decoder's first request (fp_av_get_buffer2). */
    bool later = fmt == AV_PIX_FMT_NONE && width == 0 && height == 0;
    const char *name = av_get_pix_fmt_name(fmt);
    enum fp_format core = core_format(fmt);
    if (cfg.format != FP_FMT_NONE && (later || cfg.format != core)) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "fp_av_pool_create: cfg.format %s conflicts with pixel format %s",
                   fp__format_name(cfg.format), name ? name : "none");
        return FP_ERR(EINVAL);
    }
    if ((cfg.width && cfg.width != width) || (cfg.height && cfg.height != height)) {
        int bad_w = cfg.width && cfg.width != width;
        fp__log_cfg(&cfg, FP_LOG_ERROR, "fp_av_pool_create: cfg.%s %d conflicts with the %s argument %d",
                   bad_w ? "width" : "height", bad_w ? cfg.width : cfg.height, bad_w ? "width" : "height",
                   bad_w ? width : height);
        return FP_ERR(EINVAL);
    }
    if (cfg.buffer_size) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "fp_av_pool_create: cfg.buffer_size must be 0 for video frames");
        return FP_ERR(EINVAL);
    }
    if (!fp__align_ok(cfg.align)) {
        fp__log_bad_align(&cfg);
        return FP_ERR(EINVAL);
    }
    if (cfg.decoder_overdraft < 0 || cfg.decoder_overdraft > AV_MAX_OVERDRAFT) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "invalid config: decoder_overdraft %d is outside 0..%d", cfg.decoder_overdraft,
                    AV_MAX_OVERDRAFT);
        return FP_ERR(EINVAL);
    }
    fp__geom g;
    memset(&g, 0, sizeof(g));
    const char *why = NULL;
    int align = cfg.align > AV_ALIGN ? cfg.align : AV_ALIGN;
    int ret = later ? 0 : av_make_geom(fmt, width, height, default_pad_w(width), default_pad_h(height), align, &g, &why);
    if (ret < 0) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "fp_av_pool_create: pixel format %s (%d) at %dx%d: %s", name ? name : "?",
                   (int)fmt, width, height, why);
        return ret;
    }
    if (later) {
        av_geom a = { AV_PIX_FMT_NONE, 0, 0 };
        memcpy(g.adapter, &a, sizeof(a));
    }
    av_pool *st = calloc(1, sizeof(*st));
    av_overdraft *od = calloc(1, sizeof(*od));
    if (!st || !od) {
        free(st);
        free(od);
        fp__log_cfg(&cfg, FP_LOG_ERROR, "fp_av_pool_create: out of memory");
        return FP_ERR(ENOMEM);
    }
    atomic_init(&od->refs, 1);
    st->overdraft = od;
    st->overdraft_max = cfg.decoder_overdraft;
    cfg.format = core;
    cfg.width = width;
    cfg.height = height;
    cfg.align = align;
    fp__pool_params params = {
        .cfg = &cfg, .layout = &g.layout, .frame_format = core, .ops = &av_ops, .adapter = st,
        .extra_size = sizeof(av_slot), .site = site, .geom_adapter = g.adapter, .no_geometry = later,
    };
    ret = fp__pool_create_ex(out, &params);
    if (ret < 0) {
        free(od);
        free(st);
    }
    return ret;
}

int fp_av_pool_create_site(fp_pool **out, enum AVPixelFormat fmt, int width, int height,
                           const fp_pool_config *user, const fp_site *site)
{
    return pool_create_site(out, fmt, width, height, user, site);
}

int fp_av_pool_create_at(fp_pool **out, enum AVPixelFormat fmt, int width, int height,
                         const fp_pool_config *user, const char *file, int line, const char *func)
{
    return pool_create_site(out, fmt, width, height, user, fp__site_intern(file, line, func));
}

/* The ABI's function (and for callers who #undef the macro): no site. */
int (fp_av_pool_create)(fp_pool **out, enum AVPixelFormat fmt, int width, int height, const fp_pool_config *user)
{
    return pool_create_site(out, fmt, width, height, user, NULL);
}

enum AVPixelFormat fp_av_pool_format(const fp_pool *pool)
{
    if (!av_state(pool))
        return AV_PIX_FMT_NONE;
    fp__geom g;
    fp__pool_geom_copy((fp_pool *)pool, &g);
    return av_geom_of(&g).fmt;
}

/* ------------------------------------------------------------------------- */

static const fp_site buffer_free_site = { "(last AVBufferRef)", "av_buffer_unref", 0 };

/* The AVBuffer's free callback: the last AVBufferRef is gone. */
static void buffer_free(void *opaque, uint8_t *data)
{
    (void)data;
    fp_frame *f = opaque;
    fp_slot *s = fp__slot_from_frame(f);
    av_slot *as = fp__slot_extra(s->pool, s);
    atomic_store(&as->buffer, NULL);
    while (atomic_load(&as->readers))
        ; /* a refcount read of a few instructions (av_refcount) */
    fp__slot_unref(s, &buffer_free_site);
}

/* Takes a slot and attaches it to `frame` as buf[0]/data/linesize; `*ag`
 * (if given) is the geometry of the frame's memory (the current one when
 * taken, or newer if the pool was reconfigured meanwhile: callers that need
 * a size check it). */
static int attach(fp_pool *pool, AVFrame *frame, int64_t timeout_us, const fp_site *site, av_geom *ag,
                  int *w, int *h)
{
    fp_frame *pf;
    int ret = fp__pool_acquire_internal(pool, timeout_us, &pf, site);
    if (ret < 0)
        return ret;
    fp_slot *s = fp__slot_from_frame(pf);
    const fp__geom *g = fp__slot_geom(pool, s); /* alive while we hold the slot */
    AVBufferRef *buf = av_buffer_create(s->mem, g->layout.size, buffer_free, pf, 0);
    if (!buf) {
        const char *file = fp__site_file(site);
        fp__log(pool, FP_LOG_ERROR, "%s:%d: out of memory creating an AVBufferRef", file ? file : "?",
               fp__site_line(site));
        fp__slot_unref(s, site);
        return FP_ERR(ENOMEM);
    }
    if (ag)
        *ag = av_geom_of(g);
    if (w)
        *w = g->width;
    if (h)
        *h = g->height;
    atomic_store_explicit(&((av_slot *)fp__slot_extra(pool, s))->buffer, buf->buffer, REL);
    frame->buf[0] = buf;
    memcpy(frame->data, pf->data, sizeof(pf->data));
    memcpy(frame->linesize, pf->linesize, sizeof(pf->linesize));
    frame->extended_data = frame->data;
    return 0;
}

/* Undoes attach() on a frame that turned out not to fit. */
static void detach_buffer(AVFrame *frame)
{
    av_buffer_unref(&frame->buf[0]);
    memset(frame->data, 0, sizeof(frame->data));
    memset(frame->linesize, 0, sizeof(frame->linesize));
    frame->extended_data = NULL;
}

static bool fits(const av_geom *a, int fmt, int w, int h)
{
    return a->fmt == fmt && w >= 1 && w <= a->pad_w && h >= 1 && h <= a->pad_h;
}

static int not_av_pool(fp_pool *pool, const char *what)
{
    if (pool && !fp__pool_check(pool)) {
        fp__misuse_global_inc();
        fp__log_cfg(NULL, FP_LOG_ERROR, "%s: %p is not a framepool pool", what, (void *)pool);
    } else if (pool)
        fp__log(pool, FP_LOG_ERROR, "%s: the pool was not made by fp_av_pool_create", what);
    else
        fp__log_cfg(NULL, FP_LOG_ERROR, "%s: pool is NULL", what);
    return FP_ERR(EINVAL);
}

int fp_av_acquire_site(fp_pool *pool, int64_t timeout_us, AVFrame **out, const fp_site *site)
{
    if (!out)
        return pool ? (fp__log(pool, FP_LOG_ERROR, "fp_av_acquire: out is NULL"), FP_ERR(EINVAL))
                    : not_av_pool(NULL, "fp_av_acquire");
    *out = NULL;
    av_pool *st = av_state(pool);
    if (!st)
        return not_av_pool(pool, "fp_av_acquire");
    AVFrame *frame = av_frame_alloc();
    if (!frame) {
        fp__log(pool, FP_LOG_ERROR, "fp_av_acquire: out of memory allocating an AVFrame");
        return FP_ERR(ENOMEM);
    }
    av_geom ag;
    int w = 0, h = 0;
    int ret = attach(pool, frame, timeout_us, site, &ag, &w, &h);
    if (ret < 0) {
        av_frame_free(&frame);
        return ret;
    }
    frame->format = ag.fmt;
    frame->width = w;
    frame->height = h;
    *out = frame;
    return 0;
}

int fp_av_acquire_at(fp_pool *pool, int64_t timeout_us, AVFrame **out, const char *file, int line,
                     const char *func)
{
    return fp_av_acquire_site(pool, timeout_us, out, fp__site_intern(file, line, func));
}

static void log_frame_mismatch(fp_pool *pool, const char *what, const char *file, int line, const AVFrame *frame,
                               const fp__geom *g, bool padded)
{
    const char *have = av_get_pix_fmt_name((enum AVPixelFormat)frame->format);
    av_geom a = av_geom_of(g);
    const char *fmt = av_get_pix_fmt_name(a.fmt);
    if (padded)
        fp__log(pool, FP_LOG_ERROR,
                "%s at %s:%d: frame is %s %dx%d, the pool holds %s %dx%d (frames up to %dx%d with its padding)",
                what, file ? file : "?", line, have ? have : "none", frame->width, frame->height, fmt ? fmt : "none",
                g->width, g->height, a.pad_w, a.pad_h);
    else
        fp__log(pool, FP_LOG_ERROR, "%s at %s:%d: frame is %s%s %dx%d, the pool holds %s up to %dx%d", what,
                file ? file : "?", line, frame->hw_frames_ctx ? "hardware " : "", have ? have : "none", frame->width,
                frame->height, fmt ? fmt : "none", g->width, g->height);
}

int fp_av_frame_get_buffer_site(fp_pool *pool, AVFrame *frame, int64_t timeout_us, const fp_site *site)
{
    const char *file = fp__site_file(site);
    int line = fp__site_line(site);
    av_pool *st = av_state(pool);
    if (!st)
        return not_av_pool(pool, "fp_av_frame_get_buffer");
    if (!frame) {
        fp__log(pool, FP_LOG_ERROR, "fp_av_frame_get_buffer at %s:%d: frame is NULL", file ? file : "?", line);
        return FP_ERR(EINVAL);
    }
    if (frame->buf[0] || frame->data[0]) {
        fp__log(pool, FP_LOG_ERROR, "fp_av_frame_get_buffer at %s:%d: the frame already has buffers (unref it first)",
               file ? file : "?", line);
        return FP_ERR(EINVAL);
    }
    /* Up to the padded geometry the planes are laid out for, so a decoder's
     * coded size (1920x1088 on a 1920x1080 pool) fits, as in get_buffer2.
     * Checked before taking a frame, and against the frame taken (the pool
     * may have been reconfigured in between). */
    fp__geom g;
    fp__pool_geom_copy(pool, &g);
    av_geom ag = av_geom_of(&g);
    if (!fits(&ag, frame->format, frame->width, frame->height)) {
        log_frame_mismatch(pool, "fp_av_frame_get_buffer", file, line, frame, &g, true);
        return FP_ERR(EINVAL);
    }
    int ret = attach(pool, frame, timeout_us, site, &ag, NULL, NULL);
    if (ret == 0 && !fits(&ag, frame->format, frame->width, frame->height)) {
        detach_buffer(frame);
        fp__pool_geom_copy(pool, &g);
        log_frame_mismatch(pool, "fp_av_frame_get_buffer", file, line, frame, &g, true);
        return FP_ERR(EINVAL);
    }
    return ret;
}

int fp_av_frame_get_buffer_at(fp_pool *pool, AVFrame *frame, int64_t timeout_us, const char *file, int line,
                              const char *func)
{
    return fp_av_frame_get_buffer_site(pool, frame, timeout_us, fp__site_intern(file, line, func));
}

/*
 * av_frame_make_writable() with the new buffer from the pool: FFmpeg's
 * version allocates with av_frame_get_buffer(), so the usual encode loop
 * (make the frame writable, fill it, send it) moves the frame out of the
 * pool the first time an encoder kept a reference.
 */
int fp_av_frame_make_writable_site(fp_pool *pool, AVFrame *frame, int64_t timeout_us, const fp_site *site)
{
    const char *file = fp__site_file(site);
    int line = fp__site_line(site);
    av_pool *st = av_state(pool);
    if (!st)
        return not_av_pool(pool, "fp_av_frame_make_writable");
    if (!frame || !frame->buf[0]) {
        fp__log(pool, FP_LOG_ERROR, "fp_av_frame_make_writable at %s:%d: %s", file ? file : "?", line,
               frame ? "the frame holds no buffer (use fp_av_frame_get_buffer)" : "frame is NULL");
        return FP_ERR(EINVAL);
    }
    if (av_frame_is_writable(frame))
        return 0;
    fp__geom g;
    fp__pool_geom_copy(pool, &g);
    av_geom ag = av_geom_of(&g);
    if (frame->hw_frames_ctx || frame->format != ag.fmt || frame->width < 1 || frame->width > g.width ||
        frame->height < 1 || frame->height > g.height) {
        log_frame_mismatch(pool, "fp_av_frame_make_writable", file, line, frame, &g, false);
        return FP_ERR(EINVAL);
    }
    AVFrame tmp;
    memset(&tmp, 0, sizeof(tmp));
    tmp.format = frame->format;
    tmp.width = frame->width;
    tmp.height = frame->height;
    int ret = attach(pool, &tmp, timeout_us, site, &ag, NULL, NULL);
    if (ret < 0)
        return ret;
    if (!fits(&ag, frame->format, frame->width, frame->height)) {
        detach_buffer(&tmp);
        fp__pool_geom_copy(pool, &g);
        log_frame_mismatch(pool, "fp_av_frame_make_writable", file, line, frame, &g, false);
        return FP_ERR(EINVAL);
    }
    if ((ret = av_frame_copy(&tmp, frame)) < 0 || (ret = av_frame_copy_props(&tmp, frame)) < 0) {
        fp__log(pool, FP_LOG_ERROR, "fp_av_frame_make_writable at %s:%d: copying the frame failed (%d)",
               file ? file : "?", line, ret);
        av_frame_unref(&tmp);
        return ret;
    }
    av_frame_unref(frame);
    *frame = tmp;
    frame->extended_data = frame->data;
    return 0;
}

int fp_av_frame_make_writable_at(fp_pool *pool, AVFrame *frame, int64_t timeout_us, const char *file, int line,
                                 const char *func)
{
    return fp_av_frame_make_writable_site(pool, frame, timeout_us, fp__site_intern(file, line, func));
}

/* ------------------------------------------------------------------------- */

typedef void (*align_fn)(AVCodecContext *, int *, int *, int[AV_NUM_DATA_POINTERS]);
typedef int (*default_get_buffer2_fn)(AVCodecContext *, AVFrame *, int);
static align_fn avc_align;
static default_get_buffer2_fn avc_default_get_buffer2;
static pthread_once_t avc_once = PTHREAD_ONCE_INIT;

#define AVC_SONAME "libavcodec.so." AV_STRINGIFY(LIBAVCODEC_VERSION_MAJOR)

static void avc_resolve(void)
{
    void *a = dlsym(RTLD_DEFAULT, "avcodec_align_dimensions2");
    void *d = dlsym(RTLD_DEFAULT, "avcodec_default_get_buffer2");
    if (!a || !d) {
        /* libavcodec loaded with RTLD_LOCAL (e.g. by a plugin): find that copy. */
        void *h = dlopen(AVC_SONAME, RTLD_NOW | RTLD_NOLOAD);
        if (h) {
            a = dlsym(h, "avcodec_align_dimensions2");
            d = dlsym(h, "avcodec_default_get_buffer2");
            dlclose(h);
        }
    }
    /* POSIX guarantees object pointers from dlsym convert to function pointers. */
    memcpy(&avc_align, &a, sizeof(a));
    memcpy(&avc_default_get_buffer2, &d, sizeof(d));
}

static int fallback(fp_pool *pool, av_pool *st, AVCodecContext *avctx, AVFrame *frame, int flags,
                    const char *why)
{
    atomic_fetch_add_explicit(&pool->get_buffer_fallbacks, 1, RLX);
    if (!atomic_exchange_explicit(&st->fallback_logged, 1, RLX)) {
        const char *have = av_get_pix_fmt_name((enum AVPixelFormat)frame->format);
        fp__log(pool, FP_LOG_WARN,
               "fp_av_get_buffer2 (%s): %s (frame %s %dx%d); using avcodec_default_get_buffer2 "
               "(logged once, counted in get_buffer_fallbacks)",
               avctx->codec ? avctx->codec->name : "?", why, have ? have : "none", frame->width, frame->height);
    }
    return avc_default_get_buffer2(avctx, frame, flags);
}

/* What the log lines about exhaustion say: the pool's numbers and the decoder's need. */
static void exhaustion_numbers(fp_pool *pool, av_pool *st, AVCodecContext *avctx, char *buf, size_t size)
{
    fp_pool_stats ps;
    fp_pool_get_stats(pool, &ps);
    snprintf(buf, size,
             "live %u of max_frames %u, overdraft %d of %d out, %llu refused, %llu overdraft so far; the decoder "
             "needs %d frames + the application's (fp_av_frames_for_decoder)",
             ps.live, ps.capacity, atomic_load_explicit(&st->overdraft->out, RLX), st->overdraft_max,
             (unsigned long long)ps.get_buffer_exhausted, (unsigned long long)ps.get_buffer_overdraft,
             fp_av_frames_for_decoder(avctx, 0));
}

/* The pool refused the decoder (after waiting get_buffer_timeout_us and
 * spending the overdraft). The decoder turns ENOBUFS into its own code
 * (EPERM, AVERROR_INVALIDDATA, ENOMEM, -1...), so the count and the log line
 * are the only place an operator can tell it was the pool. */
static void exhausted(fp_pool *pool, av_pool *st, AVCodecContext *avctx)
{
    atomic_fetch_add_explicit(&pool->get_buffer_exhausted, 1, RLX);
    if (atomic_exchange_explicit(&st->exhausted_burst, 1, RLX))
        return;
    char nums[256];
    exhaustion_numbers(pool, st, avctx, nums, sizeof(nums));
    fp__log(pool, FP_LOG_WARN,
            "fp_av_get_buffer2 (%s): pool exhausted for %lld us: ENOBUFS to the decoder (it may report another "
            "code); %s; once per burst (get_buffer_exhausted)",
            avctx->codec->name, (long long)pool->get_buffer_timeout_us, nums);
}

/* An overdraft frame's memory starts with the counter it returns to; its
 * first 16 bytes never carry AV_MAGIC (a pointer there), so it is not taken
 * for a pool frame. */
static void overdraft_free(void *opaque, uint8_t *data)
{
    (void)data;
    av_overdraft *od;
    memcpy(&od, opaque, sizeof(od));
    free(opaque);
    atomic_fetch_sub_explicit(&od->out, 1, REL);
    overdraft_unref(od);
}

/* A frame beyond max_frames, laid out exactly like the pool's current
 * geometry `g`: decoders predict from reference pictures with the current
 * picture's linesizes (H.264 does), so a frame from
 * avcodec_default_get_buffer2(), padded differently, would decode garbage.
 * Zeroed, like the default allocator's. At most overdraft_max are out at
 * once: FP_ERR(EAGAIN) when they all are. */
static int overdraft(fp_pool *pool, av_pool *st, AVCodecContext *avctx, AVFrame *frame, const fp__geom *g)
{
    av_overdraft *od = st->overdraft;
    int out = atomic_load_explicit(&od->out, RLX);
    do {
        if (out >= st->overdraft_max)
            return FP_ERR(EAGAIN);
    } while (!atomic_compare_exchange_weak_explicit(&od->out, &out, out + 1, memory_order_acq_rel, RLX));
    const fp__layout *l = &g->layout;
    void *mem = NULL;
    AVBufferRef *buf = NULL;
    if (posix_memalign(&mem, g->mem_align, l->alloc_size) == 0) {
        memset(mem, 0, l->alloc_size);
        memcpy(mem, &od, sizeof(od));
        buf = av_buffer_create(mem, l->size, overdraft_free, mem, 0);
    }
    if (!buf) {
        free(mem);
        atomic_fetch_sub_explicit(&od->out, 1, REL);
        fp__log(pool, FP_LOG_ERROR, "fp_av_get_buffer2 (%s): pool exhausted and out of memory for an overdraft frame",
                avctx->codec->name);
        return FP_ERR(ENOMEM);
    }
    atomic_fetch_add_explicit(&od->refs, 1, RLX);
    frame->buf[0] = buf;
    for (int i = 0; i < 4; i++) {
        frame->data[i] = i < l->nb_planes ? (uint8_t *)mem + l->offset[i] : NULL;
        frame->linesize[i] = i < l->nb_planes ? l->linesize[i] : 0;
    }
    frame->extended_data = frame->data;
    /* A pool one frame short takes an overdraft frame every few frames for the
     * whole stream: log the 1st, 2nd, 4th, 8th, ... not every one. */
    uint64_t n = atomic_fetch_add_explicit(&pool->get_buffer_overdraft, 1, RLX) + 1;
    if (!(n & (n - 1))) {
        char nums[256];
        exhaustion_numbers(pool, st, avctx, nums, sizeof(nums));
        fp__log(pool, FP_LOG_WARN,
                "fp_av_get_buffer2 (%s): pool exhausted: overdraft frame %llu beyond max_frames; %s; "
                "logged at the 1st, 2nd, 4th, ... (get_buffer_overdraft)",
                avctx->codec->name, (unsigned long long)n, nums);
    }
    return 0;
}

/* The geometry a decoder request asks for: fmt at w x h (the request's
 * size, or avctx's visible size when the request covers it), padded for the
 * request aligned by the codec (aw x ah, linesize alignments la) and at
 * least as much as every AV pool. */
typedef struct want {
    int w, h, pad_w, pad_h, align;
} want;

static want wanted(const AVCodecContext *avctx, const AVFrame *frame, int aw, int ah, const int *la, size_t cur_align)
{
    want x;
    x.w = avctx->width > 0 && avctx->width <= frame->width ? avctx->width : frame->width;
    x.h = avctx->height > 0 && avctx->height <= frame->height ? avctx->height : frame->height;
    x.pad_w = (int)fp__align_up((size_t)(aw > x.w ? aw : x.w), 64);
    x.pad_h = ah > default_pad_h(x.h) ? ah : default_pad_h(x.h);
    x.align = cur_align > AV_ALIGN ? (int)cur_align : AV_ALIGN;
    for (int i = 0; i < 4; i++)
        while (la[i] > x.align && x.align < FP_MAX_ALIGN)
            x.align *= 2;
    return x;
}

/* Whether the pool's geometry g serves the request: same pixel format, the
 * padding the request wants (a larger one would waste memory per frame for
 * a stream that got smaller, a smaller one does not fit), linesizes the
 * codec can use. */
static bool serves(const fp__geom *g, int fmt, const want *x, const int *la)
{
    av_geom a = av_geom_of(g);
    if (!g->gen || a.fmt != fmt || a.pad_w != x->pad_w || a.pad_h != x->pad_h)
        return false;
    for (int i = 0; i < g->layout.nb_planes; i++)
        if (la[i] > 0 && g->layout.linesize[i] % la[i])
            return false;
    return true;
}

/* How many times a request re-reads the geometry when other frame threads
 * keep changing it under it before it gives up on the pool. */
#define AV_GEOMETRY_TRIES 4

static int pool_get_buffer2(fp_pool *pool, av_pool *st, AVCodecContext *avctx, AVFrame *frame, int flags)
{
    pthread_once(&avc_once, avc_resolve);
    if (!avc_align || !avc_default_get_buffer2) {
        fp__log(pool, FP_LOG_ERROR, "fp_av_get_buffer2: cannot find %s's functions in this process", AVC_SONAME);
        return AVERROR(ENOSYS);
    }
    if (avctx->codec_type != AVMEDIA_TYPE_VIDEO)
        return fallback(pool, st, avctx, frame, flags, "not a video codec");
    if (!avctx->codec || !(avctx->codec->capabilities & AV_CODEC_CAP_DR1))
        return fallback(pool, st, avctx, frame, flags, "the codec does not support direct rendering (DR1)");
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get((enum AVPixelFormat)frame->format);
    if (!desc || (desc->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM)))
        return fallback(pool, st, avctx, frame, flags, "a hardware or bitstream pixel format no pool can hold");
    int aw = frame->width, ah = frame->height;
    int linesize_align[AV_NUM_DATA_POINTERS] = { 0 }; /* libavcodec sets the first 4 */
    avc_align(avctx, &aw, &ah, linesize_align);

    const char *codec = avctx->codec->name;
    /* The codec name is the function of the site: one table entry per codec. */
    const fp_site *site = fp__site_intern("(decoder get_buffer2)", 0, codec);
    for (int tries = 0; tries < AV_GEOMETRY_TRIES; tries++) {
        fp__geom g;
        fp__pool_geom_copy(pool, &g);
        want x = wanted(avctx, frame, aw, ah, linesize_align, g.mem_align);
        if (!serves(&g, frame->format, &x, linesize_align)) {
            /* The decoder's size or format changed (or this is its first
             * frame): a new generation, padded for what the codec asks
             * (avcodec_align_dimensions2 and the request itself). */
            fp__geom ng;
            const char *why = NULL;
            int ret = av_make_geom((enum AVPixelFormat)frame->format, x.w, x.h, x.pad_w, x.pad_h, x.align, &ng, &why);
            if (ret < 0)
                return fallback(pool, st, avctx, frame, flags, why);
            ret = fp__pool_set_geometry(pool, &ng);
            if (ret == FP_ERR(ESHUTDOWN))
                return AVERROR(ESHUTDOWN);
            if (ret < 0)
                return fallback(pool, st, avctx, frame, flags, "the pool could not take the new geometry");
            if (g.gen) {
                av_geom old = av_geom_of(&g);
                const char *of = av_get_pix_fmt_name(old.fmt);
                fp__log(pool, FP_LOG_INFO, "fp_av_get_buffer2 (%s): the decoder's frames changed from %s %dx%d to %s "
                        "%dx%d: generation %d", codec, of ? of : "none", g.width, g.height, desc->name, x.w, x.h, ret);
            }
            continue;
        }
        av_geom ag;
        int ret;
        if (st->overdraft_max > 0 &&
            atomic_load_explicit(&st->overdraft->out, RLX) < st->overdraft_max) {
            /* An overdraft frame is still available: do not wait for the pool. A
             * decoder whose references fill the pool allocates its next picture
             * before it drops one, and nothing would come back while it waits. */
            ret = attach(pool, frame, 0, site, &ag, NULL, NULL);
            if (ret == FP_ERR(EAGAIN)) {
                ret = overdraft(pool, st, avctx, frame, &g);
                if (ret != FP_ERR(EAGAIN))
                    return ret;
                ret = attach(pool, frame, pool->get_buffer_timeout_us, site, &ag, NULL, NULL); /* lost the race for the last one */
            }
        } else {
            ret = attach(pool, frame, pool->get_buffer_timeout_us, site, &ag, NULL, NULL);
        }
        if (ret == FP_ERR(EAGAIN) || ret == FP_ERR(ETIMEDOUT)) {
            exhausted(pool, st, avctx);
            return AVERROR(ENOBUFS);
        }
        if (ret < 0)
            return ret; /* FP_ERR(e) and AVERROR(e) are both -e */
        if (!fits(&ag, frame->format, aw, ah)) {
            detach_buffer(frame); /* another frame thread changed the geometry meanwhile */
            continue;
        }
        if (atomic_load_explicit(&st->exhausted_burst, RLX))
            atomic_store_explicit(&st->exhausted_burst, 0, RLX);
        return 0;
    }
    return fallback(pool, st, avctx, frame, flags, "the decoder's geometry kept changing under the request");
}

int fp_av_get_buffer2(AVCodecContext *avctx, AVFrame *frame, int flags)
{
    if (!avctx || !frame)
        return AVERROR(EINVAL);
    fp_pool *pool = avctx->opaque;
    av_pool *st = av_state(pool);
    if (!st) {
        not_av_pool(pool, "fp_av_get_buffer2 (AVCodecContext.opaque)");
        return AVERROR(EINVAL);
    }
    return pool_get_buffer2(pool, st, avctx, frame, flags);
}

/* ------------------------------------------------------------------------- */
/* fp_av_attach: a decoder draws from a pool without avctx->opaque.
 *
 * libavcodec passes get_buffer2 its frame threads' own copies of the
 * context, so nothing keyed by the AVCodecContext pointer finds the pool,
 * and every other field is the application's. What every copy does carry is
 * the get_buffer2 pointer itself: attach hands each decoder its own entry
 * point out of a fixed table of AV_ATTACH_MAX small functions, each of which
 * knows its index into the table of attachments. No allocation, no lookup
 * on the decode path. Indices are reused oldest-detached first, so a stale
 * call (a decoder that kept decoding after fp_av_detach) finds an empty
 * entry (the default allocator) rather than another decoder's pool. */

#define AV_ATTACH_MAX 1024

typedef struct av_attachment {
    _Atomic(fp_pool *) pool;       /* holds a pool reference; NULL: free */
    const AVCodecContext *avctx;   /* the application's context (attach_lock) */
    int next_free;                 /* free FIFO link (attach_lock) */
} av_attachment;

static av_attachment attachments[AV_ATTACH_MAX];
static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;
static int free_head = -1, free_tail = -1;
static int never_used = 0; /* indices below it have been used */

static int note_bypass(fp_pool *pool, av_pool *st, const AVCodecContext *avctx, const char *what);

static int attached_get_buffer2(int k, AVCodecContext *avctx, AVFrame *frame, int flags)
{
    if (!avctx || !frame)
        return AVERROR(EINVAL);
    fp_pool *pool = atomic_load_explicit(&attachments[k].pool, ACQ);
    av_pool *st = av_state(pool);
    if (!st) {
        pthread_once(&avc_once, avc_resolve);
        return avc_default_get_buffer2 ? avc_default_get_buffer2(avctx, frame, flags) : AVERROR(ENOSYS);
    }
    return pool_get_buffer2(pool, st, avctx, frame, flags);
}

#define AV_T1(k) \
    static int attached_##k(AVCodecContext *a, AVFrame *f, int fl) { return attached_get_buffer2(0x##k, a, f, fl); }
#define AV_T16(k) AV_T1(k##0) AV_T1(k##1) AV_T1(k##2) AV_T1(k##3) AV_T1(k##4) AV_T1(k##5) AV_T1(k##6) \
    AV_T1(k##7) AV_T1(k##8) AV_T1(k##9) AV_T1(k##a) AV_T1(k##b) AV_T1(k##c) AV_T1(k##d) AV_T1(k##e) AV_T1(k##f)
#define AV_T256(k) AV_T16(k##0) AV_T16(k##1) AV_T16(k##2) AV_T16(k##3) AV_T16(k##4) AV_T16(k##5) \
    AV_T16(k##6) AV_T16(k##7) AV_T16(k##8) AV_T16(k##9) AV_T16(k##a) AV_T16(k##b) AV_T16(k##c) \
    AV_T16(k##d) AV_T16(k##e) AV_T16(k##f)
AV_T256(0) AV_T256(1) AV_T256(2) AV_T256(3)

#define AV_E1(k) attached_##k,
#define AV_E16(k) AV_E1(k##0) AV_E1(k##1) AV_E1(k##2) AV_E1(k##3) AV_E1(k##4) AV_E1(k##5) AV_E1(k##6) \
    AV_E1(k##7) AV_E1(k##8) AV_E1(k##9) AV_E1(k##a) AV_E1(k##b) AV_E1(k##c) AV_E1(k##d) AV_E1(k##e) AV_E1(k##f)
#define AV_E256(k) AV_E16(k##0) AV_E16(k##1) AV_E16(k##2) AV_E16(k##3) AV_E16(k##4) AV_E16(k##5) \
    AV_E16(k##6) AV_E16(k##7) AV_E16(k##8) AV_E16(k##9) AV_E16(k##a) AV_E16(k##b) AV_E16(k##c) \
    AV_E16(k##d) AV_E16(k##e) AV_E16(k##f)
static int (*const attached_entry[AV_ATTACH_MAX])(AVCodecContext *, AVFrame *, int) = {
    AV_E256(0) AV_E256(1) AV_E256(2) AV_E256(3)
};

/* The attachment whose entry point avctx uses, or -1 (attach_lock held). */
static int attachment_of(const AVCodecContext *avctx)
{
    for (int k = 0; k < never_used; k++)
        if (attachments[k].avctx == avctx && atomic_load_explicit(&attachments[k].pool, RLX) &&
            avctx->get_buffer2 == attached_entry[k])
            return k;
    return -1;
}

int fp_av_attach(AVCodecContext *avctx, fp_pool *pool)
{
    av_pool *st = av_state(pool);
    if (!st)
        return not_av_pool(pool, "fp_av_attach");
    if (!avctx) {
        fp__log(pool, FP_LOG_ERROR, "fp_av_attach: avctx is NULL");
        return FP_ERR(EINVAL);
    }
    if (avctx->internal) { /* avcodec_is_open() */
        fp__log(pool, FP_LOG_ERROR, "fp_av_attach: the decoder is open already: attach before avcodec_open2() "
                                    "(frame threads copy get_buffer2 when they start)");
        return FP_ERR(EINVAL);
    }
    if (avctx->codec_type != AVMEDIA_TYPE_VIDEO && avctx->codec_type != AVMEDIA_TYPE_UNKNOWN) {
        fp__log(pool, FP_LOG_ERROR, "fp_av_attach: not a video codec context");
        return FP_ERR(EINVAL);
    }
    pthread_mutex_lock(&attach_lock);
    int k = attachment_of(avctx);
    if (k >= 0) {
        bool same = atomic_load_explicit(&attachments[k].pool, RLX) == pool;
        pthread_mutex_unlock(&attach_lock);
        if (same)
            return 0;
        fp__log(pool, FP_LOG_ERROR, "fp_av_attach: the decoder is attached to another pool (fp_av_detach it first)");
        return FP_ERR(EBUSY);
    }
    if (free_head >= 0) {
        k = free_head;
        free_head = attachments[k].next_free;
        if (free_head < 0)
            free_tail = -1;
    } else if (never_used < AV_ATTACH_MAX) {
        k = never_used++;
    }
    if (k < 0) {
        pthread_mutex_unlock(&attach_lock);
        fp__log(pool, FP_LOG_ERROR, "fp_av_attach: %d decoders are attached already (the most at once); set "
                                    "get_buffer2 = fp_av_get_buffer2 and opaque = pool for this one", AV_ATTACH_MAX);
        return FP_ERR(ENOSPC);
    }
    attachments[k].avctx = avctx;
    atomic_store_explicit(&attachments[k].pool, fp_pool_ref(pool), REL);
    pthread_mutex_unlock(&attach_lock);
    avctx->get_buffer2 = attached_entry[k];
#if LIBAVCODEC_VERSION_MAJOR < 60 && defined(FF_API_THREAD_SAFE_CALLBACKS) && FF_API_THREAD_SAFE_CALLBACKS
    /* libavcodec 59 calls get_buffer2 from its frame threads only with this
     * set (otherwise it serializes them through the main thread). */
# pragma GCC diagnostic push
# pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    avctx->thread_safe_callbacks = 1;
# pragma GCC diagnostic pop
#endif
    /* A decoder known to allocate its own frames (libdav1d, libvpx-vp9,
     * rawvideo, no DR1): said now, once per pool, and counted. The
     * attachment stands (hardware decoding may still fall back to software). */
    if (avctx->codec)
        (void)note_bypass(pool, st, avctx, "fp_av_attach");
    return 0;
}

void fp_av_detach(AVCodecContext *avctx)
{
    if (!avctx)
        return;
    pthread_mutex_lock(&attach_lock);
    int k = attachment_of(avctx);
    fp_pool *pool = NULL;
    if (k >= 0) {
        pool = atomic_exchange_explicit(&attachments[k].pool, NULL, ACQREL);
        attachments[k].avctx = NULL;
        attachments[k].next_free = -1;
        if (free_tail >= 0)
            attachments[free_tail].next_free = k;
        else
            free_head = k;
        free_tail = k;
    }
    pthread_mutex_unlock(&attach_lock);
    if (k < 0)
        return;
    /* The default allocator from now on (for an open decoder: from the next
     * packet; frames already decoded stay the pool's). */
    pthread_once(&avc_once, avc_resolve);
    avctx->get_buffer2 = avc_default_get_buffer2;
    fp_pool_unref(&pool);
}

fp_pool *fp_av_attached_pool(const AVCodecContext *avctx)
{
    if (!avctx)
        return NULL;
    pthread_mutex_lock(&attach_lock);
    int k = attachment_of(avctx);
    fp_pool *pool = k >= 0 ? atomic_load_explicit(&attachments[k].pool, RLX) : NULL;
    pthread_mutex_unlock(&attach_lock);
    return pool;
}

/* ------------------------------------------------------------------------- */

fp_frame *fp_av_frame_pool_frame(const AVFrame *frame)
{
    if (!frame || !frame->buf[0] || frame->buf[0]->size < sizeof(av_header) || frame->hw_frames_ctx)
        return NULL;
    /* Hardware frames' buffers may hold device memory: never read them. */
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)frame->format);
    if (!d || (d->flags & AV_PIX_FMT_FLAG_HWACCEL))
        return NULL;
    av_header h;
    memcpy(&h, frame->buf[0]->data, sizeof(h));
#ifdef FP_HAVE_VALGRIND
    /* A foreign buffer nobody wrote yet is uninitialized; any value of it
     * gives the right answer (no magic, or no matching key). */
    VALGRIND_MAKE_MEM_DEFINED(&h, sizeof(h));
#endif
    if (h.magic != AV_MAGIC)
        return NULL;
    fp_frame *f = (fp_frame *)(uintptr_t)(h.frame_key ^ AV_MAGIC);
    if (av_buffer_get_opaque(frame->buf[0]) != f)
        return NULL;
    return fp__slot_of(f) ? f : NULL;
}

int fp_av_frame_is_from(const fp_pool *pool, const AVFrame *frame)
{
    fp_frame *f = fp_av_frame_pool_frame(frame);
    return f && pool && fp__slot_of(f)->pool == pool;
}

int fp_av_frame_set_tag(AVFrame *frame, const char *tag)
{
    fp_frame *f = fp_av_frame_pool_frame(frame);
    if (!f)
        return FP_ERR(EINVAL);
    fp_frame_set_tag(f, tag);
    return 0;
}

void fp_av_frame_autorelease(AVFrame **frame)
{
    av_frame_free(frame);
}

/* ------------------------------------------------------------------------- */
/* Sizing and checking decoders                                              */

/* H.264 Table A-1 MaxDpbMbs by level_idc (11 with constraint_set3 = 1b: 396 too). */
static int h264_max_dpb_mbs(int level)
{
    static const struct { int level, mbs; } t[] = {
        { 9, 396 }, { 10, 396 }, { 11, 900 }, { 12, 2376 }, { 13, 2376 }, { 20, 2376 }, { 21, 4752 },
        { 22, 8100 }, { 30, 8100 }, { 31, 18000 }, { 32, 20480 }, { 40, 32768 }, { 41, 32768 },
        { 42, 34816 }, { 50, 110400 }, { 51, 184320 }, { 52, 184320 }, { 60, 696320 }, { 61, 696320 },
        { 62, 696320 },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].level == level)
            return t[i].mbs;
    return 0;
}

/* H.265 Table A.8 MaxLumaPs by general_level_idc (30 x level). */
static int64_t hevc_max_luma_ps(int level)
{
    if (level <= 0)
        return 0;
    if (level <= 30) return 36864;
    if (level <= 60) return 122880;
    if (level <= 63) return 245760;
    if (level <= 90) return 552960;
    if (level <= 93) return 983040;
    if (level <= 123) return 2228224;
    if (level <= 156) return 8912896;
    return 35651584;
}

#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 2, 100)
# define AVC_FRAMES_OUT(avctx) ((avctx)->frame_num)
#else
# define AVC_FRAMES_OUT(avctx) ((avctx)->frame_number)
#endif

/* Frames each frame thread beyond the first adds: the picture it has in
 * flight and the one it waits to hand back, plus, for codecs that replace
 * several references per frame or keep the previous picture per thread,
 * what its own context still holds (measured: doc/guide.md). */
static int frames_per_thread(enum AVCodecID id)
{
#if LIBAVCODEC_VERSION_MAJOR >= 61
    /* FFmpeg 7's frame threads (libavcodec 61) keep one picture per extra
     * thread (measured with FFmpeg 7.1: doc/guide.md); the VP8 context of
     * each webp thread two. libavcodec 60 is given 5.1's counts (an
     * overestimate is safe, an underestimate wedges the decoder). */
    return id == AV_CODEC_ID_WEBP ? 2 : 1;
#endif
    switch (id) {
    case AV_CODEC_ID_VP8:
    case AV_CODEC_ID_VP9:
    case AV_CODEC_ID_PNG:
    case AV_CODEC_ID_APNG:
        return 3;
    case AV_CODEC_ID_WEBP:
        return 4; /* its VP8 context per thread */
    default:
        return 2;
    }
}

/* Frames a decoder holds for itself at one thread, the picture it is
 * decoding included (measured for FFmpeg 5.1: doc/guide.md). */
static int decoder_own_frames(const AVCodecContext *avctx)
{
    int w = avctx->coded_width > 0 ? avctx->coded_width : avctx->width;
    int h = avctx->coded_height > 0 ? avctx->coded_height : avctx->height;
    int delay = avctx->has_b_frames > 0 ? avctx->has_b_frames : 0;
    switch (avctx->codec_id) {
    case AV_CODEC_ID_H264: {
        /* The DPB: the SPS's reference count once the decoder has seen it
         * (avctx->refs), else the level's maximum, else the codec's (16). */
        int dpb = 16;
        int mbs = h264_max_dpb_mbs(avctx->level);
        if (mbs && w > 0 && h > 0) {
            int pic = ((w + 15) / 16) * ((h + 15) / 16);
            dpb = mbs / pic < 16 ? mbs / pic : 16;
            if (dpb < 1)
                dpb = 1;
        }
        /* avctx->refs is 1 by default and is the SPS's num_ref_frames only
         * once the decoder has output a frame, and only on the context the
         * application holds without frame threads (the workers' copies are
         * not copied back). */
        if (AVC_FRAMES_OUT(avctx) > 0 && !(avctx->active_thread_type & FF_THREAD_FRAME) && avctx->refs > 0 &&
            avctx->refs + delay < dpb)
            dpb = avctx->refs + delay;
        return dpb + 1;
    }
    case AV_CODEC_ID_HEVC: {
        int dpb = 16;
        int64_t maxps = hevc_max_luma_ps(avctx->level);
        if (maxps && w > 0 && h > 0) {
            int64_t ps = (int64_t)w * h;
            dpb = ps <= maxps / 4 ? 16 : ps <= maxps / 2 ? 12 : ps <= maxps * 3 / 4 ? 8 : 6;
        }
        return dpb + 1;
    }
    case AV_CODEC_ID_MPEG1VIDEO:
    case AV_CODEC_ID_MPEG2VIDEO:
    case AV_CODEC_ID_MPEG4:
    case AV_CODEC_ID_H263:
    case AV_CODEC_ID_H263P:
    case AV_CODEC_ID_MSMPEG4V3:
    case AV_CODEC_ID_WMV1:
    case AV_CODEC_ID_WMV2:
    case AV_CODEC_ID_FLV1:
        return 3; /* the last and next reference pictures and the current one */
    case AV_CODEC_ID_VP8:
        return 4; /* last, golden, altref + current */
    case AV_CODEC_ID_VP9:
    case AV_CODEC_ID_AV1:
        return 10; /* 8 reference slots, the previous picture (motion vectors) and the current one */
    case AV_CODEC_ID_THEORA:
    case AV_CODEC_ID_VP3:
        return 3;
    case AV_CODEC_ID_FFV1:
    case AV_CODEC_ID_PNG:
    case AV_CODEC_ID_APNG:
    case AV_CODEC_ID_WEBP:
    case AV_CODEC_ID_SNOW:
        return 2; /* the previous picture is kept (context for the next one) */
    default:
        return 1 + delay;
    }
}

int fp_av_frames_for_decoder(const AVCodecContext *avctx, int app_frames)
{
    if (!avctx || app_frames < 0 || avctx->codec_type != AVMEDIA_TYPE_VIDEO)
        return FP_ERR(EINVAL);
    int n = decoder_own_frames(avctx);
    /* Frame threads: after avcodec_open2() active_thread_type says whether
     * frame threading runs; before, whether it would (the codec can). */
    int frame_threads = 0;
    int will_thread = avctx->internal ? (avctx->active_thread_type & FF_THREAD_FRAME) != 0
                                      : (avctx->thread_type & FF_THREAD_FRAME) &&
                                            (!avctx->codec || (avctx->codec->capabilities & AV_CODEC_CAP_FRAME_THREADS));
    if (will_thread) {
        frame_threads = avctx->thread_count;
        if (frame_threads <= 0) /* auto: what libavcodec will pick */
            frame_threads = av_cpu_count() + 1 < 16 ? av_cpu_count() + 1 : 16;
    }
    if (frame_threads > 1)
        n += frames_per_thread(avctx->codec_id) * (frame_threads - 1);
    if (app_frames > FP_MAX_FRAMES || n + app_frames > FP_MAX_FRAMES)
        return FP_MAX_FRAMES;
    return n + app_frames;
}

/* Decoders that are known to allocate every output frame themselves. */
static const char *internal_allocator(const char *codec)
{
    static const struct { const char *name, *why; } t[] = {
        { "libdav1d", "dav1d allocates its pictures itself (Dav1dPicAllocator, not exposed by libavcodec)" },
        { "libvpx-vp9", "libvpx decodes into its own frame buffer pool (its callbacks are internal to libavcodec)" },
        { "rawvideo", "rawvideo output references the packet's memory" },
    };
    for (size_t i = 0; codec && i < sizeof(t) / sizeof(t[0]); i++)
        if (!strcmp(codec, t[i].name))
            return t[i].why;
    return NULL;
}

/* Whether the decoder's frames bypass the pool (why), or NULL. */
static const char *bypass_reason(const AVCodecContext *avctx)
{
    const AVCodec *c = avctx->codec;
    const char *why = internal_allocator(c->name);
    if (!why && c->type != AVMEDIA_TYPE_VIDEO)
        why = "not a video codec";
    if (!why && avctx->hw_device_ctx)
        why = "hardware decoding (frames live in device memory)";
    if (!why && !(c->capabilities & AV_CODEC_CAP_DR1))
        why = "the codec has no AV_CODEC_CAP_DR1: it allocates its own frames or gets default buffers";
    return why;
}

/* 1 (counted, logged once per pool) when the decoder bypasses the pool, else 0. */
static int note_bypass(fp_pool *pool, av_pool *st, const AVCodecContext *avctx, const char *what)
{
    const char *why = bypass_reason(avctx);
    if (!why)
        return 0;
    atomic_fetch_add_explicit(&pool->get_buffer_bypassed, 1, RLX);
    if (!atomic_exchange_explicit(&st->bypass_logged, 1, RLX))
        fp__log(pool, FP_LOG_WARN,
                "%s (%s): its frames will not come from the pool: %s; the pool bounds and tracks "
                "none of them (logged once per pool, counted in get_buffer_bypassed)",
                what, avctx->codec->name, why);
    return 1;
}

int fp_av_check_decoder(fp_pool *pool, const AVCodecContext *avctx)
{
    av_pool *st = av_state(pool);
    if (!st)
        return not_av_pool(pool, "fp_av_check_decoder");
    if (!avctx || !avctx->codec) {
        fp__log(pool, FP_LOG_ERROR, "fp_av_check_decoder: %s", !avctx ? "avctx is NULL" : "the decoder is not open");
        return FP_ERR(EINVAL);
    }
    return note_bypass(pool, st, avctx, "fp_av_check_decoder");
}
