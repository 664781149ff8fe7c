// Layer normalization (Ba et al. 2016): each sample is normalized over its last
// dims (the normalized_shape), then scaled and shifted per feature.
#pragma once

#include "heed/nn/module.h"

namespace heed::nn {

// x: [..., *normalized_shape] -> y: the same shape. With D = numel(normalized_shape),
// each row r of D elements gives
//   y = (x - mean_r) / sqrt(var_r + eps) * weight + bias,
// var the biased variance (divided by D, as in PyTorch). weight and bias have
// shape normalized_shape; either may be undefined (no scale / no shift).
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);

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
