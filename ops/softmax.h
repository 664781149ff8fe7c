// softmax and log_softmax along one dim, numerically stable: the max along dim is
// subtracted first (exp(1000) overflows; exp(1000 - 1000) does not).
#pragma once

#include "heed/core/tensor.h"

namespace heed {

// y_i = e^{x_i} / sum_j e^{x_j};        dx = y * (dy - sum(dy * y))
Tensor softmax(const Tensor& x, int64_t dim);
// y_i = x_i - log sum_j e^{x_j};        dx = dy - softmax(x) * sum(dy)
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace heed
