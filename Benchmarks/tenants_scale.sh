#!/usr/bin/env bash
# Tenants at scale (issue 11): TENANTS tenants of 2 subscriptions each (20,000 by default).
#
# Ingest: three gatewayd processes of the same build take the same durable ingest load
# (wrk -t1 -c32, ~300-byte events of type order.created), alternating ROUNDS times:
#   A  no tenants, no subscriptions; the events carry the tenant id in a member it ignores;
#   R  the tenants, each with 2 subscriptions to order.shipped: every event is addressed to a
#      random tenant and routed through that tenant's index, matching nothing — the cost of
#      routing (target: R >= 0.9x A);
#   M  the tenants, each with 2 (paused) subscriptions to order.created: every event is routed
#      and owes 2 deliveries, whose bookkeeping (ledger, dispatcher lanes) is measured too,
#      not their sending.
# Each line gives events/s, p99 and the gatewayd's CPU per event (all its threads).
#
# Fan-out: M's subscriptions are resumed and its backlog is sent to nginx (1 worker, static
# 202); C, a fourth gatewayd with one subscription (maxInFlight 64), sends a backlog of its
# own to the same nginx. Each drain is measured over WINDOW seconds once running: deliveries
# per second (from /metrics) and CPU per delivery, split into the dispatcher thread, the
# libcurl threads and the rest. Target: per delivery, M as fast as C.
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
declare -A port=([A]=18081 [R]=18082 [M]=18083 [C]=18084) pid
for name in A R M C; do
  "$gatewayd" serve --listen 127.0.0.1:${port[$name]} --data-dir "$work/data-$name" --admin-token bench --event-loops 1 \
    --allow-private-targets --log-level error >"$out/tenants-$name.log" 2>&1 & pids+=($!)
  pid[$name]=$!
done
client() { python3 Benchmarks/gateway_client.py "$@"; }
for name in A R M C; do client ${port[$name]} wait-ready >/dev/null; done
started=$(date +%s.%N)
client ${port[R]} tenants-many "$tenants" 2 http://127.0.0.1:18080/hook --ids "$work/r-subscriptions" --type order.shipped
client ${port[M]} tenants-many "$tenants" 2 http://127.0.0.1:18080/hook --ids "$work/m-subscriptions" --paused
echo "created $tenants tenants with 2 subscriptions each, twice, in $(echo "$(date +%s.%N) - $started" | bc -l | cut -c1-5) s"

# Prints "EVENTS_PER_SEC P99_MS CPU_US_PER_EVENT" for one wrk run against gateway $1, with
# the tenant id under the member $2.
wrk_run() {
  local before log="$work/wrk.txt"
  before=$(cpu_ticks "${pid[$1]}")
  TENANT_FIELD=$2 wrk -t1 -c32 -d"${seconds}s" --latency -s Benchmarks/ingest_addressed.lua "http://127.0.0.1:${port[$1]}/v1/events" >"$log" 2>&1
  if grep -q "Non-2xx" "$log"; then echo "warning: non-2xx answers from $1" >&2; grep "Non-2xx" "$log" >&2; fi
  wrk_summary $(( $(cpu_ticks "${pid[$1]}") - before )) <"$log"
}

: >"$work/A"; : >"$work/R"; : >"$work/M"
for round in $(seq "$rounds"); do
  read -r a a99 acpu < <(wrk_run A x)
  read -r r r99 rcpu < <(wrk_run R tenant)
  read -r m m99 mcpu < <(wrk_run M tenant)
  echo "$a" >>"$work/A"; echo "$r" >>"$work/R"; echo "$m" >>"$work/M"
  printf 'round %d: A %6.0f ev/s p99 %5.2f ms %4.1f us/ev | R %6.0f ev/s p99 %5.2f ms %4.1f us/ev (%.3f) | M %6.0f ev/s p99 %5.2f ms %4.1f us/ev (%.3f)\n' \
    "$round" "$a" "$a99" "$acpu" "$r" "$r99" "$rcpu" "$(echo "$r / $a" | bc -l)" "$m" "$m99" "$mcpu" "$(echo "$m / $a" | bc -l)"
