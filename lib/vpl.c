/*
 * oneVPL adapter: pool slots as system-memory mfxFrameSurface1 with a
 * FrameInterface implemented by the pool.
 * SPDX-License-Identifier: MIT
 *
 * Each slot's adapter state (fp__slot_extra) holds its surface and a map word.
 * The surface's reference count is the slot's core refcount, so the core's
 * release path, tracking and stats apply unchanged. The one extra rule,
 * "Data.Locked must be 0 too", is the can_return hook: a slot whose last
 * reference goes while Locked > 0 is deferred by the core and swept back
 * later (see fp__pool_release_slot / fp__pool_sweep in pool.c), so acquire
 * never scans.
 *
 * Recognising our surfaces: surface->FrameInterface points to the interface
 * embedded first in the pool's vpl_pool, whose Context points back to it.
 * Checking Context == FrameInterface is pointer arithmetic only; a key mixed
 * with the address is then checked, and the surface address must be a slot's
 * surface inside the pool's extra array, so a copy of a pool surface (or a
 * stack surface with a borrowed FrameInterface) is refused, not corrupted.
 * The vpl_pool lives in the bookkeeping region (region.h), so a garbage
 * FrameInterface (or one pointing at someone else's small object) is refused
 * before anything is read through it.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "framepool/vpl.h"
#include "internal.h"

#define VPL_KEY ((uintptr_t)0x5eb1a57ac0ffee11ull)
#define MAP_WRITER 0x80000000u

typedef struct vpl_pool {
    mfxFrameSurfaceInterface iface; /* first: Context == &iface identifies us */
    uintptr_t key;                  /* VPL_KEY ^ own address */
    fp_pool *pool;
} vpl_pool;

/* The oneVPL part of a geometry (fp__geom::adapter): what a surface of that
 * generation carries. */
typedef struct vpl_geom {
    mfxFrameInfo info;              /* rounded Width/Height */
    mfxU32 fourcc;
    mfxU16 pitch_high, pitch_low;
} vpl_geom;
_Static_assert(sizeof(vpl_geom) <= FP_GEOM_ADAPTER, "vpl_geom fits the geometry");

static vpl_geom vpl_geom_of(const fp__geom *g)
{
    vpl_geom v;
    memcpy(&v, g->adapter, sizeof(v));
    return v;
}

typedef struct vpl_slot {
    mfxFrameSurface1 surf;
    /* MAP_WRITER, or the number of readers. */
    _Atomic uint32_t map;
} vpl_slot;

static const fp_site rel_iface_site = { "FrameInterface->Release", "Release", 0 };

static bool is_vpl_pool(const fp_pool *pool);

/* ------------------------------------------------------------------------- */
/* Surface <-> slot                                                          */

static inline vpl_pool *vpl_of_iface(const mfxFrameSurfaceInterface *fi)
{
    if (!fp__region_readable(fi, sizeof(vpl_pool)))
        return NULL;
    vpl_pool *vp = (vpl_pool *)fi->Context;
    if (!vp || &vp->iface != fi || vp->key != (VPL_KEY ^ (uintptr_t)vp))
        return NULL;
    return vp;
}

/* The slot of a pool surface; NULL otherwise. `*owner` is set when the
 * surface names a pool without being one of its slots (a copy). */
static fp_slot *slot_of_surface(const mfxFrameSurface1 *surf, vpl_pool **owner)
{
    *owner = NULL;
    vpl_pool *vp = vpl_of_iface(surf->FrameInterface);
    if (!vp)
        return NULL;
    *owner = vp;
    fp_pool *pool = vp->pool;
    uintptr_t base = (uintptr_t)pool->extra, p = (uintptr_t)surf;
    if (p < base)
        return NULL;
    uintptr_t off = p - base;
    if (off / pool->extra_size >= pool->capacity || off % pool->extra_size != offsetof(vpl_slot, surf))
        return NULL;
    return fp__slot_at(pool->slots, (uint32_t)(off / pool->extra_size));
}

static inline vpl_slot *vslot(fp_pool *pool, fp_slot *s)
{
    return fp__slot_extra(pool, s);
}

