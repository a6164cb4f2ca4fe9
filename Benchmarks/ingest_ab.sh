#!/usr/bin/env bash
# Ingest A/B: two gatewayd builds take the same durable ingest load (wrk -t1 -c32, ~300-byte
# events, POST /v1/events, fsync before every 202), alternating A B with Redis 7 XADD
# (appendonly + appendfsync always, redis-benchmark -c 32) in the same rounds, so a change
# to the ingest path is judged against the code before it, and against Redis, in one run.
# Prints each round, the medians, B/A and each build / Redis, and the p99 of each.
# Build the two first (`swift build -c release --product gatewayd`, binary copied aside).
# Usage: Benchmarks/ingest_ab.sh GATEWAYD_A GATEWAYD_B [ROUNDS=5] [SECONDS=10]
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 GATEWAYD_A GATEWAYD_B [ROUNDS] [SECONDS]" >&2; exit 2; }
a=$(realpath "$1"); b=$(realpath "$2")
rounds=${3:-5}
seconds=${4:-10}
scripts/ensure-tools.sh wrk bc curl redis-server redis-benchmark
. Benchmarks/common.sh ingest-ab
export BENCH_TOKEN=bench-admin-token
mkdir -p "$work/redis"
redis-server --port 16379 --bind 127.0.0.1 --dir "$work/redis" --appendonly yes --appendfsync always \
  --save "" --daemonize no >"$out/redis.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do redis-cli -p 16379 ping >/dev/null 2>&1 && break; sleep 0.1; done

# Prints "EVENTS_PER_SEC P99_MS CPU_US_PER_EVENT" for one wrk run against a fresh gatewayd
# from binary $1. CPU per event is what the machine's noise moves least.
gateway_run() {
  rm -rf "$work/data"
  "$1" serve --listen 127.0.0.1:18081 --data-dir "$work/data" --admin-token "$BENCH_TOKEN" --event-loops 1 \
    --log-level error >"$out/ingest-ab-gatewayd.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18081/healthz && break; sleep 0.1; done
  local log="$work/wrk.txt"
  local before; before=$(cpu_ticks "$pid")
  wrk -t1 -c32 -d"${seconds}s" --latency -s Benchmarks/ingest.lua http://127.0.0.1:18081/v1/events >"$log" 2>&1
  local after; after=$(cpu_ticks "$pid")
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  if grep -q "Non-2xx" "$log"; then echo "warning: non-2xx answers" >&2; fi
  wrk_summary $((after - before)) <"$log"
}

payload=$(printf 'a%.0s' $(seq 300))
redis_run() {
  redis-benchmark -p 16379 -c 32 -n $(( seconds * 60000 )) -q XADD bench '*' data "$payload" 2>/dev/null \
    | tr '\r' '\n' | awk '/requests per second/ {for (i=1;i<=NF;i++) if ($(i+1) ~ /^requests/) print $i}' | tail -1
}

: >"$work/a"; : >"$work/b"; : >"$work/r"
for round in $(seq "$rounds"); do
  read -r a_rps a_p99 a_cpu < <(gateway_run "$a")
  read -r b_rps b_p99 b_cpu < <(gateway_run "$b")
  r_ops=$(redis_run)
  echo "$a_rps $a_p99 $a_cpu" >>"$work/a"; echo "$b_rps $b_p99 $b_cpu" >>"$work/b"; echo "$r_ops" >>"$work/r"
  printf 'round %d: A %8.0f ev/s p99 %5.2f ms %5.2f us CPU/ev | B %8.0f ev/s p99 %5.2f ms %5.2f us CPU/ev | redis always %8.0f ops/s | B/A %.3f\n' \
    "$round" "$a_rps" "$a_p99" "$a_cpu" "$b_rps" "$b_p99" "$b_cpu" "$r_ops" "$(echo "$b_rps / $a_rps" | bc -l)"
done
acpu=$(cut -d' ' -f3 "$work/a" | median); bcpu=$(cut -d' ' -f3 "$work/b" | median)
printf 'CPU per event (median): A %.2f us | B %.2f us | B/A %.3f\n' "$acpu" "$bcpu" "$(echo "$bcpu / $acpu" | bc -l)"
am=$(cut -d' ' -f1 "$work/a" | median); bm=$(cut -d' ' -f1 "$work/b" | median); rm_=$(median <"$work/r")
a99=$(cut -d' ' -f2 "$work/a" | median); b99=$(cut -d' ' -f2 "$work/b" | median)
printf 'median of %d: A %.0f ev/s (p99 %.2f ms) | B %.0f ev/s (p99 %.2f ms) | redis always %.0f ops/s\n' "$rounds" "$am" "$a99" "$bm" "$b99" "$rm_"
printf 'B/A = %.3f; A/redis = %.2f; B/redis = %.2f (target >= 1.3, p99 <= 2 ms)\n' \
  "$(echo "$bm / $am" | bc -l)" "$(echo "$am / $rm_" | bc -l)" "$(echo "$bm / $rm_" | bc -l)"
