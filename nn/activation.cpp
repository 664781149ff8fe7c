#include "heed/nn/activation.h"

#include <utility>

#include "heed/nn/functional.h"
#include "heed/ops/activation.h"

namespace heed::nn {

Tensor Tanh::forward(const Tensor& x) const { return report_output(tanh(x)); }
Tensor Sigmoid::forward(const Tensor& x) const { return report_output(sigmoid(x)); }
Tensor ReLU::forward(const Tensor& x) const { return report_output(relu(x)); }
GELU::GELU(std::string approximate_) : approximate(std::move(approximate_)) {
  if (approximate != "none" && approximate != "tanh")
    throw ValueError(msg("GELU: approximate is \"", approximate, "\"; it must be \"none\" or \"tanh\""));
}
Tensor GELU::forward(const Tensor& x) const {
  return report_output(functional::gelu(x, approximate));
}

}  // namespace heed::nn
