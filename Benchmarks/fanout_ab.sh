#!/usr/bin/env bash
# Fan-out A/B: two gatewayd builds drain the same fan-out (one subscription, maxInFlight 64,
# nginx with 1 worker as the receiver, as in Benchmarks/fanout.sh), alternating A B A B, so a
# change is judged against the code before it in one run rather than across runs of a
# drifting machine. Per round and build: deliveries/s, CPU µs per delivery of the
# dispatcher and of the libcurl threads together (/proc/PID/task/*/stat across the drain),
# and context switches per delivery of gatewayd's threads and nginx's worker together
# (voluntary + involuntary, /proc/PID/task/*/status).
# Build the two first, e.g. `swift build -c release --product gatewayd` and copy the binary
# aside before and after the change.
# Usage: Benchmarks/fanout_ab.sh GATEWAYD_A GATEWAYD_B [ROUNDS=3] [EVENTS=200000]
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 GATEWAYD_A GATEWAYD_B [ROUNDS] [EVENTS]" >&2; exit 2; }
a=$(realpath "$1"); b=$(realpath "$2")
rounds=${3:-3}
events=${4:-200000}
scripts/ensure-tools.sh nginx curl python3 bc
. Benchmarks/common.sh fanout-ab
conf=$(Benchmarks/nginx_conf.sh 1 "$work/nginx" 18080)
nginx -p "$work/nginx" -c "$conf" & nginx_pid=$!; pids+=($nginx_pid)
for _ in $(seq 50); do curl -s -o /dev/null -X POST http://127.0.0.1:18080/hook && break; sleep 0.1; done
nginx_worker=$(pgrep -P "$nginx_pid" | head -1)

thread_ticks() {
  local task
  for task in /proc/"$1"/task/*; do awk -v name="$(cat "$task/comm")" '{print name, $14 + $15}' "$task/stat"; done
}

# Context switches so far of every thread of the given processes, summed.
switches() {
  cat /proc/"$1"/task/*/status /proc/"$2"/task/*/status | awk '/_ctxt_switches/ {sum += $2} END {print sum}'
}

# Prints "deliveries/s dispatcher-us libcurl-us switches" for one drain with gatewayd binary $1.
drain_once() {
  rm -rf "$work/data"
  "$1" serve --listen 127.0.0.1:18084 --data-dir "$work/data" --admin-token bench --allow-private-targets \
    --log-level error >"$out/fanout-ab-gatewayd.log" 2>&1 &
  local pid=$!
  local client="python3 Benchmarks/gateway_client.py 18084"
  local id rate
  id=$($client subscribe http://127.0.0.1:18080/hook --max-in-flight 64 --paused)
  $client ingest "$events"
  thread_ticks "$pid" >"$work/ticks-before"
  local switches_before; switches_before=$(switches "$pid" "$nginx_worker")
  rate=$($client drain "$id" "$events" | awk '{print $1}')
  thread_ticks "$pid" >"$work/ticks-after"
  local switched=$(( $(switches "$pid" "$nginx_worker") - switches_before ))
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  awk -v n="$events" -v rate="$rate" -v hz="$(getconf CLK_TCK)" -v switched="$switched" '
    NR == FNR { before[$1] = $2; next }
    { used[$1] = ($2 - before[$1]) * 1e6 / hz / n }
    END { printf "%s %.2f %.2f %.3f\n", rate, used["dispatcher"], used["curl-engine-0"] + used["curl-engine-1"], switched / n }' \
    "$work/ticks-before" "$work/ticks-after"
}

: >"$work/ratios"
for round in $(seq "$rounds"); do
  read -r rate_a dispatcher_a curl_a switches_a <<<"$(drain_once "$a")"
  read -r rate_b dispatcher_b curl_b switches_b <<<"$(drain_once "$b")"
  ratio=$(echo "$rate_b / $rate_a" | bc -l)
  echo "$ratio" >>"$work/ratios"
  printf 'round %d: A %6.0f/s (dispatcher %.2f us, libcurl %.2f us, %.3f switches) | B %6.0f/s (dispatcher %.2f us, libcurl %.2f us, %.3f switches) | B/A %.3f\n' \
    "$round" "$rate_a" "$dispatcher_a" "$curl_a" "$switches_a" "$rate_b" "$dispatcher_b" "$curl_b" "$switches_b" "$ratio"
done
printf 'median B/A of %d rounds: %.3f\n' "$rounds" "$(median <"$work/ratios")"
