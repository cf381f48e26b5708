/*
 * Suite "av-refs": for AV pools fp_frame_refcount() and fp_frame_is_writable()
 * count FFmpeg's own references to a frame (issue 12, item 13): an
 * av_frame_ref copy, an av_frame_clone, an av_buffer_ref of the buffer, an
 * encoder's queue. A caller that checks, then writes, must not scribble over
 * a frame someone else still reads.
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <framepool/av.h>

#include "common.h"

static test_log g_log;
static fp_pool *pool;

static void setup(void)
{
    test_log_reset(&g_log);
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.max_frames = 4;
    cfg.name = "av-refs";
    cfg.log = test_log_cb;
    cfg.log_opaque = &g_log;
    ck_assert_int_eq(fp_av_pool_create(&pool, AV_PIX_FMT_YUV420P, 64, 32, &cfg), 0);
}

static fp_pool_stats stats(void)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    return st;
}

static void teardown(void)
{
    fp_pool_stats st = stats();
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.misuse, 0);
    fp_pool_unref(&pool);
}

static AVFrame *acquire(fp_frame **pf)
{
    AVFrame *frame = NULL;
    ck_assert_int_eq(fp_av_acquire(pool, 0, &frame), 0);
    *pf = fp_av_frame_pool_frame(frame);
    ck_assert_ptr_nonnull(*pf);
    ck_assert_int_eq(fp_frame_refcount(*pf), 1);
    ck_assert_int_eq(fp_frame_is_writable(*pf), 1);
    return frame;
}

START_TEST(av_frame_ref_copy)
{
    fp_frame *f;
    AVFrame *frame = acquire(&f);
    AVFrame *copy = av_frame_alloc();
    ck_assert_ptr_nonnull(copy);
    ck_assert_int_eq(av_frame_ref(copy, frame), 0);
    ck_assert_int_eq(fp_frame_refcount(f), 2);
    ck_assert_int_eq(fp_frame_is_writable(f), 0);
    ck_assert_int_eq(av_frame_is_writable(frame), 0); /* FFmpeg agrees */
    AVFrame *clone = av_frame_clone(frame);
    ck_assert_ptr_nonnull(clone);
    ck_assert_int_eq(fp_frame_refcount(f), 3);
    av_frame_free(&clone);
    ck_assert_int_eq(fp_frame_refcount(f), 2);
    /* The app drops the original: the copy alone holds it, and may write. */
    av_frame_free(&frame);
    ck_assert_int_eq(fp_frame_refcount(f), 1);
    ck_assert_int_eq(fp_frame_is_writable(f), 1);
    ck_assert_uint_eq(stats().live, 1);
    av_frame_free(&copy);
    ck_assert_uint_eq(stats().live, 0);
}
END_TEST

START_TEST(av_buffer_ref_of_the_buffer)
{
    fp_frame *f;
    AVFrame *frame = acquire(&f);
    AVBufferRef *extra = av_buffer_ref(frame->buf[0]);
    ck_assert_ptr_nonnull(extra);
    ck_assert_int_eq(fp_frame_refcount(f), 2);
    ck_assert_int_eq(fp_frame_is_writable(f), 0);
    av_buffer_unref(&extra);
    ck_assert_int_eq(fp_frame_refcount(f), 1);
    ck_assert_int_eq(fp_frame_is_writable(f), 1);
    av_frame_free(&frame);
}
END_TEST

/* References taken through the core and through FFmpeg add up. */
START_TEST(core_and_ffmpeg_references)
{
    fp_frame *f;
    AVFrame *frame = acquire(&f);
    ck_assert_ptr_eq(fp_frame_ref(f), f);
    ck_assert_int_eq(fp_frame_refcount(f), 2);
    AVFrame *copy = av_frame_clone(frame);
    ck_assert_int_eq(fp_frame_refcount(f), 3);
    av_frame_free(&copy);
    av_frame_free(&frame); /* FFmpeg's last reference: only ours is left */
    ck_assert_int_eq(fp_frame_refcount(f), 1);
    ck_assert_int_eq(fp_frame_is_writable(f), 1);
    ck_assert_uint_eq(stats().live, 1);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    ck_assert_uint_eq(stats().live, 0);
}
END_TEST

