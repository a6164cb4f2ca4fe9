#!/usr/bin/env bash
# Makes sure the named tools are on this machine: with "libcurl" or "libpq", that library's
# headers and pkg-config; with "postgresql", PostgreSQL's server programs (initdb, pg_ctl),
# which scripts/pg-throwaway.sh runs. On Debian/Ubuntu as root it installs them with apt-get;
# otherwise it prints the exact command to run and fails.
# Usage: scripts/ensure-tools.sh libcurl [libpq postgresql nginx wrk redis-server ...]
set -euo pipefail
missing=()
for tool in "$@"; do
  case "$tool" in
    libcurl)
      command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
      if ! { pkg-config --exists libcurl 2>/dev/null && [ -e "$(pkg-config --variable=includedir libcurl 2>/dev/null)/curl/curl.h" -o -e /usr/include/x86_64-linux-gnu/curl/curl.h -o -e /usr/include/curl/curl.h ]; }; then
        missing+=(libcurl4-openssl-dev)
      fi
      ;;
    libpq)
      command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
      if ! { pkg-config --exists libpq 2>/dev/null && [ -e "$(pkg-config --variable=includedir libpq 2>/dev/null)/libpq-fe.h" ]; }; then
        missing+=(libpq-dev)
      fi
      ;;
    postgresql)
      # Where pg-throwaway.sh looks: pg_config's bindir (libpq-dev's pg_config names the
      # server's folder even when the server is not installed), else Debian's versioned folders.
      found=no
      for bindir in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
        if [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ]; then found=yes; fi
      done
      [ "$found" = yes ] || missing+=(postgresql)
      ;;
    wrk|nginx|bc) command -v "$tool" >/dev/null 2>&1 || missing+=("$tool") ;;
    redis-server) command -v redis-server >/dev/null 2>&1 || missing+=(redis-server) ;;
    redis-benchmark) command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools) ;;
    *) command -v "$tool" >/dev/null 2>&1 || missing+=("$tool") ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
  echo "missing: ${missing[*]}. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
