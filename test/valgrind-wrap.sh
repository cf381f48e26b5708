#!/bin/sh
# exe_wrapper of `meson test --setup=valgrind`: memcheck with leak checking.
#
# Debian 12's libavcodec loads libjxl -> libhwy, whose start-up code runs
# RDTSCP after asking CPUID. valgrind 3.19 answers CPUID with its own model,
# which claims RDTSCP, so on a CPU without it (common in VMs) the program dies
# with SIGILL before main(). Such a binary cannot be checked by valgrind on
# this machine: say so and skip (77); the ASan/UBSan and TSan runs cover it.
prog=$1
if ! grep -qw rdtscp /proc/cpuinfo 2>/dev/null && ldd "$prog" 2>/dev/null | grep -q 'libhwy'; then
    echo "SKIP: valgrind cannot run $(basename "$prog") on this CPU: it loads libhwy (through libavcodec ->"
    echo "      libjxl), which executes RDTSCP; this CPU lacks RDTSCP but valgrind's CPUID claims it."
    echo "      ASan/UBSan and TSan cover this suite; on a CPU with RDTSCP valgrind runs it."
    exit 77
fi
dir=$(dirname "$0")
exec valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=3 \
    --track-origins=yes --quiet --suppressions="$dir/valgrind.supp" "$@"
