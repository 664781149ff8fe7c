#!/usr/bin/env bash
# Builds the benchmark programs in Release, runs them and prints the comparison
# as markdown (bench/RESULTS.md holds the last one):
#
#   bench/run.sh [BUILD_DIR]          (default: build-bench at the repository root)
#   BENCH_BUDGET=3 bench/run.sh       (seconds of timed samples per workload and program; default 1.5)
#   BENCH_ROUNDS=3 bench/run.sh       (rounds over all workloads; default 2)
#
# heed runs with OMP_NUM_THREADS = every core. libtorch, if CMake finds it, runs
# every workload twice, with 1 and with 2 intra-op threads, and the faster counts.
# Each (program, workload) pair runs in a process of its own, heed and libtorch
# one after the other per workload, so a burst of load from elsewhere hits both
# rather than one library's whole run; and the whole loop runs BENCH_ROUNDS times,
# the report keeping each pair's lowest median (load from elsewhere only ever
# adds time, so the quietest round is the closest to the truth). Peak memory is
# measured in separate --rss-only processes. The raw lines go to
# BUILD_DIR/bench/raw.tsv, the report also to BUILD_DIR/bench/report.md
# (bench/report.awk turns the one into the other).
#
# OpenBLAS, which both libraries use for their matrix products, picks its CPU
# kernels itself unless OPENBLAS_CORETYPE names them; run.sh leaves the variable
# as it finds it, and the report prints the kernel. Where the environment pins
# one (this project's machines set Haswell, AVX2 only), the run with OpenBLAS's
# own choice is `env -u OPENBLAS_CORETYPE bench/run.sh`; bench/RESULTS.md has both.
# Where OpenBLAS does not know the CPU it falls back to Prescott's SSE3 kernels,
# for both libraries; heed then prints the variable to set (for an AVX-512 CPU,
# `OPENBLAS_CORETYPE=SkylakeX bench/run.sh`) and the report says so.
#
# Timings are only meaningful on an otherwise idle machine: before each workload
# the script waits (BENCH_WAIT seconds at most, default 60) for the cores to be
# >= 90% idle, and the report marks workloads that never found them so. On an
# idle 2-core machine the whole run takes about 3.5 minutes; on a busy one, with
# the waiting, much longer.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:-$root/build-bench}")
export BENCH_BUDGET=${BENCH_BUDGET:-1.5}
BENCH_ROUNDS=${BENCH_ROUNDS:-2}
cores=$(nproc)

echo "building in $build ..." >&2
mkdir -p "$build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHEED_BUILD_BENCH=ON \
  -DHEED_BUILD_TESTS=OFF -DHEED_BUILD_EXAMPLES=OFF >"$build/bench-cmake.log" 2>&1 ||
  { cat "$build/bench-cmake.log" >&2; exit 1; }
ninja -C "$build" -j"$cores" bench >&2

bin=$build/bench
raw=$bin/raw.tsv
: >"$raw"
have_torch=0
[[ -x $bin/torch_bench ]] && have_torch=1
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)

# Percent of CPU time idle over the next second, from /proc/stat's first line
# (user nice system idle iowait irq softirq steal).
idle_percent() {
  local a b
  read -r -a a < <(head -1 /proc/stat)
  sleep 1
  read -r -a b < <(head -1 /proc/stat)
  local total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  echo $((total > 0 ? 100 * (b[4] - a[4]) / total : 0))
}

# wait_for_idle WORKLOAD: other processes on the cores (a build, say) make
# OpenMP threads wait for each other and can slow a two-thread run tenfold, so
# wait until the machine is >= 90% idle, for at most BENCH_WAIT seconds (default
# 60) per workload. A workload that ran on a busy machine is marked in the report.
wait_for_idle() {
  local waited=0 idle
  while idle=$(idle_percent); ((idle < 90)); do
    ((waited == 0)) && echo "  waiting for an idle machine (idle ${idle}%) ..." >&2
    waited=$((waited + 1))
    if ((waited >= ${BENCH_WAIT:-60})); then
      printf 'note\tbusy\t%s\t%s\n' "$1" "$idle" >>"$raw"
      return
    fi
  done
}

# prefix PROGRAM COMMAND...: runs COMMAND, prefixing each output line with PROGRAM.
prefix() {
  local name=$1; shift
  "$@" | sed "s/^/$name\t/" >>"$raw"
}

for round in $(seq "$BENCH_ROUNDS"); do
  echo "round $round/$BENCH_ROUNDS: OpenBLAS alone ..." >&2
  wait_for_idle sgemm
  prefix blas env OMP_NUM_THREADS="$cores" "$bin/blas_bench"
  for w in $("$bin/heed_bench" --list); do
    echo "round $round/$BENCH_ROUNDS: $w ..." >&2
    wait_for_idle "$w"
    prefix heed env OMP_NUM_THREADS="$cores" "$bin/heed_bench" --workload "$w"
    if ((have_torch)); then
      for t in 1 2; do prefix "torch$t" env -u OMP_NUM_THREADS "$bin/torch_bench" --threads "$t" --workload "$w"; done
    fi
  done
done

echo "peak memory ..." >&2
for w in $("$bin/heed_bench" --list); do
  prefix heed env OMP_NUM_THREADS="$cores" "$bin/heed_bench" --workload "$w" --rss-only
  if ((have_torch)); then
    # the thread setting that won the timing
    t=$(awk -F'\t' -v w="$w" '$2 == "time" && $3 == w && $1 ~ /^torch/ {
          if (best == "" || $4 < best) { best = $4; t = substr($1, 6) } } END { print t }' "$raw")
    prefix torch env -u OMP_NUM_THREADS "$bin/torch_bench" --threads "${t:-1}" --workload "$w" --rss-only
  fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - started))

{
  echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $cores cores ($(nproc) online)."
  echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Command: \`BENCH_BUDGET=$BENCH_BUDGET BENCH_ROUNDS=$BENCH_ROUNDS bench/run.sh${1:+ $1}\` (${elapsed}s of runs)."
  echo "Load average (1, 5, 15 min) before: $load_before; after: $load_after."
  env | grep -E '^(OMP|OPENBLAS|GOMP)_' | sed 's/^/Environment: /' || true
  awk -F'\t' -v have_torch="$have_torch" -f "$root/bench/report.awk" "$raw"
} | tee "$bin/report.md"
