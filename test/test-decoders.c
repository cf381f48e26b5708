/*
 * Suite "decoders": fp_av_get_buffer2 under real decoders where the pool is
 * too small, the sizing helper against measured peaks, and decoders the pool
 * cannot see (issue 17).
 *
 * - sizing:    fp_av_frames_for_decoder() against the peak a real decoder
 *              reaches (1 thread, 4 frame threads, 4 slice threads), table
 *              printed (doc/guide.md quotes it)
 * - exhausted: h264, mpeg2video, mpeg4, hevc into a pool too small while the
 *              test holds every output: whatever error the decoder reports,
 *              get_buffer_exhausted counts it and one "pool exhausted" line per
 *              burst names the codec and the pool's numbers
 * - overdraft: h264 and hevc with B-frames and 3 references into a pool one
 *              frame short decode everything bit-exact through the overdraft,
 *              also after avcodec_flush_buffers() and a new IDR; without
 *              overdraft they are refused and say so
 * - bypass:    fp_av_check_decoder() on rawvideo, libvpx-vp9, libdav1d (when an
 *              AV1 encoder is there to feed it) and on pooled decoders
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include <framepool/av.h>

#include "common.h"

#if defined(__SANITIZE_THREAD__)
/* As in test-av.c: Debian's libavcodec is not instrumented; its frame-thread
 * handoff is invisible to TSan, with or without framepool. */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "race:av_malloc\n"
           "race:av_frame_new_side_data_from_buf\n"
           "race:av_buffer_make_writable\n";
}
#endif

#if defined(__SANITIZE_ADDRESS__)
/* libx265 (Debian 12, 3.5) leaks its frame encoders' filter buffers at every
 * x265_encoder_open, with or without framepool. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libx265.so\n";
}
#endif

#define MAX_CLIP 96

static test_log tlog;

static void setup(void)
{
    test_log_reset(&tlog);
}

static int log_count(const char *needle)
{
    int n = atomic_load(&tlog.count), hits = 0;
    if (n > 64)
        n = 64;
    for (int i = 0; i < n; i++)
        if (strstr(tlog.lines[i], needle))
            hits++;
    return hits;
}

static fp_pool_stats get_stats(fp_pool *p)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(p, &st), 0);
    return st;
}

static fp_pool *make_pool(enum AVPixelFormat fmt, int w, int h, int max_frames, int overdraft)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "decoders";
    cfg.max_frames = max_frames;
    cfg.get_buffer_timeout_us = 1000;
    cfg.decoder_overdraft = overdraft;
    cfg.log = test_log_cb;
    cfg.log_opaque = &tlog;
    fp_pool *p = NULL;
    int rc = fp_av_pool_create(&p, fmt, w, h, &cfg);
    ck_assert_msg(rc == 0, "fp_av_pool_create(%s %dx%d): %s", av_get_pix_fmt_name(fmt), w, h, fp_strerror(rc));
    return p;
}

static void finish_pool(fp_pool **p)
{
    fp_pool_stats st = get_stats(*p);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, st.released);
    ck_assert_uint_eq(st.misuse, 0);
    fp_pool_unref(p);
}

/* Moving content, so inter codecs predict from references. */
static AVFrame *pattern_frame(enum AVPixelFormat fmt, int w, int h, int seed)
{
    AVFrame *f = av_frame_alloc();
    ck_assert_ptr_nonnull(f);
    f->format = fmt;
    f->width = w;
    f->height = h;
    ck_assert_int_eq(av_frame_get_buffer(f, 0), 0);
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
    int planes = av_pix_fmt_count_planes(fmt);
    for (int p = 0; p < planes; p++) {
        int bytes = av_image_get_linesize(fmt, w, p);
        int rows = (p == 1 || p == 2) && !(d->flags & AV_PIX_FMT_FLAG_RGB) ? -((-h) >> d->log2_chroma_h) : h;
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < bytes; x++)
                f->data[p][(ptrdiff_t)y * f->linesize[p] + x] =
                    (uint8_t)((x + 3 * seed) * (p + 1) + (y + seed) * 2 + ((x / 16 + y / 16 + seed / 4) & 1) * 60);
    }
    f->pts = seed;
    return f;
}

typedef struct clip {
    AVCodecParameters *par;
    enum AVPixelFormat fmt;
    int w, h, n;
    AVPacket *pkt[MAX_CLIP];
} clip;

