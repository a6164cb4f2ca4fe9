#!/usr/bin/env bash
# The cluster chaos test (issue 13): three gatewayd nodes on one throwaway PostgreSQL (fsync
# on), a publisher POSTing events to them in turn for CHAOS_SECONDS, and meanwhile, every 3-6 s,
# a random node killed with SIGKILL and started again 1-2 s later (same node id and port);
# once, halfway, PostgreSQL itself restarted with `pg_ctl restart -m immediate`. Then the
# killing stops and the run waits (at most CHAOS_DRAIN seconds) for every acknowledged event
# to reach every subscription it matches, and checks (Benchmarks/chaos_check.py):
#   - nothing acknowledged is lost: each event reached /ok/a, /ok/ordered and, by type,
#     /flaky/b and /ok/rate, and every chaos.fail event is in /fail/c's dead letters;
#   - per-key order held on the ordered subscription (a re-sent duplicate is not a violation);
#   - idempotent retries and re-sends through other nodes got the original id back, and no
#     event was stored twice;
#   - the rate limit (20/s) held across nodes, within what a token bucket allows;
#   - every delivery was signed correctly.
# Duplicates (deliveries in flight at a kill, sent again) are allowed and counted. Exits 1 if
# an invariant failed. Only 127.0.0.1, on free ports; everything it started is stopped by PID
# on exit. Results and logs go to Benchmarks/out/chaos/ (report.txt, node-N.log, …).
#
# Usage: Benchmarks/chaos.sh   (`make chaos` builds the release gatewayd first)
#   CHAOS_SECONDS=60  how long to publish and kill     CHAOS_RATE=60   events per second
#   CHAOS_DRAIN=60    most seconds to wait afterwards  CHAOS_SEED=N    the kills' and events' randomness
#   CHAOS_POSTGRES_RESTART=no  skip the PostgreSQL restart (node kills only)
#   GATEWAYD=path     another gatewayd binary than the release build's
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "chaos: $*" >&2; exit 1; }
. scripts/cluster-lib.sh

seconds=${CHAOS_SECONDS:-60}
rate=${CHAOS_RATE:-60}
drain=${CHAOS_DRAIN:-60}
seed=${CHAOS_SEED:-$(( (RANDOM << 15) | RANDOM ))}
restart_postgres=${CHAOS_POSTGRES_RESTART:-yes}
[[ "$restart_postgres" =~ ^(yes|no)$ ]] || die "CHAOS_POSTGRES_RESTART must be yes or no, not '$restart_postgres'"
token=chaos-admin-token
nodes=(1 2 3)

scripts/ensure-tools.sh postgresql python3 curl
gatewayd=$(find_gatewayd)
echo "Reproduce: CHAOS_SEED=$seed CHAOS_SECONDS=$seconds CHAOS_RATE=$rate CHAOS_DRAIN=$drain" \
  "CHAOS_POSTGRES_RESTART=$restart_postgres GATEWAYD=$gatewayd Benchmarks/chaos.sh"
RANDOM=$seed # the kills' timing and victims follow the seed

out=Benchmarks/out/chaos
rm -rf "$out"
mkdir -p "$out"
# Under /tmp: PostgreSQL's socket path must be short, and (as root) the postgres user must
# be able to reach its folder.
work=$(mktemp -d /tmp/gateway-chaos.XXXXXX)
chmod 755 "$work"
declare -A node_pid=()
receiver_pid="" publisher_pid=""

