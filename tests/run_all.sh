#!/usr/bin/env bash
# The whole test suite, three times: the Release build under ctest; everything
# again built with clang's AddressSanitizer + UndefinedBehaviorSanitizer and its
# implicit-conversion checks, where any leak, overflow, undefined behaviour or
# value-changing conversion fails the run, and with the checkpoint loader's
# fuzz target (HEED_FUZZ=ON: tests/fuzz/, a brief run from a seed corpus); and
# built on the reference kernels alone (HEED_REFERENCE_KERNELS=ON), which must
# pass the same tests with the plain loops. The distributed tests again on
# MPICH, where it is installed (Open MPI is the default MPI). Then the tests of
# heed used from several threads at once under ThreadSanitizer
# (HEED_SANITIZE_THREAD=ON), where any data race fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# ctest runs $jobs tests at once, each with an OpenMP pool of $jobs threads. Idle
# OpenMP threads spin by default, and spinning threads of one test steal the cores
# another test is computing on (runs slowed 5x here); passive waiting avoids that.
export OMP_WAIT_POLICY=passive

# How long each stage took, printed at the end (also when a stage fails), so a
# slower run shows where it got slower.
times=""
stage_start=$SECONDS
stage_done() {
  times+="$(printf '  %-24s %5d s' "$1" $((SECONDS - stage_start)))"$'\n'
  stage_start=$SECONDS
}
trap 'printf "stage times:\n%s  %-24s %5d s\n" "$times" "total" "$SECONDS"' EXIT

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
stage_done "Release build"
ctest --test-dir build --output-on-failure -j "$jobs"
stage_done "Release tests"

# Built with clang: libFuzzer and the implicit-conversion checks are clang's.
# The Release, reference and TSan stages use the default compiler (g++).
cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
  -DHEED_FUZZ=ON >/dev/null
cmake --build build-sanitize -j "$jobs"
stage_done "sanitizer build"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp" \
  ctest --test-dir build-sanitize --output-on-failure -j "$jobs"
stage_done "sanitizer tests"

cmake -S . -B build-reference -G Ninja -DCMAKE_BUILD_TYPE=Release -DHEED_REFERENCE_KERNELS=ON >/dev/null
cmake --build build-reference -j "$jobs"
stage_done "reference build"
ctest --test-dir build-reference --output-on-failure -j "$jobs"
stage_done "reference tests"

# The dist layer again on MPICH, Debian's other MPI (where it is installed): its
# tests on MPICH's library and mpiexec. Only what they need is built.
if command -v mpicxx.mpich >/dev/null && command -v mpiexec.mpich >/dev/null; then
  cmake -S . -B build-mpich -G Ninja -DCMAKE_BUILD_TYPE=Release -DHEED_BUILD_EXAMPLES=OFF \
    -DMPI_CXX_COMPILER="$(command -v mpicxx.mpich)" -DMPIEXEC_EXECUTABLE="$(command -v mpiexec.mpich)" >/dev/null
  cmake --build build-mpich -j "$jobs" --target dist_tests dist_ddp_tests dist_failing_rank
  stage_done "MPICH build"
  ctest --test-dir build-mpich -R '^dist_' --output-on-failure
  stage_done "MPICH tests"
fi

# ThreadSanitizer sees the threads a user starts, not OpenMP's: Debian's libgomp
# is not built for it, so every parallel region would look like a race. Hence
# one OpenMP thread, and the tests whose point is concurrency between threads
# (the DataLoader's workers among them).
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEED_SANITIZE_THREAD=ON \
  -DHEED_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-tsan -j "$jobs" --target heed_thread_tests
stage_done "TSan build"
tsan_log=build-tsan/thread_tests.log
OMP_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1 \
  build-tsan/tests/heed_thread_tests -tc="threads:*,object pool*,DataLoader workers*" 2>&1 | tee "$tsan_log"
# heed_thread_tests is built from the files that hold these cases
# (tests/CMakeLists.txt): a case of that name written in another file must not
# go unrun, so the cases run must be all the sources have.
want=$(grep -hE 'TEST_CASE\("(threads:|object pool|DataLoader workers)' tests/*.cpp tests/*/*.cpp | wc -l)
ran=$(sed -n 's/.*test cases: *\([0-9]*\) | *\([0-9]*\) passed.*/\2/p' "$tsan_log")
if [ "$ran" != "$want" ]; then
  echo "TSan stage: $ran thread test cases passed, the sources have $want; add the file of the missing ones" \
    "to heed_thread_tests (tests/CMakeLists.txt)" >&2
  exit 1
fi
stage_done "TSan tests"
