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
 * from returns when its own last reference goes.
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
 * Any AVPixelFormat libavutil can lay out in memory is accepted (not hardware,
 * bitstream or palette formats). Every slot is laid out once with libavutil's
 * own plane math, padded for decoders — width to a multiple of 64, height to
 * a multiple of 32 plus 2 rows, linesizes and planes aligned to 64 bytes
 * (more if cfg->align asks), 64 bytes of tail padding — so the frames also
 * suit fp_av_get_buffer2() and SIMD.
 *
 * @param out receives the pool (holding one reference) on success, NULL on failure
 * @param fmt pixel format of every frame
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
 * most the pool's (the pool's linesizes are used); the frame must not hold
 * buffers yet. Use the fp_av_frame_get_buffer() macro, which records the call
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
 * An AVCodecContext.get_buffer2 callback that draws decoder output frames
 * from the pool in `avctx->opaque`. Thread-safe (frame-threaded decoders call
 * it from their workers).
 *
 * The codec's alignment needs (avcodec_align_dimensions2()) are checked
 * against the pool's padded slots. Frames the pool cannot hold — another pixel
 * format, larger coded dimensions, hardware frames, codecs without
 * AV_CODEC_CAP_DR1 — go to avcodec_default_get_buffer2() instead, with one log
 * line per pool and fp_pool_stats::get_buffer_fallbacks counting them.
 * AV_GET_BUFFER_FLAG_REF needs nothing special: pool frames are refcounted.
 *
 * When the pool is exhausted the callback waits up to
 * fp_pool_config::get_buffer_timeout_us for a frame to come back, then fails
 * with AVERROR(ENOBUFS) (or AVERROR(ESHUTDOWN) once the pool is closed), which
 * the decoder reports from avcodec_send_packet()/avcodec_receive_frame(). It
 * never returns AVERROR(EAGAIN), whose meaning in the send/receive API is
 * different. Size the pool for the decoder's delay plus the frames the
 * application holds (see doc/guide.md).
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
