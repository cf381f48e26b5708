/*
 * Call sites for the fp_*_at() functions.
 * SPDX-License-Identifier: MIT
 *
 * The acquire and release macros pass a pointer to a site record in static
 * storage (FP_SITE_HERE()); slots keep that pointer. Callers of the `_at`
 * functions pass file, line and function instead, so those are looked up here
 * in a process-wide open-addressing table keyed by the three values (pointer
 * identity for the strings, as the macros pass literals). Entries are never
 * removed, so a pointer handed out stays valid for the life of the process;
 * nothing is allocated (the table is static: its pages are touched only as
 * sites arrive). Readers never lock: an entry is claimed with a CAS, filled,
 * then published with a release store of its state.
 */
#include <sched.h>
#include <stdint.h>

#include "internal.h"

#define SITE_TABLE 4096 /* power of two; distinct `_at` call sites in a process */
/* Probes per lookup: a lookup never walks the whole table, so a full table
 * costs a bounded 128 compares, not 4,096. Below 90% load a linear probe
 * sequence this long is practically never exhausted. */
#define SITE_PROBES 128

enum { SITE_EMPTY, SITE_FILLING, SITE_READY };

typedef struct site_entry {
    _Atomic uint32_t state;
    fp_site site;
} site_entry;

static site_entry table[SITE_TABLE];
static _Atomic int overflow_logged;
static const fp_site overflow_site = { "(framepool: more than 4096 distinct call sites)", "?", 0 };

static uint32_t site_hash(const char *file, int line, const char *func)
{
    uint64_t h = (uint64_t)(uintptr_t)file * 0x9e3779b97f4a7c15ull;
    h ^= (uint64_t)(uintptr_t)func * 0xc2b2ae3d27d4eb4full;
    h ^= (uint64_t)(uint32_t)line * 0x165667b19e3779f9ull;
    return (uint32_t)(h >> 32);
}

static const fp_site *lookup(const char *file, int line, const char *func)
{
    if (!file && !func && !line)
        return NULL;
    uint32_t h = site_hash(file, line, func);
    for (uint32_t probe = 0; probe < SITE_PROBES; probe++) {
        site_entry *e = &table[(h + probe) & (SITE_TABLE - 1)];
        uint32_t st = atomic_load_explicit(&e->state, ACQ);
        if (st == SITE_EMPTY) {
            if (atomic_compare_exchange_strong_explicit(&e->state, &st, SITE_FILLING, ACQ, ACQ)) {
                e->site.file = file;
                e->site.func = func;
                e->site.line = line;
                atomic_store_explicit(&e->state, SITE_READY, REL);
                return &e->site;
            }
        }
        /* Another thread is filling it: a few stores away. */
        while ((st = atomic_load_explicit(&e->state, ACQ)) == SITE_FILLING)
            sched_yield();
        if (e->site.file == file && e->site.line == line && e->site.func == func)
            return &e->site;
    }
    return &overflow_site;
}

/* The table-full warning is logged once per process, through the pool's log
 * callback when the caller has a pool (stderr otherwise). */
const fp_site *fp__site_intern_pool(const fp_pool *pool, const char *file, int line, const char *func)
{
    const fp_site *site = lookup(file, line, func);
    if (FP_UNLIKELY(site == &overflow_site) && !atomic_load_explicit(&overflow_logged, RLX) &&
        !atomic_exchange_explicit(&overflow_logged, 1, RLX)) {
        static const char fmt[] =
            "the table of call sites passed to fp_*_at() is full (%d): further ones are recorded as \"%s\"";
        if (pool)
            fp__log(pool, FP_LOG_WARN, fmt, SITE_TABLE, overflow_site.file);
        else
            fp__log_cfg(NULL, FP_LOG_WARN, fmt, SITE_TABLE, overflow_site.file);
    }
    return site;
}

const fp_site *fp__site_intern(const char *file, int line, const char *func)
{
    return fp__site_intern_pool(NULL, file, line, func);
}
