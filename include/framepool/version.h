/*
 * framepool: bounded, reference-counted video frame pools.
 * SPDX-License-Identifier: MIT
 */
#ifndef FRAMEPOOL_VERSION_H
#define FRAMEPOOL_VERSION_H

/** API major version: bumped on incompatible changes; also the soversion. */
#define FP_VERSION_MAJOR 0
/** API minor version: bumped when API is added. */
#define FP_VERSION_MINOR 2
/** Patch level. */
#define FP_VERSION_PATCH 0

/** Packs a version into one integer, comparable with `<`. */
#define FP_VERSION_INT(a, b, c) (((a) << 16) | ((b) << 8) | (c))
/** The version of the headers in use. */
#define FP_VERSION FP_VERSION_INT(FP_VERSION_MAJOR, FP_VERSION_MINOR, FP_VERSION_PATCH)

#endif /* FRAMEPOOL_VERSION_H */
