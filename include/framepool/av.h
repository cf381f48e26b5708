/*
 * framepool: bounded, reference-counted video frame pools.
 * SPDX-License-Identifier: MIT
 */
/**
 * @file av.h
 * @brief FFmpeg adapter: pooled AVFrames that return themselves to the pool.
 *
 * A pool made by fp_av_pool_create() hands out frames whose `buf[0]` is an
 * AVBufferRef with a free callback that returns the slot. So whoever drops the
 * last reference — av_frame_free(), av_frame_unref(), an encoder that kept the
 * frame for reordering, a filter, another thread — returns the frame. Each
 * acquire is tracked like a core acquire (site, thread, age, tag).
 *
 * Frames that FFmpeg copies out of a pool frame (av_frame_make_writable() on
 * a shared frame, av_frame_copy into a new buffer, ...) are plain FFmpeg
 * frames: they never belong to the pool, and the pool frame they were copied
 * from returns when its own last reference goes. fp_av_frame_make_writable()
 * makes the copy from the pool instead.
 *
 * Pixel memory is zeroed once, when a slot first gets it (at creation for
 * `min_frames`, else at the acquire that needs a new slot), as libavcodec's
 * own avcodec_default_get_buffer2() zeroes decoder buffers: some decoders
 * read bytes of their frames they never write (a damaged stream decoded
 * without error concealment leaves whole rows unwritten), and their output
 * must not depend on what the allocator returned. A frame handed out again
 * keeps the pixels of its last use, as with FFmpeg's own buffer pools; ask for
 * FP_POOL_ZERO to clear every acquire. (FP_POOL_POISON pools fill idle memory
 * with their poison pattern instead.)
 */
#ifndef FRAMEPOOL_AV_H
#define FRAMEPOOL_AV_H

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

#include "framepool.h"

