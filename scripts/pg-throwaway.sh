#!/usr/bin/env bash
# A throwaway PostgreSQL in one folder, for tests, the cluster demo and chaos runs: listens on
# 127.0.0.1 only (its unix socket inside the folder), trusts every loopback connection, and
# has a superuser `gateway` with a database `gateway`. Nothing outside DIR is touched.
#
# Usage:
#   pg-throwaway.sh start [--durable] DIR [PORT]   initdb into DIR (or start DIR's cluster
#                                                   again), on PORT or a free loopback port;
#                                                   prints one line, the URL
#   pg-throwaway.sh stop DIR                        pg_ctl stop -m fast (nothing if not running)
#   pg-throwaway.sh restart-immediate DIR           pg_ctl restart -m immediate: a crash and
#                                                   recovery, as a test of durability needs
#   pg-throwaway.sh url DIR                         prints the URL again
#   pg-throwaway.sh psql DIR [PSQL ARGS...]         runs psql against the URL (-X: no ~/.psqlrc)
#   pg-throwaway.sh available                       exits 0 if `start` can work here, else says why
#
# Without --durable, fsync is off (initdb --no-sync, fsync=off): fast, and still safe against
# a PostgreSQL crash or `restart-immediate` (the WAL reaches the kernel at every commit, and
# synchronous_commit stays on), only not against the machine losing power. Benchmarks must
# pass --durable.
#
# PostgreSQL refuses to run as root: as root its programs run as the `postgres` user (which
# Debian's postgresql package creates), and DIR is given to that user.
set -euo pipefail

die() { echo "pg-throwaway: $*" >&2; exit 1; }

