// The fast summing kernels (ops/kernels/fast/reduce.cpp: several running sums,
// column blocks in registers, chunks for the threads) against the reference
// loops. Both add in double, in different orders, so they agree to 1e-12 of the
// sum of the magnitudes of the terms.
#include <cmath>

#include "heed/ops/kernels/reduce.h"
#include "helpers.h"

using namespace heed;
using namespace heed::test;
namespace kernels = heed::kernels;

namespace {

template <class T>
double magnitude(const std::vector<T>& x) {
  double m = 0;
  for (T v : x) m += std::abs(v);
  return m;
}

template <class T>
void run_case(int64_t n, uint64_t seed) {
  const std::vector<T> x = random_values<T>(n, seed), t = random_values<T>(n, seed + 1);
  const double tol = 1e-12 * (magnitude(x) + 1);
  CHECK(std::abs(kernels::fast::sum(x.data(), n) - kernels::reference::sum(x.data(), n)) <= tol);
  std::vector<T> d2(n);
  for (int64_t i = 0; i < n; ++i) d2[i] = (x[i] - t[i]) * (x[i] - t[i]);
  CHECK(std::abs(kernels::fast::sum_squared_diff(x.data(), t.data(), n) -
                 kernels::reference::sum_squared_diff(x.data(), t.data(), n)) <= 1e-12 * (magnitude(d2) + 1));
}

// The columns of a [rows, cols] matrix stored with row stride rs (> cols) and
// column stride cs (1, or 2: every other element).
template <class T>
void columns_case(int64_t rows, int64_t cols, int64_t cs, uint64_t seed) {
  const int64_t rs = cols * cs + 3;
  const std::vector<T> m = random_values<T>(rows * rs, seed);
  std::vector<T> fast(cols), ref(cols);
  kernels::fast::column_sums(m.data(), rows, cols, rs, cs, 3.0, fast.data());
  kernels::reference::column_sums(m.data(), rows, cols, rs, cs, 3.0, ref.data());
  // Each column's sum of magnitudes is about 0.8 rows: the bound, in the output's dtype.
  const double tol = (sizeof(T) == 4 ? 1e-6 : 1e-12) * (rows + 1);
  check_kernel(msg("column_sums rows ", rows, " cols ", cols, " cs ", cs), fast, ref, 0, tol);
}

}  // namespace

TEST_CASE("kernels/sum and sum_squared_diff: fast equals reference") {
  uint64_t seed = 1;
  with_threads({1, 2, 3}, [&] {
    std::vector<int64_t> sizes = kKernelSizes;
    sizes.push_back(300'007);  // several chunks
    for (int64_t n : sizes) {
      run_case<float>(n, seed++);
      run_case<double>(n, seed++);
    }
  });
}

TEST_CASE("kernels/column_sums: fast equals reference, contiguous and strided columns") {
  uint64_t seed = 100;
  with_threads({1, 2}, [&] {
    for (int64_t rows : kKernelSizes)
      for (int64_t cols : {1, 7, 32, 33, 1000})
        for (int64_t cs : {1, 2}) {
          columns_case<float>(rows, cols, cs, seed++);
          columns_case<double>(rows, cols, cs, seed++);
        }
  });
}