#ifdef __cplusplus
extern "C" {
#endif

struct AVCodecContext;

/**
 * Creates a pool of `fmt` frames of `width` x `height` for FFmpeg.
 *
 * Any AVPixelFormat libavutil can lay out in memory is accepted, palette
 * formats included: AV_PIX_FMT_PAL8 frames carry the indices in `data[0]` and
 * the 256-entry, 1024-byte palette in `data[1]` (`linesize[1]` 0), in the
 * same buffer, as av_frame_get_buffer() lays them out (what e.g. the png and
 * bmp decoders produce for palette images). Refused with FP_ERR(EINVAL): hardware formats
 * (AV_PIX_FMT_FLAG_HWACCEL: vaapi, cuda, qsv, ...; their frames come from a
 * hardware frames context) and bitstream formats (AV_PIX_FMT_FLAG_BITSTREAM:
 * monow, monob, rgb4, bgr4). Every slot is laid out once with libavutil's
 * own plane math, padded for decoders — width to a multiple of 64, height to
 * a multiple of 32 plus 2 rows, linesizes and planes aligned to 64 bytes
 * (more if cfg->align asks), 64 bytes of tail padding — so the frames also
 * suit fp_av_get_buffer2() and SIMD. Pixel memory is zeroed when a slot is
 * first backed (see the file description).
 *
 * `fp_av_pool_create(&p, AV_PIX_FMT_NONE, 0, 0, &cfg)` makes a decoder pool
 * without a geometry: fp_av_get_buffer2() gives it the decoder's at the first
 * request (generation 1) and follows the decoder's changes from there (see
 * fp_av_get_buffer2()). Until then fp_av_acquire() fails with
 * FP_ERR(ENODATA), and min_frames are allocated with the first geometry.
 *
 * @param out receives the pool (holding one reference) on success, NULL on failure
 * @param fmt pixel format of every frame (AV_PIX_FMT_NONE with 0 x 0: from the decoder)
 * @param width frame width in pixels, 1..FP_MAX_DIMENSION
 * @param height frame height in pixels, 1..FP_MAX_DIMENSION
 * @param cfg settings, or NULL for defaults (max_frames then 16). Its
 *        `format`, `width`, `height` and `buffer_size` must be zero or agree
 *        with the arguments (FP_FMT_NONE/0 means "take the arguments").
 * @return 0; FP_ERR(EINVAL) for NULL out, an unsupported or unknown format,
 *         bad geometry or conflicting cfg fields (a log line names the field);
 *         FP_ERR(EOVERFLOW); FP_ERR(ENOMEM)
 */
FP_API int fp_av_pool_create(fp_pool **out, enum AVPixelFormat fmt, int width, int height,
                             const fp_pool_config *cfg);

/**
 * fp_av_pool_create() recording the creation site (see fp_pool_create_site()).
 * The fp_av_pool_create() macro calls it with the caller's site; the function
 * fp_av_pool_create() itself (ABI, `#undef`, its address) records none.
 * @param out as for fp_av_pool_create()
 * @param fmt as for fp_av_pool_create()
 * @param width as for fp_av_pool_create()
 * @param height as for fp_av_pool_create()
 * @param cfg as for fp_av_pool_create()
 * @param site where the call is; must outlive the pool (NULL: unknown site)
 * @return as fp_av_pool_create()
 */
FP_API int fp_av_pool_create_site(fp_pool **out, enum AVPixelFormat fmt, int width, int height,
                                  const fp_pool_config *cfg, const fp_site *site);
/**
 * fp_av_pool_create_site() with the site as file, line and function (see fp_pool_create_at()).
 * @param out as for fp_av_pool_create()
 * @param fmt as for fp_av_pool_create()
 * @param width as for fp_av_pool_create()
 * @param height as for fp_av_pool_create()
 * @param cfg as for fp_av_pool_create()
 * @param file creation site file name (`__FILE__`)
 * @param line creation site line (`__LINE__`)
 * @param func creation site function name (`__func__`)
 * @return as fp_av_pool_create()
 */
FP_API int fp_av_pool_create_at(fp_pool **out, enum AVPixelFormat fmt, int width, int height,
                                const fp_pool_config *cfg, const char *file, int line, const char *func);
#ifdef FP_SITE_HERE
/** Creates an AVFrame pool (see fp_av_pool_create_site()); the caller's site is the creation site. */
# define fp_av_pool_create(out, fmt, width, height, cfg) \
    fp_av_pool_create_site((out), (fmt), (width), (height), (cfg), FP_SITE_HERE())
#else
# define fp_av_pool_create(out, fmt, width, height, cfg) \
    fp_av_pool_create_at((out), (fmt), (width), (height), (cfg), __FILE__, __LINE__, __func__)
#endif

/**
 * Takes a frame as a new refcounted AVFrame (`format`, `width`, `height`,
 * `data`, `linesize`, `buf[0]` set). Free it with av_frame_free(); the slot
 * returns when the last reference to its buffer is dropped. Use the
 * fp_av_acquire() macro, which records the call site.
 *
 * @param pool a pool made by fp_av_pool_create()
 * @param timeout_us as for fp_pool_acquire(): 0 never waits, FP_WAIT_FOREVER
 *                   waits until a frame returns or the pool closes
 * @param out receives the new AVFrame
 * @param file call site file name, kept for reports (the macro passes `__FILE__`)
 * @param line call site line (`__LINE__`)
 * @param func call site function name (`__func__`)
 * @return 0; the fp_pool_acquire() errors (EAGAIN, ETIMEDOUT, ESHUTDOWN,
 *         ENOMEM, EINVAL); FP_ERR(EINVAL) also for a pool not made by
 *         fp_av_pool_create(). `*out` is NULL on failure.
 */
FP_API int fp_av_acquire_at(fp_pool *pool, int64_t timeout_us, AVFrame **out, const char *file, int line,
                            const char *func);
/**
 * fp_av_acquire_at() with the site as one pointer (see fp_pool_acquire_site()).
 * @param pool a pool made by fp_av_pool_create()
 * @param timeout_us as for fp_pool_acquire()
 * @param out receives the new AVFrame; NULL on failure
 * @param site where the call is; must outlive the pool (NULL: unknown site)
 * @return as fp_av_acquire_at()
 */
FP_API int fp_av_acquire_site(fp_pool *pool, int64_t timeout_us, AVFrame **out, const fp_site *site);
#ifdef FP_SITE_HERE
/** fp_av_acquire_at() with the caller's file, line and function as the acquire site. */
# define fp_av_acquire(pool, timeout_us, out) fp_av_acquire_site((pool), (timeout_us), (out), FP_SITE_HERE())
#else
# define fp_av_acquire(pool, timeout_us, out) \
    fp_av_acquire_at((pool), (timeout_us), (out), __FILE__, __LINE__, __func__)
#endif

/**
 * Drop-in for av_frame_get_buffer(): gives the caller's AVFrame a pool buffer.
 * `frame->format` must be the pool's format and `frame->width`/`height` at
 * most the pool's padded geometry (width rounded up to 64, height to 32, + 2:
 * a decoder's coded size, 1920x1088 on a 1920x1080 pool, fits, so a custom
 * get_buffer2 can be built on this); the pool's linesizes are used. The frame
 * must not hold buffers yet. May block up to `timeout_us` waiting for a frame. Use the fp_av_frame_get_buffer() macro, which records the call
 * site.
 *
 * @param pool a pool made by fp_av_pool_create()
 * @param frame the caller's AVFrame with `format`, `width` and `height` set;
 *              on success its `buf[0]`, `data` and `linesize` are set
 * @param timeout_us as for fp_pool_acquire()
 * @param file call site file name, kept for reports (the macro passes `__FILE__`)
 * @param line call site line (`__LINE__`)
 * @param func call site function name (`__func__`)
 * @return 0; FP_ERR(EINVAL) on a mismatch (logged with both geometries) or a
 *         frame that already has buffers; the fp_pool_acquire() errors
 */
FP_API int fp_av_frame_get_buffer_at(fp_pool *pool, AVFrame *frame, int64_t timeout_us, const char *file,
                                     int line, const char *func);
/**
 * fp_av_frame_get_buffer_at() with the site as one pointer (see fp_pool_acquire_site()).
 * @param pool a pool made by fp_av_pool_create()
 * @param frame the caller's AVFrame with `format`, `width` and `height` set
 * @param timeout_us as for fp_pool_acquire()
 * @param site where the call is; must outlive the pool (NULL: unknown site)
 * @return as fp_av_frame_get_buffer_at()
 */
FP_API int fp_av_frame_get_buffer_site(fp_pool *pool, AVFrame *frame, int64_t timeout_us, const fp_site *site);
#ifdef FP_SITE_HERE
/** fp_av_frame_get_buffer_at() with the caller's file, line and function as the acquire site. */
# define fp_av_frame_get_buffer(pool, frame, timeout_us) \
    fp_av_frame_get_buffer_site((pool), (frame), (timeout_us), FP_SITE_HERE())
#else
# define fp_av_frame_get_buffer(pool, frame, timeout_us) \
    fp_av_frame_get_buffer_at((pool), (frame), (timeout_us), __FILE__, __LINE__, __func__)
#endif

/**
 * av_frame_make_writable() for pool frames: when `frame` is not writable (an
 * encoder, a filter or a queue still holds a reference to its buffer), gives
 * it a new buffer from `pool`, copies the picture and the properties into it
 * (av_frame_copy(), av_frame_copy_props()) and drops the old reference; the
 * old buffer returns to its pool when its other holders let go. A writable
 * frame is left as it is.
 *
 * FFmpeg's usual encode loop calls av_frame_make_writable() before filling
 * the frame; that one takes the new buffer from av_frame_get_buffer(), so
 * after the first frame an encoder kept, the loop runs on plain FFmpeg
 * buffers, outside the pool's bound and tracking. Call this instead (same
 * place in the loop) to keep every frame in the pool. Use the
 * fp_av_frame_make_writable() macro, which records the call site.
 *
 * May block up to `timeout_us` waiting for a pool frame.
 *
 * @param pool a pool made by fp_av_pool_create()
 * @param frame an AVFrame holding a buffer (from `pool` or not) whose
 *              `format` is the pool's and `width`/`height` at most the pool's
 * @param timeout_us as for fp_pool_acquire(), used only when a copy is needed
 * @param file call site file name, kept for reports (the macro passes `__FILE__`)
 * @param line call site line (`__LINE__`)
 * @param func call site function name (`__func__`)
 * @return 0 (the frame is writable; `data`, `linesize` and `buf` may have
 *         changed); FP_ERR(EINVAL) for a frame without buffers, a hardware
 *         frame or a geometry the pool cannot hold (logged); the
 *         fp_pool_acquire() errors (EAGAIN, ETIMEDOUT, ESHUTDOWN, ENOMEM),
 *         with the frame unchanged; or the AVERROR of av_frame_copy() /
 *         av_frame_copy_props()
 */
FP_API int fp_av_frame_make_writable_at(fp_pool *pool, AVFrame *frame, int64_t timeout_us, const char *file,
                                        int line, const char *func);
/**
 * fp_av_frame_make_writable_at() with the site as one pointer (see fp_pool_acquire_site()).
 * @param pool a pool made by fp_av_pool_create()
 * @param frame an AVFrame holding a buffer
 * @param timeout_us as for fp_pool_acquire()
 * @param site where the call is; must outlive the pool (NULL: unknown site)
 * @return as fp_av_frame_make_writable_at()
 */
FP_API int fp_av_frame_make_writable_site(fp_pool *pool, AVFrame *frame, int64_t timeout_us,
                                          const fp_site *site);
#ifdef FP_SITE_HERE
/** fp_av_frame_make_writable_at() with the caller's file, line and function as the acquire site. */
# define fp_av_frame_make_writable(pool, frame, timeout_us) \
    fp_av_frame_make_writable_site((pool), (frame), (timeout_us), FP_SITE_HERE())
#else
# define fp_av_frame_make_writable(pool, frame, timeout_us) \
    fp_av_frame_make_writable_at((pool), (frame), (timeout_us), __FILE__, __LINE__, __func__)
#endif

/**
 * Changes an AV pool's pixel format and size for the frames it hands out
 * from now on: a new generation (see fp_pool_reconfigure(), whose rules
 * apply). The alignment stays the pool's; the padding is the default one
 * (fp_av_pool_create()). Decoder pools do not need it: fp_av_get_buffer2()
 * follows the decoder by itself.
 *
 * May block on: the pool's lock (short) and the allocator (min_frames).
 *
 * @param pool   a pool made by fp_av_pool_create()
 * @param fmt    the new pixel format
 * @param width  the new width in pixels, 1..FP_MAX_DIMENSION
 * @param height the new height in pixels, 1..FP_MAX_DIMENSION
 * @return the new generation (> 0; the current one if nothing changed),
 *         FP_ERR(EINVAL) for a format or size fp_av_pool_create() refuses or
 *         a pool that is not an AV pool, FP_ERR(ESHUTDOWN), FP_ERR(ENOMEM)
 */
FP_API int fp_av_pool_reconfigure(fp_pool *pool, enum AVPixelFormat fmt, int width, int height);

/**
 * Makes a decoder draw its frames from `pool` through fp_av_get_buffer2(),
 * without touching `avctx->opaque` (it stays the application's, e.g. for its
 * get_format callback): sets `avctx->get_buffer2` to an entry point of its
 * own for this decoder, and with libavcodec < 60 `thread_safe_callbacks`.
 * The attachment holds a reference on the pool.
 *
 * Lifetime: attach before avcodec_open2() (refused with FP_ERR(EINVAL)
 * after: frame threads copy get_buffer2 when they start). fp_av_detach()
 * ends it; frames the decoder already has keep their pool. At most 1024
 * decoders are attached at once (FP_ERR(ENOSPC) beyond: use
 * `get_buffer2 = fp_av_get_buffer2` with `opaque = pool` for those).
 * Attaching the same pool again is a no-op; another pool needs a detach
 * first (FP_ERR(EBUSY)). A decoder known to allocate its own frames
 * (fp_av_check_decoder(): libdav1d, libvpx-vp9, rawvideo, no DR1) is said so
 * at attach: counted in get_buffer_bypassed, logged once per pool.
 *
 * May block on: a process-wide lock held for a table scan (attach/detach only).
 * @param avctx a decoder context, not yet opened
 * @param pool  the pool its frames come from
 * @return 0, FP_ERR(EINVAL), FP_ERR(EBUSY), FP_ERR(ENOSPC)
 */
FP_API int fp_av_attach(struct AVCodecContext *avctx, fp_pool *pool);

/**
 * Ends fp_av_attach(): drops the pool reference and sets `avctx->get_buffer2`
 * back to avcodec_default_get_buffer2(). Call it when no avcodec_send_packet()
 * / avcodec_receive_frame() of this decoder runs (typically just before
 * avcodec_free_context(); it must not be called after, the context is gone).
 * An open decoder goes on with default buffers from its next packet; frames
 * already decoded stay valid and return to the pool. NULL or a decoder that
 * is not attached: nothing happens.
 *
 * May block on: the same process-wide lock as fp_av_attach().
 * @param avctx the decoder context, or NULL
 */
FP_API void fp_av_detach(struct AVCodecContext *avctx);

/**
 * The pool fp_av_attach() attached to `avctx`. Takes no reference.
 * May block on: the same process-wide lock as fp_av_attach().
 * @param avctx the decoder context, or NULL
 * @return the pool, or NULL when `avctx` is not attached
 */
FP_API fp_pool *fp_av_attached_pool(const struct AVCodecContext *avctx);

/**
 * An AVCodecContext.get_buffer2 callback that draws decoder output frames
 * from the pool in `avctx->opaque` (fp_av_attach() uses it without opaque).
 * Thread-safe (frame-threaded decoders call it from their workers).
 *
 * The pool follows the decoder: when a request's pixel format differs from
 * the pool's, or its size (padded as avcodec_align_dimensions2() asks) does
 * not fit the pool's frames, or is smaller than them, the pool is
 * reconfigured (fp_pool_reconfigure(): a new generation, padded for what the
 * codec asks, so svq1's 64x64 alignment and dirac's edges fit) and the frame
 * comes from it; frames of the old size stay valid and are freed as the
 * decoder and the application let go of them. A decoder pool made with
 * AV_PIX_FMT_NONE gets its first geometry this way. Concurrent frame threads
 * asking for the same new geometry make one generation. Only frames no pool
 * can hold — hardware and bitstream formats, non-video codecs, codecs
 * without AV_CODEC_CAP_DR1 — go to avcodec_default_get_buffer2(), with one log
 * line per pool and fp_pool_stats::get_buffer_fallbacks counting them.
 * AV_GET_BUFFER_FLAG_REF needs nothing special: pool frames are refcounted.
 *
 * When the pool is empty and fewer than fp_pool_config::decoder_overdraft
 * overdraft frames are out, the decoder gets one at once, allocated outside
 * the pool with the pool's layout (decoders predict from references with the
 * current picture's linesizes), zeroed, freed with its last reference (counted
 * in fp_pool_stats::get_buffer_overdraft, logged "pool exhausted" at the 1st,
 * 2nd, 4th, ... one): a decoder whose reference pictures
 * fill the pool (H.264 allocates its next picture before it drops one) would
 * otherwise fail on every later frame. Otherwise the callback waits up to
 * fp_pool_config::get_buffer_timeout_us for a frame to come back, then fails
 * with AVERROR(ENOBUFS) (or AVERROR(ESHUTDOWN) once the pool is closed),
 * counted in fp_pool_stats::get_buffer_exhausted and logged "pool exhausted"
 * with the codec, the pool's numbers and fp_av_frames_for_decoder() once per
 * burst. Decoders report that failure under their own codes (ENOBUFS, EPERM,
 * AVERROR_INVALIDDATA, ENOMEM, -1): the counter is what tells it was the pool.
 * It never returns AVERROR(EAGAIN), whose meaning in the send/receive API is
 * different. Size the pool with fp_av_frames_for_decoder() (see doc/guide.md).
 *
 * May block on: the pool's wait (get_buffer_timeout_us) and its lock.
 *
 * @param avctx the decoder; `avctx->opaque` must be a pool made by fp_av_pool_create()
 * @param frame the frame the decoder wants a buffer for
 * @param flags AV_GET_BUFFER_FLAG_* from the decoder
 * @return 0 or a negative AVERROR: AVERROR(ENOBUFS) pool exhausted for
 *         get_buffer_timeout_us; AVERROR(ESHUTDOWN) pool closed;
 *         AVERROR(EINVAL) NULL arguments or `opaque` not an AV pool (checked
 *         before anything is read through it: the application's own struct,
 *         however small, is refused with a log line and counted in
 *         fp_misuse_count());
 *         AVERROR(ENOSYS) libavcodec's functions not found in the process;
 *         AVERROR(ENOMEM); or the error of avcodec_default_get_buffer2() on a fallback
 */
FP_API int fp_av_get_buffer2(struct AVCodecContext *avctx, AVFrame *frame, int flags);

/**
 * How many frames a pool needs for a decoder: what the decoder holds itself
 * (the picture it is decoding, its reference pictures, its reordering delay,
 * the previous picture of intra codecs that keep it: ffv1, png, webp, snow),
 * plus two per extra frame thread (the picture each worker has in flight and
 * the one it waits to hand back), plus `app_frames`. Like
 * fp_vpl_frames_for_request() for oneVPL.
 *
 * Uses the codec id, `level`, `coded_width`/`width`, `has_b_frames`, `refs`,
 * `thread_type`/`thread_count` (after avcodec_open2(), `active_thread_type`).
 * H.264 uses the SPS's reference count once the decoder has parsed it
 * (libavcodec sets `avctx->refs` at the first frame), else the level's maximum
 * DPB for the coded size, else 16; HEVC the level's maximum DPB, else 16.
 * Calling it again after the first frame gives the tighter H.264 bound. The
 * measured peaks it is checked against are in doc/guide.md. Reads only.
 *
 * @param avctx a video decoder context (before or after avcodec_open2())
 * @param app_frames decoder output frames the application holds at once
 *        (counting the one it just received)
 * @return the frame count (at most FP_MAX_FRAMES), or FP_ERR(EINVAL) for a
 *         NULL or non-video avctx or a negative app_frames
 */
FP_API int fp_av_frames_for_decoder(const struct AVCodecContext *avctx, int app_frames);

/**
 * Checks, after avcodec_open2(), whether a decoder will draw its frames from
 * the pool. Decoders that never call get_buffer2 (libdav1d, libvpx-vp9,
 * rawvideo), codecs without AV_CODEC_CAP_DR1 and hardware decoding allocate
 * their own frames: fp_av_get_buffer2() cannot see them, the pool bounds and
 * tracks nothing and its stats stay at 0. This is the only place to tell:
 * such a decoder is logged once per pool (with the reason) and counted in
 * fp_pool_stats::get_buffer_bypassed (once per call). Reads the context only.
 *
 * @param pool a pool made by fp_av_pool_create()
 * @param avctx the opened decoder
 * @return 0 when its frames come from the pool (as far as can be known);
 *         1 when they will not; FP_ERR(EINVAL) for a pool not made by
 *         fp_av_pool_create(), a NULL or unopened avctx
 */
FP_API int fp_av_check_decoder(fp_pool *pool, const struct AVCodecContext *avctx);

/**
 * Finds the pool frame behind an AVFrame (for fp_frame_set_long_lived(),
 * fp_frame_refcount(), ...).
 * @param frame any AVFrame
 * @return the pool frame behind `frame` (its buf[0]), or NULL when the frame
 *         does not hold a buffer from a framepool AV pool
 */
FP_API fp_frame *fp_av_frame_pool_frame(const AVFrame *frame);

/**
 * Tells whether an AVFrame's buffer comes from a given pool (decoders may
 * fall back to their own buffers).
 * @param pool  the pool
 * @param frame any AVFrame
 * @return 1 when `frame` holds a buffer from `pool`, else 0
 */
FP_API int fp_av_frame_is_from(const fp_pool *pool, const AVFrame *frame);

/**
 * Labels the pool frame behind `frame` for reports (see fp_frame_set_tag()).
 * @param frame an AVFrame holding a pool buffer
 * @param tag   the label (copied, up to FP_TAG_MAX bytes), or NULL to clear it
 * @return 0, or FP_ERR(EINVAL) when the frame holds no pool buffer
 */
FP_API int fp_av_frame_set_tag(AVFrame *frame, const char *tag);

/**
 * The pixel format an AV pool was created with.
 * @param pool the pool
 * @return the AVPixelFormat of a pool made by fp_av_pool_create(), else AV_PIX_FMT_NONE
 */
FP_API enum AVPixelFormat fp_av_pool_format(const fp_pool *pool);

/**
 * Cleanup function behind FP_AUTO_AVFRAME: av_frame_free().
 * @param frame the variable going out of scope
 */
FP_API void fp_av_frame_autorelease(AVFrame **frame);

#if defined(__GNUC__) || defined(__clang__)
/** `FP_AUTO_AVFRAME AVFrame *f = NULL;` frees f (and so returns its pool frame) at scope exit. */
# define FP_AUTO_AVFRAME __attribute__((cleanup(fp_av_frame_autorelease)))
#else
# define FP_AUTO_AVFRAME FP_AUTO_AVFRAME_needs_the_cleanup_attribute_of_GCC_or_Clang__use_goto_cleanup
#endif

#ifdef __cplusplus
}
#endif

#endif /* FRAMEPOOL_AV_H */
