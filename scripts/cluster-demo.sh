#!/usr/bin/env bash
# Cluster mode to try on one machine: a throwaway PostgreSQL in ./cluster-demo/pg (fsync on),
# three gatewayd nodes on 127.0.0.1:8081-8083 sharing it, and nginx on 127.0.0.1:8080 sending
# requests to them in turn. Prints what to try (a subscription to `gatewayd listen`, events,
# a node killed with kill -9), then runs until Ctrl-C or SIGTERM and stops everything it
# started. Logs stay in ./cluster-demo (node-N.log, nginx-*.log, pg/log).
#
# Usage (from anywhere; `make cluster-demo` builds gatewayd first):
#   scripts/cluster-demo.sh                  start the demo (the release gatewayd must be built)
#   scripts/cluster-demo.sh restart-node N   start node N again after it was killed
#   scripts/cluster-demo.sh stop             stop a demo left running (PIDs in ./cluster-demo/*.pid)
# GATEWAYD=path runs another gatewayd binary than the release build's.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
demo=$root/cluster-demo
token="demo-admin-token"
# The README walkthrough's secret, so its `gatewayd listen` line works unchanged.
secret=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
nodes=(1 2 3)

die() { echo "cluster-demo: $*" >&2; exit 1; }
. scripts/cluster-lib.sh
node_port() { echo $((8080 + $1)); }

# Stops the processes named by PID FILEs (each checked to run WORD): SIGTERM, up to 30 s to
# end, then SIGKILL.
stop_pid_files() {
  local word=$1 file pid pids=()
  shift
  for file in "$@"; do
    [ -f "$file" ] || continue
    pid=$(cat "$file")
    if runs "$pid" "$word"; then pids+=("$pid"); fi
    rm -f "$file"
  done
  terminate_pids ${pids[@]+"${pids[@]}"}
}

# Stops everything a demo started, in order: the load balancer, the nodes (while their
# database is still there to finish with), then PostgreSQL.
stop_everything() {
  stop_pid_files nginx "$demo/nginx.pid"
  local files=()
  for n in "${nodes[@]}"; do files+=("$demo/node-$n.pid"); done
  stop_pid_files gatewayd "${files[@]}"
  if [ -f "$demo/pg/port" ]; then scripts/pg-throwaway.sh stop "$demo/pg" || true; fi
}

# Starts node N in the background on the demo's database; its PID goes to node-N.pid.
# Each node has a data directory of its own, so none of them touches ./data.
start_node() {
  local gatewayd=$1 url=$2 n=$3
  start_cluster_node "$gatewayd" "$url" "node-$n" "$(node_port "$n")" "$token" "$demo/node-$n" "$demo/node-$n.log"
  echo "$started_pid" > "$demo/node-$n.pid"
}

wait_ready() { wait_node_ready "$(node_port "$1")" "$(cat "$demo/node-$1.pid")" "cluster-demo/node-$1.log"; }

# Waits up to 10 s for a /readyz through nginx.
wait_balancer() {
  local pid
  pid=$(cat "$demo/nginx.pid")
  for _ in $(seq 100); do
    curl -sf -o /dev/null http://127.0.0.1:8080/readyz && return 0
    alive "$pid" || die "nginx exited; see cluster-demo/nginx-error.log"
    sleep 0.1
  done
  die "no answer from nginx on 127.0.0.1:8080 after 10 s; see cluster-demo/nginx-error.log"
}

write_nginx_conf() {
  mkdir -p "$demo/nginx-temp"
  {
    echo "# Written by scripts/cluster-demo.sh: round robin over the three nodes."
    echo "worker_processes 1;"
    echo "daemon off;"
    echo "pid $demo/nginx.pid;"
    echo "error_log $demo/nginx-error.log warn;"
    echo "events { worker_connections 1024; }"
    echo "http {"
    echo "  log_format demo '\$time_local \"\$request\" \$status via \$upstream_addr (\$upstream_status) \${request_time}s';"
    echo "  access_log $demo/nginx-access.log demo;"
    echo "  client_body_temp_path $demo/nginx-temp/body;"
    echo "  proxy_temp_path $demo/nginx-temp/proxy;"
    echo "  fastcgi_temp_path $demo/nginx-temp/fastcgi;"
    echo "  uwsgi_temp_path $demo/nginx-temp/uwsgi;"
    echo "  scgi_temp_path $demo/nginx-temp/scgi;"
    echo "  # gatewayd enforces its own body limit, with a problem+json answer."
    echo "  client_max_body_size 0;"
    echo "  upstream gatewayd {"
    # One failed connection takes a node out of the rotation for 5 s (kill -9 one to see).
    for n in "${nodes[@]}"; do
      echo "    server 127.0.0.1:$(node_port "$n") max_fails=1 fail_timeout=5s;"
    done
    echo "    keepalive 32;"
    echo "  }"
    echo "  server {"
    echo "    listen 127.0.0.1:8080;"
    echo "    location / {"
    echo "      proxy_pass http://gatewayd;"
    echo "      proxy_http_version 1.1;"
    echo "      proxy_set_header Connection \"\";"
    echo "      proxy_set_header Host \$host;"
    echo "      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;"
    # Streamed both ways: nothing is written to temp files (as root, nginx's workers run
    # as nobody, who cannot write in this folder). A refused connection still moves on to
    # the next node, since nothing was sent yet.
    echo "      proxy_request_buffering off;"
    echo "      proxy_buffering off;"
    echo "      proxy_connect_timeout 2s;"
    echo "      add_header X-Gateway-Upstream \$upstream_addr always;"
    echo "    }"
    echo "  }"
    echo "}"
  } > "$demo/nginx.conf"
}

