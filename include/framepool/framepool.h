/*
 * framepool: bounded, reference-counted video frame pools.
 * SPDX-License-Identifier: MIT
 */
/**
 * @file framepool.h
 * @brief Core pool API: bounded pools of identically shaped frames with
 *        reference counts, tracked acquire/release and live-frame accounting.
 *
 * Conventions:
 * - Functions return 0 on success or a negative errno (`FP_ERR(e)`) on failure;
 *   fp_strerror() describes a code.
 * - Functions that drop a reference take a `T **` and set it to NULL; all of them
 *   are NULL-safe.
 * - Calling a function on a pool requires holding a reference to it (the one
 *   from fp_pool_create(), one from fp_pool_ref(), or a live frame of it for the
 *   frame functions) for the duration of the call.
 */
#ifndef FRAMEPOOL_FRAMEPOOL_H
#define FRAMEPOOL_FRAMEPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef FP_API
# if defined(_WIN32)
#  define FP_API
# elif defined(__GNUC__) && __GNUC__ >= 4
#  define FP_API __attribute__((visibility("default")))
# else
#  define FP_API
# endif
#endif

/** Turns a positive errno value into a framepool error code. */
#define FP_ERR(e) (-(e))

/** Longest tag fp_frame_set_tag() keeps, in bytes (longer tags are cut). */
#define FP_TAG_MAX 23

/** Timeout for fp_pool_acquire(): wait until a frame returns or the pool closes. */
#define FP_WAIT_FOREVER ((int64_t)-1)

/** Value of fp_frame::pts on a freshly acquired frame. */
#define FP_NOPTS INT64_MIN

/** Largest accepted fp_pool_config::max_frames. */
#define FP_MAX_FRAMES 32768

/** Largest accepted width or height of an image pool. */
#define FP_MAX_DIMENSION 32768

/** Pixel layouts a core pool can hold. */
enum fp_format {
    FP_FMT_NONE = 0,   ///< invalid; the default in fp_pool_config
    FP_FMT_RAW,        ///< one plane of fp_pool_config::buffer_size bytes (bitstreams, scratch)
    FP_FMT_YUV420P,    ///< planar 4:2:0, 8 bit (I420): Y, U, V
    FP_FMT_NV12,       ///< 4:2:0, Y plane + interleaved UV plane, 8 bit
    FP_FMT_P010,       ///< 4:2:0 like NV12 with 16-bit little-endian samples (10 bits in the MSBs)
    FP_FMT_YUV422P,    ///< planar 4:2:2, 8 bit
    FP_FMT_YUV444P,    ///< planar 4:4:4, 8 bit
    FP_FMT_YUYV422,    ///< packed 4:2:2 Y0 U Y1 V (YUY2); width must be even
    FP_FMT_BGRA,       ///< packed B G R A, 8 bit each (RGB4)
    FP_FMT_RGBA,       ///< packed R G B A, 8 bit each
    FP_FMT_GRAY8,      ///< one 8-bit luma plane
    FP_FMT_COUNT       ///< number of formats; not a format
};

/** @name Pool flags (fp_pool_config::flags)
 * @{ */
#define FP_POOL_NO_TRACK (1u << 0) ///< do not record acquire/release sites, threads or times
#define FP_POOL_ZERO     (1u << 1) ///< zero the pixel memory on every acquire
#define FP_POOL_POISON   (1u << 2) ///< poison idle memory (ASan/valgrind: inaccessible; else a fill pattern)
#define FP_POOL_STRICT   (1u << 3) ///< abort() with a report on misuse (double or foreign release)
/** @} */

/** @name Log levels passed to fp_log_cb
 * @{ */
#define FP_LOG_ERROR 0 ///< a call failed or the application misused the API
#define FP_LOG_WARN  1 ///< something will go wrong soon (leaks, exhaustion)
#define FP_LOG_INFO  2 ///< reports the application asked for
#define FP_LOG_DEBUG 3 ///< internal detail
/** @} */

/**
 * Log callback. `msg` is one line without a trailing newline, already prefixed
 * with the pool name where there is one. Names, tags, sites and paths in it
 * are escaped (control characters and bytes that are not UTF-8 as `\n` or
 * `\xHH`) and long ones shortened in the middle, so a message is always one
 * line and keeps its reason.
 */
typedef void (*fp_log_cb)(void *opaque, int level, const char *msg);

/**
 * Custom allocator for pixel memory. Both functions may be called from any
 * thread, and never concurrently for the same pool unless the allocator is
 * thread-safe (framepool serializes its own calls per pool).
 */
typedef struct fp_allocator {
    /** Returns `size` bytes aligned to `align` (a power of two, >= 16), or NULL. */
    void *(*alloc)(void *opaque, size_t size, size_t align);
    /** Frees memory from alloc(); `size` is the size that was requested. */
    void (*free)(void *opaque, void *ptr, size_t size);
    void *opaque; ///< passed to both functions
} fp_allocator;

/**
 * Pool settings. Always initialize with fp_pool_config_default() and then set
 * the fields you need: new fields are added in the reserved space.
 */
