/*
 * framepool: bounded, reference-counted video frame pools.
 * SPDX-License-Identifier: MIT
 */
/**
 * @file vpl.h
 * @brief oneVPL adapter: pooled system-memory mfxFrameSurface1 for encoders
 *        (and anything else that reads app surfaces), honouring both the 2.x
 *        refcount model and the 1.x `Data.Locked` model.
 *
 * A pool made by fp_vpl_pool_create() hands out surfaces with
 * `Version` 1.1 and a `FrameInterface` implemented by the pool. A surface goes
 * back to the free list only when its reference count is 0 **and**
 * `Data.Locked` is 0:
 *
 * - 2.x runtimes (Intel's GPU runtime, the CPU reference runtime) take a
 *   reference with `FrameInterface->AddRef` while they use a surface and drop
 *   it with `FrameInterface->Release`, from any thread. The reference count
 *   of a surface is the reference count of its pool frame
 *   (fp_vpl_surface_frame()), so fp_frame_ref()/fp_frame_unref() on that
 *   frame and AddRef/Release on the surface are interchangeable.
 * - 1.x-style code raises `Data.Locked` while it holds a surface and lowers it
 *   later, without calling anything. A surface whose last reference is dropped
 *   while `Data.Locked` > 0 stays live ("held by the runtime":
 *   fp_pool_stats::held_by_runtime) and is reclaimed once `Data.Locked` reads
 *   0, by the first of: an acquire that finds no free surface, a
 *   fp_pool_get_stats() call, or a waiting acquire (waiters look every 0.5 ms
 *   while such surfaces exist). `Data.Locked` is read with an atomic acquire
 *   load; whoever changes it from another thread must do so atomically (as
 *   the runtimes do).
 *
 * Acquiring a free surface is O(1): no scan over the surfaces' `Locked`
 * fields. See doc/vpl.md for the layouts, the runtimes' sequences and sizing.
 *
 * Surfaces are system memory: plane pointers are valid from acquire to the
 * last release; `Map`/`Unmap` only enforce the access rules (shared read,
 * exclusive write, no write while `Data.Locked` > 0) and never clear the
 * pointers.
 *
 * `FrameInterface` of a pool surface (every function returns MFX_ERR_NULL_PTR
 * for a NULL surface or NULL output argument, and MFX_ERR_INVALID_HANDLE for a
 * surface that is not a pool surface: no or a foreign
 * `FrameInterface`, or a copy of a pool surface — counted as misuse; a
 * `FrameInterface` pointer is checked against the pools' memory before
 * anything is read through it, so garbage or a pointer to someone else's
 * small object is refused, not dereferenced):
 * - `AddRef`: MFX_ERR_NONE; MFX_ERR_UNDEFINED_BEHAVIOR when the count is 0
 *   (the surface was released: it is not revived; logged, counted as misuse).
 * - `Release`: MFX_ERR_NONE (the last one returns the surface, or defers it
 *   while `Data.Locked` > 0); MFX_ERR_UNDEFINED_BEHAVIOR when the count is
 *   already 0 (logged with the acquire and release sites, counted as misuse).
 *   Any thread.
 * - `GetRefCounter`: MFX_ERR_NONE with the current count (0 once released).
 * - `Map(flags)`: flags must be MFX_MAP_READ, MFX_MAP_WRITE or
 *   MFX_MAP_READ_WRITE, optionally with MFX_MAP_NOWAIT, else
 *   MFX_ERR_UNSUPPORTED. Write (or read-write) access is exclusive:
 *   MFX_ERR_LOCK_MEMORY while `Data.Locked` > 0 or while the surface is
 *   mapped by anyone. Read access is shared and allowed with any `Locked`;
 *   while a writer has it mapped, a read waits for the writer's Unmap, or
 *   fails at once with MFX_ERR_RESOURCE_MAPPED under MFX_MAP_NOWAIT.
 *   MFX_ERR_INVALID_HANDLE on a released surface (misuse).
 * - `Unmap`: MFX_ERR_NONE, undoing one Map; MFX_ERR_UNSUPPORTED when the
 *   surface is not mapped; MFX_ERR_INVALID_HANDLE on a released surface
 *   (misuse). Plane pointers are left as they are.
 * - `GetNativeHandle`, `GetDeviceHandle`: MFX_ERR_UNSUPPORTED (system memory),
 *   outputs set to NULL and MFX_RESOURCE_SYSTEM_SURFACE / 0.
 * - `Synchronize`: MFX_ERR_NONE (system memory; the pool has nothing pending).
 * - `QueryInterface`: MFX_ERR_NOT_IMPLEMENTED, `*iface` set to NULL.
 * - `OnComplete`: does nothing.
 */
#ifndef FRAMEPOOL_VPL_H
#define FRAMEPOOL_VPL_H