usage() {
  sed -n '/^# Usage:/,/^#$/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# The folder holding initdb and pg_ctl: pg_config's, else the newest Debian version's.
find_bindir() {
  local dir
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return 0
    fi
  fi
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

# Why `start` cannot work on this machine, or nothing when it can.
unavailable_reason() {
  find_bindir >/dev/null || {
    echo "PostgreSQL's server programs (initdb, pg_ctl) are not installed: install Debian's postgresql (scripts/ensure-tools.sh postgresql)"
    return
  }
  if [ "$(id -u)" = 0 ]; then
    id -u postgres >/dev/null 2>&1 ||
      { echo "running as root, which PostgreSQL refuses, and there is no postgres user to run it as"; return; }
    command -v runuser >/dev/null 2>&1 ||
      { echo "running as root, which PostgreSQL refuses, and runuser (util-linux) is missing to run it as postgres"; return; }
  fi
}

# Runs a PostgreSQL program as the user it accepts, from / (the caller's folder may be one
# the postgres user cannot enter).
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

url_of() { echo "postgresql://gateway@127.0.0.1:$(cat "$1/port")/gateway"; }

is_running() { as_owner "$bindir/pg_ctl" status -D "$1/data" >/dev/null 2>&1; }

# Waits until the server on DIR's port accepts connections, for at most 60 s.
wait_ready() {
  local dir=$1 port
  port=$(cat "$dir/port")
  for _ in $(seq 600); do
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -d gateway -U gateway && return 0
    sleep 0.1
  done
  die "PostgreSQL in $dir is not ready after 60 s; its log: $dir/log"
}

# A loopback port nothing answers on now. Another process may still take it before
# PostgreSQL binds: `start` then tries another.
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  die "no free loopback port found"
}

# Starts DIR's cluster on PORT; fails if it did not come up (the log says why).
start_server() {
  local dir=$1 port=$2 fsync=$3
  echo "$port" > "$dir/port"
  # One attempt's log at a time, so a failed attempt's reason is not an earlier one's.
  [ ! -f "$dir/log" ] || : > "$dir/log"
  as_owner "$bindir/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/log" -o \
    "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c max_connections=200 -c fsync=$fsync" \
    >/dev/null
}

cmd_start() {
  local durable=no dir="" port="" args=()
  for arg in "$@"; do
    case "$arg" in
      --durable) durable=yes ;;
      -*) die "unknown option $arg" ;;
      *) args+=("$arg") ;;
    esac
  done
  if [ ${#args[@]} -lt 1 ] || [ ${#args[@]} -gt 2 ]; then usage; fi
  dir=${args[0]}
  port=${args[1]:-}
  if [ -n "$port" ] && ! [[ "$port" =~ ^[0-9]+$ && "$port" -ge 1 && "$port" -le 65535 ]]; then
    die "PORT must be a number from 1 to 65535, not '$port'"
  fi
  local reason
  reason=$(unavailable_reason)
  [ -z "$reason" ] || die "$reason"

  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # The unix socket's path (DIR/.s.PGSQL.PORT) must fit in sun_path's 108 bytes.
  [ ${#dir} -le 90 ] || die "DIR's absolute path is too long for a unix socket inside it (${#dir} > 90 characters): $dir"
  [ "$(id -u)" != 0 ] || chown postgres: "$dir"
  as_owner test -w "$dir" || die "the postgres user cannot write to $dir (is a parent folder closed to it?)"

  local fsync=off
  [ "$durable" = no ] || fsync=on
  if [ -f "$dir/data/PG_VERSION" ]; then
    # DIR holds a cluster already: start it again where it was, unless it runs.
    if is_running "$dir"; then
      url_of "$dir"
      return 0
    fi
    start_server "$dir" "${port:-$(cat "$dir/port")}" "$fsync" || die "PostgreSQL did not start; its log: $dir/log"
  else
    [ -z "$(ls -A "$dir")" ] || die "$dir is neither empty nor a throwaway PostgreSQL folder"
    local sync_flag=--no-sync
    [ "$durable" = no ] || sync_flag=
    # Trust is safe only because nothing but loopback and the socket inside DIR can reach it.
    as_owner "$bindir/initdb" -D "$dir/data" -U gateway -E UTF8 --locale=C \
      --auth-local=trust --auth-host=trust ${sync_flag:+"$sync_flag"} >"$dir/initdb.log" 2>&1 ||
      die "initdb failed: $(tail -n 5 "$dir/initdb.log")"
    as_owner tee "$dir/data/pg_hba.conf" >/dev/null <<'HBA'
# Throwaway cluster (scripts/pg-throwaway.sh): loopback and DIR's unix socket only.
local all all               trust
host  all all 127.0.0.1/32  trust
HBA
    if [ -n "$port" ]; then
      start_server "$dir" "$port" "$fsync" || die "PostgreSQL did not start on port $port; its log: $dir/log"
    else
      # A port free a moment ago may be taken by now (parallel tests): try another.
      local attempt started=no
      for attempt in 1 2 3 4 5; do
        if start_server "$dir" "$(free_port)" "$fsync"; then
          started=yes
          break
        fi
        grep -q "could not bind\|could not create listen socket" "$dir/log" 2>/dev/null ||
          die "PostgreSQL did not start; its log: $dir/log"
        echo "pg-throwaway: port taken meanwhile, attempt $attempt; trying another" >&2
      done
      [ "$started" = yes ] || die "PostgreSQL did not start after 5 ports; its log: $dir/log"
    fi
  fi
  wait_ready "$dir"
  if [ "$("$bindir/psql" -X -At -h 127.0.0.1 -p "$(cat "$dir/port")" -U gateway -d postgres \
        -c "select count(*) from pg_database where datname = 'gateway'")" = 0 ]; then
    "$bindir/psql" -X -q -h 127.0.0.1 -p "$(cat "$dir/port")" -U gateway -d postgres \
      -c "create database gateway" >/dev/null || die "could not create database gateway"
  fi
  url_of "$dir"
}

# DIR as an existing throwaway folder, absolute.
existing_dir() {
  [ -f "$1/port" ] || die "$1 holds no throwaway PostgreSQL (start one with: $0 start $1)"
  [ -f "$1/data/PG_VERSION" ] || die "$1 holds no throwaway PostgreSQL (start one with: $0 start $1)"
  (cd "$1" && pwd)
}

[ $# -ge 1 ] || usage
command=$1
shift
case "$command" in
  available)
    reason=$(unavailable_reason)
    [ -z "$reason" ] || die "$reason"
    ;;
  start)
    bindir=$(find_bindir) || die "$(unavailable_reason)"
    cmd_start "$@"
    ;;
  stop)
    [ $# -eq 1 ] || usage
    bindir=$(find_bindir) || die "$(unavailable_reason)"
    dir=$(existing_dir "$1")
    if is_running "$dir"; then
      as_owner "$bindir/pg_ctl" stop -w -t 60 -m fast -D "$dir/data" >/dev/null
    fi
    ;;
  restart-immediate)
    [ $# -eq 1 ] || usage
    bindir=$(find_bindir) || die "$(unavailable_reason)"
    dir=$(existing_dir "$1")
    is_running "$dir" || die "PostgreSQL in $dir is not running"
    # pg_ctl restart starts it again with the options it last ran with (postmaster.opts).
    as_owner "$bindir/pg_ctl" restart -w -t 60 -m immediate -D "$dir/data" -l "$dir/log" >/dev/null ||
      die "PostgreSQL did not come back; its log: $dir/log"
    wait_ready "$dir"
    ;;
  url)
    [ $# -eq 1 ] || usage
    dir=$(existing_dir "$1")
    url_of "$dir"
    ;;
  psql)
    [ $# -ge 1 ] || usage
    bindir=$(find_bindir) || die "$(unavailable_reason)"
    dir=$(existing_dir "$1")
    shift
    exec "$bindir/psql" -X -d "$(url_of "$dir")" "$@"
    ;;
  *) usage ;;
esac
