#include "heed/nn/functional.h"

#include "heed/ops/activation.h"
#include "heed/ops/dropout.h"
#include "heed/ops/embedding.h"
#include "heed/ops/layer_norm.h"
#include "heed/ops/linalg.h"
#include "heed/ops/softmax.h"

namespace heed::nn::functional {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) { return heed::linear(x, weight, bias); }

Tensor embedding(const Tensor& ids, const Tensor& weight, std::optional<int64_t> padding_idx) {
  return heed::embedding(weight, ids, padding_idx);
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  return heed::layer_norm(x, normalized_shape, weight, bias, eps);
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) { return heed::dropout(x, p, training, gen); }

Tensor relu(const Tensor& x) { return heed::relu(x); }
Tensor tanh(const Tensor& x) { return heed::tanh(x); }
Tensor sigmoid(const Tensor& x) { return heed::sigmoid(x); }

Tensor gelu(const Tensor& x, const std::string& approximate) {
  if (approximate == "none") return heed::gelu(x);
  if (approximate == "tanh") return heed::gelu_tanh(x);
  throw ValueError(msg("gelu: approximate is \"", approximate, "\"; it must be \"none\" or \"tanh\""));
}

Tensor softmax(const Tensor& x, int64_t dim) { return heed::softmax(x, dim); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return heed::log_softmax(x, dim); }

}  // namespace heed::nn::functional
