#!/usr/bin/env bash
# Restart time and memory with a large journal: ingests EVENTS (default 1,000,000) ~300-byte
# events through POST /v1/events/batch (500 per batch), reports gatewayd's RSS, restarts it
# and reports how long it takes until /readyz answers 200, and the RSS after the restart.
# Usage: Benchmarks/restart_1m.sh [EVENTS=1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
scripts/ensure-tools.sh libcurl curl python3
. Benchmarks/common.sh restart gatewayd
gatewayd=$bin/gatewayd
start() {
  started=$(date +%s.%N)
  "$gatewayd" serve --listen 127.0.0.1:18083 --data-dir "$work/data" --admin-token bench >>"$work/gatewayd.log" 2>&1 &
  pid=$!
  pids+=("$pid")
}
client="python3 Benchmarks/gateway_client.py 18083"
# Seconds from just before gatewayd was started until /readyz answers.
wait_ready() { $client wait-ready --since "$started"; }
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }

start
wait_ready >/dev/null
t0=$(date +%s.%N)
$client ingest "$events"
t1=$(date +%s.%N)
echo "ingested $events events in $(echo "$t1 - $t0" | bc -l | cut -c1-6) s; journal: $(du -sh "$work/data/journal" | cut -f1)"
echo "RSS after ingest: $(rss_mb) MB"
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
sync
start
ready=$(wait_ready)
echo "restart to ready: ${ready} s (target <= 3 s)"
echo "RSS after restart: $(rss_mb) MB"
grep "journal recovered" "$work/gatewayd.log" | tail -1