/* Encodes `frames` pictures; 0 (and a line on stderr) when the encoder is missing. */
static int clip_make(clip *c, const char *encoder, enum AVPixelFormat fmt, int w, int h, int frames, int gop,
                     int bframes)
{
    memset(c, 0, sizeof(*c));
    const char *vg = getenv("FP_TEST_UNDER_VALGRIND");
    if (vg && *vg && strcmp(vg, "0") && (!strcmp(encoder, "libx265") || w > 1000)) {
        /* libx265 leaks at every encoder open; 1080p x264 takes minutes under memcheck */
        fprintf(stderr, "decoders: %s %dx%d not run under valgrind (ASan covers it)\n", encoder, w, h);
        return 0;
    }
    const AVCodec *codec = avcodec_find_encoder_by_name(encoder);
    if (!codec) {
        fprintf(stderr, "decoders: encoder %s missing\n", encoder);
        return 0;
    }
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    ck_assert_ptr_nonnull(enc);
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = fmt;
    enc->time_base = (AVRational){ 1, 25 };
    enc->framerate = (AVRational){ 25, 1 };
    enc->gop_size = gop;
    enc->max_b_frames = bframes;
    enc->bit_rate = 1000000;
    enc->thread_count = 1;
    if (!strcmp(encoder, "libx264")) {
        av_opt_set(enc->priv_data, "preset", "veryfast", 0);
        av_opt_set(enc->priv_data, "x264-params", "ref=3:b-pyramid=none:scenecut=0", 0);
    } else if (!strcmp(encoder, "libx265")) {
        av_opt_set(enc->priv_data, "preset", "ultrafast", 0);
        av_opt_set(enc->priv_data, "x265-params", "log-level=0:ref=3:scenecut=0:open-gop=0:pools=none:frame-threads=1", 0);
    } else if (!strcmp(encoder, "libvpx") || !strcmp(encoder, "libvpx-vp9")) {
        av_opt_set(enc->priv_data, "deadline", "realtime", 0);
        av_opt_set_int(enc->priv_data, "cpu-used", 8, 0);
    } else if (!strcmp(encoder, "libaom-av1")) {
        av_opt_set_int(enc->priv_data, "cpu-used", 8, 0);
        av_opt_set(enc->priv_data, "usage", "realtime", 0);
    }
    int rc = avcodec_open2(enc, codec, NULL);
    if (rc < 0) {
        fprintf(stderr, "decoders: cannot open encoder %s: %s\n", encoder, av_err2str(rc));
        avcodec_free_context(&enc);
        return 0;
    }
    c->fmt = fmt;
    c->w = w;
    c->h = h;
    AVPacket *pkt = av_packet_alloc();
    for (int i = 0; i <= frames; i++) {
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
        ck_assert(rc == AVERROR(EAGAIN) || rc == AVERROR_EOF);
    }
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

enum { MODE_ONE, MODE_FRAME4, MODE_SLICE4 };
static const char *const mode_names[] = { "1 thread", "4 frame threads", "4 slice threads" };

static AVCodecContext *open_decoder(const clip *c, const char *name, fp_pool *pool, int mode)
{
    const AVCodec *codec = name ? avcodec_find_decoder_by_name(name) : avcodec_find_decoder(c->par->codec_id);
    if (!codec)
        return NULL;
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    ck_assert_ptr_nonnull(dec);
    ck_assert_int_ge(avcodec_parameters_to_context(dec, c->par), 0);
    dec->thread_count = mode == MODE_ONE ? 1 : 4;
    dec->thread_type = mode == MODE_FRAME4 ? FF_THREAD_FRAME : mode == MODE_SLICE4 ? FF_THREAD_SLICE : 0;
    if (pool) {
        dec->opaque = pool;
        dec->get_buffer2 = fp_av_get_buffer2;
    }
    int rc = avcodec_open2(dec, codec, NULL);
    ck_assert_msg(rc == 0, "open decoder %s: %s", codec->name, av_err2str(rc));
    return dec;
}

/* Reference pictures: the default allocator, one thread, in output order. */
typedef struct refs {
    AVFrame *f[MAX_CLIP];
    int n;
} refs;

static void refs_free(refs *r)
{
    for (int i = 0; i < r->n; i++)
        av_frame_free(&r->f[i]);
    r->n = 0;
}

static void decode_reference(const clip *c, refs *r)
{
    memset(r, 0, sizeof(*r));
    AVCodecContext *dec = open_decoder(c, NULL, NULL, MODE_ONE);
    AVFrame *f = av_frame_alloc();
    for (int i = 0; i <= c->n; i++) {
        ck_assert_int_eq(avcodec_send_packet(dec, i < c->n ? c->pkt[i] : NULL), 0);
        while (avcodec_receive_frame(dec, f) == 0)
            r->f[r->n++] = av_frame_clone(f), av_frame_unref(f);
    }
    av_frame_free(&f);
    avcodec_free_context(&dec);
}

static int same_picture(const AVFrame *a, const AVFrame *b)
{
    if (a->format != b->format || a->width != b->width || a->height != b->height)
        return 0;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(a->format);
    for (int p = 0; p < av_pix_fmt_count_planes(a->format); p++) {
        int bytes = av_image_get_linesize(a->format, a->width, p);
        int rows = (p == 1 || p == 2) && !(d->flags & AV_PIX_FMT_FLAG_RGB) ? -((-a->height) >> d->log2_chroma_h)
                                                                           : a->height;
        for (int y = 0; y < rows; y++)
            if (memcmp(a->data[p] + (ptrdiff_t)y * a->linesize[p], b->data[p] + (ptrdiff_t)y * b->linesize[p],
                       (size_t)bytes))
                return 0;
    }
    return 1;
}

/* ========================================================================= */
/* sizing                                                                     */

/* slack: how far above the measured peak the answer may be (4; vp9 8: the
 * bound covers 8 distinct reference slots plus the previous picture, the
 * libvpx realtime stream here keeps 3). */
typedef struct size_case {
    const char *encoder;
    enum AVPixelFormat fmt;
    int w, h, gop, bframes, slack;
} size_case;

static const size_case size_cases[] = {
    { "libx264", AV_PIX_FMT_YUV420P, 320, 240, 12, 3, 4 },
    { "libx264", AV_PIX_FMT_YUV420P, 1920, 1080, 12, 3, 4 },
    { "libx265", AV_PIX_FMT_YUV420P, 320, 240, 12, 3, 4 },
    { "mpeg2video", AV_PIX_FMT_YUV420P, 320, 240, 12, 2, 4 },
    { "mpeg4", AV_PIX_FMT_YUV420P, 322, 242, 12, 2, 4 },
    { "mjpeg", AV_PIX_FMT_YUVJ420P, 320, 240, 1, 0, 4 },
    { "ffv1", AV_PIX_FMT_YUV420P, 320, 240, 1, 0, 4 },
    { "png", AV_PIX_FMT_RGB24, 320, 240, 1, 0, 4 },
    { "ffvhuff", AV_PIX_FMT_YUV420P, 320, 240, 1, 0, 4 },
    { "libvpx", AV_PIX_FMT_YUV420P, 320, 240, 12, 0, 4 },
    { "libvpx-vp9", AV_PIX_FMT_YUV420P, 320, 240, 12, 0, 8 },
    { "libwebp", AV_PIX_FMT_YUV420P, 320, 240, 1, 0, 4 },
    { "snow", AV_PIX_FMT_YUV420P, 320, 240, 12, 0, 4 },
};
#define N_SIZE_CASES ((int)(sizeof(size_cases) / sizeof(size_cases[0])))

/*
 * The application holds one output frame at a time (the last one received,
 * until the next comes out: app_frames 1). The peak is the pool's peak_live;
 * the helper is asked right after avcodec_open2() (what a server can use to
 * create the pool) and after the first frame (H.264's SPS is known then).
 */
START_TEST(frames_for_decoder_vs_peak)
{
    const size_case *sc = &size_cases[_i / 3];
    int mode = _i % 3;
    int frames = sc->w > 1000 ? 24 : 40;
#if defined(__SANITIZE_THREAD__)
    /* libavcodec's slice threads hand jobs out through atomics in the
     * uninstrumented libavutil (avpriv_slicethread): TSan reports libavcodec's
     * own buffers, with or without framepool. Frame threads are covered. */
    if (mode == MODE_SLICE4) {
        fprintf(stderr, "decoders: %s slice threads not run under TSan (uninstrumented libavutil atomics)\n",
                sc->encoder);
        return;
    }
# if LIBAVCODEC_VERSION_MAJOR < 60
    /* FFmpeg 5.1's vp8 frame threads: at avcodec_free_context() a worker can
     * still wait in ff_thread_await_progress() on the first worker's progress
     * condition when ff_frame_thread_free() destroys it (seen in one TSan run in
     * a fresh Debian 12 chroot; every stack inside libavcodec, no framepool memory). The
     * other frame-threaded decoders are run here; vp8 frame threads run in
     * the normal and valgrind builds. */
    if (mode == MODE_FRAME4 && !strcmp(sc->encoder, "libvpx")) {
        fprintf(stderr, "decoders: vp8 frame threads not run under TSan (libavcodec 59 teardown race)\n");
        return;
    }
# endif
#endif
    clip c;
    if (!clip_make(&c, sc->encoder, sc->fmt, sc->w, sc->h, frames, sc->gop, sc->bframes))
        return;
    fp_pool *p = make_pool(sc->fmt, sc->w, sc->h, 64, 0);
    AVCodecContext *dec = open_decoder(&c, NULL, p, mode);
    ck_assert_int_eq(fp_av_check_decoder(p, dec), 0);
    int at_open = fp_av_frames_for_decoder(dec, 1), at_first = -1;
    AVFrame *f = av_frame_alloc(), *held = NULL;
    int out = 0;
    for (int i = 0; i <= c.n; i++) {
        int rc = avcodec_send_packet(dec, i < c.n ? c.pkt[i] : NULL);
        ck_assert_msg(rc == 0, "%s: send_packet %d: %s", dec->codec->name, i, av_err2str(rc));
        while ((rc = avcodec_receive_frame(dec, f)) == 0) {
            ck_assert_int_eq(fp_av_frame_is_from(p, f), 1);
            if (!out++)
                at_first = fp_av_frames_for_decoder(dec, 1);
            av_frame_free(&held);
            held = av_frame_clone(f);
            av_frame_unref(f);
        }
        ck_assert(rc == AVERROR(EAGAIN) || rc == AVERROR_EOF);
    }
    av_frame_free(&held);
    av_frame_free(&f);
    ck_assert_int_eq(out, frames);
    fp_pool_stats st = get_stats(p);
    int peak = (int)st.peak_live;
    fprintf(stderr, "decoders: | %-10s | %4dx%-4d | %-15s | %2d | %2d | %2d | (level %d, refs %d, has_b_frames %d)\n",
            dec->codec->name, sc->w, sc->h, mode_names[mode], peak, at_open, at_first, dec->level, dec->refs,
            dec->has_b_frames);
    ck_assert_uint_eq(st.get_buffer_fallbacks, 0);
    ck_assert_uint_eq(st.get_buffer_overdraft, 0);
    ck_assert_msg(at_open >= peak, "%s %s: fp_av_frames_for_decoder %d after open < peak %d", dec->codec->name,
                  mode_names[mode], at_open, peak);
    ck_assert_msg(at_first >= peak, "%s %s: fp_av_frames_for_decoder %d after the first frame < peak %d",
                  dec->codec->name, mode_names[mode], at_first, peak);
    ck_assert_msg(at_first <= peak + sc->slack, "%s %s: fp_av_frames_for_decoder %d after the first frame > peak %d + %d",
                  dec->codec->name, mode_names[mode], at_first, peak, sc->slack);
    avcodec_free_context(&dec);
    finish_pool(&p);
    clip_free(&c);
}
END_TEST

START_TEST(frames_for_decoder_args)
{
    ck_assert_int_eq(fp_av_frames_for_decoder(NULL, 1), FP_ERR(EINVAL));
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    ck_assert_ptr_nonnull(codec);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    ck_assert_int_eq(fp_av_frames_for_decoder(dec, -1), FP_ERR(EINVAL));
    /* Nothing known: the codec's maximum DPB (16) + the current picture. */
    dec->thread_count = 1;
    ck_assert_int_eq(fp_av_frames_for_decoder(dec, 0), 17);
    ck_assert_int_eq(fp_av_frames_for_decoder(dec, 3), 20);
    /* Level 4.0 at 1080p: MaxDpbMbs 32768 / 8160 = 4 frames. */
    dec->level = 40;
    dec->coded_width = 1920;
    dec->coded_height = 1088;
    ck_assert_int_eq(fp_av_frames_for_decoder(dec, 0), 5);
    /* 4 frame threads, before open: 3 extra workers, two frames each
     * (FFmpeg 5.1), one each (FFmpeg 7, libavcodec 61). */
    dec->thread_type = FF_THREAD_FRAME;
    dec->thread_count = 4;
#if LIBAVCODEC_VERSION_MAJOR >= 61
    ck_assert_int_eq(fp_av_frames_for_decoder(dec, 0), 8);
#else
    ck_assert_int_eq(fp_av_frames_for_decoder(dec, 0), 11);
#endif
    ck_assert_int_eq(fp_av_frames_for_decoder(dec, FP_MAX_FRAMES), FP_MAX_FRAMES);
    avcodec_free_context(&dec);
    dec = avcodec_alloc_context3(avcodec_find_decoder(AV_CODEC_ID_PNG));
    dec->thread_count = 1;
    ck_assert_int_eq(fp_av_frames_for_decoder(dec, 1), 3); /* keeps the previous picture */
    avcodec_free_context(&dec);
}
END_TEST

/* ========================================================================= */
/* exhausted                                                                  */

typedef struct exh_case {
    const char *encoder;
    int gop, bframes;
} exh_case;

static const exh_case exh_cases[] = {
    { "libx264", 12, 3 },
    { "mpeg2video", 12, 2 },
    { "mpeg4", 12, 2 },
    { "libx265", 12, 3 },
    { "libvpx", 12, 0 },     /* native vp8 decoder */
    { "libvpx-vp9", 12, 0 }, /* native vp9 decoder */
};

/*
 * The test holds every output frame; once the pool is dry it sends three
 * more packets without releasing anything (one burst: one log line, three or
 * more counted refusals), then releases and decodes the rest.
 */
START_TEST(exhausted_counted_and_logged)
{
    const exh_case *ec = &exh_cases[_i];
    const int w = 320, h = 240, frames = 30;
    clip c;
    if (!clip_make(&c, ec->encoder, AV_PIX_FMT_YUV420P, w, h, frames, ec->gop, ec->bframes))
        return;
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, w, h, 6, 0);
    AVCodecContext *dec = open_decoder(&c, NULL, p, MODE_ONE);
    const char *name = dec->codec->name;
    AVFrame *held[MAX_CLIP], *f = av_frame_alloc();
    /* A burst, as av.c defines it: refusals with no frame served by the pool
     * in between (hevc allocates missing references between refusals). */
    int nheld = 0, errors = 0, burst_errors = 0, bursts = 0, last_err = 0;
    uint64_t seen_exh = 0, acq_at_exh = 0;
    for (int i = 0; i <= c.n; i++) {
        int rc = avcodec_send_packet(dec, i < c.n ? c.pkt[i] : NULL);
        while (rc >= 0 && (rc = avcodec_receive_frame(dec, f)) == 0) {
            held[nheld++] = av_frame_clone(f);
            av_frame_unref(f);
        }
        fp_pool_stats now = get_stats(p);
        if (now.get_buffer_exhausted > seen_exh) {
            if (!seen_exh || now.acquired > acq_at_exh)
                bursts++;
            seen_exh = now.get_buffer_exhausted;
            acq_at_exh = now.acquired;
        }
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            continue;
        errors++;
        last_err = rc;
        if (++burst_errors >= 3 || i == c.n) { /* a long burst, then give the frames back */
            while (nheld > 0)
                av_frame_free(&held[--nheld]);
            burst_errors = 0;
        }
    }
    while (nheld > 0)
        av_frame_free(&held[--nheld]);
    fp_pool_stats st = get_stats(p);
    char err[64];
    av_strerror(last_err, err, sizeof(err));
    fprintf(stderr, "decoders: %s into a pool of 6 while holding its output: the decoder reported %d errors "
            "(last: %s), get_buffer_exhausted %llu, %d \"pool exhausted\" lines for %d bursts\n",
            name, errors, err, (unsigned long long)st.get_buffer_exhausted, log_count("pool exhausted"), bursts);
    for (int i = 0; i < atomic_load(&tlog.count) && i < 64; i++)
        if (strstr(tlog.lines[i], "pool exhausted")) {
            fprintf(stderr, "decoders: first log line: %s\n", tlog.lines[i]);
            break;
        }
    ck_assert_int_gt(errors, 0);
    ck_assert_uint_ge(st.get_buffer_exhausted, (uint64_t)errors > 3 ? 3 : (uint64_t)errors);
    ck_assert_uint_eq(st.get_buffer_overdraft, 0);
    ck_assert_int_ge(log_count("pool exhausted"), 1);
    ck_assert_int_le(log_count("pool exhausted"), bursts);
    ck_assert_uint_lt((uint64_t)log_count("pool exhausted"), st.get_buffer_exhausted + 1);
    char needle[96];
    snprintf(needle, sizeof(needle), "fp_av_get_buffer2 (%s): pool exhausted", name);
    ck_assert_msg(log_count(needle) >= 1, "no line with \"%s\"", needle);
    ck_assert_int_ge(log_count("live 6 of max_frames 6"), 1);
    /* The report shows the counter. */
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    ck_assert_int_eq(fp_pool_report(p, mem), 0);
    fclose(mem);
    snprintf(needle, sizeof(needle), "exhausted %llu", (unsigned long long)st.get_buffer_exhausted);
    ck_assert_msg(strstr(buf, "decoder  fallbacks 0") && strstr(buf, needle), "report:\n%s", buf);
    free(buf);
    av_frame_free(&f);
    avcodec_free_context(&dec);
    finish_pool(&p);
    clip_free(&c);
}
END_TEST

