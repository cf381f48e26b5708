/*
 * Scopes and the cleanup-attribute helpers: release on every exit path.
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const fp_site autorelease_site = { "FP_AUTO_FRAME", "cleanup", 0 };

void fp_frame_autorelease(fp_frame **frame)
{
    fp_frame_unref_site(frame, &autorelease_site);
}

void fp_scope_begin_at(fp_scope *scope, const char *file, int line, const char *func)
{
    if (!scope)
        return;
    memset(scope, 0, sizeof(*scope));
    scope->items = scope->inline_items;
    scope->cap = FP_SCOPE_INLINE;
    scope->file = file;
    scope->line = line;
    scope->func = func;
}

int fp_scope_add(fp_scope *scope, fp_frame *frame)
{
    fp_slot *s = fp__slot_of(frame);
    if (!scope || !s)
        return FP_ERR(EINVAL);
    if (FP_UNLIKELY(atomic_load_explicit(&s->refs, ACQ) <= 0)) {
        /* Taking it would release it again at the end: a double release. */
        fp__log(s->pool, FP_LOG_ERROR, "fp_scope_add of frame %p, which is not live (already released): not added",
               (void *)frame);
        fp__pool_note_misuse(s->pool);
        return FP_ERR(EINVAL);
    }
    if (!scope->items) /* zero-initialized, never begun */
        fp_scope_begin_at(scope, "fp_scope", 0, "?");
    if (scope->count == scope->cap) {
        size_t cap = scope->cap * 2;
        fp_frame **items = scope->items == scope->inline_items ? NULL : scope->items;
        fp_frame **grown = (cap > SIZE_MAX / sizeof(*grown)) ? NULL : realloc(items, cap * sizeof(*grown));
        if (!grown) {
            fp__log(s->pool, FP_LOG_ERROR, "fp_scope_add: out of memory growing a scope of %zu; frame released",
                   scope->count);
            fp_frame_unref_at(&frame, scope->file, scope->line, scope->func);
            return FP_ERR(ENOMEM);
        }
        if (!items)
            memcpy(grown, scope->inline_items, scope->count * sizeof(*grown));
        scope->items = grown;
        scope->cap = cap;
    }
    scope->items[scope->count++] = frame;
    return 0;
}

int fp_scope_take(fp_scope *scope, fp_frame *frame)
{
    if (!scope || !frame)
        return FP_ERR(EINVAL);
    for (size_t i = scope->count; i-- > 0;) {
        if (scope->items[i] == frame) {
            memmove(&scope->items[i], &scope->items[i + 1], (scope->count - i - 1) * sizeof(*scope->items));
            scope->count--;
            return 0;
        }
    }
    return FP_ERR(ENOENT);
}

void fp_scope_end(fp_scope *scope)
{
    if (!scope || !scope->items)
        return;
    const fp_site *site = NULL;
    if (scope->count) {
        fp_slot *s = fp__slot_of(scope->items[scope->count - 1]);
        site = fp__site_intern_pool(s ? s->pool : NULL, scope->file, scope->line, scope->func);
    }
    while (scope->count) {
        fp_frame *f = scope->items[--scope->count];
        fp_frame_unref_site(&f, site);
    }
    if (scope->items != scope->inline_items)
        free(scope->items);
    scope->items = scope->inline_items;
    scope->cap = FP_SCOPE_INLINE;
}
