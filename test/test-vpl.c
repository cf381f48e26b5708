/*
 * Suite "vpl": the oneVPL adapter. Creation and validation, the surface
 * layout of every FourCC, the state of an acquired surface, every
 * FrameInterface function and status code, misuse, the reuse rule
 * (refcount 0 AND Data.Locked 0) with deferred surfaces, waiters and
 * exhaustion, and a test double that replays how real runtimes touch app
 * surfaces:
 *  (a) Intel's GPU runtime: AddRef then Locked++ when it takes a surface,
 *      Locked-- then Release when done, several EncodeFrameAsync calls later,
 *      on its own thread;
 *  (b) the CPU reference runtime: Map(READ), AddRef, copy, Unmap, Release,
 *      all inside EncodeFrameAsync;
 *  (c) 1.x-style code on surfaces it treats as legacy: Locked++ while it holds
 *      a surface, Locked-- later from another thread, no call at all.
 * SPDX-License-Identifier: MIT
 *
 * Worker threads never call ck_assert (under CK_FORK=no a failed assertion
 * longjmps, which is undefined from another thread): they count failures and
 * the main thread asserts after pthread_join. No test bounds how long
 * anything takes; polling loops have a generous liveness guard only.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <framepool/vpl.h>

#include "common.h"

static test_log logbuf;
static fp_pool *pool;

static bool under_valgrind(void)
{
    return getenv("FP_TEST_UNDER_VALGRIND") != NULL;
}

/* Liveness guard for polling loops and blocking acquires: never a performance bound. */
static uint64_t guard_ns(void)
{
    return (under_valgrind() ? 300ull : 60ull) * 1000000000ull;
}

static int64_t guard_us(void)
{
    return (int64_t)(guard_ns() / 1000u);
}

static mfxFrameInfo make_info(mfxU32 fourcc, int w, int h, mfxU16 picstruct)
{
    mfxFrameInfo i;
    memset(&i, 0, sizeof(i));
    i.FourCC = fourcc;
    i.Width = (mfxU16)w;
    i.Height = (mfxU16)h;
    i.CropW = (mfxU16)w;
    i.CropH = (mfxU16)h;
    i.PicStruct = picstruct;
    i.FrameRateExtN = 30;
    i.FrameRateExtD = 1;
    i.ChromaFormat = fourcc == MFX_FOURCC_RGB4   ? MFX_CHROMAFORMAT_YUV444
                     : fourcc == MFX_FOURCC_YUY2 ? MFX_CHROMAFORMAT_YUV422
                                                 : MFX_CHROMAFORMAT_YUV420;
    if (fourcc == MFX_FOURCC_P010) {
        i.BitDepthLuma = i.BitDepthChroma = 10;
        i.Shift = 1;
    }
    return i;
}

static fp_pool_config vpl_config(int max_frames, unsigned flags)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "vpltest";
    cfg.max_frames = max_frames;
    cfg.flags = flags;
    cfg.log = test_log_cb;
    cfg.log_opaque = &logbuf;
    return cfg;
}

static fp_pool *make_pool(mfxU32 fourcc, int w, int h, int max_frames, unsigned flags)
{
    test_log_reset(&logbuf);
    mfxFrameInfo info = make_info(fourcc, w, h, MFX_PICSTRUCT_PROGRESSIVE);
    fp_pool_config cfg = vpl_config(max_frames, flags);
    fp_pool *p = NULL;
    int ret = fp_vpl_pool_create(&p, &info, &cfg);
    ck_assert_msg(ret == 0, "fp_vpl_pool_create: %s", fp_strerror(ret));
    ck_assert_ptr_nonnull(p);
    return p;
}

static void teardown(void)
{
    fp_pool_unref(&pool);
}

static fp_pool_stats stats_of(fp_pool *p)
{
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(p, &st), 0);
    ck_assert_msg(st.live == st.acquired - st.released, "live %u != acquired %llu - released %llu", st.live,
                  (unsigned long long)st.acquired, (unsigned long long)st.released);
    ck_assert_uint_le(st.live, st.capacity);
    ck_assert_uint_eq(st.allocated, st.live + st.idle);
    ck_assert_uint_le(st.held_by_runtime, st.live);
    return st;
}

static mfxU16 locked_of(const mfxFrameSurface1 *s)
{
    return __atomic_load_n(&s->Data.Locked, __ATOMIC_ACQUIRE);
}

/* How runtimes change Data.Locked: interlocked, from any thread. */
static void lock_inc(mfxFrameSurface1 *s)
{
    __atomic_fetch_add(&s->Data.Locked, 1, __ATOMIC_ACQ_REL);
}

static void lock_dec(mfxFrameSurface1 *s)
{
    __atomic_fetch_sub(&s->Data.Locked, 1, __ATOMIC_ACQ_REL);
}

static mfxU32 refcount_of(mfxFrameSurface1 *s)
{
    mfxU32 c = 12345;
    ck_assert_int_eq(s->FrameInterface->GetRefCounter(s, &c), MFX_ERR_NONE);
    return c;
}

static size_t pitch_of(const mfxFrameSurface1 *s)
{
    return ((size_t)s->Data.PitchHigh << 16) | s->Data.PitchLow;
}

static mfxFrameSurface1 *acquire_ok(fp_pool *p, int64_t timeout_us)
{
    mfxFrameSurface1 *s = NULL;
    int ret = fp_vpl_acquire(p, timeout_us, &s);
    ck_assert_msg(ret == 0, "fp_vpl_acquire: %s", fp_strerror(ret));
    ck_assert_ptr_nonnull(s);
    return s;
}

/* ------------------------------------------------------------------------- */
/* Creation                                                                  */

START_TEST(test_create_default_cfg)
{
    mfxFrameInfo info = make_info(MFX_FOURCC_NV12, 320, 240, MFX_PICSTRUCT_PROGRESSIVE);
    ck_assert_int_eq(fp_vpl_pool_create(&pool, &info, NULL), 0);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.capacity, 16);
    ck_assert_str_eq(fp_pool_name(pool), "vpl");
    mfxFrameSurface1 *s = acquire_ok(pool, 0);
    ck_assert_int_eq(fp_vpl_release(&s), 0);
    ck_assert_ptr_null(s);
}
END_TEST

typedef struct bad_case {
    const char *what;
    mfxU32 fourcc;
    int w, h;
    int crop_x, crop_w, crop_h;
    int cfg_format, cfg_w, cfg_h, cfg_align, cfg_max;
    size_t cfg_buffer_size;
    const char *log_needle;
} bad_case;

static const bad_case bad_cases[] = {
    { "YV12 fourcc", MFX_FOURCC_YV12, 64, 64, 0, 64, 64, 0, 0, 0, 64, 4, 0, "not supported" },
    { "zero fourcc", 0, 64, 64, 0, 64, 64, 0, 0, 0, 64, 4, 0, "not supported" },
    { "NV16 fourcc", MFX_FOURCC_NV16, 64, 64, 0, 64, 64, 0, 0, 0, 64, 4, 0, "'NV16'" },
    { "zero width", MFX_FOURCC_NV12, 0, 64, 0, 0, 64, 0, 0, 0, 64, 4, 0, "outside" },
    { "zero height", MFX_FOURCC_NV12, 64, 0, 0, 64, 0, 0, 0, 0, 64, 4, 0, "outside" },
    { "too wide", MFX_FOURCC_NV12, 32769, 64, 0, 64, 64, 0, 0, 0, 64, 4, 0, "outside" },
    { "crop outside", MFX_FOURCC_NV12, 64, 64, 8, 64, 64, 0, 0, 0, 64, 4, 0, "crop" },
    { "crop too tall", MFX_FOURCC_I420, 64, 64, 0, 64, 65, 0, 0, 0, 64, 4, 0, "crop" },
    { "format conflict", MFX_FOURCC_NV12, 64, 64, 0, 64, 64, FP_FMT_YUV420P, 0, 0, 64, 4, 0, "format" },
    { "width conflict", MFX_FOURCC_NV12, 64, 64, 0, 64, 64, 0, 100, 0, 64, 4, 0, "width" },
    { "height conflict", MFX_FOURCC_NV12, 64, 64, 0, 64, 64, 0, 0, 100, 64, 4, 0, "height" },
    { "buffer_size", MFX_FOURCC_NV12, 64, 64, 0, 64, 64, 0, 0, 0, 64, 4, 100, "buffer_size" },
    { "align", MFX_FOURCC_NV12, 64, 64, 0, 64, 64, 0, 0, 0, 48, 4, 0, "align" },
    { "max_frames", MFX_FOURCC_NV12, 64, 64, 0, 64, 64, 0, 0, 0, 64, 0, 0, "max_frames" },
};
#define BAD_CASES ((int)(sizeof(bad_cases) / sizeof(bad_cases[0])))

START_TEST(test_create_invalid)
{
    const bad_case *c = &bad_cases[_i];
    test_log_reset(&logbuf);
    mfxFrameInfo info = make_info(c->fourcc, c->w, c->h, MFX_PICSTRUCT_PROGRESSIVE);
    info.CropX = (mfxU16)c->crop_x;
    info.CropW = (mfxU16)c->crop_w;
    info.CropH = (mfxU16)c->crop_h;
    fp_pool_config cfg = vpl_config(c->cfg_max, 0);
    cfg.format = (enum fp_format)c->cfg_format;
    cfg.width = c->cfg_w;
    cfg.height = c->cfg_h;
    cfg.align = c->cfg_align;
    cfg.buffer_size = c->cfg_buffer_size;
    fp_pool *p = (fp_pool *)(uintptr_t)1;
    ck_assert_msg(fp_vpl_pool_create(&p, &info, &cfg) == FP_ERR(EINVAL), "%s: not EINVAL", c->what);
    ck_assert_ptr_null(p);
    ck_assert_msg(test_log_has(&logbuf, c->log_needle), "%s: no log line with \"%s\" (first: %s)", c->what,
                  c->log_needle, logbuf.lines[0]);
}
END_TEST

START_TEST(test_create_null_args)
{
    test_log_reset(&logbuf);
    mfxFrameInfo info = make_info(MFX_FOURCC_NV12, 64, 64, MFX_PICSTRUCT_PROGRESSIVE);
    fp_pool_config cfg = vpl_config(4, 0);
    fp_pool *p = (fp_pool *)(uintptr_t)1;
    ck_assert_int_eq(fp_vpl_pool_create(NULL, &info, &cfg), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_vpl_pool_create(&p, NULL, &cfg), FP_ERR(EINVAL));
    ck_assert_ptr_null(p);
    ck_assert(test_log_has(&logbuf, "info is NULL"));
}
END_TEST

