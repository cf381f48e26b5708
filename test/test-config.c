/*
 * Suite "config": fp_pool_config_default(), validation in fp_pool_create(),
 * pool names, fp_strerror() and fp_version().
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static test_log logbuf;
static test_alloc ta;

static void reset_recorders(void)
{
    test_log_reset(&logbuf);
    memset(&ta, 0, sizeof(ta));
}

/* A valid config that would allocate at creation (min_frames 2), so that
 * "nothing allocated" after a rejected config means something. */
static fp_pool_config base_config(void)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 16, 16, 4, &logbuf);
    cfg.name = "cfgtest";
    cfg.min_frames = 2;
    cfg.allocator = test_allocator(&ta);
    return cfg;
}

static char not_a_pool[1];
#define SENTINEL_POOL ((fp_pool *)(void *)not_a_pool)

/* ------------------------------------------------------------------------- */
/* Defaults                                                                  */

START_TEST(test_defaults)
{
    fp_pool_config cfg;
    memset(&cfg, 0xA5, sizeof(cfg));
    fp_pool_config_default(&cfg);

    ck_assert_ptr_null(cfg.name);
    ck_assert_int_eq(cfg.format, FP_FMT_NONE);
    ck_assert_int_eq(cfg.width, 0);
    ck_assert_int_eq(cfg.height, 0);
    ck_assert_int_eq(cfg.align, 64);
    ck_assert_uint_eq(cfg.buffer_size, 0);
    ck_assert_int_eq(cfg.min_frames, 0);
    ck_assert_int_eq(cfg.max_frames, 0);
    ck_assert_uint_eq(cfg.flags, 0);
    ck_assert(cfg.allocator.alloc == NULL);
    ck_assert(cfg.allocator.free == NULL);
    ck_assert_ptr_null(cfg.allocator.opaque);
    ck_assert(cfg.log == NULL);
    ck_assert_ptr_null(cfg.log_opaque);
    ck_assert_int_eq(cfg.log_level, FP_LOG_WARN);
    for (size_t i = 0; i < sizeof(cfg.reserved); i++)
        ck_assert_msg(cfg.reserved[i] == 0, "reserved[%zu] = %u", i, cfg.reserved[i]);
}
END_TEST

/* The defaults alone are not a usable pool: max_frames must be set. */
START_TEST(test_defaults_rejected)
{
    reset_recorders();
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.format = FP_FMT_GRAY8;
    cfg.width = 16;
    cfg.height = 16;
    cfg.log = test_log_cb;
    cfg.log_opaque = &logbuf;
    fp_pool *pool = SENTINEL_POOL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), FP_ERR(EINVAL));
    ck_assert_ptr_null(pool);
    ck_assert_int_eq(atomic_load(&logbuf.total), 1);
    ck_assert_msg(strstr(logbuf.lines[0], "max_frames"), "log line: %s", logbuf.lines[0]);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Rejected configs                                                          */

