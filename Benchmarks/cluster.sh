#!/usr/bin/env bash
# Cluster mode on PostgreSQL against the embedded journal, in one run (issue 13's targets):
#   1. ingest: wrk -t1 -c32 POST /v1/events (~300-byte events) into one node with 3 paused
#      subscriptions (each event owes 3 deliveries, recorded, not sent), embedded and cluster
#      alternating per round: events/s, p99, CPU µs per event of gatewayd and of PostgreSQL
#      (every process of the throwaway cluster), events per COMMIT;
#   2. fan-out: one subscription (maxInFlight 64) drains EVENTS events into nginx (1 worker),
#      embedded and cluster alternating: deliveries/s, CPU µs per delivery of gatewayd and of
#      PostgreSQL;
#   3. takeover: two nodes, the one holding shard 0 killed with SIGKILL: seconds until the
#      other holds every shard.
# PostgreSQL is a throwaway durable one (fsync on, synchronous_commit on): a 202 is a COMMIT
# on disk, as the embedded 202 is an fdatasync.
# Usage: Benchmarks/cluster.sh [ROUNDS=3] [SECONDS=8] [EVENTS=100000] [TAKEOVERS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-8}
events=${3:-100000}
takeovers=${4:-3}
scripts/ensure-tools.sh wrk nginx curl python3 bc postgresql
. Benchmarks/common.sh cluster gatewayd
gatewayd="$bin/gatewayd"
hz=$(getconf CLK_TCK)

chmod 755 "$work"  # PostgreSQL runs as its own user, which must reach its folder in here
url=$(scripts/pg-throwaway.sh start --durable "$work/pg")
stop_pg() { scripts/pg-throwaway.sh stop "$work/pg" >/dev/null 2>&1 || true; }
trap 'stop_pg; cleanup' EXIT
postmaster=$(head -1 "$work/pg/data/postmaster.pid")
# Runs SQL on the round's database ($database), or on the server's own with `psql_at -s`.
psql_at() {
  if [ "$1" = -s ]; then psql "$url" -At -c "$2"; else psql "$database" -At -c "$1"; fi
}