typedef struct fp_pool_config {
    const char *name;        ///< shown in reports and exports; copied (truncated to 63 bytes); NULL = "pool"
    enum fp_format format;   ///< pixel layout of every frame; required
    int width;               ///< frame width in pixels, 1..FP_MAX_DIMENSION; 0 for FP_FMT_RAW
    int height;              ///< frame height in pixels, 1..FP_MAX_DIMENSION; 0 for FP_FMT_RAW
    int align;               ///< alignment of plane pointers and linesizes: power of two, 1..4096; default 64
    size_t buffer_size;      ///< bytes per buffer for FP_FMT_RAW; must be 0 for image formats
    int min_frames;          ///< frames allocated at creation and kept by fp_pool_trim(); default 0
    int max_frames;          ///< hard cap on frames, 1..FP_MAX_FRAMES; 0 (the default) is rejected
    unsigned flags;          ///< FP_POOL_* flags
    fp_allocator allocator;  ///< pixel memory allocator; alloc == NULL selects the built-in one
    fp_log_cb log;           ///< log sink; NULL = stderr
    void *log_opaque;        ///< passed to log
    int log_level;           ///< most verbose level passed to log; default FP_LOG_WARN
    int64_t get_buffer_timeout_us; ///< how long fp_av_get_buffer2() waits for a frame; default 100000 (100 ms)
    /** Frames fp_av_get_buffer2() may hand a decoder beyond max_frames at once
     *  when the pool is empty (allocated outside the pool with its layout, freed
     *  with their last reference, counted in fp_pool_stats::get_buffer_overdraft),
     *  so a decoder whose references fill the pool (H.264, HEVC) is not wedged;
     *  0..64, default 2, 0 = none (max_frames is then exact). Checked by
     *  fp_av_pool_create(); core pools ignore it. */
    int decoder_overdraft;
    /* budget and idle_timeout_us are reserved for 0.3's budgets, which this
     * build does not implement yet: fp_pool_create() refuses a non-zero value
     * with FP_ERR(ENOTSUP) and a log line, never ignores it. */
    struct fp_budget *budget; ///< budget charged for backed pixel memory; must be NULL (not implemented yet)
    /** Cap on the pool's pixel memory in bytes (each backed frame counts its
     *  allocation, fp_pool_stats::frame_bytes), across generations: after a
     *  fp_pool_reconfigure() to a larger geometry the bound in bytes still
     *  holds. An acquire that would exceed it behaves as on an empty pool
     *  (waits, EAGAIN, ETIMEDOUT). 0 = no cap. min_frames must fit. */
    uint64_t max_bytes;
    int64_t idle_timeout_us;  ///< age-out of idle frames above min_frames; must be 0 (not implemented yet)
    uint8_t reserved[24];    ///< must stay zero
} fp_pool_config;

/**
 * A call site: where a frame was acquired or released.
 * The strings must outlive the pool's reports, as literals do. The acquire and release
 * macros pass one of these, built once per call site in static storage, so
 * recording a site is storing one pointer.
 */
typedef struct fp_site {
    const char *file; ///< `__FILE__`
    const char *func; ///< `__func__`
    int line;         ///< `__LINE__`
} fp_site;

#if (defined(__GNUC__) || defined(__clang__)) && !defined(FP_NO_STATIC_SITES)
/**
 * A pointer to an fp_site for the place where it is written, in static storage
 * (a GNU statement expression; `__extension__` keeps `-pedantic` quiet). Not
 * defined for other compilers: the macros then pass file, line and function
 * to the `_at` functions, which look the site up in a table.
 */
# define FP_SITE_HERE() \
    __extension__({ static const fp_site fp_site_here_ = { __FILE__, __func__, __LINE__ }; &fp_site_here_; })
#endif

/**
 * A frame handed out by a pool. The application may write `pts` and `opaque`
 * (and the pixels, while it holds the only reference); every other field is
 * set by the pool at creation and must be treated as read-only.
 */
typedef struct fp_frame {
    uint8_t *data[4];      ///< plane pointers, each aligned to fp_pool_config::align; unused planes NULL
    int linesize[4];       ///< bytes per row of each plane, multiples of align; unused planes 0
    int width;             ///< width in pixels (0 for FP_FMT_RAW)
    int height;            ///< height in pixels (0 for FP_FMT_RAW)
    int format;            ///< an enum fp_format value
    size_t size;           ///< usable bytes from data[0] through the end of the last plane
    int64_t pts;           ///< application's; FP_NOPTS on acquire
    void *opaque;          ///< application's; NULL on acquire
    uintptr_t fp_private;  ///< owned by framepool: identifies the slot; never touch
} fp_frame;

/** Opaque pool handle. */
typedef struct fp_pool fp_pool;

/** Opaque budget handle: one memory cap shared by many pools (fp_budget_create()). */
typedef struct fp_budget fp_budget;

/**
 * A consistent snapshot of a pool's counters (see fp_pool_get_stats() for the
 * guarantees). Counters are totals since creation.
 */
