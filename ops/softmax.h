// softmax and log_softmax along one dim, numerically stable: the max along dim is
// subtracted first (exp(1000) overflows; exp(1000 - 1000) does not).
#pragma once

#include "heed/core/tensor.h"

namespace heed {

// y_i = e^{x_i} / sum_j e^{x_j};        dx = y * (dy - sum(dy * y))
Tensor softmax(const Tensor& x, int64_t dim);
// y_i = x_i - log sum_j e^{x_j};        dx = dy - softmax(x) * sum(dy)
Tensor log_softmax(const Tensor& x, int64_t dim);

// The same row kernels on raw memory, for fused ops that run a softmax inside
// their own loops (ops/attention.cpp). One contiguous row of D elements; y may
// be x, and dx may be dy (each element is read before it is written).
//   softmax_row:          y = softmax(x)
//   softmax_backward_row: dx = y * (dy - sum(dy * y)), y the softmax's output
template <class T>
void softmax_row(const T* x, T* y, int64_t D);
template <class T>
void softmax_backward_row(const T* y, const T* dy, T* dx, int64_t D);

}  // namespace heed