print_instructions() {
  local gatewayd=$1 url=$2 n
  cat <<TEXT

Cluster demo running: three gatewayd nodes on one PostgreSQL, nginx in front.
  PostgreSQL  $url   (psql: scripts/pg-throwaway.sh psql cluster-demo/pg)
TEXT
  for n in "${nodes[@]}"; do
    echo "  node-$n      http://127.0.0.1:$(node_port "$n")   PID $(cat "$demo/node-$n.pid")   log cluster-demo/node-$n.log"
  done
  cat <<TEXT
  nginx       http://127.0.0.1:8080   round robin; the X-Gateway-Upstream header names the node that answered

Try it from $root. In a second terminal, a receiver that checks signatures:

  export PATH="$(dirname "$gatewayd"):\$PATH"
  gatewayd listen --port 9000 --secret $secret

In a third, subscribe it to order.* events, through the load balancer:

  TOKEN=$token
  curl -s -X POST http://127.0.0.1:8080/v1/subscriptions -H "Authorization: Bearer \$TOKEN" \\
    -H 'Content-Type: application/json' \\
    -d '{"url":"http://127.0.0.1:9000/hook","eventTypes":["order.*"],"secret":"$secret"}'

Publish a few events: each request goes to the next node, every event reaches the receiver once:

  for i in 1 2 3 4 5 6; do
    curl -s -X POST http://127.0.0.1:8080/v1/events -H "Authorization: Bearer \$TOKEN" \\
      -H 'Content-Type: application/json' -d '{"type":"order.created","data":{"order":"o-'\$i'"}}' \\
      -w '  <- %header{x-gateway-upstream}\\n'
  done

Kill a node the hard way and publish again (the same loop): nginx leaves it out, the other two
answer, and within about 2 s another node takes over its subscriptions' deliveries (its
PostgreSQL advisory lock went with its connection; any deliveries it had in flight arrive
again, with the same webhook-id):

  kill -9 \$(cat cluster-demo/node-1.pid)
  tail -f cluster-demo/node-*.log      # who holds what

Bring it back with: scripts/cluster-demo.sh restart-node 1

Ctrl-C here (or scripts/cluster-demo.sh stop) stops everything this demo started.
TEXT
}

cmd_stop() {
  if [ -f "$demo/demo.pid" ] && runs "$(cat "$demo/demo.pid")" cluster-demo; then
    # The running demo stops its own processes when told to.
    local pid
    pid=$(cat "$demo/demo.pid")
    kill -TERM "$pid"
    for _ in $(seq 600); do alive "$pid" || break; sleep 0.1; done
  fi
  # Whatever a demo that was itself killed left behind.
  stop_everything
  rm -f "$demo/demo.pid"
}

cmd_restart_node() {
  local n=${1:-}
  [[ "$n" =~ ^[123]$ ]] || die "which node? restart-node 1, 2 or 3"
  if ! { [ -f "$demo/demo.pid" ] && runs "$(cat "$demo/demo.pid")" cluster-demo; }; then
    die "no demo is running (start one with scripts/cluster-demo.sh)"
  fi
  if [ -f "$demo/node-$n.pid" ] && runs "$(cat "$demo/node-$n.pid")" gatewayd; then
    die "node-$n is running (PID $(cat "$demo/node-$n.pid"))"
  fi
  local gatewayd url
  gatewayd=$(find_gatewayd)
  url=$(scripts/pg-throwaway.sh url "$demo/pg")
  start_node "$gatewayd" "$url" "$n"
  wait_ready "$n"
  echo "node-$n is back: PID $(cat "$demo/node-$n.pid"), http://127.0.0.1:$(node_port "$n")"
}

cmd_start() {
  if [ -f "$demo/demo.pid" ] && runs "$(cat "$demo/demo.pid")" cluster-demo; then
    die "a demo is running already (PID $(cat "$demo/demo.pid")): scripts/cluster-demo.sh stop"
  fi
  scripts/ensure-tools.sh postgresql nginx curl
  local gatewayd url port n
  gatewayd=$(find_gatewayd)
  mkdir -p "$demo"
  stop_everything # what a demo killed with kill -9 may have left
  for port in 8080 8081 8082 8083; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      die "127.0.0.1:$port is in use (make run? another demo?): the demo needs 8080-8083"
    fi
  done

  echo $$ > "$demo/demo.pid"
  trap 'stop_everything; rm -f "$demo/demo.pid"; echo "cluster-demo: stopped; logs are in cluster-demo/" >&2' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  # Throwaway: every demo starts on an empty database.
  rm -rf "$demo/pg" "${nodes[@]/#/$demo/node-}" "$demo"/node-*.log "$demo"/nginx-*.log
  url=$(scripts/pg-throwaway.sh start --durable "$demo/pg")
  for n in "${nodes[@]}"; do start_node "$gatewayd" "$url" "$n"; done
  write_nginx_conf
  nginx -t -q -c "$demo/nginx.conf" -p "$demo/" -e "$demo/nginx-error.log" ||
    die "nginx refused the generated cluster-demo/nginx.conf"
  nginx -c "$demo/nginx.conf" -p "$demo/" -e "$demo/nginx-error.log" </dev/null &
  echo $! > "$demo/nginx.pid"
  for n in "${nodes[@]}"; do wait_ready "$n"; done
  wait_balancer
  print_instructions "$gatewayd" "$url"
  # Until a signal: sleeping in the background keeps this shell free to run its traps at once.
  while true; do
    sleep 1 &
    wait $! || true
  done
}

case "${1:-}" in
  "") cmd_start ;;
  stop) cmd_stop ;;
  restart-node) cmd_restart_node "${2:-}" ;;
  *) sed -n '/^# Usage/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
