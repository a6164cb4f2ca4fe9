#!/usr/bin/env bash
# Ingest with many subscriptions that do not match: two gatewayd processes of the same build,
# one with no subscriptions and one with COUNT subscriptions (each to its own exact type,
# customer.N.signed-up, which the benchmark's order.created events never have), take the
# same durable ingest load (wrk -t1 -c32, ~300-byte events), alternating A B in one run.
# Routing an event must cost what its matches cost, not what all subscriptions cost.
# Usage: Benchmarks/subscriptions_scale.sh [COUNT=10000] [ROUNDS=5] [SECONDS=10]
# GATEWAYD=path runs another build (an older one, for the before figure) instead of this tree's.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
rounds=${2:-5}
seconds=${3:-10}
scripts/ensure-tools.sh libcurl wrk bc curl python3
. Benchmarks/common.sh subscriptions gatewayd
gatewayd=${GATEWAYD:-$bin/gatewayd}
export BENCH_TOKEN=bench
for port in 18081 18082; do
  "$gatewayd" serve --listen 127.0.0.1:$port --data-dir "$work/data-$port" --admin-token bench --event-loops 1 \
    --allow-private-targets --log-level error >"$out/subscriptions-$port.log" 2>&1 & pids+=($!)
done
python3 Benchmarks/gateway_client.py 18081 wait-ready >/dev/null
python3 Benchmarks/gateway_client.py 18082 wait-ready >/dev/null
started=$(date +%s.%N)
python3 Benchmarks/gateway_client.py 18082 subscribe-many "$count" http://127.0.0.1:9/hook
echo "created $count subscriptions in $(echo "$(date +%s.%N) - $started" | bc -l | cut -c1-5) s"

# Prints "EVENTS_PER_SEC P99_MS" for one wrk run on port $1.
wrk_run() {
  local log="$work/wrk.txt"
  wrk -t1 -c32 -d"${seconds}s" --latency -s Benchmarks/ingest.lua "http://127.0.0.1:$1/v1/events" >"$log" 2>&1
  if grep -q "Non-2xx" "$log"; then echo "warning: non-2xx answers" >&2; fi
  awk '/^Requests\/sec:/ {rps=$2} $1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; p99=v} END {print rps, p99}' "$log"
}

: >"$work/none"; : >"$work/many"
for round in $(seq "$rounds"); do
  read -r none none99 < <(wrk_run 18081)
  read -r many many99 < <(wrk_run 18082)
  echo "$none" >>"$work/none"; echo "$many" >>"$work/many"
  printf 'round %d: no subscriptions %8.0f ev/s p99 %5.2f ms | %d non-matching %8.0f ev/s p99 %5.2f ms | ratio %.3f\n' \
    "$round" "$none" "$none99" "$count" "$many" "$many99" "$(echo "$many / $none" | bc -l)"
done
n=$(median <"$work/none"); m=$(median <"$work/many")
printf 'median of %d: no subscriptions %.0f ev/s | %d non-matching %.0f ev/s | ratio %.3f (target >= 0.9)\n' \
  "$rounds" "$n" "$count" "$m" "$(echo "$m / $n" | bc -l)"
