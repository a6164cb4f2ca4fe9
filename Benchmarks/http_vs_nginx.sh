#!/usr/bin/env bash
# HTTP ceiling: our HTTPServer (bench-server, static 202) against nginx (1 worker, static 202),
# both on 127.0.0.1, measured with `wrk -t1 -c32 -d10s --latency` POSTing a ~300-byte JSON
# body, alternating nginx / ours ROUNDS times in one run. Prints each run, then the medians,
# the req/s ratio and both p99 latencies.
# Usage: Benchmarks/http_vs_nginx.sh [ROUNDS=5] [SECONDS=10] [EVENT_LOOPS=1]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
seconds=${2:-10}
loops=${3:-1}
scripts/ensure-tools.sh nginx wrk bc curl
. Benchmarks/common.sh nginx bench-server
bench_server=$bin/bench-server
conf=$(Benchmarks/nginx_conf.sh 1 "$work" 18080)

nginx -p "$work" -c "$conf" & pids+=($!)
"$bench_server" 127.0.0.1:18081 "$loops" >/dev/null & pids+=($!)
for port in 18080 18081; do
  for _ in $(seq 50); do curl -s -o /dev/null -X POST "http://127.0.0.1:$port/v1/events" && break; sleep 0.1; done
done

# Prints "REQS_PER_SEC P99_MS" for one wrk run against PORT.
measure() {
  local log="$out/wrk-$1-$2.txt"
  wrk -t1 -c32 -d"${seconds}s" --latency -s Benchmarks/post.lua "http://127.0.0.1:$1/v1/events" >"$log" 2>&1
  local rps p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$log")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}' "$log")
  if grep -q "Non-2xx" "$log"; then echo "warning: non-2xx answers in $log" >&2; fi
  echo "$rps $p99"
}


: >"$out/nginx.txt"; : >"$out/ours.txt"
for round in $(seq "$rounds"); do
  read -r n_rps n_p99 < <(measure 18080 "$round")
  read -r o_rps o_p99 < <(measure 18081 "$round")
  echo "$n_rps $n_p99" >>"$out/nginx.txt"
  echo "$o_rps $o_p99" >>"$out/ours.txt"
  printf 'round %d: nginx %9.0f req/s p99 %6.2f ms | ours %9.0f req/s p99 %6.2f ms | ratio %.2f\n' \
    "$round" "$n_rps" "$n_p99" "$o_rps" "$o_p99" "$(echo "$o_rps / $n_rps" | bc -l)"
done

n_rps=$(cut -d' ' -f1 "$out/nginx.txt" | median); n_p99=$(cut -d' ' -f2 "$out/nginx.txt" | median)
o_rps=$(cut -d' ' -f1 "$out/ours.txt" | median); o_p99=$(cut -d' ' -f2 "$out/ours.txt" | median)
printf 'median of %d: nginx %.0f req/s p99 %.2f ms | ours (%d loop(s)) %.0f req/s p99 %.2f ms\n' \
  "$rounds" "$n_rps" "$n_p99" "$loops" "$o_rps" "$o_p99"
printf 'ratio ours/nginx: req/s %.2f (target >= 0.9), p99 %.2f (target <= 1.5)\n' \
  "$(echo "$o_rps / $n_rps" | bc -l)" "$(echo "$o_p99 / $n_p99" | bc -l)"