static void foreign_surface(const mfxFrameSurface1 *surf, vpl_pool *owner, const char *what)
{
    if (owner) {
        fp__log(owner->pool, FP_LOG_ERROR,
               "%s of %p: not one of this pool's surfaces (a copy of a pool surface?)", what,
               (const void *)surf);
        fp__pool_note_misuse(owner->pool);
    } else {
        fp__misuse_global_inc();
        fp__log_cfg(NULL, FP_LOG_ERROR, "%s of %p: not a framepool surface (FrameInterface %p)", what,
                   (const void *)surf, (const void *)surf->FrameInterface);
    }
}

/* Looks up a surface for a FrameInterface call: NULL_PTR/INVALID_HANDLE, or
 * MFX_ERR_NONE with the slot. */
static mfxStatus lookup(mfxFrameSurface1 *surf, const char *what, fp_slot **out)
{
    *out = NULL;
    if (!surf)
        return MFX_ERR_NULL_PTR;
    vpl_pool *owner;
    fp_slot *s = slot_of_surface(surf, &owner);
    if (!s) {
        foreign_surface(surf, owner, what);
        return MFX_ERR_INVALID_HANDLE;
    }
    *out = s;
    return MFX_ERR_NONE;
}

/* Runtimes change Data.Locked from their own threads (interlocked ops), so it
 * is read atomically; acquire orders their last reads of the pixels before
 * our reuse of them. */
