#!/usr/bin/env bash
# Provider webhooks (issue 12): POST /in/{source} with GitHub verification against
# POST /v1/events in the same run, one gatewayd, the same ~8 KB GitHub `push` payload
# (as an event's `data` for /v1/events), wrk -t1 -c32, alternating ROUNDS times. The extra
# work of /in is the HMAC-SHA256 of the body, the checks, and the type from the headers;
# each request has its own X-GitHub-Delivery, so every one is stored durably (fsync before
# the 202) like the events. Prints each round, the medians, the ratio and the p99s.
# Targets: /in >= 0.9x /v1/events, p99 <= 5 ms at 32 connections.
# Usage: Benchmarks/inbound_github.sh [ROUNDS=5] [SECONDS=10]
# GATEWAYD=path runs another build.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
seconds=${2:-10}
scripts/ensure-tools.sh libcurl wrk bc curl openssl python3
. Benchmarks/common.sh inbound gatewayd
gatewayd=${GATEWAYD:-$bin/gatewayd}
export BENCH_TOKEN=bench
"$gatewayd" serve --listen 127.0.0.1:18085 --data-dir "$work/data" --admin-token bench --event-loops 1 \
  --log-level error >"$out/inbound.log" 2>&1 & pids+=($!)
gateway=$!
python3 Benchmarks/gateway_client.py 18085 wait-ready >/dev/null
curl -sf -H "Authorization: Bearer bench" -H 'Content-Type: application/json' http://127.0.0.1:18085/v1/sources \
  -d '{"name":"github","verification":{"scheme":"github","secret":"bench-github-secret"}}' >/dev/null
# A push of ~8 KB: 12 commits with messages, authors and file lists, as GitHub sends them.
python3 - "$work" <<'PY'
import json, sys
commits = [{"id": "%040x" % (n * 7919), "message": "Fix the thing number %d\n\nLonger description of the change." % n,
            "timestamp": "2026-12-06T10:00:%02d+01:00" % n, "url": "https://github.com/acme/shop/commit/%040x" % (n * 7919),
            "author": {"name": "Dev %d" % n, "email": "dev%d@example.com" % n, "username": "dev%d" % n},
            "added": ["src/new_%d.swift" % n], "removed": [], "modified": ["src/module_%d.swift" % n, "README.md"]}
           for n in range(12)]
push = {"ref": "refs/heads/main", "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "3ae92386682ad8720871add85059178e746f6857", "repository": {"id": 186853002, "full_name": "acme/shop",
        "private": False, "owner": {"login": "acme", "id": 21031067}}, "pusher": {"name": "dev0", "email": "dev0@example.com"},
        "commits": commits, "head_commit": commits[-1]}
body = json.dumps(push, separators=(",", ":"))
open(sys.argv[1] + "/push.json", "w").write(body)
open(sys.argv[1] + "/envelope.json", "w").write('{"type":"github.push","data":' + body + "}")
print("push body: %d bytes" % len(body))
PY
signature=$(openssl dgst -sha256 -hmac bench-github-secret -r <"$work/push.json" | cut -d' ' -f1)

# Prints "REQUESTS_PER_SEC P99_MS CPU_US_PER_REQUEST" for one wrk run against PATH ($1).
wrk_run() {
  local before log="$work/wrk.txt" path=$1
  before=$(cpu_ticks "$gateway")
  if [ "$path" = /v1/events ]; then
    BODY_FILE="$work/envelope.json" wrk -t1 -c32 -d"${seconds}s" --latency -s Benchmarks/inbound.lua "http://127.0.0.1:18085$path" >"$log" 2>&1
  else
    BODY_FILE="$work/push.json" SIGNATURE=$signature wrk -t1 -c32 -d"${seconds}s" --latency -s Benchmarks/inbound.lua "http://127.0.0.1:18085$path" >"$log" 2>&1
  fi
  if grep -q "Non-2xx" "$log"; then echo "warning: non-2xx answers on $path" >&2; grep "Non-2xx" "$log" >&2; fi
  wrk_summary $(( $(cpu_ticks "$gateway") - before )) <"$log"
}

: >"$work/events"; : >"$work/inbound"; : >"$work/events99"; : >"$work/inbound99"
for round in $(seq "$rounds"); do
  read -r e e99 ecpu < <(wrk_run /v1/events)
  read -r i i99 icpu < <(wrk_run /in/github)
  echo "$e" >>"$work/events"; echo "$i" >>"$work/inbound"; echo "$e99" >>"$work/events99"; echo "$i99" >>"$work/inbound99"
  printf 'round %d: /v1/events %7.0f req/s p99 %5.2f ms %5.1f us CPU | /in/github %7.0f req/s p99 %5.2f ms %5.1f us CPU | ratio %.3f\n' \
    "$round" "$e" "$e99" "$ecpu" "$i" "$i99" "$icpu" "$(echo "$i / $e" | bc -l)"
done
e=$(median <"$work/events"); i=$(median <"$work/inbound")
printf 'median of %d: /v1/events %.0f req/s (p99 %.2f ms) | /in/github %.0f req/s (p99 %.2f ms) | ratio %.3f (target >= 0.9, p99 <= 5 ms)\n' \
  "$rounds" "$e" "$(median <"$work/events99")" "$i" "$(median <"$work/inbound99")" "$(echo "$i / $e" | bc -l)"
