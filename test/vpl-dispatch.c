/*
 * Test "vpl-dispatch" (suite vpl): the adapter against the real oneVPL
 * dispatcher and whatever runtime it finds. An H.264 encoder is set up for
 * the FourCC the runtime takes (NV12 or I420), the pool is sized by
 * MFXVideoENCODE_QueryIOSurf through fp_vpl_frames_for_request(), 60 frames
 * from pool surfaces go through EncodeFrameAsync/SyncOperation and a drain,
 * and the pool's books must show every surface back after the encoder closes.
 *
 * Without a runtime (no Intel GPU runtime usable, no CPU runtime installed)
 * it says what is missing and how to point the dispatcher at a runtime, and
 * exits 77, which meson reports as skipped.
 *
 * FP_VPL_REQUIRE_IMPL=NAME makes it use only the implementation of that name
 * and fail instead of skipping when there is none. meson runs it that way
 * against test/vpl-fake-runtime.c ("framepool-fake", a test double loaded by
 * the real dispatcher) in its three modes; its output records carry the
 * checksum of the pixels the runtime read, checked here against what was
 * written, so a surface reused while the runtime still held it shows up.
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vpl/mfx.h>

#include <framepool/vpl.h>

#include "common.h"

#define W 352
#define H 288
#define FRAMES 60

Suite *fp_test_suite(void);

static mfxLoader open_loader(void)
{
    mfxLoader loader = MFXLoad();
    if (!loader)
        return NULL;
    mfxConfig filter = MFXCreateConfig(loader);
    mfxVariant v;
    memset(&v, 0, sizeof(v));
    v.Version.Version = MFX_VARIANT_VERSION;
    v.Type = MFX_VARIANT_TYPE_U32;
    v.Data.U32 = MFX_CODEC_AVC;
    MFXSetConfigFilterProperty(filter, (const mfxU8 *)"mfxImplDescription.mfxEncoderDescription.encoder.CodecID", v);
    const char *want = getenv("FP_VPL_REQUIRE_IMPL");
    if (want && *want) {
        mfxConfig by_name = MFXCreateConfig(loader);
        v.Type = MFX_VARIANT_TYPE_PTR;
        v.Data.Ptr = (mfxHDL)want;
        MFXSetConfigFilterProperty(by_name, (const mfxU8 *)"mfxImplDescription.ImplName", v);
    }
    return loader;
}

static bool is_fake = false;

/* The fake runtime's checksum of what it read (see vpl-fake-runtime.c). */
static uint64_t checksum(const mfxFrameSurface1 *s)
{
    size_t pitch = ((size_t)s->Data.PitchHigh << 16) | s->Data.PitchLow;
    uint64_t sum = 0;
    for (size_t y = 0; y < H; y++)
        for (size_t x = 0; x < W; x++)
            sum = sum * 31 + s->Data.Y[y * pitch + x];
    for (size_t y = 0; y < H / 2; y++)
        for (size_t x = 0; x < W / 2; x++)
            sum = sum * 31 + (s->Info.FourCC == MFX_FOURCC_I420
                                  ? (uint64_t)s->Data.U[y * (pitch / 2) + x] + s->Data.V[y * (pitch / 2) + x]
                                  : (uint64_t)s->Data.UV[y * pitch + 2 * x] + s->Data.V[y * pitch + 2 * x]);
    return sum;
}

/* The system-memory input FourCC the H.264 encoder lists (NV12 first), else
 * the first the encoder accepts in a Query. */
static mfxU32 pick_fourcc(mfxLoader loader, mfxSession session, const mfxVideoParam *par)
{
    mfxImplDescription *d = NULL;
    bool nv12 = false, i420 = false;
    if (MFXEnumImplementations(loader, 0, MFX_IMPLCAPS_IMPLDESCSTRUCTURE, (mfxHDL *)&d) == MFX_ERR_NONE) {
        for (int c = 0; c < d->Enc.NumCodecs; c++) {
            if (d->Enc.Codecs[c].CodecID != MFX_CODEC_AVC)
                continue;
            for (int p = 0; p < d->Enc.Codecs[c].NumProfiles; p++)
                for (int m = 0; m < d->Enc.Codecs[c].Profiles[p].NumMemTypes; m++) {
                    const struct encmemdesc *md = &d->Enc.Codecs[c].Profiles[p].MemDesc[m];
                    if (md->MemHandleType != MFX_RESOURCE_SYSTEM_SURFACE)
                        continue;
                    for (int f = 0; f < md->NumColorFormats; f++) {
                        nv12 |= md->ColorFormats[f] == MFX_FOURCC_NV12;
                        i420 |= md->ColorFormats[f] == MFX_FOURCC_I420;
                    }
                }
        }
        printf("runtime: %s (API %u.%u)\n", d->ImplName, (unsigned)d->ApiVersion.Major,
               (unsigned)d->ApiVersion.Minor);
        is_fake = !strcmp((const char *)d->ImplName, "framepool-fake");
        MFXDispReleaseImplDescription(loader, d);
    }
    if (nv12 || i420)
        return nv12 ? MFX_FOURCC_NV12 : MFX_FOURCC_I420;
    const mfxU32 try_fourcc[] = { MFX_FOURCC_NV12, MFX_FOURCC_I420 };
    for (int i = 0; i < 2; i++) {
        mfxVideoParam in = *par, out;
        memset(&out, 0, sizeof(out));
        in.mfx.FrameInfo.FourCC = try_fourcc[i];
        out.mfx.CodecId = MFX_CODEC_AVC;
        if (MFXVideoENCODE_Query(session, &in, &out) >= MFX_ERR_NONE && out.mfx.FrameInfo.FourCC == try_fourcc[i])
            return try_fourcc[i];
    }
    return 0;
}

