#!/usr/bin/env bash
# Soak (issue 9): gatewayd with --retention 2m ingests RATE events/s (~300 bytes, batches of
# RATE/10 every 100 ms) for SECONDS (default 1800), fanned out to one subscription whose
# receiver is nginx (static 202). Every 10 s it samples gatewayd's VmRSS, its RssAnon (the
# process's own memory: VmRSS also counts pages of the binary and libraries as code paths
# first run) and the journal's size on disk; at the end it prints the slope of each
# (least squares over the samples after
# the first WARMUP seconds, default 300: retention and segment ages settle) and the errors:
# non-202 answers, failed deliveries, segments deleted. Flat means RSS and disk slopes near 0.
# Usage: Benchmarks/soak.sh [SECONDS=1800] [RATE=500]   (make bench-soak)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1800}
rate=${2:-500}
warmup=${WARMUP:-300}
scripts/ensure-tools.sh libcurl nginx curl python3
. Benchmarks/common.sh soak gatewayd
gatewayd=${GATEWAYD:-$bin/gatewayd}
conf=$(Benchmarks/nginx_conf.sh 1 "$work/nginx" 18085)
nginx -p "$work/nginx" -c "$conf" & pids+=($!)
for _ in $(seq 50); do curl -s -o /dev/null -X POST http://127.0.0.1:18085/hook && break; sleep 0.1; done
"$gatewayd" serve --listen 127.0.0.1:18086 --data-dir "$work/data" --admin-token bench --retention 2m \
  --allow-private-targets >"$work/gatewayd.log" 2>&1 &
pid=$!
pids+=("$pid")
client="python3 Benchmarks/gateway_client.py 18086"
$client wait-ready >/dev/null
subscription=$($client subscribe http://127.0.0.1:18085/hook)
python3 Benchmarks/gateway_client.py 18086 steady "$rate" "$seconds" >"$work/load.txt" &
load=$!
pids+=("$load")
samples="$out/soak_samples.txt"
: >"$samples"
start=$(date +%s)
while kill -0 "$load" 2>/dev/null; do
  now=$(( $(date +%s) - start ))
  rss=$(awk '/VmRSS/ {print $2 / 1024}' "/proc/$pid/status")
  anon=$(awk '/RssAnon/ {print $2 / 1024}' "/proc/$pid/status")
  disk=$(du -sm "$work/data/journal" | cut -f1)
  echo "$now $rss $disk $anon" >>"$samples"
  sleep 10
done
wait "$load" || true
echo "load: $(cat "$work/load.txt")"
echo "subscription: $($client stats "$subscription")"
echo "segments deleted by retention: $(grep -c 'journal segment deleted' "$work/gatewayd.log" || true)"
echo "warnings and errors logged: $(grep -ciE 'warning|error|critical' "$work/gatewayd.log" || true)"
awk -v warmup="$warmup" '
  $1 >= warmup { n++; sx += $1; sy += $2; sz += $3; sa += $4; sxx += $1 * $1; sxy += $1 * $2; sxz += $1 * $3; sxa += $1 * $4
                 if (n == 1) { firstRSS = $2; firstDisk = $3; firstAnon = $4 } lastRSS = $2; lastDisk = $3; lastAnon = $4 }
  END {
    d = n * sxx - sx * sx
    if (n < 3 || d == 0) { print "too few samples after warm-up"; exit }
    printf "after %ds warm-up, %d samples: RSS %.1f -> %.1f MB, slope %.3f MB/min; RssAnon %.1f -> %.1f MB, slope %.3f MB/min; journal %d -> %d MB, slope %.3f MB/min\n",
      warmup, n, firstRSS, lastRSS, (n * sxy - sx * sy) / d * 60, firstAnon, lastAnon, (n * sxa - sx * sa) / d * 60,
      firstDisk, lastDisk, (n * sxz - sx * sz) / d * 60
  }' "$samples"
