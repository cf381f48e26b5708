/*
 * The built-in pixel allocator.
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>

#include "internal.h"

void *fp__default_alloc(void *opaque, size_t size, size_t align)
{
    (void)opaque;
    void *p = NULL;
    if (posix_memalign(&p, align, size))
        return NULL;
    return p;
}

void fp__default_free(void *opaque, void *ptr, size_t size)
{
    (void)opaque;
    (void)size;
    free(ptr);
}
