#!/bin/sh
# Checks that the shared library exports exactly the symbols in the version
# script: nothing missing, nothing leaked.
set -eu
lib=$1
sym=$2
want=$(sed -n 's/^[[:space:]]*\(fp_[A-Za-z0-9_]*\);.*/\1/p' "$sym" | sort)
have=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRBVW]$/ { print $3 }' | sed 's/@.*//' | grep -v '^FRAMEPOOL_' | sort)
if [ "$want" != "$have" ]; then
    echo "exported symbols differ from $sym:"
    echo "$want" > "${TMPDIR:-/tmp}/fp-sym-want.$$"
    echo "$have" > "${TMPDIR:-/tmp}/fp-sym-have.$$"
    diff -u "${TMPDIR:-/tmp}/fp-sym-want.$$" "${TMPDIR:-/tmp}/fp-sym-have.$$" || true
    rm -f "${TMPDIR:-/tmp}/fp-sym-want.$$" "${TMPDIR:-/tmp}/fp-sym-have.$$"
    exit 1
fi
echo "ok: $(echo "$want" | wc -l) symbols exported, all listed in $(basename "$sym")"
