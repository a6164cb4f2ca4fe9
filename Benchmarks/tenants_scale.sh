#!/usr/bin/env bash
# Tenants at scale (issue 11): TENANTS tenants of 2 subscriptions each (20,000 by default).
#
# Ingest: two gatewayd processes of the same build take the same durable ingest load
# (wrk -t1 -c32, ~300-byte events), alternating ROUNDS times: A has no tenants and no
# subscriptions, B has the tenants and their subscriptions (paused, so only the routing and
# the bookkeeping of the deliveries is measured, not sending them) and every event is
# addressed to a random tenant. Target: B >= 0.9x A.
#
# Fan-out: B's subscriptions are resumed and its backlog (2 deliveries per event) is sent to
# nginx (1 worker, static 202); C, a third gatewayd with one subscription (maxInFlight 64),
# sends a backlog of its own to the same nginx. Each drain is measured over a window once it
# runs: deliveries per second (from /metrics) and the CPU gatewayd used per delivery.
# Target: per delivery, B as fast as C.
#
# Usage: Benchmarks/tenants_scale.sh [TENANTS=10000] [ROUNDS=5] [SECONDS=10] [WINDOW=8]
# GATEWAYD=path runs another build.
set -euo pipefail
cd "$(dirname "$0")/.."
tenants=${1:-10000}
rounds=${2:-5}
seconds=${3:-10}
window=${4:-8}
scripts/ensure-tools.sh libcurl wrk bc curl nginx python3
. Benchmarks/common.sh tenants gatewayd
gatewayd=${GATEWAYD:-$bin/gatewayd}
export BENCH_TOKEN=bench TENANTS=$tenants
conf=$(Benchmarks/nginx_conf.sh 1 "$work/nginx" 18080)
nginx -p "$work/nginx" -c "$conf" & pids+=($!)
declare -A gateway_pid
for port in 18081 18082 18083; do
  "$gatewayd" serve --listen 127.0.0.1:$port --data-dir "$work/data-$port" --admin-token bench --event-loops 1 \
    --allow-private-targets --log-level error >"$out/tenants-$port.log" 2>&1 & pids+=($!)
  gateway_pid[$port]=$!
done
client() { python3 Benchmarks/gateway_client.py "$@"; }
for port in 18081 18082 18083; do client $port wait-ready >/dev/null; done
started=$(date +%s.%N)
client 18082 tenants-many "$tenants" 2 http://127.0.0.1:18080/hook --ids "$work/subscriptions" --paused
echo "created $tenants tenants and $((2 * tenants)) paused subscriptions in $(echo "$(date +%s.%N) - $started" | bc -l | cut -c1-5) s"

# Prints "EVENTS_PER_SEC P99_MS CPU_US_PER_EVENT" for one wrk run on port $1 with TENANT_FIELD=$2.
wrk_run() {
  local before log="$work/wrk.txt"
  before=$(cpu_ticks "${gateway_pid[$1]}")
  TENANT_FIELD=$2 wrk -t1 -c32 -d"${seconds}s" --latency -s Benchmarks/ingest_addressed.lua "http://127.0.0.1:$1/v1/events" >"$log" 2>&1
  if grep -q "Non-2xx" "$log"; then echo "warning: non-2xx answers on port $1" >&2; grep "Non-2xx" "$log" >&2; fi
  wrk_summary $(( $(cpu_ticks "${gateway_pid[$1]}") - before )) <"$log"
}

: >"$work/none"; : >"$work/many"
for round in $(seq "$rounds"); do
  read -r none none99 nonecpu < <(wrk_run 18081 x)
  read -r many many99 manycpu < <(wrk_run 18082 tenant)
  echo "$none" >>"$work/none"; echo "$many" >>"$work/many"
  printf 'round %d: no tenants %8.0f ev/s p99 %5.2f ms %5.1f us/ev | %d tenants, addressed %8.0f ev/s p99 %5.2f ms %5.1f us/ev | ratio %.3f\n' \
    "$round" "$none" "$none99" "$nonecpu" "$tenants" "$many" "$many99" "$manycpu" "$(echo "$many / $none" | bc -l)"
done
n=$(median <"$work/none"); m=$(median <"$work/many")
printf 'ingest median of %d: no tenants %.0f ev/s | %d tenants x 2 subscriptions, addressed %.0f ev/s | ratio %.3f (target >= 0.9)\n' \
  "$rounds" "$n" "$tenants" "$m" "$(echo "$m / $n" | bc -l)"

# Fan-out. C: one subscription, paused, with a backlog as large as B's deliveries.
# As many deliveries as the window (and its warm-up) needs at 60,000 a second, at most what B has.
backlog=$(awk -v w="$window" -v s="$seconds" '{sum += $1} END {b = sum * s * 2; c = (w + 3) * 60000; printf "%d", (b < c ? b : c)}' "$work/many")
one=$(client 18083 subscribe http://127.0.0.1:18080/hook --max-in-flight 64 --paused)
client 18083 ingest "$backlog"
# Prints "DELIVERIES_PER_SEC CPU_US_PER_DELIVERY" over WINDOW seconds of port $1's drain,
# after a second of warm-up.
drain_window() {
  local port=$1 d0 d1 t0 t1 c0 c1
  sleep 1
  d0=$(client "$port" delivered); c0=$(cpu_ticks "${gateway_pid[$port]}"); t0=$(date +%s.%N)
  sleep "$window"
  d1=$(client "$port" delivered); c1=$(cpu_ticks "${gateway_pid[$port]}"); t1=$(date +%s.%N)
  echo "$d0 $d1 $t0 $t1 $c0 $c1" | awk -v hz="$(getconf CLK_TCK)" \
    '{n = $2 - $1; printf "%.0f %.1f %d\n", n / ($4 - $3), (n > 0 ? ($6 - $5) / hz * 1e6 / n : 0), n}'
}
started=$(date +%s.%N)
client 18082 resume-all "$work/subscriptions"
echo "resumed $((2 * tenants)) subscriptions in $(echo "$(date +%s.%N) - $started" | bc -l | cut -c1-5) s"
read -r many_rate many_cpu many_n < <(drain_window 18082)
kill -TERM "${gateway_pid[18082]}"
client 18083 resume-all <(echo "$one")
read -r one_rate one_cpu one_n < <(drain_window 18083)
printf 'fan-out: one subscription %8.0f deliveries/s %5.1f us CPU each (%d) | %d tenants x 2 subscriptions %8.0f deliveries/s %5.1f us CPU each (%d) | ratio %.3f, CPU ratio %.3f\n' \
  "$one_rate" "$one_cpu" "$one_n" "$tenants" "$many_rate" "$many_cpu" "$many_n" \
  "$(echo "$many_rate / $one_rate" | bc -l)" "$(echo "$many_cpu / $one_cpu" | bc -l)"