START_TEST(test_create_cfg_agreeing_fields)
{
    /* Fields that agree with the frame info are accepted: the given size,
     * the rounded size and the crop size. */
    mfxFrameInfo info = make_info(MFX_FOURCC_NV12, 1918, 1078, MFX_PICSTRUCT_PROGRESSIVE);
    const int widths[] = { 1918, 1920 }, heights[] = { 1078, 1088 };
    for (int i = 0; i < 2; i++) {
        fp_pool_config cfg = vpl_config(2, 0);
        cfg.format = FP_FMT_NV12;
        cfg.width = widths[i];
        cfg.height = heights[i];
        fp_pool *p = NULL;
        ck_assert_int_eq(fp_vpl_pool_create(&p, &info, &cfg), 0);
        fp_pool_unref(&p);
    }
    /* A larger alignment is honoured by pitches and planes. */
    fp_pool_config cfg = vpl_config(2, 0);
    cfg.align = 256;
    ck_assert_int_eq(fp_vpl_pool_create(&pool, &info, &cfg), 0);
    mfxFrameSurface1 *s = acquire_ok(pool, 0);
    ck_assert_uint_eq(pitch_of(s) % 256, 0);
    ck_assert_uint_eq((uintptr_t)s->Data.Y % 256, 0);
    ck_assert_uint_eq((uintptr_t)s->Data.UV % 256, 0);
    fp_vpl_release(&s);
}
END_TEST

START_TEST(test_frames_for_request)
{
    mfxFrameAllocRequest req;
    memset(&req, 0, sizeof(req));
    req.NumFrameMin = 3;
    req.NumFrameSuggested = 5;
    ck_assert_int_eq(fp_vpl_frames_for_request(&req, 0), 5);
    ck_assert_int_eq(fp_vpl_frames_for_request(&req, 2), 7);
    req.NumFrameSuggested = 1; /* below the minimum: the minimum wins */
    ck_assert_int_eq(fp_vpl_frames_for_request(&req, 1), 4);
    req.NumFrameMin = req.NumFrameSuggested = 0;
    ck_assert_int_eq(fp_vpl_frames_for_request(&req, 0), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_vpl_frames_for_request(&req, 2), 2);
    ck_assert_int_eq(fp_vpl_frames_for_request(&req, -1), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_vpl_frames_for_request(NULL, 1), FP_ERR(EINVAL));
    req.NumFrameSuggested = 60000;
    ck_assert_int_eq(fp_vpl_frames_for_request(&req, 0), FP_ERR(ERANGE));
    req.NumFrameSuggested = FP_MAX_FRAMES;
    ck_assert_int_eq(fp_vpl_frames_for_request(&req, 0), FP_MAX_FRAMES);
    ck_assert_int_eq(fp_vpl_frames_for_request(&req, 1), FP_ERR(ERANGE));
}
END_TEST

START_TEST(test_pool_frame_info)
{
    mfxFrameInfo info = make_info(MFX_FOURCC_I420, 1930, 1090, MFX_PICSTRUCT_PROGRESSIVE);
    fp_pool_config cfg = vpl_config(2, 0);
    ck_assert_int_eq(fp_vpl_pool_create(&pool, &info, &cfg), 0);
    mfxFrameInfo got;
    ck_assert_int_eq(fp_vpl_pool_frame_info(pool, &got), 0);
    ck_assert_uint_eq(got.Width, 1936);
    ck_assert_uint_eq(got.Height, 1104);
    ck_assert_uint_eq(got.CropW, 1930);
    ck_assert_uint_eq(got.CropH, 1090);
    ck_assert_uint_eq(got.FourCC, MFX_FOURCC_I420);
    ck_assert_int_eq(fp_vpl_pool_frame_info(pool, NULL), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_vpl_pool_frame_info(NULL, &got), FP_ERR(EINVAL));

    /* A core pool is not a surface pool. */
    fp_pool_config ccfg = test_config(FP_FMT_NV12, 64, 64, 2, &logbuf);
    fp_pool *core = NULL;
    ck_assert_int_eq(fp_pool_create(&core, &ccfg), 0);
    ck_assert_int_eq(fp_vpl_pool_frame_info(core, &got), FP_ERR(EINVAL));
    mfxFrameSurface1 *s = (mfxFrameSurface1 *)(uintptr_t)1;
    test_log_reset(&logbuf);
    ck_assert_int_eq(fp_vpl_acquire(core, 0, &s), FP_ERR(EINVAL));
    ck_assert_ptr_null(s);
    ck_assert(test_log_has(&logbuf, "not a pool made by fp_vpl_pool_create"));
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(core, 0, &f), 0);
    ck_assert_ptr_null(fp_vpl_frame_surface(f));
    fp_frame_unref(&f);
    fp_pool_unref(&core);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Layouts                                                                   */

typedef struct layout_case {
    mfxU32 fourcc;
    int w, h;
    mfxU16 picstruct;
    int want_w, want_h;
    size_t want_pitch;
    enum fp_format want_format;
} layout_case;

static const layout_case layouts[] = {
    { MFX_FOURCC_NV12, 1920, 1080, MFX_PICSTRUCT_PROGRESSIVE, 1920, 1088, 1920, FP_FMT_NV12 },
    { MFX_FOURCC_NV12, 1918, 1078, MFX_PICSTRUCT_PROGRESSIVE, 1920, 1088, 1920, FP_FMT_NV12 },
    { MFX_FOURCC_NV12, 721, 481, MFX_PICSTRUCT_PROGRESSIVE, 736, 496, 768, FP_FMT_NV12 },
    { MFX_FOURCC_NV12, 1280, 720, MFX_PICSTRUCT_FIELD_TFF, 1280, 736, 1280, FP_FMT_NV12 },
    { MFX_FOURCC_NV12, 640, 360, MFX_PICSTRUCT_UNKNOWN, 640, 384, 640, FP_FMT_NV12 },
    { MFX_FOURCC_I420, 1920, 1080, MFX_PICSTRUCT_PROGRESSIVE, 1920, 1088, 1920, FP_FMT_YUV420P },
    { MFX_FOURCC_I420, 1930, 1090, MFX_PICSTRUCT_PROGRESSIVE, 1936, 1104, 2048, FP_FMT_YUV420P },
    { MFX_FOURCC_I420, 176, 144, MFX_PICSTRUCT_PROGRESSIVE, 176, 144, 256, FP_FMT_YUV420P },
    { MFX_FOURCC_I420, 33, 17, MFX_PICSTRUCT_FIELD_BFF, 48, 32, 128, FP_FMT_YUV420P },
    { MFX_FOURCC_P010, 1920, 1080, MFX_PICSTRUCT_PROGRESSIVE, 1920, 1088, 3840, FP_FMT_P010 },
    { MFX_FOURCC_P010, 100, 50, MFX_PICSTRUCT_PROGRESSIVE, 112, 64, 256, FP_FMT_P010 },
    { MFX_FOURCC_YUY2, 1920, 1080, MFX_PICSTRUCT_PROGRESSIVE, 1920, 1088, 3840, FP_FMT_YUYV422 },
    { MFX_FOURCC_YUY2, 33, 17, MFX_PICSTRUCT_PROGRESSIVE, 48, 32, 128, FP_FMT_YUYV422 },
    { MFX_FOURCC_RGB4, 1920, 1080, MFX_PICSTRUCT_PROGRESSIVE, 1920, 1088, 7680, FP_FMT_BGRA },
    { MFX_FOURCC_RGB4, 17000, 16, MFX_PICSTRUCT_PROGRESSIVE, 17008, 16, 68032, FP_FMT_BGRA },
};
#define LAYOUTS ((int)(sizeof(layouts) / sizeof(layouts[0])))

static bool inside(const uint8_t *p, size_t n, const fp_frame *f)
{
    return p >= f->data[0] && p + n <= f->data[0] + f->size;
}

START_TEST(test_layout)
{
    const layout_case *c = &layouts[_i];
    test_log_reset(&logbuf);
    mfxFrameInfo info = make_info(c->fourcc, c->w, c->h, c->picstruct);
    info.CropX = 0;
    info.CropY = 0;
    info.AspectRatioW = 1;
    info.AspectRatioH = 1;
    fp_pool_config cfg = vpl_config(2, 0);
    ck_assert_int_eq(fp_vpl_pool_create(&pool, &info, &cfg), 0);
    mfxFrameSurface1 *s = acquire_ok(pool, 0);

    /* Info: rounded Width/Height, everything else as given. */
    mfxFrameInfo want = info;
    want.Width = (mfxU16)c->want_w;
    want.Height = (mfxU16)c->want_h;
    ck_assert_msg(memcmp(&s->Info, &want, sizeof(want)) == 0, "Info differs from the given one");
    ck_assert_uint_eq(s->Info.CropW, (unsigned)c->w);
    ck_assert_uint_eq(s->Info.CropH, (unsigned)c->h);
    ck_assert_uint_eq(s->Info.Width % 16, 0);
    ck_assert_uint_eq(s->Info.Height % (c->picstruct == MFX_PICSTRUCT_PROGRESSIVE ? 16 : 32), 0);

    size_t pitch = pitch_of(s);
    ck_assert_uint_eq(pitch, c->want_pitch);
    ck_assert_uint_eq(s->Data.Pitch, s->Data.PitchLow);
    ck_assert_uint_eq(pitch % 64, 0);
    size_t H = s->Info.Height;

    fp_frame *f = fp_vpl_surface_frame(s);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->format, c->want_format);
    ck_assert_int_eq(f->width, c->want_w);
    ck_assert_int_eq(f->height, c->want_h);
    ck_assert_int_eq(f->linesize[0], (int)pitch);

    switch (c->fourcc) {
    case MFX_FOURCC_NV12:
    case MFX_FOURCC_P010:
        ck_assert_ptr_eq(s->Data.Y, f->data[0]);
        ck_assert_ptr_eq(s->Data.UV, s->Data.Y + pitch * H);
        ck_assert_ptr_eq(s->Data.V, s->Data.UV + (c->fourcc == MFX_FOURCC_NV12 ? 1 : 2));
        ck_assert_ptr_eq(s->Data.UV, f->data[1]);
        ck_assert_int_eq(f->linesize[1], (int)pitch);
        ck_assert_uint_eq((uintptr_t)s->Data.UV % 64, 0);
        ck_assert(inside(s->Data.UV, pitch * H / 2, f));
        memset(s->Data.UV, 0x80, pitch * H / 2);
        break;
    case MFX_FOURCC_I420:
        ck_assert_uint_eq((pitch / 2) % 64, 0);
        ck_assert_ptr_eq(s->Data.Y, f->data[0]);
        ck_assert_ptr_eq(s->Data.U, s->Data.Y + pitch * H);
        ck_assert_ptr_eq(s->Data.V, s->Data.U + (pitch / 2) * (H / 2));
        ck_assert_ptr_eq(s->Data.U, f->data[1]);
        ck_assert_ptr_eq(s->Data.V, f->data[2]);
        ck_assert_int_eq(f->linesize[1], (int)(pitch / 2));
        ck_assert_int_eq(f->linesize[2], (int)(pitch / 2));
        ck_assert_uint_eq((uintptr_t)s->Data.U % 64, 0);
        ck_assert_uint_eq((uintptr_t)s->Data.V % 64, 0);
        ck_assert(inside(s->Data.V, (pitch / 2) * (H / 2), f));
        memset(s->Data.U, 0x80, (pitch / 2) * (H / 2));
        memset(s->Data.V, 0x80, (pitch / 2) * (H / 2));
        break;
    case MFX_FOURCC_YUY2:
        ck_assert_ptr_eq(s->Data.Y, f->data[0]);
        ck_assert_ptr_eq(s->Data.U, s->Data.Y + 1);
        ck_assert_ptr_eq(s->Data.V, s->Data.Y + 3);
        ck_assert_uint_ge(pitch, (size_t)c->want_w * 2);
        break;
    case MFX_FOURCC_RGB4:
        ck_assert_ptr_eq(s->Data.B, f->data[0]);
        ck_assert_ptr_eq(s->Data.G, s->Data.B + 1);
        ck_assert_ptr_eq(s->Data.R, s->Data.B + 2);
        ck_assert_ptr_eq(s->Data.A, s->Data.B + 3);
        ck_assert_uint_ge(pitch, (size_t)c->want_w * 4);
        if (pitch > 0xFFFF)
            ck_assert_uint_eq(s->Data.PitchHigh, pitch >> 16);
        break;
    }
    /* The base plane: 64-aligned, pitch * Height bytes, all writable. */
    uint8_t *base = f->data[0];
    ck_assert_uint_eq((uintptr_t)base % 64, 0);
    ck_assert(inside(base, pitch * H, f));
    memset(base, 0x10, pitch * H);
    ck_assert_int_eq(fp_vpl_release(&s), 0);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Acquired surfaces                                                         */

