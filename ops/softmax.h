// softmax and log_softmax along one dim, numerically stable: the max along dim is
// subtracted first (exp(1000) overflows; exp(1000 - 1000) does not).
#pragma once

#include "heed/core/tensor.h"

namespace heed {

// y_i = e^{x_i} / sum_j e^{x_j};        dx = y * (dy - sum(dy * y))
Tensor softmax(const Tensor& x, int64_t dim);
// y_i = x_i - log sum_j e^{x_j};        dx = dy - softmax(x) * sum(dy)
Tensor log_softmax(const Tensor& x, int64_t dim);

// The row kernels on raw memory, for fused ops that run a softmax inside their
// own loops (ops/attention.cpp). `rows` contiguous rows of D elements, one after
// another; log_softmax when log is set. y may be x, and dx may be dy (each
// element is read before it is written). No checks, no threads, nothing thrown.
//   softmax_rows:          y = softmax(x) along each row
//   softmax_backward_rows: dx = y * (dy - sum(dy * y)), y the softmax's output
//                          (log: dx = dy - e^y sum(dy), y the log_softmax's output)
void softmax_rows(const float* x, float* y, int64_t rows, int64_t D, bool log = false);
void softmax_rows(const double* x, double* y, int64_t rows, int64_t D, bool log = false);
void softmax_backward_rows(const float* y, const float* dy, float* dx, int64_t rows, int64_t D, bool log = false);
void softmax_backward_rows(const double* y, const double* dy, double* dx, int64_t rows, int64_t D,
                           bool log = false);

}  // namespace heed
