#!/bin/sh
# Prints the version from include/framepool/version.h (the one source of it).
h="$(dirname "$0")/../include/framepool/version.h"
maj=$(sed -n 's/^#define FP_VERSION_MAJOR \([0-9]*\).*/\1/p' "$h")
min=$(sed -n 's/^#define FP_VERSION_MINOR \([0-9]*\).*/\1/p' "$h")
pat=$(sed -n 's/^#define FP_VERSION_PATCH \([0-9]*\).*/\1/p' "$h")
printf '%s.%s.%s\n' "$maj" "$min" "$pat"
