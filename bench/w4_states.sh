#!/usr/bin/env bash
# W4 beside libtorch, run by run, each run sorted by how far apart the two
# CPUs were while it ran:
#
#   bench/w4_states.sh BUILD_DIR          (a build with -DHEED_BUILD_BENCH=ON and torch_bench)
#   ROUNDS=40 BUDGET=1 bench/w4_states.sh build   (the defaults)
#   REPORT_ONLY=1 bench/w4_states.sh build        (the last run's table again)
#
# On some virtual machines the hypervisor moves the two vCPUs between cores that
# share a cache and cores that do not, for seconds at a time (bench/RESULTS.md,
# "W4 ... on an AMD EPYC family-25 machine"). W4 is many small steps with the
# two threads exchanging data at each, so its two-thread time has two values,
# one per state, and so does libtorch's two-thread time. A fast run of one
# library against a slow run of the other says nothing about either; this
# script sorts the runs by state, so that the comparison can be made within a
# state, and shows the worst pairing across states beside it. Each round runs
# heed on 2 threads and on 1, then libtorch on 1 and 2 intra-op threads, BUDGET
# seconds each (medians), with the distance between the CPUs
# (bench/cpu_distance.cpp) probed around the two-thread runs. Raw lines go to
# BUILD_DIR/bench/w4_states.tsv.
set -euo pipefail

build=$(realpath "${1:?usage: bench/w4_states.sh BUILD_DIR}")
bin="$build/bench"
for p in heed_bench torch_bench cpu_distance; do
  [ -x "$bin/$p" ] || { echo "no $bin/$p: configure with -DHEED_BUILD_BENCH=ON (and libtorch-dev) and build" >&2; exit 1; }
done
rounds=${ROUNDS:-40} budget=${BUDGET:-1} far=${FAR_NS:-200}
raw="$bin/w4_states.tsv"

median() { awk -F'\t' '$1 == "time" { print $3 }'; }
distance() { "$bin/cpu_distance" | cut -f2; }

# Each run is between two probes; a run counts as "close" when both read under
# FAR_NS, "far" when both read over it, "mixed" when the state changed meanwhile.
# REPORT_ONLY=1 skips the runs and reports the raw lines of the last run again.
[ -n "${REPORT_ONLY:-}" ] && rounds=0 || : >"$raw"
for r in $(seq 1 "$rounds"); do
  d0=$(distance)
  heed2=$(OMP_NUM_THREADS=2 "$bin/heed_bench" --workload W4 --budget "$budget" | median)
  d1=$(distance)
  heed1=$(OMP_NUM_THREADS=1 "$bin/heed_bench" --workload W4 --budget "$budget" | median)
  torch1=$(env -u OMP_NUM_THREADS "$bin/torch_bench" --threads 1 --workload W4 --budget "$budget" | median)
  d2=$(distance)
  torch2=$(env -u OMP_NUM_THREADS "$bin/torch_bench" --threads 2 --workload W4 --budget "$budget" | median)
  d3=$(distance)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$d0" "$heed2" "$d1" "$heed1" "$torch1" "$d2" "$torch2" "$d3" \
    >>"$raw"
  echo "round $r/$rounds done" >&2
done

# Columns of the raw file: round, d0, heed 2 threads, d1, heed 1 thread,
# libtorch 1 thread, d2, libtorch 2 threads, d3 (seconds and ns).
awk -F'\t' -v far="$far" '
function state(b, a) { return (b < far && a < far) ? "close" : (b >= far && a >= far) ? "far" : "mixed" }
function ms(s) { return sprintf("%.2f", s * 1e3) }
function keep(name, v) {
  if (!(name in lo) || v < lo[name]) lo[name] = v
  if (!(name in hi) || v > hi[name]) hi[name] = v
}
BEGIN {
  print "| round | heed, 2 threads (state) | heed, 1 thread | libtorch, 1 thread | libtorch, 2 threads (state) | libtorch best / heed |"
  print "|---:|---:|---:|---:|---:|---:|"
}
{
  hs = state($2, $4); ts = state($7, $9); best = $6 < $8 ? $6 : $8
  printf "| %d | %s ms (%s: %.0f, %.0f ns) | %s ms | %s ms | %s ms (%s: %.0f, %.0f ns) | %.2fx |\n", $1, ms($3), hs,
         $2, $4, ms($5), ms($6), ms($8), ts, $7, $9, best / $3
  keep("heed2 " hs, $3); keep("heed1", $5); keep("torch1", $6); keep("torch2 " ts, $8)
  # libtorch at its best in a round: its 1-thread time does not depend on the
  # state, its 2-thread time does
  if (ts != "mixed") keep("torchbest " ts, best)
}
END {
  print ""
  print "| | close | far |"
  print "|---|---:|---:|"
  printf "| heed, 2 threads | %s | %s |\n", range("heed2 close"), range("heed2 far")
  printf "| heed, 1 thread (either state) | %s | |\n", range("heed1")
  printf "| libtorch, 1 thread (either state) | %s | |\n", range("torch1")
  printf "| libtorch, 2 threads | %s | %s |\n", range("torch2 close"), range("torch2 far")
  printf "| libtorch best of 1 and 2 threads | %s | %s |\n", range("torchbest close"), range("torchbest far")
  print ""
  # the worst pairings: the slowest heed run of a state against the fastest libtorch run of one
  print "Worst pairings, the slowest two-thread heed run against the fastest libtorch run (libtorch best / heed):"
  pair("close", "close"); pair("far", "far"); pair("far", "close")
}
function pair(h, t) {
  if ((("heed2 " h) in hi) && (("torchbest " t) in lo))
    printf "- heed %s, libtorch %s: %.2fx\n", h, t, lo["torchbest " t] / hi["heed2 " h]
}
function range(name) { return (name in lo) ? sprintf("%s-%s ms", ms(lo[name]), ms(hi[name])) : "-" }
' "$raw"