static inline mfxU16 locked_of(const vpl_slot *vs)
{
    return __atomic_load_n(&vs->surf.Data.Locked, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------------------- */
/* Surface state                                                             */

/* Everything a runtime or the app may have changed goes back to the pool's
 * values; the slot is ours alone here (free, or being backed). */
static void surface_reset(fp_pool *pool, fp_slot *s, vpl_slot *vs)
{
    vpl_pool *vp = pool->adapter;
    vpl_geom vg = vpl_geom_of(fp__slot_geom(pool, s)); /* its generation's */
    mfxFrameSurface1 *sf = &vs->surf;
    memset(sf, 0, sizeof(*sf));
    sf->Version.Version = MFX_FRAMESURFACE1_VERSION;
    sf->FrameInterface = &vp->iface;
    sf->Info = vg.info;
    mfxFrameData *d = &sf->Data;
    d->MemType = MFX_MEMTYPE_SYSTEM_MEMORY | MFX_MEMTYPE_EXTERNAL_FRAME;
    d->PitchHigh = vg.pitch_high;
    d->PitchLow = vg.pitch_low;
    d->TimeStamp = (mfxU64)MFX_TIMESTAMP_UNKNOWN;
    d->FrameOrder = (mfxU32)MFX_FRAMEORDER_UNKNOWN;
    uint8_t *p0 = s->frame.data[0], *p1 = s->frame.data[1];
    switch (vg.fourcc) {
    case MFX_FOURCC_NV12:
        d->Y = p0;
        d->UV = p1;
        d->V = p1 + 1;
        break;
    case MFX_FOURCC_P010:
        d->Y = p0;
        d->UV = p1;
        d->V = p1 + 2;
        break;
    case MFX_FOURCC_I420:
        d->Y = p0;
        d->U = p1;
        d->V = s->frame.data[2];
        break;
    case MFX_FOURCC_YUY2:
        d->Y = p0;
        d->U = p0 + 1;
        d->V = p0 + 3;
        break;
    case MFX_FOURCC_RGB4:
        d->B = p0;
        d->G = p0 + 1;
        d->R = p0 + 2;
        d->A = p0 + 3;
        break;
    }
    atomic_store_explicit(&vs->map, 0, RLX);
}

/* ------------------------------------------------------------------------- */
/* References                                                                */

static mfxStatus MFX_CDECL vpl_add_ref(mfxFrameSurface1 *surf)
{
    fp_slot *s;
    mfxStatus st = lookup(surf, "FrameInterface->AddRef", &s);
    if (st != MFX_ERR_NONE)
        return st;
    int v = atomic_load_explicit(&s->refs, RLX);
    do {
        if (FP_UNLIKELY(v <= 0)) {
            const fp_site *rel = fp__rec_release_site(s);
            const char *f = fp__site_file(rel);
            fp__log(s->pool, FP_LOG_ERROR,
                   "FrameInterface->AddRef of surface %p whose reference count is 0 (released at %s:%d)",
                   (void *)surf, f ? f : "?", fp__site_line(rel));
            fp__pool_note_misuse(s->pool);
            return MFX_ERR_UNDEFINED_BEHAVIOR;
        }
        if (FP_UNLIKELY(v == INT_MAX)) {
            /* Saturated, as fp_frame_ref: pinned for good, never wrapped. */
            fp__log(s->pool, FP_LOG_ERROR, "FrameInterface->AddRef of surface %p: reference count saturated",
                   (void *)surf);
            fp__pool_note_misuse(s->pool);
            return MFX_ERR_UNDEFINED_BEHAVIOR;
        }
    } while (!atomic_compare_exchange_weak_explicit(&s->refs, &v, v + 1, RLX, RLX));
    return MFX_ERR_NONE;
}

static mfxStatus MFX_CDECL vpl_release(mfxFrameSurface1 *surf)
{
    fp_slot *s;
    mfxStatus st = lookup(surf, "FrameInterface->Release", &s);
    if (st != MFX_ERR_NONE)
        return st;
    if (fp__slot_unref(s, &rel_iface_site) < 0)
        return MFX_ERR_UNDEFINED_BEHAVIOR;
    return MFX_ERR_NONE;
}

static mfxStatus MFX_CDECL vpl_get_ref_counter(mfxFrameSurface1 *surf, mfxU32 *counter)
{
    if (!surf || !counter)
        return MFX_ERR_NULL_PTR;
    fp_slot *s;
    mfxStatus st = lookup(surf, "FrameInterface->GetRefCounter", &s);
    if (st != MFX_ERR_NONE)
        return st;
    int v = atomic_load_explicit(&s->refs, ACQ);
    *counter = v > 0 ? (mfxU32)v : 0;
    return MFX_ERR_NONE;
}

/* Map/Unmap on a surface nobody holds: the caller lost track of it. */
static bool dead_surface(fp_slot *s, mfxFrameSurface1 *surf, const char *what)
{
    if (FP_LIKELY(atomic_load_explicit(&s->refs, RLX) > 0))
        return false;
    fp__log(s->pool, FP_LOG_ERROR, "%s of surface %p whose reference count is 0", what, (void *)surf);
    fp__pool_note_misuse(s->pool);
    return true;
}

static mfxStatus MFX_CDECL vpl_map(mfxFrameSurface1 *surf, mfxU32 flags)
{
    fp_slot *s;
    mfxStatus st = lookup(surf, "FrameInterface->Map", &s);
    if (st != MFX_ERR_NONE)
        return st;
    mfxU32 mode = flags & ~(mfxU32)MFX_MAP_NOWAIT;
    if (mode != MFX_MAP_READ && mode != MFX_MAP_WRITE && mode != MFX_MAP_READ_WRITE)
        return MFX_ERR_UNSUPPORTED;
    if (dead_surface(s, surf, "FrameInterface->Map"))
        return MFX_ERR_INVALID_HANDLE;
    vpl_slot *vs = vslot(s->pool, s);
    if (mode & MFX_MAP_WRITE) {
        if (locked_of(vs) != 0)
            return MFX_ERR_LOCK_MEMORY;
        uint32_t expect = 0;
        if (!atomic_compare_exchange_strong_explicit(&vs->map, &expect, MAP_WRITER, ACQ, RLX))
            return MFX_ERR_LOCK_MEMORY;
        return MFX_ERR_NONE;
    }
    /* Shared read; a writer holds it off (the spec's wait, or NOWAIT's error).
     * Writers are other threads filling the frame: poll, do not sleep long. */
    uint32_t m = atomic_load_explicit(&vs->map, RLX);
    for (unsigned spins = 0;;) {
        if (m & MAP_WRITER) {
            if (flags & MFX_MAP_NOWAIT)
                return MFX_ERR_RESOURCE_MAPPED;
            if (++spins < 64) {
                sched_yield();
            } else {
                struct timespec ts = { 0, 50000 };
                nanosleep(&ts, NULL);
            }
            m = atomic_load_explicit(&vs->map, RLX);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&vs->map, &m, m + 1, ACQ, RLX))
            return MFX_ERR_NONE;
    }
}

static mfxStatus MFX_CDECL vpl_unmap(mfxFrameSurface1 *surf)
{
    fp_slot *s;
    mfxStatus st = lookup(surf, "FrameInterface->Unmap", &s);
    if (st != MFX_ERR_NONE)
        return st;
    if (dead_surface(s, surf, "FrameInterface->Unmap"))
        return MFX_ERR_INVALID_HANDLE;
    vpl_slot *vs = vslot(s->pool, s);
    uint32_t m = atomic_load_explicit(&vs->map, RLX);
    do {
        if (m == 0)
            return MFX_ERR_UNSUPPORTED;
    } while (!atomic_compare_exchange_weak_explicit(&vs->map, &m, (m & MAP_WRITER) ? 0 : m - 1, REL, RLX));
    return MFX_ERR_NONE;
}

static mfxStatus MFX_CDECL vpl_get_native_handle(mfxFrameSurface1 *surf, mfxHDL *resource,
                                                 mfxResourceType *resource_type)
{
    if (!surf || !resource || !resource_type)
        return MFX_ERR_NULL_PTR;
    fp_slot *s;
    mfxStatus st = lookup(surf, "FrameInterface->GetNativeHandle", &s);
    if (st != MFX_ERR_NONE)
        return st;
    *resource = NULL;
    *resource_type = MFX_RESOURCE_SYSTEM_SURFACE;
    return MFX_ERR_UNSUPPORTED;
}

static mfxStatus MFX_CDECL vpl_get_device_handle(mfxFrameSurface1 *surf, mfxHDL *device_handle,
                                                 mfxHandleType *device_type)
{
    if (!surf || !device_handle || !device_type)
        return MFX_ERR_NULL_PTR;
    fp_slot *s;
    mfxStatus st = lookup(surf, "FrameInterface->GetDeviceHandle", &s);
    if (st != MFX_ERR_NONE)
        return st;
    *device_handle = NULL;
    *device_type = (mfxHandleType)0;
    return MFX_ERR_UNSUPPORTED;
}

static mfxStatus MFX_CDECL vpl_synchronize(mfxFrameSurface1 *surf, mfxU32 wait)
{
    (void)wait;
    fp_slot *s;
    return lookup(surf, "FrameInterface->Synchronize", &s);
}

static void MFX_CDECL vpl_on_complete(mfxStatus sts)
{
    (void)sts; /* no surface argument: nothing to attach it to */
}

static mfxStatus MFX_CDECL vpl_query_interface(mfxFrameSurface1 *surf, mfxGUID guid, mfxHDL *iface)
{
    (void)guid;
    if (!surf || !iface)
        return MFX_ERR_NULL_PTR;
    *iface = NULL;
    fp_slot *s;
    mfxStatus st = lookup(surf, "FrameInterface->QueryInterface", &s);
    if (st != MFX_ERR_NONE)
        return st;
    return MFX_ERR_NOT_IMPLEMENTED;
}

/* ------------------------------------------------------------------------- */
/* Core hooks                                                                */

static bool vpl_can_return(fp_pool *pool, fp_slot *s)
{
    return locked_of(vslot(pool, s)) == 0;
}

static void vpl_slot_backed(fp_pool *pool, fp_slot *s)
{
    surface_reset(pool, s, vslot(pool, s));
}

static void vpl_destroy(fp_pool *pool)
{
    vpl_pool *vp = pool->adapter;
    vp->key = 0;
    fp__region_free(vp, sizeof(*vp));
}

static int vpl_reconfigure(fp_pool *pool, const fp_pool_config *cfg, fp__geom *g);

static const fp__pool_ops vpl_ops = {
    .kind = "vpl",
    .can_return = vpl_can_return,
    .slot_backed = vpl_slot_backed,
    .destroy = vpl_destroy,
    .reconfigure = vpl_reconfigure,
};

static bool is_vpl_pool(const fp_pool *pool)
{
    return fp__pool_check(pool) && pool->ops == &vpl_ops;
}

/* ------------------------------------------------------------------------- */
/* Creation                                                                  */

static const char *fourcc_str(mfxU32 f, char buf[16])
{
    char c[4] = { (char)(f & 0xFF), (char)((f >> 8) & 0xFF), (char)((f >> 16) & 0xFF), (char)(f >> 24) };
    bool printable = true;
    for (int i = 0; i < 4; i++)
        printable = printable && c[i] >= 0x20 && c[i] < 0x7F;
    if (printable)
        snprintf(buf, 16, "'%c%c%c%c'", c[0], c[1], c[2], c[3]);
    else
        snprintf(buf, 16, "0x%08x", (unsigned)f);
    return buf;
}

static bool is_progressive(mfxU16 ps)
{
    return (ps & MFX_PICSTRUCT_PROGRESSIVE) &&
           !(ps & (MFX_PICSTRUCT_FIELD_TFF | MFX_PICSTRUCT_FIELD_BFF | MFX_PICSTRUCT_FIELD_SINGLE));
}

/* Lays out one surface (see vpl.h); FP_ERR(EOVERFLOW) when it does not fit. */
static int vpl_layout(mfxU32 fourcc, size_t w, size_t h, size_t align, fp__layout *l, size_t *pitch_out)
{
    size_t bpp = fourcc == MFX_FOURCC_RGB4 ? 4 : (fourcc == MFX_FOURCC_P010 || fourcc == MFX_FOURCC_YUY2) ? 2 : 1;
    /* I420 chroma rows are Pitch / 2 (runtimes assume it): keep them aligned. */
    size_t pitch = fp__align_up(w * bpp, fourcc == MFX_FOURCC_I420 ? 2 * align : align);
    size_t luma, size;
    *l = (fp__layout){ 0 };
    if (pitch > INT32_MAX || __builtin_mul_overflow(pitch, h, &luma))
        return FP_ERR(EOVERFLOW);
    l->linesize[0] = (int)pitch;
    switch (fourcc) {
    case MFX_FOURCC_NV12:
    case MFX_FOURCC_P010:
        l->nb_planes = 2;
        l->linesize[1] = (int)pitch;
        l->offset[1] = luma;
        break;
    case MFX_FOURCC_I420:
        l->nb_planes = 3;
        l->linesize[1] = l->linesize[2] = (int)(pitch / 2);
        l->offset[1] = luma;
        l->offset[2] = luma + luma / 4;
        break;
    default:
        l->nb_planes = 1;
        break;
    }
    if (__builtin_add_overflow(luma, l->nb_planes > 1 ? luma / 2 : 0, &size) ||
        size > SIZE_MAX - FP_TAIL_PADDING - align)
        return FP_ERR(EOVERFLOW);
    l->size = size;
    l->alloc_size = fp__align_up(size + FP_TAIL_PADDING, align);
    *pitch_out = pitch;
    return 0;
}

static bool cfg_dim_ok(int v, mfxU16 given, size_t rounded, mfxU16 crop)
{
    return v == 0 || v == (int)given || (size_t)v == rounded || (crop && v == (int)crop);
}

/* The geometry of surfaces described by `info` (align: the pool's); logs
 * through `pool` (or `cfg` before there is one) with `what` as the caller. */
static int vpl_make_geom(const mfxFrameInfo *info, size_t align, fp_pool *pool, const fp_pool_config *cfg,
                         const char *what, fp__geom *g, size_t *w_out, size_t *h_out)
{
#define VPL_LOG(...) (pool ? fp__log(pool, FP_LOG_ERROR, __VA_ARGS__) : fp__log_cfg(cfg, FP_LOG_ERROR, __VA_ARGS__))
    char fcc[16];
    enum fp_format fmt;
    switch (info->FourCC) {
    case MFX_FOURCC_NV12: fmt = FP_FMT_NV12; break;
    case MFX_FOURCC_I420: fmt = FP_FMT_YUV420P; break;
    case MFX_FOURCC_P010: fmt = FP_FMT_P010; break;
    case MFX_FOURCC_YUY2: fmt = FP_FMT_YUYV422; break;
    case MFX_FOURCC_RGB4: fmt = FP_FMT_BGRA; break;
    default:
        VPL_LOG("%s: FourCC %s is not supported (NV12, I420, P010, YUY2, RGB4)", what, fourcc_str(info->FourCC, fcc));
        return FP_ERR(EINVAL);
    }
    fourcc_str(info->FourCC, fcc);
    size_t w = fp__align_up(info->Width, 16);
    size_t h = fp__align_up(info->Height, is_progressive(info->PicStruct) ? 16 : 32);
    if (info->Width == 0 || info->Height == 0 || w > FP_MAX_DIMENSION || h > FP_MAX_DIMENSION) {
        VPL_LOG("%s: %s frame %ux%u (rounded %zux%zu) is outside 1..%d", what, fcc, (unsigned)info->Width,
                (unsigned)info->Height, w, h, FP_MAX_DIMENSION);
        return FP_ERR(EINVAL);
    }
    if ((size_t)info->CropX + info->CropW > w || (size_t)info->CropY + info->CropH > h) {
        VPL_LOG("%s: crop %ux%u at (%u,%u) does not fit the %zux%zu frame", what, (unsigned)info->CropW,
                (unsigned)info->CropH, (unsigned)info->CropX, (unsigned)info->CropY, w, h);
        return FP_ERR(EINVAL);
    }
    memset(g, 0, sizeof(*g));
    size_t pitch;
    if (vpl_layout(info->FourCC, w, h, align, &g->layout, &pitch) < 0) {
        VPL_LOG("%s: %s %zux%zu: frame size overflows", what, fcc, w, h);
        return FP_ERR(EOVERFLOW);
    }
#undef VPL_LOG
    g->format = fmt;
    g->width = (int)w;
    g->height = (int)h;
    g->mem_align = align;
    vpl_geom vg;
    memset(&vg, 0, sizeof(vg));
    vg.info = *info;
    vg.info.Width = (mfxU16)w;
    vg.info.Height = (mfxU16)h;
    vg.fourcc = info->FourCC;
    vg.pitch_high = (mfxU16)(pitch >> 16);
    vg.pitch_low = (mfxU16)(pitch & 0xFFFF);
    memcpy(g->adapter, &vg, sizeof(vg));
    *w_out = w;
    *h_out = h;
    return 0;
}

static int pool_create_site(fp_pool **out, const mfxFrameInfo *info, const fp_pool_config *user_cfg,
                            const fp_site *site)
{
    if (out)
        *out = NULL;
    fp_pool_config cfg;
    if (user_cfg) {
        cfg = *user_cfg;
    } else {
        fp_pool_config_default(&cfg);
        cfg.name = "vpl";
        cfg.max_frames = 16;
    }
    if (!out || !info) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "fp_vpl_pool_create: %s is NULL", !out ? "out" : "info");
        return FP_ERR(EINVAL);
    }
    if (!fp__align_ok(cfg.align)) {
        fp__log_bad_align(&cfg);
        return FP_ERR(EINVAL);
    }
    size_t align = cfg.align < 64 ? 64 : (size_t)cfg.align;
    fp__geom g;
    size_t w, h;
    int ret = vpl_make_geom(info, align, NULL, &cfg, "fp_vpl_pool_create", &g, &w, &h);
    if (ret < 0)
        return ret;
    char fcc[16];
    fourcc_str(info->FourCC, fcc);
    enum fp_format fmt = (enum fp_format)g.format;
    if (cfg.format != FP_FMT_NONE && cfg.format != fmt) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "invalid config: format %s conflicts with FourCC %s (%s)",
                   fp__format_name(cfg.format), fcc, fp__format_name(fmt));
        return FP_ERR(EINVAL);
    }
    if (!cfg_dim_ok(cfg.width, info->Width, w, info->CropW) ||
        !cfg_dim_ok(cfg.height, info->Height, h, info->CropH)) {
        bool wbad = !cfg_dim_ok(cfg.width, info->Width, w, info->CropW);
        fp__log_cfg(&cfg, FP_LOG_ERROR, "invalid config: %s %d conflicts with the frame info (%u, rounded %zu)",
                   wbad ? "width" : "height", wbad ? cfg.width : cfg.height,
                   wbad ? (unsigned)info->Width : (unsigned)info->Height, wbad ? w : h);
        return FP_ERR(EINVAL);
    }
    if (cfg.buffer_size != 0) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "invalid config: buffer_size %zu must be 0 for surfaces", cfg.buffer_size);
        return FP_ERR(EINVAL);
    }

    vpl_pool *vp = fp__region_alloc(sizeof(*vp));
    if (!vp) {
        fp__log_cfg(&cfg, FP_LOG_ERROR, "fp_vpl_pool_create: out of memory");
        return FP_ERR(ENOMEM);
    }
    vp->iface.Context = vp;
    vp->iface.Version.Version = MFX_FRAMESURFACEINTERFACE_VERSION;
    vp->iface.AddRef = vpl_add_ref;
    vp->iface.Release = vpl_release;
    vp->iface.GetRefCounter = vpl_get_ref_counter;
    vp->iface.Map = vpl_map;
    vp->iface.Unmap = vpl_unmap;
    vp->iface.GetNativeHandle = vpl_get_native_handle;
    vp->iface.GetDeviceHandle = vpl_get_device_handle;
    vp->iface.Synchronize = vpl_synchronize;
    vp->iface.OnComplete = vpl_on_complete;
    vp->iface.QueryInterface = vpl_query_interface;
    cfg.format = fmt;
    cfg.width = (int)w;
    cfg.height = (int)h;
    cfg.align = (int)align;
    fp__pool_params params = {
        .cfg = &cfg,
        .layout = &g.layout,
        .frame_format = fmt,
        .ops = &vpl_ops,
        .extra_size = sizeof(vpl_slot),
        .adapter = vp,
        .site = site,
        .geom_adapter = g.adapter,
    };
    fp_pool *pool;
    ret = fp__pool_create_ex(&pool, &params);
    if (ret < 0) {
        fp__region_free(vp, sizeof(*vp));
        return ret;
    }
    vp->pool = pool;
    vp->key = VPL_KEY ^ (uintptr_t)vp;
    vpl_geom vg = vpl_geom_of(&g);
    fp__log(pool, FP_LOG_DEBUG, "vpl: %s %ux%u -> %zux%zu, pitch %u, crop %ux%u at (%u,%u)", fcc,
           (unsigned)info->Width, (unsigned)info->Height, w, h, ((unsigned)vg.pitch_high << 16) | vg.pitch_low,
           (unsigned)info->CropW, (unsigned)info->CropH, (unsigned)info->CropX, (unsigned)info->CropY);
    *out = pool;
    return 0;
}