static void check_fresh(mfxFrameSurface1 *s, const mfxFrameInfo *info)
{
    ck_assert_uint_eq(s->Version.Major, 1);
    ck_assert_uint_eq(s->Version.Minor, 1);
    ck_assert_ptr_nonnull(s->FrameInterface);
    ck_assert_uint_eq(s->FrameInterface->Version.Version, MFX_FRAMESURFACEINTERFACE_VERSION);
    ck_assert_ptr_nonnull(s->FrameInterface->Context);
    ck_assert_uint_eq(refcount_of(s), 1);
    ck_assert_uint_eq(locked_of(s), 0);
    ck_assert_ptr_null(s->Data.MemId);
    ck_assert_ptr_null(s->Data.ExtParam);
    ck_assert_uint_eq(s->Data.NumExtParam, 0);
    ck_assert(s->Data.TimeStamp == (mfxU64)MFX_TIMESTAMP_UNKNOWN);
    ck_assert(s->Data.FrameOrder == (mfxU32)MFX_FRAMEORDER_UNKNOWN);
    ck_assert_uint_eq(s->Data.Corrupted, 0);
    ck_assert_uint_eq(s->Data.DataFlag, 0);
    ck_assert(s->Data.MemType & MFX_MEMTYPE_SYSTEM_MEMORY);
    ck_assert_ptr_nonnull(s->Data.Y);
    ck_assert_ptr_nonnull(s->Data.UV);
    ck_assert_ptr_eq(s->Data.V, s->Data.UV + 1);
    ck_assert(memcmp(&s->Info, info, sizeof(*info)) == 0);
    /* Not mapped: a write map succeeds at once. */
    ck_assert_int_eq(s->FrameInterface->Map(s, MFX_MAP_WRITE), MFX_ERR_NONE);
    ck_assert_int_eq(s->FrameInterface->Unmap(s), MFX_ERR_NONE);
}

START_TEST(test_acquire_state_and_reset)
{
    pool = make_pool(MFX_FOURCC_NV12, 352, 288, 1, 0);
    mfxFrameInfo info;
    ck_assert_int_eq(fp_vpl_pool_frame_info(pool, &info), 0);
    mfxFrameSurface1 *s = acquire_ok(pool, 0);
    check_fresh(s, &info);
    mfxFrameSurface1 *first = s;
    uint8_t *y = s->Data.Y;

    /* Scribble on everything a runtime or the app may change. */
    s->Data.TimeStamp = 1234;
    s->Data.FrameOrder = 7;
    s->Data.Corrupted = MFX_CORRUPTION_MAJOR;
    s->Data.DataFlag = MFX_FRAMEDATA_ORIGINAL_TIMESTAMP;
    s->Data.MemId = (mfxMemId)(uintptr_t)0x1000;
    s->Data.Y = NULL;
    s->Data.UV = NULL;
    s->Info.PicStruct = MFX_PICSTRUCT_FIELD_TFF;
    s->Info.CropW = 16;
    ck_assert_int_eq(s->FrameInterface->Map(s, MFX_MAP_READ), MFX_ERR_NONE); /* left mapped */
    ck_assert_int_eq(fp_vpl_release(&s), 0);

    s = acquire_ok(pool, 0); /* one slot: the same surface comes back */
    ck_assert_ptr_eq(s, first);
    check_fresh(s, &info);
    ck_assert_ptr_eq(s->Data.Y, y);
    ck_assert_int_eq(fp_vpl_release(&s), 0);
}
END_TEST

START_TEST(test_zero_flag)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 1, FP_POOL_ZERO);
    mfxFrameSurface1 *s = acquire_ok(pool, 0);
    memset(s->Data.Y, 0xEE, 64 * 64);
    fp_vpl_release(&s);
    s = acquire_ok(pool, 0);
    for (int i = 0; i < 64 * 64; i++)
        ck_assert_uint_eq(s->Data.Y[i], 0);
    fp_vpl_release(&s);
}
END_TEST

typedef struct live_seen {
    int n;
    const char *file;
    int line;
    char tag[32];
    int refcount;
} live_seen;

static int collect_live(const fp_live_frame *live, void *ud)
{
    live_seen *ls = ud;
    ls->n++;
    ls->file = live->file;
    ls->line = live->line;
    snprintf(ls->tag, sizeof(ls->tag), "%s", live->tag);
    ls->refcount = live->refcount;
    return 0;
}

START_TEST(test_surface_frame_tracking)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 2, 0);
    mfxFrameSurface1 *s = NULL;
    int line = __LINE__ + 1;
    ck_assert_int_eq(fp_vpl_acquire(pool, 0, &s), 0);
    fp_frame *f = fp_vpl_surface_frame(s);
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_eq(fp_vpl_frame_surface(f), s);
    fp_frame_set_tag(f, "stream-7");
    ck_assert_int_eq(s->FrameInterface->AddRef(s), MFX_ERR_NONE);
    ck_assert_int_eq(fp_frame_refcount(f), 2);

    live_seen ls;
    memset(&ls, 0, sizeof(ls));
    ck_assert_int_eq(fp_pool_foreach_live(pool, collect_live, &ls), 0);
    ck_assert_int_eq(ls.n, 1);
    ck_assert_str_eq(ls.file, __FILE__);
    ck_assert_int_eq(ls.line, line);
    ck_assert_str_eq(ls.tag, "stream-7");
    ck_assert_int_eq(ls.refcount, 2);

    /* The core refcount is the surface refcount, both ways. */
    ck_assert_ptr_eq(fp_frame_ref(f), f);
    ck_assert_uint_eq(refcount_of(s), 3);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    ck_assert_int_eq(s->FrameInterface->Release(s), MFX_ERR_NONE);
    ck_assert_uint_eq(refcount_of(s), 1);
    f = fp_vpl_surface_frame(s);
    ck_assert_int_eq(fp_frame_unref(&f), 0);

    /* The _at forms record the site they are given; a double release through
     * fp_vpl_release_at names it. */
    static const char wfile[] = "wrapper.c", wfunc[] = "wrap";
    ck_assert_int_eq(fp_vpl_acquire_at(pool, 0, &s, wfile, 21, wfunc), 0);
    memset(&ls, 0, sizeof(ls));
    ck_assert_int_eq(fp_pool_foreach_live(pool, collect_live, &ls), 0);
    ck_assert_int_eq(ls.n, 1);
    ck_assert_str_eq(ls.file, wfile);
    ck_assert_int_eq(ls.line, 21);
    mfxFrameSurface1 *copy = s;
    ck_assert_int_eq(fp_vpl_release_at(&s, wfile, 22, wfunc), 0);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(fp_vpl_release_at(&copy, wfile, 23, wfunc), FP_ERR(EALREADY));
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.released, 2);
    ck_assert_uint_eq(st.misuse, 1);
    ck_assert(test_log_has(&logbuf, "at wrapper.c:23 in wrap(): acquired at wrapper.c:21 in wrap(), already "
                                    "released at wrapper.c:22 in wrap()"));

    ck_assert_ptr_null(fp_vpl_surface_frame(NULL));
    ck_assert_ptr_null(fp_vpl_frame_surface(NULL));
}
END_TEST

static void auto_scope(fp_pool *p, mfxFrameSurface1 **seen)
{
    FP_AUTO_SURFACE mfxFrameSurface1 *s = NULL;
    ck_assert_int_eq(fp_vpl_acquire(p, 0, &s), 0);
    *seen = s;
    ck_assert_uint_eq(stats_of(p).live, 1);
}

START_TEST(test_auto_surface)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 2, 0);
    mfxFrameSurface1 *seen = NULL;
    auto_scope(pool, &seen);
    ck_assert_ptr_nonnull(seen);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.released, 1);
    /* A surface stolen out of the variable is not released. */
    {
        FP_AUTO_SURFACE mfxFrameSurface1 *s = NULL;
        ck_assert_int_eq(fp_vpl_acquire(pool, 0, &s), 0);
        seen = s;
        s = NULL;
    }
    ck_assert_uint_eq(stats_of(pool).live, 1);
    ck_assert_int_eq(fp_vpl_release(&seen), 0);
    ck_assert_uint_eq(stats_of(pool).live, 0);
}
END_TEST

START_TEST(test_release_null_safe)
{
    mfxFrameSurface1 *s = NULL;
    ck_assert_int_eq(fp_vpl_release(NULL), 0);
    ck_assert_int_eq(fp_vpl_release(&s), 0);
    fp_vpl_surface_autorelease(NULL);
    fp_vpl_surface_autorelease(&s);
}
END_TEST

START_TEST(test_acquire_bad_args)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 2, 0);
    mfxFrameSurface1 *s = (mfxFrameSurface1 *)(uintptr_t)1;
    ck_assert_int_eq(fp_vpl_acquire(NULL, 0, &s), FP_ERR(EINVAL));
    ck_assert_ptr_null(s);
    ck_assert_int_eq(fp_vpl_acquire(pool, 0, NULL), FP_ERR(EINVAL));
    s = (mfxFrameSurface1 *)(uintptr_t)1;
    ck_assert_int_eq(fp_vpl_acquire(pool, -5, &s), FP_ERR(EINVAL));
    ck_assert_ptr_null(s);
    ck_assert_uint_eq(stats_of(pool).acquired, 0);
}
END_TEST

