/*
 * Suite "av": the FFmpeg adapter against the real libavutil/libavcodec.
 *
 * - create:     fp_av_pool_create layouts for many AVPixelFormats, rejects, cfg conflicts
 * - refs:       AVFrame reference semantics (av_frame_ref/clone/move_ref, other threads,
 *               av_frame_make_writable), FP_AUTO_AVFRAME, identity, tags, acquire sites
 * - get_buffer: fp_av_frame_get_buffer on the caller's AVFrame
 * - encode:     mpeg2video fed only from a bounded pool; a frame-threaded lossless
 *               encoder (ffvhuff, utvideo) that holds input frames, with EAGAIN handled
 *               by draining, every packet decoded and compared with its input
 * - decode:     decoders drawing from the pool through fp_av_get_buffer2, bit-identical
 *               to the default allocator, with and without frame threading
 * - get_buffer2: fallbacks, exhaustion inside a decoder, waits, closed pools
 * - alloc:      allocation failures (pixel allocator hook, av_max_alloc)
 * - zeroed:     pixel memory is zero when a slot is first backed; a damaged stream decoded
 *               through pools prefilled with 0x00 and 0xFF gives the same pictures
 * - pal8:       palette layout (data[1], 1024 bytes); png and bmp decoders into a pal8 pool
 * - make_writable: fp_av_frame_make_writable's contract, and FFmpeg's encode loop with it
 *               (every frame stays in the pool) and with av_frame_make_writable (it leaves)
 *
 * Under valgrind (FP_TEST_UNDER_VALGRIND set) the frame counts are scaled down.
 * FFmpeg's own log is silenced unless FP_TEST_AV_LOG is set.
 *
 * Built twice: "av" (everything, links libavcodec) and, with
 * FP_TEST_AV_UTIL_ONLY, "av-util" (the cases that need only libavutil: create,
 * refs, get_buffer, alloc). Debian 12's libavcodec pulls in libhwy, which
 * valgrind 3.19 cannot run on CPUs without RDTSCP (see test/valgrind-wrap.sh),
 * so on such machines "av-util" is what the valgrind setup checks.
 * SPDX-License-Identifier: MIT
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include <framepool/av.h>

#include "common.h"

/*
 * ThreadSanitizer and FFmpeg's frame threading: Debian's libavcodec is not
 * instrumented, and a frame-threaded decoder hands a finished frame to the
 * caller through an atomic state word (pthread_frame.c takes no mutex when the
 * worker is already done), so TSan sees no happens-before between the worker
 * that av_malloc()ed and filled the frame's AVBufferRef/AVFrame side data and
 * the caller that reads or frees them after avcodec_receive_frame(). The same
 * reports appear with the default allocator and no framepool at all. Only
 * races with an FFmpeg allocation (av_malloc, the side-data array) or FFmpeg's
 * buffer copy on one side are suppressed; framepool's slots come from its own
 * allocator, and its slot state is never touched by those functions.
 */
#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "race:av_malloc\n"
           "race:av_frame_new_side_data_from_buf\n"
           "race:av_buffer_make_writable\n";
}
#endif

#define ALIGN_UP(x, a) (((x) + (a) - 1) / (a) * (a))
#define CEIL_RSHIFT(a, b) (-((-(a)) >> (b)))
#define MAX_CLIP 160

static test_log tlog;

static void setup(void)
{
    test_log_reset(&tlog);
}

static int under_valgrind(void)
{
    const char *v = getenv("FP_TEST_UNDER_VALGRIND");
    return v && *v && strcmp(v, "0") != 0;
}

static int scaled(int normal, int valgrind)
{
    return under_valgrind() ? valgrind : normal;
}

static fp_pool_config av_config(int max_frames, test_log *log)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "av-test";
    cfg.max_frames = max_frames;
    if (log) {
        cfg.log = test_log_cb;
        cfg.log_opaque = log;
    }
    return cfg;
}

static fp_pool *make_pool_cfg(enum AVPixelFormat fmt, int w, int h, const fp_pool_config *cfg)
{
    fp_pool *p = NULL;
    int rc = fp_av_pool_create(&p, fmt, w, h, cfg);
    ck_assert_msg(rc == 0, "fp_av_pool_create(%s %dx%d): %s", av_get_pix_fmt_name(fmt), w, h,
                  fp_strerror(rc));
    ck_assert_ptr_nonnull(p);
    return p;
}

static fp_pool *make_pool(enum AVPixelFormat fmt, int w, int h, int max_frames)
{
    fp_pool_config cfg = av_config(max_frames, &tlog);
    return make_pool_cfg(fmt, w, h, &cfg);
}

static fp_pool_stats get_stats(fp_pool *p)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(p, &st), 0);
    return st;
}

/* live and released right now */
#define ck_books(p, exp_live, exp_released) do { \
        fp_pool_stats st_ = get_stats(p); \
        ck_assert_uint_eq(st_.live, (exp_live)); \
        ck_assert_uint_eq(st_.released, (exp_released)); \
        ck_assert_uint_eq(st_.live, st_.acquired - st_.released); \
    } while (0)

/* Everything returned, books balanced, no misuse; drops the app's reference. */
static void finish_pool(fp_pool **p)
{
    fp_pool_stats st = get_stats(*p);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, st.released);
    ck_assert_uint_eq(st.misuse, 0);
    ck_assert_uint_le(st.peak_live, st.capacity);
    ck_assert_uint_eq(st.allocated, st.idle);
    fp_pool_unref(p);
    ck_assert_ptr_null(*p);
}

/* Rows of plane `plane` of an image `h` rows high. */
static int plane_rows(enum AVPixelFormat fmt, int plane, int h)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
    return (plane == 1 || plane == 2) ? CEIL_RSHIFT(h, d->log2_chroma_h) : h;
}

/* A deterministic picture for frame number `seed`: gradients plus a moving block. */
static void fill_pattern(AVFrame *f, int seed)
{
    int nb = av_pix_fmt_count_planes(f->format);
    for (int p = 0; p < nb; p++) {
        int bytes = av_image_get_linesize(f->format, f->width, p);
        int rows = plane_rows(f->format, p, f->height);
        int bx = (seed * 7) % (bytes > 16 ? bytes - 16 : 1);
        int by = (seed * 3) % (rows > 16 ? rows - 16 : 1);
        for (int y = 0; y < rows; y++) {
            uint8_t *row = f->data[p] + (ptrdiff_t)y * f->linesize[p];
            for (int x = 0; x < bytes; x++) {
                int v = x / 2 + y + seed * 5 + p * 60;
                if (p == 0 && x >= bx && x < bx + 16 && y >= by && y < by + 16)
                    v = 235 - seed;
                row[x] = (uint8_t)v;
            }
        }
    }
}

/* Compares the visible width x height of every plane, row by row. */
static int frames_equal(const AVFrame *a, const AVFrame *b, char *why, size_t why_size)
{
    if (a->format != b->format || a->width != b->width || a->height != b->height) {
        snprintf(why, why_size, "geometry %s %dx%d vs %s %dx%d", av_get_pix_fmt_name(a->format),
                 a->width, a->height, av_get_pix_fmt_name(b->format), b->width, b->height);
        return 0;
    }
    int nb = av_pix_fmt_count_planes(a->format);
    for (int p = 0; p < nb; p++) {
        int bytes = av_image_get_linesize(a->format, a->width, p);
        int rows = plane_rows(a->format, p, a->height);
        for (int y = 0; y < rows; y++) {
            const uint8_t *ra = a->data[p] + (ptrdiff_t)y * a->linesize[p];
            const uint8_t *rb = b->data[p] + (ptrdiff_t)y * b->linesize[p];
            if (memcmp(ra, rb, (size_t)bytes) != 0) {
                snprintf(why, why_size, "plane %d row %d differs", p, y);
                return 0;
            }
        }
    }
    return 1;
}

#define ck_frames_equal(a, b) do { \
        char why_[128] = ""; \
        ck_assert_msg(frames_equal((a), (b), why_, sizeof(why_)), "pictures differ: %s", why_); \
    } while (0)

/* A plain FFmpeg frame holding pattern `seed`. */
static AVFrame *pattern_frame(enum AVPixelFormat fmt, int w, int h, int seed)
{
    AVFrame *f = av_frame_alloc();
    ck_assert_ptr_nonnull(f);
    f->format = fmt;
    f->width = w;
    f->height = h;
    ck_assert_int_eq(av_frame_get_buffer(f, 0), 0);
    fill_pattern(f, seed);
    f->pts = seed;
    return f;
}

#define MAX_SEEN 16
typedef struct seen {
    int n;
    fp_live_frame f[MAX_SEEN];
    char tags[MAX_SEEN][32];
    char files[MAX_SEEN][256];
    char funcs[MAX_SEEN][64];
} seen;

static int collect(const fp_live_frame *live, void *ud)
{
    seen *s = ud;
    if (s->n < MAX_SEEN) {
        s->f[s->n] = *live;
        snprintf(s->tags[s->n], sizeof(s->tags[0]), "%s", live->tag ? live->tag : "");
        snprintf(s->files[s->n], sizeof(s->files[0]), "%s", live->file ? live->file : "");
        snprintf(s->funcs[s->n], sizeof(s->funcs[0]), "%s", live->func ? live->func : "");
        s->f[s->n].tag = s->tags[s->n];
        s->f[s->n].file = s->files[s->n];
        s->f[s->n].func = s->funcs[s->n];
        s->n++;
    }
    return 0;
}

/* ========================================================================= */
/* create                                                                    */

typedef struct fmt_case {
    enum AVPixelFormat fmt;
    int w, h;
} fmt_case;

static const fmt_case fmt_cases[] = {
    { AV_PIX_FMT_YUV420P, 640, 360 },
    { AV_PIX_FMT_YUV420P, 641, 361 },
    { AV_PIX_FMT_YUV420P, 1, 1 },
    { AV_PIX_FMT_NV12, 1920, 1080 },
    { AV_PIX_FMT_NV12, 33, 17 },
    { AV_PIX_FMT_NV21, 320, 240 },
    { AV_PIX_FMT_NV24, 100, 60 },
    { AV_PIX_FMT_P010LE, 1280, 720 },
    { AV_PIX_FMT_P010LE, 35, 19 },
    { AV_PIX_FMT_P016LE, 64, 64 },
    { AV_PIX_FMT_YUV422P10LE, 720, 576 },
    { AV_PIX_FMT_YUV420P16LE, 99, 51 },
    { AV_PIX_FMT_YUV444P, 100, 100 },
    { AV_PIX_FMT_YUV410P, 100, 50 },
    { AV_PIX_FMT_YUV440P, 64, 65 },
    { AV_PIX_FMT_YUVA420P, 64, 64 },
    { AV_PIX_FMT_YUYV422, 640, 360 },
    { AV_PIX_FMT_UYVY422, 62, 10 },
    { AV_PIX_FMT_RGBA, 333, 77 },
    { AV_PIX_FMT_BGRA, 1920, 1080 },
    { AV_PIX_FMT_RGB24, 101, 55 },
    { AV_PIX_FMT_RGB48LE, 50, 50 },
    { AV_PIX_FMT_X2RGB10LE, 640, 360 },
    { AV_PIX_FMT_GBRP, 640, 480 },
    { AV_PIX_FMT_GBRAP, 32, 32 },
    { AV_PIX_FMT_GRAY8, 17, 9 },
    { AV_PIX_FMT_GRAY16LE, 640, 360 },
};

/* Checks one frame's layout against av.h's contract and writes every padded byte. */
static void check_layout(const AVFrame *f, enum AVPixelFormat fmt, int w, int h, int align)
{
    const char *name = av_get_pix_fmt_name(fmt);
    ck_assert_int_eq(f->format, fmt);
    ck_assert_int_eq(f->width, w);
    ck_assert_int_eq(f->height, h);
    ck_assert_ptr_nonnull(f->buf[0]);
    ck_assert_ptr_eq(f->extended_data, f->data); /* av_frame_ref() depends on it */
    ck_assert_msg(av_frame_is_writable((AVFrame *)f), "%s: fresh frame not writable", name);

    int nb = av_pix_fmt_count_planes(fmt);
    int minls[4], padls[4];
    ck_assert_int_ge(av_image_fill_linesizes(minls, fmt, w), 0);
    ck_assert_int_ge(av_image_fill_linesizes(padls, fmt, ALIGN_UP(w, 64)), 0);
    int padded_h = ALIGN_UP(h, 32) + 2;
    const uint8_t *lo = f->buf[0]->data, *hi = lo + f->buf[0]->size;
    uint8_t *start[4];
    size_t bytes[4];
    for (int i = 0; i < nb; i++) {
        ck_assert_msg(f->data[i] != NULL, "%s %dx%d: plane %d NULL", name, w, h, i);
        ck_assert_msg((uintptr_t)f->data[i] % (uintptr_t)align == 0,
                      "%s %dx%d: plane %d at %p not %d-aligned", name, w, h, i, (void *)f->data[i], align);
        ck_assert_msg(f->linesize[i] > 0 && f->linesize[i] % align == 0,
                      "%s %dx%d: linesize[%d] %d not a positive multiple of %d", name, w, h, i,
                      f->linesize[i], align);
        ck_assert_msg(f->linesize[i] >= minls[i], "%s %dx%d: linesize[%d] %d < minimal %d", name, w,
                      h, i, f->linesize[i], minls[i]);
        ck_assert_msg(f->linesize[i] >= padls[i], "%s %dx%d: linesize[%d] %d < %d (width padded to 64)",
                      name, w, h, i, f->linesize[i], padls[i]);
        int rows = plane_rows(fmt, i, padded_h);
        start[i] = f->data[i];
        bytes[i] = (size_t)f->linesize[i] * (size_t)rows;
        ck_assert_msg(start[i] >= lo && start[i] + bytes[i] <= hi,
                      "%s %dx%d: plane %d (%zu bytes for %d padded rows) outside buf[0] (%zu bytes)",
                      name, w, h, i, bytes[i], rows, (size_t)(hi - lo));
    }
    for (int i = nb; i < 4; i++)
        ck_assert_msg(f->data[i] == NULL, "%s: unused plane %d not NULL", name, i);
    for (int i = 0; i < nb; i++)
        for (int j = i + 1; j < nb; j++)
            ck_assert_msg(start[i] + bytes[i] <= start[j] || start[j] + bytes[j] <= start[i],
                          "%s %dx%d: planes %d and %d overlap", name, w, h, i, j);
    /* Every padded byte is ours to write (ASan/valgrind check the bounds). */
    for (int i = 0; i < nb; i++)
        memset(start[i], 0x5a + i, bytes[i]);
}

