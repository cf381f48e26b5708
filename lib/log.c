/*
 * Logging: one formatted line per call, to the pool's callback or stderr.
 * SPDX-License-Identifier: MIT
 *
 * The format strings are ours; the strings they print (pool names, tags, call
 * sites, paths) are the application's. So every %s argument is escaped
 * (fp__esc_text(): control characters and bytes that are not UTF-8 become
 * \n or \xHH, so a value can never end the line or forge another) and
 * shortened to LOG_STR_MAX bytes, keeping both its ends: a long name or path
 * costs its middle, never the reason the line was written for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "internal.h"

#define LOG_LINE_MAX 2048
#define LOG_STR_MAX 160 /* one %s argument, escaped (an explicit precision may allow more) */
#define LOG_NAME_MAX 64 /* the pool name in the prefix */

static _Atomic uint64_t global_misuse;

void fp__misuse_global_inc(void)
{
    atomic_fetch_add_explicit(&global_misuse, 1, RLX);
}

uint64_t fp_misuse_count(void)
{
    return atomic_load_explicit(&global_misuse, RLX);
}

static const char *level_name(int level)
{
    switch (level) {
    case FP_LOG_ERROR: return "error";
    case FP_LOG_WARN: return "warning";
    case FP_LOG_INFO: return "info";
    default: return "debug";
    }
}

/* One %s argument: at most `prec` input bytes when a precision was given (as
 * printf reads them), escaped, shortened. */
static size_t put_str(char *dst, size_t cap, const char *s, int prec)
{
    if (prec < 0)
        return fp__esc_text(dst, cap, s, LOG_STR_MAX);
    char tmp[LOG_LINE_MAX];
    size_t n = s ? fp__utf8_cut(s, (size_t)prec < sizeof(tmp) - 1 ? (size_t)prec : sizeof(tmp) - 1) : 0;
    if (s)
        memcpy(tmp, s, n);
    tmp[n] = '\0';
    return fp__esc_text(dst, cap, s ? tmp : NULL, (size_t)prec > LOG_STR_MAX ? (size_t)prec : LOG_STR_MAX);
}

/* vsnprintf() with the %s arguments through put_str(). Handles the C99
 * conversions (flags, width, precision, `*`, length modifiers); stops at a
 * conversion it does not know, since it cannot know the argument's type. */
