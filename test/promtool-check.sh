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
# The per-site gauges are there, one series per file:line.
for m in framepool_site_pools framepool_site_dropped_pools framepool_site_live_frames framepool_site_reserved_bytes; do
    printf '%s\n' "$out" | grep -q "^# TYPE $m gauge$" || { echo "missing metric $m"; exit 1; }
done
printf '%s\n' "$out" | grep -qx 'framepool_site_pools{site="same.c:9"} 2' || {
    echo "framepool_site_pools: expected one series same.c:9 with 2 pools"; exit 1; }
printf '%s\n' "$out" | grep -qx 'framepool_site_pools{site="unknown"} 1' || {
    echo "framepool_site_pools: expected site=\"unknown\" 1"; exit 1; }
printf '%s\n' "$out" | grep -qx 'framepool_site_dropped_pools{site="[^"]*prom-dump.c:[0-9]*"} 1' || {
    echo "framepool_site_dropped_pools: expected the dropped pool of prom-dump.c"; exit 1; }
echo "ok: promtool check metrics found no problems in $(printf '%s\n' "$out" | grep -vc '^#') samples"
