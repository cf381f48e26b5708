/*
 * Suite "layout": plane pointers, linesizes and sizes of every format against
 * hand-computed values (and against libavutil when it is available).
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#ifdef HAVE_AVUTIL
# include <libavutil/imgutils.h>
# include <libavutil/macros.h>
# include <libavutil/pixfmt.h>
#endif

/* ------------------------------------------------------------------------- */
/* An allocator that remembers the block it handed out                        */

typedef struct rec_alloc {
    void *ptr;
    size_t size;
    size_t align;
    int calls;
    int bad_free; /* free() with a pointer or size that alloc() did not hand out */
} rec_alloc;

static void *rec_alloc_fn(void *opaque, size_t size, size_t align)
{
    rec_alloc *r = opaque;
    void *p = NULL;
    r->calls++;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size))
        return NULL;
    r->ptr = p;
    r->size = size;
    r->align = align;
    return p;
}

static void rec_free_fn(void *opaque, void *ptr, size_t size)
{
    rec_alloc *r = opaque;
    if (ptr != r->ptr || size != r->size)
        r->bad_free++;
    free(ptr);
}

/* ------------------------------------------------------------------------- */
/* Hand-computed layouts                                                      */

typedef struct planes {
    int nb;
    size_t row_bytes[4]; /* bytes of samples in one row */
    size_t rows[4];
} planes;

static planes expected_planes(enum fp_format fmt, int w, int h)
{
    size_t W = (size_t)w, H = (size_t)h;
    size_t cw = (W + 1) / 2, ch = (H + 1) / 2; /* ceil(w/2), ceil(h/2) */
    planes p = { 0 };
    switch (fmt) {
    case FP_FMT_YUV420P:
        p = (planes){ 3, { W, cw, cw }, { H, ch, ch } };
        break;
    case FP_FMT_NV12:
        p = (planes){ 2, { W, 2 * cw }, { H, ch } };
        break;
    case FP_FMT_P010:
        p = (planes){ 2, { 2 * W, 4 * cw }, { H, ch } };
        break;
    case FP_FMT_YUV422P:
        p = (planes){ 3, { W, cw, cw }, { H, H, H } };
        break;
    case FP_FMT_YUV444P:
        p = (planes){ 3, { W, W, W }, { H, H, H } };
        break;
    case FP_FMT_YUYV422:
        p = (planes){ 1, { 2 * W }, { H } };
        break;
    case FP_FMT_BGRA:
    case FP_FMT_RGBA:
        p = (planes){ 1, { 4 * W }, { H } };
        break;
    case FP_FMT_GRAY8:
        p = (planes){ 1, { W }, { H } };
        break;
    default:
        ck_abort_msg("no expected layout for format %d", (int)fmt);
    }
    return p;
}

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

static const char *format_label(int fmt)
{
    static const char *const names[FP_FMT_COUNT] = {
        [FP_FMT_RAW] = "RAW",         [FP_FMT_YUV420P] = "YUV420P", [FP_FMT_NV12] = "NV12",
        [FP_FMT_P010] = "P010",       [FP_FMT_YUV422P] = "YUV422P", [FP_FMT_YUV444P] = "YUV444P",
        [FP_FMT_YUYV422] = "YUYV422", [FP_FMT_BGRA] = "BGRA",       [FP_FMT_RGBA] = "RGBA",
        [FP_FMT_GRAY8] = "GRAY8",
    };
    return fmt > FP_FMT_NONE && fmt < FP_FMT_COUNT ? names[fmt] : "?";
}

