/*
 * vpl_encode: H.264 (or HEVC) encode through the real oneVPL dispatcher, input surfaces
 * from a framepool surface pool sized by MFXVideoENCODE_QueryIOSurf.
 * SPDX-License-Identifier: MIT
 *
 *   vpl_encode [--size WxH] [--codec h264|hevc] [--frames N] [--output FILE]
 *   vpl_encode --help
 *   (defaults: 352x288, h264, 60 frames, vpl_encode.h264 or vpl_encode.hevc)
 *
 * What it shows: no surface array, no GetFreeSurfaceIndex scan. The app takes
 * a surface from the pool, fills it, hands it to EncodeFrameAsync and drops
 * its own reference at once; the runtime keeps the surface alive (AddRef or
 * Data.Locked, whichever model it uses) and it returns to the pool when the
 * runtime lets go. At the end the pool's stats prove nothing is left.
 *
 * Exit status: 0 on success (and for --help); 2 on a bad option; 77 when the
 * dispatcher finds no runtime with an encoder for the codec (it prints what is missing and how to point the dispatcher at
 * one with ONEVPL_SEARCH_PATH); 1 on any other failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vpl/mfx.h>

#include <framepool/vpl.h>

#define FPS 30

/* The options: picture size, codec. */
static int g_width = 352, g_height = 288;
static mfxU32 g_codec = MFX_CODEC_AVC;
static const char *g_codec_name = "H.264";

static void sleep_ms(int ms)
{
    struct timespec ts = { 0, ms * 1000000L };
    nanosleep(&ts, NULL);
}

/* Says why no session could be made, listing what the dispatcher did find. */
static void explain_missing(mfxStatus st)
{
    fprintf(stderr, "vpl_encode: no oneVPL runtime with an %s encoder was found (MFXCreateSession: %d)\n",
            g_codec_name, (int)st);
    mfxLoader all = MFXLoad();
    int n = 0;
    for (mfxU32 i = 0; all; i++) {
        mfxImplDescription *d = NULL;
        if (MFXEnumImplementations(all, i, MFX_IMPLCAPS_IMPLDESCSTRUCTURE, (mfxHDL *)&d) != MFX_ERR_NONE)
            break;
        fprintf(stderr, "  found: %s (API %u.%u), no usable %s encoder\n", d->ImplName,
                (unsigned)d->ApiVersion.Major, (unsigned)d->ApiVersion.Minor, g_codec_name);
        MFXDispReleaseImplDescription(all, d);
        n++;
    }
    if (all)
        MFXUnload(all);
    if (!n)
        fprintf(stderr, "  the dispatcher found no runtime implementation at all\n");
    fprintf(stderr,
            "  needed: a oneVPL runtime, e.g. the CPU reference runtime (libvplswref64.so.1, from oneVPL-cpu)\n"
            "  or Intel's GPU runtime (libmfx-gen.so.1.2, Debian package libmfx-gen1.2; needs an Intel GPU\n"
            "  with its VA-API driver). Point the dispatcher at the directory that holds it:\n"
            "      ONEVPL_SEARCH_PATH=/path/to/runtime/lib vpl_encode --output out.h264\n");
}

/* The input FourCC the runtime's encoder takes from system memory:
 * NV12 preferred, else I420 (the CPU reference runtime takes only I420). */