/* ========================================================================= */
/* overdraft                                                                  */

typedef struct run {
    int out, errors, bad;
} run;

/* Decodes packets [from, to) (then drains when `drain`), comparing with ref from ref_at. */
static run decode_range(AVCodecContext *dec, const clip *c, fp_pool *p, const refs *ref, int from, int to,
                        int ref_at, int drain)
{
    run r = { 0, 0, 0 };
    AVFrame *f = av_frame_alloc();
    for (int i = from; i <= to; i++) {
        if (i == to && !drain)
            break;
        int rc = avcodec_send_packet(dec, i < to ? c->pkt[i] : NULL);
        while (rc >= 0 && (rc = avcodec_receive_frame(dec, f)) == 0) {
            if (ref_at + r.out >= ref->n || !same_picture(f, ref->f[ref_at + r.out]))
                r.bad++;
            (void)p;
            r.out++;
            av_frame_unref(f);
        }
        if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF)
            r.errors++;
    }
    av_frame_free(&f);
    return r;
}

/* The peak a clip needs at one thread with the app releasing at once. */
static int clip_peak(const clip *c, const refs *ref)
{
    fp_pool *p = make_pool(c->fmt, c->w, c->h, 64, 0);
    AVCodecContext *dec = open_decoder(c, NULL, p, MODE_ONE);
    run r = decode_range(dec, c, p, ref, 0, c->n, 0, 1);
    ck_assert_int_eq(r.errors, 0);
    ck_assert_int_eq(r.bad, 0);
    avcodec_free_context(&dec);
    int peak = (int)get_stats(p).peak_live;
    finish_pool(&p);
    return peak;
}