typedef struct fp_pool_stats {
    uint32_t capacity;        ///< max_frames
    uint32_t allocated;       ///< frames that currently have pixel memory
    uint32_t live;            ///< frames handed out and not yet returned
    uint32_t idle;            ///< allocated - live
    uint32_t peak_live;       ///< highest live ever observed
    uint32_t min_frames;      ///< configured min_frames
    uint64_t acquired;        ///< successful acquires
    uint64_t released;        ///< frames returned to the pool (last reference dropped)
    uint64_t exhausted;       ///< acquires that failed with EAGAIN (pool empty, no wait)
    uint64_t timeouts;        ///< acquires that failed with ETIMEDOUT
    uint64_t waits;           ///< acquires that had to wait for a frame
    uint64_t wait_ns_total;   ///< total time spent waiting, nanoseconds
    uint64_t wait_ns_max;     ///< longest single wait, nanoseconds
    uint64_t misuse;          ///< double releases and other detected misuse on this pool
    uint64_t alloc_failures;  ///< pixel allocations that failed (ENOMEM)
    uint64_t frame_bytes;     ///< pixel bytes per frame (with alignment and padding)
    uint64_t reserved_bytes;  ///< bytes held: allocated * frame_bytes + bookkeeping
    uint64_t oldest_live_ns;  ///< age of the oldest live frame not marked long-lived (0 when none, or untracked)
    int closed;               ///< non-zero once fp_pool_close() ran (or the last app reference was dropped)
    uint32_t held_by_runtime; ///< live frames the app released but a runtime still holds (oneVPL Data.Locked)
    uint64_t get_buffer_fallbacks; ///< fp_av_get_buffer2() calls served by the default allocator instead
    uint64_t get_buffer_exhausted; ///< fp_av_get_buffer2() calls refused because the pool stayed empty (the decoder reports its own error code for these)
    uint64_t get_buffer_overdraft; ///< fp_av_get_buffer2() calls served beyond max_frames by fp_pool_config::decoder_overdraft
    uint64_t get_buffer_bypassed;  ///< decoders fp_av_check_decoder() found allocating their own frames (never calling get_buffer2, or without DR1)
    uint32_t generation;      ///< current generation: 1 at creation, +1 per fp_pool_reconfigure() that changed the geometry (0: a decoder pool that has not seen its first frame)
    uint32_t old_generation_live;  ///< live frames of older generations (freed when they return)
    uint64_t old_generation_bytes; ///< pixel bytes of those frames
    uint64_t aged_out;        ///< idle frames freed by idle age-out (0 in this build)
    uint64_t reclaimed;       ///< idle frames freed for another pool of a budget (0 in this build)
    uint64_t budget_waits;    ///< acquires that waited on a budget (0 in this build)
    uint64_t reserved[5];     ///< zero; room for future counters
} fp_pool_stats;

/** One live frame, as passed to a fp_live_cb. Valid only during the callback. */
typedef struct fp_live_frame {
    const fp_frame *frame;    ///< the frame (do not release it from the callback)
    const char *file;         ///< acquire site (NULL when untracked)
    int line;                 ///< acquire site line
    const char *func;         ///< acquire site function
    uint64_t thread;          ///< kernel thread id of the acquirer
    uint64_t age_ns;          ///< time since acquire
    int refcount;             ///< references held now
    const char *tag;          ///< fp_frame_set_tag() value, or "" when none
    uint64_t seq;             ///< acquire sequence number (see fp_pool_checkpoint())
    int long_lived;           ///< fp_frame_set_long_lived() was called
    const char *release_file; ///< last release site of this slot (a previous owner's), or NULL
    int release_line;         ///< last release site line
} fp_live_frame;

/** Callback for fp_pool_foreach_live(); return non-zero to stop the iteration. */
typedef int (*fp_live_cb)(const fp_live_frame *live, void *ud);

/**
 * Returns the version of the library loaded at run time (compare with
 * FP_VERSION, the version of the headers).
 * @return the version packed as FP_VERSION_INT()
 */
FP_API unsigned fp_version(void);

/**
 * Describes an error code.
 * @param err a framepool error code, or any negative errno
 * @return a description, never NULL (static for framepool's own codes;
 *         "unknown error" for values that are not error codes)
 */
FP_API const char *fp_strerror(int err);

/**
 * Counts releases of pointers that belong to no pool (foreign frames), for the
 * whole process: such misuse has no pool to be counted on.
 * @return the number of such releases since the process started
 */
FP_API uint64_t fp_misuse_count(void);

/**
 * Fills `cfg` with defaults: align 64, min_frames 0, max_frames 0 (must be
 * set), log level FP_LOG_WARN, get_buffer_timeout_us 100000, everything else
 * zero or NULL.
 * @param cfg the settings to initialize; NULL is ignored
 */
FP_API void fp_pool_config_default(fp_pool_config *cfg);

/**
 * Creates a pool and preallocates `cfg->min_frames` frames.
 *
 * @param out receives the pool (holding one reference) on success, NULL on failure
 * @param cfg settings; copied, including the name
 * @return 0;
 *         FP_ERR(EINVAL) for a NULL argument or a bad field (a log line names it);
 *         FP_ERR(EOVERFLOW) when a frame's byte size does not fit in size_t;
 *         FP_ERR(ENOMEM) when memory ran out (nothing is left allocated)
 */
FP_API int fp_pool_create(fp_pool **out, const fp_pool_config *cfg);

/**
 * fp_pool_create() recording the creation site, which fp_registry_report(),
 * the exports (`created_at`, `framepool_site_pools`) and the
 * `FRAMEPOOL_TRACE=leaks` exit report group pools by. The fp_pool_create()
 * macro calls this (or fp_pool_create_at()) with the caller's site; the
 * function fp_pool_create() itself (for the ABI, and for callers who
 * `#undef fp_pool_create` or take its address) records no site ("unknown
 * site" in reports).
 * @param out  as for fp_pool_create()
 * @param cfg  as for fp_pool_create()
 * @param site where the call is; must outlive the pool, as FP_SITE_HERE()'s
 *             static records do (NULL: unknown site)
 * @return as fp_pool_create()
 */
FP_API int fp_pool_create_site(fp_pool **out, const fp_pool_config *cfg, const fp_site *site);