/* X(id, field named in the log line, errno, change applied to base_config()) */
#define BAD_CASES(X)                                                                              \
    X(max_frames_0, "max_frames", EINVAL, c->max_frames = 0)                                      \
    X(max_frames_neg, "max_frames", EINVAL, c->max_frames = -1)                                   \
    X(max_frames_too_big, "max_frames", EINVAL, c->max_frames = FP_MAX_FRAMES + 1)                \
    X(max_frames_int_max, "max_frames", EINVAL, c->max_frames = INT_MAX)                          \
    X(min_frames_neg, "min_frames", EINVAL, c->min_frames = -1)                                   \
    X(min_frames_above_max, "min_frames", EINVAL, c->min_frames = 5)                              \
    X(format_none, "format", EINVAL, c->format = FP_FMT_NONE)                                     \
    X(format_count, "format", EINVAL, c->format = FP_FMT_COUNT)                                   \
    X(format_neg, "format", EINVAL, c->format = (enum fp_format)-5)                               \
    X(format_huge, "format", EINVAL, c->format = (enum fp_format)1000)                            \
    X(width_0, "width", EINVAL, c->width = 0)                                                     \
    X(width_neg, "width", EINVAL, c->width = -16)                                                 \
    X(width_too_big, "width", EINVAL, c->width = FP_MAX_DIMENSION + 1)                            \
    X(width_int_max, "width", EINVAL, c->width = INT_MAX)                                         \
    X(height_0, "height", EINVAL, c->height = 0)                                                  \
    X(height_neg, "height", EINVAL, c->height = -16)                                              \
    X(height_too_big, "height", EINVAL, c->height = FP_MAX_DIMENSION + 1)                         \
    X(height_int_min, "height", EINVAL, c->height = INT_MIN)                                      \
    X(yuyv_odd_width, "width", EINVAL, c->format = FP_FMT_YUYV422; c->width = 17)                 \
    X(yuyv_width_1, "width", EINVAL, c->format = FP_FMT_YUYV422; c->width = 1)                    \
    X(yuyv_width_too_big, "width", EINVAL, c->format = FP_FMT_YUYV422; c->width = 32770)          \
    X(align_0, "align", EINVAL, c->align = 0)                                                     \
    X(align_3, "align", EINVAL, c->align = 3)                                                     \
    X(align_48, "align", EINVAL, c->align = 48)                                                   \
    X(align_8192, "align", EINVAL, c->align = 8192)                                               \
    X(align_neg, "align", EINVAL, c->align = -64)                                                 \
    X(raw_size_0, "buffer_size", EINVAL,                                                          \
      c->format = FP_FMT_RAW; c->width = 0; c->height = 0; c->buffer_size = 0)                    \
    X(raw_with_width, "width", EINVAL,                                                            \
      c->format = FP_FMT_RAW; c->width = 16; c->height = 0; c->buffer_size = 4096)                \
    X(raw_with_height, "height", EINVAL,                                                          \
      c->format = FP_FMT_RAW; c->width = 0; c->height = 16; c->buffer_size = 4096)                \
    X(image_with_buffer_size, "buffer_size", EINVAL, c->buffer_size = 100)                        \
    X(yuv420p_with_buffer_size, "buffer_size", EINVAL,                                            \
      c->format = FP_FMT_YUV420P; c->buffer_size = 1)                                             \
    X(flags_bit4, "flags", EINVAL, c->flags = FP_POOL_ZERO | (1u << 4))                           \
    X(flags_bit31, "flags", EINVAL, c->flags = 1u << 31)                                          \
    X(allocator_only_alloc, "allocator", EINVAL, c->allocator.free = NULL)                        \
    X(allocator_only_free, "allocator", EINVAL, c->allocator.alloc = NULL)                        \
    X(log_level_neg, "log_level", EINVAL, c->log_level = -1)                                      \
    X(log_level_too_big, "log_level", EINVAL, c->log_level = FP_LOG_DEBUG + 1)                    \
    X(reserved_first, "reserved", EINVAL, c->reserved[0] = 1)                                     \
    X(reserved_last, "reserved", EINVAL, c->reserved[sizeof(c->reserved) - 1] = 0x80)            \
    X(raw_overflow, "buffer_size", EOVERFLOW,                                                     \
      c->format = FP_FMT_RAW; c->width = 0; c->height = 0; c->buffer_size = SIZE_MAX - 10)        \
    X(raw_overflow_max, "buffer_size", EOVERFLOW,                                                 \
      c->format = FP_FMT_RAW; c->width = 0; c->height = 0; c->buffer_size = SIZE_MAX)             \
    X(raw_overflow_align, "buffer_size", EOVERFLOW,                                               \
      c->format = FP_FMT_RAW; c->width = 0; c->height = 0; c->align = 4096;                       \
      c->buffer_size = SIZE_MAX - 200)

typedef struct bad_case {
    const char *what;
    const char *field;
    int err;
    void (*apply)(fp_pool_config *c);
} bad_case;

#define DEFINE_BAD(id, field, e, body) \
    static void bad_##id(fp_pool_config *c) { body; }
BAD_CASES(DEFINE_BAD)

#define ENTRY_BAD(id, field, e, body) { #id, field, FP_ERR(e), bad_##id },
static const bad_case bad_cases[] = { BAD_CASES(ENTRY_BAD) };
#define N_BAD_CASES ((int)(sizeof(bad_cases) / sizeof(bad_cases[0])))

