// Activation functions as modules, so they can sit in a Sequential between
// layers. Each has no parameters and calls the op of the same name (ops/activation.h).
#pragma once

#include <string>

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

// GELU as PyTorch's nn.GELU(approximate=...): "none" (the default) is the exact
// x Phi(x) (ops gelu), "tanh" its tanh approximation (ops gelu_tanh). Any other
// name is a ValueError.
class GELU : public UnaryModule {
 public:
  explicit GELU(std::string approximate = "none");
  Tensor forward(const Tensor& x) const override;
  std::string approximate;
};

}  // namespace heed::nn