START_TEST(test_exhaustion_and_timeout)
{
    pool = make_pool(MFX_FOURCC_I420, 64, 64, 2, 0);
    mfxFrameSurface1 *a = acquire_ok(pool, 0), *b = acquire_ok(pool, 0), *c = NULL;
    ck_assert_ptr_ne(a, b);
    ck_assert_int_eq(fp_vpl_acquire(pool, 0, &c), FP_ERR(EAGAIN));
    ck_assert_ptr_null(c);
    uint64_t t0 = test_now_ns();
    ck_assert_int_eq(fp_vpl_acquire(pool, 20000, &c), FP_ERR(ETIMEDOUT));
    ck_assert_uint_ge(test_now_ns() - t0, 20000000u); /* it did wait (a lower bound) */
    ck_assert_ptr_null(c);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.exhausted, 1);
    ck_assert_uint_eq(st.timeouts, 1);
    ck_assert_uint_eq(st.live, 2);
    ck_assert_int_eq(b->FrameInterface->Release(b), MFX_ERR_NONE);
    c = acquire_ok(pool, 0);
    ck_assert_ptr_eq(c, b);
    fp_pool_close(pool);
    mfxFrameSurface1 *d = NULL;
    ck_assert_int_eq(fp_vpl_acquire(pool, 0, &d), FP_ERR(ESHUTDOWN));
    fp_vpl_release(&a);
    fp_vpl_release(&c);
    ck_assert_uint_eq(stats_of(pool).live, 0);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* FrameInterface                                                            */

START_TEST(test_addref_release)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 2, 0);
    mfxFrameSurface1 *s = acquire_ok(pool, 0);
    mfxFrameSurfaceInterface *fi = s->FrameInterface;
    ck_assert_int_eq(fi->AddRef(s), MFX_ERR_NONE);
    ck_assert_int_eq(fi->AddRef(s), MFX_ERR_NONE);
    ck_assert_uint_eq(refcount_of(s), 3);
    ck_assert_int_eq(fi->Release(s), MFX_ERR_NONE);
    ck_assert_int_eq(fi->Release(s), MFX_ERR_NONE);
    ck_assert_uint_eq(refcount_of(s), 1);
    ck_assert_uint_eq(stats_of(pool).live, 1);
    ck_assert_int_eq(fi->Release(s), MFX_ERR_NONE); /* the last one returns it */
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.released, 1);
    ck_assert_uint_eq(st.misuse, 0);
    ck_assert_uint_eq(refcount_of(s), 0);

    /* At zero: refused, counted, nothing changes. */
    test_log_reset(&logbuf);
    ck_assert_int_eq(fi->Release(s), MFX_ERR_UNDEFINED_BEHAVIOR);
    ck_assert(test_log_has(&logbuf, "double release"));
    ck_assert_int_eq(fi->AddRef(s), MFX_ERR_UNDEFINED_BEHAVIOR);
    ck_assert(test_log_has(&logbuf, "AddRef"));
    ck_assert_uint_eq(refcount_of(s), 0);
    st = stats_of(pool);
    ck_assert_uint_eq(st.misuse, 2);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, 1);
    ck_assert_uint_eq(st.released, 1);

    /* The pool is intact: both surfaces can be taken, once each. */
    mfxFrameSurface1 *a = acquire_ok(pool, 0), *b = acquire_ok(pool, 0), *c = NULL;
    ck_assert_ptr_ne(a, b);
    ck_assert_int_eq(fp_vpl_acquire(pool, 0, &c), FP_ERR(EAGAIN));
    ck_assert_uint_eq(refcount_of(a), 1);
    ck_assert_uint_eq(refcount_of(b), 1);
    fp_vpl_release(&a);
    fp_vpl_release(&b);
}
END_TEST

START_TEST(test_double_release_sites)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 2, 0);
    mfxFrameSurface1 *s = acquire_ok(pool, 0), *copy = s;
    ck_assert_int_eq(fp_vpl_release(&s), 0);
    ck_assert_ptr_null(s);
    test_log_reset(&logbuf);
    ck_assert_int_eq(fp_vpl_release(&copy), FP_ERR(EALREADY));
    ck_assert_ptr_null(copy);
    ck_assert(test_log_has(&logbuf, "double release"));
    ck_assert(test_log_has(&logbuf, "acquire_ok")); /* the acquire site's function */
    ck_assert(test_log_has(&logbuf, __FILE__));
    ck_assert_uint_eq(stats_of(pool).misuse, 1);
}
END_TEST

START_TEST(test_null_pointers)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 1, 0);
    mfxFrameSurface1 *s = acquire_ok(pool, 0);
    mfxFrameSurfaceInterface *fi = s->FrameInterface;
    mfxU32 c;
    mfxHDL h;
    mfxResourceType rt;
    mfxHandleType ht;
    mfxGUID guid;
    memset(&guid, 0, sizeof(guid));
    ck_assert_int_eq(fi->AddRef(NULL), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->Release(NULL), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->GetRefCounter(NULL, &c), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->GetRefCounter(s, NULL), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->Map(NULL, MFX_MAP_READ), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->Unmap(NULL), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->GetNativeHandle(NULL, &h, &rt), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->GetNativeHandle(s, NULL, &rt), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->GetNativeHandle(s, &h, NULL), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->GetDeviceHandle(NULL, &h, &ht), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->GetDeviceHandle(s, NULL, &ht), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->GetDeviceHandle(s, &h, NULL), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->Synchronize(NULL, 0), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->QueryInterface(NULL, guid, &h), MFX_ERR_NULL_PTR);
    ck_assert_int_eq(fi->QueryInterface(s, guid, NULL), MFX_ERR_NULL_PTR);
    /* Nothing changed. */
    ck_assert_uint_eq(refcount_of(s), 1);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.misuse, 0);
    ck_assert_uint_eq(st.live, 1);
    fp_vpl_release(&s);
}
END_TEST

START_TEST(test_system_memory_functions)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 1, 0);
    mfxFrameSurface1 *s = acquire_ok(pool, 0);
    mfxFrameSurfaceInterface *fi = s->FrameInterface;
    mfxHDL h = (mfxHDL)(uintptr_t)1;
    mfxResourceType rt = (mfxResourceType)99;
    ck_assert_int_eq(fi->GetNativeHandle(s, &h, &rt), MFX_ERR_UNSUPPORTED);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(rt, MFX_RESOURCE_SYSTEM_SURFACE);
    mfxHandleType ht = (mfxHandleType)99;
    h = (mfxHDL)(uintptr_t)1;
    ck_assert_int_eq(fi->GetDeviceHandle(s, &h, &ht), MFX_ERR_UNSUPPORTED);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(ht, 0);
    ck_assert_int_eq(fi->Synchronize(s, 0), MFX_ERR_NONE);
    ck_assert_int_eq(fi->Synchronize(s, 1000), MFX_ERR_NONE);
    mfxGUID guid;
    memset(&guid, 0xAB, sizeof(guid));
    h = (mfxHDL)(uintptr_t)1;
    ck_assert_int_eq(fi->QueryInterface(s, guid, &h), MFX_ERR_NOT_IMPLEMENTED);
    ck_assert_ptr_null(h);
    ck_assert_ptr_nonnull(fi->OnComplete);
    fi->OnComplete(MFX_ERR_NONE);
    ck_assert_uint_eq(refcount_of(s), 1);
    ck_assert_uint_eq(stats_of(pool).misuse, 0);
    fp_vpl_release(&s);
}
END_TEST

START_TEST(test_map_flags)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 1, 0);
    mfxFrameSurface1 *s = acquire_ok(pool, 0);
    mfxFrameSurfaceInterface *fi = s->FrameInterface;
    const mfxU32 good[] = { MFX_MAP_READ, MFX_MAP_WRITE, MFX_MAP_READ_WRITE, MFX_MAP_READ | MFX_MAP_NOWAIT,
                            MFX_MAP_WRITE | MFX_MAP_NOWAIT, MFX_MAP_READ_WRITE | MFX_MAP_NOWAIT };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(fi->Map(s, good[i]) == MFX_ERR_NONE, "Map(0x%x) failed", (unsigned)good[i]);
        ck_assert_int_eq(fi->Unmap(s), MFX_ERR_NONE);
    }
    const mfxU32 bad[] = { 0, MFX_MAP_NOWAIT, 0x4, 0x8, MFX_MAP_READ | 0x100, MFX_MAP_WRITE | 0x80000000u,
                           0xFFFFFFFFu };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(fi->Map(s, bad[i]) == MFX_ERR_UNSUPPORTED, "Map(0x%x) not refused", (unsigned)bad[i]);
    /* The refused maps left nothing mapped. */
    ck_assert_int_eq(fi->Unmap(s), MFX_ERR_UNSUPPORTED);
    fp_vpl_release(&s);
}
END_TEST

START_TEST(test_map_access_rules)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 1, 0);
    mfxFrameSurface1 *s = acquire_ok(pool, 0);
    mfxFrameSurfaceInterface *fi = s->FrameInterface;
    uint8_t *y = s->Data.Y, *uv = s->Data.UV;

    ck_assert_int_eq(fi->Unmap(s), MFX_ERR_UNSUPPORTED); /* not mapped */
    /* Shared read. */
    ck_assert_int_eq(fi->Map(s, MFX_MAP_READ), MFX_ERR_NONE);
    ck_assert_int_eq(fi->Map(s, MFX_MAP_READ), MFX_ERR_NONE);
    ck_assert_int_eq(fi->Map(s, MFX_MAP_WRITE), MFX_ERR_LOCK_MEMORY);
    ck_assert_int_eq(fi->Map(s, MFX_MAP_READ_WRITE), MFX_ERR_LOCK_MEMORY);
    ck_assert_int_eq(fi->Unmap(s), MFX_ERR_NONE);
    ck_assert_int_eq(fi->Map(s, MFX_MAP_WRITE), MFX_ERR_LOCK_MEMORY); /* one reader left */
    ck_assert_int_eq(fi->Unmap(s), MFX_ERR_NONE);
    ck_assert_int_eq(fi->Unmap(s), MFX_ERR_UNSUPPORTED);
    /* Exclusive write. */
    ck_assert_int_eq(fi->Map(s, MFX_MAP_WRITE), MFX_ERR_NONE);
    ck_assert_int_eq(fi->Map(s, MFX_MAP_WRITE), MFX_ERR_LOCK_MEMORY);
    ck_assert_int_eq(fi->Map(s, MFX_MAP_READ_WRITE), MFX_ERR_LOCK_MEMORY);
    ck_assert_int_eq(fi->Map(s, MFX_MAP_READ | MFX_MAP_NOWAIT), MFX_ERR_RESOURCE_MAPPED);
    ck_assert_int_eq(fi->Unmap(s), MFX_ERR_NONE);
    ck_assert_int_eq(fi->Unmap(s), MFX_ERR_UNSUPPORTED);
    /* Data.Locked > 0: read yes, write no. */
    lock_inc(s);
    ck_assert_int_eq(fi->Map(s, MFX_MAP_WRITE), MFX_ERR_LOCK_MEMORY);
    ck_assert_int_eq(fi->Map(s, MFX_MAP_READ_WRITE), MFX_ERR_LOCK_MEMORY);
    ck_assert_int_eq(fi->Map(s, MFX_MAP_READ), MFX_ERR_NONE);
    ck_assert_int_eq(fi->Unmap(s), MFX_ERR_NONE);
    lock_dec(s);
    ck_assert_int_eq(fi->Map(s, MFX_MAP_READ_WRITE), MFX_ERR_NONE);
    ck_assert_int_eq(fi->Unmap(s), MFX_ERR_NONE);
    /* Unmap never pulls the planes. */
    ck_assert_ptr_eq(s->Data.Y, y);
    ck_assert_ptr_eq(s->Data.UV, uv);
    memset(s->Data.Y, 1, 64 * 64);
    ck_assert_uint_eq(stats_of(pool).misuse, 0);
    fp_vpl_release(&s);
}
END_TEST

