#!/bin/sh
# Validates framepool's Prometheus exposition with promtool (Debian package
# "prometheus"); skips (77) when promtool is not installed.
set -eu
dump=$1
if ! command -v promtool >/dev/null 2>&1; then
    echo "SKIP: promtool not found (apt-get install prometheus, or run scripts/setup)"
    exit 77
fi
out=$("$dump" 2>/dev/null)
printf '%s\n' "$out" | head -n 12
lint=$(printf '%s\n' "$out" | promtool check metrics 2>&1) || {
    echo "promtool check metrics failed:"
    printf '%s\n' "$lint"
    exit 1
}
if [ -n "$lint" ]; then
    echo "promtool lint findings:"
    printf '%s\n' "$lint"
    exit 1
fi
echo "ok: promtool check metrics found no problems in $(printf '%s\n' "$out" | grep -vc '^#') samples"