# CPU ticks so far of PostgreSQL: the postmaster and every process it started.
pg_ticks() {
  local total=0 pid
  for pid in "$postmaster" $(pgrep -P "$postmaster"); do
    [ -r "/proc/$pid/stat" ] && total=$((total + $(cpu_ticks "$pid" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
commits() { psql_at "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }

# A fresh database per start, so every round begins empty.
fresh_url() {
  local name="bench_$1"
  psql_at -s "DROP DATABASE IF EXISTS $name" >/dev/null 2>&1
  psql_at -s "CREATE DATABASE $name" >/dev/null
  echo "${url%/*}/$name"
}

# Starts gatewayd on port $2 in mode $1 (embedded|cluster); sets $node_pid.
start_node() {
  local mode=$1 port=$2 name=${3:-bench}
  local storage=(--data-dir "$work/data-$name")
  rm -rf "$work/data-$name"
  if [ "$mode" = cluster ]; then storage+=(--database-url "$database" --node-id "$name"); fi
  "$gatewayd" serve --listen "127.0.0.1:$port" "${storage[@]}" --admin-token bench --allow-private-targets \
    --log-level error >"$out/cluster-$name.log" 2>&1 &
  node_pid=$!
  pids+=("$node_pid")
  python3 Benchmarks/gateway_client.py "$port" wait-ready >/dev/null
}

# Prints "EVENTS_PER_SEC P99_MS GATEWAYD_US PG_US EVENTS_PER_COMMIT" for one ingest run.
ingest_once() {
  local mode=$1 round=$2
  database=$(fresh_url "ingest_$round")
  start_node "$mode" 18084
  local client="python3 Benchmarks/gateway_client.py 18084"
  for _ in 1 2 3; do $client subscribe http://127.0.0.1:18080/hook --max-in-flight 10 --paused >/dev/null; done
  local g0 p0 c0 g1 p1 c1
  g0=$(cpu_ticks "$node_pid"); p0=$(pg_ticks); c0=$(commits)
  BENCH_TOKEN=bench wrk -t1 -c32 -d"${seconds}s" --latency -s Benchmarks/ingest.lua http://127.0.0.1:18084/v1/events >"$work/wrk.txt" 2>&1
  g1=$(cpu_ticks "$node_pid"); p1=$(pg_ticks); c1=$(commits)
  kill -TERM "$node_pid"; wait "$node_pid" 2>/dev/null || true
  local requests; requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  read -r rps p99 _ <<<"$(wrk_summary $((g1 - g0)) <"$work/wrk.txt")"
  awk -v rps="$rps" -v p99="$p99" -v n="$requests" -v g=$((g1 - g0)) -v p=$((p1 - p0)) -v c=$((c1 - c0)) -v hz="$hz" -v mode="$mode" \
    'BEGIN { printf "%.0f %.2f %.2f %.2f %s\n", rps, p99, g / hz * 1e6 / n, (mode == "cluster" ? p / hz * 1e6 / n : 0), (mode == "cluster" && c > 0 ? sprintf("%.1f", n / c) : "-") }'
}

# Prints "DELIVERIES_PER_SEC GATEWAYD_US PG_US" for one drain.
drain_once() {
  local mode=$1 round=$2
  database=$(fresh_url "fanout_$round")
  start_node "$mode" 18084
  local client="python3 Benchmarks/gateway_client.py 18084" id rate g0 p0 g1 p1
  id=$($client subscribe http://127.0.0.1:18080/hook --max-in-flight 64 --paused)
  $client ingest "$events" >/dev/null
  sleep 1  # the ingest's own commits settle before the drain is measured
  g0=$(cpu_ticks "$node_pid"); p0=$(pg_ticks)
  rate=$($client drain "$id" "$events" | awk '{print $1}')
  g1=$(cpu_ticks "$node_pid"); p1=$(pg_ticks)
  kill -TERM "$node_pid"; wait "$node_pid" 2>/dev/null || true
  awk -v rate="$rate" -v n="$events" -v g=$((g1 - g0)) -v p=$((p1 - p0)) -v hz="$hz" -v mode="$mode" \
    'BEGIN { printf "%s %.2f %.2f\n", rate, g / hz * 1e6 / n, (mode == "cluster" ? p / hz * 1e6 / n : 0) }'
}

conf=$(Benchmarks/nginx_conf.sh 1 "$work/nginx" 18080)
nginx -p "$work/nginx" -c "$conf" & pids+=($!)
for _ in $(seq 50); do curl -s -o /dev/null -X POST http://127.0.0.1:18080/hook && break; sleep 0.1; done

echo "== ingest: wrk -t1 -c32 -d${seconds}s, 3 paused subscriptions (each event owes 3 deliveries)"
: >"$work/ingest-ratio"; : >"$work/ingest-cluster"; : >"$work/ingest-embedded"
for round in $(seq "$rounds"); do
  read -r e_rps e_p99 e_cpu _ _ <<<"$(ingest_once embedded "$round")"
  read -r c_rps c_p99 c_cpu c_pg c_batch <<<"$(ingest_once cluster "$round")"
  echo "$c_rps" >>"$work/ingest-cluster"; echo "$e_rps" >>"$work/ingest-embedded"
  echo "$c_rps / $e_rps" | bc -l >>"$work/ingest-ratio"
  printf 'round %d: embedded %6.0f ev/s p99 %5.2f ms %6.2f us/ev | cluster %6.0f ev/s p99 %5.2f ms gatewayd %6.2f us/ev PostgreSQL %6.2f us/ev, %s events/COMMIT\n' \
    "$round" "$e_rps" "$e_p99" "$e_cpu" "$c_rps" "$c_p99" "$c_cpu" "$c_pg" "$c_batch"
done
printf 'median: cluster %.0f ev/s, embedded %.0f ev/s, cluster/embedded %.3f\n' \
  "$(median <"$work/ingest-cluster")" "$(median <"$work/ingest-embedded")" "$(median <"$work/ingest-ratio")"

echo "== fan-out: one subscription, maxInFlight 64, $events events into nginx"
: >"$work/fanout-ratio"; : >"$work/fanout-cpu-ratio"; : >"$work/fanout-cluster"
for round in $(seq "$rounds"); do
  read -r e_rate e_cpu _ <<<"$(drain_once embedded "$round")"
  read -r c_rate c_cpu c_pg <<<"$(drain_once cluster "$round")"
  echo "$c_rate" >>"$work/fanout-cluster"
  echo "$c_rate / $e_rate" | bc -l >>"$work/fanout-ratio"
  echo "$c_cpu / $e_cpu" | bc -l >>"$work/fanout-cpu-ratio"
  printf 'round %d: embedded %6.0f/s %6.2f us/delivery | cluster %6.0f/s gatewayd %6.2f us/delivery PostgreSQL %6.2f us/delivery\n' \
    "$round" "$e_rate" "$e_cpu" "$c_rate" "$c_cpu" "$c_pg"
done
printf 'median: cluster %.0f deliveries/s, cluster/embedded throughput %.3f, gatewayd CPU per delivery cluster/embedded %.3f\n' \
  "$(median <"$work/fanout-cluster")" "$(median <"$work/fanout-ratio")" "$(median <"$work/fanout-cpu-ratio")"

echo "== takeover: two nodes, the holder of shard 0 killed with SIGKILL"
: >"$work/takeover"
for round in $(seq "$takeovers"); do
  database=$(fresh_url "takeover_$round")
  start_node cluster 18085 node-a; a=$node_pid
  start_node cluster 18086 node-b; b=$node_pid
  for _ in $(seq 200); do
    [ "$(psql_at "SELECT count(DISTINCT owner) FROM gateway_shards WHERE owner IS NOT NULL" 2>/dev/null)" = 2 ] && break
    sleep 0.1
  done
  owner=$(psql_at "SELECT owner FROM gateway_shards WHERE shard = 0")
  if [ "$owner" = node-a ]; then victim=$a survivor=$b name=node-b; else victim=$b survivor=$a name=node-a; fi
  start=$(date +%s.%N)
  kill -KILL "$victim"; wait "$victim" 2>/dev/null || true
  for _ in $(seq 600); do
    [ "$(psql_at "SELECT count(*) FROM gateway_shards WHERE owner = '$name'")" = 64 ] && break
    sleep 0.05
  done
  took=$(echo "$(date +%s.%N) - $start" | bc -l)
  echo "$took" >>"$work/takeover"
  printf 'round %d: every shard on %s %.2f s after the kill\n' "$round" "$name" "$took"
  kill -TERM "$survivor"; wait "$survivor" 2>/dev/null || true
done
printf 'median takeover: %.2f s (max %.2f s)\n' "$(median <"$work/takeover")" "$(sort -g "$work/takeover" | tail -1)"
