// The summing kernels, fast. The math is the reference's (reference/reduce.cpp):
// what differs is the order of the additions, fixed here in the code so that
// every compiled copy and every run gives the same sums.
#include <algorithm>
#include <vector>

#include "heed/core/parallel.h"
#include "heed/ops/kernels/fast/target_clones.h"
#include "heed/ops/kernels/reduce.h"

namespace heed::kernels::fast {

namespace {

// A long run is cut into chunks of at least kParallelGrain elements, each summed
// on its own thread into partial[c], and the partials added in chunk order. The
// chunk count depends only on n, so the result does not depend on the threads.
template <class F>
double sum_in_chunks(int64_t n, F run) {
  const int64_t chunks = std::clamp<int64_t>(n / kParallelGrain, 1, 256);
  if (chunks == 1) return run(0, n);  // the small case: no partials to allocate
  std::vector<double> partial(chunks);
  // each c writes only partial[c]
  parallel_for(chunks, true, [&](int64_t c) { partial[c] = run(c * n / chunks, (c + 1) * n / chunks); });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

// x[begin, end) in four interleaved running sums. One running sum is a chain of
// additions each waiting for the one before (several cycles each); four
// independent chains overlap in the CPU's adders.
template <class T>
double sum_run(const T* x, int64_t begin, int64_t end) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t i = begin;
  for (; i + 4 <= end; i += 4) {
    a0 += x[i];
    a1 += x[i + 1];
    a2 += x[i + 2];
    a3 += x[i + 3];
  }
  for (; i < end; ++i) a0 += x[i];
  return (a0 + a1) + (a2 + a3);
}

// The same for squared differences, in eight chains: element i goes to running
// sum i % 8, the lanes of a vector register.
template <class T>
double squared_diff_run(const T* x, const T* t, int64_t begin, int64_t end) {
  constexpr int64_t kLanes = 8;
  double lane[kLanes] = {};
  int64_t i = begin;
  for (; i + kLanes <= end; i += kLanes)
    for (int64_t j = 0; j < kLanes; ++j) {
      const T d = x[i + j] - t[i + j];
      lane[j] += d * d;
    }
  for (; i < end; ++i) {
    const T d = x[i] - t[i];
    lane[0] += d * d;
  }
  double s = 0;
  for (double v : lane) s += v;
  return s;
}

// ---- column sums ------------------------------------------------------------------
//
// A row-major matrix is summed a block of kSumBlock adjacent columns at a time.
// The block's sums are a fixed-size local array that the compiler keeps in
// registers for the whole pass down the rows, so a row costs a load, a widening
// and an add per column and nothing goes back to memory until the end (a loop
// over a runtime number of columns would reload and store every sum on every
// row). Two sets of sums, for even and odd rows, let two additions to a column
// be in flight at once; they are added at the end.
constexpr int64_t kSumBlock = 32;

template <class T>
[[gnu::always_inline]] inline void sum_column_block(const T* p, int64_t rows, int64_t rs, double* out) {
  double even[kSumBlock] = {}, odd[kSumBlock] = {};
  int64_t r = 0;
  for (; r + 1 < rows; r += 2) {
    const T *a = p + r * rs, *b = a + rs;
    for (int64_t c = 0; c < kSumBlock; ++c) {
      even[c] += static_cast<double>(a[c]);
      odd[c] += static_cast<double>(b[c]);
    }
  }
  if (r < rows)
    for (int64_t c = 0; c < kSumBlock; ++c) even[c] += static_cast<double>(p[r * rs + c]);
  for (int64_t c = 0; c < kSumBlock; ++c) out[c] = even[c] + odd[c];
}

}  // namespace

// Compiled for AVX-512, AVX2 and baseline x86-64; the loader picks what the CPU
// runs (target_clones, of external functions only; always_inline above puts the
// loop inside each copy).
namespace detail {
HEED_TARGET_CLONES("avx512f", "avx2", "default")
void sum_column_block_of(const float* p, int64_t rows, int64_t rs, double* out) {
  sum_column_block(p, rows, rs, out);
}
HEED_TARGET_CLONES("avx512f", "avx2", "default")
void sum_column_block_of(const double* p, int64_t rows, int64_t rs, double* out) {
  sum_column_block(p, rows, rs, out);
}
}  // namespace detail

template <class T>
double sum(const T* x, int64_t n) {
  return sum_in_chunks(n, [&](int64_t begin, int64_t end) { return sum_run(x, begin, end); });
}

template <class T>
double sum_squared_diff(const T* x, const T* t, int64_t n) {
  return sum_in_chunks(n, [&](int64_t begin, int64_t end) { return squared_diff_run(x, t, begin, end); });
}

template <class T>
void column_sums(const T* p, int64_t rows, int64_t cols, int64_t rs, int64_t cs, double divisor, T* out) {
  // The sums: on the stack for the usual widths, so a small layer's backward
  // does not pay a heap allocation for them.
  constexpr int64_t kOnStack = 512;
  double stack_acc[kOnStack];
  std::vector<double> heap_acc(cols > kOnStack ? static_cast<size_t>(cols) : 0);
  double* acc = cols > kOnStack ? heap_acc.data() : stack_acc;
  const int64_t blocks = (cols + kSumBlock - 1) / kSumBlock;
  // Each block owns its columns (its sums acc[c0, c1)), so threads never collide.
  parallel_for(blocks, blocks > 1 && rows * cols >= kParallelGrain, [&](int64_t b) {
    const int64_t c0 = b * kSumBlock, c1 = std::min(cols, c0 + kSumBlock);
    if (cs == 1 && c1 - c0 == kSumBlock) return detail::sum_column_block_of(p + c0, rows, rs, acc + c0);
    // A last, narrower block, or columns that are not adjacent: the plain loops.
    std::fill(acc + c0, acc + c1, 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = c0; c < c1; ++c) acc[c] += static_cast<double>(p[r * rs + c * cs]);
  });
  for (int64_t c = 0; c < cols; ++c) out[c] = static_cast<T>(acc[c] / divisor);
}

HEED_REDUCE_KERNELS_FOR(float)
HEED_REDUCE_KERNELS_FOR(double)

}  // namespace heed::kernels::fast
