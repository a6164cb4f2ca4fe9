#!/usr/bin/env bash
# fdatasync latency: appending vs overwriting prepared zeros (see Benchmarks/fsync_probe.c),
# on the disk holding DIR (default: the current directory, where data/ goes).
# Usage: Benchmarks/fsync_probe.sh [DIR=.] [ROUNDS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(realpath "${1:-.}")
mkdir -p Benchmarks/out
gcc -O2 -o Benchmarks/out/fsync-probe Benchmarks/fsync_probe.c
for _ in $(seq "${2:-2}"); do Benchmarks/out/fsync-probe "$dir"; done
