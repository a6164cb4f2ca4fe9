#!/usr/bin/env bash
# Metrics hot-path costs and the latency histogram vs the ring it replaced (see
# BENCHMARKS.md): a release build of Benchmarks/MetricsCost, nanoseconds per call.
# CPU only, a few seconds. Usage: Benchmarks/metrics_cost.sh [ROUNDS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product bench-metrics
exec .build/release/bench-metrics "${1:-5}"
