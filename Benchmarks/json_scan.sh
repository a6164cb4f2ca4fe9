#!/usr/bin/env bash
# JSON ingest micro-benchmark (see BENCHMARKS.md): compiles Benchmarks/JSONScan/main.swift
# together with Sources/JSON/*.swift into one release binary (-O, whole module, as
# the JSON target is compiled in a release build) and runs it. Building just these files keeps it from
# rebuilding the package. Usage: Benchmarks/json_scan.sh [ROUNDS=7]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p Benchmarks/out
swiftc -O -wmo -module-name JSONScanBench \
    Sources/JSON/*.swift Benchmarks/JSONScan/main.swift \
    -o Benchmarks/out/json-scan
exec Benchmarks/out/json-scan "${1:-7}"