/**
 * fp_pool_create_site() with the site as file, line and function, looked up
 * in the table of sites fp_pool_acquire_at() uses (no allocation).
 * @param out  as for fp_pool_create()
 * @param cfg  as for fp_pool_create()
 * @param file creation site file name (`__FILE__`; must outlive the pool, as literals do)
 * @param line creation site line (`__LINE__`)
 * @param func creation site function name (`__func__`; kept like `file`)
 * @return as fp_pool_create()
 */
FP_API int fp_pool_create_at(fp_pool **out, const fp_pool_config *cfg, const char *file, int line,
                             const char *func);

#ifdef FP_SITE_HERE
/** Creates a pool (see fp_pool_create_site()); the caller's file, line and function are the creation site. */
# define fp_pool_create(out, cfg) fp_pool_create_site((out), (cfg), FP_SITE_HERE())
#else
# define fp_pool_create(out, cfg) fp_pool_create_at((out), (cfg), __FILE__, __LINE__, __func__)
#endif

/**
 * Takes a frame with reference count 1. Use the fp_pool_acquire() macro, which
 * records the call site.
 *
 * The `_at` functions (this one, fp_frame_unref_at() and the adapters') find
 * the site's record in a process-wide table keyed by the two string pointers
 * (not their contents) and the line: 4,096 entries, never freed, no
 * allocation. Sites beyond what the table holds are all recorded as one
 * overflow site (a warning is logged once). The macros under GCC and Clang
 * pass a static record instead (FP_SITE_HERE()) and never use the table.
 *
 * @param pool the pool
 * @param timeout_us 0: never wait; FP_WAIT_FOREVER: wait for a frame or close;
 *                   > 0: wait at most that many microseconds
 * @param out receives the frame on success, NULL on failure
 * @param file call site file name, kept for reports (the macro passes
 *             `__FILE__`; the string must outlive the frame, as literals do)
 * @param line call site line (`__LINE__`)
 * @param func call site function name (`__func__`; kept like `file`)
 * @return 0;
 *         FP_ERR(EAGAIN) pool exhausted and timeout_us == 0;
 *         FP_ERR(ETIMEDOUT) no frame came back in time;
 *         FP_ERR(ESHUTDOWN) the pool is closed;
 *         FP_ERR(ENOMEM) a new frame had to be allocated and that failed;
 *         FP_ERR(EINVAL) NULL pool/out or a negative timeout other than FP_WAIT_FOREVER
 */
FP_API int fp_pool_acquire_at(fp_pool *pool, int64_t timeout_us, fp_frame **out,
                              const char *file, int line, const char *func);

/**
 * fp_pool_acquire_at() with the site given as one pointer to a record of
 * static storage duration (what FP_SITE_HERE() makes): the hot path stores the
 * pointer instead of three values. fp_pool_acquire() uses it under GCC and
 * Clang.
 * @param pool the pool
 * @param timeout_us as for fp_pool_acquire_at()
 * @param out receives the frame on success, NULL on failure
 * @param site where the call is; must outlive the pool (NULL: unknown site)
 * @return as fp_pool_acquire_at()
 */
FP_API int fp_pool_acquire_site(fp_pool *pool, int64_t timeout_us, fp_frame **out, const fp_site *site);

#ifdef FP_SITE_HERE
/** Takes a frame (see fp_pool_acquire_at()); the caller's file, line and function are the acquire site. */
# define fp_pool_acquire(pool, timeout_us, out) \
    fp_pool_acquire_site((pool), (timeout_us), (out), FP_SITE_HERE())
#else
# define fp_pool_acquire(pool, timeout_us, out) \
    fp_pool_acquire_at((pool), (timeout_us), (out), __FILE__, __LINE__, __func__)
#endif

/**
 * Adds a reference to a live frame. The fp_frame_ref() macro calls
 * fp_frame_ref_site() (or fp_frame_ref_at()) with the caller's site, so that a
 * misuse is logged with it; this function (for the ABI, and for callers who
 * `#undef fp_frame_ref` or take its address) logs no site.
 *
 * The count saturates like the kernel's `refcount_t`: a reference past
 * INT_MAX is not counted and the count stays at INT_MAX for good, so the frame
 * is never returned to the pool (it leaks; it is never handed out twice). The
 * first saturation in the process is logged; every refused reference counts
 * as misuse.
 *
 * @param frame a frame the caller holds a reference to
 * @return `frame` (also when the count is saturated), or NULL when `frame` is
 *         NULL, not a pool frame, or not live (the misuse is logged and counted)
 */
FP_API fp_frame *fp_frame_ref(fp_frame *frame);

/**
 * fp_frame_ref() with the caller's site, used in the log line of a misuse.
 * @param frame a frame the caller holds a reference to
 * @param file  call site file name (`__FILE__`)
 * @param line  call site line (`__LINE__`)
 * @param func  call site function name (`__func__`)
 * @return as fp_frame_ref()
 */
FP_API fp_frame *fp_frame_ref_at(fp_frame *frame, const char *file, int line, const char *func);

/**
 * fp_frame_ref() with the site as a pointer (see fp_pool_acquire_site()).
 * @param frame a frame the caller holds a reference to
 * @param site  where the call is; must outlive the pool (NULL: unknown site)
 * @return as fp_frame_ref()
 */
FP_API fp_frame *fp_frame_ref_site(fp_frame *frame, const fp_site *site);

#ifdef FP_SITE_HERE
/** Adds a reference (see fp_frame_ref_at()); the caller's file, line and function are logged on misuse. */
# define fp_frame_ref(frame) fp_frame_ref_site((frame), FP_SITE_HERE())
#else
# define fp_frame_ref(frame) fp_frame_ref_at((frame), __FILE__, __LINE__, __func__)
#endif

