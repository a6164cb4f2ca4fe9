#!/usr/bin/env bash
# Fan-out throughput: gatewayd delivering EVENTS events to one subscription (maxInFlight 64)
# whose receiver is nginx (1 worker, static 202), against Benchmarks/curl_multi_reference.c
# (libcurl multi, 64 in flight) POSTing to the same nginx, alternating ROUNDS times.
# The events are ingested first (batches of 500) with the subscription paused, then it is
# resumed and the time until `stats.delivered` reaches EVENTS is measured.
# Each round also reports CPU time per delivery: for gatewayd per thread (from
# /proc/PID/task/*/stat across the drain), for the reference per POST (user + system).
# FANOUT_MAX_IN_FLIGHT (default 64, as the reference) changes the subscription's maxInFlight.
# Usage: Benchmarks/fanout.sh [ROUNDS=3] [EVENTS=100000]
# GATEWAYD=path measures another build (an older one, for a before figure).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
events=${2:-100000}
scripts/ensure-tools.sh libcurl nginx curl python3 cc bc
. Benchmarks/common.sh fanout gatewayd
gatewayd=${GATEWAYD:-$bin/gatewayd}
cc -O2 -o "$work/curl_multi_reference" Benchmarks/curl_multi_reference.c -lcurl
conf=$(Benchmarks/nginx_conf.sh 1 "$work/nginx" 18080)
nginx -p "$work/nginx" -c "$conf" & pids+=($!)
for _ in $(seq 50); do curl -s -o /dev/null -X POST http://127.0.0.1:18080/hook && break; sleep 0.1; done

# "thread-name ticks" for every thread of process $1 (user + system, in clock ticks).
thread_ticks() {
  local task
  for task in /proc/"$1"/task/*; do
    awk -v name="$(cat "$task/comm")" '{print name, $14 + $15}' "$task/stat"
  done
}

# Prints the CPU microseconds per delivery of each thread that used any, from two
# thread_ticks snapshots and the number of deliveries in between.
cpu_per_delivery() {
  awk -v n="$3" -v hz="$(getconf CLK_TCK)" '
    NR == FNR { before[$1] = $2; next }
    { used = ($2 - before[$1]) * 1e6 / hz / n; if (used > 0.05) { total += used; line = line sprintf(" %s %.1f", $1, used) } }
    END { printf "gatewayd CPU per delivery (us):%s, total %.1f\n", line, total }' "$1" "$2"
}

run_gateway() {
  local round=$1
  rm -rf "$work/data"
  "$gatewayd" serve --listen 127.0.0.1:18084 --data-dir "$work/data" --admin-token bench --allow-private-targets \
    --log-level error >"$out/fanout-gatewayd-$round.log" 2>&1 &
  local pid=$!
  local client="python3 Benchmarks/gateway_client.py 18084"
  local id
  id=$($client subscribe http://127.0.0.1:18080/hook --max-in-flight ${FANOUT_MAX_IN_FLIGHT:-64} --paused)
  $client ingest "$events"
  thread_ticks "$pid" >"$work/ticks-before"
  $client drain "$id" "$events"
  thread_ticks "$pid" >"$work/ticks-after"
  cpu_per_delivery "$work/ticks-before" "$work/ticks-after" "$events" >"$work/cpu-gateway"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}

: >"$out/fanout-reference.txt"; : >"$out/fanout-gateway.txt"
for round in $(seq "$rounds"); do
  seconds=$(python3 -c "print(max(3, $events / 40000))")
  # The shell's `time` keyword: user and system seconds of the reference, no extra tool.
  TIMEFORMAT='%U %S'
  { time "$work/curl_multi_reference" http://127.0.0.1:18080/hook 64 "$seconds" >"$work/reference-out"; } 2>"$work/reference-time"
  reference=$(awk '{print $1}' "$work/reference-out")
  posts=$(sed 's/.*(\([0-9]*\) ok.*/\1/' "$work/reference-out")
  # Not `read < <(run_gateway ...)`: gatewayd must be stopped before the next reference run.
  result=$(run_gateway "$round"); read -r gateway delivered failed <<<"$result"
  echo "$reference" >>"$out/fanout-reference.txt"
  echo "$gateway" >>"$out/fanout-gateway.txt"
  printf 'round %d: libcurl multi reference %8.0f POSTs/s | gatewayd %8.0f deliveries/s (%d delivered, %d failed attempts)\n' \
    "$round" "$reference" "$gateway" "$delivered" "$failed"
  awk -v n="$posts" '{printf "  reference CPU per POST (us): %.1f\n", ($1 + $2) * 1e6 / n}' "$work/reference-time"
  echo "  $(cat "$work/cpu-gateway")"
done
r=$(median <"$out/fanout-reference.txt"); g=$(median <"$out/fanout-gateway.txt")
printf 'median of %d: reference %.0f POSTs/s | gatewayd %.0f deliveries/s | ratio %.2f (target >= 0.8)\n' \
  "$rounds" "$r" "$g" "$(echo "$g / $r" | bc -l)"
