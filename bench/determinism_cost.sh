#!/usr/bin/env bash
# What bitwise determinism across thread counts costs a run on fewer threads
# than processors, measured on one binary:
#
#   bench/determinism_cost.sh BUILD_DIR [WORKLOAD...]   (default: W2 W3 W4 W7)
#   ROUNDS=8 BUDGET=4 bench/determinism_cost.sh build   (the defaults)
#
# heed cuts a product into BLAS calls by the processors the process may run on
# (core/parallel.h: processor_count()), never by the threads in use, so that
# 1 or 16 threads make the same calls and get the same bits. With fewer threads
# than processors one thread makes several calls where one would do. Both runs
# here have one OpenMP thread pinned to one CPU:
#   cut:    OMP_PROC_BIND=true, every processor visible: the cuts of this machine;
#   nocut:  taskset -c 0, one processor visible: nothing is cut.
# The difference is what the cuts cost that thread. The two alternate workload
# by workload, ROUNDS times; the table gives each round's ratio of medians and of
# minimums (the minimum is the steadier on a shared machine), and heed_bench's
# raw lines go to BUILD_DIR/bench/determinism_cost.tsv.
set -euo pipefail

build=$(realpath "${1:?usage: bench/determinism_cost.sh BUILD_DIR [WORKLOAD...]}")
shift
workloads=("$@")
[ ${#workloads[@]} -eq 0 ] && workloads=(W2 W3 W4 W7)
bench="$build/bench/heed_bench"
[ -x "$bench" ] || { echo "no $bench: configure with -DHEED_BUILD_BENCH=ON and build heed_bench" >&2; exit 1; }
raw="$build/bench/determinism_cost.tsv"
: >"$raw"
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1
for round in $(seq 1 "${ROUNDS:-8}"); do
  for w in "${workloads[@]}"; do
    env OMP_PROC_BIND=true "$bench" --workload "$w" --budget "${BUDGET:-4}" | awk -v r="$round" '/^time/ { print "cut", r, $0 }' >>"$raw"
    taskset -c 0 "$bench" --workload "$w" --budget "${BUDGET:-4}" | awk -v r="$round" '/^time/ { print "nocut", r, $0 }' >>"$raw"
  done
done
# Fields: mode, round, "time", workload, median s, min s, ...
awk '
  { key = $4 " " $2; if ($1 == "cut") { cm[key] = $5; cn[key] = $6 } else { nm[key] = $5; nn[key] = $6 }
    if (!($4 in seen)) { seen[$4] = 1; order[++n] = $4 } }
  END {
    print "| workload, 1 thread | cut / uncut, medians, each round | minimums, each round |"
    print "|---|---|---|"
    for (i = 1; i <= n; ++i) {
      w = order[i]; meds = ""; mins = ""
      for (r = 1; (w " " r) in cm; ++r) {
        meds = meds sprintf("%s%+.1f%%", r > 1 ? ", " : "", (cm[w " " r] / nm[w " " r] - 1) * 100)
        mins = mins sprintf("%s%+.1f%%", r > 1 ? ", " : "", (cn[w " " r] / nn[w " " r] - 1) * 100)
      }
      print "| " w " | " meds " | " mins " |"
    }
  }' "$raw"
