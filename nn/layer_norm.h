// Layer normalization (Ba et al. 2016) as a module: the op is ops/layer_norm.h.
#pragma once

#include "heed/nn/module.h"
#include "heed/ops/layer_norm.h"

namespace heed::nn {

using heed::layer_norm;  // the op (ops/layer_norm.h), named here like torch.nn.functional's

// Parameters as in PyTorch: weight (ones) and bias (zeros) of shape normalized_shape,
// only if elementwise_affine.
class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  // The common case, normalizing over the last dim only: LayerNorm(C).
  explicit LayerNorm(int64_t dim, double eps = 1e-5, bool elementwise_affine = true)
      : LayerNorm(Shape{dim}, eps, elementwise_affine) {}
  Tensor forward(const Tensor& x) const override;

  Shape normalized_shape;
  double eps;
  Tensor weight, bias;  // undefined when elementwise_affine is false
};

}  // namespace heed::nn