START_TEST(create_formats)
{
    for (size_t k = 0; k < sizeof(fmt_cases) / sizeof(fmt_cases[0]); k++) {
        const fmt_case *c = &fmt_cases[k];
        fp_pool *p = make_pool(c->fmt, c->w, c->h, 2);
        ck_assert_int_eq(fp_av_pool_format(p), c->fmt);
        AVFrame *a = NULL, *b = NULL;
        ck_assert_int_eq(fp_av_acquire(p, 0, &a), 0);
        ck_assert_int_eq(fp_av_acquire(p, 0, &b), 0);
        check_layout(a, c->fmt, c->w, c->h, 64);
        check_layout(b, c->fmt, c->w, c->h, 64);
        /* two live frames never share memory */
        const uint8_t *a0 = a->buf[0]->data, *b0 = b->buf[0]->data;
        ck_assert(a0 + a->buf[0]->size <= b0 || b0 + b->buf[0]->size <= a0);
        /* the pool frame behind it has the same planes */
        fp_frame *pf = fp_av_frame_pool_frame(a);
        ck_assert_ptr_nonnull(pf);
        for (int i = 0; i < 4; i++) {
            ck_assert_ptr_eq(pf->data[i], a->data[i]);
            ck_assert_int_eq(pf->linesize[i], a->linesize[i]);
        }
        ck_books(p, 2, 0);
        av_frame_free(&a);
        av_frame_free(&b);
        ck_books(p, 0, 2);
        finish_pool(&p);
    }
    ck_assert_int_eq(atomic_load(&tlog.total), 0);
}
END_TEST

START_TEST(create_align)
{
    static const int aligns[] = { 16, 64, 128, 256, 4096 };
    for (size_t k = 0; k < sizeof(aligns) / sizeof(aligns[0]); k++) {
        fp_pool_config cfg = av_config(1, &tlog);
        cfg.align = aligns[k];
        fp_pool *p = make_pool_cfg(AV_PIX_FMT_YUV420P, 100, 50, &cfg);
        AVFrame *f = NULL;
        ck_assert_int_eq(fp_av_acquire(p, 0, &f), 0);
        /* 64 at least, more when cfg.align asks */
        check_layout(f, AV_PIX_FMT_YUV420P, 100, 50, aligns[k] > 64 ? aligns[k] : 64);
        av_frame_free(&f);
        finish_pool(&p);
    }
}
END_TEST

START_TEST(create_cfg_null_and_agreeing)
{
    fp_pool *p = NULL;
    ck_assert_int_eq(fp_av_pool_create(&p, AV_PIX_FMT_NV12, 320, 240, NULL), 0);
    ck_assert_ptr_nonnull(p);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.capacity, 16); /* av.h: max_frames 16 with a NULL cfg */
    ck_assert_uint_eq(st.allocated, 0);
    AVFrame *f = NULL;
    ck_assert_int_eq(fp_av_acquire(p, 0, &f), 0);
    check_layout(f, AV_PIX_FMT_NV12, 320, 240, 64);
    av_frame_free(&f);
    finish_pool(&p);

    /* fields that agree with the arguments are fine */
    fp_pool_config cfg = av_config(3, &tlog);
    cfg.format = FP_FMT_YUV420P;
    cfg.width = 64;
    cfg.height = 48;
    cfg.min_frames = 2;
    p = make_pool_cfg(AV_PIX_FMT_YUV420P, 64, 48, &cfg);
    st = get_stats(p);
    ck_assert_uint_eq(st.capacity, 3);
    ck_assert_uint_eq(st.allocated, 2);
    ck_assert_str_eq(fp_pool_name(p), "av-test");
    finish_pool(&p);

    cfg = av_config(2, &tlog);
    cfg.format = FP_FMT_NV12;
    p = make_pool_cfg(AV_PIX_FMT_NV12, 64, 48, &cfg);
    finish_pool(&p);
    ck_assert_int_eq(atomic_load(&tlog.total), 0);
}
END_TEST

START_TEST(create_rejects_formats)
{
    static const enum AVPixelFormat bad[] = {
        AV_PIX_FMT_VAAPI,      /* hardware */
        AV_PIX_FMT_CUDA,
        AV_PIX_FMT_QSV,
        AV_PIX_FMT_DRM_PRIME,
        AV_PIX_FMT_VULKAN,
        AV_PIX_FMT_MONOBLACK,  /* bitstream */
        AV_PIX_FMT_MONOWHITE,
        AV_PIX_FMT_RGB4,
        AV_PIX_FMT_NONE,
        AV_PIX_FMT_NB,
        (enum AVPixelFormat)100000,
        (enum AVPixelFormat)-7,
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        fp_pool_config cfg = av_config(2, &tlog);
        fp_pool *p = (fp_pool *)&cfg; /* must be reset to NULL */
        int before = atomic_load(&tlog.total);
        int rc = fp_av_pool_create(&p, bad[k], 64, 64, &cfg);
        ck_assert_msg(rc == FP_ERR(EINVAL), "format %d (%s): got %s", (int)bad[k],
                      av_get_pix_fmt_name(bad[k]) ? av_get_pix_fmt_name(bad[k]) : "?", fp_strerror(rc));
        ck_assert_ptr_null(p);
        ck_assert_msg(atomic_load(&tlog.total) > before, "no log line for format %d", (int)bad[k]);
    }
    /* NULL cfg rejects too (the log then goes to stderr) */
    fp_pool *p = NULL;
    ck_assert_int_eq(fp_av_pool_create(&p, AV_PIX_FMT_MONOBLACK, 64, 64, NULL), FP_ERR(EINVAL));
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(create_rejects_geometry)
{
    static const int geo[][2] = {
        { 0, 64 }, { 64, 0 }, { -1, 64 }, { 64, -16 }, { INT_MIN, 1 },
        { FP_MAX_DIMENSION + 1, 16 }, { 16, FP_MAX_DIMENSION + 1 }, { INT_MAX, INT_MAX },
    };
    for (size_t k = 0; k < sizeof(geo) / sizeof(geo[0]); k++) {
        fp_pool_config cfg = av_config(2, &tlog);
        fp_pool *p = NULL;
        int before = atomic_load(&tlog.total);
        int rc = fp_av_pool_create(&p, AV_PIX_FMT_YUV420P, geo[k][0], geo[k][1], &cfg);
        ck_assert_msg(rc == FP_ERR(EINVAL), "%dx%d: got %s", geo[k][0], geo[k][1], fp_strerror(rc));
        ck_assert_ptr_null(p);
        ck_assert_int_gt(atomic_load(&tlog.total), before);
    }
    fp_pool_config cfg = av_config(2, &tlog);
    ck_assert_int_eq(fp_av_pool_create(NULL, AV_PIX_FMT_YUV420P, 64, 64, &cfg), FP_ERR(EINVAL));
}
END_TEST

/* Creates with one conflicting field; expects EINVAL and a log line naming `field`. */
static void expect_cfg_conflict(const fp_pool_config *cfg, enum AVPixelFormat fmt, int w, int h,
                                const char *field)
{
    test_log_reset(&tlog);
    fp_pool *p = NULL;
    int rc = fp_av_pool_create(&p, fmt, w, h, cfg);
    ck_assert_msg(rc == FP_ERR(EINVAL), "conflicting %s accepted: %s", field, fp_strerror(rc));
    ck_assert_ptr_null(p);
    ck_assert_msg(test_log_has(&tlog, field), "log does not name '%s' (first line: '%s')", field,
                  atomic_load(&tlog.count) ? tlog.lines[0] : "");
}

START_TEST(create_rejects_cfg_conflicts)
{
    fp_pool_config cfg = av_config(2, &tlog);
    cfg.format = FP_FMT_NV12;
    expect_cfg_conflict(&cfg, AV_PIX_FMT_YUV420P, 64, 48, "format");
    cfg.format = FP_FMT_RAW;
    expect_cfg_conflict(&cfg, AV_PIX_FMT_YUV420P, 64, 48, "format");
    cfg.format = FP_FMT_RGBA;
    expect_cfg_conflict(&cfg, AV_PIX_FMT_GBRP, 64, 48, "format");

    cfg = av_config(2, &tlog);
    cfg.width = 32;
    expect_cfg_conflict(&cfg, AV_PIX_FMT_YUV420P, 64, 48, "width");
    cfg = av_config(2, &tlog);
    cfg.height = 49;
    expect_cfg_conflict(&cfg, AV_PIX_FMT_YUV420P, 64, 48, "height");
    cfg = av_config(2, &tlog);
    cfg.buffer_size = 4096;
    expect_cfg_conflict(&cfg, AV_PIX_FMT_YUV420P, 64, 48, "buffer_size");
    /* the core's own validation still applies */
    cfg = av_config(0, &tlog);
    expect_cfg_conflict(&cfg, AV_PIX_FMT_YUV420P, 64, 48, "max_frames");
    cfg = av_config(2, &tlog);
    cfg.min_frames = 3;
    expect_cfg_conflict(&cfg, AV_PIX_FMT_YUV420P, 64, 48, "min_frames");
    cfg = av_config(2, &tlog);
    cfg.align = 48;
    expect_cfg_conflict(&cfg, AV_PIX_FMT_YUV420P, 64, 48, "align");
}
END_TEST

/* ========================================================================= */
/* refs                                                                      */

START_TEST(acquire_errors)
{
    AVFrame *f = NULL, *g = NULL;
    AVFrame dummy;
    /* a core pool is not an AV pool */
    fp_pool_config ccfg = test_config(FP_FMT_YUV420P, 64, 48, 2, &tlog);
    fp_pool *core = NULL;
    ck_assert_int_eq(fp_pool_create(&core, &ccfg), 0);
    ck_assert_int_eq(fp_av_pool_format(core), AV_PIX_FMT_NONE);
    f = &dummy;
    ck_assert_int_eq(fp_av_acquire(core, 0, &f), FP_ERR(EINVAL));
    ck_assert_ptr_null(f);
    ck_books(core, 0, 0);
    fp_pool_unref(&core);
    ck_assert_int_eq(fp_av_pool_format(NULL), AV_PIX_FMT_NONE);

    f = &dummy;
    ck_assert_int_eq(fp_av_acquire(NULL, 0, &f), FP_ERR(EINVAL));
    ck_assert_ptr_null(f);

    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 64, 48, 1);
    ck_assert_int_eq(fp_av_acquire(p, 0, NULL), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_av_acquire(p, -5, &f), FP_ERR(EINVAL));
    ck_assert_ptr_null(f);
    ck_assert_int_eq(fp_av_acquire(p, 0, &f), 0);
    g = &dummy;
    ck_assert_int_eq(fp_av_acquire(p, 0, &g), FP_ERR(EAGAIN));
    ck_assert_ptr_null(g);
    g = &dummy;
    ck_assert_int_eq(fp_av_acquire(p, 1000, &g), FP_ERR(ETIMEDOUT));
    ck_assert_ptr_null(g);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.exhausted, 1);
    ck_assert_uint_eq(st.timeouts, 1);
    ck_assert_uint_eq(st.live, 1);
    fp_pool_close(p);
    av_frame_free(&f); /* a live frame of a closed pool still returns */
    g = &dummy;
    ck_assert_int_eq(fp_av_acquire(p, 0, &g), FP_ERR(ESHUTDOWN));
    ck_assert_ptr_null(g);
    finish_pool(&p);
}
END_TEST

START_TEST(ref_clone_move)
{
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 64, 48, 4);
    AVFrame *a = NULL;
    ck_assert_int_eq(fp_av_acquire(p, 0, &a), 0);
    ck_books(p, 1, 0);
    ck_assert_int_eq(av_frame_is_writable(a), 1);
    fill_pattern(a, 3);
    fp_frame *pf = fp_av_frame_pool_frame(a);
    ck_assert_ptr_nonnull(pf);

    AVFrame *b = av_frame_alloc();
    ck_assert_int_eq(av_frame_ref(b, a), 0);
    ck_books(p, 1, 0);
    ck_assert_int_eq(av_frame_is_writable(a), 0);
    ck_assert_int_eq(av_frame_is_writable(b), 0);
    ck_assert_ptr_eq(fp_av_frame_pool_frame(b), pf);
    ck_assert_int_eq(fp_av_frame_is_from(p, b), 1);
    ck_frames_equal(a, b);

    AVFrame *c = av_frame_clone(a);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_eq(fp_av_frame_pool_frame(c), pf);
    ck_books(p, 1, 0);

    AVFrame *d = av_frame_alloc();
    av_frame_move_ref(d, b);
    ck_assert_ptr_null(b->buf[0]);
    ck_assert_ptr_null(fp_av_frame_pool_frame(b));
    ck_assert_int_eq(fp_av_frame_is_from(p, b), 0);
    ck_assert_ptr_eq(fp_av_frame_pool_frame(d), pf);
    ck_books(p, 1, 0);
    av_frame_free(&b); /* empty: changes nothing */
    ck_books(p, 1, 0);

    av_frame_free(&a);
    ck_books(p, 1, 0);
    ck_assert_int_eq(av_frame_is_writable(d), 0); /* c still shares it */
    av_frame_unref(c);
    ck_books(p, 1, 0);
    ck_assert_int_eq(av_frame_is_writable(d), 1); /* only reference now */
    av_frame_free(&c);

    /* a bare buffer reference outlives every AVFrame */
    AVBufferRef *raw = av_buffer_ref(d->buf[0]);
    ck_assert_ptr_nonnull(raw);
    av_frame_free(&d);
    ck_books(p, 1, 0);
    av_buffer_unref(&raw);
    ck_books(p, 0, 1);

    /* the slot is reused and is writable again */
    ck_assert_int_eq(fp_av_acquire(p, 0, &a), 0);
    ck_assert_int_eq(av_frame_is_writable(a), 1);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.allocated, 1);
    ck_assert_uint_eq(st.peak_live, 1);
    av_frame_free(&a);
    finish_pool(&p);
}
END_TEST

#define NTHREADS 4
typedef struct unref_job {
    AVFrame *frame;
    pthread_barrier_t *start;
    uint64_t tid;
} unref_job;

static void *unref_on_thread(void *arg)
{
    unref_job *j = arg;
    j->tid = (uint64_t)syscall(SYS_gettid);
    pthread_barrier_wait(j->start);
    av_frame_free(&j->frame);
    return NULL;
}