#ifdef HAVE_AVUTIL
static enum AVPixelFormat av_format(enum fp_format fmt)
{
    switch (fmt) {
    case FP_FMT_YUV420P: return AV_PIX_FMT_YUV420P;
    case FP_FMT_NV12: return AV_PIX_FMT_NV12;
    case FP_FMT_P010: return AV_PIX_FMT_P010LE;
    case FP_FMT_YUV422P: return AV_PIX_FMT_YUV422P;
    case FP_FMT_YUV444P: return AV_PIX_FMT_YUV444P;
    case FP_FMT_YUYV422: return AV_PIX_FMT_YUYV422;
    case FP_FMT_BGRA: return AV_PIX_FMT_BGRA;
    case FP_FMT_RGBA: return AV_PIX_FMT_RGBA;
    case FP_FMT_GRAY8: return AV_PIX_FMT_GRAY8;
    default: return AV_PIX_FMT_NONE;
    }
}

/* Our linesizes are libavutil's packed ones rounded up to align, and with our
 * linesizes libavutil puts the planes exactly where we do. */
static void check_against_avutil(const fp_frame *f, enum fp_format fmt, int w, int h, int align,
                                 const char *ctx)
{
    enum AVPixelFormat avf = av_format(fmt);
    ck_assert_msg(avf != AV_PIX_FMT_NONE, "%s: no AVPixelFormat", ctx);
    int lines[4] = { 0 };
    ck_assert_msg(av_image_fill_linesizes(lines, avf, w) >= 0, "%s: av_image_fill_linesizes failed", ctx);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(f->linesize[i] == FFALIGN(lines[i], align),
                      "%s: linesize[%d] = %d, libavutil %d aligned to %d = %d", ctx, i, f->linesize[i],
                      lines[i], align, FFALIGN(lines[i], align));
    uint8_t *ptrs[4] = { (uint8_t *)1, (uint8_t *)1, (uint8_t *)1, (uint8_t *)1 };
    int total = av_image_fill_pointers(ptrs, avf, h, f->data[0], f->linesize);
    ck_assert_msg(total >= 0 && (size_t)total == f->size, "%s: libavutil size %d, frame size %zu", ctx,
                  total, f->size);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(ptrs[i] == f->data[i], "%s: data[%d] = %p, libavutil %p", ctx, i,
                      (void *)f->data[i], (void *)ptrs[i]);
}
#endif

/* Checks one acquired frame of a (fmt, w, h, align) pool and writes every byte
 * of every plane. */
static void check_image_frame(const fp_frame *f, enum fp_format fmt, int w, int h, int align,
                              const rec_alloc *rec)
{
    char ctx[96];
    snprintf(ctx, sizeof(ctx), "%s %dx%d align %d", format_label(fmt), w, h, align);
    planes p = expected_planes(fmt, w, h);

    ck_assert_msg(f->width == w && f->height == h, "%s: frame is %dx%d", ctx, f->width, f->height);
    ck_assert_msg(f->format == (int)fmt, "%s: format %d", ctx, f->format);
    ck_assert_msg(f->data[0] != NULL, "%s: data[0] is NULL", ctx);

    size_t base_align = align < 16 ? 16 : (size_t)align;
    ck_assert_msg((uintptr_t)f->data[0] % base_align == 0, "%s: data[0] %p not aligned to %zu", ctx,
                  (void *)f->data[0], base_align);

    size_t off = 0;
    for (int i = 0; i < p.nb; i++) {
        size_t want = round_up(p.row_bytes[i], (size_t)align);
        ck_assert_msg(f->linesize[i] > 0 && (size_t)f->linesize[i] == want,
                      "%s: linesize[%d] = %d, expected %zu (%zu bytes of samples)", ctx, i,
                      f->linesize[i], want, p.row_bytes[i]);
        ck_assert_msg(f->data[i] == f->data[0] + off, "%s: data[%d] at offset %td, expected %zu", ctx,
                      i, f->data[i] - f->data[0], off);
        ck_assert_msg((uintptr_t)f->data[i] % (size_t)align == 0, "%s: data[%d] %p not aligned to %d",
                      ctx, i, (void *)f->data[i], align);
        off += want * p.rows[i];
    }
    for (int i = p.nb; i < 4; i++) {
        ck_assert_msg(f->data[i] == NULL, "%s: unused data[%d] is %p", ctx, i, (void *)f->data[i]);
        ck_assert_msg(f->linesize[i] == 0, "%s: unused linesize[%d] is %d", ctx, i, f->linesize[i]);
    }
    ck_assert_msg(f->size == off, "%s: size %zu, expected %zu", ctx, f->size, off);

    /* The allocator was asked for a block that holds all of it. */
    ck_assert_msg(rec->calls == 1, "%s: %d allocations for one frame", ctx, rec->calls);
    ck_assert_msg(rec->align >= base_align && (rec->align & (rec->align - 1)) == 0,
                  "%s: allocator asked for alignment %zu", ctx, rec->align);
    ck_assert_msg((uint8_t *)rec->ptr <= f->data[0] &&
                      f->data[0] + f->size <= (uint8_t *)rec->ptr + rec->size,
                  "%s: planes [%p, +%zu) outside the allocated block [%p, +%zu)", ctx,
                  (void *)f->data[0], f->size, rec->ptr, rec->size);

    /* Every byte of every plane, padding included, is the application's. */
    for (int i = 0; i < p.nb; i++)
        memset(f->data[i], 0x40 + i, (size_t)f->linesize[i] * p.rows[i]);
    for (int i = 0; i < p.nb; i++) {
        size_t n = (size_t)f->linesize[i] * p.rows[i];
        ck_assert_msg(f->data[i][0] == 0x40 + i && f->data[i][n - 1] == 0x40 + i,
                      "%s: plane %d was overwritten by another plane", ctx, i);
    }

#ifdef HAVE_AVUTIL
    check_against_avutil(f, fmt, w, h, align, ctx);
#endif
}

