#!/usr/bin/env bash
# Durable ingest: gatewayd (fsync before every 202, group commit) against nginx's static 202
# (no durability; the HTTP ceiling) and Redis 7 XADD with appendonly + appendfsync always
# (durable, like us). All on 127.0.0.1, 32 connections, ~300-byte events, alternating
# nginx / gatewayd / redis ROUNDS times in one run. Prints each run, the medians and ratios,
# gatewayd's p99, and how many events each fdatasync covered.
# Usage: Benchmarks/ingest_vs_nginx_redis.sh [ROUNDS=3] [SECONDS=10] [EVENT_LOOPS=1]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-10}
loops=${3:-1}
scripts/ensure-tools.sh libcurl nginx wrk bc curl redis-server redis-benchmark
. Benchmarks/common.sh ingest gatewayd
gatewayd=$bin/gatewayd

conf=$(Benchmarks/nginx_conf.sh 1 "$work/nginx" 18080)
nginx -p "$work/nginx" -c "$conf" & pids+=($!)
export BENCH_TOKEN=bench-admin-token
"$gatewayd" serve --listen 127.0.0.1:18081 --data-dir "$work/gateway" --admin-token "$BENCH_TOKEN" \
  --event-loops "$loops" >"$out/gatewayd.log" 2>&1 & gateway_pid=$!; pids+=($gateway_pid)
mkdir -p "$work/redis"
redis-server --port 16379 --bind 127.0.0.1 --dir "$work/redis" --appendonly yes --appendfsync always \
  --save "" --daemonize no >"$out/redis.log" 2>&1 & pids+=($!)
for port in 18080 18081; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
done
for _ in $(seq 100); do redis-cli -p 16379 ping >/dev/null 2>&1 && break; sleep 0.1; done

# Prints "REQS_PER_SEC P99_MS" for one wrk run.
wrk_run() {
  local port=$1 script=$2 log=$3
  wrk -t1 -c32 -d"${seconds}s" --latency -s "$script" "http://127.0.0.1:$port/v1/events" >"$log" 2>&1
  if grep -q "Non-2xx" "$log"; then echo "warning: non-2xx answers in $log" >&2; fi
  awk '/^Requests\/sec:/ {rps=$2} $1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; p99=v} END {print rps, p99}' "$log"
}

payload=$(printf 'a%.0s' $(seq 300))
redis_run() {
  local requests=$(( seconds * 60000 ))
  redis-benchmark -p 16379 -c 32 -n "$requests" -q XADD bench '*' data "$payload" 2>/dev/null \
    | tr '\r' '\n' | awk '/requests per second/ {for (i=1;i<=NF;i++) if ($(i+1) ~ /^requests/) print $i}' | tail -1
}


: >"$out/ingest-nginx.txt"; : >"$out/ingest-gateway.txt"; : >"$out/ingest-redis.txt"
for round in $(seq "$rounds"); do
  read -r n_rps n_p99 < <(wrk_run 18080 Benchmarks/post.lua "$out/ingest-wrk-nginx-$round.txt")
  read -r g_rps g_p99 < <(wrk_run 18081 Benchmarks/ingest.lua "$out/ingest-wrk-gateway-$round.txt")
  r_ops=$(redis_run)
  echo "$n_rps $n_p99" >>"$out/ingest-nginx.txt"
  echo "$g_rps $g_p99" >>"$out/ingest-gateway.txt"
  echo "$r_ops" >>"$out/ingest-redis.txt"
  printf 'round %d: nginx %8.0f req/s p99 %5.2f ms | gatewayd %8.0f ev/s p99 %5.2f ms | redis always %8.0f ops/s\n' \
    "$round" "$n_rps" "$n_p99" "$g_rps" "$g_p99" "$r_ops"
done

kill -TERM "$gateway_pid"; wait "$gateway_pid" 2>/dev/null || true
per_sync=$(grep -o 'records-per-sync=[0-9.]*' "$out/gatewayd.log" | tail -1 | cut -d= -f2)
n=$(cut -d' ' -f1 "$out/ingest-nginx.txt" | median)
g=$(cut -d' ' -f1 "$out/ingest-gateway.txt" | median)
g99=$(cut -d' ' -f2 "$out/ingest-gateway.txt" | median)
r=$(median <"$out/ingest-redis.txt")
printf 'median of %d: nginx %.0f req/s | gatewayd %.0f events/s (p99 %.2f ms) | redis appendfsync always %.0f ops/s\n' "$rounds" "$n" "$g" "$g99" "$r"
printf 'gatewayd / nginx = %.2f (target >= 0.7); gatewayd / redis = %.2f (target >= 1.5); p99 target <= 5 ms\n' \
  "$(echo "$g / $n" | bc -l)" "$(echo "$g / $r" | bc -l)"
echo "events per fdatasync (whole run): ${per_sync:-unknown}"