START_TEST(last_unref_on_other_threads)
{
    fp_pool *p = make_pool(AV_PIX_FMT_NV12, 128, 64, 2);
    int rounds = scaled(200, 20);
    for (int r = 0; r < rounds; r++) {
        AVFrame *a = NULL;
        ck_assert_int_eq(fp_av_acquire(p, 0, &a), 0);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, NTHREADS);
        unref_job jobs[NTHREADS];
        pthread_t th[NTHREADS];
        for (int i = 0; i < NTHREADS; i++) {
            jobs[i].frame = av_frame_clone(a);
            ck_assert_ptr_nonnull(jobs[i].frame);
            jobs[i].start = &start;
        }
        av_frame_free(&a);
        ck_books(p, 1, (uint64_t)r);
        for (int i = 0; i < NTHREADS; i++)
            ck_assert_int_eq(pthread_create(&th[i], NULL, unref_on_thread, &jobs[i]), 0);
        for (int i = 0; i < NTHREADS; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&start);
        ck_books(p, 0, (uint64_t)r + 1);
    }
    finish_pool(&p);
}
END_TEST

static void *free_after_20ms(void *arg)
{
    AVFrame *f = arg;
    test_sleep_us(20000);
    av_frame_free(&f);
    return NULL;
}

START_TEST(waiter_woken_by_av_frame_free)
{
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 64, 48, 1);
    AVFrame *a = NULL, *b = NULL;
    ck_assert_int_eq(fp_av_acquire(p, 0, &a), 0);
    uint8_t *mem = a->data[0];
    AVFrame *other = av_frame_clone(a);
    av_frame_free(&a);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, free_after_20ms, other), 0);
    /* the only frame comes back when the other thread drops the last reference */
    ck_assert_int_eq(fp_av_acquire(p, FP_WAIT_FOREVER, &b), 0);
    pthread_join(th, NULL);
    ck_assert_ptr_eq(b->data[0], mem);
    ck_books(p, 1, 1);
    av_frame_free(&b);
    finish_pool(&p);
}
END_TEST

START_TEST(make_writable_copies_out)
{
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 96, 40, 2);
    AVFrame *a = NULL;
    ck_assert_int_eq(fp_av_acquire(p, 0, &a), 0);
    fill_pattern(a, 11);

    /* sole reference: writable already, nothing copied */
    uint8_t *mem = a->data[0];
    ck_assert_int_eq(av_frame_make_writable(a), 0);
    ck_assert_ptr_eq(a->data[0], mem);
    ck_assert_int_eq(fp_av_frame_is_from(p, a), 1);

    AVFrame *b = av_frame_clone(a);
    ck_assert_int_eq(av_frame_is_writable(b), 0);
    ck_assert_int_eq(av_frame_make_writable(b), 0);
    /* b is now a plain FFmpeg frame holding a copy */
    ck_assert_int_eq(av_frame_is_writable(b), 1);
    ck_assert_ptr_ne(b->data[0], mem);
    ck_assert_ptr_null(fp_av_frame_pool_frame(b));
    ck_assert_int_eq(fp_av_frame_is_from(p, b), 0);
    ck_assert_int_eq(fp_av_frame_set_tag(b, "copy"), FP_ERR(EINVAL));
    ck_frames_equal(a, b);
    ck_books(p, 1, 0);
    ck_assert_int_eq(av_frame_is_writable(a), 1); /* b dropped its pool reference */

    /* the pool frame returns exactly when its own last reference goes */
    av_frame_free(&a);
    ck_books(p, 0, 1);
    /* the copy lives on and stays valid */
    AVFrame *expect = pattern_frame(AV_PIX_FMT_YUV420P, 96, 40, 11);
    ck_frames_equal(b, expect);
    fill_pattern(b, 12);
    av_frame_free(&b);
    av_frame_free(&expect);
    ck_books(p, 0, 1);
    finish_pool(&p);
}
END_TEST

static int auto_helper(fp_pool *p, int bail_early)
{
    FP_AUTO_AVFRAME AVFrame *f = NULL;
    FP_AUTO_AVFRAME AVFrame *never = NULL;
    (void)never;
    if (fp_av_acquire(p, 0, &f) != 0)
        return -1;
    if (bail_early)
        return 100;
    return (int)get_stats(p).live;
}

START_TEST(auto_avframe)
{
    fp_pool *p = make_pool(AV_PIX_FMT_GRAY8, 32, 32, 1);
    {
        FP_AUTO_AVFRAME AVFrame *f = NULL;
        ck_assert_int_eq(fp_av_acquire(p, 0, &f), 0);
        ck_books(p, 1, 0);
    }
    ck_books(p, 0, 1);
    ck_assert_int_eq(auto_helper(p, 1), 100);
    ck_books(p, 0, 2);
    ck_assert_int_eq(auto_helper(p, 0), 1);
    ck_books(p, 0, 3);
    /* the cleanup function itself is NULL-safe and clears the variable */
    AVFrame *g = NULL;
    fp_av_frame_autorelease(&g);
    fp_av_frame_autorelease(NULL);
    ck_assert_int_eq(fp_av_acquire(p, 0, &g), 0);
    fp_av_frame_autorelease(&g);
    ck_assert_ptr_null(g);
    ck_books(p, 0, 4);
    finish_pool(&p);
}
END_TEST

static void free_opaque(void *opaque, uint8_t *data)
{
    free(opaque);
    av_free(data);
}

START_TEST(identity_and_tag)
{
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 64, 48, 2);
    fp_pool *q = make_pool(AV_PIX_FMT_YUV420P, 64, 48, 2);
    AVFrame *a = NULL, *b = NULL;
    ck_assert_int_eq(fp_av_acquire(p, 0, &a), 0);
    ck_assert_int_eq(fp_av_acquire(q, 0, &b), 0);
    ck_assert_int_eq(fp_av_frame_is_from(p, a), 1);
    ck_assert_int_eq(fp_av_frame_is_from(q, a), 0);
    ck_assert_int_eq(fp_av_frame_is_from(q, b), 1);
    ck_assert_int_eq(fp_av_frame_is_from(p, b), 0);
    ck_assert_int_eq(fp_av_frame_is_from(NULL, a), 0);
    ck_assert_int_eq(fp_av_frame_is_from(p, NULL), 0);
    ck_assert_ptr_null(fp_av_frame_pool_frame(NULL));
    ck_assert_ptr_ne(fp_av_frame_pool_frame(a), fp_av_frame_pool_frame(b));

    /* plain FFmpeg frames of every kind are not pool frames */
    AVFrame *plain = pattern_frame(AV_PIX_FMT_YUV420P, 64, 48, 0); /* av_buffer_alloc, opaque NULL */
    ck_assert_ptr_null(fp_av_frame_pool_frame(plain));
    ck_assert_int_eq(fp_av_frame_is_from(p, plain), 0);
    ck_assert_int_eq(fp_av_frame_set_tag(plain, "plain"), FP_ERR(EINVAL));
    /* a fresh FFmpeg frame nobody has written yet (valgrind: nothing may depend on its bytes) */
    AVFrame *fresh = av_frame_alloc();
    fresh->format = AV_PIX_FMT_YUV420P;
    fresh->width = 64;
    fresh->height = 48;
    ck_assert_int_eq(av_frame_get_buffer(fresh, 0), 0);
    ck_assert_ptr_null(fp_av_frame_pool_frame(fresh));
    ck_assert_int_eq(fp_av_frame_is_from(p, fresh), 0);
    av_frame_free(&fresh);
    AVBufferPool *fresh_pool = av_buffer_pool_init(64 * 48 * 2, NULL);
    fresh = av_frame_alloc();
    fresh->format = AV_PIX_FMT_GRAY8;
    fresh->width = 64;
    fresh->height = 48;
    fresh->buf[0] = av_buffer_pool_get(fresh_pool);
    fresh->data[0] = fresh->buf[0]->data;
    fresh->linesize[0] = 64;
    ck_assert_ptr_null(fp_av_frame_pool_frame(fresh));
    ck_assert_int_eq(fp_av_frame_is_from(p, fresh), 0);
    av_frame_free(&fresh);
    av_buffer_pool_uninit(&fresh_pool);
    AVFrame *empty = av_frame_alloc();
    ck_assert_ptr_null(fp_av_frame_pool_frame(empty));
    ck_assert_int_eq(fp_av_frame_is_from(p, empty), 0);
    ck_assert_int_eq(fp_av_frame_set_tag(empty, "empty"), FP_ERR(EINVAL));
    /* a buffer whose opaque is a 1-byte object: must not be read past its end */
    AVFrame *tiny = av_frame_alloc();
    uint8_t *mem = av_malloc(4096);
    void *small = malloc(1);
    tiny->buf[0] = av_buffer_create(mem, 4096, free_opaque, small, 0);
    ck_assert_ptr_nonnull(tiny->buf[0]);
    tiny->data[0] = mem;
    ck_assert_ptr_null(fp_av_frame_pool_frame(tiny));
    ck_assert_int_eq(fp_av_frame_is_from(p, tiny), 0);
    ck_assert_int_eq(fp_av_frame_set_tag(tiny, "tiny"), FP_ERR(EINVAL));
    /* a buffer from FFmpeg's own AVBufferPool (what decoders use by default) */
    AVBufferPool *bp = av_buffer_pool_init(4096, NULL);
    AVFrame *pooled = av_frame_alloc();
    pooled->buf[0] = av_buffer_pool_get(bp);
    ck_assert_ptr_nonnull(pooled->buf[0]);
    pooled->data[0] = pooled->buf[0]->data;
    ck_assert_ptr_null(fp_av_frame_pool_frame(pooled));
    ck_assert_int_eq(fp_av_frame_is_from(p, pooled), 0);
    av_frame_free(&pooled);
    av_buffer_pool_uninit(&bp);
    av_frame_free(&tiny);
    av_frame_free(&empty);
    av_frame_free(&plain);

    /* tags show in the live list, on the frame behind any reference */
    AVFrame *a2 = av_frame_clone(a);
    char tag[32];
    strcpy(tag, "stream-7");
    ck_assert_int_eq(fp_av_frame_set_tag(a2, tag), 0);
    strcpy(tag, "overwritten");
    seen s = { 0 };
    ck_assert_int_eq(fp_pool_foreach_live(p, collect, &s), 0);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_eq(s.f[0].frame, fp_av_frame_pool_frame(a));
    ck_assert_str_eq(s.f[0].tag, "stream-7");
    memset(&s, 0, sizeof(s));
    fp_pool_foreach_live(q, collect, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_str_eq(s.f[0].tag, "");
    av_frame_free(&a2);
    av_frame_free(&a);
    av_frame_free(&b);
    /* cleared on return */
    ck_assert_int_eq(fp_av_acquire(p, 0, &a), 0);
    memset(&s, 0, sizeof(s));
    fp_pool_foreach_live(p, collect, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_str_eq(s.f[0].tag, "");
    av_frame_free(&a);
    finish_pool(&p);
    finish_pool(&q);
}
END_TEST

/*
 * A hardware frame's buf[0]->data need not be host memory: hwcontext_cuda wraps
 * the CUdeviceptr from cuMemAlloc in an AVBufferRef. Simulated with a PROT_NONE
 * mapping; asking whether it is a pool frame must not touch it. Run in a child
 * so a crash is reported as a failure even with CK_FORK=no (valgrind setup).
 */
static void unmap_buffer(void *opaque, uint8_t *data)
{
    munmap(data, (size_t)(uintptr_t)opaque);
}

START_TEST(identity_hw_frame)
{
    /* The child answers through a pipe: its exit status is valgrind's to set. */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        char answer = 'x';
        fp_pool *p = NULL;
        const size_t n = 65536;
        void *dev = mmap(NULL, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (fp_av_pool_create(&p, AV_PIX_FMT_NV12, 64, 64, NULL) == 0 && dev != MAP_FAILED) {
            AVFrame *f = av_frame_alloc();
            f->format = AV_PIX_FMT_CUDA;
            f->width = 64;
            f->height = 64;
            f->buf[0] = av_buffer_create(dev, n, unmap_buffer, (void *)(uintptr_t)n, 0);
            f->data[0] = dev;
            f->linesize[0] = 64;
            int ok = fp_av_frame_pool_frame(f) == NULL && fp_av_frame_is_from(p, f) == 0 &&
                     fp_av_frame_set_tag(f, "hw") == FP_ERR(EINVAL);
            answer = ok ? 'y' : 'n';
            av_frame_free(&f);
        }
        fp_pool_unref(&p);
        if (write(fds[1], &answer, 1) != 1)
            _exit(4);
        _exit(0);
    }
    close(fds[1]);
    char answer = 0;
    ssize_t got = read(fds[0], &answer, 1);
    close(fds[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(got == 1, "fp_av_frame_pool_frame on a hardware frame crashed (%s %d): it read "
                  "buf[0]->data, which is device memory for CUDA frames",
                  WIFSIGNALED(status) ? "signal" : "exit status",
                  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    ck_assert_msg(answer == 'y', "hardware frame: %s", answer == 'n' ? "taken for a pool frame"
                                                                      : "child setup failed");
}
END_TEST

/* Pool flags keep working with AV pools: identity, zeroing, poisoning, no tracking. */
START_TEST(pool_flags)
{
    static const unsigned flags[] = { FP_POOL_ZERO, FP_POOL_POISON, FP_POOL_NO_TRACK,
                                      FP_POOL_ZERO | FP_POOL_POISON };
    for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
        fp_pool_config cfg = av_config(2, &tlog);
        cfg.flags = flags[k];
        fp_pool *p = make_pool_cfg(AV_PIX_FMT_YUV420P, 64, 48, &cfg);
        for (int round = 0; round < 3; round++) {
            AVFrame *f = NULL;
            ck_assert_int_eq(fp_av_acquire(p, 0, &f), 0);
            ck_assert_int_eq(fp_av_frame_is_from(p, f), 1);
            ck_assert_int_eq(fp_av_frame_set_tag(f, "flags"), 0);
            if (flags[k] & FP_POOL_ZERO) {
                for (int i = 0; i < 3; i++)
                    for (int y = 0; y < plane_rows(AV_PIX_FMT_YUV420P, i, 48); y++)
                        for (int x = 0; x < (i ? 32 : 64); x++)
                            ck_assert_int_eq(f->data[i][y * f->linesize[i] + x], 0);
            }
            check_layout(f, AV_PIX_FMT_YUV420P, 64, 48, 64); /* writes every byte */
            AVFrame *g = av_frame_clone(f);
            av_frame_free(&f);
            ck_assert_int_eq(fp_av_frame_is_from(p, g), 1);
            av_frame_free(&g);
        }
        fp_pool_stats st = get_stats(p);
        ck_assert_uint_eq(st.misuse, 0);
        finish_pool(&p);
    }
    ck_assert_int_eq(atomic_load(&tlog.total), 0);
}
END_TEST

START_TEST(acquire_site_is_callers)
{
    fp_pool *p = make_pool(AV_PIX_FMT_RGBA, 32, 32, 2);
    AVFrame *a = NULL;
    ck_assert_int_eq(fp_av_acquire(p, 0, &a), 0); const int line_a = __LINE__;
    AVFrame *b = av_frame_alloc();
    b->format = AV_PIX_FMT_RGBA;
    b->width = 32;
    b->height = 32;
    ck_assert_int_eq(fp_av_frame_get_buffer(p, b, 0), 0); const int line_b = __LINE__;
    seen s = { 0 };
    ck_assert_int_eq(fp_pool_foreach_live(p, collect, &s), 0);
    ck_assert_int_eq(s.n, 2);
    /* oldest first */
    ck_assert_ptr_eq(s.f[0].frame, fp_av_frame_pool_frame(a));
    ck_assert_str_eq(s.f[0].file, __FILE__);
    ck_assert_int_eq(s.f[0].line, line_a);
    ck_assert_str_eq(s.f[0].func, __func__);
    ck_assert_uint_eq(s.f[0].thread, (uint64_t)syscall(SYS_gettid));
    ck_assert_ptr_eq(s.f[1].frame, fp_av_frame_pool_frame(b));
    ck_assert_str_eq(s.f[1].file, __FILE__);
    ck_assert_int_eq(s.f[1].line, line_b);
    ck_assert_str_eq(s.f[1].func, __func__);
    av_frame_free(&a);
    av_frame_free(&b);

    /* The _at forms record the site they are given (wrappers forwarding their caller's). */
    static const char wfile[] = "wrapper.c", wfunc[] = "wrap";
    ck_assert_int_eq(fp_av_acquire_at(p, 0, &a, wfile, 11, wfunc), 0);
    b = av_frame_alloc();
    b->format = AV_PIX_FMT_RGBA;
    b->width = 32;
    b->height = 32;
    ck_assert_int_eq(fp_av_frame_get_buffer_at(p, b, 0, wfile, 12, wfunc), 0);
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(fp_pool_foreach_live(p, collect, &s), 0);
    ck_assert_int_eq(s.n, 2);
    ck_assert_str_eq(s.f[0].file, wfile);
    ck_assert_int_eq(s.f[0].line, 11);
    ck_assert_str_eq(s.f[0].func, wfunc);
    ck_assert_int_eq(s.f[1].line, 12);
    av_frame_free(&a);
    av_frame_free(&b);
    finish_pool(&p);
}
END_TEST

/* ========================================================================= */
/* fp_av_frame_get_buffer                                                     */

START_TEST(get_buffer_reuse_loop)
{
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 160, 90, 2);
    AVFrame *f = av_frame_alloc();
    int n = scaled(1000, 100);
    for (int i = 0; i < n; i++) {
        f->format = AV_PIX_FMT_YUV420P;
        f->width = 160;
        f->height = 90;
        ck_assert_int_eq(fp_av_frame_get_buffer(p, f, 0), 0);
        ck_assert_int_eq(fp_av_frame_is_from(p, f), 1);
        if (i == 0)
            check_layout(f, AV_PIX_FMT_YUV420P, 160, 90, 64);
        fill_pattern(f, i);
        ck_books(p, 1, (uint64_t)i);
        av_frame_unref(f);
        ck_assert_ptr_null(f->buf[0]);
        ck_books(p, 0, (uint64_t)i + 1);
    }
    av_frame_free(&f);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.acquired, (uint64_t)n);
    ck_assert_uint_eq(st.peak_live, 1);
    ck_assert_uint_eq(st.allocated, 1);
    finish_pool(&p);
}
END_TEST

START_TEST(get_buffer_smaller_frame)
{
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 160, 90, 2);
    AVFrame *full = NULL;
    ck_assert_int_eq(fp_av_acquire(p, 0, &full), 0);
    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV420P;
    f->width = 33;
    f->height = 17;
    ck_assert_int_eq(fp_av_frame_get_buffer(p, f, 0), 0);
    ck_assert_int_eq(f->width, 33);
    ck_assert_int_eq(f->height, 17);
    for (int i = 0; i < 3; i++) /* the pool's linesizes */
        ck_assert_int_eq(f->linesize[i], full->linesize[i]);
    fill_pattern(f, 1);
    AVFrame *copy = av_frame_clone(f);
    ck_assert_int_eq(av_frame_make_writable(copy), 0);
    ck_frames_equal(f, copy);
    av_frame_free(&copy);
    av_frame_free(&f);
    av_frame_free(&full);
    finish_pool(&p);
}
END_TEST