START_TEST(test_invalid_config)
{
    const bad_case *bc = &bad_cases[_i];
    reset_recorders();
    fp_pool_config cfg = base_config();
    bc->apply(&cfg);

    fp_pool *pool = SENTINEL_POOL;
    int ret = fp_pool_create(&pool, &cfg);
    ck_assert_msg(ret == bc->err, "%s: fp_pool_create returned %d (%s), expected %d (%s)", bc->what,
                  ret, fp_strerror(ret), bc->err, fp_strerror(bc->err));
    ck_assert_msg(pool == NULL, "%s: *out was not set to NULL", bc->what);
    int lines = atomic_load(&logbuf.total);
    ck_assert_msg(lines == 1, "%s: %d log lines, expected exactly 1 (first: \"%s\")", bc->what, lines,
                  lines ? logbuf.lines[0] : "");
    ck_assert_msg(strstr(logbuf.lines[0], bc->field) != NULL,
                  "%s: log line \"%s\" does not name the field \"%s\"", bc->what, logbuf.lines[0],
                  bc->field);
    ck_assert_msg(strstr(logbuf.lines[0], "cfgtest") != NULL,
                  "%s: log line \"%s\" is not prefixed with the pool name", bc->what, logbuf.lines[0]);
    ck_assert_msg(atomic_load(&ta.calls) == 0 && atomic_load(&ta.live) == 0,
                  "%s: allocator used (calls %d, live %d)", bc->what, atomic_load(&ta.calls),
                  atomic_load(&ta.live));
}
END_TEST

START_TEST(test_null_out)
{
    reset_recorders();
    fp_pool_config cfg = base_config();
    ck_assert_int_eq(fp_pool_create(NULL, &cfg), FP_ERR(EINVAL));
    ck_assert_int_eq(atomic_load(&logbuf.total), 1);
    ck_assert_msg(strstr(logbuf.lines[0], "out"), "log line: %s", logbuf.lines[0]);
    ck_assert_int_eq(atomic_load(&ta.calls), 0);
    ck_assert_int_eq(atomic_load(&ta.live), 0);
}
END_TEST

START_TEST(test_null_cfg)
{
    fp_pool *pool = SENTINEL_POOL;
    ck_assert_int_eq(fp_pool_create(&pool, NULL), FP_ERR(EINVAL));
    ck_assert_ptr_null(pool);
    ck_assert_int_eq(fp_pool_create(NULL, NULL), FP_ERR(EINVAL));
}
END_TEST

/* 0.3 fields this build does not implement (budgets) are refused, never
 * ignored; a pool reports generation 1. */
START_TEST(test_unimplemented_fields_refused)
{
    for (int k = 0; k < 2; k++) {
        reset_recorders();
        fp_pool_config cfg = base_config();
        if (k == 0)
            cfg.budget = (fp_budget *)(void *)not_a_pool;
        else
            cfg.idle_timeout_us = 1000;
        fp_pool *pool = SENTINEL_POOL;
        ck_assert_int_eq(fp_pool_create(&pool, &cfg), FP_ERR(ENOTSUP));
        ck_assert_ptr_null(pool);
        ck_assert_int_eq(atomic_load(&logbuf.total), 1);
        ck_assert_msg(strstr(logbuf.lines[0], "not supported"), "log line: %s", logbuf.lines[0]);
        ck_assert_int_eq(atomic_load(&ta.calls), 0);
    }
    reset_recorders();
    fp_pool_config cfg = base_config();
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.generation, 1);
    ck_assert_uint_eq(st.old_generation_live, 0);
    ck_assert_uint_eq(st.aged_out + st.reclaimed + st.budget_waits + st.old_generation_bytes, 0);
    fp_pool_unref(&pool);
}
END_TEST

/* The same rejected config, logged nowhere but stderr, still fails cleanly. */
START_TEST(test_invalid_without_log)
{
    reset_recorders();
    fp_pool_config cfg = base_config();
    cfg.log = NULL;
    cfg.log_opaque = NULL;
    cfg.align = 3;
    fp_pool *pool = SENTINEL_POOL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), FP_ERR(EINVAL));
    ck_assert_ptr_null(pool);
    ck_assert_int_eq(atomic_load(&logbuf.total), 0);
    ck_assert_int_eq(atomic_load(&ta.calls), 0);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Accepted configs                                                          */