static const int sizes[][2] = {
    { 1, 1 },     { 2, 2 },     { 3, 3 },       { 2, 3 },       { 17, 9 },      { 18, 9 },
    { 33, 1 },    { 1, 33 },    { 640, 360 },   { 641, 361 },   { 1920, 1080 }, { 1921, 1081 },
    { 1922, 1081 },
};
static const int aligns[] = { 1, 2, 16, 32, 64, 256, 4096 };

#define N_SIZES ((int)(sizeof(sizes) / sizeof(sizes[0])))
#define N_ALIGNS ((int)(sizeof(aligns) / sizeof(aligns[0])))

static void check_one_layout(enum fp_format fmt, int w, int h, int align)
{
    rec_alloc rec = { 0 };
    fp_pool_config cfg = test_config(fmt, w, h, 1, NULL);
    cfg.align = align;
    cfg.allocator = (fp_allocator){ rec_alloc_fn, rec_free_fn, &rec };
    fp_pool *pool = NULL;
    int ret = fp_pool_create(&pool, &cfg);
    ck_assert_msg(ret == 0, "%s %dx%d align %d: create failed: %s", format_label(fmt), w, h, align,
                  fp_strerror(ret));
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    check_image_frame(f, fmt, w, h, align, &rec);

    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_msg(st.frame_bytes >= f->size, "frame_bytes %llu < size %zu",
                  (unsigned long long)st.frame_bytes, f->size);

    ck_assert_int_eq(fp_frame_unref(&f), 0);
    fp_pool_unref(&pool);
    ck_assert_msg(rec.bad_free == 0, "%s %dx%d align %d: free() got a pointer/size alloc() did not return",
                  format_label(fmt), w, h, align);
}

/* _i is an enum fp_format from FP_FMT_YUV420P to FP_FMT_GRAY8. */
START_TEST(test_image_layout)
{
    enum fp_format fmt = (enum fp_format)_i;
    int checked = 0;
    for (int s = 0; s < N_SIZES; s++) {
        int w = sizes[s][0], h = sizes[s][1];
        if (fmt == FP_FMT_YUYV422 && (w & 1))
            continue; /* rejected: YUYV needs an even width */
        for (int a = 0; a < N_ALIGNS; a++) {
            check_one_layout(fmt, w, h, aligns[a]);
            checked++;
        }
    }
    ck_assert_int_gt(checked, 0);
}
END_TEST

