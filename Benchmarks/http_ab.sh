#!/usr/bin/env bash
# HTTP A/B: two gatewayd builds answer GET /healthz (no token, no disk: the cheapest request,
# so whatever every request pays — the metrics observation, the request id, the log-level
# check — is the largest share it can be), alternating A B in each round, wrk -t1 -c32 on
# one core and gatewayd on one event loop on the other. Prints each round, the medians and
# B/A, and gatewayd's CPU time per request (from /proc/PID/stat), which the machine's noise
# moves far less than throughput. Build the two first (`swift build -c release --product gatewayd`, copied aside).
# Usage: Benchmarks/http_ab.sh GATEWAYD_A GATEWAYD_B [ROUNDS=7] [SECONDS=10]
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 GATEWAYD_A GATEWAYD_B [ROUNDS] [SECONDS]" >&2; exit 2; }
a=$(realpath "$1"); b=$(realpath "$2")
rounds=${3:-7}
seconds=${4:-10}
scripts/ensure-tools.sh wrk bc curl
. Benchmarks/common.sh http-ab

# Prints "REQUESTS_PER_SEC P99_MS CPU_US_PER_REQUEST" for one wrk run against a fresh
# gatewayd from binary $1.
gateway_run() {
  rm -rf "$work/data"
  "$1" serve --listen 127.0.0.1:18083 --data-dir "$work/data" --admin-token bench-admin-token --event-loops 1 \
    --log-level error >"$out/http-ab-gatewayd.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18083/healthz && break; sleep 0.1; done
  local log="$work/wrk.txt"
  local before; before=$(cpu_ticks "$pid")
  wrk -t1 -c32 -d"${seconds}s" --latency http://127.0.0.1:18083/healthz >"$log" 2>&1
  local after; after=$(cpu_ticks "$pid")
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  if grep -q "Non-2xx" "$log"; then echo "warning: non-2xx answers" >&2; fi
  wrk_summary $((after - before)) <"$log"
}

: >"$work/a"; : >"$work/b"; : >"$work/ratios"; : >"$work/acpu"; : >"$work/bcpu"
for round in $(seq "$rounds"); do
  read -r a_rps a_p99 a_cpu < <(gateway_run "$a")
  read -r b_rps b_p99 b_cpu < <(gateway_run "$b")
  echo "$a_rps" >>"$work/a"; echo "$b_rps" >>"$work/b"; echo "$b_rps / $a_rps" | bc -l >>"$work/ratios"
  echo "$a_cpu" >>"$work/acpu"; echo "$b_cpu" >>"$work/bcpu"
  printf 'round %d: A %8.0f req/s p99 %5.2f ms %5.2f us CPU/req | B %8.0f req/s p99 %5.2f ms %5.2f us CPU/req | B/A %.3f\n' \
    "$round" "$a_rps" "$a_p99" "$a_cpu" "$b_rps" "$b_p99" "$b_cpu" "$(echo "$b_rps / $a_rps" | bc -l)"
done
printf 'median of %d: A %.0f req/s, %.3f us CPU/req | B %.0f req/s, %.3f us CPU/req | throughput B/A of medians %.3f (median of round ratios %.3f) | CPU per request B/A %.3f\n' "$rounds" \
  "$(median <"$work/a")" "$(median <"$work/acpu")" "$(median <"$work/b")" "$(median <"$work/bcpu")" \
  "$(echo "$(median <"$work/b") / $(median <"$work/a")" | bc -l)" "$(median <"$work/ratios")" \
  "$(echo "$(median <"$work/bcpu") / $(median <"$work/acpu")" | bc -l)"
