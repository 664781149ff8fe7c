// Activation functions as modules, so they can sit in a Sequential between
// layers. Each has no parameters and calls the op of the same name (ops/activation.h).
#pragma once

#include "heed/nn/module.h"

namespace heed::nn {

class Tanh : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) const override;  // tanh(x), any shape
};

class Sigmoid : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) const override;  // 1 / (1 + e^-x), any shape
};

class ReLU : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) const override;  // max(x, 0), any shape
};

// The exact GELU, x Phi(x), PyTorch's default (approximate='none').
class GELU : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) const override;
};

}  // namespace heed::nn