static mfxU32 pick_fourcc(mfxLoader loader, mfxSession session, mfxVideoParam *par)
{
    mfxImplDescription *d = NULL;
    mfxU32 found = 0;
    if (MFXEnumImplementations(loader, 0, MFX_IMPLCAPS_IMPLDESCSTRUCTURE, (mfxHDL *)&d) == MFX_ERR_NONE) {
        bool nv12 = false, i420 = false;
        for (int c = 0; c < d->Enc.NumCodecs; c++) {
            if (d->Enc.Codecs[c].CodecID != g_codec)
                continue;
            for (int p = 0; p < d->Enc.Codecs[c].NumProfiles; p++) {
                const struct encprofile *pr = &d->Enc.Codecs[c].Profiles[p];
                for (int m = 0; m < pr->NumMemTypes; m++) {
                    if (pr->MemDesc[m].MemHandleType != MFX_RESOURCE_SYSTEM_SURFACE)
                        continue;
                    for (int f = 0; f < pr->MemDesc[m].NumColorFormats; f++) {
                        nv12 |= pr->MemDesc[m].ColorFormats[f] == MFX_FOURCC_NV12;
                        i420 |= pr->MemDesc[m].ColorFormats[f] == MFX_FOURCC_I420;
                    }
                }
            }
        }
        found = nv12 ? MFX_FOURCC_NV12 : i420 ? MFX_FOURCC_I420 : 0;
        printf("runtime: %s, API %u.%u; system-memory %s input: %s\n", d->ImplName,
               (unsigned)d->ApiVersion.Major, (unsigned)d->ApiVersion.Minor, g_codec_name,
               nv12 && i420 ? "NV12, I420" : nv12 ? "NV12" : i420 ? "I420" : "(not listed)");
        MFXDispReleaseImplDescription(loader, d);
    }
    if (found)
        return found;
    /* Not described: ask the encoder. */
    const mfxU32 try_fourcc[] = { MFX_FOURCC_NV12, MFX_FOURCC_I420 };
    for (int i = 0; i < 2; i++) {
        mfxVideoParam in = *par, out;
        memset(&out, 0, sizeof(out));
        in.mfx.FrameInfo.FourCC = try_fourcc[i];
        out.mfx.CodecId = g_codec;
        if (MFXVideoENCODE_Query(session, &in, &out) >= MFX_ERR_NONE && out.mfx.FrameInfo.FourCC == try_fourcc[i])
            return try_fourcc[i];
    }
    return 0;
}

/* Writes what a SyncOperation delivered; returns bytes written or -1. */
static long write_output(mfxSession session, mfxSyncPoint sync, mfxBitstream *bs, FILE *out)
{
    mfxStatus st = MFXVideoCORE_SyncOperation(session, sync, 60000);
    if (st != MFX_ERR_NONE) {
        fprintf(stderr, "vpl_encode: SyncOperation: %d\n", (int)st);
        return -1;
    }
    long n = (long)bs->DataLength;
    if (fwrite(bs->Data + bs->DataOffset, 1, bs->DataLength, out) != bs->DataLength) {
        perror("vpl_encode: write");
        return -1;
    }
    bs->DataOffset = 0;
    bs->DataLength = 0;
    return n;
}

