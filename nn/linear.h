// Linear: y = x W^T + b, through the fused op heed::linear (one graph node).
#pragma once

#include "heed/nn/module.h"

namespace heed::nn {

// x: [..., in] -> y: [..., out]. Parameters as in PyTorch: weight [out, in] and
// bias [out], both initialised U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public UnaryModule {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) const override;

  int64_t in_features, out_features;
  Tensor weight, bias;  // bias is undefined when constructed with bias = false
};

}  // namespace heed::nn