/* Every frame of a pool has the same geometry, in its own memory. */
START_TEST(test_frames_share_layout)
{
    enum fp_format fmt = (enum fp_format)_i;
    fp_pool_config cfg = test_config(fmt, 34, 19, 3, NULL);
    cfg.align = 32;
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    fp_frame *f[3] = { NULL };
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[k]), 0);
    for (int k = 1; k < 3; k++) {
        ck_assert_uint_eq(f[k]->size, f[0]->size);
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(f[k]->linesize[i], f[0]->linesize[i]);
            ck_assert_int_eq(f[k]->data[i] == NULL, f[0]->data[i] == NULL);
            if (f[0]->data[i])
                ck_assert(f[k]->data[i] - f[k]->data[0] == f[0]->data[i] - f[0]->data[0]);
        }
        for (int j = 0; j < k; j++)
            ck_assert_msg(f[k]->data[0] + f[k]->size <= f[j]->data[0] ||
                              f[j]->data[0] + f[j]->size <= f[k]->data[0],
                          "frames %d and %d overlap", j, k);
    }
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(fp_frame_unref(&f[k]), 0);
    fp_pool_unref(&pool);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* FP_FMT_RAW                                                                */

static const size_t raw_sizes[] = { 1, 7, 64, 1000, 4097, 65537, 1u << 20 };
static const int raw_aligns[] = { 1, 16, 64, 256, 4096 };

START_TEST(test_raw_layout)
{
    size_t n = raw_sizes[_i];
    for (size_t a = 0; a < sizeof(raw_aligns) / sizeof(raw_aligns[0]); a++) {
        int align = raw_aligns[a];
        rec_alloc rec = { 0 };
        fp_pool_config cfg;
        fp_pool_config_default(&cfg);
        cfg.format = FP_FMT_RAW;
        cfg.buffer_size = n;
        cfg.align = align;
        cfg.max_frames = 1;
        cfg.allocator = (fp_allocator){ rec_alloc_fn, rec_free_fn, &rec };
        fp_pool *pool = NULL;
        ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
        fp_frame *f = NULL;
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);

        ck_assert_ptr_nonnull(f->data[0]);
        for (int i = 1; i < 4; i++)
            ck_assert_ptr_null(f->data[i]);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(f->linesize[i] == 0, "RAW %zu: linesize[%d] = %d", n, i, f->linesize[i]);
        ck_assert_int_eq(f->width, 0);
        ck_assert_int_eq(f->height, 0);
        ck_assert_int_eq(f->format, FP_FMT_RAW);
        ck_assert_msg(f->size == n, "RAW %zu align %d: size %zu", n, align, f->size);
        size_t base_align = align < 16 ? 16 : (size_t)align;
        ck_assert_msg((uintptr_t)f->data[0] % base_align == 0, "RAW %zu align %d: data[0] %p", n, align,
                      (void *)f->data[0]);
        ck_assert(rec.calls == 1);
        ck_assert((uint8_t *)rec.ptr <= f->data[0] && f->data[0] + n <= (uint8_t *)rec.ptr + rec.size);

        memset(f->data[0], 0x77, n);
        ck_assert_int_eq(f->data[0][n - 1], 0x77);

        ck_assert_int_eq(fp_frame_unref(&f), 0);
        fp_pool_unref(&pool);
        ck_assert_int_eq(rec.bad_free, 0);
    }
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("layout");

    TCase *tc = tcase_create("image");
    tcase_add_loop_test(tc, test_image_layout, FP_FMT_YUV420P, FP_FMT_COUNT);
    tcase_add_loop_test(tc, test_frames_share_layout, FP_FMT_YUV420P, FP_FMT_COUNT);
    suite_add_tcase(s, tc);

    tc = tcase_create("raw");
    tcase_add_loop_test(tc, test_raw_layout, 0, (int)(sizeof(raw_sizes) / sizeof(raw_sizes[0])));
    suite_add_tcase(s, tc);

    return s;
}
