// Activation functions, elementwise.
#pragma once

#include "heed/core/tensor.h"

namespace heed {

Tensor tanh(const Tensor& x);     // y = tanh(x);        dx = dy (1 - y^2)
Tensor sigmoid(const Tensor& x);  // y = 1/(1+e^-x);     dx = dy y (1 - y)
Tensor relu(const Tensor& x);     // y = max(x, 0);      dx = dy [x > 0]
// The exact GELU (PyTorch's default): y = x Phi(x), Phi the standard normal CDF;
// dx = dy (Phi(x) + x phi(x)).
Tensor gelu(const Tensor& x);
// GELU with the tanh approximation (PyTorch's gelu(x, approximate='tanh'), GPT-2's):
// y = x (1 + tanh(u)) / 2,  u = sqrt(2/pi) (x + 0.044715 x^3).
Tensor gelu_tanh(const Tensor& x);

}  // namespace heed