START_TEST(overdraft_recovers)
{
    static const char *const encoders[] = { "libx264", "libx265" };
    const int w = 320, h = 240, frames = 48, gop = 24;
    char needle[128];
    clip c;
    if (!clip_make(&c, encoders[_i], AV_PIX_FMT_YUV420P, w, h, frames, gop, 3))
        return;
    refs ref;
    decode_reference(&c, &ref);
    ck_assert_int_eq(ref.n, frames);
    int peak = clip_peak(&c, &ref);
    /* One frame short, the default overdraft (2). */
    test_log_reset(&tlog);
    fp_pool_config dflt;
    fp_pool_config_default(&dflt);
    ck_assert_int_eq(dflt.decoder_overdraft, 2);
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, w, h, peak - 1, dflt.decoder_overdraft);
    AVCodecContext *dec = open_decoder(&c, NULL, p, MODE_ONE);
    run r = decode_range(dec, &c, p, &ref, 0, c.n, 0, 1);
    fp_pool_stats st = get_stats(p);
    const char *name = dec->codec->name;
    fprintf(stderr, "decoders: %s (peak %d) into a pool of %d with overdraft 2: %d frames, %d errors, "
            "%llu overdraft, %llu refused, %d log lines\n", name, peak, peak - 1, r.out, r.errors,
            (unsigned long long)st.get_buffer_overdraft, (unsigned long long)st.get_buffer_exhausted,
            atomic_load(&tlog.total));
    ck_assert_int_eq(r.errors, 0);
    ck_assert_int_eq(r.bad, 0);
    ck_assert_int_eq(r.out, frames);
    ck_assert_uint_gt(st.get_buffer_overdraft, 0);
    ck_assert_uint_eq(st.get_buffer_exhausted, 0);
    ck_assert_uint_eq(st.get_buffer_fallbacks, 0);
    ck_assert_uint_eq(st.peak_live, (uint32_t)(peak - 1));
    snprintf(needle, sizeof(needle), "fp_av_get_buffer2 (%s): pool exhausted: overdraft frame", name);
    ck_assert_int_ge(log_count(needle), 1);
    snprintf(needle, sizeof(needle), "live %d of max_frames %d", peak - 1, peak - 1);
    ck_assert_int_ge(log_count(needle), 1);
    /* logged at the 1st, 2nd, 4th, 8th, ... overdraft frame */
    int lines = 0;
    for (uint64_t n = 1; n <= st.get_buffer_overdraft; n *= 2)
        lines++;
    ck_assert_int_eq(log_count("pool exhausted"), lines);
    /* A seek: flush, then the second GOP from its IDR. */
    ck_assert(c.pkt[gop]->flags & AV_PKT_FLAG_KEY);
    avcodec_flush_buffers(dec);
    uint64_t od_before = st.get_buffer_overdraft;
    r = decode_range(dec, &c, p, &ref, gop, c.n, gop, 1);
    ck_assert_int_eq(r.errors, 0);
    ck_assert_int_eq(r.bad, 0);
    ck_assert_int_eq(r.out, frames - gop);
    st = get_stats(p);
    ck_assert_uint_gt(st.get_buffer_overdraft, od_before);
    ck_assert_uint_eq(st.get_buffer_exhausted, 0);
    avcodec_free_context(&dec);
    finish_pool(&p);

    /* Frame threads: the same pool size plus what 4 threads add, one short. */
    p = make_pool(AV_PIX_FMT_YUV420P, w, h, peak - 1 + 6, 2);
    dec = open_decoder(&c, NULL, p, MODE_FRAME4);
    r = decode_range(dec, &c, p, &ref, 0, c.n, 0, 1);
    ck_assert_int_eq(r.errors, 0);
    ck_assert_int_eq(r.bad, 0);
    ck_assert_int_eq(r.out, frames);
    avcodec_free_context(&dec);
    finish_pool(&p);

    /* Without the overdraft the decoder is refused, and the log says why. */
    test_log_reset(&tlog);
    p = make_pool(AV_PIX_FMT_YUV420P, w, h, peak - 1, 0);
    dec = open_decoder(&c, NULL, p, MODE_ONE);
    r = decode_range(dec, &c, p, &ref, 0, c.n, 0, 1);
    st = get_stats(p);
    fprintf(stderr, "decoders: %s into a pool of %d without overdraft: %d frames, %d errors, %llu refused\n",
            encoders[_i], peak - 1, r.out, r.errors, (unsigned long long)st.get_buffer_exhausted);
    ck_assert_int_gt(r.errors, 0);
    ck_assert_uint_gt(st.get_buffer_exhausted, 0);
    snprintf(needle, sizeof(needle), "fp_av_get_buffer2 (%s): pool exhausted for", dec->codec->name);
    ck_assert_int_ge(log_count(needle), 1);
    ck_assert_int_ge(log_count("fp_av_frames_for_decoder"), 1);
    avcodec_free_context(&dec);
    finish_pool(&p);
    refs_free(&ref);
    clip_free(&c);
}
END_TEST

