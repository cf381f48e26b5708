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

typedef struct av_pool {
    enum AVPixelFormat fmt;
    int pad_w, pad_h;
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
    memset(s->mem + sizeof(h), 0, pool->layout.alloc_size - sizeof(h));
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

/* libavutil's own plane math on the padded geometry. */
static int av_layout(enum AVPixelFormat fmt, int w, int h, int align, fp__layout *out, const char **why)
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
    int pad_w = (int)fp__align_up((size_t)w, 64), pad_h = (int)fp__align_up((size_t)h, 32) + 2;
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
    if (!fp__align_ok(cfg.align)) {
        fp__log_bad_align(&cfg);
        return FP_ERR(EINVAL);
    }
    if (cfg.decoder_overdraft < 0 || cfg.decoder_overdraft > AV_MAX_OVERDRAFT) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "invalid config: decoder_overdraft %d is outside 0..%d", cfg.decoder_overdraft,
                    AV_MAX_OVERDRAFT);
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
    st->fmt = fmt;
    st->pad_w = (int)fp__align_up((size_t)width, 64);
    st->pad_h = (int)fp__align_up((size_t)height, 32) + 2;
    cfg.format = core;
    cfg.width = width;
    cfg.height = height;
    cfg.align = align;
    fp__pool_params params = {
        .cfg = &cfg, .layout = &layout, .frame_format = core, .ops = &av_ops, .adapter = st,
        .extra_size = sizeof(av_slot), .site = site,
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
    fp_slot *s = fp__slot_from_frame(f);
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
    fp_slot *s = fp__slot_from_frame(pf);
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
    /* Up to the padded geometry the planes are laid out for, so a decoder's
     * coded size (1920x1088 on a 1920x1080 pool) fits, as in get_buffer2. */
    if (frame->format != st->fmt || frame->width < 1 || frame->width > st->pad_w || frame->height < 1 ||
        frame->height > st->pad_h) {
        const char *have = av_get_pix_fmt_name((enum AVPixelFormat)frame->format);
        fp__log(pool, FP_LOG_ERROR,
               "fp_av_frame_get_buffer at %s:%d: frame is %s %dx%d, the pool holds %s %dx%d (frames up to %dx%d "
               "with its padding)",
               file ? file : "?", line, have ? have : "none", frame->width, frame->height,
               av_get_pix_fmt_name(st->fmt), pool->width, pool->height, st->pad_w, st->pad_h);
        return FP_ERR(EINVAL);
    }
    return attach(pool, frame, timeout_us, site);
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
    if (frame->hw_frames_ctx || frame->format != st->fmt || frame->width < 1 || frame->width > pool->width ||
        frame->height < 1 || frame->height > pool->height) {
        const char *have = av_get_pix_fmt_name((enum AVPixelFormat)frame->format);
        fp__log(pool, FP_LOG_ERROR,
               "fp_av_frame_make_writable at %s:%d: frame is %s%s %dx%d, the pool holds %s up to %dx%d",
               file ? file : "?", line, frame->hw_frames_ctx ? "hardware " : "", have ? have : "none",
               frame->width, frame->height, av_get_pix_fmt_name(st->fmt), pool->width, pool->height);
        return FP_ERR(EINVAL);
    }
    AVFrame tmp;
    memset(&tmp, 0, sizeof(tmp));
    tmp.format = frame->format;
    tmp.width = frame->width;
    tmp.height = frame->height;
    int ret = attach(pool, &tmp, timeout_us, site);
    if (ret < 0)
        return ret;
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
               "fp_av_get_buffer2 (%s): %s (frame %s %dx%d, pool %s %dx%d); using avcodec_default_get_buffer2 "
               "(logged once, counted in get_buffer_fallbacks)",
               avctx->codec ? avctx->codec->name : "?", why, have ? have : "none", frame->width, frame->height,
               av_get_pix_fmt_name(st->fmt), pool->width, pool->height);
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