START_TEST(test_map_released_surface)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 1, 0);
    mfxFrameSurface1 *s = acquire_ok(pool, 0), *dead = s;
    mfxFrameSurfaceInterface *fi = s->FrameInterface;
    fp_vpl_release(&s);
    test_log_reset(&logbuf);
    ck_assert_int_eq(fi->Map(dead, MFX_MAP_READ), MFX_ERR_INVALID_HANDLE);
    ck_assert_int_eq(fi->Unmap(dead), MFX_ERR_INVALID_HANDLE);
    ck_assert(test_log_has(&logbuf, "reference count is 0"));
    mfxU32 c = 7;
    ck_assert_int_eq(fi->GetRefCounter(dead, &c), MFX_ERR_NONE);
    ck_assert_uint_eq(c, 0);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.misuse, 2);
    ck_assert_uint_eq(st.live, 0);
}
END_TEST

typedef struct reader_arg {
    mfxFrameSurface1 *s;
    _Atomic int started, done;
    mfxStatus map_st, unmap_st;
} reader_arg;

static void *reader_main(void *p)
{
    reader_arg *r = p;
    atomic_store(&r->started, 1);
    r->map_st = r->s->FrameInterface->Map(r->s, MFX_MAP_READ);
    atomic_store(&r->done, 1);
    r->unmap_st = r->s->FrameInterface->Unmap(r->s);
    return NULL;
}

START_TEST(test_map_read_waits_for_writer)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 1, 0);
    mfxFrameSurface1 *s = acquire_ok(pool, 0);
    ck_assert_int_eq(s->FrameInterface->Map(s, MFX_MAP_WRITE), MFX_ERR_NONE);
    reader_arg r = { .s = s };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, reader_main, &r), 0);
    while (!atomic_load(&r.started))
        test_sleep_us(100);
    test_sleep_us(20000);
    ck_assert_int_eq(atomic_load(&r.done), 0); /* still held off by the writer */
    ck_assert_int_eq(s->FrameInterface->Unmap(s), MFX_ERR_NONE);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(r.map_st, MFX_ERR_NONE);
    ck_assert_int_eq(r.unmap_st, MFX_ERR_NONE);
    ck_assert_int_eq(s->FrameInterface->Unmap(s), MFX_ERR_UNSUPPORTED);
    fp_vpl_release(&s);
}
END_TEST

typedef struct releaser_arg {
    mfxFrameSurface1 *s;
    mfxStatus st;
} releaser_arg;

static void *releaser_main(void *p)
{
    releaser_arg *r = p;
    r->st = r->s->FrameInterface->Release(r->s);
    return NULL;
}

START_TEST(test_release_from_other_thread)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 4, 0);
    for (int round = 0; round < 50; round++) {
        mfxFrameSurface1 *s = acquire_ok(pool, 0);
        memset(s->Data.Y, round, 64);
        releaser_arg r = { .s = s };
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, releaser_main, &r), 0);
        ck_assert_int_eq(pthread_join(th, NULL), 0);
        ck_assert_int_eq(r.st, MFX_ERR_NONE);
    }
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, 50);
    ck_assert_uint_eq(st.released, 50);
    ck_assert_uint_eq(st.misuse, 0);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Misuse                                                                    */

static mfxStatus MFX_CDECL fake_add_ref(mfxFrameSurface1 *s)
{
    (void)s;
    return MFX_ERR_NONE;
}

START_TEST(test_foreign_surfaces)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 2, 0);
    mfxFrameSurface1 *real = acquire_ok(pool, 0);
    mfxFrameSurfaceInterface *fi = real->FrameInterface;
    uint64_t global0 = fp_misuse_count();

    /* A stack surface without a FrameInterface. */
    mfxFrameSurface1 legacy;
    memset(&legacy, 0, sizeof(legacy));
    mfxFrameSurface1 *p = &legacy;
    ck_assert_ptr_null(fp_vpl_surface_frame(p));
    ck_assert_int_eq(fp_vpl_release(&p), FP_ERR(EINVAL));
    ck_assert_ptr_null(p);
    ck_assert_int_eq(fi->AddRef(&legacy), MFX_ERR_INVALID_HANDLE);
    ck_assert_int_eq(fi->Release(&legacy), MFX_ERR_INVALID_HANDLE);

    /* A stack surface with a fake FrameInterface (a runtime's or a test's). */
    mfxFrameSurfaceInterface fake;
    memset(&fake, 0, sizeof(fake));
    fake.AddRef = fake_add_ref;
    mfxFrameSurface1 other;
    memset(&other, 0, sizeof(other));
    other.FrameInterface = &fake;
    p = &other;
    ck_assert_ptr_null(fp_vpl_surface_frame(p));
    ck_assert_int_eq(fp_vpl_release(&p), FP_ERR(EINVAL));
    mfxU32 c;
    ck_assert_int_eq(fi->GetRefCounter(&other, &c), MFX_ERR_INVALID_HANDLE);
    ck_assert_int_eq(fi->Map(&other, MFX_MAP_READ), MFX_ERR_INVALID_HANDLE);
    ck_assert_int_eq(fi->Synchronize(&other, 0), MFX_ERR_INVALID_HANDLE);
    /* Self-referencing: passes the pointer check, not the key behind it. */
    struct {
        mfxFrameSurfaceInterface fi;
        uintptr_t after[8];
    } selfref;
    memset(&selfref, 0, sizeof(selfref));
    selfref.fi.Context = &selfref.fi;
    other.FrameInterface = &selfref.fi;
    ck_assert_int_eq(fi->Release(&other), MFX_ERR_INVALID_HANDLE);
    fake.Context = fi->Context; /* our context, another interface */
    other.FrameInterface = &fake;
    ck_assert_int_eq(fi->Unmap(&other), MFX_ERR_INVALID_HANDLE);
    uint64_t global_now = fp_misuse_count();
    ck_assert_uint_eq(global_now - global0, 9);

    /* A copy of a pool surface: names the pool, is not one of its slots. */
    mfxFrameSurface1 copy = *real;
    p = &copy;
    ck_assert_ptr_null(fp_vpl_surface_frame(p));
    test_log_reset(&logbuf);
    ck_assert_int_eq(fi->AddRef(&copy), MFX_ERR_INVALID_HANDLE);
    ck_assert_int_eq(fi->Release(&copy), MFX_ERR_INVALID_HANDLE);
    ck_assert_int_eq(fp_vpl_release(&p), FP_ERR(EINVAL));
    ck_assert(test_log_has(&logbuf, "copy of a pool surface"));
    ck_assert_uint_eq(fp_misuse_count(), global_now);

    /* Harmless: the real surface and the books are untouched. */
    ck_assert_uint_eq(refcount_of(real), 1);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.misuse, 3);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_uint_eq(st.acquired, 1);
    ck_assert_uint_eq(st.released, 0);
    fp_vpl_release(&real);
    ck_assert_uint_eq(stats_of(pool).live, 0);
}
END_TEST

/* Issue 12: a FrameInterface that is garbage, or points at someone else's
 * small object, is refused before anything is read through it (SIGSEGV on
 * fi->Context before, and a heap overflow under ASan). */
START_TEST(test_garbage_frame_interface)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 2, 0);
    mfxFrameSurface1 *real = acquire_ok(pool, 0);
    mfxFrameSurfaceInterface *fi = real->FrameInterface;
    uint64_t global0 = fp_misuse_count();
    int expect = 0;

    mfxFrameSurface1 junk;
    memset(&junk, 0x41, sizeof(junk)); /* FrameInterface = 0x4141414141414141 */
    void *small = malloc(16);          /* a FrameInterface at a 16-byte heap object */
    ck_assert_ptr_nonnull(small);
    memset(small, 0x41, 16);
    uint64_t word = 0x4141414141414141ull; /* ... and at an 8-byte stack object */
    void *targets[] = { NULL, small, &word, (void *)(uintptr_t)0x4141414141414141ull, (void *)(uintptr_t)8,
                        real };        /* the surface itself, inside the region */
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        if (targets[i])
            junk.FrameInterface = targets[i];
        mfxFrameSurface1 *p = &junk;
        ck_assert_ptr_null(fp_vpl_surface_frame(p));
        ck_assert_int_eq(fp_vpl_release(&p), FP_ERR(EINVAL));
        ck_assert_ptr_null(p);
        mfxU32 c = 7;
        mfxHDL h;
        mfxResourceType rt;
        mfxHandleType ht;
        ck_assert_int_eq(fi->AddRef(&junk), MFX_ERR_INVALID_HANDLE);
        ck_assert_int_eq(fi->Release(&junk), MFX_ERR_INVALID_HANDLE);
        ck_assert_int_eq(fi->GetRefCounter(&junk, &c), MFX_ERR_INVALID_HANDLE);
        ck_assert_int_eq(fi->Map(&junk, MFX_MAP_READ), MFX_ERR_INVALID_HANDLE);
        ck_assert_int_eq(fi->Unmap(&junk), MFX_ERR_INVALID_HANDLE);
        ck_assert_int_eq(fi->GetNativeHandle(&junk, &h, &rt), MFX_ERR_INVALID_HANDLE);
        ck_assert_int_eq(fi->GetDeviceHandle(&junk, &h, &ht), MFX_ERR_INVALID_HANDLE);
        ck_assert_int_eq(fi->Synchronize(&junk, 0), MFX_ERR_INVALID_HANDLE);
        expect += 9; /* everything but fp_vpl_surface_frame counts */
        ck_assert_uint_eq(fp_misuse_count() - global0, (uint64_t)expect);
    }
    ck_assert(memcmp(small, (uint8_t[16]){ [0 ... 15] = 0x41 }, 16) == 0); /* never written */
    free(small);

    /* Pool arguments that are not pools: a small heap object, a frame. */
    void *notpool = calloc(1, 16);
    ck_assert_ptr_nonnull(notpool);
    mfxFrameSurface1 *got = (mfxFrameSurface1 *)(uintptr_t)1;
    ck_assert_int_eq(fp_vpl_acquire((fp_pool *)notpool, 0, &got), FP_ERR(EINVAL));
    ck_assert_ptr_null(got);
    got = (mfxFrameSurface1 *)(uintptr_t)1;
    ck_assert_int_eq(fp_vpl_acquire((fp_pool *)(void *)real, 0, &got), FP_ERR(EINVAL));
    ck_assert_ptr_null(got);
    mfxFrameInfo info;
    ck_assert_int_eq(fp_vpl_pool_frame_info((fp_pool *)notpool, &info), FP_ERR(EINVAL));
    ck_assert_uint_eq(fp_misuse_count() - global0, (uint64_t)expect + 3);
    free(notpool);

    /* The pool is untouched. */
    ck_assert_uint_eq(refcount_of(real), 1);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.misuse, 0);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_int_eq(fp_vpl_release(&real), 0);
}
END_TEST

