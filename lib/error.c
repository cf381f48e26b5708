/*
 * Error strings and version.
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

unsigned fp_version(void)
{
    return FP_VERSION;
}

const char *fp_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case FP_ERR(EAGAIN): return "pool exhausted (no frame free and the caller did not wait)";
    case FP_ERR(ETIMEDOUT): return "timed out waiting for a free frame";
    case FP_ERR(ESHUTDOWN): return "pool is closed";
    case FP_ERR(ENOMEM): return "out of memory";
    case FP_ERR(EINVAL): return "invalid argument (the log line says which)";
    case FP_ERR(EALREADY): return "frame already released (double release)";
    case FP_ERR(EOVERFLOW): return "frame size overflows";
    case FP_ERR(EIO): return "write error";
    default:
        break;
    }
    if (err < 0 && err > -4096)
        return strerror(-err); /* glibc: a static string for known codes */
    return "unknown error";
}
