/*
 * Suite "allocfail-av": the FFmpeg adapter with each allocation failing in
 * turn: fp_av_pool_create, fp_av_acquire, fp_av_frame_get_buffer and
 * fp_av_get_buffer2.
 * SPDX-License-Identifier: MIT
 *
 * Linked with the static library and, besides the malloc family (see
 * allocwrap.h), -Wl,--wrap=av_frame_alloc,--wrap=av_buffer_create: the
 * adapter's calls into libavutil are failed at the library boundary (what
 * libavutil allocates inside those calls is libavutil's business; valgrind
 * and LSan check that it is freed).
 *
 * fp_av_get_buffer2 needs libavcodec in the process. The test loads it with
 * dlopen() rather than linking it, so that the rest of this suite also runs
 * under valgrind on CPUs where valgrind cannot start libavcodec (see
 * test/valgrind-wrap.sh); that one test skips itself there.
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE /* dlopen flags */
#endif

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/buffer.h>
#include <libavutil/frame.h>

#include <framepool/av.h>

#include "allocwrap.h"
#include "common.h"

AVFrame *__real_av_frame_alloc(void);
AVFrame *__wrap_av_frame_alloc(void);
AVBufferRef *__real_av_buffer_create(uint8_t *data, size_t size, void (*free_cb)(void *opaque, uint8_t *data),
                                     void *opaque, int flags);
AVBufferRef *__wrap_av_buffer_create(uint8_t *data, size_t size, void (*free_cb)(void *opaque, uint8_t *data),
                                     void *opaque, int flags);

static _Atomic int av_frame_allocs, av_buffer_creates;

AVFrame *__wrap_av_frame_alloc(void)
{
    if (aw_should_fail())
        return NULL;
    atomic_fetch_add(&av_frame_allocs, 1);
    return __real_av_frame_alloc();
}

AVBufferRef *__wrap_av_buffer_create(uint8_t *data, size_t size, void (*free_cb)(void *opaque, uint8_t *data),
                                     void *opaque, int flags)
{
    if (aw_should_fail())
        return NULL;
    atomic_fetch_add(&av_buffer_creates, 1);
    return __real_av_buffer_create(data, size, free_cb, opaque, flags);
}

static test_log g_log;

static void setup(void)
{
    aw_reset();
    test_log_reset(&g_log);
}

static void teardown(void)
{
    aw_reset();
}

static void report_points(const char *op, int points)
{
    printf("allocfail: %s: %d allocation point(s), each failure clean\n", op, points);
    fflush(stdout);
}

static void check_books(fp_pool *pool, uint32_t live)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.live, live);
    ck_assert_uint_eq(st.live, st.acquired - st.released);
    ck_assert_uint_le(st.live, st.capacity);
    ck_assert_uint_eq(st.allocated, st.live + st.idle);
}

static fp_pool_config av_config(int max)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "av-allocfail";
    cfg.max_frames = max;
    cfg.log = test_log_cb;
    cfg.log_opaque = &g_log;
    return cfg;
}

/* Takes every free frame as an AVFrame, writes it, frees them all. */
static void check_usable(fp_pool *pool, uint32_t live)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    uint32_t n = st.capacity - st.live;
    AVFrame *f[16] = { NULL };
    ck_assert_uint_le(n, 16);
    for (uint32_t i = 0; i < n; i++) {
        int ret = fp_av_acquire(pool, 0, &f[i]);
        ck_assert_msg(ret == 0, "fp_av_acquire %u of %u: %s", i + 1, n, fp_strerror(ret));
        ck_assert(fp_av_frame_is_from(pool, f[i]));
        memset(f[i]->data[0], 0x33, (size_t)f[i]->linesize[0]);
    }
    AVFrame *extra = NULL;
    ck_assert_int_eq(fp_av_acquire(pool, 0, &extra), FP_ERR(EAGAIN));
    ck_assert_ptr_null(extra);
    for (uint32_t i = 0; i < n; i++)
        av_frame_free(&f[i]);
    check_books(pool, live);
}

/* ------------------------------------------------------------------------- */

