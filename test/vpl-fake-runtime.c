/*
 * A fake oneVPL runtime (test double), loaded by the real libvpl dispatcher
 * through ONEVPL_SEARCH_PATH/ONEVPL_PRIORITY_PATH, so the dispatcher path of
 * test/vpl-dispatch.c and examples/vpl_encode.c runs on machines without a
 * real runtime. It is not a video encoder: each "encoded frame" is 16 bytes,
 * "FPFK", the frame number and a checksum of the pixels it read from the
 * application's surface, so the test can check that the runtime read the
 * right pixels at the time it did.
 * SPDX-License-Identifier: MIT
 *
 * It touches application surfaces the way the real runtimes do, chosen by
 * FP_FAKE_VPL_MODE:
 *   cpu    (default) the CPU reference runtime: inside EncodeFrameAsync,
 *          Map(READ), AddRef, read, Unmap, Release; input I420 only.
 *   gpu    Intel's GPU runtime: AddRef then Locked++ at submission; a worker
 *          thread reads the pixels several submissions later, then Locked--
 *          and Release; input NV12.
 *   legacy 1.x style: Locked++ at submission, Locked-- on the worker thread,
 *          no call; input NV12.
 * Output is in submission order, `depth` frames behind (MFX_ERR_MORE_DATA
 * until then), drained by EncodeFrameAsync(NULL).
 *
 * The library is named libvpl_fpfake.so: the dispatcher only considers
 * libvpl* files in its search directories.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vpl/mfx.h>

#define FAKE_EXPORT __attribute__((visibility("default")))
#define MAX_TASKS 64

enum fake_mode { MODE_CPU, MODE_GPU, MODE_LEGACY };

typedef struct task {
    mfxFrameSurface1 *surf;
    mfxBitstream *bs; /* where SyncOperation writes the output */
    uint32_t index;
    uint64_t sum;
    bool done;
} task;

typedef struct fake_session {
    enum fake_mode mode;
    bool inited;
    mfxVideoParam par;
    int depth;
    pthread_t worker;
    bool worker_running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    task tasks[MAX_TASKS];
    uint32_t submitted; /* tasks ever submitted */
    uint32_t processed; /* tasks the worker (or the call) finished */
    uint32_t emitted;   /* tasks handed out as sync points */
    bool draining, stop;
} fake_session;

static enum fake_mode mode_from_env(void)
{
    const char *m = getenv("FP_FAKE_VPL_MODE");
    if (m && !strcmp(m, "gpu"))
        return MODE_GPU;
    if (m && !strcmp(m, "legacy"))
        return MODE_LEGACY;
    return MODE_CPU;
}

static mfxU32 input_fourcc(enum fake_mode m)
{
    return m == MODE_CPU ? MFX_FOURCC_I420 : MFX_FOURCC_NV12;
}

/* ------------------------------------------------------------------------- */
/* Capabilities                                                              */

static mfxU32 caps_formats[1];
static struct encmemdesc caps_mem;
static struct encprofile caps_profile;
static struct encoder caps_encoder;
static mfxAccelerationMode caps_accel[1] = { MFX_ACCEL_MODE_NA };
static mfxImplDescription caps_desc;
static mfxHDL caps_list[1];

