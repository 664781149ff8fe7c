// Dropout as a module: the op (ops/dropout.h) driven by the module's training
// flag, so model.eval() turns it into the identity for evaluation.
#pragma once

#include "heed/nn/module.h"

namespace heed::nn {

// x: any shape -> the same shape. In training each element is zeroed with
// probability p and the survivors are scaled by 1/(1-p); in eval mode y = x.
class Dropout : public UnaryModule {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) const override;

  double p;
};

}  // namespace heed::nn