START_TEST(overdraft_config)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.max_frames = 2;
    cfg.log = test_log_cb;
    cfg.log_opaque = &tlog;
    fp_pool *p = NULL;
    cfg.decoder_overdraft = -1;
    ck_assert_int_eq(fp_av_pool_create(&p, AV_PIX_FMT_YUV420P, 64, 64, &cfg), FP_ERR(EINVAL));
    ck_assert(test_log_has(&tlog, "decoder_overdraft -1"));
    cfg.decoder_overdraft = 65;
    ck_assert_int_eq(fp_av_pool_create(&p, AV_PIX_FMT_YUV420P, 64, 64, &cfg), FP_ERR(EINVAL));
    cfg.decoder_overdraft = 64;
    ck_assert_int_eq(fp_av_pool_create(&p, AV_PIX_FMT_YUV420P, 64, 64, &cfg), 0);
    fp_pool_unref(&p);
}
END_TEST

/* An overdraft frame outlives the pool's last app reference. */
START_TEST(overdraft_outlives_pool)
{
    clip c;
    ck_assert_int_eq(clip_make(&c, "ffvhuff", AV_PIX_FMT_YUV420P, 64, 32, 3, 1, 0), 1);
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 64, 32, 1, 1);
    AVCodecContext *dec = open_decoder(&c, NULL, p, MODE_ONE);
    AVFrame *a = av_frame_alloc(), *b = av_frame_alloc();
    ck_assert_int_eq(avcodec_send_packet(dec, c.pkt[0]), 0);
    ck_assert_int_eq(avcodec_receive_frame(dec, a), 0);
    ck_assert_int_eq(fp_av_frame_is_from(p, a), 1);
    ck_assert_int_eq(avcodec_send_packet(dec, c.pkt[1]), 0); /* pool empty: the one overdraft frame */
    ck_assert_int_eq(avcodec_receive_frame(dec, b), 0);
    ck_assert_int_eq(fp_av_frame_is_from(p, b), 0);
    ck_assert_ptr_null(fp_av_frame_pool_frame(b));
    /* Both out: refused (ENOBUFS from ffvhuff) and counted. */
    ck_assert_int_eq(avcodec_send_packet(dec, c.pkt[2]), AVERROR(ENOBUFS));
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.get_buffer_overdraft, 1);
    ck_assert_uint_eq(st.get_buffer_exhausted, 1);
    avcodec_free_context(&dec);
    av_frame_free(&a);
    fp_pool_unref(&p);
    av_frame_free(&b); /* after the pool is gone */
    clip_free(&c);
}
END_TEST

/* ========================================================================= */
/* bypass                                                                     */

typedef struct bypass_case {
    const char *encoder, *decoder;
    enum AVPixelFormat fmt;
} bypass_case;

static const bypass_case bypass_cases[] = {
    { "rawvideo", "rawvideo", AV_PIX_FMT_YUV420P },
    { "libvpx-vp9", "libvpx-vp9", AV_PIX_FMT_YUV420P },
    { "libaom-av1", "libdav1d", AV_PIX_FMT_YUV420P },
};