START_TEST(test_surface_of_other_pool)
{
    /* A surface of pool B passed to pool A's interface is still B's: the
     * functions work on the surface, whichever pool's table was used. */
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 1, 0);
    fp_pool *other = make_pool(MFX_FOURCC_I420, 64, 64, 1, 0);
    mfxFrameSurface1 *a = acquire_ok(pool, 0), *b = acquire_ok(other, 0);
    ck_assert_int_eq(a->FrameInterface->AddRef(b), MFX_ERR_NONE);
    ck_assert_uint_eq(refcount_of(b), 2);
    ck_assert_uint_eq(refcount_of(a), 1);
    ck_assert_int_eq(a->FrameInterface->Release(b), MFX_ERR_NONE);
    fp_vpl_release(&b);
    fp_vpl_release(&a);
    ck_assert_uint_eq(stats_of(other).live, 0);
    ck_assert_uint_eq(stats_of(other).misuse, 0);
    ck_assert_uint_eq(stats_of(pool).live, 0);
    fp_pool_unref(&other);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* The reuse rule: refcount 0 AND Data.Locked 0                              */

/* A pool dropped while the runtime still has a surface locked keeps that
 * memory; once the runtime unlocks it, the explicit maintenance step frees
 * the pool (it used to stay for the process's life: sweeps ran only inside
 * registry walks, which refused to free the pool they walked). */
START_TEST(test_dropped_pool_freed_after_unlock)
{
    fp_pool *p = make_pool(MFX_FOURCC_NV12, 64, 64, 4, 0);
    uint64_t id = fp_pool_id(p);
    mfxFrameSurface1 *a = acquire_ok(p, 0), *held = a;
    lock_inc(a);
    ck_assert_int_eq(fp_vpl_release(&a), 0);
    fp_pool_unref(&p);
    ck_assert(test_registry_has(id));
    ck_assert_int_eq(fp_registry_maintain(), 0); /* still locked: kept */
    ck_assert(test_registry_has(id));
    lock_dec(held);
    ck_assert_int_ge(fp_registry_maintain(), 1); /* returned, and the pool freed */
    ck_assert(!test_registry_has(id));
}
END_TEST

/* Generations: after fp_vpl_pool_reconfigure (an encoder reset to another
 * size), new surfaces carry the new Info; a surface of the old size that the
 * runtime still has locked stays valid and is freed once it is unlocked,
 * never handed out again. */
START_TEST(test_reconfigure_after_reset)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 4, 0);
    mfxFrameSurface1 *a = acquire_ok(pool, 0), *held = a, *b = acquire_ok(pool, 0);
    lock_inc(a);
    ck_assert_int_eq(fp_vpl_release(&a), 0); /* runtime-held */
    mfxFrameInfo big = make_info(MFX_FOURCC_NV12, 128, 96, MFX_PICSTRUCT_PROGRESSIVE);
    ck_assert_int_eq(fp_vpl_pool_reconfigure(pool, &big), 2);
    mfxFrameInfo now;
    ck_assert_int_eq(fp_vpl_pool_frame_info(pool, &now), 0);
    ck_assert_int_eq(now.Width, 128);
    ck_assert_int_eq(now.Height, 96);
    mfxFrameSurface1 *c = acquire_ok(pool, 0);
    ck_assert_int_eq(c->Info.Width, 128);
    ck_assert_int_eq(c->Info.Height, 96);
    ck_assert_uint_ge(pitch_of(c), 128);
    memset(c->Data.Y, 1, pitch_of(c) * 96);
    memset(c->Data.UV, 2, pitch_of(c) * 48);
    ck_assert_int_eq(held->Info.Width, 64); /* the old ones keep theirs */
    ck_assert_int_eq(b->Info.Width, 64);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.generation, 2);
    ck_assert_uint_eq(st.old_generation_live, 2);
    ck_assert_uint_eq(st.held_by_runtime, 1);
    ck_assert_int_eq(fp_vpl_release(&b), 0);
    st = stats_of(pool);
    ck_assert_uint_eq(st.old_generation_live, 1);
    ck_assert_uint_eq(st.allocated, 2);
    lock_dec(held);
    ck_assert_int_ge(fp_pool_maintain(pool), 1);
    st = stats_of(pool);
    ck_assert_uint_eq(st.old_generation_live, 0);
    ck_assert_uint_eq(st.old_generation_bytes, 0);
    ck_assert_uint_eq(st.allocated, 1);
    /* Every surface handed out now is the new size. */
    mfxFrameSurface1 *s[3];
    for (int i = 0; i < 3; i++) {
        s[i] = acquire_ok(pool, 0);
        ck_assert_int_eq(s[i]->Info.Width, 128);
    }
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fp_vpl_release(&s[i]), 0);
    ck_assert_int_eq(fp_vpl_release(&c), 0);
    /* Refusals: a core config, a bad FourCC, NULL. */
    fp_pool_config cfg = vpl_config(4, 0);
    ck_assert_int_eq(fp_pool_reconfigure(pool, &cfg), FP_ERR(EINVAL));
    mfxFrameInfo bad = make_info(MFX_FOURCC_NV12, 128, 96, MFX_PICSTRUCT_PROGRESSIVE);
    bad.FourCC = MFX_MAKEFOURCC('X', 'X', 'X', 'X');
    ck_assert_int_eq(fp_vpl_pool_reconfigure(pool, &bad), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_vpl_pool_reconfigure(pool, NULL), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_vpl_pool_reconfigure(NULL, &big), FP_ERR(EINVAL));
    ck_assert_int_eq(fp_vpl_pool_reconfigure(pool, &big), 2); /* same: no new generation */
    ck_assert_uint_eq(stats_of(pool).generation, 2);
}
END_TEST

START_TEST(test_locked_defers_release)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 4, 0);
    mfxFrameSurface1 *a = acquire_ok(pool, 0), *held = a;
    lock_inc(a);
    ck_assert_int_eq(fp_vpl_release(&a), 0);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_uint_eq(st.held_by_runtime, 1);
    ck_assert_uint_eq(st.released, 0);
    ck_assert_uint_eq(refcount_of(held), 0);

    /* Acquires never hand it out while Locked > 0. */
    mfxFrameSurface1 *s[3];
    for (int i = 0; i < 3; i++) {
        s[i] = acquire_ok(pool, 0);
        ck_assert_ptr_ne(s[i], held);
    }
    mfxFrameSurface1 *none = NULL;
    ck_assert_int_eq(fp_vpl_acquire(pool, 0, &none), FP_ERR(EAGAIN));
    ck_assert_int_eq(fp_vpl_acquire(pool, 10000, &none), FP_ERR(ETIMEDOUT));
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 4);
    ck_assert_uint_eq(st.held_by_runtime, 1);
    for (int i = 0; i < 3; i++)
        fp_vpl_release(&s[i]);
    for (int round = 0; round < 20; round++) {
        mfxFrameSurface1 *t = acquire_ok(pool, 0);
        ck_assert_ptr_ne(t, held);
        fp_vpl_release(&t);
    }
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_uint_eq(st.held_by_runtime, 1);
    ck_assert_uint_eq(locked_of(held), 1);

    /* The runtime lets go; a stats query reclaims it. */
    lock_dec(held);
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.held_by_runtime, 0);
    ck_assert_uint_eq(st.acquired, st.released);
    ck_assert_uint_eq(st.misuse, 0);
}
END_TEST

START_TEST(test_locked_reclaimed_by_acquire)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 1, 0);
    mfxFrameSurface1 *a = acquire_ok(pool, 0), *held = a, *b = NULL;
    lock_inc(a);
    lock_inc(a); /* two holders */
    fp_vpl_release(&a);
    ck_assert_int_eq(fp_vpl_acquire(pool, 0, &b), FP_ERR(EAGAIN));
    lock_dec(held);
    ck_assert_int_eq(fp_vpl_acquire(pool, 0, &b), FP_ERR(EAGAIN));
    lock_dec(held);
    /* No stats call in between: the acquire on the empty free list sweeps. */
    b = acquire_ok(pool, 0);
    ck_assert_ptr_eq(b, held);
    ck_assert_uint_eq(refcount_of(b), 1);
    ck_assert_uint_eq(locked_of(b), 0);
    fp_vpl_release(&b);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.acquired, 2);
    ck_assert_uint_eq(st.released, 2);
    ck_assert_uint_eq(st.exhausted, 2);
    ck_assert_uint_eq(st.held_by_runtime, 0);
}
END_TEST

START_TEST(test_locked_free_list_first)
{
    /* Deferred surfaces are reclaimed when the free list runs dry, not
     * scanned on every acquire: free surfaces go first. */
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 2, 0);
    mfxFrameSurface1 *a = acquire_ok(pool, 0), *b = acquire_ok(pool, 0), *held = a, *free_one = b;
    lock_inc(a);
    fp_vpl_release(&a);
    fp_vpl_release(&b);
    lock_dec(held);
    mfxFrameSurface1 *x = acquire_ok(pool, 0);
    ck_assert_ptr_eq(x, free_one);
    mfxFrameSurface1 *y = acquire_ok(pool, 0);
    ck_assert_ptr_eq(y, held);
    fp_vpl_release(&x);
    fp_vpl_release(&y);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.acquired, 4);
    ck_assert_uint_eq(st.released, 4);
}
END_TEST

START_TEST(test_locked_with_runtime_reference)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 2, 0);
    /* The documented order: AddRef, Locked++ ... Locked--, Release. The app's
     * release never defers: the runtime's reference keeps the surface. */
    mfxFrameSurface1 *s = acquire_ok(pool, 0), *rt = s;
    ck_assert_int_eq(rt->FrameInterface->AddRef(rt), MFX_ERR_NONE);
    lock_inc(rt);
    fp_vpl_release(&s);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_uint_eq(st.held_by_runtime, 0);
    lock_dec(rt);
    ck_assert_int_eq(rt->FrameInterface->Release(rt), MFX_ERR_NONE);
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.held_by_runtime, 0);

    /* The other order (Release before Locked--) with the app last: deferred
     * until Locked drops. */
    s = acquire_ok(pool, 0);
    rt = s;
    ck_assert_int_eq(rt->FrameInterface->AddRef(rt), MFX_ERR_NONE);
    lock_inc(rt);
    ck_assert_int_eq(rt->FrameInterface->Release(rt), MFX_ERR_NONE);
    fp_vpl_release(&s);
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_uint_eq(st.held_by_runtime, 1);
    lock_dec(rt);
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.held_by_runtime, 0);
    ck_assert_uint_eq(st.misuse, 0);
}
END_TEST

typedef struct waiter_arg {
    fp_pool *pool;
    int64_t timeout_us;
    int ret;
    mfxFrameSurface1 *got;
    mfxU16 locked_seen;
} waiter_arg;