START_TEST(get_buffer_mismatch)
{
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 160, 90, 2);
    static const int cases[][3] = {
        { AV_PIX_FMT_NV12, 160, 90 },
        { AV_PIX_FMT_YUV422P, 160, 90 },
        { AV_PIX_FMT_NONE, 160, 90 },
        { AV_PIX_FMT_YUV420P, 193, 90 }, /* beyond the padding: 160 -> 192 */
        { AV_PIX_FMT_YUV420P, 160, 99 }, /* 90 -> 96 + 2 */
        { AV_PIX_FMT_YUV420P, 4096, 4096 },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        test_log_reset(&tlog);
        AVFrame *f = av_frame_alloc();
        f->format = cases[k][0];
        f->width = cases[k][1];
        f->height = cases[k][2];
        int rc = fp_av_frame_get_buffer(p, f, 0);
        ck_assert_msg(rc == FP_ERR(EINVAL), "case %zu: got %s", k, fp_strerror(rc));
        ck_assert_ptr_null(f->buf[0]);
        ck_assert_ptr_null(f->data[0]);
        ck_assert_int_gt(atomic_load(&tlog.total), 0);
        av_frame_free(&f);
        ck_books(p, 0, 0);
    }
    /* the log shows both geometries */
    test_log_reset(&tlog);
    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV420P;
    f->width = 193;
    f->height = 90;
    ck_assert_int_eq(fp_av_frame_get_buffer(p, f, 0), FP_ERR(EINVAL));
    ck_assert_msg(test_log_has(&tlog, "193") && test_log_has(&tlog, "160"),
                  "log line lacks a geometry: '%s'", tlog.lines[0]);
    ck_assert_int_eq(fp_av_frame_get_buffer(NULL, f, 0), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_av_frame_get_buffer(p, NULL, 0), FP_ERR(EINVAL));
    av_frame_free(&f);
    /* a core pool is not an AV pool */
    fp_pool_config ccfg = test_config(FP_FMT_YUV420P, 160, 90, 2, &tlog);
    fp_pool *core = NULL;
    ck_assert_int_eq(fp_pool_create(&core, &ccfg), 0);
    f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV420P;
    f->width = 160;
    f->height = 90;
    ck_assert_int_eq(fp_av_frame_get_buffer(core, f, 0), FP_ERR(EINVAL));
    ck_assert_ptr_null(f->buf[0]);
    av_frame_free(&f);
    fp_pool_unref(&core);
    finish_pool(&p);
}
END_TEST

START_TEST(get_buffer_already_has_buffers)
{
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 160, 90, 2);
    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV420P;
    f->width = 160;
    f->height = 90;
    ck_assert_int_eq(fp_av_frame_get_buffer(p, f, 0), 0);
    AVBufferRef *held = f->buf[0];
    uint8_t *d0 = f->data[0];
    ck_assert_int_eq(fp_av_frame_get_buffer(p, f, 0), FP_ERR(EINVAL));
    ck_assert_ptr_eq(f->buf[0], held);
    ck_assert_ptr_eq(f->data[0], d0);
    ck_books(p, 1, 0);
    av_frame_free(&f);
    ck_books(p, 0, 1);

    /* a frame holding an FFmpeg buffer */
    AVFrame *plain = pattern_frame(AV_PIX_FMT_YUV420P, 160, 90, 0);
    held = plain->buf[0];
    ck_assert_int_eq(fp_av_frame_get_buffer(p, plain, 0), FP_ERR(EINVAL));
    ck_assert_ptr_eq(plain->buf[0], held);
    av_frame_free(&plain);
    finish_pool(&p);
}
END_TEST

START_TEST(get_buffer_exhausted)
{
    fp_pool *p = make_pool(AV_PIX_FMT_GRAY16LE, 64, 64, 1);
    AVFrame *a = av_frame_alloc(), *b = av_frame_alloc();
    a->format = b->format = AV_PIX_FMT_GRAY16LE;
    a->width = b->width = 64;
    a->height = b->height = 64;
    ck_assert_int_eq(fp_av_frame_get_buffer(p, a, 0), 0);
    ck_assert_int_eq(fp_av_frame_get_buffer(p, b, 0), FP_ERR(EAGAIN));
    ck_assert_ptr_null(b->buf[0]);
    ck_assert_int_eq(fp_av_frame_get_buffer(p, b, 2000), FP_ERR(ETIMEDOUT));
    ck_assert_ptr_null(b->buf[0]);
    ck_assert_int_eq(b->width, 64); /* untouched, ready for a retry */
    av_frame_unref(a);
    ck_assert_int_eq(fp_av_frame_get_buffer(p, b, 0), 0);
    av_frame_free(&a);
    av_frame_free(&b);
    finish_pool(&p);
}
END_TEST

#ifndef FP_TEST_AV_UTIL_ONLY
/* ========================================================================= */
/* Encoders and decoders                                                      */

static int open_encoder_slices; /* libx264: 4 slices per picture */

static AVCodecContext *open_encoder(const char *name, enum AVPixelFormat fmt, int w, int h, int gop,
                                    int bframes, int threads)
{
    const AVCodec *codec = avcodec_find_encoder_by_name(name);
    if (!codec)
        return NULL;
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    ck_assert_ptr_nonnull(enc);
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = fmt;
    enc->time_base = (AVRational){ 1, 25 };
    enc->framerate = (AVRational){ 25, 1 };
    enc->gop_size = gop;
    enc->max_b_frames = bframes;
    enc->bit_rate = 800000;
    enc->thread_count = threads;
    enc->thread_type = threads > 1 ? FF_THREAD_FRAME : 0;
    if (!strcmp(name, "libx264"))
        av_opt_set(enc->priv_data, "preset", "veryfast", 0);
    if (!strcmp(name, "libx264") && open_encoder_slices)
        av_opt_set(enc->priv_data, "x264-params", "slices=4", 0);
    int rc = avcodec_open2(enc, codec, NULL);
    ck_assert_msg(rc == 0, "avcodec_open2(%s): %s", name, av_err2str(rc));
    return enc;
}

/* A short encoded clip. */
typedef struct clip {
    const char *encoder;
    AVCodecParameters *par;
    enum AVPixelFormat fmt;
    int width, height, frames;
    AVPacket *pkt[MAX_CLIP];
    int n;
    int damaged; /* decode without error concealment (see decode_prefilled_deterministic) */
} clip;

/* Encodes `frames` pattern pictures with plain FFmpeg frames; 0 when the encoder is missing. */
static int clip_make(clip *c, const char *encoder, enum AVPixelFormat fmt, int w, int h, int frames,
                     int gop, int bframes)
{
    memset(c, 0, sizeof(*c));
    ck_assert_int_le(frames, MAX_CLIP);
    AVCodecContext *enc = open_encoder(encoder, fmt, w, h, gop, bframes, 1);
    if (!enc)
        return 0;
    c->encoder = encoder;
    c->fmt = fmt;
    c->width = w;
    c->height = h;
    c->frames = frames;
    AVPacket *pkt = av_packet_alloc();
    for (int i = 0; i <= frames; i++) {
        int rc;
        if (i < frames) {
            AVFrame *f = pattern_frame(fmt, w, h, i);
            rc = avcodec_send_frame(enc, f);
            av_frame_free(&f);
        } else {
            rc = avcodec_send_frame(enc, NULL);
        }
        ck_assert_msg(rc == 0, "%s: send_frame: %s", encoder, av_err2str(rc));
        while ((rc = avcodec_receive_packet(enc, pkt)) == 0) {
            ck_assert_int_lt(c->n, MAX_CLIP);
            c->pkt[c->n] = av_packet_alloc();
            av_packet_move_ref(c->pkt[c->n++], pkt);
        }
        ck_assert_msg(rc == AVERROR(EAGAIN) || rc == AVERROR_EOF, "%s: receive_packet: %s", encoder,
                      av_err2str(rc));
    }
    ck_assert_int_eq(c->n, frames);
    c->par = avcodec_parameters_alloc();
    ck_assert_int_ge(avcodec_parameters_from_context(c->par, enc), 0);
    av_packet_free(&pkt);
    avcodec_free_context(&enc);
    return 1;
}

static void clip_free(clip *c)
{
    for (int i = 0; i < c->n; i++)
        av_packet_free(&c->pkt[i]);
    avcodec_parameters_free(&c->par);
}

/* A decoder for the clip; with `pool`, output frames come from fp_av_get_buffer2. */
static AVCodecContext *open_decoder(const clip *c, fp_pool *pool, int threads)
{
    const AVCodec *codec = avcodec_find_decoder(c->par->codec_id);
    ck_assert_ptr_nonnull(codec);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    ck_assert_ptr_nonnull(dec);
    ck_assert_int_ge(avcodec_parameters_to_context(dec, c->par), 0);
    if (c->par->codec_id == AV_CODEC_ID_BITPACKED)
        dec->codec_tag = MKTAG('U', 'Y', 'V', 'Y');
    dec->thread_count = threads;
    dec->thread_type = threads > 1 ? FF_THREAD_FRAME : 0;
    if (c->damaged) {
        /* missing macroblocks stay as the buffer was, and such frames are output */
        dec->error_concealment = 0;
        dec->flags |= AV_CODEC_FLAG_OUTPUT_CORRUPT;
    }
    if (pool) {
        dec->opaque = pool;
        dec->get_buffer2 = fp_av_get_buffer2;
    }
    int rc = avcodec_open2(dec, codec, NULL);
    ck_assert_msg(rc == 0, "open decoder %s: %s", codec->name, av_err2str(rc));
    return dec;
}

typedef void (*frame_cb)(const AVFrame *f, int idx, void *ud);

