#!/usr/bin/env bash
# Isolation: does a slow or dead subscriber slow the healthy ones? gatewayd fans EVENTS
# events out to a healthy subscription (nginx, 1 worker, maxInFlight 64), alone and then
# beside two bad ones subscribed to the same events: one whose receiver answers after 5 s
# (Benchmarks/slow_receiver.py; default maxInFlight 10) and one whose port refuses
# connections (127.0.0.1:9). As in fanout.sh the events are ingested with every
# subscription paused, then all are resumed and the time until the healthy one has
# delivered EVENTS is taken. The two set-ups alternate ROUNDS times on fresh data.
# Target: the healthy subscription's deliveries/s drop by at most 10% beside the bad ones.
# Usage: Benchmarks/isolation.sh [ROUNDS=3] [EVENTS=100000]
# GATEWAYD=path measures another build (an older one, for a before figure).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
events=${2:-100000}
scripts/ensure-tools.sh libcurl nginx curl python3 bc
. Benchmarks/common.sh isolation gatewayd
gatewayd=${GATEWAYD:-$bin/gatewayd}
conf=$(Benchmarks/nginx_conf.sh 1 "$work/nginx" 18080)
nginx -p "$work/nginx" -c "$conf" & pids+=($!)
python3 Benchmarks/slow_receiver.py 18087 5 & pids+=($!)
for _ in $(seq 50); do curl -s -o /dev/null -X POST http://127.0.0.1:18080/hook && break; sleep 0.1; done

# run ROUND alone|beside: prints "deliveries/s delivered failedAttempts" of the healthy one.
run() {
  local round=$1 setup=$2
  rm -rf "$work/data"
  "$gatewayd" serve --listen 127.0.0.1:18084 --data-dir "$work/data" --admin-token bench --allow-private-targets \
    --log-level error >"$out/isolation-gatewayd-$setup-$round.log" 2>&1 &
  local pid=$!
  local client="python3 Benchmarks/gateway_client.py 18084"
  local healthy others=()
  healthy=$($client subscribe http://127.0.0.1:18080/hook --max-in-flight 64 --paused)
  if [ "$setup" = beside ]; then
    others+=("$($client subscribe http://127.0.0.1:18087/hook --paused)")
    others+=("$($client subscribe http://127.0.0.1:9/hook --paused)")
  fi
  $client ingest "$events"
  $client drain "$healthy" "$events" --resume "${others[@]}"
  if [ "$setup" = beside ]; then
    for id in "${others[@]}"; do echo "  bad subscriber: $($client stats "$id")" >&2; done
  fi
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}

: >"$out/isolation-alone.txt"; : >"$out/isolation-beside.txt"
for round in $(seq "$rounds"); do
  # Not `read < <(run ...)`: each run must be over (gatewayd stopped) before the next starts.
  result=$(run "$round" alone); read -r alone _ _ <<<"$result"
  result=$(run "$round" beside); read -r beside delivered failed <<<"$result"
  echo "$alone" >>"$out/isolation-alone.txt"
  echo "$beside" >>"$out/isolation-beside.txt"
  printf 'round %d: healthy alone %8.0f deliveries/s | beside a 5 s-slow and a refusing subscriber %8.0f deliveries/s (%d delivered, %d failed)\n' \
    "$round" "$alone" "$beside" "$delivered" "$failed"
done
a=$(median <"$out/isolation-alone.txt"); b=$(median <"$out/isolation-beside.txt")
printf 'median of %d: alone %.0f | beside the bad ones %.0f deliveries/s | ratio %.3f (target >= 0.9)\n' \
  "$rounds" "$a" "$b" "$(echo "$b / $a" | bc -l)"