/**
 * Drops a reference and sets `*frame` to NULL. When the last reference goes the
 * frame returns to its pool. Use the fp_frame_unref() macro, which records the
 * release site.
 *
 * @param frame the caller's variable holding the reference; set to NULL
 * @param file release site file name, kept for double-release reports (the
 *             macro passes `__FILE__`)
 * @param line release site line (`__LINE__`)
 * @param func release site function name (`__func__`)
 * @return 0 (also for `frame == NULL` or `*frame == NULL`);
 *         FP_ERR(EALREADY) the frame had no references left (double release;
 *         the log names the acquire site and both release sites);
 *         FP_ERR(EINVAL) the pointer is not a frame of any pool.
 *         In both error cases nothing in any pool is changed except the misuse counters.
 *
 * Not detectable: a second release after the slot was acquired again by
 * someone else (pools reuse the last returned slot first, so this is the
 * common form of a double release) drops the new owner's reference, and the
 * frame may then be handed out twice. See doc/reliability.md, "What cannot
 * be detected".
 */
FP_API int fp_frame_unref_at(fp_frame **frame, const char *file, int line, const char *func);

/**
 * fp_frame_unref_at() with the release site as a pointer (see
 * fp_pool_acquire_site()).
 * @param frame the caller's variable holding the reference; set to NULL
 * @param site where the call is; must outlive the pool (NULL: unknown site)
 * @return as fp_frame_unref_at()
 */
FP_API int fp_frame_unref_site(fp_frame **frame, const fp_site *site);

#ifdef FP_SITE_HERE
/** Drops a reference (see fp_frame_unref_at()); the caller's file, line and function are the release site. */
# define fp_frame_unref(frame) fp_frame_unref_site((frame), FP_SITE_HERE())
#else
# define fp_frame_unref(frame) fp_frame_unref_at((frame), __FILE__, __LINE__, __func__)
#endif

/**
 * Reads a frame's reference count. For a frame of an AV pool (framepool/av.h)
 * this includes FFmpeg's references to its buffer (av_frame_ref copies,
 * av_buffer_ref, an encoder's queue): one per AVBufferRef instead of the one
 * core reference the AVBuffer holds.
 * @param frame a pool frame
 * @return the count, or FP_ERR(EINVAL) for NULL or a foreign pointer (a
 *         foreign pointer is logged and counted in fp_misuse_count())
 */
FP_API int fp_frame_refcount(const fp_frame *frame);

/**
 * Tells whether the pixels may be written: the caller holds the only reference.
 * @param frame a pool frame
 * @return 1 when the reference count (fp_frame_refcount()) is 1, 0 otherwise
 *         (also for NULL or a foreign pointer; a foreign pointer is logged and
 *         counted in fp_misuse_count())
 */
FP_API int fp_frame_is_writable(const fp_frame *frame);

/**
 * Labels a live frame for reports ("stream-7"). The string is copied (up to
 * FP_TAG_MAX bytes, cut before a UTF-8 character that does not fit); NULL
 * clears the tag. The first tag of a pool that is cut is logged (a warning
 * naming the tag and how many bytes were kept); later cuts in the same pool
 * are not. The tag is cleared when the frame returns. Any holder of a
 * reference may set it while other threads walk the pool: a walk sees the old
 * or the new tag, never a mix. Exports and reports escape what is not valid
 * UTF-8 and control characters.
 * May wait (spinning, then yielding) while another thread writes the same
 * frame's tag.
 * @param frame a live pool frame; NULL or a foreign pointer is ignored; a
 *              frame with no references left (released) is left as it is,
 *              and the misuse is logged and counted
 * @param tag   the label, or NULL
 */
FP_API void fp_frame_set_tag(fp_frame *frame, const char *tag);

/**
 * Closes the pool: every waiter wakes with FP_ERR(ESHUTDOWN) and later
 * acquires fail with it. Live frames stay valid and return as usual. Idempotent.
 * @param pool the pool; NULL is ignored
 */
FP_API void fp_pool_close(fp_pool *pool);

/**
 * Adds an application reference.
 * @param pool a pool the caller holds a reference to
 * @return `pool`; NULL for NULL, and for a pool whose last application
 *         reference was already dropped (logged, counted as misuse)
 */
FP_API fp_pool *fp_pool_ref(fp_pool *pool);

/**
 * Drops an application reference and sets `*pool` to NULL. The last one closes
 * the pool; the memory is freed once its last frame returns too. Dropping the
 * last reference while frames are live logs a leak report; it never blocks.
 * @param pool the caller's variable holding the reference; set to NULL.
 *             NULL and `*pool == NULL` are ignored
 */
FP_API void fp_pool_unref(fp_pool **pool);

/**
 * Copies a snapshot of the counters into `stats`.
 *
 * Guarantees, exactly, in every snapshot, even while other threads acquire and
 * release: `live == acquired - released`, `live <= capacity`,
 * `allocated == live + idle`, and `acquired`/`released` never decrease between
 * snapshots. Under concurrency the snapshot is a per-frame consistent view (each
 * frame is counted in one state), not a stop-the-world instant.
 *
 * The call also runs the watchdog scan (fp_pool_set_watchdog()).
 *
 * @param pool  the pool
 * @param stats receives the snapshot
 * @return 0, or FP_ERR(EINVAL) for NULL arguments
 */
FP_API int fp_pool_get_stats(fp_pool *pool, fp_pool_stats *stats);

