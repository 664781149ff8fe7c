// Layer normalization (Ba et al. 2016): each sample is normalized over its last
// dims (the normalized_shape), then scaled and shifted per feature.
#pragma once

#include "heed/core/tensor.h"

namespace heed {

// x: [..., *normalized_shape] -> y: the same shape. With D = numel(normalized_shape),
// each row r of D elements gives
//   y = (x - mean_r) / sqrt(var_r + eps) * weight + bias,
// var the biased variance (divided by D, as in PyTorch). weight and bias have
// shape normalized_shape; either may be undefined (no scale / no shift).
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);

}  // namespace heed
