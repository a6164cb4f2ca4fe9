#!/usr/bin/env bash
# Memory with a large backlog: one subscription whose receiver refuses connections (port 9
# on loopback), EVENTS events ingested in batches of 500, then gatewayd's RSS and the
# subscription's stats (everything pending, the circuit breaker holding it). Then gatewayd is
# restarted on the same data and its RSS read again once the backlog is loaded.
# Usage: Benchmarks/pending_memory.sh [EVENTS=1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
scripts/ensure-tools.sh libcurl python3 curl
swift build -c release --product gatewayd >/dev/null
gatewayd=$(swift build -c release --show-bin-path)/gatewayd
work=$(mktemp -d /tmp/gateway-bench-pending.XXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
start_gatewayd() {
"$gatewayd" serve --listen 127.0.0.1:18085 --data-dir "$work/data" --admin-token bench --allow-private-targets \
  --log-level error >>"$work/gatewayd.log" 2>&1 &
pid=$!
}
rss() { awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' /proc/$pid/status; }
start_gatewayd
python3 - "$events" <<'PY'
import http.client, json, sys, time
total = int(sys.argv[1])
def call(method, path, body=None):
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", 18085, timeout=60)
            c.request(method, path, json.dumps(body) if body is not None else None,
                      {"Authorization": "Bearer bench", "Content-Type": "application/json"})
            r = c.getresponse(); data = r.read(); c.close()
            return json.loads(data) if data else None
        except ConnectionRefusedError:
            time.sleep(0.1)
    sys.exit("gatewayd did not start")
sub = call("POST", "/v1/subscriptions", {"url": "http://127.0.0.1:9/hook", "eventTypes": ["*"]})
event = {"type": "order.created", "data": {"order_id": "ord_0123456789", "amount": 1234, "note": "a" * 180}}
sent = 0
while sent < total:
    n = min(500, total - sent)
    call("POST", "/v1/events/batch", {"events": [event] * n})
    sent += n
time.sleep(3)
print("stats:", call("GET", "/v1/subscriptions/%s/stats" % sub["id"]))
PY
echo "RSS with $events deliveries pending: $(rss) (target < 300 MB)"
kill "$pid"; wait "$pid" 2>/dev/null || true
start_gatewayd
until curl -sf http://127.0.0.1:18085/readyz >/dev/null; do sleep 0.1; done
sleep 3
echo "RSS after a restart with them pending: $(rss)"