cleanup() {
  local pids=() n
  for n in "${!node_pid[@]}"; do pids+=("${node_pid[$n]}"); done
  terminate_pids $publisher_pid $receiver_pid ${pids[@]+"${pids[@]}"}
  wait 2>/dev/null || true
  if [ -f "$work/pg/port" ]; then scripts/pg-throwaway.sh stop "$work/pg" || true; fi
  cp "$work"/*.log "$work"/*.json* "$out"/ 2>/dev/null || true
  cp "$work/pg/log" "$out/postgresql.log" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Sets $port to a loopback port nothing listens on now, and not one picked before (no $(…):
# the list of those picked must outlive the call).
taken=" "
pick_free_port() {
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    if [[ "$taken" != *" $port "* ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      taken+="$port "
      return 0
    fi
  done
  die "no free loopback port found"
}

# Appends one JSON line to the chaos log: chaos_event WHAT [NODE] [TOOK_SECONDS].
chaos_event() {
  printf '{"what":"%s","node":"%s","at":%s,"took":%s}\n' "$1" "${2:-}" "$EPOCHREALTIME" "${3:-0}" >>"$work/chaos.jsonl"
}

# Sleeps SECONDS in the background, so a signal's trap runs at once.
pause() { sleep "$1" & wait $! || true; }

node_port=()
for n in "${nodes[@]}"; do pick_free_port; node_port[n]=$port; done
pick_free_port; receiver_port=$port
ports=$(IFS=,; echo "${node_port[*]}")

start_node() {
  start_cluster_node "$gatewayd" "$url" "node-$1" "${node_port[$1]}" "$token" "$work/node-$1" "$work/node-$1.log"
  node_pid[$1]=$started_pid
}

url=$(scripts/pg-throwaway.sh start --durable "$work/pg")
secret="whsec_$(head -c 32 /dev/urandom | base64)"
python3 Benchmarks/chaos_receiver.py "$receiver_port" "$work/deliveries.jsonl" "$secret" &
receiver_pid=$!
for n in "${nodes[@]}"; do start_node "$n"; done
for n in "${nodes[@]}"; do wait_node_ready "${node_port[$n]}" "${node_pid[$n]}" "$work/node-$n.log"; done
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$receiver_port") 2>/dev/null && break; sleep 0.1; done
echo "PostgreSQL $url; nodes on ports $ports; receiver on $receiver_port"

# Nodes that join take their share of the shards from the first one over a few lease rounds;
# a handover re-sends what was in flight, so the load starts once every shard has settled.
settled=no
for _ in $(seq 150); do
  settled=$(scripts/pg-throwaway.sh psql "$work/pg" -At -c \
    "select count(distinct owner) = ${#nodes[@]} and count(owner) = count(*) from gateway_shards")
  [ "$settled" != t ] || break
  pause 0.2
done
[ "$settled" = t ] || die "the shards did not settle on the ${#nodes[@]} nodes within 30 s (gateway_shards)"

python3 Benchmarks/chaos_check.py subscribe --ports "$ports" --token "$token" --secret "$secret" \
  --receiver "$receiver_port" --out "$work/subscriptions.json"

echo "publishing ~$rate events/s for $seconds s while killing nodes (seed $seed)"
chaos_event load-start
python3 Benchmarks/chaos_publisher.py --ports "$ports" --token "$token" --rate "$rate" --seconds "$seconds" \
  --seed "$seed" --acks "$work/acks.jsonl" --summary "$work/publisher.json" >"$work/publisher.log" 2>&1 &
publisher_pid=$!

load_end=$((SECONDS + seconds))
postgres_at=$((SECONDS + seconds / 2))
postgres_restarted=$([ "$restart_postgres" = yes ] && echo no || echo skipped)
while alive "$publisher_pid" && [ "$SECONDS" -lt "$load_end" ]; do
  pause "$((3 + RANDOM % 4)).$((RANDOM % 10))"
  [ "$SECONDS" -lt "$load_end" ] || break
  if [ "$postgres_restarted" = no ] && [ "$SECONDS" -ge "$postgres_at" ]; then
    started=$EPOCHREALTIME
    scripts/pg-throwaway.sh restart-immediate "$work/pg"
    chaos_event postgres-restart "" "$(awk -v a="$EPOCHREALTIME" -v b="$started" 'BEGIN { printf "%.3f", a - b }')"
    echo "  +$((SECONDS - load_end + seconds)) s: PostgreSQL restarted (-m immediate)"
    postgres_restarted=yes
    continue
  fi
  n=${nodes[RANDOM % ${#nodes[@]}]}
  kill -KILL "${node_pid[$n]}"
  wait "${node_pid[$n]}" 2>/dev/null || true
  chaos_event kill "node-$n"
  pause "1.$((RANDOM % 10))"
  start_node "$n"
  chaos_event restart "node-$n"
  echo "  +$((SECONDS - load_end + seconds)) s: node-$n killed and started again (PID ${node_pid[$n]})"
done

echo "load over; waiting for the publisher's last acknowledgements"
wait "$publisher_pid" || die "the publisher failed; see $out/publisher.log"
publisher_pid=""
cat "$work/publisher.log"
for n in "${nodes[@]}"; do wait_node_ready "${node_port[$n]}" "${node_pid[$n]}" "$work/node-$n.log"; done

set +e
python3 Benchmarks/chaos_check.py verify --ports "$ports" --token "$token" --wait "$drain" \
  --subscriptions "$work/subscriptions.json" --acks "$work/acks.jsonl" --deliveries "$work/deliveries.jsonl" \
  --chaos "$work/chaos.jsonl" --publisher "$work/publisher.json" \
  --node-logs "$work/node-1.log,$work/node-2.log,$work/node-3.log" | tee "$work/report.log"
status=${PIPESTATUS[0]}
set -e
# What the nodes complained about: errors, and idempotent repeats refused because a node's
# fold lacked a key another node had stored (a hole in what it folded).
for n in "${nodes[@]}"; do
  printf 'node-%s log: %s errors, %s warnings, %s repeats refused as "stored by another write meanwhile"\n' "$n" \
    "$(grep -c 'level=error' "$work/node-$n.log" || true)" "$(grep -c 'level=warning' "$work/node-$n.log" || true)" \
    "$(grep -c 'stored by another write meanwhile' "$work/node-$n.log" || true)"
done | tee -a "$work/report.log"
echo "logs and results: $out/"
exit "$status"
