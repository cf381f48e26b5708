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

typedef struct av_pool {
    enum AVPixelFormat fmt;
    int pad_w, pad_h;
    _Atomic int fallback_logged;
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

static void av_slot_backed(fp_pool *pool, fp_slot *s)
{
    (void)pool;
    av_header h = { AV_MAGIC, (uint64_t)(uintptr_t)&s->frame ^ AV_MAGIC };
    memcpy(s->mem, &h, sizeof(h));
}

static void av_destroy(fp_pool *pool)
{
    free(pool->adapter);
}

static const fp__pool_ops av_ops = {
    .kind = "av",
    .slot_backed = av_slot_backed,
    .destroy = av_destroy,
    .refcount = av_refcount,
};

/* Checks the pointer before reading through it (AVCodecContext.opaque may
 * be anything). */
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

static size_t align_up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* libavutil's own plane math on the padded geometry. */
static int av_layout(enum AVPixelFormat fmt, int w, int h, int align, fp__layout *out, const char **why)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
    *out = (fp__layout){ 0 };
    if (!d) {
        *why = "is not a pixel format libavutil knows";
        return FP_ERR(EINVAL);
    }
    if (d->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_PAL)) {
        *why = "is a hardware, bitstream or palette format (not supported)";
        return FP_ERR(EINVAL);
    }
    if (w < 1 || w > FP_MAX_DIMENSION || h < 1 || h > FP_MAX_DIMENSION) {
        *why = "geometry is outside 1..32768";
        return FP_ERR(EINVAL);
    }
    int pad_w = (int)align_up((size_t)w, 64), pad_h = (int)align_up((size_t)h, 32) + 2;
    int lines[4];
    if (av_image_fill_linesizes(lines, fmt, pad_w) < 0) {
        *why = "cannot be laid out by libavutil";
        return FP_ERR(EINVAL);
    }
    ptrdiff_t l[4];
    for (int i = 0; i < 4; i++)
        l[i] = (ptrdiff_t)align_up((size_t)lines[i], (size_t)align);
    size_t sizes[4];
    if (av_image_fill_plane_sizes(sizes, fmt, pad_h, l) < 0) {
        *why = "frame size overflows";
        return FP_ERR(EOVERFLOW);
    }
    size_t off = align_up(AV_HEADER, (size_t)align); /* planes aligned even after the header */
    for (int i = 0; i < 4 && sizes[i]; i++) {
        if (l[i] > INT32_MAX || sizes[i] > SIZE_MAX / 2 - off) {
            *why = "frame size overflows";
            return FP_ERR(EOVERFLOW);
        }
        out->linesize[i] = (int)l[i];
        out->offset[i] = off;
        off = align_up(off + sizes[i], (size_t)align);
        out->nb_planes = i + 1;
    }
    out->size = off;
    out->alloc_size = off + AV_INPUT_BUFFER_PADDING_SIZE;
    return 0;
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
    const char *name = av_get_pix_fmt_name(fmt);
    enum fp_format core = core_format(fmt);
    if (cfg.format != FP_FMT_NONE && cfg.format != core) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "fp_av_pool_create: cfg.format %s conflicts with pixel format %s",
                   fp__format_name(cfg.format), name ? name : "?");
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
    if (cfg.align < 1 || cfg.align > 4096 || (cfg.align & (cfg.align - 1))) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "invalid config: align %d is not a power of two in 1..4096", cfg.align);
        return FP_ERR(EINVAL);
    }
    fp__layout layout;
    const char *why = NULL;
    int align = cfg.align > AV_ALIGN ? cfg.align : AV_ALIGN;
    int ret = av_layout(fmt, width, height, align, &layout, &why);
    if (ret < 0) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "fp_av_pool_create: pixel format %s (%d) at %dx%d: %s", name ? name : "?",
                   (int)fmt, width, height, why);
        return ret;
    }
    av_pool *st = calloc(1, sizeof(*st));
    if (!st) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "fp_av_pool_create: out of memory");
        return FP_ERR(ENOMEM);
    }
    st->fmt = fmt;
    st->pad_w = (int)align_up((size_t)width, 64);
    st->pad_h = (int)align_up((size_t)height, 32) + 2;
    cfg.format = core;
    cfg.width = width;
    cfg.height = height;
    cfg.align = align;
    fp__pool_params params = {
        .cfg = &cfg, .layout = &layout, .frame_format = core, .ops = &av_ops, .adapter = st,
        .extra_size = sizeof(av_slot), .site = site,
    };
    ret = fp__pool_create_ex(out, &params);
    if (ret < 0)
        free(st);
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
    av_pool *st = av_state(pool);
    return st ? st->fmt : AV_PIX_FMT_NONE;
}

/* ------------------------------------------------------------------------- */

static const fp_site buffer_free_site = { "(last AVBufferRef)", "av_buffer_unref", 0 };

/* The AVBuffer's free callback: the last AVBufferRef is gone. */
static void buffer_free(void *opaque, uint8_t *data)
{
    (void)data;
    fp_frame *f = opaque;
    fp_slot *s = (fp_slot *)((char *)f - offsetof(fp_slot, frame));
    av_slot *as = fp__slot_extra(s->pool, s);
    atomic_store(&as->buffer, NULL);
    while (atomic_load(&as->readers))
        ; /* a refcount read of a few instructions (av_refcount) */
    fp__slot_unref(s, &buffer_free_site);
}