START_TEST(check_decoder_bypass)
{
    const bypass_case *bc = &bypass_cases[_i];
    const int w = 64, h = 48;
    clip c;
    if (!clip_make(&c, bc->encoder, bc->fmt, w, h, 4, 4, 0)) {
        fprintf(stderr, "decoders: no %s encoder to feed %s: its bypass is not tested\n", bc->encoder,
                bc->decoder);
        return;
    }
    fp_pool *p = make_pool(bc->fmt, w, h, 8, 2);
    AVCodecContext *dec = open_decoder(&c, bc->decoder, p, MODE_ONE);
    if (!dec) {
        fprintf(stderr, "decoders: decoder %s missing\n", bc->decoder);
        finish_pool(&p);
        clip_free(&c);
        return;
    }
    ck_assert_int_eq(fp_av_check_decoder(p, dec), 1);
    ck_assert_int_eq(fp_av_check_decoder(p, dec), 1);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.get_buffer_bypassed, 2);
    char needle[64];
    snprintf(needle, sizeof(needle), "fp_av_check_decoder (%s)", bc->decoder);
    ck_assert_int_eq(log_count(needle), 1); /* once per pool */
    /* And indeed: frames come out, none from the pool, get_buffer2 never asked. */
    AVFrame *f = av_frame_alloc();
    int out = 0;
    for (int i = 0; i <= c.n; i++) {
        ck_assert_int_eq(avcodec_send_packet(dec, i < c.n ? c.pkt[i] : NULL), 0);
        while (avcodec_receive_frame(dec, f) == 0) {
            ck_assert_int_eq(fp_av_frame_is_from(p, f), 0);
            out++;
            av_frame_unref(f);
        }
    }
    ck_assert_int_eq(out, 4);
    st = get_stats(p);
    ck_assert_uint_eq(st.acquired, 0);
    fprintf(stderr, "decoders: %s: bypass detected, %d frames decoded outside the pool, get_buffer_fallbacks %llu\n",
            bc->decoder, out, (unsigned long long)st.get_buffer_fallbacks);
    av_frame_free(&f);
    avcodec_free_context(&dec);
    finish_pool(&p);
    /* fp_av_attach says so by itself: counted and logged once, before any frame. */
    p = make_pool(bc->fmt, w, h, 8, 2);
    dec = avcodec_alloc_context3(avcodec_find_decoder_by_name(bc->decoder));
    ck_assert_int_eq(fp_av_attach(dec, p), 0);
    ck_assert_uint_eq(get_stats(p).get_buffer_bypassed, 1);
    snprintf(needle, sizeof(needle), "fp_av_attach (%s)", bc->decoder);
    ck_assert_int_eq(log_count(needle), 1);
    fp_av_detach(dec);
    avcodec_free_context(&dec);
    finish_pool(&p);
    clip_free(&c);
}
END_TEST

START_TEST(check_decoder_errors)
{
    clip c;
    ck_assert_int_eq(clip_make(&c, "ffvhuff", AV_PIX_FMT_YUV420P, 64, 32, 2, 1, 0), 1);
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 64, 32, 4, 2);
    ck_assert_int_eq(fp_av_check_decoder(p, NULL), FP_ERR(EINVAL));
    AVCodecContext *dec = open_decoder(&c, NULL, p, MODE_ONE);
    ck_assert_int_eq(fp_av_check_decoder(NULL, dec), FP_ERR(EINVAL));
    fp_pool_config cfg = test_config(FP_FMT_YUV420P, 64, 32, 2, &tlog);
    fp_pool *core = NULL;
    ck_assert_int_eq(fp_pool_create(&core, &cfg), 0);
    ck_assert_int_eq(fp_av_check_decoder(core, dec), FP_ERR(EINVAL));
    fp_pool_unref(&core);
    ck_assert_int_eq(fp_av_check_decoder(p, dec), 0); /* ffvhuff: DR1, pooled */
    ck_assert_uint_eq(get_stats(p).get_buffer_bypassed, 0);
    avcodec_free_context(&dec);
    finish_pool(&p);
    clip_free(&c);
}
END_TEST

/* ========================================================================= */
/* coded size                                                                 */

/* A custom get_buffer2 built on fp_av_frame_get_buffer(), as an application
 * that wraps framepool in its own callback writes it: libavcodec asks for the
 * coded size (1920x1088 for 1080p H.264), not the display size. */
static int custom_get_buffer2(AVCodecContext *avctx, AVFrame *frame, int flags)
{
    (void)flags;
    return fp_av_frame_get_buffer((fp_pool *)avctx->opaque, frame, 100000);
}

START_TEST(coded_size_through_frame_get_buffer)
{
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 1920, 1080, 12, 0);
    /* Directly: the coded size fits the pool's padding; beyond it does not. */
    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV420P;
    f->width = 1920;
    f->height = 1088;
    ck_assert_int_eq(fp_av_frame_get_buffer(p, f, 0), 0);
    memset(f->data[0] + (ptrdiff_t)1087 * f->linesize[0], 0x55, 1920); /* the last coded row is ours */
    av_frame_unref(f);
    f->format = AV_PIX_FMT_YUV420P;
    f->width = 1920;
    f->height = 1200;
    test_log_reset(&tlog);
    ck_assert_int_eq(fp_av_frame_get_buffer(p, f, 0), FP_ERR(EINVAL));
    ck_assert_int_gt(log_count("1920x1200"), 0);
    av_frame_free(&f);

    /* Through a decoder: every frame from the pool, identical to the default allocator's. */
    clip c;
    if (!clip_make(&c, "libx264", AV_PIX_FMT_YUV420P, 1920, 1080, 6, 12, 0)) {
        finish_pool(&p);
        return;
    }
    refs ref;
    decode_reference(&c, &ref);
    const AVCodec *codec = avcodec_find_decoder(c.par->codec_id);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    ck_assert_int_ge(avcodec_parameters_to_context(dec, c.par), 0);
    dec->thread_count = 1;
    dec->opaque = p;
    dec->get_buffer2 = custom_get_buffer2;
    ck_assert_int_eq(avcodec_open2(dec, codec, NULL), 0);
    f = av_frame_alloc();
    int out = 0;
    for (int i = 0; i <= c.n; i++) {
        ck_assert_int_eq(avcodec_send_packet(dec, i < c.n ? c.pkt[i] : NULL), 0);
        while (avcodec_receive_frame(dec, f) == 0) {
            ck_assert_int_eq(fp_av_frame_is_from(p, f), 1);
            ck_assert_int_lt(out, ref.n);
            ck_assert_msg(same_picture(f, ref.f[out]), "frame %d differs from the default allocator's", out);
            out++;
            av_frame_unref(f);
        }
    }
    ck_assert_int_eq(out, 6);
    ck_assert_int_eq(out, ref.n);
    av_frame_free(&f);
    avcodec_free_context(&dec);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_ge(st.acquired, 6);
    refs_free(&ref);
    finish_pool(&p);
    clip_free(&c);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* generations: the pool follows the decoder                                  */

/* One stream out of several clips: the size or pixel format changes at each
 * clip's first keyframe (in-band headers, as after an ABR switch). */