#include <vpl/mfxstructures.h>

#include "framepool.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Creates a pool of system-memory surfaces described by `info`.
 *
 * Supported `info->FourCC`: MFX_FOURCC_NV12, MFX_FOURCC_I420 (IYUV),
 * MFX_FOURCC_P010, MFX_FOURCC_YUY2 and MFX_FOURCC_RGB4 (BGRA); the pool
 * frames' fp_frame::format is FP_FMT_NV12, FP_FMT_YUV420P, FP_FMT_P010,
 * FP_FMT_YUYV422 or FP_FMT_BGRA.
 *
 * Every surface is laid out the way oneVPL runtimes read system memory:
 * - `Info.Width` is rounded up to a multiple of 16, `Info.Height` to 16 for
 *   progressive content (`PicStruct` has MFX_PICSTRUCT_PROGRESSIVE and no
 *   field bits) or 32 otherwise; every other field of `info`, `CropX/Y/W/H`
 *   included, is kept as given.
 * - `Data.Pitch` (`PitchLow`, and `PitchHigh` for pitches above 65535) is the
 *   row size rounded up to a multiple of the alignment (64, or cfg->align when
 *   larger); for I420 to twice that, so the chroma pitch `Pitch / 2`, which
 *   runtimes assume, stays aligned too.
 * - NV12/P010: the UV plane starts at `Y + Pitch * Height`, `V = U + 1` (NV12)
 *   or `U + 2` (P010). I420: U at `Y + Pitch * Height`, V after U, both with
 *   pitch `Pitch / 2`. YUY2: `U = Y + 1`, `V = Y + 3`. RGB4: `B` is the base,
 *   `G = B + 1`, `R = B + 2`, `A = B + 3`. Plane pointers are aligned like the
 *   pitch.
 *
 * The pool frames' fp_frame::width/height are the rounded `Width`/`Height`;
 * data[]/linesize[] describe the same planes as the surface.
 *
 * @param out  receives the pool (one reference) on success, NULL on failure
 * @param info frame description (e.g. the encoder's mfxVideoParam::mfx.FrameInfo); copied
 * @param cfg  settings, or NULL for defaults (max_frames then 16). Its
 *             `format` must be FP_FMT_NONE or the FourCC's format, `width` and
 *             `height` 0 or the given, rounded or crop size, `buffer_size` 0,
 *             `align` a power of two up to 4096 (values below 64 mean 64).
 * @return 0;
 *         FP_ERR(EINVAL) for NULL `out`/`info`, an unsupported FourCC, a zero or
 *         too large (rounded size above FP_MAX_DIMENSION) geometry, a crop
 *         rectangle outside the rounded frame, conflicting or invalid cfg
 *         fields (a log line names the field);
 *         FP_ERR(EOVERFLOW) when a frame's byte size does not fit in size_t;
 *         FP_ERR(ENOMEM)
 */
FP_API int fp_vpl_pool_create(fp_pool **out, const mfxFrameInfo *info, const fp_pool_config *cfg);

/**
 * fp_vpl_pool_create() recording the creation site (see fp_pool_create_site()).
 * The fp_vpl_pool_create() macro calls it with the caller's site; the function
 * fp_vpl_pool_create() itself (ABI, `#undef`, its address) records none.
 * @param out as for fp_vpl_pool_create()
 * @param info as for fp_vpl_pool_create()
 * @param cfg as for fp_vpl_pool_create()
 * @param site where the call is; must outlive the pool (NULL: unknown site)
 * @return as fp_vpl_pool_create()
 */
FP_API int fp_vpl_pool_create_site(fp_pool **out, const mfxFrameInfo *info, const fp_pool_config *cfg,
                                   const fp_site *site);
/**
 * fp_vpl_pool_create_site() with the site as file, line and function (see fp_pool_create_at()).
 * @param out as for fp_vpl_pool_create()
 * @param info as for fp_vpl_pool_create()
 * @param cfg as for fp_vpl_pool_create()
 * @param file creation site file name (`__FILE__`)
 * @param line creation site line (`__LINE__`)
 * @param func creation site function name (`__func__`)
 * @return as fp_vpl_pool_create()
 */
FP_API int fp_vpl_pool_create_at(fp_pool **out, const mfxFrameInfo *info, const fp_pool_config *cfg,
                                 const char *file, int line, const char *func);
#ifdef FP_SITE_HERE
/** Creates a surface pool (see fp_vpl_pool_create_site()); the caller's site is the creation site. */
# define fp_vpl_pool_create(out, info, cfg) fp_vpl_pool_create_site((out), (info), (cfg), FP_SITE_HERE())
#else
# define fp_vpl_pool_create(out, info, cfg) \
    fp_vpl_pool_create_at((out), (info), (cfg), __FILE__, __LINE__, __func__)
#endif

/**
 * Sizes a pool from what a component asked for (e.g. what
 * MFXVideoENCODE_QueryIOSurf() returned) plus the frames the application
 * itself holds at the same time (the one it is filling, look-ahead, ...):
 * `max(NumFrameSuggested, NumFrameMin) + app_frames`.
 *
 * Use the result as fp_pool_config::max_frames (and as min_frames to allocate
 * everything up front).
 *
 * @param request    what the component asked for
 * @param app_frames frames the application holds at the same time, >= 0
 * @return the number of frames, >= 1;
 *         FP_ERR(EINVAL) for a NULL request, a negative `app_frames` or a total of 0;
 *         FP_ERR(ERANGE) when the total exceeds FP_MAX_FRAMES
 */
FP_API int fp_vpl_frames_for_request(const mfxFrameAllocRequest *request, int app_frames);

/**
 * Copies the frame description of a pool's surfaces (with the rounded
 * `Width`/`Height`): what to put in the encoder's mfxVideoParam::mfx.FrameInfo.
 * @param pool a pool made by fp_vpl_pool_create()
 * @param info receives the description
 * @return 0, or FP_ERR(EINVAL) for NULL arguments or a pool not made by fp_vpl_pool_create()
 */
FP_API int fp_vpl_pool_frame_info(const fp_pool *pool, mfxFrameInfo *info);

/**
 * New surfaces get the description `info` from now on: a new generation
 * (fp_pool_reconfigure()'s rules), for an encoder reset to another size or
 * format (`MFXVideoENCODE_Reset` with a new `mfxFrameInfo`). `info` is checked
 * and rounded as by fp_vpl_pool_create(); the alignment stays the pool's.
 * Surfaces of older generations stay valid with their own `Info`; each is
 * freed when its last reference is gone and the runtime has unlocked it
 * (`Data.Locked` 0), never handed out again. fp_vpl_pool_frame_info() then
 * describes the new surfaces. (fp_pool_reconfigure() on a oneVPL pool is
 * refused with FP_ERR(EINVAL): a core config cannot carry an mfxFrameInfo.)
 *
 * May block on: the pool's lock (short) and the allocator (min_frames).
 * @param pool a pool made by fp_vpl_pool_create()
 * @param info the new surface description
 * @return the new generation (> 0; the current one if nothing changed),
 *         FP_ERR(EINVAL) (NULL, not a oneVPL pool, an `info` that
 *         fp_vpl_pool_create() refuses; logged), FP_ERR(EOVERFLOW),
 *         FP_ERR(ESHUTDOWN), FP_ERR(ENOMEM)
 */
FP_API int fp_vpl_pool_reconfigure(fp_pool *pool, const mfxFrameInfo *info);

/**
 * Takes a surface with reference count 1. Use the fp_vpl_acquire() macro,
 * which records the call site for reports.
 *
 * The surface is reset on every acquire: `Version` 1.1, `FrameInterface` set,
 * `Info` as the pool's (crops included), `Data.Locked` 0, plane pointers and
 * `Data.Pitch`/`PitchHigh` set, `Data.MemId` NULL, `Data.MemType`
 * MFX_MEMTYPE_SYSTEM_MEMORY | MFX_MEMTYPE_EXTERNAL_FRAME, `Data.TimeStamp`
 * MFX_TIMESTAMP_UNKNOWN, `Data.FrameOrder` MFX_FRAMEORDER_UNKNOWN, no ext
 * buffers, no corruption flags, not mapped. The pixels are whatever the
 * previous user left (zeroed with FP_POOL_ZERO).
 *
 * Release it with fp_vpl_release() or `surface->FrameInterface->Release(surface)`.
 *
 * @param pool a pool made by fp_vpl_pool_create()
 * @param timeout_us 0: never wait; FP_WAIT_FOREVER: wait for a surface or
 *                   close; > 0: wait at most that many microseconds
 * @param out receives the surface on success, NULL on failure
 * @param file call site file name, kept for reports (the macro passes `__FILE__`)
 * @param line call site line (`__LINE__`)
 * @param func call site function name (`__func__`)
 * @return 0;
 *         FP_ERR(EAGAIN) no free surface and timeout_us == 0;
 *         FP_ERR(ETIMEDOUT) none came back in time;
 *         FP_ERR(ESHUTDOWN) the pool is closed;
 *         FP_ERR(ENOMEM) a new surface had to be allocated and that failed;
 *         FP_ERR(EINVAL) NULL `pool`/`out`, a negative timeout other than
 *         FP_WAIT_FOREVER, or a pool not made by fp_vpl_pool_create().
 *         `*out` is NULL on failure.
 */
FP_API int fp_vpl_acquire_at(fp_pool *pool, int64_t timeout_us, mfxFrameSurface1 **out, const char *file,
                             int line, const char *func);
/**
 * fp_vpl_acquire_at() with the site as one pointer (see fp_pool_acquire_site()).
 * @param pool a pool made by fp_vpl_pool_create()
 * @param timeout_us as for fp_pool_acquire()
 * @param out receives the surface; NULL on failure
 * @param site where the call is; must outlive the pool (NULL: unknown site)
 * @return as fp_vpl_acquire_at()
 */
FP_API int fp_vpl_acquire_site(fp_pool *pool, int64_t timeout_us, mfxFrameSurface1 **out, const fp_site *site);
#ifdef FP_SITE_HERE
/** fp_vpl_acquire_at() with the caller's file, line and function as the acquire site. */
# define fp_vpl_acquire(pool, timeout_us, out) fp_vpl_acquire_site((pool), (timeout_us), (out), FP_SITE_HERE())
#else
# define fp_vpl_acquire(pool, timeout_us, out) \
    fp_vpl_acquire_at((pool), (timeout_us), (out), __FILE__, __LINE__, __func__)
#endif

/**
 * Drops the caller's reference (like `FrameInterface->Release`, recording the
 * release site) and sets `*surface` to NULL. The surface returns to the pool
 * when its last reference is gone and `Data.Locked` is 0 (see the file
 * comment). Use the fp_vpl_release() macro.
 *
 * @param surface the caller's variable holding the reference; set to NULL
 * @param file release site file name, kept for double-release reports (the
 *             macro passes `__FILE__`)
 * @param line release site line (`__LINE__`)
 * @param func release site function name (`__func__`)
 * @return 0 (also for `surface == NULL` or `*surface == NULL`);
 *         FP_ERR(EALREADY) the surface had no references left (double release;
 *         logged with the acquire and both release sites, counted in
 *         fp_pool_stats::misuse);
 *         FP_ERR(EINVAL) not a surface of any framepool pool (a foreign
 *         surface, or a copy of a pool surface): counted in fp_misuse_count()
 *         or, for a copy, in the pool's misuse counter.
 *         In the error cases nothing else changes.
 */
FP_API int fp_vpl_release_at(mfxFrameSurface1 **surface, const char *file, int line, const char *func);
/**
 * fp_vpl_release_at() with the site as one pointer (see fp_pool_acquire_site()).
 * @param surface the caller's variable holding the reference; set to NULL
 * @param site where the call is; must outlive the pool (NULL: unknown site)
 * @return as fp_vpl_release_at()
 */
FP_API int fp_vpl_release_site(mfxFrameSurface1 **surface, const fp_site *site);
#ifdef FP_SITE_HERE
/** fp_vpl_release_at() with the caller's file, line and function as the release site. */
# define fp_vpl_release(surface) fp_vpl_release_site((surface), FP_SITE_HERE())
#else
# define fp_vpl_release(surface) fp_vpl_release_at((surface), __FILE__, __LINE__, __func__)
#endif

/**
 * Finds the pool frame behind a surface.
 * @param surface a surface the caller holds a reference to
 * @return the pool frame behind a pool surface (for fp_frame_set_tag(),
 *         fp_frame_set_long_lived(), fp_frame_refcount(), ...), or NULL for
 *         NULL or a surface that is not a framepool surface. Valid while the
 *         caller holds a reference to the surface.
 */
FP_API fp_frame *fp_vpl_surface_frame(const mfxFrameSurface1 *surface);

/**
 * Finds the surface behind a pool frame.
 * @param frame any pool frame
 * @return the surface behind a frame of a pool made by fp_vpl_pool_create()
 *         (e.g. one listed by fp_pool_foreach_live()), or NULL for NULL or any
 *         other frame
 */
FP_API mfxFrameSurface1 *fp_vpl_frame_surface(const fp_frame *frame);

/**
 * Cleanup function behind FP_AUTO_SURFACE: fp_vpl_release() with
 * "FP_AUTO_SURFACE" as the release site.
 * @param surface the variable going out of scope
 */
FP_API void fp_vpl_surface_autorelease(mfxFrameSurface1 **surface);

#if defined(__GNUC__) || defined(__clang__)
/** `FP_AUTO_SURFACE mfxFrameSurface1 *s = NULL;` releases s when it goes out of scope. */
# define FP_AUTO_SURFACE __attribute__((cleanup(fp_vpl_surface_autorelease)))
#else
/* Expands to an unknown name so the compiler stops here with this text. */
# define FP_AUTO_SURFACE FP_AUTO_SURFACE_needs_the_cleanup_attribute_of_GCC_or_Clang__use_goto_cleanup
#endif

#ifdef __cplusplus
}
#endif

#endif /* FRAMEPOOL_VPL_H */