#define GOOD_CASES(X)                                                          \
    X(base, (void)c)                                                           \
    X(align_1, c->align = 1)                                                   \
    X(align_2, c->align = 2)                                                   \
    X(align_16, c->align = 16)                                                 \
    X(align_4096, c->align = 4096)                                             \
    X(min_equals_max, c->min_frames = c->max_frames)                           \
    X(min_0, c->min_frames = 0)                                                \
    X(max_1_min_1, c->max_frames = 1; c->min_frames = 1)                       \
    X(all_flags, c->flags = FP_POOL_NO_TRACK | FP_POOL_ZERO | FP_POOL_POISON | \
                            FP_POOL_STRICT)                                    \
    X(log_level_error, c->log_level = FP_LOG_ERROR)                            \
    X(log_level_info, c->log_level = FP_LOG_INFO)                              \
    X(log_level_debug, c->log_level = FP_LOG_DEBUG)                            \
    X(yuyv_width_2, c->format = FP_FMT_YUYV422; c->width = 2)                  \
    X(yuyv_width_max, c->format = FP_FMT_YUYV422; c->width = FP_MAX_DIMENSION; \
      c->height = 1)                                                           \
    X(raw_1, c->format = FP_FMT_RAW; c->width = 0; c->height = 0;              \
      c->buffer_size = 1)                                                      \
    X(name_null, c->name = NULL)                                               \
    X(default_allocator, c->allocator.alloc = NULL; c->allocator.free = NULL;  \
      c->allocator.opaque = NULL)

typedef struct good_case {
    const char *what;
    void (*apply)(fp_pool_config *c);
} good_case;

#define DEFINE_GOOD(id, body) \
    static void good_##id(fp_pool_config *c) { body; }
GOOD_CASES(DEFINE_GOOD)

#define ENTRY_GOOD(id, body) { #id, good_##id },
static const good_case good_cases[] = { GOOD_CASES(ENTRY_GOOD) };
#define N_GOOD_CASES ((int)(sizeof(good_cases) / sizeof(good_cases[0])))

START_TEST(test_valid_config)
{
    const good_case *gc = &good_cases[_i];
    reset_recorders();
    fp_pool_config cfg = base_config();
    gc->apply(&cfg);
    bool hooked = cfg.allocator.alloc == test_alloc_alloc;

    fp_pool *pool = NULL;
    int ret = fp_pool_create(&pool, &cfg);
    ck_assert_msg(ret == 0, "%s: fp_pool_create returned %d (%s); log: %s", gc->what, ret,
                  fp_strerror(ret), atomic_load(&logbuf.total) ? logbuf.lines[0] : "");
    ck_assert_ptr_nonnull(pool);
    if (cfg.log_level <= FP_LOG_INFO)
        ck_assert_msg(atomic_load(&logbuf.total) == 0, "%s: unexpected log line \"%s\"", gc->what,
                      logbuf.lines[0]);

    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.capacity, (unsigned)cfg.max_frames);
    ck_assert_uint_eq(st.min_frames, (unsigned)cfg.min_frames);
    ck_assert_uint_eq(st.allocated, (unsigned)cfg.min_frames);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_int_eq(st.closed, 0);
    if (hooked) {
        ck_assert_int_eq(atomic_load(&ta.calls), cfg.min_frames);
        ck_assert_int_eq(atomic_load(&ta.live), cfg.min_frames);
    } else {
        ck_assert_int_eq(atomic_load(&ta.calls), 0);
    }

    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->format, cfg.format);
    memset(f->data[0], 0x11, f->size);
    ck_assert_int_eq(fp_frame_unref(&f), 0);

    fp_pool_unref(&pool);
    ck_assert_ptr_null(pool);
    ck_assert_int_eq(atomic_load(&ta.live), 0);
}
END_TEST

/* Width and height 1 and FP_MAX_DIMENSION, with max_frames 1 and min_frames 0:
 * accepted, and nothing is allocated before the first acquire. */
static const int dim_cases[][2] = {
    { 1, 1 },
    { 1, FP_MAX_DIMENSION },
    { FP_MAX_DIMENSION, 1 },
    { FP_MAX_DIMENSION, FP_MAX_DIMENSION },
};

