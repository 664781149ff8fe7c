#include "heed/nn/init.h"

#include <cmath>

#include "heed/ops/elementwise.h"

namespace heed::nn::init {

Tensor uniform(const Shape& shape, double low, double high, DType dtype, Generator& gen) {
  if (!(low <= high))
    throw ValueError(msg("init::uniform: low (", low, ") must not exceed high (", high, ")"));
  return Tensor::rand(shape, dtype, gen) * (high - low) + low;
}

Tensor normal(const Shape& shape, double mean, double std, DType dtype, Generator& gen) {
  if (!(std >= 0)) throw ValueError(msg("init::normal: std is ", std, "; it must be >= 0"));
  return Tensor::randn(shape, dtype, gen) * std + mean;
}

Tensor fan_in_uniform(const Shape& shape, int64_t fan_in, DType dtype, Generator& gen) {
  if (fan_in <= 0) return Tensor::zeros(shape, dtype);  // PyTorch leaves bound 0 for empty layers
  double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return uniform(shape, -bound, bound, dtype, gen);
}

Tensor xavier_uniform(const Shape& shape, DType dtype, Generator& gen) {
  if (shape.size() < 2)
    throw ShapeError(msg("init::xavier_uniform: shape ", shape, " needs at least 2 dims"));
  // fan_in and fan_out as PyTorch counts them: dims 1 and 0, times any trailing dims.
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  double fan_in = static_cast<double>(shape[1] * receptive), fan_out = static_cast<double>(shape[0] * receptive);
  double bound = std::sqrt(6.0 / (fan_in + fan_out));
  return uniform(shape, -bound, bound, dtype, gen);
}

}  // namespace heed::nn::init
