// softmax and log_softmax, row by row, as the formulas read.
#include <algorithm>
#include <cmath>
#include <limits>

#include "heed/ops/kernels/softmax.h"

namespace heed::kernels::reference {

namespace {

// One row of D elements, `step` apart. The sum is kept in double: D terms of
// up to 1 each.
template <class T>
void forward_row(const T* x, T* y, int64_t D, int64_t step, bool log) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t d = 0; d < D; ++d) m = std::max(m, x[d * step]);  // (std::max ignores a NaN; the sum will not)
  double total = 0;
  for (int64_t d = 0; d < D; ++d) total += std::exp(x[d * step] - m);
  const T log_total = static_cast<T>(std::log(total));
  for (int64_t d = 0; d < D; ++d) {
    const T shifted = x[d * step] - m;  // read before y[d] is written: y may be x
    y[d * step] = log ? shifted - log_total : static_cast<T>(std::exp(shifted) / total);
  }
}

template <class T>
void backward_row(const T* y, const T* dy, T* dx, int64_t D, int64_t step, bool log) {
  double c = 0;  // sum(dy y) for softmax, sum(dy) for log_softmax
  for (int64_t d = 0; d < D; ++d) c += log ? dy[d * step] : dy[d * step] * y[d * step];
  for (int64_t d = 0; d < D; ++d) {
    const int64_t k = d * step;
    dx[k] = log ? dy[k] - std::exp(y[k]) * static_cast<T>(c) : y[k] * (dy[k] - static_cast<T>(c));
  }
}

}  // namespace

template <class T>
void softmax(const T* x, T* y, int64_t O, int64_t D, int64_t I, bool log) {
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i) forward_row(x + o * D * I + i, y + o * D * I + i, D, I, log);
}

template <class T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t O, int64_t D, int64_t I, bool log) {
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i) {
      const int64_t at = o * D * I + i;
      backward_row(y + at, dy + at, dx + at, D, I, log);
    }
}

template <class T>
void softmax_rows(const T* x, T* y, int64_t rows, int64_t D, int64_t ld, bool log) {
  for (int64_t r = 0; r < rows; ++r) forward_row(x + r * ld, y + r * ld, D, 1, log);
}

template <class T>
void softmax_backward_rows(const T* y, const T* dy, T* dx, int64_t rows, int64_t D, int64_t ld, bool log) {
  for (int64_t r = 0; r < rows; ++r) backward_row(y + r * ld, dy + r * ld, dx + r * ld, D, 1, log);
}

HEED_SOFTMAX_KERNELS_FOR(float)
HEED_SOFTMAX_KERNELS_FOR(double)

}  // namespace heed::kernels::reference
