#include "heed/nn/layer_norm.h"

namespace heed::nn {

LayerNorm::LayerNorm(Shape shape, double eps, bool affine) : normalized_shape(std::move(shape)), eps(eps) {
  check_sizes("LayerNorm", normalized_shape);
  if (normalized_shape.empty())
    throw ValueError("LayerNorm: normalized_shape is empty; give the trailing dims to normalize over");
  if (!(eps >= 0)) throw ValueError(msg("LayerNorm: eps is ", eps, "; it must be >= 0"));
  if (affine) {
    weight = register_parameter("weight", Tensor::ones(normalized_shape));
    bias = register_parameter("bias", Tensor::zeros(normalized_shape));
  }
}

Tensor LayerNorm::forward(const Tensor& x) const {
  return report_output(layer_norm(x, normalized_shape, weight, bias, eps));
}

}  // namespace heed::nn