/* Encoders that keep the input frame (DESIGN.md, "Facts measured here"):
 * frame-threaded ffvhuff holds it on a worker until that worker is done (the
 * count right after avcodec_send_frame is 3, or 2 if the worker already
 * finished); ffv1 with 2 threads keeps one frame until avcodec_free_context
 * in FFmpeg 5.1 (libavcodec 59), which makes the check exact; FFmpeg 7's ffv1
 * keeps none, which is exact too. */
static AVCodecContext *open_encoder(const char *name)
{
    const AVCodec *codec = avcodec_find_encoder_by_name(name);
    if (!codec)
        return NULL;
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    ck_assert_ptr_nonnull(enc);
    enc->width = 64;
    enc->height = 32;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){ 1, 25 };
    enc->thread_count = 2;
    enc->thread_type = FF_THREAD_FRAME;
    ck_assert_int_eq(avcodec_open2(enc, codec, NULL), 0);
    return enc;
}

static int drain(AVCodecContext *enc)
{
    ck_assert_int_eq(avcodec_send_frame(enc, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    int packets = 0;
    while (avcodec_receive_packet(enc, pkt) == 0) {
        packets++;
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    return packets;
}

static const char *const holding_encoders[] = { "ffvhuff", "ffv1" };

START_TEST(encoder_holds_the_frame)
{
    const char *name = holding_encoders[_i];
    AVCodecContext *enc = open_encoder(name);
    if (!enc) {
        fprintf(stderr, "av-refs: this libavcodec has no %s encoder; case not run\n", name);
        return;
    }
    fp_frame *f;
    AVFrame *frame = acquire(&f);
    frame->pts = 0;
    for (int p = 0; p < 3; p++)
        memset(frame->data[p], 0x40 + p, (size_t)frame->linesize[p] * (p ? 16 : 32));
    ck_assert_ptr_eq(fp_frame_ref(f), f); /* so the frame outlives the encoder's reference */
    ck_assert_int_eq(avcodec_send_frame(enc, frame), 0);
    /* The app's AVFrame, ours, and the encoder's while it holds it. */
    int rc = fp_frame_refcount(f);
#if LIBAVCODEC_VERSION_MAJOR >= 61
    /* FFmpeg 7's ffv1 encoder has no frame threads and keeps no reference
     * to its input (measured with 7.1): the count is exact, app's and ours. */
    bool ffv1_keeps = false;
#else
    bool ffv1_keeps = true;
#endif
    if (!strcmp(name, "ffv1") && !ffv1_keeps) {
        ck_assert_msg(rc == 2, "ffv1: refcount %d after send (this libavcodec's ffv1 keeps no input)", rc);
        av_frame_free(&frame);
        ck_assert_int_eq(fp_frame_is_writable(f), 1);
        ck_assert_int_eq(drain(enc), 1);
        ck_assert_int_eq(fp_frame_refcount(f), 1);
        avcodec_free_context(&enc);
        ck_assert_int_eq(fp_frame_unref(&f), 0);
        return;
    }
    ck_assert_msg(rc == 3 || (rc == 2 && !strcmp(name, "ffvhuff")), "%s: refcount %d after send", name, rc);
    ck_assert_int_eq(fp_frame_is_writable(f), 0);
    av_frame_free(&frame);
    ck_assert_int_eq(drain(enc), 1);
    rc = fp_frame_refcount(f);
    if (!strcmp(name, "ffv1")) {
        ck_assert_msg(rc == 2, "ffv1: refcount %d with the encoder holding its last frame", rc);
        ck_assert_int_eq(fp_frame_is_writable(f), 0);
    }
    avcodec_free_context(&enc);
    ck_assert_int_eq(fp_frame_refcount(f), 1);
    ck_assert_int_eq(fp_frame_is_writable(f), 1);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("av-refs");
    TCase *tc = tcase_create("refcount");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, av_frame_ref_copy);
    tcase_add_test(tc, av_buffer_ref_of_the_buffer);
    tcase_add_test(tc, core_and_ffmpeg_references);
    tcase_add_loop_test(tc, encoder_holds_the_frame, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
