/*
 * Suite "badptr": pointers the library must check before it reads through
 * them (issue 12, item 12). Frames, pools and AVCodecContext.opaque that point
 * at small heap objects, stack objects or plain garbage give EINVAL (or NULL,
 * or 0 where the function is a predicate), a log line and one count in
 * fp_misuse_count(), and read nothing past the object: under ASan any such
 * read is a heap- or stack-buffer-overflow report.
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#ifdef HAVE_AV
# include <libavcodec/avcodec.h>
# include <framepool/av.h>
#endif

/* stderr into a file while a call runs: process-wide log lines (no pool to
 * log through) go there. */
typedef struct capture {
    FILE *file;
    int saved;
} capture;

static void capture_begin(capture *c)
{
    fflush(stderr);
    c->file = tmpfile();
    ck_assert_ptr_nonnull(c->file);
    c->saved = dup(STDERR_FILENO);
    ck_assert_int_ge(c->saved, 0);
    ck_assert_int_ge(dup2(fileno(c->file), STDERR_FILENO), 0);
}

/* Restores stderr; true when what was written contains `needle`. */
static bool capture_end(capture *c, const char *needle)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    char buf[8192];
    rewind(c->file);
    size_t n = fread(buf, 1, sizeof(buf) - 1, c->file);
    buf[n] = 0;
    fclose(c->file);
    fputs(buf, stderr); /* still visible in the test log */
    return strstr(buf, needle) != NULL;
}

/* The four frame entry points on `f`; each must refuse it and count it. */
static void check_frame_refused(fp_frame *f, const char *what)
{
    uint64_t before = fp_misuse_count();
    capture c;
    capture_begin(&c);
    fp_frame *pf = f;
    int unref = fp_frame_unref(&pf);
    fp_frame *ref = fp_frame_ref(f);
    int rc = fp_frame_refcount(f);
    int wr = fp_frame_is_writable(f);
    bool logged = capture_end(&c, "not a frame of any framepool pool");
    ck_assert_msg(unref == FP_ERR(EINVAL) && pf == NULL, "%s: fp_frame_unref gave %d", what, unref);
    ck_assert_msg(ref == NULL, "%s: fp_frame_ref accepted it", what);
    ck_assert_msg(rc == FP_ERR(EINVAL), "%s: fp_frame_refcount gave %d", what, rc);
    ck_assert_msg(wr == 0, "%s: fp_frame_is_writable gave %d", what, wr);
    ck_assert_msg(fp_misuse_count() == before + 4, "%s: %llu misuse counted, expected 4", what,
                  (unsigned long long)(fp_misuse_count() - before));
    ck_assert_msg(logged, "%s: no log line", what);
}

/* fp__slot_of read bytes 88..95 of any pointer: out of bounds for these. */
START_TEST(small_heap_objects)
{
    static const size_t sizes[] = { 1, 8, 64, 95 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *p = malloc(sizes[i]);
        ck_assert_ptr_nonnull(p);
        memset(p, 0x41, sizes[i]);
        char what[32];
        snprintf(what, sizeof(what), "%zu-byte heap object", sizes[i]);
        check_frame_refused((fp_frame *)(void *)p, what);
        for (size_t j = 0; j < sizes[i]; j++)
            ck_assert_uint_eq(p[j], 0x41);
        free(p);
    }
}
END_TEST

START_TEST(stack_objects)
{
    char c = 'x';
    check_frame_refused((fp_frame *)(void *)&c, "char on the stack");
    uint64_t w = 0x4141414141414141ull;
    check_frame_refused((fp_frame *)(void *)&w, "uint64_t on the stack");
    struct {
        uint8_t b[64];
    } s;
    memset(&s, 0x41, sizeof(s));
    check_frame_refused((fp_frame *)(void *)&s, "64-byte struct on the stack");
    fp_frame whole;
    memset(&whole, 0, sizeof(whole));
    check_frame_refused(&whole, "zeroed fp_frame on the stack");
    ck_assert_int_eq(c, 'x');
    ck_assert_uint_eq(w, 0x4141414141414141ull);
}
END_TEST

/* Pointers into the pools' own memory that are not frames: a pool, a slot's
 * middle. Readable, but no key matches. */