/* A moving gradient, written through the pool frame's view of the planes. */
static void fill(mfxFrameSurface1 *s, int i)
{
    fp_frame *f = fp_vpl_surface_frame(s);
    for (int y = 0; y < g_height; y++)
        for (int x = 0; x < g_width; x++)
            f->data[0][y * f->linesize[0] + x] = (uint8_t)(x + y + 4 * i);
    if (f->format == FP_FMT_NV12) {
        for (int y = 0; y < g_height / 2; y++)
            for (int x = 0; x < g_width; x++)
                f->data[1][y * f->linesize[1] + x] = (uint8_t)(128 + ((x & 1) ? i : -i));
    } else {
        for (int p = 1; p < 3; p++)
            for (int y = 0; y < g_height / 2; y++)
                memset(f->data[p] + y * f->linesize[p], 128 + (p == 1 ? i : -i), (size_t)g_width / 2);
    }
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: vpl_encode [--size WxH] [--codec h264|hevc] [--frames N] [--output FILE]\n"
            "  Encodes N frames of a moving gradient through the oneVPL dispatcher, input surfaces\n"
            "  from a framepool pool sized by MFXVideoENCODE_QueryIOSurf.\n"
            "  --size WxH      picture size, even, 16..4096 (default 352x288)\n"
            "  --codec NAME    h264 (default) or hevc\n"
            "  --frames N      frames to encode (default 60)\n"
            "  --output FILE   elementary stream to write (default vpl_encode.h264 / .hevc)\n"
            "  --help          this text\n"
            "Exit status: 0 done, 2 bad option, 77 no oneVPL runtime with that encoder, 1 other failure.\n");
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int frames = 60;
    static const struct option opts[] = {
        { "size", required_argument, NULL, 's' },   { "codec", required_argument, NULL, 'c' },
        { "frames", required_argument, NULL, 'n' }, { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        char *end = NULL;
        switch (c) {
        case 's':
            g_width = (int)strtol(optarg, &end, 10);
            if (!end || *end != 'x' || (g_height = (int)strtol(end + 1, &end, 10), *end) || g_width < 16 ||
                g_height < 16 || g_width > 4096 || g_height > 4096 || (g_width | g_height) & 1) {
                fprintf(stderr, "vpl_encode: --size %s: want WxH, even, 16..4096\n", optarg);
                return 2;
            }
            break;
        case 'c':
            if (!strcmp(optarg, "h264") || !strcmp(optarg, "avc")) {
                g_codec = MFX_CODEC_AVC;
                g_codec_name = "H.264";
            } else if (!strcmp(optarg, "hevc") || !strcmp(optarg, "h265")) {
                g_codec = MFX_CODEC_HEVC;
                g_codec_name = "HEVC";
            } else {
                fprintf(stderr, "vpl_encode: --codec %s: h264 or hevc\n", optarg);
                return 2;
            }
            break;
        case 'n':
            frames = (int)strtol(optarg, &end, 10);
            if (!end || *end || frames < 1) {
                fprintf(stderr, "vpl_encode: --frames %s: want a count >= 1\n", optarg);
                return 2;
            }
            break;
        case 'o':
            path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vpl_encode: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!path)
        path = g_codec == MFX_CODEC_HEVC ? "vpl_encode.hevc" : "vpl_encode.h264";

    mfxLoader loader = MFXLoad();
    if (!loader) {
        fprintf(stderr, "vpl_encode: MFXLoad failed: the oneVPL dispatcher could not start\n");
        return 77;
    }
    mfxConfig filter = MFXCreateConfig(loader);
    mfxVariant v;
    memset(&v, 0, sizeof(v));
    v.Version.Version = MFX_VARIANT_VERSION;
    v.Type = MFX_VARIANT_TYPE_U32;
    v.Data.U32 = g_codec;
    MFXSetConfigFilterProperty(filter, (const mfxU8 *)"mfxImplDescription.mfxEncoderDescription.encoder.CodecID", v);
    mfxSession session = NULL;
    mfxStatus st = MFXCreateSession(loader, 0, &session);
    if (st != MFX_ERR_NONE) {
        explain_missing(st);
        MFXUnload(loader);
        return 77;
    }

    int ret = 1;
    fp_pool *pool = NULL;
    FILE *out = NULL;
    mfxBitstream bs;
    memset(&bs, 0, sizeof(bs));

    mfxVideoParam par;
    memset(&par, 0, sizeof(par));
    par.mfx.CodecId = g_codec;
    par.mfx.TargetUsage = MFX_TARGETUSAGE_BALANCED;
    par.mfx.RateControlMethod = MFX_RATECONTROL_CQP;
    par.mfx.QPI = par.mfx.QPP = par.mfx.QPB = 26;
    par.mfx.GopPicSize = 30;
    par.mfx.FrameInfo.ChromaFormat = MFX_CHROMAFORMAT_YUV420;
    par.mfx.FrameInfo.PicStruct = MFX_PICSTRUCT_PROGRESSIVE;
    /* Surfaces are 16-aligned; the picture is the crop rectangle. */
    par.mfx.FrameInfo.Width = (mfxU16)((g_width + 15) & ~15);
    par.mfx.FrameInfo.Height = (mfxU16)((g_height + 15) & ~15);
    par.mfx.FrameInfo.CropW = (mfxU16)g_width;
    par.mfx.FrameInfo.CropH = (mfxU16)g_height;
    par.mfx.FrameInfo.FrameRateExtN = FPS;
    par.mfx.FrameInfo.FrameRateExtD = 1;
    par.IOPattern = MFX_IOPATTERN_IN_SYSTEM_MEMORY;
    par.AsyncDepth = 4;
    par.mfx.FrameInfo.FourCC = pick_fourcc(loader, session, &par);
    if (!par.mfx.FrameInfo.FourCC) {
        fprintf(stderr, "vpl_encode: the runtime's %s encoder takes neither NV12 nor I420 in system memory\n",
                g_codec_name);
        ret = 77;
        goto done;
    }

    /* Ask the encoder how many input surfaces it needs; add the one the app fills. */
    mfxFrameAllocRequest req;
    memset(&req, 0, sizeof(req));
    if ((st = MFXVideoENCODE_QueryIOSurf(session, &par, &req)) < MFX_ERR_NONE) {
        fprintf(stderr, "vpl_encode: QueryIOSurf: %d\n", (int)st);
        goto done;
    }
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "vpl_encode";
    cfg.max_frames = fp_vpl_frames_for_request(&req, 1);
    if (cfg.max_frames < 0) {
        fprintf(stderr, "vpl_encode: QueryIOSurf asked for %u..%u surfaces: %s\n", (unsigned)req.NumFrameMin,
                (unsigned)req.NumFrameSuggested, fp_strerror(cfg.max_frames));
        goto done;
    }
    cfg.min_frames = cfg.max_frames; /* allocate up front: the loop never allocates */
    int err = fp_vpl_pool_create(&pool, &par.mfx.FrameInfo, &cfg);
    if (err < 0) {
        fprintf(stderr, "vpl_encode: fp_vpl_pool_create: %s\n", fp_strerror(err));
        goto done;
    }
    fp_vpl_pool_frame_info(pool, &par.mfx.FrameInfo); /* the surfaces' exact geometry */
    printf("QueryIOSurf: min %u, suggested %u -> pool of %d %s surfaces\n", (unsigned)req.NumFrameMin,
           (unsigned)req.NumFrameSuggested, cfg.max_frames,
           par.mfx.FrameInfo.FourCC == MFX_FOURCC_NV12 ? "NV12" : "I420");

    if ((st = MFXVideoENCODE_Init(session, &par)) < MFX_ERR_NONE) {
        fprintf(stderr, "vpl_encode: ENCODE_Init: %d\n", (int)st);
        goto done;
    }
    mfxVideoParam got;
    memset(&got, 0, sizeof(got));
    MFXVideoENCODE_GetVideoParam(session, &got);
    mfxU32 cap = (mfxU32)got.mfx.BufferSizeInKB * 1000u * (got.mfx.BRCParamMultiplier ? got.mfx.BRCParamMultiplier : 1);
    if (cap < (mfxU32)g_width * (mfxU32)g_height * 3)
        cap = (mfxU32)g_width * (mfxU32)g_height * 3;
    bs.MaxLength = cap;
    bs.Data = malloc(cap);
    if (!bs.Data || !(out = fopen(path, "wb"))) {
        perror("vpl_encode");
        goto done;
    }

    int encoded = 0;
    long bytes = 0;
    for (int i = 0; i <= frames; i++) {
        mfxFrameSurface1 *surf = NULL;
        if (i < frames) {
            /* Blocks only while every surface is with the encoder. */
            if ((err = fp_vpl_acquire(pool, 5000000, &surf)) < 0) {
                fprintf(stderr, "vpl_encode: no free surface: %s\n", fp_strerror(err));
                goto done;
            }
            fill(surf, i);
            surf->Data.TimeStamp = (mfxU64)i * 90000 / FPS;
            surf->Data.FrameOrder = (mfxU32)i;
        }
        /* The last round (surf NULL) drains: repeat until MORE_DATA. */
        for (;;) {
            mfxSyncPoint sync = NULL;
            st = MFXVideoENCODE_EncodeFrameAsync(session, NULL, surf, &bs, &sync);
            if (st == MFX_WRN_DEVICE_BUSY) {
                sleep_ms(1);
                continue;
            }
            if (st > MFX_ERR_NONE && sync)
                st = MFX_ERR_NONE; /* a warning with output */
            if (st == MFX_ERR_NONE && sync) {
                long n = write_output(session, sync, &bs, out);
                if (n < 0)
                    goto done;
                bytes += n;
                encoded++;
            } else if (st != MFX_ERR_MORE_DATA) {
                fprintf(stderr, "vpl_encode: EncodeFrameAsync: %d\n", (int)st);
                goto done;
            }
            if (surf || st == MFX_ERR_MORE_DATA)
                break;
        }
        /* The encoder took its own hold (AddRef or Data.Locked): drop ours now. */
        fp_vpl_release(&surf);
    }
    MFXVideoENCODE_Close(session);

    fp_pool_stats stats;
    fp_pool_get_stats(pool, &stats);
    printf("encoded %d of %d frames, %ld bytes -> %s\n", encoded, frames, bytes, path);
    printf("pool: %" PRIu64 " acquires, peak %u of %u surfaces live, %u live now, %u held by the runtime, "
           "%" PRIu64 " waits\n",
           stats.acquired, stats.peak_live, stats.capacity, stats.live, stats.held_by_runtime, stats.waits);
    ret = encoded == frames && stats.live == 0 ? 0 : 1;

done:
    if (out && fclose(out) != 0)
        ret = 1;
    free(bs.Data);
    fp_pool_unref(&pool);
    MFXClose(session);
    MFXUnload(loader);
    return ret;
}