/**
 * Calls `cb` for every live frame, oldest acquire first. The callback must not
 * call into the same pool. Frames acquired or released during the walk may or
 * may not be reported.
 * @param pool the pool
 * @param cb   called once per live frame, on the calling thread
 * @param ud   passed to `cb`
 * @return 0, the callback's non-zero value if it stopped the walk,
 *         FP_ERR(EINVAL) for a NULL pool or callback, or FP_ERR(ENOMEM)
 */
FP_API int fp_pool_foreach_live(fp_pool *pool, fp_live_cb cb, void *ud);

/**
 * Returns a checkpoint: frames acquired after this call have a larger
 * fp_live_frame::seq. Pair with fp_pool_foreach_live_since() to list what a
 * request, session or loop iteration took and still holds.
 * @param pool the pool
 * @return the checkpoint: frames acquired later have a larger
 *         fp_live_frame::seq; 0 for NULL
 */
FP_API uint64_t fp_pool_checkpoint(fp_pool *pool);

/**
 * Like fp_pool_foreach_live(), restricted to frames acquired after `checkpoint`.
 * @param pool       the pool
 * @param checkpoint a value from fp_pool_checkpoint(); 0 lists every live frame
 * @param cb         called once per matching live frame, oldest first
 * @param ud         passed to `cb`
 * @return 0, the callback's non-zero value if it stopped the walk,
 *         FP_ERR(EINVAL) for a NULL pool or callback, or FP_ERR(ENOMEM)
 */
FP_API int fp_pool_foreach_live_since(fp_pool *pool, uint64_t checkpoint, fp_live_cb cb, void *ud);

/**
 * Writes a human-readable report: the stats, then the live frames grouped by
 * acquire site (count, oldest age), oldest site first. Names, tags and sites
 * are escaped (control characters and bytes that are not UTF-8 as `\n` or
 * `\xHH`), so each line of the report is one line. Rendered into memory, then
 * written and flushed.
 * @param pool the pool
 * @param out  where to write, e.g. stderr
 * @return 0, FP_ERR(EINVAL) for NULL arguments, FP_ERR(EIO) when writing failed,
 *         FP_ERR(ENOMEM)
 */
FP_API int fp_pool_report(fp_pool *pool, FILE *out);

/**
 * Frees idle frames above min_frames (and every idle frame of an older
 * generation).
 * @param pool the pool
 * @return the number of frames freed, or FP_ERR(EINVAL)
 */
FP_API int fp_pool_trim(fp_pool *pool);

/**
 * Changes the geometry of the frames the pool hands out from now on, without
 * draining it: a new generation. Reads the geometry fields of `cfg` only
 * (format, width, height, align, buffer_size), validated as by
 * fp_pool_create(); the pool keeps everything else (max_frames, min_frames,
 * max_bytes, flags, allocator, callbacks).
 *
 * - New acquisitions get the new geometry. Idle frames of older generations
 *   are freed now; live ones stay valid with their own geometry (fp_frame's
 *   fields describe each frame) and are freed when their last reference goes,
 *   never handed out again. min_frames of the new geometry are allocated
 *   before it returns.
 * - Every live frame, of any generation, counts against max_frames and
 *   max_bytes. fp_pool_stats::generation, old_generation_live and
 *   old_generation_bytes, fp_pool_report() and the exports show them.
 * - Waiters: an acquirer waiting when the geometry changes keeps waiting and
 *   gets a frame of the new geometry, as soon as a frame of any generation
 *   returns (an older one gives its slot and memory back first).
 * - The same geometry as the current one is not a new generation: returns
 *   the current generation and frees nothing.
 * - Adapters' pools: an AV pool takes fp_av_pool_reconfigure() (or this, with
 *   cfg.format FP_FMT_NONE to keep the pixel format); fp_av_get_buffer2()
 *   reconfigures by itself when the decoder's size or pixel format changes.
 *   A oneVPL pool takes fp_vpl_pool_reconfigure() (an mfxFrameInfo) and
 *   refuses this with FP_ERR(EINVAL).
 *
 * Thread-safe against acquires and releases on any thread; cheap for them:
 * while frames of older generations are out, their acquires and releases
 * take the general path (one more comparison), afterwards the fast path.
 * Blocks on the pool's lock (short) and the allocator.
 *
 * @param pool the pool
 * @param cfg  the new geometry (other fields are ignored)
 * @return the new generation (> 0), FP_ERR(EINVAL) for a bad geometry or
 *         NULL arguments (logged), FP_ERR(ESHUTDOWN) for a closed pool,
 *         FP_ERR(ENOMEM)
 */
FP_API int fp_pool_reconfigure(fp_pool *pool, const fp_pool_config *cfg);

/**
 * The name given in fp_pool_config::name.
 * @param pool the pool
 * @return the name (valid while the pool lives), "" for NULL
 */
FP_API const char *fp_pool_name(const fp_pool *pool);

/**
 * The pool's process-unique id, also the `id` label of the exports (names may repeat).
 * @param pool the pool
 * @return the id (ids start at 1), 0 for NULL
 */
FP_API uint64_t fp_pool_id(const fp_pool *pool);

/**
 * Marks a live frame as meant to outlive checkpoints and teardown (a reference
 * picture, a logo overlay): it is left out of leak reports and the watchdog,
 * but still listed by fp_pool_foreach_live() and counted as live. Cleared when
 * the frame returns to the pool.
 * @param frame a live pool frame
 * @return 0, or FP_ERR(EINVAL) for NULL, a foreign pointer, or a frame with
 *         no references left (released; logged and counted as misuse)
 */
FP_API int fp_frame_set_long_lived(fp_frame *frame);