/* Frame i: distinct luma and chroma, so a mixed-up surface changes the checksum. */
static void fill(mfxFrameSurface1 *s, int i)
{
    size_t pitch = ((size_t)s->Data.PitchHigh << 16) | s->Data.PitchLow;
    for (size_t y = 0; y < H; y++)
        memset(s->Data.Y + y * pitch, (int)(16 + 4 * i + y) & 0xFF, W);
    if (s->Info.FourCC == MFX_FOURCC_NV12) {
        memset(s->Data.UV, (128 + i) & 0xFF, pitch * s->Info.Height / 2);
    } else {
        memset(s->Data.U, (128 + i) & 0xFF, pitch / 2 * s->Info.Height / 2);
        memset(s->Data.V, (128 - i) & 0xFF, pitch / 2 * s->Info.Height / 2);
    }
}

START_TEST(test_h264_encode_from_pool)
{
    mfxLoader loader = open_loader();
    ck_assert_ptr_nonnull(loader);
    mfxSession session = NULL;
    ck_assert_int_eq(MFXCreateSession(loader, 0, &session), MFX_ERR_NONE);

    mfxVideoParam par;
    memset(&par, 0, sizeof(par));
    par.mfx.CodecId = MFX_CODEC_AVC;
    par.mfx.TargetUsage = MFX_TARGETUSAGE_BALANCED;
    par.mfx.RateControlMethod = MFX_RATECONTROL_CQP;
    par.mfx.QPI = par.mfx.QPP = par.mfx.QPB = 30;
    par.mfx.GopPicSize = 30;
    par.mfx.FrameInfo.ChromaFormat = MFX_CHROMAFORMAT_YUV420;
    par.mfx.FrameInfo.PicStruct = MFX_PICSTRUCT_PROGRESSIVE;
    par.mfx.FrameInfo.Width = W;
    par.mfx.FrameInfo.Height = H;
    par.mfx.FrameInfo.CropW = W;
    par.mfx.FrameInfo.CropH = H;
    par.mfx.FrameInfo.FrameRateExtN = 30;
    par.mfx.FrameInfo.FrameRateExtD = 1;
    par.IOPattern = MFX_IOPATTERN_IN_SYSTEM_MEMORY;
    par.AsyncDepth = 4;
    par.mfx.FrameInfo.FourCC = pick_fourcc(loader, session, &par);
    ck_assert_msg(par.mfx.FrameInfo.FourCC != 0, "the H.264 encoder takes neither NV12 nor I420");

    mfxFrameAllocRequest req;
    memset(&req, 0, sizeof(req));
    ck_assert_int_ge(MFXVideoENCODE_QueryIOSurf(session, &par, &req), MFX_ERR_NONE);
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "vpl-dispatch";
    cfg.max_frames = fp_vpl_frames_for_request(&req, 1);
    ck_assert_int_gt(cfg.max_frames, 0);
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_vpl_pool_create(&pool, &par.mfx.FrameInfo, &cfg), 0);
    ck_assert_int_eq(fp_vpl_pool_frame_info(pool, &par.mfx.FrameInfo), 0);
    printf("QueryIOSurf: min %u suggested %u -> %d surfaces of %s\n", (unsigned)req.NumFrameMin,
           (unsigned)req.NumFrameSuggested, cfg.max_frames,
           par.mfx.FrameInfo.FourCC == MFX_FOURCC_NV12 ? "NV12" : "I420");
    ck_assert_int_ge(MFXVideoENCODE_Init(session, &par), MFX_ERR_NONE);

    mfxBitstream bs;
    memset(&bs, 0, sizeof(bs));
    bs.MaxLength = W * H * 4;
    bs.Data = malloc(bs.MaxLength);
    ck_assert_ptr_nonnull(bs.Data);
    int encoded = 0;
    size_t bytes = 0;
    uint64_t want_sum[FRAMES];
    for (int i = 0; i <= FRAMES; i++) {
        mfxFrameSurface1 *s = NULL;
        if (i < FRAMES) {
            ck_assert_int_eq(fp_vpl_acquire(pool, 30000000, &s), 0);
            fill(s, i);
            want_sum[i] = checksum(s);
            s->Data.TimeStamp = (mfxU64)i * 3000;
        }
        for (;;) {
            mfxSyncPoint sync = NULL;
            mfxStatus st = MFXVideoENCODE_EncodeFrameAsync(session, NULL, s, &bs, &sync);
            if (st == MFX_WRN_DEVICE_BUSY) {
                test_sleep_us(1000);
                continue;
            }
            if (st > MFX_ERR_NONE && sync)
                st = MFX_ERR_NONE;
            if (st == MFX_ERR_NONE && sync) {
                ck_assert_int_eq(MFXVideoCORE_SyncOperation(session, sync, 60000), MFX_ERR_NONE);
                ck_assert_uint_gt(bs.DataLength, 0);
                if (is_fake) {
                    /* One record per frame, in order, with what the runtime read. */
                    const uint8_t *p = bs.Data + bs.DataOffset;
                    uint32_t idx;
                    uint64_t sum;
                    ck_assert_uint_eq(bs.DataLength, 16);
                    ck_assert(memcmp(p, "FPFK", 4) == 0);
                    memcpy(&idx, p + 4, 4);
                    memcpy(&sum, p + 8, 8);
                    ck_assert_uint_eq(idx, (uint32_t)encoded);
                    ck_assert_msg(sum == want_sum[idx], "frame %u: the runtime read other pixels", idx);
                }
                bytes += bs.DataLength;
                bs.DataLength = bs.DataOffset = 0;
                encoded++;
            } else {
                ck_assert_msg(st == MFX_ERR_MORE_DATA, "EncodeFrameAsync: %d", (int)st);
            }
            if (s || st == MFX_ERR_MORE_DATA)
                break;
        }
        ck_assert_int_eq(fp_vpl_release(&s), 0);
        fp_pool_stats st;
        ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
        ck_assert_uint_le(st.live, st.capacity);
    }
    ck_assert_int_eq(encoded, FRAMES);
    ck_assert_uint_gt(bytes, 0);
    MFXVideoENCODE_Close(session);

    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    printf("encoded %d frames, %zu bytes; pool: peak %u of %u live, %u live after close\n", encoded, bytes,
           st.peak_live, st.capacity, st.live);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.held_by_runtime, 0);
    ck_assert_uint_eq(st.acquired, FRAMES);
    ck_assert_uint_eq(st.released, FRAMES);
    ck_assert_uint_eq(st.misuse, 0);
    free(bs.Data);
    fp_pool_unref(&pool);
    MFXClose(session);
    MFXUnload(loader);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("vpl-dispatch");
    TCase *tc = tcase_create("encode");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_h264_encode_from_pool);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Probe first: without a runtime there is nothing to test. */
    mfxLoader loader = open_loader();
    mfxSession session = NULL;
    mfxStatus st = loader ? MFXCreateSession(loader, 0, &session) : MFX_ERR_NOT_FOUND;
    const char *required = getenv("FP_VPL_REQUIRE_IMPL");
    if (st != MFX_ERR_NONE && required && *required) {
        printf("FAIL: implementation \"%s\" required (FP_VPL_REQUIRE_IMPL) but not found: MFXLoad %s, "
               "MFXCreateSession %d; ONEVPL_SEARCH_PATH=%s\n",
               required, loader ? "ok" : "failed", (int)st,
               getenv("ONEVPL_SEARCH_PATH") ? getenv("ONEVPL_SEARCH_PATH") : "(unset)");
        if (loader)
            MFXUnload(loader);
        return EXIT_FAILURE;
    }
    if (st != MFX_ERR_NONE) {
        int found = 0;
        mfxLoader all = MFXLoad();
        for (mfxU32 i = 0; all; i++) {
            mfxImplDescription *d = NULL;
            if (MFXEnumImplementations(all, i, MFX_IMPLCAPS_IMPLDESCSTRUCTURE, (mfxHDL *)&d) != MFX_ERR_NONE)
                break;
            printf("found %s (API %u.%u), without a usable H.264 encoder\n", d->ImplName,
                   (unsigned)d->ApiVersion.Major, (unsigned)d->ApiVersion.Minor);
            MFXDispReleaseImplDescription(all, d);
            found++;
        }
        if (all)
            MFXUnload(all);
        printf("SKIP: %s: no oneVPL runtime with an H.264 encoder (MFXLoad %s, MFXCreateSession %d, "
               "%d implementation(s) found).\n"
               "  Install one - the CPU reference runtime (libvplswref64.so.1, oneVPL-cpu), or Intel's GPU\n"
               "  runtime (libmfx-gen.so.1.2, Debian libmfx-gen1.2, needs an Intel GPU) - and point the\n"
               "  dispatcher at its directory: ONEVPL_SEARCH_PATH=/path/to/lib meson test vpl-dispatch\n",
               "vpl-dispatch", loader ? "ok" : "failed", (int)st, found);
        if (loader)
            MFXUnload(loader);
        return 77;
    }
    MFXClose(session);
    MFXUnload(loader);

    SRunner *sr = srunner_create(fp_test_suite());
    srunner_set_fork_status(sr, CK_NOFORK); /* the runtime's threads and fork() do not mix */
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