static void *waiter_main(void *p)
{
    waiter_arg *w = p;
    w->ret = fp_vpl_acquire(w->pool, w->timeout_us, &w->got);
    if (w->ret == 0)
        w->locked_seen = locked_of(w->got);
    return NULL;
}

typedef struct unlocker_arg {
    mfxFrameSurface1 *s;
    _Atomic int go;
} unlocker_arg;

/* A runtime thread: lowers Locked when done, calling nothing. */
static void *unlocker_main(void *p)
{
    unlocker_arg *u = p;
    while (!atomic_load(&u->go))
        test_sleep_us(200);
    lock_dec(u->s);
    return NULL;
}

static void wait_for_waits(fp_pool *p, uint64_t n)
{
    uint64_t t0 = test_now_ns();
    for (;;) {
        fp_pool_stats st = stats_of(p);
        if (st.waits >= n)
            return;
        ck_assert_msg(test_now_ns() - t0 < guard_ns(), "the waiter never blocked");
        test_sleep_us(500);
    }
}

START_TEST(test_waiter_forever_gets_unlocked_surface)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 1, 0);
    mfxFrameSurface1 *a = acquire_ok(pool, 0), *held = a;
    lock_inc(a);
    fp_vpl_release(&a);

    unlocker_arg u = { .s = held };
    pthread_t ut, wt;
    ck_assert_int_eq(pthread_create(&ut, NULL, unlocker_main, &u), 0);
    waiter_arg w = { .pool = pool, .timeout_us = FP_WAIT_FOREVER };
    ck_assert_int_eq(pthread_create(&wt, NULL, waiter_main, &w), 0);
    wait_for_waits(pool, 1);
    ck_assert_uint_eq(stats_of(pool).held_by_runtime, 1);
    atomic_store(&u.go, 1); /* the runtime lowers Locked; nobody releases anything */
    ck_assert_int_eq(pthread_join(ut, NULL), 0);
    ck_assert_int_eq(pthread_join(wt, NULL), 0);
    ck_assert_int_eq(w.ret, 0);
    ck_assert_ptr_eq(w.got, held);
    ck_assert_uint_eq(w.locked_seen, 0);
    ck_assert_uint_eq(refcount_of(w.got), 1);
    fp_vpl_release(&w.got);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.waits, 1);
    ck_assert_uint_eq(st.acquired, 2);
    ck_assert_uint_eq(st.released, 2);
}
END_TEST

START_TEST(test_waiter_times_out_while_locked)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 1, 0);
    mfxFrameSurface1 *a = acquire_ok(pool, 0), *held = a;
    lock_inc(a);
    fp_vpl_release(&a);
    waiter_arg w = { .pool = pool, .timeout_us = 30000 };
    pthread_t wt;
    ck_assert_int_eq(pthread_create(&wt, NULL, waiter_main, &w), 0);
    ck_assert_int_eq(pthread_join(wt, NULL), 0);
    ck_assert_int_eq(w.ret, FP_ERR(ETIMEDOUT));
    ck_assert_ptr_null(w.got);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.timeouts, 1);
    ck_assert_uint_eq(st.held_by_runtime, 1);
    lock_dec(held);
    ck_assert_uint_eq(stats_of(pool).live, 0);
}
END_TEST

START_TEST(test_close_wakes_waiter_while_locked)
{
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 1, 0);
    mfxFrameSurface1 *a = acquire_ok(pool, 0), *held = a;
    lock_inc(a);
    fp_vpl_release(&a);
    waiter_arg w = { .pool = pool, .timeout_us = FP_WAIT_FOREVER };
    pthread_t wt;
    ck_assert_int_eq(pthread_create(&wt, NULL, waiter_main, &w), 0);
    wait_for_waits(pool, 1);
    fp_pool_close(pool);
    ck_assert_int_eq(pthread_join(wt, NULL), 0);
    ck_assert_int_eq(w.ret, FP_ERR(ESHUTDOWN));
    lock_dec(held);
    ck_assert_uint_eq(stats_of(pool).live, 0);
}
END_TEST

START_TEST(test_dropped_pool_keeps_locked_memory)
{
    /* The app drops the pool while a runtime still reads a surface: the
     * memory stays (reported as a leak), it is not freed under the runtime. */
    fp_pool *p = make_pool(MFX_FOURCC_NV12, 64, 64, 2, 0);
    mfxFrameSurface1 *a = acquire_ok(p, 0), *held = a;
    lock_inc(a);
    fp_vpl_release(&a);
    test_log_reset(&logbuf);
    fp_pool_unref(&p);
    ck_assert(test_log_has(&logbuf, "last application reference dropped"));
    /* Still the runtime's to read (ASan/valgrind would flag freed memory). */
    volatile uint8_t sum = 0;
    for (int i = 0; i < 64 * 64; i++)
        sum = (uint8_t)(sum + held->Data.Y[i]);
    (void)sum;
    ck_assert_uint_eq(locked_of(held), 1);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Runtime test doubles                                                      */

/* Which surfaces the double's runtime holds, to check the pool never hands
 * out a surface still in use. The runtime drops its mark before it tells the
 * pool (Locked--, Release), so a mark seen at acquire is a real double use. */
#define MAX_TRACKED 64

typedef struct holds {
    mfxFrameSurface1 *surf[MAX_TRACKED];
    _Atomic int rt[MAX_TRACKED];
    int n;
    pthread_mutex_t mu;
} holds;

static int hold_index(holds *h, mfxFrameSurface1 *s)
{
    pthread_mutex_lock(&h->mu);
    int i = 0;
    while (i < h->n && h->surf[i] != s)
        i++;
    if (i == h->n && h->n < MAX_TRACKED)
        h->surf[h->n++] = s;
    pthread_mutex_unlock(&h->mu);
    return i < MAX_TRACKED ? i : -1;
}

/* The encoder double: a queue of submitted surfaces and a worker thread that
 * completes the oldest once more than `depth` are in flight (or on drain). */
enum rt_kind { RT_GPU, RT_LEGACY };

typedef struct fake_encoder {
    enum rt_kind kind;
    int depth;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mfxFrameSurface1 *q[MAX_TRACKED];
    int head, n;
    bool draining;
    bool stepped;    /* complete only on complete_one() */
    int step_budget; /* completions allowed in stepped mode */
    int completed;
    _Atomic int errors;
    holds *h;
    uint64_t checksum; /* of what the runtime read from the surfaces */
} fake_encoder;

static void *encoder_worker(void *p)
{
    fake_encoder *e = p;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!(e->n > 0 && (e->stepped ? e->step_budget > 0 : (e->n > e->depth || e->draining))) &&
               !(e->draining && e->n == 0))
            pthread_cond_wait(&e->cv, &e->mu);
        if (e->n == 0)
            break;
        mfxFrameSurface1 *s = e->q[e->head];
        e->head = (e->head + 1) % MAX_TRACKED;
        e->n--;
        if (e->stepped)
            e->step_budget--;
        pthread_mutex_unlock(&e->mu);

        /* "Encode": read the pixels while the surface is held. */
        uint64_t sum = 0;
        for (int i = 0; i < 64; i++)
            sum += s->Data.Y[i];
        int idx = hold_index(e->h, s);
        if (idx < 0 || atomic_fetch_sub(&e->h->rt[idx], 1) != 1)
            atomic_fetch_add(&e->errors, 1);
        lock_dec(s);
        if (e->kind == RT_GPU && s->FrameInterface->Release(s) != MFX_ERR_NONE)
            atomic_fetch_add(&e->errors, 1);

        pthread_mutex_lock(&e->mu);
        e->checksum += sum;
        e->completed++;
        pthread_cond_broadcast(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

static void encoder_start(fake_encoder *e, enum rt_kind kind, int depth, bool stepped, holds *h)
{
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->depth = depth;
    e->stepped = stepped;
    e->h = h;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    ck_assert_int_eq(pthread_create(&e->th, NULL, encoder_worker, e), 0);
}

/* EncodeFrameAsync as the runtime does it, on the app's thread. */
static void encoder_submit(fake_encoder *e, mfxFrameSurface1 *s)
{
    int idx = hold_index(e->h, s);
    ck_assert_int_ge(idx, 0);
    ck_assert_int_eq(atomic_fetch_add(&e->h->rt[idx], 1), 0);
    if (e->kind == RT_GPU)
        ck_assert_int_eq(s->FrameInterface->AddRef(s), MFX_ERR_NONE);
    lock_inc(s);
    pthread_mutex_lock(&e->mu);
    ck_assert_int_lt(e->n, MAX_TRACKED);
    e->q[(e->head + e->n) % MAX_TRACKED] = s;
    e->n++;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

/* Stepped mode: completes one surface on the worker and waits for it. */
static void encoder_complete_one(fake_encoder *e)
{
    pthread_mutex_lock(&e->mu);
    int target = e->completed + 1;
    e->step_budget++;
    pthread_cond_broadcast(&e->cv);
    while (e->completed < target)
        pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
}

static void encoder_drain(fake_encoder *e)
{
    pthread_mutex_lock(&e->mu);
    e->draining = true;
    e->step_budget = MAX_TRACKED;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    ck_assert_int_eq(pthread_join(e->th, NULL), 0);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
}

static void holds_init(holds *h)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->mu, NULL);
}

/* What the app checks on every surface it gets. */
static void check_handed_out(holds *h, mfxFrameSurface1 *s)
{
    int idx = hold_index(h, s);
    ck_assert_int_ge(idx, 0);
    ck_assert_msg(atomic_load(&h->rt[idx]) == 0, "surface %p handed out while the runtime holds it", (void *)s);
    ck_assert_uint_eq(locked_of(s), 0);
    ck_assert_uint_eq(refcount_of(s), 1);
}

static void run_async_double(enum rt_kind kind, int frames)
{
    const int depth = 4;
    mfxFrameAllocRequest req;
    memset(&req, 0, sizeof(req));
    req.NumFrameMin = (mfxU16)depth;
    req.NumFrameSuggested = (mfxU16)(depth + 1); /* what QueryIOSurf would say */
    int n = fp_vpl_frames_for_request(&req, 1);
    ck_assert_int_eq(n, depth + 2);
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, n, 0);

    holds h;
    holds_init(&h);
    fake_encoder e;
    encoder_start(&e, kind, depth, false, &h);
    uint64_t want_sum = 0;
    for (int i = 0; i < frames; i++) {
        mfxFrameSurface1 *s = acquire_ok(pool, guard_us());
        check_handed_out(&h, s);
        ck_assert_int_eq(s->FrameInterface->Map(s, MFX_MAP_WRITE), MFX_ERR_NONE);
        memset(s->Data.Y, i & 0xFF, 64);
        ck_assert_int_eq(s->FrameInterface->Unmap(s), MFX_ERR_NONE);
        want_sum += (uint64_t)(i & 0xFF) * 64;
        encoder_submit(&e, s);
        ck_assert_int_eq(fp_vpl_release(&s), 0); /* the app is done right after submitting */
        if (i % 8 == 0) {
            fp_pool_stats st = stats_of(pool);
            if (kind == RT_GPU)
                ck_assert_uint_eq(st.held_by_runtime, 0); /* its reference keeps them */
        }
    }
    encoder_drain(&e);
    ck_assert_int_eq(atomic_load(&e.errors), 0);
    ck_assert_int_eq(e.completed, frames);
    ck_assert_uint_eq(e.checksum, want_sum);
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.held_by_runtime, 0);
    ck_assert_uint_eq(st.acquired, (uint64_t)frames);
    ck_assert_uint_eq(st.released, (uint64_t)frames);
    ck_assert_uint_eq(st.misuse, 0);
    ck_assert_uint_le(st.peak_live, (uint32_t)n);
    pthread_mutex_destroy(&h.mu);
}

