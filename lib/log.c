/*
 * Logging: one formatted line per call, to the pool's callback or stderr.
 * SPDX-License-Identifier: MIT
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static _Atomic uint64_t global_misuse;

void fp_misuse_global_inc(void)
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

static void emit(fp_log_cb cb, void *opaque, int level, const char *name, const char *fmt, va_list ap)
{
    char msg[1024];
    int n = 0;
    if (name)
        n = snprintf(msg, sizeof(msg), "pool \"%s\": ", name);
    if (n < 0)
        n = 0;
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    FP_ASSERT_UNLOCKED("the log callback");
    if (cb)
        cb(opaque, level, msg);
    else
        fprintf(stderr, "framepool %s: %s\n", level_name(level), msg);
}

void fp_log(const fp_pool *pool, int level, const char *fmt, ...)
{
    if (level > pool->log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(pool->log, pool->log_opaque, level, pool->name, fmt, ap);
    va_end(ap);
}

void fp_log_cfg(const fp_pool_config *cfg, int level, const char *fmt, ...)
{
    if (cfg && level > cfg->log_level && cfg->log_level >= FP_LOG_ERROR)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(cfg ? cfg->log : NULL, cfg ? cfg->log_opaque : NULL, level,
         cfg ? (cfg->name ? cfg->name : "pool") : NULL, fmt, ap);
    va_end(ap);
}