START_TEST(test_dimension_bounds)
{
    int w = dim_cases[_i][0], h = dim_cases[_i][1];
    reset_recorders();
    fp_pool_config cfg = base_config();
    cfg.width = w;
    cfg.height = h;
    cfg.max_frames = 1;
    cfg.min_frames = 0;

    fp_pool *pool = NULL;
    int ret = fp_pool_create(&pool, &cfg);
    ck_assert_msg(ret == 0, "%dx%d: %d (%s)", w, h, ret, fp_strerror(ret));
    ck_assert_int_eq(atomic_load(&logbuf.total), 0);
    ck_assert_int_eq(atomic_load(&ta.calls), 0);

    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.capacity, 1);
    ck_assert_uint_eq(st.allocated, 0);
    ck_assert_uint_ge(st.frame_bytes, (uint64_t)w * (uint64_t)h);

    if ((uint64_t)w * (uint64_t)h <= (1u << 20)) {
        fp_frame *f = NULL;
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
        ck_assert_int_eq(f->width, w);
        ck_assert_int_eq(f->height, h);
        ck_assert_int_ge(f->linesize[0], w);
        memset(f->data[0], 0x22, (size_t)f->linesize[0] * (size_t)h);
        ck_assert_int_eq(atomic_load(&ta.calls), 1);
        fp_frame *g = NULL;
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &g), FP_ERR(EAGAIN));
        ck_assert_int_eq(fp_frame_unref(&f), 0);
    }
    fp_pool_unref(&pool);
    ck_assert_int_eq(atomic_load(&ta.live), 0);
}
END_TEST

START_TEST(test_max_frames_limit)
{
    reset_recorders();
    fp_pool_config cfg = base_config();
    cfg.max_frames = FP_MAX_FRAMES;
    cfg.min_frames = 0;
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    ck_assert_int_eq(atomic_load(&logbuf.total), 0);
    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.capacity, FP_MAX_FRAMES);
    ck_assert_uint_eq(st.allocated, 0);
    fp_frame *f[3] = { NULL };
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fp_pool_acquire(pool, 0, &f[i]), 0);
    ck_assert_int_eq(atomic_load(&ta.calls), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fp_frame_unref(&f[i]), 0);
    fp_pool_unref(&pool);
    ck_assert_int_eq(atomic_load(&ta.live), 0);
}
END_TEST

/* The config is copied: changing or destroying it after creation changes nothing. */
START_TEST(test_config_copied)
{
    reset_recorders();
    fp_pool_config *cfg = malloc(sizeof(*cfg));
    ck_assert_ptr_nonnull(cfg);
    *cfg = base_config();
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, cfg), 0);
    memset(cfg, 0xFF, sizeof(*cfg));
    free(cfg);

    fp_pool_stats st;
    ck_assert_int_eq(fp_pool_get_stats(pool, &st), 0);
    ck_assert_uint_eq(st.capacity, 4);
    ck_assert_uint_eq(st.min_frames, 2);
    ck_assert_str_eq(fp_pool_name(pool), "cfgtest");
    fp_frame *f = NULL;
    ck_assert_int_eq(fp_pool_acquire(pool, 0, &f), 0);
    ck_assert_int_eq(f->width, 16);
    ck_assert_int_eq(f->height, 16);
    ck_assert_int_eq(f->format, FP_FMT_GRAY8);
    ck_assert_int_eq(fp_frame_unref(&f), 0);
    fp_pool_unref(&pool);
    ck_assert_int_eq(atomic_load(&ta.live), 0);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Names                                                                     */

static fp_pool *create_named(const char *name)
{
    fp_pool_config cfg = test_config(FP_FMT_GRAY8, 8, 8, 1, &logbuf);
    cfg.name = name;
    fp_pool *pool = NULL;
    ck_assert_int_eq(fp_pool_create(&pool, &cfg), 0);
    return pool;
}

START_TEST(test_name_copied)
{
    reset_recorders();
    char *name = strdup("camera-7/main");
    ck_assert_ptr_nonnull(name);
    fp_pool *pool = create_named(name);
    memset(name, 'X', strlen(name));
    free(name);
    ck_assert_str_eq(fp_pool_name(pool), "camera-7/main");
    fp_pool_unref(&pool);
}
END_TEST

START_TEST(test_name_truncated)
{
    reset_recorders();
    static const size_t lens[] = { 62, 63, 64, 100, 1000 };
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        size_t n = lens[k];
        char *name = malloc(n + 1);
        ck_assert_ptr_nonnull(name);
        for (size_t i = 0; i < n; i++)
            name[i] = (char)('a' + i % 26);
        name[n] = '\0';
        fp_pool *pool = create_named(name);
        const char *got = fp_pool_name(pool);
        size_t want = n < 63 ? n : 63;
        ck_assert_msg(strlen(got) == want, "name of %zu bytes came back with %zu", n, strlen(got));
        ck_assert_msg(memcmp(got, name, want) == 0, "name of %zu bytes: got \"%s\"", n, got);
        free(name);
        ck_assert_msg(strlen(fp_pool_name(pool)) == want, "name changed after the caller freed its copy");
        fp_pool_unref(&pool);
    }
}
END_TEST

