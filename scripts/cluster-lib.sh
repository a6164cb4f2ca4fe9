# Sourced by scripts/cluster-demo.sh and Benchmarks/chaos.sh, from the repository root:
# finding gatewayd, and starting, watching and stopping cluster nodes by PID. The caller
# defines `die MESSAGE` (print, exit non-zero) before using these.

# Whether PID is a process that has not ended (an exited child not yet reaped is a zombie,
# which kill -0 still finds).
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# Whether PID runs a command line containing WORD: a PID file left by a run that died may
# name a process that is something else by now, which must not be killed.
runs() {
  local pid=$1 word=$2
  [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$word"
}

# The release gatewayd (or $GATEWAYD), checked to have cluster mode.
find_gatewayd() {
  local binary=${GATEWAYD:-}
  if [ -z "$binary" ]; then
    binary="$(swift build -c release --show-bin-path)/gatewayd"
    [ -x "$binary" ] || die "no release gatewayd at $binary: run \`make build\` first"
  fi
  [ -x "$binary" ] || die "GATEWAYD=$binary is not an executable"
  # Not `--help | grep -q`: grep leaving early would fail the pipe (SIGPIPE) under pipefail.
  grep -q -- '--database-url' <<<"$("$binary" serve --help 2>&1)" ||
    die "$binary has no --database-url (cluster mode): rebuild it with \`make build\`"
  echo "$binary"
}

# Starts a node in the background, delivering to loopback, its output appended to LOG; its PID
# goes to $started_pid (not echoed: a node started in a $(…) subshell would not be this
# shell's child, to wait for).
#   start_cluster_node GATEWAYD DATABASE_URL NODE_ID PORT ADMIN_TOKEN DATA_DIR LOG
start_cluster_node() {
  local gatewayd=$1 url=$2 id=$3 port=$4 token=$5 dir=$6 log=$7
  "$gatewayd" serve --listen "127.0.0.1:$port" --database-url "$url" --node-id "$id" \
    --admin-token "$token" --allow-private-targets --data-dir "$dir" >>"$log" 2>&1 </dev/null &
  started_pid=$!
}

# Waits up to 60 s for the node on PORT (process PID) to answer 200 on /readyz; dies with the
# end of its LOG if it exits or stays unready.
#   wait_node_ready PORT PID LOG
wait_node_ready() {
  local port=$1 pid=$2 log=$3
  for _ in $(seq 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && return 0
    alive "$pid" || die "the node on port $port exited; the end of $log:
$(tail -n 20 "$log")"
    sleep 0.1
  done
  die "the node on port $port is not ready after 60 s; see $log"
}

# SIGTERMs the PIDs, waits up to 30 s for them to end (a node finishes its in-flight
# deliveries), then SIGKILLs the rest.
terminate_pids() {
  local pid pids=()
  for pid in "$@"; do
    if kill -TERM "$pid" 2>/dev/null; then pids+=("$pid"); fi
  done
  for _ in $(seq 300); do
    local left=()
    for pid in ${pids[@]+"${pids[@]}"}; do if alive "$pid"; then left+=("$pid"); fi; done
    [ ${#left[@]} -gt 0 ] || return 0
    pids=("${left[@]}")
    sleep 0.1
  done
  echo "${pids[*]} did not stop within 30 s; killing" >&2
  kill -KILL "${pids[@]}" 2>/dev/null || true
}
