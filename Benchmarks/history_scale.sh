#!/usr/bin/env bash
# Memory and restart time against retained history (issue 9): for each count in COUNTS
# (default "200000 20000000"), a fresh gatewayd ingests that many ~300-byte events through
# POST /v1/events/batch (500 per batch, CLIENTS connections at once), nothing pending; it is
# stopped with SIGTERM and started again. Reports the time from start to /readyz answering
# 200, VmRSS after ready and 5 s later, and GET /v1/events/{id} latency (p50/p99/max ms) of
# 10,000 random old events, warm page cache.
# Usage: Benchmarks/history_scale.sh [COUNTS...]   (20 M events take ~7 GB of disk)
set -euo pipefail
cd "$(dirname "$0")/.."

counts=("$@")
[ $# -gt 0 ] || counts=(200000 20000000)
clients=${CLIENTS:-2}
scripts/ensure-tools.sh libcurl curl python3
. Benchmarks/common.sh history gatewayd
gatewayd=$bin/gatewayd
client="python3 Benchmarks/gateway_client.py 18084"
start() {
  started=$(date +%s.%N)
  "$gatewayd" serve --listen 127.0.0.1:18084 --data-dir "$work/data" --admin-token bench --retention 30d >>"$work/gatewayd.log" 2>&1 &
  pid=$!
  pids+=("$pid")
}
# "RSS(anon)" in MB: VmRSS, and the part of it that is the process's own memory rather than
# mapped files (the binary and libraries are most of the rest, the same at any history).
rss_mb() { awk '/VmRSS/ {rss = $2} /RssAnon/ {anon = $2} END {printf "%.1f(%.1f)", rss / 1024, anon / 1024}' "/proc/$pid/status"; }
printf "%-10s %-8s %-10s %-10s %-14s %-14s %-14s %s\n" events journal ingest_s ready_s rss_ready_MB rss_5s_MB active_events "GET p50/p99/max ms"
for count in "${counts[@]}"; do
  rm -rf "$work/data" "$work/ids"
  start
  $client wait-ready >/dev/null
  t0=$(date +%s.%N)
  per=$(( count / clients ))
  loaders=()
  for c in $(seq 1 "$clients"); do $client ingest "$per" --ids "$work/ids" & loaders+=($!); done
  for l in "${loaders[@]}"; do wait "$l"; done
  t1=$(date +%s.%N)
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  sync
  start
  ready=$($client wait-ready --since "$started")
  rss_ready=$(rss_mb)
  sleep 5
  rss_later=$(rss_mb)
  lookups=$($client lookup 10000 --ids "$work/ids")
  # Events in the active segment: its index is the one held in memory.
  active=$("$gatewayd" journal stats --data-dir "$work/data" | awk '$1 ~ /\.seg$/ {last = $6} END {print last}')
  printf "%-10s %-8s %-10s %-10s %-14s %-14s %-14s %s\n" "$count" "$(du -sh "$work/data/journal" | cut -f1)" \
    "$(echo "$t1 - $t0" | bc -l | cut -c1-6)" "$ready" "$rss_ready" "$rss_later" "$active" "$lookups"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
done
grep -c "journal segment deleted" "$work/gatewayd.log" >/dev/null || true