/** Watchdog callback: `live` describes a frame held longer than the limit. */
typedef void (*fp_watchdog_cb)(const fp_live_frame *live, void *ud);

/**
 * Reports each frame held longer than `max_age_us`, once per acquisition.
 * With `cb` NULL the report is a warning through the pool's log.
 *
 * A frame that became stale at time T is reported by the first of:
 * - fp_pool_watchdog_check(), fp_pool_maintain() or fp_registry_maintain()
 *   called at or after T;
 * - an acquire on the pool at or after T + max_age_us / 4 (acquires scan at
 *   most once per max_age_us / 4, so the watchdog costs nothing on the fast path).
 * Reads (stats, reports, exports) never run it.
 * The callback runs on the thread that made that call with no framepool lock
 * held: it may call any framepool function (export, create or drop pools,
 * change or turn off this watchdog) but must not release the frame it is given.
 *
 * Blocks: when the watchdog is changed or turned off (also by the app's last
 * fp_pool_unref()) while a callback runs on another thread, this waits for that
 * callback to return, so after it returns `ud` is no longer used. A callback
 * changing its own watchdog does not wait for itself.
 *
 * @param pool       the pool
 * @param max_age_us limit in microseconds; 0 turns the watchdog off
 * @param cb         called once per stale frame; NULL logs a warning instead
 * @param ud         passed to `cb`
 * @return 0, or FP_ERR(EINVAL) for a NULL pool, a negative age, or a pool
 *         created with FP_POOL_NO_TRACK (nothing to watch)
 */
FP_API int fp_pool_set_watchdog(fp_pool *pool, int64_t max_age_us, fp_watchdog_cb cb, void *ud);

/**
 * Runs the watchdog scan now. Call it from a timer if the pool may go a long
 * time without acquires.
 * @param pool the pool
 * @return the number of frames newly reported, or FP_ERR(EINVAL)
 */
FP_API int fp_pool_watchdog_check(fp_pool *pool);

/**
 * The pool's housekeeping, as one explicit step: returns deferred oneVPL
 * surfaces whose runtime has unlocked them (fp_pool_get_stats() and the
 * exports are pure reads and do not) and runs the watchdog scan.
 * Call it from the timer that exports your metrics.
 * @param pool the pool
 * @return the number of deferred surfaces returned, or FP_ERR(EINVAL)
 * Blocks only on the pool's lock (briefly) and the watchdog callbacks it runs.
 */
FP_API int fp_pool_maintain(fp_pool *pool);

/**
 * fp_pool_maintain() for every pool of the process, including pools the
 * application has dropped: a oneVPL pool dropped while a runtime still had a
 * surface locked is freed here once the runtime unlocks it. No lock is held
 * while a pool is maintained (callbacks may call anything).
 * @return the number of deferred surfaces returned in all pools
 */
FP_API int fp_registry_maintain(void);

/* ------------------------------------------------------------------------- */
/** @name Export
 * Machine-readable stats for dashboards. Every pool registers itself in a
 * process-wide registry at creation and leaves it when it is freed (after its
 * last frame returns), so a closed pool with leaked frames stays visible.
 * @{ */

/**
 * Writes one pool as a JSON object: its stats and its live frames.
 * Names, tags and sites come out as valid UTF-8 whatever their bytes: a byte
 * that starts no UTF-8 character becomes U+FFFD, a character cut by the end of
 * its buffer is dropped. The export is rendered into memory and then written
 * and flushed; it blocks only on that write.
 * @param pool the pool
 * @param out  where to write
 * @return 0, FP_ERR(EINVAL), FP_ERR(ENOMEM), or FP_ERR(EIO) when writing or
 *         flushing `out` failed (a full disk shows at the flush)
 */
FP_API int fp_pool_write_json(fp_pool *pool, FILE *out);

/**
 * Writes every registered pool as `{"pools": [...], "foreign_releases": N}`,
 * as fp_pool_write_json() does: valid UTF-8, rendered into memory (nothing is
 * written to `out` while the registry is walked), then written and flushed.
 * @param out where to write
 * @return 0, FP_ERR(EINVAL), FP_ERR(ENOMEM) or FP_ERR(EIO) (writing or flushing failed)
 */
FP_API int fp_registry_write_json(FILE *out);

/**
 * Writes every registered pool's stats in the Prometheus text exposition
 * format 0.0.4: metrics prefixed `framepool_`, base units, counters ending in
 * `_total`, labels `pool` (the name, escaped, valid UTF-8 as in
 * fp_pool_write_json()) and `id`. Rendered into memory, then written and flushed.
 * @param out where to write
 * @return 0, FP_ERR(EINVAL), FP_ERR(ENOMEM) or FP_ERR(EIO) (writing or flushing failed)
 */
FP_API int fp_registry_write_prometheus(FILE *out);