static void clip_concat(clip *out, const clip *parts, int n)
{
    memset(out, 0, sizeof(*out));
    out->par = avcodec_parameters_alloc();
    ck_assert_int_ge(avcodec_parameters_copy(out->par, parts[0].par), 0);
    out->fmt = parts[0].fmt;
    out->w = parts[0].w;
    out->h = parts[0].h;
    for (int k = 0; k < n; k++)
        for (int i = 0; i < parts[k].n; i++) {
            ck_assert_int_lt(out->n, MAX_CLIP);
            out->pkt[out->n++] = av_packet_clone(parts[k].pkt[i]);
        }
}

typedef struct gen_case {
    const char *encoder;
    int parts;
    enum AVPixelFormat fmt[3];
    int w[3], h[3];
    int bframes;
} gen_case;

static const gen_case gen_cases[] = {
    { "libx264", 3, { AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P }, { 640, 1280, 640 },
      { 360, 720, 360 }, 2 },
    { "libx264", 2, { AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV444P }, { 320, 320 }, { 240, 240 }, 2 },
    { "mpeg2video", 3, { AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P }, { 320, 176, 320 },
      { 240, 144, 240 }, 2 },
    { "mpeg4", 2, { AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P }, { 320, 352 }, { 240, 288 }, 2 },
};
#define N_GEN_CASES ((int)(sizeof(gen_cases) / sizeof(gen_cases[0])))

static enum AVPixelFormat first_sw_format(AVCodecContext *avctx, const enum AVPixelFormat *fmts)
{
    /* The application's own context is still in opaque (fp_av_attach leaves it). */
    int *marker = avctx->opaque;
    if (!marker || *marker != 0x5eed)
        return AV_PIX_FMT_NONE;
    for (; *fmts != AV_PIX_FMT_NONE; fmts++)
        if (!(av_pix_fmt_desc_get(*fmts)->flags & AV_PIX_FMT_FLAG_HWACCEL))
            return *fmts;
    return AV_PIX_FMT_NONE;
}

/*
 * A pool made with AV_PIX_FMT_NONE, attached with fp_av_attach (the
 * application's context stays in avctx->opaque and its get_format reads it),
 * decodes a stream whose size or pixel format changes: every frame from the
 * pool, bit-exact against the default allocator, no fallback, one generation
 * per change (or a few more while frame threads straddle a change), frames
 * of the old size held across the change stay valid, and once everything is
 * released only the last geometry has memory.
 */
START_TEST(decoder_changes_geometry)
{
    const gen_case *gc = &gen_cases[_i / 3];
    int mode = _i % 3;
#if defined(__SANITIZE_THREAD__)
    if (mode == MODE_SLICE4) {
        fprintf(stderr, "decoders: %s slice threads not run under TSan (uninstrumented libavutil atomics)\n",
                gc->encoder);
        return;
    }
#endif
    clip parts[3], c;
    for (int k = 0; k < gc->parts; k++)
        if (!clip_make(&parts[k], gc->encoder, gc->fmt[k], gc->w[k], gc->h[k], 10, 5, gc->bframes)) {
            for (int j = 0; j < k; j++)
                clip_free(&parts[j]);
            return;
        }
    clip_concat(&c, parts, gc->parts);
    for (int k = 0; k < gc->parts; k++)
        clip_free(&parts[k]);
    refs ref;
    decode_reference(&c, &ref);
    ck_assert_int_ge(ref.n, 8 * gc->parts); /* mpeg2/mpeg4 drop the B-frames that straddle a sequence change */

    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "decoder-gen";
    cfg.max_frames = 40;
    cfg.min_frames = 2;
    cfg.log = test_log_cb;
    cfg.log_opaque = &tlog;
    fp_pool *p = NULL;
    ck_assert_int_eq(fp_av_pool_create(&p, AV_PIX_FMT_NONE, 0, 0, &cfg), 0);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.generation, 0);
    ck_assert_uint_eq(st.allocated, 0);
    AVFrame *none = NULL;
    ck_assert_int_eq(fp_av_acquire(p, 0, &none), FP_ERR(ENODATA));

    const AVCodec *codec = avcodec_find_decoder(c.par->codec_id);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    ck_assert_int_ge(avcodec_parameters_to_context(dec, c.par), 0);
    dec->thread_count = mode == MODE_ONE ? 1 : 4;
    dec->thread_type = mode == MODE_FRAME4 ? FF_THREAD_FRAME : mode == MODE_SLICE4 ? FF_THREAD_SLICE : 0;
    int marker = 0x5eed;
    dec->opaque = &marker;
    dec->get_format = first_sw_format;
    ck_assert_int_eq(fp_av_attach(dec, p), 0);
    ck_assert_ptr_eq(fp_av_attached_pool(dec), p);
    ck_assert_int_eq(avcodec_open2(dec, codec, NULL), 0);

    AVFrame *f = av_frame_alloc(), *held[2] = { NULL, NULL };
    int out = 0;
    uint32_t max_old_live = 0;
    for (int i = 0; i <= c.n; i++) {
        int rc = avcodec_send_packet(dec, i < c.n ? c.pkt[i] : NULL);
        ck_assert_msg(rc == 0, "%s %s: send_packet %d: %s", codec->name, mode_names[mode], i, av_err2str(rc));
        while ((rc = avcodec_receive_frame(dec, f)) == 0) {
            ck_assert_msg(fp_av_frame_is_from(p, f), "%s %s: frame %d not from the pool", codec->name,
                          mode_names[mode], out);
            ck_assert_int_lt(out, ref.n);
            ck_assert_msg(same_picture(f, ref.f[out]), "%s %s: frame %d (%s %dx%d) differs from the default "
                          "allocator's", codec->name, mode_names[mode], out, av_get_pix_fmt_name(f->format),
                          f->width, f->height);
            out++;
            /* Hold the last two frames: across a change, old frames stay live and valid. */
            av_frame_free(&held[0]);
            held[0] = held[1];
            held[1] = av_frame_clone(f);
            av_frame_unref(f);
            if (held[0])
                ck_assert(same_picture(held[0], ref.f[out - 2]));
            st = get_stats(p);
            if (st.old_generation_live > max_old_live)
                max_old_live = st.old_generation_live;
        }
        ck_assert(rc == AVERROR(EAGAIN) || rc == AVERROR_EOF);
    }
    ck_assert_int_eq(out, ref.n);
    ck_assert_ptr_eq(dec->opaque, &marker);
    st = get_stats(p);
    ck_assert_uint_eq(st.get_buffer_fallbacks, 0);
    ck_assert_uint_eq(st.get_buffer_overdraft, 0);
    ck_assert_msg(st.generation >= (uint32_t)gc->parts && st.generation <= (uint32_t)gc->parts + 4,
                  "%s %s: generation %u for %d geometries", codec->name, mode_names[mode], st.generation, gc->parts);
    ck_assert_uint_gt(max_old_live, 0);
    ck_assert_int_eq(fp_av_pool_format(p), gc->fmt[gc->parts - 1]);
    fprintf(stderr, "decoders: %s %s: %d frames over %d geometries from one pool: generation %u, up to %u frames "
            "of older generations live, peak %u\n", codec->name, mode_names[mode], out, gc->parts, st.generation,
            max_old_live, st.peak_live);
    av_frame_free(&held[0]);
    av_frame_free(&held[1]);
    av_frame_free(&f);
    fp_av_detach(dec);
    ck_assert_ptr_null(fp_av_attached_pool(dec));
    avcodec_free_context(&dec);
    st = get_stats(p);
    ck_assert_uint_eq(st.old_generation_live, 0);
    ck_assert_uint_eq(st.old_generation_bytes, 0);
    ck_assert_uint_le(st.allocated, st.capacity);
    refs_free(&ref);
    clip_free(&c);
    finish_pool(&p);
}
END_TEST

