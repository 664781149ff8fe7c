// Sums as written: one running total each, in double.
#include "heed/ops/kernels/reduce.h"

#include <cstddef>
#include <vector>

namespace heed::kernels::reference {

template <class T>
double sum(const T* x, int64_t n) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += x[i];
  return total;
}

template <class T>
void column_sums(const T* p, int64_t rows, int64_t cols, int64_t rs, int64_t cs, double divisor, T* out) {
  std::vector<double> total(static_cast<size_t>(cols), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) total[c] += p[r * rs + c * cs];
  for (int64_t c = 0; c < cols; ++c) out[c] = static_cast<T>(total[c] / divisor);
}

template <class T>
double sum_squared_diff(const T* x, const T* t, int64_t n) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T d = x[i] - t[i];
    total += d * d;
  }
  return total;
}

HEED_REDUCE_KERNELS_FOR(float)
HEED_REDUCE_KERNELS_FOR(double)

}  // namespace heed::kernels::reference