/* Decodes the whole clip, calling cb for every output frame; returns the count. */
static int decode_clip(const clip *c, fp_pool *pool, int threads, frame_cb cb, void *ud)
{
    AVCodecContext *dec = open_decoder(c, pool, threads);
    AVFrame *f = av_frame_alloc();
    int n = 0;
    for (int i = 0; i <= c->n; i++) {
        int rc = avcodec_send_packet(dec, i < c->n ? c->pkt[i] : NULL);
        ck_assert_msg(rc == 0, "%s: send_packet %d: %s", dec->codec->name, i, av_err2str(rc));
        while ((rc = avcodec_receive_frame(dec, f)) == 0) {
            cb(f, n++, ud);
            av_frame_unref(f);
        }
        ck_assert_msg(rc == AVERROR(EAGAIN) || rc == AVERROR_EOF, "%s: receive_frame: %s",
                      dec->codec->name, av_err2str(rc));
    }
    av_frame_free(&f);
    avcodec_free_context(&dec);
    return n;
}

typedef struct refs {
    AVFrame *f[MAX_CLIP];
    int n;
} refs;

static void keep_cb(const AVFrame *f, int idx, void *ud)
{
    refs *r = ud;
    ck_assert_int_eq(idx, r->n);
    ck_assert_int_lt(r->n, MAX_CLIP);
    r->f[r->n++] = av_frame_clone(f);
}

/* Reference output: the default allocator, one thread. */
static void decode_reference(const clip *c, refs *r)
{
    memset(r, 0, sizeof(*r));
    ck_assert_int_eq(decode_clip(c, NULL, 1, keep_cb, r), c->frames);
}

static void refs_free(refs *r)
{
    for (int i = 0; i < r->n; i++)
        av_frame_free(&r->f[i]);
    r->n = 0;
}

typedef struct compare_ctx {
    const refs *ref;
    fp_pool *pool;
    int expect_from_pool;
    int from_pool;
} compare_ctx;

static void compare_cb(const AVFrame *f, int idx, void *ud)
{
    compare_ctx *cc = ud;
    ck_assert_int_lt(idx, cc->ref->n);
    ck_frames_equal(f, cc->ref->f[idx]);
    ck_assert_int_eq(f->pts, cc->ref->f[idx]->pts);
    int from = fp_av_frame_is_from(cc->pool, f);
    ck_assert_msg(from == cc->expect_from_pool, "frame %d: fp_av_frame_is_from %d, expected %d", idx,
                  from, cc->expect_from_pool);
    if (from) {
        cc->from_pool++;
        ck_assert_ptr_nonnull(fp_av_frame_pool_frame(f));
        for (int i = 0; i < 4 && f->data[i]; i++)
            ck_assert_msg((uintptr_t)f->data[i] % 64 == 0 && f->linesize[i] % 64 == 0,
                          "frame %d plane %d not 64-aligned", idx, i);
    }
}

/* ------------------------------------------------------------------------- */
/* encode                                                                    */

typedef struct enc_run {
    AVCodecContext *enc;
    AVCodecContext *verify; /* lossless: decode each packet and compare with its input */
    AVFrame *decoded;
    AVPacket *pkt;
    int packets;
    int64_t next_pts;       /* intra codecs: packets come out in input order */
    int in_order;
} enc_run;

/* Receives every packet the encoder has ready; returns how many. */
static int drain(enc_run *r)
{
    int got = 0, rc;
    while ((rc = avcodec_receive_packet(r->enc, r->pkt)) == 0) {
        got++;
        r->packets++;
        if (r->in_order) {
            ck_assert_int_eq(r->pkt->pts, r->next_pts);
            r->next_pts++;
        }
        if (r->verify) {
            ck_assert_int_eq(avcodec_send_packet(r->verify, r->pkt), 0);
            ck_assert_int_eq(avcodec_receive_frame(r->verify, r->decoded), 0);
            AVFrame *expect = pattern_frame(r->enc->pix_fmt, r->enc->width, r->enc->height,
                                            (int)r->pkt->pts);
            ck_frames_equal(r->decoded, expect);
            av_frame_free(&expect);
            av_frame_unref(r->decoded);
        }
        av_packet_unref(r->pkt);
    }
    ck_assert_msg(rc == AVERROR(EAGAIN) || rc == AVERROR_EOF, "receive_packet: %s", av_err2str(rc));
    return got;
}

/*
 * Feeds `frames` pictures, each acquired from `pool` without waiting, the way
 * a real application must: packets are drained only when the encoder or the
 * pool pushes back (send_frame or acquire EAGAIN), so the next acquire comes
 * right after a send. On acquire EAGAIN the loop drains packets and retries;
 * when nothing was ready (the encoder's worker threads still hold the frames)
 * it waits for one to come back. Returns the number of acquire EAGAINs.
 */
static int encode_from_pool(enc_run *r, fp_pool *pool, int frames)
{
    int eagain = 0, rc;
    for (int i = 0; i < frames; i++) {
        AVFrame *f = NULL;
        for (;;) {
            rc = fp_av_acquire(pool, 0, &f);
            if (rc == 0)
                break;
            ck_assert_msg(rc == FP_ERR(EAGAIN), "acquire: %s", fp_strerror(rc));
            ck_assert_ptr_null(f);
            eagain++;
            if (drain(r) == 0) {
                /* A deadlock (the encoder needing more input to let go) would show here. */
                rc = fp_av_acquire(pool, 60 * 1000000, &f);
                ck_assert_msg(rc == 0, "frame %d: no frame came back: %s", i, fp_strerror(rc));
                break;
            }
        }
        ck_assert_int_eq(av_frame_is_writable(f), 1);
        fill_pattern(f, i);
        f->pts = i;
        while ((rc = avcodec_send_frame(r->enc, f)) == AVERROR(EAGAIN))
            ck_assert_int_gt(drain(r), 0);
        ck_assert_msg(rc == 0, "send_frame %d: %s", i, av_err2str(rc));
        av_frame_free(&f); /* the encoder keeps its own reference if it needs one */
        fp_pool_stats st = get_stats(pool);
        ck_assert_uint_le(st.live, st.capacity);
    }
    while ((rc = avcodec_send_frame(r->enc, NULL)) == AVERROR(EAGAIN))
        ck_assert_int_gt(drain(r), 0);
    ck_assert_int_eq(rc, 0);
    drain(r);
    return eagain;
}

START_TEST(encode_mpeg2_bounded)
{
    const int w = 320, h = 240, cap = 4;
    int frames = scaled(3000, 120);
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, w, h, cap);
    enc_run r = { 0 };
    r.enc = open_encoder("mpeg2video", AV_PIX_FMT_YUV420P, w, h, 12, 2, 1);
    ck_assert_ptr_nonnull(r.enc);
    r.pkt = av_packet_alloc();
    int eagain = encode_from_pool(&r, p, frames);
    ck_assert_int_eq(r.packets, frames); /* every frame came out after the flush */
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_le(st.peak_live, (uint32_t)cap);
    ck_assert_uint_eq(st.acquired, (uint64_t)frames);
    avcodec_free_context(&r.enc);
    av_packet_free(&r.pkt);
    st = get_stats(p);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.released, (uint64_t)frames);
    fprintf(stderr, "av: mpeg2video %dx%d, %d frames from a pool of %d: %d packets, peak %u, %d EAGAIN\n",
            w, h, frames, cap, r.packets, st.peak_live, eagain);
    finish_pool(&p);
}
END_TEST

/* Frame-threaded lossless encoders that keep input frames on their workers (doc/design.md). */
static const char *const held_encoders[] = { "ffvhuff", "utvideo" };

START_TEST(encode_frame_threaded_eagain)
{
    const char *name = held_encoders[_i];
    const int w = 640, h = 360, cap = 2;
    int frames = scaled(600, 120);
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, w, h, cap);
    enc_run r = { 0 };
    r.enc = open_encoder(name, AV_PIX_FMT_YUV420P, w, h, 1, 0, 2);
    ck_assert_msg(r.enc != NULL, "encoder %s missing", name);
    ck_assert_msg(r.enc->active_thread_type & FF_THREAD_FRAME, "%s is not frame-threaded", name);
    r.pkt = av_packet_alloc();
    r.in_order = 1;
    /* every packet is decoded and compared with the picture it was made from: a slot
     * handed out again while a worker still read it would show as a mismatch */
    const AVCodec *dcodec = avcodec_find_decoder(r.enc->codec_id);
    r.verify = avcodec_alloc_context3(dcodec);
    AVCodecParameters *par = avcodec_parameters_alloc();
    avcodec_parameters_from_context(par, r.enc);
    avcodec_parameters_to_context(r.verify, par);
    avcodec_parameters_free(&par);
    r.verify->thread_count = 1;
    ck_assert_int_eq(avcodec_open2(r.verify, dcodec, NULL), 0);
    r.decoded = av_frame_alloc();

    int eagain = encode_from_pool(&r, p, frames);
    ck_assert_int_eq(r.packets, frames);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_le(st.peak_live, (uint32_t)cap);
    /* the encoder held frames: the pool ran dry and the loop coped */
    ck_assert_int_gt(eagain, 0);
    ck_assert_uint_eq(st.exhausted, (uint64_t)eagain);
    ck_assert_uint_eq(st.peak_live, (uint32_t)cap);
    avcodec_free_context(&r.enc);
    st = get_stats(p);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, (uint64_t)frames);
    fprintf(stderr, "av: %s (frame threads, 2) %dx%d, %d frames from a pool of %d: %d packets "
            "verified lossless, %d EAGAIN handled\n", name, w, h, frames, cap, r.packets, eagain);
    avcodec_free_context(&r.verify);
    av_frame_free(&r.decoded);
    av_packet_free(&r.pkt);
    finish_pool(&p);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* decode                                                                    */

typedef struct dec_case {
    const char *encoder;
    const char *alternative; /* when the encoder is not in this libavcodec */
    int bframes;
    int threads;
} dec_case;

static const dec_case dec_cases[] = {
    { "mpeg2video", NULL, 2, 1 },
    { "mpeg2video", NULL, 2, 2 },  /* no frame threads in this decoder: runs single-threaded */
    { "libx264", "mpeg4", 2, 1 },
    { "libx264", "mpeg4", 2, 2 },
    { "mpeg4", NULL, 2, 1 },
    { "mpeg4", NULL, 2, 2 },
    { "ffvhuff", NULL, 0, 2 },
};

START_TEST(decode_bit_identical)
{
    const dec_case *dc = &dec_cases[_i];
    const int w = 320, h = 180; /* coded height 192: the +2-row padding is used to the last row */
    int frames = scaled(48, 12);
    clip c;
    const char *name = dc->encoder;
    if (!clip_make(&c, name, AV_PIX_FMT_YUV420P, w, h, frames, 12, dc->bframes)) {
        fprintf(stderr, "av: encoder %s not available, using %s\n", name, dc->alternative);
        ck_assert_ptr_nonnull(dc->alternative);
        name = dc->alternative;
        ck_assert_int_eq(clip_make(&c, name, AV_PIX_FMT_YUV420P, w, h, frames, 12, dc->bframes), 1);
    }
    refs ref;
    decode_reference(&c, &ref);

    const int cap = 24;
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, w, h, cap);
    compare_ctx cc = { &ref, p, 1, 0 };
    ck_assert_int_eq(decode_clip(&c, p, dc->threads, compare_cb, &cc), frames);
    ck_assert_int_eq(cc.from_pool, frames);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.get_buffer_fallbacks, 0);
    ck_assert_uint_ge(st.acquired, (uint64_t)frames);
    ck_assert_uint_le(st.peak_live, (uint32_t)cap);
    ck_assert_uint_eq(st.live, 0); /* decoder freed, frames unreferenced */
    fprintf(stderr, "av: decode %s (%s, thread_count %d): %d frames from the pool, bit-identical to "
            "the default allocator; peak %u, %llu get_buffer2 acquires\n", c.par->codec_id == AV_CODEC_ID_H264 ?
            "h264" : avcodec_get_name(c.par->codec_id), name, dc->threads, frames, st.peak_live,
            (unsigned long long)st.acquired);
    ck_assert_int_eq(atomic_load(&tlog.total), 0);
    refs_free(&ref);
    clip_free(&c);
    finish_pool(&p);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* get_buffer2 edge cases                                                     */

/* Pools whose geometry is not the stream's: fp_av_get_buffer2 makes a new
 * generation for the decoder (format, size too small or larger than needed),
 * and every frame still comes from the pool, bit-exact. */
typedef struct follow_case {
    enum AVPixelFormat fmt;
    int w, h;
    uint32_t gen; /* generation after the stream: 1 = served as created */
} follow_case;

static const follow_case follow_cases[] = {
    { AV_PIX_FMT_NV12, 320, 180, 2 },     /* another pixel format */
    { AV_PIX_FMT_YUV422P, 320, 180, 2 },
    { AV_PIX_FMT_YUV420P, 160, 90, 2 },   /* too small */
    { AV_PIX_FMT_YUV420P, 320, 160, 2 },  /* coded height 192 does not fit 160 + padding */
    { AV_PIX_FMT_YUV420P, 256, 180, 2 },  /* width 256 < 320 */
    { AV_PIX_FMT_YUV420P, 640, 360, 2 },  /* larger: a smaller generation instead of 4x the memory */
    { AV_PIX_FMT_YUV420P, 320, 192, 1 },  /* exactly the coded size */
    { AV_PIX_FMT_YUV420P, 320, 180, 1 },  /* the stream's size: the coded 192 fits the padding */
    { AV_PIX_FMT_YUV420P, 304, 180, 1 },  /* 304 pads to 320: the padded slot holds it (av.h) */
};

START_TEST(get_buffer2_follows_geometry)
{
    const int w = 320, h = 180;
    int frames = scaled(24, 8);
    clip c;
    ck_assert_int_eq(clip_make(&c, "mpeg2video", AV_PIX_FMT_YUV420P, w, h, frames, 12, 2), 1);
    refs ref;
    decode_reference(&c, &ref);
    for (size_t k = 0; k < sizeof(follow_cases) / sizeof(follow_cases[0]); k++) {
        const follow_case *fc = &follow_cases[k];
        test_log_reset(&tlog);
        fp_pool *p = make_pool(fc->fmt, fc->w, fc->h, 16);
        compare_ctx cc = { &ref, p, 1, 0 };
        ck_assert_int_eq(decode_clip(&c, p, 1, compare_cb, &cc), frames);
        fp_pool_stats st = get_stats(p);
        ck_assert_uint_eq(st.get_buffer_fallbacks, 0);
        ck_assert_int_eq(cc.from_pool, frames);
        ck_assert_msg(st.generation == fc->gen, "%s %dx%d: generation %u, expected %u", av_get_pix_fmt_name(fc->fmt),
                      fc->w, fc->h, st.generation, fc->gen);
        ck_assert_uint_eq(st.old_generation_live, 0);
        ck_assert_uint_eq(st.old_generation_bytes, 0);
        ck_assert_int_eq(fp_av_pool_format(p), AV_PIX_FMT_YUV420P);
        ck_assert_int_eq(atomic_load(&tlog.total), 0); /* a geometry change is logged at FP_LOG_INFO */
        finish_pool(&p);
    }
    refs_free(&ref);
    clip_free(&c);
}
END_TEST