START_TEST(fail_av_pool_create)
{
    fp_pool_config cfg = av_config(4);
    cfg.min_frames = 2;
    fp_pool *pool = NULL;
    aw_arm(0);
    int ret = fp_av_pool_create(&pool, AV_PIX_FMT_YUV420P, 64, 48, &cfg);
    int calls = aw_disarm();
    ck_assert_int_eq(ret, 0);
    ck_assert_int_ge(calls, 3 + 2); /* adapter state, pool, slots, two frames */
    fp_pool_unref(&pool);
    ck_assert_int_eq(aw_outstanding(), 0);
    for (int n = 1; n <= calls; n++) {
        test_log_reset(&g_log);
        pool = (fp_pool *)(uintptr_t)1;
        aw_arm(n);
        ret = fp_av_pool_create(&pool, AV_PIX_FMT_YUV420P, 64, 48, &cfg);
        aw_disarm();
        ck_assert_msg(ret == FP_ERR(ENOMEM), "allocation %d failing: %d (%s)", n, ret, fp_strerror(ret));
        ck_assert_ptr_null(pool);
        ck_assert_msg(aw_outstanding() == 0, "allocation %d failing leaked %d block(s)", n, aw_outstanding());
        ck_assert_msg(test_log_has(&g_log, "out of memory"), "allocation %d failing was not logged", n);
    }
    ret = fp_av_pool_create(&pool, AV_PIX_FMT_YUV420P, 64, 48, &cfg);
    ck_assert_int_eq(ret, 0);
    check_usable(pool, 0);
    fp_pool_unref(&pool);
    report_points("fp_av_pool_create (min_frames 2)", calls);
}
END_TEST

/* Lazy growth: av_frame_alloc, the pixel memory, av_buffer_create. */
START_TEST(fail_av_acquire)
{
    fp_pool_config cfg = av_config(3);
    cfg.flags = _i ? FP_POOL_POISON : 0;
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_av_pool_create(&pool, AV_PIX_FMT_NV12, 64, 32, &cfg), 0);
    AVFrame *held = NULL;
    ck_assert_int_eq(fp_av_acquire(pool, 0, &held), 0);

    AVFrame *f = NULL;
    aw_arm(0);
    int ret = fp_av_acquire(pool, 0, &f);
    int calls = aw_disarm();
    ck_assert_int_eq(ret, 0);
    ck_assert_int_ge(calls, 3);
    av_frame_free(&f);
    ck_assert_int_eq(fp_pool_trim(pool), 1);
    ck_assert_int_eq(aw_outstanding(), 0);

    for (int n = 1; n <= calls; n++) {
        test_log_reset(&g_log);
        fp_pool_stats before, after;
        ck_assert_int_eq(fp_pool_get_stats(pool, &before), 0);
        f = (AVFrame *)(uintptr_t)1;
        aw_arm(n);
        ret = fp_av_acquire(pool, FP_WAIT_FOREVER, &f);
        aw_disarm();
        ck_assert_msg(ret == FP_ERR(ENOMEM), "allocation %d failing: %d (%s)", n, ret, fp_strerror(ret));
        ck_assert_ptr_null(f);
        ck_assert_msg(test_log_has(&g_log, "out of memory"), "allocation %d failing was not logged", n);
        check_books(pool, 1);
        ck_assert_int_eq(fp_pool_get_stats(pool, &after), 0);
        /* When the frame's pixels were allocated before the failure they stay, idle. */
        ck_assert_int_eq(aw_outstanding(), (int)(after.allocated - before.allocated));
        fp_pool_trim(pool);
        ck_assert_int_eq(aw_outstanding(), 0);
    }
    check_usable(pool, 1);
    av_frame_free(&held);
    check_books(pool, 0);
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.misuse, 0);
    fp_pool_unref(&pool);
    if (_i == 0)
        report_points("fp_av_acquire (lazy growth)", calls);
}
END_TEST

START_TEST(fail_av_frame_get_buffer)
{
    fp_pool_config cfg = av_config(2);
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_av_pool_create(&pool, AV_PIX_FMT_YUV422P, 40, 30, &cfg), 0);
    AVFrame *frame = av_frame_alloc();
    ck_assert_ptr_nonnull(frame);
    frame->format = AV_PIX_FMT_YUV422P;
    frame->width = 40;
    frame->height = 30;

    aw_arm(0);
    int ret = fp_av_frame_get_buffer(pool, frame, 0);
    int calls = aw_disarm();
    ck_assert_int_eq(ret, 0);
    ck_assert_int_ge(calls, 2); /* pixel memory, av_buffer_create */
    av_frame_unref(frame);
    ck_assert_int_eq(fp_pool_trim(pool), 1);
    ck_assert_int_eq(aw_outstanding(), 0);

    for (int n = 1; n <= calls; n++) {
        frame->format = AV_PIX_FMT_YUV422P;
        frame->width = 40;
        frame->height = 30;
        test_log_reset(&g_log);
        aw_arm(n);
        ret = fp_av_frame_get_buffer(pool, frame, 0);
        aw_disarm();
        ck_assert_msg(ret == FP_ERR(ENOMEM), "allocation %d failing: %d (%s)", n, ret, fp_strerror(ret));
        ck_assert_ptr_null(frame->buf[0]);
        ck_assert_ptr_null(frame->data[0]);
        ck_assert(test_log_has(&g_log, "out of memory"));
        check_books(pool, 0);
        fp_pool_trim(pool);
        ck_assert_int_eq(aw_outstanding(), 0);
    }
    /* The same AVFrame gets a buffer afterwards. */
    frame->format = AV_PIX_FMT_YUV422P;
    frame->width = 40;
    frame->height = 30;
    ck_assert_int_eq(fp_av_frame_get_buffer(pool, frame, 0), 0);
    ck_assert(fp_av_frame_is_from(pool, frame));
    check_books(pool, 1);
    av_frame_free(&frame);
    check_usable(pool, 0);
    fp_pool_unref(&pool);
    report_points("fp_av_frame_get_buffer (lazy growth)", calls);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* fp_av_get_buffer2, with libavcodec loaded at run time                      */

