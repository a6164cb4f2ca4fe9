#!/usr/bin/env bash
# End-to-end delivery latency: events ingested at about RATE/s (wrk, 32 connections, each
# pausing between requests; the achieved rate is printed) into gatewayd with 3 subscriptions, all delivered to
# bench-receiver, which records for each delivery the time from the gateway's commit (the
# envelope's `timestamp`) to its arrival, and prints p50/p99 per subscription and overall.
# Usage: Benchmarks/latency.sh [RATE=5000] [SECONDS=10]
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-5000}
seconds=${2:-10}
scripts/ensure-tools.sh libcurl wrk curl python3
. Benchmarks/common.sh latency gatewayd bench-receiver

"$bin/bench-receiver" 127.0.0.1:18086 >"$out/latency-receiver.txt" 2>&1 & receiver=$!; pids+=($receiver)
export BENCH_TOKEN=bench
"$bin/gatewayd" serve --listen 127.0.0.1:18087 --data-dir "$work/data" --admin-token "$BENCH_TOKEN" \
  --allow-private-targets --log-level error >"$out/latency-gatewayd.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18087/healthz && break; sleep 0.1; done
for n in 1 2 3; do
  curl -s -o /dev/null -X POST -H "Authorization: Bearer $BENCH_TOKEN" -H 'Content-Type: application/json' \
    -d "{\"url\":\"http://127.0.0.1:18086/hook/$n\",\"eventTypes\":[\"order.*\"],\"maxInFlight\":32}" \
    http://127.0.0.1:18087/v1/subscriptions
done
connections=32
# Each request also takes ~1 ms to answer (fsync included), so pause that much less.
delay=$(python3 -c "print(max(1, round($connections * 1000 / $rate) - 1))")
DELAY_MS=$delay wrk -t1 -c"$connections" -d"${seconds}s" -s Benchmarks/latency.lua http://127.0.0.1:18087/v1/events >"$out/latency-wrk.txt" 2>&1
sleep 2
kill -TERM "$receiver"; wait "$receiver" 2>/dev/null || true
echo "offered: $connections connections, ${delay} ms between requests (~$rate events/s)"
grep -E "Requests/sec" "$out/latency-wrk.txt" | sed 's/^/ingest: /'
cat "$out/latency-receiver.txt"