/* bitpacked's decoder calls get_buffer2 but has no AV_CODEC_CAP_DR1. */
START_TEST(get_buffer2_fallback_no_dr1)
{
    const int w = 64, h = 32;
    clip c;
    if (!clip_make(&c, "bitpacked", AV_PIX_FMT_YUV422P10LE, w, h, 4, 1, 0)) {
        fprintf(stderr, "av: bitpacked encoder missing: no-DR1 fallback not tested\n");
        return;
    }
    const AVCodec *dcodec = avcodec_find_decoder(c.par->codec_id);
    ck_assert_ptr_nonnull(dcodec);
    ck_assert_int_eq(dcodec->capabilities & AV_CODEC_CAP_DR1, 0);
    refs ref;
    decode_reference(&c, &ref);
    fp_pool *p = make_pool(AV_PIX_FMT_YUV422P10LE, w, h, 8);
    compare_ctx cc = { &ref, p, 0, 0 };
    ck_assert_int_eq(decode_clip(&c, p, 1, compare_cb, &cc), 4);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_ge(st.get_buffer_fallbacks, 4);
    ck_assert_uint_eq(st.acquired, 0);
    ck_assert_int_eq(atomic_load(&tlog.total), 1);
    refs_free(&ref);
    clip_free(&c);
    finish_pool(&p);
}
END_TEST

/*
 * Intra-only ffvhuff: the decoder keeps nothing, so a pool of 3 runs dry exactly
 * when the test holds 3 output frames. get_buffer2 waits get_buffer_timeout_us,
 * then fails with AVERROR(ENOBUFS), which the decoder reports.
 * One thread: avcodec_send_packet() of that very packet fails after the wait,
 * the packet is consumed, and the test sends it again after releasing frames.
 * Frame threads (2): FFmpeg reports a worker's result from a later send, and
 * the frame of the failed packet is lost; every other frame must come out right.
 */
START_TEST(get_buffer2_exhausted_intra)
{
    const int w = 320, h = 180, cap = 3;
    int frames = scaled(16, 8);
    clip c;
    ck_assert_int_eq(clip_make(&c, "ffvhuff", AV_PIX_FMT_YUV420P, w, h, frames, 1, 0), 1);
    refs ref;
    decode_reference(&c, &ref);
    for (int threads = 1; threads <= 2; threads++) {
        fp_pool_config cfg = av_config(cap, &tlog);
        cfg.get_buffer_timeout_us = 1000;
        cfg.decoder_overdraft = 0; /* the refusal itself (the overdraft: suite "decoders") */
        fp_pool *p = make_pool_cfg(AV_PIX_FMT_YUV420P, w, h, &cfg);
        AVCodecContext *dec = open_decoder(&c, p, threads);
        AVFrame *held[MAX_CLIP];
        int nheld = 0, nout = 0, errors = 0;
        AVFrame *f = av_frame_alloc();
        for (int i = 0; i <= c.n;) {
            uint64_t t0 = test_now_ns();
            int rc = avcodec_send_packet(dec, i < c.n ? c.pkt[i] : NULL);
            uint64_t t1 = test_now_ns();
            if (rc < 0) {
                ck_assert_msg(rc == AVERROR(ENOBUFS), "threads %d packet %d: %s", threads, i,
                              av_err2str(rc));
                if (threads == 1) {
                    ck_assert_uint_ge(t1 - t0, 1000000u); /* waited get_buffer_timeout_us first */
                    fp_pool_stats st = get_stats(p);
                    ck_assert_uint_eq(st.live, (uint32_t)cap);
                    ck_assert_int_gt(nheld, 0);
                } /* threads: both workers may fail at once; the second error comes a send later */
                errors++;
                while (nheld > 0)
                    av_frame_free(&held[--nheld]);
                if (threads == 1)
                    continue; /* the same packet again */
            }
            for (;;) {
                rc = avcodec_receive_frame(dec, f);
                if (rc == AVERROR(ENOBUFS) && threads > 1) {
                    /* while draining, a worker's failure comes out of receive_frame */
                    errors++;
                    while (nheld > 0)
                        av_frame_free(&held[--nheld]);
                    continue;
                }
                if (rc < 0)
                    break;
                ck_assert(f->pts >= 0 && f->pts < ref.n);
                ck_frames_equal(f, ref.f[f->pts]);
                ck_assert_int_eq(fp_av_frame_is_from(p, f), 1);
                nout++;
                held[nheld++] = av_frame_clone(f);
                av_frame_unref(f);
            }
            ck_assert_msg(rc == AVERROR(EAGAIN) || rc == AVERROR_EOF, "receive_frame: %s", av_err2str(rc));
            i++;
        }
        ck_assert_int_gt(errors, 0);
        if (threads == 1)
            ck_assert_int_eq(nout, frames);
        else
            ck_assert_int_eq(nout + errors, frames); /* each packet: a frame or an error */
        fp_pool_stats st = get_stats(p);
        ck_assert_uint_ge(st.timeouts + st.exhausted, (uint64_t)errors);
        ck_assert_uint_eq(st.get_buffer_fallbacks, 0);
        ck_assert_uint_eq(st.peak_live, (uint32_t)cap);
        while (nheld > 0)
            av_frame_free(&held[--nheld]);
        av_frame_free(&f);
        avcodec_free_context(&dec);
        fprintf(stderr, "av: ffvhuff decode (thread_count %d) into a pool of %d while holding output: "
                "%d ENOBUFS, %d frames bit-identical\n", threads, cap, errors, nout);
        finish_pool(&p);
    }
    refs_free(&ref);
    clip_free(&c);
}
END_TEST

/*
 * MPEG-2 with B-frames: the decoder itself keeps reference pictures. mpegvideo
 * turns any get_buffer failure into -1, so only "an error" is asserted here.
 */
START_TEST(get_buffer2_exhausted_refs)
{
    const int w = 320, h = 180, cap = 4;
    int frames = scaled(36, 14);
    clip c;
    ck_assert_int_eq(clip_make(&c, "mpeg2video", AV_PIX_FMT_YUV420P, w, h, frames, 12, 2), 1);
    refs ref;
    decode_reference(&c, &ref);
    fp_pool_config cfg = av_config(cap, &tlog);
    cfg.get_buffer_timeout_us = 1000;
    cfg.decoder_overdraft = 0; /* the refusal itself (the overdraft: suite "decoders") */
    fp_pool *p = make_pool_cfg(AV_PIX_FMT_YUV420P, w, h, &cfg);
    AVCodecContext *dec = open_decoder(&c, p, 1);
    AVFrame *held[MAX_CLIP];
    int nheld = 0, nout = 0, errors = 0;
    AVFrame *f = av_frame_alloc();
    for (int i = 0; i <= c.n;) {
        int rc = avcodec_send_packet(dec, i < c.n ? c.pkt[i] : NULL);
        if (rc < 0) {
            ck_assert_msg(rc != AVERROR(EAGAIN) && rc != AVERROR_EOF, "packet %d: %s", i, av_err2str(rc));
            fp_pool_stats st = get_stats(p);
            ck_assert_uint_eq(st.live, (uint32_t)cap);
            ck_assert_msg(nheld > 0, "packet %d failed (%s) while the test held nothing", i,
                          av_err2str(rc));
            errors++;
            while (nheld > 0)
                av_frame_free(&held[--nheld]);
            continue;
        }
        while ((rc = avcodec_receive_frame(dec, f)) == 0) {
            ck_assert_int_lt(nout, ref.n);
            ck_frames_equal(f, ref.f[nout]);
            ck_assert_int_eq(fp_av_frame_is_from(p, f), 1);
            nout++;
            held[nheld++] = av_frame_clone(f);
            av_frame_unref(f);
        }
        ck_assert(rc == AVERROR(EAGAIN) || rc == AVERROR_EOF);
        i++;
    }
    ck_assert_int_gt(errors, 0);
    ck_assert_int_eq(nout, frames);
    while (nheld > 0)
        av_frame_free(&held[--nheld]);
    av_frame_free(&f);
    avcodec_free_context(&dec);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.get_buffer_fallbacks, 0);
    fprintf(stderr, "av: mpeg2video decode into a pool of %d while holding output: %d errors, "
            "all %d frames recovered bit-identical\n", cap, errors, nout);
    refs_free(&ref);
    clip_free(&c);
    finish_pool(&p);
}
END_TEST

START_TEST(get_buffer2_waits_for_return)
{
    const int w = 320, h = 180;
    clip c;
    ck_assert_int_eq(clip_make(&c, "ffvhuff", AV_PIX_FMT_YUV420P, w, h, 2, 1, 0), 1);
    refs ref;
    decode_reference(&c, &ref);
    fp_pool_config cfg = av_config(1, &tlog);
    cfg.get_buffer_timeout_us = 60 * 1000000; /* long: the frame comes back after ~20 ms */
    cfg.decoder_overdraft = 0;                /* so the decoder must wait for it */
    fp_pool *p = make_pool_cfg(AV_PIX_FMT_YUV420P, w, h, &cfg);
    AVCodecContext *dec = open_decoder(&c, p, 1);
    AVFrame *f = av_frame_alloc();
    ck_assert_int_eq(avcodec_send_packet(dec, c.pkt[0]), 0);
    ck_assert_int_eq(avcodec_receive_frame(dec, f), 0);
    ck_frames_equal(f, ref.f[0]);
    AVFrame *first = av_frame_clone(f);
    av_frame_unref(f);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, free_after_20ms, first), 0);
    ck_assert_int_eq(avcodec_send_packet(dec, c.pkt[1]), 0); /* waits inside get_buffer2 */
    pthread_join(th, NULL);
    ck_assert_int_eq(avcodec_receive_frame(dec, f), 0);
    ck_frames_equal(f, ref.f[1]);
    ck_assert_int_eq(fp_av_frame_is_from(p, f), 1);
    av_frame_free(&f);
    avcodec_free_context(&dec);
    refs_free(&ref);
    clip_free(&c);
    finish_pool(&p);
}
END_TEST

START_TEST(get_buffer2_closed_pool)
{
    clip c;
    ck_assert_int_eq(clip_make(&c, "ffvhuff", AV_PIX_FMT_YUV420P, 64, 32, 2, 1, 0), 1);
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 64, 32, 2);
    AVCodecContext *dec = open_decoder(&c, p, 1);
    AVFrame *f = av_frame_alloc();
    ck_assert_int_eq(avcodec_send_packet(dec, c.pkt[0]), 0);
    ck_assert_int_eq(avcodec_receive_frame(dec, f), 0);
    ck_assert_int_eq(fp_av_frame_is_from(p, f), 1);
    fp_pool_close(p);
    ck_assert_int_eq(avcodec_send_packet(dec, c.pkt[1]), AVERROR(ESHUTDOWN));
    av_frame_free(&f);
    avcodec_free_context(&dec);
    clip_free(&c);
    finish_pool(&p);
}
END_TEST

#endif /* FP_TEST_AV_UTIL_ONLY */

/* ========================================================================= */
/* Allocation failures                                                        */

START_TEST(alloc_fail_create)
{
    for (int fail_at = 1; fail_at <= 4; fail_at++) {
        test_alloc ta = { .fail_at = fail_at };
        fp_pool_config cfg = av_config(4, &tlog);
        cfg.min_frames = 3;
        cfg.allocator = test_allocator(&ta);
        fp_pool *p = (fp_pool *)&ta;
        int rc = fp_av_pool_create(&p, AV_PIX_FMT_NV12, 320, 240, &cfg);
        if (fail_at <= 3) {
            ck_assert_msg(rc == FP_ERR(ENOMEM), "fail_at %d: %s", fail_at, fp_strerror(rc));
            ck_assert_ptr_null(p);
            ck_assert_int_eq(atomic_load(&ta.live), 0);
        } else {
            ck_assert_int_eq(rc, 0);
            ck_assert_int_eq(atomic_load(&ta.live), 3);
            AVFrame *f = NULL;
            ck_assert_int_eq(fp_av_acquire(p, 0, &f), 0);
            ck_assert_int_eq(atomic_load(&ta.calls), 3); /* preallocated: no new allocation */
            av_frame_free(&f);
            finish_pool(&p);
            ck_assert_int_eq(atomic_load(&ta.live), 0);
        }
    }
}
END_TEST

START_TEST(alloc_fail_lazy_acquire)
{
    test_alloc ta = { .fail_at = 2 };
    fp_pool_config cfg = av_config(4, &tlog);
    cfg.allocator = test_allocator(&ta);
    fp_pool *p = make_pool_cfg(AV_PIX_FMT_YUV420P, 160, 90, &cfg);
    ck_assert_int_eq(atomic_load(&ta.calls), 0);
    AVFrame *a = NULL, *b = NULL, *c = NULL;
    ck_assert_int_eq(fp_av_acquire(p, 0, &a), 0);
    AVFrame dummy;
    b = &dummy;
    ck_assert_int_eq(fp_av_acquire(p, 0, &b), FP_ERR(ENOMEM));
    ck_assert_ptr_null(b);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.alloc_failures, 1);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_uint_eq(st.allocated, 1);
    ck_assert_int_eq(fp_av_acquire(p, 0, &b), 0); /* only the 2nd allocation fails */
    /* and through fp_av_frame_get_buffer */
    ta.fail_at = 4;
    c = av_frame_alloc();
    c->format = AV_PIX_FMT_YUV420P;
    c->width = 160;
    c->height = 90;
    ck_assert_int_eq(fp_av_frame_get_buffer(p, c, 0), FP_ERR(ENOMEM));
    ck_assert_ptr_null(c->buf[0]);
    ck_assert_ptr_null(c->data[0]);
    ck_assert_int_eq(fp_av_frame_get_buffer(p, c, 0), 0);
    ck_assert_int_eq(atomic_load(&ta.live), 3);
    av_frame_free(&a);
    av_frame_free(&b);
    av_frame_free(&c);
    st = get_stats(p);
    ck_assert_uint_eq(st.alloc_failures, 2);
    finish_pool(&p);
    ck_assert_int_eq(atomic_load(&ta.live), 0);
}
END_TEST