int fp_vpl_pool_reconfigure(fp_pool *pool, const mfxFrameInfo *info)
{
    if (!is_vpl_pool(pool) || !info) {
        if (pool && !fp__pool_check(pool)) {
            fp__misuse_global_inc();
            fp__log_cfg(NULL, FP_LOG_ERROR, "fp_vpl_pool_reconfigure: %p is not a framepool pool", (void *)pool);
        } else if (pool) {
            fp__log(pool, FP_LOG_ERROR, "fp_vpl_pool_reconfigure: %s", !info ? "info is NULL"
                                                                          : "not a pool made by fp_vpl_pool_create");
        } else {
            fp__log_cfg(NULL, FP_LOG_ERROR, "fp_vpl_pool_reconfigure: pool is NULL");
        }
        return FP_ERR(EINVAL);
    }
    fp__geom cur, g;
    fp__pool_geom_copy(pool, &cur);
    size_t w, h;
    int ret = vpl_make_geom(info, cur.mem_align, pool, NULL, "fp_vpl_pool_reconfigure", &g, &w, &h);
    if (ret < 0)
        return ret;
    return fp__pool_set_geometry(pool, &g);
}

/* fp_pool_reconfigure() on a oneVPL pool: the surfaces' description is an
 * mfxFrameInfo, which a core config cannot carry. */