static size_t format_line(char *dst, size_t cap, const char *fmt, va_list ap)
{
    size_t k = 0;
    const char *f = fmt;
    while (*f && k + 1 < cap) {
        if (*f != '%') {
            dst[k++] = *f++;
            continue;
        }
        f++;
        if (*f == '%') {
            dst[k++] = '%';
            f++;
            continue;
        }
        char spec[48];
        size_t sl = 0;
        spec[sl++] = '%';
        while (*f && strchr("-+ #0", *f) && sl < 8)
            spec[sl++] = *f++;
        if (*f == '*') {
            sl += (size_t)snprintf(spec + sl, sizeof(spec) - sl, "%d", va_arg(ap, int));
            f++;
        } else {
            while (*f >= '0' && *f <= '9' && sl < 20)
                spec[sl++] = *f++;
        }
        int prec = -1;
        if (*f == '.') {
            f++;
            if (*f == '*') {
                prec = va_arg(ap, int);
                f++;
            } else {
                prec = 0;
                while (*f >= '0' && *f <= '9') {
                    if (prec < 100000)
                        prec = prec * 10 + (*f - '0');
                    f++;
                }
            }
            if (prec >= 0)
                sl += (size_t)snprintf(spec + sl, sizeof(spec) - sl, ".%d", prec);
        }
        char len[3] = { 0 };
        if ((f[0] == 'h' && f[1] == 'h') || (f[0] == 'l' && f[1] == 'l')) {
            len[0] = f[0], len[1] = f[1];
            f += 2;
        } else if (*f && strchr("hljztL", *f)) {
            len[0] = *f++;
        }
        char conv = *f ? *f++ : '\0';
        size_t room = cap - k;
        int n = 0;
        memcpy(spec + sl, len, strlen(len));
        sl += strlen(len);
        spec[sl++] = conv;
        spec[sl] = '\0';
        switch (conv) {
        case 's':
            k += put_str(dst + k, room, va_arg(ap, const char *), prec);
            continue;
        case 'd': case 'i':
            if (!strcmp(len, "l")) n = snprintf(dst + k, room, spec, va_arg(ap, long));
            else if (!strcmp(len, "ll")) n = snprintf(dst + k, room, spec, va_arg(ap, long long));
            else if (!strcmp(len, "j")) n = snprintf(dst + k, room, spec, va_arg(ap, intmax_t));
            else if (!strcmp(len, "z")) n = snprintf(dst + k, room, spec, va_arg(ap, ssize_t));
            else if (!strcmp(len, "t")) n = snprintf(dst + k, room, spec, va_arg(ap, ptrdiff_t));
            else n = snprintf(dst + k, room, spec, va_arg(ap, int));
            break;
        case 'u': case 'o': case 'x': case 'X':
            if (!strcmp(len, "l")) n = snprintf(dst + k, room, spec, va_arg(ap, unsigned long));
            else if (!strcmp(len, "ll")) n = snprintf(dst + k, room, spec, va_arg(ap, unsigned long long));
            else if (!strcmp(len, "j")) n = snprintf(dst + k, room, spec, va_arg(ap, uintmax_t));
            else if (!strcmp(len, "z")) n = snprintf(dst + k, room, spec, va_arg(ap, size_t));
            else if (!strcmp(len, "t")) n = snprintf(dst + k, room, spec, va_arg(ap, ptrdiff_t));
            else n = snprintf(dst + k, room, spec, va_arg(ap, unsigned));
            break;
        case 'c':
            n = snprintf(dst + k, room, spec, va_arg(ap, int));
            break;
        case 'p':
            n = snprintf(dst + k, room, spec, va_arg(ap, void *));
            break;
        case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A':
            if (!strcmp(len, "L")) n = snprintf(dst + k, room, spec, va_arg(ap, long double));
            else n = snprintf(dst + k, room, spec, va_arg(ap, double));
            break;
        default:
            f = ""; /* unknown: the rest of the arguments cannot be read */
            continue;
        }
        if (n > 0)
            k += (size_t)n < room ? (size_t)n : room - 1;
    }
    dst[k] = '\0';
    return k;
}

static void emit(fp_log_cb cb, void *opaque, int level, const char *name, const char *fmt, va_list ap)
{
    char msg[LOG_LINE_MAX];
    size_t n = 0;
    if (name) {
        char esc[LOG_NAME_MAX + 1];
        fp__esc_text(esc, sizeof(esc), name, LOG_NAME_MAX);
        int len = snprintf(msg, sizeof(msg), "pool \"%s\": ", esc);
        n = len > 0 ? (size_t)len : 0;
    }
    format_line(msg + n, sizeof(msg) - n, fmt, ap);
    FP_ASSERT_UNLOCKED("the log callback");
    if (cb)
        cb(opaque, level, msg);
    else
        fprintf(stderr, "framepool %s: %s\n", level_name(level), msg);
}

void fp__log(const fp_pool *pool, int level, const char *fmt, ...)
{
    if (level > pool->log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(pool->log, pool->log_opaque, level, pool->name, fmt, ap);
    va_end(ap);
}

void fp__log_cfg(const fp_pool_config *cfg, int level, const char *fmt, ...)
{
    if (cfg && level > cfg->log_level && cfg->log_level >= FP_LOG_ERROR)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(cfg ? cfg->log : NULL, cfg ? cfg->log_opaque : NULL, level,
         cfg ? (cfg->name ? cfg->name : "pool") : NULL, fmt, ap);
    va_end(ap);
}