START_TEST(test_gpu_runtime_double)
{
    run_async_double(RT_GPU, 200);
}
END_TEST

START_TEST(test_legacy_runtime_double)
{
    run_async_double(RT_LEGACY, 200);
}
END_TEST

START_TEST(test_legacy_runtime_books)
{
    /* Stepped: the runtime completes only when told, so the books can be
     * checked exactly between steps. */
    pool = make_pool(MFX_FOURCC_NV12, 64, 64, 4, 0);
    holds h;
    holds_init(&h);
    fake_encoder e;
    encoder_start(&e, RT_LEGACY, 0, true, &h);
    mfxFrameSurface1 *sub[3];
    for (int i = 0; i < 3; i++) {
        mfxFrameSurface1 *s = acquire_ok(pool, 0);
        check_handed_out(&h, s);
        sub[i] = s;
        encoder_submit(&e, s);
        fp_vpl_release(&s);
        fp_pool_stats st = stats_of(pool);
        ck_assert_uint_eq(st.live, (uint32_t)i + 1);
        ck_assert_uint_eq(st.held_by_runtime, (uint32_t)i + 1);
        ck_assert_uint_eq(st.released, 0);
    }
    /* One free surface left, then none. */
    mfxFrameSurface1 *app = acquire_ok(pool, 0), *none = NULL;
    check_handed_out(&h, app);
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_ne(app, sub[i]);
    ck_assert_int_eq(fp_vpl_acquire(pool, 0, &none), FP_ERR(EAGAIN));
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.live, 4);
    ck_assert_uint_eq(st.held_by_runtime, 3);

    /* The runtime finishes the oldest (Locked-- on its thread, no call). */
    encoder_complete_one(&e);
    mfxFrameSurface1 *next = acquire_ok(pool, 0);
    ck_assert_ptr_eq(next, sub[0]);
    check_handed_out(&h, next);
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 4);
    ck_assert_uint_eq(st.held_by_runtime, 2);
    ck_assert_uint_eq(st.released, 1);
    fp_vpl_release(&next);
    fp_vpl_release(&app);
    encoder_complete_one(&e);
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_uint_eq(st.held_by_runtime, 1);
    encoder_drain(&e);
    ck_assert_int_eq(atomic_load(&e.errors), 0);
    st = stats_of(pool);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.held_by_runtime, 0);
    ck_assert_uint_eq(st.acquired, st.released);
    ck_assert_uint_eq(st.acquired, 5);
    pthread_mutex_destroy(&h.mu);
}
END_TEST

/* The CPU reference runtime's input path, all inside EncodeFrameAsync:
 * FrameInterface surfaces get Map(READ), AddRef, copy, Unmap, Release;
 * surfaces it treats as legacy (an API 1.x runtime treats them all so) get
 * Locked++ ... Locked--. `mid` runs while the runtime holds the surface. */
static mfxStatus cpu_encode_frame(mfxFrameSurface1 *s, uint8_t *out, size_t w, size_t h, bool legacy,
                                  void (*mid)(mfxFrameSurface1 *s))
{
    bool newapi = !legacy && s->Version.Version >= MFX_FRAMESURFACE1_VERSION && s->FrameInterface;
    if (newapi) {
        mfxStatus st = s->FrameInterface->Map(s, MFX_MAP_READ);
        if (st != MFX_ERR_NONE)
            return st;
        if ((st = s->FrameInterface->AddRef(s)) != MFX_ERR_NONE)
            return st;
    } else {
        lock_inc(s);
    }
    size_t pitch = pitch_of(s);
    for (size_t y = 0; y < h; y++)
        memcpy(out + y * w, s->Data.Y + y * pitch, w);
    for (size_t y = 0; y < h / 2; y++) /* I420 chroma: pitch / 2 */
        memcpy(out + w * h + y * (w / 2), s->Data.U + y * (pitch / 2), w / 2);
    if (mid)
        mid(s);
    if (newapi) {
        mfxStatus st = s->FrameInterface->Unmap(s);
        if (st != MFX_ERR_NONE)
            return st;
        return s->FrameInterface->Release(s);
    }
    lock_dec(s);
    return MFX_ERR_NONE;
}

static void mid_newapi(mfxFrameSurface1 *s)
{
    ck_assert_uint_eq(refcount_of(s), 2);
    ck_assert_int_eq(s->FrameInterface->Map(s, MFX_MAP_WRITE), MFX_ERR_LOCK_MEMORY); /* mapped for read */
}

static void mid_legacy(mfxFrameSurface1 *s)
{
    ck_assert_uint_eq(refcount_of(s), 1);
    ck_assert_uint_eq(locked_of(s), 1);
    ck_assert_int_eq(s->FrameInterface->Map(s, MFX_MAP_WRITE), MFX_ERR_LOCK_MEMORY); /* Locked */
    ck_assert_int_eq(s->FrameInterface->Map(s, MFX_MAP_READ), MFX_ERR_NONE);
    ck_assert_int_eq(s->FrameInterface->Unmap(s), MFX_ERR_NONE);
}

START_TEST(test_cpu_runtime_double)
{
    const size_t W = 176, H = 144;
    mfxFrameInfo info = make_info(MFX_FOURCC_I420, (int)W, (int)H, MFX_PICSTRUCT_PROGRESSIVE);
    fp_pool_config cfg = vpl_config(2, 0);
    ck_assert_int_eq(fp_vpl_pool_create(&pool, &info, &cfg), 0);
    uint8_t *out = malloc(W * H * 3 / 2);
    ck_assert_ptr_nonnull(out);
    for (int i = 0; i < 40; i++) {
        mfxFrameSurface1 *s = acquire_ok(pool, 0);
        ck_assert_int_eq(s->FrameInterface->Map(s, MFX_MAP_WRITE), MFX_ERR_NONE);
        size_t pitch = pitch_of(s);
        for (size_t y = 0; y < H; y++)
            memset(s->Data.Y + y * pitch, (int)(i + y) & 0xFF, W);
        for (size_t y = 0; y < H / 2; y++)
            memset(s->Data.U + y * (pitch / 2), (int)(i * 3) & 0xFF, W / 2);
        ck_assert_int_eq(s->FrameInterface->Unmap(s), MFX_ERR_NONE);

        bool legacy = i % 2 == 1;
        ck_assert_int_eq(cpu_encode_frame(s, out, W, H, legacy, legacy ? mid_legacy : mid_newapi), MFX_ERR_NONE);
        for (size_t y = 0; y < H; y++)
            ck_assert_uint_eq(out[y * W + W - 1], (unsigned)((i + y) & 0xFF));
        ck_assert_uint_eq(out[W * H + (H / 2 - 1) * (W / 2)], (unsigned)((i * 3) & 0xFF));
        /* Back to how the app left it: one reference, not mapped, not locked. */
        ck_assert_uint_eq(refcount_of(s), 1);
        ck_assert_uint_eq(locked_of(s), 0);
        ck_assert_int_eq(s->FrameInterface->Unmap(s), MFX_ERR_UNSUPPORTED);
        /* The runtime's Unmap left the app's pointers alone. */
        ck_assert_ptr_nonnull(s->Data.Y);
        s->Data.Y[0] = 1;
        ck_assert_int_eq(fp_vpl_release(&s), 0);
        fp_pool_stats st = stats_of(pool);
        ck_assert_uint_eq(st.live, 0);
        ck_assert_uint_eq(st.held_by_runtime, 0);
    }
    fp_pool_stats st = stats_of(pool);
    ck_assert_uint_eq(st.acquired, 40);
    ck_assert_uint_eq(st.released, 40);
    ck_assert_uint_eq(st.misuse, 0);
    free(out);
}
END_TEST

/* ------------------------------------------------------------------------- */

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("vpl");

    TCase *tc = tcase_create("create");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_create_default_cfg);
    tcase_add_loop_test(tc, test_create_invalid, 0, BAD_CASES);
    tcase_add_test(tc, test_create_null_args);
    tcase_add_test(tc, test_create_cfg_agreeing_fields);
    tcase_add_test(tc, test_frames_for_request);
    tcase_add_test(tc, test_pool_frame_info);
    suite_add_tcase(s, tc);

    tc = tcase_create("layout");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_loop_test(tc, test_layout, 0, LAYOUTS);
    suite_add_tcase(s, tc);

    tc = tcase_create("acquire");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_acquire_state_and_reset);
    tcase_add_test(tc, test_zero_flag);
    tcase_add_test(tc, test_surface_frame_tracking);
    tcase_add_test(tc, test_auto_surface);
    tcase_add_test(tc, test_release_null_safe);
    tcase_add_test(tc, test_acquire_bad_args);
    tcase_add_test(tc, test_exhaustion_and_timeout);
    suite_add_tcase(s, tc);

    tc = tcase_create("iface");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_addref_release);
    tcase_add_test(tc, test_double_release_sites);
    tcase_add_test(tc, test_null_pointers);
    tcase_add_test(tc, test_system_memory_functions);
    tcase_add_test(tc, test_map_flags);
    tcase_add_test(tc, test_map_access_rules);
    tcase_add_test(tc, test_map_released_surface);
    tcase_add_test(tc, test_map_read_waits_for_writer);
    tcase_add_test(tc, test_release_from_other_thread);
    suite_add_tcase(s, tc);

    tc = tcase_create("misuse");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_foreign_surfaces);
    tcase_add_test(tc, test_garbage_frame_interface);
    tcase_add_test(tc, test_surface_of_other_pool);
    suite_add_tcase(s, tc);

    tc = tcase_create("locked");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_locked_defers_release);
    tcase_add_test(tc, test_dropped_pool_freed_after_unlock);
    tcase_add_test(tc, test_reconfigure_after_reset);
    tcase_add_test(tc, test_locked_reclaimed_by_acquire);
    tcase_add_test(tc, test_locked_free_list_first);
    tcase_add_test(tc, test_locked_with_runtime_reference);
    tcase_add_test(tc, test_waiter_forever_gets_unlocked_surface);
    tcase_add_test(tc, test_waiter_times_out_while_locked);
    tcase_add_test(tc, test_close_wakes_waiter_while_locked);
    tcase_add_test(tc, test_dropped_pool_keeps_locked_memory);
    suite_add_tcase(s, tc);

    tc = tcase_create("runtime");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_gpu_runtime_double);
    tcase_add_test(tc, test_legacy_runtime_double);
    tcase_add_test(tc, test_legacy_runtime_books);
    tcase_add_test(tc, test_cpu_runtime_double);
    suite_add_tcase(s, tc);

    return s;
}