static int vpl_reconfigure(fp_pool *pool, const fp_pool_config *cfg, fp__geom *g)
{
    (void)cfg;
    (void)g;
    fp__log(pool, FP_LOG_ERROR, "fp_pool_reconfigure: a oneVPL pool takes fp_vpl_pool_reconfigure(pool, &info)");
    return FP_ERR(EINVAL);
}

int fp_vpl_pool_create_site(fp_pool **out, const mfxFrameInfo *info, const fp_pool_config *user_cfg,
                            const fp_site *site)
{
    return pool_create_site(out, info, user_cfg, site);
}

int fp_vpl_pool_create_at(fp_pool **out, const mfxFrameInfo *info, const fp_pool_config *user_cfg,
                          const char *file, int line, const char *func)
{
    return pool_create_site(out, info, user_cfg, fp__site_intern(file, line, func));
}

/* The ABI's function (and for callers who #undef the macro): no site. */
int (fp_vpl_pool_create)(fp_pool **out, const mfxFrameInfo *info, const fp_pool_config *user_cfg)
{
    return pool_create_site(out, info, user_cfg, NULL);
}

int fp_vpl_frames_for_request(const mfxFrameAllocRequest *request, int app_frames)
{
    if (!request || app_frames < 0)
        return FP_ERR(EINVAL);
    long n = request->NumFrameSuggested > request->NumFrameMin ? request->NumFrameSuggested
                                                               : request->NumFrameMin;
    n += app_frames;
    if (n == 0)
        return FP_ERR(EINVAL);
    if (n > FP_MAX_FRAMES)
        return FP_ERR(ERANGE);
    return (int)n;
}