#ifndef FP_TEST_AV_UTIL_ONLY
START_TEST(alloc_fail_get_buffer2)
{
    const int w = 320, h = 180;
    int frames = 6;
    clip c;
    ck_assert_int_eq(clip_make(&c, "ffvhuff", AV_PIX_FMT_YUV420P, w, h, frames, 1, 0), 1);
    refs ref;
    decode_reference(&c, &ref);
    test_alloc ta = { .fail_at = 2 };
    fp_pool_config cfg = av_config(4, &tlog);
    cfg.allocator = test_allocator(&ta);
    fp_pool *p = make_pool_cfg(AV_PIX_FMT_YUV420P, w, h, &cfg);
    AVCodecContext *dec = open_decoder(&c, p, 1);
    AVFrame *held[MAX_CLIP];
    int nout = 0, failures = 0;
    AVFrame *f = av_frame_alloc();
    for (int i = 0; i <= c.n;) {
        int rc = avcodec_send_packet(dec, i < c.n ? c.pkt[i] : NULL);
        if (rc < 0) {
            /* growing the pool failed inside the decoder: a clean error, then a retry */
            ck_assert_msg(rc == AVERROR(ENOMEM), "packet %d: %s", i, av_err2str(rc));
            failures++;
            ck_assert_int_le(failures, 1);
            continue;
        }
        while ((rc = avcodec_receive_frame(dec, f)) == 0) {
            ck_frames_equal(f, ref.f[nout]);
            ck_assert_int_eq(fp_av_frame_is_from(p, f), 1);
            held[nout++] = av_frame_clone(f); /* held, so the pool must grow */
            av_frame_unref(f);
        }
        i++;
        if (nout == 4) { /* the pool is full: let two go */
            av_frame_free(&held[0]);
            av_frame_free(&held[1]);
        }
    }
    ck_assert_int_eq(failures, 1);
    ck_assert_int_eq(nout, frames);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.alloc_failures, 1);
    ck_assert_uint_eq(st.get_buffer_fallbacks, 0);
    for (int i = 0; i < nout; i++)
        av_frame_free(&held[i]);
    av_frame_free(&f);
    avcodec_free_context(&dec);
    finish_pool(&p);
    ck_assert_int_eq(atomic_load(&ta.live), 0);
    refs_free(&ref);
    clip_free(&c);
}
END_TEST
#endif

/*
 * libavutil's own allocations failing: av_max_alloc() makes every av_malloc()
 * above the limit fail, so the AVFrame or the AVBufferRef wrapping the slot
 * cannot be made. The slot must go back to the pool.
 */
START_TEST(av_malloc_fail)
{
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 160, 90, 2);
    AVFrame *keep = av_frame_alloc();
    keep->format = AV_PIX_FMT_YUV420P;
    keep->width = 160;
    keep->height = 90;
    AVFrame dummy;
    AVFrame *f = &dummy;
    av_max_alloc(16); /* below sizeof(AVFrame), AVBuffer and AVBufferRef */
    int rc = fp_av_acquire(p, 0, &f);
    int rc2 = fp_av_frame_get_buffer(p, keep, 0);
    av_max_alloc(INT_MAX);
    ck_assert_msg(rc == FP_ERR(ENOMEM), "fp_av_acquire without memory: %s", fp_strerror(rc));
    ck_assert_ptr_null(f);
    if (rc2 != 0) {
        ck_assert_msg(rc2 == FP_ERR(ENOMEM), "fp_av_frame_get_buffer without memory: %s",
                      fp_strerror(rc2));
        ck_assert_ptr_null(keep->buf[0]);
        ck_assert_ptr_null(keep->data[0]);
        ck_books(p, 0, get_stats(p).acquired);
    } else {
        av_frame_unref(keep); /* it needed no av_malloc: fine too */
    }
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.misuse, 0);
    /* and everything works again */
    ck_assert_int_eq(fp_av_acquire(p, 0, &f), 0);
    keep->format = AV_PIX_FMT_YUV420P;
    keep->width = 160;
    keep->height = 90;
    ck_assert_int_eq(fp_av_frame_get_buffer(p, keep, 0), 0);
    av_frame_free(&f);
    av_frame_free(&keep);
    finish_pool(&p);
}
END_TEST

/* ========================================================================= */
/* Pixel memory is zeroed when a slot is first backed                         */

/* An allocator that hands out memory filled with a byte pattern, as a reused
 * heap block (another stream's pixels) would be. */
typedef struct pattern_alloc {
    uint8_t byte;
    _Atomic int calls;
} pattern_alloc;

static void *pattern_alloc_fn(void *opaque, size_t size, size_t align)
{
    pattern_alloc *pa = opaque;
    void *p = NULL;
    if (posix_memalign(&p, align, size) != 0)
        return NULL;
    memset(p, pa->byte, size);
    atomic_fetch_add(&pa->calls, 1);
    return p;
}

static void pattern_free_fn(void *opaque, void *ptr, size_t size)
{
    (void)opaque;
    (void)size;
    free(ptr);
}

static fp_pool_config pattern_config(pattern_alloc *pa, int max_frames)
{
    fp_pool_config cfg = av_config(max_frames, &tlog);
    cfg.allocator = (fp_allocator){ pattern_alloc_fn, pattern_free_fn, pa };
    return cfg;
}

/* Every byte after the header (planes, padding rows, tail) is zero in a new slot. */
START_TEST(backed_memory_is_zeroed)
{
    static const enum AVPixelFormat fmts[] = { AV_PIX_FMT_YUV420P, AV_PIX_FMT_NV12, AV_PIX_FMT_BGRA,
                                               AV_PIX_FMT_PAL8 };
    for (size_t k = 0; k < sizeof(fmts) / sizeof(fmts[0]); k++) {
        pattern_alloc pa = { .byte = 0xA7 };
        fp_pool_config cfg = pattern_config(&pa, 3);
        cfg.min_frames = 1; /* one slot backed at creation, two on demand */
        fp_pool *p = make_pool_cfg(fmts[k], 322, 181, &cfg);
        AVFrame *f[3] = { NULL, NULL, NULL };
        for (int i = 0; i < 3; i++) {
            ck_assert_int_eq(fp_av_acquire(p, 0, &f[i]), 0);
            const uint8_t *b = f[i]->buf[0]->data;
            size_t n = f[i]->buf[0]->size;
            size_t j = (size_t)(f[i]->data[0] - b);
            while (j < n && b[j] == 0)
                j++;
            ck_assert_msg(j == n, "%s frame %d: byte %zu of %zu is 0x%02x", av_get_pix_fmt_name(fmts[k]), i, j,
                          n, j < n ? b[j] : 0);
            memset(f[i]->data[0], 0x33, (size_t)f[i]->linesize[0]); /* a writer */
        }
        ck_assert_int_eq(atomic_load(&pa.calls), 3);
        /* Once per backing, not per acquire: a reused slot keeps its pixels. */
        AVFrame *again = NULL;
        av_frame_free(&f[0]);
        ck_assert_int_eq(fp_av_acquire(p, 0, &again), 0);
        ck_assert_int_eq(again->data[0][0], 0x33);
        av_frame_free(&again);
        /* A new generation's memory is zeroed too, the old frames' pixels stay theirs. */
        ck_assert_int_eq(fp_av_pool_reconfigure(p, fmts[k], 640, 360), 2);
        ck_assert_int_eq(f[1]->data[0][0], 0x33);
        for (int i = 0; i < 1; i++) {
            AVFrame *g = NULL;
            ck_assert_int_eq(fp_av_acquire(p, 0, &g), 0);
            ck_assert_int_eq(g->width, 640);
            ck_assert_int_eq(g->format, fmts[k]);
            const uint8_t *b = g->buf[0]->data;
            size_t n = g->buf[0]->size, j = (size_t)(g->data[0] - b);
            while (j < n && b[j] == 0)
                j++;
            ck_assert_msg(j == n, "%s generation 2: byte %zu of %zu is 0x%02x", av_get_pix_fmt_name(fmts[k]), j, n,
                          j < n ? b[j] : 0);
            av_frame_free(&g);
        }
        av_frame_free(&f[1]);
        av_frame_free(&f[2]);
        finish_pool(&p);
    }
}
END_TEST

#ifndef FP_TEST_AV_UTIL_ONLY
typedef struct prefill_case {
    const char *encoder;
    const char *alternative;
    int bframes;
    int threads;
} prefill_case;

static const prefill_case prefill_cases[] = {
    { "mpeg2video", NULL, 2, 1 },
    { "libx264", "mpeg4", 2, 1 },
    { "libx264", "mpeg4", 2, 2 },
    { "mpeg4", NULL, 2, 1 },
};

typedef struct copy_ctx {
    refs *out;
    fp_pool *pool;
} copy_ctx;

/* Keeps a deep copy in a plain FFmpeg frame, so the pool frame goes back. */
static void copy_cb(const AVFrame *f, int idx, void *ud)
{
    copy_ctx *cc = ud;
    ck_assert_int_eq(idx, cc->out->n);
    ck_assert_int_lt(idx, MAX_CLIP);
    ck_assert_int_eq(fp_av_frame_is_from(cc->pool, f), 1);
    AVFrame *copy = av_frame_alloc();
    ck_assert_ptr_nonnull(copy);
    copy->format = f->format;
    copy->width = f->width;
    copy->height = f->height;
    ck_assert_int_eq(av_frame_get_buffer(copy, 0), 0);
    ck_assert_int_eq(av_frame_copy(copy, f), 0);
    copy->pts = f->pts;
    cc->out->f[cc->out->n++] = copy;
}

/*
 * The same stream decoded through two pools whose allocators hand out memory
 * filled with different patterns must give the same pictures (and the default
 * allocator's): some decoders read bytes of their frames they never wrote
 * (libavcodec's own allocator zeroes decoder buffers for this reason).
 */
START_TEST(decode_prefilled_deterministic)
{
    const prefill_case *pc = &prefill_cases[_i];
    const int w = 320, h = 180;
    int frames = scaled(48, 12);
    clip c;
    const char *name = pc->encoder;
    open_encoder_slices = 1;
    if (!clip_make(&c, name, AV_PIX_FMT_YUV420P, w, h, frames, 12, pc->bframes)) {
        fprintf(stderr, "av: encoder %s not available, using %s\n", name, pc->alternative);
        ck_assert_ptr_nonnull(pc->alternative);
        name = pc->alternative;
        ck_assert_int_eq(clip_make(&c, name, AV_PIX_FMT_YUV420P, w, h, frames, 12, pc->bframes), 1);
    }
    open_encoder_slices = 0;
    /* The first picture loses its second half: without error concealment the
     * decoder never writes those rows, and later pictures predict from them. */
    c.damaged = 1;
    av_shrink_packet(c.pkt[0], c.pkt[0]->size / 2);
    refs ref;
    decode_reference(&c, &ref);
    static const uint8_t bytes[2] = { 0x00, 0xFF };
    refs out[2];
    for (int k = 0; k < 2; k++) {
        pattern_alloc pa = { .byte = bytes[k] };
        fp_pool_config cfg = pattern_config(&pa, 24);
        fp_pool *p = make_pool_cfg(AV_PIX_FMT_YUV420P, w, h, &cfg);
        copy_ctx cc = { &out[k], p };
        memset(&out[k], 0, sizeof(out[k]));
        ck_assert_int_eq(decode_clip(&c, p, pc->threads, copy_cb, &cc), frames);
        ck_assert_int_gt(atomic_load(&pa.calls), 0);
        ck_assert_uint_eq(get_stats(p).get_buffer_fallbacks, 0);
        finish_pool(&p);
    }
    for (int i = 0; i < frames; i++) {
        char why[128] = "";
        ck_assert_msg(frames_equal(out[0].f[i], out[1].f[i], why, sizeof(why)),
                      "%s (thread_count %d) frame %d: pool memory prefilled with 0x00 and 0xFF decodes "
                      "differently: %s", name, pc->threads, i, why);
        ck_frames_equal(out[0].f[i], ref.f[i]);
    }
    fprintf(stderr, "av: decode %s (thread_count %d): %d frames identical with pool memory prefilled "
            "0x00 and 0xFF\n", name, pc->threads, frames);
    refs_free(&out[0]);
    refs_free(&out[1]);
    refs_free(&ref);
    clip_free(&c);
}
END_TEST
#endif

/* ========================================================================= */
/* pal8: the palette plane                                                    */

/* A pal8 pool frame: indices in data[0], the 256 x 4-byte palette in data[1],
 * both inside buf[0], as av_frame_get_buffer() lays them out. */
START_TEST(pal8_layout)
{
    const int w = 321, h = 201;
    fp_pool *p = make_pool(AV_PIX_FMT_PAL8, w, h, 2);
    AVFrame *f = NULL;
    ck_assert_int_eq(fp_av_acquire(p, 0, &f), 0);
    ck_assert_int_eq(f->format, AV_PIX_FMT_PAL8);
    ck_assert_ptr_nonnull(f->data[0]);
    ck_assert_ptr_nonnull(f->data[1]);
    ck_assert_ptr_null(f->data[2]);
    ck_assert_int_ge(f->linesize[0], ALIGN_UP(w, 64));
    ck_assert_int_eq(f->linesize[0] % 64, 0);
    ck_assert_int_eq((uintptr_t)f->data[1] % 64, 0);
    const uint8_t *lo = f->buf[0]->data, *hi = lo + f->buf[0]->size;
    ck_assert(f->data[1] >= f->data[0] + (size_t)f->linesize[0] * (size_t)(ALIGN_UP(h, 32) + 2));
    ck_assert(f->data[1] + 1024 <= hi && f->data[0] >= lo);
    /* av_frame_copy copies indices and palette; the copy matches */
    AVFrame *src = pattern_frame(AV_PIX_FMT_PAL8, w, h, 3);
    for (int i = 0; i < 256; i++)
        AV_WN32(src->data[1] + 4 * i, 0xff000000u | (uint32_t)(i * 0x010203));
    ck_assert_int_eq(av_frame_copy(f, src), 0);
    ck_frames_equal(f, src);
    ck_assert_int_eq(memcmp(f->data[1], src->data[1], 1024), 0);
    av_frame_free(&src);
    av_frame_free(&f);
    finish_pool(&p);
}
END_TEST