FAKE_EXPORT mfxHDL *MFX_CDECL MFXQueryImplsDescription(mfxImplCapsDeliveryFormat format, mfxU32 *num_impls)
{
    if (!num_impls)
        return NULL;
    if (format != MFX_IMPLCAPS_IMPLDESCSTRUCTURE) {
        *num_impls = 0;
        return NULL;
    }
    caps_formats[0] = input_fourcc(mode_from_env());
    memset(&caps_mem, 0, sizeof(caps_mem));
    caps_mem.MemHandleType = MFX_RESOURCE_SYSTEM_SURFACE;
    caps_mem.Width.Min = caps_mem.Height.Min = 16;
    caps_mem.Width.Max = caps_mem.Height.Max = 4096;
    caps_mem.Width.Step = caps_mem.Height.Step = 16;
    caps_mem.NumColorFormats = 1;
    caps_mem.ColorFormats = caps_formats;
    memset(&caps_profile, 0, sizeof(caps_profile));
    caps_profile.Profile = MFX_PROFILE_AVC_MAIN;
    caps_profile.NumMemTypes = 1;
    caps_profile.MemDesc = &caps_mem;
    memset(&caps_encoder, 0, sizeof(caps_encoder));
    caps_encoder.CodecID = MFX_CODEC_AVC;
    caps_encoder.MaxcodecLevel = MFX_LEVEL_AVC_51;
    caps_encoder.NumProfiles = 1;
    caps_encoder.Profiles = &caps_profile;

    memset(&caps_desc, 0, sizeof(caps_desc));
    caps_desc.Version.Version = MFX_IMPLDESCRIPTION_VERSION;
    caps_desc.Impl = MFX_IMPL_TYPE_SOFTWARE;
    caps_desc.AccelerationMode = MFX_ACCEL_MODE_NA;
    caps_desc.ApiVersion.Major = 2;
    caps_desc.ApiVersion.Minor = 0;
    strcpy((char *)caps_desc.ImplName, "framepool-fake");
    strcpy((char *)caps_desc.License, "MIT");
    strcpy((char *)caps_desc.Keywords, "test double");
    caps_desc.Dev.Version.Version = MFX_DEVICEDESCRIPTION_VERSION;
    strcpy((char *)caps_desc.Dev.DeviceID, "0000");
    caps_desc.Dec.Version.Version = MFX_DECODERDESCRIPTION_VERSION;
    caps_desc.Enc.Version.Version = MFX_ENCODERDESCRIPTION_VERSION;
    caps_desc.Enc.NumCodecs = 1;
    caps_desc.Enc.Codecs = &caps_encoder;
    caps_desc.VPP.Version.Version = MFX_VPPDESCRIPTION_VERSION;
    caps_desc.AccelerationModeDescription.Version.Version = MFX_ACCELERATIONMODESCRIPTION_VERSION;
    caps_desc.AccelerationModeDescription.NumAccelerationModes = 1;
    caps_desc.AccelerationModeDescription.Mode = caps_accel;
    caps_desc.PoolPolicies.Version.Version = MFX_POOLPOLICYDESCRIPTION_VERSION;
    caps_list[0] = &caps_desc;
    *num_impls = 1;
    return caps_list;
}

FAKE_EXPORT mfxStatus MFX_CDECL MFXReleaseImplDescription(mfxHDL hdl)
{
    (void)hdl; /* static storage */
    return MFX_ERR_NONE;
}

/* ------------------------------------------------------------------------- */
/* Session                                                                   */

static fake_session *fs_of(mfxSession s)
{
    return (fake_session *)s;
}

static mfxStatus open_session(mfxSession *session)
{
    if (!session)
        return MFX_ERR_NULL_PTR;
    fake_session *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return MFX_ERR_MEMORY_ALLOC;
    fs->mode = mode_from_env();
    pthread_mutex_init(&fs->mu, NULL);
    pthread_cond_init(&fs->cv, NULL);
    *session = (mfxSession)fs;
    return MFX_ERR_NONE;
}

FAKE_EXPORT mfxStatus MFX_CDECL MFXInitialize(mfxInitializationParam par, mfxSession *session)
{
    (void)par;
    return open_session(session);
}

FAKE_EXPORT mfxStatus MFX_CDECL MFXInit(mfxIMPL impl, mfxVersion *ver, mfxSession *session)
{
    (void)impl;
    (void)ver;
    return open_session(session);
}

FAKE_EXPORT mfxStatus MFX_CDECL MFXInitEx(mfxInitParam par, mfxSession *session)
{
    (void)par;
    return open_session(session);
}

static void encode_close(fake_session *fs);

FAKE_EXPORT mfxStatus MFX_CDECL MFXClose(mfxSession session)
{
    fake_session *fs = fs_of(session);
    if (!fs)
        return MFX_ERR_INVALID_HANDLE;
    encode_close(fs);
    pthread_cond_destroy(&fs->cv);
    pthread_mutex_destroy(&fs->mu);
    free(fs);
    return MFX_ERR_NONE;
}

FAKE_EXPORT mfxStatus MFX_CDECL MFXQueryIMPL(mfxSession session, mfxIMPL *impl)
{
    if (!session || !impl)
        return MFX_ERR_NULL_PTR;
    *impl = MFX_IMPL_SOFTWARE;
    return MFX_ERR_NONE;
}