#define AVC_SONAME "libavcodec.so." AV_STRINGIFY(LIBAVCODEC_VERSION_MAJOR)

typedef const AVCodec *(*find_decoder_fn)(enum AVCodecID);
typedef AVCodecContext *(*alloc_ctx_fn)(const AVCodec *);
typedef void (*free_ctx_fn)(AVCodecContext **);

static void *sym(void *h, const char *name)
{
    void *p = dlsym(h, name);
    ck_assert_msg(p != NULL, "%s: %s", name, dlerror());
    return p;
}

START_TEST(fail_av_get_buffer2)
{
    if (getenv("FP_TEST_UNDER_VALGRIND")) {
        /* valgrind cannot start libavcodec's dependencies on every CPU (see
         * valgrind-wrap.sh); ASan+UBSan and TSan run this test. */
        printf("allocfail: fp_av_get_buffer2 skipped under valgrind\n");
        return;
    }
    void *h = dlopen(AVC_SONAME, RTLD_NOW | RTLD_GLOBAL);
    ck_assert_msg(h != NULL, "dlopen %s: %s", AVC_SONAME, dlerror());
    find_decoder_fn find_decoder;
    alloc_ctx_fn alloc_ctx;
    free_ctx_fn free_ctx;
    void *p = sym(h, "avcodec_find_decoder");
    memcpy(&find_decoder, &p, sizeof(p));
    p = sym(h, "avcodec_alloc_context3");
    memcpy(&alloc_ctx, &p, sizeof(p));
    p = sym(h, "avcodec_free_context");
    memcpy(&free_ctx, &p, sizeof(p));

    const AVCodec *codec = find_decoder(AV_CODEC_ID_H264);
    ck_assert_ptr_nonnull(codec);
    ck_assert(codec->capabilities & AV_CODEC_CAP_DR1);
    AVCodecContext *avctx = alloc_ctx(codec);
    ck_assert_ptr_nonnull(avctx);
    avctx->pix_fmt = AV_PIX_FMT_YUV420P;
    avctx->width = avctx->coded_width = 64;
    avctx->height = avctx->coded_height = 48;

    fp_pool_config cfg = av_config(2);
    cfg.get_buffer_timeout_us = 0;
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_av_pool_create(&pool, AV_PIX_FMT_YUV420P, 64, 48, &cfg), 0);
    avctx->opaque = pool;
    AVFrame *frame = av_frame_alloc();
    ck_assert_ptr_nonnull(frame);

    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = 64;
    frame->height = 48;
    aw_arm(0);
    int ret = fp_av_get_buffer2(avctx, frame, AV_GET_BUFFER_FLAG_REF);
    int calls = aw_disarm();
    ck_assert_msg(ret == 0, "fp_av_get_buffer2: %s", fp_strerror(ret));
    ck_assert(fp_av_frame_is_from(pool, frame));
    ck_assert_int_ge(calls, 2);
    av_frame_unref(frame);
    ck_assert_int_eq(fp_pool_trim(pool), 1);
    ck_assert_int_eq(aw_outstanding(), 0);

    for (int n = 1; n <= calls; n++) {
        frame->format = AV_PIX_FMT_YUV420P;
        frame->width = 64;
        frame->height = 48;
        test_log_reset(&g_log);
        aw_arm(n);
        ret = fp_av_get_buffer2(avctx, frame, AV_GET_BUFFER_FLAG_REF);
        aw_disarm();
        ck_assert_msg(ret == AVERROR(ENOMEM), "allocation %d failing: %d (%s)", n, ret, fp_strerror(ret));
        ck_assert_ptr_null(frame->buf[0]);
        check_books(pool, 0);
        fp_pool_trim(pool);
        ck_assert_int_eq(aw_outstanding(), 0);
    }
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.get_buffer_fallbacks, 0);
    check_usable(pool, 0);
    av_frame_free(&frame);
    free_ctx(&avctx);
    fp_pool_unref(&pool);
    /* libavcodec stays loaded: unloading it under LSan loses its symbols. */
    report_points("fp_av_get_buffer2 (lazy growth)", calls);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("allocfail-av");
    TCase *tc = tcase_create("av");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, fail_av_pool_create);
    tcase_add_loop_test(tc, fail_av_acquire, 0, 2);
    tcase_add_test(tc, fail_av_frame_get_buffer);
    tcase_add_test(tc, fail_av_get_buffer2);
    suite_add_tcase(s, tc);
    return s;
}