int fp_vpl_pool_frame_info(const fp_pool *pool, mfxFrameInfo *info)
{
    if (!is_vpl_pool(pool) || !info) {
        if (pool && !fp__pool_check(pool)) {
            fp__misuse_global_inc();
            fp__log_cfg(NULL, FP_LOG_ERROR, "fp_vpl_pool_frame_info: %p is not a framepool pool", (const void *)pool);
        }
        return FP_ERR(EINVAL);
    }
    fp__geom g;
    fp__pool_geom_copy((fp_pool *)pool, &g);
    *info = vpl_geom_of(&g).info;
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Acquire and release                                                       */

int fp_vpl_acquire_site(fp_pool *pool, int64_t timeout_us, mfxFrameSurface1 **out, const fp_site *site)
{
    if (out)
        *out = NULL;
    if (FP_UNLIKELY(pool && !is_vpl_pool(pool))) {
        const char *file = fp__site_file(site);
        if (fp__pool_check(pool)) {
            fp__log(pool, FP_LOG_ERROR, "fp_vpl_acquire at %s:%d: not a pool made by fp_vpl_pool_create",
                   file ? file : "?", fp__site_line(site));
        } else {
            fp__misuse_global_inc();
            fp__log_cfg(NULL, FP_LOG_ERROR, "fp_vpl_acquire at %s:%d: %p is not a framepool pool",
                       file ? file : "?", fp__site_line(site), (void *)pool);
        }
        return FP_ERR(EINVAL);
    }
    fp_frame *f;
    int ret = fp__pool_acquire_internal(pool, timeout_us, out ? &f : NULL, site);
    if (ret < 0)
        return ret;
    fp_slot *s = fp__slot_from_frame(f);
    vpl_slot *vs = vslot(pool, s);
    surface_reset(pool, s, vs);
    *out = &vs->surf;
    return 0;
}

int fp_vpl_acquire_at(fp_pool *pool, int64_t timeout_us, mfxFrameSurface1 **out, const char *file, int line,
                      const char *func)
{
    return fp_vpl_acquire_site(pool, timeout_us, out, fp__site_intern_pool(fp__pool_check(pool) ? pool : NULL, file, line, func));
}

int fp_vpl_release_site(mfxFrameSurface1 **ps, const fp_site *site)
{
    mfxFrameSurface1 *surf;
    if (!ps || !(surf = *ps))
        return 0;
    *ps = NULL;
    vpl_pool *owner;
    fp_slot *s = slot_of_surface(surf, &owner);
    if (FP_UNLIKELY(!s)) {
        foreign_surface(surf, owner, "fp_vpl_release");
        return FP_ERR(EINVAL);
    }
    return fp__slot_unref(s, site);
}

int fp_vpl_release_at(mfxFrameSurface1 **ps, const char *file, int line, const char *func)
{
    if (!ps || !*ps)
        return 0;
    return fp_vpl_release_site(ps, fp__site_intern(file, line, func));
}

static const fp_site autorelease_site = { "FP_AUTO_SURFACE", "FP_AUTO_SURFACE", 0 };

void fp_vpl_surface_autorelease(mfxFrameSurface1 **surface)
{
    fp_vpl_release_site(surface, &autorelease_site);
}

fp_frame *fp_vpl_surface_frame(const mfxFrameSurface1 *surface)
{
    if (!surface)
        return NULL;
    vpl_pool *owner;
    fp_slot *s = slot_of_surface(surface, &owner);
    return s ? &s->frame : NULL;
}

mfxFrameSurface1 *fp_vpl_frame_surface(const fp_frame *frame)
{
    fp_slot *s = fp__slot_of(frame);
    if (!s || !is_vpl_pool(s->pool))
        return NULL;
    return &vslot(s->pool, s)->surf;
}
