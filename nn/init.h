// Parameter initializers, matching PyTorch's defaults so that a heed layer and
// a PyTorch layer start from the same distribution. All draw from `gen`, by
// default the global generator (core/random.h), so manual_seed makes them reproducible.
#pragma once

#include "heed/core/random.h"
#include "heed/core/tensor.h"

namespace heed::nn::init {

// U(low, high)
Tensor uniform(const Shape& shape, double low, double high, DType dtype = kFloat32,
               Generator& gen = default_generator());
// N(mean, std^2)
Tensor normal(const Shape& shape, double mean = 0, double std = 1, DType dtype = kFloat32,
              Generator& gen = default_generator());
// PyTorch's default for Linear weights and biases (kaiming_uniform_ with a = sqrt(5)
// works out to this): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
Tensor fan_in_uniform(const Shape& shape, int64_t fan_in, DType dtype = kFloat32,
                      Generator& gen = default_generator());
// Glorot: U(-b, b), b = sqrt(6 / (fan_in + fan_out)), for a [fan_out, fan_in] weight.
Tensor xavier_uniform(const Shape& shape, DType dtype = kFloat32, Generator& gen = default_generator());

}  // namespace heed::nn::init