done
a=$(median <"$work/A"); r=$(median <"$work/R"); m=$(median <"$work/M")
printf 'ingest, median of %d: A no tenants %.0f ev/s | R %d tenants, routed, no match %.0f ev/s: %.3f (target >= 0.9) | M %d tenants, 2 deliveries owed per event %.0f ev/s: %.3f\n' \
  "$rounds" "$a" "$tenants" "$r" "$(echo "$r / $a" | bc -l)" "$tenants" "$m" "$(echo "$m / $a" | bc -l)"

# "thread-name ticks" for every thread of process $1.
thread_ticks() {
  local task
  for task in /proc/"$1"/task/*; do awk -v name="$(cat "$task/comm")" '{print name, $14 + $15}' "$task/stat"; done
}
# Prints "DELIVERIES_PER_SEC DISPATCHER_US CURL_US OTHER_US COUNT" over WINDOW seconds of
# gateway $1's drain, after a second of warm-up (CPU in microseconds per delivery).
drain_window() {
  local d0 d1 t0 t1
  sleep 1
  d0=$(client ${port[$1]} delivered); thread_ticks "${pid[$1]}" >"$work/ticks0"; t0=$(date +%s.%N)
  sleep "$window"
  d1=$(client ${port[$1]} delivered); thread_ticks "${pid[$1]}" >"$work/ticks1"; t1=$(date +%s.%N)
  awk -v n=$((d1 - d0)) -v seconds="$(echo "$t1 - $t0" | bc -l)" -v hz="$(getconf CLK_TCK)" '
    NR == FNR { before[$1] += $2; next }
    { used[$1] += $2 }
    END {
      for (name in used) {
        us = (used[name] - before[name]) / hz * 1e6 / (n > 0 ? n : 1)
        if (name == "dispatcher") d += us; else if (name ~ /^curl-engine/) c += us; else o += us
      }
      printf "%.0f %.1f %.1f %.1f %d\n", n / seconds, d, c, o, n
    }' "$work/ticks0" "$work/ticks1"
}
# C: one subscription, paused, with a backlog the window cannot drain at 60,000 a second.
one=$(client ${port[C]} subscribe http://127.0.0.1:18080/hook --max-in-flight 64 --paused)
client ${port[C]} ingest $(( (window + 3) * 60000 ))
kill -TERM "${pid[A]}" "${pid[R]}"
started=$(date +%s.%N)
client ${port[M]} resume-all "$work/m-subscriptions"
echo "resumed $((2 * tenants)) subscriptions in $(echo "$(date +%s.%N) - $started" | bc -l | cut -c1-5) s"
read -r m_rate m_dispatcher m_curl m_other m_n < <(drain_window M)
kill -TERM "${pid[M]}"
client ${port[C]} resume-all <(echo "$one")
read -r c_rate c_dispatcher c_curl c_other c_n < <(drain_window C)
report() {
  printf '%s %8.0f deliveries/s, CPU per delivery %5.1f us (dispatcher %4.1f, libcurl threads %4.1f, other %4.1f) over %d\n' \
    "$1" "$2" "$(echo "$3 + $4 + $5" | bc -l)" "$3" "$4" "$5" "$6"
}
report "fan-out C, one subscription:               " "$c_rate" "$c_dispatcher" "$c_curl" "$c_other" "$c_n"
report "fan-out M, $tenants tenants x 2 subscriptions:" "$m_rate" "$m_dispatcher" "$m_curl" "$m_other" "$m_n"
printf 'fan-out M / C: throughput %.3f, CPU per delivery %.3f, dispatcher CPU per delivery %.3f\n' \
  "$(echo "$m_rate / $c_rate" | bc -l)" "$(echo "($m_dispatcher + $m_curl + $m_other) / ($c_dispatcher + $c_curl + $c_other)" | bc -l)" \
  "$(echo "$m_dispatcher / $c_dispatcher" | bc -l)"