/* Codecs whose padding the fixed one did not cover: svq1 (YUV410P aligned
 * to 64x64), dirac (asks for width + 32, height + 34 for its edges). A pool
 * made for the stream's size takes what the codec asks at the first frame. */
typedef struct pad_case {
    const char *encoder;
    enum AVPixelFormat fmt;
    int w, h;
} pad_case;

static const pad_case pad_cases[] = {
    { "svq1", AV_PIX_FMT_YUV410P, 176, 144 },
    { "vc2", AV_PIX_FMT_YUV420P, 320, 240 },
};

START_TEST(codec_padding_from_pool)
{
    const pad_case *pc = &pad_cases[_i];
    clip c;
    if (!clip_make(&c, pc->encoder, pc->fmt, pc->w, pc->h, 8, 4, 0))
        return;
    refs ref;
    decode_reference(&c, &ref);
    fp_pool *p = make_pool(pc->fmt, pc->w, pc->h, 12, 0);
    AVCodecContext *dec = open_decoder(&c, NULL, p, MODE_ONE);
    AVFrame *f = av_frame_alloc();
    int out = 0;
    for (int i = 0; i <= c.n; i++) {
        ck_assert_int_eq(avcodec_send_packet(dec, i < c.n ? c.pkt[i] : NULL), 0);
        while (avcodec_receive_frame(dec, f) == 0) {
            ck_assert_msg(fp_av_frame_is_from(p, f), "%s: frame %d not from the pool", dec->codec->name, out);
            ck_assert_msg(same_picture(f, ref.f[out]), "%s: frame %d differs", dec->codec->name, out);
            out++;
            av_frame_unref(f);
        }
    }
    ck_assert_int_eq(out, ref.n);
    fp_pool_stats st = get_stats(p);
    ck_assert_uint_eq(st.get_buffer_fallbacks, 0);
    ck_assert_uint_le(st.generation, 2);
    fprintf(stderr, "decoders: %s %dx%d: %d frames from the pool (generation %u, %zu bytes per frame)\n",
            dec->codec->name, pc->w, pc->h, out, st.generation, (size_t)st.frame_bytes);
    av_frame_free(&f);
    avcodec_free_context(&dec);
    refs_free(&ref);
    clip_free(&c);
    finish_pool(&p);
}
END_TEST

START_TEST(attach_rules)
{
    fp_pool *p = make_pool(AV_PIX_FMT_YUV420P, 320, 240, 8, 0);
    fp_pool *q = make_pool(AV_PIX_FMT_YUV420P, 320, 240, 8, 0);
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MPEG2VIDEO);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    int marker = 0x5eed;
    dec->opaque = &marker;
    ck_assert_int_eq(fp_av_attach(dec, p), 0);
    ck_assert_int_eq(fp_av_attach(dec, p), 0); /* again: nothing changes */
    test_log_reset(&tlog);
    ck_assert_int_eq(fp_av_attach(dec, q), FP_ERR(EBUSY));
    ck_assert_int_eq(log_count("another pool"), 1);
    ck_assert_int_eq(fp_av_attach(NULL, p), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_av_attach(dec, NULL), FP_ERR(EINVAL));
    ck_assert_ptr_eq(dec->opaque, &marker);
    /* The attachment holds a reference: the app may drop its own. */
    fp_pool_unref(&p);
    p = fp_av_attached_pool(dec);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(avcodec_open2(dec, codec, NULL), 0);
    test_log_reset(&tlog);
    ck_assert_int_eq(fp_av_attach(dec, q), FP_ERR(EINVAL)); /* open already */
    ck_assert_int_eq(log_count("before avcodec_open2"), 1);
    fp_av_detach(dec);
    fp_av_detach(dec); /* not attached: nothing */
    fp_av_detach(NULL);
    ck_assert_ptr_null(fp_av_attached_pool(dec));
    avcodec_free_context(&dec);
    fp_pool_unref(&q);
}
END_TEST

Suite *fp_test_suite(void)
{
    av_log_set_level(getenv("FP_TEST_AV_LOG") ? AV_LOG_INFO : AV_LOG_QUIET);
    Suite *s = suite_create("decoders");
    TCase *tc = tcase_create("sizing");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, frames_for_decoder_args);
    tcase_add_loop_test(tc, frames_for_decoder_vs_peak, 0, N_SIZE_CASES * 3);
    suite_add_tcase(s, tc);

    tc = tcase_create("exhausted");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_loop_test(tc, exhausted_counted_and_logged, 0, (int)(sizeof(exh_cases) / sizeof(exh_cases[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("overdraft");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_loop_test(tc, overdraft_recovers, 0, 2);
    tcase_add_test(tc, overdraft_config);
    tcase_add_test(tc, overdraft_outlives_pool);
    suite_add_tcase(s, tc);

    tc = tcase_create("generations");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, decoder_changes_geometry, 0, N_GEN_CASES * 3);
    tcase_add_loop_test(tc, codec_padding_from_pool, 0, (int)(sizeof(pad_cases) / sizeof(pad_cases[0])));
    tcase_add_test(tc, attach_rules);
    suite_add_tcase(s, tc);

    tc = tcase_create("bypass");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_loop_test(tc, check_decoder_bypass, 0, (int)(sizeof(bypass_cases) / sizeof(bypass_cases[0])));
    tcase_add_test(tc, check_decoder_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("coded-size");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, coded_size_through_frame_get_buffer);
    suite_add_tcase(s, tc);
    return s;
}