FAKE_EXPORT mfxStatus MFX_CDECL MFXQueryVersion(mfxSession session, mfxVersion *version)
{
    if (!session || !version)
        return MFX_ERR_NULL_PTR;
    version->Major = 2;
    version->Minor = 0;
    return MFX_ERR_NONE;
}

/* ------------------------------------------------------------------------- */
/* The encoder                                                               */

static bool fourcc_ok(const fake_session *fs, const mfxVideoParam *par)
{
    return par->mfx.CodecId == MFX_CODEC_AVC && par->mfx.FrameInfo.FourCC == input_fourcc(fs->mode) &&
           par->IOPattern == MFX_IOPATTERN_IN_SYSTEM_MEMORY && par->mfx.FrameInfo.Width % 16 == 0 &&
           par->mfx.FrameInfo.Height % 16 == 0 && par->mfx.FrameInfo.Width >= 16 && par->mfx.FrameInfo.Height >= 16;
}

FAKE_EXPORT mfxStatus MFX_CDECL MFXVideoENCODE_Query(mfxSession session, mfxVideoParam *in, mfxVideoParam *out)
{
    fake_session *fs = fs_of(session);
    if (!fs)
        return MFX_ERR_INVALID_HANDLE;
    if (!out)
        return MFX_ERR_NULL_PTR;
    if (!in) {
        memset(&out->mfx, 0, sizeof(out->mfx));
        out->mfx.CodecId = 1;
        out->mfx.FrameInfo.FourCC = 1;
        return MFX_ERR_NONE;
    }
    if (in != out)
        *out = *in;
    if (!fourcc_ok(fs, in)) {
        out->mfx.FrameInfo.FourCC = 0;
        return MFX_ERR_UNSUPPORTED;
    }
    return MFX_ERR_NONE;
}

FAKE_EXPORT mfxStatus MFX_CDECL MFXVideoENCODE_QueryIOSurf(mfxSession session, mfxVideoParam *par,
                                                           mfxFrameAllocRequest *request)
{
    fake_session *fs = fs_of(session);
    if (!fs)
        return MFX_ERR_INVALID_HANDLE;
    if (!par || !request)
        return MFX_ERR_NULL_PTR;
    if (!fourcc_ok(fs, par))
        return MFX_ERR_INVALID_VIDEO_PARAM;
    memset(request, 0, sizeof(*request));
    request->Info = par->mfx.FrameInfo;
    int depth = fs->mode == MODE_CPU ? 0 : (par->AsyncDepth ? par->AsyncDepth : 4);
    request->NumFrameMin = (mfxU16)(depth + 1);
    request->NumFrameSuggested = (mfxU16)(depth + 2);
    request->Type = MFX_MEMTYPE_EXTERNAL_FRAME | MFX_MEMTYPE_FROM_ENCODE | MFX_MEMTYPE_SYSTEM_MEMORY;
    return MFX_ERR_NONE;
}

static uint64_t checksum(const mfxFrameSurface1 *s)
{
    const mfxFrameInfo *fi = &s->Info;
    size_t pitch = ((size_t)s->Data.PitchHigh << 16) | s->Data.PitchLow;
    size_t w = fi->CropW ? fi->CropW : fi->Width, h = fi->CropH ? fi->CropH : fi->Height;
    uint64_t sum = 0;
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++)
            sum = sum * 31 + s->Data.Y[y * pitch + x];
    if (fi->FourCC == MFX_FOURCC_I420) {
        for (size_t y = 0; y < h / 2; y++)
            for (size_t x = 0; x < w / 2; x++)
                sum = sum * 31 + s->Data.U[y * (pitch / 2) + x] + s->Data.V[y * (pitch / 2) + x];
    } else {
        for (size_t y = 0; y < h / 2; y++)
            for (size_t x = 0; x < w / 2; x++)
                sum = sum * 31 + s->Data.UV[y * pitch + 2 * x] + s->Data.V[y * pitch + 2 * x];
    }
    return sum;
}

/* Lets go of a surface held by the asynchronous modes. */
static void let_go(fake_session *fs, mfxFrameSurface1 *s)
{
    __atomic_fetch_sub(&s->Data.Locked, 1, __ATOMIC_ACQ_REL);
    if (fs->mode == MODE_GPU)
        s->FrameInterface->Release(s);
}