#ifndef FP_TEST_AV_UTIL_ONLY
typedef struct pal8_ctx {
    const refs *ref;
    fp_pool *pool;
    int from_pool;
} pal8_ctx;

static void pal8_compare_cb(const AVFrame *f, int idx, void *ud)
{
    pal8_ctx *pc = ud;
    ck_assert_int_lt(idx, pc->ref->n);
    ck_assert_int_eq(f->format, AV_PIX_FMT_PAL8);
    ck_frames_equal(f, pc->ref->f[idx]);
    ck_assert_msg(memcmp(f->data[1], pc->ref->f[idx]->data[1], 1024) == 0, "frame %d: palettes differ", idx);
    pc->from_pool += fp_av_frame_is_from(pc->pool, f);
}

/* pal8 decoders (png with a palette, bmp) draw indices and palette from a pal8 pool. */
static const char *const pal8_codecs[] = { "png", "bmp" };

START_TEST(decode_pal8)
{
    const char *name = pal8_codecs[_i];
    const int w = 200, h = 120, frames = 6;
    int threads = !strcmp(name, "png") ? 2 : 1; /* png decodes with frame threads */
#if defined(__SANITIZE_THREAD__)
    threads = 1; /* frame threads' hand-off is invisible to TSan (see the top of this file) */
#endif
    AVCodecContext *enc = open_encoder(name, AV_PIX_FMT_PAL8, w, h, 1, 0, 1);
    ck_assert_msg(enc != NULL, "encoder %s missing (it is part of libavcodec itself)", name);
    clip c;
    memset(&c, 0, sizeof(c));
    c.encoder = name;
    c.fmt = AV_PIX_FMT_PAL8;
    c.width = w;
    c.height = h;
    c.frames = frames;
    AVPacket *pkt = av_packet_alloc();
    for (int i = 0; i <= frames; i++) {
        AVFrame *f = NULL;
        if (i < frames) {
            f = pattern_frame(AV_PIX_FMT_PAL8, w, h, i);
            for (int k = 0; k < 256; k++)
                AV_WN32(f->data[1] + 4 * k, 0xff000000u | (uint32_t)((k + i) * 0x00010307u & 0xffffff));
        }
        ck_assert_int_eq(avcodec_send_frame(enc, f), 0);
        av_frame_free(&f);
        int rc;
        while ((rc = avcodec_receive_packet(enc, pkt)) == 0) {
            c.pkt[c.n] = av_packet_alloc();
            av_packet_move_ref(c.pkt[c.n++], pkt);
        }
        ck_assert(rc == AVERROR(EAGAIN) || rc == AVERROR_EOF);
    }
    ck_assert_int_eq(c.n, frames);
    c.par = avcodec_parameters_alloc();
    ck_assert_int_ge(avcodec_parameters_from_context(c.par, enc), 0);
    av_packet_free(&pkt);
    avcodec_free_context(&enc);

    refs ref;
    decode_reference(&c, &ref);
    ck_assert_int_eq(ref.f[0]->format, AV_PIX_FMT_PAL8);
    fp_pool *p = make_pool(AV_PIX_FMT_PAL8, w, h, 6);
    pal8_ctx pc = { &ref, p, 0 };
    ck_assert_int_eq(decode_clip(&c, p, threads, pal8_compare_cb, &pc), frames);
    ck_assert_int_eq(pc.from_pool, frames);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.get_buffer_fallbacks, 0);
    ck_assert_uint_eq(st.live, 0);
    fprintf(stderr, "av: decode %s pal8 (thread_count %d): %d frames from the pool, indices and palette "
            "identical to the default allocator\n", name, threads, frames);
    refs_free(&ref);
    clip_free(&c);
    finish_pool(&p);
}
END_TEST

/* ========================================================================= */
/* fp_av_frame_make_writable in FFmpeg's usual encode loop                    */

typedef struct mw_case {
    const char *encoder;
    int threads;
    int holds; /* the encoder keeps references to its input frames */
} mw_case;

static const mw_case mw_cases[] = {
    { "ffvhuff", 2, 1 },    /* frame threads: keeps up to 3 input frames */
    { "mpeg2video", 1, 0 }, /* copies its input: the frame stays writable */
};

/*
 * The loop of FFmpeg's doc/examples/encode_video.c: one AVFrame, buffers from
 * the pool once, then per picture "make writable, fill, send, receive".
 * With fp_av_frame_make_writable every picture is a pool frame; with plain
 * av_frame_make_writable (checked first) the frame leaves the pool as soon as
 * the encoder keeps a reference.
 */
START_TEST(make_writable_encode_loop)
{
    const mw_case *mc = &mw_cases[_i];
    const int w = 320, h = 240, cap = 6;
#if defined(__SANITIZE_THREAD__)
    /* The frame-threaded encoder frees its AVBufferRefs on its workers after a
     * hand-off through libavcodec's uninstrumented atomics (see the top of this
     * file): TSan reports FFmpeg's own structures. The normal and ASan builds
     * run this case; framepool's side of it is what the other TSan cases check. */
    if (mc->holds) {
        fprintf(stderr, "av: %s encode loop not run under ThreadSanitizer (FFmpeg's frame threads)\n",
                mc->encoder);
        return;
    }
#endif
    int frames = scaled(120, 30);
    for (int use_fp = 0; use_fp <= 1; use_fp++) {
        fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, w, h, cap);
        enc_run r = { 0 };
        r.enc = open_encoder(mc->encoder, AV_PIX_FMT_YUV420P, w, h, 12, 0, mc->threads);
        ck_assert_ptr_nonnull(r.enc);
        r.pkt = av_packet_alloc();
        if (mc->holds) { /* lossless: check every packet against its picture */
            const AVCodec *dcodec = avcodec_find_decoder(r.enc->codec_id);
            r.verify = avcodec_alloc_context3(dcodec);
            AVCodecParameters *par = avcodec_parameters_alloc();
            avcodec_parameters_from_context(par, r.enc);
            avcodec_parameters_to_context(r.verify, par);
            avcodec_parameters_free(&par);
            ck_assert_int_eq(avcodec_open2(r.verify, dcodec, NULL), 0);
            r.decoded = av_frame_alloc();
        }
        AVFrame *frame = av_frame_alloc();
        frame->format = AV_PIX_FMT_YUV420P;
        frame->width = w;
        frame->height = h;
        ck_assert_int_eq(fp_av_frame_get_buffer(p, frame, 0), 0);
        int outside = 0;
        for (int i = 0; i < frames; i++) {
            int rc = use_fp ? fp_av_frame_make_writable(p, frame, 10 * 1000000) : av_frame_make_writable(frame);
            ck_assert_msg(rc == 0, "frame %d: make_writable: %s", i, av_err2str(rc));
            ck_assert_int_eq(av_frame_is_writable(frame), 1);
            outside += !fp_av_frame_is_from(p, frame);
            if (use_fp)
                ck_assert_msg(fp_av_frame_is_from(p, frame), "frame %d left the pool", i);
            fill_pattern(frame, i);
            frame->pts = i;
            ck_assert_int_eq(avcodec_send_frame(r.enc, frame), 0);
            drain(&r);
            fp_pool_stats st = get_stats(p);
            ck_assert_uint_le(st.live, st.capacity);
        }
        ck_assert_int_eq(avcodec_send_frame(r.enc, NULL), 0);
        drain(&r);
        ck_assert_int_eq(r.packets, frames);
        fp_pool_stats st = get_stats(p);
        if (!use_fp && mc->holds)
            ck_assert_int_gt(outside, 0); /* the trap, as documented in doc/migration.md */
        if (use_fp) {
            ck_assert_int_eq(outside, 0);
            if (mc->holds) /* each copy came from the pool */
                ck_assert_uint_gt(st.acquired, 1);
            else
                ck_assert_uint_eq(st.acquired, 1);
        }
        fprintf(stderr, "av: %s encode loop with %s: %d frames, %d outside the pool, %llu acquires, peak %u\n",
                mc->encoder, use_fp ? "fp_av_frame_make_writable" : "av_frame_make_writable", frames, outside,
                (unsigned long long)st.acquired, st.peak_live);
        av_frame_free(&frame);
        avcodec_free_context(&r.enc);
        avcodec_free_context(&r.verify);
        av_frame_free(&r.decoded);
        av_packet_free(&r.pkt);
        finish_pool(&p);
    }
}
END_TEST
#endif

/* Contract edges: no buffer, wrong geometry, exhausted pool (frame unchanged), writable frames untouched. */
START_TEST(make_writable_errors)
{
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 160, 90, 1);
    AVFrame *f = av_frame_alloc();
    ck_assert_int_eq(fp_av_frame_make_writable(p, f, 0), FP_ERR(EINVAL)); /* no buffer */
    ck_assert_int_eq(fp_av_frame_make_writable(p, NULL, 0), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_av_frame_make_writable(NULL, f, 0), FP_ERR(EINVAL));
    f->format = AV_PIX_FMT_YUV420P;
    f->width = 160;
    f->height = 90;
    ck_assert_int_eq(fp_av_frame_get_buffer(p, f, 0), 0);
    uint8_t *before = f->data[0];
    ck_assert_int_eq(fp_av_frame_make_writable(p, f, 0), 0); /* writable: untouched */
    ck_assert_ptr_eq(f->data[0], before);
    AVFrame *other = av_frame_clone(f);
    f->pts = 42;
    ck_assert_int_eq(fp_av_frame_make_writable(p, f, 0), FP_ERR(EAGAIN)); /* the only slot is shared */
    ck_assert_ptr_eq(f->data[0], before);
    ck_assert_int_eq(f->pts, 42);
    fp_pool *p2 = make_pool(AV_PIX_FMT_YUV420P, 160, 90, 2);
    fill_pattern(f, 5);
    ck_assert_int_eq(fp_av_frame_make_writable(p2, f, 0), 0); /* into another pool, picture copied */
    ck_assert_int_eq(fp_av_frame_is_from(p2, f), 1);
    ck_assert_int_eq(f->pts, 42);
    ck_assert_ptr_eq(f->extended_data, f->data);
    ck_frames_equal(f, other);
    av_frame_free(&other); /* p's slot is back */
    AVFrame *big = pattern_frame(AV_PIX_FMT_YUV420P, 320, 180, 1);
    AVFrame *ref = av_frame_clone(big);
    ck_assert_int_eq(fp_av_frame_make_writable(p, big, 0), FP_ERR(EINVAL)); /* larger than the pool */
    av_frame_free(&ref);
    av_frame_free(&big);
    av_frame_free(&f);
    finish_pool(&p2);
    finish_pool(&p);
}
END_TEST

/* ========================================================================= */

Suite *fp_test_suite(void)
{
    av_log_set_level(getenv("FP_TEST_AV_LOG") ? AV_LOG_VERBOSE : AV_LOG_QUIET);
    Suite *s = suite_create("av");
    TCase *tc;

    tc = tcase_create("create");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, create_formats);
    tcase_add_test(tc, create_align);
    tcase_add_test(tc, create_cfg_null_and_agreeing);
    tcase_add_test(tc, create_rejects_formats);
    tcase_add_test(tc, create_rejects_geometry);
    tcase_add_test(tc, create_rejects_cfg_conflicts);
    suite_add_tcase(s, tc);

    tc = tcase_create("refs");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, acquire_errors);
    tcase_add_test(tc, ref_clone_move);
    tcase_add_test(tc, last_unref_on_other_threads);
    tcase_add_test(tc, waiter_woken_by_av_frame_free);
    tcase_add_test(tc, make_writable_copies_out);
    tcase_add_test(tc, auto_avframe);
    tcase_add_test(tc, identity_and_tag);
    tcase_add_test(tc, identity_hw_frame);
    tcase_add_test(tc, pool_flags);
    tcase_add_test(tc, acquire_site_is_callers);
    suite_add_tcase(s, tc);

    tc = tcase_create("get_buffer");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, get_buffer_reuse_loop);
    tcase_add_test(tc, get_buffer_smaller_frame);
    tcase_add_test(tc, get_buffer_mismatch);
    tcase_add_test(tc, get_buffer_already_has_buffers);
    tcase_add_test(tc, get_buffer_exhausted);
    suite_add_tcase(s, tc);

#ifndef FP_TEST_AV_UTIL_ONLY
    tc = tcase_create("encode");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, encode_mpeg2_bounded);
    tcase_add_loop_test(tc, encode_frame_threaded_eagain, 0,
                        (int)(sizeof(held_encoders) / sizeof(held_encoders[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_loop_test(tc, decode_bit_identical, 0, (int)(sizeof(dec_cases) / sizeof(dec_cases[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("get_buffer2");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, get_buffer2_follows_geometry);
    tcase_add_test(tc, get_buffer2_fallback_no_dr1);
    tcase_add_test(tc, get_buffer2_exhausted_intra);
    tcase_add_test(tc, get_buffer2_exhausted_refs);
    tcase_add_test(tc, get_buffer2_waits_for_return);
    tcase_add_test(tc, get_buffer2_closed_pool);
    suite_add_tcase(s, tc);

#endif

    tc = tcase_create("alloc");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, alloc_fail_create);
    tcase_add_test(tc, alloc_fail_lazy_acquire);
#ifndef FP_TEST_AV_UTIL_ONLY
    tcase_add_test(tc, alloc_fail_get_buffer2);
#endif
    tcase_add_test(tc, av_malloc_fail);
    suite_add_tcase(s, tc);

    tc = tcase_create("zeroed");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, backed_memory_is_zeroed);
#ifndef FP_TEST_AV_UTIL_ONLY
    tcase_add_loop_test(tc, decode_prefilled_deterministic, 0,
                        (int)(sizeof(prefill_cases) / sizeof(prefill_cases[0])));
#endif
    suite_add_tcase(s, tc);

    tc = tcase_create("pal8");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, pal8_layout);
#ifndef FP_TEST_AV_UTIL_ONLY
    tcase_add_loop_test(tc, decode_pal8, 0, (int)(sizeof(pal8_codecs) / sizeof(pal8_codecs[0])));
#endif
    suite_add_tcase(s, tc);

    tc = tcase_create("make_writable");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, make_writable_errors);
#ifndef FP_TEST_AV_UTIL_ONLY
    tcase_add_loop_test(tc, make_writable_encode_loop, 0, (int)(sizeof(mw_cases) / sizeof(mw_cases[0])));
#endif
    suite_add_tcase(s, tc);

    return s;
}
