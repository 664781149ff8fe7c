// parallel_for: the one way heed spreads a loop over OpenMP threads.
//
//   parallel_for(rows, rows * cols >= kParallelGrain, [&](int64_t r) { ...row r... });
//
// runs body(i) for every i in [0, n): across the threads when `parallel` is true,
// in a plain loop otherwise. The body must write only memory that belongs to its
// own i (then threads never collide) and must not throw out of a parallel run.
//
// Why not `#pragma omp parallel for if (cond)` at each loop: with cond false,
// OpenMP still opens a one-thread parallel region. Entering it costs a trip into
// the runtime on every small op, and a BLAS call made inside it believes it is
// outside any parallel region and starts a nested team of fresh threads, every
// call: thousands of threads created and destroyed in a short training run.
#pragma once

#include <omp.h>

#include <cstdint>

#include "heed/core/profile_scope.h"

namespace heed {

// Below this many elements a loop stays serial: starting threads costs more than
// the work (about a microsecond, i.e. thousands of simple flops).
inline constexpr int64_t kParallelGrain = 32768;

// How many ways work is cut when the cut must not follow the thread count:
// the processors this process may run on, read once. heed's results are the
// same bits on any number of threads because work whose result depends on how
// it is cut (a matrix product cut into BLAS calls, ops/kernels/fast/gemm.cpp)
// is cut by this fixed number, and the threads only share out the pieces. With
// as many threads as processors (OpenMP's default) that is one piece each.
inline int processor_count() {
  static const int n = omp_get_num_procs();
  return n;
}

template <class F>
void parallel_for(int64_t n, bool parallel, F&& body) {
  if (!parallel || n < 2) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
  // Each thread of the team tells the profiler, when one runs, which share of
  // the loop it ran and when (named after the op that opened the loop); off,
  // that is one load per thread. nowait: a thread's share ends when its
  // iterations do, and the region's own end is the one barrier.
  const profiler::RegionContext context = profiler::region_context();
#pragma omp parallel
  {
    profiler::RegionScope region(context);
#pragma omp for schedule(static) nowait
    for (int64_t i = 0; i < n; ++i) body(i);
  }
}

}  // namespace heed