/**
 * Writes every pool of the process (every registered pool: open ones, and
 * ones the application dropped that stay alive because frames are still
 * held), grouped by creation site (see fp_pool_create_site()), oldest site
 * first (the site of the oldest live pool). Per site: the number of pools,
 * how many of them the application dropped that are still alive for their
 * held frames, reserved bytes (frame memory and bookkeeping), bytes of
 * allocated frames and live frames; then one line per pool of that site,
 * oldest first. A site that keeps gaining pools is a per-session pool leak.
 * Example:
 * @code
 * framepool registry: 3 pools from 2 creation sites
 * site server.c:88 in session_open(): 2 pools (1 dropped, alive for held frames), 2 live frames, 4096 bytes in frames, 6528 bytes reserved
 *   pool "session-1" id 1: open, 1 live frame, 2048 bytes in frames, 3264 bytes reserved
 *   pool "session-2" id 2: dropped by the application, alive for 1 held frame, 2048 bytes in frames, 3264 bytes reserved
 * site ...
 * @endcode
 * A pure read: no sweep, no watchdog, no callback; names and sites escaped as
 * in fp_pool_report(). Rendered into memory (nothing is written while the
 * registry is walked), then written and flushed.
 * Blocks only on each pool's lock (briefly) and on writing `out`.
 * @param out where to write, e.g. stderr
 * @return 0, FP_ERR(EINVAL) for NULL, FP_ERR(ENOMEM), or FP_ERR(EIO) when
 *         writing or flushing `out` failed
 */
FP_API int fp_registry_report(FILE *out);

/** @} */

/* ------------------------------------------------------------------------- */
/** @name Cleanup helpers
 * Release on every exit path. All release functions are NULL-safe and
 * idempotent on the same variable (they set it to NULL).
 *
 * Without the GCC/Clang `cleanup` attribute, FP_AUTO_FRAME and FP_SCOPE fail
 * to compile, naming the problem in the undeclared identifier they expand to; use the goto-cleanup pattern with
 * fp_frame_unref() / fp_scope_end() there (see doc/leaks.md).
 * @{ */

/**
 * Moves a reference out of a variable (typically an FP_AUTO_FRAME one, so that
 * it is not released at scope exit).
 * @param frame the variable; set to NULL
 * @return the reference `*frame` held (NULL if none): the caller now owns it
 */
static inline fp_frame *fp_frame_steal(fp_frame **frame)
{
    fp_frame *f = *frame;
    *frame = NULL;
    return f;
}

/**
 * Cleanup function behind FP_AUTO_FRAME: fp_frame_unref() with
 * "FP_AUTO_FRAME" as the release site.
 * @param frame the variable going out of scope
 */
FP_API void fp_frame_autorelease(fp_frame **frame);

#if defined(__GNUC__) || defined(__clang__)
/** `FP_AUTO_FRAME fp_frame *f = NULL;` releases f when it goes out of scope. */
# define FP_AUTO_FRAME __attribute__((cleanup(fp_frame_autorelease)))
#else
/* Expands to an unknown name so the compiler stops here with this text. */
# define FP_AUTO_FRAME FP_AUTO_FRAME_needs_the_cleanup_attribute_of_GCC_or_Clang__use_goto_cleanup
#endif

/** Inline capacity of a scope; more references spill to the heap. */
#define FP_SCOPE_INLINE 8

/**
 * A set of frame references released together: everything added is released
 * by fp_scope_end() unless taken back with fp_scope_take(). Initialize with
 * fp_scope_begin() or declare with FP_SCOPE().
 */
typedef struct fp_scope {
    fp_frame **items;                       ///< private: inline_items or a heap array
    size_t count;                           ///< references held
    size_t cap;                             ///< private: capacity of items
    const char *file;                       ///< private: begin site, used as the release site
    int line;                               ///< private
    const char *func;                       ///< private
    fp_frame *inline_items[FP_SCOPE_INLINE]; ///< private
} fp_scope;

/**
 * Starts an empty scope. Use the fp_scope_begin() macro, which records the site.
 * @param scope the scope to initialize; NULL is ignored
 * @param file  site file name, used as the release site of every reference
 *              the scope releases
 * @param line  site line
 * @param func  site function name
 */
FP_API void fp_scope_begin_at(fp_scope *scope, const char *file, int line, const char *func);
/** fp_scope_begin_at() with the caller's file, line and function as the site. */
#define fp_scope_begin(scope) fp_scope_begin_at((scope), __FILE__, __LINE__, __func__)

/**
 * Moves the caller's reference into the scope.
 * @param scope a begun scope (a zeroed one is begun on first use)
 * @param frame the reference to hand over
 * @return 0; FP_ERR(ENOMEM) when the scope could not grow: the frame has then
 *         been released (so the caller can never leak it); FP_ERR(EINVAL) for a
 *         NULL scope or frame, a foreign frame, or a frame with no references
 *         left (released: logged and counted as misuse); in these cases the
 *         frame is neither taken nor released
 */
FP_API int fp_scope_add(fp_scope *scope, fp_frame *frame);

/**
 * Takes the most recently added occurrence of `frame` back out of the scope:
 * the caller owns that reference again.
 * @param scope the scope
 * @param frame the frame to take back
 * @return 0, FP_ERR(ENOENT) when the frame is not in the scope, FP_ERR(EINVAL) for NULL
 */
FP_API int fp_scope_take(fp_scope *scope, fp_frame *frame);

/**
 * Releases every reference in the scope (most recent first) and frees its
 * storage. The scope is empty afterwards and may be reused; calling it again
 * is a no-op. NULL-safe.
 * @param scope the scope
 */
FP_API void fp_scope_end(fp_scope *scope);

#if defined(__GNUC__) || defined(__clang__)
/** Declares and begins a scope that ends itself when it goes out of scope. */
# define FP_SCOPE(name) \
    fp_scope name __attribute__((cleanup(fp_scope_end))); \
    fp_scope_begin_at(&name, __FILE__, __LINE__, __func__)
#else
# define FP_SCOPE(name) FP_SCOPE_needs_the_cleanup_attribute_of_GCC_or_Clang__use_fp_scope_end name
#endif

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* FRAMEPOOL_FRAMEPOOL_H */