/* Finishes queued tasks while more than `depth` are pending (or draining). */
static void *worker_main(void *arg)
{
    fake_session *fs = arg;
    pthread_mutex_lock(&fs->mu);
    for (;;) {
#define WORK_DUE (fs->submitted > fs->processed && \
                  (fs->draining || fs->submitted - fs->processed > (uint32_t)fs->depth))
        while (!fs->stop && !WORK_DUE)
            pthread_cond_wait(&fs->cv, &fs->mu);
        if (!WORK_DUE)
            break; /* stopped, nothing left */
        task *t = &fs->tasks[fs->processed % MAX_TASKS];
        pthread_mutex_unlock(&fs->mu);
        t->sum = checksum(t->surf);
        let_go(fs, t->surf);
        pthread_mutex_lock(&fs->mu);
        t->surf = NULL;
        t->done = true;
        fs->processed++;
        pthread_cond_broadcast(&fs->cv);
    }
    pthread_mutex_unlock(&fs->mu);
    return NULL;
}

FAKE_EXPORT mfxStatus MFX_CDECL MFXVideoENCODE_Init(mfxSession session, mfxVideoParam *par)
{
    fake_session *fs = fs_of(session);
    if (!fs)
        return MFX_ERR_INVALID_HANDLE;
    if (!par)
        return MFX_ERR_NULL_PTR;
    if (fs->inited)
        return MFX_ERR_UNDEFINED_BEHAVIOR;
    if (!fourcc_ok(fs, par))
        return MFX_ERR_INVALID_VIDEO_PARAM;
    fs->par = *par;
    fs->par.mfx.BufferSizeInKB = 64;
    fs->depth = fs->mode == MODE_CPU ? 0 : (par->AsyncDepth ? par->AsyncDepth : 4);
    fs->submitted = fs->processed = fs->emitted = 0;
    fs->draining = fs->stop = false;
    if (fs->mode != MODE_CPU) {
        if (pthread_create(&fs->worker, NULL, worker_main, fs))
            return MFX_ERR_MEMORY_ALLOC;
        fs->worker_running = true;
    }
    fs->inited = true;
    return MFX_ERR_NONE;
}

static void encode_close(fake_session *fs)
{
    if (!fs->inited)
        return;
    if (fs->worker_running) {
        pthread_mutex_lock(&fs->mu);
        fs->draining = true;
        pthread_cond_broadcast(&fs->cv);
        while (fs->processed < fs->submitted)
            pthread_cond_wait(&fs->cv, &fs->mu);
        fs->stop = true;
        pthread_cond_broadcast(&fs->cv);
        pthread_mutex_unlock(&fs->mu);
        pthread_join(fs->worker, NULL);
        fs->worker_running = false;
    }
    fs->inited = false;
}

FAKE_EXPORT mfxStatus MFX_CDECL MFXVideoENCODE_Close(mfxSession session)
{
    fake_session *fs = fs_of(session);
    if (!fs)
        return MFX_ERR_INVALID_HANDLE;
    if (!fs->inited)
        return MFX_ERR_NOT_INITIALIZED;
    encode_close(fs);
    return MFX_ERR_NONE;
}

FAKE_EXPORT mfxStatus MFX_CDECL MFXVideoENCODE_GetVideoParam(mfxSession session, mfxVideoParam *par)
{
    fake_session *fs = fs_of(session);
    if (!fs)
        return MFX_ERR_INVALID_HANDLE;
    if (!par)
        return MFX_ERR_NULL_PTR;
    if (!fs->inited)
        return MFX_ERR_NOT_INITIALIZED;
    mfxExtBuffer **ext = par->ExtParam;
    mfxU16 next = par->NumExtParam;
    *par = fs->par;
    par->ExtParam = ext;
    par->NumExtParam = next;
    return MFX_ERR_NONE;
}

