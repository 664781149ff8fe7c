#include "heed/nn/activation.h"

#include "heed/ops/activation.h"

namespace heed::nn {

Tensor Tanh::forward(const Tensor& x) const { return tanh(x); }
Tensor Sigmoid::forward(const Tensor& x) const { return sigmoid(x); }
Tensor ReLU::forward(const Tensor& x) const { return relu(x); }
Tensor GELU::forward(const Tensor& x) const { return gelu(x); }

}  // namespace heed::nn
