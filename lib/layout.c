/*
 * Plane layout of every fp_format: linesizes and plane offsets, computed once
 * per pool so that acquiring a frame does no arithmetic on geometry.
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdint.h>

#include "internal.h"

/* One plane: bytes per horizontal sample unit, and log2 subsampling. */
typedef struct plane_desc {
    uint8_t bytes, shift_w, shift_h;
} plane_desc;

typedef struct format_desc {
    const char *name;
    uint8_t nb_planes;
    uint8_t even_width; /* a sample unit covers two pixels */
    plane_desc p[3];
} format_desc;

static const format_desc formats[FP_FMT_COUNT] = {
    [FP_FMT_RAW]     = { "raw", 1, 0, { { 1, 0, 0 } } },
    [FP_FMT_YUV420P] = { "yuv420p", 3, 0, { { 1, 0, 0 }, { 1, 1, 1 }, { 1, 1, 1 } } },
    [FP_FMT_NV12]    = { "nv12", 2, 0, { { 1, 0, 0 }, { 2, 1, 1 } } },
    [FP_FMT_P010]    = { "p010", 2, 0, { { 2, 0, 0 }, { 4, 1, 1 } } },
    [FP_FMT_YUV422P] = { "yuv422p", 3, 0, { { 1, 0, 0 }, { 1, 1, 0 }, { 1, 1, 0 } } },
    [FP_FMT_YUV444P] = { "yuv444p", 3, 0, { { 1, 0, 0 }, { 1, 0, 0 }, { 1, 0, 0 } } },
    [FP_FMT_YUYV422] = { "yuyv422", 1, 1, { { 2, 0, 0 } } },
    [FP_FMT_BGRA]    = { "bgra", 1, 0, { { 4, 0, 0 } } },
    [FP_FMT_RGBA]    = { "rgba", 1, 0, { { 4, 0, 0 } } },
    [FP_FMT_GRAY8]   = { "gray8", 1, 0, { { 1, 0, 0 } } },
};

const char *fp__format_name(int fmt)
{
    if (fmt <= FP_FMT_NONE || fmt >= FP_FMT_COUNT)
        return "none";
    return formats[fmt].name;
}

/* a + b and a * b on size_t, false on overflow */
static bool add_ok(size_t a, size_t b, size_t *r) { return !__builtin_add_overflow(a, b, r); }
static bool mul_ok(size_t a, size_t b, size_t *r) { return !__builtin_mul_overflow(a, b, r); }

static bool align_up(size_t v, size_t align, size_t *r)
{
    size_t t;
    if (!add_ok(v, align - 1, &t))
        return false;
    *r = t & ~(align - 1);
    return true;
}

int fp__layout_compute(enum fp_format fmt, int width, int height, int align, size_t raw_size,
                      fp__layout *out, enum fp_layout_why *why)
{
    *out = (fp__layout){ 0 };
    *why = FP_LAYOUT_OK;
    if ((int)fmt <= FP_FMT_NONE || (int)fmt >= FP_FMT_COUNT) {
        *why = FP_LAYOUT_BAD_FORMAT;
        return FP_ERR(EINVAL);
    }
    if (!fp__align_ok(align)) {
        *why = FP_LAYOUT_BAD_ALIGN;
        return FP_ERR(EINVAL);
    }
    const format_desc *d = &formats[fmt];
    size_t total = 0;

    if (fmt == FP_FMT_RAW) {
        if (raw_size == 0) {
            *why = FP_LAYOUT_RAW_NEEDS_SIZE;
            return FP_ERR(EINVAL);
        }
        if (width != 0 || height != 0) {
            *why = width ? FP_LAYOUT_RAW_WIDTH : FP_LAYOUT_RAW_HEIGHT;
            return FP_ERR(EINVAL);
        }
        out->nb_planes = 1;
        total = raw_size;
    } else {
        if (width < 1 || width > FP_MAX_DIMENSION || (d->even_width && (width & 1))) {
            *why = width >= 1 && width <= FP_MAX_DIMENSION ? FP_LAYOUT_ODD_WIDTH : FP_LAYOUT_BAD_WIDTH;
            return FP_ERR(EINVAL);
        }
        if (height < 1 || height > FP_MAX_DIMENSION) {
            *why = FP_LAYOUT_BAD_HEIGHT;
            return FP_ERR(EINVAL);
        }
        if (raw_size != 0) {
            *why = FP_LAYOUT_IMAGE_SIZE;
            return FP_ERR(EINVAL);
        }
        out->nb_planes = d->nb_planes;
        for (int i = 0; i < d->nb_planes; i++) {
            const plane_desc *p = &d->p[i];
            size_t cols = ((size_t)width + (1u << p->shift_w) - 1) >> p->shift_w;
            size_t rows = ((size_t)height + (1u << p->shift_h) - 1) >> p->shift_h;
            size_t row_bytes, line, plane;
            if (!mul_ok(cols, p->bytes, &row_bytes) || !align_up(row_bytes, (size_t)align, &line) ||
                line > INT32_MAX || !mul_ok(line, rows, &plane)) {
                *why = FP_LAYOUT_OVERFLOW_WIDTH;
                return FP_ERR(EOVERFLOW);
            }
            out->linesize[i] = (int)line;
            out->offset[i] = total;
            if (!add_ok(total, plane, &total)) {
                *why = FP_LAYOUT_OVERFLOW_HEIGHT;
                return FP_ERR(EOVERFLOW);
            }
        }
    }
    out->size = total;
    size_t padded;
    if (!add_ok(total, FP_TAIL_PADDING, &padded) || !align_up(padded, (size_t)align, &padded)) {
        *why = fmt == FP_FMT_RAW ? FP_LAYOUT_OVERFLOW_SIZE : FP_LAYOUT_OVERFLOW_HEIGHT;
        return FP_ERR(EOVERFLOW);
    }
    out->alloc_size = padded;
    return 0;
}
