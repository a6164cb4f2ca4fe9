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
# A process's user + system CPU time so far, in clock ticks: cpu_ticks PID.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Reads wrk --latency output; prints "REQUESTS_PER_SEC P99_MS CPU_US_PER_REQUEST", the last
# from the CPU ticks the server used meanwhile: wrk_summary TICKS <wrk.txt.
wrk_summary() {
  awk -v ticks="$1" -v hz="$(getconf CLK_TCK)" '/requests in/ {n=$1} /^Requests\/sec:/ {rps=$2}
    $1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; p99=v}
    END {print rps, p99, (n > 0 ? ticks / hz * 1e6 / n : 0)}'
}