START_TEST(test_name_default)
{
    reset_recorders();
    fp_pool *pool = create_named(NULL);
    ck_assert_str_eq(fp_pool_name(pool), "pool");
    fp_pool_unref(&pool);
    ck_assert_str_eq(fp_pool_name(NULL), "");
}
END_TEST

/* ------------------------------------------------------------------------- */
/* Errors and version                                                        */

START_TEST(test_strerror)
{
    static const int codes[] = {
        0,
        FP_ERR(EAGAIN),
        FP_ERR(ETIMEDOUT),
        FP_ERR(ESHUTDOWN),
        FP_ERR(ENOMEM),
        FP_ERR(EINVAL),
        FP_ERR(EALREADY),
        FP_ERR(EOVERFLOW),
        FP_ERR(EIO),
    };
    enum { N = sizeof(codes) / sizeof(codes[0]) };
    const char *s[N];
    for (int i = 0; i < N; i++) {
        s[i] = fp_strerror(codes[i]);
        ck_assert_msg(s[i] != NULL && s[i][0] != '\0', "fp_strerror(%d) is empty", codes[i]);
        ck_assert_msg(fp_strerror(codes[i]) == s[i] || !strcmp(fp_strerror(codes[i]), s[i]),
                      "fp_strerror(%d) is not stable", codes[i]);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            ck_assert_msg(strcmp(s[i], s[j]) != 0, "fp_strerror(%d) == fp_strerror(%d) == \"%s\"",
                          codes[i], codes[j], s[i]);

    static const int unknown[] = { 1, 12345, INT_MAX, INT_MIN, -100000 };
    for (size_t u = 0; u < sizeof(unknown) / sizeof(unknown[0]); u++) {
        const char *us = fp_strerror(unknown[u]);
        ck_assert_msg(us != NULL && us[0] != '\0', "fp_strerror(%d) is empty", unknown[u]);
        for (int i = 0; i < N; i++)
            ck_assert_msg(strcmp(us, s[i]) != 0, "unknown code %d described like %d: \"%s\"",
                          unknown[u], codes[i], us);
    }

    /* Any other negative errno gets a description too, distinct from ours. */
    const char *eperm = fp_strerror(FP_ERR(EPERM));
    ck_assert_ptr_nonnull(eperm);
    ck_assert_int_ne(eperm[0], '\0');
    for (int i = 0; i < N; i++)
        ck_assert_str_ne(eperm, s[i]);
}
END_TEST

START_TEST(test_version)
{
    ck_assert_uint_eq(fp_version(), FP_VERSION);
    ck_assert_uint_eq(FP_VERSION,
                      FP_VERSION_INT(FP_VERSION_MAJOR, FP_VERSION_MINOR, FP_VERSION_PATCH));
    ck_assert_uint_eq(fp_version() >> 16, FP_VERSION_MAJOR);
    ck_assert_uint_eq((fp_version() >> 8) & 0xFF, FP_VERSION_MINOR);
    ck_assert_uint_eq(fp_version() & 0xFF, FP_VERSION_PATCH);
}
END_TEST

Suite *fp_test_suite(void)
{
    Suite *s = suite_create("config");

    TCase *tc = tcase_create("defaults");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_defaults_rejected);
    suite_add_tcase(s, tc);

    tc = tcase_create("invalid");
    tcase_add_loop_test(tc, test_invalid_config, 0, N_BAD_CASES);
    tcase_add_test(tc, test_null_out);
    tcase_add_test(tc, test_null_cfg);
    tcase_add_test(tc, test_invalid_without_log);
    tcase_add_test(tc, test_unimplemented_fields_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("valid");
    tcase_add_loop_test(tc, test_valid_config, 0, N_GOOD_CASES);
    tcase_add_loop_test(tc, test_dimension_bounds, 0, (int)(sizeof(dim_cases) / sizeof(dim_cases[0])));
    tcase_add_test(tc, test_max_frames_limit);
    tcase_add_test(tc, test_config_copied);
    suite_add_tcase(s, tc);

    tc = tcase_create("name");
    tcase_add_test(tc, test_name_copied);
    tcase_add_test(tc, test_name_truncated);
    tcase_add_test(tc, test_name_default);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_strerror);
    tcase_add_test(tc, test_version);
    suite_add_tcase(s, tc);

    return s;
}