/* Takes a slot and attaches it to `frame` as buf[0]/data/linesize. */
static int attach(fp_pool *pool, AVFrame *frame, int64_t timeout_us, const fp_site *site)
{
    fp_frame *pf;
    int ret = fp__pool_acquire_internal(pool, timeout_us, &pf, site);
    if (ret < 0)
        return ret;
    fp_slot *s = (fp_slot *)((char *)pf - offsetof(fp_slot, frame));
    AVBufferRef *buf = av_buffer_create(s->mem, pool->layout.size, buffer_free, pf, 0);
    if (!buf) {
        const char *file = fp__site_file(site);
        fp__log(pool, FP_LOG_ERROR, "%s:%d: out of memory creating an AVBufferRef", file ? file : "?",
               fp__site_line(site));
        fp__slot_unref(s, site);
        return FP_ERR(ENOMEM);
    }
    atomic_store_explicit(&((av_slot *)fp__slot_extra(pool, s))->buffer, buf->buffer, REL);
    frame->buf[0] = buf;
    memcpy(frame->data, pf->data, sizeof(pf->data));
    memcpy(frame->linesize, pf->linesize, sizeof(pf->linesize));
    frame->extended_data = frame->data;
    return 0;
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
    int ret = attach(pool, frame, timeout_us, site);
    if (ret < 0) {
        av_frame_free(&frame);
        return ret;
    }
    frame->format = st->fmt;
    frame->width = pool->width;
    frame->height = pool->height;
    *out = frame;
    return 0;
}

int fp_av_acquire_at(fp_pool *pool, int64_t timeout_us, AVFrame **out, const char *file, int line,
                     const char *func)
{
    return fp_av_acquire_site(pool, timeout_us, out, fp__site_intern(file, line, func));
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
    if (frame->format != st->fmt || frame->width < 1 || frame->width > pool->width || frame->height < 1 ||
        frame->height > pool->height) {
        const char *have = av_get_pix_fmt_name((enum AVPixelFormat)frame->format);
        fp__log(pool, FP_LOG_ERROR,
               "fp_av_frame_get_buffer at %s:%d: frame is %s %dx%d, the pool holds %s up to %dx%d",
               file ? file : "?", line, have ? have : "none", frame->width, frame->height,
               av_get_pix_fmt_name(st->fmt), pool->width, pool->height);
        return FP_ERR(EINVAL);
    }
    return attach(pool, frame, timeout_us, site);
}

int fp_av_frame_get_buffer_at(fp_pool *pool, AVFrame *frame, int64_t timeout_us, const char *file, int line,
                              const char *func)
{
    return fp_av_frame_get_buffer_site(pool, frame, timeout_us, fp__site_intern(file, line, func));
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
               "fp_av_get_buffer2 (%s): %s (frame %s %dx%d, pool %s %dx%d); using avcodec_default_get_buffer2 "
               "(logged once, counted in get_buffer_fallbacks)",
               avctx->codec ? avctx->codec->name : "?", why, have ? have : "none", frame->width, frame->height,
               av_get_pix_fmt_name(st->fmt), pool->width, pool->height);
    }
    return avc_default_get_buffer2(avctx, frame, flags);
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
    pthread_once(&avc_once, avc_resolve);
    if (!avc_align || !avc_default_get_buffer2) {
        fp__log(pool, FP_LOG_ERROR, "fp_av_get_buffer2: cannot find %s's functions in this process", AVC_SONAME);
        return AVERROR(ENOSYS);
    }
    if (avctx->codec_type != AVMEDIA_TYPE_VIDEO)
        return fallback(pool, st, avctx, frame, flags, "not a video codec");
    if (!avctx->codec || !(avctx->codec->capabilities & AV_CODEC_CAP_DR1))
        return fallback(pool, st, avctx, frame, flags, "the codec does not support direct rendering (DR1)");
    if (frame->format != st->fmt)
        return fallback(pool, st, avctx, frame, flags, "pixel format differs from the pool's");
    int w = frame->width, h = frame->height;
    int linesize_align[AV_NUM_DATA_POINTERS];
    avc_align(avctx, &w, &h, linesize_align);
    if (w > st->pad_w || h > st->pad_h)
        return fallback(pool, st, avctx, frame, flags, "the codec's aligned dimensions exceed the pool's padding");
    for (int i = 0; i < pool->layout.nb_planes; i++)
        if (linesize_align[i] > 0 && pool->layout.linesize[i] % linesize_align[i])
            return fallback(pool, st, avctx, frame, flags, "the codec's linesize alignment does not divide ours");

    const char *codec = avctx->codec->name;
    /* The codec name is the function of the site: one table entry per codec. */
    int ret = attach(pool, frame, pool->get_buffer_timeout_us, fp__site_intern("(decoder get_buffer2)", 0, codec));
    if (ret == FP_ERR(EAGAIN) || ret == FP_ERR(ETIMEDOUT)) {
        fp__log(pool, FP_LOG_WARN, "fp_av_get_buffer2 (%s): pool exhausted for %lld us; the decoder gets ENOBUFS",
               codec, (long long)pool->get_buffer_timeout_us);
        return AVERROR(ENOBUFS);
    }
    return ret; /* FP_ERR(e) and AVERROR(e) are both -e */
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