FAKE_EXPORT mfxStatus MFX_CDECL MFXVideoENCODE_EncodeFrameAsync(mfxSession session, mfxEncodeCtrl *ctrl,
                                                                mfxFrameSurface1 *surface, mfxBitstream *bs,
                                                                mfxSyncPoint *syncp)
{
    (void)ctrl;
    fake_session *fs = fs_of(session);
    if (!fs)
        return MFX_ERR_INVALID_HANDLE;
    if (!bs || !syncp)
        return MFX_ERR_NULL_PTR;
    if (!fs->inited)
        return MFX_ERR_NOT_INITIALIZED;
    *syncp = NULL;
    if (bs->MaxLength - bs->DataOffset - bs->DataLength < 16)
        return MFX_ERR_NOT_ENOUGH_BUFFER;

    pthread_mutex_lock(&fs->mu);
    if (surface) {
        if (surface->Info.FourCC != fs->par.mfx.FrameInfo.FourCC || !surface->Data.Y ||
            surface->Info.Width < fs->par.mfx.FrameInfo.Width || fs->submitted - fs->emitted >= MAX_TASKS) {
            pthread_mutex_unlock(&fs->mu);
            return MFX_ERR_UNDEFINED_BEHAVIOR;
        }
        task *t = &fs->tasks[fs->submitted % MAX_TASKS];
        memset(t, 0, sizeof(*t));
        t->index = fs->submitted;
        if (fs->mode == MODE_CPU) {
            /* Everything inside the call, as the CPU runtime's frame lock does. */
            bool newapi = surface->Version.Version >= MFX_FRAMESURFACE1_VERSION && surface->FrameInterface;
            if (newapi) {
                mfxStatus st = surface->FrameInterface->Map(surface, MFX_MAP_READ);
                if (st != MFX_ERR_NONE) {
                    pthread_mutex_unlock(&fs->mu);
                    return st;
                }
                surface->FrameInterface->AddRef(surface);
            } else {
                __atomic_fetch_add(&surface->Data.Locked, 1, __ATOMIC_ACQ_REL);
            }
            t->sum = checksum(surface);
            if (newapi) {
                surface->FrameInterface->Unmap(surface);
                surface->FrameInterface->Release(surface);
            } else {
                __atomic_fetch_sub(&surface->Data.Locked, 1, __ATOMIC_ACQ_REL);
            }
            t->done = true;
            fs->processed++;
        } else {
            if (fs->mode == MODE_GPU)
                surface->FrameInterface->AddRef(surface);
            __atomic_fetch_add(&surface->Data.Locked, 1, __ATOMIC_ACQ_REL);
            t->surf = surface;
        }
        fs->submitted++;
    } else {
        fs->draining = true;
    }
    pthread_cond_broadcast(&fs->cv);

    /* Output lags `depth` frames behind; a drain hands out the rest. */
    mfxStatus st = MFX_ERR_MORE_DATA;
    if (fs->emitted < fs->submitted && (fs->draining || fs->submitted - fs->emitted > (uint32_t)fs->depth)) {
        task *t = &fs->tasks[fs->emitted % MAX_TASKS];
        t->bs = bs;
        *syncp = (mfxSyncPoint)t;
        fs->emitted++;
        st = MFX_ERR_NONE;
    }
    pthread_mutex_unlock(&fs->mu);
    return st;
}

FAKE_EXPORT mfxStatus MFX_CDECL MFXVideoCORE_SyncOperation(mfxSession session, mfxSyncPoint syncp, mfxU32 wait)
{
    (void)wait;
    fake_session *fs = fs_of(session);
    if (!fs)
        return MFX_ERR_INVALID_HANDLE;
    if (!syncp)
        return MFX_ERR_NULL_PTR;
    task *t = (task *)syncp;
    pthread_mutex_lock(&fs->mu);
    while (!t->done)
        pthread_cond_wait(&fs->cv, &fs->mu);
    mfxBitstream *bs = t->bs;
    uint8_t *p = bs->Data + bs->DataOffset + bs->DataLength;
    memcpy(p, "FPFK", 4);
    memcpy(p + 4, &t->index, 4);
    memcpy(p + 8, &t->sum, 8);
    bs->DataLength += 16;
    bs->FrameType = MFX_FRAMETYPE_I;
    pthread_mutex_unlock(&fs->mu);
    return MFX_ERR_NONE;
}

/* ------------------------------------------------------------------------- */
/* Everything else a runtime must export: not supported here.                */

#define UNSUPPORTED(name, params)                                   \
    FAKE_EXPORT mfxStatus MFX_CDECL name params                     \
    {                                                               \
        return MFX_ERR_UNSUPPORTED;                                 \
    }

