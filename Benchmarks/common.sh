# Sourced by the benchmark scripts, from the repository root, after their tools are there:
#   . Benchmarks/common.sh NAME PRODUCT...
# Builds the release PRODUCTs and sets: $bin (where they are), $out (Benchmarks/out, for
# logs and results), $work (a scratch directory /tmp/gateway-bench-NAME.XXXX), pids (an
# array: every process listed there is stopped on exit, then $work is removed), and
# `median` (reads numbers, one per line, prints their median).
name=$1
shift
out=Benchmarks/out
mkdir -p "$out"
for product in "$@"; do swift build -c release --product "$product" >/dev/null; done
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d "/tmp/gateway-bench-$name.XXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
