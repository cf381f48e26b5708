#!/bin/sh
# Checks that the shared library exports exactly the symbols in the version
# script: nothing missing, nothing leaked.
set -eu
lib=$1
sym=$2
# name@@NODE for every symbol of the script (the version node it is listed in),
# and as the library exports it: a symbol in the wrong node fails too.
want=$(awk '/^[A-Za-z_][A-Za-z0-9_.]*[[:space:]]*\{/ { node = $1 }
            /^[[:space:]]*fp_[A-Za-z0-9_]*;/ { s = $1; sub(/;.*/, "", s); print s "@@" node }' "$sym" | sort)
have=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRBVW]$/ { print $3 }' | grep -v '^FRAMEPOOL_' | sort)
if [ "$want" != "$have" ]; then
    echo "exported symbols differ from $sym:"
    echo "$want" > "${TMPDIR:-/tmp}/fp-sym-want.$$"
    echo "$have" > "${TMPDIR:-/tmp}/fp-sym-have.$$"
    diff -u "${TMPDIR:-/tmp}/fp-sym-want.$$" "${TMPDIR:-/tmp}/fp-sym-have.$$" || true
    rm -f "${TMPDIR:-/tmp}/fp-sym-want.$$" "${TMPDIR:-/tmp}/fp-sym-have.$$"
    exit 1
fi
echo "ok: $(echo "$want" | wc -l) symbols exported, all listed in $(basename "$sym")"