#if defined(__GNUC__)
# pragma GCC diagnostic ignored "-Wunused-parameter"
#endif
UNSUPPORTED(MFXJoinSession, (mfxSession session, mfxSession child))
UNSUPPORTED(MFXDisjoinSession, (mfxSession session))
UNSUPPORTED(MFXCloneSession, (mfxSession session, mfxSession *clone))
UNSUPPORTED(MFXSetPriority, (mfxSession session, mfxPriority priority))
UNSUPPORTED(MFXGetPriority, (mfxSession session, mfxPriority *priority))
UNSUPPORTED(MFXVideoCORE_SetFrameAllocator, (mfxSession session, mfxFrameAllocator *allocator))
UNSUPPORTED(MFXVideoCORE_SetHandle, (mfxSession session, mfxHandleType type, mfxHDL hdl))
UNSUPPORTED(MFXVideoCORE_GetHandle, (mfxSession session, mfxHandleType type, mfxHDL *hdl))
UNSUPPORTED(MFXVideoCORE_QueryPlatform, (mfxSession session, mfxPlatform *platform))
UNSUPPORTED(MFXMemory_GetSurfaceForVPP, (mfxSession session, mfxFrameSurface1 **surface))
UNSUPPORTED(MFXMemory_GetSurfaceForEncode, (mfxSession session, mfxFrameSurface1 **surface))
UNSUPPORTED(MFXMemory_GetSurfaceForDecode, (mfxSession session, mfxFrameSurface1 **surface))
UNSUPPORTED(MFXVideoENCODE_Reset, (mfxSession session, mfxVideoParam *par))
UNSUPPORTED(MFXVideoENCODE_GetEncodeStat, (mfxSession session, mfxEncodeStat *stat))
UNSUPPORTED(MFXVideoDECODE_Query, (mfxSession session, mfxVideoParam *in, mfxVideoParam *out))
UNSUPPORTED(MFXVideoDECODE_DecodeHeader, (mfxSession session, mfxBitstream *bs, mfxVideoParam *par))
UNSUPPORTED(MFXVideoDECODE_QueryIOSurf, (mfxSession session, mfxVideoParam *par, mfxFrameAllocRequest *request))
UNSUPPORTED(MFXVideoDECODE_Init, (mfxSession session, mfxVideoParam *par))
UNSUPPORTED(MFXVideoDECODE_Reset, (mfxSession session, mfxVideoParam *par))
UNSUPPORTED(MFXVideoDECODE_Close, (mfxSession session))
UNSUPPORTED(MFXVideoDECODE_GetVideoParam, (mfxSession session, mfxVideoParam *par))
UNSUPPORTED(MFXVideoDECODE_GetDecodeStat, (mfxSession session, mfxDecodeStat *stat))
UNSUPPORTED(MFXVideoDECODE_SetSkipMode, (mfxSession session, mfxSkipMode mode))
UNSUPPORTED(MFXVideoDECODE_GetPayload, (mfxSession session, mfxU64 *ts, mfxPayload *payload))
UNSUPPORTED(MFXVideoDECODE_DecodeFrameAsync, (mfxSession session, mfxBitstream *bs, mfxFrameSurface1 *surface_work,
                                              mfxFrameSurface1 **surface_out, mfxSyncPoint *syncp))
UNSUPPORTED(MFXVideoVPP_Query, (mfxSession session, mfxVideoParam *in, mfxVideoParam *out))
UNSUPPORTED(MFXVideoVPP_QueryIOSurf, (mfxSession session, mfxVideoParam *par, mfxFrameAllocRequest request[2]))
UNSUPPORTED(MFXVideoVPP_Init, (mfxSession session, mfxVideoParam *par))
UNSUPPORTED(MFXVideoVPP_Reset, (mfxSession session, mfxVideoParam *par))
UNSUPPORTED(MFXVideoVPP_Close, (mfxSession session))
UNSUPPORTED(MFXVideoVPP_GetVideoParam, (mfxSession session, mfxVideoParam *par))
UNSUPPORTED(MFXVideoVPP_GetVPPStat, (mfxSession session, mfxVPPStat *stat))
UNSUPPORTED(MFXVideoVPP_RunFrameVPPAsync, (mfxSession session, mfxFrameSurface1 *in, mfxFrameSurface1 *out,
                                           mfxExtVppAuxData *aux, mfxSyncPoint *syncp))
