#!/usr/bin/env bash
# The inlining test: the per-element bodies of heed's elementwise loops stay
# inside the loops. for_each_offset (core/iterate.h) calls its lambda once per
# element, and only when the compiler inlines that lambda does the loop become
# vector code; a call per element makes it several times slower. g++ decides by
# size limits per function, so code added far away can push a loop over them:
# a profiler scope added to parallel_for once turned SGD's update into a call
# per element, 8% of a step (optim/sgd.cpp tells the story). Nothing fails then,
# only a benchmark gets slower, so this test reads the compiled code instead:
# no function that for_each_offset instantiates may call a lambda's operator().
#
# First a canary: a loop whose lambda is marked noinline must be caught, or the
# test would pass without looking (another compiler's naming, say).
#
# usage: check_inlined.sh CXX CORE_INCLUDE_DIR ARCHIVE...   (g++ Release builds)
set -euo pipefail
cxx=$1 include_dir=$2
shift 2

# Every call that a function named for_each_offset<...> (or a parallel_for of
# one) makes to a lambda's operator()(long...), as "caller -> callee". A call
# within the object file shows as the callee's name; one across sections as a
# relocation naming it.
per_element_calls() {
  objdump -drC --no-show-raw-insn "$1" | awk '
    function check(callee) {
      if (callee ~ /\}::operator\(\)\(long/ && callee !~ /for_each_offset<|parallel_for</) {
        print substr(caller, 1, 160) " -> " substr(callee, 1, 160)
      }
    }
    /^[0-9a-f]+ <.*>:$/ { caller = $0; inside = caller ~ /for_each_offset</; next }
    !inside { next }
    /R_X86_64_PLT32/ { callee = $0; sub(/.*R_X86_64_PLT32[ \t]*/, "", callee); check(callee); next }
    /\tcall / { if (match($0, /<.*>$/)) { callee = substr($0, RSTART + 1, RLENGTH - 2); if (callee !~ /\+0x/) check(callee) } }'
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/canary.cpp" <<'CPP'
#include "heed/core/iterate.h"
void canary(float* out, const float* in, const heed::Shape& shape, const heed::Strides& s) {
  heed::for_each_offset(shape, std::array<const heed::Strides*, 2>{&s, &s},
                        [&](int64_t o, int64_t i) __attribute__((noinline)) { out[o] = in[i] * 2; });
}
CPP
"$cxx" -std=c++20 -O3 -fopenmp -I"$include_dir" -c "$work/canary.cpp" -o "$work/canary.o"
if [[ -z $(per_element_calls "$work/canary.o") ]]; then
  echo "INLINING: the canary's out-of-line lambda was not found; the check cannot see calls with this compiler"
  exit 1
fi

failures=0
for archive in "$@"; do
  calls=$(per_element_calls "$archive")
  if [[ -n $calls ]]; then
    echo "INLINING: $(basename "$archive") calls a per-element lambda out of line:"
    echo "$calls"
    failures=$((failures + 1))
  fi
done
((failures == 0)) && echo "inlining: every per-element body is inline in $# libraries (the canary was caught)"
exit $((failures > 0))
