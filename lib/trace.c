/*
 * FRAMEPOOL_TRACE: what the environment asks for, read once.
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

unsigned fp__trace_flags(void)
{
    const char *trace = getenv("FRAMEPOOL_TRACE");
    return trace && strstr(trace, "leaks") ? FP_TRACE_LEAKS : 0;
}
