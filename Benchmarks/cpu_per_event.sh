#!/usr/bin/env bash
# CPU time per ingested event, per gatewayd thread: one build under the ingest load of
# Benchmarks/ingest_ab.sh (wrk -t1 -c32, ~300-byte events, one event loop) for SECONDS, user
# and kernel microseconds per event from /proc/PID/task/*/stat. Run it for two builds in
# turn to see where a change moved CPU time.
# Usage: Benchmarks/cpu_per_event.sh GATEWAYD [SECONDS=8]
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 GATEWAYD [SECONDS]" >&2; exit 2; }
gatewayd=$(realpath "$1")
seconds=${2:-8}
scripts/ensure-tools.sh wrk curl
. Benchmarks/common.sh cpu-per-event
export BENCH_TOKEN=bench-admin-token
"$gatewayd" serve --listen 127.0.0.1:18095 --data-dir "$work/data" --admin-token "$BENCH_TOKEN" --event-loops 1 \
  --log-level error >"$out/cpu-per-event-gatewayd.log" 2>&1 & pid=$!; pids+=($pid)
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18095/healthz && break; sleep 0.1; done
ticks() { for task in /proc/"$pid"/task/*; do echo "$(cat "$task/comm") $(awk '{print $14, $15}' "$task/stat")"; done; }
ticks >"$work/before"
wrk -t1 -c32 -d"${seconds}s" -s Benchmarks/ingest.lua http://127.0.0.1:18095/v1/events >"$work/wrk.txt" 2>&1
ticks >"$work/after"
events=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
echo "events: $events ($(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")/s)"
awk -v n="$events" -v hz="$(getconf CLK_TCK)" '
  NR == FNR { user[$1] = $2; kernel[$1] = $3; next }
  { u = ($2 - user[$1]) * 1e6 / hz / n; k = ($3 - kernel[$1]) * 1e6 / hz / n
    if (u + k > 0.01) printf "  %-15s user %.2f us  kernel %.2f us\n", $1, u, k }' "$work/before" "$work/after"