/* A frame beyond max_frames, laid out exactly like the pool's: decoders
 * predict from reference pictures with the current picture's linesizes
 * (H.264 does), so a frame from avcodec_default_get_buffer2(), padded
 * differently, would decode garbage. Zeroed, like the default allocator's.
 * At most overdraft_max are out at once: FP_ERR(EAGAIN) when they all are. */
static int overdraft(fp_pool *pool, av_pool *st, AVCodecContext *avctx, AVFrame *frame)
{
    av_overdraft *od = st->overdraft;
    int out = atomic_load_explicit(&od->out, RLX);
    do {
        if (out >= st->overdraft_max)
            return FP_ERR(EAGAIN);
    } while (!atomic_compare_exchange_weak_explicit(&od->out, &out, out + 1, memory_order_acq_rel, RLX));
    void *mem = NULL;
    AVBufferRef *buf = NULL;
    if (posix_memalign(&mem, pool->mem_align, pool->layout.alloc_size) == 0) {
        memset(mem, 0, pool->layout.alloc_size);
        memcpy(mem, &od, sizeof(od));
        buf = av_buffer_create(mem, pool->layout.size, overdraft_free, mem, 0);
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
        frame->data[i] = i < pool->layout.nb_planes ? (uint8_t *)mem + pool->layout.offset[i] : NULL;
        frame->linesize[i] = i < pool->layout.nb_planes ? pool->layout.linesize[i] : 0;
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
    const fp_site *site = fp__site_intern("(decoder get_buffer2)", 0, codec);
    int ret;
    if (st->overdraft_max > 0 &&
        atomic_load_explicit(&st->overdraft->out, RLX) < st->overdraft_max) {
        /* An overdraft frame is still available: do not wait for the pool. A
         * decoder whose references fill the pool allocates its next picture
         * before it drops one, and nothing would come back while it waits. */
        ret = attach(pool, frame, 0, site);
        if (ret == FP_ERR(EAGAIN)) {
            ret = overdraft(pool, st, avctx, frame);
            if (ret != FP_ERR(EAGAIN))
                return ret;
            ret = attach(pool, frame, pool->get_buffer_timeout_us, site); /* lost the race for the last one */
        }
    } else {
        ret = attach(pool, frame, pool->get_buffer_timeout_us, site);
    }
    if (ret == FP_ERR(EAGAIN) || ret == FP_ERR(ETIMEDOUT)) {
        exhausted(pool, st, avctx);
        return AVERROR(ENOBUFS);
    }
    if (ret == 0 && atomic_load_explicit(&st->exhausted_burst, RLX))
        atomic_store_explicit(&st->exhausted_burst, 0, RLX);
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

int fp_av_check_decoder(fp_pool *pool, const AVCodecContext *avctx)
{
    av_pool *st = av_state(pool);
    if (!st)
        return not_av_pool(pool, "fp_av_check_decoder");
    if (!avctx || !avctx->codec) {
        fp__log(pool, FP_LOG_ERROR, "fp_av_check_decoder: %s", !avctx ? "avctx is NULL" : "the decoder is not open");
        return FP_ERR(EINVAL);
    }
    const AVCodec *c = avctx->codec;
    const char *why = internal_allocator(c->name);
    if (!why && c->type != AVMEDIA_TYPE_VIDEO)
        why = "not a video codec";
    if (!why && avctx->hw_device_ctx)
        why = "hardware decoding (frames live in device memory)";
    if (!why && !(c->capabilities & AV_CODEC_CAP_DR1))
        why = "the codec has no AV_CODEC_CAP_DR1: it allocates its own frames or gets default buffers";
    if (!why)
        return 0;
    atomic_fetch_add_explicit(&pool->get_buffer_bypassed, 1, RLX);
    if (!atomic_exchange_explicit(&st->bypass_logged, 1, RLX))
        fp__log(pool, FP_LOG_WARN,
                "fp_av_check_decoder (%s): its frames will not come from the pool: %s; the pool bounds and tracks "
                "none of them (logged once per pool, counted in get_buffer_bypassed)",
                c->name, why);
    return 1;
}
