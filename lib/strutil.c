/*
 * Strings that come from the application (pool names, tags, call sites):
 * UTF-8 aware cutting, and escaping for one-line text.
 * SPDX-License-Identifier: MIT
 *
 * Names and tags are cut to fixed buffers and may hold any bytes. Every
 * output walks them one character at a time with fp__utf8_char(): the JSON
 * and Prometheus writers replace a byte that starts no valid character with
 * U+FFFD and drop a character cut by the end of the string; text (log lines,
 * reports) shows such bytes and control characters as escapes, so a value can
 * never end a line or forge another.
 */
#include <string.h>

#include "internal.h"

int fp__utf8_char(const char *str)
{
    const unsigned char *p = (const unsigned char *)str;
    unsigned c = p[0];
    if (c < 0x80)
        return c ? 1 : 0;
    int len;
    unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlong forms */
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else
        return FP__UTF8_BAD;
    for (int i = 1; i < len; i++) {
        unsigned b = p[i];
        if (!b)
            return FP__UTF8_CUT;
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
            return FP__UTF8_BAD;
    }
    return len;
}

size_t fp__utf8_cut(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n <= max)
        return n;
    n = max;
    /* s[max] is the first byte left out: when it continues a character,
     * leave out that character's first bytes too (at most three). */
    for (int back = 0; back < 3 && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80; back++)
        n--;
    if (((unsigned char)s[n] & 0xC0) == 0x80)
        n = max; /* not UTF-8 anyway: cut where asked */
    return n;
}

size_t fp__strlcpy_utf8(char *dst, size_t cap, const char *src)
{
    if (!cap)
        return 0;
    size_t n = fp__utf8_cut(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

/* One unit of escaped text: the bytes that stand for the character at s. */
static int esc_unit(const char *s, char out[8], int *in_len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = (unsigned char)s[0];
    int n = fp__utf8_char(s);
    if (n > 1 || (n == 1 && c >= 0x20 && c != 0x7f)) {
        memcpy(out, s, (size_t)n);
        *in_len = n;
        return n;
    }
    *in_len = 1;
    out[0] = '\\';
    switch (c) {
    case '\n': out[1] = 'n'; return 2;
    case '\r': out[1] = 'r'; return 2;
    case '\t': out[1] = 't'; return 2;
    default:
        out[1] = 'x';
        out[2] = hex[c >> 4];
        out[3] = hex[c & 15];
        return 4;
    }
}

size_t fp__esc_text(char *dst, size_t cap, const char *s, size_t limit)
{
    if (!cap)
        return 0;
    if (!s)
        s = "(null)";
    if (limit > cap - 1)
        limit = cap - 1;
    char u[8];
    int in;
    size_t total = 0;
    for (const char *p = s; *p; p += in)
        total += (size_t)esc_unit(p, u, &in);
    size_t head = total, tail_from = total, k = 0, pos = 0;
    if (total > limit) {
        /* Keep both ends (a path's file name is at its end, a name's start
         * at its start) with "..." between them. */
        size_t room = limit > 3 ? limit - 3 : 0;
        head = room / 2;
        tail_from = total - (room - head);
    }
    bool elided = false;
    for (const char *p = s; *p; p += in) {
        int m = esc_unit(p, u, &in);
        if (pos + (size_t)m <= head || pos >= tail_from) {
            if (k + (size_t)m > limit)
                break;
            memcpy(dst + k, u, (size_t)m);
            k += (size_t)m;
        } else if (!elided) {
            elided = true;
            size_t dots = limit - k < 3 ? limit - k : 3;
            memcpy(dst + k, "...", dots);
            k += dots;
        }
        pos += (size_t)m;
    }
    dst[k] = '\0';
    return k;
}
