/*
 * FRAMEPOOL_TRACE: comma-separated words, read once.
 * SPDX-License-Identifier: MIT
 *
 *   leaks, leaks=1       leak report of every pool at process exit
 *   noleaks, leaks=0     no leak report (the default; a later word wins)
 *
 * Words are matched whole (so "noleaks" is not "leaks"); spaces around them
 * are ignored; an unknown word is named in one warning.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static pthread_once_t trace_once = PTHREAD_ONCE_INIT;
static unsigned trace_flags;

static bool word_is(const char *w, size_t n, const char *name)
{
    return strlen(name) == n && !memcmp(w, name, n);
}

/* Parses `s` into flags; the first unknown word goes to *bad (pointer, length). */
static unsigned parse(const char *s, const char **bad, size_t *bad_len)
{
    unsigned flags = 0;
    *bad = NULL;
    *bad_len = 0;
    while (*s) {
        while (*s == ',' || *s == ' ' || *s == '\t')
            s++;
        const char *w = s;
        while (*s && *s != ',')
            s++;
        size_t n = (size_t)(s - w);
        while (n && (w[n - 1] == ' ' || w[n - 1] == '\t'))
            n--;
        if (!n)
            continue;
        if (word_is(w, n, "leaks") || word_is(w, n, "leaks=1"))
            flags |= FP__TRACE_LEAKS;
        else if (word_is(w, n, "noleaks") || word_is(w, n, "leaks=0"))
            flags &= ~FP__TRACE_LEAKS;
        else if (!*bad) {
            *bad = w;
            *bad_len = n;
        }
    }
    return flags;
}

static void trace_init(void)
{
    const char *env = getenv("FRAMEPOOL_TRACE");
    if (!env)
        return;
    const char *bad;
    size_t n;
    trace_flags = parse(env, &bad, &n);
    if (bad)
        fp__log_cfg(NULL, FP_LOG_WARN, "FRAMEPOOL_TRACE: unknown word \"%.*s\" ignored (known: leaks, noleaks, leaks=0, leaks=1)",
                   (int)(n > 64 ? 64 : n), bad);
}

unsigned fp__trace_flags(void)
{
    pthread_once(&trace_once, trace_init);
    return trace_flags;
}