START_TEST(pool_memory_not_frames)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 16, 16, 4, NULL);
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    check_frame_refused((fp_frame *)(void *)pool, "the pool struct");
    check_frame_refused((fp_frame *)(void *)((char *)f + 8), "8 bytes into a frame");
    check_frame_refused((fp_frame *)(void *)((char *)f + 96), "the end of a frame");
    ck_assert_int_eq(fp_frame_refcount(f), 1);
    ck_assert_int_eq(fp_frame_is_writable(f), 1);
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.misuse, 0);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    fp_pool_unref(&pool);
}
END_TEST

#ifdef HAVE_AV
/* The application's own context struct in AVCodecContext.opaque (16 bytes):
 * fp_av_get_buffer2 read 536 bytes into it before. */
typedef struct app_ctx {
    int stream, flags;
    void *user;
} app_ctx;

static void check_get_buffer2_refused(void *opaque, const char *what)
{
    AVCodecContext *avctx = calloc(1, sizeof(*avctx)); /* only opaque is read before the check */
    ck_assert_ptr_nonnull(avctx);
    avctx->opaque = opaque;
    AVFrame *frame = av_frame_alloc();
    ck_assert_ptr_nonnull(frame);
    uint64_t before = fp_misuse_count();
    capture c;
    capture_begin(&c);
    int ret = fp_av_get_buffer2(avctx, frame, 0);
    bool logged = capture_end(&c, "is not a framepool pool");
    ck_assert_msg(ret == AVERROR(EINVAL), "%s: fp_av_get_buffer2 gave %d", what, ret);
    ck_assert_msg(logged, "%s: no log line", what);
    ck_assert_msg(fp_misuse_count() == before + 1, "%s: not counted", what);
    ck_assert_ptr_null(frame->buf[0]);
    av_frame_free(&frame);
    free(avctx);
}

START_TEST(av_opaque_app_struct)
{
    ck_assert_uint_eq(sizeof(app_ctx), 16);
    app_ctx *heap = calloc(1, sizeof(*heap));
    ck_assert_ptr_nonnull(heap);
    heap->stream = 7;
    check_get_buffer2_refused(heap, "16-byte heap struct");
    ck_assert_int_eq(heap->stream, 7);
    free(heap);
    app_ctx stack = { 3, 0, NULL };
    check_get_buffer2_refused(&stack, "16-byte stack struct");
    check_get_buffer2_refused((void *)(uintptr_t)0x4141414141414141ull, "garbage pointer");

    /* Inside the region, but not a pool: a frame of a core pool. */
    fp_pool_config cfg = test_config(FP_FMT_YUV420P, 16, 16, 2, NULL);
    fp_pool *core = NULL;
    ck_assert_int_eq(fp_pool_create(&core, &cfg), 0);
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(core, 0, &f), 0);
    check_get_buffer2_refused(f, "a frame");
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    fp_pool_unref(&core);
}
END_TEST

/* The other AV entry points that take a pool. */
START_TEST(av_pool_args)
{
    void *small = calloc(1, 16);
    ck_assert_ptr_nonnull(small);
    fp_pool *bad = small;
    uint64_t before = fp_misuse_count();
    AVFrame *out = (AVFrame *)(uintptr_t)1;
    ck_assert_int_eq(fp_av_acquire(bad, 0, &out), FP_ERR(EINVAL));
    ck_assert_ptr_null(out);
    AVFrame *frame = av_frame_alloc();
    ck_assert_ptr_nonnull(frame);
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = frame->height = 16;
    ck_assert_int_eq(fp_av_frame_get_buffer(bad, frame, 0), FP_ERR(EINVAL));
    ck_assert_ptr_null(frame->buf[0]);
    ck_assert_int_eq(fp_av_pool_format(bad), AV_PIX_FMT_NONE);
    ck_assert_int_eq(fp_av_frame_is_from(bad, frame), 0);
    ck_assert_uint_eq(fp_misuse_count() - before, 2); /* acquire and get_buffer log and count */
    av_frame_free(&frame);
    free(small);
}
END_TEST
#endif

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("badptr");
    TCase *tc = tcase_create("frames");
    tcase_add_test(tc, small_heap_objects);
    tcase_add_test(tc, stack_objects);
    tcase_add_test(tc, pool_memory_not_frames);
    suite_add_tcase(s, tc);
#ifdef HAVE_AV
    tc = tcase_create("av");
    tcase_add_test(tc, av_opaque_app_struct);
    tcase_add_test(tc, av_pool_args);
    suite_add_tcase(s, tc);
#endif
    return s;
}
