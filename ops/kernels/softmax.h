// The softmax kernels.
//
// A softmax works on rows: the D elements that share every index but the one
// along its dim. A contiguous tensor seen as [O, D, I] around that dim (O the
// dims before it multiplied together, I those after) has row (o, i) at
// x[o, :, i]: D elements, I apart. For the usual last dim, I = 1.
//
//   softmax:          y_d = e^(x_d - m) / sum_e e^(x_e - m),  m = max_e x_e
//   log_softmax:      y_d = (x_d - m) - log sum_e e^(x_e - m)
//   backward:         dx = y (dy - sum(dy y))        (log: dx = dy - e^y sum(dy))
// Subtracting m changes nothing mathematically and keeps every exponent <= 0, so
// e^ never overflows (e^1000 is inf; e^(1000 - 1000) is 1). ops/softmax.cpp
// derives the backward.
#pragma once

#include <cstdint>

#include "heed/ops/kernels/kernels.h"

namespace heed::kernels {

// The same functions in each namespace, for T = float and T = double:
//
// softmax:           y = softmax (log: log_softmax) of every row of x [O, D, I]; y may be x
// softmax_backward:  dx from the forward's output y and dy, all [O, D, I]; dx may be dy
// softmax_rows, softmax_backward_rows: the same for `rows` rows of D elements,
//                    row r at x + r ld (and y, dy, dx + r ld), on the calling
//                    thread only (for kernels running their own threads)
// A row holding NaN is NaN; a row of all -inf is NaN (-inf - -inf), as in PyTorch.

// Three loops per row: the max, the sum of exponentials, the division.
namespace reference {
template <class T>
void softmax(const T* x, T* y, int64_t O, int64_t D, int64_t I, bool log);
template <class T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t O, int64_t D, int64_t I, bool log);
template <class T>
void softmax_rows(const T* x, T* y, int64_t rows, int64_t D, int64_t ld, bool log);
template <class T>
void softmax_backward_rows(const T* y, const T* dy, T* dx, int64_t rows, int64_t D, int64_t ld, bool log);
}  // namespace reference

// The max and the sums in vector lanes, a vectorizable exp in float, rows shared
// between the threads, rows along an outer dim walked in tiles, compiled for
// three CPUs (ops/kernels/fast/softmax.cpp).
namespace fast {
template <class T>
void softmax(const T* x, T* y, int64_t O, int64_t D, int64_t I, bool log);
template <class T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t O, int64_t D, int64_t I, bool log);
template <class T>
void softmax_rows(const T* x, T* y, int64_t rows, int64_t D, int64_t ld, bool log);
template <class T>
void softmax_backward_rows(const T* y, const T* dy, T* dx, int64_t rows, int64_t D, int64_t ld, bool log);
}  // namespace fast

// Each version's .cpp ends with HEED_SOFTMAX_KERNELS_FOR(float) and (double): the
// one list of what it compiles, for both versions.
#define HEED_SOFTMAX_KERNELS_FOR(T) \
  template void softmax(const T*, T*, int64_t, int64_t, int64_t, bool);                                        \
  template void softmax_backward(const T*, const T*, T*, int64_t, int64_t, int64_t, bool);                     \
  template void softmax_rows(const T*, T*, int64_t, int64_t, int64_t, bool);                                   \
  template void softmax_backward_rows(const T*, const T*, T*, int64_t, int64_t, int64_t, bool);

}  // namespace heed::kernels
