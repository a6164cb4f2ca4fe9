#!/usr/bin/env bash
# Memory with a large backlog: one subscription whose receiver refuses connections (port 9
# on loopback), EVENTS events ingested in batches of 500, then gatewayd's RSS and the
# subscription's stats (everything pending, the circuit breaker holding it). Then gatewayd is
# restarted on the same data and its RSS read again once the backlog is loaded.
# Usage: Benchmarks/pending_memory.sh [EVENTS=1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
scripts/ensure-tools.sh libcurl python3
. Benchmarks/common.sh pending gatewayd
gatewayd=$bin/gatewayd
start_gatewayd() {
  "$gatewayd" serve --listen 127.0.0.1:18085 --data-dir "$work/data" --admin-token bench --allow-private-targets \
    --log-level error >>"$work/gatewayd.log" 2>&1 &
  pid=$!
  pids+=("$pid")
}
client="python3 Benchmarks/gateway_client.py 18085"
rss() { awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' /proc/$pid/status; }
start_gatewayd
id=$($client subscribe http://127.0.0.1:9/hook)
$client ingest "$events"
sleep 3
echo "stats: $($client stats "$id")"
echo "RSS with $events deliveries pending: $(rss) (target < 300 MB)"
kill "$pid"; wait "$pid" 2>/dev/null || true
start_gatewayd
$client wait-ready >/dev/null
sleep 3
echo "RSS after a restart with them pending: $(rss)"
